//! [`Metrics`]: Prometheus metrics for every request, and [`Endpoint`],
//! the application that serves them (mount it at `/metrics`).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{fn_app, start, ApplicationExt, Environ};
//! use gateway_middleware::{metrics, Metrics, Mount};
//!
//! let users = fn_app(|env: Environ| async move {
//!     // A label per route, never the raw path: `&'static str` keeps the
//!     // number of series bounded.
//!     metrics::set_route(&env, "/users/{id}");
//!     start(200, [("content-type", "text/plain")]).body("ada")
//! });
//!
//! let metrics = Metrics::new();
//! let app = Mount::new()
//!     .mount("/metrics", metrics.app())
//!     .fallback(users)
//!     .with(metrics);
//!
//! let client = TestClient::new(app);
//! client.get("/users/7").send().await;
//! client.get("/users/8").send().await;
//!
//! let res = client.get("/metrics").send().await;
//! assert_eq!(res.header("content-type"), Some(metrics::CONTENT_TYPE));
//! let text = res.text();
//! assert!(text.contains(
//!     r#"http_requests_total{method="GET",status="2xx",route="/users/{id}"} 2"#
//! ));
//! # });
//! ```
//!
//! # What is recorded
//!
//! Every request that reaches [`Metrics`] is recorded once, when its
//! response body has been sent to its end or was aborted
//! ([`Body::on_finish`](gateway_core::Body::on_finish)):
//!
//! | Metric | Type | Labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `status`, `route` |
//! | `http_request_duration_seconds` | histogram: from the call (of the outermost observing layer: `RequestId`, `AccessLog` or `Metrics`) to the end of the response body | `method`, `status`, `route` |
//! | `http_response_size_bytes` | histogram: bytes of body sent (0 for `HEAD`, `204`, `304`) | `method`, `status`, `route` |
//! | `http_requests_in_flight` | gauge: requests called and not yet recorded | none |
//!
//! The labels have a bounded set of values, so that a client cannot make
//! the server keep a series per request:
//!
//! - `method`: `GET`, `HEAD`, `POST`, `PUT`, `DELETE`, `CONNECT`,
//!   `OPTIONS`, `TRACE`, `PATCH`, and `OTHER` for any other method;
//! - `status`: the class of the status the client got — `1xx`, `2xx`,
//!   `3xx`, `4xx`, `5xx` — or `cancelled` when the client went away
//!   before there was a response (the server dropped the request's
//!   future: nginx logs these as 499). A cancelled request's size is 0 and
//!   its duration runs to the moment it was dropped;
//! - `route`: what the application set with [`set_route`], else
//!   [`UNSET_ROUTE`] (`"unset"`, or the value of
//!   [`Metrics::unset_route`]). Never the raw path.
//!
//! An `Err` or a panic from the application passes through untouched
//! (the layers outside still see it as such) and is counted as the page
//! the driver answers it with (rule 1): the error's status (500 for a
//! panic, or for a status outside 400–599) and the size of the page's
//! body, the status's reason phrase. If a
//! [`HandleErrors`](gateway_core::HandleErrors) renders pages of your own,
//! put it inside `Metrics` (`app.with(HandleErrors::new(pages))
//! .with(Metrics::new())`), so that `Metrics` sees the pages themselves.
//! A response body that fails before its first data is turned into an
//! error page by the driver, outside: it is counted with the status the
//! application gave, as sent with 0 bytes.
//!
//! Buckets: durations `0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
//! 0.5, 1, 2.5, 5, 10` seconds ([`DURATION_BUCKETS`]); sizes powers of 4
//! from 64 bytes to 16 MiB ([`SIZE_BUCKETS`]). Both can be changed with
//! [`Metrics::duration_buckets`] and [`Metrics::size_buckets`].
//!
//! # The adapter's gauges and your own metrics
//!
//! [`Metrics::gauge_fn`] and [`Metrics::counter_fn`] add values read at
//! scrape time from a closure; this crate does not depend on
//! gateway-hyper, so they are how its `ServerStats` gets in (see
//! [`Metrics::gauge_fn`] for the wiring). [`Metrics::register`] adds any
//! `prometheus-client` metric of the application's own, and
//! [`Metrics::with_registry`] hands out the [`Registry`] itself.
//!
//! # Cost
//!
//! A request looks up no label set: the handles of a (route, method,
//! status class) are made once, on the first request that needs them,
//! and kept in a dense table per route; routes are found by their
//! `&'static str` pointer. Per request: one small allocation for the
//! record shared with the other observing layers (none if one of them is
//! outside and made it, with the clock reading the request's duration
//! starts from), one for the body's finish callback, one clock read at
//! the end and two histogram observations (each a short uncontended lock).
//! The layer adds no state machine around the application's future.

