//! `login` and `logout`: fixation defence, another user's data, the keyed
//! auth hash, password changes, the removal cookie.

use std::sync::Arc;

use gateway_core::test_client::TestClient;
use gateway_middleware::auth::{AUTH_HASH_KEY, AUTH_USER_KEY};

/// The CSRF secret's session key, reserved for the `Csrf` middleware.
const CSRF_KEY: &str = gateway_middleware::auth::Csrf::SESSION_KEY;
use gateway_middleware::sessions::{MemoryStore, Sessions};

use crate::support::{Users, default_site, scope_attributes, session_cookie, set_cookie, site};

#[tokio::test]
async fn login_gives_a_new_id_and_the_old_one_no_longer_loads() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    // An anonymous session with data (a cart), as a fixation attacker
    // would plant one.
    assert_eq!(client.get("/set/cart/3").send().await.text(), "set");
    let before = session_cookie(&client.cookies()).expect("a session cookie");
    assert!(site.sessions.peek(&before).await.unwrap().is_some());

    assert_eq!(client.get("/login/ada").send().await.text(), "ok");
    let after = session_cookie(&client.cookies()).expect("a session cookie");
    assert_ne!(after, before);
    assert!(site.sessions.peek(&before).await.unwrap().is_none());
    let record = site.sessions.peek(&after).await.unwrap().expect("saved");
    assert_eq!(record.data[AUTH_USER_KEY], "ada");
    // An anonymous session's data survives its login (Django's cycle_key).
    assert_eq!(record.data["cart"], "3");
    assert_eq!(client.get("/whoami").send().await.text(), "ada");

    // The planted id is worth nothing: replaying it is anonymous.
    let attacker = TestClient::new(Arc::clone(&site.app));
    attacker.add_cookie("session", &before);
    assert_eq!(attacker.get("/whoami").send().await.text(), "anonymous");
}

#[tokio::test]
async fn the_same_user_logging_in_again_still_gets_a_new_id() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    client.get("/login/ada").send().await;
    client.get("/set/theme/dark").send().await;
    let first = session_cookie(&client.cookies()).unwrap();
    client.get("/login/ada").send().await;
    let second = session_cookie(&client.cookies()).unwrap();
    assert_ne!(first, second);
    assert!(site.sessions.peek(&first).await.unwrap().is_none());
    // Same user, same password: the data is kept.
    assert_eq!(client.get("/get/theme").send().await.text(), "\"dark\"");
}

#[tokio::test]
async fn logging_b_in_over_a_leaves_none_of_as_data() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    client.get("/login/ada").send().await;
    client.get("/set/secret/ada-only").send().await;
    client.get("/login/bob").send().await;
    assert_eq!(client.get("/whoami").send().await.text(), "bob");
    assert_eq!(client.get("/get/secret").send().await.text(), "null");
    let record = site
        .sessions
        .peek(&session_cookie(&client.cookies()).unwrap())
        .await
        .unwrap()
        .unwrap();
    let keys: Vec<&str> = record.data.keys().map(String::as_str).collect();
    assert_eq!(keys, [AUTH_HASH_KEY, AUTH_USER_KEY]);
    assert_eq!(record.data[AUTH_USER_KEY], "bob");
}

#[tokio::test]
async fn the_store_holds_a_keyed_hash_never_the_password_hash() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    client.get("/login/ada").send().await;
    let record = site
        .sessions
        .peek(&session_cookie(&client.cookies()).unwrap())
        .await
        .unwrap()
        .unwrap();
    let stored = record.data[AUTH_HASH_KEY].as_str().expect("a string");
    assert_eq!(stored.len(), 64);
    assert!(stored.bytes().all(|b| b.is_ascii_hexdigit()));
    let password_hash = site.users.get("ada").unwrap().password_hash;
    let everything = serde_json::to_string(&record.data).unwrap();
    assert!(!everything.contains(&password_hash));
    assert!(!everything.contains("argon2"));
}

