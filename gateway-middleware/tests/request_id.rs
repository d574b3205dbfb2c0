//! `RequestId` through `TestClient`: which incoming ids are kept, the
//! generated ones, the response header (also on error pages), the
//! `tracing` span, and the order with `ProxyHeaders` and `AccessLog`.

#[path = "support/capture.rs"]
mod capture;

use gateway_core::test_client::TestClient;
use gateway_core::{
    Addr, Application, ApplicationExt, ConnInfo, Environ, Error, Response, fn_app, start,
};
use gateway_middleware::access_log::{Format, MemoryLog};
use gateway_middleware::{AccessLog, ProxyHeaders, RequestId};
use http::HeaderName;

fn conn(peer: &str) -> ConnInfo {
    ConnInfo::new(Addr::Tcp(peer.parse().unwrap()), Addr::None)
}

/// Answers with the id it sees, as `RequestId::of` gives it.
fn echo() -> impl Application {
    fn_app(|env: Environ| async move {
        let id = RequestId::of(&env).unwrap_or("none").to_owned();
        start(200, [("content-type", "text/plain")]).body(id)
    })
}

fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[tokio::test]
async fn a_trusted_proxys_valid_id_is_kept_and_echoed() {
    let app = echo().with(RequestId::new().trusted_proxies(["10.0.0.0/8"]));
    let client = TestClient::new(app).with_conn(conn("10.1.2.3:4000"));
    let id = "Abc-123_x.y:z";
    let res = client.get("/").header("x-request-id", id).send().await;
    assert_eq!(res.text(), id);
    assert_eq!(res.header("x-request-id"), Some(id));
    let longest = "a".repeat(128);
    let res = client
        .get("/")
        .header("x-request-id", longest.as_str())
        .send()
        .await;
    assert_eq!(res.text(), longest);
}

#[tokio::test]
async fn an_untrusted_peers_id_is_replaced() {
    let app = echo().with(RequestId::new().trusted_proxies(["10.0.0.0/8"]));
    let client = TestClient::new(app).with_conn(conn("192.0.2.1:4000"));
    let res = client
        .get("/")
        .header("x-request-id", "forged")
        .send()
        .await;
    assert!(is_generated(&res.text()), "{}", res.text());
    assert_eq!(res.header("x-request-id"), Some(res.text().as_str()));
}

#[tokio::test]
async fn ids_outside_the_allowlist_are_replaced() {
    let app = echo().with(RequestId::new().trusted_proxies(["10.0.0.0/8"]));
    let client = TestClient::new(app).with_conn(conn("10.1.2.3:4000"));
    let long = "a".repeat(129);
    for bad in ["a b", "a\"b", "a\\b", "a/b", "a,b", "", long.as_str()] {
        let res = client.get("/").header("x-request-id", bad).send().await;
        assert!(is_generated(&res.text()), "{bad:?} gave {}", res.text());
    }
    let res = client
        .get("/")
        .header("x-request-id", b"caf\xc3\xa9".as_slice())
        .send()
        .await;
    assert!(is_generated(&res.text()));
    // Two field lines, each valid: which one would be the proxy's?
    let res = client
        .get("/")
        .header("x-request-id", "one")
        .header("x-request-id", "two")
        .send()
        .await;
    assert!(is_generated(&res.text()), "{}", res.text());
}

#[tokio::test]
async fn generated_ids_differ_from_request_to_request() {
    let client = TestClient::new(echo().with(RequestId::new()));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let res = client.get("/").send().await;
        let id = res.text();
        assert!(is_generated(&id));
        assert!(seen.insert(id), "an id came twice");
    }
}

#[tokio::test]
async fn behind_proxy_headers_the_socket_peer_decides() {
    // nginx at 127.0.0.1 forwards a client at 203.0.113.7.
    let trusting_nginx = echo()
        .with(RequestId::new().trusted_proxies(["127.0.0.1"]))
        .with(ProxyHeaders::new().trusted_proxies(["127.0.0.1"]));
    let res = TestClient::new(trusting_nginx)
        .with_conn(conn("127.0.0.1:5000"))
        .get("/")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-request-id", "from-nginx")
        .send()
        .await;
    assert_eq!(res.text(), "from-nginx");

    // Trusting the *client's* address must not let the client set the id
    // through nginx: the socket peer (nginx) is not in RequestId's list.
    let trusting_client = echo()
        .with(RequestId::new().trusted_proxies(["203.0.113.7"]))
        .with(ProxyHeaders::new().trusted_proxies(["127.0.0.1"]));
    let res = TestClient::new(trusting_client)
        .with_conn(conn("127.0.0.1:5000"))
        .get("/")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-request-id", "from-client")
        .send()
        .await;
    assert!(is_generated(&res.text()), "{}", res.text());
}

