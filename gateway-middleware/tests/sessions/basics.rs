//! Round trips, laziness, no writes for anonymous traffic, 5xx, Vary and
//! Cache-Control, changes after commit.

use gateway_core::ApplicationExt;
use gateway_core::lint::{Lint, Rule};
use gateway_core::test_client::TestClient;
use gateway_middleware::sessions::{MemoryStore, Sessions};
use serde_json::json;

use crate::support::{app, json, set_cookie};

#[tokio::test]
async fn round_trip_remove_clear() {
    let store = MemoryStore::new();
    let client = TestClient::new(app().with(Sessions::new(store.clone())));
    let res = client.get("/set/user/ada").send().await;
    assert!(set_cookie(&res, "session").is_some(), "{res:?}");
    assert_eq!(json(&client.get("/get/user").send().await), json!("ada"));
    client.get("/set/theme/dark").send().await;
    assert_eq!(json(&client.get("/remove/user").send().await), json!("ada"));
    assert_eq!(json(&client.get("/get/user").send().await), json!(null));
    assert_eq!(json(&client.get("/get/theme").send().await), json!("dark"));
    client.get("/clear").send().await;
    assert_eq!(json(&client.get("/get/theme").send().await), json!(null));
    assert_eq!(store.stats().records, 1);
}

#[tokio::test]
async fn untouched_requests_cost_nothing() {
    let store = MemoryStore::new();
    let client = TestClient::new(app().with(Sessions::new(store.clone())));
    client.get("/set/user/ada").send().await;
    let before = store.stats();
    // A request with a session cookie that never touches its session.
    let res = client.get("/plain").send().await;
    assert_eq!(res.status(), 200);
    assert!(res.header("vary").is_none());
    assert!(res.header("set-cookie").is_none());
    assert!(res.header("cache-control").is_none());
    assert_eq!(store.stats(), before, "no store call at all");
}

#[tokio::test]
async fn a_thousand_cookieless_gets_write_nothing() {
    let store = MemoryStore::new();
    let client = TestClient::new(app().with(Sessions::new(store.clone())));
    let mut set_cookies = 0;
    for i in 0..1000 {
        // Half read their session (anonymous: there is none), half do not.
        let path = if i % 2 == 0 { "/get/user" } else { "/plain" };
        let res = client.get(path).without_cookies().send().await;
        assert_eq!(res.status(), 200);
        set_cookies += res.headers().get_all("set-cookie").iter().count();
        if i % 2 == 0 {
            assert_eq!(res.header("vary"), Some("Cookie"));
        }
    }
    assert_eq!(set_cookies, 0);
    let stats = store.stats();
    assert_eq!(stats.writes(), 0);
    assert_eq!(stats.loads, 0, "no cookie, nothing to load");
    assert_eq!(stats.records, 0);
}

#[tokio::test]
async fn nothing_is_saved_on_a_5xx() {
    let store = MemoryStore::new();
    let client = TestClient::new(app().with(Sessions::new(store.clone())));
    let res = client.get("/fail/user/ada").send().await;
    assert_eq!(res.status(), 500);
    assert!(res.header("set-cookie").is_none());
    assert_eq!(res.header("vary"), Some("Cookie"));
    assert_eq!(store.stats().writes(), 0);

    client.get("/set/user/ada").send().await;
    let writes = store.stats().writes();
    let res = client.get("/fail/user/bob").send().await;
    assert_eq!(res.status(), 500);
    assert!(res.header("set-cookie").is_none());
    assert_eq!(store.stats().writes(), writes);
    assert_eq!(json(&client.get("/get/user").send().await), json!("ada"));
}

#[tokio::test]
async fn an_error_with_a_4xx_keeps_the_change_and_one_with_a_5xx_does_not() {
    let store = MemoryStore::new();
    let client = TestClient::new(app().with(Sessions::new(store.clone())));
    // A new session, changed before a 403 `Err`: created, and the cookie
    // rides on the driver's error page.
    let res = client.get("/refuse/attempts/1").send().await;
    assert_eq!(res.status(), 403);
    assert!(set_cookie(&res, "session").is_some());
    assert_eq!(res.header("vary"), Some("Cookie"));
    assert_eq!(res.header("cache-control"), Some("private"));
    assert_eq!(json(&client.get("/get/attempts").send().await), json!("1"));

    // A changed session before an `Err` without a status (500): nothing.
    let writes = store.stats().writes();
    let res = client.get("/crash/attempts/2").send().await;
    assert_eq!(res.status(), 500);
    assert!(res.header("set-cookie").is_none());
    assert_eq!(store.stats().writes(), writes);
    assert_eq!(json(&client.get("/get/attempts").send().await), json!("1"));
}

