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
mod tests;
