//! The FastCGI [`Server`]: listeners, limits, serving and graceful
//! shutdown.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use gateway_core::{Application, RootPath};
use tokio::net::{TcpListener, ToSocketAddrs, UnixListener};
use tokio::sync::{Semaphore, watch};

use crate::conn::{self, Phase, Shared};

/// The default [`Server::max_connections`]: 1,024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The default [`Server::max_requests_per_connection`]: 64.
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: usize = 64;
/// The default [`Server::max_head_size`]: 64 KiB of params.
pub const DEFAULT_MAX_HEAD_SIZE: usize = 64 * 1024;
/// The default [`Server::max_body_size`]: 10 MiB.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 10 * 1024 * 1024;
/// The default [`Server::idle_timeout`]: 120 s (longer than nginx's
/// upstream `keepalive_timeout` of 60 s, so that nginx closes an idle
/// connection before the application does).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The default [`Server::header_read_timeout`]: 30 s, as gateway-hyper's
/// `Server::header_read_timeout`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default [`Server::drain_timeout`]: 30 s.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A FastCGI application server: listeners and configuration (a
/// builder). [`Server::serve_with_shutdown`] runs it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use std::time::Duration;
/// use gateway_core::{fn_app, start};
///
/// let server = gateway_fastcgi::Server::bind("127.0.0.1:0").await?
///     .max_body_size(1 << 20)
///     .drain_timeout(Duration::from_secs(5));
/// println!("fastcgi_pass {};", server.local_addr()?);
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// // Stops at once here; a real server passes a shutdown signal.
/// server.serve_with_shutdown(app, async {}).await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    listeners: Vec<Listener>,
    max_connections: usize,
    max_requests: usize,
    max_head: usize,
    max_body: u64,
    idle_timeout: Option<Duration>,
    header_read_timeout: Option<Duration>,
    drain_timeout: Duration,
    root_path: Option<RootPath>,
    stats: ServerStats,
}

/// Live counts of a [`Server`]'s connections, shared with the server
/// ([`Server::stats`]): cheap to clone, read at any time.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let server = gateway_fastcgi::Server::bind("127.0.0.1:0").await?;
/// let stats = server.stats();
/// assert_eq!((stats.accepted_connections(), stats.open_connections()), (0, 0));
/// assert!(!stats.is_draining());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServerStats(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    accepted: AtomicU64,
    open: AtomicUsize,
    draining: AtomicBool,
}

impl ServerStats {
    /// Connections accepted since the server started. With
    /// `fastcgi_keep_conn on` and `keepalive` in nginx's upstream, this
    /// stays far below the number of requests.
    pub fn accepted_connections(&self) -> u64 {
        self.0.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.0.open.load(Ordering::Relaxed)
    }

    /// Whether a graceful shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }
}

/// Counts a connection open while it lives.
struct OpenGuard(ServerStats);