#[tokio::test]
async fn vary_and_cache_control() {
    let store = MemoryStore::new();
    let app = app().with(gateway_core::from_fn(|env, next| async move {
        let mut res = next.run(env).await?;
        if res.status() == 200 {
            res.headers_mut()
                .append("vary", "Accept-Encoding".parse().unwrap());
        }
        if res.headers().get("x-no-cc").is_none() {
            res.headers_mut()
                .insert("cache-control", "max-age=60".parse().unwrap());
        }
        Ok(res)
    }));
    // Sessions outside the app's own cache-control: it keeps the app's.
    let client = TestClient::new(app.with(Sessions::new(store)));
    let res = client.get("/set/a/1").send().await;
    assert_eq!(res.header("cache-control"), Some("max-age=60"));
    let vary: Vec<_> = res.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Cookie"]);

    let client = TestClient::new(crate::support::app().with(Sessions::new(MemoryStore::new())));
    let res = client.get("/set/a/1").send().await;
    assert_eq!(res.header("cache-control"), Some("private"));
    // Read only: Vary, but no cookie and so no Cache-Control.
    let res = client.get("/get/a").send().await;
    assert_eq!(res.header("vary"), Some("Cookie"));
    assert!(res.header("cache-control").is_none());
    assert!(res.header("set-cookie").is_none());
}

#[tokio::test]
async fn setting_the_same_value_is_no_change() {
    let store = MemoryStore::new();
    let client = TestClient::new(app().with(Sessions::new(store.clone())));
    client.get("/set/a/1").send().await;
    let writes = store.stats().writes();
    let res = client.get("/set/a/1").send().await;
    assert!(res.header("set-cookie").is_none());
    assert_eq!(store.stats().writes(), writes);
}

#[tokio::test]
async fn a_change_after_commit_is_an_error_and_a_lint_violation() {
    let store = MemoryStore::new();
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(app().with(Sessions::new(store.clone())).with(lint));
    let res = client.get("/late/user/ada").send().await;
    assert_eq!(res.text(), "first chunk refused");
    assert!(res.header("set-cookie").is_none());
    let found = violations.take();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule(), Rule::ChangedAfterCommit);
    assert_eq!(store.stats().writes(), 0);
}

#[tokio::test]
async fn the_handle_is_shared_by_tasks_of_a_request() {
    use gateway_core::{Environ, fn_app, start};
    use gateway_middleware::sessions::Session;
    let store = MemoryStore::new();
    let app = fn_app(|env: Environ| async move {
        let session = Session::of(&env).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let session = session.clone();
                tokio::spawn(async move { session.insert(&format!("k{i}"), i).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task")?;
        }
        start(204, gateway_core::response::NO_HEADERS).empty()
    })
    .with(Sessions::new(store.clone()));
    let client = TestClient::new(app);
    client.get("/").send().await;
    let stats = store.stats();
    assert_eq!((stats.creates, stats.saves, stats.loads), (1, 0, 0));
    let (_, value) = client.cookies().into_iter().next().unwrap();
    let sessions = Sessions::new(store);
    let record = sessions.peek(&value).await.unwrap().unwrap();
    assert_eq!(record.data.len(), 8);
}

#[tokio::test]
async fn inserting_after_destroy_starts_a_new_session() {
    use crate::support::cookie_value;
    let sessions = Sessions::new(MemoryStore::new());
    let client = TestClient::new(app().with(sessions.clone()));
    let old =
        cookie_value(&set_cookie(&client.get("/set/user/ada").send().await, "session").unwrap());
    client.get("/set/cart/3").send().await;
    let res = client.get("/relogin/user/bob").send().await;
    let new = cookie_value(&set_cookie(&res, "session").unwrap());
    assert_ne!(old, new);
    assert_eq!(sessions.peek(&old).await.unwrap(), None);
    let record = sessions.peek(&new).await.unwrap().unwrap();
    assert_eq!(
        record.data.len(),
        1,
        "nothing of the old session: {record:?}"
    );
    assert_eq!(record.data["user"], json!("bob"));
}

#[tokio::test]
async fn lint_finds_nothing_wrong_in_a_session_round_trip() {
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(app().with(Sessions::new(MemoryStore::new())).with(lint))
        .with_base_url("https://localhost");
    for path in [
        "/set/a/1",
        "/get/a",
        "/cycle",
        "/remove/a",
        "/plain",
        "/destroy",
    ] {
        assert_eq!(client.get(path).send().await.status(), 200, "{path}");
    }
    violations.assert_none();
}
