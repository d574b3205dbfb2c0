//! [`Session`]: the handle an application finds in the environ's locals
//! ([`Session::of`], [`Session::of_request`]), and [`SessionError`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use gateway_core::Environ;
use gateway_core::environ::GatewayContext;
use gateway_core::lint::{Reporter, Rule};
use http::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::cookie;

use super::id::SessionId;
use super::store::{Record, StoreError};

/// The session of the current request. [`Sessions`](super::Sessions) puts
/// one in the environ's [locals](gateway_core::environ::Locals); find it
/// with [`Session::of`].
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
/// **Lazy.** Creating the handle costs nothing: the session cookie is
/// read from the environ by [`Session::of`], and the store (or the cookie
/// store's decryption) is reached on the first call that needs the
/// session, once; every clone of the handle — in any task of the request —
/// shares what was loaded. A request that never calls a method costs no
/// store round trip, gets no `Vary: Cookie` and no cookie.
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
    /// The session cookie's candidate values in `headers`.
    fn candidates(&self, headers: &HeaderMap) -> Candidates;

    /// Whether a failed load serves the request as anonymous.
    fn fail_open(&self) -> bool;

    fn load<'a>(&'a self, values: &'a [&'a str], now: SystemTime) -> LoadFuture<'a>;
}

/// At most this many plausible cookies of the session's name are
/// considered.
pub(crate) const MAX_CANDIDATES: usize = 4;

/// The session cookie's plausible values the client sent, first first,
/// copied out of the request head into one buffer (one allocation, none
/// when there is no such cookie).
#[derive(Default)]
pub(crate) struct Candidates {
    text: String,
    ends: [usize; MAX_CANDIDATES],
    len: usize,
}

impl Candidates {
    /// The values of the cookie `name` in `headers` that `plausible`
    /// accepts, at most [`MAX_CANDIDATES`].
    pub(crate) fn read(
        headers: &HeaderMap,
        name: &str,
        plausible: impl Fn(&str) -> bool,
    ) -> Candidates {
        let mut candidates = Candidates::default();
        for value in cookie::values(headers, name, plausible).take(MAX_CANDIDATES) {
            candidates.text.push_str(value);
            candidates.ends[candidates.len] = candidates.text.len();
            candidates.len += 1;
        }
        candidates
    }

