//! `ConditionalGet` through `TestClient`: 304 and 412 from a dynamic
//! response's validators, which fields a 304 keeps, and everything that
//! must pass through untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gateway_core::test_client::TestClient;
use gateway_core::{Application, ApplicationExt, Environ, Error, Response, fn_app, start};
use gateway_middleware::ConditionalGet;
use http::Method;

const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

/// A page with a full set of fields; `/weak` has a weak tag, `/dated`
/// only a date, `/plain` no validator, `/missing` is a 404 with a tag,
/// `/bad-date` an unparsable `Last-Modified`. Counts its calls.
fn page(calls: Arc<AtomicUsize>) -> impl Application {
    fn_app(move |env: Environ| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let mut res = start(200, [("content-type", "text/html; charset=utf-8")])
                .header("content-language", "en")
                .header("x-request-id", "abc")
                .header("cache-control", "max-age=60")
                .header("vary", "accept-encoding")
                .header("vary", "cookie")
                .header("set-cookie", "a=1; Path=/")
                .header("set-cookie", "b=2; Path=/")
                .header("date", LATER)
                .header("expires", LATER)
                .header("content-location", "/page.html")
                .extension(Marker);
            res = match env.path_info() {
                "/page" => res
                    .header("etag", "\"v1\"")
                    .header("last-modified", LAST_MODIFIED),
                "/weak" => res.header("etag", "W/\"v1\""),
                "/dated" => res.header("last-modified", LAST_MODIFIED),
                "/bad-date" => res.header("last-modified", "yesterday"),
                "/plain" => res,
                "/missing" => return start(404, [("etag", "\"v1\"")]).body("no such page"),
                "/fails" => return Err(Error::new("database down")),
                other => panic!("unexpected path {other}"),
            };
            let body = format!("{} {}", env.method(), env.path_info());
            res.body(body)
        }
    })
}

#[derive(Clone, Debug, PartialEq)]
struct Marker;

fn client() -> (TestClient<impl Application>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    (
        TestClient::new(page(calls.clone()).with(ConditionalGet)),
        calls,
    )
}

#[tokio::test]
async fn not_modified_keeps_only_cache_fields() {
    let (client, calls) = client();
    for method in [Method::GET, Method::HEAD] {
        let res = client
            .request(method.clone(), "/page")
            .header("if-none-match", "\"v1\"")
            .without_cookies()
            .send()
            .await;
        assert_eq!(res.status(), 304, "{method}");
        assert!(res.bytes().is_empty(), "{method}");
        let mut names: Vec<&str> = res.headers().keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "cache-control",
                "content-location",
                "date",
                "etag",
                "expires",
                "last-modified",
                "set-cookie",
                "vary",
            ],
            "{method}"
        );
        let all = |name| {
            res.headers()
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(all("vary"), ["accept-encoding", "cookie"]);
        assert_eq!(all("set-cookie"), ["a=1; Path=/", "b=2; Path=/"]);
        assert_eq!(all("etag"), ["\"v1\""]);
        assert_eq!(all("last-modified"), [LAST_MODIFIED]);
        assert_eq!(all("cache-control"), ["max-age=60"]);
        assert_eq!(res.extensions().get::<Marker>(), Some(&Marker));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn if_none_match() {
    let (client, _) = client();
    for (path, value, status) in [
        ("/page", "\"v1\"", 304),
        ("/page", "W/\"v1\"", 304),
        ("/page", "\"v0\", \"v1\"", 304),
        ("/page", "*", 304),
        ("/page", "\"v0\"", 200),
        ("/page", "v1", 200),
        ("/weak", "\"v1\"", 304),
        ("/weak", "W/\"v1\"", 304),
        ("/dated", "*", 304),
        ("/dated", "\"v1\"", 200),
    ] {
        let res = client.get(path).header("if-none-match", value).send().await;
        assert_eq!(res.status(), status, "{path} if-none-match: {value}");
        if status == 200 {
            assert_eq!(res.text(), format!("GET {path}"));
            assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
            assert_eq!(res.header("x-request-id"), Some("abc"));
        }
    }
}

#[tokio::test]
async fn if_none_match_on_several_field_lines() {
    let (client, _) = client();
    let res = client
        .get("/page")
        .header("if-none-match", "\"a\"")
        .header("if-none-match", "\"v1\"")
        .send()
        .await;
    assert_eq!(res.status(), 304);
}

#[tokio::test]
async fn if_modified_since() {
    let (client, _) = client();
    for (path, date, status) in [
        ("/page", LAST_MODIFIED, 304),
        ("/page", LATER, 304),
        ("/page", EARLIER, 200),
        ("/dated", LAST_MODIFIED, 304),
        ("/dated", "Sunday, 06-Nov-94 08:49:37 GMT", 304),
        ("/dated", "Sun Nov  6 08:49:37 1994", 304),
        ("/dated", "not a date", 200),
        // No date to compare with.
        ("/weak", LATER, 200),
        ("/bad-date", LATER, 200),
    ] {
        let res = client
            .get(path)
            .header("if-modified-since", date)
            .send()
            .await;
        assert_eq!(res.status(), status, "{path} if-modified-since: {date}");
    }
}

#[tokio::test]
async fn if_none_match_hides_if_modified_since() {
    let (client, _) = client();
    // The date alone would be a 304; the tag does not match.
    let res = client
        .get("/page")
        .header("if-none-match", "\"v0\"")
        .header("if-modified-since", LATER)
        .send()
        .await;
    assert_eq!(res.status(), 200);
    // The date alone would be a 200; the tag matches.
    let res = client
        .get("/page")
        .header("if-none-match", "\"v1\"")
        .header("if-modified-since", EARLIER)
        .send()
        .await;
    assert_eq!(res.status(), 304);
}

#[tokio::test]
async fn failed_preconditions_are_412() {
    let (client, _) = client();
    for (path, name, value, status) in [
        ("/page", "if-match", "\"v1\"", 200),
        ("/page", "if-match", "*", 200),
        ("/page", "if-match", "\"v0\"", 412),
        ("/page", "if-match", "W/\"v1\"", 412),
        // Strong comparison: a weak tag never matches.
        ("/weak", "if-match", "W/\"v1\"", 412),
        ("/weak", "if-match", "*", 200),
        ("/page", "if-unmodified-since", LAST_MODIFIED, 200),
        ("/page", "if-unmodified-since", EARLIER, 412),
        ("/page", "if-unmodified-since", "garbage", 200),
    ] {
        let res = client.get(path).header(name, value).send().await;
        assert_eq!(res.status(), status, "{path} {name}: {value}");
        if status == 412 {
            assert!(res.bytes().is_empty());
            let names: Vec<&str> = res
                .headers()
                .keys()
                .map(|n| n.as_str())
                .filter(|n| *n != "content-length")
                .collect();
            assert!(names.is_empty(), "{names:?}");
        }
    }
}

#[tokio::test]
async fn failed_if_match_wins_over_if_none_match() {
    let (client, _) = client();
    let res = client
        .get("/page")
        .header("if-match", "\"v0\"")
        .header("if-none-match", "\"v1\"")
        .send()
        .await;
    assert_eq!(res.status(), 412);
    // If-Match passes, so If-None-Match decides.
    let res = client
        .get("/page")
        .header("if-match", "\"v1\"")
        .header("if-none-match", "\"v1\"")
        .send()
        .await;
    assert_eq!(res.status(), 304);
}

#[tokio::test]
async fn other_responses_pass_through() {
    let (client, _) = client();
    // Not a 200.
    let res = client
        .get("/missing")
        .header("if-none-match", "\"v1\"")
        .send()
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.text(), "no such page");
    // No validator: even `*` cannot match.
    for (name, value) in [("if-none-match", "*"), ("if-match", "\"x\"")] {
        let res = client.get("/plain").header(name, value).send().await;
        assert_eq!(res.status(), 200, "{name}");
        assert_eq!(res.text(), "GET /plain");
    }
    // An error stays an error.
    let res = client
        .get("/fails")
        .header("if-none-match", "*")
        .send()
        .await;
    assert_eq!(res.status(), 500);
}

