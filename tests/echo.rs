//! `POST /echo` of the hello example: a ~1 MiB request body sent in many
//! chunks comes back byte for byte, and really streams — the first echoed
//! bytes reach the client while the request body is still incomplete.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use gateway_examples::hello::app;
use gateway_tests::{Proto, TIMEOUT, TestServer, channel_body, pattern, within};
use http::header::CONTENT_TYPE;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::oneshot;

const CHUNK: usize = 16 * 1024;
const CHUNKS: usize = 64;

async fn echo_streams(proto: Proto) {
    let server = TestServer::start(app()).await;
    let mut client = server.client(proto).await;
    let input = Bytes::from(pattern(CHUNK * CHUNKS));

    let (tx, body) = channel_body(4);
    let (saw_echo_tx, saw_echo_rx) = oneshot::channel::<()>();
    let last_sent = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let input = input.clone();
        let last_sent = last_sent.clone();
        async move {
            for i in 0..CHUNKS - 1 {
                tx.send(input.slice(i * CHUNK..(i + 1) * CHUNK))
                    .await
                    .map_err(|_| format!("request body dropped after {i} chunks"))?;
            }
            // Hold the last chunk back until echoed bytes have arrived: a
            // server that buffers the request body never answers, and the
            // wait times out.
            match tokio::time::timeout(TIMEOUT, saw_echo_rx).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err("the reader stopped before any echo".to_owned()),
                Err(_) => {
                    return Err("no echoed bytes arrived while the last request chunk \
                                was held back: the echo does not stream"
                        .to_owned());
                }
            }
            tx.send(input.slice((CHUNKS - 1) * CHUNK..))
                .await
                .map_err(|_| "request body dropped before the last chunk".to_owned())?;
            last_sent.store(true, Ordering::SeqCst);
            // Dropping the sender ends the request body.
            Ok::<(), String>(())
        }
    });

    let mut req = client.request(Method::POST, "/echo", body);
    req.headers_mut()
        .insert(CONTENT_TYPE, "application/x-pattern".parse().unwrap());
    let res = within(
        "the response head of POST /echo (the last request chunk is held back \
         until echoed bytes arrive)",
        client.try_send(req),
    )
    .await
    .expect("POST /echo");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/x-pattern");

    let mut body = res.into_body();
    let mut echoed = BytesMut::with_capacity(input.len());
    let mut saw_echo = Some(saw_echo_tx);
    let mut frames = 0usize;
    while let Some(frame) = within(
        "the next echoed frame (the last request chunk is held back until the first arrives)",
        body.frame(),
    )
    .await
    {
        let frame = frame.unwrap_or_else(|e| panic!("echo body failed: {e}"));
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        frames += 1;
        if let Some(signal) = saw_echo.take() {
            assert!(
                !last_sent.load(Ordering::SeqCst),
                "the last request chunk was sent before any echo arrived"
            );
            assert!(
                data.len() < input.len(),
                "the first echoed frame already holds the whole body"
            );
            let _ = signal.send(());
        }
        echoed.extend_from_slice(&data);
    }

    within("request writer", writer)
        .await
        .expect("writer task")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(last_sent.load(Ordering::SeqCst));
    assert_eq!(echoed.len(), input.len(), "echoed length");
    assert!(echoed == input, "echoed bytes differ from the input");
    assert!(frames > 1, "a streamed echo arrives in more than one frame");

    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_streams_over_http1() {
    echo_streams(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_streams_over_http2() {
    echo_streams(Proto::Http2).await;
}
