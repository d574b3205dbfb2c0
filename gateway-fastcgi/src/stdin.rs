//! The request body: the `STDIN` stream of one request, handed over by
//! the connection's reader through a queue.
//!
//! Backpressure: while more than [`HIGH_WATER`] bytes wait in the queue,
//! the reader stops reading the connection — until the application reads,
//! drops its body, or commits its response. From the commit on the queue
//! is not bounded (beyond the body limit): nginx does not read a response
//! while it still sends the request body, so an application that streams
//! its body back as it reads it (an echo) would otherwise wait for nginx
//! to read, and nginx for it to read. The connection counts each
//! request's `STDIN` and stops queueing at its limit (`CONTENT_LENGTH`,
//! else the body limit), so the queue never holds more than that.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway_core::http::StatusCode;
use gateway_core::{BodyError, Error};
use http_body::{Frame, SizeHint};
use tokio::sync::{Notify, mpsc};

/// How many body bytes may wait for the application before the
/// connection's reading pauses (until the commit).
pub(crate) const HIGH_WATER: usize = 256 * 1024;

/// The state the reader and the body share.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    queued: AtomicUsize,
    committed: AtomicBool,
    room: Notify,
    ended: AtomicBool,
    end: Notify,
}

/// The reader's end of one request's body.
#[derive(Debug)]
pub(crate) struct StdinTx {
    tx: mpsc::UnboundedSender<Bytes>,
    flow: Arc<Flow>,
}

/// A new body queue: the reader's end, the body, and the flow state the
/// request task marks committed.
pub(crate) fn queue(length: Option<u64>) -> (StdinTx, Stdin, Arc<Flow>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let flow = Arc::new(Flow::default());
    let body = Stdin {
        rx,
        flow: flow.clone(),
        length,
        received: 0,
        done: false,
    };
    (
        StdinTx {
            tx,
            flow: flow.clone(),
        },
        body,
        flow,
    )
}

impl Flow {
    /// The response is committed: the queue is no longer bounded.
    pub(crate) fn commit(&self) {
        self.committed.store(true, Ordering::Release);
        self.room.notify_one();
    }

    /// Completes once the whole `STDIN` stream has arrived.
    pub(crate) async fn ended(&self) {
        loop {
            let notified = self.end.notified();
            if self.ended.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

impl StdinTx {
    /// Queues a chunk (empty: the end). `Err` when the body is gone.
    pub(crate) fn send(&self, chunk: Bytes) -> Result<(), ()> {
        let len = chunk.len();
        self.flow.queued.fetch_add(len, Ordering::AcqRel);
        self.tx.send(chunk).map_err(|_| ())
    }

    /// The `STDIN` stream has ended.
    pub(crate) fn end(&self) {
        self.flow.ended.store(true, Ordering::Release);
        self.flow.end.notify_one();
    }

    /// Whether the reader must wait before reading more.
    pub(crate) fn is_full(&self) -> bool {
        self.flow.queued.load(Ordering::Acquire) > HIGH_WATER
            && !self.flow.committed.load(Ordering::Acquire)
            && !self.tx.is_closed()
    }

    /// Completes when there is room again (or the body is gone: then
    /// `false`).
    pub(crate) fn room(&self) -> impl std::future::Future<Output = bool> + Send + 'static {
        let tx = self.tx.clone();
        let flow = self.flow.clone();
        async move {
            loop {
                let notified = flow.room.notified();
                if tx.is_closed() {
                    return false;
                }
                if flow.queued.load(Ordering::Acquire) <= HIGH_WATER
                    || flow.committed.load(Ordering::Acquire)
                {
                    return true;
                }
                notified.await;
            }
        }
    }
}

impl Drop for Stdin {
    fn drop(&mut self) {
        // A reader waiting for room sees the body gone.
        self.rx.close();
        self.flow.room.notify_one();
    }
}

/// `STDIN` records as a body. An empty chunk is the end of the stream (an
/// empty `STDIN` record); the sender dropped before it means the
/// connection ended: [`BodyError::Incomplete`].
pub(crate) struct Stdin {
    rx: mpsc::UnboundedReceiver<Bytes>,
    flow: Arc<Flow>,
    /// `CONTENT_LENGTH`, when given.
    length: Option<u64>,
    received: u64,
    done: bool,
}

impl http_body::Body for Stdin {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.is_end_stream() {
            return Poll::Ready(None);
        }
        let polled = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(data)) = &polled {
            self.flow.queued.fetch_sub(data.len(), Ordering::AcqRel);
            self.flow.room.notify_one();
        }
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(data)) if !data.is_empty() => {
                self.received += data.len() as u64;
                if self.length.is_some_and(|n| self.received > n) {
                    self.done = true;
                    return Poll::Ready(Some(Err(Error::with_status(
                        StatusCode::BAD_REQUEST,
                        "STDIN longer than CONTENT_LENGTH",
                    ))));
                }
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(_)) => {
                self.done = true;
                if self.length.is_some_and(|n| self.received < n) {
                    return Poll::Ready(Some(Err(BodyError::Incomplete.into())));
                }
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(Some(Err(BodyError::Incomplete.into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.length.is_some_and(|n| self.received >= n)
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(n) => SizeHint::with_exact(n.saturating_sub(self.received)),
            None => SizeHint::default(),
        }
    }
}
