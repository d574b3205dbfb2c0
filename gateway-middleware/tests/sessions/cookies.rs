//! Cookie attributes, several `Cookie` lines, bad cookies.

use gateway_core::test_client::TestClient;
use gateway_core::{Addr, ApplicationExt, ConnInfo};
use gateway_middleware::sessions::{MemoryStore, SameSite, Secure, SessionId, Sessions};
use serde_json::json;

use crate::support::{app, attribute, cookie_value, json, set_cookie};

#[tokio::test]
async fn default_attributes_over_http_and_https() {
    let client = TestClient::new(app().with(Sessions::new(MemoryStore::new())));
    let c = set_cookie(&client.get("/set/a/1").send().await, "session").unwrap();
    assert_eq!(SessionId::parse(&cookie_value(&c)).map(|_| ()), Some(()));
    assert_eq!(attribute(&c, "Path"), Some("/"));
    assert_eq!(attribute(&c, "HttpOnly"), Some(""));
    assert_eq!(attribute(&c, "SameSite"), Some("Lax"));
    assert_eq!(attribute(&c, "Max-Age"), Some("1209600"));
    assert!(attribute(&c, "Expires").is_some());
    assert_eq!(attribute(&c, "Secure"), None);
    assert_eq!(attribute(&c, "Domain"), None);

    let client = TestClient::new(app().with(Sessions::new(MemoryStore::new())))
        .with_base_url("https://localhost");
    let c = set_cookie(&client.get("/set/a/1").send().await, "session").unwrap();
    assert_eq!(attribute(&c, "Secure"), Some(""));
}

#[tokio::test]
async fn secure_always_never_same_site_domain() {
    let sessions = Sessions::new(MemoryStore::new())
        .secure(Secure::Always)
        .same_site(SameSite::Strict)
        .domain("example.com".to_owned())
        .cookie_name("sid");
    let client = TestClient::new(app().with(sessions));
    let c = set_cookie(&client.get("/set/a/1").send().await, "sid").unwrap();
    assert_eq!(attribute(&c, "Secure"), Some(""));
    assert_eq!(attribute(&c, "SameSite"), Some("Strict"));
    assert_eq!(attribute(&c, "Domain"), Some("example.com"));

    let sessions = Sessions::new(MemoryStore::new()).secure(Secure::Never);
    let client = TestClient::new(app().with(sessions)).with_base_url("https://localhost");
    let c = set_cookie(&client.get("/set/a/1").send().await, "session").unwrap();
    assert_eq!(attribute(&c, "Secure"), None);
}

#[cfg(feature = "proxy")]
#[tokio::test]
async fn secure_follows_the_scheme_proxy_headers_verified() {
    use gateway_middleware::ProxyHeaders;
    let app = app()
        .with(Sessions::new(MemoryStore::new()))
        .with(ProxyHeaders::new().trusted_proxies(["127.0.0.1"]));
    let nginx = ConnInfo::new(Addr::Tcp("127.0.0.1:50000".parse().unwrap()), Addr::None);
    let client = TestClient::new(app).with_conn(nginx);
    let res = client
        .get("/set/a/1")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    let c = set_cookie(&res, "session").unwrap();
    assert_eq!(attribute(&c, "Secure"), Some(""));
    let res = client
        .get("/set/a/2")
        .header("x-forwarded-proto", "http")
        .send()
        .await;
    let c = set_cookie(&res, "session").unwrap();
    assert_eq!(attribute(&c, "Secure"), None);

    // An untrusted peer's header is ignored: still plain http.
    let app = crate::support::app()
        .with(Sessions::new(MemoryStore::new()))
        .with(ProxyHeaders::new().trusted_proxies(["127.0.0.1"]));
    let stranger = ConnInfo::new(Addr::Tcp("203.0.113.9:50000".parse().unwrap()), Addr::None);
    let client = TestClient::new(app).with_conn(stranger);
    let res = client
        .get("/set/a/1")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(
        attribute(&set_cookie(&res, "session").unwrap(), "Secure"),
        None
    );
}

#[tokio::test]
async fn host_prefix_forces_secure_path_and_no_domain() {
    let sessions = Sessions::new(MemoryStore::new())
        .domain("example.com".to_owned())
        .host_prefix();
    assert_eq!(sessions.name(), "__Host-session");
    let client = TestClient::new(app().with(sessions));
    let c = set_cookie(&client.get("/set/a/1").send().await, "__Host-session").unwrap();
    assert_eq!(attribute(&c, "Secure"), Some(""));
    assert_eq!(attribute(&c, "Path"), Some("/"));
    assert_eq!(attribute(&c, "Domain"), None);
    // Either order of the builder calls.
    let sessions = Sessions::new(MemoryStore::new())
        .host_prefix()
        .cookie_name("id");
    assert_eq!(sessions.name(), "__Host-id");
}

