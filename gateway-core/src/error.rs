//! Errors: the one [`Error`] an application returns, and the library's own
//! typed failures.
//!
//! An application's `call` returns `Result<Response, Error>`. [`Error`] has a
//! blanket conversion from every `std::error::Error + Send + Sync + 'static`,
//! so `?` works on any library's errors; the driver turns an `Err` into a
//! response with [`Error::status`] (500 unless stated) and a generic body,
//! never leaking the error's text to the client.
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

use std::fmt;

use http::StatusCode;

/// A type-erased, thread-safe error, as used across the `http`/`tower`
/// ecosystem.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error an application, a middleware or a body returns.
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
pub struct Error {
    status: Option<StatusCode>,
    source: BoxError,
}

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
            source: source.into(),
        }
    }

    /// Builds an error from an already boxed error.
    pub fn from_boxed(source: BoxError) -> Self {
        Error {
            status: None,
            source,
        }
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
            if let Some(body) = err.downcast_ref::<BodyError>() {
                return body.status();
            }
            if let Some(path) = err.downcast_ref::<crate::environ::InvalidPath>() {
                return path.status();
            }
            if let Some(inner) = err.downcast_ref::<ErrorSource>() {
                return inner.status;
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
        match err.status {
            None => err.source,
            Some(status) => Box::new(ErrorSource {
                status,
                source: err.source,
            }),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("status", &self.status)
            .field("source", &self.source)
            .finish()
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

/// An [`Error`] with an explicit status, boxed (what `BoxError::from(Error)`
/// produces). Its status is found again by [`Error::status`].
#[derive(Debug)]
struct ErrorSource {
    status: StatusCode,
    source: BoxError,
}

impl fmt::Display for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.source)
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
/// [`StartResponse`](crate::StartResponse).
#[derive(Debug, thiserror::Error)]
pub(crate) enum InvalidResponse {
    /// A status, header name or header value was not valid.
    #[error("invalid response head: {0}")]
    Head(#[from] http::Error),
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
    fn explicit_status_wins_over_chain() {
        let mut e: Error = BodyError::LengthLimitExceeded { limit: 1 }.into();
        e.set_status(StatusCode::BAD_REQUEST);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
