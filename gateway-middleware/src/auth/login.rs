//! Login through the session: [`login`] and [`logout`], and the
//! [`AuthKey`] that keys the session's copy of the user's auth hash.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{ApplicationExt, Environ, fn_app, start};
//! use gateway_middleware::auth::{AuthKey, login, logout};
//! use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
//!
//! let key = AuthKey::generate();
//! let app = fn_app(move |env: Environ| {
//!     let key = key.clone();
//!     async move {
//!         let session = Session::of(&env).expect("inside Sessions");
//!         match env.path_info() {
//!             // (check the password first)
//!             "/login" => login(&session, &String::from("ada"), &key).await?,
//!             "/logout" => logout(&session).await?,
//!             _ => {}
//!         }
//!         let user: Option<String> = session.get("_auth_user").await?;
//!         start(200, [("content-type", "text/plain")]).body(user.unwrap_or_default())
//!     }
//! })
//! .with(Sessions::new(MemoryStore::new()));
//!
//! let client = TestClient::new(app);
//! assert_eq!(client.get("/login").send().await.text(), "ada");
//! assert_eq!(client.get("/").send().await.text(), "ada");
//! assert_eq!(client.get("/logout").send().await.text(), "");
//! assert!(client.cookies().is_empty());
//! # });
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::identity::User;
use crate::sessions::{Session, SessionError};

/// The session key holding the logged-in user's [id](User::id).
pub const AUTH_USER_KEY: &str = "_auth_user";
/// The session key holding the keyed hash of the user's
/// [auth hash](User::auth_hash).
pub const AUTH_HASH_KEY: &str = "_auth_hash";

/// The least secret [`AuthKey::from_secret`] accepts.
const MIN_SECRET: usize = 32;

/// Derives the key actually used from the configured secret, so that the
/// same secret used elsewhere (a cookie store key) gives unrelated keys.
const LABEL: &[u8] = b"gateway-middleware auth v1: session auth hash key";

/// The server key under which a login stores a keyed hash (HMAC-SHA256)
/// of the user's [auth hash](User::auth_hash) in the session, rather than
/// the credential-derived value itself: a session store (Redis, a cookie)
/// never holds anything a password hash could be recovered from or
/// checked against offline.
///
/// [`login`] and [`SessionAuth`](super::SessionAuth) must be given the same
/// key; every instance of the site must share it (or logins do not carry
/// over). A new key logs every user out at their next request.
/// [`Debug`](fmt::Debug) shows no key bytes.
///
/// ```
/// use gateway_middleware::auth::AuthKey;
///
/// let key = AuthKey::from_secret(b"an example secret of 32 bytes or more")?;
/// assert_eq!(format!("{key:?}"), "AuthKey { .. }");
/// assert!(AuthKey::from_secret(b"too short").is_err());
/// let for_tests = AuthKey::generate();
/// # let _ = for_tests;
/// # Ok::<(), gateway_middleware::auth::AuthKeyError>(())
/// ```
#[derive(Clone)]
pub struct AuthKey {
    /// HMAC-SHA256 keyed with the derived key; cloned per use.
    mac: Hmac<Sha256>,
}

impl AuthKey {
    /// A key from a secret of at least 32 random bytes, the same on every
    /// instance (kept in a secrets manager, say). It is used as key
    /// material as it is, not stretched like a password.
    ///
    /// # Errors
    ///
    /// [`AuthKeyError`] if `secret` is shorter than 32 bytes.
    pub fn from_secret(secret: &[u8]) -> Result<AuthKey, AuthKeyError> {
        if secret.len() < MIN_SECRET {
            return Err(AuthKeyError { len: secret.len() });
        }
        let mut derive = hmac_sha256(secret);
        derive.update(LABEL);
        let key: [u8; 32] = derive.finalize().into_bytes().into();
        Ok(AuthKey {
            mac: hmac_sha256(&key),
        })
    }

