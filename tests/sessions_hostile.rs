//! Sessions attacked from outside, over real sockets: hostile `Cookie`
//! fields sent to a gateway-hyper server whose application reads and
//! writes a session, for every backend (`MemoryStore`, the cookie store
//! encrypted and signed, and a `RedisStore` on a real `redis-server`), in
//! one write and in pieces (byte by byte, with small pauses, for the short
//! ones), over HTTP/1.1 and HTTP/2 (where `cookie` arrives as several
//! fields).
//!
//! Every request must be answered — never a 500, never a hang (each wait
//! is bounded by the fixtures' timeout) — the application must see a
//! fresh, empty session (or the right one where the cookie is valid), and
//! no `Set-Cookie` may come back unless the application wrote.
//!
//! Without `redis-server` the Redis half prints why it skipped; with `CI`
//! set it fails.

// The same fixture `sessions` loads (private there); a second copy keeps
// this module self-contained.
#[allow(clippy::duplicate_mod)]
#[path = "../gateway-middleware/tests/redis_server/mod.rs"]
mod redis_server;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use gateway_core::{Application, ApplicationExt, Environ, fn_app, start};
use gateway_middleware::sessions::{
    Backend, CookieStore, Key, MemoryStore, RedisStore, Session, Sessions,
};
use gateway_tests::{Proto, TestServer, empty, read_body, split_head, within};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Method};
use redis_server::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the seeded session holds under `user`.
const USER: &str = "ada-lovelace-1815";

/// The cookie store's key secrets: ours, and another site's.
const SECRET: [u8; 32] = [7; 32];
const OTHER_SECRET: [u8; 32] = [9; 32];

