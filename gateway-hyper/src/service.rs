//! One request: checks, environ, driver, and the limits that apply to it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! // Each request reaches the application as an environ, through the driver,
//! // at most 100 at a time here (the 101st gets 503).
//! let app = fn_app(|env| async move {
//!     let text = format!("{} {} from {}", env.method(), env.uri().path(), env.conn().peer());
//!     start(200, [("content-type", "text/plain")]).body(text)
//! });
//! let server = gateway_hyper::Server::bind("127.0.0.1:0").await?.max_concurrent_requests(100);
//! server.serve_with_shutdown(app, async {}).await
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::driver::{self, Commit, CommitHints, fast_path};
use gateway_core::upgrade::take_switch;
use gateway_core::{Application, Body, ConnInfo, Environ, Error, RootPath};
use http::header::CONNECTION;
use http::{HeaderValue, Request, Response, StatusCode, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::conns::{Activity, InFlight};
use crate::head::{Refusal, check_head};
use crate::request_body::{BodyLimits, RequestBody};
use crate::stats::ServerStats;
use crate::upgrade::Upgrades;

/// What every request of a server shares: the application and the
/// per-request limits. The server, each connection and each HTTP/2 stream
/// task hold it in an `Arc`; an HTTP/1 request borrows it from its
/// connection, so the hot path touches no reference count. The server
/// drops its own handle last, after the drain, so the application's `Drop`
/// runs before the server returns.
pub(crate) struct State<A> {
    pub(crate) app: A,
    pub(crate) body: BodyLimits,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) concurrency: Option<Semaphore>,
    pub(crate) root_path: Option<RootPath>,
    /// Touched per connection and on refusals only, never per request.
    pub(crate) stats: ServerStats,
    /// Upgrade requests only.
    pub(crate) upgrades: Upgrades,
}

/// Handles one request of a connection that holds the state while the
/// request runs: the future hyper drives.
#[inline]
pub(crate) fn handle<'s, A: Application>(
    state: &'s State<A>,
    req: Request<Incoming>,
    conn: ConnInfo,
    activity: &Arc<Activity>,
) -> RequestFuture<
    's,
    impl Future<Output = Result<gateway_core::Response, Error>> + Send + use<'s, A>,
> {
    let in_flight = InFlight::new(activity, req.version() <= Version::HTTP_11);
    let (mut parts, incoming) = req.into_parts();
    let upgrade = match check_head(&parts) {
        Ok(upgrade) => upgrade,
        Err(refusal) => return reject(&parts, refusal, in_flight),
    };
    let hints = fast_path::hints(&parts.method, upgrade);
    // An HTTP/1.1 upgrade request, or a CONNECT that may be an HTTP/2
    // extended one, is offered the upgrade (out of line: other requests
    // pay one test of a flag).
    let switchable = upgrade || hints.is_connect();
    if switchable {
        // Into the head, not the environ: touching the environ between
        // building it and moving it into the driver's future made the
        // compiler copy it (about 65 instructions per request, paid by
        // every request).
        offer_upgrade(
            &state.upgrades,
            &mut parts,
            upgrade && incoming.is_end_stream(),
        );
    }
    // From the head, not the environ: borrowing the environ before the
    // application takes it would copy it.
    let route = fast_path::route(&parts.method, &parts.uri);
    // A bodiless request gets the empty body, which does not allocate.
    let body = if incoming.is_end_stream() {
        Body::empty()
    } else {
        // hyper parsed Content-Length already (HTTP/1 and HTTP/2).
        if incoming
            .size_hint()
            .exact()
            .is_some_and(|n| n > state.body.max_size)
        {
            let refusal = Refusal {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                reason: "the announced request body exceeds the limit",
                close: false,
            };
            return reject(&parts, refusal, in_flight);
        }
        Body::new(RequestBody::new(incoming, &state.body))
    };
    // The uncommon cases live in one box: per-request limits when
    // configured, and an upgrade request, whose 101 must be noticed and
    // whose handler must be run.
    let guard = if state.concurrency.is_some() || state.request_timeout.is_some() || switchable {
        let permit = match &state.concurrency {
            None => None,
            // The state outlives the request: a borrowed permit.
            Some(semaphore) => match semaphore.try_acquire() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    state.stats.request_refused();
                    let refusal = Refusal {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        reason: "too many requests in flight",
                        close: false,
                    };
                    return reject(&parts, refusal, in_flight);
                }
            },
        };
        Some(Box::new(Guard {
            _permit: permit,
            deadline: state
                .request_timeout
                .map(|t| Box::pin(tokio::time::sleep(t))),
            hints,
            upgrades: switchable.then_some(&state.upgrades),
        }))
    } else {
        None
    };
    // Cloned before the environ is built: a reference count taken between
    // building it and moving it into the future made the compiler copy the
    // request head once more (29 instructions per request).
    let root_path = state.root_path.clone();
    let mut env = Environ::from_parts(parts, body, conn);
    if root_path.is_some() {
        env.set_root_path(root_path);
    }
    RequestFuture {
        inner: fast_path::commit_with_route(&state.app, env, hints, route),
        guard,
        in_flight: Some(in_flight),
    }
}

