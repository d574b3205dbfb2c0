//! The commit driver: the one place where an application's result becomes a
//! response ready for the wire.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::{driver, fn_app, Body, Environ, Error};
//! use http::StatusCode;
//!
//! let app = fn_app(|_env| async { Err::<gateway_core::Response, _>(Error::new("db down")) });
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
//! # });
//! ```
//!
//! Every adapter (such as `gateway-hyper`), the
//! `TestClient` (feature `test-client`) and the tower bridge (feature `tower`)
//! call [`commit`], so the rules below hold the same everywhere. An adapter
//! needs four names from here: [`commit`], the future it returns
//! ([`Commit`]), the [`CommitHints`] read from the request head, and
//! [`error_response`] for a request it refuses itself. The
//! [adapter guide](crate::adapter_guide) says how to use them.
//!
//! # The commit rules
//!
//! Per request, the driver applies these rules; the rest of the
//! documentation refers to them as "rule N".
//!
//! 1. The application is called under `catch_unwind`. An `Err(e)` or a
//!    panic becomes a response with `e.status()` (500 by default; a status
//!    outside 400–599 becomes 500), the headers the error carries
//!    ([`Error::with_header`]) and a generic body naming only the status:
//!    error details go to the log (`tracing`, at `error` for 5xx and
//!    `debug` for 4xx), never to the client. The response carries the
//!    error as an [`ErrorCause`] extension for the adapter and for tests.
//!    [`HandleErrors`](crate::HandleErrors) renders errors inside the
//!    stack instead; this page is the last resort.
//! 2. The final status must be 200–599; 101 is allowed only in answer to an
//!    HTTP/1.1 request carrying `Upgrade`. Anything else becomes a 500.
//!    An [upgrade](crate::upgrade) handler runs only if the response is
//!    committed with the switching status — 101, or a 2xx answer to an
//!    extended CONNECT; under any other status
//!    [`take_switch`](crate::upgrade::take_switch) drops it.
//! 3. Connection-specific fields (RFC 9110 §7.6.1) are removed:
//!    `Connection` and the fields it names, `Keep-Alive`,
//!    `Proxy-Connection`, `TE`, `Transfer-Encoding`, `Upgrade` — except
//!    that 101 and 426 keep `Upgrade`, and `Connection: upgrade` when the
//!    application's `Connection` named `upgrade` (RFC 9110 §7.8). The
//!    server owns the connection; each removal is logged at `debug`.
//! 4. HEAD, 204 and 304 are committed at once and their body is never
//!    polled. HEAD announces what GET would send: the body's exact size
//!    when it has one (as rule 5 corrects GET's), else the application's
//!    `Content-Length` (which rule 8 holds GET's body to). An empty body
//!    with a `Content-Length` is an answer written for HEAD and keeps its
//!    length. 204 and 1xx lose `Content-Length`. So does a 2xx answer to
//!    CONNECT, whose connection becomes a tunnel (RFC 9110 §9.3.6).
//! 5. A body of exactly known size (empty, one chunk, a file) is committed
//!    at once with no extra poll. A `Content-Length` that disagrees with the
//!    exact size is corrected to it (a server would otherwise announce one
//!    length and send another, desynchronising keep-alive). A missing one is
//!    left for the server to add from the size hint (hyper does), so the
//!    hot path inserts no header. A body's own exact size is trusted, as
//!    `http_body` asks and hyper does; a file body holds to its hint.
//! 6. Otherwise the body is polled to its first non-empty data frame,
//!    its trailers, or its end. An error or panic there still becomes a
//!    clean error response (WSGI's `exc_info` rule). Note that `wsgiref` and
//!    gunicorn commit on an empty first chunk; this driver does not. If the
//!    body turns out to have an exact size by then (one chunk), it is
//!    framed with `Content-Length`. [`BodyWriter::flush_headers`] commits
//!    early on purpose; [`ResponseExt::prefetch`] lets a middleware find the
//!    commit point itself.
//! 7. After the commit, a body error or panic aborts the response: the body
//!    yields the error and the server closes the HTTP/1 connection or resets
//!    the HTTP/2 stream. The client sees a truncated response — or none at
//!    all when the abort comes before hyper flushed the head — never a
//!    complete-looking short one, except for an HTTP/1.0 close-delimited
//!    body, where the end of the connection is the end of the body and
//!    truncation cannot be seen.
//! 8. A body without an exact size under the application's
//!    `Content-Length` is held to that length: its size hint becomes
//!    exactly the length, so the server frames the response by it, and
//!    it fails rather than end short or yield a byte past it — an abort,
//!    as in rule 7, logged at `warn` (with the request's method and path
//!    from gateway-hyper, `TestClient` and the tower bridge, which read
//!    them from the request head; [`commit`] itself does not read them,
//!    so that requests that keep the rule pay nothing for the warning).
//!    The last announced bytes are held back until the body is known to
//!    end there: the server would otherwise complete the response at the
//!    length, and the client would take it as whole. A first chunk
//!    already past the length is found before the commit and becomes an
//!    error response (rule 6); a `Content-Length` that is not one number
//!    is removed, and the server frames the body as a stream. Bodies of
//!    exact size (rule 5) are not held and pay nothing for this rule.
//!
//! [`BodyWriter::flush_headers`]: crate::BodyWriter::flush_headers
//! [`ResponseExt::prefetch`]: crate::ResponseExt::prefetch

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http_body::Body as _;