#[tokio::test]
async fn unix_peers_are_trusted_only_when_configured() {
    let unix = ConnInfo::new(Addr::Unix(None), Addr::None);
    let res = TestClient::new(echo().with(RequestId::new()))
        .with_conn(unix)
        .get("/")
        .header("x-request-id", "abc")
        .send()
        .await;
    assert!(is_generated(&res.text()));
    let res = TestClient::new(echo().with(RequestId::new().trust_unix_peers(true)))
        .with_conn(unix)
        .get("/")
        .header("x-request-id", "abc")
        .send()
        .await;
    assert_eq!(res.text(), "abc");
}

#[tokio::test]
async fn the_header_name_is_configurable() {
    let app = echo().with(
        RequestId::new()
            .header(HeaderName::from_static("x-correlation-id"))
            .trusted_proxies(["10.0.0.1"]),
    );
    let client = TestClient::new(app).with_conn(conn("10.0.0.1:1"));
    let res = client
        .get("/")
        .header("x-correlation-id", "c-1")
        .header("x-request-id", "r-1")
        .send()
        .await;
    assert_eq!(res.text(), "c-1");
    assert_eq!(res.header("x-correlation-id"), Some("c-1"));
    assert_eq!(res.header("x-request-id"), None);
}

#[tokio::test]
async fn error_pages_carry_the_id() {
    let failing = fn_app(|_| async { Err::<Response, _>(Error::new("db down")) })
        .with(RequestId::new().trusted_proxies(["10.0.0.1"]));
    let res = TestClient::new(failing)
        .with_conn(conn("10.0.0.1:1"))
        .get("/")
        .header("x-request-id", "e-1")
        .send()
        .await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.header("x-request-id"), Some("e-1"));

    // A panic unwinds through RequestId; an AccessLog inside renders the
    // page where RequestId sees it.
    let panicking = fn_app(|env: Environ| async move {
        if env.path() == "/panic" {
            panic!("boom");
        }
        start(200, [("content-type", "text/plain")]).body("ok")
    })
    .with(
        AccessLog::new()
            .format(Format::Json)
            .to_writer(MemoryLog::new()),
    )
    .with(RequestId::new().trusted_proxies(["10.0.0.1"]));
    let res = TestClient::new(panicking)
        .with_conn(conn("10.0.0.1:1"))
        .get("/panic")
        .header("x-request-id", "p-1")
        .send()
        .await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.header("x-request-id"), Some("p-1"));
}

#[tokio::test]
async fn the_application_runs_in_a_span_with_the_id() {
    let capture = capture::Capture::default();
    let _guard = capture.install();
    let app = fn_app(|_| async {
        tracing::info!("inside the application");
        start(200, [("content-type", "text/plain")]).body("ok")
    })
    .with(RequestId::new().trusted_proxies(["10.0.0.1"]));
    TestClient::new(app)
        .with_conn(conn("10.0.0.1:1"))
        .get("/")
        .header("x-request-id", "span-1")
        .send()
        .await;
    capture.assert_logged("span request request_id=span-1");
    capture.assert_logged("inside the application");
}

#[tokio::test]
async fn the_access_log_line_has_the_id() {
    let lines = MemoryLog::new();
    let log = AccessLog::new()
        .format(Format::Common)
        .to_writer(lines.clone());
    let app = echo()
        .with(log.clone())
        .with(RequestId::new().trusted_proxies(["10.0.0.1"]));
    let client = TestClient::new(app).with_conn(conn("10.0.0.1:1"));
    client.get("/").header("x-request-id", "log-1").send().await;
    let generated = client.get("/").send().await.text();
    log.flush();
    let lines = lines.lines();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].ends_with(" log-1 completed"), "{}", lines[0]);
    assert!(
        lines[1].ends_with(&format!(" {generated} completed")),
        "{}",
        lines[1]
    );
}
