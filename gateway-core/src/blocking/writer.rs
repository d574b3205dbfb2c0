//! [`BlockingWriter`]: a [`BodyWriter`] driven from a pool thread, as
//! `std::io::Write`.
//!
//! ```
//! use std::io::Write;
//! use gateway_core::blocking::{Blocking, BlockingRequest};
//! use gateway_core::{Error, start};
//!
//! let app = Blocking::new(|req: BlockingRequest| {
//!     let body = req.writer(|mut w| {
//!         for i in 0..3 {
//!             writeln!(w, "line {i}")?; // returns once the server took it
//!         }
//!         Ok(())
//!     });
//!     start(200, [("content-type", "text/plain")]).body(body)
//! });
//! # let _ = app;
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{Thread, ThreadId};

use bytes::Bytes;
use http::HeaderMap;

use crate::body_impl::BodyWriter;
use crate::error::Error;

use super::job::Job;

/// The write end of a streamed blocking response, made by
/// [`BlockingRequest::writer`](super::BlockingRequest::writer) and passed
/// to its producer on the pool thread.
///
/// Each `write` hands one chunk to the server and **blocks until the
/// server has taken it** (backpressure: a slow client slows the producer,
/// and nothing piles up in memory). Wrap it in a [`std::io::BufWriter`] to
/// send fewer, larger chunks. Once the client is gone (the response body
/// was dropped: disconnect, HTTP/2 reset, timeout, drain deadline — or a
/// body never sent, as for HEAD) a write fails with
/// [`io::ErrorKind::BrokenPipe`], so a producer stops at its next write. [`flush`](io::Write::flush) does nothing: a chunk is already
/// with the server when `write` returns.
pub struct BlockingWriter {
    inner: BodyWriter,
    job: Arc<Job>,
    /// Unparks `thread`: made once, remade if the writer moves.
    waker: Waker,
    thread: ThreadId,
}

impl BlockingWriter {
    pub(super) fn new(inner: BodyWriter, job: Arc<Job>) -> BlockingWriter {
        let thread = std::thread::current();
        BlockingWriter {
            inner,
            job,
            thread: thread.id(),
            waker: Waker::from(Arc::new(ThreadWaker(thread))),
        }
    }

    /// A waker for the calling thread (the producer may have moved the
    /// writer to another thread).
    fn refresh_waker(&mut self) {
        let current = std::thread::current();
        if current.id() != self.thread {
            self.thread = current.id();
            self.waker = Waker::from(Arc::new(ThreadWaker(current)));
        }
    }

    /// Sends one chunk without copying it; blocks until the server took it.
    /// Fails with `BrokenPipe` once the client is gone.
    pub fn write_bytes(&mut self, data: impl Into<Bytes>) -> io::Result<()> {
        let data = data.into();
        self.refresh_waker();
        let BlockingWriter {
            inner, waker, job, ..
        } = self;
        block_on(waker, inner.write(data)).map_err(|e| gone(job, e))
    }

    /// Asks the server to send the response headers now, before any data
    /// (long polling, server-sent events); blocks until it has seen the
    /// request. After this the response can no longer become an error
    /// response.
    pub fn flush_headers(&mut self) -> io::Result<()> {
        self.refresh_waker();
        let BlockingWriter {
            inner, waker, job, ..
        } = self;
        block_on(waker, inner.flush_headers()).map_err(|e| gone(job, e))
    }

    /// Sends trailers, which end the body.
    pub fn send_trailers(mut self, trailers: HeaderMap) -> io::Result<()> {
        self.refresh_waker();
        let BlockingWriter {
            inner, waker, job, ..
        } = self;
        block_on(&waker, inner.send_trailers(trailers)).map_err(|e| gone(&job, e))
    }

    /// Whether the client is gone (the response body was dropped). A write
    /// then fails anyway; this lets a producer stop before costly work.
    pub fn is_cancelled(&self) -> bool {
        self.job.is_cancelled()
    }
}

/// A write failed: the response body was dropped, so the request is
/// cancelled — marked here too, because the body's own guard may not have
/// run yet when the writer sees it gone (`is_cancelled` must be true
/// once a write failed).
fn gone(job: &Job, e: Error) -> io::Error {
    job.mark_cancelled();
    broken_pipe(e)
}

impl io::Write for BlockingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.write_bytes(Bytes::copy_from_slice(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for BlockingWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingWriter")
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

/// The only error a [`BodyWriter`] returns is `ReaderGone`.
fn broken_pipe(err: Error) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, err)
}

/// Wakes a thread parked in [`block_on`].
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` to completion on this thread, parking between polls. `waker`
/// must unpark this thread.
fn block_on<F: Future>(waker: &Waker, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // A stray unpark only costs another poll.
        std::thread::park();
    }
}
