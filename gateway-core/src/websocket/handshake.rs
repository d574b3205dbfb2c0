//! The opening handshake's checks (RFC 6455 §4.2.1 for HTTP/1.1, RFC 8441
//! §5 for HTTP/2's extended CONNECT), as pure functions of the request
//! head, and the `Sec-WebSocket-Accept` value (§4.2.2).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{
    ALLOW, CONNECTION, CONTENT_LENGTH, HeaderName, HeaderValue, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, Method, StatusCode, Version};
use sha1::{Digest, Sha1};

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why a request is not an acceptable WebSocket opening handshake.
///
/// [`WebSocketUpgrade::from_environ`](super::WebSocketUpgrade::from_environ)
/// returns it inside a [`gateway_core::Error`](crate::Error) carrying
/// [`HandshakeError::status`] and the headers RFC 6455 asks for, so that an
/// application can pass it on with `?` (the client gets a 4xx, never a 500)
/// or look at it with [`Error::downcast_ref`](crate::Error::downcast_ref) to
/// answer in its own way (a page for a browser that opened the URL):
///
/// ```
/// use gateway_core::http::StatusCode;
/// use gateway_core::websocket::HandshakeError;
///
/// assert_eq!(HandshakeError::UnsupportedVersion.status(), StatusCode::UPGRADE_REQUIRED);
/// assert_eq!(HandshakeError::InvalidKey.status(), StatusCode::BAD_REQUEST);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// HTTP/1.0 (or older): WebSockets need HTTP/1.1 or HTTP/2. 400.
    #[error("a WebSocket handshake needs HTTP/1.1 or later")]
    HttpVersion,
    /// An HTTP/1.1 handshake whose method is not `GET`. 405 with
    /// `Allow: GET`.
    #[error("a WebSocket handshake over HTTP/1.1 must be a GET")]
    MethodNotGet,
    /// An HTTP/1.1 request without `Upgrade: websocket` — typically a
    /// browser that opened the URL as a page. 426 with
    /// `Upgrade: websocket` (RFC 9110 §15.5.22).
    #[error("not a WebSocket handshake: no `Upgrade: websocket`")]
    NotWebSocketUpgrade,
    /// `Connection` does not name `upgrade`. 400.
    #[error("a WebSocket handshake's `Connection` must name `upgrade`")]
    ConnectionNotUpgrade,
    /// `Sec-WebSocket-Version` is missing or not `13`. 426 with
    /// `Sec-WebSocket-Version: 13` (RFC 6455 §4.2.2).
    #[error("unsupported `Sec-WebSocket-Version` (this server speaks 13)")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing, repeated, or not the base64 form of
    /// 16 bytes. 400.
    #[error("`Sec-WebSocket-Key` must be the base64 form of 16 bytes")]
    InvalidKey,
    /// An HTTP/1.1 handshake with a body (`Content-Length` other than 0,
    /// or `Transfer-Encoding`): after the 101 the connection's bytes are
    /// the WebSocket's, so no body can precede them. 400.
    #[error("a WebSocket handshake has no body")]
    UnexpectedBody,
    /// An HTTP/2 (or later) request that is not an extended CONNECT with
    /// `:protocol` `websocket` (RFC 8441). 400.
    #[error(
        "not a WebSocket handshake: HTTP/2 needs an extended CONNECT with `:protocol websocket`"
    )]
    NotExtendedConnect,
    /// A valid HTTP/1.1 handshake that the adapter cannot switch protocols
    /// for (CGI, FastCGI, or an adapter that did not offer the upgrade). 501:
    /// the server's limitation, not the client's mistake.
    #[error("this server cannot switch protocols")]
    NotUpgradable,
}

impl HandshakeError {
    /// The status of the error response.
    ///
    /// ```
    /// use gateway_core::http::StatusCode;
    /// use gateway_core::websocket::HandshakeError;
    ///
    /// assert_eq!(HandshakeError::MethodNotGet.status(), StatusCode::METHOD_NOT_ALLOWED);
    /// ```
    pub fn status(self) -> StatusCode {
        match self {
            HandshakeError::MethodNotGet => StatusCode::METHOD_NOT_ALLOWED,
            HandshakeError::NotWebSocketUpgrade | HandshakeError::UnsupportedVersion => {
                StatusCode::UPGRADE_REQUIRED
            }
            HandshakeError::NotUpgradable => StatusCode::NOT_IMPLEMENTED,
            HandshakeError::HttpVersion
            | HandshakeError::ConnectionNotUpgrade
            | HandshakeError::InvalidKey
            | HandshakeError::UnexpectedBody
            | HandshakeError::NotExtendedConnect => StatusCode::BAD_REQUEST,
        }
    }

