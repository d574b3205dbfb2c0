//! The connection a request arrived on: [`ConnInfo`], with its [`Addr`]esses
//! and [`Scheme`].
//!
//! ```
//! use gateway_core::{Addr, ConnInfo, Scheme};
//!
//! let peer = Addr::Tcp("192.0.2.1:5000".parse().unwrap());
//! let conn = ConnInfo::new(peer, Addr::None).with_scheme(Scheme::Https, true);
//! assert_eq!(conn.peer().to_string(), "192.0.2.1:5000");
//! assert_eq!(conn.scheme().default_port(), 443);
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

/// What the adapter knows of the connection a request arrived on: the
/// peer and local addresses, the URL scheme, and whether this hop is TLS.
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
    /// Connection info with the given addresses, `http` and no TLS.
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
    #[inline]
    pub fn peer(&self) -> &Addr {
        &self.peer
    }

    /// The address the connection was accepted on.
    #[inline]
    pub fn local(&self) -> &Addr {
        &self.local
    }

    /// The URL scheme.
    #[inline]
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether this hop is TLS.
    #[inline]
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
