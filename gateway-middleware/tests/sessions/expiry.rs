//! Expiry: idle (rolling), absolute, browser-session; cookie and store
//! agree, with and without a change.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway_core::ApplicationExt;
use gateway_core::test_client::{TestClient, TestResponse};
use gateway_middleware::sessions::{MemoryStore, Record, SessionId, SessionStore, Sessions};
use serde_json::json;

use crate::support::{app, attribute, cookie_value, json, set_cookie};

const HOUR: Duration = Duration::from_secs(3600);

/// The cookie's deadline by its `Max-Age`, counted from the `Expires` it
/// was sent with minus `Max-Age`, i.e. the server's clock at the time.
fn cookie_deadline(c: &str) -> SystemTime {
    let expires = attribute(c, "Expires").expect("Expires");
    parse_http_date(expires)
}

fn parse_http_date(s: &str) -> SystemTime {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let parts: Vec<&str> = s.split([' ', ':']).collect();
    let day: u64 = parts[1].parse().unwrap();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])
    .unwrap() as u64
        + 1;
    let year: u64 = parts[3].parse().unwrap();
    let (h, m, sec): (u64, u64, u64) = (
        parts[4].parse().unwrap(),
        parts[5].parse().unwrap(),
        parts[6].parse().unwrap(),
    );
    // Days from civil (Howard Hinnant), valid from 1970 on.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    UNIX_EPOCH + Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + sec)
}

fn max_age(c: &str) -> u64 {
    attribute(c, "Max-Age")
        .expect("Max-Age")
        .parse()
        .expect("a number, never negative")
}

async fn record_of(sessions: &Sessions<MemoryStore>, res: &TestResponse) -> Record {
    let c = set_cookie(res, sessions.name()).expect("a session cookie");
    sessions
        .peek(&cookie_value(&c))
        .await
        .unwrap()
        .expect("a record")
}

/// The cookie never outlives the record and ends within a second of it.
fn assert_agree(c: &str, record: &Record) {
    let cookie = cookie_deadline(c);
    assert!(cookie <= record.expires, "{c} outlives {record:?}");
    let gap = record.expires.duration_since(cookie).unwrap();
    assert!(gap < Duration::from_secs(2), "{c} vs {record:?}");
}

#[tokio::test]
async fn idle_expiry_agrees_with_and_without_a_change() {
    let sessions = Sessions::new(MemoryStore::new())
        .idle_timeout(HOUR)
        .refresh_threshold(Duration::ZERO);
    let client = TestClient::new(app().with(sessions.clone()));
    let res = client.get("/set/a/1").send().await;
    let c = set_cookie(&res, "session").unwrap();
    let first = record_of(&sessions, &res).await;
    assert!(max_age(&c) <= 3600 && max_age(&c) >= 3598, "{c}");
    assert_agree(&c, &first);

    // A change.
    let res = client.get("/set/a/2").send().await;
    let c = set_cookie(&res, "session").unwrap();
    let record = record_of(&sessions, &res).await;
    assert_agree(&c, &record);
    assert!(record.expires >= first.expires);

    // No change, refresh due (threshold zero): re-sent, store moved too.
    let res = client.get("/get/a").send().await;
    let c = set_cookie(&res, "session").expect("rolling refresh");
    assert_agree(&c, &record_of(&sessions, &res).await);
}

#[tokio::test]
async fn a_read_only_request_writes_nothing_until_the_refresh_is_due() {
    let store = MemoryStore::new();
    let sessions = Sessions::new(store.clone()).idle_timeout(HOUR);
    let client = TestClient::new(app().with(sessions));
    client.get("/set/a/1").send().await;
    let writes = store.stats().writes();
    for _ in 0..10 {
        let res = client.get("/get/a").send().await;
        assert!(res.header("set-cookie").is_none());
    }
    assert_eq!(store.stats().writes(), writes);
}

