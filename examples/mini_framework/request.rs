//! [`Request`]: what a handler receives — the [`Environ`], the path
//! parameters, the shared state — and typed extraction from it.

use std::str::FromStr;
use std::sync::Arc;

use gateway_core::bytes::Bytes;
use gateway_core::http::StatusCode;
use gateway_core::http::header::CONTENT_TYPE;
use gateway_core::{Environ, Error};
use serde::de::DeserializeOwned;

use super::error::AppError;

/// The path parameters a route matched: `{id}` in `/notes/{id}`,
/// percent-decoded (`%2F` is a `/` inside the parameter, not a separator).
#[derive(Clone, Debug, Default)]
pub struct Params {
    // Names are shared with the route (an `Arc` clone, not a copy).
    pairs: Vec<(Arc<str>, String)>,
}

impl Params {
    pub(super) fn push(&mut self, name: Arc<str>, value: String) {
        self.pairs.push((name, value));
    }

    /// The value of parameter `name`, if the route has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The parameters as `(name, value)` pairs, in the pattern's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (&**n, v.as_str()))
    }
}

/// A request as a handler sees it.
///
/// The extractors turn the untyped request into the handler's types and
/// fail with the status a client should see: [`query`](Request::query)
/// 400, [`json`](Request::json) and [`form`](Request::form) 415 for another
/// media type, 413 past the body limit, 400 for malformed JSON, 422 for
/// well-formed data of the wrong shape.
pub struct Request<S = ()> {
    env: Environ,
    params: Params,
    state: Arc<S>,
    body_limit: usize,
}

impl<S> std::fmt::Debug for Request<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("env", &self.env)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<S> Request<S> {
    pub(super) fn new(env: Environ, params: Params, state: Arc<S>, body_limit: usize) -> Self {
        Request {
            env,
            params,
            state,
            body_limit,
        }
    }

    /// The request itself: method, headers, `script_name`/`path_info`, ….
    pub fn env(&self) -> &Environ {
        &self.env
    }

    /// The request, mutably (to take the body as a stream, for one).
    pub fn env_mut(&mut self) -> &mut Environ {
        &mut self.env
    }

    /// The state given to [`Router::with_state`](super::Router::with_state),
    /// shared by every request.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The path parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Path parameter `name` parsed as a `T`. A value that does not parse
    /// names no resource: 404. A name the route does not have is a bug in
    /// the handler: 500.
    pub fn param<T: FromStr>(&self, name: &str) -> Result<T, AppError> {
        let value = self.params.get(name).ok_or_else(|| {
            AppError::from(Error::new(format!("the route has no parameter {name:?}")))
        })?;
        value
            .parse()
            .map_err(|_| AppError::not_found(format!("no resource at {name} {value:?}")))
    }

    /// The query string deserialized as a `T` (fields from `a=1&b=x`);
    /// 400 if it does not fit.
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        serde_urlencoded::from_str(self.env.query())
            .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, format!("invalid query: {e}")))
    }

    /// Whether the `Content-Type`'s media type (parameters such as
    /// `charset` ignored) is `media_type`, compared case-insensitively.
    pub fn has_content_type(&self, media_type: &str) -> bool {
        self.media_type()
            .is_some_and(|m| m.eq_ignore_ascii_case(media_type))
    }

    fn media_type(&self) -> Option<&str> {
        let value = self.env.headers().get(CONTENT_TYPE)?.to_str().ok()?;
        Some(value.split(';').next().unwrap_or("").trim())
    }

    /// The whole body, at most the router's body limit: 413 past it (a
    /// `Content-Length` over the limit fails before anything is read).
    /// The body is taken: a second call sees an empty one.
    pub async fn bytes(&mut self) -> Result<Bytes, AppError> {
        Ok(self
            .env
            .take_body()
            .to_bytes(u64::try_from(self.body_limit).unwrap_or(u64::MAX))
            .await?)
    }

    /// The body as `application/json`, deserialized as a `T`. `+json`
    /// types (`application/merge-patch+json`) count.
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, AppError> {
        if !self.media_type().is_some_and(is_json) {
            return Err(unsupported("application/json"));
        }
        let body = self.bytes().await?;
        serde_json::from_slice(&body).map_err(|e| {
            // Well-formed JSON of the wrong shape is 422; the rest is 400.
            let status = match e.classify() {
                serde_json::error::Category::Data => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_REQUEST,
            };
            AppError::new(status, format!("invalid JSON body: {e}"))
        })
    }

    /// The body as `application/x-www-form-urlencoded` (an HTML form),
    /// deserialized as a `T`; 422 if the fields do not fit.
    pub async fn form<T: DeserializeOwned>(&mut self) -> Result<T, AppError> {
        if !self.has_content_type(FORM) {
            return Err(unsupported(FORM));
        }
        let body = self.bytes().await?;
        serde_urlencoded::from_bytes(&body).map_err(|e| {
            AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid form body: {e}"),
            )
        })
    }
}

/// The media type of an HTML form's body.
pub const FORM: &str = "application/x-www-form-urlencoded";

fn is_json(media_type: &str) -> bool {
    let ignore_case =
        |part: Option<&str>, expected: &str| part.is_some_and(|p| p.eq_ignore_ascii_case(expected));
    let tail = media_type.len().saturating_sub(5);
    media_type.eq_ignore_ascii_case("application/json")
        || (media_type.len() > 17
            && ignore_case(media_type.get(..12), "application/")
            && ignore_case(media_type.get(tail..), "+json"))
}

fn unsupported(expected: &str) -> AppError {
    AppError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("expected a body of type {expected}"),
    )
}
