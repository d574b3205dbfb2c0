//! Errors: the one [`Error`] an application returns, and the library's own
//! typed failures ([`BodyError`]).
//!
//! ```
//! use gateway_core::{Error, http::StatusCode};
//!
//! fn parse(id: &str) -> Result<u32, Error> {
//!     // `?` converts any std error; the status defaults to 500 ...
//!     let n: u32 = id.parse()?;
//!     if n == 0 {
//!         // ... or is chosen explicitly.
//!         return Err(Error::with_status(StatusCode::NOT_FOUND, "no such item"));
//!     }
//!     Ok(n)
//! }
//! assert_eq!(parse("x").unwrap_err().status(), StatusCode::INTERNAL_SERVER_ERROR);
//! assert_eq!(parse("0").unwrap_err().status(), StatusCode::NOT_FOUND);
//! ```
//!
//! An error may also carry response headers ([`Error::with_header`]): the
//! `Allow` of a 405, the `WWW-Authenticate` of a 401, the `Retry-After` of
//! a 503.

use std::fmt;
use std::sync::LazyLock;

use http::header::{HeaderValue, IntoHeaderName};
use http::{HeaderMap, StatusCode};

/// A type-erased, thread-safe error, as used across the `http`/`tower`
/// ecosystem.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error an application, a middleware or a body returns.
///
/// An application's `call` returns `Result<Response, Error>`. `Error` has a
/// blanket conversion from every `std::error::Error + Send + Sync +
/// 'static`, so `?` works on any library's errors; the driver turns an
/// `Err` into a response with [`Error::status`] and a generic body, never
/// leaking the error's text to the client
/// ([rule 1](crate::driver#the-commit-rules)).
///
/// ```
/// use gateway_core::{Error, http::StatusCode};
///
/// fn parse(id: &str) -> Result<u32, Error> {
///     // `?` converts any std error; the status defaults to 500 ...
///     let n: u32 = id.parse()?;
///     if n == 0 {
///         // ... or is chosen explicitly.
///         return Err(Error::with_status(StatusCode::NOT_FOUND, "no such item"));
///     }
///     Ok(n)
/// }
/// assert_eq!(parse("x").unwrap_err().status(), StatusCode::INTERNAL_SERVER_ERROR);
/// assert_eq!(parse("0").unwrap_err().status(), StatusCode::NOT_FOUND);
/// ```
///
/// It carries an optional HTTP status and the underlying cause. Like
/// `anyhow::Error`, it does not itself implement [`std::error::Error`]: that
/// is what allows the blanket `From<E: std::error::Error>` that makes `?`
/// work everywhere. It converts into [`BoxError`] (so it can be a body's
/// error type for hyper and tower) with `Into`.
///
/// The status is resolved by [`Error::status`]: an explicit status wins;
/// otherwise the source chain is searched for this crate's own typed errors
/// (for example [`BodyError::LengthLimitExceeded`] gives 413), and the
/// default is 500.
///
/// Headers added with [`Error::with_header`] go out on the error response
/// (the driver's, or the one [`HandleErrors`](crate::HandleErrors)
/// renders), so a refusal can say how to do better:
///
/// ```
/// use gateway_core::{Error, http::{header, HeaderValue, StatusCode}};
///
/// let e = Error::with_status(StatusCode::METHOD_NOT_ALLOWED, "POST only")
///     .with_header(header::ALLOW, HeaderValue::from_static("POST"));
/// assert_eq!(e.headers()[header::ALLOW], "POST");
/// ```
pub struct Error {
    status: Option<StatusCode>,
    /// Boxed: most errors carry none, and the error travels in every
    /// `Result<Response, Error>`.
    headers: Option<Box<HeaderMap>>,
    source: BoxError,
}

/// What [`Error::headers`] shows for an error without headers.
static EMPTY_HEADER_MAP: LazyLock<HeaderMap> = LazyLock::new(HeaderMap::new);

