//! WebSockets (feature `websocket`): the RFC 6455 handshake checks on the
//! [`upgrade`](crate::upgrade) API, and a [`WebSocket`] speaking the
//! protocol (framing by [tokio-tungstenite]) over the upgraded stream.
//!
//! **Mental model:** [`WebSocketUpgrade::from_environ`] checks that the
//! request is a WebSocket handshake and takes the environ's upgrade;
//! [`WebSocketUpgrade::on_upgrade`] returns the switching response with
//! your handler inside; the adapter sends it and then runs the handler with
//! the open [`WebSocket`] — in the adapter's task, so the server's graceful
//! shutdown reaches it (close 1001) and waits for it.
//!
//! ```
//! use gateway_core::websocket::{Message, WebSocketUpgrade};
//! use gateway_core::{driver, fn_app, Body, Environ};
//!
//! // An echo server. Serve it with `gateway_hyper::serve("127.0.0.1:8000", app)`.
//! let app = fn_app(|mut env: Environ| async move {
//!     let ws = WebSocketUpgrade::from_environ(&mut env)?;
//!     Ok(ws.on_upgrade(|mut socket| async move {
//!         while let Some(Ok(msg)) = socket.recv().await {
//!             if let Message::Text(_) | Message::Binary(_) = msg {
//!                 if socket.send(msg).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         }
//!     }))
//! });
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // A browser opening the URL as a page is told what to speak: 426.
//! let req = http::Request::get("/ws").header("host", "example.com").body(Body::empty()).unwrap();
//! let Ok(res) = driver::commit(&app, Environ::from_request(req)).await;
//! assert_eq!(res.status(), 426);
//! assert_eq!(res.headers()["upgrade"], "websocket");
//! # });
//! ```
//!
//! # The handshake
//!
//! [`WebSocketUpgrade::from_environ`] accepts:
//!
//! - **HTTP/1.1** (RFC 6455 §4.2.1): `GET`, `Upgrade: websocket`,
//!   `Connection` naming `upgrade`, `Sec-WebSocket-Version: 13`, and a
//!   `Sec-WebSocket-Key` that is the base64 form of 16 bytes. The answer is
//!   101 with `Sec-WebSocket-Accept`.
//! - **HTTP/2 extended CONNECT** (RFC 8441): `CONNECT` with `:protocol`
//!   `websocket` and `Sec-WebSocket-Version: 13`, no key. The answer is
//!   200. (Only where the adapter offers extended CONNECT.)
//!
//! Anything else is refused with an [`Error`] carrying a 4xx and a
//! [`HandshakeError`] (see it for each status): 405 with `Allow: GET` for
//! another method, 426 with `Upgrade: websocket` for a request that is not
//! an upgrade, 426 with `Sec-WebSocket-Version: 13` for another version, 400
//! for a missing or malformed key or `Connection`, or a body. A correct handshake on an
//! adapter that cannot switch protocols (CGI, FastCGI) gets 501. Never 500.
//!
//! # Cross-site WebSocket hijacking
//!
//! Browsers send cookies with a WebSocket handshake from any site, and the
//! same-origin policy does not apply to WebSockets: a page on
//! `evil.example` can open a socket to your server with your user's
//! session. A handler that relies on cookies must check
//! [`WebSocketUpgrade::origin`] — browsers always send `Origin`; clients
//! that are not browsers may omit it, and cannot be tricked into using a
//! user's cookies:
//!
//! ```
//! use gateway_core::websocket::WebSocketUpgrade;
//! use gateway_core::http::StatusCode;
//! use gateway_core::{fn_app, Environ, Error};
//!
//! let app = fn_app(|mut env: Environ| async move {
//!     // The origin of this server's own pages, as the client sees it
//!     // (behind a proxy, after `ProxyHeaders`).
//!     let own = env.host_url();
//!     let ws = WebSocketUpgrade::from_environ(&mut env)?;
//!     if ws.origin().is_some_and(|origin| !origin.eq_ignore_ascii_case(&own)) {
//!         return Err(Error::with_status(StatusCode::FORBIDDEN, "foreign origin"));
//!     }
//!     Ok(ws.on_upgrade(|socket| async move { drop(socket) }))
//! });
//! # let _ = app;
//! ```
//!
//! # Limits
//!
//! A message is held whole in memory before `recv` returns it, per
//! connection, and connections are long-lived and many: the defaults are
//! 1 MiB per message (as Python's `websockets`; axum and tungstenite allow
//! 64 MiB, which lets 100 clients pin 6.4 GB) and a frame limit equal to
//! the message limit, so that an oversize message sent as one frame — as
//! browsers send them — is refused at its header, before its bytes are
//! buffered. A message over the limit closes the connection with 1009.
//! Raise them with [`WebSocketUpgrade::max_message_size`] and
//! [`WebSocketUpgrade::max_frame_size`].
//!
//! # Why its own message types
//!
//! [`Message`], [`CloseFrame`] and [`Utf8Bytes`] are this crate's, not
//! tungstenite's re-exported: tungstenite makes a breaking 0.x release
//! every few months, and this crate is the stable contract. The
//! conversion moves [`Bytes`](bytes::Bytes), it copies nothing.
//!
//! [tokio-tungstenite]: https://docs.rs/tokio-tungstenite

