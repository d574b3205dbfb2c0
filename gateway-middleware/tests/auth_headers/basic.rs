//! `BasicAuth`: the header parsing corpus, the challenge, the verifiers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gateway_core::test_client::TestClient;
use gateway_core::{Application, ApplicationExt, Environ, fn_app};
use gateway_middleware::auth::{BasicAuth, Identity, MAX_BASIC_TOKEN, StaticCredentials, Via};
use http::HeaderValue;

use super::whoami;

const CHALLENGE: &str = r#"Basic realm="test", charset="UTF-8""#;

fn b64(raw: &[u8]) -> String {
    STANDARD.encode(raw)
}

fn basic(raw: &[u8]) -> HeaderValue {
    HeaderValue::from_str(&format!("Basic {}", b64(raw))).unwrap()
}

/// A client for `whoami` behind `BasicAuth::single("test", "ada", "p:w d!")`.
fn single() -> TestClient<impl Application> {
    TestClient::new(fn_app(whoami).with(BasicAuth::single("test", "ada", "p:w d!")))
}

/// Sends `values` as `Authorization` field lines; the status, the
/// challenge and the body.
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

fn raw(value: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(value).unwrap()
}

#[tokio::test]
async fn corpus_against_single() {
    let client = single();
    let ok = b64(b"ada:p:w d!");
    let long = format!("Basic {}", "A".repeat(100_000));
    let cases: Vec<(&str, Vec<HeaderValue>, u16)> = vec![
        ("missing", vec![], 401),
        ("right", vec![basic(b"ada:p:w d!")], 200),
        (
            "lower-case scheme",
            vec![raw(format!("basic {ok}").as_bytes())],
            200,
        ),
        (
            "upper-case scheme",
            vec![raw(format!("BASIC {ok}").as_bytes())],
            200,
        ),
        (
            "mixed-case scheme",
            vec![raw(format!("bAsIc {ok}").as_bytes())],
            200,
        ),
        (
            "three spaces",
            vec![raw(format!("Basic   {ok}").as_bytes())],
            200,
        ),
        (
            "surrounding spaces",
            vec![raw(format!("  Basic {ok}  ").as_bytes())],
            200,
        ),
        (
            "tab after the scheme",
            vec![raw(format!("Basic\t{ok}").as_bytes())],
            401,
        ),
        (
            "no space after the scheme",
            vec![raw(format!("Basic{ok}").as_bytes())],
            401,
        ),
        (
            "comma after the scheme",
            vec![raw(format!("Basic,{ok}").as_bytes())],
            401,
        ),
        (
            "space inside the token",
            vec![raw(format!("Basic {} {}", &ok[..4], &ok[4..]).as_bytes())],
            401,
        ),
        ("scheme alone", vec![raw(b"Basic")], 401),
        ("scheme and spaces", vec![raw(b"Basic   ")], 401),
        ("empty field", vec![raw(b"")], 401),
        (
            "other scheme",
            vec![raw(format!("Bearer {ok}").as_bytes())],
            401,
        ),
        ("Digest", vec![raw(b"Digest username=\"ada\"")], 401),
        ("wrong password", vec![basic(b"ada:p:w")], 401),
        ("wrong user", vec![basic(b"bob:p:w d!")], 401),
        ("user case", vec![basic(b"ADA:p:w d!")], 401),
        ("colon moved", vec![basic(b"ada:p:w d!:")], 401),
        ("empty user", vec![basic(b":p:w d!")], 401),
        ("empty password", vec![basic(b"ada:")], 401),
        ("empty credentials (just a colon)", vec![basic(b":")], 401),
        ("empty decoded credentials", vec![raw(b"Basic =")], 401),
        ("no colon", vec![basic(b"ada")], 401),
        ("non-UTF-8 user", vec![basic(b"ad\xe9:p:w d!")], 401),
        ("non-UTF-8 password", vec![basic(b"ada:p:w d!\xff")], 401),
        ("control in password", vec![basic(b"ada:p:w d!\x00")], 401),
        ("newline in user", vec![basic(b"ada\n:p:w d!")], 401),
        (
            "non-UTF-8 header bytes",
            vec![raw(b"Basic \xff\xfe\xfd")],
            401,
        ),
        (
            "non-UTF-8 scheme bytes",
            vec![raw(b"Basi\xe7 YWRhOnA6dyBk")],
            401,
        ),
        ("invalid base64", vec![raw(b"Basic !!!!")], 401),
        ("url-safe alphabet", vec![raw(b"Basic YWRh_nA6dyBk")], 401),
        (
            "missing padding",
            vec![raw(format!("Basic {}", ok.trim_end_matches('=')).as_bytes())],
            401,
        ),
        (
            "extra padding",
            vec![raw(format!("Basic {ok}=").as_bytes())],
            401,
        ),
        ("very long header", vec![raw(long.as_bytes())], 401),
        (
            "two headers, both right",
            vec![basic(b"ada:p:w d!"), basic(b"ada:p:w d!")],
            400,
        ),
        (
            "two headers, one empty",
            vec![basic(b"ada:p:w d!"), raw(b"")],
            400,
        ),
    ];
    // The same pair behind a closure verifier takes the decoding path
    // (`single` compares the token undecoded): every case must agree.
    let decoding = TestClient::new(fn_app(whoami).with(BasicAuth::new(
        "test",
        |user: &str, password: &str| {
            let ok = user == "ada" && password == "p:w d!";
            let user = user.to_owned();
            async move { ok.then_some(user) }
        },
    )));
    for (what, values, status) in cases {
        let (got, challenge, body) = send(&client, &values).await;
        let (decoded_status, decoded_challenge, _) = send(&decoding, &values).await;
        assert_eq!(
            (got, &challenge),
            (decoded_status, &decoded_challenge),
            "{what}: BasicAuth::single and a decoding verifier disagree"
        );
        assert_eq!(got, status, "{what}");
        match got {
            200 => assert_eq!(body, "ada Basic", "{what}"),
            401 => assert_eq!(challenge.as_deref(), Some(CHALLENGE), "{what}"),
            _ => assert_eq!(challenge, None, "{what}: a 400 carries no challenge"),
        }
        // The refusal never shows what was sent.
        assert!(
            !body.contains("p:w") && !body.contains(&ok),
            "{what}: {body}"
        );
    }
    // The "missing padding" case above really lacks something.
    assert!(ok.ends_with("=="), "{ok}");
}

