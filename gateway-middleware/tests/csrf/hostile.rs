//! Bad input: non-UTF-8, huge, empty and repeated header fields, and
//! malformed forms. Every case is refused with a 403 (or 413) — never a
//! 500, never a panic, never a pass.

use gateway_middleware::auth::CsrfRejection;
use http::HeaderValue;

use crate::support::{assert_passed, assert_refused, client, token};

const FORM: &str = "application/x-www-form-urlencoded";

fn raw(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).expect("a valid field value (obs-text allowed)")
}

#[tokio::test]
async fn non_utf8_fields_are_refused() {
    let (client, reached) = client();
    let good = token(&client).await;
    let res = client
        .post("/")
        .header("sec-fetch-site", raw(b"same-origin\xff"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    let res = client
        .post("/")
        .header("sec-fetch-site", raw(b"\xc3\xa9"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    let res = client
        .post("/")
        .header("origin", raw(b"http://localhost\xff"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    let res = client
        .post("/")
        .header("origin", raw(b"http://\xe9.example"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    let mut token = good.clone().into_bytes();
    token[10] = 0xff;
    let res = client
        .post("/")
        .header("x-csrf-token", raw(&token))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);
    let res = client
        .post("/")
        .header(
            "content-type",
            raw(b"application/x-www-form-urlencoded\xff"),
        )
        .body(format!("csrf_token={good}"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::MissingToken);
    assert_eq!(reached.count(), 1);
}

#[tokio::test]
async fn huge_fields_are_refused() {
    let (client, reached) = client();
    let good = token(&client).await;
    let huge = "a".repeat(256 * 1024);
    let res = client
        .post("/")
        .header("sec-fetch-site", &huge)
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    let res = client
        .post("/")
        .header("origin", format!("http://{huge}"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    let res = client.post("/").header("x-csrf-token", &huge).send().await;
    assert_refused(&res, CsrfRejection::InvalidToken);
    // The right token followed by junk.
    let res = client
        .post("/")
        .header("x-csrf-token", format!("{good}{huge}"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);
    let res = client
        .post("/")
        .form(&[("csrf_token", format!("{good}{}", "A".repeat(1000)))])
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);
    // A huge form: 413, whatever it holds.
    let res = client
        .post("/")
        .header("content-type", FORM)
        .body(format!("csrf_token={good}&x={}", "y".repeat(64 * 1024)))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::FormTooLarge);
    assert_eq!(reached.count(), 1);
}

#[tokio::test]
async fn empty_fields_count_as_absent() {
    let (client, reached) = client();
    // Empty Sec-Fetch-Site and Origin: neither header, so the token mode
    // (and there is no session).
    let res = client
        .post("/")
        .header("sec-fetch-site", "")
        .header("origin", "")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::NoSecret);
    let good = token(&client).await;
    let res = client
        .post("/")
        .header("sec-fetch-site", "")
        .header("x-csrf-token", &good)
        .send()
        .await;
    assert_passed(&res);
    // An empty Sec-Fetch-Site falls through to the Origin check.
    let res = client
        .post("/")
        .header("sec-fetch-site", "")
        .header("origin", "https://evil.example")
        .header("x-csrf-token", &good)
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    assert_eq!(reached.count(), 2);
}

#[tokio::test]
async fn repeated_fields_are_refused() {
    let (client, reached) = client();
    let good = token(&client).await;
    let res = client
        .post("/")
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    let res = client
        .post("/")
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-site", "same-origin")
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    let res = client
        .post("/")
        .header("origin", "http://localhost")
        .header("origin", "http://localhost")
        .header("x-csrf-token", &good)
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    let res = client
        .post("/")
        .header("x-csrf-token", &good)
        .header("x-csrf-token", &good)
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);
    // The same field twice in the form, even with the same value.
    let res = client
        .post("/")
        .header("content-type", FORM)
        .body(format!("csrf_token={good}&csrf_token={good}"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);
    // Two Content-Types: the body is not read as a form.
    let res = client
        .post("/")
        .header("content-type", FORM)
        .header("content-type", FORM)
        .body(format!("csrf_token={good}"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::MissingToken);
    assert_eq!(reached.count(), 1);
}

#[tokio::test]
async fn malformed_forms_are_refused() {
    let (client, reached) = client();
    let good = token(&client).await;
    let mut bodies: Vec<Vec<u8>> = vec![
        b"%".to_vec(),
        b"&&&&".to_vec(),
        b"====".to_vec(),
        b"csrf_token=%G1%".to_vec(),
        b"csrf_token=%".to_vec(),
        b"csrf_token".to_vec(),
        b"\xff\xfe\x00\x01".to_vec(),
        format!("csrf_token={}", &good[..85]).into_bytes(),
        format!("csrf_token={good}%00").into_bytes(),
        format!("csrf_token={good}\r\n").into_bytes(),
        format!("csrf_token= {good}").into_bytes(),
        format!("csrf_token%3D{good}").into_bytes(),
        format!("csrf_token={good};x=1").into_bytes(),
    ];
    // `+` is a space in a form: a token with a `-` written with `+` instead.
    if good.contains('-') {
        bodies.push(format!("csrf_token={}", good.replace('-', "+")).into_bytes());
    }
    for body in bodies {
        let res = client
            .post("/")
            .header("content-type", FORM)
            .body(body.clone())
            .send()
            .await;
        assert!(
            matches!(
                res.extensions().get::<CsrfRejection>(),
                Some(CsrfRejection::MissingToken | CsrfRejection::InvalidToken)
            ),
            "{:?}: {res:?}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(res.status(), 403);
    }
    assert_eq!(reached.count(), 1);
}