/// Handles one HTTP/2 request. hyper runs each stream in a task of its
/// own, which must own what it uses: the request holds the state (one
/// reference count per request, on HTTP/2 only).
pub(crate) fn handle_stream<A: Application>(
    state: &Arc<State<A>>,
    req: Request<Incoming>,
    conn: ConnInfo,
    activity: &Arc<Activity>,
) -> impl Future<Output = Result<Response<ResponseBody>, Infallible>> + Send + use<A> {
    let state = Arc::clone(state);
    let activity = Arc::clone(activity);
    async move { handle(&state, req, conn, &activity).await }
}

/// Offers the application the upgrade, if the request is one the server
/// can carry out (out of line: upgrade and CONNECT requests only). An
/// HTTP/1.1 upgrade request with a body is offered none: hyper would hand
/// the body's unread bytes to the handler as the new protocol's.
#[cold]
#[inline(never)]
fn offer_upgrade(upgrades: &Upgrades, parts: &mut http::request::Parts, http1: bool) {
    if let Some(offer) = upgrades.offer(&parts.method, parts.version, &parts.extensions, http1) {
        offer.insert_into(&mut parts.extensions);
    }
}

/// Answers a request without calling the application.
#[cold]
fn reject<'s, F>(
    parts: &http::request::Parts,
    refusal: Refusal,
    in_flight: InFlight,
) -> RequestFuture<'s, F> {
    let hints = CommitHints::from_head(&parts.method, parts.version, &parts.headers);
    let err = Error::with_status(refusal.status, refusal.reason);
    let mut response = driver::error_response(&err, hints);
    if refusal.close {
        // hyper closes an HTTP/1 connection after a response that says so
        // (HTTP/2 has no such field, nor any need of it).
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    RequestFuture {
        inner: fast_path::ready(response, hints),
        guard: None,
        in_flight: Some(in_flight),
    }
}

pin_project_lite::pin_project! {
    /// The future of one request: the driver's, plus the per-request limits
    /// when the server has any.
    pub(crate) struct RequestFuture<'s, F> {
        #[pin]
        inner: Commit<F>,
        guard: Option<Box<Guard<'s>>>,
        // Moves into the response body: the request counts as in flight
        // until its response is sent.
        in_flight: Option<InFlight>,
    }
}

/// What a request needs beyond the common case.
struct Guard<'s> {
    /// Held until the response is committed; released by being dropped.
    _permit: Option<SemaphorePermit<'s>>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether the request asks for an upgrade (see [`CommitHints`]).
    hints: CommitHints,
    /// Where a switching response's handler goes: set when the application
    /// was offered an upgrade.
    upgrades: Option<&'s Upgrades>,
}

