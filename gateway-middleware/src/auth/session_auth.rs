//! [`SessionAuth`]: turns a login kept in the session into the request's
//! [`Identity`]; [`UserLoader`]: how it finds the user.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{ApplicationExt, Environ, Error, fn_app, start};
//! use gateway_middleware::auth::{AuthKey, Identity, SessionAuth, login};
//! use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
//!
//! let key = AuthKey::generate();
//! let login_key = key.clone();
//! let app = fn_app(move |env: Environ| {
//!     let key = login_key.clone();
//!     async move {
//!         if env.path_info() == "/login" {
//!             // (check the password first)
//!             login(&Session::of(&env).unwrap(), &String::from("ada"), &key).await?;
//!         }
//!         let who = Identity::of(&env).map_or("anonymous", Identity::id);
//!         start(200, [("content-type", "text/plain")]).body(who.to_owned())
//!     }
//! })
//! // The loader finds the user by id (a database query, typically).
//! .with(SessionAuth::new(|id: String| async move { Ok::<_, Error>(Some(id)) }, key))
//! .with(Sessions::new(MemoryStore::new()));
//!
//! let client = TestClient::new(app);
//! assert_eq!(client.get("/").send().await.text(), "anonymous");
//! client.get("/login").send().await;
//! assert_eq!(client.get("/").send().await.text(), "ada");
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use gateway_core::{Application, Environ, Error, Middleware, Response};
use serde_json::Value;

use super::identity::{Identity, User, Via};
use super::login::{AUTH_HASH_KEY, AUTH_USER_KEY, AuthKey};
use crate::sessions::Session;

/// Loads a user by the id a [`login`](super::login) stored, for
/// [`SessionAuth`]. Any `Fn(String) -> impl Future<Output = Result<Option<U>,
/// Error>>` closure is one.
///
/// `Ok(None)` means there is no such user (any more): the request is
/// anonymous. `Err` — the database is down — fails the request with that
/// error (give it a status, e.g. 503, with
/// [`Error::with_status`]): an outage does not look like a logout.
///
/// ```
/// use gateway_core::Error;
/// use gateway_middleware::auth::{User, UserLoader};
///
/// struct Account { name: String, password_hash: String }
/// impl User for Account {
///     fn id(&self) -> &str { &self.name }
///     fn auth_hash(&self) -> Option<&[u8]> { Some(self.password_hash.as_bytes()) }
/// }
///
/// struct Accounts;
/// impl UserLoader for Accounts {
///     type User = Account;
///     async fn load(&self, id: &str) -> Result<Option<Account>, Error> {
///         // A database query, typically.
///         Ok((id == "ada").then(|| Account { name: id.into(), password_hash: "$argon2id$…".into() }))
///     }
/// }
/// # let _ = gateway_middleware::auth::SessionAuth::new(Accounts, gateway_middleware::auth::AuthKey::generate());
/// ```
pub trait UserLoader: Send + Sync + 'static {
    /// The application's user type.
    type User: User;

    /// The user whose id is `id`, if there is one.
    fn load(&self, id: &str) -> impl Future<Output = Result<Option<Self::User>, Error>> + Send;
}

impl<F, Fut, U> UserLoader for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<U>, Error>> + Send,
    U: User,
{
    type User = U;

    fn load(&self, id: &str) -> impl Future<Output = Result<Option<U>, Error>> + Send {
        self(id.to_owned())
    }
}

/// The middleware that turns a [`login`](super::login) kept in the
/// session into the request's [`Identity`] (with [`Via::Session`]). Goes
/// inside [`Sessions`](crate::sessions::Sessions).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, Environ, Error, fn_app, start};
/// use gateway_middleware::auth::{AuthKey, Identity, SessionAuth, login};
/// use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
///
/// let key = AuthKey::generate();
/// let login_key = key.clone();
/// let app = fn_app(move |env: Environ| {
///     let key = login_key.clone();
///     async move {
///         if env.path_info() == "/login" {
///             // (check the password first)
///             login(&Session::of(&env).unwrap(), &String::from("ada"), &key).await?;
///         }
///         let who = Identity::of(&env).map_or("anonymous", Identity::id);
///         start(200, [("content-type", "text/plain")]).body(who.to_owned())
///     }
/// })
/// // The loader finds the user by id (a database query, typically).
/// .with(SessionAuth::new(|id: String| async move { Ok::<_, Error>(Some(id)) }, key))
/// .with(Sessions::new(MemoryStore::new()));
///
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/").send().await.text(), "anonymous");
/// client.get("/login").send().await;
/// assert_eq!(client.get("/").send().await.text(), "ada");
/// # });
/// ```
///
/// Per request:
///
/// - without a session cookie, it does nothing at all: anonymous,
///   cookieless traffic costs no store round trip and its response is
///   left as it is;
/// - with one, it reads the session's [`AUTH_USER_KEY`]; no login there
///   means anonymous;
/// - it [loads](UserLoader::load) that user; a user that no longer exists
///   means anonymous;
/// - when the user has an [auth hash](User::auth_hash), the session's
///   keyed copy ([`AUTH_HASH_KEY`]) must match the current one (compared
///   in constant time); when it does not — the password changed since
///   this session logged in, or the session has none — the session is
///   [destroyed](crate::sessions::Session::destroy) (its cookie removed)
///   and the request is anonymous. So a password change logs out every
///   other session of the user; the session that made the change logs in
///   again with [`login`](super::login).
///
/// A request whose session store is unavailable fails as
/// [`Sessions`](crate::sessions::Sessions) decides (503 by default).
pub struct SessionAuth<L> {
    loader: Arc<L>,
    key: AuthKey,
}

