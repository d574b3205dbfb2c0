//! The token field of an `application/x-www-form-urlencoded` body, read
//! as the WHATWG URL standard's urlencoded parser reads it: lenient (a
//! stray `%` is itself), never failing.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::CONTENT_TYPE;
use percent_encoding::percent_decode;

/// What [`field`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Field<'a> {
    /// No pair with the name.
    Absent,
    /// Exactly one, with this (decoded) value.
    One(Cow<'a, [u8]>),
    /// More than one: ambiguous, refused.
    Many,
}

/// Whether the request has exactly one `Content-Type`, and it is
/// `application/x-www-form-urlencoded` (any case, any parameters).
pub(crate) fn is_urlencoded(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let essence = value.as_bytes().split(|&b| b == b';').next().unwrap_or(&[]);
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

/// The value of the pair named `name` in the urlencoded `body`: pairs
/// split on `&`, name and value on the first `=`, `+` is a space and
/// `%XX` a byte (a `%` not followed by two hex digits is kept as is).
pub(crate) fn field<'a>(body: &'a [u8], name: &[u8]) -> Field<'a> {
    let mut found = Field::Absent;
    for pair in body.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        if decode(raw_name).as_ref() != name {
            continue;
        }
        found = match found {
            Field::Absent => Field::One(decode(raw_value)),
            _ => return Field::Many,
        };
    }
    found
}

/// `+`- then percent-decoding (the percent-encoding crate: a `%` not
/// followed by two hex digits stays); borrows when there is nothing to
/// decode. Bytes, not text: a value that is not UTF-8 is simply not a
/// token.
fn decode(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'+') {
        return percent_decode(raw).into();
    }
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    Cow::Owned(percent_decode(&spaced).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: &[u8]) -> Field<'_> {
        Field::One(Cow::Borrowed(v))
    }

    #[test]
    fn fields() {
        let name = b"csrf_token";
        assert_eq!(field(b"csrf_token=abc", name), one(b"abc"));
        assert_eq!(field(b"a=1&csrf_token=abc&b=2", name), one(b"abc"));
        assert_eq!(field(b"&&csrf_token=abc&", name), one(b"abc"));
        assert_eq!(field(b"csrf%5Ftoken=a%2Db", name), one(b"a-b"));
        assert_eq!(field(b"csrf_token=a+b%", name), one(b"a b%"));
        assert_eq!(field(b"csrf_token=%zz%4", name), one(b"%zz%4"));
        assert_eq!(field(b"csrf_token", name), one(b""));
        assert_eq!(field(b"csrf_token=", name), one(b""));
        assert_eq!(field(b"csrf_token=a=b", name), one(b"a=b"));
        assert_eq!(field(b"csrf_token=\xff", name), one(b"\xff"));
        assert_eq!(field(b"csrf_token=1&csrf_token=1", name), Field::Many);
        assert_eq!(field(b"csrf_token=1&csrf%5ftoken=2", name), Field::Many);
        assert_eq!(field(b"", name), Field::Absent);
        assert_eq!(field(b"csrf_tokens=1&xcsrf_token=1", name), Field::Absent);
        assert_eq!(field(b"=&=&%", name), Field::Absent);
    }

    #[test]
    fn content_types() {
        let check = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(CONTENT_TYPE, v.parse().unwrap());
            }
            is_urlencoded(&h)
        };
        assert!(check(&["application/x-www-form-urlencoded"]));
        assert!(check(&["Application/X-WWW-Form-Urlencoded; charset=UTF-8"]));
        assert!(check(&[" application/x-www-form-urlencoded ;"]));
        assert!(!check(&[]));
        assert!(!check(&["multipart/form-data; boundary=x"]));
        assert!(!check(&["application/x-www-form-urlencodedx"]));
        assert!(!check(&[
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded"
        ]));
    }
}
