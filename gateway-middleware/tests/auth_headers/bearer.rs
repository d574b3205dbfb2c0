//! `BearerAuth`: the header parsing corpus, the challenges by error code,
//! the verifier's errors.

use std::sync::{Arc, Mutex};

use gateway_core::test_client::TestClient;
use gateway_core::{Application, ApplicationExt, Environ, fn_app};
use gateway_middleware::auth::{BearerAuth, BearerError, Identity, MAX_BEARER_TOKEN, Via};
use http::HeaderValue;

use super::whoami;

const BARE: &str = r#"Bearer realm="api""#;
const INVALID_REQUEST: &str = r#"Bearer realm="api", error="invalid_request""#;
const INVALID_TOKEN: &str = r#"Bearer realm="api", error="invalid_token""#;

/// The test verifier: `good...` tokens are user `svc`, `read...` tokens
/// lack the `write` scope, `expired` is described, anything else is
/// invalid. Every token it is given is logged.
fn verifier(
    log: Arc<Mutex<Vec<String>>>,
) -> impl Fn(&str) -> std::future::Ready<Result<String, BearerError>> + Send + Sync + 'static {
    move |token: &str| {
        log.lock().unwrap().push(token.to_owned());
        std::future::ready(if token.starts_with("good") {
            Ok(String::from("svc"))
        } else if token.starts_with("read") {
            Err(BearerError::insufficient_scope("write admin"))
        } else if token == "expired" {
            Err(BearerError::invalid_token().with_description("The access token expired"))
        } else {
            Err(BearerError::invalid_token())
        })
    }
}

fn client(log: &Arc<Mutex<Vec<String>>>) -> TestClient<impl Application> {
    TestClient::new(fn_app(whoami).with(BearerAuth::new("api", verifier(Arc::clone(log)))))
}

fn raw(value: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(value).unwrap()
}

async fn send(
    client: &TestClient<impl Application>,
    values: &[HeaderValue],
) -> (u16, Option<String>, String) {
    let mut req = client.get("/");
    for v in values {
        req = req.header("authorization", v.clone());
    }
    let res = req.send().await;
    (
        res.status().as_u16(),
        res.header("www-authenticate").map(str::to_owned),
        res.text(),
    )
}

/// What is sent, the field lines, the status, the challenge and the token
/// the verifier gets (if it is called).
type Case<'a> = (
    &'a str,
    Vec<HeaderValue>,
    u16,
    Option<&'a str>,
    Option<&'a str>,
);

