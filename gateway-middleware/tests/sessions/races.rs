//! Overlapping requests of one session, played out with `Hold`.

use gateway_core::ApplicationExt;
use gateway_core::test_client::TestClient;
use gateway_middleware::sessions::{Hold, MemoryStore, Sessions};
use serde_json::json;

use crate::support::{app, cookie_value, json, set_cookie};

#[tokio::test]
async fn different_keys_are_both_kept() {
    let client = TestClient::new(app().with(Sessions::new(MemoryStore::new())));
    client.get("/set/start/1").send().await;
    let hold = Hold::new();
    let slow = client.get("/set/a/slow").extension(hold.clone()).send();
    let fast = async {
        hold.reached().await;
        let res = client.get("/set/b/fast").send().await;
        hold.release();
        res
    };
    let (slow, fast) = tokio::join!(slow, fast);
    assert_eq!((slow.status().as_u16(), fast.status().as_u16()), (200, 200));
    assert_eq!(json(&client.get("/get/a").send().await), json!("slow"));
    assert_eq!(json(&client.get("/get/b").send().await), json!("fast"));
    assert_eq!(json(&client.get("/get/start").send().await), json!("1"));
}

#[tokio::test]
async fn same_key_first_writer_wins() {
    let sessions = Sessions::new(MemoryStore::new());
    let client = TestClient::new(app().with(sessions.clone()));
    client.get("/set/k/0").send().await;
    let hold = Hold::new();
    let slow = client.get("/set/k/slow").extension(hold.clone()).send();
    let fast = async {
        hold.reached().await;
        let res = client.get("/set/k/fast").send().await;
        hold.release();
        res
    };
    tokio::join!(slow, fast);
    assert_eq!(json(&client.get("/get/k").send().await), json!("fast"));
    assert_eq!(sessions.stats().conflicts, 1);
}

#[tokio::test]
async fn logout_wins_over_a_slower_request() {
    let store = MemoryStore::new();
    let client = TestClient::new(app().with(Sessions::new(store.clone())));
    client.get("/set/user/ada").send().await;
    let hold = Hold::new();
    let slow = client.get("/set/cart/3").extension(hold.clone()).send();
    let logout = async {
        hold.reached().await;
        let res = client.get("/destroy").send().await;
        hold.release();
        res
    };
    let (slow, logout) = tokio::join!(slow, logout);
    assert!(
        set_cookie(&logout, "session")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(slow.status(), 200);
    assert!(slow.header("set-cookie").is_none(), "{slow:?}");
    assert_eq!(store.stats().records, 0, "not resurrected");
    assert!(client.cookies().is_empty());
}

#[tokio::test]
async fn cycle_id_retires_the_old_id() {
    let sessions = Sessions::new(MemoryStore::new());
    let client = TestClient::new(app().with(sessions.clone()));
    let res = client.get("/set/user/ada").send().await;
    let old = cookie_value(&set_cookie(&res, "session").unwrap());
    let created = sessions.peek(&old).await.unwrap().unwrap().created;
    let res = client.get("/cycle").send().await;
    let new = cookie_value(&set_cookie(&res, "session").unwrap());
    assert_ne!(old, new);
    assert_eq!(sessions.peek(&old).await.unwrap(), None, "fixation");
    let record = sessions.peek(&new).await.unwrap().unwrap();
    assert_eq!(record.data["user"], json!("ada"));
    assert_eq!(record.created, created);
    // A request still carrying the old id gets an empty session.
    let res = client
        .get("/get/user")
        .without_cookies()
        .header("cookie", format!("session={old}"))
        .send()
        .await;
    assert_eq!(json(&res), json!(null));
    assert_eq!(json(&client.get("/get/user").send().await), json!("ada"));
}

#[tokio::test]
async fn a_request_still_carrying_a_cycled_id_saves_nothing() {
    let store = MemoryStore::new();
    let sessions = Sessions::new(store.clone());
    let client = TestClient::new(app().with(sessions.clone()));
    client.get("/set/user/ada").send().await;
    let hold = Hold::new();
    let slow = client.get("/set/cart/3").extension(hold.clone()).send();
    let login = async {
        hold.reached().await;
        let res = client.get("/cycle").send().await;
        hold.release();
        res
    };
    let (slow, _) = tokio::join!(slow, login);
    assert!(slow.header("set-cookie").is_none());
    assert_eq!(store.stats().records, 1);
}
