//! [`Lint`]: a middleware that checks both sides of the gateway contract
//! while you develop — what `wsgiref.validate` is to WSGI and `Rack::Lint`
//! to Rack.
//!
//! Wrap an application, or a whole stack, in `Lint`. It checks the
//! [`Environ`] the application receives and the [`Response`] it returns
//! *before* the [driver](crate::driver) sees it, and then every frame of
//! the response body. What the driver would repair quietly in production
//! (a wrong `Content-Length`, a `Connection` header, a body on a 204) is
//! reported instead, with the name of the rule broken.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::lint::{Lint, Rule};
//! use gateway_core::{driver, fn_app, start, ApplicationExt, Body, Environ};
//!
//! // An application announcing 99 bytes and sending 5.
//! let app = fn_app(|_env| async {
//!     start(200, [("content-type", "text/plain"), ("content-length", "99")]).body("hello")
//! });
//! let (lint, violations) = Lint::collecting();
//! let app = app.with(lint);
//!
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert_eq!(res.status(), 500); // without Lint, the driver would fix the length
//! let found = violations.take();
//! assert_eq!(found[0].rule(), Rule::ContentLength);
//! assert_eq!(found[0].rule().name(), "content-length");
//! # });
//! ```
//!
//! # The rules
//!
//! | rule ([`Rule::name`]) | severity | what breaks it |
//! |---|---|---|
//! | `path-invariant` | error | the environ breaks the [path invariant](crate::environ#the-path-invariant): the `*` target with a method other than `OPTIONS`, a `path_info` that is neither empty nor starts with `/`, a `script_name` that is not empty or `/…` without a trailing `/` |
//! | `final-status` | error | a final status outside 200–599, except 101 answering an HTTP/1.1 request with `Upgrade` |
//! | `connection-specific-field` | error | `Connection` (and the fields it names), `Keep-Alive`, `Proxy-Connection`, `TE`, `Transfer-Encoding`, `Upgrade` (RFC 9110 §7.6.1) — except `Upgrade` and `Connection: upgrade` on 101 and 426 |
//! | `content-length` | error | a `Content-Length` that is not one decimal number, that disagrees with the body's exact size, or with the bytes the body yields |
//! | `head-without-content-length` | error | an empty answer to HEAD (other than 1xx, 204, 304) without `Content-Length`: the driver would announce `0`, not GET's length |
//! | `body-not-allowed` | error | a body on 1xx, 204, 304 or a 2xx answer to CONNECT |
//! | `content-length-not-allowed` | error | `Content-Length` on 1xx, 204 or a 2xx answer to CONNECT (RFC 9110 §8.6) |
//! | `size-hint` | error | a body yields more bytes than its `size_hint` allowed, or ends before its lower bound |
//! | `end-stream` | error | a body yields a frame after `is_end_stream()` said it had ended |
//! | `held-back-frame` | error | a middleware between two `Lint`s kept a frame of the body it wraps (see [`Lint::around`]) |
//! | `missing-content-type` | warning | a 2xx response with content and no `Content-Type` |
//! | `cookie-without-secure` | warning | `Set-Cookie` without `Secure` in answer to an https request |
//! | `samesite-none-without-secure` | warning | `Set-Cookie` with `SameSite=None` and without `Secure` (browsers drop it) |
//! | `duplicate-content-type` | warning | more than one `Content-Type` field |
//!
//! Errors in the response head are checked in the order of the table and
//! the first one is reported; warnings are checked only when there is no
//! error, and each is reported.
//!
//! # What happens on a violation
//!
//! An **error** is logged with `tracing::error!` and fails the request, as
//! `wsgiref.validate`'s assertions and `Rack::Lint`'s exceptions do: found
//! in the environ or the response head, it becomes an `Err` with status
//! 500 whose source is the [`Violation`] (the driver answers with its
//! generic 500 page); found in the body, the body fails with that error —
//! a clean 500 before the commit point, an aborted response after it
//! (driver rules 6 and 7). The application is not called when the environ
//! is broken.
//!
//! A **warning** is logged with `tracing::warn!`; the response goes out
//! unchanged.
//!
//! Either way the violation is handed to the observer set with
//! [`Lint::on_violation`]; [`Lint::collecting`] is an observer that keeps
//! them in a [`Violations`] list, which is how tests assert on them:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::lint::Lint;
//! use gateway_core::{driver, fn_app, start, ApplicationExt, Body, Environ};
//!
//! let (lint, violations) = Lint::collecting();
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("ok") })
//!     .with(lint);
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(_res) = driver::commit(&app, env).await;
//! violations.assert_none(); // panics, listing them, if there were any
//! # });
//! ```
//!
//! There is deliberately no mode that panics: the driver catches panics in
//! an application (rule 1) and a body turns a panic into an error frame,
//! so a panic would reach the test as the same 500 with less information.
//! Assert on [`Violations`] instead, which fails in the test's own thread.
//!
//! # What it does not check
//!
//! What the types already guarantee: one response per request (the
//! signature of [`Application::call`]), `path_info` being a suffix of the
//! request path (it is a slice of it), a `SizeHint` whose lower bound
//! exceeds its upper bound (`SizeHint` refuses it), and a body polled after
//! it ended or failed — [`Body`] is fused: after it yields `None` or an
//! error it answers `None` without polling what it wraps, so no consumer
//! can reach a body that has ended.
//!
//! # Cost
//!
//! `Lint` is a development tool. It allocates nothing for a request without
//! a body answered with an in-memory body and nothing to report; a
//! streaming request or response body is wrapped in one more box, and
//! [`Lint::around`] adds one `Arc` and one request extension per request.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, SET_COOKIE, UPGRADE};
use http::{HeaderMap, Method, StatusCode};
use http_body::{Body as _, Frame, SizeHint};

