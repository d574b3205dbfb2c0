//! Shared fixtures for the cross-crate integration tests.
//!
//! Every test starts its own [`TestServer`] (a real
//! `gateway_hyper::Server` on `127.0.0.1:0`, stopped through a oneshot
//! shutdown signal), talks to it over real sockets with a [`Client`]
//! (hyper 1.x, HTTP/1.1 or HTTP/2 prior knowledge, one connection each), a
//! raw [`TcpStream`] or a `curl` process, and stops it at the end.
//!
//! Nothing here sleeps to synchronise: waits are bounded by [`within`],
//! which fails the test after [`TIMEOUT`] instead of letting it hang.

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::Application;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long any single wait in a test may take before the test fails.
///
/// Generous for a loaded CI machine, yet short enough that a hang is
/// reported quickly; no test waits this long when it passes.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The error type of request bodies sent by [`Client`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The body type of requests sent by [`Client`].
pub type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

/// Awaits `fut`, failing the test with `what` if it takes longer than
/// [`TIMEOUT`].
pub async fn within<F: IntoFuture>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(TIMEOUT, fut.into_future()).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {TIMEOUT:?}: {what}"),
    }
}

/// A `gateway_hyper::Server` running in a task of the test's runtime.
#[derive(Debug)]
pub struct TestServer {
    /// The address the server listens on (`127.0.0.1`, a free port).
    pub addr: SocketAddr,
    /// Completing this stops the server (graceful: it drains open
    /// connections first).
    pub shutdown: oneshot::Sender<()>,
    /// The task running `serve_with_shutdown`; yields its result.
    pub join: JoinHandle<io::Result<()>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and serves `app` until [`TestServer::stop`].
    ///
    /// The listener is bound before this returns, so connections made
    /// afterwards are accepted (queued by the kernel until the task runs).
    pub async fn start<A: Application>(app: A) -> TestServer {
        let server = gateway_hyper::Server::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        TestServer::serve(server, app)
    }

    /// Serves `app` on an already configured `server` (limits, timeouts,
    /// more listeners) until [`TestServer::stop`]. [`TestServer::addr`] is
    /// the server's first TCP listener, which it must have.
    ///
    /// Must be called inside a tokio runtime (the server runs in a task).
    pub fn serve<A: Application>(server: gateway_hyper::Server, app: A) -> TestServer {
        let addr = server.local_addr().expect("local_addr");
        let (shutdown, signal) = oneshot::channel::<()>();
        let join = tokio::spawn(server.serve_with_shutdown(app, async move {
            // A dropped sender stops the server too.
            let _ = signal.await;
        }));
        TestServer {
            addr,
            shutdown,
            join,
        }
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Opens a client connection to this server.
    pub async fn client(&self, proto: Proto) -> Client {
        Client::connect(proto, self.addr).await
    }

    /// Signals shutdown and waits (bounded) for the server to drain and
    /// return; fails the test if it returns an error or panicked.
    ///
    /// Drop the test's clients first: the drain waits for open
    /// connections to finish their in-flight requests.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let result = within("server shutdown", self.join).await;
        result
            .expect("server task panicked")
            .expect("server returned an error");
    }
}

/// The HTTP version a [`Client`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 with prior knowledge (h2c, no upgrade).
    Http2,
}

impl Proto {
    /// The `http::Version` responses on this protocol carry.
    pub fn version(self) -> http::Version {
        match self {
            Proto::Http1 => http::Version::HTTP_11,
            Proto::Http2 => http::Version::HTTP_2,
        }
    }
}

enum Sender {
    H1(http1::SendRequest<ReqBody>),
    H2(http2::SendRequest<ReqBody>),
}

/// One client connection (hyper's low-level client), HTTP/1.1 or HTTP/2.
///
/// The connection's I/O runs in a spawned task; [`Client::connection`]
/// gives its handle. HTTP/2 clients can be cloned with
/// [`Client::try_clone`] to run concurrent streams on the same connection.
pub struct Client {
    proto: Proto,
    addr: SocketAddr,
    sender: Sender,
    conn: Option<JoinHandle<Result<(), hyper::Error>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("proto", &self.proto)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `addr` and performs the handshake (bounded).
    pub async fn connect(proto: Proto, addr: SocketAddr) -> Client {
        let stream = within("tcp connect", TcpStream::connect(addr))
            .await
            .expect("tcp connect");
        stream.set_nodelay(true).expect("set_nodelay");
        let io = TokioIo::new(stream);
        let (sender, conn) = match proto {
            Proto::Http1 => {
                let (sender, conn) = within("http1 handshake", http1::handshake(io))
                    .await
                    .expect("http1 handshake");
                (Sender::H1(sender), tokio::spawn(conn))
            }
            Proto::Http2 => {
                let (sender, conn) = within(
                    "http2 handshake",
                    http2::handshake(TokioExecutor::new(), io),
                )
                .await
                .expect("http2 handshake");
                (Sender::H2(sender), tokio::spawn(conn))
            }
        };
        Client {
            proto,
            addr,
            sender,
            conn: Some(conn),
        }
    }

