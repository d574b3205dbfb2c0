//! [`TestResponse`]: a response read whole by a [`TestClient`](super::TestClient),
//! with the error behind it, and [`InvalidJson`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{fn_app, Error, Response};
//!
//! let client = TestClient::new(fn_app(|_| async { Err::<Response, _>(Error::new("db down")) }));
//! let res = client.get("/").send().await;
//! assert_eq!(res.status(), 500);
//! assert_eq!(res.error().unwrap().to_string(), "db down");
//! # });
//! ```

use std::fmt;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};

use crate::driver::ErrorCause;
use crate::error::Error;

/// How much of a body [`TestResponse`]'s `Debug` and [`InvalidJson`]
/// show.
const SHOWN: usize = 1024;

/// A response read whole by [`TestClient`](super::TestClient).
///
/// Its `Debug` shows the status, the headers, the body (as text when it is
/// UTF-8, the first KiB) and the [error](TestResponse::error) behind a
/// failure, so that `assert_eq!(res.status(), 200, "{res:?}")` says why it
/// was not 200.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::response::NO_HEADERS;
/// use gateway_core::{fn_app, start};
///
/// let app = fn_app(|env| async move {
///     let n: u8 = env.query().parse()?;
///     start(200, NO_HEADERS).body(format!("{n}"))
/// });
/// let res = TestClient::new(app).get("/?300").send().await;
/// assert_eq!(
///     format!("{res:?}"),
///     r#"TestResponse { status: 500, headers: {"content-type": "text/plain; charset=utf-8", "content-length": "21"}, body: "Internal Server Error", error: "number too large to fit in target type" }"#
/// );
/// # });
/// ```
pub struct TestResponse {
    pub(super) parts: http::response::Parts,
    pub(super) body: Bytes,
    pub(super) trailers: Option<HeaderMap>,
    pub(super) error: Option<Error>,
}

impl TestResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.parts.status
    }

    /// The headers, as a server would send them (with `Content-Length` when
    /// the size is known).
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// One header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The response extensions.
    pub fn extensions(&self) -> &http::Extensions {
        &self.parts.extensions
    }

    /// The body bytes (what was received before any abort).
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into a `T`; the error says what the body
    /// was instead.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::{fn_app, start};
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Item { id: u32 }
    ///
    /// let app = fn_app(|env| async move {
    ///     match env.path_info() {
    ///         "/item" => start(200, [("content-type", "application/json")]).body(r#"{"id":7}"#),
    ///         _ => start(404, [("content-type", "text/plain")]).body("no such item"),
    ///     }
    /// });
    /// let client = TestClient::new(app);
    /// let item: Item = client.get("/item").send().await.json().unwrap();
    /// assert_eq!(item.id, 7);
    ///
    /// let err = client.get("/other").send().await.json::<Item>().unwrap_err();
    /// assert!(err.to_string().contains("no such item"), "{err}");
    /// # });
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, InvalidJson> {
        serde_json::from_slice(&self.body).map_err(|source| InvalidJson {
            source,
            status: self.status(),
            content_type: self.header(CONTENT_TYPE.as_str()).map(str::to_owned),
            body: shown(&self.body),
        })
    }

    /// The trailers, if the body ended with some.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// Why the request failed, if it did: the application's `Err` or panic
    /// that this error response was made from (by the driver or by
    /// [`HandleErrors`](crate::HandleErrors); see
    /// [`ErrorCause`]), or else the error that aborted the body after the
    /// commit ([`abort_error`](TestResponse::abort_error)).
    ///
    /// A panic's message is in the error's text (`panicked: …`) and in
    /// [`Error::panic_message`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::response::NO_HEADERS;
    /// use gateway_core::{fn_app, start};
    ///
    /// let app = fn_app(|env| async move {
    ///     let id: u32 = env.query().parse()?; // `?` on a ParseIntError: 500
    ///     start(200, NO_HEADERS).body(format!("item {id}"))
    /// });
    /// let res = TestClient::new(app).get("/?x").send().await;
    /// assert_eq!(res.status(), 500);
    /// assert_eq!(res.error().unwrap().to_string(), "invalid digit found in string");
    /// # });
    /// ```
    pub fn error(&self) -> Option<&Error> {
        match self.parts.extensions.get::<ErrorCause>() {
            Some(cause) => Some(cause.error()),
            None => self.error.as_ref(),
        }
    }

    /// The error that aborted the body after the commit, if any (a server
    /// would have cut the connection or reset the stream).
    pub fn abort_error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Whether the body was aborted after the commit.
    pub fn is_aborted(&self) -> bool {
        self.error.is_some()
    }
}

impl fmt::Debug for TestResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TestResponse");
        d.field("status", &self.parts.status)
            .field("headers", &self.parts.headers)
            .field("body", &ShownBody(&self.body));
        if let Some(trailers) = &self.trailers {
            d.field("trailers", trailers);
        }
        if let Some(err) = self.error() {
            d.field("error", &err.to_string());
        }
        if self.is_aborted() {
            d.field("aborted", &true);
        }
        d.finish()
    }
}

/// A body for `Debug`: text when UTF-8, escaped bytes otherwise, cut at
/// [`SHOWN`] bytes.
struct ShownBody<'a>(&'a [u8]);

impl fmt::Debug for ShownBody<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = self.0;
        let cut = &all[..all.len().min(SHOWN)];
        match std::str::from_utf8(cut) {
            Ok(text) => fmt::Debug::fmt(text, f)?,
            // A cut may split a character: show the valid prefix as text.
            Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => {
                let text = std::str::from_utf8(&cut[..e.valid_up_to()]).unwrap_or_default();
                fmt::Debug::fmt(text, f)?;
            }
            Err(_) => fmt::Debug::fmt(&Bytes::copy_from_slice(cut), f)?,
        }
        if cut.len() < all.len() {
            write!(f, "… ({} bytes in all)", all.len())?;
        }
        Ok(())
    }
}

fn shown(body: &[u8]) -> String {
    format!("{:?}", ShownBody(body))
}

/// The error of [`TestResponse::json`]: the body is not the JSON asked
/// for. Its text gives the parser's reason, the status, the content type
/// and the body (the first KiB); its `source()` is the parser's error.
#[derive(Debug)]
pub struct InvalidJson {
    source: serde_json::Error,
    status: StatusCode,
    content_type: Option<String>,
    body: String,
}

impl fmt::Display for InvalidJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the response body is not the JSON expected: {} (status {}, content-type {}, body {})",
            self.source,
            self.status,
            self.content_type.as_deref().unwrap_or("none"),
            self.body
        )
    }
}

impl std::error::Error for InvalidJson {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
