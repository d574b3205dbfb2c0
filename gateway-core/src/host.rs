//! The `Host` grammar (RFC 9110 §7.2): validating a `Host` value and
//! splitting off its port.
//!
//! ```
//! use gateway_core::host::{is_valid_host, split_host_port};
//!
//! assert!(is_valid_host("example.com:8080"));
//! assert!(!is_valid_host("evil.test/x?"));
//! assert_eq!(split_host_port("[::1]:443"), ("[::1]", Some(443)));
//! ```
//!
//! [`Environ::host`](crate::Environ::host) and the URL it rebuilds trust
//! only a valid `Host`; adapters refuse a request with an invalid one
//! (400), and a trusted-proxy middleware checks forwarded hosts the same
//! way.

/// Whether `host` is `uri-host [":" port]` (RFC 9110 §7.2, RFC 3986 §3.2.2):
/// an IP literal in brackets, or a reg-name / IPv4 address, and digits for
/// the port. Adapters answer a request whose `Host` fails this with 400.
/// Takes bytes too (a `HeaderValue`'s), so that no UTF-8 check runs first:
/// a valid host is ASCII.
///
/// ```
/// use gateway_core::host::is_valid_host;
/// assert!(is_valid_host("example.com:8080"));
/// assert!(is_valid_host("[::1]"));
/// assert!(!is_valid_host("user@example.com"));
/// assert!(!is_valid_host("example.com/path"));
/// assert!(!is_valid_host(b"caf\xc3\xa9.example"));
/// ```
#[inline]
pub fn is_valid_host(host: impl AsRef<[u8]>) -> bool {
    is_valid_host_bytes(host.as_ref())
}

fn is_valid_host_bytes(bytes: &[u8]) -> bool {
    if let Some(rest) = bytes.strip_prefix(b"[") {
        let Some(end) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        let (literal, after) = (&rest[..end], &rest[end + 1..]);
        let literal_ok = !literal.is_empty()
            && literal
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        return literal_ok
            && match after {
                [] => true,
                [b':', port @ ..] => is_port(port),
                _ => false,
            };
    }
    // Every byte a reg-name byte up to an optional ':' before the port
    // (`:` is not one, and a port is digits only, so a second ':' fails).
    // Runs on every request, hence the table and the plain scan.
    let end = bytes
        .iter()
        .position(|&b| !REG_NAME[b as usize])
        .unwrap_or(bytes.len());
    match bytes.get(end) {
        None => end > 0,
        Some(b':') => end > 0 && is_port(&bytes[end + 1..]),
        Some(_) => false,
    }
}

fn is_port(port: &[u8]) -> bool {
    port.len() <= 5 && port.iter().all(u8::is_ascii_digit)
}

/// Bytes allowed in a reg-name or IPv4 address: unreserved, sub-delims and
/// `%` of a pct-encoding (RFC 3986 §3.2.2).
static REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
            );
        b += 1;
    }
    table
};

/// Splits a `Host` value, `host[:port]`, into the host and the port (IPv6
/// literals keep their brackets). A port that is not a number is dropped:
/// check the value with [`is_valid_host`] first where that matters.
///
/// ```
/// use gateway_core::host::split_host_port;
/// assert_eq!(split_host_port("example.com:8080"), ("example.com", Some(8080)));
/// assert_eq!(split_host_port("example.com"), ("example.com", None));
/// assert_eq!(split_host_port("[::1]:443"), ("[::1]", Some(443)));
/// assert_eq!(split_host_port("[::1]"), ("[::1]", None));
/// ```
pub fn split_host_port(host: &str) -> (&str, Option<u16>) {
    let port_start = if host.starts_with('[') {
        host.find(']')
            .map(|i| i + 1)
            .filter(|&i| host[i..].starts_with(':'))
    } else {
        host.rfind(':')
    };
    match port_start {
        Some(i) => match host[i + 1..].parse() {
            Ok(port) => (&host[..i], Some(port)),
            Err(_) => (&host[..i], None),
        },
        None => (host, None),
    }
}
