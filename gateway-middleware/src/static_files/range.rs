//! Byte ranges (RFC 9110 §14) for [`StaticFiles`](super::StaticFiles):
//! [`parse`] a `Range` header against a representation's length, format
//! [`content_range`], and frame several ranges as `multipart/byteranges`
//! ([`Multipart`]).
//!
//! Crate-private: only static files serve ranges (an application that
//! wants them for dynamic content needs the whole representation's length
//! up front, which is the static-file case again).
//!
//! Serving a `Range` request for a `GET`:
//!
//! 1. [`evaluate`](crate::conditional::evaluate) the preconditions; then,
//!    if the request has a `Range` and
//!    [`if_range`](crate::conditional::if_range) agrees, [`parse`] it (a
//!    `Range` on any other method is ignored, RFC 9110 §14.2);
//! 2. [`Ranges::Full`]: `200` with the whole representation;
//!    [`Ranges::Unsatisfiable`]: `416` with `Content-Range:`
//!    [`unsatisfied_range`];
//!    [`Ranges::Partial`] with one range: `206` with that range's bytes and
//!    `Content-Range:` [`content_range`]; with several: `206` with a
//!    [`Multipart`] body.
//!
//! Every response to a resource that supports ranges says
//! `Accept-Ranges: bytes`.
//!
//! # Choices where the RFC leaves room
//!
//! Ignoring `Range` (sending `200` with everything) is always allowed, so
//! whatever is doubtful is answered with [`Ranges::Full`]:
//!
//! - a syntactically invalid header (`first > last`, a non-digit, a
//!   number that does not fit in a `u64`, an empty range set, a unit other
//!   than `bytes`);
//! - **more than 100 range specs** ([`MAX_RANGES`]); nginx has no limit by
//!   default, Apache allows 200;
//! - **requested lengths adding up to more than the representation**, after
//!   clamping to its end: overlapping ranges that would make the response
//!   larger than the file, Apache's rule after CVE-2011-3192 ("Apache
//!   Killer") and nginx's. `bytes=0-,0-` is sent as one `200`, not twice
//!   the file.
//!
//! The ranges kept are **sorted by start and coalesced** where they
//! overlap or touch, so `bytes=10-19,0-9` becomes `0-19`: a response never
//! repeats a byte, and a client gets fewer parts. RFC 9110 §14.6 says
//! parts SHOULD follow the order of the request; sorting is the price of
//! coalescing, and every part carries its own `Content-Range`.
//!
//! A representation of length 0 has no byte to send: any range with a
//! first position is unsatisfiable (`416`), while a suffix range
//! (`bytes=-5`), which RFC 9110 §14.1.1 counts as satisfiable, gets the
//! whole, empty representation (`200`).
//!
//! A request with several `Range` field lines has an invalid `Range`
//! (it is not a list); it is ignored rather than one of the lines parsed.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderValue;

use crate::header_list::{Elements, Quoting};

/// The most range specs a `Range` header may hold before it is ignored.
pub(super) const MAX_RANGES: usize = 100;

/// An inclusive byte range `start..=end` within a representation: `start`
/// is never greater than `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ByteRange {
    /// The first byte's offset.
    pub(super) start: u64,
    /// The last byte's offset (inclusive).
    pub(super) end: u64,
}

impl ByteRange {
    /// How many bytes it covers: at least one.
    #[allow(clippy::len_without_is_empty)] // never empty
    pub(super) fn len(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// What to send for a `Range` header: the outcome of [`parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Ranges {
    /// Send the whole representation (`200`): not the `bytes` unit,
    /// syntactically invalid, or refused as amplification (see the
    /// [module docs](self#choices-where-the-rfc-leaves-room)).
    Full,
    /// `206 Partial Content`: one or more satisfiable ranges, within the
    /// representation, sorted by start and coalesced (none overlap or
    /// touch).
    Partial(Vec<ByteRange>),
    /// `416 Range Not Satisfiable` with `Content-Range: bytes */LEN`
    /// ([`unsatisfied_range`]): no range in the set starts inside the
    /// representation.
    Unsatisfiable,
}

/// Parses a `Range` header value (RFC 9110 §14.2) for a representation of
/// `len` bytes.
///
/// The unit `bytes` is matched case-insensitively. Specs are `first-last`
/// (`last` past the end is clamped to it), `first-` (to the end) and
/// `-suffix` (the last `suffix` bytes; the whole representation when
/// longer, unsatisfiable when 0), separated by commas with optional
/// whitespace; empty elements are skipped. A spec starting at or after
/// `len` is unsatisfiable; the set is when all its specs are. See the
/// [module docs](self#choices-where-the-rfc-leaves-room) for what is
/// refused.
pub(super) fn parse(range: &HeaderValue, len: u64) -> Ranges {
    // A header value holds no CR, LF or form feed: `trim_ascii` strips
    // exactly OWS (spaces and tabs).
    let value = range.as_bytes().trim_ascii();
    let Some(set) = value
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case(b"bytes="))
        .map(|_| &value[6..])
    else {
        return Ranges::Full;
    };

