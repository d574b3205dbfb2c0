//! One request's meeting point between the async side (the future that
//! awaits the response, then the streamed body's producer) and the pool
//! thread that runs the blocking application.
//!
//! The request body stays on the async side: it may hold the server's
//! timers (a body read timeout is a tokio `Sleep`, which must be polled
//! inside the runtime), so a pool thread never polls it. A read on the pool
//! thread sets `want_body` and wakes the async side, which polls the body
//! in its own task and hands the chunk over under the same lock; the
//! thread waits on the condition variable. Nothing is read ahead, so the
//! client's sending is paced by the application's reading.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use http::StatusCode;
use http_body::Body as _;

use crate::body_impl::{Body, BodyWriter};
use crate::error::Error;
use crate::response_impl::Response;

use super::writer::BlockingWriter;

/// The producer a blocking application registered with
/// [`BlockingRequest::writer`](super::BlockingRequest::writer).
pub(super) type Producer = Box<dyn FnOnce(BlockingWriter) -> Result<(), Error> + Send>;

/// A chunk of the request body as the pool thread receives it: data, the
/// end (`None`), or the body's error.
pub(super) type Chunk = Result<Option<Bytes>, Error>;

pub(super) struct Job {
    state: Mutex<JobState>,
    /// The pool thread waits here for a body chunk.
    cond: Condvar,
    /// The client is gone: the response future or the streamed body was
    /// dropped before the end. Read without the lock by `is_cancelled`.
    cancelled: AtomicBool,
}

struct JobState {
    /// The pool thread waits for the next body chunk.
    want_body: bool,
    /// The chunk read for it, not yet taken.
    chunk: Option<Chunk>,
    /// The request body, between polls.
    body: Option<Body>,
    /// No async future will serve body reads any more.
    closed: bool,
    /// The application's answer, not yet taken by the response future.
    response: Option<Result<Response, Error>>,
    /// The streamed body's producer, registered during `call`.
    producer: Option<(Producer, BodyWriter)>,
    /// Whether a producer was registered (it stays set once taken).
    streaming: bool,
    /// The producer's result, not yet taken by the streamed body.
    streamed: Option<Result<(), Error>>,
    /// The async side's task.
    waker: Option<Waker>,
}

