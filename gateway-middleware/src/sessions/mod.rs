//! Sessions: per-visitor state kept across requests, safe by default and
//! without lost updates across requests and instances.
//!
//! (Module docs: being written.)

mod backend;
#[cfg(feature = "session-conformance")]
pub mod conformance;
mod cookie;
mod handle;
mod hold;
mod id;
mod memory;
mod middleware;
#[cfg(feature = "redis")]
mod redis;
mod store;

#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
pub use backend::Backend;
pub use cookie::{SameSite, Secure};
pub use handle::{Session, SessionError};
pub use hold::Hold;
pub use id::SessionId;
pub use memory::{MemoryStats, MemoryStore};
pub use middleware::{OnStoreError, SessionStats, Sessions, SessionsApp};
pub use store::{Created, Record, Save, Saved, SessionStore, StoreError};
