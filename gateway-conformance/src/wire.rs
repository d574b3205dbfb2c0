//! The kit's clients: raw HTTP/1.1 over the socket (so framing is seen as
//! sent), and hyper's HTTP/2 client.

use std::future::Future;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::adapter::{Endpoint, Running};

/// How long one step (connect, a write, a response) may take.
pub(crate) const STEP: Duration = Duration::from_secs(3);

/// A byte stream to the adapter.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The TLS client settings of a [`Running`] (feature `tls`).
#[cfg(feature = "tls")]
#[derive(Clone, Debug)]
pub(crate) struct TlsClient {
    pub(crate) config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    pub(crate) server_name: String,
}

/// Awaits `fut` for up to [`STEP`]; a timeout fails with `what`.
pub(crate) async fn step<T>(what: &str, fut: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(STEP, fut)
        .await
        .map_err(|_| format!("timed out after {STEP:?} waiting for {what}"))
}

/// A new connection to the adapter; `alpn` is the protocol to ask for
/// under TLS.
pub(crate) async fn connect(running: &Running, alpn: &[u8]) -> Result<Box<dyn Io>, String> {
    let io: Box<dyn Io> = match &running.endpoint {
        Endpoint::Tcp(addr) => {
            let tcp = step("connect", tokio::net::TcpStream::connect(addr))
                .await?
                .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
            let _ = tcp.set_nodelay(true);
            #[cfg(feature = "tls")]
            if let Some(tls) = &running.tls {
                return tls_connect(tls, tcp, alpn).await;
            }
            Box::new(tcp)
        }
        #[cfg(unix)]
        Endpoint::Unix(path) => {
            let unix = step("connect", tokio::net::UnixStream::connect(path))
                .await?
                .map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
            Box::new(unix)
        }
        #[cfg(not(unix))]
        Endpoint::Unix(path) => return Err(format!("no Unix sockets here: {}", path.display())),
    };
    let _ = alpn;
    Ok(io)
}

#[cfg(feature = "tls")]
async fn tls_connect(
    tls: &TlsClient,
    tcp: tokio::net::TcpStream,
    alpn: &[u8],
) -> Result<Box<dyn Io>, String> {
    use tokio_rustls::rustls::pki_types::ServerName;
    let mut config = (*tls.config).clone();
    config.alpn_protocols = vec![alpn.to_vec()];
    let name = ServerName::try_from(tls.server_name.clone())
        .map_err(|e| format!("invalid TLS server name {:?}: {e}", tls.server_name))?;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let stream = step("the TLS handshake", connector.connect(name, tcp))
        .await?
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let negotiated = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    if negotiated.as_deref() != Some(alpn) {
        return Err(format!(
            "ALPN: asked for {:?}, the server chose {:?}",
            String::from_utf8_lossy(alpn),
            negotiated.map(|p| String::from_utf8_lossy(&p).into_owned())
        ));
    }
    Ok(Box::new(stream))
}

/// How an HTTP/1 response body was delimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body may follow (HEAD, 1xx, 204, 304).
    None,
    /// `Content-Length: n`; `complete` when all n bytes arrived.
    Length { len: u64, complete: bool },
    /// Chunked; `complete` when the terminating chunk arrived.
    Chunked { complete: bool },
    /// Delimited by the end of the connection.
    Close,
}

/// A response as read off the wire.
#[derive(Clone, Debug)]
pub(crate) struct H1Response {
    pub(crate) status: u16,
    /// Names lowercased, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) framing: Framing,
    pub(crate) trailers: Vec<(String, String)>,
    /// The connection closed right after this response.
    pub(crate) closed: bool,
}

impl H1Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub(crate) fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A one-line summary for failure messages.
    pub(crate) fn summary(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        let mut body = self.text();
        if body.len() > 80 {
            body.truncate(80);
            body.push('…');
        }
        format!(
            "{} [{}] {:?} framed {:?}",
            self.status,
            headers.join(", "),
            body,
            self.framing
        )
    }
}

/// A raw HTTP/1.1 connection.
pub(crate) struct H1 {
    io: Box<dyn Io>,
    /// Bytes read past the last response.
    buf: Vec<u8>,
    eof: bool,
    /// Read the status from a CGI `Status` field (Python's CGI host).
    status_field: bool,
}

impl H1 {
    pub(crate) async fn connect(running: &Running, status_field: bool) -> Result<H1, String> {
        Ok(H1 {
            io: connect(running, b"http/1.1").await?,
            buf: Vec::new(),
            eof: false,
            status_field,
        })
    }