mod collect;
mod endpoint;
mod record;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use gateway_core::{Application, Environ, Middleware};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Metric, Registry};

use crate::notes::Notes;
use collect::{FnCollector, FnKind};
pub use endpoint::{CONTENT_TYPE, Endpoint};
pub use record::MetricsApp;
use record::Recorder;

/// The `prometheus-client` crate this module is built on, for the
/// metric types of [`Metrics::register`] and [`Metrics::with_registry`]
/// (same version, so the types match).
pub use prometheus_client;

/// The route label of a request whose application set none (see
/// [`Metrics::unset_route`]).
pub const UNSET_ROUTE: &str = "unset";

/// The default buckets of `http_request_duration_seconds`, in seconds.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The default buckets of `http_response_size_bytes`, in bytes: powers of
/// 4 from 64 bytes to 16 MiB.
pub const SIZE_BUCKETS: [f64; 10] = [
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
];

/// The names [`Metrics`] registers itself, which a
/// [`gauge_fn`](Metrics::gauge_fn) or [`counter_fn`](Metrics::counter_fn)
/// may not take.
const OWN_NAMES: [&str; 4] = [
    "http_requests",
    "http_requests_in_flight",
    "http_request_duration_seconds",
    "http_response_size_bytes",
];

/// Sets the route label of the request `env` is, for [`Metrics`] (and the
/// other observing layers) outside: a pattern such as `"/users/{id}"`,
/// never the raw path. A `&'static str`, so that the number of label
/// values is fixed when the program is compiled.
///
/// The first label set for a request stays; without a layer that records
/// requests outside, this does nothing.
///
/// ```
/// use gateway_core::{fn_app, start, Environ};
/// use gateway_middleware::metrics;
///
/// let app = fn_app(|env: Environ| async move {
///     if env.path_info().starts_with("/users/") {
///         metrics::set_route(&env, "/users/{id}");
///     }
///     start(200, [("content-type", "text/plain")]).body("hi")
/// });
/// # let _ = app;
/// ```
pub fn set_route(env: &Environ, route: &'static str) {
    if let Some(notes) = Notes::of(env) {
        notes.set_route(route);
    }
}

/// Why a metric could not be added (see [`Metrics::try_gauge_fn`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidMetric {
    /// The name is not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {0:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    Name(String),
    /// The help text holds a line break or another control character, a
    /// backslash or a double quote (which the exposition would have to
    /// escape).
    #[error(
        "invalid help text for metric {0:?}: control characters, `\\` and `\"` are not allowed"
    )]
    Help(String),
    /// The name is taken, or the series it would expose are: by the
    /// request metrics or an earlier metric. A family `x` exposes
    /// `x_total`, `x_bucket`, `x_count`, `x_sum`, `x_created` or `x_info`
    /// besides `x`, so `jobs` and `jobs_total`, or a histogram
    /// `latency` and a gauge `latency_count`, clash.
    #[error("metric name {0:?} is already registered (or one of its series is)")]
    Duplicate(String),
}

/// Records every request in Prometheus metrics; [`Metrics::app`] serves
/// them. See the [module docs](self) for what is recorded.
///
/// Clones share the same metrics: wrap the application in one and mount
/// the [`Endpoint`] of the same one (or a clone).
///
/// ```
/// use gateway_core::{fn_app, start, ApplicationExt};
/// use gateway_middleware::{Metrics, Mount};
///
/// let metrics = Metrics::new();
/// let site = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let app = Mount::new()
///     .mount("/metrics", metrics.app())
///     .fallback(site)
///     .with(metrics);
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<Recorder>,
    shared: Arc<Shared>,
}

