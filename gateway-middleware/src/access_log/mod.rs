//! [`AccessLog`]: one line per request, in the common, combined or JSON
//! format, to `tracing` or to any writer without blocking requests.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{Addr, ApplicationExt, ConnInfo, fn_app, start};
//! use gateway_middleware::access_log::{Format, MemoryLog};
//! use gateway_middleware::AccessLog;
//!
//! let lines = MemoryLog::new();
//! let log = AccessLog::new().format(Format::Common).to_writer(lines.clone());
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hello") })
//!     .with(log.clone());
//!
//! let client = ConnInfo::new(Addr::Tcp("203.0.113.7:50000".parse()?), Addr::None);
//! TestClient::new(app).with_conn(client).get("/hi?x=1").send().await;
//! log.flush();
//! let line = lines.lines().remove(0);
//! // 203.0.113.7 - - [10/Oct/2000:13:55:36 +0000] "GET /hi?x=1 HTTP/1.1" 200 5 0.000 - completed
//! assert!(line.starts_with("203.0.113.7 - - ["));
//! assert!(line.contains("] \"GET /hi?x=1 HTTP/1.1\" 200 5 "));
//! assert!(line.ends_with(" - completed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use gateway_core::{Application, Environ, Error, Middleware, Response, ResponseExt};
use http::header::{REFERER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method};

use crate::notes::{Notes, driver_page};

mod clock;
mod escape;
mod format;
mod sink;

pub use format::Format;
pub use sink::MemoryLog;

use format::{Line, Outcome, RequestFields};
use sink::{Sink, WriterSink};

