//! The header checks: `Sec-Fetch-Site`, then `Origin` against the host and
//! the trusted origins (Go 1.25's `CrossOriginProtection`), and the safe
//! methods.

use gateway_core::test_client::TestClient;
use gateway_core::{ApplicationExt, fn_app, start};
use gateway_middleware::auth::{Csrf, CsrfRejection};
use http::Method;

use crate::support::{assert_passed, assert_refused, client, client_with};

const UNSAFE: [&str; 5] = ["POST", "PUT", "PATCH", "DELETE", "TRACE"];

#[tokio::test]
async fn cross_site_fetch_metadata_is_refused() {
    let (client, reached) = client();
    for method in UNSAFE {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let res = client
            .request(method.clone(), "/")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await;
        assert_refused(&res, CsrfRejection::CrossSite);
        // An Origin equal to the host does not override the browser's
        // word that the request is cross-site.
        let res = client
            .request(method, "/")
            .header("sec-fetch-site", "cross-site")
            .header("origin", "http://localhost")
            .send()
            .await;
        assert_refused(&res, CsrfRejection::CrossSite);
    }
    assert_eq!(reached.count(), 0);
}

#[tokio::test]
async fn same_site_and_unknown_values_are_refused() {
    let (client, reached) = client();
    // `same-site` is a sibling subdomain: another origin.
    for value in [
        "same-site",
        "Same-Origin",
        "SAME-ORIGIN",
        "None",
        "cross-site, same-origin",
        "x",
    ] {
        let res = client
            .post("/")
            .header("sec-fetch-site", value)
            .send()
            .await;
        assert_refused(&res, CsrfRejection::CrossSite);
    }
    assert_eq!(reached.count(), 0);
}

#[tokio::test]
async fn same_origin_and_none_pass() {
    let (client, reached) = client();
    for value in ["same-origin", "none"] {
        let res = client
            .post("/")
            .header("sec-fetch-site", value)
            .body("payload")
            .send()
            .await;
        assert_passed(&res);
        assert_eq!(res.text(), "payload");
        // Go: Sec-Fetch-Site decides when present; Origin is not consulted.
        let res = client
            .put("/")
            .header("sec-fetch-site", value)
            .header("origin", "https://elsewhere.example")
            .send()
            .await;
        assert_passed(&res);
    }
    assert_eq!(reached.count(), 4);
}

#[tokio::test]
async fn origin_without_fetch_metadata() {
    let (client, reached) = client();
    // The client's host is `localhost`.
    for origin in ["http://localhost", "https://localhost"] {
        let res = client
            .post("/")
            .header("origin", origin)
            .body("ok")
            .send()
            .await;
        assert_passed(&res);
        assert_eq!(res.text(), "ok");
    }
    assert_eq!(reached.count(), 2);
    for origin in [
        "https://evil.example",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://localhost.",
        "http://evil@localhost",
        "http://localhost/",
        "http://localhost/path",
        "localhost",
        "null",
        "http://",
        " http://localhost",
    ] {
        let res = client.post("/").header("origin", origin).send().await;
        assert_refused(&res, CsrfRejection::OriginMismatch);
    }
    assert_eq!(reached.count(), 2);
}

#[tokio::test]
async fn origin_is_compared_with_the_requests_host() {
    let (client, _) = client();
    // Host header.
    let res = client
        .post("/")
        .header("host", "shop.example:8443")
        .header("origin", "https://shop.example:8443")
        .send()
        .await;
    assert_passed(&res);
    let res = client
        .post("/")
        .header("host", "shop.example:8443")
        .header("origin", "https://shop.example")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    // An absolute-form target's authority.
    let res = client
        .post("http://api.example/orders")
        .header("origin", "http://api.example")
        .send()
        .await;
    assert_passed(&res);
    // No usable host: nothing matches.
    let res = client
        .post("/")
        .header("host", "bad host")
        .header("origin", "http://bad host")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
}

