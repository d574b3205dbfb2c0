//! [`Identity`]: who the request is from, once a middleware verified it;
//! [`User`]: what the auth middleware need of the application's user type.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use gateway_core::Environ;

/// What the auth middleware need of the application's user type.
///
/// ```
/// use gateway_middleware::auth::User;
///
/// struct Account {
///     name: String,
///     password_hash: String,
/// }
///
/// impl User for Account {
///     fn id(&self) -> &str {
///         &self.name
///     }
///     // Changing the password changes this, which logs out every other
///     // session of the account.
///     fn auth_hash(&self) -> Option<&[u8]> {
///         Some(self.password_hash.as_bytes())
///     }
/// }
/// ```
pub trait User: Send + Sync + 'static {
    /// The user's stable id (a database key or a user name): what a login
    /// keeps in the session and what the access log shows. It must not be
    /// reused for another account.
    fn id(&self) -> &str;

    /// A value derived from the user's credentials (such as the password
    /// hash). A login keeps a keyed hash of it in the session; a later
    /// request whose user's value differs is logged out — so changing the
    /// password ends every other session. `None`, the default, turns the
    /// check off.
    fn auth_hash(&self) -> Option<&[u8]> {
        None
    }
}

/// A user id alone is a [`User`] (for static credentials and tests).
impl User for String {
    fn id(&self) -> &str {
        self
    }
}

/// How an [`Identity`] was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// `Authorization: Basic` (RFC 7617).
    Basic,
    /// `Authorization: Bearer` (RFC 6750).
    Bearer,
    /// A login kept in the session.
    Session,
    /// A middleware of the application's own, by name.
    Other(&'static str),
}

/// The verified identity of the request's user, in the environ's
/// [locals](gateway_core::environ::Locals): put there by an authenticating
/// middleware only after it verified the credentials, so whatever reads it
/// (the application, an access log) can trust it. Nothing here is parsed
/// from the request. (Not to be confused with
/// [`gateway_core::middleware::Identity`], the middleware that does
/// nothing.)
///
/// ```
/// use gateway_core::{Body, Environ};
/// use gateway_middleware::auth::{Identity, Via};
///
/// let mut env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
/// assert!(Identity::of(&env).is_none());
/// Identity::new(String::from("ada"), Via::Basic).insert(&mut env);
/// let identity = Identity::of(&env).unwrap();
/// assert_eq!((identity.id(), identity.via()), ("ada", Via::Basic));
/// assert_eq!(identity.user::<String>().map(String::as_str), Some("ada"));
/// ```
pub struct Identity {
    user: Arc<dyn ErasedUser>,
    via: Via,
}

/// [`User`] and [`Any`] in one object, so that an [`Identity`] names its
/// user's id without knowing its type.
trait ErasedUser: Send + Sync + 'static {
    fn id(&self) -> &str;
    fn as_any(&self) -> &dyn Any;
}

impl<U: User> ErasedUser for U {
    fn id(&self) -> &str {
        User::id(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Identity {
    /// The identity of `user`, verified `via` some means.
    pub fn new<U: User>(user: U, via: Via) -> Identity {
        Identity::from_arc(Arc::new(user), via)
    }

    /// [`new`](Self::new) for a shared user value: one user kept for many
    /// requests (static credentials) is not copied per request.
    pub fn from_arc<U: User>(user: Arc<U>, via: Via) -> Identity {
        Identity { user, via }
    }

    /// The identity in `env`, if an authenticating middleware put one
    /// there.
    pub fn of(env: &Environ) -> Option<&Identity> {
        env.locals().get::<Identity>()
    }

    /// Puts this identity in `env`'s locals, replacing any other. An
    /// access log outside (feature `access-log`) names this user: only a
    /// verified identity, put here, ever reaches the log's user field.
    pub fn insert(self, env: &mut Environ) {
        #[cfg(feature = "access-log")]
        if let Some(notes) = crate::notes::Notes::of(env) {
            notes.set_user(self.id());
        }
        env.locals_mut().insert(Arc::new(self));
    }

    /// The user's id ([`User::id`]).
    pub fn id(&self) -> &str {
        self.user.id()
    }

    /// How the identity was verified.
    pub fn via(&self) -> Via {
        self.via
    }

    /// The user, if it is a `U`.
    pub fn user<U: User>(&self) -> Option<&U> {
        self.user.as_any().downcast_ref()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id())
            .field("via", &self.via)
            .finish()
    }
}
