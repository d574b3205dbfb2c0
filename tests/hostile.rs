//! Hostile HTTP/1 clients, as raw bytes over real TCP sockets: request
//! smuggling through conflicting framing, bad bytes in the head, oversized
//! heads, slowloris and idle keep-alive connections, a thousand concurrent
//! connections, and pipelining.
//!
//! Every case asserts the server's exact reaction (the status hyper sends,
//! whether the connection is closed, what reached the application) and
//! then that the server still answers a valid request on a new connection.
//!
//! Nothing here sleeps to synchronise: every wait is bounded, by
//! [`within`] (10 s) or by an explicit `tokio::time::timeout` where the
//! timing itself is what is tested. Only the slowloris client is paced by
//! a timer, which is the attack.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway_core::{fn_app, start};
use gateway_hyper::Server;
use gateway_tests::{TestServer, find, split_head, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

// ---------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------

/// Every request that reached the application, as `METHOD /path`.
type Seen = Arc<Mutex<Vec<String>>>;

/// A server running the echo application in a task of the test's runtime.
struct Running {
    addr: SocketAddr,
    seen: Seen,
    server: TestServer,
}

/// Binds `127.0.0.1:0`, applies `configure` to the server's settings and
/// serves an application that records every request it sees and answers:
///
/// * `/peer`: the client's address (`ip:port`) as the server sees it;
/// * anything else: `METHOD /path\n` followed by the request body.
async fn start_server(configure: impl FnOnce(Server) -> Server) -> Running {
    let server = within("bind", Server::bind("127.0.0.1:0"))
        .await
        .expect("bind 127.0.0.1:0");
    let server = configure(server);
    let seen = Seen::default();
    let app_seen = seen.clone();
    let app = fn_app(move |env| {
        let seen = app_seen.clone();
        async move {
            let line = format!("{} {}", env.method(), env.uri().path());
            seen.lock().expect("seen lock").push(line.clone());
            if env.uri().path() == "/peer" {
                return start(200, [("content-type", "text/plain")])
                    .body(env.conn().peer().to_string());
            }
            let mut env = env;
            let body = env.take_body().to_bytes(1 << 20).await?;
            let mut out = format!("{line}\n").into_bytes();
            out.extend_from_slice(&body);
            start(200, [("content-type", "text/plain")]).body(out)
        }
    });
    let server = TestServer::serve(server, app);
    Running {
        addr: server.addr,
        seen,
        server,
    }
}

impl Running {
    /// The requests the application has seen so far.
    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("seen lock").clone()
    }

    /// Stops the server (bounded) and checks it returned cleanly. Drop
    /// the test's connections first: the drain waits for in-flight
    /// requests (idle connections close at once).
    async fn stop(self) {
        self.server.stop().await;
    }
}

