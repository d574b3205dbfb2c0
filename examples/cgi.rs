//! A second adapter, not hyper: runs any [`Application`] as a CGI program
//! (RFC 3875). The web server (the CGI host) puts the request in
//! environment variables and on standard input, starts the program once
//! per request, and reads the response from standard output.
//!
//! It follows `gateway_core::adapter_guide` step by step and is small on
//! purpose: the driver does the work that is the same for every adapter,
//! and what is left is the translation between CGI and the environ.
//!
//! ```no_run
//! // src/bin/hello.cgi.rs — copy the binary into the host's cgi-bin/.
//! fn main() -> std::process::ExitCode {
//!     gateway_examples::cgi::run_cgi(gateway_examples::hello::app())
//! }
//! ```
//!
//! # From meta-variables to the environ (RFC 3875 §4.1)
//!
//! | meta-variable | becomes |
//! |---|---|
//! | `REQUEST_METHOD` | the method (required) |
//! | `SCRIPT_NAME` | [`Environ::script_name`], by [`Environ::mount`] |
//! | `PATH_INFO` | [`Environ::path_info`] |
//! | `QUERY_STRING` | the query, as sent (CGI does not decode it) |
//! | `SERVER_PROTOCOL` | the version (`HTTP/1.0`, `HTTP/1.1`, `HTTP/2`…; others count as 1.1) |
//! | `CONTENT_LENGTH`, `CONTENT_TYPE` | those headers; the length is also how many bytes of stdin are the body |
//! | `HTTP_*` | the other request headers (`HTTP_X_REQUEST_ID` → `x-request-id`) |
//! | `REMOTE_ADDR`, `REMOTE_PORT` | [`ConnInfo::peer`] (port 0 when not given) |
//! | `SERVER_ADDR`, `SERVER_PORT` | [`ConnInfo::local`], when the host gives an address |
//! | `HTTPS` (`on`/`1`), `REQUEST_SCHEME` | the scheme; `https` counts as TLS |
//! | `SERVER_NAME`, `SERVER_PORT` | a `Host` header, only when the host sent no `HTTP_HOST` (Python's `http.server` does not) |
//!
//! **Paths are decoded.** CGI hands over `SCRIPT_NAME` and `PATH_INFO`
//! percent-decoded (§4.1.5, §4.1.13), while the environ keeps the raw
//! request-target. The adapter re-encodes both (every byte outside
//! RFC 3986's `pchar` and `/`), so the environ is valid, but the original
//! spelling is gone: a client's `%2F` arrives as `/` — an extra path
//! segment — and `%41` as `A`. This is a limit of CGI itself, the one WSGI
//! has too; applications that need `%2F` must run on an adapter that sees
//! the request-target.
//!
//! # Limits and failures
//!
//! - A body longer than the limit ([`DEFAULT_MAX_BODY_SIZE`], or the one
//!   given to [`Cgi::max_body_size`]) is refused with 413 before the
//!   application runs; a body shorter than `CONTENT_LENGTH` (the host
//!   went away) fails with [`BodyError::Incomplete`], 400. Without
//!   `CONTENT_LENGTH` there is no body (§4.1.2: the host de-chunks).
//! - A `Host` that is not `host[:port]`, a malformed `CONTENT_LENGTH`, a
//!   path or query that makes no request-target: 400, from the driver's
//!   [`error_response`](driver::error_response), without calling the
//!   application. A process without `REQUEST_METHOD` is not running under
//!   CGI: 500 and a note on stderr.
//! - The application's `startup` runs before the request and `shutdown`
//!   after it: a CGI process lives for one request. A failed startup is a
//!   500.
//!
//! # The response (RFC 3875 §6)
//!
//! `Status: 200 OK`, the header fields the driver left (it has already
//! removed the connection-specific ones, which are the host's), a
//! `Content-Length` when the body's size is exactly known, a blank line,
//! then the body — never for HEAD, 204 or 304. The status is always sent,
//! so a `Location` is a client redirect (§6.2.3–6.2.4), never a host-side
//! local redirect. Trailers cannot be sent through CGI and are dropped.
//!
//! **An error after the commit** (rule 7) can only be told by stopping:
//! the program writes no more, logs to stderr and exits with status 1.
//! A host that announced a `Content-Length` must then close the connection
//! and the client sees the truncation; a host that chunks or
//! close-delimits may end the response as if it were complete, so
//! truncation there cannot be seen — RFC 3875 has no way to abort.
//!
//! **Cancellation**: when the client goes away, the host closes the pipes
//! or kills the process; a write to stdout then fails and the program
//! stops, dropping the application's body (and with it the application's
//! work) unfinished.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway_core::driver::{self, CommitHints};
use gateway_core::host::is_valid_host;
use gateway_core::http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue, UPGRADE,
};
use gateway_core::http::{HeaderMap, Method, Request, StatusCode, Uri, Version};
use gateway_core::{
    Addr, Application, Body, BodyError, ConnInfo, Environ, Error, Response, Scheme,
};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt as _;

