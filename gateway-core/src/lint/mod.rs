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
//! | `path-invariant` | error | the environ breaks the [path invariant](crate::Environ#the-path-invariant): the `*` target with a method other than `OPTIONS`, a `path_info` that is neither empty nor starts with `/`, a `script_name` that is not empty or `/…` without a trailing `/` |
//! | `final-status` | error | a final status outside 200–599, except 101 answering an HTTP/1.1 request with `Upgrade` ([rule 2](crate::driver#the-commit-rules)) |
//! | `switch-without-handler` | error | the application took the upgrade ([`Environ::upgrade`]) and answered 101 (or 2xx to an extended CONNECT) without a handler: the adapter would switch protocols with nobody on the other end. Answer with [`Upgrade::switch`](crate::upgrade::Upgrade::switch), or refuse with a 4xx |
//! | `handler-without-switch` | error | a response carries an upgrade handler but not the switching status (101 for HTTP/1.1, 2xx for extended CONNECT) — a middleware changed it, say — so the handler would never run ([`upgrade`](crate::upgrade#the-rules)) |
//! | `connection-specific-field` | error | a field [rule 3](crate::driver#the-commit-rules) removes: `Connection` (and the fields it names), `Keep-Alive`, `Proxy-Connection`, `TE`, `Transfer-Encoding`, `Upgrade` |
//! | `content-length` | error | a `Content-Length` that is not one decimal number, that disagrees with the body's exact size ([rule 5](crate::driver#the-commit-rules)), or with the bytes the body yields |
//! | `head-without-content-length` | error | an empty answer to HEAD (other than 1xx, 204, 304) without `Content-Length`: the driver would announce `0`, not GET's length ([rule 4](crate::driver#the-commit-rules)) |
//! | `body-not-allowed` | error | a body on 1xx, 204, 304 or a 2xx answer to CONNECT, which [rule 4](crate::driver#the-commit-rules) drops |
//! | `content-length-not-allowed` | error | `Content-Length` on 1xx, 204 or a 2xx answer to CONNECT, which [rule 4](crate::driver#the-commit-rules) removes |
//! | `size-hint` | error | a body yields more bytes than its `size_hint` allowed, or ends before its lower bound |
//! | `end-stream` | error | a body yields a frame after `is_end_stream()` said it had ended |
//! | `held-back-frame` | error | a middleware between two `Lint`s kept a frame of the body it wraps (see [`Lint::around`]) |
//! | `changed-after-commit` | error | a middleware's per-request state (a session) changed after the middleware had decided the response head — inside a streaming body, say — so the change can reach neither the client nor the store; the middleware reports it through the [`Reporter`] `Lint` puts in the environ's extensions |
//! | `missing-content-type` | warning | a 2xx response with content and no `Content-Type` |
//! | `cookie-without-secure` | warning | `Set-Cookie` without `Secure` in answer to an https request |
//! | `samesite-none-without-secure` | warning | `Set-Cookie` with `SameSite=None` and without `Secure` (browsers drop it) |
//! | `duplicate-content-type` | warning | more than one `Content-Type` field |
//! | `set-cookie-on-not-modified` | warning | `Set-Cookie` on a 304: a shared cache merges a 304's fields into the response it stored (RFC 9111 §4.3.4), handing the cookie to every later client |
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
//! (driver [rules 6 and 7](crate::driver#the-commit-rules)). The application is not called when the environ
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
//! an application ([rule 1](crate::driver#the-commit-rules)) and a body turns a panic into an error frame,
//! so a panic would reach the test as the same 500 with less information.
//! Assert on [`Violations`] instead, which fails in the test's own thread.
//!
//! # What it does not check
//!
//! What the types already guarantee: one response per request (the
//! signature of [`Application::call`]), `path_info` being a suffix of the
//! request path (it is a slice of it), a `SizeHint` whose lower bound
//! exceeds its upper bound (`SizeHint` refuses it), and a body polled after
//! it ended or failed — [`Body`](crate::Body) is fused: after it yields `None` or an
//! error it answers `None` without polling what it wraps, so no consumer
//! can reach a body that has ended.
//!
//! # Cost
//!
//! `Lint` is a development tool. It allocates nothing for a request without
//! a body answered with an in-memory body and nothing to report; a
//! streaming request or response body is wrapped in one more box, and
//! [`Lint::around`] adds one `Arc` and one request extension per request.
//! Every request also carries a [`Reporter`] in its extensions (one
//! extension map allocation).

use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use crate::app_impl::Application;
use crate::driver::CommitHints;
use crate::environ_impl::{Environ, Scheme};
use crate::error::Error;
use crate::middleware_impl::Middleware;
use crate::response_impl::Response;
use crate::upgrade::UpgradeSlot;

mod body;
mod rules;
mod violation;

use body::{LintBody, Pair, PairToken, Pairing, Side};
use rules::{
    Announced, RequestInfo, announced_length, body_forbidden, check_environ, check_head,
    check_warnings,
};

pub use rules::Rule;
pub use violation::{Severity, Violation, Violations};

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
    /// them back (that is what [`Body::prefetch`](crate::Body::prefetch) does).
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
                tracing::error!(
                    rule = violation.rule().name(),
                    "lint: {}",
                    violation.message()
                );
            }
            Severity::Warning => {
                tracing::warn!(
                    rule = violation.rule().name(),
                    "lint: {}",
                    violation.message()
                );
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

/// How a middleware reports a broken rule to the [`Lint`] around it:
/// `Lint` puts one in the environ's extensions before calling the
/// application it wraps. A middleware that keeps per-request state —
/// [`Sessions`](https://docs.rs/gateway-middleware) — takes it from there
/// and reports a change it can no longer honour
/// ([`Rule::ChangedAfterCommit`]); without a `Lint` there is no
/// `Reporter`, and the middleware only logs.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::lint::{Lint, Reporter, Rule};
/// use gateway_core::{driver, fn_app, start, ApplicationExt, Body, Environ};
///
/// let app = fn_app(|env: Environ| async move {
///     if let Some(reporter) = env.extensions().get::<Reporter>() {
///         reporter.report(Rule::ChangedAfterCommit, "the session changed after the response head");
///     }
///     start(200, [("content-type", "text/plain")]).body("ok")
/// });
/// let (lint, violations) = Lint::collecting();
/// let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
/// let Ok(res) = driver::commit(&app.with(lint), env).await;
/// assert_eq!(res.status(), 200); // reporting does not fail the request by itself
/// assert_eq!(violations.take()[0].rule(), Rule::ChangedAfterCommit);
/// # });
/// ```
///
/// Reporting logs the violation (`tracing::error!` or `warn!` by the
/// rule's severity) and hands it to the `Lint`'s observer; it does not
/// fail the request — the middleware decides what the request gets (a
/// session returns an error to the caller of the change).
#[derive(Clone)]
pub struct Reporter {
    lint: Lint,
}

impl Reporter {
    /// Reports that `rule` was broken, in `message`'s words.
    pub fn report(&self, rule: Rule, message: impl Into<String>) {
        self.lint.report(&Violation::new(rule, message.into()));
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter").finish_non_exhaustive()
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
            hints: CommitHints::of(&env),
            https: env.scheme() == Scheme::Https,
            upgrade: env.extensions().get::<UpgradeSlot>().cloned(),
        };
        if self.role != Role::Inner {
            env.extensions_mut().insert(Reporter {
                lint: self.lint.clone(),
            });
        }
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
        let polled = !request.hints.is_head() && !body_forbidden(res.status(), &request.hints);
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
