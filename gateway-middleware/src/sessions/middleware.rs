//! [`Sessions`]: the middleware, its configuration and the application it
//! produces.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, ready};
use std::time::{Duration, SystemTime};

use gateway_core::{Application, Environ, Error, Middleware, Response, Scheme, start};
use http::header::{CACHE_CONTROL, RETRY_AFTER, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

use super::backend::{Backend, CommitError, Context, CookieAction};
use super::cookie::{Attributes, SameSite, Secure};
use super::handle::{Candidates, LoadFuture, Loader, Plan, Session, SessionError, Taken};
use super::hold::Hold;
use super::store::Record;

/// The session middleware: puts a [`Session`] in every request's
/// extensions and saves what the application changed before the response
/// is committed. See the [module docs](super) for the whole story.
///
/// ```
/// use std::time::Duration;
/// use gateway_middleware::sessions::{MemoryStore, OnStoreError, Sessions};
///
/// let sessions = Sessions::new(MemoryStore::new())
///     .cookie_name("sid")
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .absolute_timeout(Duration::from_secs(12 * 3600))
///     .host_prefix()
///     .on_store_error(OnStoreError::FailClosed);
/// # let _ = sessions;
/// ```
///
/// Clones share the backend, the configuration and the counters:
/// configure first, then clone (a builder method called on a `Sessions`
/// that has been cloned or has wrapped an application panics, rather than
/// configure one copy and not the others).
pub struct Sessions<B> {
    shared: Arc<Shared<B>>,
}

impl<B> Clone for Sessions<B> {
    fn clone(&self) -> Self {
        Sessions {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<B> {
    backend: B,
    config: Config,
    conflicts: AtomicU64,
    store_errors: AtomicU64,
}

#[derive(Clone, Debug)]
struct Config {
    attributes: Attributes,
    idle: Duration,
    absolute: Option<Duration>,
    browser_session: bool,
    refresh_threshold: Option<Duration>,
    on_store_error: OnStoreError,
    retry_after: Duration,
}

/// What [`Sessions`] does when the store fails. Defaults to
/// [`FailClosed`](OnStoreError::FailClosed).
///
/// ```
/// use gateway_middleware::sessions::{MemoryStore, OnStoreError, Sessions};
/// // A site where a lost cart is better than an error page.
/// let sessions = Sessions::new(MemoryStore::new()).on_store_error(OnStoreError::FailOpen);
/// # let _ = sessions;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnStoreError {
    /// A request whose session could not be loaded or saved is answered
    /// with `503 Service Unavailable` and `Retry-After`, replacing the
    /// application's response. Nobody is silently logged out, no change is
    /// silently lost; the cost is an error page during an outage.
    #[default]
    FailClosed,
    /// A session that fails to load acts as a new, empty one that is
    /// never saved (the request is served as anonymous, and its cookie is
    /// left alone); a failed save is logged and the response goes out
    /// without a cookie. The site stays up during an outage; the cost is
    /// that users look logged out and changes made meanwhile are lost.
    FailOpen,
}

/// Counters of one [`Sessions`] (shared by its clones), from
/// [`Sessions::stats`].
///
/// ```
/// use gateway_middleware::sessions::{MemoryStore, Sessions};
/// let stats = Sessions::new(MemoryStore::new()).stats();
/// assert_eq!(stats.conflicts, 0);
/// assert!(stats.old_key_uses.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Changed keys refused by first-writer-wins (each is also logged at
    /// `warn`, by key name).
    pub conflicts: u64,
    /// Store calls that failed.
    pub store_errors: u64,
    /// For the cookie store: `(key id, verifications)` for every
    /// non-primary key — when a retired key's count stops growing, it can
    /// be dropped.
    pub old_key_uses: Vec<(u8, u64)>,
}

impl<B: Backend> Sessions<B> {
    /// Sessions kept in `backend`: a [`SessionStore`](super::SessionStore)
    /// such as [`MemoryStore`](super::MemoryStore), or the cookie store.
    ///
    /// The defaults: cookie `session`, `Path=/`, `HttpOnly`,
    /// `SameSite=Lax`, `Secure` on https requests; idle timeout 14 days,
    /// no absolute timeout, refreshed when the deadline would move by more
    /// than a tenth of the idle timeout; fail-closed with `Retry-After: 5`.
    pub fn new(backend: B) -> Sessions<B> {
        Sessions {
            shared: Arc::new(Shared {
                backend,
                config: Config {
                    attributes: Attributes {
                        name: "session".to_owned(),
                        domain: None,
                        same_site: SameSite::Lax,
                        secure: Secure::FromScheme,
                        host_prefix: false,
                    },
                    idle: Duration::from_secs(14 * 24 * 3600),
                    absolute: None,
                    browser_session: false,
                    refresh_threshold: None,
                    on_store_error: OnStoreError::FailClosed,
                    retry_after: Duration::from_secs(5),
                },
                conflicts: AtomicU64::new(0),
                store_errors: AtomicU64::new(0),
            }),
        }
    }

    fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => f(&mut shared.config),
            None => panic!(
                "configure Sessions before cloning it or wrapping an application: its clones \
                 share one configuration"
            ),
        }
        self
    }

    /// The cookie's name. Defaults to `session`.
    ///
    /// # Panics
    ///
    /// If `name` is empty or not a cookie name token (RFC 6265 §4.1.1),
    /// or if this `Sessions` was already cloned.
    pub fn cookie_name(self, name: &str) -> Self {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        assert!(valid, "invalid session cookie name {name:?}");
        self.config(|c| {
            c.attributes.name = if c.attributes.host_prefix {
                format!("__Host-{name}")
            } else {
                name.to_owned()
            };
        })
    }

    /// The idle timeout: a session not used for this long expires; every
    /// use moves the deadline (a rolling expiry). Defaults to 14 days.
    pub fn idle_timeout(self, idle: Duration) -> Self {
        self.config(|c| c.idle = idle)
    }

    /// The absolute timeout: a session expires this long after it was
    /// created, however busy. `None` (the default) for no limit.
    pub fn absolute_timeout(self, absolute: impl Into<Option<Duration>>) -> Self {
        let absolute = absolute.into();
        self.config(|c| c.absolute = absolute)
    }

    /// Sends the cookie without `Max-Age`/`Expires`, so the browser drops
    /// it when it closes; the server still expires the record by the idle
    /// and absolute timeouts.
    pub fn browser_session(self) -> Self {
        self.config(|c| c.browser_session = true)
    }

    /// How far the deadline must move before a request that changed
    /// nothing saves it anyway (and re-sends the cookie). Defaults to a
    /// tenth of the idle timeout; `Duration::ZERO` refreshes on every
    /// request that reads its session.
    pub fn refresh_threshold(self, threshold: Duration) -> Self {
        self.config(|c| c.refresh_threshold = Some(threshold))
    }

    /// When the cookie carries `Secure`. Defaults to
    /// [`Secure::FromScheme`].
    pub fn secure(self, secure: Secure) -> Self {
        self.config(|c| c.attributes.secure = secure)
    }

    /// The cookie's `SameSite`. Defaults to [`SameSite::Lax`].
    pub fn same_site(self, same_site: SameSite) -> Self {
        self.config(|c| c.attributes.same_site = same_site)
    }

    /// The cookie's `Domain` (sent to subdomains too). `None`, the
    /// default, for host-only. Ignored with [`host_prefix`](Self::host_prefix).
    ///
    /// # Panics
    ///
    /// If `domain` contains a character not allowed in a cookie attribute.
    pub fn domain(self, domain: impl Into<Option<String>>) -> Self {
        let domain = domain.into();
        if let Some(d) = &domain {
            assert!(
                !d.is_empty() && d.bytes().all(|b| b.is_ascii_graphic() && b != b';'),
                "invalid session cookie domain {d:?}"
            );
        }
        self.config(|c| c.attributes.domain = domain)
    }

    /// Names the cookie `__Host-<name>`: browsers then accept it only with
    /// `Secure`, `Path=/` and no `Domain`, so no subdomain can set or
    /// overwrite it. Forces `Secure` and drops any `Domain`.
    pub fn host_prefix(self) -> Self {
        self.config(|c| {
            if !c.attributes.host_prefix {
                c.attributes.host_prefix = true;
                c.attributes.name = format!("__Host-{}", c.attributes.name);
            }
        })
    }

    /// What to do when the store fails. Defaults to
    /// [`OnStoreError::FailClosed`].
    pub fn on_store_error(self, policy: OnStoreError) -> Self {
        self.config(|c| c.on_store_error = policy)
    }

    /// The `Retry-After` of the 503 sent when the store fails (whole
    /// seconds, at least 1). Defaults to 5 seconds.
    pub fn retry_after(self, after: Duration) -> Self {
        self.config(|c| c.retry_after = after)
    }

    /// The cookie's full name (with `__Host-` when set).
    pub fn name(&self) -> &str {
        &self.shared.config.attributes.name
    }

    /// The counters so far.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            conflicts: self.shared.conflicts.load(Ordering::Relaxed),
            store_errors: self.shared.store_errors.load(Ordering::Relaxed),
            old_key_uses: self.shared.backend.old_key_uses(),
        }
    }

    /// Stores a new session holding `data` and returns its cookie as
    /// `(name, value)` — for tests, to start a request already logged in.
    ///
    /// # Errors
    ///
    /// A value does not serialize, or the store failed.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::{ApplicationExt, Environ, fn_app, start};
    /// use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
    ///
    /// let sessions = Sessions::new(MemoryStore::new());
    /// let app = fn_app(|env: Environ| async move {
    ///     let user: Option<String> = Session::of(&env).unwrap().get("user").await?;
    ///     start(200, [("content-type", "text/plain")]).body(user.unwrap_or_default())
    /// })
    /// .with(sessions.clone());
    ///
    /// let (name, value) = sessions.seed([("user", "ada")]).await?;
    /// let client = TestClient::new(app);
    /// client.add_cookie(&name, &value);
    /// assert_eq!(client.get("/").send().await.text(), "ada");
    ///
    /// let record = sessions.peek(&value).await?.expect("stored");
    /// assert_eq!(record.data["user"], "ada");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn seed<K, V, I>(&self, data: I) -> Result<(String, String), SessionError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Serialize,
    {
        let now = SystemTime::now();
        let mut record = Record::new(now, self.deadline(now, now));
        for (k, v) in data {
            let key = k.into();
            let value = serde_json::to_value(v).map_err(|e| SessionError::serialize(&key, e))?;
            record.data.insert(key, value);
        }
        let name = self.name();
        match self.shared.backend.seed(&record, name).await {
            Ok(value) => Ok((name.to_owned(), value)),
            Err(CommitError::Store(e)) => {
                tracing::warn!(error = %e, "session store failed to seed a session");
                Err(SessionError::unavailable())
            }
            Err(CommitError::TooLarge(message)) => Err(SessionError::too_large(message)),
        }
    }

    /// The record a session cookie value names, as a request would load
    /// it — for tests, to check what was saved. `None` for an unknown,
    /// expired or invalid cookie.
    ///
    /// # Errors
    ///
    /// The store failed.
    pub async fn peek(&self, value: &str) -> Result<Option<Record>, SessionError> {
        let values = [value];
        match self
            .shared
            .backend
            .load(&values, self.name(), SystemTime::now())
            .await
        {
            Ok(loaded) => Ok(loaded.map(|l| l.record)),
            Err(e) => {
                tracing::warn!(error = %e, "session store failed to load a session");
                Err(SessionError::unavailable())
            }
        }
    }

    fn deadline(&self, created: SystemTime, now: SystemTime) -> SystemTime {
        self.shared.deadline(created, now)
    }
}

