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