/// What the middleware and the endpoint share.
pub(crate) struct Shared {
    /// Every metric, the request metrics included.
    registry: Mutex<Registry>,
    /// The names taken, for [`InvalidMetric::Duplicate`].
    names: Mutex<Vec<String>>,
    /// The closures of `gauge_fn` and `counter_fn`.
    fns: Arc<FnCollector>,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("unset_route", &self.recorder.unset_route())
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The request metrics with the default buckets and
    /// [`UNSET_ROUTE`], in a registry of their own.
    pub fn new() -> Metrics {
        Metrics::build(UNSET_ROUTE, &DURATION_BUCKETS, &SIZE_BUCKETS)
    }

    fn build(unset_route: &'static str, duration: &[f64], size: &[f64]) -> Metrics {
        let mut registry = Registry::default();
        let recorder = Recorder::new(unset_route, duration, size);
        recorder.register(&mut registry);
        let fns = Arc::new(FnCollector::default());
        registry.register_collector(Box::new(fns.clone()));
        Metrics {
            recorder: Arc::new(recorder),
            shared: Arc::new(Shared {
                registry: Mutex::new(registry),
                names: Mutex::new(OWN_NAMES.iter().map(|n| (*n).to_owned()).collect()),
                fns,
            }),
        }
    }

    /// A fresh set of metrics with other buckets for
    /// `http_request_duration_seconds` (in seconds); non-finite values are
    /// dropped, and the `+Inf` bucket is always there.
    ///
    /// This starts the request metrics anew: call it first, before
    /// [`app`](Metrics::app), [`gauge_fn`](Metrics::gauge_fn) or
    /// [`register`](Metrics::register), whose work it does not keep.
    ///
    /// ```
    /// use gateway_middleware::Metrics;
    /// let metrics = Metrics::new().duration_buckets([0.01, 0.1, 1.0]);
    /// # let _ = metrics;
    /// ```
    pub fn duration_buckets(self, buckets: impl IntoIterator<Item = f64>) -> Metrics {
        let duration: Vec<f64> = buckets.into_iter().collect();
        let size = self.recorder.size_buckets().to_vec();
        Metrics::build(self.recorder.unset_route(), &duration, &size)
    }

    /// A fresh set of metrics with other buckets for
    /// `http_response_size_bytes` (in bytes); as for
    /// [`duration_buckets`](Metrics::duration_buckets), call it first.
    pub fn size_buckets(self, buckets: impl IntoIterator<Item = f64>) -> Metrics {
        let size: Vec<f64> = buckets.into_iter().collect();
        let duration = self.recorder.duration_buckets().to_vec();
        Metrics::build(self.recorder.unset_route(), &duration, &size)
    }

    /// A fresh set of metrics whose route label for a request that set
    /// none is `route` instead of [`UNSET_ROUTE`]; as for
    /// [`duration_buckets`](Metrics::duration_buckets), call it first.
    pub fn unset_route(self, route: &'static str) -> Metrics {
        let duration = self.recorder.duration_buckets().to_vec();
        let size = self.recorder.size_buckets().to_vec();
        Metrics::build(route, &duration, &size)
    }

    /// The application that serves the metrics in the OpenMetrics text
    /// format: mount it, e.g. at `/metrics` (see [`Endpoint`]).
    pub fn app(&self) -> Endpoint {
        Endpoint::new(self.shared.clone())
    }

