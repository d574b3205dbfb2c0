//! The accept loops: one task per listener, accepting connections up to
//! the connection limit until the server drains, and spawning each
//! connection's task.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // Two listeners, two accept loops; at most 100 connections between them.
//! gateway_hyper::Server::bind("127.0.0.1:0").await?
//!     .and_bind("127.0.0.1:0").await?
//!     .max_connections(100)
//!     .serve_with_shutdown(app, async {})
//!     .await
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use gateway_core::{Addr, Application, ConnInfo};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, watch};

use crate::connection::{self, Accepted, Protocols};
use crate::conns::{Counted, Registry, Watched};
use crate::listener::{Listener, Stream, is_connection_error};
use crate::service::State;

/// The phase of a server, broadcast to its accept loops (connections are
/// told through the registry). Phases only move forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Accepting connections.
    Running,
    /// Not accepting any more: the server drains.
    Draining,
}

/// Accepts connections on one listener until the server drains.
pub(crate) async fn accept_loop<A: Application>(
    listener: Listener,
    mut stop: watch::Receiver<Phase>,
    state: Arc<State<A>>,
    protocols: Arc<Protocols>,
    connections: Arc<Semaphore>,
    registry: Arc<Registry>,
) {
    accept_until_drain(
        &listener,
        &mut stop,
        &state,
        &protocols,
        &connections,
        &registry,
    )
    .await;
    // Close the listener (a Unix socket removes its file first), and
    // serve the connections that were waiting in its queue: closing would
    // reset them, and their requests may be ones a proxy will not send
    // twice. They are registered after the drain began, so each is told to
    // finish at once: its first request is answered, then it closes.
    let local = listener.local_addr().unwrap_or(Addr::None);
    for (stream, peer) in listener.close() {
        spawn_connection(stream, peer, local, None, &state, &protocols, &registry);
    }
    // Let go of the application before the drain can see this loop gone.
    drop(state);
    drop(stop);
}

async fn accept_until_drain<A: Application>(
    listener: &Listener,
    stop: &mut watch::Receiver<Phase>,
    state: &Arc<State<A>>,
    protocols: &Arc<Protocols>,
    connections: &Arc<Semaphore>,
    registry: &Arc<Registry>,
) {
    if *stop.borrow_and_update() != Phase::Running {
        return;
    }
    let local = listener.local_addr().unwrap_or(Addr::None);
    let mut backoff = Duration::ZERO;
    loop {
        // Past the connection limit, stop accepting until one closes.
        let permit = match connections.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::Closed) => return,
            Err(TryAcquireError::NoPermits) => {
                state.stats.connections_limited_once();
                tokio::select! {
                    biased;
                    () = next_phase(stop) => return,
                    permit = connections.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            biased;
            () = next_phase(stop) => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::ZERO;
                pair
            }
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                // EMFILE and friends: wait instead of spinning or exiting.
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                tracing::warn!(error = %err, ?backoff, "accept failed");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        spawn_connection(
            stream,
            peer,
            local,
            Some(permit),
            state,
            protocols,
            registry,
        );
    }
}

/// Spawns the task that serves one accepted connection. Its `permit` of
/// the connection limit (none for the connections a closing listener
/// still had queued) goes into the connection's shared state: it is
/// given up when the socket closes, which for an upgraded connection is
/// after this task has ended (see [`Counted`]).
fn spawn_connection<A: Application>(
    stream: Stream,
    peer: Addr,
    local: Addr,
    permit: Option<OwnedSemaphorePermit>,
    state: &Arc<State<A>>,
    protocols: &Arc<Protocols>,
    registry: &Arc<Registry>,
) {
    let conn = ConnInfo::new(peer, local);
    let registered = registry.register(Counted::new(permit, state.stats.connection_opened()));
    let accepted = Accepted {
        state: state.clone(),
        protocols: protocols.clone(),
        conn,
        activity: registered.activity().clone(),
    };
    // Watched outermost: past the drain deadline the whole task, with
    // its requests, is dropped at once.
    tokio::spawn(Watched::new(
        async move {
            let result = connection::serve(stream, accepted).await;
            if let Err(err) = result {
                tracing::debug!(error = %err, peer = %conn.peer(), "connection ended with an error");
            }
        },
        registered,
    ));
}

/// Completes at the server's next phase change (or when it is gone).
/// Phases only move forward, so the first change means "draining".
async fn next_phase(phase: &mut watch::Receiver<Phase>) {
    let _ = phase.changed().await;
}
