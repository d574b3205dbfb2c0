//! The cross-crate integration tests over real sockets, one module per
//! area, in one test binary: linking a binary per file cost more than
//! compiling the tests themselves. The shared fixtures are this package's
//! library (`lib.rs`); the server programs some tests start as processes
//! are its `bin/` targets.
//!
//! Run one area with a filter on its module, e.g.
//! `cargo test -p gateway-tests -- hostile::`.

mod access_log;
mod adapter;
mod auth_csrf;
mod auth_headers;
mod auth_login;
mod axum_router;
mod bad_input;
mod blocking;
mod cgi;
mod conformance;
mod curl;
mod deploy;
mod echo;
mod failures;
mod fastcgi;
mod fd_limit;
mod head;
mod hello;
mod hostile;
mod idle;
mod lint;
mod login_example;
mod metrics;
mod mini_framework;
mod nginx;
mod server;
mod sessions;
mod sessions_hostile;
mod sse;
mod static_files;
mod static_traversal;
mod tower;
mod upgrade;
mod websocket;
