use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::header::{ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};

use super::*;
use crate::app_impl::fn_app;
use crate::driver::ErrorCause;
use crate::lint::Lint;
use crate::middleware_impl::{ApplicationExt, from_fn};
use crate::response_impl::{NO_HEADERS, start};
use crate::test_client::TestClient;

/// What the renderer was given, per call: status, message, panic message.
type Seen = Arc<Mutex<Vec<(u16, String, Option<String>)>>>;

fn app() -> impl Application {
    fn_app(|env| async move {
        match env.path_info() {
            "/ok" => start(200, [("content-type", "text/plain")]).body("fine"),
            "/panic" => panic!("the index is {}", 7),
            "/gone" => Err(Error::with_status(StatusCode::GONE, "deleted on Monday")),
            "/odd" => Err(Error::with_status(StatusCode::OK, "not an error status")),
            "/busy" => Err(
                Error::with_status(StatusCode::SERVICE_UNAVAILABLE, "maintenance")
                    .with_header(RETRY_AFTER, HeaderValue::from(120))
                    .with_header(CONNECTION, HeaderValue::from_static("close"))
                    .with_header(CONTENT_TYPE, HeaderValue::from_static("text/x-error")),
            ),
            "/admin" => Err(
                Error::with_status(StatusCode::UNAUTHORIZED, "no credentials")
                    .with_header(
                        WWW_AUTHENTICATE,
                        HeaderValue::from_static(r#"Basic realm="admin""#),
                    )
                    .with_header(ALLOW, HeaderValue::from_static("GET")),
            ),
            "/body-error" => start(200, [("content-type", "text/plain")])
                .writer(|_w| async { Err(Error::new("the disk went away")) }),
            "/body-panic" => start(200, [("content-type", "text/plain")])
                .writer(|_w| async { panic!("in body") }),
            "/late-error" => {
                start(200, [("content-type", "text/plain")]).writer(|mut w| async move {
                    w.write("partial").await?;
                    Err(Error::new("after the commit"))
                })
            }
            _ => Err(Error::new("database unavailable")),
        }
    })
}

fn renderer(seen: Seen) -> impl RenderError {
    move |err: &Error, req: &FailedRequest| {
        seen.lock().unwrap().push((
            err.status().as_u16(),
            err.to_string(),
            err.panic_message().map(str::to_owned),
        ));
        let status = err.status();
        if req.accept().is_some_and(|a| a.contains("application/json")) {
            start(status, [("content-type", "application/json")])
                .body(format!(r#"{{"error":{}}}"#, status.as_u16()))
        } else {
            start(
                status,
                [("content-type", "text/html"), (ALLOW.as_str(), "POST")],
            )
            .body(format!("<h1>{} {}</h1>", status.as_u16(), req.uri().path()))
        }
    }
}

/// `app` inside a middleware counting the requests it sees and recording
/// the statuses it sees come back.
fn counted(
    app: impl Application,
    count: Arc<AtomicUsize>,
    statuses: Arc<Mutex<Vec<u16>>>,
) -> impl Application {
    app.with(from_fn(move |env, next| {
        let count = count.clone();
        let statuses = statuses.clone();
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            let res = next.run(env).await?;
            statuses.lock().unwrap().push(res.status().as_u16());
            Ok(res)
        }
    }))
}

#[tokio::test]
async fn a_middleware_outside_sees_every_request_and_the_rendered_page() {
    let seen = Seen::default();
    let count = Arc::new(AtomicUsize::new(0));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let client = TestClient::new(counted(
        app().with(HandleErrors::new(renderer(seen.clone()))),
        count.clone(),
        statuses.clone(),
    ));

    let res = client.get("/ok").send().await;
    assert_eq!((res.status().as_u16(), res.text().as_str()), (200, "fine"));
    assert!(res.error().is_none());

    let res = client.get("/panic").send().await;
    assert_eq!(res.status(), 500, "{res:?}");
    assert_eq!(res.text(), "<h1>500 /panic</h1>");
    assert_eq!(res.error().unwrap().panic_message(), Some("the index is 7"));

    let res = client
        .get("/gone")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(res.status(), 410);
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.text(), r#"{"error":410}"#);

    let res = client.get("/db").send().await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.error().unwrap().to_string(), "database unavailable");

    assert_eq!(
        count.load(Ordering::SeqCst),
        4,
        "every request, panics included"
    );
    assert_eq!(*statuses.lock().unwrap(), [200, 500, 410, 500]);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                500,
                "panicked: the index is 7".to_owned(),
                Some("the index is 7".to_owned())
            ),
            (410, "410 Gone: deleted on Monday".to_owned(), None),
            (500, "database unavailable".to_owned(), None),
        ]
    );
}

