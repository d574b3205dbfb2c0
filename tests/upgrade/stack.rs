//! An upgrade through middleware that knows nothing of upgrades — Lint,
//! ProxyHeaders, Mount, Sessions, AccessLog — in-process through
//! `TestClient` and over gateway-hyper: the switch passes untouched.

use gateway_core::lint::{Lint, Violations};
use gateway_core::test_client::TestClient;
use gateway_core::{Addr, ApplicationExt, ConnInfo};
use gateway_middleware::access_log::Format;
use gateway_middleware::sessions::MemoryStore;
use gateway_middleware::{AccessLog, Mount, ProxyHeaders, Session, Sessions};
use tokio::net::TcpStream;

use super::*;

/// The echo application under `/ws`, reading the session first and
/// answering with what it saw of its mount point when it does not switch.
fn stack(counts: Arc<Counts>) -> (impl Application, Violations) {
    let echo = echo_app(counts, OnShutdown::SayBye);
    let app = fn_app(move |env: Environ| {
        let echo = echo.clone();
        async move {
            let session = Session::of(&env).expect("Sessions puts a session in every request");
            let _user: Option<String> = session.get("user").await?;
            if env.path_info() == "/where" {
                let text = format!("{} {}", env.script_name(), env.scheme());
                return start(200, [("content-type", "text/plain")]).body(text);
            }
            echo.call(env).await
        }
    });
    let (lint, violations) = Lint::collecting();
    let app = Mount::new()
        .mount("/ws", app.with(lint.clone()))
        .with(Sessions::new(MemoryStore::new()))
        .with(
            AccessLog::new()
                .format(Format::Common)
                .to_writer(std::io::sink()),
        )
        .with(
            ProxyHeaders::new()
                .trusted_proxies(["127.0.0.1"])
                .x_prefix(1),
        )
        .with(lint);
    (app, violations)
}

#[tokio::test]
async fn in_process() {
    let counts = Arc::new(Counts::default());
    let (app, violations) = stack(counts.clone());
    let proxy = ConnInfo::new(Addr::Tcp("127.0.0.1:40000".parse().unwrap()), Addr::None);
    let client = TestClient::new(app).with_conn(proxy);
    let res = client
        .get("/ws/where")
        .header("x-forwarded-prefix", "/outer")
        .send()
        .await;
    assert_eq!(res.text(), "/outer/ws http");
    let (res, mut conn) = client
        .get("/ws/echo")
        .header("x-forwarded-prefix", "/outer")
        .upgrade("echo")
        .await
        .unwrap();
    assert_eq!(res.status(), 101);
    assert_eq!(res.header("x-echo"), Some("1"));
    round_trip(&mut conn, b"through the stack").await;
    conn.shutdown().await.unwrap();
    conn.join().await;
    assert_eq!(counts.get(), (1, 1, 1));
    violations.assert_none();
}

#[tokio::test]
async fn over_gateway_hyper() {
    let counts = Arc::new(Counts::default());
    let (app, violations) = stack(counts.clone());
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let stats = server.stats();
    let running = TestServer::serve(server, app);
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    let request = b"GET /ws/echo HTTP/1.1\r\nHost: test\r\nConnection: upgrade\r\n\
        Upgrade: echo\r\nX-Forwarded-Prefix: /outer\r\n\r\nearly";
    within("write", tcp.write_all(request)).await.unwrap();
    let (head, rest) = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut early = rest;
    while early.len() < 5 {
        let mut buf = [0; 16];
        let n = within("read", tcp.read(&mut buf)).await.unwrap();
        assert!(n > 0);
        early.extend_from_slice(&buf[..n]);
    }
    assert_eq!(early, b"early");
    round_trip(&mut tcp, b"through the stack, over a socket").await;
    drop(tcp);
    no_upgraded_left(&stats).await;
    assert_eq!(counts.get(), (1, 1, 1));
    violations.assert_none();
    running.stop().await;
}
