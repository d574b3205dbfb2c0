//! [`ProxyHeaders`]: the middleware and its configuration; reading the
//! headers is in `parse`.

use std::future::Future;
use std::net::IpAddr;

use gateway_core::host::{is_valid_host, split_host_port};
use gateway_core::{Addr, Application, Environ, Error, Middleware, Response, RootPath, Scheme};
use http::header::{FORWARDED, HOST};
use http::uri::Authority;
use http::{HeaderValue, Uri};
use ipnet::IpNet;

use parse::{
    X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PORT, X_FORWARDED_PREFIX, X_FORWARDED_PROTO,
    forwarded_element, forwarded_for, nth_from_right, parse_addr, parse_port,
};

mod parse;

/// The client's address, scheme, host and prefix as a trusted reverse
/// proxy (nginx, a load balancer) reports them — werkzeug's `ProxyFix`,
/// with a check of who is talking.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{Addr, ApplicationExt, ConnInfo, fn_app, start};
/// use gateway_middleware::{ProxyHeaders, ProxyOriginal};
///
/// let app = fn_app(|env| async move {
///     let original = env.extensions().get::<ProxyOriginal>().map(|o| o.peer().to_string());
///     let body = format!("{} {} {:?}", env.conn().peer(), env.url(), original);
///     start(200, [("content-type", "text/plain")]).body(body)
/// })
/// .with(
///     ProxyHeaders::new()
///         .trusted_proxies(["10.0.0.0/8"])
///         .x_prefix(1),
/// );
///
/// // nginx at 10.0.0.2 forwards a request that came in over https.
/// let proxy = ConnInfo::new(Addr::Tcp("10.0.0.2:40000".parse().unwrap()), Addr::None);
/// let client = TestClient::new(app).with_conn(proxy);
/// let res = client
///     .get("/x?q=1")
///     .header("x-forwarded-for", "203.0.113.7")
///     .header("x-forwarded-proto", "https")
///     .header("x-forwarded-prefix", "/outer")
///     .send()
///     .await;
/// assert_eq!(
///     res.text(),
///     r#"203.0.113.7:0 https://localhost/outer/x?q=1 Some("10.0.0.2:40000")"#,
/// );
/// # });
/// ```
///
/// Behind a proxy, the connection an application sees comes from the proxy:
/// the peer address is the proxy's, the scheme is whatever the proxy spoke
/// to the application (usually plain `http`), the `Host` may be the
/// upstream's name, and a prefix the proxy stripped is gone. Everything
/// that builds a URL, a redirect or a `Secure` cookie then goes wrong.
/// The proxy reports the real values in headers; this middleware puts them
/// back into the [`Environ`] — only when the request comes from a proxy
/// you trust, and only as many hops deep as you say.
///
/// # What is read, and from whom
///
/// Headers are used only when the connection's peer is trusted: a TCP peer
/// whose address is in one of the [`trusted_proxies`] networks, or a Unix
/// socket peer when [`trust_unix_peers`] is on. Any other request passes
/// through untouched (and its headers stay as sent: code further in must
/// read the [`Environ`], not the `X-Forwarded-*` headers).
///
/// | Header | Hops (default) | Updates |
/// |---|---|---|
/// | `Forwarded` (RFC 7239) | [`forwarded`] (0: not read) | peer from `for`, scheme from `proto`, host from `host` |
/// | `X-Forwarded-For` | [`x_for`] (1) | peer ([`Environ::conn`]`.peer()`) |
/// | `X-Forwarded-Proto` | [`x_proto`] (1) | scheme ([`Environ::scheme`]) |
/// | `X-Forwarded-Host` | [`x_host`] (0) | `Host`, so [`Environ::host`] and [`Environ::url`] |
/// | `X-Forwarded-Port` | [`x_port`] (0) | the port in `Host` |
/// | `X-Forwarded-Prefix` | [`x_prefix`] (0) | the root path, so [`Environ::script_name`] |
///
/// **Hops.** Each proxy appends one value to a list header (nginx's
/// `$proxy_add_x_forwarded_for`), so the values on the right are the ones
/// trusted proxies wrote and those on the left are whatever the client
/// sent. A hop count `n` says how many proxies in a row set that header:
/// the value used is the `n`th from the right — the one the outermost of
/// them wrote. If the list has fewer than `n` values the header is
/// ignored. 0 means the header is never read. Every field line counts: a
/// header sent on several lines is one list, in order (RFC 9110 §5.3), and
/// empty list elements are skipped. Set a hop count only for a header your
/// proxies always set or overwrite; one they pass through unchanged is the
/// client's to forge.
///
/// **`Forwarded` or `X-Forwarded-*`.** When [`forwarded`] is not 0 and the
/// request has a `Forwarded` field, `Forwarded` wins: the element `n` from
/// the right supplies the address, scheme and host, and `X-Forwarded-For`,
/// `-Proto`, `-Host` and `-Port` supply nothing for that request (`-Proto`
/// is only cross-checked, see below), even where the element lacks a
/// parameter or the header is malformed: otherwise a client could forge an
/// `X-Forwarded-For` that a `Forwarded`-only proxy passes through, then
/// break `Forwarded` to have it used. Without a `Forwarded` field, the
/// `X-Forwarded-*` headers are read as configured.
/// `X-Forwarded-Prefix` has no `Forwarded` counterpart and is read either
/// way.
///
/// **Scheme headers must agree.** If both `Forwarded`'s `proto` and
/// `X-Forwarded-Proto` (with [`x_proto`] > 0) name a scheme and the two
/// differ, neither is used: the scheme stays the connection's. This is
/// gunicorn's "contradictory scheme headers" rule, answered by ignoring
/// the headers instead of with a 400.
///
/// **Malformed values are ignored, never errors.** A value that is not
/// visible ASCII, an address that does not parse, a scheme other than
/// `http`/`https`, a host that is not `host[:port]`, a port that is not
/// 1–65535 and a prefix that is not a valid [`RootPath`] leave their part of
/// the environ as it was. A `Forwarded` header with any syntax error (an
/// unterminated quote, a parameter given twice in one element) is ignored
/// whole, since its hop positions cannot be trusted.
///
/// # What is updated
///
/// - **Peer**: `X-Forwarded-For` or `for` gives `Addr::Tcp(ip:port)`, port 0
///   when none is given (`ip`, `ip:port`, `[ipv6]`, `[ipv6]:port` and bare
///   IPv6 are accepted). `for=unknown` and obfuscated identifiers
///   (`for=_hidden`, RFC 7239 §6.3) give [`Addr::None`]: the trusted proxy
///   says the address is not known, and keeping the proxy's own address
///   would be a lie.
/// - **Scheme**: [`Environ::scheme`] (`wsgi.url_scheme`). Whether *this
///   hop* is TLS ([`ConnInfo::is_tls`](gateway_core::ConnInfo::is_tls)) is
///   left alone.
/// - **Host**: the `Host` header (and the authority of an absolute-form or
///   HTTP/2 target, which [`Environ::host`] prefers), so `host()`,
///   `server_name()`, `server_port()` and `url()` agree. `X-Forwarded-Port`
///   replaces the port of the forwarded (or else the received) host; a port
///   that is the default of the final scheme is left out, so
///   `https://example.com/`, not `https://example.com:443/`.
/// - **Prefix**: `X-Forwarded-Prefix` is validated as a [`RootPath`] — an
///   absolute path of `pchar` segments, no CR/LF, no empty segment (`//`),
///   no `.`/`..` (also percent-encoded), no encoded `/`, `\` or NUL — and
///   joins *in front of* any root path already set (the adapter's
///   configured one): `script_name` = forwarded prefix + root path +
///   mounted part. A value of `/` means no prefix.
///
/// When anything was rewritten, the values as received are kept in one
/// [`ProxyOriginal`] extension (inserted only then, and never replaced by a
/// second `ProxyHeaders` further in).
///
/// # Place it outermost
///
/// Everything inside sees the corrected environ, so `ProxyHeaders` goes
/// outside every other middleware — in particular outside
/// [`Mount`](crate::Mount), access logs, redirects and session cookies:
/// with `.with()`, add it last.
///
/// # Cost
///
/// An untrusted peer costs one address lookup in the trusted list. A
/// trusted peer without proxy headers costs a few header-map lookups. Only
/// a rewrite allocates: the new `Host` value, the joined prefix, and the
/// [`ProxyOriginal`] extension. The wrapper returns the inner application's
/// future itself.
///
/// # Configuration
///
/// nginx on the same host (TCP or a Unix socket), setting
/// `X-Forwarded-For`, `-Proto`, `-Host` and `-Prefix`:
///
/// ```
/// use gateway_middleware::ProxyHeaders;
///
/// let proxy = ProxyHeaders::new()
///    .trusted_proxies(["127.0.0.1", "::1"])
///    .trust_unix_peers(true)
///    .x_host(1)
///    .x_prefix(1);
/// # let _ = proxy;
/// ```
///
/// Trusts no proxy until told: a `ProxyHeaders::new()` without
/// [`trusted_proxies`] or [`trust_unix_peers`] changes nothing.
///
/// [`trusted_proxies`]: ProxyHeaders::trusted_proxies
/// [`trust_unix_peers`]: ProxyHeaders::trust_unix_peers
/// [`forwarded`]: ProxyHeaders::forwarded
/// [`x_for`]: ProxyHeaders::x_for
/// [`x_proto`]: ProxyHeaders::x_proto
/// [`x_host`]: ProxyHeaders::x_host
/// [`x_port`]: ProxyHeaders::x_port
/// [`x_prefix`]: ProxyHeaders::x_prefix
///
#[derive(Clone, Debug)]
pub struct ProxyHeaders {
    trusted: Vec<IpNet>,
    trust_unix: bool,
    forwarded: usize,
    x_for: usize,
    x_proto: usize,
    x_host: usize,
    x_port: usize,
    x_prefix: usize,
}