    /// A key of 32 random bytes from the operating system's CSPRNG. It
    /// lives as long as the process: after a restart, or on another
    /// instance, every login whose user has an auth hash is refused. For
    /// tests and single-process development.
    ///
    /// # Panics
    ///
    /// If the operating system has no randomness to give; a key never
    /// falls back to a weaker source.
    pub fn generate() -> AuthKey {
        let secret: [u8; 32] = crate::sessions::id::random();
        match AuthKey::from_secret(&secret) {
            Ok(key) => key,
            Err(_) => unreachable!("32 bytes are enough"),
        }
    }

    /// The value kept in the session for `user`: lowercase hex of
    /// HMAC-SHA256 over the id and the auth hash (each length-prefixed),
    /// or `None` when the user has no auth hash.
    pub(crate) fn session_hash<U: User + ?Sized>(&self, user: &U) -> Option<String> {
        let hex = self.session_hash_hex(user)?;
        Some(hex.iter().map(|&b| char::from(b)).collect())
    }

    /// [`session_hash`](Self::session_hash) on the stack: what each
    /// logged-in request compares, with no allocation.
    fn session_hash_hex<U: User + ?Sized>(&self, user: &U) -> Option<[u8; 64]> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let auth_hash = user.auth_hash()?;
        let id = user.id().as_bytes();
        let mut mac = self.mac.clone();
        mac.update(&(id.len() as u64).to_be_bytes());
        mac.update(id);
        mac.update(&(auth_hash.len() as u64).to_be_bytes());
        mac.update(auth_hash);
        let mut hex = [0u8; 64];
        for (pair, b) in hex.chunks_exact_mut(2).zip(mac.finalize().into_bytes()) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xF)];
        }
        Some(hex)
    }

    /// Whether `stored` (a session's [`AUTH_HASH_KEY`] value) is `user`'s
    /// current session hash, compared in constant time. A user without an
    /// auth hash matches anything (the check is off for that user).
    pub(crate) fn matches<U: User + ?Sized>(&self, user: &U, stored: Option<&str>) -> bool {
        match self.session_hash_hex(user) {
            None => true,
            Some(expected) => stored.is_some_and(|s| bool::from(s.as_bytes().ct_eq(&expected))),
        }
    }
}

/// HMAC-SHA256 keyed with `key`. HMAC takes keys of any length.
fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthKey").finish_non_exhaustive()
    }
}

/// A secret given to [`AuthKey::from_secret`] was shorter than 32 bytes.
///
/// ```
/// use gateway_middleware::auth::AuthKey;
///
/// let e = AuthKey::from_secret(b"hunter2").unwrap_err();
/// assert_eq!(e.to_string(), "auth key secret is 7 bytes; at least 32 random bytes are needed");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthKeyError {
    len: usize,
}

impl fmt::Display for AuthKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "auth key secret is {} bytes; at least {MIN_SECRET} random bytes are needed",
            self.len
        )
    }
}

impl std::error::Error for AuthKeyError {}

