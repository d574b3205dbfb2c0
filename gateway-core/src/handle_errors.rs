//! [`HandleErrors`]: a middleware inside which panics become `Err` values
//! and `Err` values become the application's own error pages.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::middleware::FailedRequest;
//! use gateway_core::{driver, fn_app, start, ApplicationExt, Body, Environ, Error, HandleErrors, Response};
//!
//! let app = fn_app(|_| async { Err::<Response, _>(Error::new("db down")) })
//!     .with(HandleErrors::new(|err: &Error, _req: &FailedRequest| {
//!         start(err.status(), [("content-type", "text/html")]).body("<h1>Sorry</h1>")
//!     }));
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert_eq!((res.status().as_u16(), res.headers()["content-type"].to_str().unwrap()), (500, "text/html"));
//! # });
//! ```
//!
//! Without it, an `Err` or a panic travels up the stack to the
//! [driver](crate::driver), which answers with its plain-text page
//! (rule 1) *outside* every middleware: an access log, a request-id header
//! or a CORS middleware never sees that response. Placed where you want
//! it — usually just inside the middleware that must see every response —
//! `HandleErrors` turns the failure into an ordinary `Ok(response)` that
//! everything outside it sees and may edit. The driver's page stays the
//! last resort, for what happens outside `HandleErrors` or after the
//! commit.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt as _;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri};

use crate::app_impl::Application;
use crate::driver::fields::is_connection_specific;
use crate::driver::{add_error_headers, error_status, log_failure};
use crate::environ_impl::Environ;
use crate::error::Error;
use crate::middleware_impl::Middleware;
use crate::response_impl::{Response, ResponseExt};

/// Builds the response for an error: the customisation point of
/// [`HandleErrors`]. Implemented for every
/// `Fn(&Error, &FailedRequest) -> Result<Response, Error>` closure (give
/// the closure's argument types, so that it takes any lifetime).
///
/// `err.status()` is the status to answer with (always a 4xx or 5xx);
/// `err.to_string()` is the message, for the log rather than the client
/// (it may hold internals: a file path, an SQL error); for a panic,
/// [`Error::is_panic`] is true and [`Error::panic_message`] is the panic's
/// message.
///
/// Returning `Err` gives up: the failure is logged and the original error
/// goes on up, to the driver's page if nothing else handles it.
///
/// ```
/// use gateway_core::middleware::{FailedRequest, RenderError};
/// use gateway_core::{start, Error, Response};
///
/// /// A JSON body `{"status": 404}`, for an API.
/// struct JsonErrors;
///
/// impl RenderError for JsonErrors {
///     fn render(&self, err: &Error, _req: &FailedRequest) -> Result<Response, Error> {
///         let status = err.status().as_u16();
///         start(status, [("content-type", "application/json")])
///             .body(format!(r#"{{"status":{status}}}"#))
///     }
/// }
/// # let _ = gateway_core::HandleErrors::new(JsonErrors);
/// ```
pub trait RenderError: Send + Sync + 'static {
    /// The response for `err`, which failed `req`.
    fn render(&self, err: &Error, req: &FailedRequest) -> Result<Response, Error>;
}

impl<F> RenderError for F
where
    F: Fn(&Error, &FailedRequest) -> Result<Response, Error> + Send + Sync + 'static,
{
    fn render(&self, err: &Error, req: &FailedRequest) -> Result<Response, Error> {
        self(err, req)
    }
}

/// The [`RenderError`] that renders exactly the driver's own page
/// ([`driver::error_response`](crate::driver::error_response)): the
/// error's status, the headers it carries and its reason phrase as a
/// `text/plain` body (no body for HEAD).
///
/// `HandleErrors::new(DriverPage)` changes nothing the client sees; it
/// moves the page *inside* the stack, so that a middleware outside it —
/// an access log, a metrics layer, a request-id header — sees an `Err`
/// or a panic as the ordinary response the client will get.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::middleware::DriverPage;
/// use gateway_core::{driver, fn_app, ApplicationExt, Body, Environ, Error, HandleErrors, Response};
///
/// let app = fn_app(|_| async { Err::<Response, _>(Error::new("db down")) })
///     .with(HandleErrors::new(DriverPage));
/// let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
/// let Ok(res) = driver::commit(&app, env).await;
/// assert_eq!(res.status(), 500);
/// assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
/// assert!(res.extensions().get::<driver::ErrorCause>().is_some());
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct DriverPage;

