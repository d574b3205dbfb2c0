//! [`Environ`]: the request as an application sees it — PEP 3333's `environ`
//! dict, as a typed struct.
//!
//! | WSGI key | `Environ` |
//! |---|---|
//! | `REQUEST_METHOD` | [`method`](Environ::method) |
//! | `SCRIPT_NAME` | [`script_name`](Environ::script_name) (raw, percent-encoded) |
//! | `PATH_INFO` | [`path_info`](Environ::path_info) (raw; decoded with [`path_info_decoded`](Environ::path_info_decoded)) |
//! | `QUERY_STRING` | [`query`](Environ::query), [`query_pairs`](Environ::query_pairs) |
//! | `HTTP_*`, `CONTENT_TYPE`, `CONTENT_LENGTH` | [`headers`](Environ::headers) |
//! | `SERVER_PROTOCOL` | [`version`](Environ::version) |
//! | `SERVER_NAME`, `SERVER_PORT` | [`server_name`](Environ::server_name), [`server_port`](Environ::server_port) (views of `Host`) |
//! | `REMOTE_ADDR` | [`conn`](Environ::conn)`.peer()` |
//! | `wsgi.url_scheme` | [`scheme`](Environ::scheme) |
//! | `wsgi.input` | [`body_mut`](Environ::body_mut), [`take_body`](Environ::take_body) |
//! | anything a middleware adds | [`extensions`](Environ::extensions) (typed) |
//!
//! # The path invariant
//!
//! `path_info` is a suffix of the path of the request-target the client
//! sent, exactly as received (still percent-encoded, so `%2F` survives). It
//! is empty or starts with `/`, except `*` for `OPTIONS *` and empty for
//! `CONNECT`. `script_name` is empty, or starts with `/` and does not end
//! with `/`; it is the part of the path an application is mounted under
//! (moved there by [`Environ::mount`]), preceded by an external prefix
//! ([`RootPath`]) given by configuration or a trusted proxy. Together,
//! `script_name + path_info` is the path the client used, and [`url`]
//! rebuilds the URL from raw bytes without re-quoting.
//!
//! [`url`]: Environ::url
//!
//! ```
//! use gateway_core::{Body, Environ, RootPath};
//!
//! let req = http::Request::get("/app/files/a%2Fb?x=1").body(Body::empty()).unwrap();
//! let mut env = Environ::from_request(req);
//! assert_eq!(env.path_info(), "/app/files/a%2Fb");
//!
//! assert!(env.mount("/app"));
//! assert_eq!((env.script_name(), env.path_info()), ("/app", "/files/a%2Fb"));
//!
//! env.set_root_path(Some(RootPath::from_static("/outer")));
//! assert_eq!(env.script_name(), "/outer/app");
//! assert_eq!(env.path_info_decoded().unwrap(), "/files/a/b");
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use http::header::HOST;
use http::{Extensions, HeaderMap, Method, Request, Uri, Version};
use sync_wrapper::SyncWrapper;

use crate::body::Body;

/// The request: head, body, connection facts and typed extensions. See the
/// [module docs](self).
pub struct Environ {
    parts: http::request::Parts,
    /// Reachable only through `&mut self`, which makes the environ `Sync`
    /// although a body is not.
    body: SyncWrapper<Body>,
    conn: ConnInfo,
    script: Script,
}

/// Where `script_name` ends: an optional external prefix, then the first
/// `mount` bytes of the request path. Setting the prefix allocates nothing
/// (a `RootPath` clone is a reference count at most), so an adapter with a
/// configured root path fills every environ without allocating.
#[derive(Default)]
struct Script {
    mount: usize,
    root: Option<RootPath>,
    /// `root + mounted part`, built on first use when both are non-empty.
    joined: OnceLock<Box<str>>,
}
impl Environ {
    /// Builds an environ from a request head and body, as an adapter does.
    /// `script_name` starts empty (or as [`RootPath`] says once set).
    ///
    /// Nothing is copied and nothing is inserted into the extensions.
    #[inline]
    pub fn from_parts(parts: http::request::Parts, body: Body, conn: ConnInfo) -> Environ {
        Environ {
            parts,
            body: SyncWrapper::new(body),
            conn,
            script: Script::default(),
        }
    }

    /// Builds an environ from an `http::Request`. If the request carries a
    /// [`GatewayFacts`] extension (it was made by [`Environ::into_request`],
    /// perhaps changed by tower layers since), the extension is removed and
    /// the gateway facts are restored from it as
    /// [`Environ::from_parts_and_facts`] describes; otherwise they are empty.
    pub fn from_request(req: Request<Body>) -> Environ {
        let (mut parts, body) = req.into_parts();
        match parts.extensions.remove::<GatewayFacts>() {
            Some(facts) => Environ::from_parts_and_facts(parts, body, facts),
            None => Environ::from_parts(parts, body, ConnInfo::default()),
        }
    }