impl Default for ProxyHeaders {
    /// The same as [`ProxyHeaders::new`].
    fn default() -> Self {
        ProxyHeaders::new()
    }
}

/// A trusted-proxy address that does not parse as an IP address or a
/// network in CIDR notation.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "invalid trusted proxy address {0:?}: expected an IP address or a CIDR network such as 10.0.0.0/8"
)]
pub struct InvalidProxyAddr(String);

impl ProxyHeaders {
    /// No trusted proxy; hop counts `forwarded` 0, `x_for` 1, `x_proto` 1,
    /// `x_host` 0, `x_port` 0, `x_prefix` 0 (werkzeug's `ProxyFix`
    /// defaults: one proxy that sets the client address and scheme).
    pub fn new() -> ProxyHeaders {
        ProxyHeaders {
            trusted: Vec::new(),
            trust_unix: false,
            forwarded: 0,
            x_for: 1,
            x_proto: 1,
            x_host: 0,
            x_port: 0,
            x_prefix: 0,
        }
    }

    /// Adds networks whose peers are trusted proxies: IP addresses
    /// (`127.0.0.1`, `::1`) or CIDR networks (`10.0.0.0/8`, `fd00::/8`).
    /// IPv4 peers that arrive as IPv4-mapped IPv6 addresses
    /// (`::ffff:10.0.0.1`, on a dual-stack listener) match IPv4 networks.
    /// Defaults to none: no TCP peer is trusted.
    ///
    /// # Panics
    ///
    /// If [`try_trusted_proxies`](ProxyHeaders::try_trusted_proxies) would
    /// fail: addresses written in the program are part of it, and a wrong
    /// one is a bug to hear about at startup.
    pub fn trusted_proxies<I, S>(self, proxies: I) -> ProxyHeaders
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        match self.try_trusted_proxies(proxies) {
            Ok(proxy) => proxy,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`trusted_proxies`](ProxyHeaders::trusted_proxies), for addresses
    /// from configuration.
    ///
    /// # Errors
    ///
    /// The first entry that is neither an address nor a network.
    ///
    /// ```
    /// use gateway_middleware::ProxyHeaders;
    ///
    /// let from_config = "10.0.0.0/8, fd00::/8";
    /// let proxy = ProxyHeaders::new().try_trusted_proxies(from_config.split(','))?;
    /// # let _ = proxy;
    /// assert!(ProxyHeaders::new().try_trusted_proxies(["localhost"]).is_err());
    /// # Ok::<(), gateway_middleware::InvalidProxyAddr>(())
    /// ```
    pub fn try_trusted_proxies<I, S>(mut self, proxies: I) -> Result<ProxyHeaders, InvalidProxyAddr>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for proxy in proxies {
            let text = proxy.as_ref().trim();
            let net = match text.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => match text.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => return Err(InvalidProxyAddr(text.to_owned())),
                },
            };
            self.trusted.push(net);
        }
        Ok(self)
    }

    /// Whether a peer on a Unix socket is a trusted proxy (nginx's
    /// `proxy_pass http://unix:/path`). Anyone who can connect to the
    /// socket can then set the headers, so make sure only the proxy can
    /// (its file mode). Defaults to `false`.
    pub fn trust_unix_peers(mut self, trust: bool) -> ProxyHeaders {
        self.trust_unix = trust;
        self
    }

    /// How many proxies in a row append to `Forwarded`. Defaults to 0:
    /// never read. See [`Forwarded` or
    /// `X-Forwarded-*`](ProxyHeaders#what-is-read-and-from-whom).
    pub fn forwarded(mut self, hops: usize) -> ProxyHeaders {
        self.forwarded = hops;
        self
    }

    /// How many proxies in a row append to `X-Forwarded-For`. Defaults
    /// to 1; 0 never reads it.
    pub fn x_for(mut self, hops: usize) -> ProxyHeaders {
        self.x_for = hops;
        self
    }

    /// How many proxies in a row set `X-Forwarded-Proto`. Defaults to 1;
    /// 0 never reads it.
    pub fn x_proto(mut self, hops: usize) -> ProxyHeaders {
        self.x_proto = hops;
        self
    }

    /// How many proxies in a row set `X-Forwarded-Host`. Defaults to 0: never
    /// read.
    pub fn x_host(mut self, hops: usize) -> ProxyHeaders {
        self.x_host = hops;
        self
    }

    /// How many proxies in a row set `X-Forwarded-Port`. Defaults to 0: never
    /// read.
    pub fn x_port(mut self, hops: usize) -> ProxyHeaders {
        self.x_port = hops;
        self
    }

    /// How many proxies in a row set `X-Forwarded-Prefix`. Defaults to 0: never
    /// read.
    pub fn x_prefix(mut self, hops: usize) -> ProxyHeaders {
        self.x_prefix = hops;
        self
    }

    /// Whether no peer at all is trusted (no network, Unix peers not
    /// trusted): a layer can then skip reading what proxies send.
    pub(crate) fn trusts_nobody(&self) -> bool {
        self.trusted.is_empty() && !self.trust_unix
    }

    /// Whether `peer` is a trusted proxy.
    ///
    /// ```
    /// use gateway_core::Addr;
    /// use gateway_middleware::ProxyHeaders;
    ///
    /// let proxy = ProxyHeaders::new().trusted_proxies(["10.0.0.0/8"]);
    /// assert!(proxy.is_trusted(&Addr::Tcp("10.1.2.3:5000".parse().unwrap())));
    /// // An IPv4 peer on a dual-stack listener.
    /// assert!(proxy.is_trusted(&Addr::Tcp("[::ffff:10.1.2.3]:5000".parse().unwrap())));
    /// assert!(!proxy.is_trusted(&Addr::Tcp("192.0.2.1:5000".parse().unwrap())));
    /// assert!(!proxy.is_trusted(&Addr::Unix(None)), "unless trust_unix_peers");
    /// ```
    pub fn is_trusted(&self, peer: &Addr) -> bool {
        match peer {
            Addr::Tcp(addr) => {
                let ip = addr.ip().to_canonical();
                self.trusted.iter().any(|net| net.contains(&ip))
            }
            Addr::Unix(_) => self.trust_unix,
            _ => false,
        }
    }

    /// Does to `env` what the middleware does before calling the
    /// application it wraps, for use outside a middleware stack. Returns
    /// whether anything was rewritten (and so a [`ProxyOriginal`] is in
    /// the extensions).
    ///
    /// ```
    /// use gateway_core::{Addr, Body, Environ, Scheme};
    /// use gateway_middleware::ProxyHeaders;
    ///
    /// let req = http::Request::get("/").header("x-forwarded-proto", "https")
    ///     .body(Body::empty()).unwrap();
    /// let mut env = Environ::from_request(req);
    /// env.conn_mut().set_peer(Addr::Tcp("127.0.0.1:5000".parse().unwrap()));
    /// assert!(ProxyHeaders::new().trusted_proxies(["127.0.0.1"]).apply(&mut env));
    /// assert_eq!(env.scheme(), Scheme::Https);
    /// ```
    pub fn apply(&self, env: &mut Environ) -> bool {
        if !self.is_trusted(env.conn().peer()) {
            return false;
        }
        let plan = self.plan(env);
        if plan.is_empty() {
            return false;
        }
        plan.apply(env);
        true
    }

    /// What to change, decided while the headers are borrowed.
    fn plan(&self, env: &Environ) -> Plan {
        let headers = env.headers();
        let mut plan = Plan::default();
        let (peer, scheme, host) = if self.forwarded > 0 && headers.contains_key(FORWARDED) {
            let element = forwarded_element(headers, self.forwarded).unwrap_or_default();
            let mut scheme = element.proto.and_then(Scheme::parse);
            let x_scheme =
                nth_from_right(headers, &X_FORWARDED_PROTO, self.x_proto).and_then(Scheme::parse);
            if scheme.is_some() && x_scheme.is_some() && scheme != x_scheme {
                scheme = None;
            }
            let peer = element.for_.and_then(forwarded_for);
            let host = element.host.filter(|h| is_valid_host(h));
            (peer, scheme, host.map(HostPlan::Forwarded))
        } else {
            let peer = nth_from_right(headers, &X_FORWARDED_FOR, self.x_for)
                .and_then(parse_addr)
                .map(Addr::Tcp);
            let scheme =
                nth_from_right(headers, &X_FORWARDED_PROTO, self.x_proto).and_then(Scheme::parse);
            let host = nth_from_right(headers, &X_FORWARDED_HOST, self.x_host)
                .filter(|h| is_valid_host(h));
            let port = nth_from_right(headers, &X_FORWARDED_PORT, self.x_port).and_then(parse_port);
            let host = match (host, port) {
                (host, Some(port)) => host.or(env.host()).map(|h| HostPlan::Port(h, port)),
                (Some(host), None) => Some(HostPlan::Forwarded(host)),
                (None, None) => None,
            };
            (peer, scheme, host)
        };

        if let Some(peer) = peer.filter(|p| p != env.conn().peer()) {
            plan.peer = Some(peer);
        }
        if let Some(scheme) = scheme.filter(|&s| s != env.scheme()) {
            plan.scheme = Some(scheme);
        }
        let final_scheme = scheme.unwrap_or(env.scheme());
        if let Some(host) = host {
            plan.host = host.resolve(final_scheme, env.host());
        }
        if let Some(prefix) = nth_from_right(headers, &X_FORWARDED_PREFIX, self.x_prefix) {
            plan.root = join_prefix(prefix, env.root_path());
        }
        plan
    }
}

