//! From FastCGI params to the request head of an [`Environ`](gateway_core::Environ):
//! the table in the [crate docs](crate#from-params-to-the-environ).

use std::net::{IpAddr, SocketAddr};

use gateway_core::driver::CommitHints;
use gateway_core::host::is_valid_host;
use gateway_core::http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderName, HeaderValue, UPGRADE,
};
use gateway_core::http::{HeaderMap, Method, Request, StatusCode, Uri, Version};
use gateway_core::{Addr, BodyError, ConnInfo, Error, Scheme};

use crate::record;

/// A request head built from params, before it has a body.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) parts: http::request::Parts,
    pub(crate) conn: ConnInfo,
    /// The prefix to mount (a raw prefix of the path), if any.
    pub(crate) script_name: Option<Box<str>>,
    /// `CONTENT_LENGTH`, when given (zero included: then `STDIN` data is
    /// a 400).
    pub(crate) content_length: Option<u64>,
    pub(crate) hints: CommitHints,
}

/// The params this adapter reads, borrowed from the params stream.
#[derive(Default)]
struct Meta<'a> {
    method: Option<&'a [u8]>,
    request_uri: Option<&'a [u8]>,
    script_name: Option<&'a [u8]>,
    path_info: Option<&'a [u8]>,
    query: Option<&'a [u8]>,
    protocol: Option<&'a [u8]>,
    content_length: Option<&'a [u8]>,
    content_type: Option<&'a [u8]>,
    server_name: Option<&'a [u8]>,
    server_port: Option<&'a [u8]>,
    server_addr: Option<&'a [u8]>,
    remote_addr: Option<&'a [u8]>,
    remote_port: Option<&'a [u8]>,
    https: Option<&'a [u8]>,
    request_scheme: Option<&'a [u8]>,
}

fn bad(reason: &'static str) -> Error {
    Error::with_status(StatusCode::BAD_REQUEST, reason)
}

/// The hints of a request whose head could not be read: GET's.
pub(crate) fn fallback_hints() -> CommitHints {
    CommitHints::from_head(&Method::GET, Version::HTTP_11, &HeaderMap::new())
}

