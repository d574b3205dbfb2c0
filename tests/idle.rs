//! The keep-alive idle timeout, on HTTP/1.1 and HTTP/2, over real sockets:
//! an idle connection is closed between one and 1.25 timeouts after its
//! last response; a request in flight, or bytes arriving, keep it open;
//! `None` keeps idle connections open.
//!
//! The header-read timeout is set far above the idle timeout here, so that
//! what closes an HTTP/1 connection is the idle timeout, not hyper's
//! header-read clock (which also runs while an HTTP/1 connection waits).

use std::time::{Duration, Instant};

use gateway_core::{Application, fn_app, start};
use gateway_hyper::Server;
use gateway_tests::{Client, Proto, TestServer, within};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IDLE: Duration = Duration::from_millis(600);

/// `/slow` answers after 1.5 s (2.5 idle timeouts); anything else at once.
fn app() -> impl Application {
    fn_app(|env| async move {
        if env.path_info() == "/slow" {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        start(200, [("content-type", "text/plain")]).body("ok")
    })
}

async fn server(idle: Option<Duration>) -> TestServer {
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .header_read_timeout(Duration::from_secs(30))
        .idle_timeout(idle);
    TestServer::serve(server, app())
}

/// How long after `since` the client's connection task ends, if it ends
/// within `limit`.
async fn closed_within(client: &mut Client, since: Instant, limit: Duration) -> Option<Duration> {
    let conn = client.connection().expect("the original handle");
    match tokio::time::timeout(limit, conn).await {
        Ok(_) => Some(since.elapsed()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    for proto in [Proto::Http1, Proto::Http2] {
        let server = server(Some(IDLE)).await;
        let mut client = server.client(proto).await;
        let (head, body) = client.fetch(Method::GET, "/").await;
        assert_eq!(head.status, 200);
        assert_eq!(&body[..], b"ok");
        let idle_since = Instant::now();
        let closed = closed_within(&mut client, idle_since, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{proto:?}: an idle connection is open after 5 s"));
        eprintln!("{proto:?}: idle connection closed after {closed:?}");
        assert!(
            closed >= IDLE - Duration::from_millis(50),
            "{proto:?}: closed {closed:?} after its last response, before the idle timeout"
        );
        assert!(
            closed <= IDLE * 3,
            "{proto:?}: closed only {closed:?} after its last response"
        );
        drop(client);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_is_not_idle() {
    for proto in [Proto::Http1, Proto::Http2] {
        let server = server(Some(IDLE)).await;
        let mut client = server.client(proto).await;
        // 1.5 s without a byte either way, but a request is in flight.
        let (head, body) = client.fetch(Method::GET, "/slow").await;
        assert_eq!(head.status, 200);
        assert_eq!(&body[..], b"ok");
        assert_eq!(
            head.headers.get("connection"),
            None,
            "{proto:?}: keep-alive was given up during a slow request"
        );
        // The same connection serves another request.
        let (head, _) = client.fetch(Method::GET, "/").await;
        assert_eq!(head.status, 200, "{proto:?}: second request");
        drop(client);
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_idle_timeout_keeps_idle_connections_open() {
    for proto in [Proto::Http1, Proto::Http2] {
        let server = server(None).await;
        let mut client = server.client(proto).await;
        let (head, _) = client.fetch(Method::GET, "/").await;
        assert_eq!(head.status, 200);
        let since = Instant::now();
        // Five times what the idle timeout would have been.
        let closed = closed_within(&mut client, since, IDLE * 5).await;
        assert_eq!(closed, None, "{proto:?}: closed without an idle timeout");
        drop(client);
        server.stop().await;
    }
}

/// Bytes arriving count as activity: after a first request, the next
/// head sent one byte every 50 ms for 2 s (more than three idle timeouts)
/// is still read and answered. (The first request on a connection would
/// prove nothing: hyper finishes it even after a graceful shutdown.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_arriving_keep_a_connection_open() {
    let server = server(Some(IDLE)).await;
    let mut stream = within("connect", TcpStream::connect(server.addr))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: abc\r\n\r\n";
    stream.write_all(head).await.expect("write");
    read_ok(&mut stream).await;
    for byte in head {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stream
            .write_all(std::slice::from_ref(byte))
            .await
            .expect("the server closed a connection that was sending bytes");
    }
    read_ok(&mut stream).await;
    drop(stream);
    server.stop().await;
}

/// Reads one `200` response whose body is `ok`.
async fn read_ok(stream: &mut TcpStream) {
    let mut response = Vec::new();
    let mut chunk = [0u8; 1];
    while !response.ends_with(b"ok") {
        let n = within("response", stream.read(&mut chunk))
            .await
            .expect("read");
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&chunk[..n]);
    }
    assert!(
        response.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&response)
    );
}
