//! [`Hold`]: a test hook that stops one request between its session's
//! load and its save, so a race can be played out deterministically.

use std::fmt;
use std::sync::Arc;

use tokio::sync::Notify;

/// Holds a request after its application returned and before
/// [`Sessions`](super::Sessions) saves its session, until the test
/// releases it. Put it in the request's extensions (a `TestRequest`
/// extension, or any middleware outside `Sessions`); requests without one
/// are not affected.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, Environ, fn_app, start};
/// use gateway_middleware::sessions::{Hold, MemoryStore, Session, Sessions};
///
/// // Sets the key named by the path to true.
/// let sessions = Sessions::new(MemoryStore::new());
/// let app = fn_app(|env: Environ| async move {
///     let key = env.path_info().trim_start_matches('/').to_owned();
///     Session::of(&env).unwrap().insert(&key, true).await?;
///     start(204, gateway_core::response::NO_HEADERS).empty()
/// })
/// .with(sessions.clone());
/// let client = TestClient::new(app);
/// client.get("/first").send().await; // the session exists now
///
/// // `/slow` loads the session, then waits before saving while `/fast`
/// // runs from start to end.
/// let hold = Hold::new();
/// let slow = client.get("/slow").extension(hold.clone()).send();
/// let fast = async {
///     hold.reached().await;
///     client.get("/fast").send().await;
///     hold.release();
/// };
/// tokio::join!(slow, fast);
/// // Different keys: both kept.
/// let (_, cookie) = client.cookies().remove(0);
/// let data = sessions.peek(&cookie).await?.expect("saved").data;
/// assert!(data.contains_key("slow") && data.contains_key("fast"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// A test starts the held request and, concurrently, awaits
/// [`reached`](Hold::reached); it then runs whatever should overtake the
/// held request, and calls [`release`](Hold::release). `tokio::join!`
/// runs both on one task, so no spawning is needed.
#[derive(Clone, Default)]
pub struct Hold {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    reached: Notify,
    released: Notify,
}

impl Hold {
    /// A new hold, not yet reached.
    pub fn new() -> Hold {
        Hold::default()
    }

    /// Resolves once the held request has reached the hold (immediately if
    /// it already has).
    pub async fn reached(&self) {
        self.inner.reached.notified().await;
    }

    /// Lets the held request go on (or, if it has not reached the hold
    /// yet, lets it pass without stopping).
    pub fn release(&self) {
        self.inner.released.notify_one();
    }

    /// Called by `Sessions`: signals and waits.
    pub(crate) async fn wait(&self) {
        self.inner.reached.notify_one();
        self.inner.released.notified().await;
    }
}

impl fmt::Debug for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hold").finish_non_exhaustive()
    }
}
