//! The RFC 9112 `Host` and request-target rules.

use super::*;

/// Requests RFC 9112 forbids but hyper parses: each gets 400 from the
/// server, without reaching the application; their valid neighbours
/// (`OPTIONS *`, HTTP/1.0 without `Host`, absolute form) are served.
#[tokio::test]
async fn host_and_target_rules_http1() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_app(calls.clone())).await;

    let bad: [(&str, &str); 8] = [
        ("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n"),
        (
            "two Host fields",
            "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
        ),
        ("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
        ("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n"),
        ("Host with a path", "GET / HTTP/1.1\r\nHost: h/path\r\n\r\n"),
        ("asterisk-form GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
        (
            "authority-form GET",
            "GET h.test:80 HTTP/1.1\r\nHost: h.test:80\r\n\r\n",
        ),
        (
            "origin-form CONNECT",
            "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n",
        ),
    ];
    for (what, request) in bad {
        let (head, _) = tcp_exchange(server.addr, request.as_bytes()).await;
        assert!(
            head.starts_with("HTTP/1.1 400 "),
            "{what}: expected 400, got {head:?}"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a bad request reached the app"
    );

    let good: [(&str, &str); 4] = [
        ("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("origin form", "GET /x HTTP/1.1\r\nHost: h.test:80\r\n\r\n"),
        (
            "absolute form",
            "GET http://h.test/x HTTP/1.1\r\nHost: h.test\r\n\r\n",
        ),
        ("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"),
    ];
    for (what, request) in good {
        let (head, body) = tcp_exchange(server.addr, request.as_bytes()).await;
        assert_eq!(status(&head), 200, "{what}: {head}");
        assert_eq!(body, b"ok", "{what}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), good.len());
    server.stop().await;
}

/// Over HTTP/2, a `host` field that differs from `:authority` gets 400; one
/// that agrees (in any case) is served.
#[tokio::test]
async fn host_differs_from_authority_http2() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_app(calls.clone())).await;
    let mut client = server.client(Proto::Http2).await;

    let mut req = client.request(Method::GET, "/h2", empty());
    req.headers_mut()
        .insert(HOST, "other.test".parse().expect("header value"));
    let res = client.send(req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let mut req = client.request(Method::GET, "/h2", empty());
    let same = server.addr.to_string().to_uppercase();
    req.headers_mut()
        .insert(HOST, same.parse().expect("header value"));
    let res = client.send(req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    drop(client);
    server.stop().await;
}
