//! The server's end of an open WebSocket: messages in and out over the
//! upgraded stream, the closing handshake, and the server's shutdown.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use futures_util::{SinkExt as _, StreamExt as _};
use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncWriteExt as _, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{
    self as ts, error::CapacityError, error::ProtocolError, protocol::Role,
    protocol::WebSocketConfig,
};

use super::close_code;
use super::message::{CloseCode, CloseFrame, Message};
use crate::upgrade::{Shutdown, Upgraded};

/// After a close this side sent because the peer broke the rules (1009,
/// 1002, 1007), the most bytes still read and thrown away while waiting for
/// the peer to close: closing with unread data would reset the connection
/// and could destroy the close frame before the peer reads it.
const LINGER_BYTES: usize = 4 << 20;

/// The reason sent with close 1001 on the server's shutdown.
const GOING_AWAY: &str = "server shutting down";

/// An open WebSocket connection: the server's end.
///
/// [`recv`](WebSocket::recv) and [`send`](WebSocket::send) exchange
/// [`Message`]s. Behind them:
///
/// - **Pings** are answered with a pong by the next `recv` or `send`, and
///   shown to the application as [`Message::Ping`].
/// - **A close from the client** is answered at once (the closing
///   handshake completes even if the handler returns right after); `recv`
///   shows it as [`Message::Close`] and then returns `None`.
/// - **The server's graceful shutdown** (the adapter's
///   [`Shutdown`](crate::upgrade::Shutdown)): the next `recv` or `send` —
///   or the pending one — sends close 1001 (Going Away), waits for the
///   client's close, discarding messages that arrive meanwhile, and then
///   `recv` returns the client's close and `None`, `send` an error. A
///   handler that awaits something else for long should also await
///   `recv` (or use [`WebSocket::shutdown`]) so that it notices. The
///   adapter waits for the handler up to its drain deadline, then drops it.
/// - **A message over the limit** ([`max_message_size`]) is refused with
///   close 1009 (Message Too Big); a protocol violation with 1002, text
///   that is not UTF-8 with 1007. `recv` returns the error, then `None`.
///
/// Dropping the `WebSocket` closes the connection (without a closing
/// handshake: [`close`](WebSocket::close) first to do one).
///
/// [`max_message_size`]: super::WebSocketUpgrade::max_message_size
pub struct WebSocket {
    inner: WebSocketStream<Upgraded>,
    shutdown: Shutdown,
    /// Whether `recv` saw the shutdown pending since the last `send`: then
    /// `send` need not poll it again (an echo's `send` follows a `recv`).
    shutdown_checked: bool,
    protocol: Option<HeaderValue>,
    state: State,
}

#[derive(Debug)]
enum State {
    Open,
    /// This side closes with the frame: send it, then wait for the peer's.
    Closing(CloseFrame),
    /// The peer broke the protocol: close with `code`, stop reading frames,
    /// linger, and report `error`.
    Failing(CloseCode, Option<WebSocketError>),
    Closed,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What [`WebSocket::recv`] waits for.
enum Event {
    Shutdown,
    Next(Option<Result<ts::Message, ts::Error>>),
}

impl WebSocket {
    /// Starts speaking the protocol on `upgraded` as the server (the
    /// handshake is done: the switching response was sent).
    pub(super) async fn from_upgraded(
        upgraded: Upgraded,
        config: WebSocketConfig,
        protocol: Option<HeaderValue>,
    ) -> WebSocket {
        let shutdown = upgraded.shutdown();
        let inner = WebSocketStream::from_raw_socket(upgraded, Role::Server, Some(config)).await;
        WebSocket {
            inner,
            shutdown,
            shutdown_checked: false,
            protocol,
            state: State::Open,
        }
    }

