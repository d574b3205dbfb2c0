//! [`Endpoint`]: the application that serves the metrics.

use std::fmt;
use std::future::{Future, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gateway_core::{Application, Environ, Error, Response, start};
use http::{Method, StatusCode};

use super::Shared;

/// The `Content-Type` of the exposition: the OpenMetrics text format,
/// which `prometheus-client` encodes and Prometheus reads.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The application that serves the metrics of a
/// [`Metrics`](super::Metrics), made by [`Metrics::app`](super::Metrics::app):
/// mount it, e.g. at `/metrics`.
///
/// - `GET` and `HEAD` get `200` with the metrics in the OpenMetrics text
///   format ([`CONTENT_TYPE`]) and `Cache-Control: no-store`; every
///   scrape reads the metrics afresh, the closures of
///   [`gauge_fn`](super::Metrics::gauge_fn) and
///   [`counter_fn`](super::Metrics::counter_fn) included;
/// - any other method gets `405 Method Not Allowed` with
///   `Allow: GET, HEAD`;
/// - a path below the endpoint (`/metrics/x` when mounted at `/metrics`)
///   gets `404 Not Found`.
///
/// It answers anyone who can reach it: serve it on an internal listener,
/// or keep it from the public in the proxy in front.
///
/// A collector of your own that fails (see
/// [`Metrics::with_registry`](super::Metrics::with_registry)) makes the
/// scrape an error: `500`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_middleware::Metrics;
///
/// let metrics = Metrics::new();
/// let client = TestClient::new(metrics.app());
/// let res = client.get("/").send().await;
/// assert_eq!(res.header("cache-control"), Some("no-store"));
/// assert!(res.text().contains("http_requests_in_flight 0\n"));
/// assert!(res.text().ends_with("# EOF\n"));
///
/// assert_eq!(client.post("/").send().await.status(), 405);
/// # });
/// ```
#[derive(Clone)]
pub struct Endpoint {
    shared: Arc<Shared>,
    /// The size of the last exposition, to allocate the next at once.
    last_len: Arc<AtomicUsize>,
}

impl Endpoint {
    pub(super) fn new(shared: Arc<Shared>) -> Endpoint {
        Endpoint {
            shared,
            last_len: Arc::new(AtomicUsize::new(4096)),
        }
    }

    fn answer(&self, env: &Environ) -> Result<Response, Error> {
        if !matches!(env.path_info(), "" | "/") {
            return start(404, [("content-type", "text/plain; charset=utf-8")]).body("Not Found\n");
        }
        let method = env.method();
        if method != Method::GET && method != Method::HEAD {
            return start(
                StatusCode::METHOD_NOT_ALLOWED,
                [
                    ("allow", "GET, HEAD"),
                    ("content-type", "text/plain; charset=utf-8"),
                ],
            )
            .body("Method Not Allowed\n");
        }
        let mut text = String::with_capacity(self.last_len.load(Ordering::Relaxed) + 256);
        {
            let registry = self.shared.registry();
            prometheus_client::encoding::text::encode(&mut text, &registry)
                .map_err(|_| Error::new("a metrics collector failed to encode"))?;
        }
        self.last_len.store(text.len(), Ordering::Relaxed);
        start(
            200,
            [
                ("content-type", CONTENT_TYPE),
                ("cache-control", "no-store"),
            ],
        )
        .body(text)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint").finish_non_exhaustive()
    }
}

impl Application for Endpoint {
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        ready(self.answer(&env))
    }
}