impl<A: Application> Middleware<A> for ProxyHeaders {
    type Output = ProxyHeadersApp<A>;

    fn wrap(&self, app: A) -> ProxyHeadersApp<A> {
        ProxyHeadersApp {
            config: self.clone(),
            app,
        }
    }
}

/// The application [`ProxyHeaders`] produces: applies the trusted headers,
/// then calls the application it wraps.
#[derive(Clone, Debug)]
pub struct ProxyHeadersApp<A> {
    config: ProxyHeaders,
    app: A,
}

impl<A> ProxyHeadersApp<A> {
    /// The wrapped application.
    pub fn inner(&self) -> &A {
        &self.app
    }
}

impl<A: Application> Application for ProxyHeadersApp<A> {
    fn call(&self, mut env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        self.config.apply(&mut env);
        self.app.call(env)
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.app.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.app.shutdown()
    }
}

/// The request as received from the proxy, before [`ProxyHeaders`]
/// rewrote it. In the [extensions](Environ::extensions) only when something
/// was rewritten; a second `ProxyHeaders` further in keeps the first one's.
///
/// ```
/// use gateway_core::{Addr, Body, Environ};
/// use gateway_middleware::{ProxyHeaders, ProxyOriginal};
///
/// let req = http::Request::get("/").header("x-forwarded-for", "192.0.2.1")
///     .body(Body::empty()).unwrap();
/// let mut env = Environ::from_request(req);
/// env.conn_mut().set_peer(Addr::Tcp("10.1.2.3:5000".parse().unwrap()));
/// ProxyHeaders::new().trusted_proxies(["10.0.0.0/8"]).apply(&mut env);
/// let original = env.extensions().get::<ProxyOriginal>().unwrap();
/// assert_eq!(original.peer().to_string(), "10.1.2.3:5000");
/// assert_eq!(env.conn().peer().to_string(), "192.0.2.1:0");
/// ```
#[derive(Clone, Debug)]
pub struct ProxyOriginal {
    peer: Addr,
    scheme: Scheme,
    host: Option<Box<str>>,
    root_path: Option<RootPath>,
}