/// The request body limit unless [`Cgi::max_body_size`] says otherwise:
/// 8 MiB.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 8 << 20;

/// Runs `app` for the one request of this CGI process: reads the
/// meta-variables and stdin, writes the response to stdout. The `main` of
/// a CGI program:
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     gateway_examples::cgi::run_cgi(gateway_examples::hello::app())
/// }
/// ```
///
/// Same as `Cgi::new().run(app)`; see the [module docs](self).
pub fn run_cgi<A: Application>(app: A) -> ExitCode {
    Cgi::new().run(app)
}

/// The CGI adapter's configuration (a builder).
///
/// ```
/// use gateway_examples::cgi::Cgi;
/// let cgi = Cgi::new().max_body_size(1 << 20);
/// # let _ = cgi;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Cgi {
    max_body_size: u64,
}

impl Default for Cgi {
    fn default() -> Self {
        Cgi::new()
    }
}

impl Cgi {
    /// The defaults: a body limit of [`DEFAULT_MAX_BODY_SIZE`].
    pub fn new() -> Cgi {
        Cgi {
            max_body_size: DEFAULT_MAX_BODY_SIZE,
        }
    }

    /// The largest request body accepted, in bytes; longer ones get 413.
    /// Defaults to [`DEFAULT_MAX_BODY_SIZE`].
    pub fn max_body_size(mut self, limit: u64) -> Cgi {
        self.max_body_size = limit;
        self
    }

