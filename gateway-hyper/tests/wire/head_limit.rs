//! The head size limit holds however the head arrives: in one write (which
//! hyper once parsed whole, past its read-buffer limit, and answered 200)
//! or trickled; a head of exactly the limit is served, one byte more gets
//! 431 and a closed connection.

use std::time::Duration;

use crate::support::{Conn, Running, recording_app, serve};

/// The default limit, 64 KiB.
const DEFAULT: usize = 64 * 1024;

/// A GET whose head (up to and including the blank line) is exactly `len`
/// bytes, most of them in one header field.
fn head_of(len: usize) -> Vec<u8> {
    let start = b"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: ";
    let filler = len - start.len() - b"\r\n\r\n".len();
    let mut head = start.to_vec();
    head.resize(start.len() + filler, b'a');
    head.extend_from_slice(b"\r\n\r\n");
    assert_eq!(head.len(), len);
    head
}

/// A GET of about `len` bytes spread over many fields of 2,500 bytes.
fn head_of_many_fields(len: usize) -> Vec<u8> {
    let mut head = b"GET /many HTTP/1.1\r\nHost: x\r\n".to_vec();
    let mut i = 0;
    while head.len() < len {
        head.extend_from_slice(format!("X-F{i}: {}\r\n", "b".repeat(2500)).as_bytes());
        i += 1;
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Sends `head` in one write, or in 1 KiB writes paced by a millisecond
/// (so that they arrive as separate reads), and returns the status of
/// the response and whether the connection then closed.
async fn send(server: &Running, head: &[u8], trickle: bool) -> (u16, bool) {
    let mut conn = Conn::open(server.addr).await;
    // A server that refuses may close before reading everything.
    if trickle {
        for piece in head.chunks(1024) {
            if conn.send(piece).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    } else {
        let _ = conn.send(head).await;
    }
    let response = conn
        .response("the answer to a large head")
        .await
        .expect("an answer, not a bare close");
    let closed = if response.status == 431 {
        conn.assert_closed("after 431").await;
        true
    } else {
        false
    };
    (response.status, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_write_past_the_limit_gets_431() {
    let (app, seen) = recording_app();
    let server = serve(|s| s, app).await;
    for (what, head) in [
        ("a 70,000-byte field", head_of(70_000)),
        ("a 100 KB head of many fields", head_of_many_fields(100_000)),
        ("one byte over", head_of(DEFAULT + 1)),
    ] {
        assert_eq!(send(&server, &head, false).await, (431, true), "{what}");
    }
    assert!(seen.get().is_empty(), "{:?}", seen.get());
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_past_the_limit_gets_431() {
    let (app, seen) = recording_app();
    let server = serve(|s| s, app).await;
    assert_eq!(send(&server, &head_of(70_000), true).await, (431, true));
    assert_eq!(
        send(&server, &head_of(DEFAULT + 1), true).await,
        (431, true)
    );
    assert!(seen.get().is_empty(), "{:?}", seen.get());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_limit_is_served() {
    let (app, seen) = recording_app();
    let server = serve(|s| s, app).await;
    assert_eq!(send(&server, &head_of(DEFAULT), false).await, (200, false));
    assert_eq!(send(&server, &head_of(DEFAULT), true).await, (200, false));
    assert_eq!(seen.get(), ["GET /big", "GET /big"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_limit_holds_in_one_write() {
    let (app, seen) = recording_app();
    let server = serve(|s| s.max_header_size(16 * 1024), app).await;
    assert_eq!(
        send(&server, &head_of(16 * 1024), false).await,
        (200, false)
    );
    assert_eq!(
        send(&server, &head_of(16 * 1024 + 1), false).await,
        (431, true)
    );
    assert_eq!(send(&server, &head_of(40_000), false).await, (431, true));
    assert_eq!(seen.get(), ["GET /big"]);
    server.stop().await;
}
