//! Runs any gateway [`Application`](gateway_core::Application) on hyper 1.x: the application server
//! (gunicorn's or uvicorn's job) for the gateway interface.
//!
//! **Mental model:** the server owns sockets and HTTP; for every request it
//! builds an [`Environ`](gateway_core::Environ), calls the application
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
//! # Listeners and TLS
//!
//! A server listens on TCP (IPv4 and IPv6, `TCP_NODELAY`), Unix sockets
//! (with a file mode; a stale socket file is replaced, and removed again at
//! shutdown) and already-bound std listeners, TCP or Unix (systemd socket
//! activation, an inherited socket: a Unix socket the server was given
//! keeps its file), several at once. With the
//! `tls` feature, `Server::tls` serves HTTPS through rustls: ALPN picks
//! HTTP/2 or HTTP/1.1, and the handshake runs in the connection's task
//! under its own timeout.
//!
//! # Protection
//!
//! Every limit has a safe default (see [`Server`]): a 30 s header-read
//! timeout, a 30 s keep-alive idle timeout (HTTP/1 and HTTP/2: no request
//! in flight and no byte received since the last response), 100 headers
//! and 64 KiB of head (431 past them, however the head arrives), a 10 MiB
//! request body (413), 10,000 connections (accepting pauses past it),
//! HTTP/2 stream and rapid-reset limits; optional request concurrency
//! (503) and request timeouts. Slow clients are bounded too: a request body
//! whose next bytes take more than 60 s, or that arrives below 240 bytes/s
//! once 5 s of waiting have passed, fails with 408; a client that takes a
//! response below 240 bytes/s once its socket has been full for 5 s is cut
//! off. Malformed requests hyper accepts but RFC 9112 forbids — a missing,
//! repeated or invalid `Host`, a `Host` that disagrees with HTTP/2's
//! `:authority`, an asterisk-form target outside `OPTIONS`, an
//! authority-form target outside `CONNECT` — get 400 before they reach the
//! application. An application's error or panic becomes an error response
//! for that request only; every other request and connection carries on.
//!
//! Transfer codings other than `chunked` get 501 and `chunked` applied
//! twice gets 400, both with the connection closed; hyper itself refuses
//! `Content-Length` with `Transfer-Encoding` framing conflicts, differing
//! `Content-Length`s, invalid chunk sizes and bad bytes in headers (400),
//! and over-long heads (431 or 414). A connection that sends nothing is
//! closed at the header-read timeout.
//!
//! # Known deviations
//!
//! - Control characters inside chunk extensions are accepted: only
//!   hyper's chunk decoder sees them.
//! - On HTTP/1, hyper's header-read clock also runs while a connection
//!   waits for its next request, so an idle HTTP/1 connection closes after
//!   the shorter of the idle and header-read timeouts.
//! - On HTTP/2 the minimum response rate times the connection's socket:
//!   a client that keeps reading the connection but withholds one
//!   stream's flow-control window holds that stream until the
//!   [request timeout](Server::request_timeout), if one is set.
//! - `Expect: 100-continue` gets `100 Continue` only when the application
//!   reads the body before its response starts; a response of known size
//!   is committed at once and the client then sends the body anyway.
//! - HTTP/1.1 trailers go out only when the response declares them in a
//!   `Trailer` field (RFC 9110 §6.6.2; hyper drops undeclared ones, and
//!   only on a chunked response to a request with `TE: trailers`). HTTP/2
//!   sends them as they come.
//!
//! # Shutdown
//!
//! [`Server::serve_with_shutdown`] with [`shutdown_signal`] stops on
//! SIGTERM or SIGINT: it stops accepting, lets in-flight requests finish up
//! to the drain deadline (upgraded connections too, told through their
//! shutdown signal), closes idle connections, and runs the
//! application's `shutdown`; the application is dropped before it
//! returns.
//!
//! No request a client has sent is dropped unanswered by the drain, so
//! that a proxy in front (nginx, which never sends a `POST` twice) sees no
//! failure: a Unix socket's file is removed first (new connects fail at
//! once, and the proxy tries another server); connections already in a
//! listener's queue are accepted and their request answered; an idle
//! HTTP/1 connection stays open for half a second, answering a request
//! that arrives with `Connection: close`; and every HTTP/1 response from
//! then on says `Connection: close`. HTTP/2 connections get GOAWAY.
//!
//! Behind a load balancer that polls a readiness endpoint (Kubernetes,
//! HAProxy, NGINX Plus; open-source nginx does not), set a
//! [drain delay](Server::drain_delay): once the signal completes, the
//! server keeps accepting and serving for that long while its
//! [`ServerStats::is_draining`] is already `true`, so a readiness endpoint
//! built on it (`gateway_middleware::health::Readiness`) fails and traffic
//! is routed elsewhere before the listeners close; the drain timeout
//! starts after the delay.
//!
//! # Upgrades
//!
//! An application switches protocols through the core's
//! [`upgrade`](gateway_core::upgrade) API: HTTP/1.1 `Upgrade` (101) over
//! TCP, Unix sockets and TLS, and HTTP/2 extended CONNECT (RFC 8441, 200)
//! once [`Server::http2_extended_connect`] is on. The server runs the
//! handler the response carries in a task of its own after the response
//! head is written; bytes the client sent right behind its upgrade request
//! are the first the handler reads. An upgrade request with a body is
//! offered no upgrade (`env.upgrade()` is `None`): its unread bytes would
//! reach the handler as the new protocol's. Upgraded connections are the
//! application's to pace: the idle timeout and the minimum response rate
//! do not apply to them, nor do the request timeout and the concurrency
//! limit (both end at the commit). On a graceful shutdown their
//! [`Upgraded::shutdown`](gateway_core::upgrade::Upgraded::shutdown)
//! resolves and the drain waits for their handlers, which are dropped
//! (closing the connection) at the drain deadline.
//! [`ServerStats::upgraded_connections`] counts them; each still takes its
//! place under [`Server::max_connections`] until its socket closes (an
//! HTTP/2 one through its connection). hyper's own upgrade
//! handle stays in the request extensions, so an axum WebSocket route
//! hosted through the tower bridge keeps working.
//!
//! # Statistics
//!
//! [`Server::stats`], taken before serving, is a [`ServerStats`] handle on
//! the running server's own gauges and counters — open and accepted
//! connections, open upgraded connections, pauses at the connection limit, requests refused at the
//! concurrency limit, whether it drains — as plain getters for a metrics
//! exporter or a readiness check. They cost nothing per request.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::time::Duration;
//! use gateway_core::{fn_app, start};
//!
//! let server = gateway_hyper::Server::bind("0.0.0.0:8000").await?
//!     .drain_delay(Duration::from_secs(10));
//! let stats = server.stats();
//! let app = fn_app(move |env| {
//!     let ready = !stats.is_draining();
//!     async move {
//!         match (env.path_info(), ready) {
//!             ("/readyz", false) => start(503, [("content-type", "text/plain")]).body("not ready\n"),
//!             _ => start(200, [("content-type", "text/plain")]).body("ok\n"),
//!         }
//!     }
//! });
//! server.serve_with_shutdown(app, gateway_hyper::shutdown_signal()).await
//! # }
//! ```

mod accept;
mod connection;
mod conns;
mod head;
mod io;
mod listener;
mod rate;
mod request_body;
mod server;
mod service;
mod signal;
mod sniff;
mod stats;
#[cfg(feature = "tls")]
mod tls;
mod upgrade;

pub use rate::{InvalidMinDataRate, MinDataRate};
pub use server::Server;
pub use signal::shutdown_signal;
pub use stats::ServerStats;

/// The rustls crate, for building a [`Server::tls`] configuration
/// (feature `tls`).
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;

/// Serves `app` on `addr` until the process ends.
///
/// Equivalent to `Server::bind(addr).await?.serve(app).await`; see
/// [`Server`] for the settings and how the application is kept.
pub async fn serve<A: gateway_core::Application>(
    addr: impl tokio::net::ToSocketAddrs,
    app: A,
) -> std::io::Result<()> {
    Server::bind(addr).await?.serve(app).await
}
