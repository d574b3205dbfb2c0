//! The request metrics and [`MetricsApp`], which records them.
//!
//! The labels of a request are three small indexes — route, method,
//! status class — so its metric handles sit in a dense table per route,
//! made on first use: `Family::get_or_create` (a hash of the label set
//! and a lock) runs once per series, not once per request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use gateway_core::{Application, Environ, Error, Response};
use http::{Method, StatusCode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::notes::{Notes, driver_page};

/// `method`, `status` and `route`, in that order.
type Labels = [(&'static str, &'static str); 3];

/// The `method` label values; the index is the method's slot.
const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER",
];

/// The `status` label values; the index is the class's slot.
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "cancelled"];
const CANCELLED: usize = 5;

/// The slot of a method in [`METHODS`]; anything non-standard is `OTHER`.
fn method_slot(method: &Method) -> usize {
    // Comparing with the constants is an enum comparison, no string one.
    if *method == Method::GET {
        0
    } else if *method == Method::HEAD {
        1
    } else if *method == Method::POST {
        2
    } else if *method == Method::PUT {
        3
    } else if *method == Method::DELETE {
        4
    } else if *method == Method::CONNECT {
        5
    } else if *method == Method::OPTIONS {
        6
    } else if *method == Method::TRACE {
        7
    } else if *method == Method::PATCH {
        8
    } else {
        METHODS.len() - 1
    }
}

/// The slot of a status in [`CLASSES`]. The driver answers a status
/// outside 100–599 with 500, so that is what it counts as.
fn class_slot(status: StatusCode) -> usize {
    match status.as_u16() {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}

/// Makes the histograms of a family with the configured buckets.
#[derive(Clone, Debug)]
struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// The handles of one series (route, method, status class).
struct Handles {
    requests: Counter,
    duration: Histogram,
    size: Histogram,
    in_flight: Gauge,
}

impl Handles {
    /// Records a request that ended `start.elapsed()` after it began,
    /// having sent `bytes` of body.
    fn record(&self, start: Instant, bytes: u64) {
        self.duration.observe(start.elapsed().as_secs_f64());
        // Exact below 2^53 bytes.
        self.size.observe(bytes as f64);
        self.requests.inc();
        self.in_flight.dec();
    }
}

const SLOTS: usize = METHODS.len() * CLASSES.len();

/// One route's handles, by method and status class, made on first use.
struct RouteTable {
    route: &'static str,
    slots: [OnceLock<Arc<Handles>>; SLOTS],
}

impl RouteTable {
    fn new(route: &'static str) -> RouteTable {
        RouteTable {
            route,
            slots: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// The request metrics, and the per-route tables of their handles.
pub(crate) struct Recorder {
    requests: Family<Labels, Counter>,
    duration: Family<Labels, Histogram, Buckets>,
    size: Family<Labels, Histogram, Buckets>,
    in_flight: Gauge,
    /// The buckets the histograms were made with.
    duration_buckets: Buckets,
    size_buckets: Buckets,
    /// The table of requests that set no route.
    unset: RouteTable,
    /// The tables of the routes seen, by the address of their label
    /// (two equal labels at different addresses share one table).
    routes: RwLock<Vec<(&'static str, Arc<RouteTable>)>>,
}

impl Recorder {
    pub(crate) fn new(unset_route: &'static str, duration: &[f64], size: &[f64]) -> Recorder {
        let (duration, size) = (Buckets(duration.into()), Buckets(size.into()));
        Recorder {
            requests: Family::default(),
            duration: Family::new_with_constructor(duration.clone()),
            size: Family::new_with_constructor(size.clone()),
            in_flight: Gauge::default(),
            duration_buckets: duration,
            size_buckets: size,
            unset: RouteTable::new(unset_route),
            routes: RwLock::new(Vec::new()),
        }
    }

    /// Registers the four request metrics in `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, status class and route.",
            self.requests.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being answered (until the response body ends).",
            self.in_flight.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from the request to the end of its response body, in seconds.",
            self.duration.clone(),
        );
        registry.register(
            "http_response_size_bytes",
            "Bytes of response body sent.",
            self.size.clone(),
        );
    }

    pub(crate) fn unset_route(&self) -> &'static str {
        self.unset.route
    }

    pub(crate) fn duration_buckets(&self) -> &[f64] {
        &self.duration_buckets.0
    }

    pub(crate) fn size_buckets(&self) -> &[f64] {
        &self.size_buckets.0
    }

    /// The handles of (`route`, `method`, `class`), made if need be.
    fn handles(&self, route: Option<&'static str>, method: usize, class: usize) -> Arc<Handles> {
        let slot = method * CLASSES.len() + class;
        let Some(route) = route else {
            return self.slot(&self.unset, slot);
        };
        {
            let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
            if let Some((_, table)) = routes.iter().find(|(r, _)| std::ptr::eq(*r, route)) {
                return self.slot(table, slot);
            }
        }
        let table = self.add_route(route);
        self.slot(&table, slot)
    }

    /// The table of a label first seen at this address.
    #[cold]
    fn add_route(&self, route: &'static str) -> Arc<RouteTable> {
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        if let Some((_, table)) = routes.iter().find(|(r, _)| std::ptr::eq(*r, route)) {
            return table.clone();
        }
        let table = match routes.iter().find(|(r, _)| *r == route) {
            Some((_, table)) => table.clone(),
            None => Arc::new(RouteTable::new(route)),
        };
        routes.push((route, table.clone()));
        table
    }

    fn slot(&self, table: &RouteTable, slot: usize) -> Arc<Handles> {
        table.slots[slot]
            .get_or_init(|| self.make_handles(table.route, slot))
            .clone()
    }

    #[cold]
    fn make_handles(&self, route: &'static str, slot: usize) -> Arc<Handles> {
        let labels: Labels = [
            ("method", METHODS[slot / CLASSES.len()]),
            ("status", CLASSES[slot % CLASSES.len()]),
            ("route", route),
        ];
        Arc::new(Handles {
            requests: self.requests.get_or_create_owned(&labels),
            duration: self.duration.get_or_create_owned(&labels),
            size: self.size.get_or_create_owned(&labels),
            in_flight: self.in_flight.clone(),
        })
    }
}

/// The application a [`Metrics`](super::Metrics) middleware produces:
/// records each request of the application inside it. Forwards `startup`
/// and `shutdown`.
pub struct MetricsApp<A> {
    app: A,
    recorder: Arc<Recorder>,
}

impl<A> MetricsApp<A> {
    pub(crate) fn new(app: A, recorder: Arc<Recorder>) -> Self {
        MetricsApp { app, recorder }
    }
}

impl<A> fmt::Debug for MetricsApp<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsApp").finish_non_exhaustive()
    }
}

