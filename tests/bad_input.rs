//! Malformed HTTP/1 input, sent as raw bytes over a TCP socket: it is
//! refused (hyper answers 400 or closes) without reaching a smuggling
//! interpretation, and the server goes on serving new connections.

use std::net::SocketAddr;

use gateway_examples::hello::{GREETING, app};
use gateway_tests::{TestServer, exchange, split_head};

/// The server answers a well-formed request on a new connection.
async fn assert_still_serving(addr: SocketAddr) {
    let raw = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = split_head(&raw);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "head: {head:?}");
    assert_eq!(body, GREETING.as_bytes());
}

/// A refusal: nothing (the connection was closed) or exactly one 400.
fn assert_refused(what: &str, raw: &[u8]) {
    if raw.is_empty() {
        return;
    }
    let (head, _) = split_head(raw);
    assert!(
        head.starts_with("HTTP/1.1 400 "),
        "{what}: expected 400 or a closed connection, got {:?}",
        String::from_utf8_lossy(raw)
    );
    assert_eq!(
        count(raw, b"HTTP/1."),
        1,
        "{what}: more than one response: {:?}",
        String::from_utf8_lossy(raw)
    );
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// Decodes a chunked body (extensions and trailers are not expected).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap(), 16)
            .expect("chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            assert_eq!(raw, b"\r\n", "nothing after the last chunk");
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        assert_eq!(&raw[size..size + 2], b"\r\n", "chunk terminator");
        raw = &raw[size + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_request_line_is_refused_and_server_keeps_serving() {
    let server = TestServer::start(app()).await;
    let garbage: [&[u8]; 4] = [
        b"THIS IS NOT HTTP\r\n\r\n",
        b"\x00\x01\x02\x03\xff\xfe garbage\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: test\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: test\r\n\r\n",
    ];
    for request in garbage {
        let what = format!("{:?}", String::from_utf8_lossy(request));
        let raw = exchange(server.addr, request).await;
        assert_refused(&what, &raw);
        assert_still_serving(server.addr).await;
    }
    server.stop().await;
}

/// `Content-Length` and `Transfer-Encoding` together (request smuggling):
/// refused with 400, or the chunked framing wins (RFC 9112 §6.3) and the
/// connection is closed after the response — in either header order. A
/// server framing by the `Content-Length: 4` would echo `5\r\nh` instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_transfer_encoding_is_not_smuggled() {
    let server = TestServer::start(app()).await;
    let requests: [&[u8]; 2] = [
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\
          Content-Length: 4\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ];
    for request in requests {
        let what = format!("{:?}", String::from_utf8_lossy(request));
        // `exchange` returns only once the server closed the connection.
        let raw = exchange(server.addr, request).await;
        let (head, body) = split_head(&raw);
        if !raw.is_empty() && !head.starts_with("HTTP/1.1 400 ") {
            assert!(
                head.starts_with("HTTP/1.1 200 OK\r\n"),
                "{what}: expected 400, a close, or the chunked echo; got {head:?}"
            );
            let head = head.to_ascii_lowercase();
            assert!(
                head.contains("\r\ntransfer-encoding: chunked"),
                "{what}: {head:?}"
            );
            // RFC 9112 §6.1: the server MUST close the connection after
            // responding to such a request; it says so.
            assert!(head.contains("\r\nconnection: close"), "{what}: {head:?}");
            assert_eq!(dechunk(body), b"hello", "{what}: echoed body");
        } else {
            assert_refused(&what, &raw);
        }
        assert_still_serving(server.addr).await;
    }
    server.stop().await;
}
