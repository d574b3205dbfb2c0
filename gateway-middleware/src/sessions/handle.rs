//! [`Session`]: the handle an application finds in the environ's
//! extensions, and [`SessionError`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use gateway_core::Environ;
use gateway_core::lint::{Reporter, Rule};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::id::SessionId;
use super::store::{Record, StoreError};

/// The session of the current request. [`Sessions`](super::Sessions) puts
/// one in the environ's extensions; find it with [`Session::of`] (or
/// `env.extensions().get::<Session>()`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, Environ, fn_app, start};
/// use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
///
/// let app = fn_app(|env: Environ| async move {
///     let session = Session::of(&env).expect("inside Sessions");
///     let visits: u32 = session.get("visits").await?.unwrap_or(0);
///     session.insert("visits", visits + 1).await?;
///     start(200, [("content-type", "text/plain")]).body(format!("visit {}", visits + 1))
/// })
/// .with(Sessions::new(MemoryStore::new()));
///
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/").send().await.text(), "visit 1");
/// assert_eq!(client.get("/").send().await.text(), "visit 2");
/// # });
/// ```
///
/// **Lazy.** Creating the handle costs nothing: the store (or the cookie
/// store's decryption) is reached on the first call that needs the
/// session, once, and every clone of the handle — in any task of the
/// request — shares what was loaded. A request that never calls a method
/// costs no store round trip, gets no `Vary: Cookie` and no cookie.
///
/// **Changes** are kept in the handle and saved once, by the middleware,
/// after the application returned its response and before the driver
/// commits it: only the keys this request changed, merged into the stored
/// record by the [store's rule](super::SessionStore#the-contract). Setting
/// a key to the value it already has is not a change.
///
/// **After the commit** — in a streaming body still holding a clone — a
/// change can no longer be saved: the call returns
/// [`SessionError::is_after_commit`], logs an error and, under
/// [`Lint`](gateway_core::lint::Lint), is reported as a violation. Reads of a
/// session that was loaded before still work; a first use after the
/// commit is refused the same way (the response went out without
/// `Vary: Cookie`).
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

pub(crate) type LoadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Loaded>, StoreError>> + Send + 'a>>;

/// How a `Session` reaches its backend without naming its type.
pub(crate) trait Loader: Send + Sync + 'static {
    fn load<'a>(&'a self, values: &'a [&'a str], now: SystemTime) -> LoadFuture<'a>;
}

/// A session as loaded from the backend.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    /// The store's id; `None` for the cookie store.
    pub(crate) id: Option<SessionId>,
    pub(crate) record: Record,
    /// Sealed with an old key: re-issue under the primary on this request.
    pub(crate) reissue: bool,
}

struct Inner {
    loader: Arc<dyn Loader>,
    /// The values of the session cookie the client sent, first first.
    cookies: Vec<String>,
    fail_open: bool,
    /// `Some(loaded)` once loaded (`loaded` is `None` for a new session);
    /// `None` once loading failed with fail-closed.
    base: OnceCell<Option<Base>>,
    state: Mutex<State>,
    reporter: Option<Reporter>,
}

#[derive(Debug)]
struct Base {
    loaded: Option<Loaded>,
    /// False after a failed load under fail-open: never saved.
    saveable: bool,
}

#[derive(Default)]
struct State {
    touched: bool,
    failed: bool,
    committed: bool,
    cleared: bool,
    destroyed: bool,
    cycle: bool,
    changes: BTreeMap<String, Option<Value>>,
}

/// What the request did with its session, taken by the middleware at its
/// cookie decision.
#[derive(Debug)]
pub(crate) enum Taken {
    /// No method was called.
    Untouched,
    /// The store failed under fail-closed.
    Failed,
    /// The session was used.
    Used(Plan),
}

/// The changes of one request, for the backend.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) loaded: Option<Loaded>,
    pub(crate) saveable: bool,
    pub(crate) cleared: bool,
    pub(crate) destroyed: bool,
    pub(crate) cycle: bool,
    pub(crate) changes: BTreeMap<String, Option<Value>>,
}

impl Plan {
    /// Whether the request changed the data.
    pub(crate) fn changed(&self) -> bool {
        self.cleared || !self.changes.is_empty()
    }

