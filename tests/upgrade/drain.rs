//! Graceful shutdown with upgraded connections open: the handler is told,
//! the drain waits for it, and past the deadline it is cancelled.

use std::time::Instant;

use tokio::net::TcpStream;

use super::*;

#[tokio::test]
async fn shutdown_tells_the_handler_and_waits_for_it() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .drain_timeout(Duration::from_secs(10));
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    upgrade_and_echo(&mut tcp, b"").await;
    let started = Instant::now();
    let _ = running.shutdown.send(());
    // The handler says goodbye and returns: the connection ends.
    assert_eq!(read_to_end(&mut tcp).await, b"bye");
    within("the server to stop", running.join)
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the drain waited for the handler, not for its deadline"
    );
    assert_eq!(counts.get(), (1, 1, 1));
    assert_eq!(stats.upgraded_connections(), 0);
}

#[tokio::test]
async fn the_drain_deadline_cancels_a_handler_that_stays() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .drain_timeout(Duration::from_millis(300));
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::Ignore));
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    upgrade_and_echo(&mut tcp, b"").await;
    let started = Instant::now();
    let _ = running.shutdown.send(());
    // The handler ignores the signal and is still echoing during the
    // drain...
    tokio::time::sleep(Duration::from_millis(100)).await;
    round_trip(&mut tcp, b"still here").await;
    // ...until the deadline drops it, closing the connection.
    assert!(read_to_end(&mut tcp).await.is_empty());
    within("the server to stop", running.join)
        .await
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // Started, never finished, dropped.
    assert_eq!(counts.get(), (1, 0, 1));
    assert_eq!(stats.upgraded_connections(), 0);
}

#[tokio::test]
async fn extended_connect_streams_are_drained_too() {
    use bytes::Bytes;
    use http::{Method, Request};
    use http_body_util::Empty;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .http2_extended_connect(true)
        .drain_timeout(Duration::from_secs(10));
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let tcp = TcpStream::connect(running.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    // A plain request first: the server's SETTINGS have then arrived.
    let plain = Request::get("http://localhost/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    within("a plain request", sender.send_request(plain))
        .await
        .unwrap();
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri("http://localhost/echo")
        .body(Empty::<Bytes>::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("echo"));
    let res = within("CONNECT", sender.send_request(req)).await.unwrap();
    let mut stream = TokioIo::new(within("upgrade", hyper::upgrade::on(res)).await.unwrap());
    round_trip(&mut stream, b"x").await;
    let _ = running.shutdown.send(());
    assert_eq!(read_to_end(&mut stream).await, b"bye");
    drop(stream);
    drop(sender);
    within("the server to stop", running.join)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counts.get(), (1, 1, 1));
    assert_eq!(stats.upgraded_connections(), 0);
}

#[tokio::test]
async fn an_upgrade_during_the_drain_still_says_connection_upgrade() {
    // A kept-alive HTTP/1 connection told to finish answers a request that
    // arrives in its linger with `Connection: close` — except a 101, which
    // must keep `Connection: upgrade`; its handler is told at once.
    let counts = Arc::new(Counts::default());
    let running = TestServer::start(echo_app(counts.clone(), OnShutdown::SayBye)).await;
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let (head, _) = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
    let _ = running.shutdown.send(());
    tokio::task::yield_now().await;
    tcp.write_all(&upgrade_request("/", b"")).await.unwrap();
    let (head, rest) = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nconnection: upgrade"), "{head}");
    assert!(!lower.contains("close"), "{head}");
    let mut said = rest;
    said.extend(read_to_end(&mut tcp).await);
    assert_eq!(said, b"bye");
    within("the server to stop", running.join)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counts.get(), (1, 1, 1));
}

#[tokio::test]
async fn the_idle_timeout_leaves_upgraded_connections_alone() {
    use bytes::Bytes;
    use http::{Method, Request};
    use http_body_util::Empty;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .idle_timeout(Duration::from_millis(100))
        .http2_extended_connect(true);
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    // HTTP/1.1: the connection left the idle sweeper at the 101.
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    upgrade_and_echo(&mut tcp, b"").await;
    // HTTP/2: the extended CONNECT stream keeps its connection busy.
    let h2 = TcpStream::connect(running.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(h2))
            .await
            .unwrap();
    tokio::spawn(conn);
    let plain = Request::get("http://localhost/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    within("a plain request", sender.send_request(plain))
        .await
        .unwrap();
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri("http://localhost/echo")
        .body(Empty::<Bytes>::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("echo"));
    let res = within("CONNECT", sender.send_request(req)).await.unwrap();
    let mut stream = TokioIo::new(within("upgrade", hyper::upgrade::on(res)).await.unwrap());
    // Several idle timeouts without a byte either way.
    tokio::time::sleep(Duration::from_millis(600)).await;
    round_trip(&mut tcp, b"still open").await;
    round_trip(&mut stream, b"still open too").await;
    // Not idle, so not told to finish (GOAWAY): it takes new streams.
    let plain = Request::get("http://localhost/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    within("another request", sender.send_request(plain))
        .await
        .expect("the HTTP/2 connection still takes requests");
    drop((tcp, stream, sender));
    running.stop().await;
    assert_eq!(counts.get(), (2, 2, 2));
}
