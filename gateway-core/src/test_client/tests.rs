use http::header::SET_COOKIE;

use super::*;
use crate::app_impl::fn_app;
use crate::error::Error;
use crate::response_impl::{NO_HEADERS, start};

fn cookie_app() -> impl Application {
    fn_app(|env| async move {
        let cookies = env
            .headers()
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let set: Vec<String> = env
            .query_pairs()
            .filter(|(k, _)| k == "set")
            .map(|(_, v)| v.into_owned())
            .collect();
        let mut res = start(200, [("content-type", "text/plain")]).body(cookies)?;
        for s in set {
            res.headers_mut().append(SET_COOKIE, s.parse()?);
        }
        Ok(res)
    })
}

fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn cookies_are_kept_and_sent_back() {
    let c = TestClient::new(cookie_app());
    c.get(&format!("/?set={}", q("a=1; Path=/"))).send().await;
    assert_eq!(c.get("/x").send().await.text(), "a=1");
}

#[tokio::test]
async fn cookie_path_is_honoured() {
    let c = TestClient::new(cookie_app());
    c.get(&format!("/?set={}", q("p=1; Path=/admin")))
        .send()
        .await;
    assert_eq!(c.get("/").send().await.text(), "");
    assert_eq!(c.get("/adminx").send().await.text(), "");
    assert_eq!(c.get("/admin").send().await.text(), "p=1");
    assert_eq!(c.get("/admin/users").send().await.text(), "p=1");
    // Default path: the request path's directory.
    c.get(&format!("/docs/page?set={}", q("d=1"))).send().await;
    assert_eq!(c.get("/docs/other").send().await.text(), "d=1");
    assert!(!c.get("/").send().await.text().contains("d=1"));
}

#[tokio::test]
async fn max_age_zero_deletes() {
    let c = TestClient::new(cookie_app());
    c.get(&format!("/?set={}", q("a=1; Path=/"))).send().await;
    c.get(&format!("/?set={}", q("a=; Path=/; Max-Age=0")))
        .send()
        .await;
    assert_eq!(c.get("/").send().await.text(), "");
    assert!(c.cookies().is_empty());
}

