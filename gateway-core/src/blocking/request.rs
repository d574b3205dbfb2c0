//! [`BlockingRequest`]: the blocking view of the environ, with the body as
//! `std::io::Read` ([`BlockingBody`]).
//!
//! ```
//! use std::io::Read;
//! use gateway_core::blocking::{Blocking, BlockingRequest};
//! use gateway_core::start;
//!
//! let app = Blocking::new(|mut req: BlockingRequest| {
//!     let mut text = String::new();
//!     req.body().read_to_string(&mut text)?; // the server's body limit applies
//!     start(200, [("content-type", "text/plain")]).body(format!("{} read {} bytes", req.method(), text.len()))
//! });
//! # let _ = app;
//! ```

use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use http::{Extensions, HeaderMap, Method, StatusCode, Uri};

use crate::body_impl::Body;
use crate::environ_impl::{ConnInfo, Environ, Locals};
use crate::error::Error;

use super::job::{Job, Producer, StreamGuard};
use super::writer::BlockingWriter;

/// A request as a [`BlockingApplication`](super::BlockingApplication) sees
/// it, on a pool thread: the [`Environ`] read-only (method, target,
/// `script_name`/`path_info`, query, headers, connection, extensions,
/// locals), the body as `std::io::Read`, and a way to stream the response
/// from this thread ([`writer`](BlockingRequest::writer)).
///
/// ```
/// use gateway_core::blocking::{Blocking, BlockingRequest};
/// use gateway_core::{Error, start, http::StatusCode};
///
/// let app = Blocking::new(|req: BlockingRequest| {
///     if req.method() != "GET" {
///         return Err(Error::with_status(StatusCode::METHOD_NOT_ALLOWED, "GET only"));
///     }
///     let who = req.environ().query_pairs().find(|(k, _)| k == "name")
///         .map(|(_, v)| v.into_owned()).unwrap_or_else(|| "world".into());
///     start(200, [("content-type", "text/plain")]).body(format!("Hello, {who}!"))
/// });
/// # let _ = app;
/// ```
pub struct BlockingRequest {
    env: Environ,
    body: BlockingBody,
    job: Arc<Job>,
}

impl BlockingRequest {
    pub(super) fn new(env: Environ, job: Arc<Job>) -> BlockingRequest {
        BlockingRequest {
            env,
            body: BlockingBody::new(job.clone()),
            job,
        }
    }

    /// The whole environ, read-only (its body is empty: read
    /// [`body`](BlockingRequest::body) instead).
    pub fn environ(&self) -> &Environ {
        &self.env
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        self.env.method()
    }

    /// The request-target as received.
    pub fn uri(&self) -> &Uri {
        self.env.uri()
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        self.env.headers()
    }

    /// `SCRIPT_NAME`, raw: see [`Environ::script_name`].
    pub fn script_name(&self) -> &str {
        self.env.script_name()
    }

    /// `PATH_INFO`, raw: see [`Environ::path_info`].
    pub fn path_info(&self) -> &str {
        self.env.path_info()
    }

    /// The raw query string, without `?`; empty if none.
    pub fn query(&self) -> &str {
        self.env.query()
    }

    /// The connection: addresses, scheme, TLS.
    pub fn conn(&self) -> &ConnInfo {
        self.env.conn()
    }

    /// The typed extensions added by the adapter and by middleware.
    pub fn extensions(&self) -> &Extensions {
        self.env.extensions()
    }

    /// The request-local values added by middleware.
    pub fn locals(&self) -> &Locals {
        self.env.locals()
    }

    /// The request body as `std::io::Read`.
    pub fn body(&mut self) -> &mut BlockingBody {
        &mut self.body
    }

    /// Takes the body reader out (to move it into a
    /// [`writer`](BlockingRequest::writer)'s producer), leaving one that
    /// reads nothing.
    pub fn take_body(&mut self) -> BlockingBody {
        std::mem::replace(&mut self.body, BlockingBody::empty(self.job.clone()))
    }

    /// Whether the client is gone: the future awaiting this response was
    /// dropped (disconnect, HTTP/2 reset, timeout, drain deadline). The
    /// response will not be sent; a long computation may stop early.
    pub fn is_cancelled(&self) -> bool {
        self.job.is_cancelled()
    }

