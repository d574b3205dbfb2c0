//! Holding a streaming body to the `Content-Length` its response announced
//! (commit rule 8): exactly that many bytes leave it, or it fails.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::{driver, fn_app, start, Body, Environ};
//! use http_body_util::BodyExt;
//!
//! let app = fn_app(|_| async {
//!     start(200, [("content-length", "10")]).writer(|mut w| async move { w.write("abc").await })
//! });
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert!(res.into_body().collect().await.is_err()); // 3 of 10 bytes: an abort
//! # });
//! ```

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{Method, Uri};
use http_body::{Frame, SizeHint};

use super::{Body, Kind, Peeked};
use crate::error::Error;

/// The request a response answers, kept by the driver for the warning a
/// body that breaks its declared length logs (commit rule 8).
///
/// Captured only when that warning would be logged: without a `tracing`
/// subscriber at `warn` or finer, a request pays one level check for it.
/// With one, the method and the path are cloned without allocating: a
/// standard method is a tag, and the path shares the request's bytes (a
/// reference count, or nothing for a static `/`). An adapter captures it
/// from the request head before building the environ: borrowing the
/// environ for it before the application takes it costs a copy of the
/// environ on every request.
pub struct Route {
    method: Method,
    path: Option<PathAndQuery>,
}

impl Route {
    /// The route of a request, if a broken length would be logged.
    #[inline(always)]
    pub(crate) fn capture(method: &Method, uri: &Uri) -> Option<Route> {
        if tracing::level_enabled!(tracing::Level::WARN) {
            Some(Route::of(method, uri))
        } else {
            None
        }
    }

    #[cold]
    #[inline(never)]
    fn of(method: &Method, uri: &Uri) -> Route {
        Route {
            method: method.clone(),
            path: uri.path_and_query().cloned(),
        }
    }

    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn path(&self) -> &str {
        self.path.as_ref().map_or("", PathAndQuery::path)
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Route({} {})", self.method(), self.path())
    }
}

/// How a body broke the length its response announced.
#[derive(Debug, thiserror::Error)]
pub(super) enum LengthMismatch {
    /// The body ended (or sent its trailers) early.
    #[error(
        "the response body ended after {sent} of the {declared} bytes its Content-Length announced"
    )]
    Short { declared: u64, sent: u64 },
    /// The body had more data than announced.
    #[error("the response body went on past the {declared} bytes its Content-Length announced")]
    Long { declared: u64 },
}

impl LengthMismatch {
    /// Logs the mismatch at `warn`, with the route when known, and makes
    /// it the error the body yields.
    #[cold]
    pub(super) fn report(self, route: Option<&Route>) -> Error {
        match route {
            Some(r) => tracing::warn!(
                method = %r.method(),
                path = %r.path(),
                error = %self,
                "response aborted: wrong Content-Length"
            ),
            None => tracing::warn!(error = %self, "response aborted: wrong Content-Length"),
        }
        Error::new(self)
    }
}

/// The state of a body held to a declared length.
pub(super) struct Declared {
    /// The length the response announced.
    length: u64,
    /// Data bytes yielded so far; never more than `length`.
    sent: u64,
    /// The rest of the body returned its end.
    rest_done: bool,
    route: Option<Route>,
}