use crate::app::Application;
use crate::body::{Body, DynBody};
use crate::driver::{RequestFacts, is_connection_specific, parse_content_length, status_refusal};
use crate::environ::{Environ, Scheme};
use crate::error::Error;
use crate::middleware::Middleware;
use crate::response::Response;

/// A middleware that checks the gateway contract on both sides of the
/// application it wraps. See the [module docs](self) for the rules and
/// what happens on a violation.
///
/// `Lint` is cheap to clone (one `Arc`); clones share the observer.
///
/// ```
/// use gateway_core::lint::Lint;
/// use gateway_core::{fn_app, start, ApplicationExt};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let checked = app.with(Lint::new());
/// # let _ = checked;
/// ```
#[derive(Clone, Default)]
pub struct Lint {
    observer: Option<Arc<Observer>>,
}

type Observer = dyn Fn(&Violation) + Send + Sync + 'static;

impl Lint {
    /// A `Lint` that logs violations and fails the request on an error,
    /// with no observer.
    pub fn new() -> Lint {
        Lint::default()
    }

    /// A `Lint` that also keeps every violation in the returned list, for
    /// tests.
    ///
    /// ```
    /// use gateway_core::lint::Lint;
    /// let (lint, violations) = Lint::collecting();
    /// # let _ = lint;
    /// assert!(violations.is_empty());
    /// ```
    pub fn collecting() -> (Lint, Violations) {
        let violations = Violations::default();
        let list = violations.clone();
        let lint = Lint::new().on_violation(move |v| list.lock().push(v.clone()));
        (lint, violations)
    }

    /// Calls `observer` with every violation, errors and warnings, right
    /// after it is logged. Replaces any earlier observer (including the
    /// list of [`Lint::collecting`]).
    ///
    /// The observer runs inside the request (for a body rule, inside the
    /// server's poll of the body): keep it short and do not block.
    ///
    /// ```
    /// use gateway_core::lint::{Lint, Severity};
    /// let lint = Lint::new().on_violation(|v| {
    ///     if v.severity() == Severity::Error {
    ///         eprintln!("{v}");
    ///     }
    /// });
    /// # let _ = lint;
    /// ```
    pub fn on_violation<F>(self, observer: F) -> Lint
    where
        F: Fn(&Violation) + Send + Sync + 'static,
    {
        Lint {
            observer: Some(Arc::new(observer)),
        }
    }

