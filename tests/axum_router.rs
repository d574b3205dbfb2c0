//! The README's routing example (`examples/axum_router.rs`), served by
//! gateway-hyper over real sockets: axum routes and extracts under `/api`,
//! the gateway application answers the rest, tower-http compresses both.
//! The README must show the example's code as it is compiled here.

use std::io::Read;

use gateway_tests::{Proto, TestServer};
use http::{HeaderValue, Method, StatusCode};

// Compiled from the example's own file, so what runs here is what the
// example and the README show; its `main` is not called, and its `app` is
// `pub` for the example's readers, not for this crate.
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/axum_router.rs"]
mod example;

#[tokio::test]
async fn routes_extractors_and_a_tower_http_layer() {
    let server = TestServer::start(example::app()).await;
    for proto in [Proto::Http1, Proto::Http2] {
        let mut client = server.client(proto).await;

        let (parts, body) = client.fetch(Method::GET, "/api/users/7").await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
        assert_eq!(body, "user 7\n", "{proto:?}");

        // axum's `Path` extractor refuses what is not a number.
        let (parts, _) = client.fetch(Method::GET, "/api/users/seven").await;
        assert_eq!(parts.status, StatusCode::BAD_REQUEST, "{proto:?}");
        let (parts, _) = client.fetch(Method::GET, "/api/nothing").await;
        assert_eq!(parts.status, StatusCode::NOT_FOUND, "{proto:?}");

        let expected = "/about is served by a gateway application\n";
        let (parts, body) = client.fetch(Method::GET, "/about").await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
        assert_eq!(body, expected, "{proto:?}");
        assert!(parts.headers.get("content-encoding").is_none());

        let mut req = client.request(Method::GET, "/about", gateway_tests::empty());
        req.headers_mut()
            .insert("accept-encoding", HeaderValue::from_static("gzip"));
        let (parts, body) = client.send(req).await.into_parts();
        let body = gateway_tests::read_body(body).await;
        assert_eq!(parts.headers["content-encoding"], "gzip", "{proto:?}");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("a gzip body");
        assert_eq!(text, expected, "{proto:?}");
    }
    server.stop().await;
}

/// The README's copy of the example, from its first `use` to the end of
/// `app`, is the example's code unchanged.
#[test]
fn readme_shows_the_example() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/axum_router.rs");
    let start = example.find("use ").expect("the example's imports");
    let end = example.find("#[tokio::main]").expect("the example's main");
    let code = example[start..end].trim_end();
    assert!(
        readme.contains(code),
        "README.md must show examples/axum_router.rs from its first `use` to \
         the end of `app`, unchanged:\n{code}"
    );
}