    /// Receives the next message; `None` once the connection is closed.
    ///
    /// An `Err` is final: the connection failed (an I/O error, or the
    /// client broke the protocol — see [`WebSocketError::close_code`]), and
    /// the next call returns `None`.
    ///
    /// Cancel-safe while the connection is open: a `recv` dropped in a
    /// `select!` loses no message.
    pub async fn recv(&mut self) -> Option<Result<Message, WebSocketError>> {
        loop {
            match &mut self.state {
                State::Open => {}
                State::Closing(_) => return self.finish_close().await.map(Ok),
                State::Failing(..) => return self.fail().await.map(Err),
                State::Closed => return None,
            }
            let event = {
                let (shutdown, inner) = (&mut self.shutdown, &mut self.inner);
                poll_fn(|cx| {
                    if Pin::new(&mut *shutdown).poll(cx).is_ready() {
                        return Poll::Ready(Event::Shutdown);
                    }
                    inner.poll_next_unpin(cx).map(Event::Next)
                })
                .await
            };
            self.shutdown_checked = true;
            match event {
                Event::Shutdown => self.state = State::Closing(going_away()),
                Event::Next(None) => self.state = State::Closed,
                Event::Next(Some(Ok(msg))) => {
                    if let ts::Message::Close(_) = msg {
                        // tungstenite queued the reply: send it now, and
                        // close the transport (the server closes first,
                        // RFC 6455 §7.1.1), so that the handshake completes
                        // even if the handler returns on this message.
                        let _ = self.inner.flush().await;
                        self.close_transport().await;
                    }
                    if let Some(msg) = Message::from_tungstenite(msg) {
                        return Some(Ok(msg));
                    }
                }
                Event::Next(Some(Err(err))) => match failure_code(&err) {
                    Some(code) => {
                        self.state = State::Failing(code, Some(WebSocketError::failed(err, code)));
                    }
                    None => {
                        self.state = State::Closed;
                        return Some(Err(WebSocketError::io(err)));
                    }
                },
            }
        }
    }

    /// Sends a message (and flushes it).
    ///
    /// Fails once the connection is closing or closed — after the server's
    /// shutdown began (this call then sends close 1001 and completes the
    /// closing handshake first), after a close was sent or received, or
    /// when the connection broke. Sending a [`Message::Close`] starts the
    /// closing handshake: keep calling [`recv`](WebSocket::recv) until it
    /// returns `None` to complete it, or use [`close`](WebSocket::close).
    pub async fn send(&mut self, msg: Message) -> Result<(), WebSocketError> {
        let checked = std::mem::take(&mut self.shutdown_checked);
        if matches!(self.state, State::Open) && !checked && self.shutdown_begun().await {
            self.state = State::Closing(going_away());
        }
        match self.state {
            State::Open => self
                .inner
                .send(msg.into_tungstenite())
                .await
                .map_err(WebSocketError::io),
            State::Closing(_) => {
                self.finish_close().await;
                Err(WebSocketError::closed())
            }
            State::Failing(..) => {
                let _ = self.fail().await;
                Err(WebSocketError::closed())
            }
            State::Closed => Err(WebSocketError::closed()),
        }
    }

    /// Closes the connection with `code` and `reason` (RFC 6455 §7.4; the
    /// reason is cut to 123 bytes) and waits for the client's close,
    /// discarding messages that arrive meanwhile. Returns the client's close
    /// frame, if it sent one.
    ///
    /// The wait is as long as the client takes: bound it with your
    /// runtime's timeout if the client may not answer (the adapter's drain
    /// deadline bounds it on shutdown).
    pub async fn close(
        mut self,
        code: CloseCode,
        reason: &str,
    ) -> Result<Option<CloseFrame>, WebSocketError> {
        if matches!(self.state, State::Open) {
            self.state = State::Closing(CloseFrame::new(code, reason));
        }
        match self.state {
            State::Closing(_) => Ok(self.finish_close().await.and_then(|msg| match msg {
                Message::Close(frame) => frame,
                _ => None,
            })),
            State::Failing(..) => Err(self.fail().await.unwrap_or_else(WebSocketError::closed)),
            State::Open | State::Closed => Ok(None),
        }
    }

    /// The subprotocol chosen in the handshake
    /// ([`WebSocketUpgrade::protocols`](super::WebSocketUpgrade::protocols)),
    /// if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_ref().and_then(|p| p.to_str().ok())
    }

    /// The server's shutdown signal: resolves when a graceful shutdown
    /// begins, for a handler that waits on something other than
    /// [`recv`](WebSocket::recv) and wants to react at once (the next
    /// `recv` or `send` closes with 1001 anyway).
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Whether the shutdown has begun (polled once, registering the task).
    async fn shutdown_begun(&mut self) -> bool {
        let shutdown = &mut self.shutdown;
        poll_fn(|cx| Poll::Ready(Pin::new(&mut *shutdown).poll(cx).is_ready())).await
    }

    /// Sends the close frame of `State::Closing` (again, harmlessly, if a
    /// cancelled call sent it already) and reads until the peer's close.
    /// Returns the peer's close as a message, `None` if the connection
    /// ended without one.
    async fn finish_close(&mut self) -> Option<Message> {
        let State::Closing(frame) = &self.state else {
            return None;
        };
        let frame = frame.clone().into_tungstenite();
        let mut reply = None;
        if self.inner.close(Some(frame)).await.is_ok() {
            while let Some(Ok(msg)) = self.inner.next().await {
                if let ts::Message::Close(frame) = msg {
                    reply = Message::from_tungstenite(ts::Message::Close(frame));
                }
            }
            self.close_transport().await;
        }
        self.state = State::Closed;
        reply
    }