impl OpenGuard {
    fn new(stats: &ServerStats) -> OpenGuard {
        stats.0.accepted.fetch_add(1, Ordering::Relaxed);
        stats.0.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(stats.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
enum Listener {
    Tcp(TcpListener),
    /// The listener, and the socket file it created (removed at the end).
    Unix(UnixListener, Option<PathBuf>),
}

impl Server {
    fn with(listener: Listener) -> Server {
        Server {
            listeners: vec![listener],
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_requests: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
            max_head: DEFAULT_MAX_HEAD_SIZE,
            max_body: DEFAULT_MAX_BODY_SIZE,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            root_path: None,
            stats: ServerStats::default(),
        }
    }

    /// The server's live counts (a handle that stays valid while and
    /// after it serves).
    pub fn stats(&self) -> ServerStats {
        self.stats.clone()
    }

    /// Binds a TCP listener (`fastcgi_pass 127.0.0.1:9000;`).
    ///
    /// **Only the web server may reach it**: whoever connects is trusted
    /// as a web server, and the params it sends — `REMOTE_ADDR`, `HTTPS`,
    /// `REQUEST_SCHEME`, every `HTTP_*` header — are believed as sent
    /// (see the [crate docs](crate#trust)). Bind a loopback address (or
    /// firewall the port to the web server's host), never `0.0.0.0` on a
    /// network others reach; a Unix socket ([`Server::bind_unix`] with
    /// `0o660`) is the tighter choice.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::with(Listener::Tcp(TcpListener::bind(addr).await?)))
    }

    /// Binds a Unix socket at `path` (`fastcgi_pass unix:/run/app.sock;`)
    /// with permission bits `mode` when given (`0o660`, with the web
    /// server's user in the file's group; else the umask decides). A
    /// socket file left by a dead server is replaced; a live one, or any
    /// other file, is an error. The file is removed when the server stops.
    ///
    /// Whoever can connect is trusted as the web server (see the
    /// [crate docs](crate#trust)): give the socket a mode such as `0o660`
    /// and a group only the web server's user is in; with `None` the
    /// umask may leave it open to every local user.
    pub fn bind_unix(path: impl AsRef<Path>, mode: impl Into<Option<u32>>) -> io::Result<Server> {
        Ok(Server::with(bind_unix(path.as_ref(), mode.into())?))
    }

    /// Serves an already bound std TCP listener (socket activation).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        Ok(Server::with(Listener::Tcp(TcpListener::from_std(
            listener,
        )?)))
    }

    /// Serves an already bound std Unix listener; its file is left alone.
    pub fn from_std_unix(listener: std::os::unix::net::UnixListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        Ok(Server::with(Listener::Unix(
            UnixListener::from_std(listener)?,
            None,
        )))
    }

    /// Also listens on TCP `addr`.
    pub async fn and_bind(mut self, addr: impl ToSocketAddrs) -> io::Result<Server> {
        self.listeners
            .push(Listener::Tcp(TcpListener::bind(addr).await?));
        Ok(self)
    }

    /// Also listens on a Unix socket at `path` (as [`Server::bind_unix`]).
    pub fn and_bind_unix(
        mut self,
        path: impl AsRef<Path>,
        mode: impl Into<Option<u32>>,
    ) -> io::Result<Server> {
        self.listeners.push(bind_unix(path.as_ref(), mode.into())?);
        Ok(self)
    }

    /// The address of the first TCP listener; an error if there is none.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        for listener in &self.listeners {
            if let Listener::Tcp(l) = listener {
                return l.local_addr();
            }
        }
        Err(io::Error::new(io::ErrorKind::NotFound, "no TCP listener"))
    }

    /// The most connections served at once; past it, accepting pauses
    /// until one closes (the kernel queues the rest). Also the
    /// `FCGI_MAX_CONNS` answered to `GET_VALUES`. Values under 1 count as
    /// 1. Defaults to [`DEFAULT_MAX_CONNECTIONS`].
    pub fn max_connections(mut self, n: usize) -> Server {
        self.max_connections = n.clamp(1, u32::MAX as usize).min(Semaphore::MAX_PERMITS);
        self
    }

    /// The most requests in flight on one connection (multiplexing); a
    /// `BEGIN_REQUEST` past it is answered `END_REQUEST` with
    /// `FCGI_OVERLOADED`. nginx sends one request at a time per
    /// connection. Values under 1 count as 1. Defaults to
    /// [`DEFAULT_MAX_REQUESTS_PER_CONNECTION`].
    pub fn max_requests_per_connection(mut self, n: usize) -> Server {
        self.max_requests = n.max(1);
        self
    }

    /// The largest params stream of one request (names, values and their
    /// lengths: the request head), in bytes; past it the answer is 431
    /// without calling the application. Defaults to
    /// [`DEFAULT_MAX_HEAD_SIZE`].
    pub fn max_head_size(mut self, bytes: usize) -> Server {
        self.max_head = bytes;
        self
    }

    /// The largest request body, in bytes; `None` for no limit. A larger
    /// `CONTENT_LENGTH` is answered 413 without calling the application;
    /// a body without one fails with 413 when it passes the limit.
    /// Defaults to [`DEFAULT_MAX_BODY_SIZE`].
    pub fn max_body_size(mut self, bytes: impl Into<Option<u64>>) -> Server {
        self.max_body = bytes.into().unwrap_or(u64::MAX);
        self
    }

    /// How long a connection may stay silent before it is closed; `None`
    /// to never close it. Defaults to [`DEFAULT_IDLE_TIMEOUT`].
    ///
    /// The clock runs while no request is in flight (from the last byte
    /// read or the last answer), and also while a request waits for
    /// `STDIN` the web server owes: no byte within the timeout then
    /// drops the connection and its requests (there is no separate body
    /// read timeout). It does not run while reading pauses because an
    /// application has not read its queued body yet. The same timeout
    /// bounds each record the connection writes on its own
    /// (`GET_VALUES_RESULT`, `UNKNOWN_TYPE`, refusals, the `END_REQUEST`
    /// of an `ABORT_REQUEST`): a peer that does not read it within the
    /// timeout is dropped. With `None`, only the
    /// [drain deadline](Server::drain_timeout) ends such a connection.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Server {
        self.idle_timeout = timeout.into();
        self
    }

    /// How long a request's head may take to arrive: from its
    /// `BEGIN_REQUEST` to the empty `PARAMS` record that ends its params;
    /// `None` for no limit. Defaults to [`DEFAULT_HEADER_READ_TIMEOUT`]
    /// (30 s, the name and default of gateway-hyper's).
    ///
    /// Past it the request is answered `408 Request Timeout` (`STDOUT`,
    /// then `END_REQUEST`) without calling the application, its params
    /// are dropped, and the connection closes once its other requests are
    /// answered, as after a 413 or 431: the rest of that request's records
    /// may still be on their way. Answering rather than closing at once
    /// leaves the other requests multiplexed on the connection alone and
    /// gives the web server a response to pass on instead of a broken
    /// connection (a 502). Without it, a peer that sends `BEGIN_REQUEST`
    /// and then nothing, or trickles its params a byte at a time, would
    /// hold a request slot and its params for as long as it liked: the
    /// [idle timeout](Server::idle_timeout) starts again at every byte.
    ///
    /// The body has no deadline of its own: nginx writes a request's
    /// params in one go, but with `fastcgi_request_buffering off` it sends
    /// the body (and so the first `STDIN` record) as its client does. What
    /// bounds a body that stops is the [idle timeout](Server::idle_timeout):
    /// no byte within it while a request waits for `STDIN` drops the
    /// connection.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let server = gateway_fastcgi::Server::bind("127.0.0.1:0").await?
    ///     .header_read_timeout(Duration::from_secs(5));
    /// // Or no deadline at all (a trusted web server on a Unix socket):
    /// let server = server.header_read_timeout(None);
    /// # drop(server);
    /// # Ok(())
    /// # }
    /// ```
    pub fn header_read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Server {
        self.header_read_timeout = timeout.into();
        self
    }

    /// How long a graceful shutdown waits for requests in flight before
    /// it drops them and closes their connections. Defaults to
    /// [`DEFAULT_DRAIN_TIMEOUT`]. Past it, every connection is dropped,
    /// whatever it is waiting for (a peer that does not read included),
    /// so [`Server::serve_with_shutdown`] returns soon after: within two
    /// seconds more at most, the time a connection that was already
    /// closing in order gets to finish its last write (one second) and
    /// read what the web server still sends (one second).
    pub fn drain_timeout(mut self, timeout: Duration) -> Server {
        self.drain_timeout = timeout;
        self
    }

    /// An external prefix that precedes every request's `script_name`
    /// (the path the web server strips before passing the request on,
    /// when it rewrites `REQUEST_URI`). Defaults to none.
    pub fn root_path(mut self, root: impl Into<Option<RootPath>>) -> Server {
        self.root_path = root.into();
        self
    }

    /// Serves `app` until the process ends.
    pub async fn serve<A: Application>(self, app: A) -> io::Result<()> {
        self.serve_with_shutdown(app, std::future::pending()).await
    }

    /// Serves `app` until `signal` completes, then shuts down gracefully:
    /// stops accepting, closes idle connections, lets requests in flight
    /// finish (each connection closes after its last one) and, after the
    /// [drain timeout](Server::drain_timeout), drops what is left.
    ///
    /// Runs the application's `startup` first (an error stops the server
    /// before it accepts anything) and its `shutdown` last. `signal` is
    /// polled once before the first accept, so a signal handler it
    /// installs on its first poll is in place before any client can
    /// connect.
    pub async fn serve_with_shutdown<A, S>(self, app: A, signal: S) -> io::Result<()>
    where
        A: Application,
        S: Future<Output = ()> + Send,
    {
        let limit = self.max_connections;
        let shared = Arc::new(Shared {
            app,
            max_head: self.max_head,
            max_body: self.max_body,
            max_requests: self.max_requests,
            idle_timeout: self.idle_timeout,
            header_read_timeout: self.header_read_timeout,
            root_path: self.root_path,
            max_conns: limit,
        });
        shared
            .app
            .startup()
            .await
            .map_err(|e| io::Error::other(format!("application startup failed: {e}")))?;
        let permits = Arc::new(Semaphore::new(limit));
        let (phase, _) = watch::channel(Phase::Running);
        let mut signal = std::pin::pin!(signal);
        let signalled = tokio::select! {
            biased;
            () = signal.as_mut() => true,
            () = std::future::ready(()) => false,
        };
        let mut socket_files = Vec::new();
        let mut accepting = Vec::new();
        for listener in self.listeners {
            let stop = phase.subscribe();
            let ctx = (shared.clone(), permits.clone(), self.stats.clone());
            accepting.push(match listener {
                Listener::Tcp(l) => tokio::spawn(accept_loop(Accept::Tcp(l), stop, ctx)),
                Listener::Unix(l, file) => {
                    socket_files.extend(file);
                    tokio::spawn(accept_loop(Accept::Unix(l), stop, ctx))
                }
            });
        }
        if !signalled {
            signal.await;
        }
        tracing::info!("shutting down: draining FastCGI connections");
        self.stats.0.draining.store(true, Ordering::Relaxed);
        phase.send_replace(Phase::Draining);
        for task in accepting {
            let _ = task.await;
        }
        for file in &socket_files {
            let _ = std::fs::remove_file(file);
        }
        // Every connection holds a permit until it has closed.
        let all = u32::try_from(limit).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(self.drain_timeout, permits.acquire_many(all)).await;
        if drained.is_err() {
            tracing::warn!(timeout = ?self.drain_timeout, "drain deadline passed: dropping the requests left");
            phase.send_replace(Phase::Abort);
            let _ = permits.acquire_many(all).await;
        }
        shared.app.shutdown().await;
        Ok(())
    }
}