    /// The inverse of [`Environ::into_parts`]: restores the connection
    /// facts, the root path and the `script_name` / `path_info` split.
    ///
    /// The head's URI is read relative to the mount point, as
    /// [`into_parts`](Environ::into_parts) left it (`path_info?query`):
    ///
    /// - unchanged, the request-target the client sent comes back exactly
    ///   ([`GatewayFacts::original_uri`]), so `script_name`, `path_info`,
    ///   `%2F` and the query are as they were;
    /// - changed by a layer in between, a path starting with `/` is put
    ///   back under the mounted part of `script_name` (a layer that
    ///   rewrites `/x` to `/y` in an application mounted at `/app` makes
    ///   the path `/app/y`), with the layer's query, scheme and authority;
    /// - changed to anything else (`*`, an empty path), the mounted part
    ///   is dropped and `script_name` is just the root path.
    ///
    /// ```
    /// use gateway_core::{Body, Environ};
    ///
    /// let mut env = Environ::from_request(http::Request::get("/app/x?q").body(Body::empty()).unwrap());
    /// env.mount("/app");
    /// let (mut parts, body, facts) = env.into_parts();
    /// assert_eq!(parts.uri, "/x?q");
    /// parts.uri = "/y?r".parse().unwrap(); // a rewriting layer
    /// let env = Environ::from_parts_and_facts(parts, body, facts);
    /// assert_eq!((env.script_name(), env.path_info(), env.query()), ("/app", "/y", "r"));
    /// ```
    pub fn from_parts_and_facts(
        mut parts: http::request::Parts,
        body: Body,
        facts: GatewayFacts,
    ) -> Environ {
        let GatewayFacts {
            conn,
            root,
            original_uri,
            mount,
        } = facts;
        let mut env_mount = 0;
        if mount > 0 {
            if let Some(uri) = restore_uri(&parts.uri, original_uri, mount) {
                parts.uri = uri;
                env_mount = mount;
            }
        }
        let mut env = Environ::from_parts(parts, body, conn);
        env.script.mount = env_mount;
        env.script.root = root;
        env
    }

    /// Converts into an `http::Request` for a service outside the gateway
    /// interface (a tower service or layer, an axum `Router`): the head as
    /// [`Environ::into_parts`] gives it, with the gateway facts in one
    /// [`GatewayFacts`] extension, so that [`Environ::from_request`]
    /// restores them losslessly.
    ///
    /// The URI is `path_info?query`, as axum's `nest_service` gives a
    /// nested service: a service mounted at `/app` sees `/x` for `/app/x`
    /// (and `/` for `/app`). Read the prefix with
    /// [`GatewayFacts::script_name`] and the request-target as the client
    /// sent it with [`GatewayFacts::original_uri`].
    ///
    /// Costs one extension insert (the extension map's allocations when it
    /// was empty) and, when `script_name` has a mounted part, one
    /// allocation for the rewritten URI. Adapters never call it.
    ///
    /// ```
    /// use gateway_core::{Body, Environ, GatewayFacts, RootPath};
    ///
    /// let req = http::Request::get("/app/a%2Fb?x=1").body(Body::empty()).unwrap();
    /// let mut env = Environ::from_request(req);
    /// env.set_root_path(Some(RootPath::from_static("/outer")));
    /// env.mount("/app");
    ///
    /// let req = env.into_request();
    /// assert_eq!(req.uri(), "/a%2Fb?x=1");
    /// let facts = req.extensions().get::<GatewayFacts>().unwrap();
    /// assert_eq!(facts.script_name(), "/outer/app");
    /// assert_eq!(facts.original_uri(), "/app/a%2Fb?x=1");
    ///
    /// let env = Environ::from_request(req);
    /// assert_eq!((env.script_name(), env.path_info()), ("/outer/app", "/a%2Fb"));
    /// assert!(env.extensions().get::<GatewayFacts>().is_none());
    /// ```
    pub fn into_request(self) -> Request<Body> {
        let (mut parts, body, facts) = self.into_parts();
        parts.extensions.insert(facts);
        Request::from_parts(parts, body)
    }

    /// Splits into the request head as a hosted service sees it (the URI
    /// rewritten to `path_info?query` when `script_name` has a mounted
    /// part, see [`Environ::into_request`]), the body, and the gateway
    /// facts. [`Environ::from_parts_and_facts`] is the inverse.
    pub fn into_parts(self) -> (http::request::Parts, Body, GatewayFacts) {
        let Environ {
            mut parts,
            body,
            conn,
            script,
        } = self;
        let original_uri = parts.uri.clone();
        let mut mount = script.mount;
        if mount > 0 {
            match hosted_uri(&parts.uri, mount) {
                Some(uri) => parts.uri = uri,
                // Not reached for a URI with a path; keeping the target
                // whole and dropping the split loses no byte of it.
                None => mount = 0,
            }
        }
        let facts = GatewayFacts {
            conn,
            root: script.root,
            original_uri,
            mount,
        };
        (parts, body.into_inner(), facts)
    }

    /// The request method.
    #[inline]
    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    /// Replaces the method (a method-override middleware).
    pub fn set_method(&mut self, method: Method) {
        self.parts.method = method;
    }

    /// Replaces the request-target (a rewriting middleware). The mounted
    /// part of `script_name` is kept if the new path starts with it on a
    /// segment boundary, and dropped otherwise; the root path is kept.
    ///
    /// ```
    /// use gateway_core::{Body, Environ};
    ///
    /// let mut env = Environ::from_request(http::Request::get("/app/old").body(Body::empty()).unwrap());
    /// env.mount("/app");
    /// env.set_uri("/app/new?x".parse().unwrap());
    /// assert_eq!((env.script_name(), env.path_info(), env.query()), ("/app", "/new", "x"));
    /// env.set_uri("/elsewhere".parse().unwrap());
    /// assert_eq!((env.script_name(), env.path_info()), ("", "/elsewhere"));
    /// ```
    pub fn set_uri(&mut self, uri: Uri) {
        let mounted = &self.path()[..self.script.mount];
        let new_path = uri.path();
        let keep = new_path.starts_with(mounted)
            && matches!(new_path.as_bytes().get(mounted.len()), None | Some(b'/'));
        if !keep {
            self.script.mount = 0;
        }
        self.parts.uri = uri;
        self.forget_joined();
    }

    /// The request-target as received (absolute-form targets keep their
    /// scheme and authority).
    #[inline]
    pub fn uri(&self) -> &Uri {
        &self.parts.uri
    }

    /// The HTTP version.
    #[inline]
    pub fn version(&self) -> Version {
        self.parts.version
    }

