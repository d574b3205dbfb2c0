//! `Metrics` and its endpoint through `TestClient`: what is counted,
//! under which labels, and that the exposition stays well-formed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use gateway_core::test_client::TestClient;
use gateway_core::{Application, ApplicationExt, Body, Environ, Error, Response, fn_app, start};
use gateway_middleware::metrics::{self, Endpoint};
use gateway_middleware::{Metrics, MetricsApp};
use http::{Method, StatusCode};
use tokio::sync::Notify;

/// `/ok` 200 "hello", `/users/<n>` 200 with route `/users/{id}`, `/err`
/// an `Err` (503), `/panic` a panic, `/missing` a 404 `Err`, `/hold`
/// waits for `release`, `/quoted` sets a route with characters to
/// escape.
fn app(release: Arc<Notify>) -> impl Application {
    fn_app(move |env: Environ| {
        let release = release.clone();
        async move {
            let path = env.path_info().to_owned();
            match path.as_str() {
                "/ok" => start(200, [("content-type", "text/plain")]).body("hello"),
                p if p.starts_with("/users/") => {
                    metrics::set_route(&env, "/users/{id}");
                    metrics::set_route(&env, "/ignored"); // the first one stays
                    start(200, [("content-type", "text/plain")]).body("user")
                }
                "/err" => {
                    metrics::set_route(&env, "/err");
                    Err(Error::with_status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "database down",
                    ))
                }
                "/panic" => {
                    metrics::set_route(&env, "/panic");
                    panic!("a bug")
                }
                "/hold" => {
                    metrics::set_route(&env, "/hold");
                    release.notified().await;
                    start(200, [("content-type", "text/plain")]).body("held")
                }
                "/quoted" => {
                    metrics::set_route(&env, "/a\"b\\c\nd");
                    start(204, [("x", "y")]).empty()
                }
                _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no route")),
            }
        }
    })
}

struct Fixture<A> {
    client: TestClient<MetricsApp<A>>,
    scrape: TestClient<Endpoint>,
    release: Arc<Notify>,
}

fn fixture() -> Fixture<impl Application> {
    fixture_with(Metrics::new())
}

fn fixture_with(metrics: Metrics) -> Fixture<impl Application> {
    let release = Arc::new(Notify::new());
    Fixture {
        // Scraped apart, so that a scrape is not itself in flight.
        scrape: TestClient::new(metrics.app()),
        client: TestClient::new(app(release.clone()).with(metrics)),
        release,
    }
}

impl<A: Application> Fixture<A> {
    async fn text(&self) -> String {
        let res = self.scrape.get("/").send().await;
        assert_eq!(res.status(), 200);
        let text = res.text();
        assert_well_formed(&text);
        text
    }
}

/// The value of the sample `name{labels}`, if the exposition has it.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let head = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(head.as_str()))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("bad value in {name}: {v}"))
        })
}

fn labels(method: &str, status: &str, route: &str) -> String {
    format!(r#"method="{method}",status="{status}",route="{route}""#)
}

fn requests(text: &str, method: &str, status: &str, route: &str) -> Option<f64> {
    sample(text, "http_requests_total", &labels(method, status, route))
}

/// Every line is a `# ` comment or `name{labels} value`, label values
/// quoted with `\\`, `\"` and `\n` as the only escapes, and the
/// exposition ends with `# EOF`.
fn assert_well_formed(text: &str) {
    assert!(text.ends_with("# EOF\n"), "no EOF marker:\n{text}");
    for line in text.lines() {
        if line.starts_with("# ") {
            continue;
        }
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        assert!(name_end > 0, "no name: {line:?}");
        let mut rest = &line[name_end..];
        if let Some(labels) = rest.strip_prefix('{') {
            rest = parse_labels(labels).unwrap_or_else(|| panic!("bad labels: {line:?}"));
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before the value: {line:?}"));
        assert!(
            value.parse::<f64>().is_ok() || value == "+Inf",
            "bad value: {line:?}"
        );
    }
}

/// Parses `k="v",k="v"}` and returns what follows the `}`.
fn parse_labels(mut s: &str) -> Option<&str> {
    loop {
        let eq = s.find('=')?;
        let key = &s[..eq];
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        s = s[eq..].strip_prefix("=\"")?;
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()? {
                    (_, '\\' | '"' | 'n') => {}
                    _ => return None,
                },
                (i, '"') => break i,
                (_, '\n') => return None,
                _ => {}
            }
        };
        s = &s[end + 1..];
        if let Some(rest) = s.strip_prefix('}') {
            return Some(rest);
        }
        s = s.strip_prefix(',')?;
    }
}