    /// A response body streamed from this pool thread: after `call`
    /// returns the response carrying it, the same thread runs `produce`
    /// with a [`BlockingWriter`] (`std::io::Write`). Each write blocks
    /// until the server took the chunk; once the client is gone a write
    /// fails with `BrokenPipe`. An `Err` from `produce` (or a panic) ends
    /// the body with that error: before the first chunk it becomes an
    /// error response, after it the response is aborted (driver rules 6
    /// and 7).
    ///
    /// The thread stays busy until `produce` returns: a slow client holds
    /// a pool thread (never an async worker), as it holds a sync worker in
    /// gunicorn. Size the pool for it, or keep streams short.
    ///
    /// # Panics
    ///
    /// When called twice for one request.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use gateway_core::blocking::{Blocking, BlockingRequest};
    /// use gateway_core::start;
    ///
    /// // Echoes the request body in upper case, chunk by chunk.
    /// let app = Blocking::new(|mut req: BlockingRequest| {
    ///     let mut input = req.take_body();
    ///     let body = req.writer(move |mut w| {
    ///         let mut buf = [0; 8192];
    ///         loop {
    ///             let n = input.read(&mut buf)?;
    ///             if n == 0 {
    ///                 return Ok(());
    ///             }
    ///             w.write_all(&buf[..n].to_ascii_uppercase())?;
    ///         }
    ///     });
    ///     start(200, [("content-type", "application/octet-stream")]).body(body)
    /// });
    /// # let _ = app;
    /// ```
    pub fn writer<F>(&self, produce: F) -> Body
    where
        F: FnOnce(BlockingWriter) -> Result<(), Error> + Send + 'static,
    {
        let mut writer = None;
        let job = self.job.clone();
        // Made now, not at the first poll: a body dropped unpolled (HEAD,
        // a client gone before the commit) cancels the producer too.
        let guard = StreamGuard {
            job,
            finished: false,
        };
        let body = Body::writer(|w| {
            writer = Some(w);
            async move {
                let mut guard = guard;
                let result = std::future::poll_fn(|cx| guard.job.poll_streamed(cx)).await;
                guard.finished = true;
                result
            }
        });
        let Some(writer) = writer else {
            unreachable!("Body::writer calls its closure at once")
        };
        let producer: Producer = Box::new(produce);
        self.job.register(producer, writer);
        body
    }
}

impl fmt::Debug for BlockingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingRequest")
            .field("env", &self.env)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// The request body as `std::io::Read`, on a pool thread.
///
/// Each read that finds no bytes left asks the server's task for the next
/// chunk and blocks until it comes: nothing is read ahead, so a client
/// sending faster than the application reads is held back by TCP (and
/// HTTP/2) flow control. The server's limits still apply: a body over
/// the size limit fails the read with an `io::Error` wrapping
/// [`BodyError::LengthLimitExceeded`](crate::BodyError::LengthLimitExceeded),
/// and a client too slow to send it with one carrying 408; returning that
/// error (`?` converts it) answers 413 or 408, as in an async application.
/// Trailers are skipped. Once the client is gone, a read fails (400).
pub struct BlockingBody {
    job: Arc<Job>,
    /// The chunk being read.
    buf: Bytes,
    /// The body ended, or failed (then with this status).
    state: ReadState,
}

#[derive(Clone, Copy)]
enum ReadState {
    Open,
    Ended,
    Failed(StatusCode),
}

impl BlockingBody {
    fn new(job: Arc<Job>) -> BlockingBody {
        BlockingBody {
            job,
            buf: Bytes::new(),
            state: ReadState::Open,
        }
    }

    fn empty(job: Arc<Job>) -> BlockingBody {
        BlockingBody {
            job,
            buf: Bytes::new(),
            state: ReadState::Ended,
        }
    }

    /// The next chunk as it came (no copy), or `None` at the end.
    pub fn read_chunk(&mut self) -> io::Result<Option<Bytes>> {
        if !self.buf.is_empty() {
            return Ok(Some(std::mem::take(&mut self.buf)));
        }
        match self.state {
            ReadState::Ended => return Ok(None),
            ReadState::Failed(status) => {
                return Err(io_error(Error::with_status(
                    status,
                    "the request body failed before",
                )));
            }
            ReadState::Open => {}
        }
        match self.job.next_chunk() {
            Ok(Some(data)) => Ok(Some(data)),
            Ok(None) => {
                self.state = ReadState::Ended;
                Ok(None)
            }
            Err(err) => {
                self.state = ReadState::Failed(err.status());
                Err(io_error(err))
            }
        }
    }
}

impl io::Read for BlockingBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.buf.is_empty() {
            match self.read_chunk()? {
                Some(data) => self.buf = data,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf.advance(n);
        Ok(n)
    }
}

impl fmt::Debug for BlockingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingBody")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// A body error as an `io::Error` that still maps to its status
/// ([`Error::status`] looks inside `io::Error`).
fn io_error(err: Error) -> io::Error {
    let kind = match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => io::ErrorKind::InvalidData,
        StatusCode::REQUEST_TIMEOUT => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::ConnectionAborted,
    };
    io::Error::new(kind, crate::error::BoxError::from(err))
}