impl Error {
    /// Wraps any error (or message) with no explicit status.
    ///
    /// ```
    /// let e = gateway_core::Error::new("database unavailable");
    /// assert_eq!(e.status(), gateway_core::http::StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn new(source: impl Into<BoxError>) -> Self {
        Error {
            status: None,
            headers: None,
            source: source.into(),
        }
    }

    /// Wraps an error with the status the response should have.
    ///
    /// ```
    /// use gateway_core::{Error, http::StatusCode};
    /// let e = Error::with_status(StatusCode::FORBIDDEN, "not yours");
    /// assert_eq!(e.status(), StatusCode::FORBIDDEN);
    /// ```
    pub fn with_status(status: StatusCode, source: impl Into<BoxError>) -> Self {
        Error {
            status: Some(status),
            headers: None,
            source: source.into(),
        }
    }

    /// Builds an error from an already boxed error. An [`Error`] that was
    /// boxed with `BoxError::from` comes back whole, with its explicit
    /// status and its headers.
    ///
    /// ```
    /// use gateway_core::{BoxError, Error, http::StatusCode};
    ///
    /// let boxed = BoxError::from(Error::with_status(StatusCode::GONE, "moved away")
    ///     .with_header("x-reason", "archived".parse().unwrap()));
    /// let back = Error::from_boxed(boxed);
    /// assert_eq!(back.explicit_status(), Some(StatusCode::GONE));
    /// assert_eq!(back.headers()["x-reason"], "archived");
    /// ```
    pub fn from_boxed(source: BoxError) -> Self {
        match source.downcast::<ErrorSource>() {
            Ok(inner) => {
                let ErrorSource {
                    status,
                    headers,
                    source,
                } = *inner;
                Error {
                    status,
                    headers,
                    source,
                }
            }
            Err(source) => Error {
                status: None,
                headers: None,
                source,
            },
        }
    }

    /// Adds a header to the error response this error becomes (appended:
    /// a name may be given more than once). `Content-Type` and
    /// `Content-Length` describe the body the responder writes, so they
    /// are not taken from here; connection-specific fields (`Connection`,
    /// `Transfer-Encoding`, …) are removed as from any response (driver
    /// rule 3).
    ///
    /// A name given as `&'static str` must be a valid header name, as for
    /// [`HeaderMap::append`] (which panics otherwise); build a value from
    /// untrusted text with `HeaderValue::try_from(text)?`.
    ///
    /// ```
    /// use gateway_core::{driver, fn_app, Body, Environ, Error, Response};
    /// use gateway_core::http::{header, HeaderValue, StatusCode};
    ///
    /// let app = fn_app(|_env| async {
    ///     Err::<Response, _>(
    ///         Error::with_status(StatusCode::UNAUTHORIZED, "no credentials")
    ///             .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="admin""#)),
    ///     )
    /// });
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    /// let Ok(res) = driver::commit(&app, env).await;
    /// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(res.headers()[header::WWW_AUTHENTICATE], r#"Basic realm="admin""#);
    /// # });
    /// ```
    pub fn with_header(mut self, name: impl IntoHeaderName, value: HeaderValue) -> Self {
        self.headers_mut().append(name, value);
        self
    }

    /// The headers the error response will carry (empty unless added with
    /// [`Error::with_header`] or [`Error::headers_mut`]).
    pub fn headers(&self) -> &HeaderMap {
        self.headers.as_deref().unwrap_or(&EMPTY_HEADER_MAP)
    }

    /// The headers the error response will carry, to edit in place.
    ///
    /// ```
    /// use gateway_core::{Error, http::{header, HeaderValue, StatusCode}};
    ///
    /// let mut e = Error::with_status(StatusCode::SERVICE_UNAVAILABLE, "maintenance");
    /// e.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(120));
    /// assert_eq!(e.headers()[header::RETRY_AFTER], "120");
    /// ```
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_or_insert_with(Default::default)
    }

    /// The HTTP status this error maps to: the explicit one if set, else the
    /// status of the first of this crate's typed errors found in the source
    /// chain, else 500 Internal Server Error.
    pub fn status(&self) -> StatusCode {
        if let Some(status) = self.status {
            return status;
        }
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&*self.source);
        while let Some(err) = next {
            if let Some(status) = typed_status(err) {
                return status;
            }
            // io::Error::source() skips the error it wraps; look inside.
            next = match err.downcast_ref::<std::io::Error>() {
                Some(io) => io
                    .get_ref()
                    .map(|e| e as &(dyn std::error::Error + 'static)),
                None => err.source(),
            };
        }
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// The explicit status, if one was set with [`Error::with_status`] or
    /// [`Error::set_status`].
    pub fn explicit_status(&self) -> Option<StatusCode> {
        self.status
    }

    /// Sets the status this error maps to.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = Some(status);
    }

    /// The underlying error (named `inner`, not `source`: `Error` is not a
    /// `std::error::Error`, and this is the error itself, not its cause).
    ///
    /// ```
    /// let e = gateway_core::Error::new("database unavailable");
    /// assert_eq!(e.inner().to_string(), "database unavailable");
    /// ```
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }

    /// Returns the underlying error if it is an `E`.
    ///
    /// ```
    /// let e = gateway_core::Error::from(std::fmt::Error);
    /// assert!(e.downcast_ref::<std::fmt::Error>().is_some());
    /// ```
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.downcast_ref::<E>()
    }

    /// Whether this error is the driver's report of a panic.
    pub fn is_panic(&self) -> bool {
        self.downcast_ref::<Panicked>().is_some()
    }

    /// Consumes the error, returning the boxed underlying error (the
    /// status is lost; `BoxError::from(err)` keeps it).
    pub fn into_inner(self) -> BoxError {
        self.source
    }

    /// The panic's message, when this error is the report of a panic.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::{Body, Error, Response, ResponseExt};
    ///
    /// let res = Response::new(Body::writer(|_w| async { panic!("no disk") }));
    /// let err = res.prefetch().await.unwrap_err();
    /// assert_eq!(err.panic_message(), Some("no disk"));
    /// # });
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        self.downcast_ref::<Panicked>().map(|p| p.message.as_str())
    }

    /// The error a caught panic becomes, as the driver makes it: status
    /// 500, [`is_panic`](Error::is_panic) true, and the panic's message
    /// (when it was a string) in [`panic_message`](Error::panic_message).
    /// For a middleware that catches a panic of the application inside
    /// and lets it go on as an `Err`.
    ///
    /// ```
    /// use gateway_core::Error;
    ///
    /// let payload = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
    /// let err = Error::from_panic(&*payload);
    /// assert!(err.is_panic());
    /// assert_eq!(err.panic_message(), Some("boom"));
    /// assert_eq!(err.status(), 500);
    /// ```
    #[cold]
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        Error::panicked(payload)
    }

    pub(crate) fn panicked(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_owned()
        };
        Error::new(Panicked { message })
    }
}

