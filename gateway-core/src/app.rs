//! [`Application`]: the one trait between servers and applications, with
//! [`fn_app`] for closures and [`BoxApplication`] for type erasure.
//!
//! ```
//! use gateway_core::{Application, BoxApplication, fn_app, start};
//!
//! let hello = fn_app(|_env| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! let apps: Vec<BoxApplication> = vec![BoxApplication::new(hello)];
//! # fn is_app(_: &impl Application) {}
//! # is_app(&apps[0]);
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::environ_impl::Environ;
use crate::error::Error;
use crate::response_impl::Response;

/// A web application: given a request, produce exactly one response.
///
/// This is WSGI's `application(environ, start_response)` as a trait. An
/// application knows nothing of sockets; adapters call it through the
/// [`driver`](crate::driver), which turns an `Err` or a panic into a clean
/// error response.
///
/// Implement it with `async fn` (the future must be `Send`), or use
/// [`fn_app`] for a closure. Applications are shared by every connection,
/// so they are `Send + Sync + 'static`; keep mutable state behind a lock or
/// an atomic.
///
/// # Cancellation
///
/// The future returned by `call` may be dropped at any `.await`: the client
/// went away, an HTTP/2 stream was reset, a timeout fired, or the server is
/// shutting down past its drain deadline. That drop is the disconnect
/// signal, so code in `call` must be cancel-safe (no half-applied state
/// across an `.await` without a guard).
///
/// # Example
///
/// ```
/// use gateway_core::{Application, Environ, Error, Response, start};
///
/// struct Hello;
///
/// impl Application for Hello {
///     async fn call(&self, env: Environ) -> Result<Response, Error> {
///         let name = env.query_pairs().find(|(k, _)| k == "name")
///             .map(|(_, v)| v.into_owned()).unwrap_or_else(|| "world".into());
///         start(200, [("content-type", "text/plain; charset=utf-8")]).body(format!("Hello, {name}!"))
///     }
/// }
/// ```
///
/// An application must be `Sync`:
///
/// ```compile_fail,E0277
/// use gateway_core::{Application, Body, Environ, Error, Response};
/// struct NotSync(std::cell::Cell<u32>);
/// impl Application for NotSync {
///     async fn call(&self, _env: Environ) -> Result<Response, Error> {
///         self.0.set(self.0.get() + 1);
///         Ok(Response::new(Body::from("counted")))
///     }
/// }
/// ```
///
/// and its future must be `Send` (here an `Rc` is held across an `.await`):
///
/// ```compile_fail
/// use gateway_core::{Application, Body, Environ, Error, Response};
/// struct Rc1;
/// impl Application for Rc1 {
///     async fn call(&self, _env: Environ) -> Result<Response, Error> {
///         let rc = std::rc::Rc::new(1);
///         std::future::ready(()).await;
///         Ok(Response::new(Body::from(rc.to_string())))
///     }
/// }
/// // error: future cannot be sent between threads safely
/// ```
pub trait Application: Send + Sync + 'static {
    /// Handles one request.
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send;

    /// Runs once before the server accepts its first connection. An error
    /// stops the server before it starts. Every wrapper forwards it.
    /// Defaults to doing nothing.
    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// Runs once after the server stopped serving (after the drain). Every
    /// wrapper forwards it. Defaults to doing nothing.
    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

impl<A: Application> Application for Arc<A> {
    #[inline]
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        (**self).call(env)
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        (**self).shutdown()
    }
}

impl<A: Application> Application for &'static A {
    #[inline]
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        (**self).call(env)
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        (**self).shutdown()
    }
}

/// An application from an async closure: `fn_app(|env| async move { ... })`.
///
/// ```
/// use gateway_core::{fn_app, start};
/// let app = fn_app(|env| async move {
///     start(200, [("content-type", "text/plain")]).body(format!("you asked for {}", env.path_info()))
/// });
/// # let _ = app;
/// ```
pub fn fn_app<F, Fut>(f: F) -> FnApp<F>
where
    F: Fn(Environ) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, Error>> + Send,
{
    FnApp { f }
}

/// The application made by [`fn_app`].
#[derive(Clone, Copy, Debug)]
pub struct FnApp<F> {
    f: F,
}

impl<F, Fut> Application for FnApp<F>
where
    F: Fn(Environ) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, Error>> + Send,
{
    #[inline]
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        (self.f)(env)
    }
}

/// A boxed future, `Send`.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

trait ErasedApplication: Send + Sync + 'static {
    fn call_boxed(&self, env: Environ) -> BoxFuture<'_, Result<Response, Error>>;
    fn startup_boxed(&self) -> BoxFuture<'_, Result<(), Error>>;
    fn shutdown_boxed(&self) -> BoxFuture<'_, ()>;
}

impl<A: Application> ErasedApplication for A {
    fn call_boxed(&self, env: Environ) -> BoxFuture<'_, Result<Response, Error>> {
        Box::pin(self.call(env))
    }

    fn startup_boxed(&self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.startup())
    }

    fn shutdown_boxed(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.shutdown())
    }
}

/// A type-erased application, for stacks chosen at run time and for
/// collections of different applications (a router, `Mount`).
///
/// Costs one box per call (the future) and one `Arc` clone per clone.
///
/// ```
/// use gateway_core::{BoxApplication, fn_app, start};
/// let apps: Vec<BoxApplication> = vec![
///     BoxApplication::new(fn_app(|_| async { start(200, [("x", "a")]).empty() })),
///     BoxApplication::new(fn_app(|_| async { start(404, [("x", "b")]).empty() })),
/// ];
/// # let _ = apps;
/// ```
#[derive(Clone)]
pub struct BoxApplication {
    inner: Arc<dyn ErasedApplication>,
}

impl BoxApplication {
    /// Boxes an application. Boxing a `BoxApplication` returns it as is.
    pub fn new<A: Application>(app: A) -> BoxApplication {
        match crate::downcast_owned::<A, BoxApplication>(app) {
            Ok(boxed) => boxed,
            Err(app) => BoxApplication {
                inner: Arc::new(app),
            },
        }
    }
}

impl std::fmt::Debug for BoxApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxApplication").finish_non_exhaustive()
    }
}

impl Application for BoxApplication {
    #[inline]
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        self.inner.call_boxed(env)
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.inner.startup_boxed()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.inner.shutdown_boxed()
    }
}
