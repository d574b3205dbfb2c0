use gateway_core::test_client::TestClient;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::app;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A masked client text frame (RFC 6455 §5.2) with a zero mask.
fn text_frame(text: &str) -> Vec<u8> {
    assert!(text.len() < 126);
    let mut frame = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(text.as_bytes());
    frame
}

#[tokio::test]
async fn echoes_and_says_bye() {
    let client = TestClient::new(app());
    let (res, mut conn) = client
        .get("/ws")
        .header("host", "localhost")
        .header("origin", "http://localhost")
        .header("sec-websocket-key", KEY)
        .header("sec-websocket-version", "13")
        .upgrade("websocket")
        .await
        .expect("the socket opens");
    assert_eq!(res.status(), 101);
    conn.write_all(&text_frame("hi")).await.unwrap();
    // The server's frames are not masked: 0x81, the length, the payload.
    let mut reply = [0u8; 2 + 8];
    conn.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"\x81\x08echo: hi");
    conn.write_all(&text_frame("bye")).await.unwrap();
    let mut close = [0u8; 2 + 2 + 3];
    conn.read_exact(&mut close).await.unwrap();
    assert_eq!(&close, b"\x88\x05\x03\xe8bye", "close 1000 \"bye\"");
}

#[tokio::test]
async fn a_foreign_origin_is_refused() {
    let client = TestClient::new(app());
    let res = client
        .get("/ws")
        .header("host", "localhost")
        .header("origin", "https://evil.example")
        .header("sec-websocket-key", KEY)
        .header("sec-websocket-version", "13")
        .upgrade("websocket")
        .await
        .expect_err("refused");
    assert_eq!(res.status(), 403);
}