/// Builds the head from a whole params stream. `max_body` refuses a
/// `CONTENT_LENGTH` over it (413). On failure: the error to answer with,
/// and the hints for its response.
pub(crate) fn head(params: &[u8], max_body: u64) -> Result<Head, (Error, CommitHints)> {
    let mut meta = Meta::default();
    let mut headers = HeaderMap::new();
    let mut name_buf = Vec::new();
    let mut header_error = None;
    for pair in record::pairs(params) {
        let Ok((name, value)) = pair else {
            return Err((bad("malformed FastCGI params"), fallback_hints()));
        };
        let slot = match name {
            b"REQUEST_METHOD" => &mut meta.method,
            b"REQUEST_URI" => &mut meta.request_uri,
            b"SCRIPT_NAME" => &mut meta.script_name,
            b"PATH_INFO" => &mut meta.path_info,
            b"QUERY_STRING" => &mut meta.query,
            b"SERVER_PROTOCOL" => &mut meta.protocol,
            b"CONTENT_LENGTH" => &mut meta.content_length,
            b"CONTENT_TYPE" => &mut meta.content_type,
            b"SERVER_NAME" => &mut meta.server_name,
            b"SERVER_PORT" => &mut meta.server_port,
            b"SERVER_ADDR" => &mut meta.server_addr,
            b"REMOTE_ADDR" => &mut meta.remote_addr,
            b"REMOTE_PORT" => &mut meta.remote_port,
            b"HTTPS" => &mut meta.https,
            b"REQUEST_SCHEME" => &mut meta.request_scheme,
            _ => {
                let Some(field) = name.strip_prefix(b"HTTP_") else {
                    continue;
                };
                // CONTENT_* are authoritative (the web server has removed
                // any transfer coding); the rest are request header fields.
                if matches!(
                    field,
                    b"CONTENT_LENGTH" | b"CONTENT_TYPE" | b"TRANSFER_ENCODING"
                ) || field.is_empty()
                {
                    continue;
                }
                name_buf.clear();
                name_buf.extend(field.iter().map(|&b| match b {
                    b'_' => b'-',
                    b => b.to_ascii_lowercase(),
                }));
                match (
                    HeaderName::from_bytes(&name_buf),
                    HeaderValue::from_bytes(value),
                ) {
                    (Ok(name), Ok(value)) => {
                        headers.append(name, value);
                    }
                    _ => header_error = Some(bad("invalid request header in params")),
                }
                continue;
            }
        };
        *slot = Some(value);
    }

    let Some(method) = meta.method else {
        return Err((bad("no REQUEST_METHOD param"), fallback_hints()));
    };
    let Ok(method) = Method::from_bytes(method) else {
        return Err((bad("invalid REQUEST_METHOD"), fallback_hints()));
    };
    let version = meta.version();
    // A FastCGI response cannot switch protocols.
    headers.remove(UPGRADE);
    let hints = CommitHints::from_head(&method, version, &headers);
    let reject = |err: Error| Err((err, hints));
    if let Some(err) = header_error {
        return reject(err);
    }
    match headers.get(HOST) {
        Some(host) if !is_valid_host(host.as_bytes()) => return reject(bad("invalid Host")),
        Some(_) => {
            if headers.get_all(HOST).iter().nth(1).is_some() {
                return reject(bad("more than one Host"));
            }
        }
        None => {
            if let Some(host) = meta.host_from_server() {
                headers.insert(HOST, host);
            }
        }
    }
    if let Some(ty) = meta.content_type.filter(|t| !t.is_empty()) {
        match HeaderValue::from_bytes(ty) {
            Ok(ty) => headers.insert(CONTENT_TYPE, ty),
            Err(_) => return reject(bad("invalid CONTENT_TYPE")),
        };
    }
    let content_length = match meta.content_length.filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match std::str::from_utf8(l)
            .ok()
            .and_then(|l| l.parse::<u64>().ok())
        {
            Some(n) => Some(n),
            None => return reject(bad("invalid CONTENT_LENGTH")),
        },
    };
    if let Some(n) = content_length {
        if n > max_body {
            return reject(BodyError::LengthLimitExceeded { limit: max_body }.into());
        }
        headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
    }

    let uri = match meta.request_uri.filter(|u| !u.is_empty()) {
        Some(raw) => {
            // Origin-form only (`*` for OPTIONS): the web server has
            // already taken the authority from an absolute-form target.
            let origin = raw.starts_with(b"/") || (raw == b"*" && method == Method::OPTIONS);
            match Uri::try_from(raw) {
                Ok(uri) if origin => uri,
                _ => return reject(bad("REQUEST_URI is not an origin-form request-target")),
            }
        }
        None => match meta.uri_from_cgi_params() {
            Some(uri) => uri,
            None => return reject(bad("the path and query make no request-target")),
        },
    };
    if has_dot_segment(uri.path()) {
        return reject(bad("dot segment in the request path"));
    }
    let script_name = meta.mount_prefix(uri.path());

    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let (parts, ()) = request.into_parts();
    Ok(Head {
        parts,
        conn: meta.conn(),
        script_name,
        content_length,
        hints,
    })
}

