//! Tower, both ways (feature `tower`): an [`Application`] as a
//! `tower::Service`, a `tower::Service` as an [`Application`], and a
//! `tower::Layer` as a [`Middleware`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::convert::Infallible;
//!
//! use gateway_core::tower::{from_layer, from_service};
//! use gateway_core::environ::GatewayContext;
//! use gateway_core::{driver, fn_app, start, ApplicationExt, Body, Environ, Response};
//! use http::{HeaderValue, StatusCode};
//! use tower::util::{BoxCloneSyncService, MapResponseLayer};
//! use tower::ServiceExt as _;
//!
//! // An application as a tower service.
//! let app = fn_app(|env: Environ| async move {
//!     start(200, [("content-type", "text/plain")]).body(format!("gateway saw {}", env.path_info()))
//! });
//! let req = http::Request::get("/x").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
//! let res = app.into_service().oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//!
//! // A tower service as an application: it sees `path_info` as its URI,
//! // and the mount prefix in the context.
//! let svc = tower::service_fn(|req: http::Request<Body>| async move {
//!     let prefix = req.extensions().get::<GatewayContext>().unwrap().script_name().into_owned();
//!     Ok::<_, Infallible>(http::Response::new(Body::from(format!("{prefix} {}", req.uri()))))
//! });
//! let hosted = from_service(BoxCloneSyncService::new(svc));
//!
//! // A tower layer as middleware around a gateway application.
//! let layered = hosted.with(from_layer(MapResponseLayer::new(|mut res: Response| {
//!     res.headers_mut().insert("x-layer", HeaderValue::from_static("tower"));
//!     res
//! })));
//!
//! let mut env = Environ::from_request(http::Request::get("/api/users?page=2").body(Body::empty()).unwrap());
//! env.mount("/api");
//! let Ok(res) = driver::commit(&layered, env).await;
//! assert_eq!(res.headers()["x-layer"], "tower");
//! let body = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
//! assert_eq!(body, "/api /users?page=2");
//! # });
//! ```
//!
//! | from | to | with | per request |
//! |---|---|---|---|
//! | any [`Application`] | `Service<http::Request<B>>` | [`AppService`], [`ApplicationExt::into_service`] | one boxed future; the [`driver`] runs inside |
//! | `Service<http::Request<Body>> + Clone + Send + Sync` | [`Application`] | [`ServiceApp`], [`from_service`] | one service clone, one [`GatewayContext`] extension |
//! | any `Layer<AppService<A>>` | [`Middleware<A>`] | [`FromLayer`], [`from_layer`] | both of the above |
//!
//! So a gateway application can be served by `axum::serve` or hyper-util
//! and wrapped in tower-http's layers, and an axum `Router` (or any tower
//! service) can be hosted in a gateway stack, mounted under a prefix and
//! served by `gateway-hyper`.
//!
//! # An application as a service
//!
//! [`AppService`] accepts requests with any body type `B`
//! (`http_body::Body<Data = Bytes>`): a gateway [`Body`] is taken as is,
//! a body that is already at its end (a GET's) becomes [`Body::empty`]
//! without allocating, anything else is boxed once by [`Body::new`]. Each
//! call runs [`driver::commit`], so the
//! [commit rules](crate::driver#the-commit-rules) hold wherever the service
//! is served, and the service never fails (`Error = Infallible`) and is
//! always ready. It costs one boxed future per request:
//! the driver's future borrows the application, which the service shares
//! through an `Arc`.
//!
//! Its response is `http::Response<Body>`, which hyper-util serves as it
//! is (`TowerToHyperService::new(app.into_service())`). `axum::serve`
//! wants axum's own response type: map it with `IntoResponse::into_response`
//! — `tower::ServiceExt::<axum::extract::Request>::map_response(svc,
//! IntoResponse::into_response)`, the request type named because the
//! service takes any body — and make it a make-service with
//! `axum::ServiceExt::into_make_service`; or hand the service to an axum
//! `Router` with `fallback_service` / `nest_service`.
//!
//! Served directly by a server other than `gateway-hyper`, the application
//! sees empty connection info (no peer address): the server's own
//! extensions (axum's `ConnectInfo`) pass through in
//! [`Environ::extensions`].
//!
//! # A service as an application
//!
//! [`ServiceApp`] hosts any `Service<http::Request<Body>>` that is `Clone +
//! Send + Sync + 'static`: an axum `Router`, a tower-http stack, or, to
//! choose the service at run time, tower's `BoxCloneSyncService` (the
//! `Sync` one: an application is shared by every connection, so
//! `BoxCloneService` does not do). Each call clones the service, waits
//! for `poll_ready` and calls it — tower's `oneshot` — so a service that
//! is not ready holds only its own request. A `Router` clones with one
//! reference count, a `BoxCloneSyncService` with one allocation.
//!
//! The request is made by [`Environ::into_request`]: its URI is
//! `path_info?query`, as axum's `nest_service` gives a nested service, so a
//! router mounted at `/api` matches `/users` for `/api/users`; the
//! connection info, the root path and the mount prefix ride along in one
//! [`GatewayContext`] extension ([`GatewayContext::script_name`] is the prefix
//! to build links with, [`GatewayContext::original_uri`] the target the
//! client sent). Hyper's upgrade handle (`hyper::upgrade::OnUpgrade`) is an
//! extension too and passes through untouched, so a WebSocket route of a
//! hosted axum `Router` works behind `gateway-hyper`. So does the
//! adapter's [upgrade](crate::upgrade) offer: a gateway application behind
//! a layer ([`from_layer`]) takes it with `env.upgrade()`, and the handler
//! of its switching response comes back out in the response's extensions.
//!
//! The response body is taken as [`AppService`] takes a request body. A
//! service's error becomes an [`Error`] whose status the driver answers
//! with:
//!
//! - `503 Service Unavailable` for tower's timeout (`Elapsed`) and
//!   load-shedding (`Overloaded`) errors, found anywhere in the error's
//!   source chain;
//! - the status a gateway [`Error`] carried, when the service passes one
//!   on (an [`Error`] with a status keeps it through `BoxError`);
//! - `500 Internal Server Error` for anything else.
//!
//! Recognising tower's two errors needs their types, hence the dependency
//! on `tower` itself (without default features; `timeout` brings tokio's
//! `time` module, no runtime). Timeouts that answer by themselves, such as
//! tower-http's `TimeoutLayer` (408), are responses, not errors, and pass
//! through as they are.
//!
//! A service has no `startup` or `shutdown`: [`ServiceApp`]'s do nothing.
//!
//! # A layer as middleware
//!
//! [`from_layer`] makes a [`Middleware`] of any `tower::Layer` whose
//! service fits [`ServiceApp`]: the application becomes an [`AppService`],
//! the layer wraps it, and the result is hosted as a [`ServiceApp`]. On the
//! way through, the environ becomes a request and back again with nothing
//! lost: `script_name`, `path_info` (`%2F` included), the query, the root
//! path, the connection info and the extensions. A layer sees the URI as
//! `path_info?query`; a layer that rewrites it rewrites the path below the
//! mount point (see [`Environ::from_parts_and_context`]). The layer's
//! middleware forwards `startup` and `shutdown` to the application.
//!
//! The driver runs at both ends: inside, so the layer sees the finished
//! response (an `Err` already turned into its error response), and in the
//! adapter, for what the layer changed.
//!
//! The integration tests (`tests/tower.rs`) run these bridges over real
//! sockets: tower-http's `CompressionLayer` and `CorsLayer` around a
//! gateway application, an axum `Router` mounted under a prefix and its
//! WebSocket route behind `gateway-hyper`, and a gateway application
//! served by `axum::serve`.
//!
//! [`GatewayContext`]: crate::environ::GatewayContext
//! [`GatewayContext::script_name`]: crate::environ::GatewayContext::script_name
//! [`GatewayContext::original_uri`]: crate::environ::GatewayContext::original_uri
//! [`ApplicationExt::into_service`]: crate::ApplicationExt::into_service

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;
use tower_layer::Layer;
use tower_service::Service;

