//! [`Environ`]: the request as an application sees it, and what it is made
//! of — connection info ([`conn`]), the external prefix ([`root_path`]),
//! the conversion to and from `http::Request` ([`context`]).
//!
//! ```
//! use gateway_core::{Body, Environ};
//!
//! let req = http::Request::get("/app/x?q=1").body(Body::empty()).unwrap();
//! let mut env = Environ::from_request(req);
//! assert!(env.mount("/app"));
//! assert_eq!((env.script_name(), env.path_info(), env.query()), ("/app", "/x", "q=1"));
//! ```
//!
//! The Host grammar the environ relies on is public, in [`crate::host`].

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::OnceLock;

use http::header::HOST;
use http::{Extensions, HeaderMap, Method, Uri, Version};
use sync_wrapper::SyncWrapper;

use crate::body_impl::Body;
use crate::host::{is_valid_host, split_host_port};

mod conn;
mod context;
mod decoded;
mod locals;
mod query;
mod root_path;

pub use conn::{Addr, ConnInfo, Scheme};
pub use context::GatewayContext;
pub use decoded::InvalidPath;
pub use locals::Locals;
pub use query::QueryPairs;
pub use root_path::{InvalidPrefix, RootPath};

/// The request as an application sees it: PEP 3333's `environ` dict, as
/// a typed struct — head, body, connection info and typed extensions.
///
/// ```
/// use gateway_core::{Body, Environ, RootPath};
///
/// let req = http::Request::get("/app/files/a%2Fb?x=1").body(Body::empty()).unwrap();
/// let mut env = Environ::from_request(req);
/// assert_eq!(env.path_info(), "/app/files/a%2Fb");
///
/// assert!(env.mount("/app"));
/// assert_eq!((env.script_name(), env.path_info()), ("/app", "/files/a%2Fb"));
///
/// env.set_root_path(Some(RootPath::from_static("/outer")));
/// assert_eq!(env.script_name(), "/outer/app");
/// assert_eq!(env.path_info_decoded().unwrap(), "/files/a/b");
/// ```
///
/// | WSGI key | `Environ` |
/// |---|---|
/// | `REQUEST_METHOD` | [`method`](Environ::method) |
/// | `SCRIPT_NAME` | [`script_name`](Environ::script_name) (raw, percent-encoded) |
/// | `PATH_INFO` | [`path_info`](Environ::path_info) (raw; decoded with [`path_info_decoded`](Environ::path_info_decoded)) |
/// | `QUERY_STRING` | [`query`](Environ::query), [`query_pairs`](Environ::query_pairs) |
/// | `HTTP_*`, `CONTENT_TYPE`, `CONTENT_LENGTH` | [`headers`](Environ::headers) |
/// | `SERVER_PROTOCOL` | [`version`](Environ::version) |
/// | `SERVER_NAME`, `SERVER_PORT` | [`server_name`](Environ::server_name), [`server_port`](Environ::server_port) (views of `Host`) |
/// | `REMOTE_ADDR` | [`conn`](Environ::conn)`.peer()` |
/// | `wsgi.url_scheme` | [`scheme`](Environ::scheme) |
/// | `wsgi.input` | [`body_mut`](Environ::body_mut), [`take_body`](Environ::take_body) |
/// | anything a middleware adds | [`extensions`](Environ::extensions) (typed), [`locals`](Environ::locals) (shared, allocation-free) |
///
/// # The path invariant
///
/// `path_info` is a suffix of the path of the request-target the client
/// sent, exactly as received (still percent-encoded, so `%2F` survives). It
/// is empty or starts with `/`, except `*` for `OPTIONS *` and empty for
/// `CONNECT`. `script_name` is empty, or starts with `/` and does not end
/// with `/`; it is the part of the path an application is mounted under
/// (moved there by [`Environ::mount`]), preceded by an external prefix
/// ([`RootPath`]) given by configuration or a trusted proxy. Together,
/// `script_name + path_info` is the path the client used, and [`url`]
/// rebuilds the URL from raw bytes without re-quoting.
///
/// [`url`]: Environ::url
pub struct Environ {
    parts: http::request::Parts,
    /// Reachable only through `&mut self`, which makes the environ `Sync`
    /// although a body is not.
    body: SyncWrapper<Body>,
    conn: ConnInfo,
    script: Script,
    locals: Locals,
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
            locals: Locals::new(),
        }
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

    /// Typed values added by the adapter or by middleware (an identity, a
    /// request id). A middleware that adds a value to every request uses
    /// the [`locals`](Environ::locals) instead, which do not allocate.
    #[inline]
    pub fn extensions(&self) -> &Extensions {
        &self.parts.extensions
    }

    /// Mutable access to the extensions.
    #[inline]
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.parts.extensions
    }

    /// Request-local values shared by reference count (a session handle):
    /// see [`Locals`] for when to use them rather than the extensions.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gateway_core::{Body, Environ};
    ///
    /// let mut env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    /// env.locals_mut().insert(Arc::new(42u64));
    /// assert_eq!(env.locals().get::<u64>(), Some(&42));
    /// ```
    #[inline]
    pub fn locals(&self) -> &Locals {
        &self.locals
    }

    /// Mutable access to the locals.
    #[inline]
    pub fn locals_mut(&mut self) -> &mut Locals {
        &mut self.locals
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

    /// The connection: addresses, scheme, TLS.
    #[inline]
    pub fn conn(&self) -> &ConnInfo {
        &self.conn
    }

    /// The connection, mutable (a trusted proxy middleware updates them).
    #[inline]
    pub fn conn_mut(&mut self) -> &mut ConnInfo {
        &mut self.conn
    }

    /// The URL scheme the client used (`wsgi.url_scheme`).
    #[inline]
    pub fn scheme(&self) -> Scheme {
        self.conn.scheme()
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

    /// `PATH_INFO` percent-decoded (`%2F` becomes `/`). Fails with
    /// [`InvalidPath`], a 400 (the client's error), when a `%` does not
    /// start an escape or the decoded bytes are not UTF-8. Borrows unless
    /// there is something to decode.
    ///
    /// ```
    /// # use gateway_core::{Body, Environ};
    /// let env = Environ::from_request(http::Request::get("/a%2Fb").body(Body::empty()).unwrap());
    /// assert_eq!(env.path_info_decoded().unwrap(), "/a/b");
    /// ```
    pub fn path_info_decoded(&self) -> Result<Cow<'_, str>, InvalidPath> {
        decoded::percent_decode(self.path_info())
    }

    /// `SCRIPT_NAME` percent-decoded; fails as
    /// [`path_info_decoded`](Environ::path_info_decoded) does.
    pub fn script_name_decoded(&self) -> Result<Cow<'_, str>, InvalidPath> {
        decoded::percent_decode(self.script_name())
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
    /// lazily as the iterator advances. Never fails: bytes that do not
    /// decode are read as browsers read them (see [`QueryPairs`]).
    ///
    /// ```
    /// # use gateway_core::{Body, Environ};
    /// let env = Environ::from_request(http::Request::get("/?a=1&b=x%20y").body(Body::empty()).unwrap());
    /// let pairs: Vec<_> = env.query_pairs().collect();
    /// assert_eq!(pairs[1], ("b".into(), "x y".into()));
    /// ```
    pub fn query_pairs(&self) -> QueryPairs<'_> {
        QueryPairs::new(self.query())
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
        match self.conn.local() {
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
            if let Addr::Tcp(addr) = self.conn.local() {
                return addr.port();
            }
        }
        self.conn.scheme().default_port()
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
        let scheme = self.conn.scheme().as_str();
        let mut url = String::with_capacity(64);
        url.push_str(scheme);
        url.push_str("://");
        match self.host() {
            Some(host) => url.push_str(host),
            None => {
                url.push_str(&self.server_name());
                let port = self.server_port();
                if self.conn.scheme().default_port() != port {
                    url.push(':');
                    url.push_str(&port.to_string());
                }
            }
        }
        url
    }
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
            .field("locals", &self.locals)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
