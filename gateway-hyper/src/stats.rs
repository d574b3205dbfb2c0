//! [`ServerStats`]: a running server's own gauges and counters, for a
//! metrics endpoint or a readiness probe.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! let server = gateway_hyper::Server::bind("127.0.0.1:0").await?;
//! // Taken before serving; the running server updates the same counters.
//! let stats = server.stats();
//! assert_eq!(stats.open_connections(), 0);
//! assert!(!stats.is_draining());
//!
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // The signal is already complete: the server drains at once.
//! server.serve_with_shutdown(app, async {}).await?;
//! assert!(stats.is_draining());
//! assert_eq!(stats.accepted_connections(), 0);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// A handle on a [`Server`](crate::Server)'s gauges and counters, taken
/// with [`Server::stats`](crate::Server::stats) before it serves and
/// updated by the running server.
///
/// Cloning is one reference count; every getter is one relaxed atomic
/// load, so a metrics exporter may call them from any thread, as often as
/// it scrapes. The values are independent snapshots: read together they
/// may be a few connections apart.
///
/// The counters cost the server nothing per request: only accepting and
/// closing a connection, pausing at the connection limit and refusing a
/// request at the concurrency limit touch them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let server = gateway_hyper::Server::bind("127.0.0.1:0").await?.max_connections(512);
/// let stats = server.stats();
/// // What a Prometheus exporter might read on each scrape:
/// let gauges = [
///     ("gateway_connections_open", stats.open_connections() as u64),
///     ("gateway_upgraded_connections_open", stats.upgraded_connections() as u64),
///     ("gateway_connections_accepted_total", stats.accepted_connections()),
///     ("gateway_connections_limited_total", stats.connections_limited()),
///     ("gateway_requests_refused_total", stats.requests_refused()),
///     ("gateway_draining", u64::from(stats.is_draining())),
/// ];
/// assert!(gauges.iter().all(|(_, value)| *value == 0));
/// # Ok(())
/// # }
/// ```
///
/// `ServerStats::default()` is a handle no server updates (all zero,
/// never draining): for an application built without a server, as in
/// tests.
#[derive(Clone, Default)]
pub struct ServerStats {
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    open: AtomicUsize,
    accepted: AtomicU64,
    limited: AtomicU64,
    refused: AtomicU64,
    draining: AtomicBool,
    upgraded: AtomicUsize,
}

impl ServerStats {
    /// The client connections open now, on every listener: accepted and
    /// not yet closed. This is exactly what counts against the
    /// [connection limit](crate::Server::max_connections): each accepted
    /// socket counts from its accept until it is closed.
    ///
    /// - An HTTP/1 connection handed to the application by a `101`
    ///   (WebSocket) still counts here, for as long as its socket is open
    ///   (its handler runs, or keeps the socket), and counts in
    ///   [`upgraded_connections`](ServerStats::upgraded_connections) too.
    /// - An HTTP/2 connection counts once, whatever its streams; its
    ///   extended CONNECT streams count in `upgraded_connections` only,
    ///   and it keeps counting here until their handlers have returned.
    /// - During a drain, the connections still finishing their requests
    ///   count until they close; the ones a closing listener still had
    ///   queued are served (answered, then closed) and counted here, but
    ///   past the limit.
    pub fn open_connections(&self) -> usize {
        self.counters.open.load(Relaxed)
    }

    /// How many connections the server has accepted since it started, on
    /// every listener (a total: it never goes down).
    pub fn accepted_connections(&self) -> u64 {
        self.counters.accepted.load(Relaxed)
    }

    /// How many times a listener found the server at its
    /// [connection limit](crate::Server::max_connections) and paused
    /// accepting until a connection closed (a total). Counted when the
    /// pause begins, once per listener and pause, whether or not a client
    /// is already waiting in the kernel's queue: a rising value means
    /// clients may be kept waiting at the limit (nginx then sees slow
    /// connects, or `connect() failed (11)` on a full Unix socket queue).
    pub fn connections_limited(&self) -> u64 {
        self.counters.limited.load(Relaxed)
    }

    /// How many requests were answered `503` without reaching the
    /// application because the
    /// [concurrency limit](crate::Server::max_concurrent_requests) was
    /// reached (a total). Requests that time out are not counted here.
    pub fn requests_refused(&self) -> u64 {
        self.counters.refused.load(Relaxed)
    }