fn bind_unix(path: &Path, mode: Option<u32>) -> io::Result<Listener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)?;
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running server", path.display()),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    let listener = UnixListener::bind(path)?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(Listener::Unix(listener, Some(path.to_owned())))
}

enum Accept {
    Tcp(TcpListener),
    Unix(UnixListener),
}

async fn accept_loop<A: Application>(
    listener: Accept,
    mut stop: watch::Receiver<Phase>,
    (shared, permits, stats): (Arc<Shared<A>>, Arc<Semaphore>, ServerStats),
) {
    loop {
        if *stop.borrow() != Phase::Running {
            return;
        }
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = stop.changed() => return,
        };
        let accepted = tokio::select! {
            accepted = accept(&listener) => accepted,
            _ = stop.changed() => return,
        };
        let phase = stop.clone();
        let shared = shared.clone();
        match accepted {
            Ok(Conn::Tcp(io)) => {
                let _ = io.set_nodelay(true);
                let open = OpenGuard::new(&stats);
                let (rd, wr) = io.into_split();
                tokio::spawn(async move {
                    conn::serve(rd, wr, shared, phase).await;
                    drop((open, permit));
                });
            }
            Ok(Conn::Unix(io)) => {
                let open = OpenGuard::new(&stats);
                let (rd, wr) = io.into_split();
                tokio::spawn(async move {
                    conn::serve(rd, wr, shared, phase).await;
                    drop((open, permit));
                });
            }
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "FastCGI accept failed");
                drop(permit);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Accept) -> io::Result<Conn> {
    match listener {
        Accept::Tcp(l) => Ok(Conn::Tcp(l.accept().await?.0)),
        Accept::Unix(l) => Ok(Conn::Unix(l.accept().await?.0)),
    }
}

/// Completes on SIGTERM (what systemd and `docker stop` send) or SIGINT
/// (Ctrl-C): pass it to [`Server::serve_with_shutdown`]. A handler that
/// cannot be installed is logged and that signal not waited for.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use gateway_core::{fn_app, start};
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// gateway_fastcgi::Server::bind("127.0.0.1:9000").await?
///     .serve_with_shutdown(app, gateway_fastcgi::shutdown_signal())
///     .await
/// # }
/// ```
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    let int = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = term => tracing::info!("SIGTERM received"),
        () = int => tracing::info!("SIGINT received"),
    }
}
