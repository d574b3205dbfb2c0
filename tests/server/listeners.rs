//! One server on several listeners.

use super::*;

/// One server on five listeners (a std listener, two `and_bind`, a Unix
/// socket, another std listener): `local_addr` and `local_addrs` report
/// them in order, and each answers with its own local address.
#[tokio::test]
async fn several_listeners() {
    let dir = TempDir::new("server");
    let sock = dir.join("multi.sock");
    let first = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a std listener");
    let first_addr = first.local_addr().expect("std local_addr");
    let last = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a std listener");
    let last_addr = last.local_addr().expect("std local_addr");

    let server = Server::from_std(first)
        .expect("from_std")
        .and_bind("127.0.0.1:0")
        .await
        .expect("and_bind")
        .and_bind("127.0.0.1:0")
        .await
        .expect("and_bind")
        .and_bind_unix(&sock, Some(0o660))
        .expect("and_bind_unix")
        .and_std(last)
        .expect("and_std");
    assert_eq!(server.local_addr().expect("local_addr"), first_addr);
    let addrs = server.local_addrs().expect("local_addrs");
    let tcp = match addrs.as_slice() {
        [
            Addr::Tcp(a),
            Addr::Tcp(b),
            Addr::Tcp(c),
            Addr::Unix(Some(u)),
            Addr::Tcp(d),
        ] => {
            assert_eq!(*u, sock);
            vec![*a, *b, *c, *d]
        }
        other => panic!("local_addrs: {other:?}"),
    };
    assert_eq!(tcp[0], first_addr);
    assert_eq!(tcp[3], last_addr);
    for (i, addr) in tcp.iter().enumerate() {
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
        assert!(!tcp[..i].contains(addr), "duplicate listener {addr}");
    }
    assert_eq!(
        std::fs::metadata(&sock)
            .expect("socket metadata")
            .permissions()
            .mode()
            & 0o777,
        0o660
    );

    let running = spawn(server, where_app());
    for addr in &tcp {
        let (head, body) = tcp_exchange(*addr, b"GET /tcp HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(status(&head), 200, "{addr}: {head}");
        assert_eq!(String::from_utf8_lossy(&body), format!("{addr} /tcp"));
    }
    let (head, body) = unix_get(&sock, "/unix").await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("unix:{} /unix", sock.display())
    );
    running.stop().await;
    assert!(!exists(&sock), "the socket file is removed after shutdown");
}