    /// The request headers.
    #[inline]
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// The request headers, for middleware that edits them.
    #[inline]
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.parts.headers
    }

    /// Typed values added by the adapter or by middleware (a session, an
    /// identity, a request id).
    #[inline]
    pub fn extensions(&self) -> &Extensions {
        &self.parts.extensions
    }

    /// Mutable access to the extensions.
    #[inline]
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.parts.extensions
    }

    /// The request body (`wsgi.input`).
    #[inline]
    pub fn body_mut(&mut self) -> &mut Body {
        self.body.get_mut()
    }

    /// Takes the request body out, leaving an empty one.
    #[inline]
    pub fn take_body(&mut self) -> Body {
        std::mem::take(self.body.get_mut())
    }

    /// Replaces the request body.
    pub fn set_body(&mut self, body: Body) {
        *self.body.get_mut() = body;
    }

    /// Facts about the connection: addresses, scheme, TLS.
    #[inline]
    pub fn conn(&self) -> &ConnInfo {
        &self.conn
    }

    /// Mutable connection facts (a trusted proxy middleware updates them).
    #[inline]
    pub fn conn_mut(&mut self) -> &mut ConnInfo {
        &mut self.conn
    }

    /// The URL scheme the client used (`wsgi.url_scheme`).
    #[inline]
    pub fn scheme(&self) -> Scheme {
        self.conn.scheme
    }

    /// The path of the request-target, raw. `*` for `OPTIONS *`, empty for
    /// `CONNECT`.
    #[inline]
    pub fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// `SCRIPT_NAME`: the external prefix followed by the mounted part of
    /// the path; empty, or starts with `/` and does not end with `/`.
    pub fn script_name(&self) -> &str {
        let mounted = &self.path()[..self.script.mount];
        match &self.script.root {
            None => mounted,
            Some(root) if mounted.is_empty() => root.as_str(),
            Some(root) => self
                .script
                .joined
                .get_or_init(|| [root.as_str(), mounted].concat().into_boxed_str()),
        }
    }

    /// `PATH_INFO`: the rest of the path, raw (percent-encoded).
    #[inline]
    pub fn path_info(&self) -> &str {
        &self.path()[self.script.mount..]
    }

    /// `PATH_INFO` percent-decoded. Fails if the decoded bytes are not
    /// UTF-8. Borrows unless there is something to decode.
    pub fn path_info_decoded(&self) -> Result<Cow<'_, str>, std::str::Utf8Error> {
        percent_encoding::percent_decode_str(self.path_info()).decode_utf8()
    }

    /// `SCRIPT_NAME` percent-decoded.
    pub fn script_name_decoded(&self) -> Result<Cow<'_, str>, std::str::Utf8Error> {
        percent_encoding::percent_decode_str(self.script_name()).decode_utf8()
    }

    /// The external prefix, if any.
    pub fn root_path(&self) -> Option<&RootPath> {
        self.script.root.as_ref()
    }

    /// Sets the external prefix that precedes the mounted part of
    /// `script_name` (configuration, or `X-Forwarded-Prefix` from a trusted
    /// proxy).
    #[inline]
    pub fn set_root_path(&mut self, root: Option<RootPath>) {
        self.script.root = root;
        self.forget_joined();
    }

    /// Moves `prefix` from the start of `path_info` to the end of
    /// `script_name`, if `path_info` starts with it on a segment boundary:
    /// `/app` matches `/app` and `/app/x`, not `/apple`. The comparison is
    /// of raw bytes (no decoding, no `.`/`..` handling). Trailing `/`s of
    /// `prefix` are ignored; an empty prefix (or `/`) matches and moves
    /// nothing; a prefix that does not start with `/` or has an empty
    /// segment (`//`) never matches. Returns whether it matched.
    ///
    /// ```
    /// # use gateway_core::{Body, Environ};
    /// let mut env = Environ::from_request(http::Request::get("/apple").body(Body::empty()).unwrap());
    /// assert!(!env.mount("/app"));
    /// assert!(env.mount("/apple"));
    /// assert_eq!((env.script_name(), env.path_info()), ("/apple", ""));
    /// ```
    pub fn mount(&mut self, prefix: &str) -> bool {
        let prefix = prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return true;
        }
        if !prefix.starts_with('/') || prefix.contains("//") {
            return false;
        }
        let info = self.path_info();
        let matched = info.starts_with(prefix)
            && matches!(info.as_bytes().get(prefix.len()), None | Some(b'/'));
        if matched {
            self.script.mount += prefix.len();
            self.forget_joined();
        }
        matched
    }

    /// Moves the first segment of `path_info` to `script_name` and returns
    /// it (raw), like `wsgiref.util.shift_path_info`. Returns `None`, moving
    /// nothing, when `path_info` has no non-empty first segment (`""`, `/`,
    /// `//x`).
    pub fn shift_path_info(&mut self) -> Option<&str> {
        let info = self.path_info();
        let rest = info.strip_prefix('/')?;
        let seg_len = rest.find('/').unwrap_or(rest.len());
        if seg_len == 0 {
            return None;
        }
        let start = self.script.mount + 1;
        self.script.mount += 1 + seg_len;
        self.forget_joined();
        Some(&self.path()[start..start + seg_len])
    }

    #[inline]
    fn forget_joined(&mut self) {
        if self.script.joined.get().is_some() {
            self.script.joined = OnceLock::new();
        }
    }

    /// The raw query string (`QUERY_STRING`), without `?`; empty if none.
    #[inline]
    pub fn query(&self) -> &str {
        self.parts.uri.query().unwrap_or("")
    }

    /// The query's `application/x-www-form-urlencoded` pairs, decoded
    /// lazily as the iterator advances.
    ///
    /// ```
    /// # use gateway_core::{Body, Environ};
    /// let env = Environ::from_request(http::Request::get("/?a=1&b=x%20y").body(Body::empty()).unwrap());
    /// let pairs: Vec<_> = env.query_pairs().collect();
    /// assert_eq!(pairs[1], ("b".into(), "x y".into()));
    /// ```
    pub fn query_pairs(&self) -> form_urlencoded::Parse<'_> {
        form_urlencoded::parse(self.query().as_bytes())
    }

    /// The host the client asked for, `host[:port]`: the authority of an
    /// absolute-form target or HTTP/2 `:authority` (without any userinfo),
    /// else the `Host` header. A `Host` that is not `uri-host [":" port]`
    /// (RFC 9110 §7.2: no userinfo, path, spaces…) counts as absent, so it
    /// never reaches [`url`](Environ::url).
    pub fn host(&self) -> Option<&str> {
        if let Some(authority) = self.parts.uri.authority() {
            let authority = authority.as_str();
            return Some(
                authority
                    .rsplit_once('@')
                    .map_or(authority, |(_, host)| host),
            );
        }
        let host = self.parts.headers.get(HOST)?.to_str().ok()?;
        is_valid_host(host).then_some(host)
    }

    /// `SERVER_NAME`: the host without its port (IPv6 literals keep their
    /// brackets); falls back to the local IP address, then `localhost`.
    pub fn server_name(&self) -> Cow<'_, str> {
        if let Some(host) = self.host() {
            return Cow::Borrowed(split_host_port(host).0);
        }
        match &self.conn.local {
            Addr::Tcp(addr) => Cow::Owned(match addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            }),
            _ => Cow::Borrowed("localhost"),
        }
    }

    /// `SERVER_PORT`: the port in the host if given, else the default port
    /// of the scheme (80, 443), else the local TCP port.
    pub fn server_port(&self) -> u16 {
        if let Some(port) = self.host().and_then(|h| split_host_port(h).1) {
            return port;
        }
        if self.host().is_none() {
            if let Addr::Tcp(addr) = &self.conn.local {
                return addr.port();
            }
        }
        self.conn.scheme.default_port()
    }

    /// Rebuilds the URL the client used, PEP 3333's algorithm on raw bytes:
    /// `scheme://host` + `script_name` + `path_info` + `?query`. The
    /// authority is the `Host` (or `:authority`) as sent; without one,
    /// `server_name` and a non-default `server_port`. Nothing is re-quoted,
    /// so `%2F` stays `%2F`.
    ///
    /// ```
    /// # use gateway_core::{Body, Environ, RootPath};
    /// let req = http::Request::get("/x/a%2Fb?q=1").header("host", "example.com:8080")
    ///     .body(Body::empty()).unwrap();
    /// let mut env = Environ::from_request(req);
    /// env.set_root_path(Some(RootPath::from_static("/outer")));
    /// assert_eq!(env.url(), "http://example.com:8080/outer/x/a%2Fb?q=1");
    /// ```
    pub fn url(&self) -> String {
        let mut url = self.host_url();
        url.push_str(self.script_name());
        // `OPTIONS *` targets the server itself: its URL has no path.
        if self.path_info() != "*" {
            url.push_str(self.path_info());
        }
        let query = self.query();
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// `scheme://authority`, the start of [`Environ::url`].
    pub fn host_url(&self) -> String {
        let scheme = self.conn.scheme.as_str();
        let mut url = String::with_capacity(64);
        url.push_str(scheme);
        url.push_str("://");
        match self.host() {
            Some(host) => url.push_str(host),
            None => {
                url.push_str(&self.server_name());
                let port = self.server_port();
                if self.conn.scheme.default_port() != port {
                    url.push(':');
                    url.push_str(&port.to_string());
                }
            }
        }
        url
    }
}

