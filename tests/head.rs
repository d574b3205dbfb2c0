//! HEAD over a real server: the application's streaming body would panic
//! if polled, and it never is — not by the driver, not by hyper — over
//! HTTP/1.1 and HTTP/2. GET on the same routes shows that the trap is real.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gateway_core::http::StatusCode;
use gateway_core::{Body, Environ, Error, fn_app, start};
use gateway_tests::{Proto, TestServer, assert_response};
use http::Method;
use http::header::CONTENT_LENGTH;

/// `/with-length` announces `content-length: 5`; `/no-length` announces
/// none. Both bodies set `polled` and panic when first polled.
fn trap_app(polled: Arc<AtomicBool>) -> impl gateway_core::Application {
    fn_app(move |env: Environ| {
        let polled = polled.clone();
        async move {
            let body = Body::writer(move |_w| async move {
                polled.store(true, Ordering::SeqCst);
                panic!("the body of a HEAD response was polled");
            });
            match env.path_info() {
                "/with-length" => {
                    start(200, [("content-length", "5"), ("x-route", "with")]).body(body)
                }
                "/no-length" => start(200, [("x-route", "without")]).body(body),
                _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no route")),
            }
        }
    })
}

async fn head_never_polls_the_body(proto: Proto) {
    let polled = Arc::new(AtomicBool::new(false));
    let server = TestServer::start(trap_app(polled.clone())).await;
    let mut client = server.client(proto).await;

    let (parts, body) = client.fetch(Method::HEAD, "/with-length").await;
    assert_response("HEAD /with-length", &parts, &body, StatusCode::OK, b"");
    assert_eq!(parts.headers["x-route"], "with");
    assert_eq!(
        parts.headers[CONTENT_LENGTH], "5",
        "HEAD keeps the application's Content-Length"
    );
    assert!(!polled.load(Ordering::SeqCst), "HEAD /with-length polled");

    let (parts, body) = client.fetch(Method::HEAD, "/no-length").await;
    assert_response("HEAD /no-length", &parts, &body, StatusCode::OK, b"");
    assert_eq!(parts.headers["x-route"], "without");
    // GET would stream with no known length; `content-length: 0` would
    // misstate it.
    assert!(
        !parts.headers.contains_key(CONTENT_LENGTH),
        "HEAD /no-length: {:?}",
        parts.headers
    );
    assert!(!polled.load(Ordering::SeqCst), "HEAD /no-length polled");

    // The same routes over GET do poll the body: it panics before the
    // commit and the driver answers 500. So the HEAD results above are not
    // vacuous.
    let (parts, body) = client.fetch(Method::GET, "/with-length").await;
    assert_response(
        "GET /with-length",
        &parts,
        &body,
        StatusCode::INTERNAL_SERVER_ERROR,
        b"Internal Server Error",
    );
    assert!(polled.load(Ordering::SeqCst), "GET polled the trap body");

    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_never_polls_a_streaming_body_http1() {
    head_never_polls_the_body(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_never_polls_a_streaming_body_http2() {
    head_never_polls_the_body(Proto::Http2).await;
}
