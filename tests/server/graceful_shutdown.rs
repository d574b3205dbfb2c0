//! The graceful drain, and the application's startup and shutdown hooks.

use super::*;

/// `/wait` announces itself on `entered` and waits for `release`; `/never`
/// announces itself and never ends (its future raises `dropped` when
/// dropped); `shutdown` raises `shut_down`.
#[derive(Default)]
struct Lifecycle {
    entered: Notify,
    release: Notify,
    dropped: Arc<Flag>,
    shut_down: Flag,
}

impl Application for Lifecycle {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        match env.path_info() {
            "/wait" => {
                self.entered.notify_one();
                self.release.notified().await;
                start(200, TEXT).body("drained")
            }
            "/never" => {
                let _guard = RaiseOnDrop(self.dropped.clone());
                self.entered.notify_one();
                std::future::pending().await
            }
            _ => start(200, TEXT).body("ok"),
        }
    }

    async fn shutdown(&self) {
        self.shut_down.raise();
    }
}

/// A new connection during the drain is refused (connect fails) or closed
/// without a response.
async fn assert_not_served(addr: SocketAddr) {
    match within("connect during the drain", TcpStream::connect(addr)).await {
        Err(err) => assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}"),
        Ok(mut stream) => {
            // The server may close before reading; what matters is that
            // no response comes.
            let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
            let mut buf = [0u8; 1024];
            match within(
                "the server to close a new connection",
                stream.read(&mut buf),
            )
            .await
            {
                Ok(0) => {}
                Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {}
                Ok(n) => panic!(
                    "a new connection was served during the drain: {:?}",
                    String::from_utf8_lossy(&buf[..n])
                ),
                Err(err) => panic!("read failed: {err}"),
            }
        }
    }
}

/// On shutdown with a request in flight: new connections are not served,
/// an idle keep-alive connection is closed at once, the in-flight request
/// completes when the application lets it, and only then does the server
/// run the application's `shutdown` and return `Ok`.
#[tokio::test]
async fn graceful_drain() {
    let life = Arc::new(Lifecycle::default());
    let server = Server::bind("127.0.0.1:0").await.expect("bind");
    let addr = server.local_addr().expect("local_addr");
    let mut running = spawn(server, life.clone());

    let mut idle = Client::connect(Proto::Http1, addr).await;
    let (parts, _) = idle.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::OK);
    let idle_conn = idle.connection().expect("connection task");

    let mut busy = Client::connect(Proto::Http1, addr).await;
    let in_flight = tokio::spawn(async move {
        let (parts, body) = busy.fetch(Method::GET, "/wait").await;
        (parts.status, body)
    });
    within("/wait to reach the application", life.entered.notified()).await;

    running.begin_shutdown().await;
    assert_not_served(addr).await;
    within("the idle connection to be closed", idle_conn)
        .await
        .expect("idle connection task")
        .expect("the idle connection closed cleanly");
    assert!(
        !running.join.is_finished(),
        "the server returned with a request in flight"
    );
    assert!(!life.shut_down.is_raised(), "shutdown ran before the drain");

    life.release.notify_one();
    let (status, body) = within("the in-flight request", in_flight)
        .await
        .expect("the in-flight client task");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "drained");
    within("the server to return", running.join)
        .await
        .expect("server task panicked")
        .expect("serve_with_shutdown returns Ok after a drain");
    assert!(life.shut_down.is_raised(), "the application's shutdown ran");
}