/// Whether `host` is `uri-host [":" port]` (RFC 9110 §7.2, RFC 3986 §3.2.2):
/// an IP literal in brackets, or a reg-name / IPv4 address, and digits for
/// the port. Adapters answer a request whose `Host` fails this with 400.
/// Takes bytes too (a `HeaderValue`'s), so that no UTF-8 check runs first:
/// a valid host is ASCII.
///
/// ```
/// use gateway_core::environ::is_valid_host;
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
/// use gateway_core::environ::split_host_port;
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

/// `uri` with its path replaced by the part after the first `mount`
/// bytes (`/` when nothing is left): what a service mounted there sees.
fn hosted_uri(uri: &Uri, mount: usize) -> Option<Uri> {
    let info = uri.path().get(mount..)?;
    let path = if info.is_empty() { "/" } else { info };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query(path, uri.query())?);
    Uri::from_parts(parts).ok()
}

/// The request-target [`hosted_uri`] was given, from `current` (the
/// hosted URI, perhaps rewritten by a layer). `None` when `current` has no
/// path a mount point can precede.
fn restore_uri(current: &Uri, original: Uri, mount: usize) -> Option<Uri> {
    let (mounted, info) = original.path().split_at_checked(mount)?;
    let handed = if info.is_empty() { "/" } else { info };
    let path = current.path();
    let full: Cow<'_, str> = if path == handed {
        Cow::Borrowed(original.path())
    } else if path.starts_with('/') {
        Cow::Owned([mounted, path].concat())
    } else {
        return None;
    };
    if *full == *original.path()
        && current.query() == original.query()
        && current.scheme() == original.scheme()
        && current.authority() == original.authority()
    {
        return Some(original);
    }
    let mut parts = current.clone().into_parts();
    parts.path_and_query = Some(path_and_query(&full, current.query())?);
    Uri::from_parts(parts).ok()
}

