//! Log safety: with a subscriber capturing every event and span at
//! `TRACE`, bad cookies, expired and tampered ones, a store outage, a
//! conflict, a too-large cookie-store session, a value of the wrong type
//! and a change after the commit all leave logs that hold no cookie value
//! sent or set, and no session value.
//!
//! Each test installs its own subscriber for its thread (`set_default`:
//! `#[tokio::test]` runs everything on that thread) and checks that it saw
//! the events it expects, so a capture that sees nothing cannot pass.

use std::time::{Duration, SystemTime};

use gateway_core::lint::Lint;
use gateway_core::test_client::{TestClient, TestResponse};
use gateway_core::{Application, ApplicationExt, Environ, fn_app, start};
use gateway_middleware::sessions::{
    Backend, CookieStore, Hold, Key, MemoryStore, Record, Session, SessionId, SessionStore,
    Sessions,
};
use serde_json::Value;

use crate::capture::Capture;
use crate::support::{Flaky, cookie_value};

/// Everything that must never reach a log: cookie values sent and set,
/// session values.
#[derive(Default)]
struct Secrets(Vec<String>);

impl Secrets {
    /// Adds `value` (too-short strings, which would match by accident,
    /// are left out; every value the tests make secret is long).
    fn add(&mut self, value: impl Into<String>) {
        let value = value.into();
        if value.len() >= 8 && !self.0.contains(&value) {
            self.0.push(value);
        }
    }

    /// Adds every cookie value of a `Cookie` field.
    fn add_cookie_field(&mut self, field: &[u8]) {
        for pair in String::from_utf8_lossy(field).split(';') {
            let value = pair.split_once('=').map_or(pair, |(_, v)| v).trim();
            self.add(value);
            self.add(value.trim_matches('"'));
        }
    }

    /// Adds the cookie values a response sets.
    fn add_response(&mut self, res: &TestResponse) {
        for v in res.headers().get_all("set-cookie") {
            self.add(cookie_value(v.to_str().expect("ASCII Set-Cookie")));
        }
    }

    /// A new secret session value, added.
    fn value(&mut self, what: &str) -> String {
        let value = format!("{what}-{}", SessionId::generate());
        self.add(value.clone());
        value
    }

    /// Fails if a captured event or span holds any secret.
    fn assert_none_in(&self, capture: &Capture) {
        let events = capture.events();
        assert!(!self.0.is_empty());
        for event in &events {
            for secret in &self.0 {
                assert!(
                    !event.contains(secret.as_str()),
                    "a log event holds a secret ({} bytes, starting {:?}): {event}",
                    secret.len(),
                    &secret[..secret.len().min(12)]
                );
            }
        }
    }
}

/// The application: session values come in the `x-value` header (never
/// in the path, which other layers may log).
///
/// - `/get/K` answers K's value as JSON (`null` if none);
/// - `/number/K` reads K as a `u32`;
/// - `/set/K` sets K to the `x-value` header;
/// - `/destroy` destroys the session;
/// - `/late/K` sets K inside the streaming body, after the commit.
fn app() -> impl Application {
    fn_app(|env: Environ| async move {
        let session = Session::of(&env).expect("inside Sessions");
        let value = env
            .headers()
            .get("x-value")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let path = env.path_info().to_owned();
        let (route, key) = path[1..].split_once('/').unwrap_or((&path[1..], ""));
        let key = key.to_owned();
        let out = match route {
            "get" => session.get::<Value>(&key).await?.unwrap_or(Value::Null),
            "number" => session.get::<u32>(&key).await?.into(),
            "set" => {
                session.insert(&key, value).await?;
                Value::Null
            }
            "destroy" => {
                session.destroy().await?;
                Value::Null
            }
            "late" => {
                return start(200, [("content-type", "text/plain")]).writer(
                    move |mut w| async move {
                        w.write("first chunk").await?;
                        let late = session.insert(&key, value).await.is_err();
                        w.write(if late { " refused" } else { " accepted" }).await
                    },
                );
            }
            _ => return start(404, [("content-type", "text/plain")]).body("no route"),
        };
        start(200, [("content-type", "application/json")]).body(out.to_string())
    })
}