    /// Runs `app` for this process's request (the process environment,
    /// stdin and stdout) on a current-thread tokio runtime, calling its
    /// `startup` before and `shutdown` after. Returns success when a whole
    /// response was written, failure otherwise (stderr says why).
    pub fn run<A: Application>(self, app: A) -> ExitCode {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("cgi: cannot start a runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stdout = io::stdout().lock();
        let result = runtime.block_on(async {
            if let Err(e) = app.startup().await {
                eprintln!("cgi: application startup failed: {e}");
                let hints = cgi_hints(&Method::GET);
                let err = Error::with_status(StatusCode::INTERNAL_SERVER_ERROR, e.into_inner());
                write_response(driver::error_response(&err, hints), hints, stdout).await?;
                return Err(io::Error::other("application startup failed"));
            }
            let result = self
                .serve(&app, std::env::vars_os(), io::stdin(), stdout)
                .await;
            app.shutdown().await;
            result
        });
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cgi: {e}");
                ExitCode::FAILURE
            }
        }
    }

    /// One request: builds the environ from `vars` (the meta-variables)
    /// and `stdin`, runs `app` through [`driver::commit`], and
    /// writes the CGI response to `stdout`. Does not call `startup` or
    /// `shutdown`. Fails when writing fails or the body fails after the
    /// commit (the response is then cut short, see the
    /// [module docs](self)).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_examples::cgi::Cgi;
    ///
    /// let vars = [("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", "/cgi-bin/hello"), ("PATH_INFO", "/")]
    ///     .map(|(k, v)| (k.into(), v.into()));
    /// let mut out = Vec::new();
    /// Cgi::new().serve(&gateway_examples::hello::app(), vars, std::io::empty(), &mut out).await?;
    /// assert!(out.starts_with(b"Status: 200 OK\r\n"));
    /// assert!(out.ends_with(b"\r\n\r\nHello, world!\n"));
    /// # Ok::<_, std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn serve<A, I, R, W>(self, app: &A, vars: I, stdin: R, stdout: W) -> io::Result<()>
    where
        A: Application,
        I: IntoIterator<Item = (OsString, OsString)>,
        R: Read + Send + Unpin + 'static,
        W: Write,
    {
        let (response, hints) = match self.environ(vars, stdin) {
            Ok((env, hints)) => {
                let Ok(response) = driver::commit(app, env).await;
                (response, hints)
            }
            // The response the driver itself gives a failed request.
            Err((err, hints)) => (driver::error_response(&err, hints), hints),
        };
        write_response(response, hints, stdout).await
    }

    /// The environ and the hints the driver needs, or the error to answer
    /// with (and the hints for its response).
    fn environ<I, R>(
        self,
        vars: I,
        stdin: R,
    ) -> Result<(Environ, CommitHints), (Error, CommitHints)>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
        R: Read + Send + Unpin + 'static,
    {
        let meta = Meta::collect(vars);
        let Some(method) = meta.method.as_deref() else {
            let hints = cgi_hints(&Method::GET);
            eprintln!("cgi: REQUEST_METHOD is not set: not started by a CGI host");
            return Err((Error::new("not a CGI request"), hints));
        };
        let method = match Method::from_bytes(method.as_encoded_bytes()) {
            Ok(method) => method,
            Err(_) => {
                return Err((bad("invalid REQUEST_METHOD"), cgi_hints(&Method::GET)));
            }
        };
        // A CGI response cannot switch protocols: no request is an
        // upgrade (its `Upgrade` field is dropped below), so the driver
        // turns a 101 into a 500.
        let hints = cgi_hints(&method);
        let reject = |err: Error| Err((err, hints));

        let mut headers = HeaderMap::new();
        for (name, value) in &meta.http {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value.as_encoded_bytes()),
            ) else {
                return reject(bad("invalid request header"));
            };
            headers.append(name, value);
        }
        headers.remove(UPGRADE);
        match headers.get(HOST) {
            Some(host) if !is_valid_host(host.as_bytes()) => return reject(bad("invalid Host")),
            Some(_) => {}
            None => {
                // SERVER_NAME and SERVER_PORT are required (§4.1.14-15):
                // they say which host the client asked for.
                if let Some(host) = meta.host_from_server() {
                    headers.insert(HOST, host);
                }
            }
        }
        if let Some(ty) = meta.content_type.as_deref().filter(|t| !t.is_empty()) {
            match HeaderValue::from_bytes(ty.as_encoded_bytes()) {
                Ok(ty) => headers.insert(CONTENT_TYPE, ty),
                Err(_) => return reject(bad("invalid CONTENT_TYPE")),
            };
        }
        let announced = meta.content_length.as_deref().filter(|l| !l.is_empty());
        let length = match announced {
            None => 0,
            Some(length) => match length.to_str().and_then(|l| l.parse::<u64>().ok()) {
                Some(n) => n,
                None => return reject(bad("invalid CONTENT_LENGTH")),
            },
        };
        if length > self.max_body_size {
            let limit = self.max_body_size;
            return reject(BodyError::LengthLimitExceeded { limit }.into());
        }
        if announced.is_some() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        }

        let script = encode_path(meta.script_name.as_deref());
        let info = encode_path(meta.path_info.as_deref());
        let mut target = String::with_capacity(script.len() + info.len() + 1);
        target.push_str(&script);
        target.push_str(&info);
        if target.is_empty() {
            target.push('/');
        }
        if let Some(query) = meta
            .query
            .as_deref()
            .and_then(OsStr::to_str)
            .filter(|q| !q.is_empty())
        {
            target.push('?');
            target.push_str(query);
        }
        let Ok(uri) = target.parse::<Uri>() else {
            return reject(bad("the path and query make no request-target"));
        };

        let mut request = Request::new(());
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.version_mut() = meta.version();
        *request.headers_mut() = headers;
        let (parts, ()) = request.into_parts();
        // A bodiless request gets the empty body, which does not allocate.
        let body = if length == 0 {
            Body::empty()
        } else {
            Body::new(Stdin {
                reader: stdin,
                remaining: length,
            })
        };
        let mut env = Environ::from_parts(parts, body, meta.conn());
        if !script.is_empty() && !env.mount(&script) {
            // Not reached for a host's SCRIPT_NAME ("/cgi-bin/x"); one with
            // an empty segment stays in path_info rather than being lost.
            eprintln!("cgi: SCRIPT_NAME {script:?} cannot be mounted; left in PATH_INFO");
        }
        Ok((env, hints))
    }
}

