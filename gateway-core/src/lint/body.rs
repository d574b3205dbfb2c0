//! [`LintBody`]: the checks of a request or response body, frame by frame,
//! and the pairing of two `Lint`s around a middleware.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::lint::{Lint, Rule};
//! use gateway_core::{driver, fn_app, start, ApplicationExt, Body, Environ};
//! use http_body_util::BodyExt as _;
//!
//! // Announces 9 bytes, streams 5: found as the body is read.
//! let app = fn_app(|_| async {
//!     let body = Body::from_stream(futures_util::stream::iter([Ok::<_, std::io::Error>("hello")]));
//!     start(200, [("content-type", "text/plain"), ("content-length", "9")]).body(body)
//! });
//! let (lint, violations) = Lint::collecting();
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app.with(lint), env).await;
//! assert!(res.into_body().collect().await.is_err());
//! assert_eq!(violations.take()[0].rule(), Rule::ContentLength);
//! # });
//! ```

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::{Lint, Rule, Violation};
use crate::body_impl::{Body, DynBody};
use crate::error::Error;

/// The state two `Lint`s around one middleware share for one request:
/// whether the inner body yielded a frame with content that the
/// middleware has not yet answered with a frame of its own.
#[derive(Debug, Default)]
pub(super) struct Pair {
    holding: AtomicBool,
}

/// How the outer `Lint` hands the pair to the inner one.
#[derive(Clone, Debug)]
pub(super) struct PairToken(pub(super) Arc<Pair>);

pub(super) enum Pairing {
    /// The inner side: frames with content set `holding`.
    Feeds(Arc<Pair>),
    /// The outer side: every frame clears it; the end must find it clear.
    Drains(Arc<Pair>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Request,
    Response,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Request => "request body",
            Side::Response => "response body",
        })
    }
}

/// A body that checks every frame it passes on against what the body it
/// wraps claimed before the poll, and against the announced length.
pub(super) struct LintBody {
    inner: Body,
    lint: Lint,
    side: Side,
    /// `Content-Length`, to be checked against the bytes yielded.
    announced: Option<u64>,
    yielded: u64,
    pairing: Option<Pairing>,
    /// Reported a violation; ends here.
    failed: bool,
}

impl LintBody {
    pub(super) fn wrap(
        inner: Body,
        lint: Lint,
        side: Side,
        announced: Option<u64>,
        pairing: Option<Pairing>,
    ) -> Body {
        Body::from_dyn(LintBody {
            inner,
            lint,
            side,
            announced,
            yielded: 0,
            pairing,
            failed: false,
        })
    }

    fn check_frame(
        &mut self,
        frame: &Frame<Bytes>,
        end_claimed: bool,
        hint: &SizeHint,
    ) -> Option<Violation> {
        let side = self.side;
        if end_claimed {
            return Some(Violation::new(
                Rule::EndStream,
                format!("the {side} yielded a frame after is_end_stream() returned true"),
            ));
        }
        let len = frame.data_ref().map_or(0, |d| d.len() as u64);
        if let Some(upper) = hint.upper().filter(|&upper| len > upper) {
            return Some(Violation::new(
                Rule::SizeHint,
                format!(
                    "the {side} yielded {len} bytes in one frame, \
                     but its size_hint allowed at most {upper} more"
                ),
            ));
        }
        self.yielded += len;
        if let Some(announced) = self.announced.filter(|&n| self.yielded > n) {
            return Some(Violation::new(
                Rule::ContentLength,
                format!(
                    "the {side} yielded {} bytes, more than its Content-Length of {announced}",
                    self.yielded
                ),
            ));
        }
        match &self.pairing {
            None => {}
            Some(Pairing::Drains(pair)) => pair.holding.store(false, Ordering::Release),
            Some(Pairing::Feeds(pair)) => {
                let content = frame.data_ref().is_none_or(|d| !d.is_empty());
                if content && pair.holding.swap(true, Ordering::AcqRel) {
                    return Some(Violation::new(
                        Rule::HeldBackFrame,
                        "the middleware took another frame from the body it wraps without \
                         passing anything on since the previous one (it buffers)"
                            .to_owned(),
                    ));
                }
            }
        }
        None
    }

    fn check_end(&self, hint: &SizeHint) -> Option<Violation> {
        let side = self.side;
        if hint.lower() > 0 {
            return Some(Violation::new(
                Rule::SizeHint,
                format!(
                    "the {side} ended, but its size_hint promised at least {} more bytes",
                    hint.lower()
                ),
            ));
        }
        if let Some(announced) = self.announced.filter(|&n| self.yielded < n) {
            return Some(Violation::new(
                Rule::ContentLength,
                format!(
                    "the {side} ended after {} of the {announced} bytes its Content-Length announced",
                    self.yielded
                ),
            ));
        }
        if let Some(Pairing::Drains(pair)) = &self.pairing {
            if pair.holding.load(Ordering::Acquire) {
                return Some(Violation::new(
                    Rule::HeldBackFrame,
                    "the middleware's body ended without passing on the last frame of the \
                     body it wraps"
                        .to_owned(),
                ));
            }
        }
        None
    }
}

impl http_body::Body for LintBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(None);
        }
        // The claims the frames are held to: those made before the poll.
        let end_claimed = this.inner.is_end_stream();
        let hint = this.inner.size_hint();
        let polled = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        let violation = match &polled {
            Some(Ok(frame)) => this.check_frame(frame, end_claimed, &hint),
            None => this.check_end(&hint),
            Some(Err(_)) => None,
        };
        match violation {
            None => Poll::Ready(polled),
            Some(violation) => {
                this.failed = true;
                this.inner = Body::empty();
                Poll::Ready(Some(Err(this.lint.fail(violation))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.failed {
            SizeHint::with_exact(0)
        } else {
            self.inner.size_hint()
        }
    }
}

impl DynBody for LintBody {
    // A writer's `flush_headers` must still reach the driver. The file
    // hint is not forwarded: an adapter sending the file itself would
    // bypass the checks.
    fn flush_requested(&self) -> bool {
        self.inner.flush_requested()
    }

    fn shape(&self) -> &'static str {
        "Lint"
    }
}
