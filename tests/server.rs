//! `gateway_hyper::Server`'s own features over real sockets: Unix sockets,
//! several listeners, the request limits (body size, concurrency, request
//! timeout, header count and size, connections), the graceful drain (and
//! its delay) and the application's startup and shutdown hooks, the
//! server's statistics, and the RFC 9112 `Host` and request-target checks.
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

mod body_limit;
mod concurrency;
mod connection_limit;
mod graceful_shutdown;
mod header_limits;
mod host_and_target;
mod listeners;
mod request_timeout;
mod stats;
mod unix_sockets;

const TEXT: [(&str, &str); 1] = [("content-type", "text/plain")];

/// The configured timeout in the tests of timeouts.
const SHORT: Duration = Duration::from_millis(300);

/// How long a configured [`SHORT`] timeout may take to show at the client:
/// generous for a loaded machine, yet far below anything the timeout
/// replaces (a 5 s sleep, a request that never ends, the 30 s default).
const SHORT_BOUND: Duration = Duration::from_secs(2);

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
