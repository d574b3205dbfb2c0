//! `Lint`: every rule has a test that breaks it, next to the well-behaved
//! case that must report nothing. Requests go through `TestClient`, that
//! is, through the same driver a server uses.
#![cfg(feature = "test-client")]

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::lint::{Lint, Rule, Severity, Violation, Violations};
use gateway_core::middleware::Identity;
use gateway_core::test_client::{TestClient, TestResponse};
use gateway_core::{
    Application, ApplicationExt, Body, Environ, Error, Response, ResponseExt, fn_app, from_fn,
    start,
};
use http::{HeaderMap, Method, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

/// `app` wrapped in a collecting `Lint`, behind a test client.
fn linted<A: Application>(app: A) -> (TestClient<impl Application>, Violations) {
    let (lint, violations) = Lint::collecting();
    (TestClient::new(app.with(lint)), violations)
}

/// `GET /` from an application answering with `respond()`, under a
/// collecting `Lint`: the response, and the rules it broke.
async fn get_linted<F>(respond: F) -> (TestResponse, Vec<Rule>)
where
    F: Fn() -> Result<Response, Error> + Send + Sync + 'static,
{
    let (client, violations) = linted(answer(respond));
    let res = client.get("/").send().await;
    (res, rules(&violations))
}

/// The rules of the violations found so far (taking them).
fn rules(violations: &Violations) -> Vec<Rule> {
    violations.take().iter().map(Violation::rule).collect()
}

/// An application answering every request with `respond()`.
fn answer<F>(respond: F) -> impl Application
where
    F: Fn() -> Result<Response, Error> + Send + Sync + 'static,
{
    fn_app(move |_env| std::future::ready(respond()))
}

/// A stream body of the given chunks; its size is unknown.
fn chunks<const N: usize>(parts: [&'static str; N]) -> Body {
    Body::from_stream(futures_util::stream::iter(
        parts.map(Ok::<_, std::io::Error>),
    ))
}

/// A body yielding `frames`, claiming `hint` (or, when `None`, exactly what
/// is left) and claiming its end at once when `ended` (or, when `false`,
/// once the frames are gone).
struct Scripted {
    frames: VecDeque<Bytes>,
    hint: Option<SizeHint>,
    ended: bool,
}

impl Scripted {
    fn body(frames: &[&'static str], hint: Option<SizeHint>, ended: bool) -> Body {
        Body::new(Scripted {
            frames: frames
                .iter()
                .map(|f| Bytes::from_static(f.as_bytes()))
                .collect(),
            hint,
            ended,
        })
    }
}

impl http_body::Body for Scripted {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.frames.pop_front().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.frames.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        self.hint.unwrap_or_else(|| {
            SizeHint::with_exact(self.frames.iter().map(|f| f.len() as u64).sum())
        })
    }
}

fn text(body: impl Into<Body>) -> Result<Response, Error> {
    start(200, [("content-type", "text/plain")]).body(body)
}

// Errors

#[tokio::test]
async fn path_invariant_star_is_only_for_options() {
    let (client, violations) = linted(answer(|| text("ok")));
    let res = client.request(Method::OPTIONS, "*").send().await;
    assert_eq!(res.status(), StatusCode::OK);
    violations.assert_none();

    let res = client.get("*").send().await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rules(&violations), [Rule::PathInvariant]);
}

#[tokio::test]
async fn path_invariant_broken_by_a_middleware_is_caught_inside_it() {
    // A method override turning `OPTIONS *` into `GET *`.
    let override_method = from_fn(|mut env: Environ, next| async move {
        env.set_method(Method::GET);
        next.run(env).await
    });
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(answer(|| text("ok")).with(lint.around(override_method)));
    let res = client.request(Method::OPTIONS, "*").send().await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rules(&violations), [Rule::PathInvariant]);
}

#[tokio::test]
async fn final_status_must_be_200_to_599() {
    for code in [100, 103, 600, 999] {
        let (res, broken) = get_linted(move || start(code, [("x", "y")]).empty()).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{code}");
        assert_eq!(broken, [Rule::FinalStatus], "{code}");
    }
}

#[tokio::test]
async fn final_status_101_only_answers_an_upgrade_request() {
    let (client, violations) = linted(answer(|| {
        start(101, [("upgrade", "websocket"), ("connection", "Upgrade")]).empty()
    }));
    let res = client
        .get("/")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    violations.assert_none();

    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rules(&violations), [Rule::FinalStatus]);
}

