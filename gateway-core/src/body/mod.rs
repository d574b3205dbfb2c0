//! [`Body`]: the one body type of requests and responses, and its shapes —
//! adapters for foreign bodies and streams, files, a finish callback,
//! limits, and the push-style writer, one file each.
//!
//! ```
//! use gateway_core::Body;
//! use http_body::Body as _;
//!
//! let hello = Body::from("hello"); // no allocation
//! assert_eq!(hello.size_hint().exact(), Some(5));
//! assert!(Body::empty().is_end_stream());
//! ```

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Frame, SizeHint};

use crate::error::{BoxError, Error};

mod adapters;
mod declared;
mod file;
mod finish;
mod limit;
mod writer;

use adapters::{MapErr, StreamBody};
use declared::Declared;
use finish::{Callback, FinishBody};

pub use declared::Route;
pub use file::FileHint;
pub use finish::Finished;
pub use writer::BodyWriter;

/// A boxed body with the extra questions `Body` asks of some shapes.
/// Crate-visible so that a wrapper inside the crate (`Lint`'s) can forward
/// them; see [`Body::from_dyn`].
pub(crate) trait DynBody:
    http_body::Body<Data = Bytes, Error = Error> + Send + 'static
{
    /// Whether a writer asked for the headers to be sent now.
    fn flush_requested(&self) -> bool {
        false
    }

    /// The file a [`Body::file`] body reads.
    fn file_hint(&self) -> Option<&FileHint> {
        None
    }

    /// The shape's name, for `Debug`.
    fn shape(&self) -> &'static str {
        "Stream"
    }
}

type DynInner = Pin<Box<dyn DynBody>>;

/// The body of a request or a response: the one body type of the gateway.
///
/// ```
/// use gateway_core::Body;
/// use http_body::Body as _;
///
/// let hello = Body::from("hello");            // no allocation
/// assert_eq!(hello.size_hint().exact(), Some(5));
/// assert!(Body::empty().is_end_stream());
/// ```
///
/// A body is a stream of [`Frame`]s — data, then optionally trailers — and
/// implements [`http_body::Body`] with `Data = Bytes` and `Error =`
/// [`Error`]. It comes in a few shapes, each built without ceremony:
///
/// | shape | built with | allocates? | size |
/// |---|---|---|---|
/// | empty | [`Body::empty`], `()` | no | exactly 0 |
/// | full | `&'static str`, `&'static [u8]`, [`Bytes`], `String`, `Vec<u8>` | no (the `String`/`Vec` is taken over) | exact |
/// | stream | [`Body::new`] (any `http_body::Body`), [`Body::from_stream`] | one box | as the inner body says |
/// | writer | [`Body::writer`]: push-style, WSGI's `write()` | one box, one `Arc` | unknown |
/// | file | [`Body::file`]: a stream plus a [`FileHint`] | one box | exact |
///
/// Every shape reports [`size_hint`](http_body::Body::size_hint) and
/// [`is_end_stream`](http_body::Body::is_end_stream) exactly, so servers frame
/// responses with `Content-Length` whenever the size is known.
///
/// `Body` is `Send + Unpin` and 40 bytes, a `Bytes` and a tag: responses
/// move through every layer by value, so its size is paid on every hop. It
/// is not `Sync` (a stream inside need only be `Send`); the
/// [`Environ`](crate::Environ) keeps its body so that the environ is `Sync`
/// nonetheless, and an `&Environ` may be held across an `.await`.
pub struct Body {
    kind: Kind,
}

enum Kind {
    /// No more frames: an empty body, or one that ended or failed.
    Empty,
    /// One non-empty chunk.
    Full(Bytes),
    /// Anything else, boxed.
    Dyn(DynInner),
    /// A frame pulled ahead of time (by the driver or `prefetch`), then the
    /// rest of the body; after the commit, possibly held to a declared
    /// length.
    Peeked(Box<Peeked>),
    /// A body whose end is reported to a callback.
    Finish(Box<FinishBody<dyn Callback>>),
}

struct Peeked {
    frame: Option<Frame<Bytes>>,
    rest: Body,
    /// The length the response announced, when the body must be held to
    /// it (set by the driver at the commit).
    declared: Option<Declared>,
}

impl Body {
    /// An empty body. Does not allocate.
    pub const fn empty() -> Body {
        Body { kind: Kind::Empty }
    }

    /// A body of one chunk. Does not allocate; an empty `Bytes` gives an
    /// empty body.
    pub fn full(data: impl Into<Bytes>) -> Body {
        let data = data.into();
        if data.is_empty() {
            Body::empty()
        } else {
            Body {
                kind: Kind::Full(data),
            }
        }
    }