/// One parsed HTTP/1 response.
#[derive(Debug)]
struct Response {
    status: u16,
    /// The status line and headers, as received.
    head: String,
    /// Header names lowercased, values trimmed.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw client connection with a read buffer, so that pipelined
/// responses and bytes after a response are never lost.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let stream = within("connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        Conn::new(stream)
    }

    fn new(stream: TcpStream) -> Conn {
        stream.set_nodelay(true).expect("set_nodelay");
        Conn {
            stream,
            buf: Vec::new(),
            closed: false,
        }
    }

    /// Writes all of `bytes` (bounded). A server that refuses a request
    /// may close before reading all of it, so callers sending bad input
    /// ignore the result.
    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        within("write", self.stream.write_all(bytes)).await
    }

    /// One read into the buffer (bounded by `within`); `false` once the
    /// connection is closed (end of stream or an error such as a reset).
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

    /// Reads one whole response (bounded), or `None` if the connection
    /// closed before its first byte. A response cut short fails the test.
    async fn response(&mut self, what: &str) -> Option<Response> {
        let head_len = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill(what).await {
                assert!(
                    self.buf.is_empty(),
                    "{what}: connection closed inside a response head: {:?}",
                    lossy(&self.buf)
                );
                return None;
            }
        };
        let (head, _) = split_head(&self.buf[..head_len]);
        self.buf.drain(..head_len);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "{what}: not an HTTP/1.1 status line: {head:?}"
        );
        let status: u16 = status_line
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{what}: bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{what}: bad header line {line:?}"));
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        let mut response = Response {
            status,
            head,
            headers,
            body: Vec::new(),
        };
        let content_length = response
            .header("content-length")
            .map(|v| v.parse::<usize>().expect("numeric content-length"));
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if (100..200).contains(&status) || status == 204 || status == 304 {
            // No body.
        } else if let Some(len) = content_length {
            while self.buf.len() < len {
                assert!(
                    self.fill(what).await,
                    "{what}: closed inside a body of {len} bytes: {:?}",
                    response.head
                );
            }
            response.body = self.buf.drain(..len).collect();
        } else if chunked {
            response.body = loop {
                if let Some((body, used)) = dechunk(&self.buf) {
                    self.buf.drain(..used);
                    break body;
                }
                assert!(
                    self.fill(what).await,
                    "{what}: closed inside a chunked body: {:?}",
                    response.head
                );
            };
        } else {
            // Delimited by the close.
            while self.fill(what).await {}
            response.body = std::mem::take(&mut self.buf);
        }
        Some(response)
    }

    /// Asserts that the server closes the connection (bounded) without
    /// sending anything more.
    async fn assert_closed(&mut self, what: &str) {
        assert!(
            self.buf.is_empty(),
            "{what}: unexpected bytes: {:?}",
            lossy(&self.buf)
        );
        let more = self.fill(&format!("{what}: the server to close")).await;
        assert!(
            !more,
            "{what}: expected the connection to be closed, got {:?}",
            lossy(&self.buf)
        );
    }

    /// Waits up to `limit` for the server to close the connection without
    /// sending anything; returns how long it took, or `None` if it was
    /// still open after `limit`.
    async fn closed_within(&mut self, limit: Duration) -> Option<Duration> {
        let began = Instant::now();
        let mut chunk = [0u8; 1024];
        loop {
            match tokio::time::timeout_at((began + limit).into(), self.stream.read(&mut chunk))
                .await
            {
                Err(_) => return None,
                Ok(Ok(0) | Err(_)) => {
                    self.closed = true;
                    assert!(
                        self.buf.is_empty(),
                        "the server sent {:?} before closing",
                        lossy(&self.buf)
                    );
                    return Some(began.elapsed());
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Decodes a complete chunked body at the start of `raw`: the body and
/// the bytes it took, or `None` if it is not complete yet. Trailers are
/// not expected; a malformed encoding fails the test.
fn dechunk(raw: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let line_len = find(&raw[at..], b"\r\n")?;
        let line = std::str::from_utf8(&raw[at..at + line_len]).expect("chunk size line");
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).expect("hex chunk size");
        at += line_len + 2;
        if size == 0 {
            if raw.len() < at + 2 {
                return None;
            }
            assert_eq!(&raw[at..at + 2], b"\r\n", "no trailers expected");
            return Some((body, at + 2));
        }
        if raw.len() < at + size + 2 {
            return None;
        }
        body.extend_from_slice(&raw[at..at + size]);
        assert_eq!(&raw[at + size..at + size + 2], b"\r\n", "chunk terminator");
        at += size + 2;
    }
}

/// Sends `request` on a new connection and returns the first response,
/// or `None` if the server closed without answering; the connection is
/// returned too, to check what follows.
async fn exchange(addr: SocketAddr, request: &[u8]) -> (Option<Response>, Conn) {
    let mut conn = Conn::open(addr).await;
    // The server may close before reading all of a bad request.
    let _ = conn.send(request).await;
    let response = conn.response("response").await;
    (response, conn)
}

/// `request` gets exactly one response with `status` and the connection is
/// then closed; nothing of it reaches the application, and the server
/// still answers a valid request on a new connection.
async fn assert_refused_with(server: &Running, what: &str, request: &[u8], status: u16) {
    let before = server.seen().len();
    let (response, mut conn) = exchange(server.addr, request).await;
    let response = response.unwrap_or_else(|| panic!("{what}: closed without a response"));
    assert_eq!(response.status, status, "{what}: {:?}", response.head);
    conn.assert_closed(what).await;
    assert_eq!(
        server.seen().len(),
        before,
        "{what}: reached the application: {:?}",
        server.seen()
    );
    assert_still_serving(server.addr).await;
}

/// The server answers a valid request on a new connection.
async fn assert_still_serving(addr: SocketAddr) {
    let mut conn = Conn::open(addr).await;
    conn.send(b"GET /alive HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write a valid request");
    let response = conn
        .response("valid request on a new connection")
        .await
        .expect("the server answers a valid request on a new connection");
    assert_eq!(response.status, 200, "{:?}", response.head);
    assert_eq!(response.body_str(), "GET /alive\n");
}

// ---------------------------------------------------------------------
// 1. Malformed framing
// ---------------------------------------------------------------------

/// `Content-Length` with `Transfer-Encoding: chunked` (request smuggling),
/// in both header orders, with a whole second request hidden after the
/// chunked body (`CL: 4`, too short) or inside the `Content-Length` body
/// (`CL` covering everything). Two requests must never come out of it.
///
/// Observed (hyper 1.x): chunked wins (RFC 9112 §6.3), the request is
/// answered 200 with an empty body and `connection: close`, and the
/// connection is closed — the bytes after the chunked body are never
/// parsed, so `/smuggled` never reaches the application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_chunked_is_never_two_requests() {
    let server = start_server(|s| s).await;
    let hidden = "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let lengths = [4, hidden.len()];
    for length in lengths {
        for te_first in [false, true] {
            let cl = format!("Content-Length: {length}\r\n");
            let te = "Transfer-Encoding: chunked\r\n";
            let (a, b) = if te_first {
                (te, cl.as_str())
            } else {
                (cl.as_str(), te)
            };
            let request = format!("POST /first HTTP/1.1\r\nHost: x\r\n{a}{b}\r\n{hidden}");
            let what = format!("{request:?}");

            let (response, mut conn) = exchange(server.addr, request.as_bytes()).await;
            let response = response.unwrap_or_else(|| panic!("{what}: no response"));
            assert_eq!(response.status, 200, "{what}: {:?}", response.head);
            assert_eq!(
                response.body_str(),
                "POST /first\n",
                "{what}: framed by chunked, the body is empty"
            );
            assert_eq!(response.header("connection"), Some("close"), "{what}");
            // No second response: the connection is closed.
            conn.assert_closed(&what).await;
            assert_eq!(server.seen(), ["POST /first"], "{what}");
            server.seen.lock().expect("seen lock").clear();
            assert_still_serving(server.addr).await;
            server.seen.lock().expect("seen lock").clear();
        }
    }
    server.stop().await;
}

/// Two differing `Content-Length` headers get 400 and a close (hyper);
/// identical duplicates are one length (RFC 9110 §8.6 allows that) and
/// the request is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differing_content_lengths_get_400() {
    let server = start_server(|s| s).await;
    let cases: [&[u8]; 2] = [
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nContent-Length: 5\r\n\r\nhello!",
    ];
    for request in cases {
        let what = format!("{:?}", lossy(request));
        assert_refused_with(&server, &what, request, 400).await;
    }

    let (response, _conn) = exchange(
        server.addr,
        b"POST /same HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    let response = response.expect("identical Content-Length headers are answered");
    assert_eq!(response.status, 200, "{:?}", response.head);
    assert_eq!(response.body_str(), "POST /same\nhello");
    server.stop().await;
}

/// A `Content-Length` that is not a plain decimal number gets 400 and a
/// close (hyper parses it strictly: no sign, no hex, no garbage).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_content_length_gets_400() {
    let server = start_server(|s| s).await;
    for value in [
        "12abc",
        "+12",
        "-1",
        "0x0c",
        "1 2",
        "",
        "99999999999999999999999",
    ] {
        let request = format!("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\n");
        let what = format!("Content-Length: {value:?}");
        assert_refused_with(&server, &what, request.as_bytes(), 400).await;
    }
    server.stop().await;
}

