//! One request: checks, environ, driver, and the limits that apply to it.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::driver::{self, Commit, CommitHints, fast_path};
use gateway_core::{Application, Body, BodyError, ConnInfo, Environ, Error, RootPath};
use http::header::{HOST, TRANSFER_ENCODING, UPGRADE};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::conns::{Activity, InFlight};

/// What every request of a server shares; leaked once per server so that
/// requests borrow it without reference counting.
pub(crate) struct State<A> {
    pub(crate) app: A,
    pub(crate) max_body_size: Option<u64>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) concurrency: Option<Semaphore>,
    pub(crate) root_path: Option<RootPath>,
}

/// Handles one request; the future hyper drives.
#[inline]
pub(crate) fn handle<A: Application>(
    state: &'static State<A>,
    req: Request<Incoming>,
    conn: ConnInfo,
    activity: &Arc<Activity>,
) -> RequestFuture<impl Future<Output = Result<gateway_core::Response, Error>> + Send + use<A>> {
    let in_flight = InFlight::new(activity);
    let (parts, incoming) = req.into_parts();
    let upgrade = match check_head(&parts) {
        Ok(upgrade) => upgrade,
        Err((status, reason)) => return reject(&parts, status, reason, in_flight),
    };
    let facts = fast_path::hints(&parts.method, upgrade);
    // From the head, not the environ: borrowing the environ before the
    // application takes it would copy it.
    let route = fast_path::route(&parts.method, &parts.uri);
    // A bodiless request gets the empty body, which does not allocate.
    let body = if incoming.is_end_stream() {
        Body::empty()
    } else {
        let limit = state.max_body_size.unwrap_or(u64::MAX);
        // hyper parsed Content-Length already (HTTP/1 and HTTP/2).
        if incoming.size_hint().exact().is_some_and(|n| n > limit) {
            return reject(
                &parts,
                StatusCode::PAYLOAD_TOO_LARGE,
                "the announced request body exceeds the limit",
                in_flight,
            );
        }
        Body::new(RequestBody {
            incoming,
            remaining: limit,
            limit,
        })
    };
    // Limits that hold per request live in one box, only when configured.
    let guard = if state.concurrency.is_some() || state.request_timeout.is_some() {
        let permit = match &state.concurrency {
            None => None,
            // The state lives for the whole process: a borrowed permit.
            Some(semaphore) => match semaphore.try_acquire() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return reject(
                        &parts,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "too many requests in flight",
                        in_flight,
                    );
                }
            },
        };
        Some(Box::new(Guard {
            _permit: permit,
            deadline: state
                .request_timeout
                .map(|t| Box::pin(tokio::time::sleep(t))),
            facts,
        }))
    } else {
        None
    };
    let mut env = Environ::from_parts(parts, body, conn);
    if state.root_path.is_some() {
        env.set_root_path(state.root_path.clone());
    }
    RequestFuture {
        inner: fast_path::commit_with_route(&state.app, env, facts, route),
        guard,
        in_flight: Some(in_flight),
    }
}

/// Answers a request without calling the application.
#[cold]
fn reject<F>(
    parts: &http::request::Parts,
    status: StatusCode,
    reason: &'static str,
    in_flight: InFlight,
) -> RequestFuture<F> {
    let facts = CommitHints::from_head(&parts.method, parts.version, &parts.headers);
    let response = driver::error_response(&Error::with_status(status, reason), facts);
    RequestFuture {
        inner: fast_path::ready(response, facts),
        guard: None,
        in_flight: Some(in_flight),
    }
}

pin_project_lite::pin_project! {
    /// The future of one request: the driver's, plus the per-request limits
    /// when the server has any.
    pub(crate) struct RequestFuture<F> {
        #[pin]
        inner: Commit<F>,
        guard: Option<Box<Guard>>,
        // Moves into the response body: the request counts as in flight
        // until its response is sent.
        in_flight: Option<InFlight>,
    }
}

struct Guard {
    /// Held until the response is committed; released by being dropped.
    _permit: Option<SemaphorePermit<'static>>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    facts: CommitHints,
}

