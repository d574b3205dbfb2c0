//! Malformed framing: conflicting or invalid `Content-Length` and
//! `Transfer-Encoding` (request smuggling attempts).

use super::*;

/// `Content-Length` with `Transfer-Encoding: chunked` (request smuggling),
/// in both header orders, with a whole second request hidden after the
/// chunked body (`CL: 4`, too short) or inside the `Content-Length` body
/// (`CL` covering everything). Two requests must never come out of it.
///
/// Observed (hyper 1.x): chunked wins (RFC 9112 §6.3), the request is
/// answered 200 with an empty body and `connection: close`, and the
/// connection is closed — the bytes after the chunked body are never
/// parsed, so `/smuggled` never reaches the application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_chunked_is_never_two_requests() {
    let server = start_server(|s| s).await;
    let hidden = "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let lengths = [4, hidden.len()];
    for length in lengths {
        for te_first in [false, true] {
            let cl = format!("Content-Length: {length}\r\n");
            let te = "Transfer-Encoding: chunked\r\n";
            let (a, b) = if te_first {
                (te, cl.as_str())
            } else {
                (cl.as_str(), te)
            };
            let request = format!("POST /first HTTP/1.1\r\nHost: x\r\n{a}{b}\r\n{hidden}");
            let what = format!("{request:?}");

            let (response, mut conn) = exchange(server.addr, request.as_bytes()).await;
            let response = response.unwrap_or_else(|| panic!("{what}: no response"));
            assert_eq!(response.status, 200, "{what}: {:?}", response.head);
            assert_eq!(
                response.body_str(),
                "POST /first\n",
                "{what}: framed by chunked, the body is empty"
            );
            assert_eq!(response.header("connection"), Some("close"), "{what}");
            // No second response: the connection is closed.
            conn.assert_closed(&what).await;
            assert_eq!(server.seen(), ["POST /first"], "{what}");
            server.seen.lock().expect("seen lock").clear();
            assert_still_serving(server.addr).await;
            server.seen.lock().expect("seen lock").clear();
        }
    }
    server.stop().await;
}

/// Two differing `Content-Length` headers get 400 and a close (hyper);
/// identical duplicates are one length (RFC 9110 §8.6 allows that) and
/// the request is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differing_content_lengths_get_400() {
    let server = start_server(|s| s).await;
    let cases: [&[u8]; 2] = [
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nContent-Length: 5\r\n\r\nhello!",
    ];
    for request in cases {
        let what = format!("{:?}", lossy(request));
        assert_refused_with(&server, &what, request, 400).await;
    }

    let (response, _conn) = exchange(
        server.addr,
        b"POST /same HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    let response = response.expect("identical Content-Length headers are answered");
    assert_eq!(response.status, 200, "{:?}", response.head);
    assert_eq!(response.body_str(), "POST /same\nhello");
    server.stop().await;
}

/// A `Content-Length` that is not a plain decimal number gets 400 and a
/// close (hyper parses it strictly: no sign, no hex, no garbage).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_content_length_gets_400() {
    let server = start_server(|s| s).await;
    for value in [
        "12abc",
        "+12",
        "-1",
        "0x0c",
        "1 2",
        "",
        "99999999999999999999999",
    ] {
        let request = format!("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\n");
        let what = format!("Content-Length: {value:?}");
        assert_refused_with(&server, &what, request.as_bytes(), 400).await;
    }
    server.stop().await;
}

/// An invalid chunk size (`zz`): the head is valid, so the request reaches
/// the application, whose body read fails; the gateway answers 400 (the
/// client's fault) and hyper closes the connection, so the bytes after it
/// are never read as a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_chunk_size_is_refused() {
    let server = start_server(|s| s).await;
    let request = b"POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                    zz\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let (response, mut conn) = exchange(server.addr, request).await;
    let response = response.expect("a response to the invalid chunk size");
    assert_eq!(response.status, 400, "{:?}", response.head);
    conn.assert_closed("invalid chunk size").await;
    assert_eq!(server.seen(), ["POST /chunks"]);
    assert_still_serving(server.addr).await;
    server.stop().await;
}

/// Transfer-coding lists (RFC 9112 §6.1):
///
/// * `gzip, chunked` (ends in chunked): hyper would accept it and de-chunk
///   the body without undoing `gzip`; gateway-hyper answers 501 (RFC 9112
///   §6.1: a coding the server does not understand) and the application
///   never sees the still-coded bytes.
/// * `chunked, gzip` (not ending in chunked), `chunked` then `gzip` on two
///   lines, and an unknown coding `foo`: 400 (not 501) and a close.
/// * `chunked` on HTTP/1.0 (which has no transfer codings): 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_encoding_lists() {
    let server = start_server(|s| s).await;

    let gzip = b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n";
    assert_refused_with(&server, "gzip, chunked", gzip, 501).await;

    let refused: [&[u8]; 4] = [
        b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
        b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
          Transfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\nhello",
        b"POST /te HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
    ];
    for request in refused {
        let what = format!("{:?}", lossy(request));
        assert_refused_with(&server, &what, request, 400).await;
    }
    server.stop().await;
}