    /// The protocol of this connection.
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// Another handle to the same HTTP/2 connection (its requests are
    /// concurrent streams); `None` on HTTP/1.1.
    pub fn try_clone(&self) -> Option<Client> {
        match &self.sender {
            Sender::H1(_) => None,
            Sender::H2(sender) => Some(Client {
                proto: self.proto,
                addr: self.addr,
                sender: Sender::H2(sender.clone()),
                conn: None,
            }),
        }
    }

    /// The task driving the connection (only on the original handle, not
    /// on clones). It ends when the connection closes.
    pub fn connection(&mut self) -> Option<JoinHandle<Result<(), hyper::Error>>> {
        self.conn.take()
    }

    /// Builds a request with the target form this protocol needs: origin
    /// form plus `Host` on HTTP/1.1, an absolute URI on HTTP/2.
    pub fn request(&self, method: Method, path: &str, body: ReqBody) -> Request<ReqBody> {
        let builder = match self.proto {
            Proto::Http1 => Request::builder()
                .uri(path)
                .header(http::header::HOST, self.addr.to_string()),
            Proto::Http2 => Request::builder()
                .uri(format!("http://{}{path}", self.addr))
                .version(http::Version::HTTP_2),
        };
        builder.method(method).body(body).expect("valid request")
    }

    /// Sends a request and returns the response head; the body streams
    /// afterwards. Not bounded: wrap it in [`within`].
    pub async fn try_send(&mut self, req: Request<ReqBody>) -> hyper::Result<Response<Incoming>> {
        match &mut self.sender {
            Sender::H1(sender) => {
                sender.ready().await?;
                sender.send_request(req).await
            }
            Sender::H2(sender) => {
                sender.ready().await?;
                sender.send_request(req).await
            }
        }
    }

    /// Sends a request and waits (bounded) for the response head; fails
    /// the test on error.
    pub async fn send(&mut self, req: Request<ReqBody>) -> Response<Incoming> {
        let what = format!("{} {} over {:?}", req.method(), req.uri(), self.proto);
        let res = within(&what, self.try_send(req)).await;
        match res {
            Ok(res) => res,
            Err(err) => panic!("{what}: {err}"),
        }
    }

    /// Sends a bodiless request and collects the whole response (bounded).
    pub async fn fetch(&mut self, method: Method, path: &str) -> (http::response::Parts, Bytes) {
        let res = self.send(self.request(method, path, empty())).await;
        let (parts, body) = res.into_parts();
        (parts, read_body(body).await)
    }
}

/// An empty request body.
pub fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A request body of one chunk.
pub fn full(data: impl Into<Bytes>) -> ReqBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A streaming request body fed through a channel: each `Bytes` sent is
/// one data frame; dropping the sender ends the body.
pub fn channel_body(capacity: usize) -> (mpsc::Sender<Bytes>, ReqBody) {
    let (tx, rx) = mpsc::channel(capacity);
    (tx, ChannelBody { rx }.boxed_unsync())
}

struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|data| Ok(Frame::data(data))))
    }
}

/// Collects a response body (bounded); fails the test if the body errors.
pub async fn read_body(body: Incoming) -> Bytes {
    match try_read_body(body).await {
        Ok(bytes) => bytes,
        Err(err) => panic!("response body failed: {err}"),
    }
}

/// Collects a response body (bounded), returning its error if it fails.
pub async fn try_read_body(body: Incoming) -> Result<Bytes, hyper::Error> {
    within("response body", body.collect())
        .await
        .map(|collected| collected.to_bytes())
}

/// Reads data frames (bounded) until at least `n` bytes arrived, and
/// returns them; fails the test if the body errors or ends first.
pub async fn read_at_least(body: &mut Incoming, n: usize) -> Bytes {
    let mut buf = bytes::BytesMut::new();
    while buf.len() < n {
        match within("response body data", body.frame()).await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            Some(Err(err)) => panic!("response body failed after {buf:?}: {err}"),
            None => panic!("response body ended after {buf:?}, expected {n} bytes"),
        }
    }
    buf.freeze()
}

/// `len` bytes of a pattern whose period (251, a prime) does not divide any
/// power-of-two chunk size, so a lost, repeated or reordered chunk changes
/// the bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Asserts a response's status and collected body, naming `what` on
/// failure.
pub fn assert_response(
    what: &str,
    parts: &http::response::Parts,
    body: &[u8],
    status: StatusCode,
    expected_body: &[u8],
) {
    assert_eq!(parts.status, status, "{what}: status");
    assert_eq!(
        body,
        expected_body,
        "{what}: body was {:?}",
        String::from_utf8_lossy(body)
    );
}

/// Whether `CI` is set in the environment: checks that would be skipped
/// locally for a missing tool fail instead.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Checks that a `curl` able to speak HTTP/2 can be run. When it cannot:
/// fails the test if [`in_ci`], else prints a loud notice to stderr and
/// returns `false` so the test can return early.
pub async fn curl_available() -> bool {
    let problem = match tokio::process::Command::new("curl")
        .arg("--version")
        .output()
        .await
    {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout);
            if version
                .lines()
                .any(|l| l.starts_with("Features:") && l.split_whitespace().any(|f| f == "HTTP2"))
            {
                return true;
            }
            format!("this curl lacks HTTP/2 support:\n{version}")
        }
        Ok(out) => format!("`curl --version` failed with {}", out.status),
        Err(err) => format!("cannot run curl: {err}"),
    };
    skip_unless_ci("curl interop test", &problem, "Install curl (with HTTP/2)");
    false
}