    let mut ranges = Vec::new();
    let mut specs = 0;
    let mut requested: u64 = 0;
    let mut empty_suffix = false;
    for element in Elements::new(set, Quoting::None) {
        specs += 1;
        if specs > MAX_RANGES {
            return Ranges::Full;
        }
        let Some(spec) = Spec::parse(element) else {
            return Ranges::Full;
        };
        let range = match spec {
            Spec::From { first, last } if first < len => ByteRange {
                start: first,
                end: last.map_or(len - 1, |last| last.min(len - 1)),
            },
            Spec::Suffix(suffix) if suffix > 0 && len > 0 => ByteRange {
                start: len.saturating_sub(suffix),
                end: len - 1,
            },
            Spec::Suffix(suffix) => {
                empty_suffix |= suffix > 0;
                continue;
            }
            Spec::From { .. } => continue,
        };
        requested = requested.saturating_add(range.len());
        ranges.push(range);
    }

    if specs == 0 || requested > len || (ranges.is_empty() && empty_suffix) {
        return Ranges::Full;
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    Ranges::Partial(coalesce(ranges))
}

/// One syntactically valid range spec.
enum Spec {
    From { first: u64, last: Option<u64> },
    Suffix(u64),
}

impl Spec {
    fn parse(spec: &[u8]) -> Option<Spec> {
        let dash = spec.iter().position(|&b| b == b'-')?;
        let (first, last) = (&spec[..dash], &spec[dash + 1..]);
        if first.is_empty() {
            return digits(last).map(Spec::Suffix);
        }
        let first = digits(first)?;
        let last = match last {
            [] => None,
            last => Some(digits(last).filter(|&last| last >= first)?),
        };
        Some(Spec::From { first, last })
    }
}

/// `1*DIGIT` as a `u64`; `None` if empty, not digits, or too large.
fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Sorts by start and merges ranges that overlap or touch.
fn coalesce(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort_unstable_by_key(|r| r.start);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            // `end < len <= u64::MAX`, so `end + 1` cannot overflow.
            Some(last) if range.start <= last.end + 1 => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// The `Content-Range` of a `206` carrying `range` of a representation of
/// `len` bytes: `bytes START-END/LEN`.
pub(super) fn content_range(range: ByteRange, len: u64) -> HeaderValue {
    header_value(format!("bytes {}-{}/{len}", range.start, range.end))
}

/// The `Content-Range` of a `416`: `bytes */LEN`.
pub(super) fn unsatisfied_range(len: u64) -> HeaderValue {
    header_value(format!("bytes */{len}"))
}

fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).expect("digits and ASCII punctuation make a valid header value")
}

