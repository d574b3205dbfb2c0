//! `gateway_hyper::Server`'s own features over real sockets: Unix sockets,
//! several listeners, the request limits (body size, concurrency, request
//! timeout, header count and size, connections), the graceful drain and the
//! application's startup and shutdown hooks, and the RFC 9112 `Host` and
//! request-target checks.
//!
//! Every wait is bounded. The only timed waits are where a timeout is
//! itself under test, with short configured timeouts (300 ms) and
//! generous bounds. The tests run on tokio's current-thread runtime (the
//! `#[tokio::test]` default), which the drain tests rely on: once the
//! server's shutdown signal future has completed and the test task runs
//! again, the server has already entered its drain.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway_core::http::StatusCode;
use gateway_core::{Addr, Application, Environ, Error, Response, fn_app, start};
use gateway_hyper::Server;
use gateway_tests::{Client, Proto, TempDir, TestServer, empty, find, read_at_least, within};
use http::Method;
use http::header::HOST;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

const TEXT: [(&str, &str); 1] = [("content-type", "text/plain")];

/// The configured timeout in the tests of timeouts.
const SHORT: Duration = Duration::from_millis(300);

/// How long a configured [`SHORT`] timeout may take to show at the client:
/// generous for a loaded machine, yet far below anything the timeout
/// replaces (a 5 s sleep, a request that never ends, the 30 s default).
const SHORT_BOUND: Duration = Duration::from_secs(2);

// Fixtures -------------------------------------------------------------------

/// A server running in a task, for the tests that need more than
/// [`TestServer`]: a Unix-only server, or knowing when the drain began.
struct Running {
    shutdown: Option<oneshot::Sender<()>>,
    /// Notified when the server's shutdown signal future has completed;
    /// the server enters its drain in the same poll.
    signalled: Arc<Notify>,
    join: JoinHandle<io::Result<()>>,
}

fn spawn<A: Application>(server: Server, app: A) -> Running {
    let (shutdown, signal) = oneshot::channel::<()>();
    let signalled = Arc::new(Notify::new());
    let notify = signalled.clone();
    let join = tokio::spawn(server.serve_with_shutdown(app, async move {
        let _ = signal.await;
        notify.notify_one();
    }));
    Running {
        shutdown: Some(shutdown),
        signalled,
        join,
    }
}

impl Running {
    /// Signals shutdown and waits (bounded) until the server is draining.
    async fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        within("the server to take the signal", self.signalled.notified()).await;
    }

    /// Signals shutdown and waits (bounded) for `serve_with_shutdown` to
    /// return; fails the test unless it returns `Ok`.
    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        within("server shutdown", self.join)
            .await
            .expect("server task panicked")
            .expect("server returned an error");
    }
}

/// A one-shot flag a test can wait for (bounded).
#[derive(Default)]
struct Flag {
    raised: AtomicBool,
    notify: Notify,
}

impl Flag {
    fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }

    fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    async fn wait(&self, what: &str) {
        within(what, async {
            while !self.is_raised() {
                self.notify.notified().await;
            }
        })
        .await;
    }
}

/// Raises its flag when dropped: put in an application's future, it tells
/// the test that the server dropped that future.
struct RaiseOnDrop(Arc<Flag>);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        self.0.raise();
    }
}

/// Answers `LOCAL PATH_INFO`: which listener the request came through.
fn where_app() -> impl Application {
    fn_app(|env: Environ| async move {
        let text = format!("{} {}", env.conn().local(), env.path_info());
        start(200, TEXT).body(text)
    })
}

/// Answers 200 `ok` and counts its calls.
fn counting_app(calls: Arc<AtomicUsize>) -> impl Application {
    fn_app(move |_env: Environ| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { start(200, TEXT).body("ok") }
    })
}

// Raw HTTP/1 -----------------------------------------------------------------