/// A cookie store and a copy of it (the same key), for a second
/// `Sessions`.
fn cookie_store() -> CookieStore {
    CookieStore::new(Key::from_secret(1, &[42; 32]).expect("key"))
}

/// The hostile `Cookie` fields TestClient can send, around `valid` and
/// `foreign` (a cookie of another `Sessions`).
fn hostile_fields(valid: &str, foreign: &str) -> Vec<Vec<u8>> {
    let mut tampered = valid.as_bytes().to_vec();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let percent: String = valid.bytes().map(|b| format!("%{b:02X}")).collect();
    let standard: String = valid
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let padded = format!("{standard}{}", "=".repeat((4 - standard.len() % 4) % 4));
    let mut fields = vec![
        [b"session=".as_slice(), &tampered].concat(),
        format!("session={}", &valid[..valid.len() - 1]).into_bytes(),
        format!("session={valid}garbage").into_bytes(),
        format!("session=\"{valid}x\"").into_bytes(),
        format!("session={percent}").into_bytes(),
        format!("session={foreign}").into_bytes(),
        format!("other={valid}; session={foreign}").into_bytes(),
        [b"session=".as_slice(), valid.as_bytes(), b"\xff\xfe"].concat(),
        b"session=\xc3\xa9\x80\xff-not-utf8-at-all".to_vec(),
        format!("session={}", "Q".repeat(8 * 1024)).into_bytes(),
        format!("session={}", "junk-value-").repeat(50).into_bytes(),
        b";;;;".to_vec(),
        b"session=".to_vec(),
    ];
    // Another spelling only when the value has '-' or '_' or takes
    // padding; otherwise it is the valid value itself.
    if padded != valid {
        fields.push(format!("session={padded}").into_bytes());
    }
    fields
}

/// Sends every hostile field to `/get/user` and `/set/user`: each must be
/// a fresh session, as the middleware's tests already say; here the point
/// is what they log.
async fn send_hostile<A: Application>(
    client: &TestClient<A>,
    secrets: &mut Secrets,
    valid: &str,
    foreign: &str,
) {
    for field in hostile_fields(valid, foreign) {
        secrets.add_cookie_field(&field);
        let header = http::HeaderValue::from_bytes(&field).expect("a field value");
        let res = client
            .get("/get/user")
            .without_cookies()
            .header("cookie", header.clone())
            .send()
            .await;
        assert_eq!(res.status(), 200, "{field:?}");
        assert_eq!(res.text(), "null", "{field:?}");
        let value = secrets.value("new-session-value");
        let res = client
            .get("/set/user")
            .without_cookies()
            .header("cookie", header)
            .header("x-value", value)
            .send()
            .await;
        assert_eq!(res.status(), 200, "{field:?}");
        secrets.add_response(&res);
    }
}

#[tokio::test]
async fn bad_cookies_log_no_value() {
    let capture = Capture::default();
    let _guard = capture.install();
    let mut secrets = Secrets::default();

    // A server-side store.
    let sessions = Sessions::new(MemoryStore::new());
    let client = TestClient::new(app().with(sessions.clone()));
    let (_, valid) = sessions
        .seed([("user", secrets.value("seeded"))])
        .await
        .unwrap();
    let (_, foreign) = Sessions::new(MemoryStore::new())
        .seed([("user", secrets.value("foreign"))])
        .await
        .unwrap();
    secrets.add(valid.clone());
    secrets.add(foreign.clone());
    send_hostile(&client, &mut secrets, &valid, &foreign).await;

    // The cookie store, encrypted and signed (where the payload is only
    // encoded, so a value logged in its encoded form would leak too).
    for signed in [false, true] {
        let key = || Key::from_secret(1, &[42; 32]).unwrap();
        let store = if signed {
            CookieStore::signed(key())
        } else {
            CookieStore::new(key())
        };
        let sessions = Sessions::new(store);
        let client = TestClient::new(app().with(sessions.clone()));
        let (_, valid) = sessions
            .seed([("user", secrets.value("seeded"))])
            .await
            .unwrap();
        let (_, foreign) = Sessions::new(CookieStore::new(Key::from_secret(1, &[7; 32]).unwrap()))
            .seed([("user", secrets.value("foreign"))])
            .await
            .unwrap();
        secrets.add(valid.clone());
        secrets.add(foreign.clone());
        send_hostile(&client, &mut secrets, &valid, &foreign).await;
    }

    capture.assert_logged("session cookie refused");
    secrets.assert_none_in(&capture);
}

