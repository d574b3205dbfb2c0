//! `Origin` values: the authority of a request's, and the validation of
//! configured trusted origins ([`InvalidOrigin`]).

use std::fmt;

/// The `host[:port]` of an `Origin` field value `scheme://host[:port]`,
/// or `None` for anything else: `null`, userinfo (`http://evil@victim` —
/// golang/go#78563), a path (even `/`), a query, a fragment, spaces,
/// controls, non-ASCII.
pub(crate) fn authority(origin: &[u8]) -> Option<&[u8]> {
    let sep = origin.windows(3).position(|w| w == b"://")?;
    let (scheme, rest) = (&origin[..sep], &origin[sep + 3..]);
    if !is_scheme(scheme) || rest.is_empty() {
        return None;
    }
    rest.iter()
        .all(|&b| b.is_ascii_graphic() && !matches!(b, b'@' | b'/' | b'?' | b'#' | b'\\'))
        .then_some(rest)
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &[u8]) -> bool {
    matches!(s.first(), Some(b) if b.is_ascii_alphabetic())
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Checks that `origin` is written exactly as a browser serializes an
/// `Origin` (the HTML standard's "ASCII serialization of an origin"), so
/// that a byte-exact comparison with the request's field can match:
/// `scheme://host[:port]` in lower case, no userinfo, no path (not even
/// `/`), no query or fragment, no default port.
pub(crate) fn check_trusted(origin: &str) -> Result<(), InvalidOrigin> {
    let fail = |reason| {
        Err(InvalidOrigin {
            origin: origin.to_owned(),
            reason,
        })
    };
    let Some((scheme, rest)) = origin.split_once("://") else {
        return fail("not of the form scheme://host[:port]");
    };
    if !is_scheme(scheme.as_bytes()) {
        return fail("the scheme is not a URL scheme");
    }
    if scheme.bytes().any(|b| b.is_ascii_uppercase()) {
        return fail("browsers send the scheme in lower case");
    }
    if rest.contains('/') || rest.contains('?') || rest.contains('#') {
        return fail("an origin has no path (not even a trailing `/`), query or fragment");
    }
    if rest.contains('@') {
        return fail("an origin has no userinfo");
    }
    let (host, port) = match rest.strip_prefix('[') {
        // An IPv6 literal: `[hex:...]` then an optional `:port`.
        Some(v6) => {
            let Some((addr, after)) = v6.split_once(']') else {
                return fail("an unclosed IPv6 literal");
            };
            if addr.is_empty()
                || !addr
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            {
                return fail("not an IPv6 literal");
            }
            if addr.bytes().any(|b| b.is_ascii_uppercase()) {
                return fail("browsers send the host in lower case");
            }
            match after {
                "" => (addr, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (addr, Some(port)),
                    None => return fail("text after the IPv6 literal"),
                },
            }
        }
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    if host.is_empty() {
        return fail("the host is empty");
    }
    if !rest.starts_with('[')
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return fail("the host has a character browsers do not send (IDNs are sent as punycode)");
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return fail("browsers send the host in lower case");
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && !port.starts_with('0')
            && port.parse::<u32>().is_ok_and(|p| p <= 65535);
        if !valid {
            return fail("the port is not a number from 1 to 65535 without leading zeros");
        }
        let default = match scheme {
            "http" | "ws" => Some("80"),
            "https" | "wss" => Some("443"),
            _ => None,
        };
        if default == Some(port) {
            return fail("browsers leave the scheme's default port out");
        }
    }
    Ok(())
}

/// A trusted origin given to
/// [`Csrf::try_trusted_origins`](super::Csrf::try_trusted_origins) that
/// no browser would send, so it could never match: the `Origin` field is
/// compared byte for byte, and browsers write it as `scheme://host[:port]`
/// in lower case, without a path or the default port.
///
/// ```
/// use gateway_middleware::auth::Csrf;
///
/// let err = Csrf::new().try_trusted_origins(["https://example.com/"]).unwrap_err();
/// assert_eq!(err.origin(), "https://example.com/");
/// assert!(Csrf::new().try_trusted_origins(["https://example.com:443"]).is_err());
/// assert!(Csrf::new().try_trusted_origins(["https://Example.com"]).is_err());
/// assert!(Csrf::new().try_trusted_origins(["https://example.com:8443"]).is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidOrigin {
    origin: String,
    reason: &'static str,
}

impl InvalidOrigin {
    /// The origin as given.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Why it can never match.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid trusted origin {:?}: {}",
            self.origin, self.reason
        )
    }
}

impl std::error::Error for InvalidOrigin {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_origins() {
        let ok: &[(&[u8], &[u8])] = &[
            (b"http://localhost", b"localhost"),
            (b"https://example.com:8443", b"example.com:8443"),
            (b"http://[::1]:8080", b"[::1]:8080"),
            (b"chrome-extension://abc", b"abc"),
        ];
        for (origin, host) in ok {
            assert_eq!(authority(origin), Some(*host), "{origin:?}");
        }
        let refused: &[&[u8]] = &[
            b"null",
            b"",
            b"http://",
            b"://example.com",
            b"1http://example.com",
            b"http://evil@example.com",
            b"http://example.com/",
            b"http://example.com?x",
            b"http://example.com#x",
            b"http://example.com\\x",
            b"http://exa mple.com",
            b"http://example.com\t",
            b"http://\xc3\xa9.com",
            b"example.com",
        ];
        for origin in refused {
            assert_eq!(authority(origin), None, "{origin:?}");
        }
    }

    #[test]
    fn trusted_origins() {
        for ok in [
            "https://example.com",
            "http://localhost:8080",
            "https://sub.example.com:8443",
            "http://[::1]:3000",
            "http://[::1]",
            "https://xn--bcher-kva.example",
            "chrome-extension://abcdef",
            "https://example.com.",
        ] {
            assert_eq!(check_trusted(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "null",
            "example.com",
            "https://",
            "https://example.com/",
            "https://example.com/path",
            "https://example.com?q",
            "https://example.com#f",
            "https://user@example.com",
            "HTTPS://example.com",
            "https://Example.com",
            "https://example.com:443",
            "http://example.com:80",
            "wss://example.com:443",
            "https://example.com:",
            "https://example.com:0443",
            "https://example.com:65536",
            "https://example.com:x",
            "https://exa mple.com",
            "https://bücher.example",
            "http://[::1",
            "http://[::1]x",
            "http://[]",
            "http://[::G]",
            "http://[::A]",
            "1https://example.com",
            "https://*.example.com",
        ] {
            assert!(check_trusted(bad).is_err(), "{bad}");
        }
        let err = check_trusted("https://example.com:443").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid trusted origin \"https://example.com:443\": browsers leave the scheme's \
             default port out"
        );
    }
}
