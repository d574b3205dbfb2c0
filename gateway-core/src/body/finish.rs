//! [`Body::on_finish`]: learning how a body ended, as an access log does.
//!
//! ```
//! use gateway_core::body::Finished;
//! use gateway_core::Body;
//!
//! fn log(done: Finished) {
//!     println!("sent {} bytes, completed: {}", done.bytes(), done.is_completed());
//! }
//! let body = Body::from("hello").on_finish(log);
//! # let _ = body;
//! ```

use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;

use super::{Body, Kind};
use crate::error::Error;

impl Body {
    /// Calls `callback` once when the body is finished: fully sent (or
    /// consumed), or dropped or failed part-way. Bodies without a callback
    /// pay nothing for this feature.
    ///
    /// The byte count is of the data frames the body yielded. A body whose
    /// response was never sent (HEAD, 204, 304) reports completed with 0
    /// bytes.
    ///
    /// ```
    /// use gateway_core::Body;
    /// let body = Body::from("hello").on_finish(|done| {
    ///     println!("sent {} bytes, completed: {}", done.bytes(), done.is_completed());
    /// });
    /// # let _ = body;
    /// ```
    pub fn on_finish<F>(self, callback: F) -> Body
    where
        F: FnOnce(Finished) + Send + 'static,
    {
        // One allocation: the callback is stored in the box with the body.
        let boxed: Box<FinishBody<dyn Callback>> = Box::new(FinishBody {
            inner: self,
            bytes: 0,
            callback: Some(callback),
        });
        Body {
            kind: Kind::Finish(boxed),
        }
    }
}

/// What [`Body::on_finish`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finished {
    completed: bool,
    bytes: u64,
}

impl Finished {
    /// Whether the body reached its end (rather than being dropped or
    /// failing part-way).
    pub fn is_completed(&self) -> bool {
        self.completed
    }

    /// Bytes of data the body yielded.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// A finish callback, called at most once (an `Option<FnOnce>` that is
/// taken): the unsized tail of a [`FinishBody`].
pub(super) trait Callback: Send {
    /// Whether it is still to be called.
    fn is_pending(&self) -> bool;
    fn call_once(&mut self, done: Finished);
}

impl<F: FnOnce(Finished) + Send> Callback for Option<F> {
    fn is_pending(&self) -> bool {
        self.is_some()
    }

    fn call_once(&mut self, done: Finished) {
        if let Some(f) = self.take() {
            f(done);
        }
    }
}

/// A body whose end is reported to a callback; boxed as
/// `FinishBody<dyn Callback>`, the callback stored inline.
pub(super) struct FinishBody<C: ?Sized + Callback> {
    pub(super) inner: Body,
    bytes: u64,
    callback: C,
}

impl<C: ?Sized + Callback> FinishBody<C> {
    /// Polls the body inside, counting the bytes that leave and reporting
    /// the end.
    pub(super) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame_inner(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                self.bytes += frame.data_ref().map_or(0, |d| d.len() as u64);
                if self.inner.is_end_stream_inner() {
                    self.finish(true);
                }
            }
            Poll::Ready(None) => self.finish(true),
            Poll::Ready(Some(Err(_))) => self.finish(false),
            Poll::Pending => {}
        }
        polled
    }

    /// Peeks inside the wrapper: bytes count, and completion is reported,
    /// only when frames leave the outermost body.
    pub(super) fn poll_prefetch(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let polled = std::task::ready!(self.inner.poll_prefetch(cx));
        if polled.is_err() {
            self.finish(false);
        }
        Poll::Ready(polled)
    }

    /// A body that will not be sent (HEAD, 204, 304) completed with 0
    /// bytes.
    pub(super) fn discard_unsent(&mut self) {
        self.bytes = 0;
        self.finish(true);
    }

    fn finish(&mut self, completed: bool) {
        if !self.callback.is_pending() {
            return;
        }
        let done = Finished {
            completed,
            bytes: self.bytes,
        };
        let callback = &mut self.callback;
        // A panicking callback must not take the connection down (nor
        // abort the process when this runs in a drop during unwinding).
        // The callback is taken before it runs: it is called once at most.
        if std::panic::catch_unwind(AssertUnwindSafe(|| callback.call_once(done))).is_err() {
            tracing::error!("a Body::on_finish callback panicked");
        }
    }
}

impl<C: ?Sized + Callback> Drop for FinishBody<C> {
    fn drop(&mut self) {
        if self.callback.is_pending() {
            // Servers do not poll a body that says it is at its end.
            let completed = self.inner.is_end_stream_inner();
            self.finish(completed);
        }
    }
}
