//! Bounded bodies: [`Body::with_limit`] and [`Body::to_bytes`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::Body;
//!
//! assert_eq!(Body::from("hello").to_bytes(1024).await.unwrap(), "hello");
//! let err = Body::from("hello").with_limit(2).to_bytes(1024).await.unwrap_err();
//! assert_eq!(err.status(), gateway_core::http::StatusCode::PAYLOAD_TOO_LARGE);
//! # });
//! ```

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::{Body, Kind};
use crate::error::{BodyError, Error};

impl Body {
    /// Limits the body to `limit` bytes: longer bodies fail with
    /// [`BodyError::LengthLimitExceeded`], which maps to 413. A body that
    /// announces a larger exact size fails on its first poll.
    pub fn with_limit(self, limit: u64) -> Body {
        if let Some(n) = http_body::Body::size_hint(&self).exact() {
            if n <= limit {
                return self;
            }
        }
        Body::new(Limited {
            inner: self,
            remaining: limit,
            limit,
        })
    }

    /// Collects the whole body into one `Bytes`, failing with
    /// [`BodyError::LengthLimitExceeded`] (413) past `limit` bytes.
    /// Trailers are discarded. `limit` is a `u64`, as in
    /// [`with_limit`](Body::with_limit) and `Content-Length`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::Body;
    /// let bytes = Body::from("hello").to_bytes(1024).await.unwrap();
    /// assert_eq!(bytes, "hello");
    /// assert_eq!(
    ///     Body::from("hello").to_bytes(2).await.unwrap_err().status(),
    ///     gateway_core::http::StatusCode::PAYLOAD_TOO_LARGE,
    /// );
    /// # });
    /// ```
    pub async fn to_bytes(self, limit: u64) -> Result<Bytes, Error> {
        let mut body = self.with_limit(limit);
        if let Kind::Full(data) = body.kind {
            return Ok(data);
        }
        let mut buf = bytes::BytesMut::new();
        let mut first: Option<Bytes> = None;
        while let Some(frame) =
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame_inner(cx)).await
        {
            if let Ok(data) = frame?.into_data() {
                if data.is_empty() {
                    continue;
                }
                match first.take() {
                    None if buf.is_empty() => first = Some(data),
                    Some(prev) => {
                        buf.extend_from_slice(&prev);
                        buf.extend_from_slice(&data);
                    }
                    None => buf.extend_from_slice(&data),
                }
            }
        }
        Ok(first.unwrap_or_else(|| buf.freeze()))
    }
}

struct Limited {
    inner: Body,
    remaining: u64,
    limit: u64,
}

impl http_body::Body for Limited {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.inner.size_hint_inner().lower() > this.remaining {
            this.inner = Body::empty();
            return Poll::Ready(Some(Err(BodyError::LengthLimitExceeded {
                limit: this.limit,
            }
            .into())));
        }
        let polled = ready!(Pin::new(&mut this.inner).poll_frame_inner(cx));
        if let Some(Ok(frame)) = &polled {
            let len = frame.data_ref().map_or(0, |d| d.len() as u64);
            if len > this.remaining {
                this.inner = Body::empty();
                return Poll::Ready(Some(Err(BodyError::LengthLimitExceeded {
                    limit: this.limit,
                }
                .into())));
            }
            this.remaining -= len;
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream_inner()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint_inner()
    }
}