/// Reads one HTTP/1 response whose body has a `Content-Length` (bounded):
/// its head (without the blank line) and its body.
async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> (String, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&raw, b"\r\n\r\n") {
            break i;
        }
        let n = within("a response head", stream.read(&mut buf))
            .await
            .expect("read a response head");
        assert!(
            n > 0,
            "the connection closed before a whole head: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no content-length in {head:?}"));
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < len {
        let n = within("a response body", stream.read(&mut buf))
            .await
            .expect("read a response body");
        assert!(n > 0, "the connection closed mid-body: {head:?} {body:?}");
        body.extend_from_slice(&buf[..n]);
    }
    assert_eq!(body.len(), len, "more bytes than the content-length");
    (head, body)
}

/// Reads until the server closes the connection (bounded: a server that
/// keeps it open fails the test). A reset counts as a close.
async fn read_to_close<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match within("the server to close the connection", stream.read(&mut buf)).await {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::ConnectionReset => return raw,
            Err(err) => panic!("read failed after {raw:?}: {err}"),
        }
    }
}

/// The status code in a raw response head.
fn status(head: &str) -> u16 {
    head.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a response head: {head:?}"))
}

/// Writes `request` on `stream` and reads one response (bounded).
async fn exchange<S>(stream: &mut S, request: &[u8]) -> (String, Vec<u8>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    within("write a request", stream.write_all(request))
        .await
        .expect("write a request");
    read_response(stream).await
}

/// Sends `request` on a new TCP connection and reads one response.
async fn tcp_exchange(addr: SocketAddr, request: &[u8]) -> (String, Vec<u8>) {
    let mut stream = within("tcp connect", TcpStream::connect(addr))
        .await
        .expect("tcp connect");
    exchange(&mut stream, request).await
}

/// `GET target` on a new connection to the Unix socket at `path`.
async fn unix_get(path: &Path, target: &str) -> (String, Vec<u8>) {
    let mut stream = within("unix connect", UnixStream::connect(path))
        .await
        .expect("unix connect");
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    exchange(&mut stream, request.as_bytes()).await
}

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

// 1. Unix sockets -------------------------------------------------------------

/// A Unix socket server: it replaces a stale socket file, sets the
/// requested mode, serves raw HTTP/1.1, refuses a live socket (its own or
/// another listener's) and a regular file without touching them, and
/// removes its socket file when it stops.
#[tokio::test]
async fn unix_socket() {
    let dir = TempDir::new("server");
    let path = dir.join("app.sock");

    // A stale socket: its listener is gone, its file stays.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind a stale socket"));
    assert!(is_socket(&path), "the stale socket file should remain");
    assert!(
        std::os::unix::net::UnixStream::connect(&path).is_err(),
        "a stale socket refuses connections"
    );

    let server = Server::bind_unix(&path, Some(0o600)).expect("bind_unix over a stale socket");
    let mode = std::fs::metadata(&path)
        .expect("socket metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode is {:o}", mode & 0o777);
    match server.local_addrs().expect("local_addrs").as_slice() {
        [Addr::Unix(Some(p))] => assert_eq!(*p, path),
        other => panic!("local_addrs: {other:?}"),
    }
    assert!(
        server.local_addr().is_err(),
        "local_addr is the first TCP listener; there is none"
    );
    let running = spawn(server, where_app());

    let (head, body) = unix_get(&path, "/over-unix").await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("unix:{} /over-unix", path.display())
    );

    // Our own live socket: in use, left alone.
    let err = Server::bind_unix(&path, None).expect_err("bind_unix over a live socket");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    let (head, _) = unix_get(&path, "/still").await;
    assert_eq!(
        status(&head),
        200,
        "the running server still answers: {head}"
    );

    // Another process's live socket (a listener still bound).
    let other = dir.join("other.sock");
    let live = std::os::unix::net::UnixListener::bind(&other).expect("bind a live socket");
    let err = Server::bind_unix(&other, Some(0o600)).expect_err("bind_unix over a live socket");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert!(is_socket(&other), "the live socket file must stay");
    std::os::unix::net::UnixStream::connect(&other).expect("the live listener still accepts");
    drop(live);

    // A regular file: refused, untouched.
    let file = dir.join("not-a-socket");
    std::fs::write(&file, "keep me").expect("write a regular file");
    let err = Server::bind_unix(&file, None).expect_err("bind_unix over a regular file");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read it back"),
        "keep me"
    );

    running.stop().await;
    assert!(!exists(&path), "the socket file is removed after shutdown");
}