fn path_and_query(path: &str, query: Option<&str>) -> Option<http::uri::PathAndQuery> {
    let mut joined = String::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
    joined.push_str(path);
    if let Some(query) = query {
        joined.push('?');
        joined.push_str(query);
    }
    http::uri::PathAndQuery::try_from(joined).ok()
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environ")
            .field("method", self.method())
            .field("uri", self.uri())
            .field("version", &self.version())
            .field("script_name", &self.script_name())
            .field("path_info", &self.path_info())
            .field("headers", self.headers())
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

/// The gateway facts an `http::Request` carries after
/// [`Environ::into_request`]: one extension, inserted only on that
/// conversion (never by an adapter) and removed by
/// [`Environ::from_request`].
///
/// It holds what the `http` types have no place for: the connection
/// facts, the root path, and the `script_name` / `path_info` split, kept as
/// the request-target the client sent plus the length of its mounted part.
/// A service hosted in the gateway (an axum `Router`) reads its mount
/// prefix here, since its URI is only `path_info?query`:
///
/// ```
/// use gateway_core::{Body, Environ, GatewayFacts};
///
/// let mut env = Environ::from_request(http::Request::get("/api/users").body(Body::empty()).unwrap());
/// env.mount("/api");
/// let req = env.into_request();
/// let facts = req.extensions().get::<GatewayFacts>().unwrap();
/// assert_eq!((facts.script_name(), req.uri().path()), ("/api".into(), "/users"));
/// ```
#[derive(Clone, Debug)]
pub struct GatewayFacts {
    conn: ConnInfo,
    root: Option<RootPath>,
    /// The request-target as received.
    original_uri: Uri,
    /// How many bytes of `original_uri`'s path are the mounted part of
    /// `script_name`.
    mount: usize,
}

impl GatewayFacts {
    /// The connection facts.
    pub fn conn(&self) -> &ConnInfo {
        &self.conn
    }

    /// The external prefix.
    pub fn root_path(&self) -> Option<&RootPath> {
        self.root.as_ref()
    }

    /// The part of the request path that belongs to `script_name` (after
    /// the external prefix), raw.
    pub fn mounted(&self) -> &str {
        &self.original_uri.path()[..self.mount]
    }

    /// `SCRIPT_NAME`: the external prefix followed by the mounted part,
    /// raw; empty, or starts with `/` and does not end with `/`. Borrows
    /// unless both parts are non-empty.
    pub fn script_name(&self) -> Cow<'_, str> {
        match &self.root {
            None => Cow::Borrowed(self.mounted()),
            Some(root) if self.mount == 0 => Cow::Borrowed(root.as_str()),
            Some(root) => Cow::Owned([root.as_str(), self.mounted()].concat()),
        }
    }

    /// The request-target as the client sent it (axum's `OriginalUri`):
    /// `script_name`'s mounted part, `path_info` and the query.
    pub fn original_uri(&self) -> &Uri {
        &self.original_uri
    }
}

/// Facts about the connection a request arrived on.
///
/// `Copy`: an adapter builds one per connection and copies it into every
/// request, which costs a few register moves and no reference counting. A
/// trusted-proxy middleware may change a request's copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    peer: Addr,
    local: Addr,
    scheme: Scheme,
    tls: bool,
}

impl Default for ConnInfo {
    /// No addresses, `http`, no TLS.
    fn default() -> Self {
        ConnInfo {
            peer: Addr::None,
            local: Addr::None,
            scheme: Scheme::Http,
            tls: false,
        }
    }
}

impl ConnInfo {
    /// Connection facts with the given addresses, `http` and no TLS.
    ///
    /// ```
    /// use gateway_core::{Addr, ConnInfo};
    /// let conn = ConnInfo::new(Addr::Tcp("127.0.0.1:5000".parse().unwrap()), Addr::None);
    /// assert_eq!(conn.peer().ip().unwrap().to_string(), "127.0.0.1");
    /// ```
    pub fn new(peer: Addr, local: Addr) -> ConnInfo {
        ConnInfo {
            peer,
            local,
            ..ConnInfo::default()
        }
    }

    /// Sets the scheme and whether the connection is TLS; `https` goes with
    /// TLS unless a proxy in front terminated it.
    pub fn with_scheme(mut self, scheme: Scheme, tls: bool) -> ConnInfo {
        self.scheme = scheme;
        self.tls = tls;
        self
    }

    /// The client's address (`REMOTE_ADDR`).
    pub fn peer(&self) -> &Addr {
        &self.peer
    }

    /// The address the connection was accepted on.
    pub fn local(&self) -> &Addr {
        &self.local
    }

    /// The URL scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether this hop is TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Sets the client's address.
    pub fn set_peer(&mut self, peer: Addr) {
        self.peer = peer;
    }

    /// Sets the local address.
    pub fn set_local(&mut self, local: Addr) {
        self.local = local;
    }

    /// Sets the URL scheme.
    pub fn set_scheme(&mut self, scheme: Scheme) {
        self.scheme = scheme;
    }

    /// Sets whether the connection is TLS.
    pub fn set_tls(&mut self, tls: bool) {
        self.tls = tls;
    }
}

/// The URL scheme of a request, `wsgi.url_scheme`: PEP 3333 allows exactly
/// `http` and `https`, and so does this enum (WebSocket URLs are derived
/// from these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Scheme {
    /// `http`
    #[default]
    Http,
    /// `https`
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 or 443.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// Parses `http` or `https`, ignoring ASCII case.
    ///
    /// ```
    /// use gateway_core::Scheme;
    /// assert_eq!(Scheme::parse("HTTPS"), Some(Scheme::Https));
    /// assert_eq!(Scheme::parse("ftp"), None);
    /// ```
    pub fn parse(s: &str) -> Option<Scheme> {
        if s.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else if s.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else {
            None
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Scheme> for http::uri::Scheme {
    fn from(s: Scheme) -> Self {
        match s {
            Scheme::Http => http::uri::Scheme::HTTP,
            Scheme::Https => http::uri::Scheme::HTTPS,
        }
    }
}

/// A socket address: TCP, Unix, or none (in-process calls, CGI without
/// `REMOTE_ADDR`).
///
/// `Copy`. A Unix address carries the path of a listening socket as a
/// `&'static Path` (adapters keep each listener's path for the life of the
/// process: one small allocation per listener); peers of Unix sockets are
/// normally unnamed and reported as `Unix(None)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Addr {
    /// No address is known.
    #[default]
    None,
    /// An IP address and port.
    Tcp(SocketAddr),
    /// A Unix socket; the path when it has one.
    Unix(Option<&'static Path>),
}

impl Addr {
    /// The IP address, for TCP.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Addr::Tcp(addr) => Some(addr.ip()),
            _ => None,
        }
    }

    /// The socket address, for TCP.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Addr::Tcp(addr) => Some(*addr),
            _ => None,
        }
    }
}