/// Skips a test that needs a missing tool: fails it if [`in_ci`], else
/// prints a loud notice (`test`, the `problem`, and the `install` hint) to
/// the process's stderr, past the test harness's output capture, so the
/// skip is visible in a plain `cargo test` run. The caller then returns.
pub fn skip_unless_ci(test: &str, problem: &str, install: &str) {
    assert!(
        !in_ci(),
        "{test}: {problem}; required when CI is set ({install})"
    );
    let banner = "!".repeat(72);
    let notice = format!(
        "\n{banner}\n!!! SKIPPED: {test}: {problem}\n\
         !!! {install} to run it; with CI set it fails.\n{banner}\n\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
}

/// Runs `curl` with `args` (plus `--silent --show-error --max-time`) and
/// returns its output (bounded). `stdin` is written to curl's standard
/// input when given.
pub async fn curl(args: &[&str], stdin: Option<Vec<u8>>) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let max_time = TIMEOUT.as_secs().to_string();
    let mut cmd = tokio::process::Command::new("curl");
    cmd.args(["--silent", "--show-error", "--max-time", &max_time])
        .args(args)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn curl");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("curl stdin");
        // Written concurrently with reading the output, so a large input
        // cannot deadlock against a full stdout pipe.
        tokio::spawn(async move {
            let _ = pipe.write_all(&input).await;
        });
    }
    within("curl", child.wait_with_output())
        .await
        .expect("wait for curl")
}

/// Writes `request` on a new connection and reads until the server closes
/// it (bounded: a server that keeps the connection open fails the test).
/// A reset counts as a close; whatever arrived before it is returned.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = within("connect", tokio::net::TcpStream::connect(addr))
        .await
        .expect("connect");
    // The server may close before reading everything; a failed write is
    // then fine, the response (if any) is still read below.
    let _ = within("write request", stream.write_all(request)).await;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match within("the server to answer and close", stream.read(&mut buf)).await {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(err) => panic!("read failed: {err}"),
        }
    }
    response
}

/// `curl --include` output: the status line, the other header lines
/// (lower-cased) and the body. Fails the test if curl failed.
pub fn parse_curl(out: &std::process::Output) -> (String, Vec<String>, Vec<u8>) {
    assert!(
        out.status.success(),
        "curl failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let (head, body) = split_head(&out.stdout);
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().trim_end().to_owned();
    let headers = lines.map(|l| l.trim_end().to_ascii_lowercase()).collect();
    (status, headers, body.to_vec())
}

/// A child process (a server the test started) killed when this is
/// dropped, however the test ends.
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts nginx in the foreground (`daemon off; master_process off;`, so
/// the returned process is nginx itself and killing it stops it) with
/// `prefix` as its prefix, `conf` as its configuration and `error_log` for
/// the errors it meets before reading `conf`; stdin and stdout closed,
/// stderr as given. Wrap the child in [`KillOnDrop`].
pub fn spawn_nginx(
    binary: &std::path::Path,
    prefix: &std::path::Path,
    conf: &std::path::Path,
    error_log: &std::path::Path,
    stderr: std::process::Stdio,
) -> std::process::Child {
    std::process::Command::new(binary)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(conf)
        .arg("-e")
        .arg(error_log)
        .args(["-g", "daemon off; master_process off;"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn nginx")
}

/// The position of the first `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Spawns a server process that prints `listening on http://ADDR` as its
/// first line (as this package's `hello_server` and `static_server` do),
/// and returns it, killed when dropped, with `ADDR`. Its stderr is
/// discarded. Fails the test if it does not start or print its address.
pub fn spawn_listening(cmd: &mut std::process::Command) -> (KillOnDrop, String) {
    use std::io::BufRead;
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the server process");
    let mut server = KillOnDrop(child);
    let stdout = server.0.stdout.take().expect("the server's stdout");
    let mut line = String::new();
    // Bounded by the process: it prints the line or exits.
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the server's first line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("the server printed {line:?}, not its address"))
        .to_owned();
    (server, addr)
}

/// Splits a raw HTTP/1 response (or curl's `--include` output) into its
/// head (up to and excluding the blank line) and the rest.
pub fn split_head(raw: &[u8]) -> (String, &[u8]) {
    match find(raw, b"\r\n\r\n") {
        Some(i) => (
            String::from_utf8_lossy(&raw[..i]).into_owned(),
            &raw[i + 4..],
        ),
        None => (String::from_utf8_lossy(raw).into_owned(), &[]),
    }
}

/// A temporary directory, removed with everything in it when dropped.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// Creates a fresh directory named after `what`, the process and a
    /// counter; fails the test if it cannot.
    pub fn new(what: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "gateway-{what}-test-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // `create_dir`, not `create_dir_all`: an existing one is an error.
        std::fs::create_dir(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