    /// Writes `bytes` in one write.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        step("a write", async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await?
        .map_err(|e| format!("write failed: {e}"))
    }

    /// Closes the connection (the client goes away).
    pub(crate) async fn close(mut self) {
        let _ = step("a shutdown", self.io.shutdown()).await;
        drop(self);
    }

    /// Reads more bytes; `Ok(false)` at the end of the connection.
    async fn fill(&mut self, what: &str) -> Result<bool, String> {
        if self.eof {
            return Ok(false);
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = match step(what, self.io.read(&mut chunk)).await? {
            Ok(n) => n,
            // A reset is an end too (the adapter aborted).
            Err(e) if is_reset(&e) => 0,
            Err(e) => return Err(format!("read failed ({what}): {e}")),
        };
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(true)
    }

    /// A line ending in CRLF, without it; `None` at the end of the
    /// connection.
    async fn line(&mut self, what: &str) -> Result<Option<String>, String> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..at + 2).take(at).collect();
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if !self.fill(what).await? {
                return Ok(None);
            }
        }
    }

    /// The next response head, interim ones included: status and fields.
    pub(crate) async fn head(&mut self) -> Result<(u16, Vec<(String, String)>), String> {
        let Some(status_line) = self.line("a status line").await? else {
            return Err("the connection closed before a response".to_owned());
        };
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status = parts.next().and_then(|s| s.parse::<u16>().ok());
        let (true, Some(mut status)) = (version.starts_with("HTTP/1."), status) else {
            return Err(format!("not an HTTP/1 status line: {status_line:?}"));
        };
        let mut headers = Vec::new();
        loop {
            let Some(line) = self.line("the response head").await? else {
                return Err("the connection closed inside a response head".to_owned());
            };
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!("malformed header line {line:?}"));
            };
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        if self.status_field && status == 200 {
            if let Some((_, value)) = headers.iter().find(|(n, _)| n == "status") {
                status = value
                    .split(' ')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("malformed Status field {value:?}"))?;
            }
        }
        Ok((status, headers))
    }

    /// Reads one final response (skipping interim ones); `head_request`
    /// when it answers HEAD.
    pub(crate) async fn response(&mut self, head_request: bool) -> Result<H1Response, String> {
        let (status, headers) = loop {
            let (status, headers) = self.head().await?;
            if !(100..200).contains(&status) || status == 101 {
                break (status, headers);
            }
        };
        let mut res = H1Response {
            status,
            headers,
            body: Vec::new(),
            framing: Framing::None,
            trailers: Vec::new(),
            closed: false,
        };
        let bodiless =
            head_request || (100..200).contains(&status) || status == 204 || status == 304;
        if bodiless {
            // Anything already here is a body that must not be.
            res.closed = self.eof;
            return Ok(res);
        }
        if res.is_chunked() {
            self.chunked(&mut res).await?;
        } else if let Some(len) = res.header("content-length") {
            let len: u64 = len
                .parse()
                .map_err(|_| format!("invalid Content-Length {len:?}: {}", res.summary()))?;
            while (self.buf.len() as u64) < len {
                if !self.fill("the body (Content-Length)").await? {
                    break;
                }
            }
            let take = self.buf.len().min(len as usize);
            res.body = self.buf.drain(..take).collect();
            res.framing = Framing::Length {
                len,
                complete: res.body.len() as u64 == len,
            };
        } else {
            while self.fill("the body (until the connection closes)").await? {}
            res.body = std::mem::take(&mut self.buf);
            res.framing = Framing::Close;
        }
        res.closed = self.eof;
        Ok(res)
    }

    async fn chunked(&mut self, res: &mut H1Response) -> Result<(), String> {
        res.framing = Framing::Chunked { complete: false };
        loop {
            let Some(size_line) = self.line("a chunk size").await? else {
                return Ok(());
            };
            let size = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| format!("invalid chunk size line {size_line:?}"))?;
            if size == 0 {
                loop {
                    let Some(line) = self.line("the trailers").await? else {
                        return Ok(());
                    };
                    if line.is_empty() {
                        res.framing = Framing::Chunked { complete: true };
                        return Ok(());
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        res.trailers
                            .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                    }
                }
            }
            while self.buf.len() < size + 2 {
                if !self.fill("a chunk").await? {
                    res.body.append(&mut self.buf);
                    return Ok(());
                }
            }
            res.body.extend(self.buf.drain(..size));
            if self.buf.drain(..2).as_slice() != b"\r\n" {
                return Err("a chunk does not end with CRLF".to_owned());
            }
        }
    }

    /// Whether any byte arrives within `wait` (a stray body after a
    /// bodiless response).
    pub(crate) async fn stray_bytes(&mut self, wait: Duration) -> Result<Vec<u8>, String> {
        if self.buf.is_empty() && !self.eof {
            let mut chunk = [0u8; 1024];
            if let Ok(Ok(n)) = tokio::time::timeout(wait, self.io.read(&mut chunk)).await {
                if n == 0 {
                    self.eof = true;
                }
                self.buf.extend_from_slice(&chunk[..n]);
            }
        }
        Ok(self.buf.clone())
    }

    /// Exactly `n` raw bytes (after a 101); fewer if the connection ends.
    pub(crate) async fn raw(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            if !self.fill("bytes over the upgraded connection").await? {
                break;
            }
        }
        let take = self.buf.len().min(n);
        Ok(self.buf.drain(..take).collect())
    }

    /// Reads whatever comes until the connection closes.
    pub(crate) async fn until_close(&mut self) -> Result<Vec<u8>, String> {
        while self.fill("the end of the connection").await? {}
        Ok(std::mem::take(&mut self.buf))
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    ) || e.kind() == io::ErrorKind::UnexpectedEof
}

/// A request body for the HTTP/2 client: whole, or fed through a channel.
pub(crate) enum ReqBody {
    Full(Option<Bytes>),
    Channel(tokio::sync::mpsc::Receiver<Bytes>),
}

impl http_body::Body for ReqBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        match self.get_mut() {
            ReqBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(http_body::Frame::data(d)))),
            ReqBody::Channel(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|d| Ok(http_body::Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ReqBody::Full(None))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            ReqBody::Full(data) => {
                http_body::SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            ReqBody::Channel(_) => http_body::SizeHint::default(),
        }
    }
}

/// An HTTP/2 connection through hyper's client.
pub(crate) struct H2 {
    pub(crate) send: hyper::client::conn::http2::SendRequest<ReqBody>,
    task: tokio::task::JoinHandle<()>,
}

impl H2 {
    pub(crate) async fn connect(running: &Running) -> Result<H2, String> {
        let io = connect(running, b"h2").await?;
        let (send, conn) = step(
            "the HTTP/2 handshake",
            hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(io),
            ),
        )
        .await?
        .map_err(|e| format!("HTTP/2 handshake failed: {e}"))?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(H2 { send, task })
    }
}

impl Drop for H2 {
    fn drop(&mut self) {
        self.task.abort();
    }
}