fn bad(reason: &'static str) -> Error {
    Error::with_status(StatusCode::BAD_REQUEST, reason)
}

/// The meta-variables this adapter reads, gathered in one pass.
#[derive(Default)]
struct Meta {
    method: Option<OsString>,
    script_name: Option<OsString>,
    path_info: Option<OsString>,
    query: Option<OsString>,
    protocol: Option<OsString>,
    content_length: Option<OsString>,
    content_type: Option<OsString>,
    server_name: Option<OsString>,
    server_port: Option<OsString>,
    server_addr: Option<OsString>,
    remote_addr: Option<OsString>,
    remote_port: Option<OsString>,
    https: Option<OsString>,
    request_scheme: Option<OsString>,
    /// `HTTP_*` as header names (lowercase, `-`) and values.
    http: Vec<(String, OsString)>,
}

impl Meta {
    fn collect(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Meta {
        let mut meta = Meta::default();
        for (name, value) in vars {
            let Some(name) = name.to_str() else { continue };
            let slot = match name {
                "REQUEST_METHOD" => &mut meta.method,
                "SCRIPT_NAME" => &mut meta.script_name,
                "PATH_INFO" => &mut meta.path_info,
                "QUERY_STRING" => &mut meta.query,
                "SERVER_PROTOCOL" => &mut meta.protocol,
                "CONTENT_LENGTH" => &mut meta.content_length,
                "CONTENT_TYPE" => &mut meta.content_type,
                "SERVER_NAME" => &mut meta.server_name,
                "SERVER_PORT" => &mut meta.server_port,
                "SERVER_ADDR" => &mut meta.server_addr,
                "REMOTE_ADDR" => &mut meta.remote_addr,
                "REMOTE_PORT" => &mut meta.remote_port,
                "HTTPS" => &mut meta.https,
                "REQUEST_SCHEME" => &mut meta.request_scheme,
                _ => {
                    if let Some(field) = name.strip_prefix("HTTP_") {
                        // CONTENT_* are authoritative; the host has already
                        // removed the transfer coding.
                        if !matches!(
                            field,
                            "CONTENT_LENGTH" | "CONTENT_TYPE" | "TRANSFER_ENCODING"
                        ) && !field.is_empty()
                        {
                            let field = field.to_ascii_lowercase().replace('_', "-");
                            meta.http.push((field, value));
                        }
                    }
                    continue;
                }
            };
            *slot = Some(value);
        }
        meta
    }

    fn version(&self) -> Version {
        match self.protocol.as_deref().and_then(OsStr::to_str) {
            Some("HTTP/0.9") => Version::HTTP_09,
            Some("HTTP/1.0") => Version::HTTP_10,
            Some("HTTP/2" | "HTTP/2.0") => Version::HTTP_2,
            Some("HTTP/3" | "HTTP/3.0") => Version::HTTP_3,
            // HTTP/1.1, and INCLUDED (§4.1.16) or anything new.
            _ => Version::HTTP_11,
        }
    }

    fn scheme(&self) -> Scheme {
        let https = self
            .https
            .as_deref()
            .and_then(OsStr::to_str)
            .is_some_and(|v| v.eq_ignore_ascii_case("on") || v == "1");
        let scheme = self
            .request_scheme
            .as_deref()
            .and_then(OsStr::to_str)
            .and_then(Scheme::parse);
        match scheme {
            Some(scheme) => scheme,
            None if https => Scheme::Https,
            None => Scheme::Http,
        }
    }

    fn port(value: &Option<OsString>) -> Option<u16> {
        value.as_deref()?.to_str()?.parse().ok()
    }

    fn addr(ip: &Option<OsString>, port: &Option<OsString>) -> Addr {
        let ip = ip
            .as_deref()
            .and_then(OsStr::to_str)
            .and_then(|ip| ip.parse::<IpAddr>().ok());
        match ip {
            Some(ip) => Addr::Tcp(SocketAddr::new(ip, Meta::port(port).unwrap_or(0))),
            None => Addr::None,
        }
    }

    fn conn(&self) -> ConnInfo {
        let scheme = self.scheme();
        ConnInfo::new(
            Meta::addr(&self.remote_addr, &self.remote_port),
            Meta::addr(&self.server_addr, &self.server_port),
        )
        .with_scheme(scheme, scheme == Scheme::Https)
    }

    /// `SERVER_NAME[:SERVER_PORT]` as a `Host` value (the port left out
    /// when it is the scheme's default), if it is a valid one.
    fn host_from_server(&self) -> Option<HeaderValue> {
        let name = self.server_name.as_deref()?.to_str()?;
        let host = match Meta::port(&self.server_port) {
            Some(port) if port != self.scheme().default_port() => format!("{name}:{port}"),
            _ => name.to_owned(),
        };
        if !is_valid_host(&host) {
            return None;
        }
        HeaderValue::from_str(&host).ok()
    }
}

/// A decoded CGI path, percent-encoded again: every byte outside
/// RFC 3986's `pchar` and `/` (so `%`, `?`, `#`, spaces and non-ASCII).
fn encode_path(path: Option<&OsStr>) -> String {
    let Some(path) = path else {
        return String::new();
    };
    let mut out = String::with_capacity(path.len());
    for &b in path.as_encoded_bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request body: exactly `CONTENT_LENGTH` bytes of stdin, read as the
/// application asks for them.
///
/// The reads block: in a CGI process the runtime has nothing else to run
/// while the application waits for its body, and stdin is a pipe or a
/// socket the host fills.
struct Stdin<R> {
    reader: R,
    remaining: u64,
}

impl<R: Read + Unpin> http_body::Body for Stdin<R> {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = self.remaining.min(16 * 1024) as usize;
        let mut buf = vec![0; want];
        let n = loop {
            match self.reader.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) | Ok(0) => {
                    // The host closed stdin before CONTENT_LENGTH bytes.
                    self.remaining = 0;
                    return Poll::Ready(Some(Err(BodyError::Incomplete.into())));
                }
                Ok(n) => break n,
            }
        };
        buf.truncate(n);
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The commit hints of a CGI request: a CGI response cannot switch
/// protocols, so no request counts as an upgrade.
fn cgi_hints(method: &Method) -> CommitHints {
    CommitHints::from_head(method, Version::HTTP_11, &HeaderMap::new())
}

/// Writes a committed response as RFC 3875 §6 says: `Status`, the header
/// fields, a blank line, the body unless the request or status has none.
async fn write_response<W: Write>(
    mut response: Response,
    hints: CommitHints,
    mut out: W,
) -> io::Result<()> {
    let status = response.status();
    let no_body = hints.is_head()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status.is_informational();
    if !no_body && !response.headers().contains_key(CONTENT_LENGTH) {
        // What hyper does for the gateway-hyper adapter: the driver
        // leaves an exactly known length to the server to announce.
        if let Some(n) = response.body().size_hint().exact() {
            response
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"Status: ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in response.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    out.write_all(&head)?;
    out.flush()?;
    if no_body {
        // The driver never polled it; neither does the adapter.
        return Ok(());
    }
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            // Rule 7: after the commit, an error aborts. CGI can only stop.
            Err(e) => return Err(io::Error::other(format!("response aborted: {e}"))),
        };
        // Trailers have no place in a CGI response.
        if let Ok(data) = frame.into_data() {
            out.write_all(&data)?;
            // Each chunk goes out as it comes (server-sent events).
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        list.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    async fn run(list: &[(&str, &str)], stdin: &'static [u8]) -> (io::Result<()>, String) {
        let mut out = Vec::new();
        let result = Cgi::new()
            .max_body_size(64)
            .serve(&crate::hello::app(), vars(list), stdin, &mut out)
            .await;
        (result, String::from_utf8(out).unwrap())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn get_and_split() {
        let app = gateway_core::fn_app(|env: Environ| async move {
            let text = format!(
                "{} {} {} {} {}",
                env.script_name(),
                env.path_info(),
                env.query(),
                env.url(),
                env.conn().peer(),
            );
            gateway_core::start(200, gateway_core::response::NO_HEADERS).body(text)
        });
        let mut out = Vec::new();
        let list = vars(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/cgi-bin/app"),
            ("PATH_INFO", "/a b/100%"),
            ("QUERY_STRING", "x=1&y=%20"),
            ("SERVER_NAME", "example.test"),
            ("SERVER_PORT", "8080"),
            ("REMOTE_ADDR", "192.0.2.1"),
            ("REMOTE_PORT", "5555"),
        ]);
        Cgi::new()
            .serve(&app, list, io::empty(), &mut out)
            .await
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "Status: 200 OK\r\ncontent-length: 111\r\n\r\n/cgi-bin/app /a%20b/100%25 x=1&y=%20 \
             http://example.test:8080/cgi-bin/app/a%20b/100%25?x=1&y=%20 192.0.2.1:5555"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn post_body_limits_and_errors() {
        let post = [
            ("REQUEST_METHOD", "POST"),
            ("PATH_INFO", "/echo"),
            ("CONTENT_TYPE", "text/x-test"),
            ("CONTENT_LENGTH", "5"),
        ];
        let (result, out) = run(&post, b"hello, and more the host left").await;
        result.unwrap();
        assert!(out.starts_with("Status: 200 OK\r\n"), "{out}");
        assert!(out.contains("content-type: text/x-test\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\nhello"), "{out}");

        // Shorter than announced: the body fails after the commit (its
        // exact size committed it at once), and the response is cut short
        // of the length it announced.
        let (result, out) = run(&post, b"hel").await;
        assert!(result.is_err());
        assert!(out.contains("content-length: 5\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\nhel"), "{out}");

        let big = [
            ("REQUEST_METHOD", "POST"),
            ("PATH_INFO", "/echo"),
            ("CONTENT_LENGTH", "65"),
        ];
        let (_, out) = run(&big, b"").await;
        assert!(
            out.starts_with("Status: 413 Payload Too Large\r\n"),
            "{out}"
        );

        let bad = [
            ("REQUEST_METHOD", "POST"),
            ("PATH_INFO", "/echo"),
            ("CONTENT_LENGTH", "x"),
        ];
        assert!(
            run(&bad, b"")
                .await
                .1
                .starts_with("Status: 400 Bad Request\r\n")
        );
        let host = [("REQUEST_METHOD", "GET"), ("HTTP_HOST", "a b")];
        assert!(
            run(&host, b"")
                .await
                .1
                .starts_with("Status: 400 Bad Request\r\n")
        );
        let (_, out) = run(&[], b"").await;
        assert!(
            out.starts_with("Status: 500 Internal Server Error\r\n"),
            "{out}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn head_has_no_body() {
        let (result, out) = run(&[("REQUEST_METHOD", "HEAD"), ("PATH_INFO", "/")], b"").await;
        result.unwrap();
        assert!(out.starts_with("Status: 200 OK\r\n"), "{out}");
        assert!(out.contains("content-length: 14\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n"), "{out}");
    }
}
