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
