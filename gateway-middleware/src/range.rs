//! Byte ranges (RFC 9110 §14): [`parse`] a `Range` header against a
//! representation's length, format [`content_range`], and frame several
//! ranges as `multipart/byteranges` ([`Multipart`]).
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
//! Every response to a resource that supports ranges should say
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
//! (it is not a list); ignore it rather than parse one of the lines.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderValue;

/// The most range specs a `Range` header may hold before it is ignored.
pub const MAX_RANGES: usize = 100;

/// An inclusive byte range `start..=end` within a representation: `start`
/// is never greater than `end`.
///
/// ```
/// use gateway_middleware::range::ByteRange;
/// assert_eq!(ByteRange { start: 0, end: 99 }.len(), 100);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte's offset.
    pub start: u64,
    /// The last byte's offset (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// How many bytes it covers: at least one.
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// What to send for a `Range` header: the outcome of [`parse`].
///
/// ```
/// use gateway_middleware::range::{ByteRange, Ranges, parse};
/// use http::HeaderValue;
///
/// let range = HeaderValue::from_static("bytes=0-99");
/// assert_eq!(parse(&range, 1000), Ranges::Partial(vec![ByteRange { start: 0, end: 99 }]));
/// assert_eq!(parse(&range, 0), Ranges::Unsatisfiable);
/// assert_eq!(parse(&HeaderValue::from_static("lines=1-2"), 1000), Ranges::Full);
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ranges {
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
///
/// ```
/// use gateway_middleware::range::{ByteRange, Ranges, parse};
/// use http::HeaderValue;
///
/// let r = |s, e| ByteRange { start: s, end: e };
/// let parse = |v| parse(&HeaderValue::from_static(v), 1000);
/// assert_eq!(parse("bytes=-100"), Ranges::Partial(vec![r(900, 999)]));
/// assert_eq!(parse("Bytes=900-, 0-9"), Ranges::Partial(vec![r(0, 9), r(900, 999)]));
/// assert_eq!(parse("bytes=0-9,5-19"), Ranges::Partial(vec![r(0, 19)]));
/// assert_eq!(parse("bytes=0-599,500-"), Ranges::Full); // 1100 bytes asked of 1000
/// assert_eq!(parse("bytes=1000-"), Ranges::Unsatisfiable);
/// assert_eq!(parse("bytes=9-0"), Ranges::Full);
/// ```
pub fn parse(range: &HeaderValue, len: u64) -> Ranges {
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
    for element in set.split(|&b| b == b',') {
        let element = element.trim_ascii();
        if element.is_empty() {
            continue;
        }
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
///
/// ```
/// use gateway_middleware::range::{ByteRange, content_range};
/// assert_eq!(content_range(ByteRange { start: 0, end: 99 }, 1234), "bytes 0-99/1234");
/// ```
pub fn content_range(range: ByteRange, len: u64) -> HeaderValue {
    header_value(format!("bytes {}-{}/{len}", range.start, range.end))
}

/// The `Content-Range` of a `416`: `bytes */LEN`.
///
/// ```
/// use gateway_middleware::range::unsatisfied_range;
/// assert_eq!(unsatisfied_range(1234), "bytes */1234");
/// ```
pub fn unsatisfied_range(len: u64) -> HeaderValue {
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
///
/// ```
/// use gateway_middleware::range::{ByteRange, Multipart, Segment};
/// use http::HeaderValue;
///
/// let content = b"0123456789abcdefghij";
/// let ranges = [ByteRange { start: 0, end: 1 }, ByteRange { start: 10, end: 12 }];
/// let plain = HeaderValue::from_static("text/plain");
/// let multipart = Multipart::new(&ranges, content.len() as u64, Some(&plain));
///
/// let mut body = Vec::new();
/// for segment in multipart.segments() {
///     match segment {
///         Segment::Literal(text) => body.extend_from_slice(text),
///         Segment::Range(r) => body.extend_from_slice(&content[r.start as usize..=r.end as usize]),
///         _ => unreachable!(),
///     }
/// }
/// assert_eq!(body.len() as u64, multipart.content_length());
/// let content_type = multipart.content_type();
/// let boundary = content_type.to_str()?.strip_prefix("multipart/byteranges; boundary=").unwrap();
/// assert_eq!(
///     String::from_utf8(body)?,
///     format!(
///         "--{b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n01\r\n\
///          --{b}\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-12/20\r\n\r\nabc\r\n\
///          --{b}--\r\n",
///         b = boundary
///     )
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Multipart {
    content_type: HeaderValue,
    ranges: Vec<ByteRange>,
    /// `ranges.len() + 1` pieces of text: before each range, then the end.
    literals: Vec<Bytes>,
    content_length: u64,
}

/// One piece of a [`Multipart`] body.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Framing text to send as is.
    Literal(&'a Bytes),
    /// These bytes of the representation.
    Range(ByteRange),
}

impl Multipart {
    /// The framing for `ranges` (as [`Ranges::Partial`] gives them: each
    /// within a representation of `len` bytes) of a representation whose
    /// `Content-Type` is `content_type`, repeated in each part.
    pub fn new(ranges: &[ByteRange], len: u64, content_type: Option<&HeaderValue>) -> Multipart {
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
    pub fn content_type(&self) -> HeaderValue {
        self.content_type.clone()
    }

    /// The response's exact `Content-Length`: framing and ranges.
    pub fn content_length(&self) -> u64 {
        self.content_length
    }

    /// The body, in order: framing text and ranges, alternating, starting
    /// and ending with text.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> + '_ {
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
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    fn parse_str(value: &str, len: u64) -> Ranges {
        parse(&HeaderValue::from_str(value).unwrap(), len)
    }

    fn partial(ranges: &[ByteRange]) -> Ranges {
        Ranges::Partial(ranges.to_vec())
    }

    #[test]
    fn byte_range_len() {
        assert_eq!(r(0, 0).len(), 1);
        assert_eq!(r(5, 14).len(), 10);
        assert_eq!(r(0, u64::MAX - 1).len(), u64::MAX);
    }

    #[test]
    fn forms() {
        assert_eq!(parse_str("bytes=0-499", 1000), partial(&[r(0, 499)]));
        assert_eq!(parse_str("bytes=500-999", 1000), partial(&[r(500, 999)]));
        assert_eq!(parse_str("bytes=9500-", 10000), partial(&[r(9500, 9999)]));
        assert_eq!(parse_str("bytes=-500", 10000), partial(&[r(9500, 9999)]));
        assert_eq!(parse_str("bytes=0-0", 1), partial(&[r(0, 0)]));
        assert_eq!(parse_str("bytes=0-", 1), partial(&[r(0, 0)]));
        assert_eq!(parse_str("bytes=007-0010", 100), partial(&[r(7, 10)]));
    }

    #[test]
    fn unit_is_case_insensitive_and_must_be_bytes() {
        assert_eq!(parse_str("BYTES=0-1", 10), partial(&[r(0, 1)]));
        assert_eq!(parse_str("ByTeS=0-1", 10), partial(&[r(0, 1)]));
        assert_eq!(parse_str("items=0-1", 10), Ranges::Full);
        assert_eq!(parse_str("bytes 0-1", 10), Ranges::Full);
        assert_eq!(parse_str("bytes =0-1", 10), Ranges::Full);
        assert_eq!(parse_str("bytesx=0-1", 10), Ranges::Full);
        assert_eq!(parse_str("byte=0-1", 10), Ranges::Full);
        assert_eq!(parse_str("0-1", 10), Ranges::Full);
        assert_eq!(parse_str("", 10), Ranges::Full);
    }

    #[test]
    fn whitespace_and_empty_elements() {
        assert_eq!(
            parse_str("bytes=0-1, 5-6", 10),
            partial(&[r(0, 1), r(5, 6)])
        );
        assert_eq!(
            parse_str("bytes= 0-1 ,\t5-6 ", 10),
            partial(&[r(0, 1), r(5, 6)])
        );
        assert_eq!(
            parse_str("bytes=,0-1,, ,5-6,", 10),
            partial(&[r(0, 1), r(5, 6)])
        );
        // No whitespace inside a spec.
        assert_eq!(parse_str("bytes=0 -1", 10), Ranges::Full);
        assert_eq!(parse_str("bytes=0- 1", 10), Ranges::Full);
        // At least one spec.
        assert_eq!(parse_str("bytes=", 10), Ranges::Full);
        assert_eq!(parse_str("bytes= , ,", 10), Ranges::Full);
    }

    #[test]
    fn syntactically_invalid_is_full() {
        for value in [
            "bytes=5-4",
            "bytes=-",
            "bytes=1",
            "bytes=a-b",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=--1",
            "bytes=1--2",
            "bytes=0x1-2",
            "bytes=0-1,5-4",
            "bytes=0-1,junk",
        ] {
            assert_eq!(parse_str(value, 100), Ranges::Full, "{value}");
        }
    }

    #[test]
    fn overflow_is_full() {
        assert_eq!(
            parse_str("bytes=18446744073709551615-", 100),
            Ranges::Unsatisfiable
        );
        assert_eq!(parse_str("bytes=18446744073709551616-", 100), Ranges::Full);
        assert_eq!(parse_str("bytes=0-18446744073709551616", 100), Ranges::Full);
        assert_eq!(parse_str("bytes=-18446744073709551616", 100), Ranges::Full);
        assert_eq!(
            parse_str("bytes=0-18446744073709551615", 100),
            partial(&[r(0, 99)])
        );
    }

    #[test]
    fn suffix_ranges() {
        assert_eq!(parse_str("bytes=-1", 10), partial(&[r(9, 9)]));
        assert_eq!(parse_str("bytes=-10", 10), partial(&[r(0, 9)]));
        assert_eq!(parse_str("bytes=-11", 10), partial(&[r(0, 9)]));
        assert_eq!(
            parse_str("bytes=-18446744073709551615", 10),
            partial(&[r(0, 9)])
        );
        assert_eq!(parse_str("bytes=-0", 10), Ranges::Unsatisfiable);
        assert_eq!(parse_str("bytes=-0,0-1", 10), partial(&[r(0, 1)]));
    }

    #[test]
    fn clamping_and_unsatisfiable() {
        assert_eq!(parse_str("bytes=5-100", 10), partial(&[r(5, 9)]));
        assert_eq!(parse_str("bytes=9-9", 10), partial(&[r(9, 9)]));
        assert_eq!(parse_str("bytes=10-", 10), Ranges::Unsatisfiable);
        assert_eq!(parse_str("bytes=10-20", 10), Ranges::Unsatisfiable);
        assert_eq!(parse_str("bytes=11-12, 20-", 10), Ranges::Unsatisfiable);
        // Unsatisfiable specs are dropped when another is satisfiable.
        assert_eq!(parse_str("bytes=20-30, 2-3", 10), partial(&[r(2, 3)]));
    }

    #[test]
    fn empty_representation() {
        assert_eq!(parse_str("bytes=0-", 0), Ranges::Unsatisfiable);
        assert_eq!(parse_str("bytes=0-0", 0), Ranges::Unsatisfiable);
        assert_eq!(parse_str("bytes=-0", 0), Ranges::Unsatisfiable);
        // Satisfiable per RFC 9110 §14.1.1, but there is nothing to cut.
        assert_eq!(parse_str("bytes=-5", 0), Ranges::Full);
        assert_eq!(parse_str("bytes=0-1,-5", 0), Ranges::Full);
        // Syntax still comes first.
        assert_eq!(parse_str("bytes=2-1", 0), Ranges::Full);
    }

    #[test]
    fn sorted_and_coalesced() {
        assert_eq!(
            parse_str("bytes=50-59,0-9,20-29", 100),
            partial(&[r(0, 9), r(20, 29), r(50, 59)])
        );
        // Adjacent.
        assert_eq!(parse_str("bytes=10-19,0-9", 100), partial(&[r(0, 19)]));
        // One byte apart stays apart.
        assert_eq!(
            parse_str("bytes=11-19,0-9", 100),
            partial(&[r(0, 9), r(11, 19)])
        );
        // A chain of adjacent ranges out of order.
        assert_eq!(
            parse_str("bytes=20-29,0-9,10-19,40-", 50),
            partial(&[r(0, 29), r(40, 49)])
        );
    }

    #[test]
    fn overlap_beyond_length_is_refused() {
        // Overlapping ranges asking for more bytes than there are.
        assert_eq!(parse_str("bytes=0-,0-", 100), Ranges::Full);
        assert_eq!(parse_str("bytes=0-59,40-99", 100), Ranges::Full);
        assert_eq!(parse_str("bytes=-60,0-59", 100), Ranges::Full);
        // Overlapping within the length: coalesced.
        assert_eq!(parse_str("bytes=0-9,5-14", 100), partial(&[r(0, 14)]));
        // Exactly the length is fine.
        assert_eq!(parse_str("bytes=0-49,50-99", 100), partial(&[r(0, 99)]));
        assert_eq!(parse_str("bytes=0-50,50-98", 100), partial(&[r(0, 98)]));
        // Lengths are counted after clamping.
        assert_eq!(parse_str("bytes=0-999999", 100), partial(&[r(0, 99)]));
        assert_eq!(parse_str("bytes=0-1,-1000", 100), Ranges::Full);
        // Unsatisfiable specs count for nothing.
        assert_eq!(parse_str("bytes=0-99,200-300", 100), partial(&[r(0, 99)]));
    }

    #[test]
    fn too_many_ranges_is_refused() {
        let specs = |n: u64| {
            let list: Vec<String> = (0..n).map(|i| format!("{}-{}", i * 10, i * 10)).collect();
            format!("bytes={}", list.join(","))
        };
        match parse_str(&specs(100), 10_000) {
            Ranges::Partial(ranges) => assert_eq!(ranges.len(), 100),
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_str(&specs(101), 10_000), Ranges::Full);
        // Empty elements are not specs.
        let padded = format!("{},,,,,", specs(100));
        assert!(matches!(parse_str(&padded, 10_000), Ranges::Partial(_)));
        // Unsatisfiable specs are specs.
        assert_eq!(
            parse_str(&format!("{},99999-", specs(100)), 10_000),
            Ranges::Full
        );
    }

    #[test]
    fn header_values() {
        assert_eq!(content_range(r(0, 99), 1234), "bytes 0-99/1234");
        assert_eq!(
            content_range(r(u64::MAX - 1, u64::MAX - 1), u64::MAX),
            "bytes 18446744073709551614-18446744073709551614/18446744073709551615"
        );
        assert_eq!(unsatisfied_range(0), "bytes */0");
        assert_eq!(unsatisfied_range(1234), "bytes */1234");
    }

    fn assemble(multipart: &Multipart, content: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for segment in multipart.segments() {
            match segment {
                Segment::Literal(text) => body.extend_from_slice(text),
                Segment::Range(r) => {
                    body.extend_from_slice(&content[r.start as usize..=r.end as usize])
                }
            }
        }
        body
    }

    fn boundary_of(multipart: &Multipart) -> String {
        let content_type = multipart.content_type();
        content_type
            .to_str()
            .unwrap()
            .strip_prefix("multipart/byteranges; boundary=")
            .unwrap()
            .to_owned()
    }

    #[test]
    fn multipart_framing_and_length() {
        let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let ranges = [r(0, 0), r(10, 19), r(990, 999)];
        let plain = HeaderValue::from_static("application/octet-stream");
        for content_type in [Some(&plain), None] {
            let multipart = Multipart::new(&ranges, 1000, content_type);
            let body = assemble(&multipart, &content);
            assert_eq!(body.len() as u64, multipart.content_length());

            let b = boundary_of(&multipart);
            let ct = content_type.map_or(String::new(), |ct| {
                format!("Content-Type: {}\r\n", ct.to_str().unwrap())
            });
            let mut expected = Vec::new();
            for (i, range) in ranges.iter().enumerate() {
                if i > 0 {
                    expected.extend_from_slice(b"\r\n");
                }
                expected.extend_from_slice(
                    format!(
                        "--{b}\r\n{ct}Content-Range: bytes {}-{}/1000\r\n\r\n",
                        range.start, range.end
                    )
                    .as_bytes(),
                );
                expected.extend_from_slice(&content[range.start as usize..=range.end as usize]);
            }
            expected.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
            assert_eq!(body, expected);
        }
    }

    #[test]
    fn multipart_segments_alternate() {
        let ranges = [r(0, 1), r(5, 6)];
        let multipart = Multipart::new(&ranges, 10, None);
        let kinds: Vec<char> = multipart
            .segments()
            .map(|s| match s {
                Segment::Literal(_) => 'L',
                Segment::Range(_) => 'R',
            })
            .collect();
        assert_eq!(kinds, ['L', 'R', 'L', 'R', 'L']);
        let ranges: Vec<ByteRange> = multipart
            .segments()
            .filter_map(|s| match s {
                Segment::Range(r) => Some(r),
                Segment::Literal(_) => None,
            })
            .collect();
        assert_eq!(ranges, [r(0, 1), r(5, 6)]);
    }

    #[test]
    fn multipart_content_type_is_copied_raw() {
        let odd = HeaderValue::from_bytes(b"text/plain; charset=\"utf-8\"; x=\xe9").unwrap();
        let multipart = Multipart::new(&[r(0, 0), r(2, 2)], 3, Some(&odd));
        let body = assemble(&multipart, b"abc");
        assert_eq!(body.len() as u64, multipart.content_length());
        let needle = b"Content-Type: text/plain; charset=\"utf-8\"; x=\xe9\r\n";
        assert_eq!(
            body.windows(needle.len()).filter(|w| w == needle).count(),
            2
        );
    }

    #[test]
    fn boundaries_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let b = boundary_of(&Multipart::new(&[r(0, 0), r(2, 2)], 3, None));
            // RFC 2046 §5.1.1: 1 to 70 bchars; hex digits are among them.
            assert_eq!(b.len(), 32);
            assert!(
                b.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            assert!(seen.insert(b));
        }
    }
}
