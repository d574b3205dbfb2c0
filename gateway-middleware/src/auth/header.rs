//! Reading the `Authorization` field for one scheme: exactly one field
//! line, the scheme name (case-insensitive), `1*SP`, the credentials
//! (RFC 9110 §11.4: `credentials = auth-scheme [ 1*SP ( token68 /
//! #auth-param ) ]`).

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::header_list::is_tchar;

/// What a request's `Authorization` field holds for one scheme.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Credentials<'a> {
    /// No `Authorization` field, or one for another scheme.
    Absent,
    /// More than one `Authorization` field line (it is not a list field:
    /// RFC 9110 §5.3 forbids sending it twice).
    Several,
    /// The scheme matched but is not followed by `1*SP` and something:
    /// the scheme alone, a tab or another separator after it.
    Malformed,
    /// The scheme matched: the bytes after the spaces, up to the end of
    /// the field less trailing whitespace, unchecked.
    Token(&'a [u8]),
}

/// The credentials of `scheme` (ASCII, matched case-insensitively) in
/// `headers`.
pub(super) fn credentials<'a>(headers: &'a HeaderMap, scheme: &str) -> Credentials<'a> {
    let mut lines = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = lines.next() else {
        return Credentials::Absent;
    };
    if lines.next().is_some() {
        return Credentials::Several;
    }
    // A field value holds no CR, LF or form feed (`HeaderValue` refuses
    // them), so ASCII whitespace here is exactly optional whitespace.
    let value = value.as_bytes().trim_ascii();
    let scheme = scheme.as_bytes();
    let Some((name, rest)) = value.split_at_checked(scheme.len()) else {
        return Credentials::Absent;
    };
    if !name.eq_ignore_ascii_case(scheme) {
        return Credentials::Absent;
    }
    match rest.first() {
        Some(b' ') => {}
        // A longer scheme name (`Basicx`).
        Some(&b) if is_tchar(b) => return Credentials::Absent,
        // The scheme alone (trailing spaces were trimmed), or followed by
        // a tab or another separator.
        _ => return Credentials::Malformed,
    }
    // Spaces, then at least one other byte: the trimmed value does not
    // end with a space.
    match rest.iter().position(|&b| b != b' ') {
        Some(start) => Credentials::Token(&rest[start..]),
        None => Credentials::Malformed,
    }
}

/// `realm` as a challenge's quoted-string (`"` and `\` escaped with a
/// backslash), or `None` if it has a control character (`%x00-1F`,
/// `%x7F`), which no escaping makes safe in a header.
pub(super) fn quoted(realm: &str) -> Option<String> {
    if realm.bytes().any(|b| b.is_ascii_control()) {
        return None;
    }
    let mut out = String::with_capacity(realm.len() + 2);
    out.push('"');
    for c in realm.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(values: &[&[u8]]) -> Credentials<'static> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        let headers: &'static HeaderMap = Box::leak(Box::new(headers));
        credentials(headers, "Basic")
    }

    #[test]
    fn scheme_spaces_and_lines() {
        assert_eq!(parse(&[]), Credentials::Absent);
        assert_eq!(parse(&[b"Basic abc"]), Credentials::Token(b"abc"));
        assert_eq!(parse(&[b"bAsIc   abc  "]), Credentials::Token(b"abc"));
        assert_eq!(parse(&[b" \tBASIC abc"]), Credentials::Token(b"abc"));
        assert_eq!(parse(&[b"Basic a b"]), Credentials::Token(b"a b"));
        assert_eq!(parse(&[b"Basic"]), Credentials::Malformed);
        assert_eq!(parse(&[b"Basic   "]), Credentials::Malformed);
        assert_eq!(parse(&[b"Basic\tabc"]), Credentials::Malformed);
        assert_eq!(parse(&[b"Basic,abc"]), Credentials::Malformed);
        assert_eq!(parse(&[b"Basicabc"]), Credentials::Absent);
        assert_eq!(parse(&[b"Bearer abc"]), Credentials::Absent);
        assert_eq!(parse(&[b""]), Credentials::Absent);
        assert_eq!(parse(&[b"Basic \xff\xfe"]), Credentials::Token(b"\xff\xfe"));
        assert_eq!(parse(&[b"\xffBasic abc"]), Credentials::Absent);
        assert_eq!(parse(&[b"Basic a", b"Basic b"]), Credentials::Several);
    }

    #[test]
    fn realms() {
        assert_eq!(quoted("api").as_deref(), Some("\"api\""));
        assert_eq!(quoted(r#"a"b\c"#).as_deref(), Some(r#""a\"b\\c""#));
        assert_eq!(quoted("").as_deref(), Some("\"\""));
        assert_eq!(quoted("café").as_deref(), Some("\"café\""));
        assert_eq!(quoted("a\tb"), None);
        assert_eq!(quoted("a\r\nb"), None);
        assert_eq!(quoted("a\x7fb"), None);
    }
}