    /// A middleware that checks `middleware` itself: it places one `Lint`
    /// outside `middleware` and one inside (both reporting to this `Lint`'s
    /// observer), so that besides checking the environ and response on
    /// both sides, they check that the middleware passes the body on
    /// without holding frames back.
    ///
    /// The rule (`held-back-frame`) is WSGI's for middleware (PEP 3333,
    /// "Middleware Handling of Block Boundaries"): once the inner body has
    /// yielded a frame with content (non-empty data, or trailers), the
    /// middleware's body must yield a frame — any frame, an empty data
    /// frame will do — before the inner body yields its next frame with
    /// content, and before the middleware's body ends. So a middleware may
    /// transform, split, merge with what it already passed on, or replace
    /// the body, but not buffer: a buffering middleware delays
    /// server-sent events and long polls indefinitely, and one that ends
    /// early drops data. The inner `Lint` reports a second frame arriving
    /// while one is held; the outer one a body that ends while one is held.
    /// Empty data frames are not content: skipping them is not holding
    /// them back (that is what [`Body::prefetch`] does).
    ///
    /// The two halves find each other through a request extension the
    /// outer one inserts and the inner one removes; a middleware that
    /// builds a new environ for the inner application (dropping the
    /// extensions) is checked on both sides but not for held-back frames.
    ///
    /// ```
    /// use gateway_core::lint::Lint;
    /// use gateway_core::{fn_app, from_fn, start, ApplicationExt};
    ///
    /// let header = from_fn(|env, next| async move {
    ///     let mut res = next.run(env).await?;
    ///     res.headers_mut().insert("x-checked", "1".parse()?);
    ///     Ok(res)
    /// });
    /// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") })
    ///     .with(Lint::new().around(header));
    /// # let _ = app;
    /// ```
    pub fn around<M>(&self, middleware: M) -> LintAround<M> {
        LintAround {
            lint: self.clone(),
            middleware,
        }
    }

    /// Logs `violation` and hands it to the observer.
    fn report(&self, violation: &Violation) {
        match violation.severity() {
            Severity::Error => {
                tracing::error!(rule = violation.rule.name(), "lint: {}", violation.message);
            }
            Severity::Warning => {
                tracing::warn!(rule = violation.rule.name(), "lint: {}", violation.message);
            }
        }
        if let Some(observer) = &self.observer {
            observer(violation);
        }
    }

    /// Reports an error and turns it into the error that fails the request.
    #[cold]
    fn fail(&self, violation: Violation) -> Error {
        self.report(&violation);
        Error::with_status(StatusCode::INTERNAL_SERVER_ERROR, violation)
    }
}

impl fmt::Debug for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lint")
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl<A: Application> Middleware<A> for Lint {
    type Output = LintApp<A>;

    fn wrap(&self, app: A) -> LintApp<A> {
        LintApp {
            app,
            lint: self.clone(),
            role: Role::Alone,
        }
    }
}

/// The middleware [`Lint::around`] returns: `middleware` between two
/// `Lint`s that check it.
#[derive(Clone, Debug)]
pub struct LintAround<M> {
    lint: Lint,
    middleware: M,
}

impl<A, M> Middleware<A> for LintAround<M>
where
    A: Application,
    M: Middleware<LintApp<A>>,
{
    type Output = LintApp<M::Output>;

    fn wrap(&self, app: A) -> Self::Output {
        let inner = LintApp {
            app,
            lint: self.lint.clone(),
            role: Role::Inner,
        };
        LintApp {
            app: self.middleware.wrap(inner),
            lint: self.lint.clone(),
            role: Role::Outer,
        }
    }
}

/// An application wrapped in [`Lint`] (what `app.with(Lint::new())`
/// returns). Forwards `startup` and `shutdown`.
pub struct LintApp<A> {
    app: A,
    lint: Lint,
    role: Role,
}

/// Where a [`LintApp`] sits relative to the middleware a [`LintAround`]
/// checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Alone,
    /// Outside the middleware: drains the pair.
    Outer,
    /// Inside it: feeds the pair.
    Inner,
}

impl<A> fmt::Debug for LintApp<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LintApp")
            .field("lint", &self.lint)
            .finish_non_exhaustive()
    }
}