impl<A: Application> Application for MetricsApp<A> {
    fn call(&self, mut env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        let notes = Notes::attach(&mut env);
        let start = notes.start();
        let method = method_slot(env.method());
        self.recorder.in_flight.inc();
        MetricsFuture {
            pending: Pending {
                recorder: &self.recorder,
                notes,
                method,
                start,
                armed: true,
                polling: false,
            },
            // Made here and moved once: no state machine of this layer's
            // own around the application's future.
            inner: self.app.call(env),
        }
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.app.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.app.shutdown()
    }
}

pin_project_lite::pin_project! {
    /// The application's future, and the request's record until it is
    /// answered.
    struct MetricsFuture<'a, F> {
        #[pin]
        inner: F,
        pending: Pending<'a>,
    }
}

impl<F: Future<Output = Result<Response, Error>>> Future for MetricsFuture<'_, F> {
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Still set when the future is dropped: the poll panicked.
        this.pending.polling = true;
        let polled = this.inner.poll(cx);
        this.pending.polling = false;
        let result = std::task::ready!(polled);
        Poll::Ready(this.pending.answered(result))
    }
}

/// A request called and not yet answered: if it is dropped so (the
/// client went away), it is recorded as cancelled.
struct Pending<'a> {
    recorder: &'a Recorder,
    notes: Arc<Notes>,
    method: usize,
    start: Instant,
    armed: bool,
    /// Set while the application's future is polled.
    polling: bool,
}

impl Pending<'_> {
    /// Hands the recording over to the response body's end.
    fn answered(&mut self, result: Result<Response, Error>) -> Result<Response, Error> {
        self.armed = false;
        match result {
            Ok(mut res) => {
                let class = class_slot(res.status());
                let handles = self
                    .recorder
                    .handles(self.notes.route(), self.method, class);
                let start = self.start;
                let body = std::mem::take(res.body_mut());
                *res.body_mut() = body.on_finish(move |done| handles.record(start, done.bytes()));
                Ok(res)
            }
            Err(err) => {
                // The driver answers with its page (rule 1), sent at once.
                self.record_now(driver_page(&err, self.method == 1));
                Err(err)
            }
        }
    }

    /// Records a request answered by the driver's error page, of
    /// `(status, size)`.
    #[cold]
    fn record_now(&self, (status, size): (StatusCode, u64)) {
        self.recorder
            .handles(self.notes.route(), self.method, class_slot(status))
            .record(self.start, size);
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.polling || std::thread::panicking() {
            // The application panicked: the driver catches it and answers
            // 500 (and drops this future after the unwinding, if it
            // caught it around the poll).
            let head = self.method == 1;
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            self.record_now((status, gateway_core::driver::error_page_len(status, head)));
        } else {
            self.recorder
                .handles(self.notes.route(), self.method, CANCELLED)
                .record(self.start, 0);
        }
    }
}

#[cfg(test)]
pub(super) mod tests_support {
    use super::*;

    pub(in crate::metrics) fn method_of(method: &Method) -> &'static str {
        METHODS[method_slot(method)]
    }

    pub(in crate::metrics) fn class_of(status: StatusCode) -> &'static str {
        CLASSES[class_slot(status)]
    }
}
