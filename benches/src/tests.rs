//! The load client's cookie jar, and the session kinds counting per client:
//! each connection's session holds its own counter, carried by the cookie
//! the load client sends back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::{Jar, Kind};

#[test]
fn jar_keeps_replaces_and_removes_cookies() {
    let mut jar = Jar::default();
    let mut request = Vec::new();
    jar.request(b"GET / HTTP/1.1\r\nhost: bench\r\n", &mut request);
    assert_eq!(request, b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n");

    assert!(!jar.update(b"HTTP/1.1 200 OK\r\ncontent-length: 0"));
    assert!(jar.update(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; HttpOnly; Path=/\r\nset-cookie: b=1"
    ));
    jar.request(b"GET / HTTP/1.1\r\n", &mut request);
    assert_eq!(
        request,
        b"GET / HTTP/1.1\r\ncookie: session=abc; b=1\r\n\r\n"
    );

    assert!(jar.update(b"HTTP/1.1 200 OK\r\nset-cookie: session=def; Max-Age=60\r\n"));
    assert!(jar.update(b"HTTP/1.1 200 OK\r\nset-cookie: b=; Max-Age=0\r\n"));
    jar.request(b"GET / HTTP/1.1\r\n", &mut request);
    assert_eq!(request, b"GET / HTTP/1.1\r\ncookie: session=def\r\n\r\n");

    assert!(jar.update(b"HTTP/1.1 200 OK\r\nset-cookie: session=x; path=/; max-age=0\r\n"));
    assert!(!jar.update(b"HTTP/1.1 200 OK\r\nset-cookie: gone=; Max-Age=0\r\n"));
    jar.request(b"GET / HTTP/1.1\r\n", &mut request);
    assert_eq!(request, b"GET / HTTP/1.1\r\n\r\n");
}

/// Runs `kind` on a current-thread runtime on its own thread while `f`
/// talks to it.
fn with_server(kind: Kind, f: impl FnOnce(SocketAddr)) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send");
            super::serve(kind, listener, async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve");
        });
    });
    f(addr_rx.recv().expect("server address"));
    stop_tx.send(()).expect("stop");
    server.join().expect("server thread");
}

/// Sends `GET /` `n` times on one connection through a [`Jar`], returning
/// each response's body and how many responses changed the jar.
fn bodies(addr: SocketAddr, n: usize) -> (Vec<String>, usize) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = b"GET / HTTP/1.1\r\nhost: bench\r\n";
    let (mut jar, mut request) = (Jar::default(), Vec::new());
    let (mut out, mut cookies_set) = (Vec::new(), 0);
    for _ in 0..n {
        jar.request(head, &mut request);
        stream.write_all(&request).expect("write");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (end, len) = loop {
            let got = stream.read(&mut chunk).expect("read");
            assert!(got > 0, "server closed");
            buf.extend_from_slice(&chunk[..got]);
            if let Some(end) = super::find(&buf, b"\r\n\r\n") {
                let len = super::content_length(&buf[..end]).expect("content-length");
                if buf.len() >= end + 4 + len {
                    break (end, len);
                }
            }
        };
        assert!(
            buf.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf)
        );
        if jar.update(&buf[..end]) {
            cookies_set += 1;
        }
        out.push(String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned());
    }
    (out, cookies_set)
}

/// Each session kind counts 1, 2, 3 for one client, and a second client
/// starts its own count: the load client carries the session cookie.
#[test]
fn session_kinds_count_per_client() {
    let mut kinds = vec![Kind::SessionCookie, Kind::SessionMemory];
    if cfg!(feature = "axum-sessions") {
        kinds.push(Kind::AxumSessions);
    }
    for kind in kinds {
        with_server(kind, |addr| {
            let expected: Vec<String> = (1..=3).map(|n| format!("{n}\n")).collect();
            for client in ["first", "second"] {
                let (bodies, cookies_set) = bodies(addr, 3);
                assert_eq!(bodies, expected, "{kind:?}, {client} client");
                assert!(cookies_set >= 1, "{kind:?} set no cookie");
            }
        });
    }
}

/// Sessions around an application that never touches its session sets no
/// cookie: the untouched kind's requests stay cookieless.
#[test]
fn untouched_sessions_set_no_cookie() {
    with_server(Kind::SessionUntouched, |addr| {
        assert_eq!(bodies(addr, 3), (vec!["Hello, world!\n".to_owned(); 3], 0));
    });
}