impl<E> From<E> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(source: E) -> Self {
        Error::from_boxed(Box::new(source))
    }
}

impl From<Error> for BoxError {
    /// Keeps the status: if it was explicit, the boxed error still reports
    /// it through [`Error::status`] after a round trip through `BoxError`.
    fn from(err: Error) -> Self {
        match (err.status, err.headers) {
            (None, None) => err.source,
            (status, headers) => Box::new(ErrorSource {
                status,
                headers,
                source: err.source,
            }),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("status", &self.status);
        if let Some(headers) = &self.headers {
            d.field("headers", headers);
        }
        d.field("source", &self.source).finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{status}: {}", self.source),
            None => fmt::Display::fmt(&self.source, f),
        }
    }
}

/// An [`Error`] with an explicit status or headers, boxed (what
/// `BoxError::from(Error)` produces). Its status is found again by
/// [`Error::status`]; [`Error::from_boxed`] unwraps it whole.
#[derive(Debug)]
struct ErrorSource {
    status: Option<StatusCode>,
    headers: Option<Box<HeaderMap>>,
    source: BoxError,
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{status}: {}", self.source),
            None => fmt::Display::fmt(&self.source, f),
        }
    }
}

impl std::error::Error for ErrorSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// A panic caught by the driver, in an application or in a body; found
/// by [`Error::is_panic`].
#[derive(Debug, thiserror::Error)]
#[error("panicked: {message}")]
struct Panicked {
    message: String,
}

