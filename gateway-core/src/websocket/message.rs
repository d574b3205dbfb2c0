//! The WebSocket message types: this crate's own, not tungstenite's, so
//! that a tungstenite upgrade (a breaking 0.x release every few months) is
//! not a breaking change of the contract crate. Converting costs nothing:
//! both sides hold [`Bytes`].

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use tokio_tungstenite::tungstenite::{self as ts, protocol::frame::coding::CloseCode as TsCode};

/// A close code (RFC 6455 §7.4); the registered ones are in [`close_code`].
///
/// [`close_code`]: super::close_code
pub type CloseCode = u16;

/// One WebSocket message.
///
/// The variants are RFC 6455's frame types, which the protocol fixes: the
/// enum is exhaustive so that a `match` need not guess at more.
/// Fragmentation is invisible: a message split into frames arrives whole.
///
/// ```
/// use gateway_core::websocket::Message;
///
/// let msg = Message::from("hello");
/// assert_eq!(msg.as_text(), Some("hello"));
/// assert_eq!(Message::from(vec![1u8, 2, 3]).into_data(), &[1u8, 2, 3][..]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message: always valid UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes). Received pings are answered with a pong
    /// automatically; they are shown for heartbeat bookkeeping.
    Ping(Bytes),
    /// A pong (at most 125 bytes): the answer to a ping, or a one-way
    /// heartbeat.
    Pong(Bytes),
    /// A close frame, with its code and reason if it carried one. A
    /// received close is answered automatically; after it,
    /// [`WebSocket::recv`](super::WebSocket::recv) returns `None`.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    ///
    /// ```
    /// let msg = gateway_core::websocket::Message::text(format!("{} items", 3));
    /// assert_eq!(msg.as_text(), Some("3 items"));
    /// ```
    pub fn text(text: impl Into<Utf8Bytes>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    ///
    /// ```
    /// let msg = gateway_core::websocket::Message::binary(&b"\x00\x01"[..]);
    /// assert_eq!(msg.into_data(), &b"\x00\x01"[..]);
    /// ```
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }

    /// The text of a text message; `None` for the other kinds.
    ///
    /// ```
    /// use gateway_core::websocket::Message;
    /// assert_eq!(Message::binary(&b"hi"[..]).as_text(), None);
    /// ```
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The payload as bytes (a close frame's reason, for a close).
    ///
    /// ```
    /// use gateway_core::websocket::Message;
    /// assert_eq!(Message::text("hi").into_data(), "hi");
    /// ```
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(text) => text.0.into(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data,
            Message::Close(frame) => frame.map_or_else(Bytes::new, |f| f.reason.0.into()),
        }
    }

    pub(super) fn into_tungstenite(self) -> ts::Message {
        match self {
            Message::Text(text) => ts::Message::Text(text.0),
            Message::Binary(data) => ts::Message::Binary(data),
            Message::Ping(data) => ts::Message::Ping(data),
            Message::Pong(data) => ts::Message::Pong(data),
            Message::Close(frame) => ts::Message::Close(frame.map(CloseFrame::into_tungstenite)),
        }
    }

    /// `None` for tungstenite's raw frames, which reading never yields.
    pub(super) fn from_tungstenite(msg: ts::Message) -> Option<Message> {
        Some(match msg {
            ts::Message::Text(text) => Message::Text(Utf8Bytes(text)),
            ts::Message::Binary(data) => Message::Binary(data),
            ts::Message::Ping(data) => Message::Ping(data),
            ts::Message::Pong(data) => Message::Pong(data),
            ts::Message::Close(frame) => Message::Close(frame.map(CloseFrame::from_tungstenite)),
            ts::Message::Frame(_) => return None,
        })
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Message {
        Message::text(text)
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Message {
        Message::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Message {
        Message::Binary(data.into())
    }
}

/// A close frame's content: a [`CloseCode`] and a reason of at most 123
/// bytes (longer reasons are cut at a character boundary when sent).
///
/// ```
/// use gateway_core::websocket::{close_code, CloseFrame};
///
/// let frame = CloseFrame::new(close_code::POLICY, "origin not allowed");
/// assert_eq!(frame.code, 1008);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// Why the connection closes.
    pub code: CloseCode,
    /// A human-readable reason (not meant for end users).
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> CloseFrame {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }

    pub(super) fn into_tungstenite(self) -> ts::protocol::CloseFrame {
        let mut reason = self.reason.0;
        // A control frame's payload is at most 125 bytes, 2 of them the code.
        if reason.len() > 123 {
            let mut end = 123;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason = ts::Utf8Bytes::from(&reason[..end]);
        }
        ts::protocol::CloseFrame {
            code: TsCode::from(self.code),
            reason,
        }
    }

    pub(super) fn from_tungstenite(frame: ts::protocol::CloseFrame) -> CloseFrame {
        CloseFrame {
            code: frame.code.into(),
            reason: Utf8Bytes(frame.reason),
        }
    }
}

/// Text that is valid UTF-8, held in [`Bytes`] (cheap to clone and to pass
/// on). Dereferences to `str`.
///
/// ```
/// use gateway_core::websocket::Utf8Bytes;
///
/// let text = Utf8Bytes::from_static("hello");
/// assert_eq!(text.len(), 5);
/// assert_eq!(text, "hello");
/// let bad = Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff"));
/// assert!(bad.is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(ts::Utf8Bytes);

impl Utf8Bytes {
    /// Text from a static string, without copying.
    pub const fn from_static(text: &'static str) -> Utf8Bytes {
        Utf8Bytes(ts::Utf8Bytes::from_static(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Utf8Bytes {
        Utf8Bytes(text.into())
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Utf8Bytes {
        Utf8Bytes(text.into())
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;

    /// Checks that `bytes` are UTF-8, without copying them.
    fn try_from(bytes: Bytes) -> Result<Utf8Bytes, Self::Error> {
        Ok(Utf8Bytes(bytes.try_into()?))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Bytes {
        text.0.into()
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
