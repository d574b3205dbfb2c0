//! Where to send the user after a login: [`safe_next_path`] accepts a
//! `next` value only as a same-site relative path, and
//! [`redirect_after_login`] re-validates it before redirecting.
//!
//! ```
//! use gateway_middleware::auth::safe_next_path;
//!
//! assert_eq!(safe_next_path("/orders?page=2"), Some("/orders?page=2"));
//! assert_eq!(safe_next_path("//evil.example"), None);
//! assert_eq!(safe_next_path("/\\evil.example"), None);
//! assert_eq!(safe_next_path("https://evil.example/"), None);
//! assert_eq!(safe_next_path("/%2F/evil.example"), None);
//! ```

use std::borrow::Cow;

use gateway_core::{Environ, Error, Response, start};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, LOCATION};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

/// The longest `next` value accepted, in bytes (Django's
/// `MAX_URL_LENGTH`).
pub const MAX_NEXT_LEN: usize = 2048;

/// How many rounds of percent-decoding the path is checked through; a
/// path that still decodes further after that is refused.
const DECODE_ROUNDS: usize = 3;

/// `value` if it is a safe target for a redirect after login — a
/// same-site relative path — else `None`.
///
/// The rules (stricter than Django's `url_has_allowed_host_and_scheme`,
/// see the table in the crate's tests):
///
/// - 1 to [`MAX_NEXT_LEN`] bytes, all of them printable ASCII that
///   RFC 3986 allows in a URI: no space, tab, CR, LF, NUL, DEL, no other
///   control, no non-ASCII (percent-encode it), no `\` anywhere (browsers
///   read it as `/`), no `"`, `<`, `>`, `{`, `}`, `|`, `^` or `` ` ``;
///   every `%` starts a `%XX` escape.
/// - The path (up to the first `?` or `#`) starts with `/`; it is
///   exactly `/` or its second character is neither `/` nor `\` — so no
///   scheme (`https:…`, `javascript:…`), no authority (`//host`), no
///   relative reference (`page`) and no absolute URL, not even to this
///   host.
/// - The path has no empty segment (`//`), no `.` or `..` segment (a
///   browser resolves `/.//evil` to `//evil`), no encoded slash or
///   backslash (`%2F`, `%5C`, any case), no encoded control character —
///   checked on the raw path and again after each of up to three rounds
///   of percent-decoding (so `%252F` and `%2e%2e` are caught), and a path
///   that would still decode further is refused.
/// - The query and fragment may hold anything the first rule allows, so
///   `/search?q=//x` is accepted: a browser keeps it in the query of this
///   site's URL. `[` and `]` are allowed there, not in the path.
///
/// The value comes back unchanged (no normalisation, no re-encoding): use
/// it as the `Location` as it is. It may contain `'` and `&`: escape it
/// before writing it into HTML (a hidden `next` field of the login form).
///
/// ```
/// use gateway_middleware::auth::safe_next_path;
///
/// for good in ["/", "/a/b?x=1", "/a%20b", "/search?q=//x", "/caf%C3%A9#top"] {
///     assert_eq!(safe_next_path(good), Some(good));
/// }
/// for bad in ["", "page", "//evil", "/\\evil", "https:evil", "javascript:alert(1)",
///             "/%5cevil", "/%252F%252Fevil", "/.//evil", "/a\tb", "/a b", "/é"] {
///     assert_eq!(safe_next_path(bad), None, "{bad:?}");
/// }
/// ```
pub fn safe_next_path(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NEXT_LEN {
        return None;
    }
    let split = bytes
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(bytes.len());
    let (path, rest) = bytes.split_at(split);
    if !path.iter().all(|&b| is_path_char(b))
        || !rest
            .iter()
            .all(|&b| is_path_char(b) || b"?#[]".contains(&b))
        || !escapes_are_well_formed(bytes)
    {
        return None;
    }
    // Each round decodes what the last one produced; one that decodes
    // nothing (the crate borrows then) ends it, with no copy for a path
    // without escapes.
    let mut current: Cow<'_, [u8]> = Cow::Borrowed(path);
    for _ in 0..=DECODE_ROUNDS {
        if !is_safe_path(&current) {
            return None;
        }
        match Cow::from(percent_decode(&current)) {
            Cow::Borrowed(_) => return Some(value),
            Cow::Owned(decoded) => current = Cow::Owned(decoded),
        }
    }
    None
}

