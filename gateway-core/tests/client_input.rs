//! What the client sent is the client's fault: every `Environ` accessor
//! that parses the request either cannot fail (and says how it reads bad
//! bytes) or fails with a 400-status error, so `?` in an application
//! answers 400, never 500.
#![cfg(feature = "test-client")]

use gateway_core::test_client::TestClient;
use gateway_core::{Environ, Error, fn_app, start};
use http::StatusCode;

/// The status of `GET target` (with `host`, if given) from an application
/// that reads what `read` reads with `?`.
async fn status_of<F>(target: &str, host: Option<&str>, read: F) -> (StatusCode, String)
where
    F: Fn(&mut Environ) -> Result<String, Error> + Send + Sync + 'static,
{
    let app = fn_app(move |mut env: Environ| {
        let read = read(&mut env);
        async move { start(200, [("content-type", "text/plain")]).body(read?) }
    });
    let client = TestClient::new(app);
    let mut req = client.get(target);
    if let Some(host) = host {
        req = req.header("host", host);
    }
    let res = req.send().await;
    (res.status(), res.text())
}

#[tokio::test]
async fn a_path_that_does_not_decode_is_a_400() {
    for target in ["/%FF", "/a%C3", "/a%zz", "/a%2", "/a%"] {
        let (status, _) = status_of(target, None, |env| {
            Ok(env.path_info_decoded()?.into_owned())
        })
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{target}");
    }
    let (status, text) = status_of("/caf%C3%A9/a%2Fb", None, |env| {
        Ok(env.path_info_decoded()?.into_owned())
    })
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "/café/a/b"));
}

#[tokio::test]
async fn a_script_name_that_does_not_decode_is_a_400() {
    let (status, _) = status_of("/%FF/x", None, |env| {
        assert!(env.mount("/%FF"));
        Ok(env.script_name_decoded()?.into_owned())
    })
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn query_pairs_read_bad_bytes_as_browsers_do() {
    // Never a failure: as the WHATWG URL standard's urlencoded parser,
    // invalid UTF-8 becomes U+FFFD and a stray `%` stays itself.
    let (status, text) = status_of("/?q=%FF&r=%zz&s=a+b", None, |env| {
        Ok(env
            .query_pairs()
            .map(|(k, v)| format!("{k}={v};"))
            .collect())
    })
    .await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::OK, "q=\u{FFFD};r=%zz;s=a b;")
    );
}

#[tokio::test]
async fn a_bad_host_reads_as_no_host() {
    // Adapters refuse an invalid Host (400); an environ built elsewhere
    // treats one as absent rather than failing.
    let (status, text) = status_of("/", Some("evil.test/x?"), |env| {
        Ok(format!(
            "{:?} {} {} {}",
            env.host(),
            env.server_name(),
            env.server_port(),
            env.url()
        ))
    })
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, "None localhost 80 http://localhost/");
    let (status, text) = status_of("/", Some("a.test:99999"), |env| {
        Ok(format!("{} {}", env.server_name(), env.server_port()))
    })
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "a.test 80"));
}