#[tokio::test]
async fn connection_specific_fields_are_errors() {
    for (name, value) in [
        ("connection", "close"),
        ("connection", "x-private"),
        ("keep-alive", "timeout=5"),
        ("proxy-connection", "keep-alive"),
        ("te", "trailers"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "h2c"),
    ] {
        let (client, violations) = linted(answer(move || {
            start(200, [("content-type", "text/plain"), (name, value)]).body("ok")
        }));
        let res = client.get("/").send().await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{name}");
        let found = violations.take();
        assert_eq!(found.len(), 1, "{name}");
        assert_eq!(found[0].rule(), Rule::ConnectionSpecificField, "{name}");
        assert!(found[0].message().contains(name), "{}", found[0]);
    }
}

#[tokio::test]
async fn connection_specific_fields_upgrade_is_kept_on_426_only() {
    let (client, violations) = linted(answer(|| {
        start(
            426,
            [
                ("content-type", "text/plain"),
                ("upgrade", "TLS/1.3"),
                ("connection", "Upgrade"),
            ],
        )
        .body("upgrade, please")
    }));
    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
    violations.assert_none();

    // Other options stay connection-specific on 426 too.
    let (client, violations) = linted(answer(|| {
        start(
            426,
            [
                ("upgrade", "TLS/1.3"),
                ("connection", "upgrade, keep-alive"),
            ],
        )
        .body("upgrade, please")
    }));
    client.get("/").send().await;
    assert_eq!(rules(&violations), [Rule::ConnectionSpecificField]);
}

#[tokio::test]
async fn content_length_must_match_the_exact_size() {
    let (client, violations) = linted(answer(|| {
        start(
            200,
            [("content-type", "text/plain"), ("content-length", "5")],
        )
        .body("hello")
    }));
    assert_eq!(client.get("/").send().await.text(), "hello");
    violations.assert_none();

    for announced in ["99", "4", "5, 5", "five"] {
        let (res, broken) = get_linted(move || {
            start(
                200,
                [
                    ("content-type", "text/plain"),
                    ("content-length", announced),
                ],
            )
            .body("hello")
        })
        .await;
        assert_eq!(
            res.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{announced}"
        );
        assert_eq!(broken, [Rule::ContentLength], "{announced}");
    }
}

#[tokio::test]
async fn content_length_must_match_the_bytes_streamed() {
    // Too many: found in the first chunk, before the commit point.
    let (res, broken) = get_linted(|| {
        start(
            200,
            [("content-type", "text/plain"), ("content-length", "2")],
        )
        .body(chunks(["abc"]))
    })
    .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(broken, [Rule::ContentLength]);

    // Too few: found at the end, after the commit: the response aborts.
    let (client, violations) = linted(answer(|| {
        start(
            200,
            [("content-type", "text/plain"), ("content-length", "10")],
        )
        .body(chunks(["abc", "de"]))
    }));
    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.is_aborted());
    let found = violations.take();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule(), Rule::ContentLength);
    assert!(
        found[0].message().contains("5 of the 10 bytes"),
        "{}",
        found[0]
    );

    // Exactly right.
    let (client, violations) = linted(answer(|| {
        start(
            200,
            [("content-type", "text/plain"), ("content-length", "5")],
        )
        .body(chunks(["abc", "de"]))
    }));
    let res = client.get("/").send().await;
    assert!(!res.is_aborted());
    assert_eq!(res.text(), "abcde");
    violations.assert_none();
}

#[tokio::test]
async fn head_without_content_length_when_the_body_is_empty() {
    let (client, violations) = linted(answer(|| {
        start(200, [("content-type", "text/plain")]).empty()
    }));
    let res = client.head("/").send().await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rules(&violations), [Rule::HeadWithoutContentLength]);

    // GET's length, or GET's body, or a 304: all fine.
    let (client, violations) = linted(answer(|| {
        start(
            200,
            [("content-type", "text/plain"), ("content-length", "14")],
        )
        .empty()
    }));
    assert_eq!(
        client.head("/").send().await.header("content-length"),
        Some("14")
    );
    let (client2, violations2) = linted(answer(|| text("Hello, world!\n")));
    assert_eq!(
        client2.head("/").send().await.header("content-length"),
        Some("14")
    );
    let (client3, violations3) = linted(answer(|| start(304, [("etag", "\"1\"")]).empty()));
    assert_eq!(
        client3.head("/").send().await.status(),
        StatusCode::NOT_MODIFIED
    );
    violations.assert_none();
    violations2.assert_none();
    violations3.assert_none();
}