#[tokio::test]
async fn trusted_origins_pass() {
    let (client, reached) = client_with(
        Csrf::new().trusted_origins(["https://checkout.example.net", "http://[::1]:3000"]),
    );
    for origin in ["https://checkout.example.net", "http://[::1]:3000"] {
        for fetch_site in [None, Some("cross-site"), Some("same-site")] {
            let mut req = client.post("/").header("origin", origin);
            if let Some(value) = fetch_site {
                req = req.header("sec-fetch-site", value);
            }
            assert_passed(&req.send().await);
        }
    }
    assert_eq!(reached.count(), 6);
    // Byte-exact: near misses are not trusted.
    for origin in [
        "https://checkout.example.net/",
        "https://checkout.example.net:443",
        "https://CHECKOUT.example.net",
        "http://checkout.example.net",
        "https://x.checkout.example.net",
    ] {
        let res = client
            .post("/")
            .header("sec-fetch-site", "cross-site")
            .header("origin", origin)
            .send()
            .await;
        assert_refused(&res, CsrfRejection::CrossSite);
        let res = client.post("/").header("origin", origin).send().await;
        assert_refused(&res, CsrfRejection::OriginMismatch);
    }
    // Cross-site without an Origin: nothing to trust.
    let res = client
        .post("/")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    assert_eq!(reached.count(), 6);
}

#[tokio::test]
async fn safe_methods_are_never_blocked() {
    let (client, reached) = client();
    let hostile = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "null"),
        ("x-csrf-token", "wrong"),
    ];
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        let mut req = client.request(method.clone(), "/anything");
        for (name, value) in hostile {
            req = req.header(name, value);
        }
        let res = req.send().await;
        assert_passed(&res);
        // And with nothing at all (no session, no token).
        assert_passed(&client.request(method, "/anything").send().await);
    }
    assert_eq!(reached.count(), 6);
    // A method spelled in lower case is another method (RFC 9110 §9.1):
    // checked.
    let lower = Method::from_bytes(b"get").unwrap();
    let res = client
        .request(lower, "/")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
}

#[tokio::test]
async fn without_the_token_fallback_header_less_requests_pass() {
    let (client, reached) = client_with(Csrf::new().token_fallback(false));
    assert_passed(&client.post("/").body("x").send().await);
    assert_passed(&client.delete("/").send().await);
    assert_eq!(reached.count(), 2);
    // The header checks are unchanged.
    let res = client
        .post("/")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    let res = client.post("/").header("origin", "null").send().await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    assert_eq!(reached.count(), 2);
}

#[tokio::test]
async fn without_sessions_the_header_checks_still_work() {
    let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("done") })
        .with(Csrf::new());
    let client = TestClient::new(app);
    let res = client
        .post("/")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await;
    assert_eq!(res.text(), "done");
    let res = client
        .post("/")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    // Token mode without a session to hold the secret: refused.
    let res = client.post("/").send().await;
    assert_refused(&res, CsrfRejection::NoSecret);
}

#[test]
fn trusted_origins_are_validated() {
    assert!(
        Csrf::new()
            .try_trusted_origins(["https://a.example"])
            .is_ok()
    );
    let err = Csrf::new()
        .try_trusted_origins(["https://a.example", "https://b.example/"])
        .unwrap_err();
    assert_eq!(err.origin(), "https://b.example/");
    assert!(err.to_string().contains("no path"), "{err}");
    for bad in [
        "null",
        "*",
        "https://*.example.com",
        "https://a.example:443",
        "a.example",
    ] {
        assert!(Csrf::new().try_trusted_origins([bad]).is_err(), "{bad}");
    }
}

#[test]
#[should_panic(expected = "invalid trusted origin \"https://a.example:443\"")]
fn an_invalid_trusted_origin_panics() {
    let _ = Csrf::new().trusted_origins(["https://a.example:443"]);
}

#[tokio::test]
async fn configuring_a_clone_leaves_the_original() {
    // Configuring a clone does not change the original.
    let base = Csrf::new();
    let trusting = base.clone().trusted_origins(["https://a.example"]);
    let (strict, _) = client_with(base);
    let (lenient, _) = client_with(trusting);
    let origin = "https://a.example";
    assert_refused(
        &strict.post("/").header("origin", origin).send().await,
        CsrfRejection::OriginMismatch,
    );
    assert_passed(&lenient.post("/").header("origin", origin).send().await);
}
