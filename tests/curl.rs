//! Interop with a real client: the hello example fetched by the `curl`
//! binary over HTTP/1.1 and HTTP/2 prior knowledge.
//!
//! Without curl these tests print a loud notice and pass, unless `CI` is
//! set, where they fail.

use gateway_examples::hello::{GREETING, app};
use gateway_tests::{TestServer, curl, curl_available, parse_curl, pattern};

async fn hello_with_curl(version_flag: &str, status_ok: &str, status_missing: &str) {
    if !curl_available().await {
        return;
    }
    let server = TestServer::start(app()).await;

    let out = curl(&[version_flag, "--include", &server.url("/")], None).await;
    let (status, headers, body) = parse_curl(&out);
    assert_eq!(status, status_ok, "GET / status line");
    assert!(
        headers.contains(&"content-length: 14".to_owned()),
        "GET / headers: {headers:?}"
    );
    assert!(
        headers.contains(&"content-type: text/plain; charset=utf-8".to_owned()),
        "GET / headers: {headers:?}"
    );
    assert_eq!(body, GREETING.as_bytes());

    let out = curl(&[version_flag, "--include", &server.url("/missing")], None).await;
    let (status, _, body) = parse_curl(&out);
    assert_eq!(status, status_missing, "GET /missing status line");
    assert_eq!(body, b"Not Found");

    // A body sent by curl (chunked on HTTP/1.1) comes back intact.
    let input = pattern(200_000);
    let url = server.url("/echo");
    let mut args = vec![
        version_flag,
        "--include",
        "--header",
        "content-type: application/x-test",
        "--data-binary",
        "@-",
        &url,
    ];
    if version_flag == "--http1.1" {
        // HTTP/2 has no Transfer-Encoding; its body is DATA frames anyway.
        args.extend(["--header", "transfer-encoding: chunked"]);
    }
    let out = curl(&args, Some(input.clone())).await;
    let (status, headers, body) = parse_curl(&out);
    assert_eq!(status, status_ok, "POST /echo status line");
    assert!(
        headers.contains(&"content-type: application/x-test".to_owned()),
        "POST /echo headers: {headers:?}"
    );
    assert!(
        body == input,
        "echoed {} bytes, sent {}",
        body.len(),
        input.len()
    );

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_http1() {
    hello_with_curl("--http1.1", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_http2_prior_knowledge() {
    hello_with_curl("--http2-prior-knowledge", "HTTP/2 200", "HTTP/2 404").await;
}
