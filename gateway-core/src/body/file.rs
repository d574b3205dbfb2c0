//! File bodies: [`Body::file`] and the [`FileHint`] an adapter may use to
//! send the file range itself.
//!
//! ```
//! use std::sync::Arc;
//! use gateway_core::body::FileHint;
//! use gateway_core::Body;
//! use http_body::Body as _;
//!
//! # let path = std::env::current_exe().unwrap(); // any file will do
//! let file = Arc::new(std::fs::File::open(path).unwrap());
//! let bytes = http_body_util::Full::new(bytes::Bytes::from_static(b"0123"));
//! let body = Body::file(bytes, FileHint::new(file, 0, 4));
//! assert_eq!(body.size_hint().exact(), Some(4));
//! assert_eq!(body.file_hint().map(FileHint::len), Some(4));
//! ```

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::adapters::MapErr;
use super::declared::LengthMismatch;
use super::{Body, DynBody, Kind};
use crate::error::{BoxError, Error};

impl Body {
    /// A file's contents: `body` yields the bytes, `hint` tells an adapter
    /// which file and range they come from, for adapters able to send it
    /// more cheaply. `size_hint` is exactly `hint.len()`, and the body
    /// holds to it (commit rule 8): bytes `body` yields past `hint.len()`
    /// are not sent, and a `body` that ends before (the file shrank while
    /// being sent) fails, aborting the response.
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

pin_project_lite::pin_project! {
    /// A file's stream with its announced, exact length.
    struct FileBody<B> {
        #[pin]
        inner: MapErr<B>,
        remaining: u64,
        hint: FileHint,
    }
}

/// The file ended before the announced range did (it shrank while being
/// sent): the response must not look complete.
#[cold]
fn short(hint: &FileHint, remaining: &mut u64) -> Error {
    let mismatch = LengthMismatch::Short {
        declared: hint.len,
        sent: hint.len - *remaining,
    };
    *remaining = 0;
    mismatch.report(None)
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
        if *this.remaining == 0 {
            // The announced range is sent: a file that grew since is not
            // read further.
            return Poll::Ready(None);
        }
        let polled = ready!(this.inner.poll_frame(cx));
        Poll::Ready(match polled {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(mut data) => {
                    // Never past the range: the hint is what was announced.
                    data.truncate(usize::try_from(*this.remaining).unwrap_or(usize::MAX));
                    *this.remaining -= data.len() as u64;
                    Some(Ok(Frame::data(data)))
                }
                // Trailers end the body: early, since bytes remain.
                Err(_) => Some(Err(short(this.hint, this.remaining))),
            },
            None => Some(Err(short(this.hint, this.remaining))),
            Some(Err(err)) => Some(Err(err)),
        })
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
