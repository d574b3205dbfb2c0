//! The response side: [`Response`] (an `http::Response<Body>`), the
//! WSGI-named builder [`start`] / [`StartResponse`], and [`ResponseExt`].
//!
//! ```
//! use gateway_core::{start, Body, Response};
//! use http::StatusCode;
//!
//! // WSGI-style: start(status, headers), then the body.
//! let res = start(200, [("content-type", "text/plain")]).body("hello")?;
//! assert_eq!(res.status(), StatusCode::OK);
//!
//! // Or the plain http type; both are the same `Response`.
//! let res: Response = Response::new(Body::from("hello"));
//! # Ok::<_, gateway_core::Error>(())
//! ```

use std::future::Future;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use crate::body_impl::{Body, BodyWriter};
use crate::error::{Error, InvalidResponse};

/// A response: `http::Response` with a [`Body`]. Converting to and from the
/// `http` type costs nothing because it is that type.
///
/// A response is a plain value — status, headers, extensions, body — that
/// any layer may build, inspect, edit or replace until the driver commits
/// it. Exactly one is returned per request: the signature of
/// [`Application::call`](crate::Application::call) is the typestate.
///
/// ```
/// use gateway_core::{start, Body, Response};
/// use http::StatusCode;
///
/// // WSGI-style: start(status, headers), then the body.
/// let res = start(200, [("content-type", "text/plain")]).body("hello")?;
/// assert_eq!(res.status(), StatusCode::OK);
///
/// // Or the plain http type; both are the same `Response`.
/// let res: Response = Response::new(Body::from("hello"));
/// # Ok::<_, gateway_core::Error>(())
/// ```
pub type Response = http::Response<Body>;

/// No headers, for [`start`]: `start(204, NO_HEADERS).empty()`.
pub const NO_HEADERS: [(HeaderName, HeaderValue); 0] = [];

/// Begins a response, WSGI's `start_response(status, headers)`.
///
/// `status` is anything convertible to a [`StatusCode`] (`200`,
/// `StatusCode::OK`); header names and values anything convertible to
/// `HeaderName`/`HeaderValue` (`&str`, the typed constants). Invalid ones
/// surface as an `Err` from the finishing method (`body`, `writer`,
/// `empty`), which the driver turns into a 500; its text names the header
/// whose value was invalid (or gives the position of an invalid name).
///
/// Values given as `&str` are copied; in a hot path use
/// `HeaderValue::from_static` (no copy).
///
/// ```
/// use gateway_core::start;
/// use http::header::CONTENT_TYPE;
/// let res = start(201, [(CONTENT_TYPE, "application/json")]).body(r#"{"id":1}"#)?;
/// assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
///
/// let err = start(200, [("content-type", "text/plain"), ("x-user", "ann\n")]).empty().unwrap_err();
/// assert_eq!(err.to_string(), "invalid value for response header `x-user`: failed to parse header value");
/// assert!(start(200, [("bad header", "x")]).empty().is_err());
/// # Ok::<_, gateway_core::Error>(())
/// ```
pub fn start<S, I, K, V>(status: S, headers: I) -> StartResponse
where
    S: TryInto<StatusCode>,
    S::Error: Into<http::Error>,
    I: IntoIterator<Item = (K, V)>,
    K: TryInto<HeaderName>,
    K::Error: Into<http::Error>,
    V: TryInto<HeaderValue>,
    V::Error: Into<http::Error>,
{
    let (mut head, ()) = http::Response::new(()).into_parts();
    let mut error = None;
    match status.try_into() {
        Ok(status) => head.status = status,
        Err(e) => error = Some(InvalidResponse::Status(e.into())),
    }
    for (name, value) in headers {
        append_header(&mut head.headers, &mut error, name, value);
    }
    StartResponse { head, error }
}