    /// This error as a [`gateway_core::Error`](crate::Error): its status
    /// and the fields the refusal carries (`Allow`, `Upgrade`,
    /// `Sec-WebSocket-Version`). `version` is the request's: HTTP/2 has no
    /// `Upgrade` field.
    pub(crate) fn into_error(self, version: Version) -> crate::Error {
        let error = crate::Error::with_status(self.status(), self);
        let upgrade_required = |error: crate::Error| {
            if version == Version::HTTP_11 {
                // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
                error
                    .with_header(UPGRADE, HeaderValue::from_static("websocket"))
                    .with_header(CONNECTION, HeaderValue::from_static("upgrade"))
            } else {
                error
            }
        };
        match self {
            HandshakeError::MethodNotGet => {
                error.with_header(ALLOW, HeaderValue::from_static("GET"))
            }
            HandshakeError::NotWebSocketUpgrade => upgrade_required(error),
            HandshakeError::UnsupportedVersion => upgrade_required(
                error.with_header(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13")),
            ),
            _ => error,
        }
    }
}

/// Checks an HTTP/1.1 opening handshake (RFC 6455 §4.2.1) and returns its
/// `Sec-WebSocket-Key`. Whether the adapter can switch protocols is the
/// caller's next question.
pub(crate) fn check_http1(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<HeaderValue, HandshakeError> {
    if version < Version::HTTP_11 {
        return Err(HandshakeError::HttpVersion);
    }
    if method != Method::GET {
        return Err(HandshakeError::MethodNotGet);
    }
    if !has_token(headers, &UPGRADE, "websocket") {
        return Err(HandshakeError::NotWebSocketUpgrade);
    }
    if !has_token(headers, &CONNECTION, "upgrade") {
        return Err(HandshakeError::ConnectionNotUpgrade);
    }
    check_version(headers)?;
    let key = only(headers, &SEC_WEBSOCKET_KEY).ok_or(HandshakeError::InvalidKey)?;
    if !valid_key(key.as_bytes()) {
        return Err(HandshakeError::InvalidKey);
    }
    let has_body = headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get_all(CONTENT_LENGTH)
            .iter()
            .any(|v| v.as_bytes().trim_ascii() != b"0");
    if has_body {
        return Err(HandshakeError::UnexpectedBody);
    }
    Ok(key.clone())
}

/// Checks an HTTP/2 (or later) extended CONNECT (RFC 8441 §5): the method,
/// the `:protocol` the adapter saw (`None` when the request carried none),
/// and the version. There is no key: the stream is already the client's.
pub(crate) fn check_extended_connect(
    method: &Method,
    protocol: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), HandshakeError> {
    if method != Method::CONNECT || !protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket")) {
        return Err(HandshakeError::NotExtendedConnect);
    }
    check_version(headers)
}

/// `Sec-WebSocket-Version` must be present once, and `13`.
fn check_version(headers: &HeaderMap) -> Result<(), HandshakeError> {
    match only(headers, &SEC_WEBSOCKET_VERSION) {
        Some(v) if v.as_bytes().trim_ascii() == b"13" => Ok(()),
        _ => Err(HandshakeError::UnsupportedVersion),
    }
}

/// The one value of `name`; `None` when it is absent or repeated.
fn only<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// Whether the comma-separated lists in every `name` field contain `token`
/// (ASCII case-insensitively; RFC 9110 §5.6.1 lists).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Whether `key` is the base64 form of 16 bytes (RFC 6455 §4.1: a
/// randomly chosen 16-byte nonce, so 24 characters with padding).
fn valid_key(key: &[u8]) -> bool {
    let key = key.trim_ascii();
    let mut nonce = [0u8; 18];
    key.len() == 24 && matches!(STANDARD.decode_slice(key, &mut nonce), Ok(16))
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455
/// §4.2.2): base64 of the SHA-1 of the key with the protocol's GUID
/// appended. The key is taken as sent, without surrounding whitespace.
///
/// ```
/// use gateway_core::http::HeaderValue;
/// use gateway_core::websocket::accept_key;
///
/// // The example of RFC 6455 §1.3.
/// let key = HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(accept_key(&key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &HeaderValue) -> HeaderValue {
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes().trim_ascii());
    sha1.update(GUID);
    let accept = STANDARD.encode(sha1.finalize());
    HeaderValue::try_from(accept).expect("base64 is a valid header value")
}