mod handshake;
mod message;
mod socket;
#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;

use http::header::{ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_PROTOCOL, UPGRADE};
use http::{HeaderMap, HeaderValue, Version};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

pub use handshake::{HandshakeError, accept_key};
pub use message::{CloseCode, CloseFrame, Message, Utf8Bytes};
pub use socket::{WebSocket, WebSocketError};

use crate::upgrade::Upgrade;
use crate::{Environ, Error, Response};

/// The default [`WebSocketUpgrade::max_message_size`]: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 20;

/// The registered close codes (RFC 6455 §7.4.1, and IANA's registry).
///
/// ```
/// use gateway_core::websocket::close_code;
/// assert_eq!(close_code::AWAY, 1001);
/// ```
pub mod close_code {
    use super::CloseCode;

    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = 1000;
    /// 1001: the server is going down, or a browser left the page. Sent
    /// on the server's graceful shutdown.
    pub const AWAY: CloseCode = 1001;
    /// 1002: a protocol error.
    pub const PROTOCOL: CloseCode = 1002;
    /// 1003: a kind of data the endpoint cannot accept (text for a
    /// binary-only endpoint, say).
    pub const UNSUPPORTED: CloseCode = 1003;
    /// 1005: no code was present (never sent; reported for a bare close).
    pub const STATUS: CloseCode = 1005;
    /// 1006: closed without a close frame (never sent).
    pub const ABNORMAL: CloseCode = 1006;
    /// 1007: data inconsistent with the message's type (text that is not
    /// UTF-8).
    pub const INVALID: CloseCode = 1007;
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY: CloseCode = 1008;
    /// 1009: a message too big to process.
    pub const SIZE: CloseCode = 1009;
    /// 1010: the client expected an extension the server did not offer.
    pub const EXTENSION: CloseCode = 1010;
    /// 1011: the server met an unexpected condition.
    pub const ERROR: CloseCode = 1011;
    /// 1012: the server is restarting.
    pub const RESTART: CloseCode = 1012;
    /// 1013: try again later (overload).
    pub const AGAIN: CloseCode = 1013;
}

/// A checked WebSocket handshake, holding the environ's upgrade: configure
/// it, then answer with [`WebSocketUpgrade::on_upgrade`].
///
/// See the [module documentation](self) for an example.
pub struct WebSocketUpgrade {
    upgrade: Upgrade,
    /// `None` for HTTP/2's extended CONNECT, which has no key.
    key: Option<HeaderValue>,
    origin: Option<HeaderValue>,
    requested: Vec<String>,
    selected: Option<HeaderValue>,
    max_message_size: usize,
    max_frame_size: Option<usize>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("extended_connect", &self.key.is_none())
            .field("origin", &self.origin)
            .field("requested", &self.requested)
            .field("selected", &self.selected)
            .field("max_message_size", &self.max_message_size)
            .field("max_frame_size", &self.max_frame_size)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// Checks that `env` is a WebSocket opening handshake and takes its
    /// upgrade ([`Environ::upgrade`]).
    ///
    /// # Errors
    ///
    /// An [`Error`] with a 4xx status (501 when the adapter cannot switch
    /// protocols) wrapping a [`HandshakeError`], with the fields RFC 6455
    /// asks for on the refusal; see the [module documentation](self). The
    /// environ's upgrade is left in place on an HTTP/1.1 refusal.
    pub fn from_environ(env: &mut Environ) -> Result<WebSocketUpgrade, Error> {
        let version = env.version();
        let refuse = |e: HandshakeError| e.into_error(version);
        let (upgrade, key) = if version >= Version::HTTP_2 {
            let upgrade = env.upgrade();
            let protocol = upgrade
                .as_ref()
                .filter(|u| u.is_extended_connect())
                .map(Upgrade::protocol);
            handshake::check_extended_connect(env.method(), protocol, env.headers())
                .map_err(refuse)?;
            let upgrade = upgrade.ok_or_else(|| refuse(HandshakeError::NotExtendedConnect))?;
            (upgrade, None)
        } else {
            let key =
                handshake::check_http1(env.method(), version, env.headers()).map_err(refuse)?;
            let upgrade = env
                .upgrade()
                .filter(|u| !u.is_extended_connect())
                .ok_or_else(|| refuse(HandshakeError::NotUpgradable))?;
            (upgrade, Some(key))
        };
        let headers = env.headers();
        Ok(WebSocketUpgrade {
            upgrade,
            key,
            origin: headers.get(ORIGIN).cloned(),
            requested: requested_protocols(headers),
            selected: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: None,
        })
    }

