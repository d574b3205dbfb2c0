//! The tokio runtime whose blocking pool does the file system work.
//!
//! Looked up where the work is started, not assumed: outside a runtime
//! (an adapter on another executor) tokio's spawning functions panic with
//! "there is no reactor running", and a client's request must never be a
//! panic. Here it is an error that says what is needed.

use gateway_core::Error;
use tokio::runtime::Handle;

/// The runtime this is running in.
pub(super) fn current() -> Result<Handle, Error> {
    Handle::try_current().map_err(|_| {
        Error::new(
            "StaticFiles needs a tokio runtime (it reads files on tokio's blocking pool): \
             serve it with gateway-hyper or call it from within a tokio runtime",
        )
    })
}

/// Runs blocking file system work on the current runtime's blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    current()?
        .spawn_blocking(work)
        .await
        .map_err(|e| Error::new(format!("static files: blocking task failed: {e}")))
}
