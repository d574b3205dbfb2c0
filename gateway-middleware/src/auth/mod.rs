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
mod header;
mod identity;
mod siphash;

pub use basic::{BasicAuth, BasicAuthApp, BasicVerifier, MAX_BASIC_TOKEN, StaticCredentials};
pub use bearer::{BearerAuth, BearerAuthApp, BearerError, BearerVerifier, MAX_BEARER_TOKEN};
pub use identity::{Identity, User, Via};