/// `drain_timeout(300 ms)` with a request that never ends: the server
/// waits out the deadline, then closes the connection (the client's
/// request fails, the application's future is dropped), runs `shutdown`,
/// and returns `Ok` within the bound.
#[tokio::test]
async fn drain_deadline() {
    let life = Arc::new(Lifecycle::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .drain_timeout(SHORT);
    let addr = server.local_addr().expect("local_addr");
    let mut running = spawn(server, life.clone());

    let mut client = Client::connect(Proto::Http1, addr).await;
    let stuck = tokio::spawn(async move {
        let req = client.request(Method::GET, "/never", empty());
        client.try_send(req).await.map(|res| res.status())
    });
    within("/never to reach the application", life.entered.notified()).await;

    let started = Instant::now();
    running.begin_shutdown().await;
    let result = tokio::time::timeout(SHORT_BOUND, &mut running.join)
        .await
        .expect("the server returns soon after the drain deadline");
    let elapsed = started.elapsed();
    result
        .expect("server task panicked")
        .expect("serve_with_shutdown returns Ok after the deadline");
    assert!(
        elapsed >= SHORT,
        "returned before the deadline: {elapsed:?}"
    );

    let outcome = within("the client to see the close", stuck)
        .await
        .expect("client task");
    assert!(
        outcome.is_err(),
        "the request should fail with the closed connection: {outcome:?}"
    );
    assert!(
        life.dropped.is_raised(),
        "the application's future was dropped"
    );
    assert!(life.shut_down.is_raised(), "the application's shutdown ran");
}

/// An application whose `startup` fails.
struct BrokenStartup {
    calls: AtomicUsize,
}

impl Application for BrokenStartup {
    async fn call(&self, _env: Environ) -> Result<Response, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        start(200, TEXT).body("ok")
    }

    async fn startup(&self) -> Result<(), Error> {
        Err(Error::new("database unreachable"))
    }
}

/// A failing `startup` makes `serve_with_shutdown` return an error that
/// says so, without serving: the listener (here a Unix socket) is closed
/// and its file removed.
#[tokio::test]
async fn startup_error() {
    let dir = TempDir::new("server");
    let sock = dir.join("startup.sock");
    let server = Server::bind_unix(&sock, None).expect("bind_unix");
    let app = Arc::new(BrokenStartup {
        calls: AtomicUsize::new(0),
    });
    let err = within(
        "serve_with_shutdown to fail",
        server.serve_with_shutdown(app.clone(), std::future::pending()),
    )
    .await
    .expect_err("a failing startup is an error");
    let message = err.to_string();
    assert!(message.contains("startup"), "{message}");
    assert!(message.contains("database unreachable"), "{message}");
    assert!(!exists(&sock), "the socket file is removed");
    assert!(
        UnixStream::connect(&sock).await.is_err(),
        "nothing listens any more"
    );
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
}

/// A shutdown signal that is already complete when serving starts (the
/// crate's own doc example passes `async {}`) must still stop the server:
/// once `serve_with_shutdown` has returned (and run the application's
/// `shutdown`), nothing may listen or serve.
///
/// (A regression test: the accept loops once subscribed to the shutdown
/// phase only when their task first ran, so a drain that began earlier was
/// missed and the listeners kept serving.)
#[tokio::test]
async fn immediate_shutdown_closes_the_listeners() {
    let dir = TempDir::new("server");
    let sock = dir.join("immediate.sock");
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::bind_unix(&sock, None).expect("bind_unix");
    within(
        "serve_with_shutdown with a completed signal",
        server.serve_with_shutdown(counting_app(calls.clone()), async {}),
    )
    .await
    .expect("serve_with_shutdown returns Ok");

    let still_there = exists(&sock);
    // If something still listens, find out whether it serves.
    let served = match UnixStream::connect(&sock).await {
        Err(_) => None,
        Ok(mut stream) => {
            let _ = stream
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .await;
            Some(read_to_close(&mut stream).await)
        }
    };
    assert!(
        !still_there && served.is_none(),
        "after serve_with_shutdown returned: socket file present: {still_there}; \
         a new connection got: {:?}",
        served.map(|raw| String::from_utf8_lossy(&raw).into_owned())
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the application was called after its shutdown"
    );
}