#[tokio::test]
async fn other_methods_pass_through() {
    let (client, calls) = client();
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
        for (name, value) in [
            ("if-none-match", "\"v1\""),
            ("if-match", "\"v0\""),
            ("if-unmodified-since", EARLIER),
        ] {
            let res = client
                .request(method.clone(), "/page")
                .header(name, value)
                .send()
                .await;
            assert_eq!(res.status(), 200, "{method} {name}");
            assert_eq!(res.text(), format!("{method} /page"));
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 12);
}

#[tokio::test]
async fn unconditional_requests_are_untouched() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = fn_app(move |env: Environ| {
        let record = record.clone();
        async move {
            let names: Vec<String> = env.headers().keys().map(|n| n.to_string()).collect();
            record.lock().unwrap().push(names);
            start(200, [("etag", "\"v1\""), ("content-type", "text/plain")]).body("body")
        }
    })
    .with(ConditionalGet);
    let client = TestClient::new(app);

    let res = client.get("/").header("range", "bytes=0-1").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), "body");
    assert_eq!(res.header("etag"), Some("\"v1\""));
    assert_eq!(res.header("content-type"), Some("text/plain"));

    // The application still sees the conditional headers (it may answer
    // them itself).
    let res = client
        .get("/")
        .header("if-none-match", "\"v1\"")
        .send()
        .await;
    assert_eq!(res.status(), 304);
    let seen = seen.lock().unwrap();
    assert!(seen[1].iter().any(|n| n == "if-none-match"), "{seen:?}");
}

#[tokio::test]
async fn an_application_answering_itself_is_left_alone() {
    let app = fn_app(|env: Environ| async move {
        if env.headers().contains_key("if-none-match") {
            return start(304, [("etag", "\"v1\""), ("x-own", "yes")]).empty();
        }
        start(200, [("etag", "\"v1\"")]).body("body")
    })
    .with(ConditionalGet);
    let res = TestClient::new(app)
        .get("/")
        .header("if-none-match", "\"v1\"")
        .send()
        .await;
    assert_eq!(res.status(), 304);
    assert_eq!(res.header("x-own"), Some("yes"));
}

#[tokio::test]
async fn startup_and_shutdown_are_forwarded() {
    struct Lifecycle(Arc<AtomicUsize>);

    impl Application for Lifecycle {
        async fn call(&self, _env: Environ) -> Result<Response, Error> {
            start(204, gateway_core::response::NO_HEADERS).empty()
        }
        async fn startup(&self) -> Result<(), Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn shutdown(&self) {
            self.0.fetch_add(10, Ordering::SeqCst);
        }
    }

    let count = Arc::new(AtomicUsize::new(0));
    let app = Lifecycle(count.clone()).with(ConditionalGet);
    app.startup().await.unwrap();
    app.shutdown().await;
    assert_eq!(count.load(Ordering::SeqCst), 11);
}
