//! gateway-hyper's own duties over real sockets: handing an upgraded
//! connection to the application, and telling the application when the
//! client's upload was cut short.

use std::sync::{Arc, Mutex};

use gateway_core::http::StatusCode;
use gateway_core::{BodyError, Environ, Error, fn_app, start};
use gateway_tests::{TestServer, split_head, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP/1.1 upgrade: the application answers 101 and then speaks its
/// own protocol (here: echo) over the connection hyper hands it.
#[tokio::test]
async fn upgrade_hands_the_connection_to_the_application() {
    let app = fn_app(|mut env: Environ| async move {
        let Some(on_upgrade) = env.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
            return Err(Error::with_status(
                StatusCode::BAD_REQUEST,
                "not an upgrade",
            ));
        };
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let mut io = hyper_util::rt::TokioIo::new(upgraded);
            let mut buf = [0u8; 64];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        start(101, [("upgrade", "echo"), ("connection", "upgrade")]).empty()
    });
    let server = TestServer::start(app).await;
    let mut tcp = within("connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within("101 head", tcp.read_exact(&mut byte)).await.unwrap();
        head.push(byte[0]);
    }
    let (head, _) = split_head(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: echo"),
        "{head}"
    );
    tcp.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    within(
        "echo over the upgraded connection",
        tcp.read_exact(&mut echoed),
    )
    .await
    .unwrap();
    assert_eq!(&echoed, b"ping");
    drop(tcp);
    server.stop().await;
}

/// A client that announces 1,000 bytes, sends 5 and closes: the
/// application's read fails with `BodyError::Incomplete` (a 400), not with
/// an anonymous 500.
#[tokio::test]
async fn cut_upload_is_reported_as_incomplete() {
    let seen: Arc<Mutex<Option<(StatusCode, bool)>>> = Arc::default();
    let record = seen.clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let done_tx = Arc::new(Mutex::new(Some(done_tx)));
    let app = fn_app(move |mut env: Environ| {
        let record = record.clone();
        let done_tx = done_tx.clone();
        async move {
            let result = env.take_body().to_bytes(1 << 20).await;
            let err = result.expect_err("the upload was cut short");
            let incomplete = matches!(err.downcast_ref::<BodyError>(), Some(BodyError::Incomplete));
            *record.lock().unwrap() = Some((err.status(), incomplete));
            if let Some(tx) = done_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
            Err(err)
        }
    });
    let server = TestServer::start(app).await;
    let mut tcp = within("connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    tcp.write_all(b"POST /upload HTTP/1.1\r\nhost: t\r\ncontent-length: 1000\r\n\r\nhello")
        .await
        .unwrap();
    tcp.shutdown().await.unwrap();
    within("the application saw the cut", done_rx)
        .await
        .unwrap();
    let (status, incomplete) = seen.lock().unwrap().expect("recorded");
    assert!(incomplete, "the error is BodyError::Incomplete");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    drop(tcp);
    server.stop().await;
}

/// `Expect: 100-continue` completes. The server answers either `100
/// Continue` (when the application reads the body before its response
/// starts) or, as here, the final head at once: the echo's length is known
/// from `Content-Length`, so the driver commits before the body is read
/// (RFC 9110 §10.1.1 lets the client send the body on either).
#[tokio::test]
async fn expect_continue_completes() {
    let server = TestServer::start(gateway_examples::hello::app()).await;
    let mut tcp = within("connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    tcp.write_all(
        b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within("a first head", tcp.read_exact(&mut byte))
            .await
            .unwrap();
        head.push(byte[0]);
    }
    let (first, _) = split_head(&head);
    assert!(
        first.starts_with("HTTP/1.1 100") || first.starts_with("HTTP/1.1 200"),
        "{first}"
    );
    tcp.write_all(b"hello").await.unwrap();
    let mut rest = Vec::new();
    while !rest.ends_with(b"hello") {
        let n = within("the echo", tcp.read(&mut byte)).await.unwrap();
        assert!(
            n > 0,
            "closed before the echo: {:?}",
            String::from_utf8_lossy(&rest)
        );
        rest.push(byte[0]);
    }
    if first.starts_with("HTTP/1.1 100") {
        assert!(String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 200"));
    }
    drop(tcp);
    server.stop().await;
}
