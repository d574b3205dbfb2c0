//! `RequireLogin`: redirect or 401 by `Accept`, the `next` it sends, and
//! the whole round trip back after the login.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gateway_core::Error;
use gateway_core::test_client::TestClient;
use gateway_core::{Application, ApplicationExt, Environ, fn_app, start};
use gateway_middleware::Mount;
use gateway_middleware::auth::{
    AuthKey, Identity, InvalidLoginUrl, RequireLogin, SessionAuth, login, next_from_query,
    redirect_after_login,
};
use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
use http::{HeaderValue, StatusCode};

/// A protected application counting the requests that reach it.
fn protected(require: RequireLogin) -> (impl Application, Arc<AtomicUsize>) {
    let reached = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&reached);
    let app = fn_app(move |_env: Environ| {
        count.fetch_add(1, Ordering::Relaxed);
        async { start(200, [("content-type", "text/plain")]).body("secret") }
    })
    .with(require);
    (app, reached)
}

#[tokio::test]
async fn browsers_are_redirected_with_next_and_other_clients_get_401() {
    let (app, reached) = protected(RequireLogin::new("/login").unwrap());
    let client = TestClient::new(app);

    let res = client
        .get("/orders/42?tab=items&sort=-date")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.header("location"),
        Some("/login?next=/orders/42%3Ftab%3Ditems%26sort%3D-date")
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.header("vary"), Some("Accept"));

    let res = client
        .get("/orders/42")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.header("www-authenticate"),
        Some("Cookie realm=\"login\", form-action=\"/login\"")
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.header("vary"), Some("Accept"));
    assert_eq!(res.text(), "Unauthorized: log in first.\n");

    assert_eq!(reached.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn accept_decides_browser_or_not() {
    let (app, _) = protected(RequireLogin::new("/login").unwrap());
    let client = TestClient::new(app);
    let cases: &[(&[&[u8]], StatusCode)] = &[
        (&[], StatusCode::UNAUTHORIZED),
        (&[b"*/*"], StatusCode::UNAUTHORIZED),
        (&[b"text/*"], StatusCode::UNAUTHORIZED),
        (&[b"application/json"], StatusCode::UNAUTHORIZED),
        (&[b"text/html;q=0"], StatusCode::UNAUTHORIZED),
        (&[b"text/html; q=0.000"], StatusCode::UNAUTHORIZED),
        (&[b"text/html;q=oops"], StatusCode::UNAUTHORIZED),
        (&[b"text/htmlx"], StatusCode::UNAUTHORIZED),
        (&[b"\xfftext/html"], StatusCode::UNAUTHORIZED),
        // Not qvalues (RFC 9110 §12.4.2): the element counts for nothing.
        (&[b"text/html;q=inf"], StatusCode::UNAUTHORIZED),
        (&[b"text/html;q=1e3"], StatusCode::UNAUTHORIZED),
        (&[b"text/html;q=+5"], StatusCode::UNAUTHORIZED),
        // A comma inside a quoted parameter does not split the element.
        (&[b"text/html;x=\"a,b\";q=0"], StatusCode::UNAUTHORIZED),
        (&[b""], StatusCode::UNAUTHORIZED),
        (&[b"text/html"], StatusCode::SEE_OTHER),
        (&[b"TEXT/HTML"], StatusCode::SEE_OTHER),
        (&[b" text/html ; level=1 ; q=0.5 "], StatusCode::SEE_OTHER),
        (
            &[b"application/json, text/html;q=0.1"],
            StatusCode::SEE_OTHER,
        ),
        // HTTP/2 and some clients send one field line per value.
        (&[b"application/json", b"text/html"], StatusCode::SEE_OTHER),
    ];
    for (lines, expected) in cases {
        let mut req = client.get("/x");
        for line in *lines {
            req = req.header("accept", HeaderValue::from_bytes(line).unwrap());
        }
        let res = req.send().await;
        assert_eq!(res.status(), *expected, "Accept {lines:?}");
    }
}

#[tokio::test]
async fn an_unsafe_target_is_left_out_of_next() {
    let (app, _) = protected(RequireLogin::new("/login").unwrap());
    let client = TestClient::new(app);
    for target in ["/a/%2e%2e/b", "/a%2F%2Fevil.example", "/a/./b", "/%5Cevil"] {
        let res = client
            .get(target)
            .header("accept", "text/html")
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{target}");
        assert_eq!(res.header("location"), Some("/login"), "{target}");
    }
}

#[tokio::test]
async fn a_login_url_with_a_query_gets_next_appended() {
    for (url, location) in [
        ("/account/login?lang=en", "/account/login?lang=en&next=/x"),
        ("/account/login?", "/account/login?next=/x"),
        ("/account/login?lang=en&", "/account/login?lang=en&next=/x"),
    ] {
        let (app, _) = protected(RequireLogin::new(url).unwrap());
        let res = TestClient::new(app)
            .get("/x")
            .header("accept", "text/html")
            .send()
            .await;
        assert_eq!(res.header("location"), Some(location), "{url}");
        assert_eq!(
            res.header("location").map(|l| l.matches("next=").count()),
            Some(1)
        );
    }
}

#[tokio::test]
async fn under_a_mount_next_keeps_the_prefix() {
    let (app, _) = protected(RequireLogin::new("/login").unwrap());
    let site = Mount::new().mount("/shop", app);
    let res = TestClient::new(site)
        .get("/shop/cart?step=2")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(
        res.header("location"),
        Some("/login?next=/shop/cart%3Fstep%3D2")
    );
}

#[tokio::test]
async fn a_custom_challenge_is_sent() {
    let require = RequireLogin::new("/login")
        .unwrap()
        .challenge(HeaderValue::from_static("Bearer realm=\"api\""));
    let (app, _) = protected(require);
    let res = TestClient::new(app).get("/x").send().await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.header("www-authenticate"), Some("Bearer realm=\"api\""));
}

