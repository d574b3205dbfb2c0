//! [`AppError`]: the error a handler returns, which renders as a response.

use std::borrow::Cow;
use std::fmt;

use gateway_core::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use gateway_core::http::{HeaderMap, StatusCode};
use gateway_core::{Body, Error, Response};

/// A failed request: a status, a message for the client, extra headers,
/// and (for failures of the server) the cause.
///
/// Handlers return `Result<Response, AppError>` and use `?`: every
/// `gateway_core::Error` converts (keeping its status, so a body over the
/// limit is 413), and the extractors on [`Request`](super::Request) fail
/// with the right 4xx already.
///
/// The [`Router`](super::Router) answers a client error (4xx) itself with
/// [`AppError::into_response`]: a JSON body
/// `{"error":{"status":404,"message":"…"}}`. A server error (5xx) goes to
/// the driver as an `Err` instead, so the stack sees the failure: the
/// driver logs it with its cause and answers with its generic page, and a
/// middleware above can report it. The client never sees the cause.
///
/// ```
/// use gateway_examples::mini_framework::AppError;
/// use gateway_core::http::StatusCode;
///
/// let e = AppError::new(StatusCode::CONFLICT, "title already taken");
/// let res = e.into_response();
/// assert_eq!(res.status(), StatusCode::CONFLICT);
/// assert_eq!(res.headers()["content-type"], "application/json");
/// ```
pub struct AppError {
    // Boxed: errors are the rare path, and a one-pointer `Err` keeps every
    // `Result<_, AppError>` as small as its `Ok`.
    inner: Box<Inner>,
}

struct Inner {
    status: StatusCode,
    message: Cow<'static, str>,
    headers: HeaderMap,
    source: Option<Error>,
}

impl AppError {
    /// An error with `status` and a message shown to the client.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> AppError {
        AppError {
            inner: Box::new(Inner {
                status,
                message: message.into(),
                headers: HeaderMap::new(),
                source: None,
            }),
        }
    }

    /// 404 Not Found with `message`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, message)
    }

    /// Adds a header to the rendered response (`Allow` on a 405,
    /// `WWW-Authenticate` on a 401).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> AppError {
        self.inner.headers.append(name, value);
        self
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Renders the error: its status and headers, and a JSON body with the
    /// status and the message.
    pub fn into_response(self) -> Response {
        let Inner {
            status,
            message,
            headers,
            ..
        } = *self.inner;
        let body = serde_json::json!({
            "error": { "status": status.as_u16(), "message": message }
        });
        let mut res = Response::new(Body::from(body.to_string()));
        *res.status_mut() = status;
        *res.headers_mut() = headers;
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    }
}

impl From<Error> for AppError {
    /// Keeps the error's status. A client error's text becomes the message
    /// (the library's own 4xx errors say what was wrong with the request);
    /// a server error's stays private, kept as the cause.
    fn from(err: Error) -> AppError {
        let status = err.status();
        let message = if status.is_server_error() {
            Cow::Borrowed("internal server error")
        } else {
            Cow::Owned(err.inner().to_string())
        };
        let mut app_error = AppError::new(status, message);
        app_error.inner.source = Some(err);
        app_error
    }
}

impl From<AppError> for Error {
    /// Back to the gateway's error, with the status; the cause if there is
    /// one, else the message. Headers are dropped: this is for the
    /// driver's error path, which renders its own page.
    fn from(err: AppError) -> Error {
        let Inner {
            status,
            message,
            source,
            ..
        } = *err.inner;
        let mut out = source.unwrap_or_else(|| Error::new(message.into_owned()));
        out.set_status(status);
        out
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppError")
            .field("status", &self.inner.status)
            .field("message", &self.inner.message)
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.status, self.inner.message)
    }
}