/// A server whose socket file was replaced while it ran (removed, and
/// bound again by a successor) must not remove the successor's socket when
/// it stops. (A regression test: the listener once compared the path with
/// itself; it now checks the file's device and inode.)
#[tokio::test]
async fn unix_socket_replaced_by_a_successor_is_kept() {
    let dir = TempDir::new("server");
    let path = dir.join("app.sock");
    let running = spawn(
        Server::bind_unix(&path, None).expect("bind_unix"),
        where_app(),
    );
    let (head, _) = unix_get(&path, "/").await;
    assert_eq!(status(&head), 200, "{head}");

    // A deployment replaces the socket: the successor binds a new one.
    std::fs::remove_file(&path).expect("remove the socket file");
    let successor = std::os::unix::net::UnixListener::bind(&path).expect("the successor binds");

    running.stop().await;
    assert!(
        is_socket(&path),
        "the stopping server removed its successor's socket file"
    );
    drop(successor);
}

// 2. Several listeners --------------------------------------------------------

/// One server on five listeners (a std listener, two `and_bind`, a Unix
/// socket, another std listener): `local_addr` and `local_addrs` report
/// them in order, and each answers with its own local address.
#[tokio::test]
async fn several_listeners() {
    let dir = TempDir::new("server");
    let sock = dir.join("multi.sock");
    let first = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a std listener");
    let first_addr = first.local_addr().expect("std local_addr");
    let last = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a std listener");
    let last_addr = last.local_addr().expect("std local_addr");

    let server = Server::from_std(first)
        .expect("from_std")
        .and_bind("127.0.0.1:0")
        .await
        .expect("and_bind")
        .and_bind("127.0.0.1:0")
        .await
        .expect("and_bind")
        .and_bind_unix(&sock, Some(0o660))
        .expect("and_bind_unix")
        .and_std(last)
        .expect("and_std");
    assert_eq!(server.local_addr().expect("local_addr"), first_addr);
    let addrs = server.local_addrs().expect("local_addrs");
    let tcp = match addrs.as_slice() {
        [
            Addr::Tcp(a),
            Addr::Tcp(b),
            Addr::Tcp(c),
            Addr::Unix(Some(u)),
            Addr::Tcp(d),
        ] => {
            assert_eq!(*u, sock);
            vec![*a, *b, *c, *d]
        }
        other => panic!("local_addrs: {other:?}"),
    };
    assert_eq!(tcp[0], first_addr);
    assert_eq!(tcp[3], last_addr);
    for (i, addr) in tcp.iter().enumerate() {
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
        assert!(!tcp[..i].contains(addr), "duplicate listener {addr}");
    }
    assert_eq!(
        std::fs::metadata(&sock)
            .expect("socket metadata")
            .permissions()
            .mode()
            & 0o777,
        0o660
    );

    let running = spawn(server, where_app());
    for addr in &tcp {
        let (head, body) = tcp_exchange(*addr, b"GET /tcp HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(status(&head), 200, "{addr}: {head}");
        assert_eq!(String::from_utf8_lossy(&body), format!("{addr} /tcp"));
    }
    let (head, body) = unix_get(&sock, "/unix").await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("unix:{} /unix", sock.display())
    );
    running.stop().await;
    assert!(!exists(&sock), "the socket file is removed after shutdown");
}

// 3. Body limit ---------------------------------------------------------------

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

// 4. Concurrency --------------------------------------------------------------

/// `/block` announces itself on `entered` and waits for `release`; any
/// other path answers `ok`.
#[derive(Default)]
struct Gate {
    entered: Notify,
    release: Notify,
}

