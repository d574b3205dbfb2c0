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
        Body {
            kind: Kind::Finish(Box::new(FinishBody {
                inner: self,
                callback: Some(Box::new(callback)),
                bytes: 0,
            })),
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

type FinishCallback = Box<dyn FnOnce(Finished) + Send + 'static>;

/// A body whose end is reported to a callback.
pub(super) struct FinishBody {
    pub(super) inner: Body,
    callback: Option<FinishCallback>,
    bytes: u64,
}

impl FinishBody {
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
        if let Some(cb) = self.callback.take() {
            let done = Finished {
                completed,
                bytes: self.bytes,
            };
            // A panicking callback must not take the connection down (nor
            // abort the process when this runs in a drop during unwinding).
            if std::panic::catch_unwind(AssertUnwindSafe(|| cb(done))).is_err() {
                tracing::error!("a Body::on_finish callback panicked");
            }
        }
    }
}

impl Drop for FinishBody {
    fn drop(&mut self) {
        // Servers do not poll a body that says it is at its end.
        let completed = self.inner.is_end_stream_inner();
        self.finish(completed);
    }
}