impl<L: UserLoader> SessionAuth<L> {
    /// Loads logged-in users with `loader`, checking auth hashes under
    /// `key` (the key [`login`](super::login) is given).
    pub fn new(loader: L, key: AuthKey) -> SessionAuth<L> {
        SessionAuth {
            loader: Arc::new(loader),
            key,
        }
    }
}

impl<L> Clone for SessionAuth<L> {
    fn clone(&self) -> Self {
        SessionAuth {
            loader: Arc::clone(&self.loader),
            key: self.key.clone(),
        }
    }
}

impl<L> fmt::Debug for SessionAuth<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionAuth").finish_non_exhaustive()
    }
}

impl<A: Application, L: UserLoader> Middleware<A> for SessionAuth<L> {
    type Output = SessionAuthApp<A, L>;

    fn wrap(&self, app: A) -> SessionAuthApp<A, L> {
        SessionAuthApp {
            app,
            auth: self.clone(),
        }
    }
}

/// The application [`SessionAuth`] produces: the wrapped application, with
/// the logged-in user's [`Identity`] in the environ.
///
/// ```
/// use gateway_core::{ApplicationExt, Error, fn_app, start};
/// use gateway_middleware::auth::{AuthKey, SessionAuth, SessionAuthApp};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let loader = |id: String| async move { Ok::<_, Error>(Some(id)) };
/// let app: SessionAuthApp<_, _> = app.with(SessionAuth::new(loader, AuthKey::generate()));
/// # let _ = app;
/// ```
pub struct SessionAuthApp<A, L> {
    app: A,
    auth: SessionAuth<L>,
}

impl<A: Application, L: UserLoader> Application for SessionAuthApp<A, L> {
    async fn call(&self, mut env: Environ) -> Result<Response, Error> {
        // Cookieless traffic: the head is scanned once, no handle is made
        // and the session is never loaded.
        match Session::cookie_in(&env) {
            None => {
                return Err(Error::new(
                    "SessionAuth found no session: wrap it in Sessions \
                     (`.with(SessionAuth…).with(Sessions…)`)",
                ));
            }
            Some(false) => {}
            Some(true) => {
                if let Some(session) = Session::of(&env) {
                    if let Some(user) = self.auth.user(&session).await? {
                        Identity::new(user, Via::Session).insert(&mut env);
                    }
                }
            }
        }
        self.app.call(env).await
    }

    async fn startup(&self) -> Result<(), Error> {
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}

impl<L: UserLoader> SessionAuth<L> {
    /// The user logged in on `session`, if the login is still valid.
    async fn user(&self, session: &Session) -> Result<Option<L::User>, Error> {
        // Anything but a string under the reserved key is no login.
        let id = match session.get::<Value>(AUTH_USER_KEY).await? {
            Some(Value::String(id)) => id,
            _ => return Ok(None),
        };
        let Some(user) = self.loader.load(&id).await? else {
            return Ok(None);
        };
        let stored = session.get::<Value>(AUTH_HASH_KEY).await?;
        if !self
            .key
            .matches(&user, stored.as_ref().and_then(Value::as_str))
        {
            tracing::info!(
                user = %id,
                "the session's login no longer matches the user's auth hash \
                 (password changed?): session destroyed"
            );
            session.destroy().await?;
            return Ok(None);
        }
        Ok(Some(user))
    }
}

impl<A: fmt::Debug, L> fmt::Debug for SessionAuthApp<A, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionAuthApp")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}