impl<F> Future for RequestFuture<F>
where
    F: Future<Output = Result<gateway_core::Response, Error>>,
{
    type Output = Result<Response<ResponseBody>, Infallible>;

    // Always inlined into hyper's dispatcher, which polls it: the response
    // is then built where hyper reads it instead of being returned through
    // two more `Poll` values (about 90 instructions per request less; see
    // BENCHMARKS.md).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.guard.is_none() {
            let Ok(response) = ready!(this.inner.poll(cx));
            return Poll::Ready(Ok(ResponseBody::wrap(response, this.in_flight.take())));
        }
        if let Poll::Ready(Ok(response)) = this.inner.poll(cx) {
            // Committed: the concurrency permit goes with the guard.
            let deadline = this.guard.take().and_then(|guard| guard.deadline);
            let response = match deadline {
                None => response,
                // The rest of the body must also arrive in time; past it,
                // the response is aborted.
                Some(sleep) => response.map(|body| Body::new(Deadline { body, sleep })),
            };
            return Poll::Ready(Ok(ResponseBody::wrap(response, this.in_flight.take())));
        }
        if let Some(Guard {
            deadline: Some(sleep),
            facts,
            ..
        }) = this.guard.as_deref_mut()
        {
            ready!(sleep.as_mut().poll(cx));
            // Dropping the application's future (with this one) is how it
            // learns.
            let err = Error::with_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request timed out before its response started",
            );
            let response = driver::error_response(&err, *facts);
            return Poll::Ready(Ok(ResponseBody::wrap(response, this.in_flight.take())));
        }
        Poll::Pending
    }
}

/// The body hyper sends: the application's, holding its request's
/// in-flight mark until hyper drops it.
pub(crate) struct ResponseBody {
    body: Body,
    _in_flight: Option<InFlight>,
}

