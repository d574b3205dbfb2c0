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

mod bad_bytes;
mod framing;
mod many_connections;
mod pipelining;
mod slow_clients;

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
