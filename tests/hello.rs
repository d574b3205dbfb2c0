//! The hello example served by gateway-hyper, fetched with hyper's client
//! over HTTP/1.1 and HTTP/2 prior knowledge on real sockets.

use gateway_examples::hello::{GREETING, app};
use gateway_tests::{Client, Proto, TestServer, assert_response, empty, read_body, within};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, StatusCode};

/// GET, HEAD, a missing path and a wrong method, all on one connection.
async fn hello_routes(proto: Proto) {
    let server = TestServer::start(app()).await;
    let mut client = server.client(proto).await;

    let (parts, body) = client.fetch(Method::GET, "/").await;
    assert_response("GET /", &parts, &body, StatusCode::OK, GREETING.as_bytes());
    assert_eq!(parts.version, proto.version());
    assert_eq!(parts.headers[CONTENT_LENGTH], "14");
    assert_eq!(GREETING.len(), 14);
    assert_eq!(parts.headers[CONTENT_TYPE], "text/plain; charset=utf-8");

    let (parts, body) = client.fetch(Method::HEAD, "/").await;
    assert_response("HEAD /", &parts, &body, StatusCode::OK, b"");
    assert_eq!(
        parts.headers[CONTENT_LENGTH], "14",
        "HEAD keeps GET's length"
    );
    assert_eq!(parts.headers[CONTENT_TYPE], "text/plain; charset=utf-8");

    let (parts, body) = client.fetch(Method::GET, "/missing").await;
    assert_response(
        "GET /missing",
        &parts,
        &body,
        StatusCode::NOT_FOUND,
        b"Not Found",
    );

    let (parts, body) = client.fetch(Method::DELETE, "/").await;
    assert_response(
        "DELETE /",
        &parts,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        b"Method Not Allowed",
    );
    assert_eq!(
        parts.headers["allow"], "GET, HEAD",
        "DELETE / says what is allowed"
    );

    // The connection survived all four answers.
    let (parts, body) = client.fetch(Method::GET, "/").await;
    assert_response(
        "GET / again",
        &parts,
        &body,
        StatusCode::OK,
        GREETING.as_bytes(),
    );

    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_over_http1() {
    hello_routes(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_over_http2() {
    hello_routes(Proto::Http2).await;
}

/// Many requests in flight at once on one HTTP/2 connection: every stream
/// gets its own, correct answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_concurrent_streams_on_one_connection() {
    const STREAMS: usize = 16;
    let server = TestServer::start(app()).await;
    let client = server.client(Proto::Http2).await;

    // Send every request before reading any response, so that the streams
    // are open at the same time on the single connection.
    let mut pending = Vec::new();
    for i in 0..STREAMS {
        let mut stream = client.try_clone().expect("HTTP/2 handles clone");
        let path = if i % 2 == 0 { "/" } else { "/missing" };
        let req = stream.request(Method::GET, path, empty());
        pending.push((
            path,
            tokio::spawn(async move { stream.try_send(req).await }),
        ));
    }
    for (path, task) in pending {
        let res = within("concurrent stream", task)
            .await
            .expect("stream task")
            .expect("stream response");
        assert_eq!(res.version(), http::Version::HTTP_2);
        let (parts, body) = res.into_parts();
        let body = read_body(body).await;
        if path == "/" {
            assert_response(path, &parts, &body, StatusCode::OK, GREETING.as_bytes());
        } else {
            assert_response(path, &parts, &body, StatusCode::NOT_FOUND, b"Not Found");
        }
    }

    drop(client);
    server.stop().await;
}

/// Connections of both versions to the same server at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_and_http2_share_the_port() {
    let server = TestServer::start(app()).await;
    let mut h1 = Client::connect(Proto::Http1, server.addr).await;
    let mut h2 = Client::connect(Proto::Http2, server.addr).await;
    for client in [&mut h1, &mut h2] {
        let (parts, body) = client.fetch(Method::GET, "/").await;
        assert_eq!(parts.version, client.proto().version());
        assert_response("GET /", &parts, &body, StatusCode::OK, GREETING.as_bytes());
    }
    drop((h1, h2));
    server.stop().await;
}