use crate::app_impl::Application;
use crate::body_impl::{Body, Route};
use crate::environ_impl::Environ;
use crate::error::Error;
use crate::response_impl::Response;

mod cause;
#[doc(hidden)]
pub mod fast_path;
pub(crate) mod fields;
mod hints;

pub use cause::ErrorCause;
pub(crate) use cause::{add_error_headers, attach_cause, log_failure};
use fields::{
    declared_length, is_connection_specific, reconcile_content_length, strip_connection_headers,
};
pub use hints::CommitHints;

/// Calls `app` with `env` and returns the response, ready for the wire,
/// following the [commit rules](self#the-commit-rules). Never fails: every
/// failure before the commit point becomes an error response, so the
/// output is `Result<Response, Infallible>` — exactly what a hyper or tower
/// service returns, with no adapter layer in between.
///
/// The returned future is a small hand-written state machine: the environ
/// is moved into the application's future at once, and the response is
/// validated in place, so the future is about the size of the
/// application's own and the response is not copied between layers
/// (servers move this future once per request).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::{driver, fn_app, start, Body, Environ};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let req = http::Request::head("/").body(Body::empty()).unwrap();
/// let Ok(res) = driver::commit(&app, Environ::from_request(req)).await;
/// assert_eq!(res.headers()["content-length"], "2"); // HEAD keeps GET's length (rule 4)
/// # });
/// ```
#[inline]
pub fn commit<A: Application>(
    app: &A,
    env: Environ,
) -> Commit<impl Future<Output = Result<Response, Error>> + Send + '_> {
    let hints = CommitHints::of(&env);
    // Rule 8's warning names no route here: reading it from the environ
    // would make the compiler keep and copy the environ before the
    // application takes it (about 260 instructions per request). Callers
    // that hold the request head read it from there.
    commit_with_route(app, env, hints, None)
}

/// [`commit`] with the hints and the route the caller already has, both
/// read from the request head.
#[inline(always)]
pub(crate) fn commit_with_route<A: Application>(
    app: &A,
    env: Environ,
    hints: CommitHints,
    route: Option<Route>,
) -> Commit<impl Future<Output = Result<Response, Error>> + Send + '_> {
    // `call` itself may run code before returning its future (a manual
    // impl); a panic there is caught too.
    let state = match std::panic::catch_unwind(AssertUnwindSafe(|| app.call(env))) {
        Ok(fut) => State::Calling { fut },
        Err(payload) => State::Finishing {
            response: Some(fail(Error::panicked(&*payload), hints)),
        },
    };
    Commit {
        state,
        hints,
        route,
    }
}

