//! Slow request bodies and slow readers no longer hold a connection
//! forever: a stalled body gets 408 at the body read timeout, a body that
//! trickles below the minimum rate gets 408 after the grace period, and a
//! client that stops reading a response has its connection closed. The
//! tests configure limits of about a second; the defaults are checked as
//! configuration.

use std::time::Duration;

use bytes::Bytes;
use gateway_core::{fn_app, start};
use gateway_hyper::{MinDataRate, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{recording_app, serve, within};

const SECOND: Duration = Duration::from_secs(1);

/// Reads what the server sends until it closes the connection (bounded),
/// and returns it; a reset counts as a close.
async fn read_until_closed(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match within("the server to answer and close", stream.read(&mut buf)).await {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_gets_408() {
    let (app, seen) = recording_app();
    let server = serve(
        |s| s.request_body_timeout(SECOND).min_request_body_rate(None),
        app,
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    // Then nothing more: the application waits for the other 90 bytes.
    let answer = read_until_closed(&mut stream).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert_eq!(seen.get(), ["POST /upload"]);
    server.assert_still_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_below_the_minimum_rate_gets_408() {
    let (app, seen) = recording_app();
    let rate = MinDataRate::new(1000, SECOND);
    let server = serve(
        |s| s.min_request_body_rate(rate).request_body_timeout(None),
        app,
    )
    .await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"POST /trickle HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    // 20 bytes a second, with no pause longer than the body read timeout
    // would be: only the rate catches it. Paced by a timer: that is the
    // attack.
    let trickle = tokio::spawn(async move {
        for _ in 0..1000 {
            if writer.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let answer = read_until_closed(&mut reader).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert_eq!(seen.get(), ["POST /trickle"]);
    trickle.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_at_a_fair_rate_is_read_whole() {
    let (app, seen) = recording_app();
    let server = serve(
        |s| {
            s.min_request_body_rate(MinDataRate::new(1000, SECOND))
                .request_body_timeout(SECOND)
        },
        app,
    )
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .write_all(
            b"POST /fair HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    for _ in 0..10 {
        stream.write_all(&[b'y'; 100]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = read_until_closed(&mut stream).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
    assert!(answer.ends_with("POST /fair 1000"), "{answer:?}");
    assert_eq!(seen.get(), ["POST /fair"]);
    server.stop().await;
}

/// A 64 MiB chunked response, far more than the socket buffers hold.
fn big_response_app() -> impl gateway_core::Application {
    fn_app(|_env| async {
        let chunk = Bytes::from(vec![b'z'; 64 * 1024]);
        start(200, [("content-type", "application/octet-stream")]).writer(move |mut w| async move {
            for _ in 0..1024 {
                w.write(chunk.clone()).await?;
            }
            Ok(())
        })
    })
}

/// Sends a GET, waits `pause` without reading, then reads until the server
/// closes or the chunked body's last chunk arrives; returns whether the
/// body was complete.
async fn read_late(server: std::net::SocketAddr, pause: Duration) -> bool {
    let mut stream = TcpStream::connect(server).await.unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Not reading is the attack; the timer paces it.
    tokio::time::sleep(pause).await;
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match within("the body or a close", stream.read(&mut buf)).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.ends_with(b"\r\n0\r\n\r\n") {
                    return true;
                }
                let keep = tail.len().saturating_sub(8);
                tail.drain(..keep);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off() {
    // A high rate: the grace period alone decides.
    let rate = MinDataRate::new(100 << 20, SECOND);
    let server = serve(|s| s.min_response_rate(rate), big_response_app()).await;
    assert!(
        !read_late(server.addr, 3 * SECOND).await,
        "a client that read nothing for 3 s got the whole response"
    );
    // Another client, reading at once, gets it all.
    assert!(read_late(server.addr, Duration::ZERO).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_pausing_within_the_grace_period_gets_everything() {
    let rate = MinDataRate::new(100 << 20, 10 * SECOND);
    let server = serve(|s| s.min_response_rate(rate), big_response_app()).await;
    assert!(read_late(server.addr, Duration::from_millis(200)).await);
    server.stop().await;
}

#[tokio::test]
async fn slow_clients_are_limited_by_default() {
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let settings = format!("{server:?}");
    let default_rate = format!("{:?}", Some(MinDataRate::new(240, 5 * SECOND)));
    for expected in [
        "request_body_timeout: Some(60s)".to_owned(),
        format!("min_request_body_rate: {default_rate}"),
        format!("min_response_rate: {default_rate}"),
    ] {
        assert!(settings.contains(&expected), "{expected} in {settings}");
    }
}