impl RenderError for DriverPage {
    fn render(&self, err: &Error, req: &FailedRequest) -> Result<Response, Error> {
        Ok(crate::driver::error_page(err, req.method == Method::HEAD))
    }
}

/// What a [`RenderError`] knows of the request that failed: the method,
/// the target and the `Accept` header, kept from the environ before it
/// was handed to the application (reference counts, no copy of the
/// bytes).
#[derive(Clone, Debug)]
pub struct FailedRequest {
    method: Method,
    uri: Uri,
    accept: Option<HeaderValue>,
}

impl FailedRequest {
    fn of(env: &Environ) -> FailedRequest {
        FailedRequest {
            method: env.method().clone(),
            uri: env.uri().clone(),
            accept: env.headers().get(ACCEPT).cloned(),
        }
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request-target, as received.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The `Accept` header, if there was one and it is visible ASCII:
    /// what to choose the page's format by.
    ///
    /// ```
    /// use gateway_core::middleware::FailedRequest;
    /// use gateway_core::{start, Error, Response};
    ///
    /// fn render(err: &Error, req: &FailedRequest) -> Result<Response, Error> {
    ///     let status = err.status();
    ///     if req.accept().is_some_and(|a| a.contains("application/json")) {
    ///         start(status, [("content-type", "application/json")])
    ///             .body(format!(r#"{{"error":{}}}"#, status.as_u16()))
    ///     } else {
    ///         start(status, [("content-type", "text/html; charset=utf-8")])
    ///             .body(format!("<h1>{status}</h1>"))
    ///     }
    /// }
    /// # let _ = gateway_core::HandleErrors::new(render);
    /// ```
    pub fn accept(&self) -> Option<&str> {
        self.accept.as_ref().and_then(|v| v.to_str().ok())
    }

    /// Whether a response with `status` to this request has content that
    /// the driver would poll (rules 4 and 6).
    fn has_content(&self, status: StatusCode) -> bool {
        !(self.method == Method::HEAD
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || (self.method == Method::CONNECT && status.is_success()))
    }
}

/// A middleware that renders the errors of the application it wraps with
/// a [`RenderError`] of yours — an HTML or JSON page chosen by `Accept`,
/// say — so that the middleware outside it sees an ordinary response.
///
/// Inside it:
///
/// - a panic in the application (while it builds the response, or in the
///   body before its first data) is caught, as the driver would catch it,
///   and becomes an `Err`: [`Error::is_panic`] is true for it;
/// - an `Err` from the application, or from its body before the first
///   data (found with [`ResponseExt::prefetch`], driver rule 6), is given
///   to the renderer. Its status (a status outside 400–599 becomes 500)
///   and message are on the error; the response the renderer returns is
///   used as it is, plus the error's headers ([`Error::with_header`]) it
///   did not set itself (`Content-Type` and connection-specific ones
///   excepted, as on the driver's page), and the error as its
///   [`ErrorCause`](crate::driver::ErrorCause) extension. The error is
///   logged as the driver would log it: `error` for a 5xx or a panic,
///   `debug` for a 4xx.
///
/// What it does not cover: an error after the body's first data (the
/// response is committed by then: the driver aborts it, rule 7), and a
/// renderer that fails or panics (the original error goes on up to the
/// driver's page).
///
/// Cost per request: the method, target and `Accept` header are kept for
/// the renderer (reference counts); a streaming response body is polled
/// to its first data here rather than in the driver, which boxes that
/// frame (an in-memory body costs nothing).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::middleware::FailedRequest;
/// use gateway_core::{driver, fn_app, start, ApplicationExt, Body, Environ, Error, HandleErrors, Response};
/// use gateway_core::http::{header, StatusCode};
///
/// let app = fn_app(|env| async move {
///     match env.path_info() {
///         "/" => start(200, [("content-type", "text/plain")]).body("home"),
///         "/panic" => panic!("bug"),
///         _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no route")),
///     }
/// })
/// .with(HandleErrors::new(|err: &Error, req: &FailedRequest| {
///     let status = err.status();
///     if req.accept().is_some_and(|a| a.contains("application/json")) {
///         start(status, [("content-type", "application/json")])
///             .body(format!(r#"{{"error":{}}}"#, status.as_u16()))
///     } else {
///         start(status, [("content-type", "text/html; charset=utf-8")])
///             .body(format!("<h1>{}</h1>", status.canonical_reason().unwrap_or("Error")))
///     }
/// }));
///
/// let get = |path: &str, accept: &str| {
///     let req = http::Request::get(path).header(header::ACCEPT, accept);
///     Environ::from_request(req.body(Body::empty()).unwrap())
/// };
/// let Ok(res) = driver::commit(&app, get("/missing", "application/json")).await;
/// assert_eq!(res.status(), StatusCode::NOT_FOUND);
/// assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
///
/// let Ok(res) = driver::commit(&app, get("/panic", "text/html")).await;
/// assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// assert_eq!(res.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
/// # });
/// ```
pub struct HandleErrors<R> {
    renderer: Arc<R>,
}

impl<R: RenderError> HandleErrors<R> {
    /// A middleware rendering errors with `renderer`.
    pub fn new(renderer: R) -> HandleErrors<R> {
        HandleErrors {
            renderer: Arc::new(renderer),
        }
    }
}

impl<R> Clone for HandleErrors<R> {
    fn clone(&self) -> Self {
        HandleErrors {
            renderer: self.renderer.clone(),
        }
    }
}

impl<R> fmt::Debug for HandleErrors<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandleErrors").finish_non_exhaustive()
    }
}

