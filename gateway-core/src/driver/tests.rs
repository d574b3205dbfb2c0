use super::fields::parse_content_length;
use super::*;
use crate::app_impl::fn_app;
use crate::response_impl::{NO_HEADERS, start};
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn env(method: Method) -> Environ {
    Environ::from_request(
        Request::builder()
            .method(method)
            .uri("/")
            .body(Body::empty())
            .unwrap(),
    )
}

/// A WebSocket upgrade request.
fn upgrade_env() -> Environ {
    Environ::from_request(
        Request::get("/")
            .header("upgrade", "websocket")
            .header("connection", "upgrade")
            .body(Body::empty())
            .unwrap(),
    )
}

async fn run<F, Fut>(method: Method, f: F) -> (http::response::Parts, Result<Bytes, Error>)
where
    F: Fn(Environ) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response, Error>> + Send,
{
    let Ok(res) = commit(&fn_app(f), env(method)).await;
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes());
    (parts, bytes)
}

#[tokio::test]
async fn err_becomes_its_status_with_generic_body() {
    let (parts, body) = run(Method::GET, |_| async {
        Err(Error::with_status(StatusCode::CONFLICT, "secret detail"))
    })
    .await;
    assert_eq!(parts.status, StatusCode::CONFLICT);
    assert_eq!(body.unwrap(), "Conflict");
}

#[tokio::test]
async fn err_with_non_error_status_becomes_500() {
    let (parts, _) = run(Method::GET, |_| async {
        Err(Error::with_status(StatusCode::OK, "odd"))
    })
    .await;
    assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn error_status_and_page_len_describe_the_page_sent() {
    let statuses = [400, 404, 418, 429, 500, 503, 599, 200, 302];
    for code in statuses {
        let status = StatusCode::from_u16(code).unwrap();
        for method in [Method::GET, Method::HEAD] {
            let err = Error::with_status(status, "detail");
            let expected = (
                error_status(&err),
                error_page_len(error_status(&err), method == Method::HEAD),
            );
            let (parts, body) = run(method.clone(), move |_| {
                let err = Error::with_status(status, "detail");
                async move { Err(err) }
            })
            .await;
            let got = (parts.status, body.unwrap().len() as u64);
            assert_eq!(got, expected, "{code} {method}");
        }
    }
    assert_eq!(
        error_status(&Error::new("no status")),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn panic_before_commit_becomes_500() {
    let (parts, body) = run(Method::GET, |env| async move {
        if env.path_info() == "/" {
            panic!("boom");
        }
        start(200, NO_HEADERS).empty()
    })
    .await;
    assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body.unwrap(), "Internal Server Error");
}

#[tokio::test]
async fn informational_final_status_becomes_500() {
    for code in [100, 102, 103] {
        let (parts, _) = run(Method::GET, move |_| async move {
            start(code, NO_HEADERS).empty()
        })
        .await;
        assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR, "{code}");
    }
    let (parts, _) = run(Method::GET, |_| async { start(600, NO_HEADERS).empty() }).await;
    assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn switching_protocols_only_for_upgrade_requests() {
    let app = fn_app(|_| async {
        start(101, [("upgrade", "websocket"), ("connection", "upgrade")]).empty()
    });
    let Ok(plain) = commit(&app, env(Method::GET)).await;
    assert_eq!(plain.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let Ok(res) = commit(&app, upgrade_env()).await;
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(res.headers()["upgrade"], "websocket");
    assert_eq!(res.headers()["connection"], "upgrade");
}

#[tokio::test]
async fn connection_specific_fields_are_stripped() {
    let (parts, _) = run(Method::GET, |_| async {
        start(
            200,
            [
                ("connection", "close, x-private"),
                ("x-private", "1"),
                ("keep-alive", "timeout=5"),
                ("proxy-connection", "keep-alive"),
                ("te", "trailers"),
                ("transfer-encoding", "chunked"),
                ("upgrade", "h2c"),
                ("x-kept", "1"),
            ],
        )
        .body("ok")
    })
    .await;
    let names: Vec<_> = parts.headers.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["x-kept"]);
}

#[tokio::test]
async fn upgrade_kept_on_426() {
    let (parts, _) = run(Method::GET, |_| async {
        start(
            426,
            [
                ("upgrade", "TLS/1.3"),
                ("connection", "upgrade"),
                ("te", "x"),
            ],
        )
        .body("upgrade please")
    })
    .await;
    assert_eq!(parts.headers["upgrade"], "TLS/1.3");
    assert_eq!(parts.headers["connection"], "upgrade");
    assert!(!parts.headers.contains_key("te"));
}

#[tokio::test]
async fn head_keeps_gets_length_and_never_polls() {
    let polled = Arc::new(AtomicBool::new(false));
    let p = polled.clone();
    let app = fn_app(move |_| {
        let p = p.clone();
        async move {
            let body = Body::writer(move |mut w| async move {
                p.store(true, Ordering::SeqCst);
                w.write("x").await
            });
            start(200, [("content-length", "1")]).body(body)
        }
    });
    let Ok(res) = commit(&app, env(Method::HEAD)).await;
    assert_eq!(res.headers()["content-length"], "1");
    assert!(res.body().is_end_stream());
    assert!(!polled.load(Ordering::SeqCst));

    let (parts, body) = run(Method::HEAD, |_| async {
        start(200, NO_HEADERS).body("hello")
    })
    .await;
    assert_eq!(parts.headers["content-length"], "5");
    assert!(body.unwrap().is_empty());
}

#[tokio::test]
async fn no_content_and_not_modified_have_no_body() {
    let (parts, body) = run(Method::GET, |_| async {
        start(204, [("content-length", "5")]).body("hello")
    })
    .await;
    assert!(!parts.headers.contains_key("content-length"));
    assert!(body.unwrap().is_empty());
    let (parts, body) = run(Method::GET, |_| async {
        start(304, [("etag", "\"x\"")]).body("hello")
    })
    .await;
    assert_eq!(parts.status, StatusCode::NOT_MODIFIED);
    assert!(body.unwrap().is_empty());
}

#[tokio::test]
async fn exact_size_wins_over_a_wrong_content_length() {
    let (parts, body) = run(Method::GET, |_| async {
        start(200, [("content-length", "99")]).body("hello")
    })
    .await;
    assert_eq!(parts.headers["content-length"], "5");
    assert_eq!(body.unwrap(), "hello");
    // Missing: left to the server (it has the exact size hint).
    let (parts, _) = run(Method::GET, |_| async {
        start(200, NO_HEADERS).body("hello")
    })
    .await;
    assert!(!parts.headers.contains_key("content-length"));
}

#[tokio::test]
async fn error_in_first_chunk_is_a_clean_error_response() {
    let (parts, body) = run(Method::GET, |_| async {
        start(200, NO_HEADERS).writer(|mut w| async move {
            w.write("").await?;
            Err(Error::with_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "backend",
            ))
        })
    })
    .await;
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body.unwrap(), "Service Unavailable");
}

