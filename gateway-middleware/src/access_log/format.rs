//! The three line formats, written into a reused buffer.

use std::io::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use gateway_core::Addr;
use http::{HeaderValue, Method, Uri, Version};

use super::escape;
use crate::notes::PlainId;

/// The layout of a log line; see [`AccessLog`](crate::AccessLog#formats)
/// for each one's exact fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The common log format, then duration, request id and outcome.
    Common,
    /// nginx's `combined`, then duration, request id and outcome.
    #[default]
    Combined,
    /// One JSON object per line, every field named.
    Json,
}

/// What is kept of the request until its line is written: clones that
/// share the request's bytes (reference counts, no copies).
#[derive(Debug)]
pub(crate) struct RequestFields {
    pub(crate) peer: Addr,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    pub(crate) referer: Option<HeaderValue>,
    pub(crate) user_agent: Option<HeaderValue>,
}

/// How the response ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    pub(crate) status: u16,
    pub(crate) bytes: u64,
    pub(crate) duration: Duration,
    pub(crate) completed: bool,
}

/// Everything a line holds.
pub(crate) struct Line<'a> {
    pub(crate) time: &'a [u8],
    pub(crate) req: &'a RequestFields,
    pub(crate) user: Option<&'a str>,
    /// From the allowlist: written as it is, in every format.
    pub(crate) request_id: Option<&'a PlainId>,
    pub(crate) outcome: Outcome,
}