impl Application for Gate {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        if env.path_info() == "/block" {
            self.entered.notify_one();
            self.release.notified().await;
            return start(200, TEXT).body("released");
        }
        start(200, TEXT).body("ok")
    }
}

/// `max_concurrent_requests(Some(1))`: while one request is in the
/// application, another (HTTP/1.1 or HTTP/2, on other connections) gets 503
/// at once; once it is released, requests succeed again.
#[tokio::test]
async fn concurrency_limit() {
    let gate = Arc::new(Gate::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_concurrent_requests(Some(1));
    let server = TestServer::serve(server, gate.clone());

    let mut blocked = server.client(Proto::Http1).await;
    let blocked = tokio::spawn(async move {
        let (parts, body) = blocked.fetch(Method::GET, "/block").await;
        (parts.status, body)
    });
    within("/block to reach the application", gate.entered.notified()).await;

    let mut h1 = server.client(Proto::Http1).await;
    let mut h2 = server.client(Proto::Http2).await;
    // `/block` never ends unless released, so these answers cannot come
    // from waiting for it.
    let (parts, _) = h1.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    let (parts, _) = h2.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);

    gate.release.notify_one();
    let (status, body) = within("the released request", blocked)
        .await
        .expect("the blocked client task");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "released");

    for client in [&mut h1, &mut h2] {
        let (parts, body) = client.fetch(Method::GET, "/").await;
        assert_eq!(parts.status, StatusCode::OK, "{:?}", client.proto());
        assert_eq!(body, "ok");
    }
    drop((h1, h2));
    server.stop().await;
}

// 5. Request timeout ----------------------------------------------------------

/// `/sleep` sleeps 5 s (its future raises `dropped` when dropped);
/// `/stream` sends a chunk and then waits forever; `/` answers at once.
#[derive(Default)]
struct Sluggish {
    dropped: Arc<Flag>,
}

impl Application for Sluggish {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        match env.path_info() {
            "/sleep" => {
                let _guard = RaiseOnDrop(self.dropped.clone());
                tokio::time::sleep(Duration::from_secs(5)).await;
                start(200, TEXT).body("too late")
            }
            "/stream" => start(200, TEXT).writer(|mut w| async move {
                w.write("chunk").await?;
                std::future::pending::<()>().await;
                Ok(())
            }),
            _ => start(200, TEXT).body("fast"),
        }
    }
}

/// `request_timeout(Some(300 ms))`: a request whose response has not
/// started gets 503 within the bound and its application future is
/// dropped; a response that started and then stalls is aborted (HTTP/1.1
/// and HTTP/2) after its head and first chunk arrived; fast requests are
/// unaffected.
#[tokio::test]
async fn request_timeout() {
    let app = Arc::new(Sluggish::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .request_timeout(Some(SHORT));
    let server = TestServer::serve(server, app.clone());

    let mut client = server.client(Proto::Http1).await;
    let (parts, body) = client.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "fast");

    let started = Instant::now();
    let (parts, _) = tokio::time::timeout(SHORT_BOUND, client.fetch(Method::GET, "/sleep"))
        .await
        .expect("503 within the bound, not after the application's 5 s");
    let elapsed = started.elapsed();
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(elapsed >= SHORT, "503 before the timeout: {elapsed:?}");
    app.dropped
        .wait("the application's future to be dropped")
        .await;

    for proto in [Proto::Http1, Proto::Http2] {
        let mut client = server.client(proto).await;
        let started = Instant::now();
        let res = client
            .send(client.request(Method::GET, "/stream", empty()))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{proto:?}");
        let mut body = res.into_body();
        assert_eq!(read_at_least(&mut body, 5).await, "chunk", "{proto:?}");
        let next = tokio::time::timeout(SHORT_BOUND, http_body_util::BodyExt::frame(&mut body))
            .await
            .unwrap_or_else(|_| panic!("{proto:?}: the stalled body was not aborted"));
        match next {
            Some(Err(_)) => {}
            None => panic!("{proto:?}: the body ended cleanly instead of being aborted"),
            Some(Ok(frame)) => panic!("{proto:?}: unexpected frame {frame:?}"),
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= SHORT,
            "{proto:?}: aborted too early: {elapsed:?}"
        );
    }
    drop(client);
    server.stop().await;
}

