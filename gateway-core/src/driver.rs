//! The commit driver: the one place where an application's result becomes a
//! response ready for the wire.
//!
//! Every adapter (such as `gateway-hyper`) and the `TestClient` (feature
//! `test-client`) call [`commit`], so the rules below hold the same
//! everywhere. Per request:
//!
//! 1. The application is called under `catch_unwind`. An `Err(e)` or a
//!    panic becomes a response with `e.status()` (500 by default; a status
//!    outside 400–599 becomes 500) and a generic body naming only the
//!    status: error details go to the log (`tracing`, at `error` for 5xx
//!    and `debug` for 4xx), never to the client.
//! 2. The final status must be 200–599; 101 is allowed only in answer to an
//!    HTTP/1.1 request carrying `Upgrade`. Anything else becomes a 500.
//! 3. Connection-specific fields (RFC 9110 §7.6.1) are removed:
//!    `Connection` and the fields it names, `Keep-Alive`,
//!    `Proxy-Connection`, `TE`, `Transfer-Encoding`, `Upgrade` — except
//!    that 101 and 426 keep `Upgrade`, and `Connection: upgrade` when the
//!    application's `Connection` named `upgrade` (RFC 9110 §7.8). The
//!    server owns the connection; each removal is logged at `debug`.
//! 4. HEAD, 204 and 304 are committed at once and their body is never
//!    polled. HEAD keeps GET's `Content-Length`: the one the application
//!    set, else the body's exact size. 204 and 1xx lose `Content-Length`.
//!    So does a 2xx answer to CONNECT, whose connection becomes a tunnel
//!    (RFC 9110 §9.3.6).
//! 5. A body of exactly known size (empty, one chunk, a file) is committed
//!    at once with no extra poll. A `Content-Length` that disagrees with the
//!    exact size is corrected to it (a server would otherwise announce one
//!    length and send another, desynchronising keep-alive). A missing one is
//!    left for the server to add from the size hint (hyper does), so the
//!    hot path inserts no header.
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
//!
//! [`BodyWriter::flush_headers`]: crate::BodyWriter::flush_headers
//! [`ResponseExt::prefetch`]: crate::ResponseExt::prefetch
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

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TE, TRANSFER_ENCODING,
    UPGRADE,
};
use http::{HeaderMap, Method, StatusCode, Version};
use http_body::Body as _;

use crate::app::Application;
use crate::body::Body;
use crate::environ::Environ;
use crate::error::Error;
use crate::response::Response;

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// What the driver needs to know about the request after the environ has
/// been moved into the application.
#[derive(Clone, Copy, Debug)]
pub struct RequestFacts {
    head: bool,
    connect: bool,
    upgrade: bool,
}

impl RequestFacts {
    /// Reads the facts from an environ.
    #[inline]
    pub fn of(env: &Environ) -> RequestFacts {
        RequestFacts::from_head(env.method(), env.version(), env.headers())
    }

    /// The facts, from what an adapter already knows: the method, and
    /// whether the request is HTTP/1.1 with an `Upgrade` header (an adapter
    /// that scans the request headers anyway can spare the driver its
    /// scan; see [`commit_with_facts`]).
    #[inline]
    pub fn new(method: &Method, upgrade: bool) -> RequestFacts {
        RequestFacts {
            head: *method == Method::HEAD,
            connect: *method == Method::CONNECT,
            upgrade,
        }
    }

    /// Reads the facts from a request head.
    #[inline]
    pub fn from_head(method: &Method, version: Version, headers: &HeaderMap) -> RequestFacts {
        RequestFacts {
            head: *method == Method::HEAD,
            connect: *method == Method::CONNECT,
            // A scan beats a hash lookup for the dozen headers of a typical
            // request, and this runs for every request.
            upgrade: version == Version::HTTP_11 && headers.keys().any(|k| k == UPGRADE),
        }
    }

    /// Whether the request is HEAD.
    pub fn is_head(&self) -> bool {
        self.head
    }

    /// Whether the request is CONNECT.
    pub fn is_connect(&self) -> bool {
        self.connect
    }

