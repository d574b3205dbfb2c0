//! Unit tests of the label slots and the builder's checks.

use super::*;
use http::{Method, StatusCode};

#[test]
fn metric_names_are_checked() {
    assert!(is_metric_name("gateway_connections_open"));
    assert!(is_metric_name("a:b_c9"));
    assert!(is_metric_name("_x"));
    assert!(!is_metric_name(""));
    assert!(!is_metric_name("9lives"));
    assert!(!is_metric_name("with space"));
    assert!(!is_metric_name("quote\""));
    assert!(!is_metric_name("dash-ed"));
}

#[test]
fn bad_or_taken_names_are_refused() {
    let m = Metrics::new();
    let err = m.clone().try_gauge_fn("bad name", "h", || 0).unwrap_err();
    assert_eq!(err, InvalidMetric::Name("bad name".to_owned()));
    let err = m
        .clone()
        .try_gauge_fn("ok", "two\nlines", || 0)
        .unwrap_err();
    assert_eq!(err, InvalidMetric::Help("ok".to_owned()));
    let err = m
        .clone()
        .try_counter_fn("http_requests_total", "h", || 0)
        .unwrap_err();
    assert_eq!(err, InvalidMetric::Duplicate("http_requests".to_owned()));
    let m = m.counter_fn("jobs_total", "Jobs.", || 1);
    let err = m.clone().try_gauge_fn("jobs", "h", || 0).unwrap_err();
    assert_eq!(err, InvalidMetric::Duplicate("jobs".to_owned()));
    let err = m.try_register(
        "jobs",
        "h",
        prometheus_client::metrics::gauge::Gauge::<i64>::default(),
    );
    assert!(err.is_err());
}

#[test]
#[should_panic(expected = "Metrics::gauge_fn: invalid metric name")]
fn gauge_fn_panics_with_the_reason() {
    let _ = Metrics::new().gauge_fn("no good", "h", || 0);
}

#[test]
fn slots_cover_the_methods_and_classes() {
    use record::tests_support::{class_of, method_of};
    assert_eq!(method_of(&Method::GET), "GET");
    assert_eq!(method_of(&Method::PATCH), "PATCH");
    assert_eq!(method_of(&Method::from_bytes(b"PURGE").unwrap()), "OTHER");
    assert_eq!(method_of(&Method::from_bytes(b"get").unwrap()), "OTHER");
    assert_eq!(class_of(StatusCode::CONTINUE), "1xx");
    assert_eq!(class_of(StatusCode::NO_CONTENT), "2xx");
    assert_eq!(class_of(StatusCode::NOT_MODIFIED), "3xx");
    assert_eq!(class_of(StatusCode::IM_A_TEAPOT), "4xx");
    assert_eq!(class_of(StatusCode::BAD_GATEWAY), "5xx");
    assert_eq!(class_of(StatusCode::from_u16(799).unwrap()), "5xx");
}

#[test]
fn builder_settings_survive_each_other() {
    let m = Metrics::new()
        .duration_buckets([0.5, 1.0])
        .size_buckets([10.0])
        .unset_route("none");
    assert_eq!(m.recorder.duration_buckets(), &[0.5, 1.0]);
    assert_eq!(m.recorder.size_buckets(), &[10.0]);
    assert_eq!(m.recorder.unset_route(), "none");
}