impl Job {
    pub(super) fn new(body: Body) -> Job {
        Job {
            state: Mutex::new(JobState {
                want_body: false,
                chunk: None,
                body: Some(body),
                closed: false,
                response: None,
                producer: None,
                streaming: false,
                streamed: None,
                waker: None,
            }),
            cond: Condvar::new(),
            cancelled: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, JobState> {
        // User code never runs under this lock; recover regardless.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Marks the request cancelled (the client is gone).
    pub(super) fn mark_cancelled(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    // ---- the pool thread's side ----

    /// Blocks until the async side has read the next body chunk.
    pub(super) fn next_chunk(&self) -> Chunk {
        let mut st = self.lock();
        if st.closed {
            return Err(gone());
        }
        st.want_body = true;
        if let Some(w) = st.waker.take() {
            w.wake();
        }
        loop {
            if let Some(chunk) = st.chunk.take() {
                return chunk;
            }
            if st.closed {
                st.want_body = false;
                return Err(gone());
            }
            st = self.cond.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Registers the streamed body's producer; panics if one was already.
    pub(super) fn register(&self, producer: Producer, writer: BodyWriter) {
        let mut st = self.lock();
        assert!(
            !st.streaming,
            "BlockingRequest::writer called twice for one request"
        );
        st.streaming = true;
        st.producer = Some((producer, writer));
    }

    /// Hands the application's answer to the response future; returns the
    /// producer to run next, if one was registered and the client is still
    /// there.
    pub(super) fn respond(
        &self,
        result: Result<Response, Error>,
    ) -> Option<(Producer, BodyWriter)> {
        let mut st = self.lock();
        let producer = st.producer.take();
        if self.is_cancelled() {
            // No one will take them. Dropped without the lock: a streamed
            // body's guard takes it.
            drop(st);
            drop((result, producer));
            return None;
        }
        st.response = Some(result);
        if let Some(w) = st.waker.take() {
            w.wake();
        }
        producer
    }

    /// Reports the producer's result to the streamed body.
    pub(super) fn stream_done(&self, result: Result<(), Error>) {
        let mut st = self.lock();
        st.streamed = Some(result);
        if let Some(w) = st.waker.take() {
            w.wake();
        }
    }

    // ---- the async side ----

    /// Serves the pool thread's body reads until `done` takes something
    /// out of the state.
    fn poll_serve<T>(
        &self,
        cx: &mut Context<'_>,
        mut done: impl FnMut(&mut JobState) -> Option<T>,
    ) -> Poll<T> {
        loop {
            let mut st = self.lock();
            if let Some(out) = done(&mut st) {
                return Poll::Ready(out);
            }
            if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                st.waker = Some(cx.waker().clone());
            }
            if !st.want_body || st.chunk.is_some() {
                return Poll::Pending;
            }
            let Some(mut body) = st.body.take() else {
                st.chunk = Some(Ok(None));
                st.want_body = false;
                self.cond.notify_all();
                continue;
            };
            // Polled without the lock: the body may be slow to answer.
            drop(st);
            let polled = poll_data(&mut body, cx);
            let mut st = self.lock();
            if st.closed {
                // Closed meanwhile: no one reads any more.
                drop(st);
                drop(body);
                return Poll::Pending;
            }
            st.body = Some(body);
            let Poll::Ready(chunk) = polled else {
                return Poll::Pending;
            };
            st.chunk = Some(chunk);
            st.want_body = false;
            self.cond.notify_all();
        }
    }

    /// Waits for the application's answer, serving body reads meanwhile.
    pub(super) fn poll_response(&self, cx: &mut Context<'_>) -> Poll<Result<Response, Error>> {
        self.poll_serve(cx, |st| st.response.take())
    }

    /// Waits for the producer's end, serving body reads meanwhile.
    pub(super) fn poll_streamed(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_serve(cx, |st| st.streamed.take())
    }

    /// The response future ended: with the response taken (`answered`), or
    /// dropped before it. Unless a streamed body goes on serving reads, no
    /// one will: the body is dropped and a waiting read fails.
    pub(super) fn response_future_ended(&self, answered: bool) {
        let mut st = self.lock();
        if answered && st.streaming {
            return;
        }
        if !answered {
            self.cancelled.store(true, Ordering::Release);
        }
        // An answer that came too late is dropped here, so that a streamed
        // body in it fails its producer's writes rather than keep them
        // waiting; dropped without the lock, which its guard takes.
        let late = st.response.take();
        let body = self.close(&mut st);
        drop(st);
        drop((late, body));
    }

    /// The streamed body ended: its producer finished (`finished`), or it
    /// was dropped before (the client is gone).
    pub(super) fn stream_ended(&self, finished: bool) {
        let mut st = self.lock();
        if !finished {
            self.cancelled.store(true, Ordering::Release);
        }
        let body = self.close(&mut st);
        drop(st);
        drop(body);
    }

    /// Fails waiting and later reads; returns the request body, to drop
    /// without the lock.
    fn close(&self, st: &mut JobState) -> Option<Body> {
        st.closed = true;
        self.cond.notify_all();
        st.body.take()
    }
}

/// The error a read fails with once no one will serve it.
fn gone() -> Error {
    Error::with_status(
        StatusCode::BAD_REQUEST,
        "the request was cancelled: the client is gone",
    )
}

/// Polls `body` to its next non-empty data chunk or its end (trailers are
/// skipped: `Read` has no place for them).
fn poll_data(body: &mut Body, cx: &mut Context<'_>) -> Poll<Chunk> {
    loop {
        match ready!(Pin::new(&mut *body).poll_frame(cx)) {
            None => return Poll::Ready(Ok(None)),
            Some(Err(e)) => return Poll::Ready(Err(e)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        return Poll::Ready(Ok(Some(data)));
                    }
                }
            }
        }
    }
}

/// The cancellation guard of the response future.
pub(super) struct ResponseGuard {
    pub(super) job: Arc<Job>,
    pub(super) answered: bool,
}

impl Drop for ResponseGuard {
    fn drop(&mut self) {
        self.job.response_future_ended(self.answered);
    }
}

/// The cancellation guard of a streamed body's producer future.
pub(super) struct StreamGuard {
    pub(super) job: Arc<Job>,
    pub(super) finished: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.job.stream_ended(self.finished);
    }
}
