//! Hostile and unlucky clients: upgrades that must not happen, and
//! clients that leave before or right after the switch.

use gateway_core::ApplicationExt;
use gateway_core::lint::{Lint, Rule};
use gateway_tests::exchange;
use tokio::net::TcpStream;

use super::*;

/// The statuses of the responses in `raw`, in order (bodies here hold no
/// `HTTP/1.`).
fn statuses(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("HTTP/1.")
        .map(|(at, _)| text[at + 9..at + 12].to_owned())
        .collect()
}

#[tokio::test]
async fn no_upgrade_on_http10() {
    let counts = Arc::new(Counts::default());
    let running = TestServer::start(echo_app(counts.clone(), OnShutdown::SayBye)).await;
    let raw = exchange(
        running.addr,
        b"GET / HTTP/1.0\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nnot a protocol",
    )
    .await;
    assert_eq!(statuses(&raw), ["426"], "{}", String::from_utf8_lossy(&raw));
    assert_eq!(counts.get(), (0, 0, 0));
    running.stop().await;
}

#[tokio::test]
async fn no_upgrade_on_a_request_with_a_body() {
    // The body's bytes must not reach a handler as protocol bytes, and the
    // request behind it is still read as a request.
    let counts = Arc::new(Counts::default());
    let running = TestServer::start(echo_app(counts.clone(), OnShutdown::SayBye)).await;
    let raw = exchange(
        running.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\
          Content-Length: 5\r\n\r\nhello\
          GET /next HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        statuses(&raw),
        ["426", "426"],
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert_eq!(counts.get(), (0, 0, 0));
    // Chunked too.
    let raw = exchange(
        running.addr,
        b"POST / HTTP/1.1\r\nHost: t\r\nConnection: upgrade, close\r\nUpgrade: echo\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&raw), ["426"], "{}", String::from_utf8_lossy(&raw));
    assert_eq!(counts.get(), (0, 0, 0));
    running.stop().await;
}

#[tokio::test]
async fn a_refused_upgrade_keeps_the_connection_for_http() {
    let counts = Arc::new(Counts::default());
    let running = TestServer::start(echo_app(counts.clone(), OnShutdown::SayBye)).await;
    let raw = exchange(
        running.addr,
        b"GET /refuse HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n\
          GET /again HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        statuses(&raw),
        ["400", "426"],
        "{}",
        String::from_utf8_lossy(&raw)
    );
    running.stop().await;
}

#[tokio::test]
async fn a_101_to_a_request_without_upgrade_is_refused() {
    let (lint, violations) = Lint::collecting();
    let app = fn_app(|_env: Environ| async {
        start(101, [("upgrade", "echo"), ("connection", "upgrade")]).empty()
    })
    .with(lint);
    let running = TestServer::start(app).await;
    let raw = exchange(
        running.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(statuses(&raw), ["500"], "{}", String::from_utf8_lossy(&raw));
    assert_eq!(violations.take()[0].rule(), Rule::FinalStatus);
    running.stop().await;
}

#[tokio::test]
async fn a_client_leaving_before_the_101_leaves_no_task() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    tcp.write_all(&upgrade_request("/slow", b"")).await.unwrap();
    drop(tcp);
    // Whether hyper drops the application's future or the 101 finds the
    // connection gone, the handler is dropped without being called.
    eventually("the handler to be dropped", || {
        counts.dropped.load(Ordering::SeqCst) == 1
    })
    .await;
    no_upgraded_left(&stats).await;
    eventually("the connection to close", || stats.open_connections() == 0).await;
    assert_eq!(counts.get(), (0, 0, 1));
    running.stop().await;
}

#[tokio::test]
async fn a_client_leaving_right_after_the_101() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    tcp.write_all(&upgrade_request("/", b"")).await.unwrap();
    let (head, _) = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    drop(tcp);
    // The handler reads the end of the stream and returns.
    no_upgraded_left(&stats).await;
    assert_eq!(counts.get(), (1, 1, 1));
    running.stop().await;
}

#[tokio::test]
async fn many_upgrades_leave_nothing_behind() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let mut clients = Vec::new();
    for i in 0..20u8 {
        let mut tcp = TcpStream::connect(running.addr).await.unwrap();
        upgrade_and_echo(&mut tcp, &[i; 10]).await;
        clients.push(tcp);
    }
    assert_eq!(stats.upgraded_connections(), 20);
    drop(clients);
    no_upgraded_left(&stats).await;
    assert_eq!(counts.get(), (20, 20, 20));
    running.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_ends_its_connection_only() {
    let app = fn_app(|mut env: Environ| async move {
        let Some(up) = env.upgrade() else {
            return start(200, [("content-type", "text/plain")]).body("still serving");
        };
        Ok(up.switch(HeaderMap::new(), |_io: Upgraded| async move {
            panic!("the handler failed");
        }))
    });
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let stats = server.stats();
    let running = TestServer::serve(server, app);
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    tcp.write_all(&upgrade_request("/", b"")).await.unwrap();
    let (head, _) = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // The panic drops the stream: the connection closes.
    assert!(read_to_end(&mut tcp).await.is_empty());
    no_upgraded_left(&stats).await;
    let raw = exchange(
        running.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(find(&raw, b"still serving").is_some());
    running.stop().await;
}