impl Body {
    /// Holds this body, which has no exact size, to the `length` its
    /// response announces (commit rule 8): from now on its size hint is
    /// exactly what remains of `length`, and it fails rather than end
    /// short or yield a byte past it. The last announced bytes are held
    /// back until the body is known to end there: a server framing by the
    /// length would otherwise complete the response before the excess
    /// shows, and an HTTP/1 client would take it as whole.
    ///
    /// Fails, before anything is sent, when the frame already pulled
    /// ahead (rule 6) is past `length`: still time for an error response.
    /// A body the driver prefetched is held in the box it already has; any
    /// other (a writer that flushed its headers) gets one.
    pub(crate) fn hold_to_length(
        &mut self,
        length: u64,
        route: Option<Route>,
    ) -> Result<(), Error> {
        let declared = Declared {
            length,
            sent: 0,
            rest_done: false,
            route,
        };
        match &mut self.kind {
            Kind::Finish(f) => f.inner.hold_to_length(length, declared.route),
            Kind::Peeked(p) => {
                let ahead = p.frame.as_ref().and_then(Frame::data_ref);
                if ahead.is_some_and(|data| data.len() as u64 > length) {
                    let mismatch = LengthMismatch::Long { declared: length };
                    return Err(mismatch.report(declared.route.as_ref()));
                }
                p.declared = Some(declared);
                Ok(())
            }
            Kind::Dyn(_) => {
                let rest = std::mem::take(self);
                self.kind = Kind::Peeked(Box::new(Peeked {
                    frame: None,
                    rest,
                    declared: Some(declared),
                }));
                Ok(())
            }
            // Exactly sized: the driver corrects the header instead.
            Kind::Empty | Kind::Full(_) => Ok(()),
        }
    }
}

impl Peeked {
    /// `poll_frame` for a body held to its declared length.
    pub(super) fn poll_declared(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let Peeked {
            frame: held,
            rest,
            declared,
        } = self;
        let Some(d) = declared.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            let frame = match held.take() {
                Some(frame) => frame,
                None if d.rest_done => return Poll::Ready(d.end()),
                None => match ready!(Pin::new(&mut *rest).poll_frame_inner(cx)) {
                    Some(Ok(frame)) => frame,
                    Some(Err(err)) => return Poll::Ready(Some(Err(err))),
                    None => {
                        d.rest_done = true;
                        return Poll::Ready(d.end());
                    }
                },
            };
            let Some(data) = frame.data_ref() else {
                // Trailers end the body.
                return Poll::Ready(Some(match d.end() {
                    Some(Err(short)) => Err(short),
                    _ => Ok(frame),
                }));
            };
            if data.is_empty() {
                continue;
            }
            let after = d.sent.saturating_add(data.len() as u64);
            if after > d.length {
                return Poll::Ready(Some(Err(d.long())));
            }
            if after == d.length && !d.rest_done && !rest.is_end_stream_inner() {
                // The last announced bytes: find out whether the body ends
                // here before they leave.
                *held = Some(frame);
                match ready!(Pin::new(&mut *rest).poll_frame_inner(cx)) {
                    None => d.rest_done = true,
                    Some(Err(err)) => {
                        *held = None;
                        return Poll::Ready(Some(Err(err)));
                    }
                    Some(Ok(next)) => match next.data_ref() {
                        Some(more) if more.is_empty() => {}
                        Some(_) => {
                            *held = None;
                            return Poll::Ready(Some(Err(d.long())));
                        }
                        // Trailers: they follow the data, as they came.
                        None => {
                            let last = held.replace(next);
                            d.sent = after;
                            return Poll::Ready(last.map(Ok));
                        }
                    },
                }
                continue;
            }
            d.sent = after;
            return Poll::Ready(Some(Ok(frame)));
        }
    }

    /// `is_end_stream` for a body held to its declared length.
    pub(super) fn declared_end(&self, d: &Declared) -> bool {
        self.frame.is_none()
            && d.sent == d.length
            && (d.rest_done || self.rest.is_end_stream_inner())
    }

    /// `size_hint` for a body held to its declared length: what remains
    /// of it, exactly, so that a server frames the response by it.
    pub(super) fn declared_size_hint(&self) -> SizeHint {
        let remaining = self.declared.as_ref().map_or(0, |d| d.length - d.sent);
        SizeHint::with_exact(remaining)
    }
}

impl Declared {
    /// The end of the body: clean when the announced length was sent.
    fn end(&self) -> Option<Result<Frame<Bytes>, Error>> {
        if self.sent == self.length {
            None
        } else {
            let mismatch = LengthMismatch::Short {
                declared: self.length,
                sent: self.sent,
            };
            Some(Err(mismatch.report(self.route.as_ref())))
        }
    }

    fn long(&self) -> Error {
        let mismatch = LengthMismatch::Long {
            declared: self.length,
        };
        mismatch.report(self.route.as_ref())
    }
}