use crate::app_impl::Application;
use crate::body_impl::Body;
use crate::driver;
use crate::environ_impl::Environ;
use crate::error::{BoxError, Error};
use crate::middleware_impl::Middleware;
use crate::response_impl::Response;

/// An [`Application`] as a `tower::Service<http::Request<B>>`, for any
/// request body `B`. See the [module docs](self).
///
/// Always ready, never fails: each call runs the application through
/// [`driver::commit`] in one boxed future. Cloning clones an `Arc`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::{fn_app, start, ApplicationExt};
/// use tower::ServiceExt as _;
///
/// let svc = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hello") })
///     .into_service();
/// let req = http::Request::head("/").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
/// let res = svc.oneshot(req).await.unwrap();
/// // The driver ran: HEAD keeps GET's length and loses the body.
/// assert_eq!(res.headers()["content-length"], "5");
/// # });
/// ```
#[doc(alias = "IntoService")]
pub struct AppService<A> {
    app: Arc<A>,
}

impl<A: Application> AppService<A> {
    /// Wraps `app`.
    pub fn new(app: A) -> AppService<A> {
        AppService { app: Arc::new(app) }
    }

    /// Wraps an application already shared.
    pub fn from_arc(app: Arc<A>) -> AppService<A> {
        AppService { app }
    }

    /// The application.
    pub fn get_ref(&self) -> &A {
        &self.app
    }
}

impl<A> Clone for AppService<A> {
    fn clone(&self) -> Self {
        AppService {
            app: self.app.clone(),
        }
    }
}

impl<A> fmt::Debug for AppService<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppService").finish_non_exhaustive()
    }
}

impl<A, B> Service<http::Request<B>> for AppService<A>
where
    A: Application,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send + 'static>>;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The hints and rule 8's route from the request head: read from
        // the environ, they would cost a copy of it.
        let hints = driver::CommitHints::from_head(req.method(), req.version(), req.headers());
        let route = driver::fast_path::route(req.method(), req.uri());
        let env = Environ::from_request(req.map(into_body));
        let app = self.app.clone();
        Box::pin(
            async move { driver::fast_path::commit_with_route(&*app, env, hints, route).await },
        )
    }
}

