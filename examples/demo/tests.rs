//! The demo in process: its command line, and its site through
//! `TestClient` (the pages under a forwarded prefix, who is trusted, the
//! login journey). The same program over real sockets, two instances
//! behind nginx, is tested in `tests/deploy.rs`.

use gateway_core::test_client::{TestClient, TestRequest};
use gateway_core::{Addr, Application, ConnInfo};
use gateway_hyper::ServerStats;
use gateway_middleware::auth::AuthKey;
use gateway_middleware::sessions::{MemoryStore, Sessions};

use super::{Command, Options, app};

fn parse(args: &[&str]) -> Result<Options, String> {
    match Command::parse(args.iter().map(|a| (*a).to_owned()))? {
        Command::Serve(options) => Ok(*options),
        Command::Help => Err("help".to_owned()),
    }
}

#[test]
fn defaults() {
    let options = parse(&[]).unwrap();
    assert!(options.listen.is_empty() && options.unix.is_empty());
    assert_eq!(options.redis, None);
    assert_eq!(options.name, "demo");
    assert!(options.static_dir.join("site.css").is_file());
    // Unix peers are trusted, TCP peers are not.
    assert!(options.proxy.is_trusted(&Addr::Unix(None)));
    let loopback = Addr::Tcp("127.0.0.1:5000".parse().unwrap());
    assert!(!options.proxy.is_trusted(&loopback));
}

#[test]
fn every_option() {
    let options = parse(&[
        "--listen",
        "127.0.0.1:0",
        "--listen=[::1]:8001",
        "--unix",
        "/tmp/a.sock",
        "--redis",
        "redis://127.0.0.1:6379/",
        "--name=a",
        "--static-dir",
        "/srv/static",
        "--trust-proxy",
        "127.0.0.1, 10.0.0.0/8",
        "--trust-proxy=::1",
    ])
    .unwrap();
    assert_eq!(options.listen.len(), 2);
    assert_eq!(options.listen[1].to_string(), "[::1]:8001");
    assert_eq!(options.unix, [std::path::PathBuf::from("/tmp/a.sock")]);
    assert_eq!(options.redis.as_deref(), Some("redis://127.0.0.1:6379/"));
    assert_eq!(options.name, "a");
    assert_eq!(options.static_dir, std::path::Path::new("/srv/static"));
    for trusted in ["127.0.0.1:1", "10.9.8.7:1", "[::1]:1"] {
        let peer = Addr::Tcp(trusted.parse().unwrap());
        assert!(options.proxy.is_trusted(&peer), "{trusted}");
    }
    let other = Addr::Tcp("192.0.2.1:1".parse().unwrap());
    assert!(!options.proxy.is_trusted(&other));
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    for (args, expected) in [
        (&["--listen", "localhost"][..], "--listen"),
        (&["--listen"][..], "needs a value"),
        (&["--name", "a b"][..], "--name"),
        (&["--name", ""][..], "--name"),
        (&["--trust-proxy", "localhost"][..], "--trust-proxy"),
        (&["--redis", "http://x"][..], "--redis"),
        (&["--bogus"][..], "unknown argument"),
        (&["serve"][..], "unknown argument"),
    ] {
        let error = parse(args).expect_err(&format!("{args:?}"));
        assert!(error.contains(expected), "{args:?}: {error}");
    }
    assert_eq!(parse(&["--name", "a", "--help"]).unwrap_err(), "help");
}

fn demo() -> TestClient<impl Application> {
    let options = Options::default();
    let sessions = Sessions::new(MemoryStore::new());
    TestClient::new(app(
        &options,
        sessions,
        AuthKey::generate(),
        &ServerStats::default(),
    ))
}

/// The value of `key: ` in a `/whoami` answer.
fn field(text: &str, key: &str) -> String {
    let prefix = format!("{key}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} in {text:?}"))
        .to_owned()
}