    /// The request's `Origin`: where the page that opened the socket came
    /// from (`https://example.com`), or `None` when the client sent none
    /// (clients that are not browsers). A value that is not visible ASCII
    /// reads as `"null"` (an opaque origin). See the
    /// [module documentation](self#cross-site-websocket-hijacking) for the
    /// check every cookie-authenticated socket needs.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_ref().map(|o| o.to_str().unwrap_or("null"))
    }

    /// Whether this is an HTTP/2 extended CONNECT (RFC 8441) rather than an
    /// HTTP/1.1 upgrade.
    pub fn is_extended_connect(&self) -> bool {
        self.key.is_none()
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in
    /// its order.
    pub fn requested_protocols(&self) -> impl Iterator<Item = &str> {
        self.requested.iter().map(String::as_str)
    }

    /// Chooses the subprotocol: the first of `supported` (in the server's
    /// order of preference) that the client offered. It is sent back in
    /// `Sec-WebSocket-Protocol` and shown by [`WebSocket::protocol`]. When
    /// none matches, the response names none — the client decides whether
    /// to go on without one (browsers that offered some close the socket).
    ///
    /// ```
    /// # use gateway_core::websocket::WebSocketUpgrade;
    /// # fn choose(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    /// ws.protocols(["graphql-transport-ws", "graphql-ws"])
    /// # }
    /// ```
    pub fn protocols<I>(mut self, supported: I) -> WebSocketUpgrade
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.selected = supported
            .into_iter()
            .find(|p| self.requested.iter().any(|r| r == p.as_ref()))
            .and_then(|p| HeaderValue::from_str(p.as_ref()).ok());
        self
    }

    /// The subprotocol [`protocols`](WebSocketUpgrade::protocols) chose.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.selected.as_ref().and_then(|p| p.to_str().ok())
    }

    /// The largest message (all its frames together) the client may send,
    /// in bytes; a larger one closes the connection with 1009. Defaults to
    /// 1 MiB ([`DEFAULT_MAX_MESSAGE_SIZE`]; see the
    /// [module documentation](self#limits) for why not more).
    pub fn max_message_size(mut self, bytes: usize) -> WebSocketUpgrade {
        self.max_message_size = bytes;
        self
    }

    /// The largest frame the client may send, in bytes (checked at the
    /// frame's header, before its payload is read); a larger one closes
    /// the connection with 1009. Defaults to the message limit; a value
    /// above it has no effect.
    pub fn max_frame_size(mut self, bytes: usize) -> WebSocketUpgrade {
        self.max_frame_size = Some(bytes);
        self
    }

    fn config(&self) -> WebSocketConfig {
        let frame = self
            .max_frame_size
            .map_or(self.max_message_size, |f| f.min(self.max_message_size));
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(frame))
    }

    /// The switching response (101 with `Sec-WebSocket-Accept` on
    /// HTTP/1.1, 200 for an extended CONNECT, with the chosen subprotocol)
    /// with `handler` inside: after the adapter sends it, `handler` runs
    /// with the open [`WebSocket`]. Return the response from the
    /// application (middleware passes it through).
    ///
    /// When the handler returns, the connection closes.
    #[must_use = "the handler runs only if the response is returned"]
    pub fn on_upgrade<F, Fut>(self, handler: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let config = self.config();
        let mut headers = HeaderMap::new();
        if let Some(key) = &self.key {
            headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(SEC_WEBSOCKET_ACCEPT, accept_key(key));
        }
        if let Some(protocol) = &self.selected {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, protocol.clone());
        }
        let protocol = self.selected;
        self.upgrade.switch(headers, move |upgraded| async move {
            let socket = WebSocket::from_upgraded(upgraded, config, protocol).await;
            handler(socket).await;
        })
    }
}

/// The comma-separated tokens of every `Sec-WebSocket-Protocol` field.
fn requested_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}
