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

mod identity;

pub use identity::{Identity, User, Via};