// 6. Graceful shutdown ----------------------------------------------------------

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

// 7. Header limits ------------------------------------------------------------

/// A `GET /` with `Host`, `Connection: close` and `extra` more header
/// fields of `value_len` bytes each (`extra + 2` fields in all). The close
/// makes a wrongly accepted request end with its 200 rather than wait for
/// the keep-alive timeout.
fn request_with_headers(extra: usize, value_len: usize) -> Vec<u8> {
    let mut raw = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n".to_vec();
    let value = "v".repeat(value_len);
    for i in 0..extra {
        raw.extend_from_slice(format!("X-Field-{i}: {value}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw
}

/// Sends `request` on a new connection and expects hyper's 431 followed by
/// the close of the connection (it answers a head it cannot parse and
/// closes).
async fn assert_431_and_close(addr: SocketAddr, request: &[u8], what: &str) {
    let mut stream = within("tcp connect", TcpStream::connect(addr))
        .await
        .expect("tcp connect");
    // The server may stop reading part-way; the answer is still read.
    let _ = within("write a request", stream.write_all(request)).await;
    let raw = read_to_close(&mut stream).await;
    let head = String::from_utf8_lossy(&raw);
    assert!(
        head.starts_with("HTTP/1.1 431 "),
        "{what}: expected 431 and a close, got {head:?}"
    );
}

/// More than 100 header fields (hyper's default) get 431 and a closed
/// connection; exactly 100 pass; the server goes on serving.
#[tokio::test]
async fn too_many_headers() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_app(calls.clone())).await;

    let (head, _) = tcp_exchange(server.addr, &request_with_headers(98, 8)).await;
    assert_eq!(status(&head), 200, "100 fields: {head}");
    assert_431_and_close(server.addr, &request_with_headers(99, 8), "101 fields").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let (head, _) = tcp_exchange(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status(&head), 200, "still serving: {head}");
    server.stop().await;
}

/// `max_header_size(16 KiB)`: a 32 KiB header gets 431 and a closed
/// connection (a 12 KiB one passes), while the default (64 KiB) accepts
/// the same 32 KiB header; the server goes on serving.
#[tokio::test]
async fn header_size_limit() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_header_size(16 * 1024);
    let server = TestServer::serve(server, counting_app(calls.clone()));
    let big = request_with_headers(1, 32 * 1024);

    let (head, _) = tcp_exchange(server.addr, &request_with_headers(1, 12 * 1024)).await;
    assert_eq!(status(&head), 200, "12 KiB header: {head}");
    assert_431_and_close(server.addr, &big, "32 KiB header").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let (head, _) = tcp_exchange(server.addr, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(status(&head), 200, "still serving: {head}");
    server.stop().await;

    let default = TestServer::start(counting_app(calls.clone())).await;
    let (head, _) = tcp_exchange(default.addr, &big).await;
    assert_eq!(
        status(&head),
        200,
        "32 KiB header under the default: {head}"
    );
    default.stop().await;
}

// 8. Host and request-target rules -------------------------------------------

/// Requests RFC 9112 forbids but hyper parses: each gets 400 from the
/// server, without reaching the application; their valid neighbours
/// (`OPTIONS *`, HTTP/1.0 without `Host`, absolute form) are served.
#[tokio::test]
async fn host_and_target_rules_http1() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_app(calls.clone())).await;

    let bad: [(&str, &str); 8] = [
        ("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n"),
        (
            "two Host fields",
            "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
        ),
        ("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
        ("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n"),
        ("Host with a path", "GET / HTTP/1.1\r\nHost: h/path\r\n\r\n"),
        ("asterisk-form GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
        (
            "authority-form GET",
            "GET h.test:80 HTTP/1.1\r\nHost: h.test:80\r\n\r\n",
        ),
        (
            "origin-form CONNECT",
            "CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n",
        ),
    ];
    for (what, request) in bad {
        let (head, _) = tcp_exchange(server.addr, request.as_bytes()).await;
        assert!(
            head.starts_with("HTTP/1.1 400 "),
            "{what}: expected 400, got {head:?}"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a bad request reached the app"
    );

    let good: [(&str, &str); 4] = [
        ("OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("origin form", "GET /x HTTP/1.1\r\nHost: h.test:80\r\n\r\n"),
        (
            "absolute form",
            "GET http://h.test/x HTTP/1.1\r\nHost: h.test\r\n\r\n",
        ),
        ("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n"),
    ];
    for (what, request) in good {
        let (head, body) = tcp_exchange(server.addr, request.as_bytes()).await;
        assert_eq!(status(&head), 200, "{what}: {head}");
        assert_eq!(body, b"ok", "{what}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), good.len());
    server.stop().await;
}

/// Over HTTP/2, a `host` field that differs from `:authority` gets 400; one
/// that agrees (in any case) is served.
#[tokio::test]
async fn host_differs_from_authority_http2() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = TestServer::start(counting_app(calls.clone())).await;
    let mut client = server.client(Proto::Http2).await;

    let mut req = client.request(Method::GET, "/h2", empty());
    req.headers_mut()
        .insert(HOST, "other.test".parse().expect("header value"));
    let res = client.send(req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let mut req = client.request(Method::GET, "/h2", empty());
    let same = server.addr.to_string().to_uppercase();
    req.headers_mut()
        .insert(HOST, same.parse().expect("header value"));
    let res = client.send(req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    drop(client);
    server.stop().await;
}

// 9. Connection limit ---------------------------------------------------------

/// `max_connections(1)`: while a kept-alive connection is open, a second
/// one is accepted by the kernel but not served; once the first closes, the
/// second is served.
#[tokio::test]
async fn connection_limit() {
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_connections(1);
    let server = TestServer::serve(server, where_app());

    let mut first = server.client(Proto::Http1).await;
    let (parts, _) = first.fetch(Method::GET, "/first").await;
    assert_eq!(parts.status, StatusCode::OK);

    let mut second = within("tcp connect", TcpStream::connect(server.addr))
        .await
        .expect("the kernel accepts the second connection");
    within(
        "write a request",
        second.write_all(b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n"),
    )
    .await
    .expect("write a request");
    // The timeout under test: nothing may arrive while the first is open.
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), second.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "the second connection got an answer (or closed) while the first was open: {early:?}"
    );

    // Close the first: its connection task ends once the socket is shut.
    let conn = first.connection().expect("connection task");
    drop(first);
    within("the first connection to close", conn)
        .await
        .expect("connection task")
        .expect("the first connection closed cleanly");

    let (head, body) = read_response(&mut second).await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("{} /second", server.addr)
    );
    drop(second);
    server.stop().await;
}

/// Settings at their extremes neither break nor disable the server: a
/// header size past `u32` (HTTP/2's header-list limit is a `u32`; it must
/// not wrap to 0 and refuse everything) and `max_headers(0)` (clamped to
/// one field, so the mandatory Host still fits).
#[tokio::test]
async fn extreme_settings_still_serve() {
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .max_header_size(1 << 32)
        .max_headers(0);
    let served = TestServer::serve(server, where_app());
    for proto in [Proto::Http2, Proto::Http1] {
        let mut client = Client::connect(proto, served.addr).await;
        let (parts, _) = client.fetch(Method::GET, "/").await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
    }
    served.stop().await;
}

/// A Unix socket in a directory that does not exist: an error that names
/// the path, not a bare "No such file or directory".
#[tokio::test]
async fn unix_bind_error_names_the_path() {
    let dir = TempDir::new("server");
    let path = dir.join("no/such/dir/app.sock");
    let err = Server::bind_unix(&path, None).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}