    /// The upgraded connections open now: handlers of switching responses
    /// (an HTTP/1.1 `101`, or a 2xx to an HTTP/2 extended CONNECT) that are
    /// running, from the commit of the response until the handler returns
    /// or is cancelled at the drain deadline. The drain waits for them (up
    /// to its deadline), as for requests.
    ///
    /// Not a count against the connection limit: an HTTP/1 upgraded
    /// connection counts there as one of the
    /// [`open_connections`](ServerStats::open_connections) (which include
    /// it), an extended CONNECT stream through the HTTP/2 connection that
    /// carries it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = gateway_hyper::Server::bind("127.0.0.1:0").await?;
    /// let stats = server.stats();
    /// assert_eq!(stats.upgraded_connections(), 0); // no WebSocket open yet
    /// # Ok(())
    /// # }
    /// ```
    pub fn upgraded_connections(&self) -> usize {
        self.counters.upgraded.load(Relaxed)
    }

    /// Whether a graceful shutdown has begun: `true` from the moment the
    /// shutdown signal given to
    /// [`serve_with_shutdown`](crate::Server::serve_with_shutdown)
    /// completes, and from then on (also after the server returned). During
    /// the [drain delay](crate::Server::drain_delay) the server still
    /// serves: this is what a readiness endpoint reports so that load
    /// balancers stop sending new traffic first.
    pub fn is_draining(&self) -> bool {
        self.counters.draining.load(Relaxed)
    }

    /// A connection was accepted.
    pub(crate) fn connection_opened(&self) -> OpenConnection {
        self.counters.accepted.fetch_add(1, Relaxed);
        self.counters.open.fetch_add(1, Relaxed);
        OpenConnection(self.clone())
    }

    /// An upgraded connection's handler started.
    #[cold]
    pub(crate) fn upgrade_opened(&self) -> OpenUpgrade {
        self.counters.upgraded.fetch_add(1, Relaxed);
        OpenUpgrade(self.clone())
    }

    /// A listener paused at the connection limit.
    #[cold]
    pub(crate) fn connections_limited_once(&self) {
        self.counters.limited.fetch_add(1, Relaxed);
    }

    /// A request got 503 at the concurrency limit.
    #[cold]
    pub(crate) fn request_refused(&self) {
        self.counters.refused.fetch_add(1, Relaxed);
    }

    /// The shutdown signal completed.
    pub(crate) fn set_draining(&self) {
        self.counters.draining.store(true, Relaxed);
    }
}

impl fmt::Debug for ServerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerStats")
            .field("open_connections", &self.open_connections())
            .field("accepted_connections", &self.accepted_connections())
            .field("connections_limited", &self.connections_limited())
            .field("requests_refused", &self.requests_refused())
            .field("is_draining", &self.is_draining())
            .field("upgraded_connections", &self.upgraded_connections())
            .finish()
    }
}

/// One open connection in [`ServerStats::open_connections`], until
/// dropped (with the connection's socket, however it ends: see
/// `conns::Counted`).
pub(crate) struct OpenConnection(ServerStats);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.counters.open.fetch_sub(1, Relaxed);
    }
}

/// One running upgraded connection in
/// [`ServerStats::upgraded_connections`], until dropped.
pub(crate) struct OpenUpgrade(ServerStats);

impl Drop for OpenUpgrade {
    fn drop(&mut self) {
        self.0.counters.upgraded.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_counters() {
        let stats = ServerStats::default();
        let seen = stats.clone();
        let first = stats.connection_opened();
        let second = stats.connection_opened();
        assert_eq!(
            (seen.open_connections(), seen.accepted_connections()),
            (2, 2)
        );
        drop(first);
        assert_eq!(
            (seen.open_connections(), seen.accepted_connections()),
            (1, 2)
        );
        drop(second);
        assert_eq!(seen.open_connections(), 0);
        let upgraded = stats.upgrade_opened();
        assert_eq!(seen.upgraded_connections(), 1);
        drop(upgraded);
        assert_eq!(seen.upgraded_connections(), 0);
        stats.connections_limited_once();
        stats.request_refused();
        stats.request_refused();
        stats.set_draining();
        assert_eq!(seen.connections_limited(), 1);
        assert_eq!(seen.requests_refused(), 2);
        assert!(seen.is_draining());
        let debug = format!("{seen:?}");
        assert!(debug.contains("requests_refused: 2"), "{debug}");
    }
}
