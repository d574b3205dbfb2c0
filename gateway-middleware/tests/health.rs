//! `Liveness` and `Readiness` through `TestClient`: statuses, bodies,
//! headers, `HEAD`, other methods, and a check that changes between
//! requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gateway_core::lint::Lint;
use gateway_core::test_client::{TestClient, TestResponse};
use gateway_core::{Application, ApplicationExt, Environ, from_fn};
use gateway_middleware::health::{Liveness, Readiness};
use http::Method;

/// The headers every answer carries.
fn assert_plain_and_uncached(res: &TestResponse, what: &str) {
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "{what}: {res:?}"
    );
    assert_eq!(
        res.header("cache-control"),
        Some("no-store"),
        "{what}: {res:?}"
    );
}

/// Every method other than `GET` and `HEAD`, including an extension one.
fn other_methods() -> Vec<Method> {
    vec![
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::from_bytes(b"PROBE").expect("an extension method"),
    ]
}

async fn assert_method_not_allowed<A: Application>(client: &TestClient<A>, what: &str) {
    for method in other_methods() {
        let res = client.request(method.clone(), "/").send().await;
        assert_eq!(res.status().as_u16(), 405, "{what} {method}: {res:?}");
        assert_eq!(res.header("allow"), Some("GET, HEAD"), "{what} {method}");
        assert_eq!(res.text(), "Method Not Allowed\n", "{what} {method}");
        assert_plain_and_uncached(&res, &format!("{what} {method}"));
    }
}

#[tokio::test]
async fn liveness_answers_not_found_below_itself() {
    let client = TestClient::new(Liveness::new());
    for target in ["/livez", "/deep/path?verbose=1", "/%2e%2e/x"] {
        let res = client.get(target).send().await;
        assert_eq!(res.status().as_u16(), 404, "{target}: {res:?}");
        assert_plain_and_uncached(&res, target);
    }
    let client = TestClient::new(Readiness::new(|| true));
    let res = client.get("/x").send().await;
    assert_eq!(res.status().as_u16(), 404, "{res:?}");
}

#[tokio::test]
async fn liveness_answers_ok_to_get() {
    let client = TestClient::new(Liveness::new());
    for target in ["/", "/?verbose=1"] {
        let res = client.get(target).send().await;
        assert_eq!(res.status().as_u16(), 200, "{target}: {res:?}");
        assert_eq!(res.text(), "ok\n", "{target}");
        assert_eq!(res.header("content-length"), Some("3"), "{target}");
        assert_eq!(res.header("retry-after"), None, "{target}");
        assert_plain_and_uncached(&res, target);
    }
}

#[tokio::test]
async fn liveness_head_has_the_get_headers_and_no_body() {
    let client = TestClient::new(Liveness::new());
    let res = client.head("/").send().await;
    assert_eq!(res.status().as_u16(), 200, "{res:?}");
    assert!(res.bytes().is_empty(), "a HEAD answer has no body: {res:?}");
    assert_eq!(res.header("content-length"), Some("3"));
    assert_plain_and_uncached(&res, "HEAD");
}

#[tokio::test]
async fn liveness_refuses_other_methods() {
    let client = TestClient::new(Liveness::new());
    assert_method_not_allowed(&client, "Liveness").await;
}

/// A `Readiness` whose check reads a flag the test flips, and counts its
/// calls.
fn readiness() -> (Readiness, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let ready = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicUsize::new(0));
    let (flag, counter) = (ready.clone(), calls.clone());
    let app = Readiness::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        flag.load(Ordering::SeqCst)
    });
    (app, ready, calls)
}

#[tokio::test]
async fn readiness_follows_its_check_on_every_request() {
    let (app, ready, calls) = readiness();
    let client = TestClient::new(app);

    let res = client.get("/").send().await;
    assert_eq!(res.status().as_u16(), 200, "{res:?}");
    assert_eq!(res.text(), "ready\n");
    assert_eq!(res.header("retry-after"), None);
    assert_plain_and_uncached(&res, "ready");

    ready.store(false, Ordering::SeqCst);
    let res = client.get("/").send().await;
    assert_eq!(res.status().as_u16(), 503, "{res:?}");
    assert_eq!(res.text(), "not ready\n");
    assert_eq!(res.header("retry-after"), Some("1"));
    assert_plain_and_uncached(&res, "not ready");

    // And back: nothing is remembered between probes.
    ready.store(true, Ordering::SeqCst);
    let res = client.get("/?x=1").send().await;
    assert_eq!(res.status().as_u16(), 200, "{res:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "one check per request");
}

#[tokio::test]
async fn readiness_head_has_the_get_headers_and_no_body() {
    let (app, ready, _) = readiness();
    let client = TestClient::new(app);
    for (is_ready, status, length, retry) in [(true, 200, "6", None), (false, 503, "10", Some("1"))]
    {
        ready.store(is_ready, Ordering::SeqCst);
        let res = client.head("/").send().await;
        assert_eq!(res.status().as_u16(), status, "{res:?}");
        assert!(res.bytes().is_empty(), "a HEAD answer has no body: {res:?}");
        assert_eq!(res.header("content-length"), Some(length), "{res:?}");
        assert_eq!(res.header("retry-after"), retry, "{res:?}");
        assert_plain_and_uncached(&res, "HEAD");
    }
}

#[tokio::test]
async fn readiness_refuses_other_methods_without_asking_its_check() {
    for is_ready in [true, false] {
        let (app, ready, calls) = readiness();
        ready.store(is_ready, Ordering::SeqCst);
        let client = TestClient::new(app);
        assert_method_not_allowed(&client, &format!("Readiness ready={is_ready}")).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "the check ran for a 405");
    }
}

/// A request body is neither needed nor read: a `POST` with one gets its
/// `405`, a `GET` with one its answer.
#[tokio::test]
async fn a_request_body_changes_nothing() {
    let client = TestClient::new(Liveness::new());
    let res = client.post("/").body("x".repeat(100_000)).send().await;
    assert_eq!(res.status().as_u16(), 405, "{res:?}");
    let res = client.get("/").body("ignored").send().await;
    assert_eq!(res.text(), "ok\n", "{res:?}");
}

/// Behind a middleware (here one that counts calls), both stay ordinary
/// applications; clones share the check.
#[tokio::test]
async fn wrapped_and_cloned() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let count = from_fn(move |env: Environ, next| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move { next.run(env).await }
    });
    let (app, ready, _) = readiness();
    let copy = app.clone();
    ready.store(false, Ordering::SeqCst);
    let client = TestClient::new(copy.with(count));
    assert_eq!(client.get("/").send().await.status().as_u16(), 503);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert!(format!("{app:?}").starts_with("Readiness"));
    assert!(format!("{:?}", Liveness::new()).starts_with("Liveness"));
}

/// Every answer keeps the gateway contract (`Lint` checks the status,
/// the framing headers and the body against the request).
#[tokio::test]
async fn every_answer_passes_lint() {
    let (lint, violations) = Lint::collecting();
    let (readiness, ready, _) = readiness();
    let live = TestClient::new(Liveness::new().with(lint.clone()));
    let readiness = TestClient::new(readiness.with(lint));
    for is_ready in [true, false] {
        ready.store(is_ready, Ordering::SeqCst);
        for method in [Method::GET, Method::HEAD, Method::POST, Method::OPTIONS] {
            let a = live.request(method.clone(), "/").send().await;
            let b = readiness.request(method.clone(), "/").send().await;
            assert!(a.error().is_none() && b.error().is_none(), "{a:?} {b:?}");
        }
    }
    assert_eq!(violations.take(), Vec::new());
}