#[inline]
fn append_header<K, V>(
    headers: &mut HeaderMap,
    error: &mut Option<InvalidResponse>,
    name: K,
    value: V,
) where
    K: TryInto<HeaderName>,
    K::Error: Into<http::Error>,
    V: TryInto<HeaderValue>,
    V::Error: Into<http::Error>,
{
    if error.is_some() {
        return;
    }
    match (name.try_into(), value.try_into()) {
        (Ok(name), Ok(value)) => {
            headers.append(name, value);
        }
        // The first error stops the appending, so the map's length counts
        // the headers given before this one.
        (Err(e), _) => {
            *error = Some(InvalidResponse::HeaderName {
                position: headers.len() + 1,
                source: e.into(),
            });
        }
        (Ok(name), Err(e)) => {
            *error = Some(InvalidResponse::HeaderValue {
                name,
                source: e.into(),
            });
        }
    }
}

/// A response whose status and headers are chosen and whose body is not:
/// finish it with [`body`](StartResponse::body),
/// [`writer`](StartResponse::writer) or [`empty`](StartResponse::empty).
///
/// The head is built in place; an invalid status or header is kept aside
/// and reported by the finishing method.
#[must_use = "a StartResponse does nothing until finished with .body(), .writer() or .empty()"]
#[derive(Debug)]
pub struct StartResponse {
    head: http::response::Parts,
    error: Option<InvalidResponse>,
}

impl StartResponse {
    /// Adds one more header.
    pub fn header<K, V>(mut self, name: K, value: V) -> StartResponse
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        append_header(&mut self.head.headers, &mut self.error, name, value);
        self
    }

    /// Adds a typed extension to the response (for middleware above).
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> StartResponse {
        self.head.extensions.insert(value);
        self
    }

    /// Finishes with a body.
    #[inline]
    pub fn body(self, body: impl Into<Body>) -> Result<Response, Error> {
        match self.error {
            None => Ok(Response::from_parts(self.head, body.into())),
            Some(e) => Err(e.into()),
        }
    }

    /// Finishes with a push-style body, see [`Body::writer`].
    ///
    /// ```
    /// use gateway_core::start;
    /// let res = start(200, [("content-type", "text/event-stream")]).writer(|mut w| async move {
    ///     w.flush_headers().await?;
    ///     w.write("data: hello\n\n").await
    /// })?;
    /// # Ok::<_, gateway_core::Error>(())
    /// ```
    pub fn writer<F, Fut>(self, produce: F) -> Result<Response, Error>
    where
        F: FnOnce(BodyWriter) -> Fut,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.body(Body::writer(produce))
    }

    /// Finishes with an empty body.
    pub fn empty(self) -> Result<Response, Error> {
        self.body(Body::empty())
    }
}

/// Methods on [`Response`] beyond `http::Response`'s.
pub trait ResponseExt: Sized + sealed::Sealed {
    /// Pulls the commit point forward: polls the body to its first
    /// non-empty frame (see [`Body::prefetch`]) so a middleware can handle a
    /// first-chunk error itself, for example by answering with its own error
    /// page. The frame is kept and sent first.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::{Body, Error, Response, ResponseExt};
    /// let failing = Response::new(Body::writer(|_w| async { Err(Error::new("db gone")) }));
    /// assert!(failing.prefetch().await.is_err());
    /// # });
    /// ```
    fn prefetch(self) -> impl Future<Output = Result<Response, Error>> + Send;
}

impl ResponseExt for Response {
    async fn prefetch(mut self) -> Result<Response, Error> {
        self.body_mut().prefetch().await?;
        Ok(self)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Response {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_head_says_which_part() {
        let err = start(200, [("x-ok", "1"), ("x-name", "line\r\nbreak")])
            .empty()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for response header `x-name`: failed to parse header value"
        );
        let err = start(200, [("x-ok", "1")])
            .header("x-later", "tab\x7f")
            .empty()
            .unwrap_err();
        assert!(err.to_string().contains("`x-later`"), "{err}");
        let err = start(200, [("x-ok", "1"), ("x-two", "2"), ("bad name", "3")])
            .empty()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid name for response header 3: invalid HTTP header name"
        );
        let err = start(1000, NO_HEADERS).empty().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid response status: invalid status code"
        );
        // The first error is the one reported.
        let err = start(200, [("x-a", "\n"), ("bad name", "x")])
            .empty()
            .unwrap_err();
        assert!(err.to_string().contains("`x-a`"), "{err}");
    }
}
