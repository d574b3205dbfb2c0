//! Sessions: per-visitor state kept across requests, safe by default and
//! without lost updates across requests and instances.
//!
//! (Module docs: being written.)

mod backend;
mod cookie;
mod cookie_store;
mod handle;
mod hold;
mod id;
mod memory;
mod middleware;
mod store;

pub use backend::Backend;
pub use cookie::{SameSite, Secure};
pub use cookie_store::{CookieStore, CookieTooLarge, Key, KeyError};
pub use handle::{Session, SessionError};
pub use hold::Hold;
pub use id::SessionId;
pub use memory::{MemoryStats, MemoryStore};
pub use middleware::{OnStoreError, SessionStats, Sessions, SessionsApp};
pub use store::{Created, Record, Save, Saved, SessionStore, StoreError};