/// An invalid chunk size (`zz`): the head is valid, so the request reaches
/// the application, whose body read fails; the gateway answers 400 (the
/// client's fault) and hyper closes the connection, so the bytes after it
/// are never read as a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_chunk_size_is_refused() {
    let server = start_server(|s| s).await;
    let request = b"POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                    zz\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let (response, mut conn) = exchange(server.addr, request).await;
    let response = response.expect("a response to the invalid chunk size");
    assert_eq!(response.status, 400, "{:?}", response.head);
    conn.assert_closed("invalid chunk size").await;
    assert_eq!(server.seen(), ["POST /chunks"]);
    assert_still_serving(server.addr).await;
    server.stop().await;
}

/// Transfer-coding lists (RFC 9112 §6.1):
///
/// * `gzip, chunked` (ends in chunked): hyper would accept it and de-chunk
///   the body without undoing `gzip`; gateway-hyper answers 501 (RFC 9112
///   §6.1: a coding the server does not understand) and the application
///   never sees the still-coded bytes.
/// * `chunked, gzip` (not ending in chunked), `chunked` then `gzip` on two
///   lines, and an unknown coding `foo`: 400 (not 501) and a close.
/// * `chunked` on HTTP/1.0 (which has no transfer codings): 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_encoding_lists() {
    let server = start_server(|s| s).await;

    let gzip = b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n";
    assert_refused_with(&server, "gzip, chunked", gzip, 501).await;

    let refused: [&[u8]; 4] = [
        b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
        b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
          Transfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"POST /te HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\nhello",
        b"POST /te HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
    ];
    for request in refused {
        let what = format!("{:?}", lossy(request));
        assert_refused_with(&server, &what, request, 400).await;
    }
    server.stop().await;
}