    /// The data as this request sees it: the loaded data (none after a
    /// destroy), cleared if asked, with the changes applied. The loaded
    /// map and the changed values are moved, not copied.
    pub(crate) fn into_data(self) -> BTreeMap<String, Value> {
        let mut data = match (self.loaded, self.cleared) {
            (Some(l), false) => l.record.data,
            _ => BTreeMap::new(),
        };
        for (k, v) in self.changes {
            match v {
                Some(v) => {
                    data.insert(k, v);
                }
                None => {
                    data.remove(&k);
                }
            }
        }
        data
    }
}

impl Session {
    pub(crate) fn new(
        loader: Arc<dyn Loader>,
        cookies: Vec<String>,
        fail_open: bool,
        reporter: Option<Reporter>,
    ) -> Session {
        Session {
            inner: Arc::new(Inner {
                loader,
                cookies,
                fail_open,
                base: OnceCell::new(),
                state: Mutex::new(State::default()),
                reporter,
            }),
        }
    }

    /// The session handle in `env`'s extensions, if a
    /// [`Sessions`](super::Sessions) middleware put one there.
    ///
    /// ```
    /// use gateway_core::{Body, Environ};
    /// use gateway_middleware::sessions::Session;
    /// let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    /// assert!(Session::of(&env).is_none());
    /// ```
    pub fn of(env: &Environ) -> Option<Session> {
        env.extensions().get::<Session>().cloned()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change under this lock is a single assignment or insert,
        // so a panic elsewhere cannot leave it inconsistent.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads the session once; later calls, from any clone, share it.
    async fn base(&self) -> Result<&Base, SessionError> {
        {
            let mut state = self.state();
            if state.committed && !self.inner.base.initialized() {
                drop(state);
                return Err(self.after_commit("loaded"));
            }
            state.touched = true;
        }
        let base = self
            .inner
            .base
            .get_or_init(|| async {
                let now = SystemTime::now();
                if self.inner.cookies.is_empty() {
                    return Some(Base {
                        loaded: None,
                        saveable: true,
                    });
                }
                let values: Vec<&str> = self.inner.cookies.iter().map(String::as_str).collect();
                match self.inner.loader.load(&values, now).await {
                    Ok(loaded) => Some(Base {
                        loaded,
                        saveable: true,
                    }),
                    Err(e) => {
                        tracing::warn!(error = %e, fail_open = self.inner.fail_open,
                            "session store failed to load a session");
                        if self.inner.fail_open {
                            Some(Base {
                                loaded: None,
                                saveable: false,
                            })
                        } else {
                            self.state().failed = true;
                            None
                        }
                    }
                }
            })
            .await;
        base.as_ref().ok_or(SessionError {
            kind: Kind::Unavailable,
        })
    }

    fn after_commit(&self, what: &str) -> SessionError {
        let message = format!(
            "the session was {what} after Sessions made its cookie decision (inside a \
             streaming body?); the change cannot be saved"
        );
        // The reporter logs it at error itself.
        match &self.inner.reporter {
            Some(reporter) => reporter.report(Rule::ChangedAfterCommit, message),
            None => tracing::error!("{message}"),
        }
        SessionError {
            kind: Kind::AfterCommit,
        }
    }

    /// The current value of `key` as this request sees it: its own changes
    /// over what was loaded.
    fn current(base: &Base, state: &State, key: &str) -> Option<Value> {
        if let Some(change) = state.changes.get(key) {
            return change.clone();
        }
        if state.cleared {
            return None;
        }
        base.loaded.as_ref()?.record.data.get(key).cloned()
    }

    /// The value under `key`, or `None` if there is none.
    ///
    /// # Errors
    ///
    /// The store is unavailable ([`is_unavailable`](SessionError::is_unavailable)),
    /// or the stored value does not deserialize as `T`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use gateway_core::test_client::TestClient;
    /// # use gateway_core::{ApplicationExt, Environ, fn_app, start};
    /// # use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    /// let app = fn_app(|env: Environ| async move {
    ///     let session = Session::of(&env).unwrap();
    ///     let user: Option<String> = session.get("user").await?;
    ///     start(200, [("content-type", "text/plain")]).body(user.unwrap_or_default())
    /// })
    /// .with(Sessions::new(MemoryStore::new()));
    /// assert_eq!(TestClient::new(app).get("/").send().await.text(), "");
    /// # });
    /// ```
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let base = self.base().await?;
        let value = Self::current(base, &self.state(), key);
        value
            .map(|v| {
                serde_json::from_value(v).map_err(|e| SessionError {
                    kind: Kind::Deserialize(key.to_owned(), e),
                })
            })
            .transpose()
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// The store is unavailable, the response was already committed
    /// ([`is_after_commit`](SessionError::is_after_commit)), or `value`
    /// does not serialize to JSON.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use gateway_core::test_client::TestClient;
    /// # use gateway_core::{ApplicationExt, Environ, fn_app, start};
    /// # use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    /// let app = fn_app(|env: Environ| async move {
    ///     Session::of(&env).unwrap().insert("cart", vec![3, 4]).await?;
    ///     start(204, gateway_core::response::NO_HEADERS).empty()
    /// })
    /// .with(Sessions::new(MemoryStore::new()));
    /// let res = TestClient::new(app).get("/").send().await;
    /// assert!(res.header("set-cookie").unwrap().starts_with("session="));
    /// # });
    /// ```
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(|e| SessionError::serialize(key, e))?;
        let base = self.base().await?;
        let mut state = self.changeable("changed")?;
        if Self::current(base, &state, key).as_ref() != Some(&value) {
            state.changes.insert(key.to_owned(), Some(value));
        }
        Ok(())
    }