    /// The values, in order.
    pub(crate) fn values(&self) -> ([&str; MAX_CANDIDATES], usize) {
        let mut values = [""; MAX_CANDIDATES];
        let mut start = 0;
        for (value, &end) in values.iter_mut().zip(&self.ends[..self.len]) {
            *value = &self.text[start..end];
            start = end;
        }
        (values, self.len)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
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

/// What a request's handles share; the value [`Sessions`](super::Sessions)
/// puts in the environ's locals. Small: a request that never asks for its
/// session allocates only this.
pub(crate) struct Inner {
    loader: Arc<dyn Loader>,
    /// [`TOUCHED`] and [`COMMITTED`]: the middleware's check of an untouched
    /// session is one atomic operation, no lock.
    flags: AtomicU8,
    /// Made by the first [`Session::of`].
    used: OnceLock<Box<Used>>,
}

impl Inner {
    /// The state of a request that asked for its session, with the cookie
    /// values read from its head.
    fn used(&self, cookies: Candidates, extensions: &http::Extensions) -> Box<Used> {
        Box::new(Used {
            cookies,
            fail_open: self.loader.fail_open(),
            reporter: extensions.get::<Reporter>().cloned(),
            base: OnceCell::new(),
            state: Mutex::new(State::default()),
        })
    }
}

/// The session of a request that asked for it.
struct Used {
    /// The values of the session cookie the client sent.
    cookies: Candidates,
    fail_open: bool,
    reporter: Option<Reporter>,
    /// `Some(loaded)` once loaded (`loaded` is `None` for a new session);
    /// `None` once loading failed with fail-closed.
    base: OnceCell<Option<Base>>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct Base {
    loaded: Option<Loaded>,
    /// False after a failed load under fail-open: never saved.
    saveable: bool,
}

/// A method needed the session.
const TOUCHED: u8 = 1;
/// The middleware made its cookie decision.
const COMMITTED: u8 = 2;

#[derive(Default)]
struct State {
    failed: bool,
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
    pub(crate) fn new(loader: Arc<dyn Loader>) -> Session {
        Session {
            inner: Arc::new(Inner {
                loader,
                flags: AtomicU8::new(0),
                used: OnceLock::new(),
            }),
        }
    }

    /// The session handle in `env`, if a [`Sessions`](super::Sessions)
    /// middleware put one there. The first call reads the session cookie
    /// from `env`'s headers (and finds [`Lint`](gateway_core::lint::Lint)'s
    /// reporter in its extensions).
    ///
    /// ```
    /// use gateway_core::{Body, Environ};
    /// use gateway_middleware::sessions::Session;
    /// let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    /// assert!(Session::of(&env).is_none());
    /// ```
    pub fn of(env: &Environ) -> Option<Session> {
        let inner = env.locals().get_arc::<Inner>()?;
        Some(Session::with_head(inner, env.headers(), env.extensions()))
    }

    /// The session handle of a request a tower service (an axum `Router`)
    /// receives through the tower bridge behind
    /// [`Sessions`](super::Sessions): the bridge carries the environ's
    /// locals in the request's
    /// [`GatewayContext`](gateway_core::environ::GatewayContext).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::{ApplicationExt, Body, Response};
    /// use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    ///
    /// let service = tower::service_fn(|req: http::Request<Body>| async move {
    ///     let session = Session::of_request(&req).expect("behind Sessions");
    ///     let visits: u32 = session.get("visits").await?.unwrap_or(0) + 1;
    ///     session.insert("visits", visits).await?;
    ///     Ok::<_, gateway_middleware::sessions::SessionError>(Response::new(Body::from(visits.to_string())))
    /// });
    /// let app = gateway_core::tower::from_service(service).with(Sessions::new(MemoryStore::new()));
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/").send().await.text(), "1");
    /// assert_eq!(client.get("/").send().await.text(), "2");
    /// # });
    /// ```
    pub fn of_request<T>(req: &http::Request<T>) -> Option<Session> {
        let context = req.extensions().get::<GatewayContext>()?;
        let inner = context.locals().get_arc::<Inner>()?;
        Some(Session::with_head(inner, req.headers(), req.extensions()))
    }

    fn with_head(inner: Arc<Inner>, headers: &HeaderMap, extensions: &http::Extensions) -> Session {
        inner
            .used
            .get_or_init(|| inner.used(inner.loader.candidates(headers), extensions));
        Session { inner }
    }

    /// What this request's handles share once one was asked for. Every
    /// handle an application holds came from [`Session::of`], which made
    /// it; the middleware's own handle reads it only once touched.
    fn used(&self) -> &Used {
        match self.inner.used.get() {
            Some(used) => used,
            None => unreachable!(
                "a Session reached the application only through Session::of or Session::of_request"
            ),
        }
    }

    /// The value the middleware puts in the environ's locals.
    pub(crate) fn local(&self) -> Arc<Inner> {
        Arc::clone(&self.inner)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change under this lock is a single assignment or insert,
        // so a panic elsewhere cannot leave it inconsistent.
        self.used()
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads the session once; later calls, from any clone, share it.
    async fn base(&self) -> Result<&Base, SessionError> {
        let flags = self.inner.flags.fetch_or(TOUCHED, Ordering::AcqRel);
        let used = self.used();
        if flags & COMMITTED != 0 && !used.base.initialized() {
            return Err(self.after_commit("loaded"));
        }
        let base = used
            .base
            .get_or_init(|| async {
                let now = SystemTime::now();
                if used.cookies.is_empty() {
                    return Some(Base {
                        loaded: None,
                        saveable: true,
                    });
                }
                let (values, n) = used.cookies.values();
                match self.inner.loader.load(&values[..n], now).await {
                    Ok(loaded) => Some(Base {
                        loaded,
                        saveable: true,
                    }),
                    Err(e) => {
                        tracing::warn!(error = %e, fail_open = used.fail_open,
                            "session store failed to load a session");
                        if used.fail_open {
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
        match &self.used().reporter {
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
        // Read under the lock: `take` sets the flag before it locks, so a
        // change either lands before `take` reads the changes or fails.
        if self.committed() {
            drop(state);
            return Err(self.after_commit(what));
        }
        Ok(state)
    }

    /// Marks the handle committed and takes what the request did.
    pub(crate) fn take(&self) -> Taken {
        let flags = self.inner.flags.fetch_or(COMMITTED, Ordering::AcqRel);
        if flags & TOUCHED == 0 {
            return Taken::Untouched;
        }
        let mut state = self.state();
        if state.failed {
            return Taken::Failed;
        }
        let Some(Some(base)) = self.used().base.get() else {
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

    /// Whether the request in `env` carries a plausible session cookie;
    /// `None` outside [`Sessions`](super::Sessions). Reads the head without
    /// making a handle (no allocation when there is no such cookie), for a
    /// middleware that needs the session only when the client has one.
    #[cfg(feature = "auth")]
    pub(crate) fn cookie_in(env: &Environ) -> Option<bool> {
        let inner = env.locals().get::<Inner>()?;
        if let Some(used) = inner.used.get() {
            return Some(!used.cookies.is_empty());
        }
        let cookies = inner.loader.candidates(env.headers());
        if cookies.is_empty() {
            return Some(false);
        }
        // The caller is about to ask for the session: keep what was read
        // for its `Session::of`.
        inner
            .used
            .get_or_init(|| inner.used(cookies, env.extensions()));
        Some(true)
    }

    /// Whether the client sent a cookie of the session's name.
    pub(crate) fn sent_cookie(&self) -> bool {
        self.inner.used.get().is_some_and(|u| !u.cookies.is_empty())
    }

    fn committed(&self) -> bool {
        self.inner.flags.load(Ordering::Acquire) & COMMITTED != 0
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the cookie or the values.
        let Some(used) = self.inner.used.get() else {
            return f
                .debug_struct("Session")
                .field("committed", &self.committed())
                .finish_non_exhaustive();
        };
        let state = self.state();
        f.debug_struct("Session")
            .field("loaded", &used.base.initialized())
            .field("changed_keys", &state.changes.keys().collect::<Vec<_>>())
            .field("cleared", &state.cleared)
            .field("destroyed", &state.destroyed)
            .field("cycle_id", &state.cycle)
            .field("committed", &self.committed())
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