impl<B> Shared<B> {
    /// `min(now + idle, created + absolute)`.
    fn deadline(&self, created: SystemTime, now: SystemTime) -> SystemTime {
        let idle = later(now, self.config.idle);
        match self.config.absolute {
            Some(absolute) => idle.min(later(created, absolute)),
            None => idle,
        }
    }

    fn threshold(&self) -> Duration {
        self.config
            .refresh_threshold
            .unwrap_or(self.config.idle / 10)
    }
}

impl<B: Backend> Loader for Shared<B> {
    fn candidates(&self, headers: &HeaderMap) -> Candidates {
        Candidates::read(headers, &self.config.attributes.name, |value| {
            self.backend.plausible(value)
        })
    }

    fn fail_open(&self) -> bool {
        self.config.on_store_error == OnStoreError::FailOpen
    }

    fn load<'a>(&'a self, values: &'a [&'a str], now: SystemTime) -> LoadFuture<'a> {
        Box::pin(async move {
            let result = self
                .backend
                .load(values, &self.config.attributes.name, now)
                .await;
            if result.is_err() {
                self.store_errors.fetch_add(1, Ordering::Relaxed);
            }
            // Past the absolute timeout as configured now (it may have been
            // shortened since the record was saved): the session is over.
            result.map(|loaded| {
                loaded.filter(|l| {
                    self.config
                        .absolute
                        .is_none_or(|absolute| now < later(l.record.created, absolute))
                })
            })
        })
    }
}