impl From<SocketAddr> for Addr {
    fn from(addr: SocketAddr) -> Self {
        Addr::Tcp(addr)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::None => f.write_str("-"),
            Addr::Tcp(addr) => fmt::Display::fmt(addr, f),
            Addr::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Addr::Unix(None) => f.write_str("unix"),
        }
    }
}

/// An external path prefix that precedes `script_name`: an application
/// served under `/outer` by a proxy that strips it. Validated: an absolute
/// path of `pchar` segments, no empty, `.` or `..` segments, no trailing
/// `/`. Cloning does not allocate.
#[derive(Clone, PartialEq, Eq)]
pub struct RootPath(RootRepr);

#[derive(Clone, PartialEq, Eq)]
enum RootRepr {
    Static(&'static str),
    Shared(Arc<str>),
}

/// A string that is not a valid [`RootPath`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid root path: {reason}")]
pub struct InvalidRootPath {
    reason: &'static str,
}

impl RootPath {
    /// Validates `prefix` (one trailing `/` is dropped).
    ///
    /// ```
    /// use gateway_core::RootPath;
    /// assert_eq!(RootPath::new("/outer/").unwrap().as_str(), "/outer");
    /// assert!(RootPath::new("/a/../b").is_err());
    /// assert!(RootPath::new("/a\r\nSet-Cookie: x").is_err());
    /// ```
    pub fn new(prefix: &str) -> Result<RootPath, InvalidRootPath> {
        let prefix = validate_root(prefix)?;
        Ok(RootPath(RootRepr::Shared(Arc::from(prefix))))
    }

    /// A root path from a constant. Allocates nothing.
    ///
    /// # Panics
    ///
    /// If `prefix` is not valid (as [`RootPath::new`] checks), like
    /// `HeaderValue::from_static`: it is a programming error in a constant.
    pub fn from_static(prefix: &'static str) -> RootPath {
        match validate_root(prefix) {
            Ok(p) => RootPath(RootRepr::Static(p)),
            Err(e) => panic!("{e}: {prefix:?}"),
        }
    }

    /// The prefix: starts with `/`, does not end with `/`.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            RootRepr::Static(s) => s,
            RootRepr::Shared(s) => s,
        }
    }
}

fn validate_root(prefix: &str) -> Result<&str, InvalidRootPath> {
    let err = |reason| Err(InvalidRootPath { reason });
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    if prefix.is_empty() {
        return err("empty (use no root path)");
    }
    if !prefix.starts_with('/') {
        return err("does not start with '/'");
    }
    for segment in prefix[1..].split('/') {
        if segment.is_empty() {
            return err("empty segment");
        }
        if segment == "." || segment == ".." || segment.eq_ignore_ascii_case("%2e") {
            return err("dot segment");
        }
        let bytes = segment.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let ok = b.is_ascii_alphanumeric()
                || b"-._~!$&'()*+,;=:@".contains(&b)
                || (b == b'%'
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
            if !ok {
                return err("character not allowed in a path segment");
            }
        }
        let lower = segment.to_ascii_lowercase();
        let decoded_dots = lower.replace("%2e", ".");
        if decoded_dots == ".." || decoded_dots == "." {
            return err("dot segment");
        }
        if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") {
            return err("encoded slash, backslash or NUL");
        }
    }
    Ok(prefix)
}