#[tokio::test]
async fn panic_in_first_chunk_is_a_clean_500() {
    let (parts, _) = run(Method::GET, |_| async {
        start(200, NO_HEADERS).body(Body::from_stream(futures_util::stream::poll_fn(
            |_| -> std::task::Poll<Option<Result<Bytes, std::io::Error>>> { panic!("in body") },
        )))
    })
    .await;
    assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn error_after_commit_aborts_the_body() {
    let (parts, body) = run(Method::GET, |_| async {
        start(200, NO_HEADERS).writer(|mut w| async move {
            w.write("partial").await?;
            Err(Error::new("late"))
        })
    })
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    assert!(body.is_err(), "the body must fail, not end cleanly");
}

#[tokio::test]
async fn single_chunk_stream_gets_an_exact_size() {
    let app = fn_app(|_| async {
        start(200, [("content-length", "99")]).body(Body::from_stream(futures_util::stream::iter(
            ["", "only"].map(Ok::<_, std::io::Error>),
        )))
    });
    let Ok(res) = commit(&app, env(Method::GET)).await;
    // iter's size hint is exact, so after the first chunk the body is
    // known to end there: the server frames it with a length, and a
    // wrong announced one is corrected.
    assert_eq!(res.body().size_hint().exact(), Some(4));
    assert_eq!(res.headers()["content-length"], "4");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(bytes, "only");
}

#[tokio::test]
async fn flush_headers_commits_before_data() {
    let app = fn_app(|_| async {
        start(200, NO_HEADERS).writer(|mut w| async move {
            w.flush_headers().await?;
            std::future::pending::<()>().await;
            Ok(())
        })
    });
    let Ok(res) = commit(&app, env(Method::GET)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_rules_apply_to_a_ready_made_response() {
    // Formerly through `driver::finish`, removed: a response built
    // elsewhere goes through `commit` like any other.
    let app = fn_app(|_| async {
        start(200, [("content-length", "1"), ("connection", "close")]).body("hello")
    });
    let Ok(res) = commit(&app, env(Method::GET)).await;
    assert_eq!(res.headers()["content-length"], "5");
    assert!(!res.headers().contains_key("connection"));
    let app = fn_app(|_| async {
        start(200, NO_HEADERS).body(Body::writer(|_w| async {
            Err(Error::new("first chunk failed"))
        }))
    });
    let Ok(late) = commit(&app, env(Method::GET)).await;
    assert_eq!(late.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn empty_stream_commits_as_empty() {
    let (parts, body) = run(Method::GET, |_| async {
        start(200, NO_HEADERS).body(Body::writer(|_w| async { Ok(()) }))
    })
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    assert!(body.unwrap().is_empty());
}

#[tokio::test]
async fn switching_protocols_keeps_the_upgrade_option_among_others() {
    let app = fn_app(|_| async {
        start(
            101,
            [
                ("upgrade", "websocket"),
                ("connection", "Upgrade, keep-alive"),
            ],
        )
        .empty()
    });
    let Ok(res) = commit(&app, upgrade_env()).await;
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(res.headers()["connection"], "upgrade");
    assert_eq!(res.headers()["upgrade"], "websocket");
}

#[tokio::test]
async fn connect_success_has_no_body_or_length() {
    let (parts, body) = run(Method::CONNECT, |_| async {
        start(200, NO_HEADERS).body("hello")
    })
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    assert!(!parts.headers.contains_key("content-length"));
    assert!(body.unwrap().is_empty());
    // A refused CONNECT is an ordinary response.
    let (parts, body) = run(Method::CONNECT, |_| async {
        start(403, NO_HEADERS).body("no")
    })
    .await;
    assert_eq!(parts.status, StatusCode::FORBIDDEN);
    assert_eq!(body.unwrap(), "no");
}

#[tokio::test]
async fn polling_after_completion_does_not_poll_the_app_again() {
    use futures_util::FutureExt;
    let app = fn_app(|_| async { start(200, NO_HEADERS).body("once") });
    let mut fut = Box::pin(commit(&app, env(Method::GET)));
    let Ok(first) = (&mut fut).now_or_never().unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let Ok(again) = (&mut fut).now_or_never().unwrap();
    assert_eq!(again.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn content_length_is_digits_only() {
    let parse = |v: &'static str| parse_content_length(&HeaderValue::from_static(v));
    assert_eq!(parse("0"), Some(0));
    assert_eq!(parse("0042"), Some(42));
    assert_eq!(parse("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "+5",
        "-5",
        " 5",
        "5 ",
        "5,5",
        "0x5",
        "18446744073709551616",
    ] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
}

#[tokio::test]
async fn a_signed_content_length_is_corrected() {
    // `str::parse` reads `+5` as 5; a server would not.
    let (parts, body) = run(Method::GET, |_| async {
        start(200, [("content-length", "+5")]).body("hello")
    })
    .await;
    assert_eq!(parts.headers["content-length"], "5");
    assert_eq!(body.unwrap(), "hello");
}

#[tokio::test]
async fn head_length_named_by_connection_is_gone_not_stale() {
    // `Connection: content-length` makes the length connection-specific;
    // what remains must not contradict the body.
    let (parts, _) = run(Method::GET, |_| async {
        start(
            200,
            [("connection", "content-length"), ("content-length", "9")],
        )
        .body("hello")
    })
    .await;
    assert!(!parts.headers.contains_key("content-length"));
}

#[tokio::test]
async fn an_error_carries_its_headers_to_the_response() {
    use http::header::{ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
    let cases = [
        (StatusCode::METHOD_NOT_ALLOWED, ALLOW, "GET, HEAD"),
        (
            StatusCode::UNAUTHORIZED,
            WWW_AUTHENTICATE,
            r#"Basic realm="admin""#,
        ),
        (StatusCode::SERVICE_UNAVAILABLE, RETRY_AFTER, "120"),
    ];
    for (status, name, value) in cases {
        for method in [Method::GET, Method::HEAD] {
            let header = name.clone();
            let (parts, body) = run(method.clone(), move |_| {
                let header = header.clone();
                async move {
                    Err(Error::with_status(status, "refused")
                        .with_header(header, HeaderValue::from_static(value)))
                }
            })
            .await;
            assert_eq!(parts.status, status, "{method}");
            assert_eq!(parts.headers[&name], value, "{method} {status}");
            assert_eq!(parts.headers[CONTENT_TYPE], "text/plain; charset=utf-8");
            if method == Method::GET {
                assert_eq!(body.unwrap(), status.canonical_reason().unwrap());
            }
        }
    }
}

#[tokio::test]
async fn an_errors_connection_specific_and_framing_headers_are_not_sent() {
    let (parts, body) = run(Method::GET, |_| async {
        Err(Error::with_status(StatusCode::SERVICE_UNAVAILABLE, "busy")
            .with_header("connection", HeaderValue::from_static("close, x-secret"))
            .with_header("x-secret", HeaderValue::from_static("1"))
            .with_header("transfer-encoding", HeaderValue::from_static("chunked"))
            .with_header("content-length", HeaderValue::from_static("999"))
            .with_header("content-type", HeaderValue::from_static("text/html"))
            .with_header("retry-after", HeaderValue::from_static("5")))
    })
    .await;
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    for name in [
        "connection",
        "x-secret",
        "transfer-encoding",
        "content-length",
    ] {
        assert!(!parts.headers.contains_key(name), "{name}: {parts:?}");
    }
    assert_eq!(parts.headers[CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(parts.headers["retry-after"], "5");
    assert_eq!(body.unwrap(), "Service Unavailable");
}

#[tokio::test]
async fn error_responses_carry_their_cause_and_others_none() {
    let (parts, _) = run(Method::GET, |_| async {
        Err(Error::with_status(StatusCode::CONFLICT, "version mismatch"))
    })
    .await;
    let cause = parts.extensions.get::<ErrorCause>().expect("a cause");
    assert_eq!(cause.error().status(), StatusCode::CONFLICT);
    assert_eq!(cause.to_string(), "409 Conflict: version mismatch");

    let (parts, _) = run(Method::GET, |env| async move {
        if env.path_info() == "/" {
            panic!("slot {} is empty", 3);
        }
        start(200, NO_HEADERS).empty()
    })
    .await;
    let cause = parts.extensions.get::<ErrorCause>().expect("a cause");
    assert_eq!(cause.error().panic_message(), Some("slot 3 is empty"));

    // A body failing before its first data (rule 6), and a refused status
    // (rule 2).
    let (parts, _) = run(Method::GET, |_| async {
        start(200, NO_HEADERS).writer(|_w| async { Err(Error::new("disk gone")) })
    })
    .await;
    let cause = parts.extensions.get::<ErrorCause>().expect("a cause");
    assert_eq!(cause.error().to_string(), "disk gone");
    let (parts, _) = run(Method::GET, |_| async { start(103, NO_HEADERS).empty() }).await;
    assert!(parts.extensions.get::<ErrorCause>().is_some());

    let (parts, _) = run(Method::GET, |_| async { start(200, NO_HEADERS).body("ok") }).await;
    assert!(parts.extensions.get::<ErrorCause>().is_none());
}

#[tokio::test]
async fn a_finish_callback_around_an_in_memory_body_keeps_the_fast_commit() {
    for method in [Method::GET, Method::HEAD] {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let app = fn_app(move |_| {
            let s = s.clone();
            async move {
                let body = Body::from("hello").on_finish(move |f| s.lock().unwrap().push(f));
                Ok(Response::new(body))
            }
        });
        let Ok(res) = commit(&app, env(method.clone())).await;
        let head = method == Method::HEAD;
        if head {
            assert_eq!(res.headers()["content-length"], "5");
        } else {
            // Seen through: in memory, of exact size, unpolled so far.
            assert!(res.body().is_in_memory());
            assert_eq!(res.body().exact_size(), Some(5));
            assert!(seen.lock().unwrap().is_empty());
        }
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), if head { 0 } else { 5 });
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{method}: called once");
        assert!(seen[0].is_completed());
        assert_eq!(seen[0].bytes(), if head { 0 } else { 5 });
    }
}
