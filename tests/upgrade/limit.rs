//! The connection limit with upgraded connections open: an HTTP/1.1
//! connection handed to its handler by a `101` keeps its place under
//! `max_connections` until its socket closes; HTTP/2 extended CONNECT
//! streams live on their connection and take no place of their own.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::*;

/// A plain request (the echo app answers it 426).
const PLAIN: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// Whether `tcp` gets any byte back within `wait`.
async fn answered_within(tcp: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, tcp.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

#[tokio::test]
async fn upgraded_connections_count_against_the_connection_limit() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .max_connections(2);
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let mut first = TcpStream::connect(running.addr).await.unwrap();
    upgrade_and_echo(&mut first, b"one").await;
    let mut second = TcpStream::connect(running.addr).await.unwrap();
    upgrade_and_echo(&mut second, b"two").await;
    assert_eq!(stats.upgraded_connections(), 2);

    // A third connection waits in the kernel's queue, unserved...
    let mut third = TcpStream::connect(running.addr).await.unwrap();
    third.write_all(PLAIN).await.unwrap();
    assert!(
        !answered_within(&mut third, Duration::from_millis(400)).await,
        "a third connection was served past max_connections(2)"
    );
    assert!(stats.connections_limited() >= 1);
    // Both upgraded sockets are open, so both still count.
    assert_eq!(stats.open_connections(), 2);
    // ...while the upgraded ones go on echoing.
    round_trip(&mut first, b"still echoing").await;

    // One upgraded connection closes: its place goes to the third.
    drop(second);
    let (head, _) = read_head(&mut third).await;
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
    assert_eq!(stats.upgraded_connections(), 1);
    drop((first, third));
    no_upgraded_left(&stats).await;
    eventually("every connection to close", || {
        stats.open_connections() == 0
    })
    .await;
    assert_eq!(counts.get(), (2, 2, 2));
    running.stop().await;
}

/// Opens an extended CONNECT stream for `echo` on `sender`'s connection.
async fn connect_stream(
    sender: &mut hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
) -> TokioIo<hyper::upgrade::Upgraded> {
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri("http://localhost/echo")
        .body(Empty::<Bytes>::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("echo"));
    let res = within("the CONNECT response", sender.send_request(req))
        .await
        .expect("a CONNECT response");
    assert_eq!(res.status(), StatusCode::OK);
    let upgraded = within("the h2 upgrade", hyper::upgrade::on(res))
        .await
        .expect("the stream");
    TokioIo::new(upgraded)
}

#[tokio::test]
async fn extended_connect_streams_live_on_their_connection() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .max_connections(1)
        .http2_extended_connect(true);
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let tcp = TcpStream::connect(running.addr).await.unwrap();
    // A second handle on the socket, to close it under the client (whose
    // h2 connection lives in a task of hyper's own).
    let closer = {
        use std::os::fd::AsFd;
        std::net::TcpStream::from(tcp.as_fd().try_clone_to_owned().unwrap())
    };
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    let conn = tokio::spawn(conn);
    // A plain request first, so that the server's SETTINGS (announcing
    // extended CONNECT) have arrived.
    let plain = Request::get("http://localhost/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = within("a plain h2 request", sender.send_request(plain))
        .await
        .expect("a plain request");
    assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
    // Two streams on the one connection the limit allows.
    let mut a = connect_stream(&mut sender).await;
    let mut b = connect_stream(&mut sender).await;
    round_trip(&mut a, b"stream a").await;
    round_trip(&mut b, b"stream b").await;
    assert_eq!(stats.upgraded_connections(), 2);
    assert_eq!(stats.open_connections(), 1);

    // The connection carrying them holds the only place.
    let mut other = TcpStream::connect(running.addr).await.unwrap();
    other.write_all(PLAIN).await.unwrap();
    assert!(
        !answered_within(&mut other, Duration::from_millis(300)).await,
        "a second connection was served past max_connections(1)"
    );
    // Closing the connection ends its streams and frees its place.
    closer.shutdown(std::net::Shutdown::Both).unwrap();
    drop((a, b, sender, closer));
    conn.abort();
    no_upgraded_left(&stats).await;
    let (head, _) = read_head(&mut other).await;
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
    assert_eq!(counts.get(), (2, 2, 2));
    running.stop().await;
}