impl<A: Application> Application for LintApp<A> {
    async fn call(&self, mut env: Environ) -> Result<Response, Error> {
        if let Some(violation) = check_environ(&env) {
            return Err(self.lint.fail(violation));
        }
        let request = RequestInfo {
            facts: RequestFacts::of(&env),
            https: env.scheme() == Scheme::Https,
        };
        let pair = match self.role {
            Role::Alone => None,
            Role::Outer => {
                let pair = Arc::new(Pair::default());
                env.extensions_mut().insert(PairToken(pair.clone()));
                Some(Pairing::Drains(pair))
            }
            Role::Inner => env
                .extensions_mut()
                .remove::<PairToken>()
                .map(|PairToken(pair)| Pairing::Feeds(pair)),
        };
        // The adapter's body: checked against its own claims. A bodiless
        // request's empty body is left alone (and not boxed).
        if !env.body_mut().is_in_memory() {
            let body = env.take_body();
            env.set_body(LintBody::wrap(
                body,
                self.lint.clone(),
                Side::Request,
                None,
                None,
            ));
        }

        let mut res = self.app.call(env).await?;

        if let Some(violation) = check_head(&res, &request) {
            return Err(self.lint.fail(violation));
        }
        check_warnings(&res, &request, &self.lint);
        // Bodies the driver never polls are not wrapped; in-memory ones
        // cannot contradict themselves, so they are wrapped only to take
        // part in a pair.
        let polled = !request.facts.is_head() && !body_forbidden(res.status(), &request.facts);
        if polled && (pair.is_some() || !res.body().is_in_memory()) {
            let announced = match announced_length(res.headers()) {
                Announced::Valid(n) => Some(n),
                Announced::Absent | Announced::Invalid => None,
            };
            let body = std::mem::take(res.body_mut());
            *res.body_mut() =
                LintBody::wrap(body, self.lint.clone(), Side::Response, announced, pair);
        }
        Ok(res)
    }

    async fn startup(&self) -> Result<(), Error> {
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}

/// One broken rule, as [`Lint`] reports it.
///
/// It is also the source of the [`Error`] that fails the request on an
/// error: `err.downcast_ref::<Violation>()` finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    rule: Rule,
    message: String,
}

impl Violation {
    fn new(rule: Rule, message: String) -> Violation {
        Violation { rule, message }
    }

    /// The rule broken.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The rule's severity.
    pub fn severity(&self) -> Severity {
        self.rule.severity()
    }

    /// What was found, in words.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lint {} [{}]: {}",
            self.severity(),
            self.rule,
            self.message
        )
    }
}

impl std::error::Error for Violation {}

/// The rules [`Lint`] checks; the [module docs](self) describe each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// `path-invariant`: the environ breaks the path invariant.
    PathInvariant,
    /// `final-status`: a final status outside 200–599 (101 only for an
    /// upgrade request).
    FinalStatus,
    /// `connection-specific-field`: a field the server owns (RFC 9110
    /// §7.6.1).
    ConnectionSpecificField,
    /// `content-length`: `Content-Length` is invalid, or disagrees with the
    /// body.
    ContentLength,
    /// `head-without-content-length`: an empty HEAD answer without
    /// `Content-Length`.
    HeadWithoutContentLength,
    /// `body-not-allowed`: a body on 1xx, 204, 304 or a 2xx CONNECT answer.
    BodyNotAllowed,
    /// `content-length-not-allowed`: `Content-Length` on 1xx, 204 or a 2xx
    /// CONNECT answer.
    ContentLengthNotAllowed,
    /// `size-hint`: a body's frames contradict its `size_hint`.
    SizeHint,
    /// `end-stream`: a frame after `is_end_stream()` returned true.
    EndStream,
    /// `held-back-frame`: a middleware kept a frame of the body it wraps.
    HeldBackFrame,
    /// `missing-content-type` (warning): a 2xx with content and no
    /// `Content-Type`.
    MissingContentType,
    /// `cookie-without-secure` (warning): `Set-Cookie` without `Secure` on
    /// https.
    CookieWithoutSecure,
    /// `samesite-none-without-secure` (warning): `SameSite=None` without
    /// `Secure`.
    SameSiteNoneWithoutSecure,
    /// `duplicate-content-type` (warning): more than one `Content-Type`.
    DuplicateContentType,
}

