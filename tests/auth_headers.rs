//! `BasicAuth` and `BearerAuth` end to end: gateway-hyper servers on
//! loopback, driven with raw HTTP/1.1 bytes (including `Authorization`
//! values that are not UTF-8, which only a raw socket can send) and with
//! hyper's HTTP/2 client; the statuses and the challenges byte for byte.

use gateway_core::{ApplicationExt, Environ, fn_app, start};
use gateway_middleware::auth::{BasicAuth, BearerAuth, BearerError, Identity};
use gateway_tests::{Proto, TestServer, exchange, split_head};
use http::{HeaderValue, Method, StatusCode};

const BASIC_CHALLENGE: &str = r#"Basic realm="e2e \"realm\"", charset="UTF-8""#;

/// Answers the verified user's id.
async fn whoami(env: Environ) -> Result<gateway_core::Response, gateway_core::Error> {
    let id = Identity::of(&env)
        .map_or("anonymous", Identity::id)
        .to_owned();
    start(200, [("content-type", "text/plain")]).body(id)
}

/// `GET /` with these `Authorization` lines (raw bytes), on a new
/// connection that the server closes after answering: the status, the
/// `www-authenticate` values (the raw bytes after `name: `) and the body.
async fn get(server: &TestServer, authorization: &[&[u8]]) -> (u16, Vec<Vec<u8>>, Vec<u8>) {
    let mut request = b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n".to_vec();
    for value in authorization {
        request.extend_from_slice(b"Authorization: ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    let raw = exchange(server.addr, &request).await;
    let (head, body) = split_head(&raw);
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    // The head as bytes (split_head's String is lossy), one line each.
    let head_bytes = &raw[..raw.len() - body.len()];
    let challenges = head_bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            line[..colon]
                .eq_ignore_ascii_case(b"www-authenticate")
                .then(|| line[colon + 1..].trim_ascii().to_vec())
        })
        .collect();
    (status, challenges, body.to_vec())
}

fn one(value: &str) -> Vec<Vec<u8>> {
    vec![value.as_bytes().to_vec()]
}