pin_project_lite::pin_project! {
    /// The future [`commit`] returns; resolves to the response to send
    /// (always `Ok`). `F` is the application's future: an adapter that keeps
    /// the commit future in a type of its own names it as
    /// `Commit<impl Future<Output = Result<Response, Error>>>`.
    #[must_use = "futures do nothing unless polled"]
    pub struct Commit<F> {
        #[pin]
        state: State<F>,
        hints: CommitHints,
        // For the warning of rule 8; `None` unless it would be logged.
        route: Option<Route>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling {
            #[pin]
            fut: F,
        },
        Finishing {
            response: Option<Response>,
        },
        Ready {
            response: Option<Response>,
        },
        Done,
    }
}

impl<F> fmt::Debug for Commit<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commit")
            .field("hints", &self.hints)
            .finish_non_exhaustive()
    }
}

impl<F> Commit<F> {
    /// A commit future that resolves at once to `response`.
    pub(crate) fn ready(response: Response, hints: CommitHints) -> Commit<F> {
        Commit {
            state: State::Ready {
                response: Some(response),
            },
            hints,
            route: None,
        }
    }
}

impl<F: Future<Output = Result<Response, Error>>> Future for Commit<F> {
    type Output = Result<Response, Infallible>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let hints = *this.hints;
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { fut } => {
                    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx)));
                    let mut response = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(Ok(response))) => response,
                        Ok(Poll::Ready(Err(err))) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Ok(fail(err, hints)));
                        }
                        Err(payload) => {
                            this.state.set(State::Done);
                            let err = Error::panicked(&*payload);
                            return Poll::Ready(Ok(fail(err, hints)));
                        }
                    };
                    if commit_now(&mut response, hints) {
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(response));
                    }
                    this.state.set(State::Finishing {
                        response: Some(response),
                    });
                }
                StateProj::Finishing { response } => {
                    let res = ready!(poll_late_commit(response, hints, this.route, cx));
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(res));
                }
                StateProj::Ready { response } => {
                    let response = response.take();
                    this.state.set(State::Done);
                    if let Some(response) = response {
                        return Poll::Ready(Ok(response));
                    }
                }
                StateProj::Done => return Poll::Ready(Ok(polled_after_completion(hints))),
            }
        }
    }
}

/// Rules 2 to 5, in place: `true` when the response can be committed at
/// once, `false` when its body must be polled to the first data frame
/// (rule 6).
#[inline(always)]
fn commit_now(res: &mut Response, hints: CommitHints) -> bool {
    // The common case, checked without leaving the caller: a final status
    // that has a body, not HEAD, an in-memory body, and no header the
    // driver must look at.
    let code = res.status().as_u16();
    if (200..=599).contains(&code)
        && code != 204
        && code != 304
        && !hints.head
        && !hints.connect
        && res.body().is_in_memory()
        && !res
            .headers()
            .keys()
            .any(|name| name == CONTENT_LENGTH || is_connection_specific(name))
    {
        return true;
    }
    commit_now_slow(res, hints)
}

#[inline(never)]
fn commit_now_slow(res: &mut Response, hints: CommitHints) -> bool {
    let status = res.status();
    if !status_allowed(status, hints) {
        let why = status_refusal(status);
        let err = Error::new(format!("application returned status {status}: {why}"));
        *res = fail(err, hints);
        return true;
    }
    strip_connection_headers(res.headers_mut(), status);
    // After stripping: `Connection` may have named `Content-Length`.
    let has_length = res.headers().contains_key(CONTENT_LENGTH);
    let no_body = hints.head
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status == StatusCode::SWITCHING_PROTOCOLS
        || (hints.connect && status.is_success());
    if no_body {
        commit_without_body(res, hints, has_length);
        return true;
    }
    if let Some(n) = res.body().exact_size() {
        if has_length {
            reconcile_content_length(res.headers_mut(), n);
        }
        return true;
    }
    false
}

