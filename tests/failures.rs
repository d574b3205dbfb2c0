//! Failure isolation over real sockets: an application's error, panic, or a
//! body failing after the headers were sent affects that one response only,
//! and the server goes on serving.
//!
//! The expected panics print their messages to stderr; that is normal.

use std::future::Future;
use std::sync::Arc;

use gateway_core::http::StatusCode;
use gateway_core::{Application, Environ, Error, Response, start};
use gateway_tests::{
    Client, Proto, TestServer, assert_response, empty, read_at_least, read_body, try_read_body,
    within,
};
use http::Method;
use http::header::CONTENT_TYPE;
use tokio::sync::Notify;

/// An application with one route per failure. `gate` holds back the rest
/// of the bodies of `/slow` and `/flush`, and `fail` the failure of the
/// `/abort-*` bodies, until the test opens them.
#[derive(Default)]
struct Faulty {
    gate: Arc<Notify>,
    fail: Arc<Notify>,
}

const TEXT: [(&str, &str); 1] = [("content-type", "text/plain")];

impl Application for Faulty {
    // Not `async fn`: `/panic-in-call` panics before a future exists.
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        assert!(
            env.path_info() != "/panic-in-call",
            "deliberate panic in call"
        );
        let gate = self.gate.clone();
        let fail = self.fail.clone();
        async move {
            match env.path_info() {
                "/" => start(200, TEXT).body("still serving"),
                "/conflict" => Err(Error::with_status(
                    StatusCode::CONFLICT,
                    "secret: the row is locked by user 42",
                )),
                "/panic-in-future" => panic!("deliberate panic in the future, secret"),
                // Fail once the client has seen the head and "partial".
                "/abort-error" => start(200, TEXT).writer(|mut w| async move {
                    w.write("partial").await?;
                    fail.notified().await;
                    Err(Error::new("deliberate failure after commit"))
                }),
                "/abort-panic" => start(200, TEXT).writer(|mut w| async move {
                    w.write("partial").await?;
                    fail.notified().await;
                    panic!("deliberate panic after commit")
                }),
                // Fail right after the first chunk, racing the server's
                // write of the head.
                "/abort-now" => start(200, TEXT).writer(|mut w| async move {
                    w.write("partial").await?;
                    Err(Error::new("deliberate failure right after commit"))
                }),
                "/slow" => start(200, TEXT).writer(|mut w| async move {
                    w.write("first,").await?;
                    gate.notified().await;
                    w.write("second").await
                }),
                "/flush" => start(200, TEXT).writer(|mut w| async move {
                    w.flush_headers().await?;
                    gate.notified().await;
                    w.write("after headers").await
                }),
                _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no route")),
            }
        }
    }
}

/// Whether a client error says the HTTP/1 message was cut short (the
/// connection ended mid-body), as opposed to, say, a parse error.
fn is_truncation(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            );
        }
        source = e.source();
    }
    false
}

/// A fresh connection to `server` still gets a normal answer.
async fn assert_still_serving(server: &TestServer, proto: Proto) {
    let mut client = server.client(proto).await;
    let (parts, body) = client.fetch(Method::GET, "/").await;
    assert_response(
        "GET / on a new connection",
        &parts,
        &body,
        StatusCode::OK,
        b"still serving",
    );
}

// (a) ------------------------------------------------------------------------