#[test]
fn login_urls_are_validated() {
    for bad in [
        "",
        "login",
        "//login",
        "/\\login",
        "https://example.com/login",
        "/login#form",
        "/log in",
        "/login\r\nx: y",
        "javascript:alert(1)",
    ] {
        let err = RequireLogin::new(bad).unwrap_err();
        assert_eq!(err, InvalidLoginUrl::clone(&err), "{bad:?}");
        assert!(err.to_string().starts_with("invalid login URL"), "{bad:?}");
    }
    for good in ["/", "/login", "/account/login?lang=en"] {
        assert!(RequireLogin::new(good).is_ok(), "{good}");
    }
}

#[tokio::test]
async fn the_round_trip_returns_to_the_page_asked_for() {
    // Sessions, SessionAuth, then a router: `/login` logs `ada` in and
    // redirects to `next`; everything else is behind RequireLogin.
    let key = AuthKey::generate();
    let login_key = key.clone();
    let protected = Arc::new(
        fn_app(|env: Environ| async move {
            let who = Identity::of(&env)
                .expect("RequireLogin let it through")
                .id();
            start(200, [("content-type", "text/plain")]).body(format!("the orders of {who}"))
        })
        .with(RequireLogin::new("/login").unwrap()),
    );
    let app = fn_app(move |env: Environ| {
        let protected = Arc::clone(&protected);
        let key = login_key.clone();
        async move {
            if env.path_info() == "/login" {
                // (check the password first)
                let session = Session::of(&env).expect("inside Sessions");
                login(&session, &String::from("ada"), &key).await?;
                return redirect_after_login(next_from_query(&env).as_deref(), "/");
            }
            protected.call(env).await
        }
    })
    .with(SessionAuth::new(
        |id: String| async move { Ok::<_, Error>(Some(id)) },
        key,
    ))
    .with(Sessions::new(MemoryStore::new()));
    let client = TestClient::new(app);

    let res = client
        .get("/orders/42?tab=items")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to_login = res.header("location").unwrap().to_owned();
    assert_eq!(to_login, "/login?next=/orders/42%3Ftab%3Ditems");

    let res = client
        .get(&to_login)
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/orders/42?tab=items"));
    assert_eq!(res.header("cache-control"), Some("no-store"));

    let res = client
        .get("/orders/42?tab=items")
        .header("accept", "text/html")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), "the orders of ada");

    // A hostile `next` at the login goes to the default instead.
    let res = client.get("/login?next=%2F%2Fevil.example").send().await;
    assert_eq!(res.header("location"), Some("/"));
}

#[test]
fn next_from_query_takes_exactly_one_safe_value() {
    let env = |uri: &str| {
        Environ::from_request(
            http::Request::get(uri)
                .body(gateway_core::Body::empty())
                .unwrap(),
        )
    };
    assert_eq!(
        next_from_query(&env("/login?next=/a/b%3Fx%3D1")).as_deref(),
        Some("/a/b?x=1")
    );
    assert_eq!(
        next_from_query(&env("/login?a=1&next=%2F&b=2")).as_deref(),
        Some("/")
    );
    assert_eq!(next_from_query(&env("/login?next=")), None);
    assert_eq!(next_from_query(&env("/login?next=%2F%2Fevil")), None);
    assert_eq!(next_from_query(&env("/login?next=/a&next=/b")), None);
    assert_eq!(next_from_query(&env("/login?next=/a&next=//evil")), None);
    assert_eq!(next_from_query(&env("/login?next=%FF")), None);
    // `+` is a space in a query: `/a+b` decodes to "/a b", refused.
    assert_eq!(next_from_query(&env("/login?next=/a+b")), None);
}