#[tokio::test]
async fn absolute_timeout_caps_the_deadline() {
    let sessions = Sessions::new(MemoryStore::new())
        .idle_timeout(HOUR)
        .absolute_timeout(Duration::from_secs(600));
    let client = TestClient::new(app().with(sessions.clone()));
    let res = client.get("/set/a/1").send().await;
    let c = set_cookie(&res, "session").unwrap();
    let record = record_of(&sessions, &res).await;
    assert!(max_age(&c) <= 600, "{c}");
    assert_agree(&c, &record);
    assert!(record.expires <= record.created + Duration::from_secs(600));
    // A change later keeps the cap from creation: the deadline did not
    // move, so the record keeps its expiry and the cookie the client holds
    // (not sent again) still agrees with it.
    let res = client.get("/set/a/2").send().await;
    assert!(set_cookie(&res, "session").is_none());
    let again = sessions
        .peek(&cookie_value(&c))
        .await
        .unwrap()
        .expect("a record");
    assert_eq!(again.data["a"], json!("2"));
    assert_eq!(again.created, record.created);
    assert_eq!(again.expires, record.expires);
    assert_agree(&c, &again);
}

#[tokio::test]
async fn never_a_negative_max_age() {
    // A record past its absolute deadline though the store still holds it
    // (the timeout was shortened since): it does not load, and the new
    // session's cookie has a lifetime within the new limit, never below 0.
    let store = MemoryStore::new();
    let sessions = Sessions::new(store.clone()).absolute_timeout(HOUR);
    let now = SystemTime::now();
    let id = SessionId::generate();
    let mut old = Record::new(now - 2 * HOUR, now + HOUR);
    old.data.insert("a".into(), json!(1));
    store.create(&id, &old).await.unwrap();
    let client = TestClient::new(app().with(sessions));
    client.add_cookie("session", &id.to_string());
    assert_eq!(json(&client.get("/get/a").send().await), json!(null));
    let res = client.get("/set/a/2").send().await;
    let c = set_cookie(&res, "session").unwrap();
    assert_ne!(cookie_value(&c), id.to_string());
    assert!(max_age(&c) <= 3600, "{c}");
}

#[tokio::test]
async fn browser_session_cookie_has_no_lifetime_but_the_record_does() {
    let sessions = Sessions::new(MemoryStore::new())
        .idle_timeout(HOUR)
        .browser_session();
    let client = TestClient::new(app().with(sessions.clone()));
    let res = client.get("/set/a/1").send().await;
    let c = set_cookie(&res, "session").unwrap();
    assert_eq!(attribute(&c, "Max-Age"), None);
    assert_eq!(attribute(&c, "Expires"), None);
    let record = record_of(&sessions, &res).await;
    let ttl = record.expires.duration_since(SystemTime::now()).unwrap();
    assert!(ttl <= HOUR && ttl > HOUR - Duration::from_secs(60));
}

#[tokio::test]
async fn an_expired_record_never_loads_even_when_replayed() {
    let store = MemoryStore::new();
    let now = SystemTime::now();
    let id = SessionId::generate();
    let mut old = Record::new(now - HOUR, now - Duration::from_secs(1));
    old.data.insert("user".into(), json!("ada"));
    store.create(&id, &old).await.unwrap();
    let client = TestClient::new(app().with(Sessions::new(store)));
    client.add_cookie("session", &id.to_string());
    let res = client.get("/get/user").send().await;
    assert_eq!(json(&res), json!(null));
    assert!(res.header("set-cookie").is_none());
    // Saving a change starts a new session: the old id is not revived.
    let res = client.get("/set/x/1").send().await;
    let new = cookie_value(&set_cookie(&res, "session").unwrap());
    assert_ne!(new, id.to_string());
}

#[tokio::test]
async fn huge_timeouts_do_not_overflow() {
    let sessions = Sessions::new(MemoryStore::new())
        .idle_timeout(Duration::MAX)
        .absolute_timeout(Duration::MAX);
    let client = TestClient::new(app().with(sessions));
    let res = client.get("/set/a/1").send().await;
    assert_eq!(res.status(), 200);
    assert!(max_age(&set_cookie(&res, "session").unwrap()) > 0);
    // The next request loads the record, checking the absolute timeout.
    let res = client.get("/set/a/2").send().await;
    assert_eq!(res.status(), 200);

    // An idle timeout of 2^40 s ("never") lands past year 9999: the
    // cookie's Expires is clamped, not a panic.
    let sessions = Sessions::new(MemoryStore::new()).idle_timeout(Duration::from_secs(1 << 40));
    let client = TestClient::new(app().with(sessions));
    let res = client.get("/set/a/1").send().await;
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, "session").unwrap();
    assert!(
        cookie.contains("Expires=Fri, 31 Dec 9999 23:59:59 GMT"),
        "{cookie}"
    );
}
