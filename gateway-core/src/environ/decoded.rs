//! Percent-decoded views of the request path, and [`InvalidPath`], the
//! client's error when there is none: a 400, never a 500.
//!
//! ```
//! use gateway_core::{Body, Environ, http::StatusCode};
//!
//! let env = Environ::from_request(http::Request::get("/caf%C3%A9").body(Body::empty()).unwrap());
//! assert_eq!(env.path_info_decoded().unwrap(), "/café");
//!
//! let env = Environ::from_request(http::Request::get("/%FF").body(Body::empty()).unwrap());
//! let err = gateway_core::Error::from(env.path_info_decoded().unwrap_err());
//! assert_eq!(err.status(), StatusCode::BAD_REQUEST); // what `?` answers
//! ```

use std::borrow::Cow;

use http::StatusCode;

/// A request path that does not percent-decode to text: a `%` not
/// followed by two hex digits, or decoded bytes that are not UTF-8. The
/// client sent it, so it maps to 400 Bad Request: an application that
/// reads [`Environ::path_info_decoded`](crate::Environ::path_info_decoded)
/// with `?` answers 400, and [`Error::status`](crate::Error::status) finds
/// the status however the error is wrapped.
///
/// ```
/// use gateway_core::environ::InvalidPath;
/// use gateway_core::{Body, Environ};
///
/// let env = Environ::from_request(http::Request::get("/a%zz").body(Body::empty()).unwrap());
/// assert_eq!(env.path_info_decoded(), Err(InvalidPath::Escape { offset: 2 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPath {
    /// A `%` at this byte offset (of the raw path, or `script_name`) is
    /// not followed by two hex digits.
    #[error("invalid percent-encoding at byte {offset} of the request path")]
    Escape {
        /// The offset of the `%`.
        offset: usize,
    },
    /// The percent-decoded path is not UTF-8.
    #[error("the request path is not UTF-8 once percent-decoded")]
    Utf8(#[source] std::str::Utf8Error),
}

impl InvalidPath {
    /// The HTTP status this error maps to: 400 Bad Request.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

/// `raw` percent-decoded, strictly: every `%` starts an escape, and the
/// result is UTF-8. Borrows when there is nothing to decode.
pub(super) fn percent_decode(raw: &str) -> Result<Cow<'_, str>, InvalidPath> {
    let bytes = raw.as_bytes();
    for (offset, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let escape = bytes.get(offset + 1..offset + 3);
        if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
            return Err(InvalidPath::Escape { offset });
        }
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(InvalidPath::Utf8)
}