impl<F> Future for RequestFuture<'_, F>
where
    F: Future<Output = Result<gateway_core::Response, Error>>,
{
    type Output = Result<Response<ResponseBody>, Infallible>;

    // Always inlined into hyper's dispatcher, which polls it: the response
    // is then built where hyper reads it instead of being returned through
    // two more `Poll` values (about 90 instructions per request less; see
    // BENCHMARKS.md).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.guard.is_none() {
            let Ok(response) = ready!(this.inner.poll(cx));
            return Poll::Ready(Ok(ResponseBody::wrap(response, this.in_flight.take())));
        }
        if let Poll::Ready(Ok(mut response)) = this.inner.poll(cx) {
            // Committed: the concurrency permit goes with the guard.
            let guard = this.guard.take();
            if guard.as_ref().is_some_and(|guard| guard.hints.is_upgrade())
                && response.status() == StatusCode::SWITCHING_PROTOCOLS
            {
                if let Some(in_flight) = this.in_flight.as_ref() {
                    in_flight.upgraded();
                }
            }
            if let Some(upgrades) = guard.as_ref().and_then(|guard| guard.upgrades) {
                run_switch(upgrades, &mut response, this.in_flight.as_ref());
            }
            let deadline = guard.and_then(|guard| guard.deadline);
            let response = match deadline {
                None => response,
                // The rest of the body must also arrive in time; past it,
                // the response is aborted.
                Some(sleep) => response.map(|body| Body::new(Deadline { body, sleep })),
            };
            return Poll::Ready(Ok(ResponseBody::wrap(response, this.in_flight.take())));
        }
        if let Some(Guard {
            deadline: Some(sleep),
            hints,
            ..
        }) = this.guard.as_deref_mut()
        {
            ready!(sleep.as_mut().poll(cx));
            // Dropping the application's future (with this one) is how it
            // learns.
            let err = Error::with_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request timed out before its response started",
            );
            let response = driver::error_response(&err, *hints);
            return Poll::Ready(Ok(ResponseBody::wrap(response, this.in_flight.take())));
        }
        Poll::Pending
    }
}

/// Runs the handler of a committed switching response, if it has one. The
/// task starts now and first awaits hyper's upgrade, which completes once
/// the response head is written.
#[cold]
#[inline(never)]
fn run_switch(upgrades: &Upgrades, response: &mut Response<Body>, in_flight: Option<&InFlight>) {
    let Some(switch) = take_switch(response) else {
        return;
    };
    // An extended CONNECT stream keeps its HTTP/2 connection busy while it
    // is open, and is the application's to pace like an HTTP/1 upgrade.
    let hold = match in_flight {
        Some(in_flight) if response.status() != StatusCode::SWITCHING_PROTOCOLS => {
            in_flight.upgraded();
            Some(in_flight.tunnel())
        }
        _ => None,
    };
    upgrades.spawn(switch, hold);
}

/// The body hyper sends: the application's, holding its request's
/// in-flight mark until hyper drops it.
pub(crate) struct ResponseBody {
    body: Body,
    _in_flight: Option<InFlight>,
}

/// Adds `Connection: close` (out of line: only a finishing connection's
/// last responses take this path).
#[cold]
#[inline(never)]
fn say_close(response: &mut Response<Body>) {
    // A 101 keeps its `Connection: upgrade` (the connection becomes the
    // handler's, which the drain tells through its shutdown signal).
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
}

impl ResponseBody {
    #[inline(always)]
    fn wrap(mut response: Response<Body>, in_flight: Option<InFlight>) -> Response<ResponseBody> {
        // A connection told to finish (drain, idle timeout) says so on
        // HTTP/1, whose client cannot otherwise know that this is the
        // last request it may send on it; hyper closes after it.
        if in_flight.as_ref().is_some_and(InFlight::closes) {
            say_close(&mut response);
        }
        response.map(|body| ResponseBody {
            body,
            _in_flight: in_flight,
        })
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    #[inline]
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A response body that must end before a deadline; past it, it fails and
/// the response is aborted.
struct Deadline {
    body: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        ready!(self.sleep.as_mut().poll(cx));
        self.body = Body::empty();
        Poll::Ready(Some(Err(Error::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "the request timed out while its response was being sent",
        ))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