#[tokio::test]
async fn basic_over_http1() {
    let server =
        TestServer::start(fn_app(whoami).with(BasicAuth::single(r#"e2e "realm""#, "ada", "pa:ss")))
            .await;
    // base64("ada:pa:ss"), base64("ada:nope"), base64("ad\xe9:pa:ss")
    let right: &[u8] = b"Basic YWRhOnBhOnNz";
    let cases: [(&str, Vec<&[u8]>, u16); 12] = [
        ("right", vec![right], 200),
        (
            "scheme case and spaces",
            vec![b"bASIC    YWRhOnBhOnNz"],
            200,
        ),
        ("missing", vec![], 401),
        ("wrong password", vec![b"Basic YWRhOm5vcGU="], 401),
        (
            "non-UTF-8 header value",
            vec![b"Basic \xff\xfe\xfd\xfc"],
            401,
        ),
        ("non-UTF-8 user", vec![b"Basic YWTpOnBhOnNz"], 401),
        ("non-UTF-8 scheme", vec![b"B\xe1sic YWRhOnBhOnNz"], 401),
        ("tab after the scheme", vec![b"Basic\tYWRhOnBhOnNz"], 401),
        ("scheme alone", vec![b"Basic"], 401),
        ("invalid base64", vec![b"Basic YWRh*nBhOnNz"], 401),
        ("other scheme", vec![b"Bearer YWRhOnBhOnNz"], 401),
        ("two fields", vec![right, right], 400),
    ];
    for (what, authorization, status) in cases {
        let (got, challenges, body) = get(&server, &authorization).await;
        assert_eq!(got, status, "{what}");
        match status {
            200 => {
                assert_eq!(body, b"ada", "{what}");
                assert!(challenges.is_empty(), "{what}");
            }
            401 => assert_eq!(challenges, one(BASIC_CHALLENGE), "{what}"),
            _ => assert!(challenges.is_empty(), "{what}: {challenges:?}"),
        }
        assert!(!body.windows(4).any(|w| w == b"pa:s"), "{what}");
    }
    server.stop().await;
}

/// What is sent, the `Authorization` lines, the status and the challenge.
type BearerCase<'a> = (&'a str, Vec<&'a [u8]>, u16, Option<&'a str>);

#[tokio::test]
async fn bearer_over_http1() {
    let verifier = |token: &str| {
        let verdict = match token {
            "good" => Ok(String::from("svc")),
            "reader" => Err(BearerError::insufficient_scope("write")),
            _ => Err(BearerError::invalid_token()),
        };
        async move { verdict }
    };
    let server = TestServer::start(fn_app(whoami).with(BearerAuth::new("api", verifier))).await;
    let bare = r#"Bearer realm="api""#;
    let invalid_request = r#"Bearer realm="api", error="invalid_request""#;
    let invalid_token = r#"Bearer realm="api", error="invalid_token""#;
    let scope = r#"Bearer realm="api", error="insufficient_scope", scope="write""#;
    let cases: [BearerCase<'_>; 12] = [
        ("right", vec![b"Bearer good"], 200, None),
        ("scheme case and spaces", vec![b"BEARER   good"], 200, None),
        ("missing", vec![], 401, Some(bare)),
        ("other scheme", vec![b"Basic Z29vZA=="], 401, Some(bare)),
        (
            "unknown token",
            vec![b"Bearer bad=="],
            401,
            Some(invalid_token),
        ),
        (
            "insufficient scope",
            vec![b"Bearer reader"],
            403,
            Some(scope),
        ),
        ("scheme alone", vec![b"Bearer"], 400, Some(invalid_request)),
        (
            "space in the token",
            vec![b"Bearer go od"],
            400,
            Some(invalid_request),
        ),
        (
            "= inside the token",
            vec![b"Bearer go=od"],
            400,
            Some(invalid_request),
        ),
        (
            "non-UTF-8 token",
            vec![b"Bearer go\xf6d"],
            400,
            Some(invalid_request),
        ),
        (
            "tab after the scheme",
            vec![b"Bearer\tgood"],
            400,
            Some(invalid_request),
        ),
        (
            "two fields",
            vec![b"Bearer good", b"Bearer good"],
            400,
            Some(invalid_request),
        ),
    ];
    for (what, authorization, status, challenge) in cases {
        let (got, challenges, body) = get(&server, &authorization).await;
        assert_eq!(got, status, "{what}");
        match challenge {
            Some(challenge) => assert_eq!(challenges, one(challenge), "{what}"),
            None => {
                assert!(challenges.is_empty(), "{what}");
                assert_eq!(body, b"svc", "{what}");
            }
        }
    }
    server.stop().await;
}

/// The same answers on HTTP/2 (hyper's client, prior knowledge).
#[tokio::test]
async fn basic_and_bearer_over_http2() {
    let basic = TestServer::start(fn_app(whoami).with(BasicAuth::single("h2", "ada", "pw"))).await;
    let mut client = basic.client(Proto::Http2).await;
    let (parts, _) = client.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        parts.headers["www-authenticate"],
        r#"Basic realm="h2", charset="UTF-8""#
    );
    for (value, status) in [
        (&b"Basic YWRhOnB3"[..], StatusCode::OK),
        (b"Basic \xff\xff", StatusCode::UNAUTHORIZED),
    ] {
        let mut req = client.request(Method::GET, "/", gateway_tests::empty());
        req.headers_mut()
            .insert("authorization", HeaderValue::from_bytes(value).unwrap());
        let res = client.send(req).await;
        assert_eq!(res.status(), status, "{value:?}");
        let body = gateway_tests::read_body(res.into_body()).await;
        if status == StatusCode::OK {
            assert_eq!(&body[..], b"ada");
        }
    }
    drop(client);
    basic.stop().await;

    let bearer = TestServer::start(fn_app(whoami).with(BearerAuth::new("h2", |_: &str| async {
        Err::<String, _>(BearerError::insufficient_scope("admin"))
    })))
    .await;
    let mut client = bearer.client(Proto::Http2).await;
    let mut req = client.request(Method::GET, "/", gateway_tests::empty());
    req.headers_mut()
        .insert("authorization", HeaderValue::from_static("Bearer t0k3n"));
    let res = client.send(req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="h2", error="insufficient_scope", scope="admin""#
    );
    drop(client);
    bearer.stop().await;
}
