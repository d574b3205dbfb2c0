//! The header count and size limits.

use super::*;

/// A `GET /` with `Host`, `Connection: close` and `extra` more header
/// fields of `value_len` bytes each (`extra + 2` fields in all). The close
/// makes a wrongly accepted request end with its 200 rather than wait for
/// the keep-alive timeout.
fn request_with_headers(extra: usize, value_len: usize) -> Vec<u8> {
    let mut raw = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n".to_vec();
    let value = "v".repeat(value_len);
    for i in 0..extra {
        raw.extend_from_slice(format!("X-Field-{i}: {value}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw
}

/// Sends `request` on a new connection and expects hyper's 431 followed by
/// the close of the connection (it answers a head it cannot parse and
/// closes).
async fn assert_431_and_close(addr: SocketAddr, request: &[u8], what: &str) {
    let mut stream = within("tcp connect", TcpStream::connect(addr))
        .await
        .expect("tcp connect");
    // The server may stop reading part-way; the answer is still read.
    let _ = within("write a request", stream.write_all(request)).await;
    let raw = read_to_close(&mut stream).await;
    let head = String::from_utf8_lossy(&raw);
    assert!(
        head.starts_with("HTTP/1.1 431 "),
        "{what}: expected 431 and a close, got {head:?}"
    );
}

/// More than 100 header fields (hyper's default) get 431 and a closed
/// connection; exactly 100 pass; the server goes on serving.
#[tokio::test]
async fn too_many_headers() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_app(calls.clone())).await;

    let (head, _) = tcp_exchange(server.addr, &request_with_headers(98, 8)).await;
    assert_eq!(status(&head), 200, "100 fields: {head}");
    assert_431_and_close(server.addr, &request_with_headers(99, 8), "101 fields").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let (head, _) = tcp_exchange(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status(&head), 200, "still serving: {head}");
    server.stop().await;
}

/// `max_header_size(16 KiB)`: a 32 KiB header gets 431 and a closed
/// connection (a 12 KiB one passes), while the default (64 KiB) accepts
/// the same 32 KiB header; the server goes on serving.
#[tokio::test]
async fn header_size_limit() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_header_size(16 * 1024);
    let server = TestServer::serve(server, counting_app(calls.clone()));
    let big = request_with_headers(1, 32 * 1024);

    let (head, _) = tcp_exchange(server.addr, &request_with_headers(1, 12 * 1024)).await;
    assert_eq!(status(&head), 200, "12 KiB header: {head}");
    assert_431_and_close(server.addr, &big, "32 KiB header").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let (head, _) = tcp_exchange(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status(&head), 200, "still serving: {head}");
    server.stop().await;

    let default = TestServer::start(counting_app(calls.clone())).await;
    let (head, _) = tcp_exchange(default.addr, &big).await;
    assert_eq!(
        status(&head),
        200,
        "32 KiB header under the default: {head}"
    );
    default.stop().await;
}
