//! [`Middleware`]: turns one application into another; [`from_fn`] makes
//! one from a closure.
//!
//! ```
//! use gateway_core::{ApplicationExt, fn_app, from_fn, start};
//!
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") })
//!     .with(from_fn(|env, next| async move {
//!         let mut res = next.run(env).await?;
//!         res.headers_mut().insert("x-frame-options", "DENY".parse()?);
//!         Ok(res)
//!     }));
//! # let _ = app;
//! ```

use std::future::Future;
use std::sync::Arc;

use crate::app_impl::{Application, BoxApplication};
use crate::environ_impl::Environ;
use crate::error::Error;
use crate::response_impl::Response;

/// Wraps an application `A`, producing another application: the gateway's
/// `tower::Layer`.
///
/// A middleware is an application to the layer above and a server to the
/// one below: it may change the environ on the way in, the response on the
/// way out, or answer by itself.
///
/// ```
/// use gateway_core::{Application, ApplicationExt, Environ, Error, Middleware, Response, fn_app, start};
/// use http::HeaderValue;
///
/// /// Adds `X-Frame-Options: DENY` to every response.
/// #[derive(Clone, Copy)]
/// struct DenyFrames;
///
/// struct DenyFramesApp<A>(A);
///
/// impl<A: Application> Middleware<A> for DenyFrames {
///     type Output = DenyFramesApp<A>;
///     fn wrap(&self, app: A) -> DenyFramesApp<A> { DenyFramesApp(app) }
/// }
///
/// impl<A: Application> Application for DenyFramesApp<A> {
///     async fn call(&self, env: Environ) -> Result<Response, Error> {
///         let mut res = self.0.call(env).await?;
///         res.headers_mut().insert("x-frame-options", HeaderValue::from_static("DENY"));
///         Ok(res)
///     }
///     async fn startup(&self) -> Result<(), Error> { self.0.startup().await }
///     async fn shutdown(&self) { self.0.shutdown().await }
/// }
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") })
///     .with(DenyFrames);
/// # let _ = app;
/// ```
///
/// Two ways to write one:
///
/// - a struct implementing `Middleware` plus the wrapped application type
///   implementing [`Application`], as above — statically dispatched, it
///   costs nothing per request beyond its own work. A layer whose `call`
///   returns the inner future itself (`fn call(&self, env: Environ) -> impl
///   Future<…> + Send { self.0.call(env) }`) adds no state machine of its
///   own; an `async fn` layer adds one (one move of the environ and one of
///   the response);
/// - [`from_fn`] with an async closure and an owned [`Next`] — one box per
///   request per layer.
///
/// A struct middleware must forward [`Application::startup`] and
/// [`Application::shutdown`] to the application it wraps. What each shape
/// costs is measured by `cargo bench -p gateway-core --bench driver`, with
/// the figures in `BENCHMARKS.md`.
pub trait Middleware<A: Application> {
    /// The wrapped application.
    type Output: Application;

    /// Wraps `app`.
    fn wrap(&self, app: A) -> Self::Output;
}

/// `app.with(middleware)`: wraps an application. Chains read outside-in
/// from the last call: in `app.with(a).with(b)`, `b` sees the request
/// first.
pub trait ApplicationExt: Application + Sized {
    /// Wraps `self` in `middleware`.
    fn with<M: Middleware<Self>>(self, middleware: M) -> M::Output {
        middleware.wrap(self)
    }

    /// Boxes `self` (see [`BoxApplication`]).
    fn boxed(self) -> BoxApplication {
        BoxApplication::new(self)
    }

    /// `self` as a `tower::Service` (feature `tower`; see
    /// [`AppService`](crate::tower::AppService)).
    #[cfg(feature = "tower")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
    fn into_service(self) -> crate::tower::AppService<Self> {
        crate::tower::AppService::new(self)
    }
}

impl<A: Application> ApplicationExt for A {}

/// The identity middleware: returns the application unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl<A: Application> Middleware<A> for Identity {
    type Output = A;
    fn wrap(&self, app: A) -> A {
        app
    }
}

/// Makes a middleware from an async closure taking the environ and the
/// rest of the stack as an owned [`Next`].
///
/// Costs one box per request (the call through `Next`). `startup` and
/// `shutdown` are forwarded to the wrapped application.
///
/// ```
/// use gateway_core::{ApplicationExt, from_fn, fn_app, start};
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") })
///     .with(from_fn(|env, next| async move {
///         if env.headers().contains_key("x-blocked") {
///             return start(403, [("content-type", "text/plain")]).body("no");
///         }
///         let mut res = next.run(env).await?;
///         res.headers_mut().insert("x-seen", "1".parse().unwrap());
///         Ok(res)
///     }));
/// # let _ = app;
/// ```
pub fn from_fn<F, Fut>(f: F) -> FromFn<F>
where
    F: Fn(Environ, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, Error>> + Send,
{
    FromFn { f: Arc::new(f) }
}

/// The middleware made by [`from_fn`].
pub struct FromFn<F> {
    f: Arc<F>,
}

impl<F> Clone for FromFn<F> {
    fn clone(&self) -> Self {
        FromFn { f: self.f.clone() }
    }
}

impl<F> std::fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FromFn").finish_non_exhaustive()
    }
}

impl<A, F, Fut> Middleware<A> for FromFn<F>
where
    A: Application,
    F: Fn(Environ, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, Error>> + Send,
{
    type Output = FromFnApp<F>;

    fn wrap(&self, app: A) -> FromFnApp<F> {
        FromFnApp {
            f: self.f.clone(),
            next: BoxApplication::new(app),
        }
    }
}

/// The application a [`from_fn`] middleware produces.
pub struct FromFnApp<F> {
    f: Arc<F>,
    next: BoxApplication,
}

impl<F> std::fmt::Debug for FromFnApp<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FromFnApp").finish_non_exhaustive()
    }
}

impl<F, Fut> Application for FromFnApp<F>
where
    F: Fn(Environ, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, Error>> + Send,
{
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        (self.f)(
            env,
            Next {
                app: self.next.clone(),
            },
        )
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.next.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.next.shutdown()
    }
}

/// The rest of the stack, owned, as a [`from_fn`] closure receives it.
#[derive(Clone, Debug)]
pub struct Next {
    app: BoxApplication,
}

impl Next {
    /// Calls the rest of the stack.
    pub async fn run(self, env: Environ) -> Result<Response, Error> {
        self.app.call(env).await
    }
}
