//! [`Body::writer`]: a push-style body, WSGI's `write()` done honestly — a
//! producer future driven by the body's own `poll_frame`.
//!
//! ```
//! use gateway_core::{Body, Error};
//!
//! let body = Body::writer(|mut w| async move {
//!     w.write("hello, ").await?;
//!     w.write("world").await?;
//!     Ok::<_, Error>(())
//! });
//! # let _ = body;
//! ```
//!
//! The protocol (all under one lock):
//!
//! - A writer puts one frame in the slot, registers its waker, and wakes the
//!   body unless the body is inside its own poll of the producer (it checks
//!   the slot right after, under the lock, before it registers its waker and
//!   clears `polling`: no wake-up can fall between the two).
//! - The body takes the frame and wakes the writer, unless the writer's
//!   waker is the body's own task's (the body polls the producer next
//!   anyway; waking would only cost the task a spurious poll).
//! - A flush is a frame without data, acknowledged the same way.
//! - When the body is dropped or the producer ends, `closed` is set and a
//!   waiting writer (moved to another task) is woken to fail with
//!   `ReaderGone`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Frame, SizeHint};

use super::{Body, DynBody, Kind};
use crate::error::{BodyError, Error};

impl Body {
    /// A push-style body: `produce` gets a [`BodyWriter`] and writes chunks
    /// into it, like WSGI's `write()`.
    ///
    /// The future `produce` returns is driven by the body's own
    /// `poll_frame`: no task is spawned and no runtime is needed, and each
    /// `write` completes only when the server has taken the chunk (exact
    /// backpressure). An `Err` from the producer ends the body with that
    /// error: before the response is committed it becomes an error response,
    /// after it the response is aborted.
    ///
    /// ```
    /// use gateway_core::{Body, Error};
    /// let body = Body::writer(|mut w| async move {
    ///     for i in 0..3 {
    ///         w.write(format!("line {i}\n")).await?;
    ///     }
    ///     Ok::<_, Error>(())
    /// });
    /// # let _ = body;
    /// ```
    pub fn writer<F, Fut>(produce: F) -> Body
    where
        F: FnOnce(BodyWriter) -> Fut,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let shared = Arc::new(WriterShared::default());
        let fut = produce(BodyWriter {
            shared: shared.clone(),
        });
        Body {
            kind: Kind::Dyn(Box::pin(WriterBody {
                fut: Some(Box::pin(fut)),
                shared,
            })),
        }
    }
}

#[derive(Default)]
struct WriterShared {
    state: Mutex<WriterState>,
}

#[derive(Default)]
struct WriterState {
    /// The chunk written and not yet taken by the body.
    frame: Option<Frame<Bytes>>,
    /// Set once by `flush_headers`; sticky.
    flushed: bool,
    /// A flush not yet reported as an empty frame.
    flush_pending: bool,
    /// The body is dropped or the producer has ended.
    closed: bool,
    /// True while the body polls the producer.
    polling: bool,
    /// The body's task.
    body_waker: Option<Waker>,
    /// The task of a writer waiting for its frame or flush to be taken.
    writer_waker: Option<Waker>,
}

impl WriterShared {
    fn lock(&self) -> MutexGuard<'_, WriterState> {
        // Nothing panics while holding the lock; recover regardless.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl WriterState {
    /// Takes a frame (or a flush) if one is waiting, and wakes its writer
    /// when that writer is not the body's own task.
    fn take_ready(&mut self, body: &Waker) -> Option<Frame<Bytes>> {
        let frame = if let Some(frame) = self.frame.take() {
            frame
        } else if self.flush_pending {
            self.flush_pending = false;
            Frame::data(Bytes::new())
        } else {
            return None;
        };
        if let Some(w) = self.writer_waker.take() {
            if !w.will_wake(body) {
                w.wake();
            }
        }
        Some(frame)
    }

    /// Called by a writer after it changed the slot.
    fn wake_body(&mut self) {
        if !self.polling {
            if let Some(w) = self.body_waker.take() {
                w.wake();
            }
        }
    }

    fn register_writer(&mut self, waker: &Waker) {
        if !self
            .writer_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
        {
            self.writer_waker = Some(waker.clone());
        }
    }

    fn close(&mut self) {
        self.closed = true;
        if let Some(w) = self.writer_waker.take() {
            w.wake();
        }
    }
}

type ProducerFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'static>>;

struct WriterBody {
    fut: Option<ProducerFuture>,
    shared: Arc<WriterShared>,
}