impl Rule {
    /// The rule's name, in kebab case: `"content-length"`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::PathInvariant => "path-invariant",
            Rule::FinalStatus => "final-status",
            Rule::ConnectionSpecificField => "connection-specific-field",
            Rule::ContentLength => "content-length",
            Rule::HeadWithoutContentLength => "head-without-content-length",
            Rule::BodyNotAllowed => "body-not-allowed",
            Rule::ContentLengthNotAllowed => "content-length-not-allowed",
            Rule::SizeHint => "size-hint",
            Rule::EndStream => "end-stream",
            Rule::HeldBackFrame => "held-back-frame",
            Rule::MissingContentType => "missing-content-type",
            Rule::CookieWithoutSecure => "cookie-without-secure",
            Rule::SameSiteNoneWithoutSecure => "samesite-none-without-secure",
            Rule::DuplicateContentType => "duplicate-content-type",
        }
    }

    /// Whether breaking the rule fails the request or is only reported.
    pub fn severity(self) -> Severity {
        match self {
            Rule::MissingContentType
            | Rule::CookieWithoutSecure
            | Rule::SameSiteNoneWithoutSecure
            | Rule::DuplicateContentType => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How serious a [`Violation`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Breaks the contract: the request fails (500, or an aborted body).
    Error,
    /// Legal but almost certainly unintended: logged, response unchanged.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// The violations a [`Lint::collecting`] lint found, in the order found.
/// Clones share the list.
#[derive(Clone, Default)]
pub struct Violations {
    list: Arc<Mutex<Vec<Violation>>>,
}

impl Violations {
    fn lock(&self) -> MutexGuard<'_, Vec<Violation>> {
        // An observer never panics while holding the lock; recover anyway.
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the violations found so far, leaving the list empty.
    pub fn take(&self) -> Vec<Violation> {
        std::mem::take(&mut *self.lock())
    }

    /// Whether nothing was found (or everything found was taken).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Panics, listing them, if any violation (error or warning) was found.
    ///
    /// Body rules are checked as the server reads the body: assert after
    /// the response was read to its end (or the server stopped).
    #[track_caller]
    pub fn assert_none(&self) {
        let found = self.take();
        if !found.is_empty() {
            let list: String = found.iter().map(|v| format!("\n  {v}")).collect();
            panic!("Lint found {} violation(s):{list}", found.len());
        }
    }
}

impl fmt::Debug for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}

// ---------------------------------------------------------------------------
// The environ.

fn check_environ(env: &Environ) -> Option<Violation> {
    let script = env.script_name();
    // Kept by Environ's API today; checked because it is the contract.
    if !script.is_empty() && (!script.starts_with('/') || script.ends_with('/')) {
        return Some(Violation::new(
            Rule::PathInvariant,
            format!("script_name {script:?} must be empty, or start with '/' and not end with '/'"),
        ));
    }
    let info = env.path_info();
    if env.path() == "*" {
        if env.method() != Method::OPTIONS {
            return Some(Violation::new(
                Rule::PathInvariant,
                format!(
                    "the request-target `*` is only for OPTIONS (RFC 9112 §3.2.4), \
                     but the method is {}",
                    env.method()
                ),
            ));
        }
    } else if !info.is_empty() && !info.starts_with('/') {
        return Some(Violation::new(
            Rule::PathInvariant,
            format!("path_info {info:?} must be empty or start with '/'"),
        ));
    }
    None
}

// ---------------------------------------------------------------------------
// The response head.

/// What the checks need to know of the request once it has been moved
/// into the application.
struct RequestInfo {
    facts: RequestFacts,
    https: bool,
}

/// Statuses whose response has no content: the driver drops the body
/// (rule 4).
fn body_forbidden(status: StatusCode, facts: &RequestFacts) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || (facts.is_connect() && status.is_success())
}

/// Whether a body is known to have nothing in it.
fn is_empty(body: &Body) -> bool {
    body.is_end_stream() || body.size_hint().exact() == Some(0)
}

enum Announced {
    Absent,
    Valid(u64),
    Invalid,
}

fn announced_length(headers: &HeaderMap) -> Announced {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return Announced::Absent;
    };
    match parse_content_length(first) {
        Some(n) if values.next().is_none() => Announced::Valid(n),
        _ => Announced::Invalid,
    }
}