/// Logs `user` in on `session`, once the application has checked their
/// credentials (Django's `login`):
///
/// 1. if the session holds another user's login, or this user's with a
///    different auth hash (the password changed since), the session is
///    [cleared](Session::clear) first — nothing of the previous user's
///    data carries over; an anonymous session keeps its data (a cart);
/// 2. the session gets a new id, [always](Session::cycle_id), even when
///    the same user logs in again: an id planted before the login
///    (session fixation) is worth nothing, and the old id stops loading;
/// 3. the user's id goes under [`AUTH_USER_KEY`] and, when the user has
///    an [auth hash](User::auth_hash), its keyed hash under
///    [`AUTH_HASH_KEY`] (see [`AuthKey`]);
/// 4. the CSRF secret (session key `"_csrf"`) is removed, so the next form gets a
///    token made after the login.
///
/// The response of this request carries the new cookie.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, Environ, fn_app, start};
/// use gateway_middleware::auth::{AuthKey, login, logout};
/// use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
///
/// let key = AuthKey::generate();
/// let app = fn_app(move |env: Environ| {
///     let key = key.clone();
///     async move {
///         let session = Session::of(&env).expect("inside Sessions");
///         match env.path_info() {
///             // (check the password first)
///             "/login" => login(&session, &String::from("ada"), &key).await?,
///             "/logout" => logout(&session).await?,
///             _ => {}
///         }
///         let user: Option<String> = session.get("_auth_user").await?;
///         start(200, [("content-type", "text/plain")]).body(user.unwrap_or_default())
///     }
/// })
/// .with(Sessions::new(MemoryStore::new()));
///
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/login").send().await.text(), "ada");
/// assert_eq!(client.get("/").send().await.text(), "ada");
/// assert_eq!(client.get("/logout").send().await.text(), "");
/// assert!(client.cookies().is_empty());
/// # });
/// ```
///
/// # Errors
///
/// The session store is unavailable, or the response was already
/// committed.
pub async fn login<U: User + ?Sized>(
    session: &Session,
    user: &U,
    key: &AuthKey,
) -> Result<(), SessionError> {
    // A value of the wrong type under a reserved key counts as another
    // user's login.
    let stored_user = session.get::<Value>(AUTH_USER_KEY).await?;
    if let Some(stored_user) = stored_user {
        let same_user = stored_user.as_str() == Some(user.id());
        let stored_hash = session.get::<Value>(AUTH_HASH_KEY).await?;
        let same_hash = key.matches(user, stored_hash.as_ref().and_then(Value::as_str));
        if !(same_user && same_hash) {
            session.clear().await?;
        }
    }
    session.cycle_id().await?;
    session.insert(AUTH_USER_KEY, user.id()).await?;
    match key.session_hash(user) {
        Some(hash) => session.insert(AUTH_HASH_KEY, hash).await?,
        None => {
            session.remove::<Value>(AUTH_HASH_KEY).await?;
        }
    }
    session.remove::<Value>(super::Csrf::SESSION_KEY).await?;
    Ok(())
}

/// Logs out: [destroys](Session::destroy) the whole session (record and
/// data, Django's `flush`). [`Sessions`](crate::sessions::Sessions) sends
/// the removal cookie with the `Path`, `Domain`, `Secure` and `SameSite`
/// the cookie was set with, whatever the path of the logout request.
///
/// # Errors
///
/// The session store is unavailable, or the response was already
/// committed.
pub async fn logout(session: &Session) -> Result<(), SessionError> {
    session.destroy().await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Account(&'static str, &'static [u8]);
    impl User for Account {
        fn id(&self) -> &str {
            self.0
        }
        fn auth_hash(&self) -> Option<&[u8]> {
            Some(self.1)
        }
    }

    #[test]
    fn session_hash_is_keyed_and_bound_to_the_user() {
        let key = AuthKey::from_secret(&[7; 32]).unwrap();
        let other = AuthKey::from_secret(&[8; 32]).unwrap();
        let h = key.session_hash(&Account("ada", b"pw1")).unwrap();
        assert_eq!(h.len(), 64);
        assert_ne!(
            Some(&h),
            other.session_hash(&Account("ada", b"pw1")).as_ref()
        );
        assert_ne!(Some(&h), key.session_hash(&Account("ada", b"pw2")).as_ref());
        // The length prefixes keep ("ad", "apw1") apart from ("ada", "pw1").
        assert_ne!(Some(&h), key.session_hash(&Account("ad", b"apw1")).as_ref());
        assert!(key.matches(&Account("ada", b"pw1"), Some(&h)));
        assert!(!key.matches(&Account("ada", b"pw2"), Some(&h)));
        assert!(!key.matches(&Account("ada", b"pw1"), None));
        assert!(!key.matches(&Account("ada", b"pw1"), Some(&h[..63])));
        assert!(key.matches(&String::from("ada"), None));
    }
}
