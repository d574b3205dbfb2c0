//! The gateway interface: one small, stable contract between Rust web
//! servers, applications and middleware — what WSGI (PEP 3333) is to Python,
//! as a trait.
//!
//! **Mental model:** an [`Application`] takes an [`Environ`] (the request)
//! and returns exactly one [`Response`]; a [`Middleware`] turns one
//! application into another; an adapter (such as `gateway-hyper`) owns the
//! sockets and calls the application through the [`driver`], which is the
//! single place where a response is validated and committed to the wire.
//!
//! ```text
//! client ─▶ (nginx) ─▶ adapter (gateway-hyper) ─▶ middleware … ─▶ Application
//! ```
//!
//! An application, a middleware, and a request run in-process through the
//! driver (to serve it over HTTP, hand the same `app` to
//! `gateway_hyper::serve("127.0.0.1:8000", app)`):
//!
//! ```
//! use gateway_core::{
//!     driver, from_fn, start, Application, ApplicationExt, Body, Environ, Error, Response,
//! };
//! use http::StatusCode;
//!
//! struct Greeter;
//!
//! impl Application for Greeter {
//!     async fn call(&self, env: Environ) -> Result<Response, Error> {
//!         match (env.method().as_str(), env.path_info()) {
//!             ("GET", "/") => start(200, [("content-type", "text/plain; charset=utf-8")])
//!                 .body("Hello, world!\n"),
//!             ("POST", "/echo") => {
//!                 // Stream the request body straight back.
//!                 let mut env = env;
//!                 start(200, [("content-type", "application/octet-stream")]).body(env.take_body())
//!             }
//!             _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no route")),
//!         }
//!     }
//! }
//!
//! // A middleware from a closure: adds a header to every response.
//! let app = Greeter.with(from_fn(|env, next| async move {
//!     let mut res = next.run(env).await?;
//!     res.headers_mut().insert("x-powered-by", "gateway".parse()?);
//!     Ok(res)
//! }));
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let req = http::Request::get("/").body(Body::empty()).unwrap();
//! let Ok(res) = driver::commit(&app, Environ::from_request(req)).await;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()["x-powered-by"], "gateway");
//!
//! let req = http::Request::get("/missing").body(Body::empty()).unwrap();
//! let Ok(res) = driver::commit(&app, Environ::from_request(req)).await;
//! assert_eq!(res.status(), StatusCode::NOT_FOUND);
//! # });
//! ```
//!
//! Each side is written once and works with all the others: an application
//! runs on any adapter, a middleware wraps any application, and tower
//! services and layers join in through bridges. The crate needs no async
//! runtime: its futures run on any executor (the example uses tokio's only
//! to drive them), and it does no I/O.
//!
//! # The pieces
//!
//! At the root, the vocabulary of an application author:
//!
//! - [`Application`], [`fn_app`], [`BoxApplication`]: the contract.
//! - [`Environ`]: the request, with WSGI's `SCRIPT_NAME`/`PATH_INFO` split
//!   (raw, so `%2F` survives), [`ConnInfo`] ([`Addr`], [`Scheme`]), the
//!   external prefix ([`RootPath`]) and typed extensions.
//! - [`Response`] (= `http::Response<Body>`), [`start`] / [`StartResponse`]
//!   (WSGI's `start_response` as a builder) and [`ResponseExt`].
//! - [`Body`]: empty, full, stream, push-style [`BodyWriter`], file;
//!   trailers; [`Body::on_finish`] for access logs.
//! - [`Middleware`], [`ApplicationExt::with`], [`from_fn`] with [`Next`]:
//!   composition.
//! - [`Error`]: `?` from any error, with an optional HTTP status and
//!   response headers; [`BodyError`]: a body's failures; [`BoxError`]:
//!   the ecosystem's type-erased error; [`HandleErrors`]: your own error
//!   pages, inside the stack.
//!
//! Each concept's secondary names — the types its functions return, its
//! helpers and its narrower errors — live in a namespace of the same name,
//! never also at the root:
//!
//! - [`app`] — [`FnApp`](app::FnApp).
//! - [`environ`] — [`GatewayContext`](environ::GatewayContext),
//!   [`Locals`](environ::Locals), [`QueryPairs`](environ::QueryPairs),
//!   [`InvalidPrefix`](environ::InvalidPrefix),
//!   [`InvalidPath`](environ::InvalidPath).
//! - [`response`] — [`NO_HEADERS`](response::NO_HEADERS).
//! - [`body`] — [`FileHint`](body::FileHint), [`Finished`](body::Finished).
//! - [`middleware`] — [`Identity`](middleware::Identity),
//!   [`FromFn`](middleware::FromFn), [`FromFnApp`](middleware::FromFnApp),
//!   [`HandleErrorsApp`](middleware::HandleErrorsApp),
//!   [`RenderError`](middleware::RenderError),
//!   [`FailedRequest`](middleware::FailedRequest),
//!   [`DriverPage`](middleware::DriverPage).
//!
//! In namespaces, what the other roles need:
//!
//! - [`driver`]: the commit rules every adapter shares, numbered; the rest
//!   of the documentation cites them as "rule N".
//! - [`adapter_guide`]: writing an adapter, from the driver's contract,
//!   with a complete toy adapter.
//! - [`host`]: the `Host` grammar adapters and proxies check.
//! - [`blocking`]: synchronous applications ([`BlockingApplication`](blocking::BlockingApplication))
//!   on a bounded thread pool ([`Blocking`](blocking::Blocking)), with the
//!   body as `std::io::Read` and a streamed response as `std::io::Write`.
//! - [`sse`]: server-sent events ([`EventStream`](sse::EventStream),
//!   [`Event`](sse::Event)) on the push-style writer.
//! - [`lint`]: checks both sides of the contract while you develop —
//!   `wsgiref.validate` and `Rack::Lint` for the gateway.
//! - `test_client` (feature `test-client`): in-process requests with a
//!   cookie jar, and upgrades over an in-memory pipe.
//! - `tower` (feature `tower`): every application is a `tower::Service`,
//!   every `Clone + Send + Sync` tower service (an axum `Router`) an
//!   application, every `tower::Layer` (tower-http's) a middleware; the
//!   [`GatewayContext`](environ::GatewayContext) crosses over losslessly
//!   in one extension.
//! - [`upgrade`]: protocol upgrades (HTTP/1.1 `Upgrade` and 101, HTTP/2
//!   extended CONNECT): the application answers with its handler inside
//!   the response, and the adapter runs it after the commit.
//!
//! # How errors are reported
//!
//! An `Err` from an application, or a panic in it, becomes an error
//! response with the error's status (500 unless stated) and a generic
//! body naming only that status (driver rule 1): the client never sees
//! the error's text. The cause goes to three places:
//!
//! - **The log**, through [`tracing`](https://docs.rs/tracing): at `error`
//!   for a 5xx or a panic, at `debug` for a 4xx. `tracing` prints nothing
//!   until a subscriber is installed — install one in `main`, as the
//!   examples do:
//!
//!   ```text
//!   tracing_subscriber::fmt()
//!       .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
//!       .init();
//!   ```
//!
//! - **The response**, as a [`driver::ErrorCause`] extension that the
//!   client never sees but an adapter or a middleware outside
//!   [`HandleErrors`] can read.
//! - **Tests**: `TestResponse::error()` (feature `test-client`) returns
//!   it, and a failed `TestResponse` prints it with `{:?}`.
//!
//! An error can carry headers for the response ([`Error::with_header`]:
//! `Allow`, `WWW-Authenticate`, `Retry-After`). To answer with your own
//! page (HTML or JSON by `Accept`) and let the middleware outside see it,
//! place [`HandleErrors`] in the stack; the driver's page stays the last
//! resort.
//!
//! # Writing an adapter
//!
//! An adapter accepts connections and, per request: builds an [`Environ`]
//! with [`Environ::from_parts`] (moving the request head, wrapping the body
//! with [`Body::new`] — or [`Body::empty`] for a bodiless request, which
//! does not allocate — and copying a per-connection [`ConnInfo`]); calls
//! [`driver::commit`]; writes the returned response, as
//! [rules 4 to 7](driver#the-commit-rules) say. Dropping the `commit`
//! future is how it tells the application the client is gone. The
//! [`adapter_guide`] says it all in full.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter_guide;
#[path = "app.rs"]
mod app_impl;
pub mod blocking;
#[path = "body/mod.rs"]
mod body_impl;
pub mod driver;
#[path = "environ/mod.rs"]
mod environ_impl;
mod error;
mod handle_errors;
pub mod host;
pub mod lint;
#[path = "middleware.rs"]
mod middleware_impl;
#[path = "response.rs"]
mod response_impl;
pub mod sse;
#[cfg(feature = "test-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-client")))]
pub mod test_client;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
pub mod upgrade;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod websocket;

