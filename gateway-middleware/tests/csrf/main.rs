//! The `Csrf` middleware and `CsrfToken`, in-process through `TestClient`:
//! the Fetch-metadata and `Origin` checks (Go 1.25's algorithm), the token
//! mode, hostile input, and what the refusals log.

#[path = "../support/capture.rs"]
mod capture;
mod fetch;
mod hostile;
mod logs;
mod support;
mod tokens;
