//! Protocol upgrades ([`gateway_core::upgrade`]): the offer put into an
//! upgrade request's environ, and the task that runs an application's
//! handler after the switch, tracked for the drain.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use gateway_core::upgrade::Upgraded;
//! use gateway_core::{fn_app, start, Environ};
//! use http::HeaderMap;
//!
//! // A raw echo protocol, over HTTP/1.1 `Upgrade: echo` and over HTTP/2
//! // extended CONNECT with `:protocol = echo`.
//! let app = fn_app(|mut env: Environ| async move {
//!     let Some(up) = env.upgrade() else {
//!         return start(426, [("upgrade", "echo"), ("connection", "upgrade")]).empty();
//!     };
//!     Ok(up.switch(HeaderMap::new(), |mut io: Upgraded| async move {
//!         let (mut r, mut w) = tokio::io::split(&mut io);
//!         let _ = tokio::io::copy(&mut r, &mut w).await;
//!     }))
//! });
//! gateway_hyper::Server::bind("127.0.0.1:8000").await?
//!     .http2_extended_connect(true)
//!     .serve(app)
//!     .await
//! # }
//! ```
//!
//! The switch goes as the [upgrade module](gateway_core::upgrade) of the
//! core says: the application's response carries its handler; once the
//! driver has committed it, the server takes the [`Switch`] and runs it in
//! a task of its own that counts in the connection registry, so that the
//! drain waits for it. On a graceful shutdown the handler's
//! [`Upgraded::shutdown`] resolves; at the drain deadline the task is
//! dropped, which closes the connection.

use gateway_core::upgrade::{OnUpgrade, Shutdown, Switch, Upgraded};
use http::{Method, Version};
use hyper_util::rt::TokioIo;

use crate::conns::{Command, InFlight, Registry};
use crate::stats::ServerStats;
use std::sync::Arc;

/// What the upgrade path needs of the server: the registry (for the
/// shutdown signal and the drain) and the gauges.
pub(crate) struct Upgrades {
    pub(crate) registry: Arc<Registry>,
    pub(crate) stats: ServerStats,
}

impl Upgrades {
    /// The offer for an upgrade request: an HTTP/1.1 request with
    /// `Upgrade` (`http1`, from the head checks), or an HTTP/2 CONNECT with
    /// `:protocol` (extended CONNECT, when enabled). `None` for anything
    /// else, classic CONNECT tunnels included.
    ///
    /// hyper's own upgrade handle stays in the request's extensions (it is
    /// a shared handle): a hosted axum WebSocket route takes it from
    /// there and the application never calls `env.upgrade()`.
    pub(crate) fn offer(
        &self,
        method: &Method,
        version: Version,
        extensions: &http::Extensions,
        http1: bool,
    ) -> Option<OnUpgrade> {
        let hyper_on = extensions.get::<hyper::upgrade::OnUpgrade>()?.clone();
        let protocol = if http1 {
            None
        } else if *method == Method::CONNECT && version == Version::HTTP_2 {
            Some(extensions.get::<hyper::ext::Protocol>()?)
        } else {
            return None;
        };
        let shutdown = self.shutdown();
        let upgraded = async move {
            let io = hyper_on.await?;
            Ok(Upgraded::new(TokioIo::new(io)).with_shutdown(shutdown))
        };
        Some(match protocol {
            None => OnUpgrade::http1(upgraded),
            Some(protocol) => OnUpgrade::extended_connect(protocol.as_str(), upgraded),
        })
    }

    /// Resolves once the server drains (told [`Command::Finish`] or
    /// later).
    fn shutdown(&self) -> Shutdown {
        let mut command = self.registry.commands();
        Shutdown::new(async move {
            let _ = command.wait_for(|c| *c != Command::Run).await;
        })
    }

    /// Runs the handler of a committed switch in a task that counts in the
    /// registry until it ends, and is dropped at the drain deadline.
    /// `hold` keeps an HTTP/2 connection busy (not idle) while its
    /// extended CONNECT stream is open.
    pub(crate) fn spawn(&self, switch: Switch, hold: Option<InFlight>) {
        let task = self.registry.enter_task();
        let open = self.stats.upgrade_opened();
        let mut command = self.registry.commands();
        tokio::spawn(async move {
            tokio::select! {
                () = switch => {}
                _ = command.wait_for(|c| *c == Command::Abort) => {
                    tracing::debug!("drain deadline passed: an upgraded connection was closed");
                }
            }
            drop(hold);
            drop(open);
            drop(task);
        });
    }
}