    /// Wraps any [`http_body::Body`] with `Bytes` data (one box).
    ///
    /// Its `size_hint` and `is_end_stream` are forwarded exactly. A panic in
    /// its `poll_frame` becomes an error frame. Passing a `Body` returns it
    /// unchanged.
    ///
    /// ```
    /// use gateway_core::Body;
    /// use http_body_util::Full;
    /// let body = Body::new(Full::new(bytes::Bytes::from_static(b"hi")));
    /// # let _ = body;
    /// ```
    pub fn new<B>(body: B) -> Body
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // A Body passed to Body::new is already one; do not box it again.
        let body = match crate::downcast_owned::<B, Body>(body) {
            Ok(body) => return body,
            Err(body) => body,
        };
        Body {
            kind: Kind::Dyn(Box::pin(MapErr { inner: body })),
        }
    }

    /// Boxes a wrapper that answers `Body`'s own questions (a writer's
    /// `flush_headers`) for what it wraps: `Body::new` would hide them.
    pub(crate) fn from_dyn(body: impl DynBody) -> Body {
        Body {
            kind: Kind::Dyn(Box::pin(body)),
        }
    }

    /// A body from a [`Stream`] of data chunks.
    ///
    /// ```
    /// use gateway_core::Body;
    /// let chunks = futures_util::stream::iter(["a", "b"].map(Ok::<_, std::io::Error>));
    /// let body = Body::from_stream(chunks);
    /// # let _ = body;
    /// ```
    pub fn from_stream<S, D, E>(stream: S) -> Body
    where
        S: Stream<Item = Result<D, E>> + Send + 'static,
        D: Into<Bytes>,
        E: Into<BoxError>,
    {
        Body::new(StreamBody {
            stream,
            done: false,
        })
    }

    /// A body from a [`Stream`] of frames: data and, last, trailers.
    pub fn from_frames<S, E>(stream: S) -> Body
    where
        S: Stream<Item = Result<Frame<Bytes>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Body::new(http_body_util::StreamBody::new(stream))
    }

    /// Pulls the first non-empty data frame (or the trailers, or the end) so
    /// that an error there surfaces now, while a clean error response can
    /// still be sent. The frame is kept and yielded first. Empty, one-chunk
    /// and already-prefetched bodies return at once.
    ///
    /// This is how the driver finds the commit point; a middleware uses it
    /// (through [`ResponseExt::prefetch`](crate::ResponseExt::prefetch)) to
    /// handle a first-chunk error itself.
    pub async fn prefetch(&mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_prefetch(cx)).await
    }

    pub(crate) fn poll_prefetch(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            // A flush is sticky: once asked for, the headers go now, even if
            // an earlier prefetch consumed the flush's empty frame.
            if self.flush_requested() {
                return Poll::Ready(Ok(()));
            }
            match &mut self.kind {
                Kind::Empty | Kind::Full(_) | Kind::Peeked(_) => return Poll::Ready(Ok(())),
                Kind::Finish(f) => return f.poll_prefetch(cx),
                Kind::Dyn(_) => {}
            }
            if http_body::Body::is_end_stream(self) {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut *self).poll_frame_inner(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(e)),
                Some(Ok(frame)) => {
                    if frame.data_ref().is_some_and(|d| d.is_empty()) {
                        if self.flush_requested() {
                            return Poll::Ready(Ok(()));
                        }
                        continue;
                    }
                    let rest = std::mem::take(self);
                    self.kind = Kind::Peeked(Box::new(Peeked {
                        frame: Some(frame),
                        rest,
                        declared: None,
                    }));
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }

    /// Whether a writer inside asked for the headers to be sent now.
    pub(crate) fn flush_requested(&self) -> bool {
        match &self.kind {
            Kind::Dyn(d) => d.flush_requested(),
            Kind::Finish(f) => f.inner.flush_requested(),
            Kind::Peeked(p) => p.rest.flush_requested(),
            _ => false,
        }
    }

    /// Drops a body that will not be sent (HEAD, 204, 304): a finish
    /// callback reports completion with 0 bytes rather than an abort.
    pub(crate) fn discard_unsent(self) {
        if let Kind::Finish(mut f) = self.kind {
            f.discard_unsent();
        }
    }

    /// Whether this is one in-memory chunk (or nothing), possibly with a
    /// finish callback around it: sending it cannot fail, and needs no
    /// polling before the commit.
    #[inline]
    pub(crate) fn is_in_memory(&self) -> bool {
        match &self.kind {
            Kind::Empty | Kind::Full(_) => true,
            Kind::Finish(f) => f.inner.is_in_memory(),
            Kind::Dyn(_) | Kind::Peeked(_) => false,
        }
    }

    /// The exact size, if known (`size_hint().exact()` without building a
    /// `SizeHint` for the in-memory shapes).
    #[inline]
    pub(crate) fn exact_size(&self) -> Option<u64> {
        match &self.kind {
            Kind::Empty => Some(0),
            Kind::Full(data) => Some(data.len() as u64),
            _ => self.size_hint_inner().exact(),
        }
    }

    // The in-memory shapes are answered where a server polls the body (for
    // an adapter on hyper, inside its write path); the others go out of
    // line.
    #[inline(always)]
    fn poll_frame_inner(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match &mut this.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(_) => match std::mem::replace(&mut this.kind, Kind::Empty) {
                Kind::Full(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                _ => Poll::Ready(None),
            },
            _ => this.poll_frame_slow(cx),
        }
    }

    #[inline(never)]
    fn poll_frame_slow(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self;
        match &mut this.kind {
            Kind::Empty | Kind::Full(_) => Pin::new(this).poll_frame_inner(cx),
            Kind::Dyn(d) => {
                let inner = d.as_mut();
                // A panic in user code becomes an error frame, so that it
                // aborts this response only, never the connection task.
                let polled = std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll_frame(cx)));
                let polled = match polled {
                    Ok(p) => p,
                    Err(payload) => Poll::Ready(Some(Err(Error::panicked(&*payload)))),
                };
                match polled {
                    Poll::Ready(None | Some(Err(_))) => {
                        this.kind = Kind::Empty;
                        polled
                    }
                    other => other,
                }
            }
            Kind::Peeked(p) if p.declared.is_some() => {
                let polled = p.poll_declared(cx);
                if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
                    this.kind = Kind::Empty;
                }
                polled
            }
            Kind::Peeked(p) => {
                if let Some(frame) = p.frame.take() {
                    return Poll::Ready(Some(Ok(frame)));
                }
                // Drop the peek box now; the rest continues in place.
                let Kind::Peeked(p) = std::mem::replace(&mut this.kind, Kind::Empty) else {
                    return Poll::Ready(None);
                };
                *this = p.rest;
                Pin::new(this).poll_frame_inner(cx)
            }
            Kind::Finish(f) => f.poll_frame(cx),
        }
    }

    #[inline]
    fn is_end_stream_inner(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(_) => false,
            _ => self.is_end_stream_slow(),
        }
    }

    fn is_end_stream_slow(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(_) => false,
            Kind::Dyn(d) => d.is_end_stream(),
            Kind::Peeked(p) => match &p.declared {
                Some(declared) => p.declared_end(declared),
                None => p.frame.is_none() && p.rest.is_end_stream_inner(),
            },
            Kind::Finish(f) => f.inner.is_end_stream_inner(),
        }
    }

    #[inline]
    fn size_hint_inner(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(data) => SizeHint::with_exact(data.len() as u64),
            _ => self.size_hint_slow(),
        }
    }

    fn size_hint_slow(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(data) => SizeHint::with_exact(data.len() as u64),
            Kind::Dyn(d) => d.size_hint(),
            Kind::Peeked(p) if p.declared.is_some() => p.declared_size_hint(),
            Kind::Peeked(p) => {
                let rest = p.rest.size_hint_inner();
                let first = p
                    .frame
                    .as_ref()
                    .and_then(|f| f.data_ref())
                    .map_or(0, |d| d.len() as u64);
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower().saturating_add(first));
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper.saturating_add(first));
                }
                hint
            }
            Kind::Finish(f) => f.inner.size_hint_inner(),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.poll_frame_inner(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.is_end_stream_inner()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.size_hint_inner()
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = match &self.kind {
            Kind::Empty => "Empty",
            Kind::Full(_) => "Full",
            Kind::Dyn(d) => d.shape(),
            Kind::Peeked(_) => "Peeked",
            Kind::Finish(_) => "OnFinish",
        };
        f.debug_struct("Body")
            .field("shape", &shape)
            .field("size_hint", &self.size_hint_inner())
            .finish()
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Body::empty()
    }
}

impl From<&'static str> for Body {
    #[inline]
    fn from(s: &'static str) -> Self {
        Body::full(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    #[inline]
    fn from(s: &'static [u8]) -> Self {
        Body::full(Bytes::from_static(s))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::full(Bytes::from(s))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::full(Bytes::from(v))
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::full(b)
    }
}

impl From<std::borrow::Cow<'static, str>> for Body {
    fn from(s: std::borrow::Cow<'static, str>) -> Self {
        match s {
            std::borrow::Cow::Borrowed(s) => Body::from(s),
            std::borrow::Cow::Owned(s) => Body::from(s),
        }
    }
}

#[cfg(test)]
mod tests;
