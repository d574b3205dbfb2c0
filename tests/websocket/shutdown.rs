//! The server's graceful shutdown reaches open WebSockets (close 1001) and
//! waits for them; an upgrade passes through middleware untouched.

use std::time::{Duration, Instant};

use gateway_core::ApplicationExt as _;
use gateway_core::lint::Lint;
use gateway_middleware::sessions::MemoryStore;
use gateway_middleware::{Mount, ProxyHeaders, Sessions};

use super::*;

/// Two open sockets both get close 1001 when the server shuts down; they
/// answer, and the server stops at once, not at its drain deadline.
#[tokio::test]
async fn shutdown_sends_1001_to_open_sockets() {
    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .drain_timeout(Duration::from_secs(30));
    let server = TestServer::serve(server, echo_app());
    let (mut first, _) = connect(server.addr, "/ws").await;
    let (mut second, _) = connect(server.addr, "/ws").await;
    round_trip(&mut first, "one").await;
    round_trip(&mut second, "two").await;

    let began = Instant::now();
    let _ = server.shutdown.send(());
    for ws in [&mut first, &mut second] {
        assert_eq!(close_code_of(ws).await, 1001);
        // Reading on sends tungstenite's close reply; then the server closes.
        assert!(within("the server to close", ws.next()).await.is_none());
    }
    within("server shutdown", server.join)
        .await
        .expect("server task")
        .expect("server result");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "the drain waited {:?} for sockets that had closed",
        began.elapsed()
    );
}

/// A client that never answers the close is cut at the drain deadline.
#[tokio::test]
async fn a_silent_client_is_cut_at_the_drain_deadline() {
    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .drain_timeout(Duration::from_millis(500));
    let server = TestServer::serve(server, echo_app());
    let (mut ws, _) = connect(server.addr, "/ws").await;
    round_trip(&mut ws, "hello").await;
    // Stop reading: the client neither sees nor answers the close.
    let began = Instant::now();
    let _ = server.shutdown.send(());
    within("server shutdown", server.join)
        .await
        .expect("server task")
        .expect("server result");
    assert!(
        began.elapsed() >= Duration::from_millis(400),
        "{:?}",
        began.elapsed()
    );
    // What the client gets: the close, then the end.
    assert_eq!(close_code_of(&mut ws).await, 1001);
}

/// Through `Lint`, `ProxyHeaders`, `Mount` and `Sessions` the switch and
/// its handler arrive untouched: echo at `/chat/ws`.
#[tokio::test]
async fn an_upgrade_passes_through_middleware() {
    let app = Mount::new()
        .mount("/chat", echo_app())
        .with(Sessions::new(MemoryStore::new()))
        .with(ProxyHeaders::new().trusted_proxies(["127.0.0.1"]))
        .with(Lint::new());
    let server = TestServer::start(app).await;
    let (mut ws, protocol) = connect(server.addr, "/chat/ws").await;
    assert_eq!(protocol.as_deref(), Some("echo"));
    round_trip(&mut ws, "through the stack").await;
    within("close", ws.close(None)).await.expect("close");
    assert!(matches!(next(&mut ws).await, ts::Message::Close(_)));
    drop(ws);
    server.stop().await;
}
