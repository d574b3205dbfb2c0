//! Sessions: per-visitor state kept across requests, safe by default and
//! without lost updates across requests and instances.
//!
//! (Module docs with a first example: written by the middleware's owner.)

#[cfg(feature = "session-conformance")]
pub mod conformance;
mod id;
#[cfg(feature = "redis")]
mod redis;
mod store;

#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
pub use id::SessionId;
pub use store::{Created, Record, Save, Saved, SessionStore, StoreError};

// Owners add their modules below, one line each:
// middleware (Sessions, Session, config), memory (MemoryStore),
// cookie (CookieStore, Key, KeyRing), redis (RedisStore, feature `redis`),
// conformance (feature `session-conformance`).
