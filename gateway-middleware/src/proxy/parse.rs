//! The proxies' own words: RFC 7239 `Forwarded` and the `X-Forwarded-*`
//! lists, read by hop position from the right.

use std::net::{IpAddr, SocketAddr};

use gateway_core::Addr;
use http::HeaderMap;

use crate::header_list::{self, Elements, Quoting, is_tchar};
use http::header::{FORWARDED, HeaderName};

pub(super) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(super) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(super) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(super) const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub(super) const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

pub(super) fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&p| p != 0)
}

/// A client address: `ip`, `ip:port`, `[ipv6]`, `[ipv6]:port`. Port 0
/// when none is given.
pub(super) fn parse_addr(text: &str) -> Option<SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    let ip = text.strip_prefix('[')?.strip_suffix(']')?;
    ip.parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|ip| SocketAddr::new(IpAddr::V6(ip), 0))
}

/// A `Forwarded` `for` value (RFC 7239 §6): an address, `unknown`, or an
/// obfuscated identifier; an obfuscated port (`:_x`) counts as none.
pub(super) fn forwarded_for(value: &str) -> Option<Addr> {
    if value.eq_ignore_ascii_case("unknown") || value.starts_with('_') {
        return Some(Addr::None);
    }
    let node = match value.rfind(":_") {
        Some(i) => &value[..i],
        None => value,
    };
    parse_addr(node).map(Addr::Tcp)
}

/// The `hops`th value from the right of a comma-separated list header, all
/// its field lines in order; `None` if `hops` is 0, the list is shorter,
/// or any line is not visible ASCII.
pub(super) fn nth_from_right<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    hops: usize,
) -> Option<&'h str> {
    if hops == 0 {
        return None;
    }
    let lines = headers.get_all(name);
    // A line we cannot read could hold any number of values, so the
    // positions of the others are not known.
    if !lines.iter().all(|line| line.to_str().is_ok()) {
        return None;
    }
    // Two passes instead of a buffer: count, then walk to the one wanted.
    let total = header_list::all_elements(headers.get_all(name), Quoting::None).count();
    let wanted = total.checked_sub(hops)?;
    let item = header_list::all_elements(headers.get_all(name), Quoting::None).nth(wanted)?;
    // Visible ASCII, checked above.
    std::str::from_utf8(item).ok()
}

/// The parameters of one `forwarded-element` that are used.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Element<'a> {
    pub(super) for_: Option<&'a str>,
    pub(super) proto: Option<&'a str>,
    pub(super) host: Option<&'a str>,
}

/// The `hops`th element from the right of `Forwarded`, all field lines in
/// order. `None` if `hops` is 0, the list is shorter, or the header is
/// malformed anywhere.
pub(super) fn forwarded_element(headers: &HeaderMap, hops: usize) -> Option<Element<'_>> {
    if hops == 0 {
        return None;
    }
    // Two passes instead of a buffer: count (and validate) every element,
    // then walk again to the one wanted.
    let mut total = 0usize;
    for line in headers.get_all(FORWARDED) {
        let line = line.to_str().ok()?;
        parse_forwarded_line(line, |_| total += 1)?;
    }
    let wanted = total.checked_sub(hops)?;
    let mut index = 0usize;
    let mut found = None;
    for line in headers.get_all(FORWARDED) {
        parse_forwarded_line(line.to_str().ok()?, |element| {
            if index == wanted {
                found = Some(element);
            }
            index += 1;
        })?;
        if found.is_some() {
            break;
        }
    }
    found
}

/// Parses one `Forwarded` field line (RFC 7239 §4) and calls `each` for
/// every element with at least one pair, in order. `None` on a syntax
/// error.
///
/// Lenient where proxies are sloppy and it is unambiguous: whitespace
/// around `;` and `,`, empty pairs, and unquoted values with `:`, `[` and
/// `]` (`for=192.0.2.1:80`). Strict where a mistake could shift elements:
/// an unterminated quote, a parameter without `=`, or one given twice in
/// an element fail the whole line.
fn parse_forwarded_line<'a>(line: &'a str, mut each: impl FnMut(Element<'a>)) -> Option<()> {
    for element in Elements::new(line.as_bytes(), Quoting::QuotedString) {
        if let Some(element) = parse_element(element)? {
            each(element);
        }
    }
    Some(())
}

/// One `forwarded-element` (`forwarded-pair *( ";" forwarded-pair )`):
/// `None` on a syntax error, `Some(None)` when it holds no pair.
#[allow(
    clippy::option_option,
    reason = "syntax error and empty element differ"
)]
fn parse_element(element: &[u8]) -> Option<Option<Element<'_>>> {
    let mut parsed = Element::default();
    let mut pairs = 0usize;
    for pair in header_list::parts(element).filter(|pair| !pair.is_empty()) {
        let (name, value) = header_list::name_value(pair)?;
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return None;
        }
        let value = pair_value(value)?;
        pairs += 1;
        let slot = if name.eq_ignore_ascii_case(b"for") {
            &mut parsed.for_
        } else if name.eq_ignore_ascii_case(b"proto") {
            &mut parsed.proto
        } else if name.eq_ignore_ascii_case(b"host") {
            &mut parsed.host
        } else {
            // `by` and extensions are not used, but still parsed above.
            continue;
        };
        if slot.is_some() {
            return None; // RFC 7239 §4: at most once per element
        }
        // An escaped value is never a valid address, scheme or host; an
        // empty string marks it as present but unusable.
        *slot = Some(value.unwrap_or(""));
    }
    Some((pairs > 0).then_some(parsed))
}

