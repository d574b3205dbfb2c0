//! The `Sessions` middleware, the `Session` handle and `MemoryStore`,
//! in-process through `TestClient`.

#[path = "../support/capture.rs"]
mod capture;
mod support;

mod basics;
mod cookie_store;
mod cookies;
mod expiry;
mod logs;
mod outage;
mod races;
