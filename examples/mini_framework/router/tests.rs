use gateway_core::http::{HeaderMap, Method, StatusCode};
use gateway_core::{Body, Environ, Error, driver};

use super::super::{AppError, Request, Router, get, on, post, text};

/// Answers with the route's name and its parameters: `name a=1 b=2`.
fn echo(
    name: &'static str,
) -> impl Fn(Request) -> std::future::Ready<Result<gateway_core::Response, AppError>> {
    move |req| {
        let params: Vec<String> = req
            .params()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        std::future::ready(Ok(text(
            StatusCode::OK,
            format!("{name} {}", params.join(" ")).trim_end().to_owned(),
        )))
    }
}

fn router() -> Router {
    Router::new()
        .route("/", get(echo("root")))
        .route("/notes", get(echo("list")).post(echo("create")))
        .route("/notes/new", get(echo("new")))
        .route("/notes/{id}", get(echo("show")).delete(echo("delete")))
        .route("/notes/{id}/tags/{tag}", get(echo("tag")))
        .route("/p/{x}", get(echo("p")))
        .route(
            "/boom",
            get(|_req: Request| async { Err(Error::new("disk on fire").into()) }),
        )
}

async fn send(app: &Router, method: Method, env: Environ) -> (StatusCode, HeaderMap, String) {
    let mut env = env;
    env.set_method(method);
    let Ok(res) = driver::commit(app, env).await;
    let (parts, body) = res.into_parts();
    let body = body.to_bytes(1 << 20).await.expect("body");
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).expect("utf-8"),
    )
}

fn env(uri: &str) -> Environ {
    Environ::from_request(
        http::Request::get(uri)
            .body(Body::empty())
            .expect("request"),
    )
}

async fn get_text(app: &Router, uri: &str) -> (StatusCode, String) {
    let (status, _, body) = send(app, Method::GET, env(uri)).await;
    (status, body)
}

#[tokio::test]
async fn matches_literals_and_parameters() {
    let app = router();
    for (uri, status, body) in [
        ("/", StatusCode::OK, "root"),
        ("/notes", StatusCode::OK, "list"),
        // The literal is added first, so it wins over `{id}`.
        ("/notes/new", StatusCode::OK, "new"),
        ("/notes/42", StatusCode::OK, "show id=42"),
        ("/notes/42/tags/x", StatusCode::OK, "tag id=42 tag=x"),
        ("/notes/42?x=1", StatusCode::OK, "show id=42"),
        ("/nope", StatusCode::NOT_FOUND, ""),
        ("/notes/42/tags", StatusCode::NOT_FOUND, ""),
        ("/notes/42/extra", StatusCode::NOT_FOUND, ""),
        // Literals compare raw: an encoded literal is another path.
        ("/n%6Ftes", StatusCode::NOT_FOUND, ""),
    ] {
        let (got, text) = get_text(&app, uri).await;
        assert_eq!(got, status, "{uri}: {text}");
        if status == StatusCode::OK {
            assert_eq!(text, body, "{uri}");
        } else {
            assert!(text.contains(r#""status":404"#), "{uri}: {text}");
        }
    }
}

#[tokio::test]
async fn trailing_slashes_and_empty_segments_do_not_match() {
    let app = router();
    for uri in ["/notes/", "/notes/42/", "/notes//42", "//", "/notes//"] {
        assert_eq!(get_text(&app, uri).await.0, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test]
async fn parameters_are_percent_decoded_after_splitting() {
    let app = router();
    assert_eq!(get_text(&app, "/p/J%C3%BCrgen").await.1, "p x=Jürgen");
    // `%2F` is a slash inside the parameter, not a separator.
    assert_eq!(get_text(&app, "/p/a%2Fb").await.1, "p x=a/b");
    assert_eq!(get_text(&app, "/p/a%20b+c").await.1, "p x=a b+c");
    let (status, body) = get_text(&app, "/p/%FF").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn matches_path_info_when_mounted() {
    let app = router();
    let mut mounted = env("/api/notes/7");
    assert!(mounted.mount("/api"));
    assert_eq!(send(&app, Method::GET, mounted).await.2, "show id=7");
    // Mounted at exactly its prefix, `path_info` is empty: that is `/`.
    let mut at_prefix = env("/api");
    assert!(at_prefix.mount("/api"));
    assert_eq!(send(&app, Method::GET, at_prefix).await.2, "root");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = router();
    for (uri, allow) in [
        ("/notes", "GET, HEAD, POST"),
        ("/notes/42", "GET, HEAD, DELETE"),
        // Both `/notes/new` and `/notes/{id}` match: their methods merge.
        ("/notes/new", "GET, HEAD, DELETE"),
    ] {
        let (status, headers, body) = send(&app, Method::PUT, env(uri)).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
        assert_eq!(headers["allow"], allow, "{uri}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            body,
            r#"{"error":{"message":"method not allowed","status":405}}"#
        );
    }
    // A method one route lacks, a later one with the same path has.
    let (_, _, body) = send(&app, Method::DELETE, env("/notes/new")).await;
    assert_eq!(body, "delete id=new");
    let (_, _, body) = send(&app, Method::POST, env("/notes")).await;
    assert_eq!(body, "create");
}

#[tokio::test]
async fn head_runs_get_unless_the_route_has_its_own() {
    let (status, headers, body) = send(&router(), Method::HEAD, env("/notes/42")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-length"], "10"); // "show id=42"
    assert_eq!(body, "");
    let own = Router::new().route("/", get(echo("get")).on(Method::HEAD, echo("head")));
    let (_, headers, _) = send(&own, Method::HEAD, env("/")).await;
    assert_eq!(headers["content-length"], "4");
    // HEAD where only POST exists is 405, and Allow says so.
    let post_only = Router::new().route("/", post(echo("post")));
    let (status, headers, _) = send(&post_only, Method::HEAD, env("/")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "POST");
    let any = Router::new().route("/", on(Method::OPTIONS, echo("options")));
    assert_eq!(send(&any, Method::OPTIONS, env("/")).await.2, "options");
}

#[tokio::test]
async fn server_errors_go_to_the_driver() {
    let (status, headers, body) = send(&router(), Method::GET, env("/boom")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    // The driver's generic page: no JSON, and not the cause.
    assert!(!body.contains("disk"), "{body}");
    assert_ne!(
        headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
}

#[test]
fn invalid_patterns_panic_when_the_router_is_built() {
    for pattern in [
        "notes", "/notes/", "/a//b", "/{}", "/a{b}", "/{a}b", "/{{a}}", "",
    ] {
        let built = std::panic::catch_unwind(|| Router::new().route(pattern, get(echo("x"))));
        assert!(built.is_err(), "{pattern:?} was accepted");
    }
}
