//! The `Sessions` middleware, the `Session` handle and `MemoryStore`,
//! in-process through `TestClient`.

mod support;

mod basics;
mod cookie_store;
mod cookies;
mod expiry;
mod logs;
mod outage;
mod races;
