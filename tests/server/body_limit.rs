//! The request body limit (`max_body_size`).

use super::*;

/// `max_body_size(Some(10))`: an announced longer body gets 413 without the
/// application; a longer chunked body (one chunk or several) fails the
/// application's read with the server's limit, which `?` turns into 413;
/// bodies of exactly the limit pass.
#[tokio::test]
async fn body_limit() {
    let calls = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let app = {
        let calls = calls.clone();
        let errors = errors.clone();
        fn_app(move |mut env: Environ| {
            calls.fetch_add(1, Ordering::SeqCst);
            let errors = errors.clone();
            async move {
                let body = env
                    .take_body()
                    .to_bytes(u64::MAX)
                    .await
                    .inspect_err(|e| errors.lock().unwrap().push(e.to_string()))?;
                start(200, TEXT).body(format!("{} bytes", body.len()))
            }
        })
    };
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_body_size(Some(10));
    let server = TestServer::serve(server, app);
    let calls = || calls.load(Ordering::SeqCst);

    let announced = [
        &b"POST /announced HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"[..],
        &[b'x'; 100],
    ]
    .concat();
    let (head, _) = tcp_exchange(server.addr, &announced).await;
    assert_eq!(status(&head), 413, "{head}");
    assert_eq!(calls(), 0, "the application must not be called");

    let chunked = |chunks: &[usize]| {
        let mut raw =
            b"POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for &n in chunks {
            raw.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            raw.extend(std::iter::repeat_n(b'x', n));
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        raw
    };
    let (head, _) = tcp_exchange(server.addr, &chunked(&[100])).await;
    assert_eq!(status(&head), 413, "one chunk of 100: {head}");
    assert_eq!(calls(), 1);
    let (head, _) = tcp_exchange(server.addr, &chunked(&[6, 6])).await;
    assert_eq!(status(&head), 413, "two chunks of 6: {head}");
    assert_eq!(calls(), 2);
    {
        let errors = errors.lock().unwrap();
        assert_eq!(errors.len(), 2, "{errors:?}");
        for e in errors.iter() {
            // The server's limit, not the application's own (usize::MAX).
            assert!(e.contains("limit of 10 bytes"), "{e}");
        }
    }

    // Exactly the limit passes, chunked or announced.
    let (head, body) = tcp_exchange(server.addr, &chunked(&[4, 6])).await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(body, b"10 bytes");
    let (head, body) = tcp_exchange(
        server.addr,
        b"POST /exact HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789",
    )
    .await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(body, b"10 bytes");
    assert_eq!(calls(), 4);
    server.stop().await;
}