pub use app_impl::{Application, BoxApplication, fn_app};
pub use body_impl::{Body, BodyWriter};
pub use environ_impl::{Addr, ConnInfo, Environ, RootPath, Scheme};
pub use error::{BodyError, BoxError, Error};
pub use handle_errors::HandleErrors;
pub use middleware_impl::{ApplicationExt, Middleware, Next, from_fn};
pub use response_impl::{Response, ResponseExt, StartResponse, start};

pub mod app {
    //! The application's secondary names: [`FnApp`], the type [`fn_app`]
    //! returns.
    //!
    //! ```
    //! use gateway_core::app::FnApp;
    //! use gateway_core::{fn_app, start};
    //!
    //! // Naming the type keeps a closure application in a struct field.
    //! struct Site<F> {
    //!     home: FnApp<F>,
    //! }
    //! let site = Site { home: fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") }) };
    //! # let _ = site.home;
    //! ```
    //!
    //! The contract itself is at the root: [`Application`], [`fn_app`] and
    //! [`BoxApplication`].
    //!
    //! [`Application`]: crate::Application
    //! [`fn_app`]: crate::fn_app
    //! [`BoxApplication`]: crate::BoxApplication

    pub use crate::app_impl::FnApp;
}

pub mod body {
    //! The body's secondary names: [`FileHint`] for [`Body::file`] and
    //! [`Finished`], what [`Body::on_finish`] reports.
    //!
    //! ```
    //! use gateway_core::Body;
    //! use gateway_core::body::Finished;
    //!
    //! // An access log's view of how a response body ended.
    //! let body = Body::from("hello").on_finish(|done: Finished| {
    //!     println!("sent {} bytes, completed: {}", done.bytes(), done.is_completed());
    //! });
    //! # let _ = body;
    //! ```
    //!
    //! The body type and its push-style writer are at the root: [`Body`]
    //! and [`BodyWriter`].
    //!
    //! [`Body`]: crate::Body
    //! [`Body::file`]: crate::Body::file
    //! [`Body::on_finish`]: crate::Body::on_finish
    //! [`BodyWriter`]: crate::BodyWriter

