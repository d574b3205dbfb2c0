//! `ServerStats` over real sockets, the drain delay (with a `Readiness`
//! endpoint built on the stats), and std Unix listeners given to the
//! server.

use gateway_hyper::ServerStats;
use gateway_middleware::Mount;
use gateway_middleware::health::Readiness;

use super::*;

/// Waits (bounded) until `holds` is true of the stats: the server updates
/// some of them in its connection tasks, after the client has moved on.
async fn eventually(what: &str, stats: &ServerStats, holds: impl Fn(&ServerStats) -> bool) {
    within(what, async {
        while !holds(stats) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// `/wait` announces itself on `entered` and waits for `release`; any
/// other path answers `ok`.
#[derive(Default)]
struct Gate {
    entered: Notify,
    release: Notify,
}

impl Application for Gate {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        if env.path_info() == "/wait" {
            self.entered.notify_one();
            self.release.notified().await;
            return start(200, TEXT).body("released");
        }
        start(200, TEXT).body("ok")
    }
}

/// Open connections go up with each client (HTTP/1.1 and HTTP/2 count
/// alike, and HTTP/2 streams are not connections) and down when it
/// closes; accepted connections only go up.
#[tokio::test]
async fn open_and_accepted_connections() {
    let server = Server::bind("127.0.0.1:0").await.expect("bind");
    let stats = server.stats();
    assert_eq!(
        (stats.open_connections(), stats.accepted_connections()),
        (0, 0)
    );
    let server = TestServer::serve(server, where_app());

    let mut h1 = server.client(Proto::Http1).await;
    let (parts, _) = h1.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::OK);
    // Counted when accepted, before the response could be written.
    assert_eq!(
        (stats.open_connections(), stats.accepted_connections()),
        (1, 1)
    );

    let mut h2 = server.client(Proto::Http2).await;
    // Concurrent streams on one connection.
    let mut second = h2.try_clone().expect("an HTTP/2 client clones");
    let (a, b) = tokio::join!(h2.fetch(Method::GET, "/a"), second.fetch(Method::GET, "/b"));
    assert_eq!((a.0.status, b.0.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        (stats.open_connections(), stats.accepted_connections()),
        (2, 2)
    );

    let conn = h1.connection().expect("connection task");
    drop(h1);
    within("the HTTP/1 client to close", conn)
        .await
        .expect("connection task")
        .expect("closed cleanly");
    eventually("the server to see the close", &stats, |s| {
        s.open_connections() == 1
    })
    .await;

    // Raw connections, one after the other.
    for i in 0..3 {
        let (head, _) = tcp_exchange(
            server.addr,
            b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(status(&head), 200, "{i}: {head}");
    }
    eventually("the raw connections to close", &stats, |s| {
        s.open_connections() == 1
    })
    .await;
    assert_eq!(stats.accepted_connections(), 5);

    drop((h2, second));
    eventually("the HTTP/2 connection to close", &stats, |s| {
        s.open_connections() == 0
    })
    .await;
    server.stop().await;
    assert_eq!(
        (stats.open_connections(), stats.accepted_connections()),
        (0, 5)
    );
    assert_eq!(
        stats.connections_limited(),
        0,
        "the limit was never reached"
    );
    assert_eq!(stats.requests_refused(), 0, "no concurrency limit");
}

/// `max_connections(1)`: the listener pauses as soon as one connection is
/// open (counted once per pause), a second client waits unaccepted, and
/// is accepted, and counted, once the first closes.
#[tokio::test]
async fn connections_limited_at_max_connections() {
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_connections(1);
    let stats = server.stats();
    let server = TestServer::serve(server, where_app());

    let mut first = server.client(Proto::Http1).await;
    let (parts, _) = first.fetch(Method::GET, "/first").await;
    assert_eq!(parts.status, StatusCode::OK);
    eventually("the listener to pause at the limit", &stats, |s| {
        s.connections_limited() == 1
    })
    .await;

    let mut second = within("tcp connect", TcpStream::connect(server.addr))
        .await
        .expect("the kernel queues the second connection");
    within(
        "write a request",
        second.write_all(b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n"),
    )
    .await
    .expect("write a request");
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(SHORT, second.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "the second was served at the limit: {early:?}"
    );
    assert_eq!(
        stats.accepted_connections(),
        1,
        "the second is not accepted yet"
    );
    assert_eq!(stats.connections_limited(), 1, "one pause, however long");
    assert_eq!(stats.open_connections(), 1);

    let conn = first.connection().expect("connection task");
    drop(first);
    within("the first connection to close", conn)
        .await
        .expect("connection task")
        .expect("closed cleanly");
    let (head, _) = read_response(&mut second).await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(stats.accepted_connections(), 2);
    // The second holds the only permit: the listener paused again.
    eventually("the second pause", &stats, |s| s.connections_limited() == 2).await;
    assert_eq!(stats.open_connections(), 1);
    drop(second);
    server.stop().await;
    assert_eq!(stats.open_connections(), 0);
}

/// `max_concurrent_requests(1)`: every request answered 503 while another
/// is in the application is counted; requests that were served are not.
#[tokio::test]
async fn requests_refused_at_the_concurrency_limit() {
    let gate = Arc::new(Gate::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_concurrent_requests(1);
    let stats = server.stats();
    let server = TestServer::serve(server, gate.clone());

    let mut held = server.client(Proto::Http1).await;
    let held = tokio::spawn(async move { held.fetch(Method::GET, "/wait").await.0.status });
    within("/wait to reach the application", gate.entered.notified()).await;

    let mut h1 = server.client(Proto::Http1).await;
    let mut h2 = server.client(Proto::Http2).await;
    for i in 0..3u64 {
        let client = if i == 1 { &mut h2 } else { &mut h1 };
        let (parts, _) = client.fetch(Method::GET, "/").await;
        assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE, "{i}");
        assert_eq!(stats.requests_refused(), i + 1);
    }

    gate.release.notify_one();
    let status = within("the held request", held).await.expect("client task");
    assert_eq!(status, StatusCode::OK);
    let (parts, _) = h2.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(
        stats.requests_refused(),
        3,
        "served requests are not counted"
    );
    drop((h1, h2));
    server.stop().await;
}

/// `is_draining` is false while the server runs and true from the moment
/// the shutdown signal completes (and after the server returned).
#[tokio::test]
async fn is_draining_flips_when_the_signal_fires() {
    let server = Server::bind("127.0.0.1:0").await.expect("bind");
    let addr = server.local_addr().expect("local_addr");
    let stats = server.stats();
    let mut running = spawn(server, where_app());
    let (head, _) = tcp_exchange(addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status(&head), 200, "{head}");
    assert!(!stats.is_draining(), "draining before the signal");

    running.begin_shutdown().await;
    assert!(
        stats.is_draining(),
        "not draining once the signal completed"
    );
    running.stop().await;
    assert!(stats.is_draining(), "draining is not undone");
}

/// `drain_delay`: once the signal completes, `is_draining` is true and a
/// `Readiness` endpoint built on it answers 503, but the server still
/// accepts and serves new and kept-alive connections for the delay; then
/// it stops accepting and drains as without a delay (an in-flight request
/// completes, then the server returns).
#[tokio::test]
async fn drain_delay_serves_on_then_refuses() {
    const DELAY: Duration = Duration::from_millis(1500);
    let gate = Arc::new(Gate::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .drain_delay(DELAY);
    let addr = server.local_addr().expect("local_addr");
    let stats = server.stats();
    let ready = stats.clone();
    let app = Mount::new()
        .mount("/readyz", Readiness::new(move || !ready.is_draining()))
        .fallback(gate.clone());
    let mut running = spawn(server, app);

    let readyz = b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut kept = within("tcp connect", TcpStream::connect(addr))
        .await
        .expect("tcp connect");
    let (head, body) = exchange(&mut kept, readyz).await;
    assert_eq!(
        (status(&head), body.as_slice()),
        (200, &b"ready\n"[..]),
        "{head}"
    );
    let mut busy = Client::connect(Proto::Http1, addr).await;
    let in_flight = tokio::spawn(async move {
        let (parts, body) = busy.fetch(Method::GET, "/wait").await;
        (parts.status, body)
    });
    within("/wait to reach the application", gate.entered.notified()).await;

    let started = Instant::now();
    running.begin_shutdown().await;
    assert!(stats.is_draining());
    // New connections are accepted and served during the delay.
    let (head, body) = tcp_exchange(addr, readyz).await;
    assert_eq!(status(&head), 503, "{head}");
    assert_eq!(body, b"not ready\n");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    let (head, body) = tcp_exchange(addr, b"GET /page HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(
        (status(&head), body.as_slice()),
        (200, &b"ok"[..]),
        "{head}"
    );
    // And so is a connection kept alive from before.
    let (head, _) = exchange(&mut kept, readyz).await;
    assert_eq!(status(&head), 503, "{head}");
    let checked = started.elapsed();
    assert!(
        checked < DELAY,
        "the checks during the delay took {checked:?}: the machine is too slow for this test"
    );

    // After the delay: the listener closes; the in-flight request holds
    // the server in its drain.
    within("new connections to be refused", async {
        loop {
            match TcpStream::connect(addr).await {
                // A connect that lands as the listener closes is reset.
                Err(err) => {
                    let refused = matches!(
                        err.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                    );
                    assert!(refused, "{err}");
                    break;
                }
                Ok(stream) => drop(stream),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let refused_after = started.elapsed();
    assert!(
        refused_after >= DELAY,
        "connections refused {refused_after:?} after the signal, before the {DELAY:?} delay"
    );
    assert!(
        !running.join.is_finished(),
        "returned with a request in flight"
    );
    // The kept-alive connection, idle, was closed by the drain.
    read_to_close(&mut kept).await;

    gate.release.notify_one();
    let (status, body) = within("the in-flight request", in_flight)
        .await
        .expect("client task");
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"released"[..]));
    within("the server to return", running.join)
        .await
        .expect("server task panicked")
        .expect("serve_with_shutdown returns Ok");
    assert_eq!(stats.open_connections(), 0);
}

/// `from_std_unix` and `and_std_unix`: a Unix socket bound by someone else
/// (systemd, a parent process) is served, reported by `local_addrs`, and
/// its file is left in place when the server stops (closed: nothing
/// listens any more).
#[tokio::test]
async fn std_unix_listeners_are_served_and_their_files_kept() {
    let dir = TempDir::new("server");
    let first = dir.join("given.sock");
    let second = dir.join("also-given.sock");
    let server = Server::from_std_unix(
        std::os::unix::net::UnixListener::bind(&first).expect("bind a std listener"),
    )
    .expect("from_std_unix")
    .and_bind("127.0.0.1:0")
    .await
    .expect("and_bind")
    .and_std_unix(std::os::unix::net::UnixListener::bind(&second).expect("bind"))
    .expect("and_std_unix");
    match server.local_addrs().expect("local_addrs").as_slice() {
        [Addr::Unix(Some(a)), Addr::Tcp(_), Addr::Unix(Some(b))] => {
            assert_eq!((*a, *b), (first.as_path(), second.as_path()));
        }
        other => panic!("local_addrs: {other:?}"),
    }
    let stats = server.stats();
    let running = spawn(server, where_app());

    for (path, target) in [(&first, "/one"), (&second, "/two")] {
        let (head, body) = unix_get(path, target).await;
        assert_eq!(status(&head), 200, "{head}");
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!("unix:{} {target}", path.display())
        );
    }
    assert_eq!(stats.accepted_connections(), 2);

    running.stop().await;
    for path in [&first, &second] {
        assert!(is_socket(path), "{} was removed", path.display());
        let err = UnixStream::connect(path)
            .await
            .expect_err("nothing listens after the server stopped");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    }
}

/// A std Unix listener with no path (an abstract socket, as some
/// supervisors pass) is served, and reported as `unix` without a path.
#[tokio::test]
async fn an_abstract_std_unix_listener_is_served() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr as UnixAddr;
    let name = format!("gateway-tests-stats-{}", std::process::id());
    let addr = UnixAddr::from_abstract_name(name.as_bytes()).expect("an abstract name");
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).expect("bind");
    let server = Server::from_std_unix(listener).expect("from_std_unix");
    let addrs = server.local_addrs().expect("local_addrs");
    assert!(matches!(addrs.as_slice(), [Addr::Unix(None)]), "{addrs:?}");
    let running = spawn(server, where_app());

    let stream = std::os::unix::net::UnixStream::connect_addr(&addr).expect("connect");
    stream.set_nonblocking(true).expect("set_nonblocking");
    let mut stream = UnixStream::from_std(stream).expect("a tokio stream");
    let (head, body) = exchange(&mut stream, b"GET /abstract HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(body, b"unix /abstract");
    drop(stream);
    running.stop().await;
}
