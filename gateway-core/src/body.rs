//! [`Body`]: the one body type of requests and responses.
//!
//! A body is a stream of [`Frame`]s — data, then optionally trailers — and
//! implements [`http_body::Body`] with `Data = Bytes` and `Error =`
//! [`Error`]. It comes in a few shapes, each built without ceremony:
//!
//! | shape | built with | allocates? | size |
//! |---|---|---|---|
//! | empty | [`Body::empty`], `()` | no | exactly 0 |
//! | full | `&'static str`, `&'static [u8]`, [`Bytes`], `String`, `Vec<u8>` | no (the `String`/`Vec` is taken over) | exact |
//! | stream | [`Body::new`] (any `http_body::Body`), [`Body::from_stream`] | one box | as the inner body says |
//! | writer | [`Body::writer`]: push-style, WSGI's `write()` | one box, one `Arc` | unknown |
//! | file | [`Body::file`]: a stream plus a [`FileHint`] | one box | exact |
//!
//! Every shape reports [`size_hint`](http_body::Body::size_hint) and
//! [`is_end_stream`](http_body::Body::is_end_stream) exactly, so servers frame
//! responses with `Content-Length` whenever the size is known.
//!
//! `Body` is `Send + Unpin` and 40 bytes, a `Bytes` and a tag: responses
//! move through every layer by value, so its size is paid on every hop. It
//! is not `Sync` (a stream inside need only be `Send`); the
//! [`Environ`](crate::Environ) keeps its body so that the environ is `Sync`
//! nonetheless, and an `&Environ` may be held across an `.await`.
//!
//! ```
//! use gateway_core::Body;
//! use http_body::Body as _;
//!
//! let hello = Body::from("hello");            // no allocation
//! assert_eq!(hello.size_hint().exact(), Some(5));
//! assert!(Body::empty().is_end_stream());
//! ```

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use futures_core::Stream;
use http::HeaderMap;
use http_body::{Frame, SizeHint};

use crate::error::{BodyError, BoxError, Error};

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

/// The body of a request or a response. See the [module docs](self).
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
    /// rest of the body.
    Peeked(Box<Peeked>),
    /// A body whose end is reported to a callback.
    Finish(Box<FinishBody>),
}

struct Peeked {
    frame: Option<Frame<Bytes>>,
    rest: Body,
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

    /// A file's contents: `body` yields the bytes, `hint` tells an adapter
    /// which file and range they come from, for adapters able to send it
    /// more cheaply. `size_hint` is exactly `hint.len()`.
    pub fn file<B>(body: B, hint: FileHint) -> Body
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body {
            kind: Kind::Dyn(Box::pin(FileBody {
                remaining: hint.len,
                hint,
                inner: MapErr { inner: body },
            })),
        }
    }

    /// The file this body reads, when it was built with [`Body::file`].
    pub fn file_hint(&self) -> Option<&FileHint> {
        match &self.kind {
            Kind::Dyn(d) => d.file_hint(),
            Kind::Finish(f) => f.inner.file_hint(),
            // A prefetched body has a frame in memory ahead of the file.
            _ => None,
        }
    }

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
    /// Trailers are discarded.
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
    pub async fn to_bytes(self, limit: usize) -> Result<Bytes, Error> {
        let mut body = self.with_limit(limit as u64);
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
                // Peek inside the wrapper: bytes count, and completion is
                // reported, only when frames leave the outermost body.
                Kind::Finish(f) => {
                    let polled = ready!(f.inner.poll_prefetch(cx));
                    if polled.is_err() {
                        f.finish(false);
                    }
                    return Poll::Ready(polled);
                }
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
            f.bytes = 0;
            f.finish(true);
        }
    }

    /// Whether this is one in-memory chunk (or nothing): sending it cannot
    /// fail and needs no polling.
    #[inline]
    pub(crate) fn is_in_memory(&self) -> bool {
        matches!(self.kind, Kind::Empty | Kind::Full(_))
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
                    Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                        this.kind = Kind::Empty;
                        polled
                    }
                    other => other,
                }
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
            Kind::Finish(f) => {
                let polled = Pin::new(&mut f.inner).poll_frame_inner(cx);
                match &polled {
                    Poll::Ready(Some(Ok(frame))) => {
                        f.bytes += frame.data_ref().map_or(0, |d| d.len() as u64);
                        if f.inner.is_end_stream_inner() {
                            f.finish(true);
                        }
                    }
                    Poll::Ready(None) => f.finish(true),
                    Poll::Ready(Some(Err(_))) => f.finish(false),
                    Poll::Pending => {}
                }
                polled
            }
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
            Kind::Peeked(p) => p.frame.is_none() && p.rest.is_end_stream_inner(),
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