#[tokio::test]
async fn a_body_failing_before_its_first_data_is_rendered() {
    let seen = Seen::default();
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let client = TestClient::new(counted(
        app().with(HandleErrors::new(renderer(seen.clone()))),
        Arc::default(),
        statuses.clone(),
    ));
    let res = client.get("/body-error").send().await;
    assert_eq!(res.status(), 500, "{res:?}");
    assert_eq!(res.text(), "<h1>500 /body-error</h1>");
    assert_eq!(res.error().unwrap().to_string(), "the disk went away");

    let res = client.get("/body-panic").send().await;
    assert_eq!(res.text(), "<h1>500 /body-panic</h1>");
    assert_eq!(res.error().unwrap().panic_message(), Some("in body"));
    assert_eq!(
        *statuses.lock().unwrap(),
        [500, 500],
        "seen by the middleware outside"
    );

    // After the first data, the response is committed: the driver aborts.
    let res = client.get("/late-error").send().await;
    assert_eq!(res.status(), 200);
    assert!(res.is_aborted());
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_bodiless_answer_is_not_prefetched() {
    let polled = Arc::new(AtomicUsize::new(0));
    let counter = polled.clone();
    let app = fn_app(move |_| {
        let counter = counter.clone();
        async move {
            start(200, [("content-type", "text/plain")]).writer(move |mut w| async move {
                counter.fetch_add(1, Ordering::SeqCst);
                w.write("x").await
            })
        }
    })
    .with(HandleErrors::new(renderer(Seen::default())));
    let res = TestClient::new(app).head("/").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        polled.load(Ordering::SeqCst),
        0,
        "HEAD's body is never polled"
    );
}

#[tokio::test]
async fn the_errors_headers_are_added_unless_the_renderer_set_them() {
    let client = TestClient::new(app().with(HandleErrors::new(renderer(Seen::default()))));
    let res = client.get("/admin").send().await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.header("www-authenticate"),
        Some(r#"Basic realm="admin""#)
    );
    assert_eq!(res.header("allow"), Some("POST"), "the renderer's own wins");
    assert_eq!(res.header("content-type"), Some("text/html"));
}

/// As on the driver's page, an error's connection-specific headers are
/// not the response's: a `Lint` outside sees a clean response.
#[tokio::test]
async fn the_errors_connection_specific_headers_are_not_added() {
    let (lint, violations) = Lint::collecting();
    let app = app()
        .with(HandleErrors::new(renderer(Seen::default())))
        .with(lint);
    let res = TestClient::new(app).get("/busy").send().await;
    assert_eq!(res.status(), 503, "{res:?}");
    assert_eq!(res.header("retry-after"), Some("120"));
    assert_eq!(res.header("connection"), None);
    violations.assert_none();
}

/// `Content-Type` describes the body the renderer wrote, never the
/// error's: a renderer that sets none gets none from the error.
#[tokio::test]
async fn the_errors_content_type_is_not_added() {
    let plain = |err: &Error, _: &FailedRequest| start(err.status(), NO_HEADERS).body("busy");
    let res = TestClient::new(app().with(HandleErrors::new(plain)))
        .get("/busy")
        .send()
        .await;
    assert_eq!(res.status(), 503, "{res:?}");
    assert_eq!(res.header("retry-after"), Some("120"));
    assert_eq!(res.header("content-type"), None);
}

#[tokio::test]
async fn a_status_that_is_not_an_error_is_rendered_as_500() {
    let seen = Seen::default();
    let client = TestClient::new(app().with(HandleErrors::new(renderer(seen.clone()))));
    let res = client.get("/odd").send().await;
    assert_eq!(res.status(), 500);
    assert_eq!(seen.lock().unwrap()[0].0, 500);
}

#[tokio::test]
async fn a_failing_renderer_leaves_the_error_to_the_driver() {
    let failing = |_: &Error, _: &FailedRequest| -> Result<Response, Error> {
        start(200, [("bad header", "x")]).empty()
    };
    let client = TestClient::new(app().with(HandleErrors::new(failing)));
    let res = client.get("/gone").send().await;
    assert_eq!(res.status(), 410);
    assert_eq!(res.text(), "Gone", "the driver's page");
    assert_eq!(
        res.error().unwrap().to_string(),
        "410 Gone: deleted on Monday"
    );

    let panicking = |_: &Error, _: &FailedRequest| -> Result<Response, Error> { panic!("oops") };
    let client = TestClient::new(app().with(HandleErrors::new(panicking)));
    let res = client.get("/gone").send().await;
    assert_eq!((res.status().as_u16(), res.text().as_str()), (410, "Gone"));
}

#[tokio::test]
async fn the_rendered_response_carries_the_cause() {
    let client = TestClient::new(app().with(HandleErrors::new(renderer(Seen::default()))));
    let res = client.get("/gone").send().await;
    let cause = res.extensions().get::<ErrorCause>().expect("a cause");
    assert_eq!(cause.error().status(), StatusCode::GONE);
    let res = client.get("/ok").send().await;
    assert!(res.extensions().get::<ErrorCause>().is_none());
}

/// `DriverPage` inside the stack answers every failure exactly as the
/// driver would outside it: status, headers, body, HEAD's length.
#[tokio::test]
async fn driver_page_matches_the_drivers_own_page() {
    let inside = TestClient::new(app().with(HandleErrors::new(DriverPage)));
    let outside = TestClient::new(app());
    for path in [
        "/panic",
        "/gone",
        "/odd",
        "/busy",
        "/admin",
        "/body-error",
        "/body-panic",
        "/other",
    ] {
        for method in [Method::GET, Method::HEAD] {
            let a = inside.request(method.clone(), path).send().await;
            let b = outside.request(method.clone(), path).send().await;
            assert_eq!(a.status(), b.status(), "{method} {path}");
            assert_eq!(a.headers(), b.headers(), "{method} {path}");
            assert_eq!(a.bytes(), b.bytes(), "{method} {path}");
            // HEAD never polls the body (rule 4): no body error, a 200.
            let failed = a.status().is_client_error() || a.status().is_server_error();
            assert_eq!(failed, method == Method::GET || !path.starts_with("/body"));
            assert_eq!(
                a.error().is_some(),
                failed,
                "{method} {path}: the cause is kept"
            );
        }
    }
}
