//! A small web framework on [`Application`](gateway_core::Application),
//! and a notes API written with it: what a framework author writes on the
//! gateway, and what the framework's user writes on top.
//!
//! The gateway gives a framework one thing to implement — an application
//! that takes an [`Environ`](gateway_core::Environ) and returns a
//! [`Response`](gateway_core::Response) — and everything below it (the
//! server, HTTP/1 and HTTP/2, `Content-Length` and HEAD, error pages for
//! `Err` and panics) for free. So a framework is only the convenience its
//! users see:
//!
//! - a [`Router`] that picks a handler by path and method and *is* the
//!   application (404, 405 with `Allow`, HEAD as GET), matching
//!   `path_info` so it can be mounted anywhere;
//! - a [`Request`] that carries the path [`Params`] and shared state, and
//!   extracts typed values with serde: [`Request::query`],
//!   [`Request::form`], [`Request::json`], with a body limit;
//! - an [`AppError`] that `?` converts into, which renders as a response
//!   with the right status (400, 404, 413, 415, 422, …) and a JSON body;
//! - helpers to build responses: [`json`], [`text`].
//!
//! It depends only on the gateway core, serde (with `serde_json` and
//! `serde_urlencoded`) and `percent-encoding` — no server, no runtime — so
//! the notes app runs unchanged on any adapter and behind any middleware. About 450 lines of code plus their docs,
//! in four modules: `router`, `request`, `error`, `response`.
//!
//! # Example
//!
//! ```
//! use gateway_core::http::StatusCode;
//! use gateway_core::{driver, Body, Environ};
//! use gateway_examples::mini_framework::{get, json, AppError, Request, Router};
//!
//! #[derive(serde::Deserialize)]
//! struct Page {
//!     page: u32,
//! }
//!
//! async fn show_user(req: Request) -> Result<gateway_core::Response, AppError> {
//!     let id: u32 = req.param("id")?; // "abc" is 404
//!     let Page { page } = req.query()?; // a missing `page` is 400
//!     json(StatusCode::OK, &serde_json::json!({ "user": id, "page": page }))
//! }
//!
//! let app = Router::new().route("/users/{id}", get(show_user));
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let req = |uri| Environ::from_request(http::Request::get(uri).body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, req("/users/7?page=2")).await;
//! assert_eq!(res.status(), StatusCode::OK);
//! let body = res.into_body().to_bytes(1024).await.unwrap();
//! assert_eq!(body, r#"{"page":2,"user":7}"#);
//!
//! let Ok(res) = driver::commit(&app, req("/users/7")).await;
//! assert_eq!(res.status(), StatusCode::BAD_REQUEST);
//! let Ok(res) = driver::commit(&app, req("/users/x?page=1")).await;
//! assert_eq!(res.status(), StatusCode::NOT_FOUND);
//! # });
//! ```
//!
//! The runnable example serves [`app`], the notes API of [`notes`]:
//! `cargo run --release --example mini_framework [ADDR]`.

mod error;
mod request;
mod response;
mod router;

pub mod notes;

pub use error::AppError;
pub use notes::app;
pub use request::{FORM, Params, Request};
pub use response::{json, text};
pub use router::{DEFAULT_BODY_LIMIT, Handler, MethodRouter, Router, get, on, post};