/// A pair's value: a token (with `:`, `[` and `]`) or a quoted-string.
/// `Some(None)` for a quoted-string with an escape in it.
#[allow(
    clippy::option_option,
    reason = "syntax error and unusable value differ"
)]
fn pair_value(value: &[u8]) -> Option<Option<&str>> {
    let text = if value.starts_with(b"\"") {
        match header_list::quoted_string(value)? {
            (_, true) => return Some(None),
            (inner, false) => inner,
        }
    } else if !value.is_empty()
        && value
            .iter()
            .all(|&b| is_tchar(b) || matches!(b, b':' | b'[' | b']'))
    {
        value
    } else {
        return None;
    };
    // The line was visible ASCII, so every slice of it is UTF-8.
    std::str::from_utf8(text).ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::host::split_host_port;
    use http::HeaderValue;

    fn elements(line: &str) -> Option<Vec<Element<'_>>> {
        let mut out = Vec::new();
        parse_forwarded_line(line, |e| out.push(e))?;
        Some(out)
    }

    #[test]
    fn forwarded_syntax() {
        let e = elements(r#"for=192.0.2.60;proto=http;by=203.0.113.43"#).unwrap();
        assert_eq!(
            e,
            [Element {
                for_: Some("192.0.2.60"),
                proto: Some("http"),
                host: None
            }]
        );
        let e =
            elements(r#"For="[2001:db8:cafe::17]:4711", for=192.0.2.43 ; Host=a.test"#).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].for_, Some("[2001:db8:cafe::17]:4711"));
        assert_eq!(e[1].host, Some("a.test"));
        assert_eq!(elements(" , ,for=a,, ").unwrap().len(), 1);
        assert_eq!(
            elements(r#"for="a,b";proto=https"#).unwrap()[0].for_,
            Some("a,b")
        );
        assert_eq!(elements(r#"for="a\"b""#).unwrap()[0].for_, Some(""));
        for bad in [
            r#"for="unterminated, for=1.2.3.4"#,
            "for",
            "for=",
            "=x",
            "for=a;for=b",
            "for=a b",
            "for=a\"b\"",
            "for=\"a\"b",
            "for=\"a\u{7f}\"",
            "for=a;;proto=http;PROTO=https",
        ] {
            assert_eq!(elements(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn addresses() {
        for (text, want) in [
            ("192.0.2.1", Some("192.0.2.1:0")),
            ("192.0.2.1:80", Some("192.0.2.1:80")),
            ("2001:db8::1", Some("[2001:db8::1]:0")),
            ("[2001:db8::1]", Some("[2001:db8::1]:0")),
            ("[2001:db8::1]:443", Some("[2001:db8::1]:443")),
            ("[192.0.2.1]", None),
            ("192.0.2.1:99999", None),
            ("fe80::1%eth0", None),
            ("example.com", None),
            ("", None),
        ] {
            assert_eq!(
                parse_addr(text).map(|a| a.to_string()).as_deref(),
                want,
                "{text:?}"
            );
        }
        assert_eq!(forwarded_for("unknown"), Some(Addr::None));
        assert_eq!(forwarded_for("_hidden"), Some(Addr::None));
        assert_eq!(
            forwarded_for("[2001:db8::1]:_port"),
            Some(Addr::Tcp("[2001:db8::1]:0".parse().unwrap()))
        );
        assert_eq!(forwarded_for("1.2.3.4:_p"), forwarded_for("1.2.3.4"));
        assert_eq!(forwarded_for("nonsense"), None);
    }

    #[test]
    fn ports_and_hosts() {
        assert_eq!(parse_port("443"), Some(443));
        for bad in ["0", "65536", "+80", "8o", "", "000080"] {
            assert_eq!(parse_port(bad), None, "{bad:?}");
        }
        assert_eq!(split_host_port("a.test:80").0, "a.test");
        assert_eq!(split_host_port("a.test").0, "a.test");
        assert_eq!(split_host_port("[::1]:80").0, "[::1]");
        assert_eq!(split_host_port("[::1]").0, "[::1]");
    }

    #[test]
    fn list_positions_span_field_lines() {
        let mut h = HeaderMap::new();
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("a, b"));
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static(" ,c,"));
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("d"));
        let nth = |n| nth_from_right(&h, &X_FORWARDED_FOR, n);
        assert_eq!(
            [nth(0), nth(1), nth(2), nth(3), nth(4), nth(5)],
            [None, Some("d"), Some("c"), Some("b"), Some("a"), None]
        );
        h.append(&X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xe9").unwrap());
        assert_eq!(nth_from_right(&h, &X_FORWARDED_FOR, 1), None);
    }
}