/// `req` as a browser sends it (`Accept: text/html`).
fn html<A: Application>(req: TestRequest<'_, A>) -> TestRequest<'_, A> {
    req.header("accept", "text/html")
}

const FORGED: [(&str, &str); 5] = [
    ("x-forwarded-for", "203.0.113.7"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "example.com"),
    ("x-forwarded-port", "8443"),
    ("x-forwarded-prefix", "/app"),
];

#[tokio::test]
async fn forwarded_headers_only_from_a_unix_peer() {
    // A TCP peer (not trusted by default): the headers change nothing.
    let tcp = ConnInfo::new(Addr::Tcp("127.0.0.1:40000".parse().unwrap()), Addr::None);
    let client = demo().with_conn(tcp);
    let mut req = client.get("/whoami");
    for (name, value) in FORGED {
        req = req.header(name, value);
    }
    let text = req.send().await.text();
    assert_eq!(field(&text, "client"), "127.0.0.1");
    assert_eq!(field(&text, "scheme"), "http");
    assert_eq!(field(&text, "script_name"), "");

    // The same from nginx on the Unix socket: believed.
    let client = demo().with_conn(ConnInfo::new(Addr::Unix(None), Addr::None));
    let mut req = client.get("/whoami");
    for (name, value) in FORGED {
        req = req.header(name, value);
    }
    let text = req.send().await.text();
    assert_eq!(field(&text, "client"), "203.0.113.7");
    assert_eq!(field(&text, "scheme"), "https");
    assert_eq!(field(&text, "host"), "example.com:8443");
    assert_eq!(field(&text, "script_name"), "/app");
    assert_eq!(field(&text, "url"), "https://example.com:8443/app/whoami");
}

#[tokio::test]
async fn links_and_redirects_under_a_forwarded_prefix() {
    let client = demo().with_conn(ConnInfo::new(Addr::Unix(None), Addr::None));
    let prefixed = |path: &str| {
        client
            .get(path)
            .header("x-forwarded-prefix", "/app")
            .header("accept", "text/html")
    };
    let res = prefixed("/private?x=1").send().await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.header("location"),
        Some("/app/login?next=/app/private%3Fx%3D1")
    );
    let page = prefixed("/").send().await.text();
    for link in [
        "href=\"/app/static/site.css\"",
        "href=\"/app/login\"",
        "href=\"/app/whoami\"",
        "href=\"/app/api/\"",
    ] {
        assert!(page.contains(link), "{link} in {page}");
    }
    let form = prefixed("/login").send().await.text();
    assert!(form.contains("action=\"/app/login\""), "{form}");
}

/// The `csrf_token` of a page's form.
fn token(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let at = page.find(marker).expect("a form with a csrf_token") + marker.len();
    let end = page[at..].find('"').expect("end of the token") + at;
    page[at..end].to_owned()
}

#[tokio::test]
async fn login_note_and_logout() {
    let client = demo();

    // Anonymous: the API client gets 401, the counter counts.
    assert_eq!(client.get("/private").send().await.status(), 401);
    assert!(client.get("/").send().await.text().contains("Visit 1 "));
    assert!(client.get("/").send().await.text().contains("Visit 2 "));

    let form = html(client.get("/login?next=%2Fwhoami"))
        .send()
        .await
        .text();
    let csrf = token(&form);
    // A wrong password: 401 and the form again; no token: 403.
    let res = html(client.post("/login"))
        .form(&[("user", "ada"), ("password", "nope"), ("csrf_token", &csrf)])
        .send()
        .await;
    assert_eq!(res.status(), 401);
    let res = html(client.post("/login"))
        .form(&[("user", "ada"), ("password", "lovelace")])
        .send()
        .await;
    assert_eq!(res.status(), 403);
    let res = html(client.post("/login"))
        .form(&[
            ("user", "ada"),
            ("password", "lovelace"),
            ("next", "/whoami"),
            ("csrf_token", &csrf),
        ])
        .send()
        .await;
    assert_eq!(res.status(), 303, "{}", res.text());
    assert_eq!(res.header("location"), Some("/whoami"));
    assert_eq!(
        field(&client.get("/whoami").send().await.text(), "user"),
        "ada"
    );

    // The private page keeps a note (CSRF-checked), escaped on the page.
    let page = html(client.get("/private")).send().await.text();
    let csrf = token(&page);
    let res = html(client.post("/private"))
        .form(&[("note", "<milk>"), ("csrf_token", &csrf)])
        .send()
        .await;
    assert_eq!(res.status(), 303);
    let page = html(client.get("/private")).send().await.text();
    assert!(page.contains("<q>&lt;milk&gt;</q>"), "{page}");
    assert!(page.contains("Hello, <b>ada</b>"), "{page}");

    let res = html(client.post("/logout"))
        .form(&[("csrf_token", &token(&page))])
        .send()
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.header("location"), Some("/"));
    assert_eq!(
        field(&client.get("/whoami").send().await.text(), "user"),
        "-"
    );
    assert_eq!(client.get("/private").send().await.status(), 401);
}

#[tokio::test]
async fn methods_and_unknown_pages() {
    let client = demo();
    // An unsafe method without a CSRF token is refused before routing.
    assert_eq!(client.delete("/whoami").send().await.status(), 403);
    let res = client
        .request(http::Method::OPTIONS, "/whoami")
        .send()
        .await;
    assert_eq!(res.status(), 405);
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
    assert_eq!(client.get("/logout").send().await.status(), 405);
    assert_eq!(client.get("/nowhere").send().await.status(), 404);
    assert_eq!(client.get("/static/nowhere.css").send().await.status(), 404);
    let res = client.head("/whoami").send().await;
    assert_eq!(res.status(), 200);
    assert!(res.bytes().is_empty());
}