#[tokio::test]
async fn the_removal_cookie_repeats_the_attributes() {
    let sessions = Sessions::new(MemoryStore::new())
        .domain("example.com".to_owned())
        .same_site(SameSite::Strict)
        .cookie_name("sid");
    let client = TestClient::new(app().with(sessions)).with_base_url("https://example.com");
    let c = set_cookie(&client.get("/set/a/1").send().await, "sid").unwrap();
    let value = cookie_value(&c);
    let res = client.get("/destroy").send().await;
    let removal = set_cookie(&res, "sid").unwrap();
    assert!(removal.starts_with("sid=;"), "{removal}");
    assert_eq!(attribute(&removal, "Max-Age"), Some("0"));
    assert_eq!(attribute(&removal, "Path"), Some("/"));
    assert_eq!(attribute(&removal, "Domain"), Some("example.com"));
    assert_eq!(attribute(&removal, "Secure"), Some(""));
    assert_eq!(attribute(&removal, "SameSite"), Some("Strict"));
    assert_eq!(res.header("cache-control"), Some("private"));
    // The old id loads nothing now.
    let res = client
        .get("/get/a")
        .without_cookies()
        .header("cookie", format!("sid={value}"))
        .send()
        .await;
    assert_eq!(json(&res), json!(null));
    // Destroying without a session sends no removal cookie.
    let res = client.get("/destroy").without_cookies().send().await;
    assert!(res.header("set-cookie").is_none());
}

#[tokio::test]
async fn every_cookie_line_is_read() {
    let sessions = Sessions::new(MemoryStore::new());
    let (name, value) = sessions.seed([("user", "ada")]).await.unwrap();
    let client = TestClient::new(app().with(sessions));
    // HTTP/2 sends one field line per cookie.
    let res = client
        .get("/get/user")
        .header("cookie", "theme=dark")
        .header("cookie", "junk")
        .header("cookie", format!("{name}={value}"))
        .send()
        .await;
    assert_eq!(json(&res), json!("ada"));
    // A tossed cookie of the same name that is not an id does not hide ours.
    let res = client
        .get("/get/user")
        .header("cookie", format!("{name}=tossed; {name}={value}"))
        .send()
        .await;
    assert_eq!(json(&res), json!("ada"));
}

#[tokio::test]
async fn an_unknown_id_tossed_in_first_does_not_hide_the_real_one() {
    let sessions = Sessions::new(MemoryStore::new());
    let (name, value) = sessions.seed([("user", "ada")]).await.unwrap();
    let client = TestClient::new(app().with(sessions));
    // What a sibling subdomain can plant ahead of the real cookie: a
    // well-formed id that names nothing.
    let tossed = SessionId::generate();
    let res = client
        .get("/get/user")
        .header("cookie", format!("{name}={tossed}; {name}={value}"))
        .send()
        .await;
    assert_eq!(json(&res), json!("ada"));
    assert!(set_cookie(&res, "session").is_none());
}

#[tokio::test]
async fn junk_of_the_name_ahead_of_the_real_cookie_does_not_hide_it() {
    let junk = "session=x; session=not-an-id; session=\"q\"; ".repeat(20);
    // A server-side store: only well-formed ids are candidates.
    let sessions = Sessions::new(MemoryStore::new());
    let (name, value) = sessions.seed([("user", "ada")]).await.unwrap();
    let client = TestClient::new(app().with(sessions));
    let res = client
        .get("/get/user")
        .header("cookie", format!("{junk}{name}={value}"))
        .send()
        .await;
    assert_eq!(json(&res), json!("ada"));
    // The cookie store: only values of a sealed cookie's form.
    let sessions = Sessions::new(gateway_middleware::sessions::CookieStore::new(
        gateway_middleware::sessions::Key::generate(1),
    ));
    let (name, value) = sessions.seed([("user", "ada")]).await.unwrap();
    let client = TestClient::new(app().with(sessions));
    let res = client
        .get("/get/user")
        .header("cookie", format!("{junk}{name}={value}"))
        .send()
        .await;
    assert_eq!(json(&res), json!("ada"));
}

#[tokio::test]
async fn bad_cookies_get_a_fresh_empty_session() {
    let store = MemoryStore::new();
    let sessions = Sessions::new(store.clone());
    let (name, value) = sessions.seed([("user", "ada")]).await.unwrap();
    let client = TestClient::new(app().with(sessions.clone()));
    let mut tampered = value.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let bad = [
        String::from_utf8(tampered).unwrap(),
        value[..value.len() - 1].to_owned(),
        format!("{value}A"),
        format!("{value}%3D"),
        "x".repeat(5000),
        SessionId::generate().to_string(),
        String::new(),
        "!!!".to_owned(),
    ];
    for cookie in &bad {
        let res = client
            .get("/get/user")
            .without_cookies()
            .header("cookie", format!("{name}={cookie}"))
            .send()
            .await;
        assert_eq!(res.status(), 200, "{cookie:?}");
        assert_eq!(json(&res), json!(null));
        assert!(res.header("set-cookie").is_none());
        // Writing starts a new session under a new id.
        let res = client
            .get("/set/k/v")
            .without_cookies()
            .header("cookie", format!("{name}={cookie}"))
            .send()
            .await;
        let new = cookie_value(&set_cookie(&res, &name).unwrap());
        assert_ne!(&new, cookie);
        assert_ne!(new, value);
        let record = sessions.peek(&new).await.unwrap().unwrap();
        assert_eq!(record.data.len(), 1, "never the old data");
    }
}

#[tokio::test]
async fn logout_with_a_cookie_naming_nothing_drops_it() {
    let store = MemoryStore::new();
    let client = TestClient::new(app().with(Sessions::new(store.clone())));
    client.add_cookie("session", &SessionId::generate().to_string());
    let res = client.get("/destroy").send().await;
    assert_eq!(
        attribute(&set_cookie(&res, "session").unwrap(), "Max-Age"),
        Some("0")
    );
    assert!(client.cookies().is_empty());
    assert_eq!(store.stats().creates, 0);
}
