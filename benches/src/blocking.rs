//! [`Kind::Blocking`](crate::Kind::Blocking): the hello application written
//! as blocking code and served on `gateway_core::blocking::Blocking`'s pool.

use gateway_core::blocking::{Blocking, BlockingRequest};
use gateway_core::http::header::ALLOW;
use gateway_core::http::{HeaderValue, Method, StatusCode};
use gateway_core::{Error, Response, start};
use gateway_examples::hello::GREETING;

/// The pool's threads: the "bounded pool of 4".
pub(crate) const THREADS: usize = 4;

/// The hello example's `GET /` (and its 404 and 405), as blocking code.
fn hello(req: BlockingRequest) -> Result<Response, Error> {
    match (req.method(), req.path_info()) {
        (&Method::GET | &Method::HEAD, "/") => {
            start(200, [("content-type", "text/plain; charset=utf-8")]).body(GREETING)
        }
        (_, "/") => Err(
            Error::with_status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
                .with_header(ALLOW, HeaderValue::from_static("GET, HEAD")),
        ),
        _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no such page")),
    }
}

/// The application [`Kind::Blocking`](crate::Kind::Blocking) serves.
pub(crate) fn app() -> Blocking<fn(BlockingRequest) -> Result<Response, Error>> {
    Blocking::new(hello as fn(BlockingRequest) -> Result<Response, Error>).threads(THREADS)
}