impl ProxyOriginal {
    /// The peer address: the proxy's.
    pub fn peer(&self) -> &Addr {
        &self.peer
    }

    /// The scheme of the connection from the proxy.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host as received ([`Environ::host`] before the rewrite).
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The root path before the forwarded prefix joined it (the adapter's
    /// configured one, if any). The original `script_name` is this
    /// followed by the mounted part.
    pub fn root_path(&self) -> Option<&RootPath> {
        self.root_path.as_ref()
    }
}

/// The changes one request gets; all `None` when nothing changes.
#[derive(Default)]
struct Plan {
    peer: Option<Addr>,
    scheme: Option<Scheme>,
    host: Option<(HeaderValue, Authority)>,
    root: Option<RootPath>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.peer.is_none() && self.scheme.is_none() && self.host.is_none() && self.root.is_none()
    }

    fn apply(self, env: &mut Environ) {
        if env.extensions().get::<ProxyOriginal>().is_none() {
            let original = ProxyOriginal {
                peer: *env.conn().peer(),
                scheme: env.scheme(),
                host: env.host().map(Box::from),
                root_path: env.root_path().cloned(),
            };
            env.extensions_mut().insert(original);
        }
        if let Some(peer) = self.peer {
            env.conn_mut().set_peer(peer);
        }
        if let Some(scheme) = self.scheme {
            env.conn_mut().set_scheme(scheme);
        }
        if let Some((value, authority)) = self.host {
            env.headers_mut().insert(HOST, value);
            // `Environ::host` prefers the target's authority (absolute form,
            // HTTP/2), so it has to change with the header.
            if env.uri().authority().is_some() {
                let mut parts = env.uri().clone().into_parts();
                parts.authority = Some(authority);
                if let Ok(uri) = Uri::from_parts(parts) {
                    env.set_uri(uri);
                }
            }
        }
        if let Some(root) = self.root {
            env.set_root_path(Some(root));
        }
    }
}

