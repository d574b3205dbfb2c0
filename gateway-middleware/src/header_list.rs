//! The one tokenizer for comma-separated header lists (RFC 9110 §5.6.1),
//! shared by `If-Match` / `If-None-Match`, `Accept`, `Accept-Encoding`,
//! `Range`, `Forwarded` and the `X-Forwarded-*` lists.
//!
//! It splits and trims; it does not validate. [`Elements`] yields the
//! non-empty elements of a field line with the optional whitespace (OWS)
//! around them removed, never splitting inside a quoted string; [`parts`]
//! splits an element at `;` into its value and parameters; [`weighted`]
//! reads a `;q=` weight. Each caller parses what it gets under its own
//! grammar (an entity tag, a coding, a range spec, a `forwarded-pair`),
//! so what a malformed element means — skipped, or the whole field
//! ignored — stays that caller's decision.
//!
//! A header value holds no CR, LF or NUL (`http` refuses them), so
//! `trim_ascii` strips exactly OWS (spaces and tabs).

use http::HeaderValue;
use http::header::GetAll;

/// How a field's grammar quotes, which decides whether a comma or a
/// semicolon separates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quoting {
    /// Nothing is quoted: every comma separates (`Range`,
    /// `X-Forwarded-*`). In a list that proxies append to, a quote a
    /// client sent must not be able to swallow the element a trusted
    /// proxy added after it.
    None,
    /// Entity tags (RFC 9110 §8.8.3): `"` opens and closes, and `\` is an
    /// ordinary character of the opaque tag.
    EntityTag,
    /// `quoted-string` (RFC 9110 §5.6.4): `"` opens and closes, and `\`
    /// escapes the byte after it.
    QuotedString,
}

/// The non-empty elements of one field line, OWS trimmed, in order.
///
/// A comma inside a quoted string (under the [`Quoting`] given) does not
/// separate; an unterminated quote runs to the end of the line, so the
/// element it starts reaches the caller's parser, which refuses it.
#[derive(Clone, Debug)]
pub(crate) struct Elements<'a> {
    rest: &'a [u8],
    quoting: Quoting,
}

impl<'a> Elements<'a> {
    pub(crate) fn new(line: &'a [u8], quoting: Quoting) -> Elements<'a> {
        Elements {
            rest: line,
            quoting,
        }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // Empty elements (`a, , b`, a leading or trailing comma) are
        // allowed and mean nothing (RFC 9110 §5.6.1.2).
        let start = self
            .rest
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b','))?;
        let rest = &self.rest[start..];
        let end = find_unquoted(rest, b',', self.quoting);
        self.rest = &rest[end..];
        Some(rest[..end].trim_ascii_end())
    }
}

/// The elements of every field line of one header, in order: several
/// lines are one list (RFC 9110 §5.3).
pub(crate) fn all_elements<'a>(
    lines: GetAll<'a, HeaderValue>,
    quoting: Quoting,
) -> impl Iterator<Item = &'a [u8]> {
    lines
        .into_iter()
        .flat_map(move |line| Elements::new(line.as_bytes(), quoting))
}

/// The offset of the first `separator` in `bytes` outside a quoted string,
/// or `bytes.len()`.
fn find_unquoted(bytes: &[u8], separator: u8, quoting: Quoting) -> usize {
    let opens = |b: u8| b == b'"' && quoting != Quoting::None;
    let mut i = 0;
    loop {
        // Most values hold no quote: one tight scan to the separator.
        let Some(at) = bytes[i..].iter().position(|&b| b == separator || opens(b)) else {
            return bytes.len();
        };
        i += at;
        if bytes[i] == separator {
            return i;
        }
        // A quoted string, to its closing quote (or the end).
        i += 1;
        loop {
            match bytes.get(i) {
                None => return bytes.len(),
                Some(b'"') => break,
                Some(b'\\') if quoting == Quoting::QuotedString => i += 2,
                Some(_) => i += 1,
            }
        }
        i += 1;
    }
}

/// The `;`-separated parts of an element — its value first, then its
/// parameters — OWS trimmed, empty ones included. A `;` inside a
/// `quoted-string` parameter value does not separate.
pub(crate) fn parts(element: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(element);
    std::iter::from_fn(move || {
        let bytes = rest?;
        let end = find_unquoted(bytes, b';', Quoting::QuotedString);
        rest = bytes.get(end + 1..);
        Some(bytes[..end].trim_ascii())
    })
}

/// A parameter split at its first `=` into name and value, neither
/// trimmed; `None` when there is no `=`.
pub(crate) fn name_value(parameter: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = parameter.iter().position(|&b| b == b'=')?;
    Some((&parameter[..eq], &parameter[eq + 1..]))
}

/// The content of `value` if it is exactly one `quoted-string`
/// (RFC 9110 §5.6.4), still escaped, and whether it holds a `quoted-pair`.
pub(crate) fn quoted_string(value: &[u8]) -> Option<(&[u8], bool)> {
    let inner = value.strip_prefix(b"\"")?;
    let mut escaped = false;
    let mut i = 0;
    loop {
        match *inner.get(i)? {
            b'"' => return (i + 1 == inner.len()).then_some((&inner[..i], escaped)),
            b'\\' => {
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                let next = *inner.get(i + 1)?;
                if !(next == b'\t' || next >= b' ') || next == 0x7F {
                    return None;
                }
                escaped = true;
                i += 2;
            }
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            b if b == b'\t' || (b >= b' ' && b != 0x7F) => i += 1,
            _ => return None,
        }
    }
}

/// RFC 9110 §5.6.2 `tchar`: a byte of a token (a scheme, a parameter
/// name).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A weight (RFC 9110 §12.4.2) in thousandths: `q=0.5` is 500.
pub(crate) type Quality = u16;

/// An element's value (its first part) and its weight, 1000 when it has
/// no `q` parameter. `None` when the value is empty or a `q` parameter is
/// not a valid qvalue: such an element is to be ignored. Other parameters
/// are skipped; the parameter name is case-insensitive, and OWS around
/// `=` is tolerated as clients send it.
pub(crate) fn weighted(element: &[u8]) -> Option<(&[u8], Quality)> {
    // Most elements have no parameter (`gzip`): nothing to split.
    if !element.contains(&b';') {
        return Some((element, 1000));
    }
    let mut parts = parts(element);
    let value = parts.next().filter(|v| !v.is_empty())?;
    let mut q = 1000;
    for parameter in parts {
        let Some((name, weight)) = name_value(parameter) else {
            continue; // a parameter without a value: not a weight
        };
        if name.trim_ascii().eq_ignore_ascii_case(b"q") {
            q = qvalue(weight.trim_ascii())?;
        }
    }
    Some((value, q))
}

/// Parses a qvalue (`0`, `0.5`, `1`, `1.000`: at most three decimals, not
/// above 1) into thousandths.
pub(crate) fn qvalue(text: &[u8]) -> Option<Quality> {
    let (&first, rest) = text.split_first()?;
    let decimals = match rest {
        [] => &[][..],
        [b'.', decimals @ ..] if decimals.len() <= 3 => decimals,
        _ => return None,
    };
    let mut value: Quality = match first {
        b'0' => 0,
        b'1' => 1000,
        _ => return None,
    };
    let mut scale = 100;
    for &d in decimals {
        if !d.is_ascii_digit() || (first == b'1' && d != b'0') {
            return None;
        }
        value += Quality::from(d - b'0') * scale;
        scale /= 10;
    }
    Some(value)
}

#[cfg(test)]
mod tests;
