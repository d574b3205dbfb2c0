//! Response helpers: [`json`] and [`text`].

use gateway_core::http::StatusCode;
use gateway_core::http::header::{CONTENT_TYPE, HeaderValue};
use gateway_core::{Body, Error, Response};
use serde::Serialize;

use super::error::AppError;

/// A response with `status` and `value` serialized as JSON. A value that
/// cannot be serialized (a map with non-string keys) is a server error.
///
/// ```
/// use gateway_examples::mini_framework::json;
/// let res = json(gateway_core::http::StatusCode::OK, &["a", "b"])?;
/// assert_eq!(res.headers()["content-type"], "application/json");
/// # Ok::<_, gateway_examples::mini_framework::AppError>(())
/// ```
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Response, AppError> {
    let body = serde_json::to_vec(value).map_err(Error::from)?;
    Ok(with_type(status, "application/json", body.into()))
}

/// A `text/plain; charset=utf-8` response with `status`.
pub fn text(status: StatusCode, body: impl Into<String>) -> Response {
    with_type(status, "text/plain; charset=utf-8", body.into().into())
}

fn with_type(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}