// ---------------------------------------------------------------------
// 2. Bad bytes and oversized heads
// ---------------------------------------------------------------------

/// NUL, a bare CR, a bare LF followed by a non-header line, and an
/// obsolete line folding inside a header value: 400 and a close (httparse
/// rejects them; RFC 9112 §5.2 requires 400 for obs-fold in requests).
///
/// hyper treats a bare LF as a line end (RFC 9112 §2.2 allows it), so
/// `a\nX-B: b` is two header lines and is served: that control is
/// asserted too, so a change in hyper's leniency is noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bytes_in_header_values_get_400() {
    let server = start_server(|s| s).await;
    let cases: [(&str, &[u8]); 4] = [
        ("NUL", b"GET /x HTTP/1.1\r\nHost: x\r\nX-Bad: a\0b\r\n\r\n"),
        (
            "bare CR",
            b"GET /x HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n",
        ),
        (
            "bare LF",
            b"GET /x HTTP/1.1\r\nHost: x\r\nX-Bad: a\nb\r\n\r\n",
        ),
        (
            "obs-fold",
            b"GET /x HTTP/1.1\r\nHost: x\r\nX-Bad: a\r\n b\r\n\r\n",
        ),
    ];
    for (what, request) in cases {
        assert_refused_with(&server, what, request, 400).await;
    }

    let (response, _conn) = exchange(
        server.addr,
        b"GET /lf HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\n\r\n",
    )
    .await;
    let response = response.expect("bare LF as a line end is answered");
    assert_eq!(response.status, 200, "{:?}", response.head);
    assert_eq!(response.body_str(), "GET /lf\n");
    server.stop().await;
}

/// Whitespace between a header name and its colon: 400 and a close (RFC
/// 9112 §5.1 requires 400), for an ordinary header and for `Host`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_before_colon_gets_400() {
    let server = start_server(|s| s).await;
    let cases: [&[u8]; 3] = [
        b"GET /x HTTP/1.1\r\nHost: x\r\nX-Bad : v\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: x\r\nX-Bad\t: v\r\n\r\n",
    ];
    for request in cases {
        let what = format!("{:?}", lossy(request));
        assert_refused_with(&server, &what, request, 400).await;
    }
    server.stop().await;
}

