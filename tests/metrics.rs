//! `Metrics` end to end: a real gateway-hyper server, real requests over
//! HTTP/1.1 and HTTP/2, then `/metrics` scraped over the socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gateway_core::http::StatusCode;
use gateway_core::{ApplicationExt, Environ, Error, fn_app, start};
use gateway_middleware::{Metrics, Mount, metrics};
use gateway_tests::{Proto, TestServer, assert_response, within};
use http::Method;
use tokio::sync::Notify;

/// The value of `name{labels}` in `text`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let head = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(head.as_str()))
        .map(|v| v.parse().expect("a number"))
}

fn requests(text: &str, method: &str, status: &str, route: &str) -> Option<f64> {
    let labels = format!(r#"method="{method}",status="{status}",route="{route}""#);
    sample(text, "http_requests_total", &labels)
}

struct Site {
    server: TestServer,
    entered: Arc<Notify>,
}

async fn site(accepted: Arc<AtomicU64>) -> Site {
    let entered = Arc::new(Notify::new());
    let in_app = entered.clone();
    let pages = fn_app(move |env: Environ| {
        let entered = in_app.clone();
        async move {
            match env.path_info() {
                "/" => {
                    metrics::set_route(&env, "/");
                    start(200, [("content-type", "text/plain")]).body("home")
                }
                p if p.starts_with("/items/") => {
                    metrics::set_route(&env, "/items/{id}");
                    start(200, [("content-type", "text/plain")]).body("item")
                }
                "/hold" => {
                    metrics::set_route(&env, "/hold");
                    entered.notify_one();
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                "/panic" => panic!("a bug"),
                _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no route")),
            }
        }
    });
    let metrics = Metrics::new().counter_fn(
        "gateway_connections_accepted_total",
        "Connections accepted.",
        move || accepted.load(Ordering::Relaxed),
    );
    let app = Mount::new()
        .mount("/metrics", metrics.app())
        .fallback(pages)
        .with(metrics);
    Site {
        server: TestServer::start(app).await,
        entered,
    }
}

async fn scrape(server: &TestServer) -> String {
    let mut client = server.client(Proto::Http1).await;
    let (parts, body) = client.fetch(Method::GET, "/metrics").await;
    assert_eq!(parts.status, 200);
    assert_eq!(parts.headers["content-type"], metrics::CONTENT_TYPE);
    assert_eq!(parts.headers["cache-control"], "no-store");
    let text = String::from_utf8(body.to_vec()).expect("UTF-8");
    assert!(text.ends_with("# EOF\n"));
    text
}

#[tokio::test]
async fn requests_over_the_socket_are_counted_and_scraped() {
    let accepted = Arc::new(AtomicU64::new(41));
    let site = site(accepted.clone()).await;
    let server = &site.server;

    for proto in [Proto::Http1, Proto::Http2] {
        let mut client = server.client(proto).await;
        let (parts, body) = client.fetch(Method::GET, "/").await;
        assert_response("GET /", &parts, &body, StatusCode::OK, b"home");
        for id in 0..3 {
            let (parts, _) = client.fetch(Method::GET, &format!("/items/{id}")).await;
            assert_eq!(parts.status, 200);
        }
        let (parts, body) = client.fetch(Method::HEAD, "/items/9").await;
        assert_response("HEAD /items/9", &parts, &body, StatusCode::OK, b"");
        let (parts, _) = client.fetch(Method::GET, "/nowhere").await;
        assert_eq!(parts.status, 404);
        let (parts, panic_page) = client.fetch(Method::GET, "/panic").await;
        assert_eq!(parts.status, 500);
        assert!(!panic_page.is_empty());
        let purge = Method::from_bytes(b"PURGE").unwrap();
        let (parts, _) = client.fetch(purge, "/").await;
        assert_eq!(parts.status, 200);
    }
    accepted.store(42, Ordering::Relaxed);

    let text = scrape(server).await;
    assert_eq!(requests(&text, "GET", "2xx", "/"), Some(2.0));
    assert_eq!(requests(&text, "GET", "2xx", "/items/{id}"), Some(6.0));
    assert_eq!(requests(&text, "HEAD", "2xx", "/items/{id}"), Some(2.0));
    assert_eq!(requests(&text, "GET", "4xx", "unset"), Some(2.0));
    assert_eq!(requests(&text, "GET", "5xx", "unset"), Some(2.0));
    assert_eq!(requests(&text, "OTHER", "2xx", "/"), Some(2.0));
    let items = r#"method="GET",status="2xx",route="/items/{id}""#;
    assert_eq!(
        sample(&text, "http_response_size_bytes_sum", items),
        Some(6.0 * 4.0)
    );
    let head = r#"method="HEAD",status="2xx",route="/items/{id}""#;
    assert_eq!(
        sample(&text, "http_response_size_bytes_sum", head),
        Some(0.0)
    );
    // Only the scrape itself is in flight.
    assert_eq!(sample(&text, "http_requests_in_flight", ""), Some(1.0));
    assert_eq!(
        sample(&text, "gateway_connections_accepted_total", ""),
        Some(42.0)
    );
    assert!(!text.contains("/items/0") && !text.contains("PURGE"));

    site.server.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_is_counted_as_cancelled() {
    let site = site(Arc::new(AtomicU64::new(0))).await;
    let server = &site.server;

    let mut client = server.client(Proto::Http2).await;
    let conn = client.connection().expect("the connection task");
    let req = client.request(Method::GET, "/hold", gateway_tests::empty());
    let entered = site.entered.notified();
    let held = tokio::spawn(async move { client.try_send(req).await.map(|_| ()) });
    within("the held request to reach the app", entered).await;
    let text = scrape(server).await;
    assert_eq!(sample(&text, "http_requests_in_flight", ""), Some(2.0));

    // Gone: the connection closes, the server drops the request.
    held.abort();
    conn.abort();
    let cancelled = within("the cancelled request to be counted", async {
        loop {
            let text = scrape(server).await;
            if let Some(n) = requests(&text, "GET", "cancelled", "/hold") {
                return (n, text);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(cancelled.0, 1.0);
    assert_eq!(
        sample(&cancelled.1, "http_requests_in_flight", ""),
        Some(1.0)
    );

    site.server.stop().await;
}