    pub use crate::body_impl::{FileHint, Finished};
}

pub mod environ {
    //! The request's secondary names: the [`GatewayContext`] extension of
    //! the tower bridge, the request-local values [`Locals`], the query
    //! iterator [`QueryPairs`], and the errors [`InvalidPrefix`] and
    //! [`InvalidPath`].
    //!
    //! ```
    //! use gateway_core::environ::{InvalidPrefix, QueryPairs};
    //! use gateway_core::{Body, Environ, RootPath};
    //!
    //! let req = http::Request::get("/search?q=rust&page=2").body(Body::empty()).unwrap();
    //! let env = Environ::from_request(req);
    //! let pairs: QueryPairs<'_> = env.query_pairs();
    //! assert_eq!(pairs.count(), 2);
    //! let bad: Result<RootPath, InvalidPrefix> = RootPath::new("/a/../b");
    //! assert!(bad.is_err());
    //! ```
    //!
    //! The request and what it is made of are at the root: [`Environ`],
    //! [`ConnInfo`] ([`Addr`], [`Scheme`]) and [`RootPath`].
    //!
    //! [`Environ`]: crate::Environ
    //! [`ConnInfo`]: crate::ConnInfo
    //! [`Addr`]: crate::Addr
    //! [`Scheme`]: crate::Scheme
    //! [`RootPath`]: crate::RootPath