#[tokio::test]
async fn expired_cookies_log_no_value() {
    let capture = Capture::default();
    let _guard = capture.install();
    let mut secrets = Secrets::default();

    // A record past its expiry in a memory store, its cookie replayed.
    let store = MemoryStore::new();
    let id = SessionId::generate();
    let past = SystemTime::now() - Duration::from_secs(60);
    let mut record = Record::new(past - Duration::from_secs(60), past);
    record
        .data
        .insert("user".into(), secrets.value("expired").into());
    store.create(&id, &record).await.unwrap();
    secrets.add(id.to_string());
    let client = TestClient::new(app().with(Sessions::new(store)));
    client.add_cookie("session", &id.to_string());
    assert_eq!(client.get("/get/user").send().await.text(), "null");

    // A cookie-store cookie that expired when it was made.
    let expired = Sessions::new(cookie_store()).idle_timeout(Duration::ZERO);
    let (_, value) = expired
        .seed([("user", secrets.value("expired"))])
        .await
        .unwrap();
    secrets.add(value.clone());
    let client = TestClient::new(app().with(Sessions::new(cookie_store())));
    client.add_cookie("session", &value);
    assert_eq!(client.get("/get/user").send().await.text(), "null");

    capture.assert_logged("Expired");
    secrets.assert_none_in(&capture);
}

#[tokio::test]
async fn a_store_outage_logs_no_value() {
    let capture = Capture::default();
    let _guard = capture.install();
    let mut secrets = Secrets::default();
    let flaky = Flaky::default();
    let client = TestClient::new(app().with(Sessions::new(flaky.clone())));
    let res = client
        .get("/set/user")
        .header("x-value", secrets.value("before-outage"))
        .send()
        .await;
    secrets.add_response(&res);

    // A failed save: held between load and save while the store goes down.
    let hold = Hold::new();
    let held = client
        .get("/set/user")
        .header("x-value", secrets.value("lost-in-outage"))
        .extension(hold.clone())
        .send();
    let outage = async {
        hold.reached().await;
        flaky.set_down(true);
        hold.release();
    };
    let (res, ()) = tokio::join!(held, outage);
    assert_eq!(res.status(), 503);

    // Failed loads, with the cookie; a failed create, without.
    for path in ["/get/user", "/set/user", "/destroy"] {
        let res = client
            .get(path)
            .header("x-value", secrets.value("during-outage"))
            .send()
            .await;
        assert_eq!(res.status(), 503, "{path}");
    }
    let res = client
        .get("/set/user")
        .without_cookies()
        .header("x-value", secrets.value("new-during-outage"))
        .send()
        .await;
    assert_eq!(res.status(), 503);
    for (_, value) in client.cookies() {
        secrets.add(value);
    }

    capture.assert_logged("session store failed to load");
    capture.assert_logged("session store failed to save");
    secrets.assert_none_in(&capture);
}