impl<A: Application, B: Backend> Middleware<A> for Sessions<B> {
    type Output = SessionsApp<A, B>;

    fn wrap(&self, app: A) -> SessionsApp<A, B> {
        SessionsApp {
            app,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The application [`Sessions`] produces: the wrapped application, with a
/// [`Session`] in every request's extensions.
///
/// ```
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::sessions::{MemoryStore, Sessions, SessionsApp};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let app: SessionsApp<_, MemoryStore> = app.with(Sessions::new(MemoryStore::new()));
/// # let _ = app;
/// ```
pub struct SessionsApp<A, B> {
    app: A,
    shared: Arc<Shared<B>>,
}

impl<A: Application, B: Backend> Application for SessionsApp<A, B> {
    #[inline]
    fn call(&self, mut env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        let shared = &self.shared;
        // Nothing is read from the head here but the scheme: the cookie is
        // read by the first `Session::of`, so a request that never asks for
        // its session pays one small allocation and no parsing.
        let https = env.scheme() == Scheme::Https;
        let hold = env.extensions().get::<Hold>().cloned();
        let session = Session::new(Arc::clone(shared) as Arc<dyn Loader>);
        env.locals_mut().insert(session.local());
        Finish {
            app: self.app.call(env),
            shared,
            stage: Stage::App {
                session,
                hold,
                https,
            },
        }
    }

    async fn startup(&self) -> Result<(), Error> {
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}

pin_project_lite::pin_project! {
    /// [`SessionsApp`]'s future: the application's, then — only for a
    /// request that used its session — the save, boxed so that the
    /// untouched path (and every move of this future before it is polled)
    /// carries none of the save's state.
    struct Finish<'a, F, B> {
        #[pin]
        app: F,
        shared: &'a Shared<B>,
        stage: Stage<'a>,
    }
}

type Saving<'a> = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + 'a>>;

enum Stage<'a> {
    App {
        session: Session,
        hold: Option<Hold>,
        https: bool,
    },
    Saving(Saving<'a>),
    Done,
}

impl<'a, F, B> Future for Finish<'a, F, B>
where
    F: Future<Output = Result<Response, Error>>,
    B: Backend,
{
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.stage {
                Stage::App { .. } => {
                    let result = ready!(this.app.as_mut().poll(cx));
                    let Stage::App {
                        session,
                        hold,
                        https,
                    } = std::mem::replace(this.stage, Stage::Done)
                    else {
                        unreachable!("matched above")
                    };
                    let shared: &'a Shared<B> = this.shared;
                    let saving: Saving<'a> = match hold {
                        // The test hook: wait, then decide.
                        Some(hold) => Box::pin(async move {
                            hold.wait().await;
                            let taken = session.take();
                            shared.finish(result, taken, &session, https).await
                        }),
                        None => match session.take() {
                            Taken::Untouched => return Poll::Ready(result),
                            Taken::Failed => return Poll::Ready(shared.unavailable()),
                            taken @ Taken::Used(_) => Box::pin(async move {
                                shared.finish(result, taken, &session, https).await
                            }),
                        },
                    };
                    *this.stage = Stage::Saving(saving);
                }
                Stage::Saving(saving) => {
                    let result = ready!(saving.as_mut().poll(cx));
                    *this.stage = Stage::Done;
                    return Poll::Ready(result);
                }
                Stage::Done => panic!("SessionsApp's future polled after it completed"),
            }
        }
    }
}