    /// Whether the request asks for a protocol upgrade (HTTP/1.1 with
    /// `Upgrade`), the only case in which a 101 may answer it.
    pub fn is_upgrade(&self) -> bool {
        self.upgrade
    }
}

/// Calls `app` with `env` and returns the response, ready for the wire,
/// following the rules in the [module docs](self). Never fails: every
/// failure before the commit point becomes an error response, so the
/// output is `Result<Response, Infallible>` — exactly what a hyper or tower
/// service returns, with no adapter layer in between.
///
/// The returned future is a small hand-written state machine: the environ
/// is moved into the application's future at once, and the response is
/// validated in place, so the future is about the size of the
/// application's own and the response is not copied between layers
/// (servers move this future once per request).
#[inline]
pub fn commit<A: Application>(
    app: &A,
    env: Environ,
) -> Commit<impl Future<Output = AppResult> + Send + '_> {
    let facts = RequestFacts::of(&env);
    commit_with_facts(app, env, facts)
}

/// [`commit`] with the request facts the adapter already has: they must be
/// those of `env` (in particular, `upgrade` only for an HTTP/1.1 request
/// with an `Upgrade` header).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::driver::{self, RequestFacts};
/// use gateway_core::{fn_app, start, Body, Environ};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let req = http::Request::head("/").body(Body::empty()).unwrap();
/// // The adapter saw no `Upgrade` header while reading the request.
/// let facts = RequestFacts::new(req.method(), false);
/// let Ok(res) = driver::commit_with_facts(&app, Environ::from_request(req), facts).await;
/// assert_eq!(res.headers()["content-length"], "2"); // HEAD keeps GET's length
/// # });
/// ```
#[inline(always)]
pub fn commit_with_facts<A: Application>(
    app: &A,
    env: Environ,
    facts: RequestFacts,
) -> Commit<impl Future<Output = AppResult> + Send + '_> {
    // `call` itself may run code before returning its future (a manual
    // impl); a panic there is caught too.
    let state = match std::panic::catch_unwind(AssertUnwindSafe(|| app.call(env))) {
        Ok(fut) => State::Calling { fut },
        Err(payload) => State::Finishing {
            response: Some(error_response(&Error::panicked(&*payload), facts)),
        },
    };
    Commit { state, facts }
}

/// An application's result.
pub type AppResult = Result<Response, Error>;

pin_project_lite::pin_project! {
    /// The future [`commit`] returns; resolves to the response to send
    /// (always `Ok`).
    #[must_use = "futures do nothing unless polled"]
    pub struct Commit<F> {
        #[pin]
        state: State<F>,
        facts: RequestFacts,
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

impl<F> Commit<F> {
    /// A commit future that resolves at once to `response`, without calling
    /// any application: for an adapter that answers a request itself (a
    /// malformed request, a limit), so that it needs no future type of its
    /// own. Build the response with [`error_response`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::driver::{self, Commit, RequestFacts};
    /// use gateway_core::{Error, http::{HeaderMap, Method, StatusCode, Version}};
    ///
    /// let facts = RequestFacts::from_head(&Method::GET, Version::HTTP_11, &HeaderMap::new());
    /// let bad = Error::with_status(StatusCode::BAD_REQUEST, "invalid Host");
    /// let fut: Commit<std::future::Ready<driver::AppResult>> =
    ///     Commit::ready(driver::error_response(&bad, facts), facts);
    /// let Ok(res) = fut.await;
    /// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    /// # });
    /// ```
    pub fn ready(response: Response, facts: RequestFacts) -> Commit<F> {
        Commit {
            state: State::Ready {
                response: Some(response),
            },
            facts,
        }
    }
}

impl<F: Future<Output = AppResult>> Future for Commit<F> {
    type Output = Result<Response, Infallible>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let facts = *this.facts;
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { fut } => {
                    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx)));
                    let mut response = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(Ok(response))) => response,
                        Ok(Poll::Ready(Err(err))) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Ok(error_response(&err, facts)));
                        }
                        Err(payload) => {
                            this.state.set(State::Done);
                            let err = Error::panicked(&*payload);
                            return Poll::Ready(Ok(error_response(&err, facts)));
                        }
                    };
                    if commit_now(&mut response, facts) {
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(response));
                    }
                    this.state.set(State::Finishing {
                        response: Some(response),
                    });
                }
                StateProj::Finishing { response } => {
                    let res = ready!(poll_late_commit(response, facts, cx));
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
                StateProj::Done => return Poll::Ready(Ok(polled_after_completion(facts))),
            }
        }
    }
}