/// Writes one line per request when its response body finishes or is
/// aborted: nginx's and gunicorn's access log.
///
/// # When a line is written
///
/// Exactly once per request, when the response's body has been sent
/// (`completed`) or is given up (`aborted`: the body failed after the
/// status went out, or the client went away), through
/// [`Body::on_finish`](gateway_core::Body::on_finish). Also:
///
/// - the application returns `Err` or panics: at once, with the status
///   and size of the error page the driver answers it with (rule 1: the
///   error's status, 500 for a panic or a status outside 400–599; the
///   reason phrase as the body, none for `HEAD`), `completed`. The `Err`
///   passes through untouched; a panic goes on as the `Err` the driver
///   would make of it ([`Error::from_panic`]), so that the layers outside
///   (a [`RequestId`](crate::RequestId) adding its header) see the error
///   page as an error. If a [`HandleErrors`](gateway_core::HandleErrors)
///   renders pages of your own, put it inside `AccessLog`, so that the
///   line has the status of your page;
/// - a response body of unknown size (a stream, a writer) whose status
///   has a body: `AccessLog` pulls it to its first data before answering,
///   as the driver would. If it fails there, the client gets the driver's
///   error page for that failure, and so does the line (logged at once,
///   as above); the failure goes on outward as an `Err`. A body of known
///   size (in memory, a file) is not pulled early, by the driver either:
///   its failure aborts the response after the head was sent (`aborted`,
///   with the status sent);
/// - the client disconnects before the application answered (the request
///   is dropped): status `499` (nginx's "client closed request"),
///   `aborted`, 0 bytes;
/// - `HEAD`, `204` and `304`: `completed`, 0 bytes.
///
/// Not covered: what a layer *outside* `AccessLog` does to the response
/// afterwards (the line has the status that left `AccessLog`).
///
/// The time is when the line is written (as nginx's `$time_local`), in
/// UTC; the duration runs from when the first observing layer
/// (`RequestId`, `AccessLog` or [`Metrics`](crate::Metrics), whichever is
/// outermost) saw the request to then.
///
/// # Formats
///
/// [`Format::Combined`] (the default) is nginx's `combined` followed by
/// three fields of ours:
///
/// ```text
/// $remote_addr - $user [$time] "$method $target $protocol" $status $bytes "$referer" "$user_agent" $duration $request_id $outcome
/// 203.0.113.7 - ada [10/Oct/2000:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 200 2326 "https://example.com/" "curl/8.5.0" 0.004 4f1c…e2 completed
/// ```
///
/// [`Format::Common`] is the same without `"$referer" "$user_agent"`.
///
/// - `$remote_addr`: the IP address of the environ's peer when
///   `AccessLog` sees the request — the client's, with a
///   [`ProxyHeaders`](crate::ProxyHeaders) outside; `unix:` for a Unix
///   socket peer, `-` when unknown;
/// - `$user`: the id of a *verified* identity
///   ([`auth::Identity::insert`](crate::auth::Identity::insert) by an
///   authenticating layer inside, e.g. `BasicAuth`), never anything parsed
///   from `Authorization`; `-` when none;
/// - `$target`: the path and query as received (the authority for
///   `CONNECT`); `$protocol`: `HTTP/1.0`, `HTTP/1.1`, `HTTP/2.0`;
/// - `$bytes`: the body bytes sent (not the headers);
/// - `$referer`, `$user_agent`: the first field line of each, `-` when
///   absent;
/// - `$duration`: seconds with millisecond precision (`0.004`);
/// - `$request_id`: the [`RequestId`](crate::RequestId)'s, `-` without one;
/// - `$outcome`: `completed` or `aborted`.
///
/// [`Format::Json`] writes one object per line with every field named, in
/// this order; `null` for what is unknown; `status`, `bytes` and
/// `duration` (seconds) are numbers, `completed` a boolean:
///
/// ```text
/// {"time":"10/Oct/2000:13:55:36 +0000","remote_addr":"203.0.113.7","user":null,"method":"GET","target":"/","protocol":"HTTP/1.1","status":200,"bytes":5,"duration":0.001,"completed":true,"referer":null,"user_agent":"curl/8.5.0","request_id":"4f1c…e2"}
/// ```
///
/// # Escaping: no request can forge a line
///
/// Every line is ASCII and ends with the only `\n` in it.
///
/// - Text formats, quoted fields (nginx's escaping): `"` and `\` are
///   preceded by a backslash; every byte below 0x20, 0x7f and every byte
///   from 0x80 on is written `\xHH` (so CR, LF and NUL are `\x0D`, `\x0A`,
///   `\x00`, and UTF-8 shows as its bytes). Unquoted fields (`$user`,
///   `$request_id`) write a space, `"` and `\` as `\x20`, `\x22` and
///   `\x5C` instead, so fields split on spaces and quotes appear only
///   around the quoted fields.
/// - JSON: `"` and `\` are preceded by a backslash; every byte below 0x20,
///   0x7f and every byte from 0x80 on is `\u00HH`. Lines are valid JSON
///   whatever the request held.
/// - Every value longer than 2048 bytes (as received) is cut after 2048
///   bytes and followed by `...`.
///
/// # Sinks
///
/// - `tracing` (the default): one event per line, level INFO, target
///   `access` (filter it with `access=info`).
/// - [`to_writer`](AccessLog::to_writer) (or
///   [`to_stdout`](AccessLog::to_stdout)): the request path appends the
///   line to a buffer in memory (a short lock, no I/O); a background
///   thread, started with the first line, writes and flushes it at least
///   once a second and as soon as 64 KiB accumulate. Past
///   [`buffer_limit`](AccessLog::buffer_limit) bytes waiting (1 MiB by
///   default) new lines are dropped and counted
///   ([`dropped`](AccessLog::dropped)), never waited for. Write errors and
///   drops are reported through `tracing` (at most one report every ten
///   seconds) and never fail a request. What is buffered is written at
///   the application's `shutdown`, by [`flush`](AccessLog::flush), and
///   when the last clone of the log and its applications drops.
///
/// # Order
///
/// `ProxyHeaders` (outermost) → [`RequestId`](crate::RequestId) →
/// `AccessLog` → … → the application: so that the address is the
/// client's, the line has the request id, and the response's
/// `X-Request-Id` is on error pages too (a panic inside `AccessLog`
/// reaches `RequestId` as an `Err`).
///
/// # Cost
///
/// Per request: the shared notes (one allocation, shared with
/// `RequestId` and `Metrics`, with the one clock reading they all start
/// from), the `on_finish` callback (one allocation), and the line,
/// formatted into a reused per-thread buffer with no allocation of its
/// own; the clock's text is made once a second. A body of unknown size
/// costs one more allocation (its prefetch).
#[derive(Clone, Debug, Default)]
pub struct AccessLog {
    format: Format,
    sink: Sink,
    limit: Option<usize>,
}

impl AccessLog {
    /// Combined format, to `tracing`.
    pub fn new() -> AccessLog {
        AccessLog::default()
    }

    /// The line format. Defaults to [`Format::Combined`].
    pub fn format(mut self, format: Format) -> AccessLog {
        self.format = format;
        self
    }

    /// Sends every line to `tracing` (one INFO event, target `access`).
    /// The default.
    pub fn to_tracing(mut self) -> AccessLog {
        self.sink = Sink::Tracing;
        self
    }

