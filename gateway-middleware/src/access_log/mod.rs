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
use std::sync::Arc;
use std::time::Instant;

use gateway_core::middleware::{DriverPage, HandleErrorsApp};
use gateway_core::{Application, Environ, Error, HandleErrors, Middleware, Response};
use http::header::{REFERER, USER_AGENT};

use crate::notes::Notes;

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
/// - the application returns `Err` or panics: the line has the status of
///   the error page the client got. `AccessLog` wraps the application in
///   [`HandleErrors`]`::new(`[`DriverPage`]`)`, which renders exactly the
///   driver's page inside the stack (and logs the failure once);
/// - the client disconnects before the application answered (the request
///   is dropped): status `499` (nginx's "client closed request"),
///   `aborted`, 0 bytes;
/// - `HEAD`, `204` and `304`: `completed`, 0 bytes.
///
/// The time is when the line is written (as nginx's `$time_local`), in
/// UTC; the duration runs from when `AccessLog` saw the request to then.
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
/// `X-Request-Id` survives even an error page (rendered inside).
///
/// # Cost
///
/// Per request: the shared notes (one allocation, shared with
/// `RequestId` and `Metrics`), the `on_finish` callback (two
/// allocations), and the line, formatted into a reused per-thread buffer
/// with no allocation of its own; the clock's text is made once a second.
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
            app: HandleErrors::new(DriverPage).wrap(app),
            log: Arc::new(Logger {
                format: self.format,
                sink: self.sink.clone(),
            }),
        }
    }
}

/// The application an [`AccessLog`] produces: the application inside a
/// `HandleErrors::new(DriverPage)`. Forwards `startup` and `shutdown`,
/// and writes out the buffered lines after `shutdown`.
pub struct AccessLogApp<A> {
    app: HandleErrorsApp<A, DriverPage>,
    log: Arc<Logger>,
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
        let headers = env.headers();
        let pending = Pending {
            log: Arc::clone(&self.log),
            notes,
            start: Instant::now(),
            req: RequestFields {
                peer: *env.conn().peer(),
                method: env.method().clone(),
                uri: env.uri().clone(),
                version: env.version(),
                referer: headers.get(REFERER).cloned(),
                user_agent: headers.get(USER_AGENT).cloned(),
            },
        };
        let guard = Guard(Some(pending));
        let inner = self.app.call(env);
        async move {
            let mut guard = guard;
            let result = inner.await;
            let Some(pending) = guard.0.take() else {
                return result;
            };
            match result {
                Ok(res) => {
                    let status = res.status().as_u16();
                    Ok(res.map(|body| {
                        body.on_finish(move |done| {
                            pending.finish(status, done.bytes(), done.is_completed());
                        })
                    }))
                }
                // Only when rendering the page failed, which DriverPage
                // does not: the driver answers with this status.
                Err(err) => {
                    pending.finish(err.status().as_u16(), 0, false);
                    Err(err)
                }
            }
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

/// What the line needs, from the request until the response ends.
struct Pending {
    log: Arc<Logger>,
    notes: Arc<Notes>,
    start: Instant,
    req: RequestFields,
}

/// Logs the request as dropped (499, aborted) if it never got a response.
struct Guard(Option<Pending>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pending) = self.0.take() {
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
        let time = clock::now();
        let user = self.notes.user();
        let line = Line {
            time: &time,
            req: &self.req,
            user: user.as_deref(),
            request_id: self.notes.request_id(),
            outcome: Outcome {
                status,
                bytes,
                duration: self.start.elapsed(),
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
