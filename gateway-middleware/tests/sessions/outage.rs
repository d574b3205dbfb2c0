//! Store outage: fail-closed (503 + Retry-After) and fail-open.

use std::time::Duration;

use gateway_core::ApplicationExt;
use gateway_core::test_client::TestClient;
use gateway_middleware::sessions::{Hold, OnStoreError, Sessions};
use serde_json::json;

use crate::support::{Flaky, app, json};

#[tokio::test]
async fn fail_closed() {
    let flaky = Flaky::default();
    let sessions = Sessions::new(flaky.clone()).retry_after(Duration::from_secs(7));
    let client = TestClient::new(app().with(sessions.clone()));
    client.get("/set/user/ada").send().await;
    flaky.set_down(true);

    // Cookieless requests are served without touching the store.
    let failures = flaky.failures.load(std::sync::atomic::Ordering::SeqCst);
    for path in ["/plain", "/get/user"] {
        let res = client.get(path).without_cookies().send().await;
        assert_eq!(res.status(), 200, "{path}");
    }
    assert_eq!(
        flaky.failures.load(std::sync::atomic::Ordering::SeqCst),
        failures
    );
    // The session's own requests get 503, never a 500 or a new session.
    for path in ["/get/user", "/set/user/bob", "/destroy", "/cycle"] {
        let res = client.get(path).send().await;
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(res.header("retry-after"), Some("7"));
        assert!(res.header("set-cookie").is_none());
    }
    // A new session cannot be created either.
    let res = client.get("/set/k/v").without_cookies().send().await;
    assert_eq!(res.status(), 503);
    assert!(res.header("set-cookie").is_none());
    assert!(sessions.stats().store_errors > 0);

    flaky.set_down(false);
    assert_eq!(json(&client.get("/get/user").send().await), json!("ada"));
}

#[tokio::test]
async fn a_failed_save_is_a_503_too() {
    let flaky = Flaky::default();
    let client = TestClient::new(app().with(Sessions::new(flaky.clone())));
    client.get("/set/user/ada").send().await;
    let hold = Hold::new();
    let held = client.get("/set/user/bob").extension(hold.clone()).send();
    let outage = async {
        hold.reached().await;
        flaky.set_down(true);
        hold.release();
    };
    let (res, ()) = tokio::join!(held, outage);
    assert_eq!(res.status(), 503);
    assert!(res.header("retry-after").is_some());
    assert!(res.header("set-cookie").is_none());
    flaky.set_down(false);
    assert_eq!(json(&client.get("/get/user").send().await), json!("ada"));
}

#[tokio::test]
async fn fail_open() {
    let flaky = Flaky::default();
    let sessions = Sessions::new(flaky.clone()).on_store_error(OnStoreError::FailOpen);
    let client = TestClient::new(app().with(sessions));
    client.get("/set/user/ada").send().await;
    flaky.set_down(true);
    let res = client.get("/get/user").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(&res), json!(null));
    let res = client.get("/set/user/bob").send().await;
    assert_eq!(res.status(), 200);
    assert!(
        res.header("set-cookie").is_none(),
        "the cookie is left alone"
    );
    flaky.set_down(false);
    assert_eq!(json(&client.get("/get/user").send().await), json!("ada"));
}