    /// Writes lines to `writer` from a background thread (see
    /// [Sinks](AccessLog#sinks)). Nothing is started before the first
    /// line.
    pub fn to_writer(mut self, writer: impl Write + Send + 'static) -> AccessLog {
        let limit = self.limit.unwrap_or(sink::DEFAULT_LIMIT);
        self.sink = Sink::Writer(Arc::new(WriterSink::new(Box::new(writer), limit)));
        self
    }

    /// [`to_writer`](AccessLog::to_writer) with the process's standard
    /// output.
    pub fn to_stdout(self) -> AccessLog {
        self.to_writer(std::io::stdout())
    }

    /// How many bytes of lines may wait for the writer before new lines
    /// are dropped. Defaults to 1 MiB. No effect on `tracing`.
    pub fn buffer_limit(mut self, bytes: usize) -> AccessLog {
        self.limit = Some(bytes);
        if let Sink::Writer(w) = &self.sink {
            w.set_limit(bytes);
        }
        self
    }

    /// Writes out what is buffered and flushes the writer, on this thread
    /// (for tests, and before exiting). Nothing to do for `tracing`.
    pub fn flush(&self) {
        if let Sink::Writer(w) = &self.sink {
            w.flush();
        }
    }

    /// How many lines were dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        match &self.sink {
            Sink::Writer(w) => w.dropped(),
            Sink::Tracing => 0,
        }
    }
}

impl<A: Application> Middleware<A> for AccessLog {
    type Output = AccessLogApp<A>;

    fn wrap(&self, app: A) -> AccessLogApp<A> {
        AccessLogApp {
            app,
            log: Arc::new(Logger {
                format: self.format,
                sink: self.sink.clone(),
            }),
        }
    }
}

/// The application an [`AccessLog`] produces. Forwards `startup` and
/// `shutdown`, and writes out the buffered lines after `shutdown`.
pub struct AccessLogApp<A> {
    app: A,
    log: Arc<Logger>,
}

impl<A> AccessLogApp<A> {
    /// The wrapped application.
    pub fn inner(&self) -> &A {
        &self.app
    }
}

impl<A> fmt::Debug for AccessLogApp<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessLogApp")
            .field("format", &self.log.format)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Logger {
    format: Format,
    sink: Sink,
}

impl<A: Application> Application for AccessLogApp<A> {
    fn call(&self, mut env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        let notes = Notes::attach(&mut env);
        let (referer, user_agent) = match self.log.format {
            // The common format has neither.
            Format::Common => (None, None),
            _ => referer_and_user_agent(env.headers()),
        };
        let method = env.method();
        let guard = Guard {
            head: *method == Method::HEAD,
            connect: *method == Method::CONNECT,
            // Boxed: the future stays small, and so do its moves.
            pending: Some(Box::new(Pending {
                log: Arc::clone(&self.log),
                notes,
                req: RequestFields {
                    peer: *env.conn().peer(),
                    method: method.clone(),
                    uri: env.uri().clone(),
                    version: env.version(),
                    referer,
                    user_agent,
                },
            })),
        };
        AccessLogFuture {
            // Made here and moved once: no state machine of this layer's
            // own around the application's future.
            inner: self.app.call(env),
            prefetch: None,
            guard,
        }
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.app.startup()
    }

    async fn shutdown(&self) {
        self.app.shutdown().await;
        if let Sink::Writer(w) = &self.log.sink {
            w.flush();
        }
    }
}

/// The first field line of `Referer` and of `User-Agent`: in one pass
/// over the few fields of a usual request, rather than two hashed
/// look-ups.
fn referer_and_user_agent(headers: &HeaderMap) -> (Option<HeaderValue>, Option<HeaderValue>) {
    if headers.len() > 16 {
        return (
            headers.get(REFERER).cloned(),
            headers.get(USER_AGENT).cloned(),
        );
    }
    let (mut referer, mut user_agent) = (None, None);
    // A name's values come in the order received, the first first.
    for (name, value) in headers {
        if *name == REFERER {
            referer.get_or_insert_with(|| value.clone());
        } else if *name == USER_AGENT {
            user_agent.get_or_insert_with(|| value.clone());
        }
    }
    (referer, user_agent)
}

/// A response whose body is pulled to its first data before it is
/// answered (rare: see [`Guard::must_prefetch`]).
type Prefetch = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send>>;

pin_project_lite::pin_project! {
    /// The application's future, then (for a body of unknown size) the
    /// prefetch of its first data; the request's record until then.
    struct AccessLogFuture<F> {
        #[pin]
        inner: F,
        prefetch: Option<Prefetch>,
        guard: Guard,
    }
}

