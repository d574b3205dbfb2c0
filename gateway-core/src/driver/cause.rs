//! [`ErrorCause`]: the error behind an error response, as a response
//! extension.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::driver::{self, ErrorCause};
//! use gateway_core::{fn_app, Body, Environ, Error, Response};
//!
//! let app = fn_app(|_| async { Err::<Response, _>(Error::new("db down")) });
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! let cause = res.extensions().get::<ErrorCause>().unwrap();
//! assert_eq!(cause.error().to_string(), "db down");
//! # });
//! ```

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use http::header::CONTENT_LENGTH;

use crate::error::Error;
use crate::response_impl::Response;

/// The error (or panic) an error response was made from: a response
/// extension, inserted by the [driver](super) into the error responses it
/// builds from an application's `Err` or panic (rule 1, rule 6) or from a
/// refused status (rule 2), and by [`HandleErrors`](crate::HandleErrors)
/// into the responses its renderer builds.
///
/// The client never sees it: it is how an adapter, a middleware outside
/// `HandleErrors` (an access log) or a test finds out why a request
/// failed — [`TestResponse::error`](crate::test_client::TestResponse::error)
/// reads it. A successful response has none, and costs nothing for it.
///
/// Responses an adapter builds itself with
/// [`error_response`](super::error_response) carry none: the adapter holds
/// the error.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::driver::{self, ErrorCause};
/// use gateway_core::response::NO_HEADERS;
/// use gateway_core::{fn_app, start, Body, Environ};
///
/// let app = fn_app(|env| async move {
///     if env.path_info() == "/" {
///         panic!("index out of range");
///     }
///     start(200, NO_HEADERS).empty()
/// });
/// let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
/// let Ok(res) = driver::commit(&app, env).await;
/// let cause = res.extensions().get::<ErrorCause>().unwrap();
/// assert_eq!(cause.error().panic_message(), Some("index out of range"));
/// # });
/// ```
#[derive(Clone)]
pub struct ErrorCause(Arc<Error>);

impl ErrorCause {
    pub(crate) fn new(err: Error) -> ErrorCause {
        ErrorCause(Arc::new(err))
    }

    /// The error.
    pub fn error(&self) -> &Error {
        &self.0
    }
}

impl fmt::Debug for ErrorCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ErrorCause").field(&*self.0).finish()
    }
}

impl fmt::Display for ErrorCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// Marks `res` as made from `err`.
pub(crate) fn attach_cause(res: &mut Response, err: Error) {
    res.extensions_mut().insert(ErrorCause::new(err));
}

/// Adds the headers `err` carries (see [`Error::with_header`]) to an error
/// response's: the names the response does not have yet, except
/// `Content-Length`, which belongs to the body the responder wrote.
pub(crate) fn add_error_headers(headers: &mut HeaderMap, err: &Error) {
    let extra = err.headers();
    for name in extra.keys() {
        if name == CONTENT_LENGTH || headers.contains_key(name) {
            continue;
        }
        for value in extra.get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
}

/// Logs a request that failed with `err` and is answered with `status`:
/// at `error` for a 5xx or a panic, at `debug` for a 4xx (the client's
/// mistake, not the server's).
pub(crate) fn log_failure(err: &Error, status: http::StatusCode) {
    if status.is_server_error() || err.is_panic() {
        tracing::error!(status = status.as_u16(), error = %err, "request failed");
    } else {
        tracing::debug!(status = status.as_u16(), error = %err, "request failed");
    }
}