/// The `next` parameter of `env`'s query, decoded, if there is exactly
/// one and it is a [safe path](safe_next_path): for the login form
/// handler, to carry it into the form (escaped) or to
/// [`redirect_after_login`]. A `next` given twice counts as none, so that
/// two parsers can never disagree on which one is meant.
///
/// ```
/// use gateway_core::{Body, Environ};
/// use gateway_middleware::auth::next_from_query;
///
/// let env = |uri: &str| Environ::from_request(http::Request::get(uri).body(Body::empty()).unwrap());
/// assert_eq!(next_from_query(&env("/login?next=%2Forders%3Fpage%3D2")).as_deref(), Some("/orders?page=2"));
/// assert_eq!(next_from_query(&env("/login?next=%2F%2Fevil.example")), None);
/// assert_eq!(next_from_query(&env("/login?next=%2Fa&next=%2Fb")), None);
/// assert_eq!(next_from_query(&env("/login")), None);
/// ```
pub fn next_from_query(env: &Environ) -> Option<String> {
    let mut values = env.query_pairs().filter(|(k, _)| k == "next");
    let (_, value) = values.next()?;
    if values.next().is_some() {
        return None;
    }
    safe_next_path(&value)?;
    Some(value.into_owned())
}

/// A `303 See Other` to `next` if it is a [safe path](safe_next_path),
/// else to `default`; `Cache-Control: no-store`. `next` is re-validated
/// here whatever checked it before, so the login handler can pass what
/// the client sent (the form's hidden field) as it is.
///
/// ```
/// use gateway_middleware::auth::redirect_after_login;
///
/// let res = redirect_after_login(Some("/orders?page=2"), "/").unwrap();
/// assert_eq!(res.status(), 303);
/// assert_eq!(res.headers()["location"], "/orders?page=2");
///
/// let res = redirect_after_login(Some("//evil.example"), "/home").unwrap();
/// assert_eq!(res.headers()["location"], "/home");
/// ```
///
/// # Errors
///
/// `default` is not itself a safe path (a programming error, answered
/// with a 500 rather than a redirect anywhere else).
pub fn redirect_after_login(next: Option<&str>, default: &str) -> Result<Response, Error> {
    let Some(default) = safe_next_path(default) else {
        return Err(Error::new(
            "redirect_after_login: the default target is not a safe same-site path",
        ));
    };
    let target = next.and_then(safe_next_path).unwrap_or(default);
    // Every byte of a safe path is visible ASCII, so this cannot fail.
    let location = HeaderValue::from_str(target).map_err(Error::new)?;
    start(
        303,
        [
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
    .empty()
}

/// Percent-encodes `target` as a query parameter value: everything but
/// RFC 3986's unreserved characters and `/`.
pub(crate) fn encode_query_value(target: &str, out: &mut String) {
    const KEPT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'/');
    out.extend(utf8_percent_encode(target, KEPT));
}

/// RFC 3986 `pchar` and `/`: unreserved, sub-delims, `:`, `@`, `/`, and
/// `%` (whose escapes are checked separately).
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

/// Every `%` in `bytes` is followed by two hex digits.
fn escapes_are_well_formed(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            match bytes.get(i + 1..i + 3) {
                Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// The path rules, on one (raw or decoded) form of the path.
fn is_safe_path(path: &[u8]) -> bool {
    if path.first() != Some(&b'/') || matches!(path.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    // Controls (tab, CR, LF, NUL, DEL…) and backslashes, raw or
    // decoded; a decoded space (`%20`) is a name like any other.
    if path.iter().any(|&b| b.is_ascii_control() || b == b'\\') {
        return false;
    }
    if path.windows(2).any(|w| w == b"//") {
        return false;
    }
    if path[1..]
        .split(|&b| b == b'/')
        .any(|segment| segment == b"." || segment == b"..")
    {
        return false;
    }
    // An encoded slash or backslash, in any case.
    !path.windows(3).any(|w| {
        w[0] == b'%'
            && (w[1] == b'2' && w[2].eq_ignore_ascii_case(&b'f')
                || w[1] == b'5' && w[2].eq_ignore_ascii_case(&b'c'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_through_query_pairs() {
        let mut out = String::new();
        encode_query_value("/a b?x=1&y=%2F#f", &mut out);
        assert_eq!(out, "/a%20b%3Fx%3D1%26y%3D%252F%23f");
        let env = gateway_core::Environ::from_request(
            http::Request::get(format!("/login?next={out}"))
                .body(gateway_core::Body::empty())
                .unwrap(),
        );
        let (_, v) = env.query_pairs().next().unwrap();
        assert_eq!(v, "/a b?x=1&y=%2F#f");
    }

    #[test]
    fn decoding_rounds_are_bounded() {
        // %25 encodes '%': three rounds decode "%25252541" to "%41" and the
        // fourth would still change it.
        assert_eq!(safe_next_path("/a%252541"), Some("/a%252541"));
        assert_eq!(safe_next_path("/a%25252541"), None);
    }
}
