//! Middleware for gateway applications: the glue real deployments need.
//!
//! **Mental model:** a middleware wraps an [`Application`] and is one
//! itself; it may change the environ on the way in, the response on the
//! way out, or answer by itself. Stack them with
//! [`ApplicationExt::with`](gateway_core::ApplicationExt::with); the last
//! one added sees the request first.
//!
//! This crate is where the shared middleware lives — static files,
//! sessions, authentication, proxy headers, mounting under a prefix, access
//! logs. None has landed yet: this release is the foundation
//! (`gateway-core`'s contract) that they build on. Until then, the example
//! below shows the shape every one of them takes.
//!
//! ```
//! use gateway_core::{
//!     driver, fn_app, start, Application, ApplicationExt, Body, Environ, Error, Middleware,
//!     Response,
//! };
//!
//! /// Answers `/healthz` itself; passes everything else on.
//! #[derive(Clone, Copy)]
//! struct Health;
//!
//! struct HealthApp<A>(A);
//!
//! impl<A: Application> Middleware<A> for Health {
//!     type Output = HealthApp<A>;
//!     fn wrap(&self, app: A) -> HealthApp<A> {
//!         HealthApp(app)
//!     }
//! }
//!
//! impl<A: Application> Application for HealthApp<A> {
//!     async fn call(&self, env: Environ) -> Result<Response, Error> {
//!         if env.path_info() == "/healthz" {
//!             return start(200, [("content-type", "text/plain")]).body("ok");
//!         }
//!         self.0.call(env).await
//!     }
//!     async fn startup(&self) -> Result<(), Error> {
//!         self.0.startup().await
//!     }
//!     async fn shutdown(&self) {
//!         self.0.shutdown().await
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("app") })
//!     .with(Health);
//! let env = Environ::from_request(http::Request::get("/healthz").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert_eq!(res.status(), 200);
//! # });
//! ```

pub use gateway_core::{Application, Middleware};
