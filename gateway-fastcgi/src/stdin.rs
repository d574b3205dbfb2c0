//! The request body: the `STDIN` stream of one request, handed over by
//! the connection's reader through a bounded channel (the backpressure:
//! the reader stops reading the connection while the channel is full).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use gateway_core::http::StatusCode;
use gateway_core::{BodyError, Error};
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// How many `STDIN` records may wait for the application to read them
/// (each at most 64 KiB).
pub(crate) const STDIN_QUEUE: usize = 8;

/// `STDIN` records as a body. An empty chunk is the end of the stream (an
/// empty `STDIN` record); the sender dropped before it means the
/// connection ended: [`BodyError::Incomplete`].
pub(crate) struct Stdin {
    pub(crate) rx: mpsc::Receiver<Bytes>,
    /// `CONTENT_LENGTH`, when given.
    pub(crate) length: Option<u64>,
    pub(crate) received: u64,
    pub(crate) done: bool,
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
        match self.rx.poll_recv(cx) {
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