    /// Shuts the transport's writing side (TCP FIN; TLS `close_notify`
    /// first, without which a TLS client sees a truncated stream).
    async fn close_transport(&mut self) {
        let _ = self.inner.get_mut().shutdown().await;
    }

    /// Sends the close of `State::Failing`, half-closes, and reads (and
    /// discards) until the peer closes, [`LINGER_BYTES`] were read, or the
    /// server's shutdown begins. Frames can no longer be parsed: the
    /// peer's bytes are in the middle of the refused one. Returns the
    /// error to report.
    async fn fail(&mut self) -> Option<WebSocketError> {
        let State::Failing(code, error) = &mut self.state else {
            return None;
        };
        let (code, error) = (*code, error.take());
        let reason = match code {
            close_code::SIZE => "message too big",
            close_code::INVALID => "invalid UTF-8",
            _ => "protocol error",
        };
        let frame = CloseFrame::new(code, reason).into_tungstenite();
        if self.inner.close(Some(frame)).await.is_ok() {
            let (io, shutdown) = (self.inner.get_mut(), &mut self.shutdown);
            if io.shutdown().await.is_ok() {
                let mut buf = [0u8; 8192];
                let mut left = LINGER_BYTES;
                while left > 0 {
                    let read = poll_fn(|cx| {
                        if Pin::new(&mut *shutdown).poll(cx).is_ready() {
                            return Poll::Ready(Ok(0));
                        }
                        let mut buf = ReadBuf::new(&mut buf);
                        Pin::new(&mut *io)
                            .poll_read(cx, &mut buf)
                            .map_ok(|()| buf.filled().len())
                    });
                    match read.await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            }
        }
        self.state = State::Closed;
        error
    }
}

fn going_away() -> CloseFrame {
    CloseFrame::new(close_code::AWAY, GOING_AWAY)
}

/// The close code for a read error that is the peer's fault; `None` for a
/// broken connection (nothing to send a close over).
fn failure_code(err: &ts::Error) -> Option<CloseCode> {
    match err {
        ts::Error::Capacity(CapacityError::MessageTooLong { .. }) => Some(close_code::SIZE),
        ts::Error::Capacity(_) => Some(close_code::PROTOCOL),
        ts::Error::Utf8(_) => Some(close_code::INVALID),
        ts::Error::Protocol(
            ProtocolError::ResetWithoutClosingHandshake | ProtocolError::SendAfterClosing,
        ) => None,
        ts::Error::Protocol(_) => Some(close_code::PROTOCOL),
        _ => None,
    }
}

/// A WebSocket connection failed or is closed.
///
/// ```
/// # async fn handler(mut ws: gateway_core::websocket::WebSocket) {
/// use gateway_core::websocket::close_code;
///
/// while let Some(msg) = ws.recv().await {
///     match msg {
///         Ok(msg) => { /* … */ }
///         Err(err) if err.close_code() == Some(close_code::SIZE) => {
///             tracing::debug!("client sent a message over the limit");
///         }
///         Err(err) => tracing::debug!(%err, "websocket failed"),
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct WebSocketError {
    close_code: Option<CloseCode>,
    source: Option<ts::Error>,
}

impl WebSocketError {
    fn failed(source: ts::Error, code: CloseCode) -> WebSocketError {
        WebSocketError {
            close_code: Some(code),
            source: Some(source),
        }
    }

    fn io(source: ts::Error) -> WebSocketError {
        WebSocketError {
            close_code: None,
            source: Some(source),
        }
    }

    fn closed() -> WebSocketError {
        WebSocketError {
            close_code: None,
            source: None,
        }
    }

    /// The close code this side sent because of the error: 1009 for a
    /// message over the limit, 1007 for text that is not UTF-8, 1002 for
    /// another protocol violation; `None` when the connection broke or was
    /// already closed.
    pub fn close_code(&self) -> Option<CloseCode> {
        self.close_code
    }

    /// Whether the error is that the connection is closing or closed (a
    /// `send` after a close or after the server's shutdown began).
    pub fn is_closed(&self) -> bool {
        matches!(
            self.source,
            None | Some(
                ts::Error::ConnectionClosed
                    | ts::Error::AlreadyClosed
                    | ts::Error::Protocol(ProtocolError::SendAfterClosing)
            )
        )
    }
}

impl fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source, self.close_code) {
            (None, _) => f.write_str("the WebSocket connection is closed"),
            (Some(err), Some(code)) => write!(f, "WebSocket closed with {code}: {err}"),
            (Some(err), None) => write!(f, "WebSocket failed: {err}"),
        }
    }
}

impl std::error::Error for WebSocketError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
