//! Adapters that give a foreign body or stream `Body`'s error type and
//! exact size hints: [`MapErr`] for any `http_body::Body`, [`StreamBody`]
//! for a `Stream` of chunks.
//!
//! ```
//! use gateway_core::Body;
//! use http_body::Body as _;
//!
//! let foreign = http_body_util::Full::new(bytes::Bytes::from_static(b"hi"));
//! assert_eq!(Body::new(foreign).size_hint().exact(), Some(2)); // through MapErr
//! let chunks = futures_util::stream::iter(["a", "b"].map(Ok::<_, std::io::Error>));
//! assert_eq!(Body::from_stream(chunks).size_hint().exact(), None); // StreamBody
//! ```

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Frame, SizeHint};

use super::DynBody;
use crate::error::{BoxError, Error};

pin_project_lite::pin_project! {
    /// Any body, its errors as [`Error`]s.
    pub(super) struct MapErr<B> {
        #[pin]
        pub(super) inner: B,
    }
}

impl<B> http_body::Body for MapErr<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        Poll::Ready(match ready!(self.project().inner.poll_frame(cx)) {
            None => None,
            Some(Ok(frame)) => Some(Ok(frame)),
            Some(Err(e)) => Some(Err(Error::from_boxed(e.into()))),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> DynBody for MapErr<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
}

pin_project_lite::pin_project! {
    /// A stream of data chunks as a body.
    pub(super) struct StreamBody<S> {
        #[pin]
        pub(super) stream: S,
        pub(super) done: bool,
    }
}

impl<S, D, E> http_body::Body for StreamBody<S>
where
    S: Stream<Item = Result<D, E>>,
    D: Into<Bytes>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match ready!(this.stream.poll_next(cx)) {
            Some(Ok(d)) => Poll::Ready(Some(Ok(Frame::data(d.into())))),
            Some(Err(e)) => {
                *this.done = true;
                Poll::Ready(Some(Err(e.into())))
            }
            None => {
                *this.done = true;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        let (lower, upper) = self.stream.size_hint();
        // A stream's size hint counts items, not bytes: only "no items
        // left" carries over.
        if upper == Some(0) && lower == 0 {
            SizeHint::with_exact(0)
        } else {
            SizeHint::new()
        }
    }
}