#[tokio::test]
async fn a_conflict_logs_the_key_not_the_values() {
    let capture = Capture::default();
    let _guard = capture.install();
    let mut secrets = Secrets::default();
    let sessions = Sessions::new(MemoryStore::new());
    let client = TestClient::new(app().with(sessions.clone()));
    let res = client
        .get("/set/cart")
        .header("x-value", secrets.value("first"))
        .send()
        .await;
    secrets.add_response(&res);
    let hold = Hold::new();
    let slow = client
        .get("/set/cart")
        .header("x-value", secrets.value("slow"))
        .extension(hold.clone())
        .send();
    let fast = async {
        hold.reached().await;
        let res = client
            .get("/set/cart")
            .header("x-value", secrets.value("fast"))
            .send()
            .await;
        hold.release();
        res
    };
    let (slow, fast) = tokio::join!(slow, fast);
    secrets.add_response(&slow);
    secrets.add_response(&fast);
    assert_eq!(sessions.stats().conflicts, 1);

    capture.assert_logged("first writer wins");
    capture.assert_logged("cart");
    secrets.assert_none_in(&capture);
}

#[tokio::test]
async fn a_too_large_cookie_store_session_logs_no_value() {
    let capture = Capture::default();
    let _guard = capture.install();
    let mut secrets = Secrets::default();
    let client = TestClient::new(app().with(Sessions::new(cookie_store())));
    let big = format!("{}{}", secrets.value("big"), "x".repeat(5000));
    secrets.add(big.clone());
    let res = client.get("/set/blob").header("x-value", big).send().await;
    assert_eq!(res.status(), 500);
    assert!(res.header("set-cookie").is_none());

    capture.assert_logged("no longer fits in its cookie");
    secrets.assert_none_in(&capture);
}

/// A stored value read as the wrong type fails the request (500); the
/// error the driver logs names the key and the expected type, never the
/// stored value.
#[tokio::test]
async fn a_value_of_the_wrong_type_logs_no_value() {
    let capture = Capture::default();
    let _guard = capture.install();
    let mut secrets = Secrets::default();
    for backend in ["memory", "cookie"] {
        let value = secrets.value("not-a-number");
        let res = match backend {
            "memory" => wrong_type(Sessions::new(MemoryStore::new()), &value, &mut secrets).await,
            _ => wrong_type(Sessions::new(cookie_store()), &value, &mut secrets).await,
        };
        assert_eq!(res.status(), 500, "{backend}");
        let error = res.error().expect("the error behind the 500").to_string();
        assert!(error.contains("`user`"), "{error}");
        assert!(error.contains("u32"), "{error}");
        assert!(!error.contains(&value), "{error}");
    }
    capture.assert_logged("did not deserialize");
    secrets.assert_none_in(&capture);
}

async fn wrong_type<B: Backend>(
    sessions: Sessions<B>,
    value: &str,
    secrets: &mut Secrets,
) -> TestResponse {
    let client = TestClient::new(app().with(sessions));
    let res = client
        .get("/set/user")
        .header("x-value", value)
        .send()
        .await;
    secrets.add_response(&res);
    client.get("/number/user").send().await
}

#[tokio::test]
async fn a_change_after_the_commit_logs_no_value() {
    let capture = Capture::default();
    let _guard = capture.install();
    let mut secrets = Secrets::default();
    // Without Lint (the handle logs it) and under Lint (the reporter
    // does, and fails the request).
    let plain = TestClient::new(app().with(Sessions::new(MemoryStore::new())));
    let res = change_late(&plain, &mut secrets).await;
    assert_eq!(res.text(), "first chunk refused");
    let linted = TestClient::new(
        app()
            .with(Sessions::new(MemoryStore::new()))
            .with(Lint::new()),
    );
    change_late(&linted, &mut secrets).await;
    capture.assert_logged("after Sessions made its cookie decision");
    secrets.assert_none_in(&capture);
}

async fn change_late<A: Application>(
    client: &TestClient<A>,
    secrets: &mut Secrets,
) -> TestResponse {
    let res = client
        .get("/set/user")
        .header("x-value", secrets.value("before"))
        .send()
        .await;
    secrets.add_response(&res);
    client
        .get("/late/user")
        .header("x-value", secrets.value("late"))
        .send()
        .await
}
