//! An application's `Content-Length` on a streaming body is held to: the
//! body yields exactly the announced bytes or the response is aborted
//! (commit rule 8), and `TestClient` reports the abort as it reports any
//! body error after the commit. HEAD announces what GET would send
//! (rule 4).
#![cfg(feature = "test-client")]

use std::sync::{Arc, Mutex};

use gateway_core::body::Finished;
use gateway_core::test_client::{TestClient, TestResponse};
use gateway_core::{Body, Environ, Error, fn_app, start};
use http::StatusCode;

/// `GET /` (or `HEAD /`) from an application that announces `length` and
/// writes `chunks` through a writer, which cannot know its size.
async fn send(
    method: http::Method,
    length: &'static str,
    chunks: &'static [&'static str],
) -> TestResponse {
    let app = fn_app(move |_env: Environ| async move {
        start(200, [("content-length", length)]).writer(move |mut w| async move {
            for chunk in chunks {
                w.write(*chunk).await?;
            }
            Ok(())
        })
    });
    TestClient::new(app).request(method, "/").send().await
}

#[tokio::test]
async fn a_short_stream_is_an_abort_not_a_complete_response() {
    let res = send(http::Method::GET, "10", &["abc"]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-length"), Some("10"));
    assert_eq!(res.bytes(), "abc");
    assert!(res.is_aborted(), "3 of 10 bytes must not look complete");
    let err = res.abort_error().unwrap().to_string();
    assert!(err.contains("10"), "{err}");
}

#[tokio::test]
async fn a_long_stream_is_an_abort_and_nothing_past_the_length_leaves() {
    // The second chunk crosses the length: it fails instead of leaving.
    let res = send(http::Method::GET, "2", &["a", "bcdef"]).await;
    assert_eq!(res.header("content-length"), Some("2"));
    assert!(res.is_aborted());
    assert_eq!(res.bytes(), "a");

    // The first chunk reaches the length exactly and more follows: the
    // last announced bytes are held back until the end is known, so that
    // an HTTP/1 client (framed by the length) sees a truncated response
    // rather than a complete-looking one.
    let res = send(http::Method::GET, "2", &["ab", "cd"]).await;
    assert!(res.is_aborted());
    assert_eq!(res.bytes(), "");
}

#[tokio::test]
async fn a_stream_of_the_announced_length_is_complete() {
    let res = send(http::Method::GET, "5", &["ab", "", "cde"]).await;
    assert!(!res.is_aborted(), "{:?}", res.abort_error());
    assert_eq!(res.header("content-length"), Some("5"));
    assert_eq!(res.bytes(), "abcde");
}

#[tokio::test]
async fn a_first_chunk_past_the_length_is_a_clean_error_response() {
    // Known before the commit (rule 6): still time for an error response.
    let res = send(http::Method::GET, "2", &["abcdef"]).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!res.is_aborted());
    assert_eq!(res.bytes(), "Internal Server Error");
}

#[tokio::test]
async fn the_size_hint_is_the_announced_length() {
    use http_body::Body as _;
    let app = fn_app(|_env: Environ| async {
        start(200, [("content-length", "4")]).writer(|mut w| async move {
            w.write("ab").await?;
            w.write("cd").await
        })
    });
    let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    let Ok(res) = gateway_core::driver::commit(&app, env).await;
    // The server frames by the hint: it must be the announced length.
    assert_eq!(res.body().size_hint().exact(), Some(4));
    assert!(!res.body().is_end_stream());
}

#[tokio::test]
async fn trailers_before_the_announced_length_are_an_abort() {
    let app = fn_app(|_env: Environ| async {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-checksum", "1".parse().unwrap());
        start(200, [("content-length", "9")]).writer(move |mut w| async move {
            w.write("abc").await?;
            w.send_trailers(trailers).await
        })
    });
    let res = TestClient::new(app).get("/").send().await;
    assert!(res.is_aborted());
    assert!(res.trailers().is_none());
}

#[tokio::test]
async fn an_access_log_sees_the_abort() {
    let seen: Arc<Mutex<Vec<Finished>>> = Arc::default();
    let log = seen.clone();
    let app = fn_app(move |_env: Environ| {
        let log = log.clone();
        async move {
            let body = Body::writer(|mut w| async move { w.write("abc").await })
                .on_finish(move |done| log.lock().unwrap().push(done));
            start(200, [("content-length", "10")]).body(body)
        }
    });
    let res = TestClient::new(app).get("/").send().await;
    assert!(res.is_aborted());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].is_completed());
    assert_eq!(seen[0].bytes(), 3);
}

#[tokio::test]
async fn head_announces_what_get_sends() {
    // An exactly sized body: GET corrects a wrong length, so must HEAD.
    let app =
        fn_app(|_env: Environ| async { start(200, [("content-length", "99")]).body("hello") });
    let client = TestClient::new(app);
    let get = client.get("/").send().await;
    let head = client.head("/").send().await;
    assert_eq!(get.header("content-length"), Some("5"));
    assert_eq!(head.header("content-length"), Some("5"));
    assert!(head.bytes().is_empty());

    // A streaming body: GET keeps the application's length, so does HEAD.
    let head = send(http::Method::HEAD, "7", &["never polled"]).await;
    assert_eq!(head.header("content-length"), Some("7"));
    assert!(!head.is_aborted());

    // An empty answer written for HEAD announces GET's length itself.
    let app = fn_app(|_env: Environ| async { start(200, [("content-length", "14")]).empty() });
    let head = TestClient::new(app).head("/").send().await;
    assert_eq!(head.header("content-length"), Some("14"));
}

#[tokio::test]
async fn an_invalid_length_on_a_stream_is_left_to_the_server() {
    // Nothing to hold the body to: the server frames it as a stream.
    for length in ["ten", "1, 2", "-1"] {
        let res = send(http::Method::GET, length, &["abc", "def"]).await;
        assert_eq!(res.header("content-length"), None, "{length}");
        assert!(!res.is_aborted());
        assert_eq!(res.bytes(), "abcdef");
        let head = send(http::Method::HEAD, length, &["abc"]).await;
        assert_eq!(head.header("content-length"), None, "{length}");
    }
}

#[tokio::test]
async fn repeated_equal_lengths_count_as_one() {
    let app = fn_app(|_env: Environ| async {
        start(200, [("content-length", "3"), ("content-length", "3")])
            .writer(|mut w| async move { w.write("abc").await })
    });
    let res = TestClient::new(app).get("/").send().await;
    assert!(!res.is_aborted());
    assert_eq!(res.headers().get_all("content-length").iter().count(), 1);
    assert_eq!(res.bytes(), "abc");
}

#[tokio::test]
async fn an_error_from_the_body_is_passed_on_as_it_is() {
    let app = fn_app(|_env: Environ| async {
        start(200, [("content-length", "10")]).writer(|mut w| async move {
            w.write("abc").await?;
            Err(Error::new("the disk went away"))
        })
    });
    let res = TestClient::new(app).get("/").send().await;
    assert!(res.is_aborted());
    assert_eq!(res.abort_error().unwrap().to_string(), "the disk went away");
}
