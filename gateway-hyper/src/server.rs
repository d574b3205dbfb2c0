//! [`Server`]: listeners, configuration, the accept loops and the drain.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use gateway_core::{fn_app, start};
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! gateway_hyper::Server::bind("127.0.0.1:0").await?
//!     .drain_timeout(Duration::from_secs(10))
//!     // Stops at once: a real server passes `gateway_hyper::shutdown_signal()`.
//!     .serve_with_shutdown(app, async {})
//!     .await
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::{Addr, Application, RootPath};
use hyper::server::conn::{http1, http2};
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{Semaphore, watch};

use crate::accept::{Phase, accept_loop};
use crate::connection::Protocols;
use crate::conns::{Command, Registry, StreamTasks};
use crate::listener::Listener;
use crate::rate::MinDataRate;
use crate::request_body::BodyLimits;
use crate::service::State;
use crate::stats::ServerStats;
use crate::upgrade::Upgrades;

/// hyper's built-in limit on the number of request header fields.
const HYPER_MAX_HEADERS: usize = 100;

/// An HTTP server for one [`Application`]: one or more listeners, and the
/// limits and timeouts that protect it from slow or hostile clients.
///
/// Every setting has a safe default, stated on its method. Setters take
/// typed values, and `impl Into<Option<_>>` where `None` turns a limit
/// off; they do no I/O. The constructors that bind a socket say so in
/// their name ([`bind`](Server::bind), [`bind_unix`](Server::bind_unix));
/// [`from_listener`](Server::from_listener) takes one already bound.
/// Configure, then [`serve`](Server::serve) or
/// [`serve_with_shutdown`](Server::serve_with_shutdown):
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use std::time::Duration;
/// use gateway_core::{fn_app, start};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// gateway_hyper::Server::bind("0.0.0.0:8000").await?
///     .and_bind_unix("/run/app.sock", 0o660)?
///     .max_body_size(1 << 20)
///     .request_timeout(Duration::from_secs(30))
///     .serve_with_shutdown(app, gateway_hyper::shutdown_signal())
///     .await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    listeners: Vec<Listener>,
    config: Config,
    stats: ServerStats,
}

