//! What a connection keeps per request id: the params as they arrive,
//! and how much `STDIN` the request may send.

use bytes::{Bytes, BytesMut};
use gateway_core::http::StatusCode;
use gateway_core::{BodyError, Error};

/// A request's params as they arrive: most come in one record, kept as
/// it was read (no copy).
#[derive(Default)]
pub(super) enum Params {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
    /// Past the head limit: the rest is discarded, the answer is 431.
    TooLarge,
}

impl Params {
    pub(super) fn len(&self) -> usize {
        match self {
            Params::Empty | Params::TooLarge => 0,
            Params::One(b) => b.len(),
            Params::Many(b) => b.len(),
        }
    }

    pub(super) fn push(&mut self, content: Bytes, limit: usize) {
        let len = self.len() + content.len();
        *self = match std::mem::take(self) {
            Params::TooLarge => Params::TooLarge,
            _ if len > limit => Params::TooLarge,
            Params::Empty => Params::One(content),
            Params::One(first) => {
                let mut many = BytesMut::with_capacity(len);
                many.extend_from_slice(&first);
                many.extend_from_slice(&content);
                Params::Many(many)
            }
            Params::Many(mut many) => {
                many.extend_from_slice(&content);
                Params::Many(many)
            }
        };
    }
}

/// The most `STDIN` bytes a request may send.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limit {
    /// `CONTENT_LENGTH`: more is a 400.
    Exact(u64),
    /// No `CONTENT_LENGTH`: more than `max_body_size` is a 413.
    Max(u64),
}

impl Limit {
    pub(super) fn bytes(self) -> u64 {
        match self {
            Limit::Exact(n) | Limit::Max(n) => n,
        }
    }

    pub(super) fn error(self) -> Error {
        match self {
            Limit::Exact(_) => {
                Error::with_status(StatusCode::BAD_REQUEST, "STDIN longer than CONTENT_LENGTH")
            }
            Limit::Max(limit) => BodyError::LengthLimitExceeded { limit }.into(),
        }
    }
}