impl Line<'_> {
    /// Appends the line, with its `\n`, to `out`.
    pub(crate) fn write(&self, format: Format, out: &mut Vec<u8>) {
        match format {
            Format::Common => self.text(out, false),
            Format::Combined => self.text(out, true),
            Format::Json => self.json(out),
        }
        out.push(b'\n');
    }

    fn text(&self, out: &mut Vec<u8>, combined: bool) {
        let req = self.req;
        remote_addr(out, &req.peer, b"-");
        out.extend_from_slice(b" - ");
        bare_or_dash(out, self.user);
        out.extend_from_slice(b" [");
        out.extend_from_slice(self.time);
        out.extend_from_slice(b"] \"");
        if is_standard(&req.method) {
            // Upper-case letters only: nothing to escape.
            out.extend_from_slice(req.method.as_str().as_bytes());
        } else {
            escape::quoted(out, req.method.as_str().as_bytes());
        }
        out.push(b' ');
        escape::quoted(out, target(&req.uri).as_bytes());
        out.push(b' ');
        out.extend_from_slice(protocol(req.version).as_bytes());
        out.extend_from_slice(b"\" ");
        self.numbers(out, b" ");
        if combined {
            for header in [&req.referer, &req.user_agent] {
                out.extend_from_slice(b" \"");
                match header {
                    Some(value) => escape::quoted(out, value.as_bytes()),
                    None => out.push(b'-'),
                }
                out.push(b'"');
            }
        }
        out.push(b' ');
        duration(out, self.outcome.duration);
        out.push(b' ');
        match self.request_id {
            Some(id) => out.extend_from_slice(id.as_bytes()),
            None => out.push(b'-'),
        }
        out.extend_from_slice(if self.outcome.completed {
            b" completed"
        } else {
            b" aborted"
        });
    }

    /// `status<sep>bytes`.
    fn numbers(&self, out: &mut Vec<u8>, sep: &[u8]) {
        let mut n = itoa::Buffer::new();
        let status = self.outcome.status;
        if (100..=999).contains(&status) {
            out.extend_from_slice(&three_digits(status));
        } else {
            out.extend_from_slice(n.format(status).as_bytes());
        }
        out.extend_from_slice(sep);
        out.extend_from_slice(n.format(self.outcome.bytes).as_bytes());
    }

    fn json(&self, out: &mut Vec<u8>) {
        let req = self.req;
        out.extend_from_slice(b"{\"time\":\"");
        out.extend_from_slice(self.time);
        out.extend_from_slice(b"\",\"remote_addr\":");
        if req.peer == Addr::None {
            out.extend_from_slice(b"null");
        } else {
            out.push(b'"');
            remote_addr(out, &req.peer, b"");
            out.push(b'"');
        }
        out.extend_from_slice(b",\"user\":");
        json_or_null(out, self.user.map(str::as_bytes));
        out.extend_from_slice(b",\"method\":");
        json_or_null(out, Some(req.method.as_str().as_bytes()));
        out.extend_from_slice(b",\"target\":");
        json_or_null(out, Some(target(&req.uri).as_bytes()));
        out.extend_from_slice(b",\"protocol\":\"");
        out.extend_from_slice(protocol(req.version).as_bytes());
        out.extend_from_slice(b"\",\"status\":");
        self.numbers(out, b",\"bytes\":");
        out.extend_from_slice(b",\"duration\":");
        duration(out, self.outcome.duration);
        out.extend_from_slice(b",\"completed\":");
        out.extend_from_slice(if self.outcome.completed {
            b"true"
        } else {
            b"false"
        });
        out.extend_from_slice(b",\"referer\":");
        json_or_null(out, req.referer.as_ref().map(HeaderValue::as_bytes));
        out.extend_from_slice(b",\"user_agent\":");
        json_or_null(out, req.user_agent.as_ref().map(HeaderValue::as_bytes));
        out.extend_from_slice(b",\"request_id\":");
        match self.request_id {
            Some(id) => {
                out.push(b'"');
                out.extend_from_slice(id.as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
}

/// Whether `method` is one of the nine of RFC 9110 and 5789 (compared as
/// `http`'s constants: no string comparison).
fn is_standard(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ]
    .contains(method)
}

fn bare_or_dash(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(v) if !v.is_empty() => escape::bare(out, v.as_bytes()),
        _ => out.push(b'-'),
    }
}

fn json_or_null(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => {
            out.push(b'"');
            escape::json(out, v);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// The request-target as the log shows it: path and query, or the
/// authority of a `CONNECT`.
fn target(uri: &Uri) -> &str {
    match uri.path_and_query() {
        Some(pq) => pq.as_str(),
        None => uri.authority().map_or("-", |a| a.as_str()),
    }
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "-",
    }
}

/// The IP address without its port (nginx's `$remote_addr`), `unix:` for
/// a Unix socket peer, `none` when unknown.
fn remote_addr(out: &mut Vec<u8>, peer: &Addr, none: &[u8]) {
    match peer {
        Addr::Tcp(addr) => match addr.ip().to_canonical() {
            IpAddr::V4(v4) => {
                // At most 15 bytes, written in place (three digits at a
                // time, from a table; two bytes of slack) and copied once.
                let mut text = [0; 17];
                let mut len = 0;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text[len] = b'.';
                        len += 1;
                    }
                    let (n, digits) = OCTETS[usize::from(octet)];
                    text[len..len + 3].copy_from_slice(&digits);
                    len += usize::from(n);
                }
                out.extend_from_slice(&text[..len]);
            }
            // Writing to a Vec cannot fail.
            IpAddr::V6(v6) => drop(write!(out, "{v6}")),
        },
        Addr::Unix(_) => out.extend_from_slice(b"unix:"),
        _ => out.extend_from_slice(none),
    }
}

/// Every byte in decimal: its number of digits and the digits, padded.
const OCTETS: [(u8, [u8; 3]); 256] = {
    let mut table = [(0, [0; 3]); 256];
    let mut n = 0;
    while n < 256 {
        let (a, b, c) = (
            b'0' + (n / 100) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        );
        table[n] = if n >= 100 {
            (3, [a, b, c])
        } else if n >= 10 {
            (2, [b, c, 0])
        } else {
            (1, [c, 0, 0])
        };
        n += 1;
    }
    table
};

/// The last three decimal digits of `n`, zero-padded.
fn three_digits(n: u16) -> [u8; 3] {
    [
        b'0' + (n / 100 % 10) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ]
}

