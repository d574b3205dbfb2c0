//! The echo through a real nginx proxying WebSockets: nginx's documented
//! setup (`proxy_http_version 1.1`, `Upgrade` passed on, `Connection:
//! upgrade` from a `map`, empty for other requests so that upstream
//! keep-alive still works).

use std::process::Stdio;
use std::time::{Duration, Instant};

use gateway_tests::{KillOnDrop, TIMEOUT, TempDir};

use super::*;

/// nginx in front of `app` on a free port, killed when dropped.
struct Nginx {
    _child: KillOnDrop,
    addr: SocketAddr,
}

fn config(dir: &TempDir, port: u16, app: SocketAddr) -> String {
    let d = dir.path().display();
    format!(
        "
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{app};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
        }}
    }}
}}
"
    )
}

impl Nginx {
    /// Starts nginx (retrying on a port taken in between) and waits until
    /// it accepts (bounded).
    fn start(binary: &str, dir: &TempDir, app: SocketAddr) -> Nginx {
        let mut last = String::new();
        for _attempt in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, config(dir, port, app)).expect("write nginx.conf");
            let child = gateway_tests::spawn_nginx(
                binary.as_ref(),
                dir.path(),
                &conf,
                &dir.join("error.log"),
                Stdio::null(),
            );
            let mut child = KillOnDrop(child);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.0.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(addr).is_ok() {
                    return Nginx {
                        _child: child,
                        addr,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            last = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            if !last.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start: {last}");
    }
}

#[tokio::test]
async fn echo_through_nginx() {
    let Some(binary) = crate::nginx::nginx_binary() else {
        return;
    };
    let server = start_echo().await;
    let dir = TempDir::new("websocket-nginx");
    let nginx = Nginx::start(binary, &dir, server.addr);

    let (mut ws, protocol) = connect(nginx.addr, "/ws").await;
    assert_eq!(protocol.as_deref(), Some("echo"));
    round_trip(&mut ws, "through nginx").await;
    within(
        "ping",
        ws.send(ts::Message::Ping(ts::Bytes::from_static(b"hb"))),
    )
    .await
    .expect("ping");
    assert_eq!(
        next(&mut ws).await,
        ts::Message::Pong(ts::Bytes::from_static(b"hb"))
    );

    // A large message, and one over the limit: nginx passes frames on.
    let (mut big, _) = connect(nginx.addr, "/ws/big").await;
    let data = gateway_tests::pattern(1 << 20);
    within("send", big.send(ts::Message::binary(data.clone())))
        .await
        .expect("send");
    assert_eq!(next(&mut big).await, ts::Message::binary(data));
    let (mut over, _) = connect(nginx.addr, "/ws").await;
    within("send", over.send(ts::Message::binary(vec![0u8; LIMIT + 1])))
        .await
        .expect("send");
    assert_eq!(close_code_of(&mut over).await, 1009);

    // A malformed handshake's 4xx comes back through nginx.
    let (status, _) = raw_head(
        nginx.addr,
        "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
         Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 426 "), "{status}");

    // The server's shutdown reaches the client through nginx.
    drop((big, over));
    let _ = server.shutdown.send(());
    assert_eq!(close_code_of(&mut ws).await, 1001);
    assert!(within("the end", ws.next()).await.is_none());
    within("server shutdown", server.join)
        .await
        .expect("server task")
        .expect("server result");
    drop(nginx);
}