/// Failures of a request or response [`Body`](crate::Body).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The request body is longer than the configured limit. Maps to
    /// 413 Content Too Large.
    #[error("request body exceeds the limit of {limit} bytes")]
    LengthLimitExceeded {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The peer closed or reset the connection before the body ended.
    /// Maps to 400 Bad Request (nobody will read the response).
    #[error("the body was cut short by the peer")]
    Incomplete,
    /// A [`BodyWriter`](crate::BodyWriter) wrote after the body it feeds
    /// was dropped (the client went away).
    #[error("the body's reader is gone")]
    ReaderGone,
}

impl BodyError {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::LengthLimitExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Incomplete => StatusCode::BAD_REQUEST,
            BodyError::ReaderGone => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Failures found when building a response with
/// [`StartResponse`](crate::StartResponse): each says which part of the
/// head was invalid.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InvalidResponse {
    /// The status was not valid.
    #[error("invalid response status: {0}")]
    Status(http::Error),
    /// A header name was not valid; `position` counts from 1, in the order
    /// the headers were given.
    #[error("invalid name for response header {position}: {source}")]
    HeaderName {
        position: usize,
        source: http::Error,
    },
    /// The value of header `name` was not valid.
    #[error("invalid value for response header `{name}`: {source}")]
    HeaderValue {
        name: http::HeaderName,
        source: http::Error,
    },
}

/// The status one of this crate's typed errors maps to, if `err` is one.
fn typed_status(err: &(dyn std::error::Error + 'static)) -> Option<StatusCode> {
    err.downcast_ref::<BodyError>()
        .map(BodyError::status)
        .or_else(|| {
            err.downcast_ref::<crate::environ_impl::InvalidPath>()
                .map(crate::environ_impl::InvalidPath::status)
        })
        .or_else(|| err.downcast_ref::<ErrorSource>().and_then(|e| e.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_defaults_to_500() {
        assert_eq!(Error::new("x").status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn body_limit_maps_to_413_even_when_wrapped() {
        let e: Error = BodyError::LengthLimitExceeded { limit: 10 }.into();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // Wrapped in an io::Error, as a reader adaptor would.
        let io = std::io::Error::other(BodyError::LengthLimitExceeded { limit: 1 });
        let e: Error = io.into();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn explicit_status_survives_boxing() {
        let e = Error::with_status(StatusCode::IM_A_TEAPOT, "tea");
        let boxed: BoxError = e.into();
        let back = Error::from_boxed(boxed);
        assert_eq!(back.status(), StatusCode::IM_A_TEAPOT);
    }

    #[test]
    fn headers_survive_boxing() {
        let e = Error::new("busy").with_header(http::header::RETRY_AFTER, HeaderValue::from(5));
        let back = Error::from_boxed(e.into());
        assert_eq!(back.headers()[http::header::RETRY_AFTER], "5");
        assert_eq!(back.explicit_status(), None);
        assert_eq!(back.to_string(), "busy");
    }

    #[test]
    fn headers_are_empty_unless_added() {
        let e = Error::new("x");
        assert!(e.headers().is_empty());
        let e = e
            .with_header("vary", HeaderValue::from_static("a"))
            .with_header("vary", HeaderValue::from_static("b"));
        assert_eq!(e.headers().get_all("vary").iter().count(), 2);
    }

    #[test]
    fn explicit_status_wins_over_chain() {
        let mut e: Error = BodyError::LengthLimitExceeded { limit: 1 }.into();
        e.set_status(StatusCode::BAD_REQUEST);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
