//! The `301` from `/dir` to `/dir/` that [`StaticFiles`](crate::StaticFiles)
//! sends for a directory and [`Mount`](crate::Mount) for a root mounted
//! as `/app/`.

use gateway_core::{Body, Environ, Response};
use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, StatusCode};

/// `301` to the path the client used with a `/` added, the query kept.
///
/// `Location` is `script_name + path_info + "/"`: an absolute path, so it
/// stays right under a mount and behind a proxy's prefix without knowing
/// the host.
pub(crate) fn add_slash(env: &Environ) -> Response {
    let (script, path, query) = (env.script_name(), env.path_info(), env.query());
    let mut location = String::with_capacity(script.len() + path.len() + query.len() + 2);
    location.push_str(script);
    location.push_str(path);
    location.push('/');
    if !query.is_empty() {
        location.push('?');
        location.push_str(query);
    }
    let mut res = Response::new(Body::empty());
    match HeaderValue::try_from(location) {
        Ok(location) => {
            *res.status_mut() = StatusCode::MOVED_PERMANENTLY;
            res.headers_mut().insert(LOCATION, location);
        }
        // The parts come from a parsed request target, so this is not
        // expected; a client's bytes must still not become a 500.
        Err(_) => {
            *res.status_mut() = StatusCode::BAD_REQUEST;
            *res.headers_mut() = HeaderMap::with_capacity(1);
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            *res.body_mut() = Body::from("Bad Request");
        }
    }
    res
}