/// Applies rules 2 to 6 to a response that was produced without
/// [`commit`], for example by a service outside the gateway interface.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::driver::{self, RequestFacts};
/// use gateway_core::http::{HeaderMap, Method, Version};
/// use gateway_core::start;
///
/// let facts = RequestFacts::from_head(&Method::GET, Version::HTTP_11, &HeaderMap::new());
/// let res = start(200, [("content-length", "99"), ("connection", "close")]).body("hello").unwrap();
/// let res = driver::finish(res, facts).await;
/// assert_eq!(res.headers()["content-length"], "5");
/// assert!(!res.headers().contains_key("connection"));
/// # });
/// ```
pub async fn finish(mut res: Response, facts: RequestFacts) -> Response {
    if commit_now(&mut res, facts) {
        return res;
    }
    let mut slot = Some(res);
    std::future::poll_fn(|cx| poll_late_commit(&mut slot, facts, cx)).await
}

/// Rules 2 to 5, in place: `true` when the response can be committed at
/// once, `false` when its body must be polled to the first data frame
/// (rule 6).
#[inline(always)]
fn commit_now(res: &mut Response, facts: RequestFacts) -> bool {
    // The common case, checked without leaving the caller: a final status
    // that has a body, not HEAD, an in-memory body, and no header the
    // driver must look at.
    let code = res.status().as_u16();
    if (200..=599).contains(&code)
        && code != 204
        && code != 304
        && !facts.head
        && !facts.connect
        && res.body().is_in_memory()
        && !res
            .headers()
            .keys()
            .any(|name| name == CONTENT_LENGTH || is_connection_specific(name))
    {
        return true;
    }
    commit_now_slow(res, facts)
}

