//! [`ConditionalGet`]: the evaluator applied to dynamic `GET`/`HEAD`
//! responses.

use gateway_core::{Application, Body, Environ, Error, Middleware, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_LOCATION, DATE, ETAG, EXPIRES, HeaderName, IF_MATCH, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, IF_UNMODIFIED_SINCE, LAST_MODIFIED, SET_COOKIE, VARY,
};
use http::{HeaderMap, Method, StatusCode};

use super::{Precondition, Validators, evaluate};

/// Answers conditional `GET` and `HEAD` requests for dynamic responses
/// with `304 Not Modified` or `412 Precondition Failed`, from the `ETag`
/// and `Last-Modified` the application sent.
///
/// For a `GET` or `HEAD` request with `If-Match`, `If-None-Match`,
/// `If-Modified-Since` or `If-Unmodified-Since`, the application runs as
/// usual; if it answers `200` with an `ETag` and/or a `Last-Modified` (an
/// HTTP-date), [`evaluate`] decides:
///
/// - **304:** the response keeps only the fields RFC 9110 §15.4.5 lists —
///   `Cache-Control`, `Content-Location`, `Date`, `ETag`, `Expires`,
///   `Vary` — plus `Last-Modified` and `Set-Cookie` (as Django does: a
///   cookie set with the response must not be lost because the client's
///   copy was fresh), and an empty body.
/// - **412:** an empty response with no header fields.
///
/// Any other request or response passes through untouched; a request with
/// none of the four headers costs four header lookups. The application's
/// work is not saved (that needs the validators before the response is
/// built: call [`evaluate`] in the handler), only the transfer.
///
/// Other methods are never touched: a precondition on a state-changing
/// request must be checked before acting, which only the handler can do —
/// see [State-changing methods](crate::conditional#state-changing-methods).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::ConditionalGet;
///
/// let app = fn_app(|_| async {
///     start(200, [("content-type", "text/plain"), ("etag", "\"42\"")]).body("the report")
/// })
/// .with(ConditionalGet);
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/report").send().await.text(), "the report");
/// let res = client.get("/report").header("if-none-match", "\"42\"").send().await;
/// assert_eq!(res.status(), 304);
/// assert_eq!(res.header("etag"), Some("\"42\""));
/// assert_eq!(res.header("content-type"), None);
/// assert!(res.bytes().is_empty());
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ConditionalGet;

impl<A: Application> Middleware<A> for ConditionalGet {
    type Output = ConditionalGetApp<A>;

    fn wrap(&self, app: A) -> ConditionalGetApp<A> {
        ConditionalGetApp { app }
    }
}

/// The application [`ConditionalGet`] produces.
#[derive(Clone, Debug)]
pub struct ConditionalGetApp<A> {
    app: A,
}

impl<A> ConditionalGetApp<A> {
    /// The wrapped application.
    pub fn inner(&self) -> &A {
        &self.app
    }
}

const CONDITIONAL: [HeaderName; 4] = [
    IF_MATCH,
    IF_NONE_MATCH,
    IF_MODIFIED_SINCE,
    IF_UNMODIFIED_SINCE,
];

/// The fields a 304 keeps.
const NOT_MODIFIED_KEEPS: [HeaderName; 8] = [
    CACHE_CONTROL,
    CONTENT_LOCATION,
    DATE,
    ETAG,
    EXPIRES,
    VARY,
    LAST_MODIFIED,
    SET_COOKIE,
];

impl<A: Application> Application for ConditionalGetApp<A> {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        let method = env.method();
        if !(*method == Method::GET || *method == Method::HEAD)
            || !CONDITIONAL
                .iter()
                .any(|name| env.headers().contains_key(name))
        {
            return self.app.call(env).await;
        }
        // The environ moves into the application; keep the preconditions.
        let method = method.clone();
        let mut conditions = HeaderMap::new();
        for name in CONDITIONAL {
            for value in env.headers().get_all(&name) {
                conditions.append(name.clone(), value.clone());
            }
        }
        let res = self.app.call(env).await?;
        if res.status() != StatusCode::OK {
            return Ok(res);
        }
        let last_modified = res
            .headers()
            .get(LAST_MODIFIED)
            .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok());
        let validators = Validators {
            etag: res.headers().get(ETAG),
            last_modified,
        };
        if !validators.exists() {
            return Ok(res);
        }
        match evaluate(&method, &conditions, validators) {
            Precondition::NotModified => Ok(not_modified(res)),
            Precondition::Failed => {
                let (mut parts, _body) = res.into_parts();
                parts.status = StatusCode::PRECONDITION_FAILED;
                parts.headers.clear();
                Ok(Response::from_parts(parts, Body::empty()))
            }
            _ => Ok(res),
        }
    }

    async fn startup(&self) -> Result<(), Error> {
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}

/// `res` as a 304: the kept fields (every line of each), extensions, no
/// body.
fn not_modified(res: Response) -> Response {
    let (mut parts, _body) = res.into_parts();
    let mut kept = HeaderMap::new();
    let mut keep: Option<HeaderName> = None;
    for (name, value) in std::mem::take(&mut parts.headers) {
        // `None` is another line of the previous name.
        if let Some(name) = name {
            keep = NOT_MODIFIED_KEEPS.contains(&name).then_some(name);
        }
        if let Some(name) = &keep {
            kept.append(name.clone(), value);
        }
    }
    parts.status = StatusCode::NOT_MODIFIED;
    parts.headers = kept;
    Response::from_parts(parts, Body::empty())
}