#[derive(Debug)]
struct Config {
    header_read_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_headers: usize,
    max_header_size: usize,
    max_body_size: Option<u64>,
    request_body_timeout: Option<Duration>,
    min_request_body_rate: Option<MinDataRate>,
    min_response_rate: Option<MinDataRate>,
    max_connections: usize,
    max_concurrent_requests: Option<usize>,
    request_timeout: Option<Duration>,
    drain_timeout: Duration,
    drain_delay: Duration,
    root_path: Option<RootPath>,
    h2_max_concurrent_streams: u32,
    h2_max_pending_accept_reset_streams: usize,
    h2_keep_alive_interval: Option<Duration>,
    h2_keep_alive_timeout: Duration,
    h2_max_send_buf_size: u32,
    h2_extended_connect: bool,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::Tls>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(30)),
            max_headers: HYPER_MAX_HEADERS,
            max_header_size: 64 * 1024,
            max_body_size: Some(10 * 1024 * 1024),
            request_body_timeout: Some(Duration::from_secs(60)),
            min_request_body_rate: Some(MinDataRate::default()),
            min_response_rate: Some(MinDataRate::default()),
            max_connections: 10_000,
            max_concurrent_requests: None,
            request_timeout: None,
            drain_timeout: Duration::from_secs(30),
            drain_delay: Duration::ZERO,
            root_path: None,
            h2_max_concurrent_streams: 200,
            h2_max_pending_accept_reset_streams: 20,
            h2_keep_alive_interval: None,
            h2_keep_alive_timeout: Duration::from_secs(20),
            h2_max_send_buf_size: 400 * 1024,
            h2_extended_connect: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl Server {
    /// Binds a TCP listener on `addr` (IPv4 or IPv6; port 0 picks a free
    /// port). `TCP_NODELAY` is set on every accepted connection.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr).await?))
    }

    /// Binds a Unix socket at `path` (see [`Server::and_bind_unix`]). Must
    /// be called inside a tokio runtime.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use gateway_core::{fn_app, start};
    /// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
    /// // nginx: `proxy_pass http://unix:/run/app.sock;`
    /// gateway_hyper::Server::bind_unix("/run/app.sock", Some(0o660))?
    ///     .serve_with_shutdown(app, gateway_hyper::shutdown_signal())
    ///     .await
    /// # }
    /// ```
    pub fn bind_unix(path: impl AsRef<Path>, mode: impl Into<Option<u32>>) -> io::Result<Server> {
        Ok(Server::with(Listener::bind_unix(
            path.as_ref(),
            mode.into(),
        )?))
    }

    /// Serves on an already-bound tokio listener (so inside a tokio
    /// runtime).
    pub fn from_listener(listener: TcpListener) -> Server {
        Server::with(Listener::Tcp(listener))
    }

    /// Serves on an already-bound std listener (socket activation, or a
    /// port picked by a test). Sets it non-blocking; must be called inside a
    /// tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = std_listener.local_addr()?;
    /// let server = gateway_hyper::Server::from_std(std_listener)?;
    /// assert_eq!(server.local_addr()?, addr);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        Ok(Server::from_listener(TcpListener::from_std(listener)?))
    }

    /// Serves on an already-bound std Unix listener: a socket passed by
    /// systemd's socket activation or inherited from a parent process. Sets
    /// it non-blocking; must be called inside a tokio runtime.
    ///
    /// The server never removes the socket file of a listener it was given
    /// (it did not create it, and its owner may hand it to the next
    /// instance); only sockets it bound itself
    /// ([`bind_unix`](Server::bind_unix)) are removed when it stops.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use gateway_core::Addr;
    /// let path = std::env::temp_dir().join(format!("std-unix-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let server = gateway_hyper::Server::from_std_unix(std_listener)?;
    /// assert!(matches!(server.local_addrs()?[0], Addr::Unix(Some(p)) if p == path));
    /// drop(server);
    /// assert!(path.exists(), "the file of a socket given to the server stays");
    /// # std::fs::remove_file(&path)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_std_unix(listener: std::os::unix::net::UnixListener) -> io::Result<Server> {
        Ok(Server::with(Listener::from_std_unix(listener)?))
    }

    fn with(listener: Listener) -> Server {
        Server {
            listeners: vec![listener],
            config: Config::default(),
            stats: ServerStats::default(),
        }
    }

    /// Adds another TCP listener.
    pub async fn and_bind(mut self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        self.listeners
            .push(Listener::Tcp(TcpListener::bind(addr).await?));
        Ok(self)
    }

    /// Adds a Unix socket listener at `path`, with permission bits `mode`
    /// when given (for example `0o660` to let a web server's group
    /// connect). A stale socket file left by a server that died is removed
    /// first (one that still accepts connections is an error, as is any
    /// other kind of file); the socket file is removed when the server
    /// stops. The mode is set right after the socket is created, so for
    /// that instant the umask decides: put the socket in a directory only
    /// the intended clients can enter if that matters.
    pub fn and_bind_unix(
        mut self,
        path: impl AsRef<Path>,
        mode: impl Into<Option<u32>>,
    ) -> io::Result<Server> {
        self.listeners
            .push(Listener::bind_unix(path.as_ref(), mode.into())?);
        Ok(self)
    }

    /// Adds an already-bound std TCP listener.
    pub fn and_std(mut self, listener: std::net::TcpListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        self.listeners
            .push(Listener::Tcp(TcpListener::from_std(listener)?));
        Ok(self)
    }

    /// Adds an already-bound std Unix listener (see
    /// [`from_std_unix`](Server::from_std_unix): its socket file is left in
    /// place when the server stops).
    pub fn and_std_unix(
        mut self,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<Server> {
        self.listeners.push(Listener::from_std_unix(listener)?);
        Ok(self)
    }

    /// A handle on this server's gauges and counters (open and accepted
    /// connections, pauses at the connection limit, requests refused at the
    /// concurrency limit, whether it drains). Take it before
    /// [`serve`](Server::serve) or
    /// [`serve_with_shutdown`](Server::serve_with_shutdown), which consume
    /// the server; the running server updates the same counters, and the
    /// handle stays valid after it returns.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use gateway_core::{fn_app, start};
    /// let server = gateway_hyper::Server::bind("0.0.0.0:8000").await?;
    /// let stats = server.stats();
    /// tokio::spawn(async move {
    ///     loop {
    ///         tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    ///         println!("{} connections open", stats.open_connections());
    ///     }
    /// });
    /// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
    /// server.serve_with_shutdown(app, gateway_hyper::shutdown_signal()).await
    /// # }
    /// ```
    pub fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    /// The address of the first TCP listener; an error of kind `NotFound`
    /// if the server listens on Unix sockets only.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listeners
            .iter()
            .find_map(Listener::tcp_addr)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "the server has no TCP listener, only Unix sockets",
                )
            })
    }

    /// The addresses of all listeners, in the order they were added.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use gateway_core::Addr;
    /// let sock = std::env::temp_dir().join(format!("doc-{}.sock", std::process::id()));
    /// let server = gateway_hyper::Server::bind("127.0.0.1:0").await?
    ///     .and_bind_unix(&sock, None)?;
    /// let addrs = server.local_addrs()?;
    /// assert!(matches!(addrs[0], Addr::Tcp(_)));
    /// assert!(matches!(addrs[1], Addr::Unix(Some(path)) if path == sock));
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addrs(&self) -> io::Result<Vec<Addr>> {
        self.listeners.iter().map(Listener::local_addr).collect()
    }

    /// How long a client may take to send a request's headers, on HTTP/1,
    /// and a new connection its first bytes (both protocols). hyper starts
    /// this clock as soon as an HTTP/1 connection waits for its next
    /// request, so it also bounds how long such a connection may stay idle
    /// (see [`idle_timeout`](Server::idle_timeout)). Defaults to 30 seconds.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Server {
        self.config.header_read_timeout = timeout;
        self
    }

    /// How long a keep-alive connection may stay idle — no request in
    /// flight and no byte received since its last response finished —
    /// before the server closes it (HTTP/2: with a `GOAWAY`), or `None` to
    /// keep idle connections open. Defaults to 30 seconds.
    ///
    /// One task per server checks every connection four times per timeout,
    /// so a connection closes between 1 and 1.25 timeouts after it went
    /// quiet; reading costs nothing more than a flag per read. On HTTP/1
    /// the [header-read timeout](Server::header_read_timeout) also runs
    /// while a connection waits, so an idle HTTP/1 connection closes after
    /// the shorter of the two. Behind a proxy that keeps upstream
    /// connections alive, make both longer than the proxy's own idle
    /// timeout (nginx's `keepalive_timeout` in an `upstream` block), or
    /// the proxy may send a request on a connection just being closed.
    /// A zero timeout is checked every millisecond: connections close as
    /// soon as they have been quiet for a few. Upgraded connections are
    /// never idle by this measure (an HTTP/2 connection carrying an
    /// extended CONNECT stream included): their handlers decide.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Server {
        self.config.idle_timeout = timeout.into();
        self
    }

    /// The most header fields an HTTP/1 request may have; more get 431.
    /// Values under 1 count as 1 (the `Host` field must fit). Defaults to
    /// 100. Above 100, hyper allocates its header arrays on the heap for
    /// every request; HTTP/2 is bounded by
    /// [`max_header_size`](Server::max_header_size) instead.
    pub fn max_headers(mut self, n: usize) -> Server {
        self.config.max_headers = n.max(1);
        self
    }

    /// The most bytes a request head may take on HTTP/1 — the request line,
    /// the header lines and the blank line that ends them, however the
    /// bytes arrive — and the header list on HTTP/2; more get 431 and a
    /// closed connection. Values under 8 KiB count as 8 KiB. Defaults to
    /// 64 KiB.
    pub fn max_header_size(mut self, bytes: usize) -> Server {
        self.config.max_header_size = bytes.max(8192);
        self
    }

    /// The most bytes a request body may have, or `None` for no limit. A
    /// request that announces more with `Content-Length` gets 413 without
    /// reaching the application; a longer body fails as the application
    /// reads it, with [`BodyError::LengthLimitExceeded`] (413). Defaults to
    /// 10 MiB.
    ///
    /// [`BodyError::LengthLimitExceeded`]: gateway_core::BodyError::LengthLimitExceeded
    pub fn max_body_size(mut self, bytes: impl Into<Option<u64>>) -> Server {
        self.config.max_body_size = bytes.into();
        self
    }

    /// How long the application may wait for the next bytes of a request
    /// body, or `None` for no limit (nginx's `client_body_timeout`). Only
    /// the time the application spends waiting for the client counts, not
    /// the time it spends elsewhere. Past it, the read fails with 408
    /// Request Timeout: an application that returns the error answers 408
    /// if its response has not started, and aborts it otherwise; the
    /// connection then closes. Defaults to 60 seconds.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let server = gateway_hyper::Server::bind("127.0.0.1:0").await?
    ///     .request_body_timeout(Duration::from_secs(10));
    /// // Or no limit: `.request_body_timeout(None)`.
    /// # Ok(())
    /// # }
    /// ```
    pub fn request_body_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Server {
        self.config.request_body_timeout = timeout.into();
        self
    }

    /// The slowest a client may send a request body, or `None` for no
    /// minimum (Kestrel's `MinRequestBodyDataRate`): counting only the time
    /// the application waits for the body, once that time passes the grace
    /// period, the bytes received must average at least the rate. Past it,
    /// the read fails with 408, as for the
    /// [body read timeout](Server::request_body_timeout), which catches a
    /// client that stops after a fast start. Defaults to 240 bytes per
    /// second after 5 seconds ([`MinDataRate::default`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use gateway_hyper::MinDataRate;
    /// let server = gateway_hyper::Server::bind("127.0.0.1:0").await?
    ///     .min_request_body_rate(MinDataRate::new(1024, Duration::from_secs(10)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn min_request_body_rate(mut self, rate: impl Into<Option<MinDataRate>>) -> Server {
        self.config.min_request_body_rate = rate.into();
        self
    }

    /// The slowest a client may take a response, or `None` for no minimum
    /// (Kestrel's `MinResponseDataRate`). Timing starts only when the
    /// connection's socket stops taking bytes: what the server then offers
    /// must be taken within the grace period or within the time it takes
    /// at the rate, whichever is longer, and bytes offered meanwhile add
    /// their time at the rate. Past it, the connection is closed and the
    /// response aborted (the client sees it cut short). Upgraded
    /// connections (a 101, or an HTTP/2 connection carrying an extended
    /// CONNECT stream) are the application's to pace and are not timed.
    /// Defaults to
    /// 240 bytes per second after 5 seconds ([`MinDataRate::default`]).
    ///
    /// On HTTP/2 this times the connection as a whole: a client that keeps
    /// reading but withholds a stream's flow-control window is bounded by
    /// [`request_timeout`](Server::request_timeout) only. Over TLS the
    /// flushes that push the TLS buffer to the socket are timed too.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use gateway_hyper::MinDataRate;
    /// let server = gateway_hyper::Server::bind("127.0.0.1:0").await?
    ///     .min_response_rate(MinDataRate::new(1024, Duration::from_secs(10)));
    /// // Or not at all:
    /// let server = server.min_response_rate(None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn min_response_rate(mut self, rate: impl Into<Option<MinDataRate>>) -> Server {
        self.config.min_response_rate = rate.into();
        self
    }

    /// The most connections open at once; past it the server stops
    /// accepting until one closes (the kernel queues the rest). Values
    /// under 1 count as 1. Defaults to 10,000.
    ///
    /// A connection counts from its accept until its socket is closed,
    /// exactly as in [`ServerStats::open_connections`]: an HTTP/1
    /// connection upgraded by a `101` (WebSocket) keeps its place while
    /// its handler has the socket, and an HTTP/2 connection takes one
    /// place whatever its streams (extended CONNECT ones included). So
    /// the limit also bounds the file descriptors that client connections
    /// hold. The connections a listener still had queued when the server
    /// began to drain are served past it: each has its first request
    /// answered, then closes (closing the listener would reset them).
    pub fn max_connections(mut self, n: usize) -> Server {
        self.config.max_connections = n.max(1);
        self
    }

    /// The most requests the application handles at once, or `None` for no
    /// limit; past it, requests get 503 at once. A request counts until its
    /// response is committed. Defaults to no limit.
    pub fn max_concurrent_requests(mut self, n: impl Into<Option<usize>>) -> Server {
        self.config.max_concurrent_requests = n.into();
        self
    }

    /// How long a request may take, or `None` for no limit: if the response
    /// has not started by then, the application's future is dropped and
    /// the client gets 503; if it has, the response is aborted. Defaults to
    /// no limit.
    pub fn request_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Server {
        self.config.request_timeout = timeout.into();
        self
    }

    /// How long a graceful shutdown waits for in-flight requests and the
    /// handlers of upgraded connections before it closes the remaining
    /// connections (and drops those handlers). Defaults to 30 seconds.
    /// With a [drain delay](Server::drain_delay), it starts after the
    /// delay.
    pub fn drain_timeout(mut self, timeout: Duration) -> Server {
        self.config.drain_timeout = timeout;
        self
    }

    /// How long the server keeps serving normally once the shutdown signal
    /// has completed, before it stops accepting and drains. Defaults to 0:
    /// the drain begins at once.
    ///
    /// [`ServerStats::is_draining`] turns `true` as soon as the signal
    /// completes, while the server still accepts and serves every request
    /// for the delay. A readiness endpoint that reports it (see
    /// `gateway_middleware::health::Readiness`) then fails, and whatever
    /// routes traffic notices before the listeners close: Kubernetes takes
    /// a pod out of its Service's endpoints only after its readiness probe
    /// fails (or after the endpoint update, which races SIGTERM), and a
    /// load balancer with active health checks (HAProxy, NGINX Plus) stops
    /// choosing an upstream after its check fails. Without a delay,
    /// requests sent in that window find the listener closed (connection
    /// refused, a 502 at the proxy). Open-source nginx has no active
    /// checks and gains nothing from a delay: it tries the next upstream
    /// when a connect is refused, which the drain makes safe. Choose at
    /// least the probe's `periodSeconds × failureThreshold` (or the health
    /// check's interval × fall count) plus a little; keep the delay plus the
    /// [drain timeout](Server::drain_timeout) under the time the process
    /// manager waits before SIGKILL (Kubernetes'
    /// `terminationGracePeriodSeconds`, 30 s by default).
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use gateway_core::{fn_app, start};
    /// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
    /// // A readiness probe every 5 s, failing after 2: 10 s, plus a margin.
    /// gateway_hyper::Server::bind("0.0.0.0:8000").await?
    ///     .drain_delay(Duration::from_secs(12))
    ///     .drain_timeout(Duration::from_secs(15))
    ///     .serve_with_shutdown(app, gateway_hyper::shutdown_signal())
    ///     .await
    /// # }
    /// ```
    pub fn drain_delay(mut self, delay: Duration) -> Server {
        self.config.drain_delay = delay;
        self
    }

    /// An external prefix every request's `script_name` starts with (the
    /// application is served under it by a proxy that strips it), or
    /// `None`. Defaults to none.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use gateway_core::RootPath;
    /// let server = gateway_hyper::Server::bind("127.0.0.1:0").await?
    ///     .root_path(RootPath::from_static("/app"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn root_path(mut self, root: impl Into<Option<RootPath>>) -> Server {
        self.config.root_path = root.into();
        self
    }

    /// HTTP/2: the most streams a client may open at once. Defaults to 200.
    pub fn http2_max_concurrent_streams(mut self, n: u32) -> Server {
        self.config.h2_max_concurrent_streams = n;
        self
    }

    /// HTTP/2: the most streams reset by the client before the server saw
    /// them, against the "rapid reset" attack (CVE-2023-44487); past it the
    /// connection is closed. Defaults to 20.
    pub fn http2_max_pending_accept_reset_streams(mut self, n: usize) -> Server {
        self.config.h2_max_pending_accept_reset_streams = n;
        self
    }

    /// HTTP/2: send a PING every `interval` on an idle connection, or
    /// `None` for none, and close the connection if no answer comes within
    /// `timeout`. Defaults to no PINGs, and 20 seconds.
    pub fn http2_keep_alive(
        mut self,
        interval: impl Into<Option<Duration>>,
        timeout: Duration,
    ) -> Server {
        self.config.h2_keep_alive_interval = interval.into();
        self.config.h2_keep_alive_timeout = timeout;
        self
    }

    /// HTTP/2: the most bytes buffered per stream for sending. Defaults to
    /// 400 KiB. A `u32`, not hyper's `usize`: hyper panics above
    /// `u32::MAX`.
    pub fn http2_max_send_buf_size(mut self, bytes: u32) -> Server {
        self.config.h2_max_send_buf_size = bytes;
        self
    }

    /// HTTP/2: whether to accept extended CONNECT (RFC 8441), the way
    /// WebSockets and other upgraded protocols run over HTTP/2. When on,
    /// the server announces `SETTINGS_ENABLE_CONNECT_PROTOCOL`, and a
    /// CONNECT request with a `:protocol` reaches the application as an
    /// upgrade ([`Environ::upgrade`](gateway_core::Environ::upgrade), answered
    /// with 200 and a handler). Defaults to off.
    ///
    /// Off by default because announcing it changes what clients do:
    /// browsers then open WebSockets on an HTTP/2 connection with a
    /// CONNECT request instead of an HTTP/1.1 GET with `Upgrade`, which a
    /// route that only knows the GET (a hosted axum router's
    /// `get(websocket_handler)`, say) does not match. Turn it on when the
    /// application's upgrades go through `env.upgrade()`, which serves
    /// both. HTTP/1.1 upgrades need no option.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use gateway_core::{fn_app, start};
    /// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
    /// gateway_hyper::Server::bind("127.0.0.1:8000").await?
    ///     .http2_extended_connect(true)
    ///     .serve(app)
    ///     .await
    /// # }
    /// ```
    pub fn http2_extended_connect(mut self, enabled: bool) -> Server {
        self.config.h2_extended_connect = enabled;
        self
    }

    /// Serves HTTPS on every listener with this rustls configuration
    /// (feature `tls`). ALPN offers `h2` and `http/1.1` unless the
    /// configuration lists protocols itself; a client without ALPN is told
    /// apart by its first bytes. The handshake runs in the connection's own
    /// task, never the accept loop, and must finish within
    /// `handshake_timeout` (10 seconds is a sane value). Requests see the
    /// `https` scheme and a TLS connection. Defaults to plain HTTP.
    ///
    /// ```no_run
    /// # async fn run(config: gateway_hyper::rustls::ServerConfig) -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use gateway_core::{fn_app, start};
    /// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
    /// gateway_hyper::Server::bind("0.0.0.0:443").await?
    ///     .tls(config, Duration::from_secs(10))
    ///     .serve_with_shutdown(app, gateway_hyper::shutdown_signal())
    ///     .await
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(
        mut self,
        config: tokio_rustls::rustls::ServerConfig,
        handshake_timeout: Duration,
    ) -> Server {
        self.config.tls = Some(crate::tls::Tls::new(config, handshake_timeout));
        self
    }

    /// Serves `app` until the process ends.
    pub async fn serve<A: Application>(self, app: A) -> io::Result<()> {
        self.serve_with_shutdown(app, std::future::pending()).await
    }

    /// Serves `app` until `signal` completes, then shuts down gracefully:
    /// after the [drain delay](Server::drain_delay) if any (the server
    /// keeps serving, [`ServerStats::is_draining`] already `true`), stops
    /// accepting, lets connections finish their in-flight requests (idle
    /// keep-alive connections close at once) and upgraded connections
    /// their handlers (whose
    /// [`Upgraded::shutdown`](gateway_core::upgrade::Upgraded::shutdown)
    /// resolves), and after the [drain timeout](Server::drain_timeout)
    /// closes whatever is left, dropping those handlers.
    ///
    /// Runs the application's `startup` first (an error stops the server
    /// before it accepts anything) and its `shutdown` last.
    ///
    /// The application is dropped before this returns: after the drain
    /// and its `shutdown`, once no connection or request holds it any more
    /// (if this future itself is dropped instead, the application is
    /// dropped when the last connection that still holds it ends).
    pub async fn serve_with_shutdown<A, S>(self, app: A, signal: S) -> io::Result<()>
    where
        A: Application,
        S: Future<Output = ()> + Send,
    {
        let config = self.config;
        let stats = self.stats;
        let registry = Arc::new(Registry::new());
        let state = Arc::new(State {
            app,
            body: BodyLimits {
                max_size: config.max_body_size.unwrap_or(u64::MAX),
                between_reads: config.request_body_timeout,
                min_rate: config.min_request_body_rate,
            },
            request_timeout: config.request_timeout,
            concurrency: config.max_concurrent_requests.map(Semaphore::new),
            root_path: config.root_path.clone(),
            stats: stats.clone(),
            upgrades: Upgrades {
                registry: registry.clone(),
                stats: stats.clone(),
            },
        });
        state
            .app
            .startup()
            .await
            .map_err(|e| io::Error::other(format!("application startup failed: {e}")))?;

        let protocols = Arc::new(protocols(&config, &registry));
        let connections = Arc::new(Semaphore::new(config.max_connections));
        let sweeper = config
            .idle_timeout
            .map(|timeout| tokio::spawn(registry.clone().sweep_idle(timeout)));
        let (phase, _) = watch::channel(Phase::Running);
        // Polled once before anything is accepted: a signal future that
        // installs its handlers on its first poll (as `shutdown_signal`
        // does) must have them in place before the first client can see
        // the server and a supervisor can send SIGTERM — else that SIGTERM
        // takes the default action and kills the process mid-request.
        let mut signal = std::pin::pin!(signal);
        let signalled = tokio::select! {
            biased;
            () = signal.as_mut() => true,
            () = std::future::ready(()) => false,
        };
        for listener in self.listeners {
            // Subscribed here, not in the task: a task that first runs after
            // an immediate shutdown must still see it, and the drain must
            // wait for it.
            let stop = phase.subscribe();
            tokio::spawn(accept_loop(
                listener,
                stop,
                state.clone(),
                protocols.clone(),
                connections.clone(),
                registry.clone(),
            ));
        }

        if !signalled {
            signal.await;
        }
        stats.set_draining();
        if !config.drain_delay.is_zero() {
            tracing::info!(delay = ?config.drain_delay, "shutting down: serving on for the drain delay");
            tokio::time::sleep(config.drain_delay).await;
        }
        tracing::info!("shutting down: draining connections");
        phase.send_replace(Phase::Draining);
        registry.tell_all(Command::Finish);
        // Accept loops end first, so no connection registers after the
        // registry was seen empty.
        let drained = async {
            phase.closed().await;
            registry.empty().await;
        };
        if tokio::time::timeout(config.drain_timeout, drained)
            .await
            .is_err()
        {
            tracing::warn!(
                timeout = ?config.drain_timeout,
                "drain deadline passed: closing the remaining connections"
            );
            registry.tell_all(Command::Abort);
            phase.closed().await;
            registry.empty().await;
        }
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        state.app.shutdown().await;
        // Every connection and stream task has ended: this is the last
        // handle, and the application is dropped here.
        drop(state);
        Ok(())
    }
}

