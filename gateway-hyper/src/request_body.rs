//! A request body as the application reads it: hyper's body with the
//! server's size limit, and its failures given the status they deserve.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! // Reads the whole body; past 1 MiB the read fails with 413.
//! let app = fn_app(|mut env| async move {
//!     let body = env.take_body().to_bytes(usize::MAX).await?;
//!     start(200, [("content-type", "text/plain")]).body(format!("{} bytes", body.len()))
//! });
//! let server = gateway_hyper::Server::bind("127.0.0.1:0").await?.max_body_size(Some(1 << 20));
//! server.serve_with_shutdown(app, async {}).await
//! # }
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use gateway_core::{BodyError, Error};
use http::StatusCode;
use hyper::body::Incoming;

/// A request body from hyper: its errors get the status they deserve (the
/// client's failures, never the application's), and it stops at the
/// server's size limit with 413.
///
/// Not `Body::new(incoming).with_limit(n)`: that boxes twice and leaves
/// hyper's errors without a status.
pub(crate) struct RequestBody {
    incoming: Incoming,
    /// Bytes still allowed; `u64::MAX` without a limit.
    remaining: u64,
    /// The limit, for the error.
    limit: u64,
}

impl RequestBody {
    /// `incoming`, limited to `limit` bytes (`u64::MAX` for none).
    pub(crate) fn new(incoming: Incoming, limit: u64) -> RequestBody {
        RequestBody {
            incoming,
            remaining: limit,
            limit,
        }
    }
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
