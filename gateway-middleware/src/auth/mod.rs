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
//! **CSRF.** [`Csrf`] refuses cross-site requests with unsafe methods: by
//! `Sec-Fetch-Site` and `Origin` as Go 1.25's `CrossOriginProtection`
//! does, with [trusted origins](Csrf::trusted_origins), and — for clients
//! that send neither header — by a per-session token masked afresh for
//! every page ([`CsrfToken`]), rotated at login (the secret under
//! [`Csrf::SESSION_KEY`] is removed). Refusals are a bare `403`.

mod csrf;
mod identity;

pub use csrf::{Csrf, CsrfApp, CsrfError, CsrfRejection, CsrfToken, InvalidOrigin};
pub use identity::{Identity, User, Via};