    /// Removes `key`, returning the value it had.
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert), or the old value does not deserialize
    /// as `T` (the key is removed all the same).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use gateway_core::test_client::TestClient;
    /// # use gateway_core::{ApplicationExt, Environ, fn_app, start};
    /// # use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    /// // A flash message: shown once.
    /// let app = fn_app(|env: Environ| async move {
    ///     let session = Session::of(&env).unwrap();
    ///     let flash: Option<String> = session.remove("flash").await?;
    ///     if env.path_info() == "/save" {
    ///         session.insert("flash", "saved").await?;
    ///     }
    ///     start(200, [("content-type", "text/plain")]).body(flash.unwrap_or_default())
    /// })
    /// .with(Sessions::new(MemoryStore::new()));
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/save").send().await.text(), "");
    /// assert_eq!(client.get("/").send().await.text(), "saved");
    /// assert_eq!(client.get("/").send().await.text(), "");
    /// # });
    /// ```
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let base = self.base().await?;
        let old = {
            let mut state = self.changeable("changed")?;
            let old = Self::current(base, &state, key);
            if old.is_some() {
                state.changes.insert(key.to_owned(), None);
            }
            old
        };
        old.map(|v| {
            serde_json::from_value(v).map_err(|e| SessionError {
                kind: Kind::Deserialize(key.to_owned(), e),
            })
        })
        .transpose()
    }

    /// Removes every key. The session keeps its id and its expiry; keys
    /// another request adds meanwhile stay (see the store's
    /// [merge rule](super::SessionStore#the-contract)).
    ///
    /// # Errors
    ///
    /// The store is unavailable, or the response was already committed.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use gateway_core::test_client::TestClient;
    /// # use gateway_core::{ApplicationExt, Environ, fn_app, start};
    /// # use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    /// let app = fn_app(|env: Environ| async move {
    ///     let session = Session::of(&env).unwrap();
    ///     match env.path_info() {
    ///         "/fill" => session.insert("a", 1).await?,
    ///         _ => session.clear().await?,
    ///     }
    ///     let a: Option<u8> = session.get("a").await?;
    ///     start(200, [("content-type", "text/plain")]).body(format!("{a:?}"))
    /// })
    /// .with(Sessions::new(MemoryStore::new()));
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/fill").send().await.text(), "Some(1)");
    /// assert_eq!(client.get("/clear").send().await.text(), "None");
    /// # });
    /// ```
    pub async fn clear(&self) -> Result<(), SessionError> {
        let base = self.base().await?;
        let mut state = self.changeable("cleared")?;
        let had_data = base
            .loaded
            .as_ref()
            .is_some_and(|l| !l.record.data.is_empty());
        state.changes.clear();
        state.cleared |= had_data;
        Ok(())
    }

    /// Ends the session (logout): the record is deleted and the client
    /// told to drop its cookie. A slower concurrent request of the same
    /// session saves nothing and sets no cookie afterwards (*logout
    /// wins*). Keys inserted after `destroy` start a new session with a
    /// new id.
    ///
    /// # Errors
    ///
    /// The store is unavailable, or the response was already committed.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use gateway_core::test_client::TestClient;
    /// # use gateway_core::{ApplicationExt, Environ, fn_app, start};
    /// # use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    /// let app = fn_app(|env: Environ| async move {
    ///     let session = Session::of(&env).unwrap();
    ///     match env.path_info() {
    ///         "/login" => session.insert("user", "ada").await?,
    ///         _ => session.destroy().await?,
    ///     }
    ///     start(204, gateway_core::response::NO_HEADERS).empty()
    /// })
    /// .with(Sessions::new(MemoryStore::new()));
    /// let client = TestClient::new(app);
    /// client.get("/login").send().await;
    /// let res = client.get("/logout").send().await;
    /// assert!(res.header("set-cookie").unwrap().contains("Max-Age=0"));
    /// assert!(client.cookies().is_empty());
    /// # });
    /// ```
    pub async fn destroy(&self) -> Result<(), SessionError> {
        self.base().await?;
        let mut state = self.changeable("destroyed")?;
        state.destroyed = true;
        state.cleared = true;
        state.cycle = false;
        state.changes.clear();
        Ok(())
    }

    /// Gives the session a new id, keeping its data and its creation time
    /// (so an absolute timeout still counts from the first login): call it
    /// when the privilege level changes, at login, so an id planted before
    /// (session fixation) is worth nothing. The old id stops loading.
    /// With the cookie store it re-seals the cookie.
    ///
    /// # Errors
    ///
    /// The store is unavailable, or the response was already committed.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use gateway_core::test_client::TestClient;
    /// # use gateway_core::{ApplicationExt, Environ, fn_app, start};
    /// # use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    /// let app = fn_app(|env: Environ| async move {
    ///     let session = Session::of(&env).unwrap();
    ///     session.cycle_id().await?;
    ///     session.insert("user", "ada").await?;
    ///     start(204, gateway_core::response::NO_HEADERS).empty()
    /// })
    /// .with(Sessions::new(MemoryStore::new()));
    /// let client = TestClient::new(app);
    /// client.get("/login").send().await;
    /// let first = client.cookies();
    /// client.get("/login").send().await;
    /// assert_ne!(client.cookies(), first); // a new id each time
    /// # });
    /// ```
    pub async fn cycle_id(&self) -> Result<(), SessionError> {
        self.base().await?;
        let mut state = self.changeable("given a new id")?;
        if !state.destroyed {
            state.cycle = true;
        }
        Ok(())
    }

    /// When the stored session expires as loaded, or `None` for a session
    /// this request starts. Loads the session.
    ///
    /// # Errors
    ///
    /// The store is unavailable.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # use gateway_core::test_client::TestClient;
    /// # use gateway_core::{ApplicationExt, Environ, fn_app, start};
    /// # use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    /// let app = fn_app(|env: Environ| async move {
    ///     let session = Session::of(&env).unwrap();
    ///     let expires = session.expires().await?;
    ///     session.insert("seen", true).await?;
    ///     start(200, [("content-type", "text/plain")]).body(expires.is_some().to_string())
    /// })
    /// .with(Sessions::new(MemoryStore::new()));
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/").send().await.text(), "false");
    /// assert_eq!(client.get("/").send().await.text(), "true");
    /// # });
    /// ```
    pub async fn expires(&self) -> Result<Option<SystemTime>, SessionError> {
        let base = self.base().await?;
        Ok(base.loaded.as_ref().map(|l| l.record.expires))
    }

    fn changeable(&self, what: &str) -> Result<MutexGuard<'_, State>, SessionError> {
        let state = self.state();
        if state.committed {
            drop(state);
            return Err(self.after_commit(what));
        }
        Ok(state)
    }

    /// Marks the handle committed and takes what the request did.
    pub(crate) fn take(&self) -> Taken {
        let mut state = self.state();
        state.committed = true;
        if state.failed {
            return Taken::Failed;
        }
        if !state.touched {
            return Taken::Untouched;
        }
        let Some(Some(base)) = self.inner.base.get() else {
            // Touched, but the load has not finished: the application
            // returned while another task still waits on it.
            return Taken::Used(Plan {
                loaded: None,
                saveable: false,
                cleared: false,
                destroyed: false,
                cycle: false,
                changes: BTreeMap::new(),
            });
        };
        Taken::Used(Plan {
            loaded: base.loaded.clone(),
            saveable: base.saveable,
            cleared: state.cleared,
            destroyed: state.destroyed,
            cycle: state.cycle,
            changes: std::mem::take(&mut state.changes),
        })
    }

    /// Whether the client sent a cookie of the session's name.
    pub(crate) fn sent_cookie(&self) -> bool {
        !self.inner.cookies.is_empty()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the cookie or the values.
        let state = self.state();
        f.debug_struct("Session")
            .field("loaded", &self.inner.base.initialized())
            .field("changed_keys", &state.changes.keys().collect::<Vec<_>>())
            .field("cleared", &state.cleared)
            .field("destroyed", &state.destroyed)
            .field("cycle_id", &state.cycle)
            .field("committed", &state.committed)
            .finish_non_exhaustive()
    }
}