#[inline(never)]
fn commit_now_slow(res: &mut Response, facts: RequestFacts) -> bool {
    let status = res.status();
    if !status_allowed(status, facts) {
        let why = status_refusal(status);
        let err = Error::new(format!("application returned status {status}: {why}"));
        *res = error_response(&err, facts);
        return true;
    }
    strip_connection_headers(res.headers_mut(), status);
    // After stripping: `Connection` may have named `Content-Length`.
    let has_length = res.headers().contains_key(CONTENT_LENGTH);
    let no_body = facts.head
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || status == StatusCode::SWITCHING_PROTOCOLS
        || (facts.connect && status.is_success());
    if no_body {
        commit_without_body(res, facts, has_length);
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
fn commit_without_body(res: &mut Response, facts: RequestFacts, has_length: bool) {
    let status = res.status();
    let body = std::mem::take(res.body_mut());
    let tunnel = facts.connect && status.is_success();
    if status == StatusCode::NO_CONTENT || status.is_informational() || tunnel {
        if has_length {
            res.headers_mut().remove(CONTENT_LENGTH);
        }
    } else if facts.head && status != StatusCode::NOT_MODIFIED && !has_length {
        if let Some(n) = body.size_hint().exact() {
            res.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    body.discard_unsent();
}

/// Rule 6: polls the body to its first data frame, trailers or end.
fn poll_late_commit(
    slot: &mut Option<Response>,
    facts: RequestFacts,
    cx: &mut Context<'_>,
) -> Poll<Response> {
    let polled = match slot.as_mut() {
        Some(res) => ready!(res.body_mut().poll_prefetch(cx)),
        None => return Poll::Ready(polled_after_completion(facts)),
    };
    let Some(mut res) = slot.take() else {
        return Poll::Ready(polled_after_completion(facts));
    };
    Poll::Ready(match polled {
        Ok(()) => {
            if let Some(n) = res.body().size_hint().exact() {
                if res.headers().contains_key(CONTENT_LENGTH) {
                    reconcile_content_length(res.headers_mut(), n);
                }
            }
            res
        }
        Err(err) => error_response(&err, facts),
    })
}

#[cold]
fn polled_after_completion(facts: RequestFacts) -> Response {
    error_response(&Error::new("commit future polled after completion"), facts)
}

#[inline(always)]
fn status_allowed(status: StatusCode, facts: RequestFacts) -> bool {
    let code = status.as_u16();
    (200..=599).contains(&code) || (status == StatusCode::SWITCHING_PROTOCOLS && facts.upgrade)
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

/// A response with the error's status and a generic body. Details are
/// logged, not sent.
#[cold]
pub fn error_response(err: &Error, facts: RequestFacts) -> Response {
    let mut status = err.status();
    if !(400..=599).contains(&status.as_u16()) {
        status = StatusCode::INTERNAL_SERVER_ERROR;
    }
    if status.is_server_error() || err.is_panic() {
        tracing::error!(status = status.as_u16(), error = %err, "request failed");
    } else {
        tracing::debug!(status = status.as_u16(), error = %err, "request failed");
    }
    let text = status.canonical_reason().unwrap_or("Error");
    let mut res = Response::new(if facts.head {
        Body::empty()
    } else {
        Body::from(text)
    });
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if facts.head {
        res.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    }
    res
}

/// Whether `name` is one of the connection-specific fields of RFC 9110
/// §7.6.1 (the fields a `Connection` header names aside).
#[inline]
pub(crate) fn is_connection_specific(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == TE
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
}

fn strip_connection_headers(headers: &mut HeaderMap, status: StatusCode) {
    if !headers.keys().any(is_connection_specific) {
        return;
    }
    let keep_upgrade =
        status == StatusCode::SWITCHING_PROTOCOLS || status == StatusCode::UPGRADE_REQUIRED;

    // Fields named by Connection go first, then Connection itself.
    let mut named: Vec<HeaderName> = Vec::new();
    let mut names_upgrade = false;
    for value in headers.get_all(CONNECTION) {
        for token in value.to_str().unwrap_or("").split(',') {
            let token = token.trim();
            if token.is_empty() {
                continue;
            }
            if token.eq_ignore_ascii_case("upgrade") {
                names_upgrade = true;
                if keep_upgrade {
                    continue;
                }
            }
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                named.push(name);
            }
        }
    }
    for name in named {
        if headers.remove(&name).is_some() {
            tracing::debug!(header = %name, "removed a field named by Connection from a response");
        }
    }
    for name in [
        CONNECTION,
        KEEP_ALIVE,
        PROXY_CONNECTION,
        TE,
        TRANSFER_ENCODING,
    ] {
        if headers.remove(&name).is_some() {
            tracing::debug!(header = %name, "removed a connection-specific field from a response");
        }
    }
    if keep_upgrade {
        // The upgrade option must stay (RFC 9110 §7.8), alone.
        if names_upgrade {
            headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        }
    } else if headers.remove(UPGRADE).is_some() {
        tracing::debug!(header = %UPGRADE, "removed a connection-specific field from a response");
    }
}

fn reconcile_content_length(headers: &mut HeaderMap, exact: u64) {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return;
    };
    let agrees = values.next().is_none() && parse_content_length(first) == Some(exact);
    if !agrees {
        tracing::debug!(
            announced = ?first,
            actual = exact,
            "Content-Length disagreed with the body's exact size; corrected"
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(exact));
    }
}

/// A `Content-Length` value as RFC 9110 §8.6 has it: decimal digits and
/// nothing else (no sign, no spaces, no list), fitting a `u64`. Stricter
/// than `str::parse`, which takes a leading `+` that hyper would not.
pub(crate) fn parse_content_length(value: &HeaderValue) -> Option<u64> {
    let digits = value.as_bytes();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::fn_app;
    use crate::response::start;
    use bytes::Bytes;
    use http::Request;
    use http_body_util::BodyExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn env(method: Method) -> Environ {
        Environ::from_request(
            Request::builder()
                .method(method)
                .uri("/")
                .body(Body::empty())
                .unwrap(),
        )
    }

    /// A WebSocket upgrade request.
    fn upgrade_env() -> Environ {
        Environ::from_request(
            Request::get("/")
                .header("upgrade", "websocket")
                .header("connection", "upgrade")
                .body(Body::empty())
                .unwrap(),
        )
    }

    async fn run<F, Fut>(method: Method, f: F) -> (http::response::Parts, Result<Bytes, Error>)
    where
        F: Fn(Environ) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Response, Error>> + Send,
    {
        let Ok(res) = commit(&fn_app(f), env(method)).await;
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.map(|c| c.to_bytes());
        (parts, bytes)
    }

    #[tokio::test]
    async fn err_becomes_its_status_with_generic_body() {
        let (parts, body) = run(Method::GET, |_| async {
            Err(Error::with_status(StatusCode::CONFLICT, "secret detail"))
        })
        .await;
        assert_eq!(parts.status, StatusCode::CONFLICT);
        assert_eq!(body.unwrap(), "Conflict");
    }

    #[tokio::test]
    async fn err_with_non_error_status_becomes_500() {
        let (parts, _) = run(Method::GET, |_| async {
            Err(Error::with_status(StatusCode::OK, "odd"))
        })
        .await;
        assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn panic_before_commit_becomes_500() {
        let (parts, body) = run(Method::GET, |env| async move {
            if env.path_info() == "/" {
                panic!("boom");
            }
            start(200, NO_HEADERS_T).empty()
        })
        .await;
        assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body.unwrap(), "Internal Server Error");
    }

    const NO_HEADERS_T: [(HeaderName, HeaderValue); 0] = [];

    #[tokio::test]
    async fn informational_final_status_becomes_500() {
        for code in [100, 102, 103] {
            let (parts, _) = run(Method::GET, move |_| async move {
                start(code, NO_HEADERS_T).empty()
            })
            .await;
            assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR, "{code}");
        }
        let (parts, _) = run(Method::GET, |_| async { start(600, NO_HEADERS_T).empty() }).await;
        assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn switching_protocols_only_for_upgrade_requests() {
        let app = fn_app(|_| async {
            start(101, [("upgrade", "websocket"), ("connection", "upgrade")]).empty()
        });
        let Ok(plain) = commit(&app, env(Method::GET)).await;
        assert_eq!(plain.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let Ok(res) = commit(&app, upgrade_env()).await;
        assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(res.headers()["upgrade"], "websocket");
        assert_eq!(res.headers()["connection"], "upgrade");
    }

    #[tokio::test]
    async fn connection_specific_fields_are_stripped() {
        let (parts, _) = run(Method::GET, |_| async {
            start(
                200,
                [
                    ("connection", "close, x-private"),
                    ("x-private", "1"),
                    ("keep-alive", "timeout=5"),
                    ("proxy-connection", "keep-alive"),
                    ("te", "trailers"),
                    ("transfer-encoding", "chunked"),
                    ("upgrade", "h2c"),
                    ("x-kept", "1"),
                ],
            )
            .body("ok")
        })
        .await;
        let names: Vec<_> = parts.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-kept"]);
    }

    #[tokio::test]
    async fn upgrade_kept_on_426() {
        let (parts, _) = run(Method::GET, |_| async {
            start(
                426,
                [
                    ("upgrade", "TLS/1.3"),
                    ("connection", "upgrade"),
                    ("te", "x"),
                ],
            )
            .body("upgrade please")
        })
        .await;
        assert_eq!(parts.headers["upgrade"], "TLS/1.3");
        assert_eq!(parts.headers["connection"], "upgrade");
        assert!(!parts.headers.contains_key("te"));
    }

    #[tokio::test]
    async fn head_keeps_gets_length_and_never_polls() {
        let polled = Arc::new(AtomicBool::new(false));
        let p = polled.clone();
        let app = fn_app(move |_| {
            let p = p.clone();
            async move {
                let body = Body::writer(move |mut w| async move {
                    p.store(true, Ordering::SeqCst);
                    w.write("x").await
                });
                start(200, [("content-length", "1")]).body(body)
            }
        });
        let Ok(res) = commit(&app, env(Method::HEAD)).await;
        assert_eq!(res.headers()["content-length"], "1");
        assert!(res.body().is_end_stream());
        assert!(!polled.load(Ordering::SeqCst));

        let (parts, body) = run(Method::HEAD, |_| async {
            start(200, NO_HEADERS_T).body("hello")
        })
        .await;
        assert_eq!(parts.headers["content-length"], "5");
        assert!(body.unwrap().is_empty());
    }

    #[tokio::test]
    async fn no_content_and_not_modified_have_no_body() {
        let (parts, body) = run(Method::GET, |_| async {
            start(204, [("content-length", "5")]).body("hello")
        })
        .await;
        assert!(!parts.headers.contains_key("content-length"));
        assert!(body.unwrap().is_empty());
        let (parts, body) = run(Method::GET, |_| async {
            start(304, [("etag", "\"x\"")]).body("hello")
        })
        .await;
        assert_eq!(parts.status, StatusCode::NOT_MODIFIED);
        assert!(body.unwrap().is_empty());
    }

    #[tokio::test]
    async fn exact_size_wins_over_a_wrong_content_length() {
        let (parts, body) = run(Method::GET, |_| async {
            start(200, [("content-length", "99")]).body("hello")
        })
        .await;
        assert_eq!(parts.headers["content-length"], "5");
        assert_eq!(body.unwrap(), "hello");
        // Missing: left to the server (it has the exact size hint).
        let (parts, _) = run(Method::GET, |_| async {
            start(200, NO_HEADERS_T).body("hello")
        })
        .await;
        assert!(!parts.headers.contains_key("content-length"));
    }

    #[tokio::test]
    async fn error_in_first_chunk_is_a_clean_error_response() {
        let (parts, body) = run(Method::GET, |_| async {
            start(200, NO_HEADERS_T).writer(|mut w| async move {
                w.write("").await?;
                Err(Error::with_status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "backend",
                ))
            })
        })
        .await;
        assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body.unwrap(), "Service Unavailable");
    }

    #[tokio::test]
    async fn panic_in_first_chunk_is_a_clean_500() {
        let (parts, _) = run(Method::GET, |_| async {
            start(200, NO_HEADERS_T).body(Body::from_stream(futures_util::stream::poll_fn(
                |_| -> std::task::Poll<Option<Result<Bytes, std::io::Error>>> { panic!("in body") },
            )))
        })
        .await;
        assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn error_after_commit_aborts_the_body() {
        let (parts, body) = run(Method::GET, |_| async {
            start(200, NO_HEADERS_T).writer(|mut w| async move {
                w.write("partial").await?;
                Err(Error::new("late"))
            })
        })
        .await;
        assert_eq!(parts.status, StatusCode::OK);
        assert!(body.is_err(), "the body must fail, not end cleanly");
    }

    #[tokio::test]
    async fn single_chunk_stream_gets_an_exact_size() {
        let app = fn_app(|_| async {
            start(200, [("content-length", "99")]).body(Body::from_stream(
                futures_util::stream::iter(["", "only"].map(Ok::<_, std::io::Error>)),
            ))
        });
        let Ok(res) = commit(&app, env(Method::GET)).await;
        // iter's size hint is exact, so after the first chunk the body is
        // known to end there: the server frames it with a length, and a
        // wrong announced one is corrected.
        assert_eq!(res.body().size_hint().exact(), Some(4));
        assert_eq!(res.headers()["content-length"], "4");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "only");
    }

    #[tokio::test]
    async fn flush_headers_commits_before_data() {
        let app = fn_app(|_| async {
            start(200, NO_HEADERS_T).writer(|mut w| async move {
                w.flush_headers().await?;
                std::future::pending::<()>().await;
                Ok(())
            })
        });
        let Ok(res) = commit(&app, env(Method::GET)).await;
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn finish_applies_the_rules_to_a_ready_response() {
        let facts = RequestFacts::from_head(&Method::GET, Version::HTTP_11, &HeaderMap::new());
        let res = start(200, [("content-length", "1"), ("connection", "close")])
            .body("hello")
            .unwrap();
        let res = finish(res, facts).await;
        assert_eq!(res.headers()["content-length"], "5");
        assert!(!res.headers().contains_key("connection"));
        let late = start(200, NO_HEADERS_T)
            .body(Body::writer(|_w| async {
                Err(Error::new("first chunk failed"))
            }))
            .unwrap();
        assert_eq!(
            finish(late, facts).await.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[tokio::test]
    async fn empty_stream_commits_as_empty() {
        let (parts, body) = run(Method::GET, |_| async {
            start(200, NO_HEADERS_T).body(Body::writer(|_w| async { Ok(()) }))
        })
        .await;
        assert_eq!(parts.status, StatusCode::OK);
        assert!(body.unwrap().is_empty());
    }

    #[tokio::test]
    async fn switching_protocols_keeps_the_upgrade_option_among_others() {
        let app = fn_app(|_| async {
            start(
                101,
                [
                    ("upgrade", "websocket"),
                    ("connection", "Upgrade, keep-alive"),
                ],
            )
            .empty()
        });
        let Ok(res) = commit(&app, upgrade_env()).await;
        assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(res.headers()["connection"], "upgrade");
        assert_eq!(res.headers()["upgrade"], "websocket");
    }

    #[tokio::test]
    async fn connect_success_has_no_body_or_length() {
        let (parts, body) = run(Method::CONNECT, |_| async {
            start(200, NO_HEADERS_T).body("hello")
        })
        .await;
        assert_eq!(parts.status, StatusCode::OK);
        assert!(!parts.headers.contains_key("content-length"));
        assert!(body.unwrap().is_empty());
        // A refused CONNECT is an ordinary response.
        let (parts, body) = run(Method::CONNECT, |_| async {
            start(403, NO_HEADERS_T).body("no")
        })
        .await;
        assert_eq!(parts.status, StatusCode::FORBIDDEN);
        assert_eq!(body.unwrap(), "no");
    }

    #[tokio::test]
    async fn polling_after_completion_does_not_poll_the_app_again() {
        use futures_util::FutureExt;
        let app = fn_app(|_| async { start(200, NO_HEADERS_T).body("once") });
        let mut fut = Box::pin(commit(&app, env(Method::GET)));
        let Ok(first) = (&mut fut).now_or_never().unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let Ok(again) = (&mut fut).now_or_never().unwrap();
        assert_eq!(again.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn content_length_is_digits_only() {
        let parse = |v: &'static str| parse_content_length(&HeaderValue::from_static(v));
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("0042"), Some(42));
        assert_eq!(parse("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+5",
            "-5",
            " 5",
            "5 ",
            "5,5",
            "0x5",
            "18446744073709551616",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_signed_content_length_is_corrected() {
        // `str::parse` reads `+5` as 5; a server would not.
        let (parts, body) = run(Method::GET, |_| async {
            start(200, [("content-length", "+5")]).body("hello")
        })
        .await;
        assert_eq!(parts.headers["content-length"], "5");
        assert_eq!(body.unwrap(), "hello");
    }

    #[tokio::test]
    async fn head_length_named_by_connection_is_gone_not_stale() {
        // `Connection: content-length` makes the length connection-specific;
        // what remains must not contradict the body.
        let (parts, _) = run(Method::GET, |_| async {
            start(
                200,
                [("connection", "content-length"), ("content-length", "9")],
            )
            .body("hello")
        })
        .await;
        assert!(!parts.headers.contains_key("content-length"));
    }
}