#[tokio::test]
async fn counts_by_method_status_class_and_route() {
    let f = fixture();
    for _ in 0..3 {
        assert_eq!(f.client.get("/ok").send().await.status(), 200);
    }
    f.client.get("/users/1").send().await;
    f.client.get("/users/2").send().await;
    f.client.post("/users/3").send().await;
    f.client.get("/missing").send().await;
    f.client.delete("/missing").send().await;

    let text = f.text().await;
    assert_eq!(requests(&text, "GET", "2xx", "unset"), Some(3.0));
    assert_eq!(requests(&text, "GET", "2xx", "/users/{id}"), Some(2.0));
    assert_eq!(requests(&text, "POST", "2xx", "/users/{id}"), Some(1.0));
    assert_eq!(requests(&text, "GET", "4xx", "unset"), Some(1.0));
    assert_eq!(requests(&text, "DELETE", "4xx", "unset"), Some(1.0));
    // The second set_route was ignored; raw paths never appear.
    assert!(!text.contains("/ignored"));
    assert!(!text.contains("/users/1"));
    assert!(!text.contains("/missing"));
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 8.0);
}

#[tokio::test]
async fn the_unset_route_label_can_be_changed() {
    let f = fixture_with(Metrics::new().unset_route("(none)"));
    f.client.get("/ok").send().await;
    let text = f.text().await;
    assert_eq!(requests(&text, "GET", "2xx", "(none)"), Some(1.0));
    assert_eq!(requests(&text, "GET", "2xx", "unset"), None);
}

#[tokio::test]
async fn other_methods_are_counted_as_other() {
    let f = fixture();
    for name in ["PURGE", "get", "X-'|~^_`!#$%&*+.", "PROPFIND"] {
        let method = Method::from_bytes(name.as_bytes()).unwrap();
        f.client.request(method, "/ok").send().await;
    }
    let text = f.text().await;
    assert_eq!(requests(&text, "OTHER", "2xx", "unset"), Some(4.0));
    for name in ["PURGE", "\"get\"", "X-'", "PROPFIND"] {
        assert!(!text.contains(name), "{name} in\n{text}");
    }
}

#[tokio::test]
async fn route_labels_are_escaped() {
    let f = fixture();
    f.client.get("/quoted").send().await;
    let text = f.text().await;
    let route = r#"/a\"b\\c\nd"#;
    assert_eq!(requests(&text, "GET", "2xx", route), Some(1.0));
}

#[tokio::test]
async fn equal_routes_at_different_addresses_share_their_series() {
    let one: &'static str = String::from("/same").leak();
    let two: &'static str = String::from("/same").leak();
    assert!(!std::ptr::eq(one, two));
    let metrics = Metrics::new();
    let scrape = TestClient::new(metrics.app());
    let app = fn_app(move |env: Environ| async move {
        metrics::set_route(&env, if env.path_info() == "/1" { one } else { two });
        start(200, [("content-type", "text/plain")]).body("x")
    })
    .with(metrics);
    let client = TestClient::new(app);
    for path in ["/1", "/2", "/1"] {
        client.get(path).send().await;
    }
    let text = scrape.get("/").send().await.text();
    assert_eq!(requests(&text, "GET", "2xx", "/same"), Some(3.0));
    assert_eq!(text.matches("http_requests_total{").count(), 1);
}

#[tokio::test]
async fn in_flight_rises_while_held_and_falls_back() {
    let f = fixture();
    let in_flight = |text: &str| sample(text, "http_requests_in_flight", "");
    assert_eq!(in_flight(&f.text().await), Some(0.0));

    let held = f.client.get("/hold").send();
    let scraped = async {
        // Let the held request reach the application.
        tokio::task::yield_now().await;
        let text = f.text().await;
        f.release.notify_one();
        text
    };
    let (res, text) = tokio::join!(held, scraped);
    assert_eq!(res.text(), "held");
    assert_eq!(in_flight(&text), Some(1.0));
    assert_eq!(requests(&text, "GET", "2xx", "/hold"), None);

    let text = f.text().await;
    assert_eq!(in_flight(&text), Some(0.0));
    assert_eq!(requests(&text, "GET", "2xx", "/hold"), Some(1.0));
}

#[tokio::test]
async fn a_dropped_request_is_counted_as_cancelled() {
    let f = fixture();
    let gone = tokio::time::timeout(Duration::from_millis(20), f.client.get("/hold").send()).await;
    assert!(gone.is_err(), "the held request should still be waiting");
    let text = f.text().await;
    assert_eq!(sample(&text, "http_requests_in_flight", ""), Some(0.0));
    assert_eq!(requests(&text, "GET", "cancelled", "/hold"), Some(1.0));
    let size = labels("GET", "cancelled", "/hold");
    assert_eq!(
        sample(&text, "http_response_size_bytes_sum", &size),
        Some(0.0)
    );
    let duration = sample(&text, "http_request_duration_seconds_sum", &size).unwrap();
    assert!(duration >= 0.015, "held about 20 ms, recorded {duration}");
}