#[tokio::test]
async fn corpus() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let client = client(&log);
    let long_ok = format!("good{}", "a".repeat(MAX_BEARER_TOKEN - 4));
    let too_long = format!("good{}", "a".repeat(MAX_BEARER_TOKEN - 3));
    let huge = format!("Bearer {}", "a".repeat(200_000));
    #[rustfmt::skip]
    let cases: Vec<Case<'_>> = vec![
        ("missing", vec![], 401, Some(BARE), None),
        ("other scheme", vec![raw(b"Basic YWRhOnB3")], 401, Some(BARE), None),
        ("scheme prefix", vec![raw(b"Bearerx good")], 401, Some(BARE), None),
        ("empty field", vec![raw(b"")], 401, Some(BARE), None),
        ("right", vec![raw(b"Bearer good")], 200, None, Some("good")),
        ("lower-case scheme", vec![raw(b"bearer good1")], 200, None, Some("good1")),
        ("upper-case scheme", vec![raw(b"BEARER good2")], 200, None, Some("good2")),
        ("spaces", vec![raw(b"  Bearer    good3   ")], 200, None, Some("good3")),
        ("all token characters", vec![raw(b"Bearer good-._~+/AZaz09")], 200, None, Some("good-._~+/AZaz09")),
        ("= padding", vec![raw(b"Bearer good==")], 200, None, Some("good==")),
        ("at the length limit", vec![raw(format!("Bearer {long_ok}").as_bytes())], 200, None, Some(&long_ok)),
        ("scheme alone", vec![raw(b"Bearer")], 400, Some(INVALID_REQUEST), None),
        ("scheme and spaces", vec![raw(b"Bearer   ")], 400, Some(INVALID_REQUEST), None),
        ("tab after the scheme", vec![raw(b"Bearer\tgood")], 400, Some(INVALID_REQUEST), None),
        ("comma after the scheme", vec![raw(b"Bearer,good")], 400, Some(INVALID_REQUEST), None),
        ("space inside", vec![raw(b"Bearer good bad")], 400, Some(INVALID_REQUEST), None),
        ("tab inside", vec![raw(b"Bearer good\tbad")], 400, Some(INVALID_REQUEST), None),
        ("= inside", vec![raw(b"Bearer good=bad")], 400, Some(INVALID_REQUEST), None),
        ("= only", vec![raw(b"Bearer ==")], 400, Some(INVALID_REQUEST), None),
        ("auth-param form", vec![raw(b"Bearer token=\"good\"")], 400, Some(INVALID_REQUEST), None),
        ("comma", vec![raw(b"Bearer good,bad")], 400, Some(INVALID_REQUEST), None),
        ("colon", vec![raw(b"Bearer good:bad")], 400, Some(INVALID_REQUEST), None),
        ("percent", vec![raw(b"Bearer good%20")], 400, Some(INVALID_REQUEST), None),
        ("quote", vec![raw(b"Bearer \"good\"")], 400, Some(INVALID_REQUEST), None),
        ("UTF-8", vec![raw("Bearer goodé".as_bytes())], 400, Some(INVALID_REQUEST), None),
        ("non-UTF-8", vec![raw(b"Bearer good\xff\xfe")], 400, Some(INVALID_REQUEST), None),
        ("two headers", vec![raw(b"Bearer good"), raw(b"Bearer good")], 400, Some(INVALID_REQUEST), None),
        ("two schemes", vec![raw(b"Basic YWRhOnB3"), raw(b"Bearer good")], 400, Some(INVALID_REQUEST), None),
        ("over the length limit", vec![raw(format!("Bearer {too_long}").as_bytes())], 401, Some(INVALID_TOKEN), None),
        ("very long header", vec![raw(huge.as_bytes())], 401, Some(INVALID_TOKEN), None),
        ("unknown token", vec![raw(b"Bearer nope")], 401, Some(INVALID_TOKEN), Some("nope")),
        ("described", vec![raw(b"Bearer expired")], 401,
            Some(r#"Bearer realm="api", error="invalid_token", error_description="The access token expired""#),
            Some("expired")),
        ("insufficient scope", vec![raw(b"Bearer read-only")], 403,
            Some(r#"Bearer realm="api", error="insufficient_scope", scope="write admin""#),
            Some("read-only")),
    ];
    for (what, values, status, challenge, token) in cases {
        log.lock().unwrap().clear();
        let (got, got_challenge, body) = send(&client, &values).await;
        assert_eq!(got, status, "{what}");
        assert_eq!(got_challenge.as_deref(), challenge, "{what}");
        if got == 200 {
            assert_eq!(body, "svc Bearer", "{what}");
        } else {
            // The refusal never echoes the token.
            assert!(
                !body.contains("good") && !body.contains("nope"),
                "{what}: {body}"
            );
        }
        let verified = log.lock().unwrap().clone();
        assert_eq!(
            verified,
            token.into_iter().map(str::to_owned).collect::<Vec<_>>(),
            "{what}"
        );
    }
}

#[tokio::test]
async fn identity_and_refusal_from_a_handler() {
    let auth = BearerAuth::new("api", |token: &str| {
        let user = token.to_owned();
        async move { Ok::<_, BearerError>(user) }
    });
    let refuse = auth.clone();
    let app = fn_app(move |env: Environ| {
        let identity = Identity::of(&env).expect("verified");
        assert_eq!(identity.via(), Via::Bearer);
        let admin = identity.id() == "admin";
        let refuse = refuse.clone();
        async move {
            if !admin {
                return Err(refuse.refuse(BearerError::insufficient_scope("admin")));
            }
            whoami(env).await
        }
    })
    .with(auth);
    let client = TestClient::new(app);
    assert_eq!(
        send(&client, &[raw(b"Bearer admin")]).await,
        (200, None, "admin Bearer".to_owned())
    );
    let (status, challenge, _) = send(&client, &[raw(b"Bearer someone")]).await;
    assert_eq!(status, 403);
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer realm="api", error="insufficient_scope", scope="admin""#)
    );
}

#[tokio::test]
async fn realm_is_escaped() {
    let log = Arc::default();
    let app = fn_app(whoami).with(BearerAuth::new(r#"my "api" \ v2"#, verifier(log)));
    let client = TestClient::new(app);
    let (_, challenge, _) = send(&client, &[]).await;
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer realm="my \"api\" \\ v2""#)
    );
    let (_, challenge, _) = send(&client, &[raw(b"Bearer")]).await;
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer realm="my \"api\" \\ v2", error="invalid_request""#)
    );
}

#[test]
fn error_codes() {
    let cases = [
        (BearerError::invalid_token(), 401, "invalid_token", None),
        (
            BearerError::insufficient_scope("a b"),
            403,
            "insufficient_scope",
            Some("a b"),
        ),
    ];
    for (e, status, code, scope) in cases {
        assert_eq!(
            (e.status().as_u16(), e.code(), e.scope()),
            (status, code, scope)
        );
        assert_eq!(e.to_string(), code);
        assert_eq!(e.description(), None);
    }
}