#[tokio::test]
async fn past_expires_deletes() {
    let c = TestClient::new(cookie_app());
    c.get(&format!("/?set={}", q("a=1; Path=/"))).send().await;
    c.get(&format!(
        "/?set={}",
        q("a=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    ))
    .send()
    .await;
    assert!(c.cookies().is_empty());
}

#[tokio::test]
async fn secure_cookies_only_over_https() {
    let c = TestClient::new(cookie_app());
    c.get(&format!("/?set={}", q("s=1; Path=/; Secure")))
        .send()
        .await;
    assert_eq!(c.get("/").send().await.text(), "");
    let c = TestClient::new(cookie_app()).with_base_url("https://example.com");
    c.get(&format!("/?set={}", q("s=1; Path=/; Secure")))
        .send()
        .await;
    assert_eq!(c.get("/").send().await.text(), "s=1");
}

#[tokio::test]
async fn reads_trailers_and_content_length() {
    let app = fn_app(|_| async {
        start(200, [("content-type", "text/plain")]).writer(|mut w| async move {
            w.write("abc").await?;
            let mut t = HeaderMap::new();
            t.insert("x-checksum", HeaderValue::from_static("123"));
            w.send_trailers(t).await
        })
    });
    let c = TestClient::new(app);
    let res = c.get("/").send().await;
    assert_eq!(res.text(), "abc");
    assert_eq!(res.trailers().unwrap()["x-checksum"], "123");
    let res = TestClient::new(fn_app(|_| async { start(200, [("a", "b")]).body("hello") }))
        .get("/")
        .send()
        .await;
    assert_eq!(res.header("content-length"), Some("5"));
}

#[tokio::test]
async fn connect_tunnel_gets_no_content_length() {
    let c = TestClient::new(fn_app(|_| async {
        start(200, crate::response::NO_HEADERS).body("ignored")
    }));
    let res = c.request(Method::CONNECT, "example.com:443").send().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("content-length"), None);
    assert_eq!(res.text(), "");
}

#[tokio::test]
async fn huge_max_age_does_not_panic_and_never_expires() {
    let c = TestClient::new(cookie_app());
    c.get(&format!(
        "/?set={}",
        q("a=1; Path=/; Max-Age=99999999999999999999")
    ))
    .send()
    .await;
    assert_eq!(c.get("/").send().await.text(), "a=1");
}

#[tokio::test]
async fn secure_cookie_set_over_http_is_refused() {
    let c = TestClient::new(cookie_app());
    c.get(&format!("/?set={}", q("s=1; Path=/; Secure")))
        .send()
        .await;
    assert!(c.cookies().is_empty());
    // An absolute https target is a secure origin, even from an http client.
    c.get(&format!(
        "https://localhost/?set={}",
        q("s=1; Path=/; Secure")
    ))
    .send()
    .await;
    assert_eq!(c.cookies().len(), 1);
    assert_eq!(c.get("https://localhost/").send().await.text(), "s=1");
    assert_eq!(c.get("/").send().await.text(), "", "never sent over http");
}

#[tokio::test]
async fn domain_attribute_is_honoured() {
    let c = TestClient::new(cookie_app()).with_base_url("http://www.example.com");
    c.get(&format!(
        "/?set={}",
        q("other=1; Path=/; Domain=other.example")
    ))
    .send()
    .await;
    assert!(
        c.cookies().is_empty(),
        "a cookie for another site is ignored"
    );
    c.get(&format!("/?set={}", q("d=1; Path=/; Domain=example.com")))
        .send()
        .await;
    assert_eq!(c.get("http://api.example.com/").send().await.text(), "d=1");
    assert_eq!(c.get("http://example.org/").send().await.text(), "");
    // Host-only cookies stay on their host.
    c.get(&format!("/?set={}", q("h=1; Path=/"))).send().await;
    assert_eq!(c.get("http://api.example.com/").send().await.text(), "d=1");
}

fn failing_app() -> impl Application {
    fn_app(|env| async move {
        match env.path_info() {
            "/err" => Err(Error::with_status(StatusCode::CONFLICT, "stale version")),
            "/panic" => panic!("slot {} is empty", 3),
            "/late" => start(200, [("content-type", "text/plain")]).writer(|mut w| async move {
                w.write("part").await?;
                Err(Error::new("the disk went away"))
            }),
            "/bytes" => {
                start(200, [("content-type", "application/octet-stream")]).body(&b"\xff\x00a"[..])
            }
            _ => start(200, [("content-type", "text/plain")]).body("fine"),
        }
    })
}

#[tokio::test]
async fn the_error_behind_a_failed_response_is_visible() {
    let c = TestClient::new(failing_app());
    let res = c.get("/err").send().await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let err = res.error().expect("the application's error");
    assert_eq!(err.to_string(), "409 Conflict: stale version");
    assert!(!res.is_aborted());

    let res = c.get("/panic").send().await;
    assert_eq!(res.status(), 500);
    let err = res.error().expect("the panic");
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "panicked: slot 3 is empty");

    let res = c.get("/late").send().await;
    assert_eq!(res.error().unwrap().to_string(), "the disk went away");
    assert!(res.is_aborted());

    assert!(c.get("/").send().await.error().is_none());
}

#[tokio::test]
async fn debug_shows_status_headers_body_and_error() {
    let c = TestClient::new(failing_app());
    let shown = format!("{:?}", c.get("/panic").send().await);
    for part in [
        "status: 500",
        r#""content-type": "text/plain; charset=utf-8""#,
        r#"body: "Internal Server Error""#,
        r#"error: "panicked: slot 3 is empty""#,
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    assert!(!shown.contains("aborted"), "{shown}");

    let shown = format!("{:?}", c.get("/late").send().await);
    assert!(shown.contains(r#"body: "part""#), "{shown}");
    assert!(shown.contains("aborted: true"), "{shown}");

    let shown = format!("{:?}", c.get("/bytes").send().await);
    assert!(shown.contains(r#"body: b"\xff\0a""#), "{shown}");
    assert!(!shown.contains("error"), "{shown}");
}

#[tokio::test]
async fn debug_cuts_a_long_body() {
    let c = TestClient::new(fn_app(|_| async {
        start(200, [("content-type", "text/plain")]).body("é".repeat(1000))
    }));
    let shown = format!("{:?}", c.get("/").send().await);
    assert!(shown.contains("… (2000 bytes in all)"), "{shown}");
    assert!(shown.len() < 1300, "{}", shown.len());
}

fn echo() -> impl Application {
    fn_app(|mut env| async move {
        let ty = env.headers().get("content-type").cloned();
        let body = env.take_body().collect().await?.to_bytes();
        let text = format!(
            "{} {} {:?} {}",
            env.method(),
            env.path(),
            ty,
            String::from_utf8_lossy(&body)
        );
        start(200, [("content-type", "text/plain")]).body(text)
    })
}

#[tokio::test]
async fn json_and_form_bodies_set_their_content_type() {
    #[derive(serde::Serialize)]
    struct Note<'a> {
        title: &'a str,
        tags: u8,
    }
    let c = TestClient::new(echo());
    let note = Note {
        title: "a&b c",
        tags: 2,
    };
    let res = c.post("/n").json(&note).send().await;
    assert_eq!(
        res.text(),
        r#"POST /n Some("application/json") {"title":"a&b c","tags":2}"#
    );
    let res = c.post("/n").form(&note).send().await;
    assert_eq!(
        res.text(),
        r#"POST /n Some("application/x-www-form-urlencoded") title=a%26b+c&tags=2"#
    );
    // A content type set by the test wins.
    let res = c
        .post("/n")
        .header("content-type", "application/merge-patch+json")
        .json(&note)
        .send()
        .await;
    assert!(
        res.text()
            .contains(r#"Some("application/merge-patch+json")"#)
    );
}

#[tokio::test]
#[should_panic(expected = "TestRequest::form: the value does not serialize to a form")]
async fn a_value_that_is_not_a_form_panics_clearly() {
    let c = TestClient::new(echo());
    let _ = c.post("/").form(&"just a string");
}

#[tokio::test]
async fn json_responses_parse_or_say_what_they_were() {
    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Id {
        id: u32,
    }
    let c = TestClient::new(fn_app(|env| async move {
        match env.path_info() {
            "/ok" => start(200, [("content-type", "application/json")]).body(r#"{"id": 4}"#),
            _ => Err(Error::new("db down")),
        }
    }));
    assert_eq!(
        c.get("/ok").send().await.json::<Id>().unwrap(),
        Id { id: 4 }
    );
    let err = c.get("/x").send().await.json::<Id>().unwrap_err();
    let text = err.to_string();
    for part in [
        "expected value at line 1 column 1",
        "status 500 Internal Server Error",
        "content-type text/plain; charset=utf-8",
        r#"body "Internal Server Error""#,
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert!(std::error::Error::source(&err).is_some());
}

fn redirecting() -> impl Application {
    fn_app(|mut env| async move {
        let body = env.take_body().collect().await?.to_bytes();
        let cookie = env
            .headers()
            .get("cookie")
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        let auth = env.headers().contains_key("authorization");
        let target = env.uri().to_string();
        match env.path_info() {
            "/a/b" => start(301, [("location", "../c?x=1#frag")]).empty(),
            "/c" => start(302, [("location", "/d"), ("set-cookie", "s=1; Path=/")]).empty(),
            "/see-other" => start(303, [("location", "/d")]).empty(),
            "/temporary" => start(307, [("location", "/d")]).empty(),
            "/permanent" => start(308, [("location", "/d")]).empty(),
            "/away" => start(302, [("location", "http://other.example/d")]).empty(),
            "/loop" => start(302, [("location", "/loop")]).empty(),
            _ => start(200, [("content-type", "text/plain")]).body(format!(
                "{} {target} body={} cookie={cookie:?} auth={auth}",
                env.method(),
                String::from_utf8_lossy(&body)
            )),
        }
    })
}

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let c = TestClient::new(redirecting());
    let res = c.get("/c").send().await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.header("location"), Some("/d"));
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let c = TestClient::new(redirecting()).follow_redirects(5);
    let res = c.get("/a/b").send().await;
    assert_eq!(res.status(), 200, "{res:?}");
    assert_eq!(res.text(), r#"GET /d body= cookie=Some("s=1") auth=false"#);

    let res = c.get("/loop").send().await;
    assert_eq!(
        res.status(),
        StatusCode::FOUND,
        "the 6th redirect is returned"
    );

    // One step only, for one request.
    let res = c.get("/a/b").follow_redirects(1).send().await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.header("location"), Some("/d"));
    let c = TestClient::new(redirecting());
    let res = c.get("/c").follow_redirects(1).send().await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn redirects_keep_or_drop_the_method_and_body_as_browsers_do() {
    let c = TestClient::new(redirecting()).follow_redirects(1);
    for (path, expected) in [
        ("/temporary", "POST /d body=data"),
        ("/permanent", "POST /d body=data"),
        ("/see-other", "GET /d body="),
        ("/c", "GET /d body="),
    ] {
        let res = c.post(path).body("data").without_cookies().send().await;
        assert!(res.text().starts_with(expected), "{path}: {}", res.text());
    }
    let res = c.request(Method::PUT, "/c").body("data").send().await;
    assert!(res.text().starts_with("PUT /d body=data"), "{}", res.text());
    let res = c.head("/see-other").send().await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_redirect_to_another_host_drops_credentials() {
    let c = TestClient::new(redirecting()).follow_redirects(1);
    let res = c
        .get("/away")
        .header("authorization", "Bearer t")
        .header("cookie", "mine=1")
        .send()
        .await;
    assert_eq!(
        res.text(),
        "GET http://other.example/d body= cookie=None auth=false"
    );
    let res = c.get("/c").header("authorization", "Bearer t").send().await;
    assert!(res.text().ends_with("auth=true"), "{}", res.text());
}

#[tokio::test]
#[should_panic(expected = "invalid value for header `x-token`")]
async fn an_invalid_request_header_value_is_named() {
    let c = TestClient::new(echo());
    let _ = c.get("/").header("x-token", "a\nb");
}

/// Redirects to what a client must not follow blindly, and a page that
/// shows the request headers a redirect may have to drop.
fn redirect_edges() -> impl Application {
    fn_app(|env| async move {
        let show = |name: &str| {
            env.headers()
                .get(name)
                .map_or("-".to_owned(), |v| v.to_str().unwrap_or("?").to_owned())
        };
        match env.path_info() {
            "/space" => start(302, [("location", "/a b")]).empty(),
            "/ftp" => start(302, [("location", "ftp://files.example/x")]).empty(),
            "/downgrade" => start(302, [("location", "http://localhost/d")]).empty(),
            "/away" => start(307, [("location", "http://other.example:8080/d")]).empty(),
            "/see-other" => start(303, [("location", "/d")]).empty(),
            _ => start(200, NO_HEADERS).body(format!(
                "{} {} host={} auth={} type={} encoding={}",
                env.method(),
                env.uri(),
                show("host"),
                show("authorization"),
                show("content-type"),
                show("content-encoding"),
            )),
        }
    })
}

#[tokio::test]
async fn a_redirect_to_no_valid_http_url_is_returned_as_it_is() {
    let c = TestClient::new(redirect_edges()).follow_redirects(5);
    let res = c.get("/space").send().await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.header("location"), Some("/a b"));
    let res = c.get("/ftp").send().await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.header("location"), Some("ftp://files.example/x"));
}

#[tokio::test]
async fn a_redirect_from_https_to_http_drops_credentials() {
    let c = TestClient::new(redirect_edges())
        .with_base_url("https://localhost")
        .follow_redirects(1);
    let res = c
        .get("/downgrade")
        .header("authorization", "Bearer t")
        .send()
        .await;
    assert_eq!(
        res.text(),
        "GET http://localhost/d host=localhost auth=- type=- encoding=-"
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_sends_that_host() {
    let c = TestClient::new(redirect_edges()).follow_redirects(1);
    let res = c.post("/away").body("x").send().await;
    assert_eq!(
        res.text(),
        "POST http://other.example:8080/d host=other.example:8080 auth=- type=- encoding=-"
    );
}

#[tokio::test]
async fn a_redirect_that_drops_the_body_drops_its_description() {
    let c = TestClient::new(redirect_edges()).follow_redirects(1);
    let res = c
        .post("/see-other")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("authorization", "Bearer t")
        .body("{}")
        .send()
        .await;
    assert_eq!(
        res.text(),
        "GET /d host=localhost auth=Bearer t type=- encoding=-"
    );
}
