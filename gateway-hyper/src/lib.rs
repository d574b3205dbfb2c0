//! Runs any gateway [`Application`] on hyper 1.x: the application server
//! (gunicorn's or uvicorn's job) for the gateway interface.
//!
//! **Mental model:** the server owns sockets and HTTP; for every request it
//! builds an [`Environ`], calls the application
//! through [`gateway_core::driver`], and writes the response. HTTP/1.1 and
//! HTTP/2 (prior knowledge) are served on the same port.
//!
//! ```no_run
//! use gateway_core::{fn_app, start};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let app = fn_app(|_env| async {
//!         start(200, [("content-type", "text/plain")]).body("Hello, world!\n")
//!     });
//!     gateway_hyper::serve("127.0.0.1:8000", app).await
//! }
//! ```
//!
//! To learn the bound address first (port 0, or to print it), bind a
//! [`Server`] and serve it:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//!
//! let server = gateway_hyper::Server::bind("127.0.0.1:0").await?;
//! println!("listening on http://{}", server.local_addr()?);
//! let app = fn_app(|_env| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // Stops at once here; a real server would pass a shutdown signal.
//! server.serve_with_shutdown(app, async {}).await
//! # }
//! ```
//!
//! This is the walking skeleton: per-request limits, Unix sockets, TLS and
//! signal handling come with the production adapter.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use gateway_core::{Addr, Application, Body, ConnInfo, Environ, driver};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;

/// Serves `app` on `addr` until the process ends.
///
/// The application is kept for the life of the process (see
/// [`Server::serve_with_shutdown`]).
///
/// Equivalent to `Server::bind(addr).await?.serve(app).await`.
pub async fn serve<A: Application>(addr: impl ToSocketAddrs, app: A) -> io::Result<()> {
    Server::bind(addr).await?.serve(app).await
}

/// A bound server, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    header_read_timeout: Duration,
}

impl Server {
    /// Binds a TCP listener on `addr` (port 0 picks a free port).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<Server> {
        Ok(Server::from_listener(TcpListener::bind(addr).await?))
    }

    /// Serves on an already-bound tokio listener.
    pub fn from_listener(listener: TcpListener) -> Server {
        Server {
            listener,
            header_read_timeout: Duration::from_secs(30),
        }
    }

    /// Serves on an already-bound std listener (socket activation, or a
    /// port picked by a test). Sets it non-blocking; must be called inside a
    /// tokio runtime.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        Ok(Server::from_listener(TcpListener::from_std(listener)?))
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// How long a client may take to send a request's headers on HTTP/1.
    /// Defaults to 30 seconds.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Server {
        self.header_read_timeout = timeout;
        self
    }

    /// Serves `app` until the process ends.
    pub async fn serve<A: Application>(self, app: A) -> io::Result<()> {
        self.serve_with_shutdown(app, std::future::pending()).await
    }

    /// Serves `app` until `signal` completes, then stops accepting and waits
    /// for open connections to finish their in-flight requests.
    ///
    /// Runs the application's `startup` first (an error stops the server
    /// before it accepts anything) and its `shutdown` last.
    ///
    /// The application is moved to the heap and kept for the rest of the
    /// process (leaked), so that every request borrows it without touching
    /// a reference count: release resources in
    /// [`Application::shutdown`], which runs, not in `Drop`, which does
    /// not.
    pub async fn serve_with_shutdown<A, S>(self, app: A, signal: S) -> io::Result<()>
    where
        A: Application,
        S: Future<Output = ()> + Send,
    {
        // Requests borrow the application for as long as they run, and
        // hyper needs their futures to be 'static: the application is
        // leaked once per server, so no reference count is touched per
        // request. `shutdown` still runs at the end; `Drop` does not.
        let app: &'static A = Box::leak(Box::new(app));
        app.startup()
            .await
            .map_err(|e| io::Error::other(format!("application startup failed: {e}")))?;
        let local = Addr::Tcp(self.listener.local_addr()?);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        // Each connection holds a receiver; on shutdown the sender signals
        // them all and waits until every one is dropped.
        let (drain, _) = watch::channel(());
        let mut signal = std::pin::pin!(signal);
        let mut backoff = Duration::ZERO;

        loop {
            let accepted = tokio::select! {
                biased;
                () = &mut signal => break,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => {
                    backoff = Duration::ZERO;
                    pair
                }
                Err(err) => {
                    // EMFILE and friends: wait instead of spinning or exiting.
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    tracing::warn!(error = %err, ?backoff, "accept failed");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(error = %err, "could not set TCP_NODELAY");
            }
            let conn = ConnInfo::new(Addr::Tcp(peer), local);
            let service = service_fn(move |req| handle(app, req, conn));
            // With upgrades: a 101 hands the connection to the application
            // (WebSocket), through `hyper::upgrade::on`.
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let mut draining = drain.subscribe();
            tokio::spawn(async move {
                let mut connection = std::pin::pin!(connection);
                let result = tokio::select! {
                    biased;
                    result = connection.as_mut() => result,
                    _ = draining.changed() => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                drop(draining);
                if let Err(err) = result {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
            });
        }

        drop(self.listener);
        drain.send_replace(());
        drain.closed().await;
        app.shutdown().await;
        Ok(())
    }
}

/// One request: environ in, driver, response out. Returns the driver's
/// future itself, so hyper holds nothing bigger per request.
#[inline]
fn handle<A: Application>(
    app: &'static A,
    req: http::Request<Incoming>,
    conn: ConnInfo,
) -> impl Future<Output = Result<http::Response<Body>, Infallible>> + Send + 'static {
    let (parts, incoming) = req.into_parts();
    // A bodiless request gets the empty body, which does not allocate.
    let body = if incoming.is_end_stream() {
        Body::empty()
    } else {
        Body::new(RequestBody { incoming })
    };
    driver::commit(app, Environ::from_parts(parts, body, conn))
}

/// A request body from hyper, with its errors given the status they
/// deserve: the client's failures, never the application's.
struct RequestBody {
    incoming: Incoming,
}

impl http_body::Body for RequestBody {
    type Data = bytes::Bytes;
    type Error = gateway_core::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        std::pin::Pin::new(&mut self.incoming)
            .poll_frame(cx)
            .map_err(|err| {
                if is_cut_short(&err) {
                    // The client went away mid-upload: 400, nobody will read it.
                    gateway_core::Error::new(gateway_core::BodyError::Incomplete)
                } else {
                    gateway_core::Error::with_status(http::StatusCode::BAD_REQUEST, err)
                }
            })
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

/// Whether a request body failed because the client closed or reset the
/// connection before the end (hyper reports an early EOF as a body error
/// caused by `UnexpectedEof`).
fn is_cut_short(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() || err.is_canceled() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            );
        }
        source = cause.source();
    }
    false
}
