use http::header::SET_COOKIE;

use super::*;
use crate::app::fn_app;
use crate::response::start;

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
        start(200, crate::NO_HEADERS).body("ignored")
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