impl<F: Future<Output = Result<Response, Error>>> Future for AccessLogFuture<F> {
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(prefetch) = this.prefetch.as_mut() {
            let result = ready!(prefetch.as_mut().poll(cx));
            *this.prefetch = None;
            return Poll::Ready(this.guard.answered(result));
        }
        // A panic becomes the `Err` the driver would make of it, so that
        // the layers outside (a `RequestId`) see the page as an error.
        let polled = catch_unwind(AssertUnwindSafe(|| this.inner.as_mut().poll(cx)));
        let result = match polled {
            Ok(polled) => ready!(polled),
            Err(payload) => Err(Error::from_panic(&*payload)),
        };
        match result {
            Ok(res) if this.guard.must_prefetch(&res) => {
                let mut prefetch: Prefetch = Box::pin(res.prefetch());
                match prefetch.as_mut().poll(cx) {
                    Poll::Ready(result) => Poll::Ready(this.guard.answered(result)),
                    Poll::Pending => {
                        *this.prefetch = Some(prefetch);
                        Poll::Pending
                    }
                }
            }
            result => Poll::Ready(this.guard.answered(result)),
        }
    }
}

/// What the line needs, from the request until the response ends.
struct Pending {
    log: Arc<Logger>,
    notes: Arc<Notes>,
    req: RequestFields,
}

/// The request's record until it is answered; logs it as dropped (499,
/// aborted) if it never is.
struct Guard {
    head: bool,
    connect: bool,
    pending: Option<Box<Pending>>,
}

impl Guard {
    /// Whether the driver would pull the body to its first data before
    /// sending the head (its rule 6): a final status with a body of
    /// unknown size, not for `HEAD` nor a `CONNECT` tunnel. A body that
    /// fails there gets the driver's error page instead, so this layer
    /// pulls it first, to log the status the client gets.
    fn must_prefetch(&self, res: &Response) -> bool {
        let code = res.status().as_u16();
        !self.head
            && (200..=599).contains(&code)
            && code != 204
            && code != 304
            && !(self.connect && (200..=299).contains(&code))
            && http_body::Body::size_hint(res.body()).exact().is_none()
    }

    /// Hands the line over to the response body's end; for an `Err`,
    /// writes it now, as the driver's page for the error.
    fn answered(&mut self, result: Result<Response, Error>) -> Result<Response, Error> {
        let Some(pending) = self.pending.take() else {
            return result;
        };
        match result {
            Ok(mut res) => {
                let status = res.status().as_u16();
                let body = std::mem::take(res.body_mut());
                *res.body_mut() = body.on_finish(move |done| {
                    pending.finish(status, done.bytes(), done.is_completed());
                });
                Ok(res)
            }
            Err(err) => {
                let (status, bytes) = driver_page(&err, self.head);
                pending.finish(status.as_u16(), bytes, true);
                Err(err)
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.finish(499, 0, false);
        }
    }
}

thread_local! {
    /// The line being built, reused from request to request.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Pending {
    fn finish(self, status: u16, bytes: u64, completed: bool) {
        // One clock reading for the duration and the time stamp.
        let now = Instant::now();
        let time = clock::at(now);
        let user = self.notes.user();
        let line = Line {
            time: &time,
            req: &self.req,
            user: user.as_deref(),
            request_id: self.notes.plain_request_id(),
            outcome: Outcome {
                status,
                bytes,
                duration: now.saturating_duration_since(self.notes.start()),
                completed,
            },
        };
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                line.write(self.log.format, &mut buf);
                self.log.sink.emit(&buf);
            }
            // Re-entered (a sink that ran a request): a buffer of its own.
            Err(_) => {
                let mut buf = Vec::new();
                line.write(self.log.format, &mut buf);
                self.log.sink.emit(&buf);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_referer_and_user_agent_whatever_the_number_of_fields() {
        for padding in [0, 20] {
            let mut headers = HeaderMap::new();
            for i in 0..padding {
                let name = http::HeaderName::from_bytes(format!("x-pad-{i}").as_bytes()).unwrap();
                headers.insert(name, HeaderValue::from_static("x"));
            }
            headers.append(USER_AGENT, HeaderValue::from_static("first-agent"));
            headers.append(REFERER, HeaderValue::from_static("first-referer"));
            headers.append(USER_AGENT, HeaderValue::from_static("second-agent"));
            headers.append(REFERER, HeaderValue::from_static("second-referer"));
            let (referer, agent) = referer_and_user_agent(&headers);
            assert_eq!(referer.unwrap(), "first-referer", "{padding}");
            assert_eq!(agent.unwrap(), "first-agent", "{padding}");
        }
        assert_eq!(referer_and_user_agent(&HeaderMap::new()), (None, None));
    }
}
