//! [`Router`]: picks a handler by path and method, and is the
//! [`Application`] the server runs.

use std::future::Future;
use std::sync::Arc;

use gateway_core::http::header::{ALLOW, HeaderValue};
use gateway_core::http::{Method, StatusCode};
use gateway_core::{Application, Environ, Error, Response};

use super::error::AppError;
use super::request::{Params, Request};

/// A boxed `Send` future (`gateway_core` no longer exports one).
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The body limit unless [`Router::body_limit`] says otherwise: 64 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// What a route runs: an `async fn(Request<S>) -> Result<Response, AppError>`
/// (or a closure returning such a future), through the blanket impl.
pub trait Handler<S>: Send + Sync + 'static {
    /// Handles one request. The future is boxed so that handlers of
    /// different types fit in one route table: one box per request.
    fn call(&self, req: Request<S>) -> BoxFuture<'static, Result<Response, AppError>>;
}

impl<S, F, Fut> Handler<S> for F
where
    F: Fn(Request<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, AppError>> + Send + 'static,
{
    fn call(&self, req: Request<S>) -> BoxFuture<'static, Result<Response, AppError>> {
        Box::pin(self(req))
    }
}

type BoxHandler<S> = Box<dyn Handler<S>>;

/// Routes requests to handlers by `path_info` and method.
///
/// A pattern is a path whose segments are literals or `{name}`
/// parameters: `/notes/{id}`. Routes are tried in the order they were
/// added; the first whose pattern matches the path and which has a handler
/// for the method answers. Matching is of whole segments:
///
/// - Literals compare with the raw (percent-encoded) segment; a parameter
///   matches one non-empty segment and is percent-decoded afterwards, so
///   `%2F` stays inside it. A parameter that is not UTF-8 once decoded is
///   400.
/// - A trailing slash is significant: `/notes/` does not match `/notes`.
///   An empty `path_info` (a router mounted at exactly its prefix) is `/`.
/// - A path that no pattern matches is 404; a path some pattern matches
///   with no handler for the method is 405 with `Allow`.
/// - HEAD runs the GET handler unless the route has its own: the driver
///   drops the body and keeps GET's `Content-Length`.
///
/// It matches `path_info`, not the full path, so the same router works
/// mounted under any prefix; links it builds start with `script_name`.
pub struct Router<S = ()> {
    routes: Vec<Route<S>>,
    state: Arc<S>,
    body_limit: usize,
}

struct Route<S> {
    segments: Vec<Segment>,
    methods: MethodRouter<S>,
}

enum Segment {
    Literal(Box<str>),
    Param(Arc<str>),
}

impl Router<()> {
    /// A router without state.
    pub fn new() -> Router<()> {
        Router::with_state(())
    }
}

impl Default for Router<()> {
    fn default() -> Self {
        Router::new()
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    /// A router whose handlers share `state` (a database pool, a cache),
    /// through [`Request::state`].
    pub fn with_state(state: S) -> Router<S> {
        Router {
            routes: Vec::new(),
            state: Arc::new(state),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Adds a route.
    ///
    /// # Panics
    ///
    /// If `pattern` does not start with `/`, has an empty segment, or a
    /// segment with a brace that is not a whole `{name}`: a mistake in the
    /// program, found when the router is built.
    pub fn route(mut self, pattern: &str, methods: MethodRouter<S>) -> Router<S> {
        let Some(rest) = pattern.strip_prefix('/') else {
            panic!("route pattern {pattern:?} does not start with '/'");
        };
        let segments = segments(rest)
            .map(
                |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) if !name.is_empty() && !name.contains(['{', '}']) => {
                        Segment::Param(name.into())
                    }
                    _ if seg.is_empty() || seg.contains(['{', '}']) => {
                        panic!("route pattern {pattern:?} has an invalid segment {seg:?}")
                    }
                    _ => Segment::Literal(seg.into()),
                },
            )
            .collect();
        self.routes.push(Route { segments, methods });
        self
    }

    /// The most a [`Request`] extractor reads of a body; more is 413.
    /// Defaults to [`DEFAULT_BODY_LIMIT`].
    pub fn body_limit(mut self, limit: usize) -> Router<S> {
        self.body_limit = limit;
        self
    }

    async fn dispatch(&self, env: Environ) -> Result<Response, AppError> {
        let mut allowed: Vec<&Method> = Vec::new();
        let mut found = None;
        for route in &self.routes {
            let Some(params) = route.matches(env.path_info())? else {
                continue;
            };
            match route.methods.find(env.method()) {
                Some(handler) => {
                    found = Some((handler, params));
                    break;
                }
                None => {
                    for method in route.methods.allowed() {
                        if !allowed.contains(&method) {
                            allowed.push(method);
                        }
                    }
                }
            }
        }
        if let Some((handler, params)) = found {
            let state = Arc::clone(&self.state);
            return handler
                .call(Request::new(env, params, state, self.body_limit))
                .await;
        }
        if allowed.is_empty() {
            return Err(AppError::not_found("no such resource"));
        }
        let allow = allowed
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let allow = HeaderValue::try_from(allow).map_err(Error::from)?;
        Err(
            AppError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
                .with_header(ALLOW, allow),
        )
    }
}

impl<S> Route<S> {
    /// The parameters if `path` matches, `None` if it does not.
    fn matches(&self, path: &str) -> Result<Option<Params>, AppError> {
        let rest = match path {
            "" | "/" => "",
            _ => match path.strip_prefix('/') {
                Some(rest) => rest,
                None => return Ok(None), // `*` (OPTIONS *) matches nothing
            },
        };
        let mut parts = segments(rest);
        let mut params = Params::default();
        for segment in &self.segments {
            let Some(part) = parts.next() else {
                return Ok(None);
            };
            match segment {
                Segment::Literal(lit) if **lit == *part => {}
                Segment::Param(name) if !part.is_empty() => {
                    let value = percent_encoding::percent_decode_str(part)
                        .decode_utf8()
                        .map_err(|_| AppError::new(StatusCode::BAD_REQUEST, "path is not UTF-8"))?;
                    params.push(Arc::clone(name), value.into_owned());
                }
                _ => return Ok(None),
            }
        }
        Ok(parts.next().is_none().then_some(params))
    }
}

/// The segments of a path after its leading `/`: none for `/` (splitting
/// "" would give one empty segment), an empty one for each `//` or
/// trailing `/`.
fn segments(rest: &str) -> impl Iterator<Item = &str> {
    rest.split('/').filter(move |_| !rest.is_empty())
}

impl<S: Send + Sync + 'static> Application for Router<S> {
    /// Dispatches; renders a client error as a response and hands a server
    /// error to the driver (see [`AppError`]).
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        match self.dispatch(env).await {
            Ok(res) => Ok(res),
            Err(e) if e.status().is_server_error() => Err(e.into()),
            Err(e) => Ok(e.into_response()),
        }
    }
}

