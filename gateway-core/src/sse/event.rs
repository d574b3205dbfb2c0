//! [`Event`]: one server-sent event, encoded as it is built.
//!
//! ```
//! use gateway_core::sse::Event;
//!
//! let event = Event::new().event("price").id("42").data("one\ntwo");
//! assert_eq!(event.to_bytes(), "event: price\nid: 42\ndata: one\ndata: two\n\n");
//! ```

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

/// One server-sent event: fields in the `text/event-stream` format of the
/// HTML standard, encoded as they are set, so that no value can inject a
/// field or end the event early.
///
/// - [`data`](Event::data) is split on every line end the format knows
///   (CR, LF and CRLF), one `data:` line each; the client joins them with
///   LF again. Calling it again adds lines.
/// - [`event`](Event::event) and [`id`](Event::id) are one line each: a
///   value with a line end (or, for an id, NUL, which makes clients ignore
///   it) is refused — `try_event`/`try_id` return [`InvalidEvent`], the
///   others panic.
/// - [`retry`](Event::retry) tells the client how long to wait before it
///   reconnects; [`comment`](Event::comment) adds comment lines, which
///   clients ignore.
///
/// ```
/// use std::time::Duration;
/// use gateway_core::sse::Event;
///
/// let event = Event::new()
///     .data("line 1\r\nline 2\rdata: not a field")
///     .retry(Duration::from_secs(3));
/// assert_eq!(
///     event.to_bytes(),
///     "data: line 1\ndata: line 2\ndata: data: not a field\nretry: 3000\n\n",
/// );
/// assert!(Event::new().try_id("a\nb").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// The encoded fields, without the blank line that ends the event.
    fields: String,
}

/// An event name or id that would have broken the event: it contains a
/// line end (or, for an id, NUL).
#[derive(Debug, thiserror::Error)]
#[error("invalid server-sent event {field}: it contains {what}")]
#[non_exhaustive]
pub struct InvalidEvent {
    field: &'static str,
    what: &'static str,
}

impl Event {
    /// An empty event (sent alone, clients ignore it).
    pub fn new() -> Event {
        Event::default()
    }

    /// Adds `data`, one `data:` line per line of it (CR, LF and CRLF all
    /// end a line).
    pub fn data(mut self, data: impl AsRef<str>) -> Event {
        self.push_lines("data", data.as_ref());
        self
    }

    /// Sets the event type (`addEventListener(name, …)` on the client).
    ///
    /// # Panics
    ///
    /// When `name` contains CR or LF (see [`try_event`](Event::try_event)).
    pub fn event(self, name: impl AsRef<str>) -> Event {
        match self.try_event(name) {
            Ok(event) => event,
            Err(e) => panic!("{e}"),
        }
    }

    /// Sets the event type, failing when `name` contains CR or LF.
    pub fn try_event(mut self, name: impl AsRef<str>) -> Result<Event, InvalidEvent> {
        let name = name.as_ref();
        if name.contains(['\r', '\n']) {
            return Err(InvalidEvent {
                field: "event",
                what: "a line end",
            });
        }
        self.push_field("event", name);
        Ok(self)
    }

    /// Sets the event id, which the client sends back as `Last-Event-ID`
    /// when it reconnects (read it with
    /// [`last_event_id`](super::last_event_id)).
    ///
    /// # Panics
    ///
    /// When `id` contains NUL, CR or LF (see [`try_id`](Event::try_id)).
    pub fn id(self, id: impl AsRef<str>) -> Event {
        match self.try_id(id) {
            Ok(event) => event,
            Err(e) => panic!("{e}"),
        }
    }

    /// Sets the event id, failing when `id` contains NUL, CR or LF.
    pub fn try_id(mut self, id: impl AsRef<str>) -> Result<Event, InvalidEvent> {
        let id = id.as_ref();
        if id.contains(['\r', '\n']) {
            return Err(InvalidEvent {
                field: "id",
                what: "a line end",
            });
        }
        if id.contains('\0') {
            return Err(InvalidEvent {
                field: "id",
                what: "NUL",
            });
        }
        self.push_field("id", id);
        Ok(self)
    }

    /// Sets the client's reconnection delay (whole milliseconds).
    pub fn retry(mut self, delay: Duration) -> Event {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.push_field("retry", &ms.to_string());
        self
    }

    /// Adds comment lines (`: text`), which clients ignore; CR, LF and
    /// CRLF end a line.
    pub fn comment(mut self, text: impl AsRef<str>) -> Event {
        self.push_lines("", text.as_ref());
        self
    }

    /// The event as it goes on the wire, blank line included.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = String::with_capacity(self.fields.len() + 1);
        out.push_str(&self.fields);
        out.push('\n');
        Bytes::from(out)
    }

    pub(super) fn into_bytes(mut self) -> Bytes {
        self.fields.push('\n');
        Bytes::from(self.fields)
    }

    fn push_field(&mut self, name: &str, value: &str) {
        self.fields.push_str(name);
        self.fields.push_str(": ");
        self.fields.push_str(value);
        self.fields.push('\n');
    }

    fn push_lines(&mut self, name: &str, text: &str) {
        let mut rest = text;
        loop {
            match rest.find(['\r', '\n']) {
                None => {
                    self.push_field(name, rest);
                    return;
                }
                Some(i) => {
                    self.push_field(name, &rest[..i]);
                    let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                    rest = &rest[i + skip..];
                }
            }
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Event").field(&self.fields).finish()
    }
}
