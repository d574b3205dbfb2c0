//! The mini-framework's notes app (`gateway_examples::mini_framework`),
//! checked by a collecting `Lint` and served by gateway-hyper over real
//! sockets, HTTP/1.1 and HTTP/2: every route and every error path answers
//! as documented, and `Lint` reports nothing.

use bytes::Bytes;
use gateway_core::ApplicationExt;
use gateway_core::lint::{Lint, Violations};
use gateway_core::middleware::Identity;
use gateway_examples::mini_framework::app;
use gateway_examples::mini_framework::notes::{BODY_LIMIT, INDEX};
use gateway_tests::{
    Client, Proto, ReqBody, TestServer, channel_body, empty, full, read_body, within,
};
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{Method, StatusCode};

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const FORM: &str = "application/x-www-form-urlencoded";

/// Serves the notes app checked by a collecting `Lint`, alone and as a
/// pair around nothing (so the pair's checks run too).
async fn serve_linted() -> (TestServer, Violations) {
    let (lint, violations) = Lint::collecting();
    let app = app().with(lint.clone()).with(lint.around(Identity));
    (TestServer::start(app).await, violations)
}

/// Sends `method path` with an optional `Content-Type` and a body, and
/// returns the response head and the whole body.
async fn send(
    client: &mut Client,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: ReqBody,
) -> (http::response::Parts, Bytes) {
    let mut req = client.request(method, path, body);
    if let Some(ty) = content_type {
        req.headers_mut()
            .insert(CONTENT_TYPE, ty.parse().expect("content type"));
    }
    let (parts, body) = client.send(req).await.into_parts();
    (parts, read_body(body).await)
}

/// Asserts status, `Content-Type` and body, naming the request.
fn check(
    what: &str,
    (parts, body): &(http::response::Parts, Bytes),
    status: StatusCode,
    content_type: &str,
    expected: &str,
) {
    let body = String::from_utf8_lossy(body);
    assert_eq!(parts.status, status, "{what}: status (body {body:?})");
    assert_eq!(
        parts.headers[CONTENT_TYPE], content_type,
        "{what}: content-type"
    );
    assert_eq!(body, expected, "{what}: body");
}

