//! `Lint` around every example application, served by gateway-hyper over
//! real sockets (HTTP/1.1 and HTTP/2): every route reports nothing. A
//! broken application served the same way shows the violations do reach
//! the test.

use bytes::Bytes;
use gateway_core::lint::{Lint, Rule, Violation};
use gateway_core::middleware::Identity;
use gateway_core::{Application, ApplicationExt, fn_app, start};
use gateway_examples::hello::{GREETING, app as hello};
use gateway_tests::{
    Proto, TestServer, assert_response, channel_body, full, read_at_least, read_body, within,
};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, StatusCode};

/// Serves `app` checked by a collecting `Lint`, alone and as a pair around
/// nothing (so the pair's checks run too).
async fn serve_linted<A: Application>(app: A) -> (TestServer, gateway_core::lint::Violations) {
    let (lint, violations) = Lint::collecting();
    let app = app.with(lint.clone()).with(lint.around(Identity));
    (TestServer::start(app).await, violations)
}

/// The hello example's routes: GET and HEAD `/`, POST `/echo` (one chunk
/// and streamed), a missing page and two wrong methods.
async fn hello_under_lint(proto: Proto) {
    let (server, violations) = serve_linted(hello()).await;
    let mut client = server.client(proto).await;

    let (parts, body) = client.fetch(Method::GET, "/").await;
    assert_response("GET /", &parts, &body, StatusCode::OK, GREETING.as_bytes());

    let (parts, body) = client.fetch(Method::HEAD, "/").await;
    assert_response("HEAD /", &parts, &body, StatusCode::OK, b"");
    assert_eq!(parts.headers[CONTENT_LENGTH], "14");

    let req = client.request(Method::POST, "/echo", full("ping"));
    let (parts, body) = client.send(req).await.into_parts();
    let body = read_body(body).await;
    assert_response("POST /echo", &parts, &body, StatusCode::OK, b"ping");
    assert_eq!(parts.headers[CONTENT_TYPE], "application/octet-stream");

    // Streamed: the first chunk comes back before the second is sent
    // (the head waits for the first chunk: driver rule 6).
    let (tx, body) = channel_body(1);
    within("send", tx.send(Bytes::from_static(b"first ")))
        .await
        .unwrap();
    let res = client
        .send(client.request(Method::POST, "/echo", body))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    assert_eq!(read_at_least(&mut body, 6).await, "first ");
    within("send", tx.send(Bytes::from_static(b"second")))
        .await
        .unwrap();
    drop(tx);
    assert_eq!(read_body(body).await, "second");

    for (method, path, status) in [
        (Method::GET, "/missing", StatusCode::NOT_FOUND),
        (Method::DELETE, "/", StatusCode::METHOD_NOT_ALLOWED),
        (Method::GET, "/echo", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let (parts, _) = client.fetch(method.clone(), path).await;
        assert_eq!(parts.status, status, "{method} {path}");
    }

    drop(client);
    // Stopping drains the connection: every body was read to its end.
    server.stop().await;
    violations.assert_none();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_under_lint_over_http1() {
    hello_under_lint(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_under_lint_over_http2() {
    hello_under_lint(Proto::Http2).await;
}

/// The same setup reports a broken application: the assertions above are
/// not vacuous.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_app_is_reported_over_a_real_server() {
    let broken = fn_app(|_env| async {
        start(
            200,
            [("content-type", "text/plain"), ("connection", "close")],
        )
        .body("hi")
    });
    let (server, violations) = serve_linted(broken).await;
    let mut client = server.client(Proto::Http1).await;
    let (parts, _) = client.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
    drop(client);
    server.stop().await;
    let found: Vec<Rule> = violations.take().iter().map(Violation::rule).collect();
    assert_eq!(found, [Rule::ConnectionSpecificField]);
}