/// The application: `/get` answers the session's `user` (or `none`),
/// `/set/V` sets it to `V`, `/logout` destroys the session.
fn app<B: Backend>(sessions: Sessions<B>) -> impl Application {
    fn_app(|env: Environ| async move {
        let session = Session::of(&env).expect("Sessions puts the handle in");
        let path = env.path_info().to_owned();
        let body = match path.as_str() {
            "/get" => session
                .get::<String>("user")
                .await?
                .unwrap_or_else(|| "none".to_owned()),
            "/logout" => {
                session.destroy().await?;
                "bye".to_owned()
            }
            _ => match path.strip_prefix("/set/") {
                Some(value) => {
                    session.insert("user", value).await?;
                    "ok".to_owned()
                }
                None => return start(404, [("content-type", "text/plain")]).body("no route"),
            },
        };
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .with(sessions)
}

/// A server whose 100-header limit is raised, so that 100 `Cookie` lines
/// reach the middleware rather than hyper's 431.
async fn serve<B: Backend>(sessions: Sessions<B>) -> TestServer {
    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .max_headers(200);
    TestServer::serve(server, app(sessions))
}

/// One backend under attack: its server and the cookies made for it.
struct Target {
    what: &'static str,
    server: TestServer,
    /// A valid session cookie value (its session holds [`USER`]).
    valid: String,
    /// A well-formed cookie value of another `Sessions` (another memory
    /// store, another Redis prefix, another key with the same key id).
    foreign: String,
    /// Cookie store only: a value sealed under our key for another cookie
    /// name.
    other_name: Option<String>,
}

async fn memory_target() -> Target {
    let sessions = Sessions::new(MemoryStore::new());
    let (_, valid) = sessions.seed([("user", USER)]).await.expect("seed");
    let (_, foreign) = Sessions::new(MemoryStore::new())
        .seed([("user", "mallory")])
        .await
        .expect("seed");
    Target {
        what: "memory",
        server: serve(sessions).await,
        valid,
        foreign,
        other_name: None,
    }
}

async fn cookie_target(signed: bool) -> Target {
    let store = |secret: &[u8]| {
        let key = Key::from_secret(1, secret).expect("a 32-byte secret");
        if signed {
            CookieStore::signed(key)
        } else {
            CookieStore::new(key)
        }
    };
    let sessions = Sessions::new(store(&SECRET));
    let (_, valid) = sessions.seed([("user", USER)]).await.expect("seed");
    let (_, foreign) = Sessions::new(store(&OTHER_SECRET))
        .seed([("user", USER)])
        .await
        .expect("seed");
    let (_, other_name) = Sessions::new(store(&SECRET))
        .cookie_name("sid")
        .seed([("user", USER)])
        .await
        .expect("seed");
    Target {
        what: if signed { "cookie (signed)" } else { "cookie" },
        server: serve(sessions).await,
        valid,
        foreign,
        other_name: Some(other_name),
    }
}

async fn redis_store(redis: &RedisServer, prefix: &str) -> RedisStore {
    let client = redis::Client::open(redis.url()).expect("redis url");
    within(
        "connect to redis",
        RedisStore::builder(client)
            .key_prefix(prefix)
            .timeout(Duration::from_secs(2))
            .connect(),
    )
    .await
    .expect("connect to the test redis-server")
}

async fn redis_target(redis: &RedisServer) -> Target {
    let sessions = Sessions::new(redis_store(redis, "session:").await);
    let (_, valid) = sessions.seed([("user", USER)]).await.expect("seed");
    let (_, foreign) = Sessions::new(redis_store(redis, "elsewhere:").await)
        .seed([("user", "mallory")])
        .await
        .expect("seed");
    Target {
        what: "redis",
        server: serve(sessions).await,
        valid,
        foreign,
        other_name: None,
    }
}

/// What the application must see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A fresh, empty session.
    Fresh,
    /// The seeded session.
    Valid,
    /// Refused by the HTTP layer before the application (hyper's 400 for
    /// bytes RFC 9110 forbids in a field value).
    Refused(u16),
    /// A fresh session, or 431 if the head is over the server's limit.
    FreshOr431,
}

/// One hostile request: its `Cookie` field lines.
struct Case {
    what: String,
    lines: Vec<Vec<u8>>,
    expect: Expect,
}

fn case(what: impl Into<String>, lines: Vec<Vec<u8>>, expect: Expect) -> Case {
    Case {
        what: what.into(),
        lines,
        expect,
    }
}

fn line(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `value` in the standard base64 alphabet, with padding.
fn standard_padded(value: &str) -> String {
    let mut s: String = value
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while s.len() % 4 != 0 {
        s.push('=');
    }
    s
}

fn percent_encode_all(value: &str) -> String {
    value.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn cases(t: &Target) -> Vec<Case> {
    use Expect::{Fresh, FreshOr431, Refused, Valid};
    let v = t.valid.as_bytes();
    let mut cases = vec![
        case(
            "the valid cookie (control)",
            vec![line(&[b"session=", v])],
            Valid,
        ),
        case(
            "obs-text bytes as the value",
            vec![b"session=\xff\xfe\x80\xc3\xa9abc".to_vec()],
            Fresh,
        ),
        case(
            "invalid UTF-8 after the valid value",
            vec![line(&[b"session=", v, b"\xff"])],
            Fresh,
        ),
        case(
            "a sibling cookie with UTF-8 on the same line as the valid one",
            vec![line(&[b"pref=caf\xc3\xa9; session=", v, b"; theme=\xff"])],
            Valid,
        ),
        case(
            "a sibling cookie with obs-text on a line of its own",
            vec![b"pref=\xff\xfe".to_vec(), line(&[b"session=", v])],
            Valid,
        ),
        case(
            "a tab inside the value",
            vec![line(&[b"session=", &v[..4], b"\t", &v[4..]])],
            Fresh,
        ),
        case(
            "tabs and spaces around the valid value (RFC 6265 trims them)",
            vec![line(&[b"session=\t ", v, b" \t"])],
            Valid,
        ),
        case(
            "a control character after the value",
            vec![line(&[b"session=", v, b"\x01"])],
            Refused(400),
        ),
        case(
            "DEL inside the value",
            vec![line(&[b"session=", &v[..3], b"\x7f", &v[3..]])],
            Refused(400),
        ),
        case("an empty value", vec![b"session=".to_vec()], Fresh),
        case("the name without '='", vec![b"session".to_vec()], Fresh),
        case(
            "the valid value quoted",
            vec![line(&[b"session=\"", v, b"\""])],
            Valid,
        ),
        case(
            "a quoted junk value",
            vec![b"session=\"AAAAAAAAAAAAAAAAAAAAAA\"".to_vec()],
            Fresh,
        ),
        case(
            "the name repeated 50 times with junk",
            vec![b"session=x; ".repeat(50)],
            Fresh,
        ),
        case(
            "the valid cookie, then the name 49 more times",
            vec![line(&[
                b"session=",
                v,
                b"; ",
                &b"session=AAAA; ".repeat(49),
            ])],
            Valid,
        ),
        case(
            "50 junk values of the name before the valid one",
            vec![line(&[&b"session=x; ".repeat(50), b"session=", v])],
            Valid,
        ),
        case(
            "junk of the name before the valid one",
            vec![line(&[b"session=junk; session=; session=", v])],
            Valid,
        ),
        case(
            "100 Cookie lines, the valid one last",
            (0..99)
                .map(|i| format!("c{i}=v{i}").into_bytes())
                .chain([line(&[b"session=", v])])
                .collect(),
            Valid,
        ),
        case(
            "100 Cookie lines of junk of the name",
            (0..100)
                .map(|i| format!("session=junk{i}").into_bytes())
                .collect(),
            Fresh,
        ),
        case(
            "an 8 KiB value",
            vec![line(&[b"session=", &b"A".repeat(8 * 1024)])],
            Fresh,
        ),
        case(
            "a 60 KiB value",
            vec![line(&[b"session=", &b"A".repeat(60 * 1024)])],
            FreshOr431,
        ),
        case(
            "the valid value under another name",
            vec![line(&[b"other=", v])],
            Fresh,
        ),
        case(
            "the valid value under a longer name",
            vec![line(&[b"xsession=", v, b"; session_=", v])],
            Fresh,
        ),
        case(
            "the valid value under the name in capitals",
            vec![line(&[b"SESSION=", v])],
            Fresh,
        ),
        case(
            "the valid value with trailing garbage",
            vec![line(&[b"session=", v, b"garbage"])],
            Fresh,
        ),
        case(
            "the valid value with a trailing '='",
            vec![line(&[b"session=", v, b"="])],
            Fresh,
        ),
        case(
            "the valid value truncated by one",
            vec![line(&[b"session=", &v[..v.len() - 1]])],
            Fresh,
        ),
        case(
            "another Sessions' cookie",
            vec![format!("session={}", t.foreign).into_bytes()],
            Fresh,
        ),
        case(
            "the valid value percent-encoded",
            vec![format!("session={}", percent_encode_all(&t.valid)).into_bytes()],
            Fresh,
        ),
        case(
            "the valid value with its first character percent-encoded",
            vec![
                format!(
                    "session={}{}",
                    percent_encode_all(&t.valid[..1]),
                    &t.valid[1..]
                )
                .into_bytes(),
            ],
            Fresh,
        ),
        case("only semicolons", vec![b";;;;".to_vec()], Fresh),
        case("an empty Cookie field", vec![Vec::new()], Fresh),
        case(
            "'=' and semicolons only",
            vec![b"=; =session; ==; ;=;".to_vec()],
            Fresh,
        ),
    ];
    // The standard alphabet with padding is another spelling only when
    // the value has '-' or '_', or a length that takes padding; otherwise
    // it is the valid value itself.
    let padded = standard_padded(&t.valid);
    if padded != t.valid {
        cases.push(case(
            "the valid value in standard base64 with padding",
            vec![format!("session={padded}").into_bytes()],
            Fresh,
        ));
    }
    // The standard alphabet alone differs only when the value has '-' or '_'.
    let standard: String = standard_padded(&t.valid).trim_end_matches('=').to_owned();
    if standard != t.valid {
        cases.push(case(
            "the valid value in standard base64 without padding",
            vec![format!("session={standard}").into_bytes()],
            Fresh,
        ));
    }
    if let Some(other) = &t.other_name {
        cases.push(case(
            "a value sealed under our key for another cookie name",
            vec![format!("session={other}").into_bytes()],
            Fresh,
        ));
    }
    cases
}

/// How a request is written to the socket.
#[derive(Clone, Copy, Debug)]
enum Write {
    Whole,
    Pieces,
}

/// A raw HTTP/1.1 response, read until the server closed.
struct Answer {
    status: u16,
    set_cookies: Vec<String>,
    body: String,
}

fn http1_request(path: &str, lines: &[Vec<u8>]) -> Vec<u8> {
    let mut req =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n").into_bytes();
    for l in lines {
        req.extend_from_slice(b"Cookie: ");
        req.extend_from_slice(l);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req
}

/// Sends `request` on a new connection, written `how`, and reads the
/// response until the server closes (every wait bounded).
async fn http1(addr: SocketAddr, request: &[u8], how: Write) -> Answer {
    let mut stream = within("connect", tokio::net::TcpStream::connect(addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    // The server may answer (431) and close before the whole request is
    // written: a failed write is then fine, the answer is read below.
    let _ = within("write the request", async {
        match how {
            Write::Whole => stream.write_all(request).await,
            Write::Pieces => {
                // Byte by byte for short requests, 1 KiB pieces for long
                // ones; a small pause now and then so they arrive apart.
                let piece = if request.len() <= 4096 { 1 } else { 1024 };
                for (i, chunk) in request.chunks(piece).enumerate() {
                    stream.write_all(chunk).await?;
                    stream.flush().await?;
                    if i % 32 == 31 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
                Ok(())
            }
        }
    })
    .await;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match within("the server to answer and close", stream.read(&mut buf)).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    let (head, body) = split_head(&raw);
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let set_cookies = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    Answer {
        status,
        set_cookies,
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

/// The session cookie's value in `set_cookie` (`session=VALUE; …`).
fn session_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("session="))
        .unwrap_or_else(|| panic!("not the session cookie: {set_cookie}"))
}

/// Checks the answer to `/get` (`write == false`) or `/set/…`.
fn check(t: &Target, case: &Case, how: &str, answer: &Answer, write: bool) {
    let ctx = format!("{} / {} / {how}", t.what, case.what);
    let expect = match case.expect {
        Expect::FreshOr431 if answer.status == 431 => Expect::Refused(431),
        Expect::FreshOr431 => Expect::Fresh,
        e => e,
    };
    match expect {
        Expect::Refused(status) => {
            assert_eq!(answer.status, status, "{ctx}: {}", answer.body);
            assert!(
                answer.set_cookies.is_empty(),
                "{ctx}: {:?}",
                answer.set_cookies
            );
        }
        Expect::Valid => {
            assert_eq!(answer.status, 200, "{ctx}: {}", answer.body);
            assert_eq!(answer.body, USER, "{ctx}: the seeded session");
            assert!(
                answer.set_cookies.is_empty(),
                "{ctx}: a read sets no cookie: {:?}",
                answer.set_cookies
            );
        }
        Expect::Fresh if write => {
            assert_eq!(answer.status, 200, "{ctx}: {}", answer.body);
            assert_eq!(answer.body, "ok", "{ctx}");
            assert_eq!(
                answer.set_cookies.len(),
                1,
                "{ctx}: {:?}",
                answer.set_cookies
            );
            let value = session_value(&answer.set_cookies[0]);
            assert!(!value.is_empty(), "{ctx}: a new session's cookie");
            assert_ne!(value, t.valid, "{ctx}: never the seeded session");
            assert_ne!(value, t.foreign, "{ctx}: never a foreign session");
            for l in &case.lines {
                let sent = String::from_utf8_lossy(l);
                assert!(!sent.contains(value), "{ctx}: the client's value came back");
            }
        }
        Expect::Fresh => {
            assert_eq!(answer.status, 200, "{ctx}: {}", answer.body);
            assert_eq!(answer.body, "none", "{ctx}: a fresh, empty session");
            assert!(
                answer.set_cookies.is_empty(),
                "{ctx}: no write, no cookie: {:?}",
                answer.set_cookies
            );
        }
        Expect::FreshOr431 => unreachable!("resolved above"),
    }
}

/// Every case over HTTP/1.1, written whole and in pieces, read-only and
/// writing (the writing request only where the session must be fresh, so
/// the seeded one stays as it is), then the same over HTTP/2.
async fn attack(t: &Target) {
    let addr = t.server.addr;
    for case in cases(t) {
        let fresh = matches!(case.expect, Expect::Fresh | Expect::FreshOr431);
        for how in [Write::Whole, Write::Pieces] {
            let answer = http1(addr, &http1_request("/get", &case.lines), how).await;
            check(t, &case, &format!("HTTP/1.1 {how:?} read"), &answer, false);
            if fresh {
                let request = http1_request("/set/someone-new", &case.lines);
                let answer = http1(addr, &request, how).await;
                check(t, &case, &format!("HTTP/1.1 {how:?} write"), &answer, true);
            }
        }
    }

    // HTTP/2: every line its own `cookie` field, as browsers send them.
    let mut client = t.server.client(Proto::Http2).await;
    for case in cases(t) {
        let size: usize = case.lines.iter().map(Vec::len).sum();
        let Ok(values) = case
            .lines
            .iter()
            .map(|l| HeaderValue::from_bytes(l))
            .collect::<Result<Vec<_>, _>>()
        else {
            continue; // bytes an HTTP/2 client cannot send as a field
        };
        if size > 12 * 1024 {
            continue; // over HTTP/2's default header list size
        }
        let paths: &[&str] = if case.expect == Expect::Valid {
            &["/get"]
        } else {
            &["/get", "/set/someone-new"]
        };
        for path in paths {
            let mut req = client.request(Method::GET, path, empty());
            for v in &values {
                req.headers_mut().append(COOKIE, v.clone());
            }
            let res = within("an HTTP/2 answer", client.try_send(req))
                .await
                .unwrap_or_else(|e| panic!("{} / {} / HTTP/2: {e}", t.what, case.what));
            let (parts, body) = res.into_parts();
            let body = read_body(body).await;
            let answer = Answer {
                status: parts.status.as_u16(),
                set_cookies: parts
                    .headers
                    .get_all(SET_COOKIE)
                    .iter()
                    .map(|v| v.to_str().expect("ASCII Set-Cookie").to_owned())
                    .collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            check(t, &case, "HTTP/2", &answer, *path != "/get");
        }
    }
    drop(client);

    // After all that, the seeded session is untouched.
    let answer = http1(
        addr,
        &http1_request("/get", &[format!("session={}", t.valid).into_bytes()]),
        Write::Whole,
    )
    .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, USER),
        "{}",
        t.what
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cookies_memory_store() {
    let t = memory_target().await;
    attack(&t).await;
    t.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cookies_cookie_store() {
    for signed in [false, true] {
        let t = cookie_target(signed).await;
        attack(&t).await;
        t.server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_cookies_redis_store() {
    let Some(redis) = RedisServer::start("sessions_hostile: hostile cookies in Redis") else {
        return;
    };
    let t = redis_target(&redis).await;
    attack(&t).await;
    t.server.stop().await;
    // Only the sessions the writing requests made, each under our prefix.
    let keys = redis.command(&["KEYS", "*"]);
    assert!(
        keys.lines()
            .all(|k| k.starts_with("session:") || k.starts_with("elsewhere:")),
        "{keys}"
    );
}

/// Logs in with `/set/V`, logs out, and replays the old cookie: the old
/// data never comes back and the replay sets no cookie.
async fn replay_after_logout(server: &TestServer, what: &str) {
    let addr = server.addr;
    let answer = http1(addr, &http1_request("/set/grace-hopper", &[]), Write::Whole).await;
    assert_eq!(answer.status, 200, "{what}");
    let cookie = session_value(&answer.set_cookies[0]).to_owned();
    let with_cookie = || vec![format!("session={cookie}").into_bytes()];
    let answer = http1(addr, &http1_request("/get", &with_cookie()), Write::Whole).await;
    assert_eq!(answer.body, "grace-hopper", "{what}: logged in");
    let answer = http1(
        addr,
        &http1_request("/logout", &with_cookie()),
        Write::Whole,
    )
    .await;
    assert_eq!(answer.status, 200, "{what}");
    assert_eq!(answer.set_cookies.len(), 1, "{what}: the removal cookie");
    assert!(
        answer.set_cookies[0].starts_with("session=;")
            && answer.set_cookies[0].contains("Max-Age=0"),
        "{what}: {:?}",
        answer.set_cookies
    );
    for how in [Write::Whole, Write::Pieces] {
        let answer = http1(addr, &http1_request("/get", &with_cookie()), how).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "none"),
            "{what}: the replayed cookie after logout"
        );
        assert!(
            answer.set_cookies.is_empty(),
            "{what}: {:?}",
            answer.set_cookies
        );
        // A write under the replayed cookie starts a new session, never
        // the old id.
        let answer = http1(addr, &http1_request("/set/x", &with_cookie()), how).await;
        assert_eq!(answer.status, 200, "{what}");
        assert_ne!(session_value(&answer.set_cookies[0]), cookie, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_replayed_after_logout_loads_nothing() {
    let server = serve(Sessions::new(MemoryStore::new())).await;
    replay_after_logout(&server, "memory").await;
    server.stop().await;
    let Some(redis) = RedisServer::start("sessions_hostile: replay after logout in Redis") else {
        return;
    };
    let server = serve(Sessions::new(redis_store(&redis, "session:").await)).await;
    replay_after_logout(&server, "redis").await;
    server.stop().await;
}

/// A cookie-store cookie carries its expiry inside the authenticated
/// payload: replayed after it, it is refused — by this server, and by a
/// server with a longer timeout and the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_store_cookie_replayed_after_its_expiry_is_refused() {
    let store = || CookieStore::new(Key::from_secret(1, &SECRET).expect("key"));
    let short = serve(Sessions::new(store()).idle_timeout(Duration::from_secs(1))).await;
    let long = serve(Sessions::new(store()).idle_timeout(Duration::from_secs(3600))).await;
    let issued = SystemTime::now();
    let answer = http1(
        short.addr,
        &http1_request("/set/short-lived", &[]),
        Write::Whole,
    )
    .await;
    let short_cookie = session_value(&answer.set_cookies[0]).to_owned();
    let answer = http1(
        long.addr,
        &http1_request("/set/long-lived", &[]),
        Write::Whole,
    )
    .await;
    let long_cookie = session_value(&answer.set_cookies[0]).to_owned();
    let lines = |c: &str| vec![format!("session={c}").into_bytes()];

    // Control: the servers accept each other's cookies (same key, same
    // name), so only the expiry inside the cookie can refuse it below.
    let answer = http1(
        short.addr,
        &http1_request("/get", &lines(&long_cookie)),
        Write::Whole,
    )
    .await;
    assert_eq!(answer.body, "long-lived");

    // Past the short cookie's expiry (waiting, not timing anything).
    let past = issued + Duration::from_millis(1500);
    while SystemTime::now() < past {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for server in [&short, &long] {
        for how in [Write::Whole, Write::Pieces] {
            let answer = http1(
                server.addr,
                &http1_request("/get", &lines(&short_cookie)),
                how,
            )
            .await;
            assert_eq!((answer.status, answer.body.as_str()), (200, "none"));
            assert!(answer.set_cookies.is_empty(), "{:?}", answer.set_cookies);
        }
    }
    let answer = http1(
        long.addr,
        &http1_request("/get", &lines(&long_cookie)),
        Write::Whole,
    )
    .await;
    assert_eq!(answer.body, "long-lived", "the long one still loads");
    short.stop().await;
    long.stop().await;
}