/// Seconds with millisecond precision, rounded: `0.004`.
fn duration(out: &mut Vec<u8>, d: Duration) {
    // In 64 bits (no 128-bit division): exact for 500,000 years.
    let micros = d
        .as_secs()
        .saturating_mul(1_000_000)
        .saturating_add(u64::from(d.subsec_micros()));
    let ms = micros.saturating_add(500) / 1000;
    let mut n = itoa::Buffer::new();
    out.extend_from_slice(n.format(ms / 1000).as_bytes());
    let [a, b, c] = three_digits((ms % 1000) as u16);
    out.extend_from_slice(&[b'.', a, b, c]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: Format, req: &RequestFields, completed: bool) -> String {
        let id = PlainId::checked(&HeaderValue::from_static("abc")).unwrap();
        let line = Line {
            time: b"10/Oct/2000:13:55:36 +0000",
            req,
            user: Some("ada"),
            request_id: Some(&id),
            outcome: Outcome {
                status: 200,
                bytes: 2326,
                duration: Duration::from_micros(1_234_567),
                completed,
            },
        };
        let mut out = Vec::new();
        line.write(format, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn req() -> RequestFields {
        RequestFields {
            peer: Addr::Tcp("[::ffff:127.0.0.1]:80".parse().unwrap()),
            method: Method::GET,
            uri: "/apache_pb.gif?a=1".parse().unwrap(),
            version: Version::HTTP_11,
            referer: Some(HeaderValue::from_static(
                "http://www.example.com/start.html",
            )),
            user_agent: None,
        }
    }

    #[test]
    fn each_format() {
        let req = req();
        assert_eq!(
            line(Format::Common, &req, true),
            "127.0.0.1 - ada [10/Oct/2000:13:55:36 +0000] \"GET /apache_pb.gif?a=1 HTTP/1.1\" 200 2326 1.235 abc completed\n"
        );
        assert_eq!(
            line(Format::Combined, &req, false),
            "127.0.0.1 - ada [10/Oct/2000:13:55:36 +0000] \"GET /apache_pb.gif?a=1 HTTP/1.1\" 200 2326 \"http://www.example.com/start.html\" \"-\" 1.235 abc aborted\n"
        );
        assert_eq!(
            line(Format::Json, &req, true),
            "{\"time\":\"10/Oct/2000:13:55:36 +0000\",\"remote_addr\":\"127.0.0.1\",\"user\":\"ada\",\"method\":\"GET\",\"target\":\"/apache_pb.gif?a=1\",\"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":2326,\"duration\":1.235,\"completed\":true,\"referer\":\"http://www.example.com/start.html\",\"user_agent\":null,\"request_id\":\"abc\"}\n"
        );
    }

    #[test]
    fn methods_standard_or_not() {
        let mut req = req();
        for (method, shown) in [
            (Method::GET, "GET"),
            (Method::PATCH, "PATCH"),
            (Method::from_bytes(b"PURGE").unwrap(), "PURGE"),
        ] {
            assert_eq!(is_standard(&method), shown != "PURGE");
            req.method = method;
            let text = line(Format::Common, &req, true);
            assert!(
                text.contains(&format!("\"{shown} /apache_pb.gif")),
                "{text}"
            );
        }
    }

    #[test]
    fn every_ipv4_octet_as_std_writes_it() {
        for n in 0..=255u8 {
            let ip = std::net::Ipv4Addr::new(n, 255 - n, n / 3, 7);
            let mut out = Vec::new();
            remote_addr(&mut out, &Addr::Tcp((ip, 1).into()), b"-");
            assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
        }
    }

    #[test]
    fn addresses_and_durations() {
        let mut out = Vec::new();
        remote_addr(
            &mut out,
            &Addr::Tcp("[2001:db8::1]:5".parse().unwrap()),
            b"-",
        );
        out.push(b' ');
        remote_addr(&mut out, &Addr::Unix(None), b"-");
        out.push(b' ');
        remote_addr(&mut out, &Addr::None, b"-");
        out.push(b' ');
        for ip in ["0.0.0.0:1", "10.20.3.255:1", "192.168.100.9:1"] {
            remote_addr(&mut out, &Addr::Tcp(ip.parse().unwrap()), b"-");
            out.push(b' ');
        }
        duration(&mut out, Duration::from_micros(499));
        out.push(b' ');
        duration(&mut out, Duration::from_millis(61_005));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2001:db8::1 unix: - 0.0.0.0 10.20.3.255 192.168.100.9 0.000 61.005"
        );
    }
}
