//! The cookie store through the middleware.

use gateway_core::ApplicationExt;
use gateway_core::test_client::TestClient;
use gateway_middleware::sessions::{CookieStore, Key, Sessions};
use serde_json::json;

use crate::support::{app, attribute, cookie_value, json, set_cookie};

#[tokio::test]
async fn round_trip_read_only_and_destroy() {
    let sessions = Sessions::new(CookieStore::new(Key::generate(1)));
    let client = TestClient::new(app().with(sessions.clone()));
    let res = client.get("/set/user/ada").send().await;
    let c = set_cookie(&res, "session").unwrap();
    assert!(attribute(&c, "Max-Age").is_some());
    assert_eq!(json(&client.get("/get/user").send().await), json!("ada"));
    // Read only: no cookie.
    let res = client.get("/get/user").send().await;
    assert!(res.header("set-cookie").is_none());
    assert_eq!(res.header("vary"), Some("Cookie"));
    let record = sessions.peek(&cookie_value(&c)).await.unwrap().unwrap();
    assert_eq!(record.data["user"], json!("ada"));
    // Logout removes the cookie.
    let res = client.get("/destroy").send().await;
    assert_eq!(
        attribute(&set_cookie(&res, "session").unwrap(), "Max-Age"),
        Some("0")
    );
    assert_eq!(json(&client.get("/get/user").send().await), json!(null));
}

#[tokio::test]
async fn an_old_key_cookie_is_reissued_under_the_primary() {
    let old = Key::from_secret(1, &[1; 32]).unwrap();
    let before = Sessions::new(CookieStore::new(old));
    let (name, value) = before.seed([("user", "ada")]).await.unwrap();

    let store = CookieStore::new(Key::generate(2)).old_key(Key::from_secret(1, &[1; 32]).unwrap());
    let sessions = Sessions::new(store);
    let client = TestClient::new(app().with(sessions.clone()));
    client.add_cookie(&name, &value);
    let res = client.get("/get/user").send().await;
    assert_eq!(json(&res), json!("ada"));
    let reissued = cookie_value(&set_cookie(&res, &name).expect("re-issued"));
    assert_ne!(reissued, value);
    assert_eq!(sessions.stats().old_key_uses, vec![(1, 1)]);
    // Now under the primary: no more re-issue, no more old-key use.
    let res = client.get("/get/user").send().await;
    assert!(res.header("set-cookie").is_none());
    assert_eq!(sessions.stats().old_key_uses, vec![(1, 1)]);
}

#[tokio::test]
async fn a_tampered_cookie_is_a_fresh_session() {
    let sessions = Sessions::new(CookieStore::new(Key::generate(1)));
    let (name, value) = sessions.seed([("user", "ada")]).await.unwrap();
    let mut bytes = value.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let client = TestClient::new(app().with(sessions));
    client.add_cookie(&name, &String::from_utf8(bytes).unwrap());
    let res = client.get("/get/user").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(&res), json!(null));
}

#[tokio::test]
async fn too_large_is_a_500_not_a_dropped_cookie() {
    let client = TestClient::new(app().with(Sessions::new(CookieStore::new(Key::generate(1)))));
    let big = "x".repeat(5000);
    let res = client.get(&format!("/set/blob/{big}")).send().await;
    assert_eq!(res.status(), 500);
    assert!(res.header("set-cookie").is_none());
    let error = res.error().expect("the error behind the 500").to_string();
    assert!(error.contains("bytes"), "{error}");
}

#[tokio::test]
async fn mutated_cookies_are_all_refused_through_the_middleware() {
    let sessions = Sessions::new(CookieStore::new(Key::generate(1)));
    let (name, value) = sessions.seed([("user", "ada")]).await.unwrap();
    let client = TestClient::new(app().with(sessions));
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let mut bytes = value.clone().into_bytes();
        let i = (next() % bytes.len() as u64) as usize;
        match next() % 3 {
            0 => {
                let c = alphabet[(next() % 64) as usize];
                if bytes[i] == c {
                    continue;
                }
                bytes[i] = c;
            }
            1 => bytes.truncate(i),
            _ => bytes.insert(i, alphabet[(next() % 64) as usize]),
        }
        let mutated = String::from_utf8(bytes).unwrap();
        let res = client
            .get("/get/user")
            .without_cookies()
            .header("cookie", format!("{name}={mutated}"))
            .send()
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(json(&res), json!(null), "accepted {mutated}");
    }
}