    pub use crate::environ_impl::{GatewayContext, InvalidPath, InvalidPrefix, Locals, QueryPairs};
}

pub mod middleware {
    //! Composition's secondary names: the types [`from_fn`] and
    //! [`HandleErrors`] build ([`FromFn`], [`FromFnApp`], [`HandleErrorsApp`]),
    //! the do-nothing middleware [`Identity`], and [`HandleErrors`]'
    //! [`RenderError`], [`FailedRequest`] and [`DriverPage`].
    //!
    //! ```
    //! use gateway_core::middleware::{FailedRequest, Identity};
    //! use gateway_core::{ApplicationExt, Error, HandleErrors, fn_app, start};
    //!
    //! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") })
    //!     .with(Identity) // changes nothing: a placeholder in a stack
    //!     .with(HandleErrors::new(|err: &Error, req: &FailedRequest| {
    //!         start(err.status(), [("content-type", "text/plain")]).body(format!("{} failed", req.uri()))
    //!     }));
    //! # let _ = app;
    //! ```
    //!
    //! Composition itself is at the root: [`Middleware`],
    //! [`ApplicationExt`], [`from_fn`] with [`Next`], and [`HandleErrors`].
    //!
    //! [`Middleware`]: crate::Middleware
    //! [`ApplicationExt`]: crate::ApplicationExt
    //! [`from_fn`]: crate::from_fn
    //! [`Next`]: crate::Next
    //! [`HandleErrors`]: crate::HandleErrors

    pub use crate::handle_errors::{DriverPage, FailedRequest, HandleErrorsApp, RenderError};
    pub use crate::middleware_impl::{FromFn, FromFnApp, Identity};
}

pub mod response {
    //! The response's secondary name: [`NO_HEADERS`], the empty header
    //! list for [`start`].
    //!
    //! ```
    //! use gateway_core::response::NO_HEADERS;
    //! use gateway_core::start;
    //!
    //! let res = start(204, NO_HEADERS).empty()?;
    //! assert!(res.headers().is_empty());
    //! # Ok::<_, gateway_core::Error>(())
    //! ```
    //!
    //! The response and its builder are at the root: [`Response`],
    //! [`start`] / [`StartResponse`] and [`ResponseExt`].
    //!
    //! [`Response`]: crate::Response
    //! [`start`]: crate::start
    //! [`StartResponse`]: crate::StartResponse
    //! [`ResponseExt`]: crate::ResponseExt

    pub use crate::response_impl::NO_HEADERS;
}

pub use bytes;
pub use http;
pub use http_body;

/// `value` itself as a `U` when `T` is `U`, else `value` back: how
/// `Body::new` and `BoxApplication::new` avoid boxing a box again, without
/// `unsafe` and without allocating.
fn downcast_owned<T: 'static, U: 'static>(value: T) -> Result<U, T> {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<U>>() {
        // T is U: the slot holds the value as a U.
        Some(same) => match same.take() {
            Some(value) => Ok(value),
            None => unreachable!("the slot was filled just above"),
        },
        None => match slot {
            Some(value) => Err(value),
            None => unreachable!("the slot is emptied only when T is U"),
        },
    }
}

/// A body used after it was moved into a response does not compile:
///
/// ```compile_fail,E0382
/// use gateway_core::{Body, Response};
/// let body = Body::from("hello");
/// let res = Response::new(body);
/// let again = Response::new(body); // error[E0382]: use of moved value: `body`
/// ```
#[doc(hidden)]
pub mod compile_fail_examples {}
