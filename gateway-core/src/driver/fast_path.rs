//! Benchmark-driven shortcuts for `gateway-hyper`; not part of the
//! documented contract, and may change in any release. Everything here has
//! a documented equivalent in [`driver`](super): [`commit`](super::commit)
//! and [`CommitHints::from_head`].
//!
//! An adapter on the hot path reads the hints and the [`Route`] from the
//! request head it has already checked, builds the environ, and hands all
//! three to [`commit_with_route`]: reading them from the environ before the
//! application takes it would cost a copy of the environ per request.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::driver::fast_path;
//! use gateway_core::{fn_app, start, Body, Environ};
//!
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! let req = http::Request::head("/").body(Body::empty()).unwrap();
//! // The adapter saw no `Upgrade` header while reading the request.
//! let hints = fast_path::hints(req.method(), false);
//! let route = fast_path::route(req.method(), req.uri());
//! let Ok(res) =
//!     fast_path::commit_with_route(&app, Environ::from_request(req), hints, route).await;
//! assert_eq!(res.headers()["content-length"], "2");
//! # });
//! ```

use std::future::Future;

use http::{Method, Uri};

use super::{Commit, CommitHints};
use crate::app_impl::Application;
pub use crate::body_impl::Route;
use crate::environ_impl::Environ;
use crate::error::Error;
use crate::response_impl::Response;

/// The hints from what an adapter already knows: the method, and whether
/// the request is HTTP/1.1 with an `Upgrade` header (an adapter that scans
/// the request headers anyway spares the driver its scan).
#[inline]
pub fn hints(method: &Method, upgrade: bool) -> CommitHints {
    CommitHints::new(method, upgrade)
}

/// The request's [`Route`] for commit rule 8's warning: `None` unless
/// that warning would be logged.
#[inline(always)]
pub fn route(method: &Method, uri: &Uri) -> Option<Route> {
    Route::capture(method, uri)
}

/// [`commit`](super::commit) with the hints and the route the adapter
/// already has, read from the request head with [`hints`] and [`route`]:
/// they must be those of `env` (in particular, `upgrade` only for an
/// HTTP/1.1 request with an `Upgrade` header).
#[inline(always)]
pub fn commit_with_route<A: Application>(
    app: &A,
    env: Environ,
    hints: CommitHints,
    route: Option<Route>,
) -> Commit<impl Future<Output = Result<Response, Error>> + Send + '_> {
    super::commit_with_route(app, env, hints, route)
}

/// A commit future that resolves at once to `response`, without calling
/// any application: for an adapter that answers a request itself (a
/// malformed request, a limit) and wants one future type for both cases.
/// Build the response with [`error_response`](super::error_response).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::driver::{self, fast_path, Commit, CommitHints};
/// use gateway_core::{Error, Response, http::{HeaderMap, Method, StatusCode, Version}};
///
/// let hints = CommitHints::from_head(&Method::GET, Version::HTTP_11, &HeaderMap::new());
/// let bad = Error::with_status(StatusCode::BAD_REQUEST, "invalid Host");
/// let fut: Commit<std::future::Ready<Result<Response, Error>>> =
///     fast_path::ready(driver::error_response(&bad, hints), hints);
/// let Ok(res) = fut.await;
/// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
/// # });
/// ```
#[inline]
pub fn ready<F>(response: Response, hints: CommitHints) -> Commit<F> {
    Commit::ready(response, hints)
}