/// Why a [`Session`] method failed.
///
/// Its message names the key, never a session value (a failed request's
/// error is logged). Converts into [`gateway_core::Error`] with `?`; when
/// the store was unavailable, [`Sessions`](super::Sessions) answers `503 Service
/// Unavailable` whatever the application returned (fail-closed, the
/// default).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # use gateway_core::test_client::TestClient;
/// # use gateway_core::{ApplicationExt, Environ, fn_app, start};
/// # use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
/// let app = fn_app(|env: Environ| async move {
///     let session = Session::of(&env).unwrap();
///     session.insert("n", "not a number").await?;
///     let err = session.get::<u32>("n").await.unwrap_err();
///     assert!(!err.is_unavailable() && !err.is_after_commit());
///     start(200, [("content-type", "text/plain")]).body(err.to_string())
/// })
/// .with(Sessions::new(MemoryStore::new()));
/// let text = TestClient::new(app).get("/").send().await.text();
/// assert_eq!(text, "session value `n` did not deserialize: expected u32");
/// # });
/// ```
pub struct SessionError {
    kind: Kind,
}

enum Kind {
    Unavailable,
    AfterCommit,
    Serialize(String, serde_json::Error),
    Deserialize(String, serde_json::Error),
    TooLarge(String),
}

impl SessionError {
    pub(crate) fn unavailable() -> SessionError {
        SessionError {
            kind: Kind::Unavailable,
        }
    }