#[tokio::test]
async fn body_not_allowed_on_204_304_and_connect() {
    for code in [204, 304] {
        let (res, broken) = get_linted(move || start(code, [("x", "y")]).body("x")).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{code}");
        assert_eq!(broken, [Rule::BodyNotAllowed], "{code}");
    }
    let (client, violations) = linted(answer(|| start(200, [("x", "y")]).body("tunnel?")));
    let res = client
        .request(Method::CONNECT, "example.com:443")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rules(&violations), [Rule::BodyNotAllowed]);

    let (client, violations) = linted(answer(|| start(204, [("x", "y")]).empty()));
    assert_eq!(
        client.get("/").send().await.status(),
        StatusCode::NO_CONTENT
    );
    violations.assert_none();
}

#[tokio::test]
async fn content_length_not_allowed_on_1xx_204_and_connect() {
    let (res, broken) = get_linted(|| start(204, [("content-length", "0")]).empty()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(broken, [Rule::ContentLengthNotAllowed]);

    let (client, violations) = linted(answer(|| {
        start(
            101,
            [
                ("upgrade", "websocket"),
                ("connection", "upgrade"),
                ("content-length", "0"),
            ],
        )
        .empty()
    }));
    let res = client
        .get("/")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rules(&violations), [Rule::ContentLengthNotAllowed]);

    let (client, violations) = linted(answer(|| start(200, [("content-length", "0")]).empty()));
    let res = client
        .request(Method::CONNECT, "example.com:443")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rules(&violations), [Rule::ContentLengthNotAllowed]);

    // A 304 may tell the selected representation's length.
    let (client, violations) = linted(answer(|| start(304, [("content-length", "5")]).empty()));
    assert_eq!(
        client.get("/").send().await.status(),
        StatusCode::NOT_MODIFIED
    );
    violations.assert_none();
}

#[tokio::test]
async fn size_hint_lower_bound_not_reached() {
    // Claims exactly 10 bytes, yields 3: the driver commits at once on the
    // exact size, and the body aborts at its end.
    let (res, broken) = get_linted(|| {
        text(Scripted::body(
            &["abc"],
            Some(SizeHint::with_exact(10)),
            false,
        ))
    })
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.is_aborted());
    assert_eq!(broken, [Rule::SizeHint]);
}

#[tokio::test]
async fn size_hint_upper_bound_exceeded() {
    let mut at_most_2 = SizeHint::new();
    at_most_2.set_upper(2);
    let (res, broken) =
        get_linted(move || text(Scripted::body(&["abc"], Some(at_most_2), false))).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(broken, [Rule::SizeHint]);

    // Honest claims, frame after frame.
    let (client, violations) = linted(answer(|| text(Scripted::body(&["ab", "c"], None, false))));
    assert_eq!(client.get("/").send().await.text(), "abc");
    violations.assert_none();
}

#[tokio::test]
async fn end_stream_contradicted_by_a_frame() {
    // A server would believe is_end_stream() and send nothing; the test
    // client polls anyway, and the frame that follows is the violation.
    let (res, broken) =
        get_linted(|| text(Scripted::body(&["lost"], Some(SizeHint::new()), true))).await;
    assert!(res.is_aborted());
    assert_eq!(broken, [Rule::EndStream]);
}

/// Streams `a`, an empty chunk, `b`, then trailers.
fn streaming_app() -> impl Application {
    answer(|| {
        start(200, [("content-type", "text/plain")]).writer(|mut w| async move {
            w.write("a").await?;
            w.write(Bytes::new()).await?;
            w.write("b").await?;
            let mut trailers = HeaderMap::new();
            trailers.insert("x-sum", "2".parse()?);
            w.send_trailers(trailers).await
        })
    })
}

#[tokio::test]
async fn held_back_frame_by_a_buffering_middleware() {
    let buffer = from_fn(|env, next| async move {
        let (parts, body) = next.run(env).await?.into_parts();
        let whole = body.to_bytes(1 << 20).await?;
        Ok(Response::from_parts(parts, Body::from(whole)))
    });
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(streaming_app().with(lint.around(buffer)));
    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(rules(&violations), [Rule::HeldBackFrame]);
}

/// A body passing data frames on and ending at the trailers, which it
/// drops.
struct DropTrailers(Body);

impl http_body::Body for DropTrailers {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.0).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) if frame.is_trailers() => Poll::Ready(None),
            other => other,
        }
    }
}

#[tokio::test]
async fn held_back_frame_by_a_middleware_that_ends_early() {
    let drop_trailers = from_fn(|env, next| async move {
        Ok(next
            .run(env)
            .await?
            .map(|body| Body::new(DropTrailers(body))))
    });
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(streaming_app().with(lint.around(drop_trailers)));
    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), "ab");
    assert!(res.is_aborted());
    assert_eq!(rules(&violations), [Rule::HeldBackFrame]);
}