/// The shutdown signal future is polled before the first connection is
/// accepted: `shutdown_signal` installs its SIGTERM handler on its first
/// poll, and a SIGTERM that comes after the first answer but before that
/// poll would kill the process (seen 1 run in 30 with the demo on a
/// multi-threaded runtime, where the accept loops run at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signal_is_polled_before_the_first_request() {
    /// Raises `polled` on its first poll; completes when `fire` is notified.
    struct Signal {
        polled: Arc<Flag>,
        fire: Arc<Notify>,
    }
    impl Signal {
        async fn wait(self) {
            self.polled.raise();
            self.fire.notified().await;
        }
    }
    for _ in 0..20 {
        let polled = Arc::new(Flag::default());
        let fire = Arc::new(Notify::new());
        let seen = polled.clone();
        let app = fn_app(move |_env| {
            let seen = seen.clone();
            async move {
                let body = if seen.is_raised() {
                    "polled"
                } else {
                    "not polled"
                };
                start(200, TEXT).body(body)
            }
        });
        let server = gateway_hyper::Server::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let signal = Signal {
            polled,
            fire: fire.clone(),
        };
        let serving = tokio::spawn(server.serve_with_shutdown(app, signal.wait()));
        let request = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        let answer = gateway_tests::exchange(addr, request).await;
        let (head, body) = gateway_tests::split_head(&answer);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, b"polled");
        fire.notify_one();
        within("the server to stop", serving)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Reads one HTTP/1.1 response (head and `Content-Length` body) from
/// `stream`, then whether the server closed the connection after it.
async fn read_response_then_eof(stream: &mut TcpStream) -> (String, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        let n = within("a response", stream.read(&mut chunk))
            .await
            .expect("read the response");
        assert!(n > 0, "closed without a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().expect("a length"));
    while buf.len() < head_end + length {
        let n = within("the body", stream.read(&mut chunk))
            .await
            .expect("read");
        assert!(n > 0, "closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let n = within("the close", stream.read(&mut chunk))
        .await
        .expect("read to the end");
    (head, n == 0)
}

/// A request sent on an idle keep-alive connection just after the drain
/// began is answered (with `Connection: close`, then the close) instead of
/// being cut off unread: a proxy reusing the connection does not send a
/// `POST` twice, so a dropped one would be a failed request.
#[tokio::test]
async fn an_idle_connection_still_answers_a_request_just_sent() {
    let life = Arc::new(Lifecycle::default());
    let server = Server::bind("127.0.0.1:0").await.expect("bind");
    let addr = server.local_addr().expect("local_addr");
    let mut running = spawn(server, life.clone());

    let mut kept = TcpStream::connect(addr).await.expect("connect");
    let request = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi";
    kept.write_all(request).await.expect("write");
    let (head, closed) = read_response_then_eof_or_open(&mut kept).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!closed, "kept alive before the drain");

    running.begin_shutdown().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    kept.write_all(request)
        .await
        .expect("write after the drain began");
    let (head, closed) = read_response_then_eof(&mut kept).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close\r\n"), "{head}");
    assert!(closed, "closed after the answer");
    running.stop().await;
}

/// [`read_response_then_eof`] for a connection that stays open: the
/// response, and `false`.
async fn read_response_then_eof_or_open(stream: &mut TcpStream) -> (String, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = within("a response", stream.read(&mut chunk))
            .await
            .expect("read the response");
        assert!(n > 0, "closed: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..at + 4]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().expect("a length"));
            if buf.len() >= at + 4 + length {
                return (head, false);
            }
        }
    }
}

/// A connection waiting in the listener's queue when the drain begins
/// (here: accepting paused at the connection limit) is accepted and its
/// request answered, not reset by the listener's close.
#[tokio::test]
async fn a_queued_connection_is_served_not_reset() {
    let life = Arc::new(Lifecycle::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_connections(1);
    let addr = server.local_addr().expect("local_addr");
    let mut running = spawn(server, life.clone());

    // The one connection the limit allows, held open by a request.
    let mut first = TcpStream::connect(addr).await.expect("connect");
    first
        .write_all(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    within("/wait to reach the application", life.entered.notified()).await;
    // The second waits in the kernel's queue, its request sent.
    let mut queued = TcpStream::connect(addr).await.expect("connect");
    queued
        .write_all(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;

    running.begin_shutdown().await;
    let (head, closed) = read_response_then_eof(&mut queued).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(closed, "closed after the answer");
    life.release.notify_one();
    let (head, _) = read_response_then_eof(&mut first).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    running.stop().await;
}
