//! Sessions in Redis, end to end: gateway-hyper servers over real sockets,
//! `Sessions` with a `RedisStore`, and a real `redis-server` the tests
//! start on loopback (the fixture is shared with gateway-middleware's
//! `sessions_redis` tests). Two server instances share one Redis, as two
//! machines behind a load balancer would; the test carries the cookie.
//!
//! Without `redis-server` these tests print why they skipped; with `CI`
//! set they fail.

#[path = "../gateway-middleware/tests/redis_server/mod.rs"]
pub(crate) mod redis_server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_core::{ApplicationExt, Environ, fn_app, from_fn, start};
use gateway_middleware::sessions::{Hold, RedisStore, Session, Sessions};
use gateway_tests::{Client, Proto, TestServer, empty, read_body, within};
use http::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use http::{HeaderMap, Method, StatusCode};
use redis_server::RedisServer;

/// Where a test puts the [`Hold`] the next request with `x-hold` takes.
type HoldSlot = Arc<Mutex<Option<Hold>>>;

/// One server instance: its address, its `Sessions` (for `peek`) and the
/// hold slot.
struct Instance {
    server: TestServer,
    sessions: Sessions<RedisStore>,
    hold: HoldSlot,
}

/// The application: routes by path, the session in Redis.
///
/// - `/anon` never touches the session;
/// - `/get/K` answers K's value (JSON) or `none`;
/// - `/set/K/V` sets K to the string V;
/// - `/step/N` increments `counter` and sets `kN`;
/// - `/inc/K` increments K;
/// - `/logout` destroys the session, `/cycle` gives it a new id.
///
/// A request with `x-hold` takes the hold from the slot: it is held after
/// the application returned and before the session is saved.
async fn instance(redis: &RedisServer) -> Instance {
    let client = redis::Client::open(redis.url()).expect("redis url");
    let store = within(
        "connect to redis",
        RedisStore::builder(client)
            .timeout(Duration::from_millis(300))
            .connect(),
    )
    .await
    .expect("connect to the test redis-server");
    let sessions = Sessions::new(store).retry_after(Duration::from_secs(2));
    let hold: HoldSlot = Arc::default();
    let slot = hold.clone();
    let app = fn_app(|env: Environ| async move {
        let path = env.path_info().to_owned();
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        if parts == ["anon"] {
            return start(200, [("content-type", "text/plain")]).body("hi");
        }
        let session = Session::of(&env).expect("Sessions puts the handle in");
        let body = match parts.as_slice() {
            ["get", key] => match session.get::<serde_json::Value>(key).await? {
                Some(v) => v.to_string(),
                None => "none".to_owned(),
            },
            ["set", key, value] => {
                session.insert(key, *value).await?;
                "ok".to_owned()
            }
            ["inc", key] => {
                let n = session.get::<i64>(key).await?.unwrap_or(0) + 1;
                session.insert(key, n).await?;
                n.to_string()
            }
            ["step", n] => {
                let count = session.get::<i64>("counter").await?.unwrap_or(0) + 1;
                session.insert("counter", count).await?;
                session.insert(&format!("k{n}"), *n).await?;
                count.to_string()
            }
            ["logout"] => {
                session.destroy().await?;
                "bye".to_owned()
            }
            ["cycle"] => {
                session.cycle_id().await?;
                "cycled".to_owned()
            }
            _ => return start(404, [("content-type", "text/plain")]).body("no route"),
        };
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .with(sessions.clone())
    .with(from_fn(move |mut env: Environ, next| {
        let hold = env
            .headers()
            .contains_key("x-hold")
            .then(|| slot.lock().unwrap().take())
            .flatten();
        async move {
            if let Some(hold) = hold {
                env.extensions_mut().insert(hold);
            }
            next.run(env).await
        }
    }));
    Instance {
        server: TestServer::start(app).await,
        sessions,
        hold,
    }
}

/// The response to one request: status, headers, body as text.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    /// The session cookie this response sets: `Some(value)` (empty for a
    /// removal), `None` if it sets none.
    fn cookie(&self) -> Option<String> {
        let set = self.headers.get_all(SET_COOKIE).iter().collect::<Vec<_>>();
        assert!(set.len() <= 1, "more than one Set-Cookie: {set:?}");
        let line = set.first()?.to_str().expect("ascii Set-Cookie");
        let pair = line.split(';').next().unwrap_or_default();
        let value = pair
            .strip_prefix("session=")
            .unwrap_or_else(|| panic!("not the session cookie: {line}"));
        Some(value.to_owned())
    }
}

async fn call(client: &mut Client, method: Method, path: &str, cookie: Option<&str>) -> Answer {
    call_with(client, method, path, cookie, false).await
}

async fn call_with(
    client: &mut Client,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    hold: bool,
) -> Answer {
    let mut req = client.request(method, path, empty());
    if let Some(value) = cookie {
        req.headers_mut()
            .insert(COOKIE, format!("session={value}").parse().unwrap());
    }
    if hold {
        req.headers_mut().insert("x-hold", "1".parse().unwrap());
    }
    let (parts, body) = client.send(req).await.into_parts();
    let body = read_body(body).await;
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Starts Redis and two instances sharing it, or returns `None` (skip).
async fn two_instances(test: &str) -> Option<(RedisServer, Instance, Instance)> {
    let redis = RedisServer::start(test)?;
    let a = instance(&redis).await;
    let b = instance(&redis).await;
    Some((redis, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_alternating_lose_nothing() {
    let Some((_redis, a, b)) = two_instances("sessions: two instances alternating").await else {
        return;
    };
    let mut ca = a.server.client(Proto::Http1).await;
    let mut cb = b.server.client(Proto::Http2).await;
    let first = call(&mut ca, Method::POST, "/step/0", None).await;
    assert_eq!((first.status, first.body.as_str()), (StatusCode::OK, "1"));
    let cookie = first.cookie().expect("a new session sets its cookie");
    for n in 1..20 {
        let client = if n % 2 == 0 { &mut ca } else { &mut cb };
        let answer = call(client, Method::POST, &format!("/step/{n}"), Some(&cookie)).await;
        assert_eq!(answer.status, StatusCode::OK, "step {n}: {}", answer.body);
        assert_eq!(answer.body, (n + 1).to_string(), "step {n}");
        // The id stays; a cookie, if re-sent, names the same session.
        assert!(answer.cookie().is_none_or(|c| c == cookie), "step {n}");
    }
    let record = b.sessions.peek(&cookie).await.unwrap().expect("stored");
    assert_eq!(record.data["counter"], 20);
    for n in 0..20 {
        assert_eq!(record.data[&format!("k{n}")], n.to_string(), "k{n}");
    }
    let read = call(&mut ca, Method::GET, "/get/counter", Some(&cookie)).await;
    assert_eq!(read.body, "20");
    drop((ca, cb));
    a.server.stop().await;
    b.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_requests_on_two_instances_keep_both_changes() {
    let Some((_redis, a, b)) = two_instances("sessions: overlapping on two instances").await else {
        return;
    };
    let mut ca = a.server.client(Proto::Http1).await;
    let mut cb = b.server.client(Proto::Http1).await;
    let cookie = call(&mut ca, Method::POST, "/set/x/0", None)
        .await
        .cookie()
        .expect("session cookie");

    // Different keys: A's request is held between load and save while
    // B's request loads, changes another key and saves.
    let hold = Hold::new();
    *a.hold.lock().unwrap() = Some(hold.clone());
    let (held, other) = tokio::join!(
        call_with(&mut ca, Method::POST, "/set/a/1", Some(&cookie), true),
        async {
            within("the held request to reach the hold", hold.reached()).await;
            let answer = call(&mut cb, Method::POST, "/set/b/2", Some(&cookie)).await;
            hold.release();
            answer
        }
    );
    assert_eq!(
        (held.status, other.status),
        (StatusCode::OK, StatusCode::OK)
    );
    let data = a.sessions.peek(&cookie).await.unwrap().unwrap().data;
    assert_eq!(
        (&data["x"], &data["a"], &data["b"]),
        (&"0".into(), &"1".into(), &"2".into())
    );

    // The same key: the request that saved first wins; the held one's
    // stale increment is refused, not written over it.
    let hold = Hold::new();
    *a.hold.lock().unwrap() = Some(hold.clone());
    let (held, other) = tokio::join!(
        call_with(&mut ca, Method::POST, "/inc/n", Some(&cookie), true),
        async {
            within("the held request to reach the hold", hold.reached()).await;
            let first = call(&mut cb, Method::POST, "/inc/n", Some(&cookie)).await;
            let second = call(&mut cb, Method::POST, "/inc/n", Some(&cookie)).await;
            hold.release();
            (first, second)
        }
    );
    assert_eq!(held.status, StatusCode::OK);
    assert_eq!((other.0.body.as_str(), other.1.body.as_str()), ("1", "2"));
    let data = b.sessions.peek(&cookie).await.unwrap().unwrap().data;
    assert_eq!(data["n"], 2, "first writer wins: B's two increments stay");
    assert_eq!(a.sessions.stats().conflicts, 1);
    drop((ca, cb));
    a.server.stop().await;
    b.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_one_instance_wins_over_a_slow_request_on_the_other() {
    let Some((redis, a, b)) = two_instances("sessions: logout vs slow request").await else {
        return;
    };
    let mut ca = a.server.client(Proto::Http1).await;
    let mut cb = b.server.client(Proto::Http2).await;
    let cookie = call(&mut ca, Method::POST, "/set/user/ada", None)
        .await
        .cookie()
        .expect("session cookie");

    let hold = Hold::new();
    *b.hold.lock().unwrap() = Some(hold.clone());
    let (slow, logout) = tokio::join!(
        call_with(&mut cb, Method::POST, "/set/cart/full", Some(&cookie), true),
        async {
            within("the slow request to reach the hold", hold.reached()).await;
            let answer = call(&mut ca, Method::POST, "/logout", Some(&cookie)).await;
            hold.release();
            answer
        }
    );
    assert_eq!(
        (logout.status, logout.body.as_str()),
        (StatusCode::OK, "bye")
    );
    assert_eq!(logout.cookie().as_deref(), Some(""), "the removal cookie");
    assert!(
        logout.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "{:?}",
        logout.headers
    );
    assert_eq!(slow.status, StatusCode::OK);
    assert_eq!(slow.cookie(), None, "the slow request sets no cookie");
    assert_eq!(b.sessions.peek(&cookie).await.unwrap(), None);
    assert_eq!(redis.command(&["DBSIZE"]), "0", "nothing resurrected");
    let after = call(&mut cb, Method::GET, "/get/user", Some(&cookie)).await;
    assert_eq!(after.body, "none");
    drop((ca, cb));
    a.server.stop().await;
    b.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixation_old_id_no_longer_loads_after_cycle() {
    let Some((redis, a, b)) = two_instances("sessions: fixation with Redis").await else {
        return;
    };
    let mut ca = a.server.client(Proto::Http1).await;
    let mut cb = b.server.client(Proto::Http1).await;
    let old = call(&mut ca, Method::POST, "/set/user/ada", None)
        .await
        .cookie()
        .expect("session cookie");
    let cycled = call(&mut cb, Method::POST, "/cycle", Some(&old)).await;
    assert_eq!(cycled.status, StatusCode::OK);
    let new = cycled.cookie().expect("cycle_id sets the new cookie");
    assert!(!new.is_empty() && new != old);

    let with_old = call(&mut ca, Method::GET, "/get/user", Some(&old)).await;
    assert_eq!(with_old.body, "none", "the old id loads nothing");
    assert_eq!(a.sessions.peek(&old).await.unwrap(), None);
    assert_eq!(redis.command(&["EXISTS", &format!("session:{old}")]), "0");
    let with_new = call(&mut ca, Method::GET, "/get/user", Some(&new)).await;
    assert_eq!(with_new.body, "\"ada\"", "the data moved to the new id");
    drop((ca, cb));
    a.server.stop().await;
    b.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookieless_traffic_never_touches_redis() {
    let Some(redis) = RedisServer::start("sessions: cookieless traffic") else {
        return;
    };
    let a = instance(&redis).await;
    let mut client = a.server.client(Proto::Http1).await;
    redis.command(&["CONFIG", "RESETSTAT"]);
    for i in 0..1000 {
        // Half never touch the session; half read it without a cookie.
        let path = if i % 2 == 0 { "/anon" } else { "/get/user" };
        let answer = call(&mut client, Method::GET, path, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.cookie(), None, "{path}: no Set-Cookie");
    }
    let stats = redis.command(&["INFO", "commandstats"]);
    let calls: Vec<&str> = stats
        .lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
        .filter(|l| !l.starts_with("cmdstat_config"))
        .collect();
    assert!(calls.is_empty(), "Redis was called: {calls:?}");
    assert_eq!(redis.command(&["DBSIZE"]), "0");
    // The count can fail: one session that is created and read again is
    // seen.
    let cookie = call(&mut client, Method::POST, "/set/user/ada", None)
        .await
        .cookie()
        .expect("session cookie");
    call(&mut client, Method::GET, "/get/user", Some(&cookie)).await;
    let stats = redis.command(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_hgetall:calls=1,"), "{stats}");
    assert_eq!(redis.command(&["DBSIZE"]), "1");
    drop(client);
    a.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_closed_then_recovers() {
    let Some((mut redis, a, b)) = two_instances("sessions: Redis outage").await else {
        return;
    };
    let mut ca = a.server.client(Proto::Http1).await;
    let mut cb = b.server.client(Proto::Http1).await;
    let cookie = call(&mut ca, Method::POST, "/set/user/ada", None)
        .await
        .cookie()
        .expect("session cookie");
    assert_eq!(
        call(&mut cb, Method::POST, "/inc/n", Some(&cookie))
            .await
            .body,
        "1"
    );

    redis.pause();
    // Cookieless requests are served: they never need the store.
    for path in ["/anon", "/get/user"] {
        let answer = within(path, call(&mut ca, Method::GET, path, None)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path} during the outage");
        assert_eq!(answer.cookie(), None);
    }
    // Requests that need their session: 503 + Retry-After, never a silent
    // new session and never a 500.
    for (on_b, method, path, cookie) in [
        (false, Method::GET, "/get/user", Some(cookie.as_str())),
        (true, Method::POST, "/inc/n", Some(cookie.as_str())),
        (false, Method::POST, "/set/new/session", None),
    ] {
        let client = if on_b { &mut cb } else { &mut ca };
        let answer = within(path, call(client, method, path, cookie)).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            answer.body
        );
        assert_eq!(answer.headers[RETRY_AFTER], "2", "{path}");
        assert_eq!(
            answer.cookie(),
            None,
            "{path}: no cookie decision on an outage"
        );
    }
    redis.resume();

    // Back: the session saved before the outage is there. The first
    // requests may meet a reconnection in progress (503): a few tries.
    let mut user = None;
    for _ in 0..50 {
        let answer = call(&mut cb, Method::GET, "/get/user", Some(&cookie)).await;
        if answer.status == StatusCode::OK {
            user = Some(answer.body);
            break;
        }
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        user.as_deref(),
        Some("\"ada\""),
        "the session survived the outage"
    );
    let mut n = None;
    for _ in 0..50 {
        let answer = call(&mut ca, Method::POST, "/inc/n", Some(&cookie)).await;
        if answer.status == StatusCode::OK {
            n = Some(answer.body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The increment answered 503 during the pause failed at its load, so
    // it saved nothing; the one before the outage is kept.
    assert_eq!(n.as_deref(), Some("2"), "sessions work again, nothing lost");
    drop((ca, cb));
    a.server.stop().await;
    b.server.stop().await;
}
