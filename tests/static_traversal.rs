//! `StaticFiles` against path traversal over real sockets: the corpus of
//! `gateway-middleware/tests/static_traversal.rs`, plus request-targets
//! `http::Uri` refuses (raw spaces, controls, high bytes, no leading
//! slash, absolute form), written as raw HTTP/1.1 bytes to a
//! `gateway_hyper` server. Every answer is 400 or 404 — from `StaticFiles`,
//! or from hyper for what it cannot parse — and never holds the canary
//! planted outside the root; afterwards the server still serves the
//! positive control.

use std::net::SocketAddr;

use gateway_core::{ApplicationExt, fn_app, start};
use gateway_middleware::StaticFiles;
use gateway_tests::{TestServer, exchange, split_head};

#[path = "../gateway-middleware/tests/support/traversal.rs"]
mod traversal;
use traversal::{B_TXT, CANARY, CORPUS, Fixture, assert_safe_redirect};

/// Request-targets only a raw client sends — most are refused by
/// `http::Uri` (so `TestClient` and hyper's client cannot send them) and
/// answered 400 by hyper before any application runs; the others use forms
/// the corpus does not (absolute form, a fragment, a query). Sent as is,
/// and again under the prefix when they start with `/`.
const RAW_ONLY: &[&[u8]] = &[
    b"/a b.txt",
    b"/.. /canary.txt",
    b"/a/b.txt\x00",
    b"/..\x00/canary.txt",
    b"/a\tb",
    b"/a/b.txt\x0b",
    b"/\x7f",
    b"/\x1b[31m",
    b"/\xc0\xae\xc0\xae/canary.txt",
    b"/..\xc0\xafcanary.txt",
    b"/\xff\xfe",
    b"/caf\xc3\xa9/../../canary.txt",
    b"/\xe2\x80\xae/../canary.txt",
    b"/a<b>",
    b"/a`b",
    b"/a^b/../../canary.txt",
    b"/a|b/../../canary.txt",
    b"../canary.txt",
    b"..%2fcanary.txt",
    b"canary.txt",
    b"%2e%2e/canary.txt",
    b"\\..\\canary.txt",
    b"*",
    b"http://127.0.0.1/../canary.txt",
    b"http://127.0.0.1/%2e%2e/canary.txt",
    b"http://127.0.0.1/..%2f..%2fcanary.txt",
    b"http://127.0.0.1//canary.txt",
    b"http://127.0.0.1/escape.txt",
    b"http://../canary.txt",
    b"//../canary.txt",
    b"/%2e%2e/canary.txt#frag",
    b"/../canary.txt?x=1",
];

/// Writes `GET <target> HTTP/1.1` on a new connection and reads until the
/// server closes it (bounded). A reset counts as a close.
async fn get_raw(addr: SocketAddr, target: &[u8]) -> Vec<u8> {
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    exchange(addr, &request).await
}

/// The status of a raw response, failing the test if there is none.
fn status(what: &str, raw: &[u8]) -> u16 {
    let (head, _) = split_head(raw);
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no HTTP/1.1 status line in {head:?}"))
}

/// Asserts the answer to a hostile target is a 400 or 404, or a redirect
/// to a plain path under `prefix`, without the canary anywhere in it.
fn assert_refused(what: &str, prefix: &str, raw: &[u8]) {
    assert!(
        !raw.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
        "{what}: canary leaked: {:?}",
        String::from_utf8_lossy(raw)
    );
    let code = status(what, raw);
    if (300..400).contains(&code) {
        let (head, _) = split_head(raw);
        let location = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("location").then(|| value.trim())
            })
            .unwrap_or_else(|| panic!("{what}: {code} without a Location"));
        assert_safe_redirect(what, prefix, location, "http://127.0.0.1");
        return;
    }
    assert!(
        code == 400 || code == 404,
        "{what}: expected 400 or 404, got {:?}",
        String::from_utf8_lossy(raw)
    );
}

/// Asserts the server serves `target` with the positive control's body.
async fn assert_serves(addr: SocketAddr, target: &str) {
    let raw = get_raw(addr, target.as_bytes()).await;
    let (head, body) = split_head(&raw);
    assert!(head.starts_with("HTTP/1.1 200 "), "{target}: {head:?}");
    assert_eq!(body, B_TXT.as_bytes(), "{target}");
}

/// Runs the corpus (under `prefix`) and the raw-only targets against a
/// server, with the positive control before and after.
async fn run(addr: SocketAddr, prefix: &str) {
    let control = format!("{prefix}/a/b.txt");
    assert_serves(addr, &control).await;
    if cfg!(unix) {
        assert_serves(addr, &format!("{prefix}/inside.txt")).await;
    }
    for path in CORPUS {
        let target = format!("{prefix}{path}");
        let raw = get_raw(addr, target.as_bytes()).await;
        assert_refused(&target, prefix, &raw);
    }
    for target in RAW_ONLY {
        let what = String::from_utf8_lossy(target);
        let raw = get_raw(addr, target).await;
        assert_refused(&what, prefix, &raw);
        // And the same under the prefix, where that is still a path.
        if target.starts_with(b"/") && !prefix.is_empty() {
            let mut prefixed = prefix.as_bytes().to_vec();
            prefixed.extend_from_slice(target);
            let raw = get_raw(addr, &prefixed).await;
            assert_refused(&format!("{prefix}{what}"), prefix, &raw);
        }
    }
    assert_serves(addr, &control).await;
}

#[tokio::test]
async fn over_a_socket_as_application() {
    assert!(CORPUS.len() >= 40);
    let fixture = Fixture::new();
    let server = TestServer::start(StaticFiles::new(fixture.root())).await;
    run(server.addr, "").await;
    server.stop().await;
}

#[tokio::test]
async fn over_a_socket_as_middleware_under_a_prefix() {
    let fixture = Fixture::new();
    let fallback =
        fn_app(|_| async { start(404, [("content-type", "text/plain")]).body("fallback") });
    let app = fallback.with(StaticFiles::new(fixture.root()).prefix("/static"));
    let server = TestServer::start(app).await;
    run(server.addr, "/static").await;
    server.stop().await;
}