impl<B: Backend> Shared<B> {
    /// The cookie decision, made before the driver commits.
    async fn finish(
        &self,
        result: Result<Response, Error>,
        taken: Taken,
        session: &Session,
        https: bool,
    ) -> Result<Response, Error> {
        let plan = match taken {
            Taken::Untouched => return result,
            Taken::Failed => return self.unavailable(),
            Taken::Used(plan) => plan,
        };
        // An error the driver answers with a 4xx (a refused login, a form
        // to fill in again) keeps the session's changes as a response
        // would: the cookie goes in the error's headers, which the
        // driver's error page carries. A 5xx saves nothing.
        let mut result = result;
        let (status, headers) = match &mut result {
            Ok(res) => (res.status(), res.headers_mut()),
            Err(err) => (err.status(), err.headers_mut()),
        };
        match self.decide(plan, status, headers, session, https).await {
            Decision::Done => result,
            Decision::Unavailable => self.unavailable(),
            Decision::Failed(e) => Err(e),
        }
    }

    /// Saves what `plan` changed and writes the session's fields into
    /// `headers`, the head of a response (or error) with `status`.
    async fn decide(
        &self,
        plan: Plan,
        status: StatusCode,
        headers: &mut HeaderMap,
        session: &Session,
        https: bool,
    ) -> Decision {
        add_vary_cookie(headers);
        if status.is_server_error() || !plan.saveable {
            return Decision::Done;
        }
        let now = SystemTime::now();
        let (created, old_expires) = match &plan.loaded {
            Some(l) if !plan.destroyed => (l.record.created, Some(l.record.expires)),
            _ => (now, None),
        };
        let deadline = self.deadline(created, now);
        // Due when the deadline moved later by more than the threshold, or
        // earlier at all (the timeouts were shortened since: the record
        // must not outlive them).
        let refresh = old_expires.is_some_and(|old| match deadline.duration_since(old) {
            Ok(moved) => moved > self.threshold(),
            Err(_) => true,
        }) || plan.loaded.as_ref().is_some_and(|l| l.reissue);
        // A change with no refresh due keeps the record's expiry: the
        // cookie the client holds still agrees with the store, so a server
        // store need not send it again.
        let expires = match old_expires {
            Some(old) if !refresh => old,
            _ => deadline,
        };
        let cx = Context {
            cookie_name: &self.config.attributes.name,
            now,
            expires,
            refresh,
            sent_cookie: session.sent_cookie(),
        };
        let outcome = match self.backend.commit(plan, &cx).await {
            Ok(outcome) => outcome,
            Err(CommitError::Store(e)) => {
                self.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "session store failed to save a session");
                return match self.config.on_store_error {
                    OnStoreError::FailClosed => Decision::Unavailable,
                    OnStoreError::FailOpen => Decision::Done,
                };
            }
            Err(CommitError::TooLarge(message)) => {
                tracing::error!("{message}");
                return Decision::Failed(Error::new(SessionError::too_large(message)));
            }
        };
        if !outcome.conflicts.is_empty() {
            self.conflicts
                .fetch_add(outcome.conflicts.len() as u64, Ordering::Relaxed);
            tracing::warn!(keys = ?outcome.conflicts,
                "session keys changed by a concurrent request kept its value (first writer wins)");
        }
        let header = match outcome.cookie {
            CookieAction::Keep => return Decision::Done,
            CookieAction::Set(value) => {
                let expires = (!self.config.browser_session).then_some(expires);
                self.config.attributes.set(value, expires, now, https)
            }
            CookieAction::Remove if cx.sent_cookie => self.config.attributes.remove(https),
            CookieAction::Remove => return Decision::Done,
        };
        let Some(header) = header else {
            return Decision::Failed(Error::new("the session cookie is not a valid header value"));
        };
        headers.append(SET_COOKIE, header);
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        }
        Decision::Done
    }

    fn unavailable(&self) -> Result<Response, Error> {
        let secs = self.config.retry_after.as_secs().max(1);
        start(
            503,
            [
                (RETRY_AFTER, HeaderValue::from(secs)),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                ),
            ],
        )
        .body("Service Unavailable: the session store did not answer; try again shortly.\n")
    }
}