#[cold]
fn commit_without_body(res: &mut Response, hints: CommitHints, has_length: bool) {
    let status = res.status();
    let body = std::mem::take(res.body_mut());
    let tunnel = hints.connect && status.is_success();
    if status == StatusCode::NO_CONTENT || status.is_informational() || tunnel {
        if has_length {
            res.headers_mut().remove(CONTENT_LENGTH);
        }
    } else if hints.head && status != StatusCode::NOT_MODIFIED {
        // What GET would send: the body's exact size (rule 5), else the
        // application's length (rule 8). An empty body with a length is
        // an answer written for HEAD, announcing GET's length itself.
        match body.size_hint().exact() {
            Some(n) if !has_length => {
                res.headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from(n));
            }
            Some(n) if n > 0 => reconcile_content_length(res.headers_mut(), n),
            _ if has_length => {
                normalize_declared_length(res);
            }
            _ => {}
        }
    }
    body.discard_unsent();
}

/// Rule 6: polls the body to its first data frame, trailers or end; then
/// rule 5 or 8 for its length.
fn poll_late_commit(
    slot: &mut Option<Response>,
    hints: CommitHints,
    route: &mut Option<Route>,
    cx: &mut Context<'_>,
) -> Poll<Response> {
    let polled = match slot.as_mut() {
        Some(res) => ready!(res.body_mut().poll_prefetch(cx)),
        None => return Poll::Ready(polled_after_completion(hints)),
    };
    let Some(mut res) = slot.take() else {
        return Poll::Ready(polled_after_completion(hints));
    };
    Poll::Ready(match polled {
        Ok(()) if res.headers().contains_key(CONTENT_LENGTH) => match res.body().exact_size() {
            Some(n) => {
                reconcile_content_length(res.headers_mut(), n);
                res
            }
            None => match hold_to_declared_length(&mut res, route.take()) {
                Ok(()) => res,
                Err(err) => fail(err, hints),
            },
        },
        Ok(()) => res,
        Err(err) => fail(err, hints),
    })
}

/// Rule 8: a body without an exact size is held to the length its
/// response announces. A length that is not one number is removed: the
/// server frames the body as a stream.
#[cold]
fn hold_to_declared_length(res: &mut Response, route: Option<Route>) -> Result<(), Error> {
    match normalize_declared_length(res) {
        Some(n) => res.body_mut().hold_to_length(n, route),
        None => Ok(()),
    }
}

/// The announced length, as one `Content-Length` field; an invalid one
/// (not digits, or several that disagree) is removed.
fn normalize_declared_length(res: &mut Response) -> Option<u64> {
    let headers = res.headers_mut();
    match declared_length(headers) {
        Some(n) => {
            if headers.get_all(CONTENT_LENGTH).iter().nth(1).is_some() {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
            }
            Some(n)
        }
        None => {
            tracing::debug!(
                announced = ?headers.get(CONTENT_LENGTH),
                "invalid Content-Length on a body of unknown size; removed"
            );
            headers.remove(CONTENT_LENGTH);
            None
        }
    }
}

#[cold]
fn polled_after_completion(hints: CommitHints) -> Response {
    error_response(&Error::new("commit future polled after completion"), hints)
}

#[inline(always)]
fn status_allowed(status: StatusCode, hints: CommitHints) -> bool {
    let code = status.as_u16();
    (200..=599).contains(&code) || (status == StatusCode::SWITCHING_PROTOCOLS && hints.upgrade)
}

/// Why a status [`status_allowed`] refused is refused, in words.
#[cold]
pub(crate) fn status_refusal(status: StatusCode) -> &'static str {
    if status == StatusCode::SWITCHING_PROTOCOLS {
        "101 answers only an HTTP/1.1 request carrying Upgrade"
    } else {
        "a final status must be 200-599"
    }
}