impl<S> std::fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.routes.len())
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

/// The handlers of one route, by method: `get(list).post(create)`.
///
/// A handler is any [`Handler`]: an `async fn(Request<S>) ->
/// Result<Response, AppError>`, or a closure returning such a future.
pub struct MethodRouter<S = ()> {
    handlers: Vec<(Method, BoxHandler<S>)>,
}

impl<S> std::fmt::Debug for MethodRouter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let methods: Vec<&Method> = self.handlers.iter().map(|(m, _)| m).collect();
        f.debug_struct("MethodRouter")
            .field("methods", &methods)
            .finish()
    }
}

impl<S: Send + Sync + 'static> MethodRouter<S> {
    /// Adds `handler` for `method`, replacing an earlier one.
    pub fn on(mut self, method: Method, handler: impl Handler<S>) -> MethodRouter<S> {
        self.handlers.retain(|(m, _)| *m != method);
        self.handlers.push((method, Box::new(handler)));
        self
    }

    /// Adds a GET handler (which also answers HEAD).
    pub fn get(self, handler: impl Handler<S>) -> MethodRouter<S> {
        self.on(Method::GET, handler)
    }

    /// Adds a POST handler.
    pub fn post(self, handler: impl Handler<S>) -> MethodRouter<S> {
        self.on(Method::POST, handler)
    }

    /// Adds a DELETE handler.
    pub fn delete(self, handler: impl Handler<S>) -> MethodRouter<S> {
        self.on(Method::DELETE, handler)
    }
}

impl<S> MethodRouter<S> {
    fn find(&self, method: &Method) -> Option<&BoxHandler<S>> {
        let exact = self.handlers.iter().find(|(m, _)| m == method);
        let head_as_get = || match *method {
            Method::HEAD => self.handlers.iter().find(|(m, _)| m == Method::GET),
            _ => None,
        };
        exact.or_else(head_as_get).map(|(_, h)| h)
    }

    /// The methods for `Allow`: HEAD goes with GET.
    fn allowed(&self) -> impl Iterator<Item = &Method> {
        self.handlers.iter().flat_map(|(m, _)| {
            let head = (*m == Method::GET).then_some(&Method::HEAD);
            std::iter::once(m).chain(head)
        })
    }
}

/// A [`MethodRouter`] with `handler` for `method`.
pub fn on<S: Send + Sync + 'static>(method: Method, handler: impl Handler<S>) -> MethodRouter<S> {
    MethodRouter {
        handlers: Vec::new(),
    }
    .on(method, handler)
}

/// A [`MethodRouter`] with a GET (and so HEAD) handler.
pub fn get<S: Send + Sync + 'static>(handler: impl Handler<S>) -> MethodRouter<S> {
    on(Method::GET, handler)
}

/// A [`MethodRouter`] with a POST handler.
pub fn post<S: Send + Sync + 'static>(handler: impl Handler<S>) -> MethodRouter<S> {
    on(Method::POST, handler)
}

#[cfg(test)]
mod tests {
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
}
