//! Authentication and CSRF protection (feature `auth`): who a request is
//! from ([`Identity`], [`User`]), verified by the auth middleware, and
//! protection of unsafe methods against cross-site requests.
//!
//! ```
//! use gateway_core::{Body, Environ};
//! use gateway_middleware::auth::{Identity, Via};
//!
//! let mut env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! Identity::new(String::from("ada"), Via::Session).insert(&mut env);
//! assert_eq!(Identity::of(&env).map(Identity::id), Some("ada"));
//! ```
//!
//! # Login through the session
//!
//! [`login`] logs a user in on the request's [`Session`](crate::sessions::Session)
//! once the application has checked the credentials: it clears another
//! user's data, always gives the session a new id (fixation defence),
//! stores the user's id and a keyed hash ([`AuthKey`]) of the user's
//! [auth hash](User::auth_hash), and drops the CSRF secret so that a new
//! one is made. [`logout`] destroys the session. [`SessionAuth`] turns the
//! stored login into the request's [`Identity`] on later requests —
//! touching the session only when the client sent a session cookie — and
//! ends the session when the user's auth hash changed (a password change
//! logs out every other session). [`RequireLogin`] sends anonymous
//! browsers to the login page with a `next` parameter and answers other
//! clients 401; [`safe_next_path`] accepts `next` only as a same-site
//! relative path, and [`redirect_after_login`] re-validates it.
//!
//! # CSRF
//!
//! [`Csrf`] refuses cross-site requests with unsafe methods: by
//! `Sec-Fetch-Site` and `Origin` as Go 1.25's `CrossOriginProtection`
//! does, with [trusted origins](Csrf::trusted_origins), and — for clients
//! that send neither header — by a per-session token masked afresh for
//! every page ([`CsrfToken`]), rotated at login (the secret under
//! [`Csrf::SESSION_KEY`] is removed). Refusals are a bare `403`.
//!
//! # Basic and Bearer
//!
//! [`BasicAuth`] (RFC 7617) and [`BearerAuth`] (RFC 6750) guard an
//! application with the `Authorization` header: the credentials go to an
//! async verifier ([`BasicVerifier`], [`BearerVerifier`]; closures are
//! verifiers), whose user becomes the request's [`Identity`]; anything
//! else is refused with the scheme's `WWW-Authenticate` challenge (401,
//! or 400/403 as the RFCs say), never a 500, and never echoes the
//! credentials. [`BasicAuth::single`] checks one static user-id and
//! password in constant time ([`StaticCredentials`]).
//!
//! ```
//! use gateway_core::{ApplicationExt, fn_app, start};
//! use gateway_middleware::auth::BasicAuth;
//!
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("metrics") })
//!     .with(BasicAuth::single("metrics", "prometheus", "a long random password"));
//! # let _ = app;
//! ```

mod basic;
mod bearer;
mod csrf;
mod future;
mod header;
mod identity;
mod login;
mod next;
mod require_login;
mod session_auth;

pub use basic::{BasicAuth, BasicAuthApp, BasicVerifier, MAX_BASIC_TOKEN, StaticCredentials};
pub use bearer::{
    BearerAuth, BearerAuthApp, BearerError, BearerVerifier, InvalidScope, MAX_BEARER_TOKEN,
};
pub use csrf::{Csrf, CsrfApp, CsrfError, CsrfRejection, CsrfToken, InvalidOrigin};
pub use identity::{Identity, User, Via};
pub use login::{AUTH_HASH_KEY, AUTH_USER_KEY, AuthKey, AuthKeyError, login, logout};
pub use next::{MAX_NEXT_LEN, next_from_query, redirect_after_login, safe_next_path};
pub use require_login::{InvalidLoginUrl, RequireLogin, RequireLoginApp};
pub use session_auth::{SessionAuth, SessionAuthApp, UserLoader};