/// The error response for `err`, carrying `err` as its [`ErrorCause`].
#[cold]
fn fail(err: Error, hints: CommitHints) -> Response {
    let mut res = error_response(&err, hints);
    attach_cause(&mut res, err);
    res
}

/// The status of the driver's error response for `err`
/// ([rule 1](self#the-commit-rules)): [`Error::status`], or 500 when that
/// is not a 4xx or 5xx. A panic is answered as an error with status 500.
///
/// For a middleware that lets an `Err` pass and must know what the client
/// will get (a log line, a metric); see also [`error_page_len`].
///
/// ```
/// use gateway_core::driver;
/// use gateway_core::http::StatusCode;
/// use gateway_core::Error;
///
/// let busy = Error::with_status(StatusCode::SERVICE_UNAVAILABLE, "draining");
/// assert_eq!(driver::error_status(&busy), StatusCode::SERVICE_UNAVAILABLE);
/// let odd = Error::with_status(StatusCode::FOUND, "not an error status");
/// assert_eq!(driver::error_status(&odd), StatusCode::INTERNAL_SERVER_ERROR);
/// ```
pub fn error_status(err: &Error) -> StatusCode {
    let status = err.status();
    if (400..=599).contains(&status.as_u16()) {
        status
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// The driver's error response for `err` ([rule 1](self#the-commit-rules)):
/// the error's status (500 unless it is 400–599), the headers it carries
/// ([`Error::with_header`]; connection-specific ones removed as by rule 3)
/// and its reason phrase as a `text/plain` body — for HEAD, no body and
/// that body's `Content-Length`. Details are logged, not sent: through
/// `tracing`, at `error` for a 5xx or a panic, at `debug` for a 4xx.
///
/// An adapter uses it to refuse a request without calling the application,
/// so that its refusals look like the driver's own.
///
/// ```
/// use gateway_core::driver::{self, CommitHints};
/// use gateway_core::Error;
/// use gateway_core::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
///
/// let hints = CommitHints::from_head(&Method::GET, Version::HTTP_11, &HeaderMap::new());
/// let bad = Error::with_status(StatusCode::BAD_REQUEST, "invalid Host");
/// let res = driver::error_response(&bad, hints);
/// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
///
/// let busy = Error::with_status(StatusCode::SERVICE_UNAVAILABLE, "draining")
///     .with_header(header::RETRY_AFTER, HeaderValue::from(30));
/// let res = driver::error_response(&busy, hints);
/// assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(res.headers()[header::RETRY_AFTER], "30");
/// ```
#[cold]
pub fn error_response(err: &Error, hints: CommitHints) -> Response {
    log_failure(err, error_status(err));
    error_page(err, hints.head)
}

/// The length of the body of the driver's error page for `status`: its
/// reason phrase (`Error` when the status has none), or 0 for a `HEAD`
/// request (`head`), which gets no body.
///
/// ```
/// use gateway_core::driver;
/// use gateway_core::http::StatusCode;
///
/// assert_eq!(driver::error_page_len(StatusCode::SERVICE_UNAVAILABLE, false), 19);
/// assert_eq!(driver::error_page_len(StatusCode::SERVICE_UNAVAILABLE, true), 0);
/// ```
pub fn error_page_len(status: StatusCode, head: bool) -> u64 {
    if head {
        return 0;
    }
    page_text(status).len() as u64
}

/// The body of the error page for `status`.
fn page_text(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// [`error_response`] without the log line: the page for `err`, for a
/// request whose method was HEAD when `head` is true.
#[cold]
pub(crate) fn error_page(err: &Error, head: bool) -> Response {
    let status = error_status(err);
    let text = page_text(status);
    let mut res = Response::new(if head {
        Body::empty()
    } else {
        Body::from(text)
    });
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if head {
        res.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    }
    if !err.headers().is_empty() {
        add_error_headers(res.headers_mut(), err);
        strip_connection_headers(res.headers_mut(), status);
    }
    res
}

#[cfg(test)]
mod tests;