/// What a closure verifier is given, for every input that reaches it —
/// and that malformed input never does.
#[tokio::test]
async fn verifier_sees_decoded_user_and_password() {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let verifier = move |user: &str, password: &str| {
        log.lock()
            .unwrap()
            .push((user.to_owned(), password.to_owned()));
        let user = (password == "ok").then(|| format!("<{user}>"));
        async move { user }
    };
    let client = TestClient::new(fn_app(whoami).with(BasicAuth::new("test", verifier)));
    let pair = |u: &str, p: &str| (u.to_owned(), p.to_owned());

    assert_eq!(send(&client, &[basic(b"ada:ok")]).await.2, "<ada> Basic");
    assert_eq!(send(&client, &[basic(b":ok")]).await.2, "<> Basic");
    assert_eq!(
        send(&client, &[basic("zoë:ok".as_bytes())]).await.2,
        "<zoë> Basic"
    );
    assert_eq!(send(&client, &[basic(b"ada:")]).await.0, 401);
    assert_eq!(send(&client, &[basic(b":")]).await.0, 401);
    assert_eq!(send(&client, &[basic(b"ada:a:b:c")]).await.0, 401);
    let long_password = "x".repeat(MAX_BASIC_TOKEN / 4 * 3 - 4);
    let at_limit = format!("ada:{long_password}");
    assert_eq!(b64(at_limit.as_bytes()).len(), MAX_BASIC_TOKEN);
    assert_eq!(send(&client, &[basic(at_limit.as_bytes())]).await.0, 401);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            pair("ada", "ok"),
            pair("", "ok"),
            pair("zoë", "ok"),
            pair("ada", ""),
            pair("", ""),
            pair("ada", "a:b:c"),
            pair("ada", &long_password),
        ]
    );

    // None of these reaches the verifier.
    seen.lock().unwrap().clear();
    let over_limit = format!("ada:{long_password}xxx");
    for values in [
        vec![],
        vec![basic(b"ada")],
        vec![basic(b"ad\xff:ok")],
        vec![basic(b"ada:o\x7fk")],
        vec![raw(b"Basic \xff")],
        vec![raw(b"Basic YWRhOm9r=")],
        vec![raw(b"Basic")],
        vec![basic(over_limit.as_bytes())],
        vec![basic(b"ada:ok"), basic(b"ada:ok")],
    ] {
        let (status, _, _) = send(&client, &values).await;
        assert!(status == 401 || status == 400, "{values:?}: {status}");
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn refused_requests_never_reach_the_application() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let app = fn_app(move |env: Environ| {
        counter.fetch_add(1, Ordering::SeqCst);
        whoami(env)
    })
    .with(BasicAuth::single("test", "ada", "pw"));
    let client = TestClient::new(app);
    for values in [
        vec![],
        vec![basic(b"ada:no")],
        vec![basic(b"ada:pw"), basic(b"ada:pw")],
    ] {
        assert_ne!(send(&client, &values).await.0, 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(send(&client, &[basic(b"ada:pw")]).await.0, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// The static user is one value shared by every request, not a copy.
#[tokio::test]
async fn static_identity_is_shared() {
    let seen: Arc<Mutex<Vec<usize>>> = Arc::default();
    let log = Arc::clone(&seen);
    let app = fn_app(move |env: Environ| {
        let identity = Identity::of(&env).expect("verified");
        assert_eq!(identity.via(), Via::Basic);
        let user: &String = identity.user::<String>().expect("a String user");
        log.lock().unwrap().push(user as *const String as usize);
        whoami(env)
    })
    .with(BasicAuth::single("test", "ada", "pw"));
    let client = TestClient::new(app);
    for _ in 0..3 {
        assert_eq!(send(&client, &[basic(b"ada:pw")]).await.2, "ada Basic");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|&p| p == seen[0]), "{seen:?}");
}

#[tokio::test]
async fn realm_is_quoted_and_escaped() {
    for (realm, challenge) in [
        ("", r#"Basic realm="", charset="UTF-8""#),
        (
            r#"say "hi" \o/"#,
            r#"Basic realm="say \"hi\" \\o/", charset="UTF-8""#,
        ),
        ("a, b=c", r#"Basic realm="a, b=c", charset="UTF-8""#),
    ] {
        let client = TestClient::new(fn_app(whoami).with(BasicAuth::single(realm, "u", "p")));
        let (status, got, _) = send(&client, &[]).await;
        assert_eq!((status, got.as_deref()), (401, Some(challenge)), "{realm}");
    }
    // UTF-8 realms go out as their bytes.
    let client = TestClient::new(fn_app(whoami).with(BasicAuth::single("café", "u", "p")));
    let res = client.get("/").send().await;
    assert_eq!(
        res.headers()["www-authenticate"].as_bytes(),
        "Basic realm=\"café\", charset=\"UTF-8\"".as_bytes()
    );
}

#[test]
fn refuses_realms_with_control_characters() {
    for realm in ["a\r\nSet-Cookie: x=1", "tab\there", "nul\0", "del\x7f"] {
        let result = std::panic::catch_unwind(|| BasicAuth::single(realm, "u", "p"));
        assert!(result.is_err(), "{realm:?}");
    }
}

#[test]
fn debug_never_shows_the_password() {
    let auth = BasicAuth::single("test", "ada", "hunter2");
    let shown = format!("{auth:?} {:?}", auth.verifier());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("test") && shown.contains("ada"), "{shown}");
    assert_eq!(auth.realm(), "test");
    assert!(StaticCredentials::new("ada", "hunter2").matches("ada", "hunter2"));
}

/// The scheme-independent rules, with every method.
#[tokio::test]
async fn every_method_is_guarded() {
    let client = single();
    for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let res = client.request(method.clone(), "/").send().await;
        assert_eq!(res.status(), 401, "{method}");
        let res = client
            .request(method.clone(), "/")
            .header("authorization", basic(b"ada:p:w d!"))
            .send()
            .await;
        assert_eq!(res.status(), 200, "{method}");
    }
}