    pub(crate) fn serialize(key: &str, e: serde_json::Error) -> SessionError {
        SessionError {
            kind: Kind::Serialize(key.to_owned(), e),
        }
    }

    pub(crate) fn too_large(message: String) -> SessionError {
        SessionError {
            kind: Kind::TooLarge(message),
        }
    }

    /// The session store could not be reached (the request will be
    /// answered with 503 under fail-closed).
    pub fn is_unavailable(&self) -> bool {
        matches!(self.kind, Kind::Unavailable)
    }

    /// The session was changed after `Sessions` made its cookie decision,
    /// so the change could not be saved.
    pub fn is_after_commit(&self) -> bool {
        matches!(self.kind, Kind::AfterCommit)
    }
}

impl fmt::Debug for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Unavailable => f.write_str("the session store is unavailable"),
            Kind::AfterCommit => f.write_str(
                "the session was changed after the response was committed; the change is lost",
            ),
            Kind::Serialize(key, e) => write!(f, "session value `{key}` did not serialize: {e}"),
            Kind::Deserialize(key, e) => {
                // serde's message quotes the stored value ("invalid type:
                // string \"…\", expected u32"), and this error is logged
                // (the driver logs a failed request's error): keep only
                // what the code expected, never the session's data.
                let message = e.to_string();
                match message.rsplit_once(", expected ") {
                    Some((_, expected)) => write!(
                        f,
                        "session value `{key}` did not deserialize: expected {expected}"
                    ),
                    None => write!(
                        f,
                        "session value `{key}` did not deserialize as the requested type"
                    ),
                }
            }
            Kind::TooLarge(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Serialize(_, e) => Some(e),
            // Its message holds the stored value (see `Display`).
            Kind::Deserialize(..) | Kind::Unavailable | Kind::AfterCommit | Kind::TooLarge(_) => {
                None
            }
        }
    }
}
