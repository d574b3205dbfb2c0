//! Health endpoints for probes and load balancers: [`Liveness`] ("the
//! process answers") and [`Readiness`] ("send me traffic"), two small
//! applications to mount.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{fn_app, start};
//! use gateway_middleware::Mount;
//! use gateway_middleware::health::{Liveness, Readiness};
//!
//! // Set when the shutdown begins (with gateway-hyper: `ServerStats::is_draining`).
//! let draining = Arc::new(AtomicBool::new(false));
//! let flag = draining.clone();
//! let app = Mount::new()
//!     .mount("/livez", Liveness::new())
//!     .mount("/readyz", Readiness::new(move || !flag.load(Ordering::Relaxed)))
//!     .fallback(fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("site") }));
//! let client = TestClient::new(app);
//!
//! assert_eq!(client.get("/readyz").send().await.text(), "ready\n");
//! draining.store(true, Ordering::Relaxed);
//! let res = client.get("/readyz").send().await;
//! assert_eq!((res.status().as_u16(), res.text()), (503, "not ready\n".to_owned()));
//! assert_eq!(res.header("retry-after"), Some("1"));
//! // The process itself is still alive, and still serves the site.
//! assert_eq!(client.get("/livez").send().await.text(), "ok\n");
//! assert_eq!(client.get("/").send().await.text(), "site");
//! # });
//! ```
//!
//! With gateway-hyper, the check is the server's own drain state: take
//! `let stats = server.stats();` before serving and mount
//! `Readiness::new(move || !stats.is_draining())`
//! (`gateway_hyper::ServerStats::is_draining` turns `true` as soon as the
//! shutdown signal completes). Give the server a drain delay
//! (`Server::drain_delay`) at least as long as the probe takes to notice:
//! it keeps serving while the probe fails, and the load balancer or
//! Kubernetes stops routing to it before its listeners close.
//!
//! Both answer on whatever path they are mounted at (the rest of the path
//! and the query are ignored), to `GET` and `HEAD` only: any other method
//! gets `405 Method Not Allowed` with `Allow: GET, HEAD`. Every answer is
//! `text/plain; charset=utf-8` with `Cache-Control: no-store`, so no cache
//! between the probe and the server can hide a change. Neither touches
//! the request body, keeps state, nor needs a runtime.

use std::fmt;
use std::sync::Arc;

use gateway_core::{Application, Body, Environ, Error, Response};
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// A liveness endpoint: `200 ok` to `GET` and `HEAD`, as long as the
/// process answers requests at all — Kubernetes' `livenessProbe`, which
/// restarts a container whose probe fails. It checks nothing else: a
/// liveness check that fails when a dependency is down restarts healthy
/// processes for someone else's outage.
///
/// | Request | Status | Body | Headers |
/// |---|---|---|---|
/// | `GET`, `HEAD` | `200 OK` | `ok\n` | |
/// | any other method | `405 Method Not Allowed` | `Method Not Allowed\n` | `Allow: GET, HEAD` |
/// | a path below the endpoint (`/livez/x`) | `404 Not Found` | `Not Found\n` | |
///
/// Every answer also carries `Content-Type: text/plain; charset=utf-8` and
/// `Cache-Control: no-store`; a `HEAD` answer has the `GET` answer's
/// headers and no body.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_middleware::health::Liveness;
///
/// let client = TestClient::new(Liveness::new());
/// let res = client.get("/").send().await;
/// assert_eq!((res.status().as_u16(), res.text()), (200, "ok\n".to_owned()));
/// let res = client.post("/").send().await;
/// assert_eq!((res.status().as_u16(), res.header("allow")), (405, Some("GET, HEAD")));
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Liveness {
    _private: (),
}

impl Liveness {
    /// The liveness endpoint (it has no settings).
    pub fn new() -> Liveness {
        Liveness { _private: () }
    }
}

impl Application for Liveness {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        Ok(match allowed(&env) {
            Some(refusal) => refusal,
            None => plain(StatusCode::OK, "ok\n"),
        })
    }
}

/// A readiness endpoint: `200 ready` to `GET` and `HEAD` while `check`
/// returns `true`, `503 not ready` otherwise — Kubernetes'
/// `readinessProbe` (a pod whose probe fails is taken out of its
/// Service's endpoints) or a load balancer's health check (an upstream
/// whose check fails gets no new requests).
///
/// | Request | Status | Body | Headers |
/// |---|---|---|---|
/// | `GET`, `HEAD`, `check()` is `true` | `200 OK` | `ready\n` | |
/// | `GET`, `HEAD`, `check()` is `false` | `503 Service Unavailable` | `not ready\n` | `Retry-After: 1` |
/// | any other method | `405 Method Not Allowed` | `Method Not Allowed\n` | `Allow: GET, HEAD` |
/// | a path below the endpoint (`/readyz/x`) | `404 Not Found` | `Not Found\n` | |
///
/// Every answer also carries `Content-Type: text/plain; charset=utf-8` and
/// `Cache-Control: no-store`; a `HEAD` answer has the `GET` answer's
/// headers and no body.
///
/// `check` runs once per `GET` or `HEAD`, on the thread that polls the
/// request, and must not block: read a flag or a gauge (such as
/// `gateway_hyper::ServerStats::is_draining`), not the network. A `check`
/// that panics is the application panicking: the server answers that
/// request with a 500, which a probe counts as a failure too.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use gateway_core::test_client::TestClient;
/// use gateway_middleware::health::Readiness;
///
/// let warmed_up = Arc::new(AtomicBool::new(false));
/// let flag = warmed_up.clone();
/// let client = TestClient::new(Readiness::new(move || flag.load(Ordering::Relaxed)));
/// assert_eq!(client.get("/").send().await.status().as_u16(), 503);
/// warmed_up.store(true, Ordering::Relaxed);
/// assert_eq!(client.get("/").send().await.text(), "ready\n");
/// # });
/// ```
#[derive(Clone)]
pub struct Readiness {
    check: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl Readiness {
    /// A readiness endpoint that asks `check` on every probe.
    pub fn new(check: impl Fn() -> bool + Send + Sync + 'static) -> Readiness {
        Readiness {
            check: Arc::new(check),
        }
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readiness").finish_non_exhaustive()
    }
}

impl Application for Readiness {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        if let Some(refusal) = allowed(&env) {
            return Ok(refusal);
        }
        Ok(if (self.check)() {
            plain(StatusCode::OK, "ready\n")
        } else {
            let mut res = plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n");
            res.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            res
        })
    }
}

/// `None` for `GET` and `HEAD` of the endpoint itself; a `404` for a path
/// below it (`/livez/x`: the endpoint is one resource, as
/// `metrics::Endpoint` is), the `405` for any other method.
fn allowed(env: &Environ) -> Option<Response> {
    if !matches!(env.path_info(), "" | "/") {
        return Some(plain(StatusCode::NOT_FOUND, "Not Found\n"));
    }
    let method = env.method();
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    let mut res = plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    res.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(res)
}

/// A short uncacheable text answer.
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}