    /// Adds a gauge read at scrape time from `read`: named `name` (a
    /// Prometheus name, `[a-zA-Z_:][a-zA-Z0-9_:]*`) with the one-line
    /// help text `help`.
    ///
    /// # Panics
    ///
    /// If the name or the help text is invalid or the name is taken; see
    /// [`try_gauge_fn`](Metrics::try_gauge_fn).
    ///
    /// # Example: gateway-hyper's `ServerStats`
    ///
    /// The adapter's own numbers, read on every scrape. With gateway-hyper
    /// the closures read its `ServerStats` (`open_connections()`,
    /// `accepted_connections()`, `connections_limited()`,
    /// `requests_refused()`, `is_draining()`); here plain atomics stand in
    /// for it:
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use gateway_middleware::Metrics;
    ///
    /// #[derive(Default)]
    /// struct ServerStats {
    ///     open: AtomicUsize,
    ///     accepted: AtomicU64,
    ///     limited: AtomicU64,
    ///     refused: AtomicU64,
    ///     draining: AtomicBool,
    /// }
    /// let stats = Arc::new(ServerStats::default());
    ///
    /// let (s1, s2, s3, s4, s5) =
    ///     (stats.clone(), stats.clone(), stats.clone(), stats.clone(), stats.clone());
    /// let metrics = Metrics::new()
    ///     .gauge_fn("gateway_connections_open", "Open client connections.", move || {
    ///         s1.open.load(Ordering::Relaxed) as i64
    ///     })
    ///     .counter_fn("gateway_connections_accepted_total", "Connections accepted.", move || {
    ///         s2.accepted.load(Ordering::Relaxed)
    ///     })
    ///     .counter_fn(
    ///         "gateway_connections_limited_total",
    ///         "Times accepting paused at the connection limit.",
    ///         move || s3.limited.load(Ordering::Relaxed),
    ///     )
    ///     .counter_fn(
    ///         "gateway_requests_refused_total",
    ///         "Requests refused by the concurrency limit.",
    ///         move || s4.refused.load(Ordering::Relaxed),
    ///     )
    ///     .gauge_fn("gateway_draining", "1 from the shutdown signal on.", move || {
    ///         i64::from(s5.draining.load(Ordering::Relaxed))
    ///     });
    /// # let _ = metrics;
    /// ```
    pub fn gauge_fn(
        self,
        name: &str,
        help: &str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Metrics {
        self.try_gauge_fn(name, help, read)
            .unwrap_or_else(|e| panic!("Metrics::gauge_fn: {e}"))
    }

    /// [`gauge_fn`](Metrics::gauge_fn), failing with the reason instead
    /// of panicking.
    ///
    /// # Errors
    ///
    /// [`InvalidMetric`] if `name` is not a Prometheus name, `help` holds
    /// a control character, or the name is taken (by the request metrics,
    /// by another `gauge_fn` / `counter_fn`, or by
    /// [`register`](Metrics::register)).
    pub fn try_gauge_fn(
        self,
        name: &str,
        help: &str,
        read: impl Fn() -> i64 + Send + Sync + 'static,
    ) -> Result<Metrics, InvalidMetric> {
        let name = self.claim(name, help)?;
        self.shared
            .fns
            .push(name, help.to_owned(), FnKind::Gauge(Box::new(read)));
        Ok(self)
    }

    /// Adds a counter read at scrape time from `read` (which must never
    /// go down), as [`gauge_fn`](Metrics::gauge_fn) adds a gauge. The
    /// exposition names a counter with a `_total` suffix: `name` may end
    /// with it or not (`"jobs"` and `"jobs_total"` both give
    /// `jobs_total`).
    ///
    /// # Panics
    ///
    /// As [`gauge_fn`](Metrics::gauge_fn).
    pub fn counter_fn(
        self,
        name: &str,
        help: &str,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Metrics {
        self.try_counter_fn(name, help, read)
            .unwrap_or_else(|e| panic!("Metrics::counter_fn: {e}"))
    }

    /// [`counter_fn`](Metrics::counter_fn), failing with the reason
    /// instead of panicking.
    ///
    /// # Errors
    ///
    /// As [`try_gauge_fn`](Metrics::try_gauge_fn).
    pub fn try_counter_fn(
        self,
        name: &str,
        help: &str,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Result<Metrics, InvalidMetric> {
        if !is_metric_name(name) {
            return Err(InvalidMetric::Name(name.to_owned()));
        }
        let base = name.strip_suffix("_total").unwrap_or(name);
        if !is_metric_name(base) {
            return Err(InvalidMetric::Name(name.to_owned()));
        }
        let name = self.claim(base, help)?;
        self.shared
            .fns
            .push(name, help.to_owned(), FnKind::Counter(Box::new(read)));
        Ok(self)
    }

    /// Registers a metric of the application's own, served with the
    /// others: any `prometheus-client` metric ([`prometheus_client`] is
    /// re-exported here, so the versions match). Name and help as for
    /// [`gauge_fn`](Metrics::gauge_fn); a counter's name may end with
    /// `_total` or not, as for [`counter_fn`](Metrics::counter_fn).
    /// prometheus-client ends every help text with a period: one at the
    /// end of `help` is dropped, so that there are not two.
    ///
    /// ```
    /// use gateway_middleware::metrics::prometheus_client::metrics::counter::Counter;
    /// use gateway_middleware::Metrics;
    ///
    /// let metrics = Metrics::new();
    /// let signups = Counter::<u64>::default();
    /// metrics.register("app_signups", "Accounts created.", signups.clone());
    /// signups.inc(); // in a handler
    /// ```
    ///
    /// # Panics
    ///
    /// If the name or help text is invalid or the name is taken; see
    /// [`try_register`](Metrics::try_register).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.try_register(name, help, metric)
            .unwrap_or_else(|e| panic!("Metrics::register: {e}"));
    }

    /// [`register`](Metrics::register), failing with the reason instead
    /// of panicking.
    ///
    /// # Errors
    ///
    /// As [`try_gauge_fn`](Metrics::try_gauge_fn).
    pub fn try_register(
        &self,
        name: &str,
        help: &str,
        metric: impl Metric,
    ) -> Result<(), InvalidMetric> {
        // prometheus-client names a counter's series `NAME_total` itself,
        // and panics when given a name that has it already.
        let name = match metric.metric_type() {
            MetricType::Counter => {
                let base = name.strip_suffix("_total").unwrap_or(name);
                if !is_metric_name(base) {
                    return Err(InvalidMetric::Name(name.to_owned()));
                }
                base
            }
            _ => name,
        };
        let name = self.claim(name, help)?;
        // prometheus-client ends every help text with a period of its own.
        let help = help.strip_suffix('.').unwrap_or(help);
        self.shared.registry().register(name, help, metric);
        Ok(())
    }

    /// Runs `f` with the [`Registry`] the endpoint serves, for what
    /// [`register`](Metrics::register) does not cover: sub-registries,
    /// units, label sets, collectors of your own. Names registered here
    /// are not checked.
    ///
    /// The registry is locked meanwhile, and also while a scrape encodes
    /// it: neither `f` nor a collector may call back into these metrics.
    ///
    /// ```
    /// use gateway_middleware::metrics::prometheus_client::metrics::gauge::Gauge;
    /// use gateway_middleware::Metrics;
    ///
    /// let metrics = Metrics::new();
    /// let queue = Gauge::<i64>::default();
    /// metrics.with_registry(|registry| {
    ///     registry.sub_registry_with_prefix("jobs").register("queued", "Jobs waiting.", queue.clone());
    /// });
    /// ```
    pub fn with_registry<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        f(&mut self.shared.registry())
    }

    /// Checks `name` and `help` and takes the name.
    fn claim(&self, name: &str, help: &str) -> Result<String, InvalidMetric> {
        if !is_metric_name(name) {
            return Err(InvalidMetric::Name(name.to_owned()));
        }
        if help
            .chars()
            .any(|c| c.is_control() || c == '\\' || c == '"')
        {
            return Err(InvalidMetric::Help(name.to_owned()));
        }
        let mut names = self.shared.names.lock().unwrap_or_else(|e| e.into_inner());
        // Two families clash when any series names they may expose meet.
        let clash = names
            .iter()
            .any(|taken| series_names(taken).any(|a| series_names(name).any(|b| a == b)));
        if clash {
            return Err(InvalidMetric::Duplicate(name.to_owned()));
        }
        names.push(name.to_owned());
        Ok(name.to_owned())
    }
}

/// The names of the series a family called `family` may expose: itself,
/// and with each suffix OpenMetrics gives a counter, histogram, summary
/// or info.
fn series_names(family: &str) -> impl Iterator<Item = String> + '_ {
    const SUFFIXES: [&str; 7] = [
        "", "_total", "_bucket", "_count", "_sum", "_created", "_info",
    ];
    SUFFIXES
        .into_iter()
        .map(move |suffix| format!("{family}{suffix}"))
}

/// Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

impl<A: Application> Middleware<A> for Metrics {
    type Output = MetricsApp<A>;

    fn wrap(&self, app: A) -> MetricsApp<A> {
        MetricsApp::new(app, self.recorder.clone())
    }
}