/// The first error in the response head, in the order of the rules table.
fn check_head(res: &Response, request: &RequestInfo) -> Option<Violation> {
    let status = res.status();
    let facts = &request.facts;
    let headers = res.headers();

    let code = status.as_u16();
    let upgrade = status == StatusCode::SWITCHING_PROTOCOLS && facts.is_upgrade();
    if !(200..=599).contains(&code) && !upgrade {
        return Some(Violation::new(
            Rule::FinalStatus,
            format!("status {code}: {}", status_refusal(status)),
        ));
    }

    if let Some(violation) = check_connection_fields(headers, status) {
        return Some(violation);
    }

    let forbidden = body_forbidden(status, facts);
    let to_connect = if facts.is_connect() {
        " to CONNECT"
    } else {
        ""
    };
    if forbidden && !is_empty(res.body()) {
        return Some(Violation::new(
            Rule::BodyNotAllowed,
            format!(
                "a {code} response{to_connect} has no content, but the body is not empty \
                 (the driver would drop it)"
            ),
        ));
    }
    let announced = announced_length(headers);
    let length_forbidden = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || (facts.is_connect() && status.is_success());
    if length_forbidden && !matches!(announced, Announced::Absent) {
        return Some(Violation::new(
            Rule::ContentLengthNotAllowed,
            format!("a {code} response{to_connect} must not carry Content-Length (RFC 9110 §8.6)"),
        ));
    }

    match announced {
        Announced::Invalid => {
            let values: Vec<_> = headers.get_all(CONTENT_LENGTH).iter().collect();
            return Some(Violation::new(
                Rule::ContentLength,
                format!("Content-Length must be one decimal number, not {values:?}"),
            ));
        }
        Announced::Valid(n) if status != StatusCode::NOT_MODIFIED => {
            // HEAD may send an empty body with GET's length.
            let exact = res.body().size_hint().exact();
            if let Some(exact) = exact.filter(|&e| e != n && !(facts.is_head() && e == 0)) {
                return Some(Violation::new(
                    Rule::ContentLength,
                    format!("Content-Length is {n} but the body is exactly {exact} bytes"),
                ));
            }
        }
        _ => {}
    }

    if facts.is_head()
        && !forbidden
        && status != StatusCode::NOT_MODIFIED
        && matches!(announced, Announced::Absent)
        && is_empty(res.body())
    {
        return Some(Violation::new(
            Rule::HeadWithoutContentLength,
            format!(
                "a {code} answer to HEAD has an empty body and no Content-Length: the \
                 driver would announce 0; set GET's Content-Length, or return GET's body \
                 (it is not sent)"
            ),
        ));
    }
    None
}

fn check_connection_fields(headers: &HeaderMap, status: StatusCode) -> Option<Violation> {
    let upgrade_allowed =
        status == StatusCode::SWITCHING_PROTOCOLS || status == StatusCode::UPGRADE_REQUIRED;
    let found = |name: &HeaderName, extra: &str| {
        Some(Violation::new(
            Rule::ConnectionSpecificField,
            format!(
                "`{name}` is connection-specific (RFC 9110 §7.6.1): the server owns the \
                 connection and would remove it{extra}"
            ),
        ))
    };
    for name in headers.keys() {
        if name == CONNECTION {
            // Only the upgrade option, and only where Upgrade is allowed.
            let others: Vec<&str> = headers
                .get_all(CONNECTION)
                .iter()
                .flat_map(|v| v.to_str().unwrap_or("?").split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .filter(|t| !(upgrade_allowed && t.eq_ignore_ascii_case("upgrade")))
                .collect();
            if !others.is_empty() {
                return found(
                    name,
                    &format!(" with the fields it names ({})", others.join(", ")),
                );
            }
        } else if is_connection_specific(name) && !(name == UPGRADE && upgrade_allowed) {
            let extra = if name == UPGRADE {
                " (it is kept on 101 and 426 only)"
            } else {
                ""
            };
            return found(name, extra);
        }
    }
    None
}

fn check_warnings(res: &Response, request: &RequestInfo, lint: &Lint) {
    let status = res.status();
    let headers = res.headers();
    let content_types = headers.get_all(CONTENT_TYPE).iter().count();
    if content_types > 1 {
        lint.report(&Violation::new(
            Rule::DuplicateContentType,
            format!(
                "Content-Type appears {content_types} times; recipients disagree on which applies"
            ),
        ));
    }
    let has_content =
        !is_empty(res.body()) || matches!(announced_length(headers), Announced::Valid(n) if n > 0);
    if status.is_success()
        && !body_forbidden(status, &request.facts)
        && has_content
        && content_types == 0
    {
        lint.report(&Violation::new(
            Rule::MissingContentType,
            format!(
                "a {} response with content has no Content-Type; clients will guess it",
                status.as_u16()
            ),
        ));
    }
    for value in headers.get_all(SET_COOKIE) {
        let cookie = CookieAttributes::parse(value.as_bytes());
        if !cookie.secure && request.https {
            lint.report(&Violation::new(
                Rule::CookieWithoutSecure,
                format!(
                    "Set-Cookie `{}` has no Secure attribute in answer to an https request; \
                     the browser would also send it over plain http",
                    cookie.name()
                ),
            ));
        }
        if !cookie.secure && cookie.same_site_none {
            lint.report(&Violation::new(
                Rule::SameSiteNoneWithoutSecure,
                format!(
                    "Set-Cookie `{}` has SameSite=None without Secure; browsers reject it",
                    cookie.name()
                ),
            ));
        }
    }
}

/// What the cookie rules need of a `Set-Cookie` value (RFC 6265 §5.2):
/// parsed in place, without allocating.
struct CookieAttributes<'a> {
    name: &'a [u8],
    secure: bool,
    same_site_none: bool,
}