/// Where a [`Body::file`] body's bytes come from: an adapter that can send
/// a file range directly may use it instead of polling the body.
#[derive(Debug, Clone)]
pub struct FileHint {
    file: Arc<std::fs::File>,
    offset: u64,
    len: u64,
}

impl FileHint {
    /// `len` bytes of `file` starting at `offset`.
    pub fn new(file: Arc<std::fs::File>, offset: u64, len: u64) -> FileHint {
        FileHint { file, offset, len }
    }

    /// The open file.
    pub fn file(&self) -> &Arc<std::fs::File> {
        &self.file
    }

    /// Where the bytes start in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many bytes are sent.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes are sent.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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

struct FinishBody {
    inner: Body,
    callback: Option<FinishCallback>,
    bytes: u64,
}

impl FinishBody {
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

pin_project_lite::pin_project! {
    struct MapErr<B> {
        #[pin]
        inner: B,
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
    /// A file's stream with its announced, exact length.
    struct FileBody<B> {
        #[pin]
        inner: MapErr<B>,
        remaining: u64,
        hint: FileHint,
    }
}

impl<B> http_body::Body for FileBody<B>
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
        let this = self.project();
        let polled = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &polled {
            let sent = frame.data_ref().map_or(0, |d| d.len() as u64);
            *this.remaining = this.remaining.saturating_sub(sent);
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        // The file's size was announced; keep the hint exact even when the
        // stream itself cannot tell.
        SizeHint::with_exact(self.remaining)
    }
}

impl<B> DynBody for FileBody<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn file_hint(&self) -> Option<&FileHint> {
        Some(&self.hint)
    }

    fn shape(&self) -> &'static str {
        "File"
    }
}