#[tokio::test]
async fn held_back_frame_not_reported_for_middleware_that_passes_frames_on() {
    let header = from_fn(|env, next| async move {
        let mut res = next.run(env).await?;
        res.headers_mut().insert("x-seen", "1".parse()?);
        Ok(res)
    });
    let prefetch = from_fn(|env, next| async move { next.run(env).await?.prefetch().await });
    let upper = from_fn(|env, next| async move {
        let res = next.run(env).await?;
        Ok(res.map(|body| {
            Body::new(
                body.map_frame(|frame| frame.map_data(|d| Bytes::from(d.to_ascii_uppercase()))),
            )
        }))
    });
    let (lint, violations) = Lint::collecting();
    let app = streaming_app()
        .with(lint.around(header))
        .with(lint.around(prefetch))
        .with(lint.around(upper))
        .with(lint.around(Identity));
    let res = TestClient::new(app).get("/").send().await;
    assert_eq!(res.text(), "AB");
    assert_eq!(res.trailers().unwrap()["x-sum"], "2");
    assert!(!res.is_aborted());
    violations.assert_none();
}

// Warnings: reported, response unchanged.

#[tokio::test]
async fn missing_content_type_on_a_2xx_with_content() {
    let (client, violations) = linted(answer(|| start(200, [("x", "y")]).body("hello")));
    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), "hello");
    let found = violations.take();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule(), Rule::MissingContentType);
    assert_eq!(found[0].severity(), Severity::Warning);

    // No content, or not a 2xx: nothing to type.
    for (code, body) in [(200, ""), (204, ""), (404, "missing")] {
        let (client, violations) = linted(answer(move || start(code, [("x", "y")]).body(body)));
        client.get("/").send().await;
        violations.assert_none();
    }
}

#[tokio::test]
async fn duplicate_content_type() {
    let (res, broken) = get_linted(|| {
        start(
            200,
            [
                ("content-type", "text/plain"),
                ("content-type", "text/html"),
            ],
        )
        .body("<b>?</b>")
    })
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(broken, [Rule::DuplicateContentType]);
}

fn set_cookie(cookie: &'static str) -> impl Application {
    answer(move || {
        start(
            200,
            [("content-type", "text/plain"), ("set-cookie", cookie)],
        )
        .body("ok")
    })
}

#[tokio::test]
async fn cookie_without_secure_on_https() {
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(set_cookie("sid=1; Path=/").with(lint))
        .with_base_url("https://example.com");
    assert_eq!(client.get("/").send().await.status(), StatusCode::OK);
    let found = violations.take();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule(), Rule::CookieWithoutSecure);
    assert!(found[0].message().contains("`sid`"), "{}", found[0]);

    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(set_cookie("sid=1; Path=/; Secure; HttpOnly").with(lint))
        .with_base_url("https://example.com");
    client.get("/").send().await;
    violations.assert_none();

    // Over plain http there is nothing to protect.
    let (client, violations) = linted(set_cookie("sid=1; Path=/"));
    client.get("/").send().await;
    violations.assert_none();
}

#[tokio::test]
async fn samesite_none_without_secure() {
    let (client, violations) = linted(set_cookie("sid=1; SameSite=None"));
    assert_eq!(client.get("/").send().await.status(), StatusCode::OK);
    assert_eq!(rules(&violations), [Rule::SameSiteNoneWithoutSecure]);

    let (client, violations) = linted(set_cookie("sid=1; SameSite=None; Secure"));
    client.get("/").send().await;
    violations.assert_none();
}

#[tokio::test]
async fn set_cookie_on_304() {
    let (client, violations) = linted(answer(|| {
        start(
            304,
            [
                ("etag", "\"v1\""),
                ("set-cookie", "sid=abc; Secure; HttpOnly"),
            ],
        )
        .empty()
    }));
    assert_eq!(
        client.get("/").send().await.status(),
        StatusCode::NOT_MODIFIED
    );
    let found = violations.take();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule(), Rule::SetCookieOnNotModified);
    assert_eq!(found[0].rule().name(), "set-cookie-on-not-modified");
    assert!(found[0].message().contains("`sid`"), "{}", found[0]);

    // The same cookie on the 200 is fine.
    let (client, violations) = linted(set_cookie("sid=abc; Secure; HttpOnly"));
    client.get("/").send().await;
    violations.assert_none();
}

// Modes and the good path.

