//! Shutdown on the signals process managers send.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // `systemctl stop`, `docker stop` or Ctrl-C: drain, then return.
//! gateway_hyper::Server::bind("127.0.0.1:8000").await?
//!     .serve_with_shutdown(app, gateway_hyper::shutdown_signal())
//!     .await
//! # }
//! ```

/// Completes when the process receives SIGTERM (systemd, Kubernetes,
/// `docker stop`) or SIGINT (Ctrl-C): pass it to
/// [`Server::serve_with_shutdown`](crate::Server::serve_with_shutdown).
///
/// If a handler cannot be installed, the error is logged and that signal is
/// not waited for.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use gateway_core::{fn_app, start};
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// gateway_hyper::Server::bind("127.0.0.1:8000").await?
///     .serve_with_shutdown(app, gateway_hyper::shutdown_signal())
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
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    let int = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = term => tracing::info!("SIGTERM received"),
        () = int => tracing::info!("SIGINT received"),
    }
}