pin_project_lite::pin_project! {
    struct StreamBody<S> {
        #[pin]
        stream: S,
        done: bool,
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

// ---------------------------------------------------------------------------
// The writer: a producer future driven by the body's own poll_frame.
//
// Protocol (all under one lock):
// - A writer puts one frame in the slot, registers its waker, and wakes the
//   body unless the body is inside its own poll of the producer (it checks
//   the slot right after, under the lock, before it registers its waker and
//   clears `polling`: no wake-up can fall between the two).
// - The body takes the frame and wakes the writer, unless the writer's
//   waker is the body's own task's (the body polls the producer next
//   anyway; waking would only cost the task a spurious poll).
// - A flush is a frame without data, acknowledged the same way.
// - When the body is dropped or the producer ends, `closed` is set and a
//   waiting writer (moved to another task) is woken to fail with
//   `ReaderGone`.

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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn assert_send_unpin<T: Send + Unpin>() {}

    #[test]
    fn body_is_send_unpin_and_small() {
        assert_send_unpin::<Body>();
        // A Bytes and a tag: responses move by value through every layer.
        assert!(std::mem::size_of::<Body>() <= std::mem::size_of::<Bytes>() + 8);
    }

    #[tokio::test]
    async fn full_is_exact_and_yields_once() {
        let mut b = Body::from("hello");
        assert_eq!(b.size_hint().exact(), Some(5));
        assert!(!b.is_end_stream());
        let f = b.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "hello");
        assert!(b.is_end_stream());
        assert!(b.frame().await.is_none());
    }

    #[tokio::test]
    async fn empty_full_is_empty() {
        let b = Body::from(String::new());
        assert!(b.is_end_stream());
        assert_eq!(b.size_hint().exact(), Some(0));
    }

    #[tokio::test]
    async fn writer_yields_chunks_then_trailers() {
        let body = Body::writer(|mut w| async move {
            w.write("a").await?;
            w.write("").await?;
            w.write("b").await?;
            let mut t = HeaderMap::new();
            t.insert("x-sum", "2".parse().unwrap());
            w.send_trailers(t).await
        });
        assert_eq!(body.size_hint().exact(), None);
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers().unwrap()["x-sum"], "2");
        assert_eq!(collected.to_bytes(), "ab");
    }

    #[tokio::test]
    async fn writer_backpressure_is_exact() {
        // The producer may not run ahead: after the consumer took one chunk,
        // exactly one more write has been started.
        let started = Arc::new(AtomicU64::new(0));
        let s = started.clone();
        let mut body = Body::writer(move |mut w| async move {
            for _ in 0..5 {
                s.fetch_add(1, Ordering::SeqCst);
                w.write("x").await?;
            }
            Ok(())
        });
        body.frame().await.unwrap().unwrap();
        assert_eq!(started.load(Ordering::SeqCst), 1);
        body.frame().await.unwrap().unwrap();
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn writer_error_ends_body_with_error() {
        let mut body = Body::writer(|mut w| async move {
            w.write("a").await?;
            Err(Error::new("boom"))
        });
        assert!(body.frame().await.unwrap().is_ok());
        assert!(body.frame().await.unwrap().is_err());
        assert!(body.frame().await.is_none(), "a failed body is fused");
    }

    #[tokio::test]
    async fn writer_in_another_task_is_woken() {
        let (tx, rx) = std::sync::mpsc::channel();
        let body = Body::writer(move |w| {
            tx.send(w).unwrap();
            async { Ok(()) }
        });
        // The producer finished at once; the writer lives elsewhere, and its
        // write fails because... no: the producer future ended, so the body
        // ends even though a writer handle lives on.
        let w = rx.recv().unwrap();
        let bytes = body.collect().await.unwrap().to_bytes();
        assert!(bytes.is_empty());
        drop(w);
    }

    #[tokio::test]
    async fn writer_reports_reader_gone() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let body = Body::writer(move |w| {
            tx.send(w).ok();
            std::future::pending()
        });
        let mut w = rx.await.unwrap();
        drop(body);
        let err = w.write("late").await.unwrap_err();
        assert!(matches!(
            err.downcast_ref::<BodyError>(),
            Some(BodyError::ReaderGone)
        ));
    }

    #[tokio::test]
    async fn panic_in_stream_becomes_error_frame() {
        let body = Body::from_stream(futures_util::stream::poll_fn(
            |_| -> Poll<Option<Result<Bytes, std::io::Error>>> { panic!("stream panicked") },
        ));
        let err = body.collect().await.unwrap_err();
        assert!(err.is_panic());
    }

    #[tokio::test]
    async fn on_finish_reports_completion_and_bytes() {
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let body = Body::from("hello").on_finish(move |f| *s.lock().unwrap() = Some(f));
        body.collect().await.unwrap();
        let f = seen.lock().unwrap().unwrap();
        assert!(f.is_completed());
        assert_eq!(f.bytes(), 5);
    }

    #[tokio::test]
    async fn on_finish_reports_abort_on_drop() {
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let mut body = Body::from_stream(futures_util::stream::iter(
            ["a", "b"].map(Ok::<_, std::io::Error>),
        ))
        .on_finish(move |f| *s.lock().unwrap() = Some(f));
        body.frame().await.unwrap().unwrap();
        drop(body);
        let f = seen.lock().unwrap().unwrap();
        assert!(!f.is_completed());
        assert_eq!(f.bytes(), 1);
    }

    #[tokio::test]
    async fn prefetch_skips_empty_chunks_and_keeps_the_first() {
        let mut body = Body::from_stream(futures_util::stream::iter(
            ["", "", "x", "y"].map(Ok::<_, std::io::Error>),
        ));
        body.prefetch().await.unwrap();
        assert_eq!(body.collect().await.unwrap().to_bytes(), "xy");
    }

    #[tokio::test]
    async fn with_limit_rejects_long_bodies() {
        let body = Body::from_stream(futures_util::stream::iter(
            ["abc", "def"].map(Ok::<_, std::io::Error>),
        ));
        let err = body.to_bytes(4).await.unwrap_err();
        assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
        let ok = Body::from_stream(futures_util::stream::iter(
            ["abc", "def"].map(Ok::<_, std::io::Error>),
        ));
        assert_eq!(ok.to_bytes(6).await.unwrap(), "abcdef");
    }

    #[tokio::test]
    async fn new_does_not_rebox_a_body() {
        let b = Body::new(Body::from("x"));
        assert!(b.is_in_memory());
    }

    #[tokio::test]
    async fn file_hint_keeps_exact_size() {
        let file = Arc::new(std::fs::File::open("Cargo.toml").unwrap());
        let body = Body::file(
            Body::from_stream(futures_util::stream::iter(
                ["ab", "c"].map(Ok::<_, std::io::Error>),
            )),
            FileHint::new(file, 0, 3),
        );
        assert_eq!(body.size_hint().exact(), Some(3));
        assert_eq!(body.file_hint().unwrap().len(), 3);
        let mut body = body;
        body.frame().await.unwrap().unwrap();
        assert_eq!(body.size_hint().exact(), Some(1));
    }

    // Regression tests for the writer's wake-up protocol: each of these
    // hung before the protocol was made airtight.

    #[tokio::test]
    async fn write_inside_a_combinator_with_its_own_waker_completes() {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let body = Body::writer(|mut w| async move {
            let mut set = FuturesUnordered::new();
            set.push(async move {
                w.write("a").await?;
                w.write("b").await
            });
            set.next().await.unwrap_or(Ok(()))
        });
        let bytes = tokio::time::timeout(std::time::Duration::from_secs(5), body.collect())
            .await
            .expect("no hang")
            .unwrap()
            .to_bytes();
        assert_eq!(bytes, "ab");
    }

    #[tokio::test]
    async fn flush_headers_from_another_task_completes() {
        let (tx, rx) = tokio::sync::oneshot::channel::<BodyWriter>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let mut body = Body::writer(move |w| {
            tx.send(w).ok();
            async move {
                done_rx.await.ok();
                Ok(())
            }
        });
        let mut w = rx.await.unwrap();
        let flusher = tokio::spawn(async move {
            w.flush_headers().await?;
            w.write("after").await?;
            done_tx.send(()).ok();
            Ok::<_, Error>(())
        });
        let first = body.frame().await.unwrap().unwrap();
        assert!(
            first.data_ref().unwrap().is_empty(),
            "the flush comes first"
        );
        assert!(body.flush_requested());
        let second = body.frame().await.unwrap().unwrap();
        assert_eq!(second.into_data().unwrap(), "after");
        tokio::time::timeout(std::time::Duration::from_secs(5), flusher)
            .await
            .expect("no hang")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn pending_write_in_another_task_fails_when_the_body_is_dropped() {
        let (tx, rx) = tokio::sync::oneshot::channel::<BodyWriter>();
        let mut body = Body::writer(move |w| {
            tx.send(w).ok();
            std::future::pending::<Result<(), Error>>()
        });
        let mut w = rx.await.unwrap();
        let writer = tokio::spawn(async move {
            w.write("a").await?;
            w.write("b").await
        });
        assert_eq!(
            body.frame().await.unwrap().unwrap().into_data().unwrap(),
            "a"
        );
        drop(body);
        let err = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
            .await
            .expect("no hang")
            .unwrap()
            .unwrap_err();
        assert!(matches!(
            err.downcast_ref::<BodyError>(),
            Some(BodyError::ReaderGone)
        ));
    }

    struct CountWakes(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn write_from_another_thread_while_the_body_polls_is_acknowledged() {
        use std::sync::mpsc;
        let (go_tx, go_rx) = mpsc::channel::<BodyWriter>();
        let (ack_tx, ack_rx) = mpsc::channel::<()>();
        let (took_tx, took_rx) = mpsc::channel::<()>();
        let mut body = Body::writer(move |w| {
            let mut w = Some(w);
            std::future::poll_fn(move |_cx| {
                if let Some(w) = w.take() {
                    go_tx.send(w).unwrap();
                    // The writer writes while the body is inside this poll.
                    ack_rx.recv().unwrap();
                }
                Poll::<Result<(), Error>>::Pending
            })
        });
        let writer = std::thread::spawn(move || {
            let mut w = go_rx.recv().unwrap();
            let wakes = Arc::new(CountWakes(std::sync::atomic::AtomicUsize::new(0)));
            let waker = Waker::from(wakes.clone());
            let mut cx = Context::from_waker(&waker);
            let mut fut = std::pin::pin!(w.write("x"));
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            ack_tx.send(()).unwrap();
            took_rx.recv().unwrap();
            assert!(
                wakes.0.load(Ordering::SeqCst) > 0,
                "the writer was told its frame was taken"
            );
            assert!(fut.as_mut().poll(&mut cx).is_ready());
        });
        let body_wakes = Arc::new(CountWakes(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(body_wakes);
        let mut cx = Context::from_waker(&waker);
        let polled = Pin::new(&mut body).poll_frame(&mut cx);
        assert!(
            matches!(polled, Poll::Ready(Some(Ok(_)))),
            "the frame is seen at once"
        );
        took_tx.send(()).unwrap();
        writer.join().unwrap();
    }

    #[test]
    fn no_lost_body_wake_up_under_races() {
        use std::sync::atomic::AtomicBool;
        use std::sync::mpsc;
        let mut lost = 0;
        for i in 0..3_000 {
            let started = Arc::new(AtomicBool::new(false));
            let s = started.clone();
            let (wtx, wrx) = mpsc::channel::<BodyWriter>();
            let mut body = Body::writer(move |w| {
                wtx.send(w).unwrap();
                std::future::poll_fn(move |_| {
                    s.store(true, Ordering::SeqCst);
                    Poll::<Result<(), Error>>::Pending
                })
            });
            let mut w = wrx.recv().unwrap();
            let t = std::thread::spawn(move || {
                while !started.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                for _ in 0..(i % 150) {
                    std::hint::spin_loop();
                }
                let waker =
                    Waker::from(Arc::new(CountWakes(std::sync::atomic::AtomicUsize::new(0))));
                let mut cx = Context::from_waker(&waker);
                let mut fut = std::pin::pin!(w.write("x"));
                let _ = fut.as_mut().poll(&mut cx);
            });
            let wakes = Arc::new(CountWakes(std::sync::atomic::AtomicUsize::new(0)));
            let waker = Waker::from(wakes.clone());
            let mut cx = Context::from_waker(&waker);
            let first = Pin::new(&mut body).poll_frame(&mut cx);
            t.join().unwrap();
            if first.is_pending() && wakes.0.load(Ordering::SeqCst) == 0 {
                if let Poll::Ready(Some(Ok(_))) = Pin::new(&mut body).poll_frame(&mut cx) {
                    lost += 1;
                }
            }
        }
        assert_eq!(lost, 0, "a frame was written but the body was never woken");
    }

    #[tokio::test]
    async fn a_prefetching_layer_keeps_flush_headers_working() {
        let mut body = Body::writer(|mut w| async move {
            w.flush_headers().await?;
            std::future::pending::<()>().await;
            Ok(())
        });
        // A middleware's prefetch consumes the flush...
        body.prefetch().await.unwrap();
        // ...and the driver's own prefetch must still return at once.
        tokio::time::timeout(std::time::Duration::from_secs(5), body.prefetch())
            .await
            .expect("no hang")
            .unwrap();
    }

    #[tokio::test]
    async fn on_finish_counts_only_what_leaves_after_a_prefetch() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let mut body = Body::from_stream(futures_util::stream::iter(
            ["ab", "c"].map(Ok::<_, std::io::Error>),
        ))
        .on_finish(move |f| s.lock().unwrap().push(f));
        body.prefetch().await.unwrap();
        assert!(seen.lock().unwrap().is_empty(), "nothing was sent yet");
        drop(body);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "reported exactly once");
        assert!(!seen[0].is_completed());
        assert_eq!(seen[0].bytes(), 0);
    }

    #[tokio::test]
    async fn on_finish_reports_failure_found_by_prefetch() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let mut body = Body::writer(|_w| async { Err(Error::new("first chunk failed")) })
            .on_finish(move |f| s.lock().unwrap().push(f));
        assert!(body.prefetch().await.is_err());
        drop(body);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(!seen[0].is_completed());
    }

    #[test]
    fn file_hint_survives_on_finish() {
        let file = Arc::new(std::fs::File::open("Cargo.toml").unwrap());
        let body = Body::file(Body::from("abc"), FileHint::new(file, 0, 3)).on_finish(|_| {});
        assert_eq!(body.file_hint().map(FileHint::len), Some(3));
    }

    #[tokio::test]
    async fn a_panicking_on_finish_callback_is_contained() {
        let body = Body::from("x").on_finish(|_| panic!("callback panicked"));
        // Neither the poll that ends the body nor a drop may unwind.
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.to_bytes(), "x");
        drop(Body::from("y").on_finish(|_| panic!("in drop")));
    }
}