#[tokio::test]
async fn login_drops_the_csrf_secret() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    client
        .get(&format!("/set/{CSRF_KEY}/anonymous-secret"))
        .send()
        .await;
    client.get("/login/ada").send().await;
    assert_eq!(
        client.get(&format!("/get/{CSRF_KEY}")).send().await.text(),
        "null"
    );
    // And at a second login of the same user.
    client
        .get(&format!("/set/{CSRF_KEY}/ada-secret"))
        .send()
        .await;
    client.get("/login/ada").send().await;
    assert_eq!(
        client.get(&format!("/get/{CSRF_KEY}")).send().await.text(),
        "null"
    );
}

#[tokio::test]
async fn a_password_change_logs_out_every_other_session() {
    let site = default_site();
    let laptop = TestClient::new(Arc::clone(&site.app));
    let phone = TestClient::new(Arc::clone(&site.app));
    laptop.get("/login/ada").send().await;
    phone.get("/login/ada").send().await;
    phone.get("/set/draft/hello").send().await;
    let phone_cookie = session_cookie(&phone.cookies()).unwrap();
    assert_eq!(laptop.get("/whoami").send().await.text(), "ada");
    assert_eq!(phone.get("/whoami").send().await.text(), "ada");

    // The laptop changes the password and logs in again with it.
    assert_eq!(
        laptop.get("/passwd/ada/new-hash").send().await.text(),
        "changed"
    );
    assert_eq!(laptop.get("/whoami").send().await.text(), "ada");

    // The phone's session is over: anonymous, its record destroyed, its
    // cookie removed.
    let res = phone.get("/whoami").send().await;
    assert_eq!(res.text(), "anonymous");
    let removal = set_cookie(&res).expect("a removal cookie");
    assert!(removal.starts_with("session=;"), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert!(phone.cookies().is_empty());
    assert!(site.sessions.peek(&phone_cookie).await.unwrap().is_none());

    // The phone logs in again with the new password and is in.
    phone.get("/login/ada").send().await;
    assert_eq!(phone.get("/whoami").send().await.text(), "ada");
    assert_eq!(laptop.get("/whoami").send().await.text(), "ada");
}

#[tokio::test]
async fn a_stale_login_of_the_same_user_is_cleared_at_login() {
    // A session logged in under the old password hash, re-logged in
    // directly (no request in between that would have destroyed it):
    // nothing of the old login carries over.
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    client.get("/login/ada").send().await;
    client.get("/set/secret/old").send().await;
    site.users.set_password("ada", "changed-elsewhere");
    // `/login/ada` reaches the handler: SessionAuth destroys the stale
    // session first, login then starts afresh.
    client.get("/login/ada").send().await;
    assert_eq!(client.get("/whoami").send().await.text(), "ada");
    assert_eq!(client.get("/get/secret").send().await.text(), "null");
}

#[tokio::test]
async fn logout_destroys_the_session_and_its_removal_cookie_matches_from_any_path() {
    let store = MemoryStore::new();
    let sessions = Sessions::new(store.clone()).domain(Some("example.com".to_owned()));
    let site = site(sessions, store, Users::with(&["ada"]));
    let client = TestClient::new(Arc::clone(&site.app)).with_base_url("https://example.com");

    let res = client.get("/login/ada").send().await;
    let set = set_cookie(&res).expect("the login sets the cookie");
    let cookie = session_cookie(&client.cookies()).unwrap();
    let set_scope = scope_attributes(&set);
    assert!(set_scope.contains(&"Secure".to_owned()), "{set}");
    assert!(
        set_scope.contains(&"Domain=example.com".to_owned()),
        "{set}"
    );

    // Logged out from a deep path: the removal cookie is scoped as the
    // cookie was, or the browser would keep the session cookie.
    let res = client.get("/logout/from/a/deep/path").send().await;
    assert_eq!(res.text(), "bye");
    let removal = set_cookie(&res).expect("a removal cookie");
    assert!(removal.starts_with("session=;"), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(scope_attributes(&removal), set_scope);
    assert!(client.cookies().is_empty());
    assert!(site.sessions.peek(&cookie).await.unwrap().is_none());
    assert_eq!(client.get("/whoami").send().await.text(), "anonymous");
}