/// `t + d`, or ten years after `t` where that would overflow (a timeout
/// of `Duration::MAX` means "as long as possible", not a panic).
fn later(t: SystemTime, d: Duration) -> SystemTime {
    const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
    t.checked_add(d)
        .unwrap_or_else(|| t.checked_add(TEN_YEARS).unwrap_or(t))
}

/// What [`Shared::decide`] leaves the request with.
enum Decision {
    /// The head carries the session's fields; send it.
    Done,
    /// The store failed under fail-closed: answer 503.
    Unavailable,
    /// The session cannot be sent (too large for a cookie): fail.
    Failed(Error),
}

/// Appends `Cookie` to `Vary` unless it is there already (or `*`).
fn add_vary_cookie(headers: &mut HeaderMap) {
    let present = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.eq_ignore_ascii_case("cookie")
        });
    if !present {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}

impl<B> fmt::Debug for Sessions<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl<A: fmt::Debug, B> fmt::Debug for SessionsApp<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsApp")
            .field("app", &self.app)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_cookie_is_added_once() {
        let mut h = HeaderMap::new();
        add_vary_cookie(&mut h);
        add_vary_cookie(&mut h);
        assert_eq!(h.get_all(VARY).iter().collect::<Vec<_>>(), ["Cookie"]);
        let mut h = HeaderMap::new();
        h.append(VARY, HeaderValue::from_static("Accept-Encoding, cookie"));
        add_vary_cookie(&mut h);
        assert_eq!(h.get_all(VARY).iter().count(), 1);
        let mut h = HeaderMap::new();
        h.append(VARY, HeaderValue::from_static("*"));
        add_vary_cookie(&mut h);
        assert_eq!(h.get_all(VARY).iter().collect::<Vec<_>>(), ["*"]);
    }

    #[test]
    fn deadlines() {
        let sessions = Sessions::new(crate::sessions::MemoryStore::new())
            .idle_timeout(Duration::from_secs(100))
            .absolute_timeout(Duration::from_secs(150));
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let d = |created, now| sessions.shared.deadline(created, now);
        assert_eq!(d(t0, t0), t0 + Duration::from_secs(100));
        let later_now = t0 + Duration::from_secs(100);
        assert_eq!(d(t0, later_now), t0 + Duration::from_secs(150));
        assert_eq!(sessions.shared.threshold(), Duration::from_secs(10));
    }
}