/// Where the new host comes from.
enum HostPlan<'a> {
    /// A forwarded `host[:port]`, used as is.
    Forwarded(&'a str),
    /// A host whose port is replaced.
    Port(&'a str, u16),
}

impl HostPlan<'_> {
    /// The new `Host` value and authority, if valid and different from
    /// `current`.
    fn resolve(self, scheme: Scheme, current: Option<&str>) -> Option<(HeaderValue, Authority)> {
        let host = match self {
            HostPlan::Forwarded(host) => host.to_owned(),
            HostPlan::Port(host, port) => {
                let (name, _) = split_host_port(host);
                if port == scheme.default_port() {
                    name.to_owned()
                } else {
                    format!("{name}:{port}")
                }
            }
        };
        if Some(host.as_str()) == current {
            return None;
        }
        // `is_valid_host` is looser than `Authority` on `%`; a host the URI
        // cannot carry is not used at all, so header and target agree.
        let authority = Authority::try_from(host.as_str()).ok()?;
        let value = HeaderValue::try_from(host).ok()?;
        Some((value, authority))
    }
}

/// `prefix + root`, if `prefix` is a valid root path. `/` alone is no
/// prefix.
fn join_prefix(prefix: &str, root: Option<&RootPath>) -> Option<RootPath> {
    let prefix = RootPath::new(prefix).ok()?;
    match root {
        None => Some(prefix),
        Some(root) => RootPath::new(&[prefix.as_str(), root.as_str()].concat()).ok(),
    }
}
