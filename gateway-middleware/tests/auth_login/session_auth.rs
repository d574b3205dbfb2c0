//! `SessionAuth`: which requests touch the session, and what a stored
//! login is worth.

use std::sync::Arc;

use gateway_core::test_client::TestClient;
use gateway_core::{ApplicationExt, Environ, Error, fn_app, start};
use gateway_middleware::auth::{AUTH_HASH_KEY, AUTH_USER_KEY, AuthKey, Identity, SessionAuth, Via};
use gateway_middleware::sessions::{MemoryStore, Sessions};
use http::StatusCode;

use crate::support::{default_site, session_cookie, set_cookie};

#[tokio::test]
async fn cookieless_traffic_never_touches_the_store() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    // Other cookies are no session cookie.
    client.add_cookie("theme", "dark");
    for _ in 0..3 {
        let res = client.get("/whoami").send().await;
        assert_eq!(res.text(), "anonymous");
        assert!(res.header("set-cookie").is_none());
        // The session was never asked for: no `Vary: Cookie` either.
        assert!(res.header("vary").is_none());
    }
    let stats = site.store.stats();
    assert_eq!((stats.loads, stats.writes()), (0, 0));
}

#[tokio::test]
async fn a_cookie_without_a_login_is_anonymous_and_loads_once() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    client.get("/set/cart/1").send().await;
    let loads = site.store.stats().loads;
    let res = client.get("/whoami").send().await;
    assert_eq!(res.text(), "anonymous");
    assert_eq!(site.store.stats().loads, loads + 1);
    assert!(res.header("set-cookie").is_none());
}

#[tokio::test]
async fn a_deleted_user_is_anonymous() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    client.get("/login/bob").send().await;
    assert_eq!(client.get("/whoami").send().await.text(), "bob");
    site.users.delete("bob");
    assert_eq!(client.get("/whoami").send().await.text(), "anonymous");
}

#[tokio::test]
async fn a_forged_or_missing_auth_hash_destroys_the_session() {
    let site = default_site();
    let forged = [
        serde_json::json!("0".repeat(64)),
        serde_json::json!(""),
        serde_json::json!(42),
        serde_json::Value::Null,
    ];
    for value in forged {
        let (name, cookie) = site
            .sessions
            .seed([
                (AUTH_USER_KEY, serde_json::json!("ada")),
                (AUTH_HASH_KEY, value.clone()),
            ])
            .await
            .unwrap();
        let client = TestClient::new(Arc::clone(&site.app));
        client.add_cookie(&name, &cookie);
        let res = client.get("/whoami").send().await;
        assert_eq!(res.text(), "anonymous", "{value}");
        assert!(set_cookie(&res).unwrap().contains("Max-Age=0"));
        assert!(
            site.sessions.peek(&cookie).await.unwrap().is_none(),
            "{value}"
        );
    }
    // No auth hash stored at all, for a user who has one.
    let (name, cookie) = site.sessions.seed([(AUTH_USER_KEY, "ada")]).await.unwrap();
    let client = TestClient::new(Arc::clone(&site.app));
    client.add_cookie(&name, &cookie);
    assert_eq!(client.get("/whoami").send().await.text(), "anonymous");
    assert!(site.sessions.peek(&cookie).await.unwrap().is_none());
}

#[tokio::test]
async fn a_hash_made_under_another_key_is_refused() {
    // Two sites with different keys share a store: a login made on one is
    // not valid on the other.
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    client.get("/login/ada").send().await;
    let cookie = session_cookie(&client.cookies()).unwrap();
    let record = site.sessions.peek(&cookie).await.unwrap().unwrap();

    let other = fn_app(|env: Environ| async move {
        let who = Identity::of(&env)
            .map_or("anonymous", Identity::id)
            .to_owned();
        start(200, [("content-type", "text/plain")]).body(who)
    })
    .with(SessionAuth::new(
        |id: String| async move {
            Ok::<_, Error>(Some(
                crate::support::Users::with(&["ada"]).get(&id).unwrap(),
            ))
        },
        AuthKey::generate(),
    ))
    .with(site.sessions.clone());
    let (name, value) = site.sessions.seed(record.data).await.unwrap();
    let client = TestClient::new(other);
    client.add_cookie(&name, &value);
    assert_eq!(client.get("/").send().await.text(), "anonymous");
}

#[tokio::test]
async fn users_without_an_auth_hash_need_none() {
    let sessions = Sessions::new(MemoryStore::new());
    let app = fn_app(|env: Environ| async move {
        let identity = Identity::of(&env).expect("logged in");
        assert_eq!(identity.via(), Via::Session);
        assert_eq!(identity.user::<String>().map(String::as_str), Some("ada"));
        start(200, [("content-type", "text/plain")]).body(identity.id().to_owned())
    })
    .with(SessionAuth::new(
        |id: String| async move { Ok::<_, Error>(Some(id)) },
        AuthKey::generate(),
    ))
    .with(sessions.clone());
    let (name, value) = sessions.seed([(AUTH_USER_KEY, "ada")]).await.unwrap();
    let client = TestClient::new(app);
    client.add_cookie(&name, &value);
    assert_eq!(client.get("/").send().await.text(), "ada");
}

#[tokio::test]
async fn a_stored_id_that_is_not_a_string_is_no_login() {
    let site = default_site();
    for value in [
        serde_json::json!(1),
        serde_json::json!(["ada"]),
        serde_json::json!({"id": "ada"}),
    ] {
        let (name, cookie) = site.sessions.seed([(AUTH_USER_KEY, value)]).await.unwrap();
        let client = TestClient::new(Arc::clone(&site.app));
        client.add_cookie(&name, &cookie);
        assert_eq!(client.get("/whoami").send().await.text(), "anonymous");
    }
}

#[tokio::test]
async fn a_loader_error_fails_the_request_rather_than_logging_out() {
    let sessions = Sessions::new(MemoryStore::new());
    let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("reached") })
        .with(SessionAuth::new(
            |_id: String| async move {
                Err::<Option<String>, _>(Error::with_status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "user database down",
                ))
            },
            AuthKey::generate(),
        ))
        .with(sessions.clone());
    let (name, value) = sessions.seed([(AUTH_USER_KEY, "ada")]).await.unwrap();
    let client = TestClient::new(app);
    client.add_cookie(&name, &value);
    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The session survives the outage.
    assert!(sessions.peek(&value).await.unwrap().is_some());
    assert!(res.header("set-cookie").is_none());
}

#[tokio::test]
async fn without_sessions_it_is_a_loud_misconfiguration() {
    let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("reached") })
        .with(SessionAuth::new(
            |id: String| async move { Ok::<_, Error>(Some(id)) },
            AuthKey::generate(),
        ));
    let res = TestClient::new(app).get("/").send().await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        res.error()
            .unwrap()
            .to_string()
            .contains("wrap it in Sessions")
    );
}