impl<'a> CookieAttributes<'a> {
    fn parse(value: &'a [u8]) -> CookieAttributes<'a> {
        let mut parts = value.split(|&b| b == b';');
        let pair = parts.next().unwrap_or_default();
        let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
        let mut cookie = CookieAttributes {
            name: name.trim_ascii(),
            secure: false,
            same_site_none: false,
        };
        for attribute in parts {
            let (key, val) = match attribute.iter().position(|&b| b == b'=') {
                Some(i) => (&attribute[..i], &attribute[i + 1..]),
                None => (attribute, &b""[..]),
            };
            let key = key.trim_ascii();
            if key.eq_ignore_ascii_case(b"secure") {
                cookie.secure = true;
            } else if key.eq_ignore_ascii_case(b"samesite") {
                cookie.same_site_none = val.trim_ascii().eq_ignore_ascii_case(b"none");
            }
        }
        cookie
    }

    fn name(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.name)
    }
}

// ---------------------------------------------------------------------------
// The body.

/// The state two `Lint`s around one middleware share for one request:
/// whether the inner body yielded a frame with content that the
/// middleware has not yet answered with a frame of its own.
#[derive(Debug, Default)]
struct Pair {
    holding: AtomicBool,
}

/// How the outer `Lint` hands the pair to the inner one.
#[derive(Clone, Debug)]
struct PairToken(Arc<Pair>);

enum Pairing {
    /// The inner side: frames with content set `holding`.
    Feeds(Arc<Pair>),
    /// The outer side: every frame clears it; the end must find it clear.
    Drains(Arc<Pair>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
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
struct LintBody {
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
    fn wrap(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes_are_read_without_regard_to_case_or_spaces() {
        let c = CookieAttributes::parse(b"sid=abc; Path=/;  SECURE ; samesite = None");
        assert_eq!(c.name(), "sid");
        assert!(c.secure);
        assert!(c.same_site_none);
        let c = CookieAttributes::parse(b"a=secure; Path=/secure; SameSite=Lax");
        assert!(
            !c.secure,
            "a value or path named secure is not the attribute"
        );
        assert!(!c.same_site_none);
    }

    #[test]
    fn content_length_must_be_one_number() {
        let mut h = HeaderMap::new();
        assert!(matches!(announced_length(&h), Announced::Absent));
        h.insert(CONTENT_LENGTH, "12".parse().unwrap());
        assert!(matches!(announced_length(&h), Announced::Valid(12)));
        for bad in ["+1", "1 ", "", "0x1", "99999999999999999999999"] {
            h.insert(CONTENT_LENGTH, bad.parse().unwrap());
            assert!(
                matches!(announced_length(&h), Announced::Invalid),
                "{bad:?}"
            );
        }
        h.insert(CONTENT_LENGTH, "1".parse().unwrap());
        h.append(CONTENT_LENGTH, "1".parse().unwrap());
        assert!(matches!(announced_length(&h), Announced::Invalid));
    }

    #[test]
    fn rule_names_are_distinct_kebab_case() {
        let all = [
            Rule::PathInvariant,
            Rule::FinalStatus,
            Rule::ConnectionSpecificField,
            Rule::ContentLength,
            Rule::HeadWithoutContentLength,
            Rule::BodyNotAllowed,
            Rule::ContentLengthNotAllowed,
            Rule::SizeHint,
            Rule::EndStream,
            Rule::HeldBackFrame,
            Rule::MissingContentType,
            Rule::CookieWithoutSecure,
            Rule::SameSiteNoneWithoutSecure,
            Rule::DuplicateContentType,
        ];
        let mut names: Vec<_> = all.iter().map(|r| r.name()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