/// Hosts a tower service as an [`Application`]: `from_service(svc)` is
/// [`ServiceApp::new`].
pub fn from_service<S>(service: S) -> ServiceApp<S> {
    ServiceApp { service }
}

/// A `tower::Service<http::Request<Body>>` as an [`Application`]. See the
/// [module docs](self): the request is [`Environ::into_request`]'s
/// (`path_info?query` as its URI, [`GatewayContext`](crate::environ::GatewayContext)
/// as an extension), a
/// timeout or overload error answers 503, another error 500.
///
/// ```
/// use std::convert::Infallible;
/// use gateway_core::{tower::ServiceApp, Application, Body};
///
/// let svc = tower::service_fn(|_req: http::Request<Body>| async {
///     Ok::<_, Infallible>(http::Response::new(Body::from("from tower")))
/// });
/// fn is_app(_: &impl Application) {}
/// is_app(&ServiceApp::new(svc));
/// ```
#[derive(Clone, Debug)]
pub struct ServiceApp<S> {
    service: S,
}

impl<S> ServiceApp<S> {
    /// Hosts `service`.
    pub fn new(service: S) -> ServiceApp<S> {
        ServiceApp { service }
    }

    /// The service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }

    /// Returns the service.
    pub fn into_inner(self) -> S {
        self.service
    }
}

impl<S, ResBody> Application for ServiceApp<S>
where
    S: Service<http::Request<Body>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        let mut service = self.service.clone();
        let req = env.into_request();
        async move {
            std::future::poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(service_error)?;
            let res = service.call(req).await.map_err(service_error)?;
            Ok(res.map(into_body))
        }
    }
}

/// Makes a [`Middleware`] of a `tower::Layer`: `app.with(from_layer(layer))`.
/// See the [module docs](self).
///
/// ```
/// use gateway_core::{tower::from_layer, fn_app, start, ApplicationExt};
/// use std::time::Duration;
///
/// // Requests that take longer than 30 seconds answer 503.
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") })
///     .with(from_layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(30))));
/// # let _ = app;
/// ```
pub fn from_layer<L>(layer: L) -> FromLayer<L> {
    FromLayer { layer }
}

/// The middleware [`from_layer`] makes.
#[derive(Clone, Copy, Debug)]
pub struct FromLayer<L> {
    layer: L,
}

impl<L> FromLayer<L> {
    /// The layer.
    pub fn get_ref(&self) -> &L {
        &self.layer
    }
}

// The bounds on the layered service are `ServiceApp`'s own, stated once
// there.
impl<A, L, S> Middleware<A> for FromLayer<L>
where
    A: Application,
    L: Layer<AppService<A>, Service = S>,
    ServiceApp<S>: Application,
{
    type Output = FromLayerApp<A, S>;

    fn wrap(&self, app: A) -> FromLayerApp<A, S> {
        let app = Arc::new(app);
        let service = self.layer.layer(AppService::from_arc(app.clone()));
        FromLayerApp {
            app,
            service: ServiceApp::new(service),
        }
    }
}

/// The application a [`from_layer`] middleware produces: the layered
/// service, hosted as a [`ServiceApp`], with `startup` and `shutdown`
/// forwarded to the wrapped application `A`.
pub struct FromLayerApp<A, S> {
    app: Arc<A>,
    service: ServiceApp<S>,
}

impl<A, S: fmt::Debug> fmt::Debug for FromLayerApp<A, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FromLayerApp")
            .field("service", &self.service.service)
            .finish_non_exhaustive()
    }
}

impl<A, S> Application for FromLayerApp<A, S>
where
    A: Application,
    ServiceApp<S>: Application,
{
    #[inline]
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        self.service.call(env)
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.app.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.app.shutdown()
    }
}

/// `body` as a gateway [`Body`]: itself if it is one, an empty body
/// (no allocation) if it has ended, else boxed once.
fn into_body<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // A gateway body may carry what an empty one would lose (an
    // `on_finish` callback): keep it whole.
    match crate::downcast_owned::<B, Body>(body) {
        Ok(body) => body,
        Err(body) if body.is_end_stream() => Body::empty(),
        Err(body) => Body::new(body),
    }
}

/// A hosted service's error as an [`Error`]: 503 for tower's timeout and
/// overload errors, else the status a gateway error carried, else 500.
fn service_error<E: Into<BoxError>>(err: E) -> Error {
    let err = err.into();
    if is_unavailable(&*err) {
        Error::with_status(StatusCode::SERVICE_UNAVAILABLE, err)
    } else {
        Error::from_boxed(err)
    }
}

fn is_unavailable(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err.is::<::tower::timeout::error::Elapsed>()
            || err.is::<::tower::load_shed::error::Overloaded>()
        {
            return true;
        }
        next = err.source();
    }
    false
}

#[cfg(test)]
mod tests;