#[tokio::test]
async fn errors_and_panics_count_as_the_page_the_client_got() {
    let f = fixture();
    let err = f.client.get("/err").send().await;
    assert_eq!(err.status(), 503);
    let panicked = f.client.get("/panic").send().await;
    assert_eq!(panicked.status(), 500);
    assert!(!err.bytes().is_empty() && !panicked.bytes().is_empty());

    let text = f.text().await;
    for (route, res) in [("/err", &err), ("/panic", &panicked)] {
        let l = labels("GET", "5xx", route);
        assert_eq!(requests(&text, "GET", "5xx", route), Some(1.0), "{route}");
        let size = sample(&text, "http_response_size_bytes_sum", &l);
        assert_eq!(size, Some(res.bytes().len() as f64), "{route}");
    }
    assert_eq!(sample(&text, "http_requests_in_flight", ""), Some(0.0));
}

#[tokio::test]
async fn an_error_with_a_status_outside_4xx_5xx_counts_as_500() {
    let metrics = Metrics::new();
    let scrape = TestClient::new(metrics.app());
    let app = fn_app(|_env: Environ| async {
        Err::<Response, _>(Error::with_status(StatusCode::FOUND, "not an error status"))
    })
    .with(metrics);
    let client = TestClient::new(app);
    let res = client.get("/").send().await;
    assert_eq!(res.status(), 500);
    let head = client.head("/").send().await;
    assert_eq!(head.status(), 500);
    let text = scrape.get("/").send().await.text();
    let get = labels("GET", "5xx", "unset");
    let size = sample(&text, "http_response_size_bytes_sum", &get);
    assert_eq!(size, Some(res.bytes().len() as f64));
    let head = labels("HEAD", "5xx", "unset");
    assert_eq!(
        sample(&text, "http_response_size_bytes_sum", &head),
        Some(0.0)
    );
    assert_eq!(requests(&text, "GET", "3xx", "unset"), None);
}

#[tokio::test]
async fn head_and_bodiless_responses_have_size_zero() {
    let f = fixture();
    let res = f.client.head("/ok").send().await;
    assert_eq!(res.status(), 200);
    f.client.get("/quoted").send().await; // 204
    let text = f.text().await;
    let head = labels("HEAD", "2xx", "unset");
    assert_eq!(
        sample(&text, "http_response_size_bytes_sum", &head),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "http_response_size_bytes_count", &head),
        Some(1.0)
    );
    let no_content = labels("GET", "2xx", r#"/a\"b\\c\nd"#);
    assert_eq!(
        sample(&text, "http_response_size_bytes_sum", &no_content),
        Some(0.0)
    );
}