#[tokio::test]
async fn an_error_fails_the_request_with_the_violation_as_its_source() {
    let app = answer(|| start(204, [("content-length", "0")]).empty()).with(Lint::new());
    let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    let err = app.call(env).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let violation = err.downcast_ref::<Violation>().expect("the violation");
    assert_eq!(violation.rule(), Rule::ContentLengthNotAllowed);
    assert!(
        err.to_string().contains("[content-length-not-allowed]"),
        "{err}"
    );
}

#[tokio::test]
async fn on_violation_sees_errors_and_warnings() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let lint = Lint::new().on_violation(move |v| s.lock().unwrap().push(v.rule()));
    let client = TestClient::new(
        fn_app(|env: Environ| async move {
            if env.path_info() == "/warn" {
                start(200, [("x", "y")]).body("untyped")
            } else {
                start(200, [("connection", "close")]).empty()
            }
        })
        .with(lint),
    );
    client.get("/warn").send().await;
    client.get("/error").send().await;
    assert_eq!(
        *seen.lock().unwrap(),
        [Rule::MissingContentType, Rule::ConnectionSpecificField]
    );
}

#[tokio::test]
async fn flush_headers_still_commits_early_under_lint() {
    let (client, violations) = linted(answer(|| {
        start(200, [("content-type", "text/event-stream")]).writer(|mut w| async move {
            w.flush_headers().await?;
            std::future::pending::<()>().await;
            Ok(())
        })
    }));
    let app = client.app();
    let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    let committed = tokio::time::timeout(
        Duration::from_secs(5),
        gateway_core::driver::commit(app, env),
    )
    .await
    .expect("the head is committed at the flush, not at the first data");
    let Ok(res) = committed;
    assert_eq!(res.status(), StatusCode::OK);
    violations.assert_none();
}

/// An application using every shape of body and every no-content status
/// correctly.
fn well_behaved() -> impl Application {
    fn_app(|mut env: Environ| async move {
        let head = env.method() == Method::HEAD;
        match env.path_info() {
            "/" | "*" => text("Hello, world!\n"),
            "/stream" => start(200, [("content-type", "text/plain")]).writer(|mut w| async move {
                w.flush_headers().await?;
                w.write("a").await?;
                w.write("b").await?;
                let mut trailers = HeaderMap::new();
                trailers.insert("x-n", "2".parse()?);
                w.send_trailers(trailers).await
            }),
            "/sized" => start(
                200,
                [("content-type", "text/plain"), ("content-length", "3")],
            )
            .body(chunks(["a", "bc"])),
            "/echo" => {
                let ty = env.headers().get("content-type").cloned();
                let body = env.take_body();
                start(200, [("content-type", ty.unwrap_or("text/plain".parse()?))]).body(body)
            }
            "/empty-head" if head => start(
                200,
                [("content-type", "text/plain"), ("content-length", "9")],
            )
            .empty(),
            "/created" => {
                start(201, [("content-type", "text/plain"), ("location", "/x")]).body("made")
            }
            "/no-content" => start(204, [("x", "y")]).empty(),
            "/not-modified" => start(304, [("etag", "\"v1\"")]).empty(),
            "/secure-cookie" => start(
                200,
                [
                    ("content-type", "text/plain"),
                    (
                        "set-cookie",
                        "sid=1; Path=/; Secure; HttpOnly; SameSite=None",
                    ),
                ],
            )
            .body("ok"),
            _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no such page")),
        }
    })
}

#[tokio::test]
async fn a_well_behaved_app_and_stack_report_nothing() {
    let (lint, violations) = Lint::collecting();
    let stack = well_behaved()
        .with(lint.clone())
        .with(lint.around(from_fn(|env, next| async move { next.run(env).await })));
    let client = TestClient::new(stack).with_base_url("https://example.com");
    for (method, target, status) in [
        (Method::GET, "/", 200),
        (Method::HEAD, "/", 200),
        (Method::OPTIONS, "*", 200),
        (Method::GET, "/stream", 200),
        (Method::GET, "/sized", 200),
        (Method::HEAD, "/empty-head", 200),
        (Method::POST, "/created", 201),
        (Method::DELETE, "/no-content", 204),
        (Method::GET, "/not-modified", 304),
        (Method::GET, "/secure-cookie", 200),
        (Method::GET, "/missing", 404),
    ] {
        let res = client.request(method.clone(), target).send().await;
        assert_eq!(res.status().as_u16(), status, "{method} {target}");
        assert!(!res.is_aborted(), "{method} {target}");
    }
    let res = client
        .post("/echo")
        .header("content-type", "application/octet-stream")
        .body(chunks(["x", "", "yz"]))
        .send()
        .await;
    assert_eq!(res.text(), "xyz");
    let res = client.post("/echo").body("full").send().await;
    assert_eq!(res.text(), "full");
    violations.assert_none();
}