/// The JSON body every client error renders with.
fn error(status: u16, message: &str) -> String {
    format!(r#"{{"error":{{"message":"{message}","status":{status}}}}}"#)
}

/// Asserts a client error's status and that its JSON body carries the
/// same status; returns the message.
fn check_error(what: &str, res: &(http::response::Parts, Bytes), status: StatusCode) -> String {
    let (parts, body) = res;
    let body = String::from_utf8_lossy(body);
    assert_eq!(parts.status, status, "{what}: status (body {body:?})");
    assert_eq!(parts.headers[CONTENT_TYPE], JSON, "{what}: content-type");
    let tail = format!(r#"","status":{}}}}}"#, status.as_u16());
    let message = body
        .strip_prefix(r#"{"error":{"message":""#)
        .and_then(|b| b.strip_suffix(&tail));
    match message {
        Some(message) => message.to_owned(),
        None => panic!("{what}: not an error body: {body:?}"),
    }
}

async fn every_route(proto: Proto) {
    let (server, violations) = serve_linted().await;
    let mut client = server.client(proto).await;
    let c = &mut client;

    let res = c.fetch(Method::GET, "/").await;
    check("GET /", &res, StatusCode::OK, TEXT, INDEX);
    let res = c.fetch(Method::GET, "/notes").await;
    check("GET /notes, empty", &res, StatusCode::OK, JSON, "[]");

    // Create from JSON (a `charset` parameter is fine) and from a form.
    let milk = r#"{"id":1,"title":"milk","body":"2 litres"}"#;
    let body = full(r#"{"title":"milk","body":"2 litres"}"#);
    let ty = Some("application/json; charset=utf-8");
    let res = send(c, Method::POST, "/notes", ty, body).await;
    check("POST /notes json", &res, StatusCode::CREATED, JSON, milk);
    assert_eq!(res.0.headers[LOCATION], "/notes/1");

    let eggs = r#"{"id":2,"title":"eggs","body":"a dozen!"}"#;
    let body = full("title=eggs&body=a+dozen%21");
    let res = send(c, Method::POST, "/notes", Some(FORM), body).await;
    check("POST /notes form", &res, StatusCode::CREATED, JSON, eggs);
    assert_eq!(res.0.headers[LOCATION], "/notes/2");

    // A `+json` type without a body field (it defaults to empty).
    let tea = r#"{"id":3,"title":"tea","body":""}"#;
    let ty = Some("application/merge-patch+json");
    let res = send(c, Method::POST, "/notes", ty, full(r#"{"title":"tea"}"#)).await;
    check("POST /notes +json", &res, StatusCode::CREATED, JSON, tea);

    let res = c.fetch(Method::GET, "/notes").await;
    let all = format!("[{milk},{eggs},{tea}]");
    check("GET /notes", &res, StatusCode::OK, JSON, &all);

    // Path parameters.
    let res = c.fetch(Method::GET, "/notes/2").await;
    check("GET /notes/2", &res, StatusCode::OK, JSON, eggs);
    let res = c.fetch(Method::GET, "/notes/99").await;
    check(
        "GET /notes/99",
        &res,
        StatusCode::NOT_FOUND,
        JSON,
        &error(404, "no note 99"),
    );
    let res = c.fetch(Method::GET, "/notes/abc").await;
    check_error("GET /notes/abc", &res, StatusCode::NOT_FOUND);
    let res = c.fetch(Method::GET, "/hello/J%C3%BCrgen").await;
    check(
        "GET /hello/Jürgen",
        &res,
        StatusCode::OK,
        TEXT,
        "Hello, Jürgen!\n",
    );
    let res = c.fetch(Method::GET, "/hello/a%2Fb").await;
    check(
        "GET /hello/a%2Fb",
        &res,
        StatusCode::OK,
        TEXT,
        "Hello, a/b!\n",
    );
    let res = c.fetch(Method::GET, "/hello/%FF").await;
    check_error("GET /hello/%FF", &res, StatusCode::BAD_REQUEST);

    // HEAD is GET without the body, with GET's length.
    let (parts, body) = c.fetch(Method::HEAD, "/notes/2").await;
    assert_eq!(parts.status, StatusCode::OK, "HEAD /notes/2");
    assert_eq!(parts.headers[CONTENT_TYPE], JSON);
    assert_eq!(parts.headers[CONTENT_LENGTH], eggs.len().to_string());
    assert!(body.is_empty(), "HEAD /notes/2: {body:?}");
    let (parts, body) = c.fetch(Method::HEAD, "/nope").await;
    assert_eq!(parts.status, StatusCode::NOT_FOUND, "HEAD /nope");
    assert!(body.is_empty(), "HEAD /nope: {body:?}");

    // Typed query.
    let res = c.fetch(Method::GET, "/search?q=milk").await;
    check(
        "search milk",
        &res,
        StatusCode::OK,
        JSON,
        &format!("[{milk}]"),
    );
    let res = c.fetch(Method::GET, "/search?q=e&limit=1").await;
    check(
        "search e, 1",
        &res,
        StatusCode::OK,
        JSON,
        &format!("[{milk}]"),
    );
    let res = c.fetch(Method::GET, "/search?q=a+dozen").await;
    check(
        "search 'a dozen'",
        &res,
        StatusCode::OK,
        JSON,
        &format!("[{eggs}]"),
    );
    let res = c.fetch(Method::GET, "/search?q=zzz").await;
    check("search zzz", &res, StatusCode::OK, JSON, "[]");
    for bad in ["/search", "/search?limit=1", "/search?q=e&limit=many"] {
        let res = c.fetch(Method::GET, bad).await;
        let message = check_error(bad, &res, StatusCode::BAD_REQUEST);
        assert!(message.starts_with("invalid query"), "{bad}: {message}");
    }

    // Bodies that do not fit.
    for (what, ty, body, status) in [
        (
            "truncated JSON",
            Some(JSON),
            r#"{"title":"#,
            StatusCode::BAD_REQUEST,
        ),
        ("not JSON", Some(JSON), "title=x", StatusCode::BAD_REQUEST),
        ("empty JSON body", Some(JSON), "", StatusCode::BAD_REQUEST),
        (
            "wrong JSON type",
            Some(JSON),
            r#"{"title":5}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "JSON without title",
            Some(JSON),
            r#"{"body":"x"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "empty title",
            Some(JSON),
            r#"{"title":" "}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "form without title",
            Some(FORM),
            "body=x",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "text body",
            Some("text/plain"),
            "milk",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "no content type",
            None,
            r#"{"title":"x"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let res = send(c, Method::POST, "/notes", ty, full(body)).await;
        check_error(what, &res, status);
    }
    let res = send(c, Method::POST, "/notes", Some("text/plain"), full("milk")).await;
    let expected = error(415, "expected a body of type application/json");
    check(
        "415 body",
        &res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        JSON,
        &expected,
    );

    // Unknown paths and wrong methods.
    for path in ["/nope", "/notes/", "/notes/1/", "/notes//1", "/search/"] {
        let res = c.fetch(Method::GET, path).await;
        check(
            path,
            &res,
            StatusCode::NOT_FOUND,
            JSON,
            &error(404, "no such resource"),
        );
    }
    for (method, path, allow) in [
        (Method::PUT, "/notes", "GET, HEAD, POST"),
        (Method::DELETE, "/notes", "GET, HEAD, POST"),
        (Method::PATCH, "/notes/1", "GET, HEAD, DELETE"),
        (Method::POST, "/", "GET, HEAD"),
        (Method::OPTIONS, "/search", "GET, HEAD"),
    ] {
        let what = format!("{method} {path}");
        let res = c.fetch(method, path).await;
        let expected = error(405, "method not allowed");
        check(&what, &res, StatusCode::METHOD_NOT_ALLOWED, JSON, &expected);
        assert_eq!(res.0.headers[ALLOW], allow, "{what}");
    }

    // Delete: 204 without a body, then gone.
    let (parts, body) = c.fetch(Method::DELETE, "/notes/2").await;
    assert_eq!(parts.status, StatusCode::NO_CONTENT, "DELETE /notes/2");
    assert!(body.is_empty() && !parts.headers.contains_key(CONTENT_TYPE));
    let res = c.fetch(Method::GET, "/notes/2").await;
    check_error("GET deleted", &res, StatusCode::NOT_FOUND);
    let res = c.fetch(Method::DELETE, "/notes/2").await;
    check_error("DELETE deleted", &res, StatusCode::NOT_FOUND);
    let res = c.fetch(Method::GET, "/notes").await;
    check(
        "GET /notes after delete",
        &res,
        StatusCode::OK,
        JSON,
        &format!("[{milk},{tea}]"),
    );

    drop(client);
    over_the_limit(&server, proto).await;
    // Stopping drains the connections: every body was read to its end.
    server.stop().await;
    violations.assert_none();
}

/// Bodies over the limit are 413, announced by `Content-Length` or not;
/// one at the limit is read. Each on its own connection: the server may
/// close one whose request body it did not read to the end.
async fn over_the_limit(server: &TestServer, proto: Proto) {
    // A valid JSON document of exactly `len` bytes.
    let doc = |len: usize| format!(r#"{{"title":"big","body":"{}"}}"#, "x".repeat(len - 25));
    assert_eq!(doc(BODY_LIMIT).len(), BODY_LIMIT);

    let mut c = server.client(proto).await;
    let res = send(
        &mut c,
        Method::POST,
        "/notes",
        Some(JSON),
        full(doc(BODY_LIMIT)),
    )
    .await;
    assert_eq!(res.0.status, StatusCode::CREATED, "a body at the limit");
    drop(c);

    let mut c = server.client(proto).await;
    let res = send(
        &mut c,
        Method::POST,
        "/notes",
        Some(JSON),
        full(doc(BODY_LIMIT + 1)),
    )
    .await;
    let message = check_error(
        "announced over the limit",
        &res,
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    assert_eq!(
        message,
        format!("request body exceeds the limit of {BODY_LIMIT} bytes")
    );
    drop(c);

    // Without `Content-Length`: chunked on HTTP/1.1, DATA frames on
    // HTTP/2, cut off once the limit is passed.
    let mut c = server.client(proto).await;
    let (tx, body) = channel_body(8);
    let big = doc(BODY_LIMIT + 1000).into_bytes();
    for chunk in big.chunks(1000) {
        within("send chunk", tx.send(Bytes::copy_from_slice(chunk)))
            .await
            .expect("body channel");
    }
    drop(tx);
    let res = send(&mut c, Method::POST, "/notes", Some(JSON), body).await;
    check_error(
        "streamed over the limit",
        &res,
        StatusCode::PAYLOAD_TOO_LARGE,
    );
    drop(c);

    // A bodiless POST is an empty body, not a missing one: 400.
    let mut c = server.client(proto).await;
    let res = send(&mut c, Method::POST, "/notes", Some(JSON), empty()).await;
    check_error("bodiless POST", &res, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mini_framework_under_lint_over_http1() {
    every_route(Proto::Http1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mini_framework_under_lint_over_http2() {
    every_route(Proto::Http2).await;
}