impl Meta<'_> {
    fn version(&self) -> Version {
        match self.protocol {
            Some(b"HTTP/0.9") => Version::HTTP_09,
            Some(b"HTTP/1.0") => Version::HTTP_10,
            Some(b"HTTP/2" | b"HTTP/2.0") => Version::HTTP_2,
            Some(b"HTTP/3" | b"HTTP/3.0") => Version::HTTP_3,
            _ => Version::HTTP_11,
        }
    }

    fn scheme(&self) -> Scheme {
        let https = self
            .https
            .is_some_and(|v| v.eq_ignore_ascii_case(b"on") || v == b"1");
        let scheme = self
            .request_scheme
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(Scheme::parse);
        match scheme {
            Some(scheme) => scheme,
            None if https => Scheme::Https,
            None => Scheme::Http,
        }
    }

    fn conn(&self) -> ConnInfo {
        let scheme = self.scheme();
        ConnInfo::new(
            addr(self.remote_addr, self.remote_port),
            addr(self.server_addr, self.server_port),
        )
        .with_scheme(scheme, scheme == Scheme::Https)
    }

    /// `SERVER_NAME[:SERVER_PORT]` as a `Host`, when the web server sent
    /// no `HTTP_HOST` (an HTTP/1.0 client without `Host`).
    fn host_from_server(&self) -> Option<HeaderValue> {
        let name = std::str::from_utf8(self.server_name?).ok()?;
        let host = match port(self.server_port) {
            Some(port) if port != self.scheme().default_port() => format!("{name}:{port}"),
            _ => name.to_owned(),
        };
        let value = HeaderValue::try_from(host).ok()?;
        is_valid_host(value.as_bytes()).then_some(value)
    }

    /// Without `REQUEST_URI`: `SCRIPT_NAME` + `PATH_INFO`, encoded again
    /// (an encoded `/` in the original is a real one now), and
    /// `QUERY_STRING`.
    fn uri_from_cgi_params(&self) -> Option<Uri> {
        let mut target = String::new();
        encode_path(self.script_name.unwrap_or_default(), &mut target);
        encode_path(self.path_info.unwrap_or_default(), &mut target);
        if target.is_empty() {
            target.push('/');
        }
        if let Some(query) = self.query.filter(|q| !q.is_empty()) {
            target.push('?');
            target.push_str(std::str::from_utf8(query).ok()?);
        }
        target.parse().ok()
    }

    /// The prefix to mount: `SCRIPT_NAME`, only when the web server split
    /// the path (it sent `PATH_INFO`, even empty) and `SCRIPT_NAME` is a
    /// raw prefix of the path on a segment boundary. Stock
    /// `fastcgi_params` send `SCRIPT_NAME` = the whole decoded path and no
    /// `PATH_INFO`: that is not a mount point.
    fn mount_prefix(&self, path: &str) -> Option<Box<str>> {
        self.path_info?;
        let script = std::str::from_utf8(self.script_name?).ok()?;
        let script = script.trim_end_matches('/');
        let on_boundary = path.starts_with(script)
            && matches!(path.as_bytes().get(script.len()), None | Some(b'/'));
        if script.is_empty() || !on_boundary {
            if !script.is_empty() {
                tracing::debug!(
                    script_name = script,
                    path,
                    "SCRIPT_NAME is not a raw prefix of REQUEST_URI's path: not mounted"
                );
            }
            return None;
        }
        Some(script.into())
    }
}

/// Whether `path` has a `.` or `..` segment, raw or percent-encoded
/// (`%2e`, `.%2E`…): the rule of [`RootPath`](gateway_core::RootPath).
/// The web server matched its locations against the path with those
/// segments removed; the application would see them kept.
pub(crate) fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let len = segment.len();
        // `.`, `..`, or the same with some dots as `%2e` (3 bytes each).
        if len == 0 || len > 6 || !segment.bytes().all(|b| b"%.2eE".contains(&b)) {
            return false;
        }
        let dots = segment.to_ascii_lowercase().replace("%2e", ".");
        dots == "." || dots == ".."
    })
}

fn port(value: Option<&[u8]>) -> Option<u16> {
    std::str::from_utf8(value?).ok()?.parse().ok()
}

fn addr(ip: Option<&[u8]>, p: Option<&[u8]>) -> Addr {
    let ip = ip
        .and_then(|ip| std::str::from_utf8(ip).ok())
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    match ip {
        Some(ip) => Addr::Tcp(SocketAddr::new(ip, port(p).unwrap_or(0))),
        // nginx sends `unix:` for a client of a Unix-socket listener.
        None => Addr::None,
    }
}

fn encode_path(path: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests;
