//! Slow and idle clients: slowloris, idle keep-alive and silent
//! connections.

use super::*;

const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(500);

/// A slowloris client sends a request line and a header, then one more
/// header byte every 100 ms, never finishing the head. With a 500 ms
/// header-read timeout the server closes it (silently: hyper sends no 408)
/// well within 2 s — the timer is not reset by trickling bytes — and
/// another client is served normally meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_disconnected_while_others_are_served() {
    let server = start_server(|s| s.header_read_timeout(HEADER_READ_TIMEOUT)).await;
    let addr = server.addr;
    let (trickling, trickling_rx) = oneshot::channel::<()>();
    let began = Instant::now();
    let slow = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("set_nodelay");
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write the start of the head");
        let (mut rd, mut wr) = stream.split();
        // The pace of the attack, not synchronisation.
        let mut pace = tokio::time::interval(Duration::from_millis(100));
        pace.tick().await;
        let mut trickling = Some(trickling);
        let mut sent = 0usize;
        let mut received = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            tokio::select! {
                read = rd.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return (began.elapsed(), sent, received),
                    Ok(n) => received.extend_from_slice(&chunk[..n]),
                },
                _ = pace.tick() => {
                    if wr.write_all(b"X").await.is_err() {
                        return (began.elapsed(), sent, received);
                    }
                    sent += 1;
                    if sent == 2 {
                        if let Some(tx) = trickling.take() {
                            let _ = tx.send(());
                        }
                    }
                }
            }
        }
    });

    within("the slowloris client to start trickling", trickling_rx)
        .await
        .expect("the slowloris client failed before trickling");
    // Another client, meanwhile: served at once.
    let served = tokio::time::timeout(Duration::from_secs(1), async {
        let mut conn = Conn::open(addr).await;
        conn.send(b"GET /normal HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        conn.response("normal client").await
    })
    .await
    .expect("a normal client is served within 1 s during the slowloris")
    .expect("a response");
    let served_at = began.elapsed();
    assert_eq!(served.status, 200, "{:?}", served.head);
    assert_eq!(served.body_str(), "GET /normal\n");

    let (closed_at, sent, received) = tokio::time::timeout(Duration::from_secs(5), slow)
        .await
        .expect("the slowloris client is still connected after 5 s")
        .expect("slowloris task panicked");
    eprintln!(
        "slowloris: closed after {closed_at:?} ({sent} bytes trickled); other client served at {served_at:?}"
    );
    assert!(
        closed_at <= Duration::from_secs(2),
        "the slowloris client was disconnected only after {closed_at:?}"
    );
    assert!(
        closed_at >= Duration::from_millis(450),
        "disconnected before the header-read timeout: {closed_at:?}"
    );
    assert!(sent >= 3, "the client trickled only {sent} bytes");
    assert!(
        received.is_empty(),
        "the server sent {:?} before closing",
        lossy(&received)
    );
    assert!(
        served_at < closed_at,
        "the other client was served ({served_at:?}) only after the slowloris closed ({closed_at:?})"
    );
    assert_eq!(server.seen(), ["GET /normal"]);
    assert_still_serving(addr).await;
    server.stop().await;
}

/// A keep-alive connection that completes a request and then stays silent
/// is closed (silently) by the server about one header-read timeout
/// later: hyper's timer runs while it waits for the next request's head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connection_is_closed() {
    let server = start_server(|s| s.header_read_timeout(HEADER_READ_TIMEOUT)).await;
    let mut conn = Conn::open(server.addr).await;
    conn.send(b"GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let response = conn.response("first request").await.expect("a response");
    assert_eq!(response.status, 200, "{:?}", response.head);
    assert_eq!(response.header("connection"), None, "kept alive");

    let idle = conn
        .closed_within(Duration::from_secs(2))
        .await
        .expect("the idle keep-alive connection is still open after 2 s");
    eprintln!("idle keep-alive connection closed after {idle:?}");
    assert!(
        idle >= Duration::from_millis(400),
        "closed before the header-read timeout: {idle:?}"
    );
    assert_still_serving(server.addr).await;
    server.stop().await;
}

/// A client that connects and sends nothing at all — or only the first
/// bytes of the HTTP/2 preface — should be closed like any other client
/// that does not finish its head in time.
///
/// (This once failed: hyper-util's `auto` connection waited for the first
/// 24 bytes without a deadline. gateway-hyper now tells the protocols apart
/// itself, under the header-read timeout.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connection_is_closed() {
    let server = start_server(|s| s.header_read_timeout(HEADER_READ_TIMEOUT)).await;
    for (what, sent) in [
        ("nothing", &b""[..]),
        ("a partial HTTP/2 preface", &b"PRI * HTTP/2.0\r\n"[..]),
    ] {
        let mut conn = Conn::open(server.addr).await;
        conn.send(sent).await.expect("write");
        let closed = conn.closed_within(Duration::from_secs(3)).await;
        assert!(
            closed.is_some(),
            "a client that sent {what} is still connected after 3 s"
        );
        assert_still_serving(server.addr).await;
    }
    server.stop().await;
}