/// A 100 KiB request target.
///
/// * With the default 64 KiB head limit: 414 (hyper's URI limit, 65,534
///   bytes, is checked as the request line is parsed) or 431 (the read
///   buffer filled first; which one depends on how the bytes arrive —
///   both refuse the request). The server closes with part of the
///   request unread, so the kernel may answer the client with a reset;
///   on a client that reads late the reset can overtake the 431 — a
///   close without a response is then accepted, but never another status.
/// * With a 256 KiB head limit the head is read whole, and hyper's own
///   URI limit (65,534 bytes) answers 414, deterministically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_request_target_is_refused() {
    let target = format!("/{}", "a".repeat(100 * 1024));
    let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");

    let server = start_server(|s| s).await;
    let (response, mut conn) = exchange(server.addr, request.as_bytes()).await;
    match response {
        Some(response) => {
            assert!(matches!(response.status, 414 | 431), "{:?}", response.head);
            conn.assert_closed("100 KiB target, 64 KiB limit").await;
        }
        None => eprintln!("100 KiB target: the reset overtook the 431 (accepted)"),
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
    assert_still_serving(server.addr).await;
    server.stop().await;

    let server = start_server(|s| s.max_header_size(256 * 1024)).await;
    assert_refused_with(
        &server,
        "100 KiB target, 256 KiB limit",
        request.as_bytes(),
        414,
    )
    .await;
    server.stop().await;
}

/// 150 header fields: 431 and a close past the default limit of 100; the
/// same request is served once `max_headers` allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_headers_get_431() {
    let mut request = String::from("GET /many HTTP/1.1\r\nHost: x\r\n");
    for i in 1..150 {
        request.push_str(&format!("X-H{i}: v\r\n"));
    }
    request.push_str("\r\n");

    let server = start_server(|s| s).await;
    assert_refused_with(&server, "150 headers", request.as_bytes(), 431).await;
    server.stop().await;

    let server = start_server(|s| s.max_headers(200)).await;
    let (response, _conn) = exchange(server.addr, request.as_bytes()).await;
    let response = response.expect("150 headers with max_headers(200)");
    assert_eq!(response.status, 200, "{:?}", response.head);
    assert_eq!(response.body_str(), "GET /many\n");
    server.stop().await;
}

// ---------------------------------------------------------------------
// 3–4. Slow and idle clients
// ---------------------------------------------------------------------

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

// ---------------------------------------------------------------------
// 5. Many connections
// ---------------------------------------------------------------------

const CONNECTIONS: usize = 1000;
/// The connections are opened and used by this many concurrent tasks.
const TASKS: usize = 50;