impl<A: Application, R: RenderError> Middleware<A> for HandleErrors<R> {
    type Output = HandleErrorsApp<A, R>;

    fn wrap(&self, app: A) -> HandleErrorsApp<A, R> {
        HandleErrorsApp {
            app,
            renderer: self.renderer.clone(),
        }
    }
}

/// The application a [`HandleErrors`] middleware produces. Forwards
/// `startup` and `shutdown`.
pub struct HandleErrorsApp<A, R> {
    app: A,
    renderer: Arc<R>,
}

impl<A, R> fmt::Debug for HandleErrorsApp<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandleErrorsApp").finish_non_exhaustive()
    }
}

impl<A: Application, R: RenderError> Application for HandleErrorsApp<A, R> {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        let req = FailedRequest::of(&env);
        // `call` itself may run code before returning its future (a manual
        // impl); a panic there is caught too.
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| self.app.call(env)));
        let result = match called {
            Ok(fut) => match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(result) => result,
                Err(payload) => Err(Error::panicked(&*payload)),
            },
            Err(payload) => Err(Error::panicked(&*payload)),
        };
        let err = match result {
            Ok(res) if !req.has_content(res.status()) => return Ok(res),
            // The body panicking is caught by the body itself.
            Ok(res) => match res.prefetch().await {
                Ok(res) => return Ok(res),
                Err(err) => err,
            },
            Err(err) => err,
        };
        self.render(err, &req)
    }

    async fn startup(&self) -> Result<(), Error> {
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}

impl<A, R: RenderError> HandleErrorsApp<A, R> {
    #[cold]
    fn render(&self, mut err: Error, req: &FailedRequest) -> Result<Response, Error> {
        let status = error_status(&err);
        if err.status() != status {
            err.set_status(status);
        }
        let rendered =
            std::panic::catch_unwind(AssertUnwindSafe(|| self.renderer.render(&err, req)));
        let failure = match rendered {
            Ok(Ok(mut res)) => {
                log_failure(&err, status);
                add_headers_of(&mut res, &err);
                crate::driver::attach_cause(&mut res, err);
                return Ok(res);
            }
            Ok(Err(failure)) => failure,
            Err(payload) => Error::panicked(&*payload),
        };
        tracing::error!(
            error = %failure,
            "HandleErrors: the error renderer failed; the error goes on up"
        );
        Err(err)
    }
}

/// Adds `err`'s headers to the rendered `res` as the driver adds them to
/// its own page ([`Error::with_header`] says which): not those `res` has,
/// not `Content-Type` (the renderer's body is not the error's to
/// describe), and not the connection-specific ones, which are the
/// server's (rule 3) and which a `Lint` outside would blame on the
/// renderer.
fn add_headers_of(res: &mut Response, err: &Error) {
    let not_taken: Vec<HeaderName> = err
        .headers()
        .keys()
        .filter(|name| *name == CONTENT_TYPE || is_connection_specific(name))
        .filter(|name| !res.headers().contains_key(*name))
        .cloned()
        .collect();
    add_error_headers(res.headers_mut(), err);
    for name in not_taken {
        res.headers_mut().remove(name);
    }
}

#[cfg(test)]
mod tests;
