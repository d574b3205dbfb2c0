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

/// Found by review: `try_register` panicked inside prometheus-client for
/// a counter named `…_total`; series of different families collided;
/// help texts needing escapes went out raw; `counter_fn("_total")` named
/// an empty metric.
#[test]
fn series_collisions_counter_suffixes_and_help_are_checked() {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;
    let m = Metrics::new();
    // A counter given with `_total` is registered as its family.
    m.try_register(
        "app_signups_total",
        "Accounts created.",
        Counter::<u64>::default(),
    )
    .expect("a counter named with _total");
    let err = m
        .try_register("app_signups", "again", Counter::<u64>::default())
        .unwrap_err();
    assert_eq!(err, InvalidMetric::Duplicate("app_signups".to_owned()));
    // Series of the request histograms and counters are taken.
    for taken in [
        "http_request_duration_seconds_bucket",
        "http_response_size_bytes_count",
        "http_response_size_bytes_sum",
        "http_requests_created",
    ] {
        let err = m.clone().try_gauge_fn(taken, "h", || 0).unwrap_err();
        assert_eq!(err, InvalidMetric::Duplicate(taken.to_owned()), "{taken}");
    }
    // And the other way round: a family whose series an earlier one has.
    let m = m.gauge_fn("queue_count", "h", || 0);
    let err = m
        .try_register("queue", "h", Gauge::<i64>::default())
        .unwrap_err();
    assert_eq!(err, InvalidMetric::Duplicate("queue".to_owned()));
    for help in ["a \\ backslash", "a \"quote\""] {
        let err = m.clone().try_gauge_fn("fine", help, || 0).unwrap_err();
        assert_eq!(err, InvalidMetric::Help("fine".to_owned()), "{help}");
    }
    let err = m.clone().try_counter_fn("_total", "h", || 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid metric name "_total": must match [a-zA-Z_:][a-zA-Z0-9_:]*"#
    );
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