impl http_body::Body for WriterBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        loop {
            let mut st = this.shared.lock();
            if let Some(frame) = st.take_ready(cx.waker()) {
                return Poll::Ready(Some(Ok(frame)));
            }
            let Some(fut) = this.fut.as_mut() else {
                return Poll::Ready(None);
            };
            st.polling = true;
            // The producer takes the lock to write: poll it without.
            drop(st);
            let polled = fut.as_mut().poll(cx);
            let mut st = this.shared.lock();
            st.polling = false;
            match polled {
                Poll::Ready(result) => {
                    this.fut = None;
                    st.close();
                    if let Err(e) = result {
                        return Poll::Ready(Some(Err(e)));
                    }
                    // Loop: a frame written just before the end is sent.
                }
                Poll::Pending => {
                    if let Some(frame) = st.take_ready(cx.waker()) {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                    // Registered under the same lock as the check above, so
                    // a writer in another task cannot slip in between.
                    if !st
                        .body_waker
                        .as_ref()
                        .is_some_and(|w| w.will_wake(cx.waker()))
                    {
                        st.body_waker = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.fut.is_none() && {
            let st = self.shared.lock();
            st.frame.is_none() && !st.flush_pending
        }
    }

    fn size_hint(&self) -> SizeHint {
        if self.is_end_stream() {
            SizeHint::with_exact(0)
        } else {
            SizeHint::new()
        }
    }
}

impl Drop for WriterBody {
    fn drop(&mut self) {
        self.shared.lock().close();
    }
}

impl DynBody for WriterBody {
    fn flush_requested(&self) -> bool {
        self.shared.lock().flushed
    }

    fn shape(&self) -> &'static str {
        "Writer"
    }
}

/// The write end of a [`Body::writer`] body.
///
/// Each `write` hands one chunk to the server and completes when the server
/// has taken it, so a producer can never run ahead of the client. The
/// writer may be moved into another task (or a combinator such as
/// `FuturesUnordered`); the body then ends when the producer future ends.
pub struct BodyWriter {
    shared: Arc<WriterShared>,
}

impl BodyWriter {
    /// Sends one chunk of data. Empty chunks are skipped.
    ///
    /// Fails with [`BodyError::ReaderGone`] when the body was dropped (the
    /// client went away) or its producer future already ended; inside the
    /// producer future, a dropped body simply stops the producer.
    pub async fn write(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        let data = data.into();
        if data.is_empty() {
            return Ok(());
        }
        self.send(Frame::data(data)).await
    }

    /// Sends trailers, which end the body.
    pub async fn send_trailers(mut self, trailers: HeaderMap) -> Result<(), Error> {
        self.send(Frame::trailers(trailers)).await
    }

    /// Asks the server to send the response headers now, before any data
    /// (server-sent events, long polling). Completes when the server has
    /// seen the request. Headers are sent once, so after this the response
    /// can no longer be replaced by an error response.
    pub async fn flush_headers(&mut self) -> Result<(), Error> {
        let mut requested = false;
        std::future::poll_fn(|cx| {
            let mut st = self.shared.lock();
            if st.closed {
                return Poll::Ready(Err(BodyError::ReaderGone.into()));
            }
            if !requested {
                requested = true;
                if st.flushed {
                    return Poll::Ready(Ok(()));
                }
                st.flushed = true;
                st.flush_pending = true;
                st.wake_body();
            }
            if !st.flush_pending {
                return Poll::Ready(Ok(()));
            }
            st.register_writer(cx.waker());
            Poll::Pending
        })
        .await
    }

    async fn send(&mut self, frame: Frame<Bytes>) -> Result<(), Error> {
        let mut frame = Some(frame);
        std::future::poll_fn(|cx| {
            let mut st = self.shared.lock();
            if frame.is_none() && st.frame.is_none() {
                // Taken by the body: delivered, whatever happens next.
                return Poll::Ready(Ok(()));
            }
            if st.closed {
                return Poll::Ready(Err(BodyError::ReaderGone.into()));
            }
            if frame.is_some() {
                if st.frame.is_none() {
                    st.frame = frame.take();
                    st.wake_body();
                }
                // Else the slot is still taken (cannot happen with one
                // writer writing one frame at a time): wait for it.
                st.register_writer(cx.waker());
                return Poll::Pending;
            }
            st.register_writer(cx.waker());
            Poll::Pending
        })
        .await
    }
}

impl fmt::Debug for BodyWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyWriter").finish_non_exhaustive()
    }
}