async fn error_status_without_details(proto: Proto) {
    let server = TestServer::start(Faulty::default()).await;
    let mut client = server.client(proto).await;
    let (parts, body) = client.fetch(Method::GET, "/conflict").await;
    assert_eq!(parts.status, StatusCode::CONFLICT);
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("secret"), "error details leaked: {text:?}");
    assert!(!text.contains("42"), "error details leaked: {text:?}");
    assert_eq!(text, "Conflict");
    assert_eq!(parts.headers[CONTENT_TYPE], "text/plain; charset=utf-8");
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(!value.contains("secret"), "leaked in {name}: {value}");
    }
    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_error_gives_its_status_and_no_details_http1() {
    error_status_without_details(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_error_gives_its_status_and_no_details_http2() {
    error_status_without_details(Proto::Http2).await;
}

// (b) ------------------------------------------------------------------------

async fn panic_gives_500(proto: Proto) {
    let server = TestServer::start(Faulty::default()).await;
    for path in ["/panic-in-call", "/panic-in-future"] {
        let mut client = server.client(proto).await;
        let (parts, body) = client.fetch(Method::GET, path).await;
        assert_response(
            path,
            &parts,
            &body,
            StatusCode::INTERNAL_SERVER_ERROR,
            b"Internal Server Error",
        );
        drop(client);
        assert_still_serving(&server, proto).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_panic_gives_500_and_server_keeps_serving_http1() {
    panic_gives_500(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_panic_gives_500_and_server_keeps_serving_http2() {
    panic_gives_500(Proto::Http2).await;
}

// (c) ------------------------------------------------------------------------

/// After the commit, a failing body aborts the HTTP/1.1 response: the
/// client gets the 200 head and the first chunk, then a broken body (never
/// a clean end), and the server closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_failure_after_commit_aborts_http1_response() {
    let app = Faulty::default();
    let fail = app.fail.clone();
    let server = TestServer::start(app).await;
    for path in ["/abort-error", "/abort-panic"] {
        let mut client = server.client(Proto::Http1).await;
        let conn = client.connection().expect("connection task");
        let res = client
            .send(client.request(Method::GET, path, empty()))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{path}: committed head");
        assert!(
            !res.headers().contains_key("content-length"),
            "{path}: a streamed body has no length"
        );
        let mut body = res.into_body();
        let first = read_at_least(&mut body, "partial".len()).await;
        assert_eq!(first, "partial", "{path}: first chunk");

        // Only now does the application fail.
        fail.notify_one();
        match try_read_body(body).await {
            Ok(rest) => panic!("{path}: the aborted body ended cleanly, then {rest:?}"),
            Err(err) => assert!(
                is_truncation(&err),
                "{path}: expected a truncated message, got {err:?}"
            ),
        }
        // The server closed the connection: the client's connection task
        // ends although the client still holds its end.
        let _ = within("the aborted connection to close", conn).await;
        drop(client);
        assert_still_serving(&server, Proto::Http1).await;
    }
    server.stop().await;
}

/// A body failing right after its first chunk, before the server may have
/// written the head: whatever the client sees, it is never a complete
/// response (either no response at all, or a 200 whose body fails).
async fn body_failure_right_after_commit_never_looks_complete(proto: Proto) {
    let server = TestServer::start(Faulty::default()).await;
    for _ in 0..3 {
        let mut client = server.client(proto).await;
        let req = client.request(Method::GET, "/abort-now", empty());
        match within("GET /abort-now", client.try_send(req)).await {
            Err(err) => assert!(
                !err.is_user(),
                "GET /abort-now failed on the client side: {err:?}"
            ),
            Ok(res) => {
                assert_eq!(res.status(), StatusCode::OK);
                if let Ok(bytes) = try_read_body(res.into_body()).await {
                    panic!("GET /abort-now looked complete: 200 with {bytes:?}");
                }
            }
        }
        drop(client);
        assert_still_serving(&server, proto).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_failure_right_after_commit_never_looks_complete_http1() {
    body_failure_right_after_commit_never_looks_complete(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_failure_right_after_commit_never_looks_complete_http2() {
    body_failure_right_after_commit_never_looks_complete(Proto::Http2).await;
}

// (d) ------------------------------------------------------------------------

/// On HTTP/2 a body failing after the commit resets its stream only: a
/// concurrent stream on the same connection, mid-body at the time,
/// completes, and the connection takes new streams afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_failure_after_commit_resets_only_its_http2_stream() {
    let app = Faulty::default();
    let (gate, fail) = (app.gate.clone(), app.fail.clone());
    let server = TestServer::start(app).await;
    let mut client = server.client(Proto::Http2).await;
    for path in ["/abort-error", "/abort-panic"] {
        // A stream left half-sent: its first chunk arrived, the rest waits
        // for the gate.
        let mut slow_client = client.try_clone().expect("clone h2");
        let slow = slow_client
            .send(slow_client.request(Method::GET, "/slow", empty()))
            .await;
        assert_eq!(slow.status(), StatusCode::OK);
        let mut slow_body = slow.into_body();
        let first = read_at_least(&mut slow_body, "first,".len()).await;
        assert_eq!(first, "first,");

        // The failing stream, concurrent with it on the same connection.
        let res = client
            .send(client.request(Method::GET, path, empty()))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{path}: committed head");
        let mut body = res.into_body();
        let partial = read_at_least(&mut body, "partial".len()).await;
        assert_eq!(partial, "partial", "{path}: first chunk");
        fail.notify_one();
        if let Ok(rest) = try_read_body(body).await {
            panic!("{path}: the aborted stream ended cleanly, then {rest:?}");
        }

        // The other stream is unaffected.
        gate.notify_one();
        let rest = try_read_body(slow_body)
            .await
            .unwrap_or_else(|e| panic!("/slow failed after {path} was reset: {e}"));
        assert_eq!(rest, "second");

        // And the connection takes new streams.
        let (parts, body) = client.fetch(Method::GET, "/").await;
        assert_response(
            "GET / on the same connection",
            &parts,
            &body,
            StatusCode::OK,
            b"still serving",
        );
    }
    drop(client);
    server.stop().await;
}

// (e) ------------------------------------------------------------------------

/// `flush_headers` sends the head before any data: the application writes
/// its body only once the client has seen the head.
async fn flush_headers_before_data(proto: Proto) {
    let app = Faulty::default();
    let gate = app.gate.clone();
    let server = TestServer::start(app).await;
    let mut client: Client = server.client(proto).await;

    let req = client.request(Method::GET, "/flush", empty());
    let res = within(
        "the response head of /flush (its body waits for the client to see the head)",
        client.try_send(req),
    )
    .await
    .expect("GET /flush");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/plain");
    assert!(
        !res.headers().contains_key("content-length"),
        "a flushed head cannot know the length"
    );

    // Only now may the application write.
    gate.notify_one();
    let body = read_body(res.into_body()).await;
    assert_eq!(body, "after headers");

    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_headers_sends_head_before_body_http1() {
    flush_headers_before_data(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_headers_sends_head_before_body_http2() {
    flush_headers_before_data(Proto::Http2).await;
}

/// An error's headers reach the client over the wire — `Allow` on a 405,
/// `WWW-Authenticate` on a 401, `Retry-After` on a 503 — and its
/// connection-specific ones do not: the HTTP/1 connection stays open in
/// spite of a `Connection: close`, and HTTP/2 (which forbids such fields)
/// delivers the response.
async fn error_headers_reach_the_client(proto: Proto) {
    use gateway_core::fn_app;
    use gateway_core::http::HeaderValue;
    use gateway_core::http::header::{ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};

    let app = fn_app(|env| async move {
        let err = match env.path_info() {
            "/405" => Error::with_status(StatusCode::METHOD_NOT_ALLOWED, "read only")
                .with_header(ALLOW, HeaderValue::from_static("GET, HEAD")),
            "/401" => Error::with_status(StatusCode::UNAUTHORIZED, "no credentials").with_header(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="admin""#),
            ),
            _ => Error::with_status(StatusCode::SERVICE_UNAVAILABLE, "maintenance")
                .with_header(RETRY_AFTER, HeaderValue::from(120))
                .with_header("connection", HeaderValue::from_static("close")),
        };
        Err::<Response, _>(err)
    });
    let server = TestServer::start(app).await;
    let mut client = server.client(proto).await;
    for (path, status, name, value) in [
        ("/503", StatusCode::SERVICE_UNAVAILABLE, RETRY_AFTER, "120"),
        ("/405", StatusCode::METHOD_NOT_ALLOWED, ALLOW, "GET, HEAD"),
        (
            "/401",
            StatusCode::UNAUTHORIZED,
            WWW_AUTHENTICATE,
            r#"Basic realm="admin""#,
        ),
    ] {
        let (parts, body) = client.fetch(Method::GET, path).await;
        let reason = status.canonical_reason().unwrap_or_default();
        assert_response(path, &parts, &body, status, reason.as_bytes());
        assert_eq!(parts.headers[&name], value, "{path}");
        assert!(!parts.headers.contains_key("connection"), "{path}");
    }
    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_headers_reach_the_client_http1() {
    error_headers_reach_the_client(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_headers_reach_the_client_http2() {
    error_headers_reach_the_client(Proto::Http2).await;
}