impl fmt::Debug for RootPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for RootPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(method: Method, target: &str) -> Environ {
        Environ::from_request(
            Request::builder()
                .method(method)
                .uri(target)
                .header("host", "example.com")
                .body(Body::empty())
                .unwrap(),
        )
    }

    fn check_invariant(e: &Environ) {
        let s = e.script_name();
        let p = e.path_info();
        assert!(
            s.is_empty() || (s.starts_with('/') && !s.ends_with('/')),
            "{s:?}"
        );
        if e.method() == Method::CONNECT {
            assert_eq!(p, "");
        } else if e.method() == Method::OPTIONS && e.path() == "*" {
            assert_eq!(p, "*");
        } else {
            assert!(p.is_empty() || p.starts_with('/'), "{p:?}");
        }
        assert!(e.path().ends_with(p));
    }

    #[test]
    fn encoded_slash_survives() {
        let mut e = env(Method::GET, "/a%2Fb/c");
        assert_eq!(e.path_info(), "/a%2Fb/c");
        assert!(!e.mount("/a"), "%2F is not a segment boundary");
        assert!(e.mount("/a%2Fb"));
        assert_eq!((e.script_name(), e.path_info()), ("/a%2Fb", "/c"));
        assert_eq!(e.url(), "http://example.com/a%2Fb/c");
        check_invariant(&e);
    }

    #[test]
    fn options_star() {
        let e = env(Method::OPTIONS, "*");
        assert_eq!(e.path_info(), "*");
        assert_eq!(e.script_name(), "");
        check_invariant(&e);
    }

    #[test]
    fn connect_has_empty_path_info() {
        let e = env(Method::CONNECT, "example.com:443");
        assert_eq!(e.path_info(), "");
        check_invariant(&e);
    }

    #[test]
    fn absolute_form_target_uses_its_path_and_authority() {
        let e = Environ::from_request(
            Request::get("http://other.test:81/p?q")
                .body(Body::empty())
                .unwrap(),
        );
        assert_eq!(e.path_info(), "/p");
        assert_eq!(e.host(), Some("other.test:81"));
        assert_eq!(e.server_port(), 81);
        assert_eq!(e.url(), "http://other.test:81/p?q");
    }

    #[test]
    fn external_prefix_joins_script_name() {
        let mut e = env(Method::GET, "/app/x");
        e.set_root_path(Some(RootPath::new("/outer").unwrap()));
        assert_eq!(e.script_name(), "/outer");
        assert!(e.mount("/app"));
        assert_eq!(e.script_name(), "/outer/app");
        assert_eq!(e.path_info(), "/x");
        assert_eq!(e.url(), "http://example.com/outer/app/x");
        check_invariant(&e);
    }

    #[test]
    fn mount_boundaries() {
        for (target, prefix, ok, script, info) in [
            ("/app", "/app", true, "/app", ""),
            ("/app/", "/app", true, "/app", "/"),
            ("/app/x", "/app/", true, "/app", "/x"),
            ("/apple", "/app", false, "", "/apple"),
            ("/", "/app", false, "", "/"),
            ("/x", "", true, "", "/x"),
            ("/x", "app", false, "", "/x"),
        ] {
            let mut e = env(Method::GET, target);
            assert_eq!(e.mount(prefix), ok, "{target} {prefix}");
            assert_eq!(
                (e.script_name(), e.path_info()),
                (script, info),
                "{target} {prefix}"
            );
            check_invariant(&e);
        }
    }

    #[test]
    fn nested_mounts_and_shift() {
        let mut e = env(Method::GET, "/a/b/c");
        assert!(e.mount("/a"));
        assert_eq!(e.shift_path_info(), Some("b"));
        assert_eq!((e.script_name(), e.path_info()), ("/a/b", "/c"));
        assert_eq!(e.shift_path_info(), Some("c"));
        assert_eq!(e.shift_path_info(), None);
        assert_eq!((e.script_name(), e.path_info()), ("/a/b/c", ""));
        let mut e = env(Method::GET, "//x");
        assert_eq!(e.shift_path_info(), None);
        check_invariant(&e);
    }

    #[test]
    fn request_round_trip_keeps_facts() {
        let mut e = env(Method::GET, "/app/x");
        e.set_root_path(Some(RootPath::from_static("/outer")));
        e.mount("/app");
        e.conn_mut()
            .set_peer(Addr::Tcp("10.0.0.1:1234".parse().unwrap()));
        let back = Environ::from_request(e.into_request());
        assert_eq!(back.script_name(), "/outer/app");
        assert_eq!(back.path_info(), "/x");
        assert_eq!(back.conn().peer().ip().unwrap().to_string(), "10.0.0.1");
        assert!(back.extensions().get::<GatewayFacts>().is_none());
    }

    /// Every fact survives `into_request` / `from_request`, through a
    /// hosted URI of `path_info?query`.
    #[test]
    fn request_round_trip_is_lossless() {
        let peer = Addr::Tcp("10.0.0.1:1234".parse().unwrap());
        let local = Addr::Unix(Some(Path::new("/run/app.sock")));
        for (target, root, mounts, hosted) in [
            (
                "/app/files/a%2Fb?x=1&y",
                Some("/outer"),
                &["/app"][..],
                "/files/a%2Fb?x=1&y",
            ),
            ("/a%2Fb/c?", None, &["/a%2Fb"][..], "/c?"),
            ("/app", Some("/outer"), &["/app"][..], "/"),
            ("/app/", None, &["/app"][..], "/"),
            ("/v1/api/x", None, &["/v1", "/api"][..], "/x"),
            ("/plain?q", Some("/outer"), &[][..], "/plain?q"),
            (
                "http://example.com:81/app/x?q",
                None,
                &["/app"][..],
                "http://example.com:81/x?q",
            ),
            ("*", Some("/outer"), &[][..], "*"),
        ] {
            let method = if target == "*" {
                Method::OPTIONS
            } else {
                Method::GET
            };
            let mut e = env(method, target);
            e.set_root_path(root.map(|r| RootPath::new(r).unwrap()));
            for m in mounts {
                assert!(e.mount(m), "{target} {m}");
            }
            *e.conn_mut() = ConnInfo::new(peer, local).with_scheme(Scheme::Https, true);
            e.extensions_mut().insert(7u8);
            let (script, info, query, url) = (
                e.script_name().to_owned(),
                e.path_info().to_owned(),
                e.query().to_owned(),
                e.url(),
            );

            let req = e.into_request();
            assert_eq!(req.uri().to_string(), hosted, "{target}");
            let facts = req.extensions().get::<GatewayFacts>().unwrap();
            assert_eq!(facts.script_name(), script, "{target}");
            assert_eq!(facts.original_uri(), target, "{target}");
            assert_eq!(facts.conn().peer(), &peer);

            let back = Environ::from_request(req);
            assert_eq!(back.uri(), target, "{target}");
            assert_eq!(back.script_name(), script, "{target}");
            assert_eq!(back.path_info(), info, "{target}");
            assert_eq!(back.query(), query, "{target}");
            assert_eq!(back.url(), url, "{target}");
            assert_eq!(back.root_path().map(RootPath::as_str), root);
            assert_eq!(back.conn().peer(), &peer);
            assert_eq!(back.conn().local(), &local);
            assert_eq!(back.scheme(), Scheme::Https);
            assert!(back.conn().is_tls());
            assert_eq!(back.extensions().get::<u8>(), Some(&7));
            assert!(back.extensions().get::<GatewayFacts>().is_none());
            check_invariant(&back);
        }
    }

    #[test]
    fn no_facts_means_empty_facts() {
        let e = Environ::from_request(Request::get("/a/b").body(Body::empty()).unwrap());
        assert_eq!((e.script_name(), e.path_info()), ("", "/a/b"));
        assert_eq!(e.conn(), &ConnInfo::default());
        assert!(e.root_path().is_none());
    }

    #[test]
    fn root_path_validation() {
        for bad in [
            "",
            "/",
            "x",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/..",
            "/%2e%2E",
            "/.%2e",
            "/a b",
            "/a\r\n",
            "/a?b",
            "/a#b",
            "/a\\b",
            "/a%zz",
            "/é",
            "/a/..%2F..%2Fetc",
            "/a%5cb",
            "/a%00",
        ] {
            assert!(RootPath::new(bad).is_err(), "{bad:?}");
        }
        for good in ["/a", "/a/b", "/a%20b", "/a:b@c", "/v1.2", "/~user"] {
            assert_eq!(RootPath::new(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn server_name_and_port() {
        let e = Environ::from_request(
            Request::get("/")
                .header("host", "[::1]:8443")
                .body(Body::empty())
                .unwrap(),
        );
        assert_eq!(e.server_name(), "[::1]");
        assert_eq!(e.server_port(), 8443);
        let mut e = Environ::from_request(Request::get("/").body(Body::empty()).unwrap());
        e.conn_mut()
            .set_local(Addr::Tcp("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(e.server_name(), "127.0.0.1");
        assert_eq!(e.server_port(), 9000);
        assert_eq!(e.url(), "http://127.0.0.1:9000/");
    }

    #[test]
    fn query_is_raw_and_pairs_are_decoded() {
        let e = env(Method::GET, "/?a=%26&b");
        assert_eq!(e.query(), "a=%26&b");
        let pairs: Vec<_> = e.query_pairs().collect();
        assert_eq!(
            pairs,
            vec![("a".into(), "&".into()), ("b".into(), "".into())]
        );
    }

    #[test]
    fn environ_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Environ>();
    }

    #[test]
    fn mount_never_leaves_a_trailing_slash() {
        for (target, prefix) in [("/app//x", "/app//"), ("//x", "//"), ("/a//b/c", "/a//b")] {
            let mut e = env(Method::GET, target);
            e.mount(prefix);
            check_invariant(&e);
        }
        let mut e = env(Method::GET, "/app/x");
        assert!(e.mount("/app///"));
        assert_eq!(e.script_name(), "/app");
    }

    #[test]
    fn rewritten_uri_is_relative_to_the_mount() {
        let mut e = env(Method::GET, "/app/x");
        assert!(e.mount("/app"));
        let mut req = e.into_request();
        assert_eq!(req.uri(), "/x");
        *req.uri_mut() = "/ab/x?q".parse().unwrap();
        let back = Environ::from_request(req);
        assert_eq!((back.script_name(), back.path_info()), ("/app", "/ab/x"));
        assert_eq!(back.uri(), "/app/ab/x?q");
        check_invariant(&back);

        // A target no mount point can precede drops the mounted part.
        let mut e = env(Method::GET, "/app/x");
        e.mount("/app");
        let mut req = e.into_request();
        *req.uri_mut() = "*".parse().unwrap();
        let back = Environ::from_request(req);
        assert_eq!((back.script_name(), back.path_info()), ("", "*"));

        // `/app` exactly is handed out as `/`; a new query keeps the path.
        let mut e = env(Method::GET, "/app");
        e.mount("/app");
        let mut req = e.into_request();
        assert_eq!(req.uri(), "/");
        *req.uri_mut() = "/?added".parse().unwrap();
        let back = Environ::from_request(req);
        assert_eq!(back.uri(), "/app?added");
        assert_eq!((back.script_name(), back.path_info()), ("/app", ""));

        let mut e = env(Method::GET, "/app/x");
        e.mount("/app");
        e.set_uri("/app/y?z".parse().unwrap());
        assert_eq!((e.script_name(), e.path_info()), ("/app", "/y"));
        e.set_uri("/other".parse().unwrap());
        assert_eq!((e.script_name(), e.path_info()), ("", "/other"));
        check_invariant(&e);
    }

    #[test]
    fn invalid_hosts_are_not_trusted() {
        for bad in [
            "evil.test/x?",
            "user:pw@good.test",
            "a b",
            "",
            "[::1",
            "[zz]",
            "h:8x",
            "h:123456",
        ] {
            let e = Environ::from_request(
                Request::get("/p")
                    .header("host", bad)
                    .body(Body::empty())
                    .unwrap(),
            );
            assert_eq!(e.host(), None, "{bad:?}");
        }
        for good in [
            "example.com",
            "example.com:8080",
            "[::1]:80",
            "[::1]",
            "10.0.0.1:1",
            "xn--bcher-kva.example",
        ] {
            let e = Environ::from_request(
                Request::get("/p")
                    .header("host", good)
                    .body(Body::empty())
                    .unwrap(),
            );
            assert_eq!(e.host(), Some(good));
        }
        // Userinfo in an absolute-form target is not part of the host.
        let e = Environ::from_request(
            Request::get("http://user:pw@good.test/p")
                .body(Body::empty())
                .unwrap(),
        );
        assert_eq!(e.host(), Some("good.test"));
        assert_eq!(e.server_name(), "good.test");
        assert_eq!(e.url(), "http://good.test/p");
    }

    #[test]
    fn options_star_url_has_no_path() {
        let e = env(Method::OPTIONS, "*");
        assert_eq!(e.url(), "http://example.com");
    }

    #[test]
    fn set_method_changes_the_method() {
        let mut e = env(Method::POST, "/");
        e.set_method(Method::DELETE);
        assert_eq!(e.method(), Method::DELETE);
    }
}