/// The `multipart/byteranges` framing of several ranges (RFC 9110 §14.6),
/// computed without reading the content: the literal text between the
/// ranges, the exact `Content-Length`, and the `Content-Type` with its
/// boundary.
///
/// The body is the [`segments`](Multipart::segments) in order: each
/// [`Segment::Literal`] as is, each [`Segment::Range`] replaced by those
/// bytes of the representation. For ranges `r1`, `r2` it reads (RFC 2046
/// §5.1.1: the CRLF before a boundary belongs to the boundary):
///
/// ```text
/// --BOUNDARY\r\n
/// Content-Type: text/plain\r\n          (when the representation has one)
/// Content-Range: bytes 0-9/1000\r\n
/// \r\n
/// <r1>\r\n
/// --BOUNDARY\r\n
/// Content-Type: text/plain\r\n
/// Content-Range: bytes 500-509/1000\r\n
/// \r\n
/// <r2>\r\n
/// --BOUNDARY--\r\n
/// ```
///
/// The boundary is 32 hex digits, different for every `Multipart` and
/// hard to guess: a keyed hash (the process's random `RandomState` key) of
/// a process-wide counter and the time. It is not checked against the
/// content (that would mean reading it); a client that wants to inject a
/// fake part would have to predict it.
///
/// Send a multipart body only for two or more ranges: a single range is a
/// plain `206` with [`content_range`] (RFC 9110 §14.6 forbids a multipart
/// response for one range).
#[derive(Clone, Debug)]
pub(super) struct Multipart {
    content_type: HeaderValue,
    ranges: Vec<ByteRange>,
    /// `ranges.len() + 1` pieces of text: before each range, then the end.
    literals: Vec<Bytes>,
    content_length: u64,
}

/// One piece of a [`Multipart`] body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Segment<'a> {
    /// Framing text to send as is.
    Literal(&'a Bytes),
    /// These bytes of the representation.
    Range(ByteRange),
}

impl Multipart {
    /// The framing for `ranges` (as [`Ranges::Partial`] gives them: each
    /// within a representation of `len` bytes) of a representation whose
    /// `Content-Type` is `content_type`, repeated in each part.
    pub(super) fn new(
        ranges: &[ByteRange],
        len: u64,
        content_type: Option<&HeaderValue>,
    ) -> Multipart {
        let boundary = boundary();
        let mut text = BytesMut::new();
        let mut ends = Vec::with_capacity(ranges.len() + 1);
        for (i, range) in ranges.iter().enumerate() {
            if i > 0 {
                text.put_slice(b"\r\n");
            }
            text.put_slice(b"--");
            text.put_slice(boundary.as_bytes());
            text.put_slice(b"\r\n");
            if let Some(content_type) = content_type {
                text.put_slice(b"Content-Type: ");
                text.put_slice(content_type.as_bytes());
                text.put_slice(b"\r\n");
            }
            text.put_slice(b"Content-Range: ");
            text.put_slice(content_range(*range, len).as_bytes());
            text.put_slice(b"\r\n\r\n");
            ends.push(text.len());
        }
        if !ranges.is_empty() {
            text.put_slice(b"\r\n");
        }
        text.put_slice(b"--");
        text.put_slice(boundary.as_bytes());
        text.put_slice(b"--\r\n");
        ends.push(text.len());

        let text = text.freeze();
        let mut start = 0;
        let literals = ends
            .into_iter()
            .map(|end| {
                let literal = text.slice(start..end);
                start = end;
                literal
            })
            .collect();
        let content_length = text.len() as u64 + ranges.iter().map(ByteRange::len).sum::<u64>();
        Multipart {
            content_type: header_value(format!("multipart/byteranges; boundary={boundary}")),
            ranges: ranges.to_vec(),
            literals,
            content_length,
        }
    }

    /// The response's `Content-Type`:
    /// `multipart/byteranges; boundary=...`.
    pub(super) fn content_type(&self) -> HeaderValue {
        self.content_type.clone()
    }

    /// The response's exact `Content-Length`: framing and ranges.
    pub(super) fn content_length(&self) -> u64 {
        self.content_length
    }

    /// The body, in order: framing text and ranges, alternating, starting
    /// and ending with text.
    pub(super) fn segments(&self) -> impl Iterator<Item = Segment<'_>> + '_ {
        let ranges = self.ranges.iter().map(|r| Segment::Range(*r));
        let mut literals = self.literals.iter().map(Segment::Literal);
        let last = literals.next_back();
        literals
            .zip(ranges)
            .flat_map(|(literal, range)| [literal, range])
            .chain(last)
    }
}

/// 32 hex digits, unique per call and hard to predict.
fn boundary() -> String {
    static KEY: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(Default::default);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut boundary = String::with_capacity(32);
    for half in 0u8..2 {
        let mut hasher = key.build_hasher();
        hasher.write_u64(count);
        hasher.write_u128(nanos);
        hasher.write_u8(half);
        let _ = write!(boundary, "{:016x}", hasher.finish());
    }
    boundary
}

#[cfg(test)]
mod tests;