/// hyper's builders for both protocols, and the rest of what a
/// connection needs to know of the configuration.
fn protocols(config: &Config, registry: &Arc<Registry>) -> Protocols {
    let mut h1 = http1::Builder::new();
    // `max_buf_size` alone bounds a head only while it arrives in pieces:
    // a longer head that lands in the buffer in one read parses whole.
    // `max_header_size` counts the parsed head whatever the reads were.
    h1.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_size)
        .max_header_size(config.max_header_size);
    // hyper's own limit is 100; setting it explicitly, even to 100, makes
    // hyper size its header array at run time on every request (~1,700
    // instructions per request), so it is set only when it differs.
    if config.max_headers != HYPER_MAX_HEADERS {
        h1.max_headers(config.max_headers);
    }
    let mut h2 = http2::Builder::new(StreamTasks::new(registry.clone()));
    h2.timer(TokioTimer::new())
        .max_concurrent_streams(config.h2_max_concurrent_streams)
        .max_pending_accept_reset_streams(config.h2_max_pending_accept_reset_streams)
        .max_header_list_size(u32::try_from(config.max_header_size).unwrap_or(u32::MAX))
        .keep_alive_interval(config.h2_keep_alive_interval)
        .keep_alive_timeout(config.h2_keep_alive_timeout)
        .max_send_buf_size(config.h2_max_send_buf_size as usize);
    if config.h2_extended_connect {
        h2.enable_connect_protocol();
    }
    Protocols {
        http1: h1,
        http2: h2,
        header_read_timeout: config.header_read_timeout,
        min_response_rate: config.min_response_rate,
        #[cfg(feature = "tls")]
        tls: config.tls.clone(),
    }
}