#[tokio::test]
async fn histograms_add_up() {
    let f = fixture();
    for _ in 0..4 {
        f.client.get("/ok").send().await; // "hello": 5 bytes
    }
    let text = f.text().await;
    let l = labels("GET", "2xx", "unset");
    assert_eq!(
        sample(&text, "http_response_size_bytes_sum", &l),
        Some(20.0)
    );
    assert_eq!(
        sample(&text, "http_response_size_bytes_count", &l),
        Some(4.0)
    );
    let bucket = |le: &str| {
        let name = "http_response_size_bytes_bucket";
        sample(&text, name, &format!(r#"le="{le}",{l}"#))
    };
    assert_eq!(bucket("64.0"), Some(4.0));
    assert_eq!(bucket("+Inf"), Some(4.0));
    let d = |s: &str| sample(&text, s, &l).unwrap();
    assert_eq!(d("http_request_duration_seconds_count"), 4.0);
    let sum = d("http_request_duration_seconds_sum");
    assert!(sum > 0.0 && sum < 4.0, "duration sum {sum}");
    let le = r#"le="10.0""#;
    let within = sample(
        &text,
        "http_request_duration_seconds_bucket",
        &format!("{le},{l}"),
    );
    assert_eq!(within, Some(4.0));
}

#[tokio::test]
async fn a_body_that_streams_is_timed_to_its_end() {
    let metrics = Metrics::new();
    let scrape = TestClient::new(metrics.app());
    let app = fn_app(|_env: Environ| async {
        let body = Body::writer(|mut w| async move {
            w.write("first").await?;
            tokio::time::sleep(Duration::from_millis(30)).await;
            w.write(" second").await?;
            Ok::<_, Error>(())
        });
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .with(metrics);
    let res = TestClient::new(app).get("/").send().await;
    assert_eq!(res.text(), "first second");
    let text = scrape.get("/").send().await.text();
    let l = labels("GET", "2xx", "unset");
    assert_eq!(
        sample(&text, "http_response_size_bytes_sum", &l),
        Some(12.0)
    );
    let duration = sample(&text, "http_request_duration_seconds_sum", &l).unwrap();
    assert!(duration >= 0.025, "streamed for 30 ms, recorded {duration}");
}

#[tokio::test]
async fn gauge_fn_and_counter_fn_are_read_at_scrape_time() {
    let open = Arc::new(AtomicI64::new(3));
    let accepted = Arc::new(AtomicU64::new(10));
    let (o, a) = (open.clone(), accepted.clone());
    let metrics = Metrics::new()
        .gauge_fn("gateway_connections_open", "Open connections.", move || {
            o.load(Ordering::Relaxed)
        })
        .counter_fn(
            "gateway_connections_accepted_total",
            "Accepted.",
            move || a.load(Ordering::Relaxed),
        )
        .gauge_fn("gateway_draining", "1 while draining.", || 0);
    let scrape = TestClient::new(metrics.app());
    let text = scrape.get("/").send().await.text();
    assert_well_formed(&text);
    assert!(text.contains("# TYPE gateway_connections_open gauge\n"));
    assert!(text.contains("# HELP gateway_connections_open Open connections.\n"));
    assert!(text.contains("# TYPE gateway_connections_accepted counter\n"));
    assert_eq!(sample(&text, "gateway_connections_open", ""), Some(3.0));
    assert_eq!(
        sample(&text, "gateway_connections_accepted_total", ""),
        Some(10.0)
    );
    assert_eq!(sample(&text, "gateway_draining", ""), Some(0.0));

    open.store(1, Ordering::Relaxed);
    accepted.store(11, Ordering::Relaxed);
    let text = scrape.get("/").send().await.text();
    assert_eq!(sample(&text, "gateway_connections_open", ""), Some(1.0));
    assert_eq!(
        sample(&text, "gateway_connections_accepted_total", ""),
        Some(11.0)
    );
}

#[tokio::test]
async fn registered_metrics_are_served() {
    use gateway_middleware::metrics::prometheus_client::metrics::counter::Counter;
    let metrics = Metrics::new();
    let signups = Counter::<u64>::default();
    metrics.register("app_signups", "Accounts created.", signups.clone());
    let scrape = TestClient::new(metrics.app());
    signups.inc();
    signups.inc();
    let text = scrape.get("/").send().await.text();
    assert_well_formed(&text);
    assert_eq!(sample(&text, "app_signups_total", ""), Some(2.0));
}

#[tokio::test]
async fn the_endpoint_answers_get_and_head_only() {
    let f = fixture();
    let res = f.scrape.get("/").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.header("content-type"), Some(metrics::CONTENT_TYPE));
    assert_eq!(
        metrics::CONTENT_TYPE,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));

    let head = f.scrape.head("/").send().await;
    assert_eq!(head.status(), 200);
    assert!(head.bytes().is_empty());
    assert_eq!(head.header("content-type"), Some(metrics::CONTENT_TYPE));

    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let res = f.scrape.request(method, "/").send().await;
        assert_eq!(res.status(), 405);
        assert_eq!(res.header("allow"), Some("GET, HEAD"));
    }
    assert_eq!(f.scrape.get("/below").send().await.status(), 404);
}

#[tokio::test]
async fn scraping_through_the_same_metrics_counts_the_scrape() {
    use gateway_middleware::Mount;
    let metrics = Metrics::new();
    let app = Mount::new()
        .mount("/metrics", metrics.app())
        .fallback(fn_app(|_| async {
            start(200, [("content-type", "text/plain")]).body("site")
        }))
        .with(metrics);
    let client = TestClient::new(app);
    client.get("/").send().await;
    let first = client.get("/metrics").send().await.text();
    // The scrape is in flight while it encodes.
    assert_eq!(sample(&first, "http_requests_in_flight", ""), Some(1.0));
    let second = client.get("/metrics").send().await.text();
    assert_eq!(requests(&second, "GET", "2xx", "unset"), Some(2.0));
}

#[tokio::test]
async fn startup_and_shutdown_are_forwarded() {
    use std::sync::atomic::AtomicBool;
    struct Flags(Arc<AtomicBool>, Arc<AtomicBool>);
    impl Application for Flags {
        async fn call(&self, _env: Environ) -> Result<Response, Error> {
            start(200, [("content-type", "text/plain")]).empty()
        }
        async fn startup(&self) -> Result<(), Error> {
            self.0.store(true, Ordering::SeqCst);
            Ok(())
        }
        async fn shutdown(&self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }
    let (up, down) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let app = Flags(up.clone(), down.clone()).with(Metrics::new());
    app.startup().await.unwrap();
    app.shutdown().await;
    assert!(up.load(Ordering::SeqCst) && down.load(Ordering::SeqCst));
}