/// The example key of RFC 6455 §1.3.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A masked client text frame (RFC 6455 §5.2) with a zero mask.
fn text_frame(text: &str) -> Vec<u8> {
    let len = u8::try_from(text.len()).expect("a short message");
    assert!(len < 126);
    let mut frame = vec![0x81, 0x80 | len, 0, 0, 0, 0];
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// A WebSocket handshake for `/ws` on `host` from a page of `origin`.
fn ws_handshake<'c, A: Application>(
    client: &'c TestClient<A>,
    host: &str,
    origin: &str,
) -> TestRequest<'c, A> {
    client
        .get("/ws")
        .header("host", host)
        .header("origin", origin)
        .header("sec-websocket-key", WS_KEY)
        .header("sec-websocket-version", "13")
}

#[tokio::test]
async fn the_socket_echoes_with_the_instance_name_and_says_bye() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let client = demo();
    let (res, mut conn) = ws_handshake(&client, "localhost:8000", "http://localhost:8000")
        .upgrade("websocket")
        .await
        .expect("the socket opens");
    assert_eq!(res.status(), 101);
    conn.write_all(&text_frame("hi")).await.unwrap();
    // Unmasked server frames: 0x81 (text, final), the length, the payload.
    let mut reply = [0u8; 2 + 8];
    conn.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"\x81\x08demo: hi");
    conn.write_all(&text_frame("bye")).await.unwrap();
    let mut close = [0u8; 2 + 2 + 3];
    conn.read_exact(&mut close).await.unwrap();
    assert_eq!(&close, b"\x88\x05\x03\xe8bye", "close 1000 \"bye\"");

    // Counted under its own route label.
    let metrics = client.get("/metrics").send().await.text();
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",status="1xx",route="/ws"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_socket_takes_only_its_own_origin() {
    let client = demo();
    for origin in [
        "https://evil.example",
        "null",
        // Same host, another scheme or port: another origin.
        "https://localhost:8000",
        "http://localhost:8001",
    ] {
        let res = ws_handshake(&client, "localhost:8000", origin)
            .upgrade("websocket")
            .await
            .expect_err(origin);
        assert_eq!(res.status(), 403, "{origin}");
    }
    // A client that is not a browser sends no `Origin`: let in.
    let (res, _conn) = client
        .get("/ws")
        .header("host", "localhost:8000")
        .header("sec-websocket-key", WS_KEY)
        .header("sec-websocket-version", "13")
        .upgrade("websocket")
        .await
        .expect("no Origin: the socket opens");
    assert_eq!(res.status(), 101);

    // Behind the proxy (a Unix peer), the origin is the one the browser
    // saw: nginx's scheme, host and port, under any prefix.
    let proxied = demo().with_conn(ConnInfo::new(Addr::Unix(None), Addr::None));
    let (res, _conn) = forwarded(ws_handshake(
        &proxied,
        "localhost",
        "https://example.com:8443",
    ))
    .upgrade("websocket")
    .await
    .expect("the proxy's origin opens the socket");
    assert_eq!(res.status(), 101);
    let res = forwarded(ws_handshake(&proxied, "localhost", "http://localhost"))
        .upgrade("websocket")
        .await
        .expect_err("refused");
    assert_eq!(
        res.status(),
        403,
        "the instance's own name is not the site's"
    );
    // The same headers from a TCP peer, not trusted: the proxy's origin
    // is foreign.
    let tcp = ConnInfo::new(Addr::Tcp("127.0.0.1:40000".parse().unwrap()), Addr::None);
    let direct = demo().with_conn(tcp);
    let res = forwarded(ws_handshake(
        &direct,
        "localhost",
        "https://example.com:8443",
    ))
    .upgrade("websocket")
    .await
    .expect_err("refused");
    assert_eq!(res.status(), 403);
}

/// `req` with the [`FORGED`] proxy headers.
fn forwarded<A: Application>(mut req: TestRequest<'_, A>) -> TestRequest<'_, A> {
    for (name, value) in FORGED {
        req = req.header(name, value);
    }
    req
}

#[tokio::test]
async fn the_socket_refuses_what_is_not_a_handshake() {
    let client = demo();
    // Opened as a page: told to upgrade.
    let res = client.get("/ws").header("host", "localhost").send().await;
    assert_eq!(res.status(), 426);
    assert_eq!(res.header("upgrade"), Some("websocket"));
    // Nothing under `/ws`.
    assert_eq!(client.get("/ws/x").send().await.status(), 404);
    // The index names it, under the forwarded prefix too.
    let proxied = demo().with_conn(ConnInfo::new(Addr::Unix(None), Addr::None));
    let page = proxied
        .get("/")
        .header("x-forwarded-prefix", "/app")
        .send()
        .await
        .text();
    assert!(page.contains("<code>/app/ws</code>"), "{page}");
}