/// How many connections this process can hold, up to `wanted`: each takes
/// two descriptors here (client and server end), plus some headroom for
/// the runtime. Probed by opening files until it fails (`EMFILE`), without
/// libc; the default soft limit on some systems is only 1,024.
fn connection_budget(wanted: usize) -> usize {
    const HEADROOM: usize = 64;
    let target = 2 * wanted + HEADROOM;
    let exe = std::env::current_exe().expect("current_exe");
    let mut files = Vec::with_capacity(target);
    let mut failure = None;
    while files.len() < target {
        match std::fs::File::open(&exe) {
            Ok(file) => files.push(file),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    let opened = files.len();
    drop(files);
    match failure {
        None => wanted,
        Some(err) => {
            let budget = opened.saturating_sub(HEADROOM) / 2;
            let banner = "!".repeat(72);
            let notice = format!(
                "\n{banner}\n!!! file descriptors: only {opened} more could be opened ({err});\n\
                 !!! testing {budget} connections instead of {wanted}. Raise `ulimit -n`.\n{banner}\n\n"
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
            budget
        }
    }
}

/// 1,000 keep-alive connections open at once, each answered twice: every
/// response is a 200 naming the client's own address, the same on both
/// requests (so the second request travelled on the same connection, kept
/// open while all the others were open too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_keep_alive_connections() {
    let n = connection_budget(CONNECTIONS);
    assert!(
        n >= 500,
        "the file-descriptor limit leaves room for only {n} connections; at least 500 are needed"
    );
    let server = start_server(|s| s).await;
    let addr = server.addr;
    let began = Instant::now();

    // Round one: open every connection and send one request on each.
    let mut tasks = Vec::with_capacity(TASKS);
    for t in 0..TASKS {
        let count = n / TASKS + usize::from(t < n % TASKS);
        tasks.push(tokio::spawn(async move {
            let mut conns = Vec::with_capacity(count);
            for _ in 0..count {
                let stream = within("connect", TcpStream::connect(addr))
                    .await
                    .unwrap_or_else(|err| panic!("connect #{}: {err}", conns.len()));
                let local = stream.local_addr().expect("local_addr").to_string();
                let mut conn = Conn::new(stream);
                conn.send(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .expect("write the first request");
                let response = conn
                    .response("first request")
                    .await
                    .expect("a response to the first request");
                assert_eq!(response.status, 200, "{:?}", response.head);
                assert_eq!(response.body_str(), local, "the server's view of the peer");
                conns.push((conn, local));
            }
            conns
        }));
    }
    let mut groups = Vec::with_capacity(TASKS);
    for task in tasks {
        groups.push(within("round one", task).await.expect("round one task"));
    }
    let open: usize = groups.iter().map(Vec::len).sum();
    assert_eq!(open, n, "connections open at once");
    let round_one = began.elapsed();

    // Round two: with all of them open, a second request on each.
    let mut tasks = Vec::with_capacity(TASKS);
    for mut group in groups {
        tasks.push(tokio::spawn(async move {
            for (conn, local) in &mut group {
                conn.send(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .expect("write the second request");
                let response = conn
                    .response("second request")
                    .await
                    .expect("a response on the same connection");
                assert_eq!(response.status, 200, "{:?}", response.head);
                assert_eq!(response.body_str(), *local, "same connection");
            }
            group
        }));
    }
    let mut groups = Vec::with_capacity(TASKS);
    for task in tasks {
        groups.push(within("round two", task).await.expect("round two task"));
    }
    let elapsed = began.elapsed();
    eprintln!("{n} connections: round one {round_one:?}, both rounds {elapsed:?}");
    assert_eq!(server.seen().len(), 2 * n, "requests the application saw");
    assert_still_serving(addr).await;

    drop(groups);
    server.stop().await;
}

// ---------------------------------------------------------------------
// 6. Pipelining
// ---------------------------------------------------------------------

/// Three requests in one write — a GET, a chunked POST and a GET — get
/// three responses in order, each with its own body; the connection then
/// serves a fourth request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let server = start_server(|s| s).await;
    let mut conn = Conn::open(server.addr).await;
    conn.send(
        b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n\
          GET /three HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .expect("write three requests");
    for expected in ["GET /one\n", "POST /two\nhello", "GET /three\n"] {
        let response = conn
            .response(expected)
            .await
            .unwrap_or_else(|| panic!("closed before the response to {expected:?}"));
        assert_eq!(response.status, 200, "{:?}", response.head);
        assert_eq!(response.body_str(), expected);
    }
    assert!(
        conn.buf.is_empty(),
        "bytes after the third response: {:?}",
        lossy(&conn.buf)
    );

    conn.send(b"POST /four HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .expect("write a fourth request");
    let response = conn.response("fourth").await.expect("a fourth response");
    assert_eq!(response.status, 200, "{:?}", response.head);
    assert_eq!(response.body_str(), "POST /four\nabc");
    assert_eq!(
        server.seen(),
        ["GET /one", "POST /two", "GET /three", "POST /four"]
    );
    drop(conn);
    assert_still_serving(server.addr).await;
    server.stop().await;
}
