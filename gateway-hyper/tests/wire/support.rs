//! Fixtures for the wire tests: a server in a task of the test's runtime,
//! raw HTTP/1 connections that read whole responses, and bounded waits.
//!
//! Nothing here sleeps to synchronise: every wait is bounded by
//! [`within`], which fails the test instead of letting it hang.

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use gateway_core::{Application, Environ, fn_app, start};
use gateway_hyper::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long any single wait may take before the test fails; no test waits
/// this long when it passes.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Awaits `fut`, failing the test with `what` after [`TIMEOUT`].
pub(crate) async fn within<F: IntoFuture>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(TIMEOUT, fut.into_future()).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {TIMEOUT:?}: {what}"),
    }
}

/// A server on `127.0.0.1:0`, running in a task.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    join: JoinHandle<io::Result<()>>,
}

/// Binds `127.0.0.1:0`, applies `configure`, and serves `app` until
/// [`Running::stop`].
pub(crate) async fn serve<A: Application>(
    configure: impl FnOnce(Server) -> Server,
    app: A,
) -> Running {
    let server = within("bind", Server::bind("127.0.0.1:0"))
        .await
        .expect("bind 127.0.0.1:0");
    let server = configure(server);
    let addr = server.local_addr().expect("local_addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let join = tokio::spawn(server.serve_with_shutdown(app, async move {
        let _ = stopped.await;
    }));
    Running { addr, stop, join }
}

impl Running {
    /// Stops the server and waits (bounded) for `serve_with_shutdown` to
    /// return; fails the test if it failed. Close the test's connections
    /// first: the drain waits for in-flight requests.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        within("server shutdown", self.join)
            .await
            .expect("server task")
            .expect("serve_with_shutdown returns Ok");
    }

    /// The server answers a valid request on a new connection.
    pub(crate) async fn assert_still_serving(&self) {
        let mut conn = Conn::open(self.addr).await;
        conn.send(b"GET /alive HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write a valid request");
        let response = conn
            .response("a valid request on a new connection")
            .await
            .expect("the server answers a valid request");
        assert_eq!(response.status, 200, "{:?}", response.head);
    }
}

/// The requests an application saw, as `METHOD /path`.
#[derive(Clone, Default)]
pub(crate) struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    pub(crate) fn get(&self) -> Vec<String> {
        self.0.lock().expect("seen lock").clone()
    }
}

/// An application that records each request it sees and answers 200 with
/// `METHOD /path` and the number of body bytes it read.
pub(crate) fn recording_app() -> (impl Application, Seen) {
    let seen = Seen::default();
    let app_seen = seen.clone();
    let app = fn_app(move |mut env: Environ| {
        let seen = app_seen.clone();
        async move {
            let line = format!("{} {}", env.method(), env.uri().path());
            seen.0.lock().expect("seen lock").push(line.clone());
            let body = env.take_body().to_bytes(u64::MAX).await?;
            start(200, [("content-type", "text/plain")]).body(format!("{line} {}", body.len()))
        }
    });
    (app, seen)
}

/// One parsed HTTP/1 response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// The status line and headers, as received.
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Response {
    /// The value of the first field named `name` (lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A raw client connection with a read buffer, so that pipelined
/// responses and bytes after a response are never lost.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> Conn {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("set_nodelay");
        Conn {
            stream,
            buf: Vec::new(),
            closed: false,
        }
    }

    /// Writes all of `bytes` (bounded). A server that refuses a request may
    /// close before reading all of it, so callers sending bad input ignore
    /// the result.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        within("write", self.stream.write_all(bytes)).await
    }

    /// One read into the buffer (bounded); `false` once the connection is
    /// closed (end of stream, or an error such as a reset).
    async fn fill(&mut self, what: &str) -> bool {
        if self.closed {
            return false;
        }
        match within(what, self.stream.read_buf(&mut self.buf)).await {
            Ok(0) | Err(_) => {
                self.closed = true;
                false
            }
            Ok(_) => true,
        }
    }

    /// Reads one whole response (bounded; `Content-Length` or
    /// close-delimited bodies), or `None` if the connection closed before
    /// its first byte.
    pub(crate) async fn response(&mut self, what: &str) -> Option<Response> {
        let head_len = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill(what).await {
                assert!(
                    self.buf.is_empty(),
                    "{what}: closed inside a response head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_len - 4]).into_owned();
        self.buf.drain(..head_len);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{what}: bad status line {status_line:?}"));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut response = Response {
            status,
            head,
            body: Vec::new(),
            headers,
        };
        match response.header("content-length") {
            Some(len) => {
                let len: usize = len.parse().expect("numeric content-length");
                while self.buf.len() < len {
                    assert!(self.fill(what).await, "{what}: closed inside the body");
                }
                response.body = self.buf.drain(..len).collect();
            }
            None => {
                assert!(
                    response.header("transfer-encoding").is_none(),
                    "{what}: chunked responses are not expected here: {:?}",
                    response.head
                );
                while self.fill(what).await {}
                response.body = std::mem::take(&mut self.buf);
            }
        }
        Some(response)
    }

    /// Asserts that the server closes the connection (bounded) without
    /// sending anything more.
    pub(crate) async fn assert_closed(&mut self, what: &str) {
        let more = self.fill(&format!("{what}: the server to close")).await;
        assert!(
            !more && self.buf.is_empty(),
            "{what}: expected a close, got {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }
}

/// The position of the first `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