impl ResponseBody {
    #[inline(always)]
    fn wrap(response: Response<Body>, in_flight: Option<InFlight>) -> Response<ResponseBody> {
        response.map(|body| ResponseBody {
            body,
            _in_flight: in_flight,
        })
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    #[inline]
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A response body that must end before a deadline; past it, it fails and
/// the response is aborted.
struct Deadline {
    body: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        ready!(self.sleep.as_mut().poll(cx));
        self.body = Body::empty();
        Poll::Ready(Some(Err(Error::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "the request timed out while its response was being sent",
        ))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A request refused by the server: its status and the reason logged.
type Refusal = (StatusCode, &'static str);

const fn bad(reason: &'static str) -> Refusal {
    (StatusCode::BAD_REQUEST, reason)
}

/// RFC 9112 §3.2, §6.1 and RFC 9113 §8.3.1 checks hyper leaves to the
/// server. Returns whether the request asks for an upgrade (HTTP/1.1 with
/// `Upgrade`), found in the same pass over the headers.
fn check_head(parts: &http::request::Parts) -> Result<bool, Refusal> {
    let uri = &parts.uri;
    let method = &parts.method;
    let version = parts.version;
    let headers = &parts.headers;
    // Request-target forms (RFC 9112 §3.2.3, §3.2.4); origin-form first.
    if uri.authority().is_none() {
        if *method == Method::CONNECT {
            return Err(bad("CONNECT without an authority-form target"));
        }
        if uri.path() == "*" && *method != Method::OPTIONS {
            return Err(bad("asterisk-form target outside OPTIONS"));
        }
    } else if uri.scheme().is_none() && *method != Method::CONNECT {
        return Err(bad("authority-form target outside CONNECT"));
    }

    // One pass instead of several hash lookups: requests have few headers.
    let mut host = None;
    let mut hosts = 0u32;
    let mut upgrade = false;
    let mut codings = false;
    for (name, value) in headers {
        if name == HOST {
            hosts += 1;
            host = Some(value);
        } else if name == UPGRADE {
            upgrade = true;
        } else if name == TRANSFER_ENCODING {
            codings = true;
        }
    }
    if hosts > 1 {
        return Err(bad("more than one Host"));
    }
    if codings {
        check_transfer_codings(headers)?;
    }
    let upgrade = upgrade && version == Version::HTTP_11;
    let Some(host) = host else {
        // HTTP/2 and HTTP/3 carry :authority instead; HTTP/1.0 may omit it.
        return if version == Version::HTTP_11 {
            Err(bad("HTTP/1.1 request without Host"))
        } else {
            Ok(upgrade)
        };
    };
    // HTTP/2 and HTTP/3 carry :authority, which hyper puts in the URI; a
    // Host beside it must agree (RFC 9113 §8.3.1).
    if matches!(version, Version::HTTP_2 | Version::HTTP_3)
        && uri.authority().is_some_and(|authority| {
            !host
                .as_bytes()
                .eq_ignore_ascii_case(authority.as_str().as_bytes())
        })
    {
        return Err(bad("Host differs from :authority"));
    }
    valid_host(host)?;
    Ok(upgrade)
}

/// The only transfer coding this server understands is `chunked`, which
/// hyper removes. hyper refuses lists that do not end in `chunked`, but lets
/// `gzip, chunked` through with the body still gzip-coded: RFC 9112 §6.1
/// asks for 501 for a coding the server does not understand.
#[cold]
fn check_transfer_codings(headers: &http::HeaderMap) -> Result<(), Refusal> {
    for value in headers.get_all(TRANSFER_ENCODING) {
        let Ok(value) = value.to_str() else {
            return Err(bad("invalid Transfer-Encoding"));
        };
        for coding in value.split(',') {
            let coding = coding.trim();
            if !coding.is_empty() && !coding.eq_ignore_ascii_case("chunked") {
                return Err((StatusCode::NOT_IMPLEMENTED, "unsupported transfer coding"));
            }
        }
    }
    Ok(())
}

fn valid_host(host: &http::HeaderValue) -> Result<(), Refusal> {
    // Straight on the bytes: the check admits only visible ASCII.
    if gateway_core::host::is_valid_host(host.as_bytes()) {
        Ok(())
    } else {
        Err(bad("invalid Host"))
    }
}

/// A request body from hyper: its errors get the status they deserve (the
/// client's failures, never the application's), and it stops at the
/// server's size limit with 413.
///
/// Not `Body::new(incoming).with_limit(n)`: that boxes twice and leaves
/// hyper's errors without a status.
struct RequestBody {
    incoming: Incoming,
    /// Bytes still allowed; `u64::MAX` without a limit.
    remaining: u64,
    /// The limit, for the error.
    limit: u64,
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        let frame = match ready!(Pin::new(&mut self.incoming).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(err)) => return Poll::Ready(Some(Err(body_error(err)))),
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > self.remaining {
                let limit = self.limit;
                return Poll::Ready(Some(Err(BodyError::LengthLimitExceeded { limit }.into())));
            }
            self.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

fn body_error(err: hyper::Error) -> Error {
    if is_cut_short(&err) {
        // The client went away mid-upload: 400, nobody will read it.
        Error::new(BodyError::Incomplete)
    } else {
        Error::with_status(StatusCode::BAD_REQUEST, err)
    }
}

/// Whether a request body failed because the client closed or reset the
/// connection before the end (hyper reports an early EOF as a body error
/// caused by `UnexpectedEof`).
fn is_cut_short(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() || err.is_canceled() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            );
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(
        method: Method,
        target: &str,
        version: Version,
        hosts: &[&str],
    ) -> http::request::Parts {
        let mut req = Request::builder()
            .method(method)
            .uri(target)
            .version(version);
        for h in hosts {
            req = req.header(HOST, *h);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn host_rules() {
        use Version as V;
        let ok = |m, t, v, h: &[&str]| check_head(&head(m, t, v, h));
        assert!(ok(Method::GET, "/", V::HTTP_11, &["a.test"]).is_ok());
        assert!(ok(Method::GET, "/", V::HTTP_11, &[]).is_err(), "missing");
        assert!(
            ok(Method::GET, "/", V::HTTP_11, &["a", "b"]).is_err(),
            "duplicated"
        );
        assert!(ok(Method::GET, "/", V::HTTP_11, &["a b"]).is_err(), "space");
        assert!(
            ok(Method::GET, "/", V::HTTP_11, &["u@a"]).is_err(),
            "userinfo"
        );
        assert!(
            ok(Method::GET, "/", V::HTTP_10, &[]).is_ok(),
            "optional in 1.0"
        );
        assert!(ok(Method::GET, "http://a.test/x", V::HTTP_11, &["a.test"]).is_ok());
        assert!(
            ok(Method::GET, "http://a.test/x", V::HTTP_2, &["b.test"]).is_err(),
            "h2 mismatch"
        );
        assert!(ok(Method::GET, "http://a.test/x", V::HTTP_2, &["A.test"]).is_ok());
        assert!(
            ok(Method::GET, "http://a.test/x", V::HTTP_2, &[]).is_ok(),
            "h2 without Host"
        );
    }

    #[test]
    fn transfer_codings_other_than_chunked_get_501() {
        let mut parts = head(Method::POST, "/", Version::HTTP_11, &["a"]);
        parts
            .headers
            .insert(TRANSFER_ENCODING, "gzip, chunked".parse().unwrap());
        assert_eq!(
            check_head(&parts).unwrap_err().0,
            StatusCode::NOT_IMPLEMENTED
        );
        parts
            .headers
            .insert(TRANSFER_ENCODING, "Chunked".parse().unwrap());
        assert!(check_head(&parts).is_ok());
        // Not text at all: 400, not 501.
        parts.headers.insert(
            TRANSFER_ENCODING,
            http::HeaderValue::from_bytes(b"chunked\xff").unwrap(),
        );
        assert_eq!(check_head(&parts).unwrap_err().0, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn target_forms() {
        let v = Version::HTTP_11;
        assert!(check_head(&head(Method::OPTIONS, "*", v, &["a"])).is_ok());
        assert!(check_head(&head(Method::GET, "*", v, &["a"])).is_err());
        assert!(check_head(&head(Method::CONNECT, "a.test:443", v, &["a.test:443"])).is_ok());
        assert!(check_head(&head(Method::GET, "a.test:443", v, &["a"])).is_err());
        assert!(check_head(&head(Method::CONNECT, "/x", v, &["a"])).is_err());
    }
}
