//! A request body as the application reads it: hyper's body with the
//! server's size limit and the limits on a slow client, and its failures
//! given the status they deserve.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! // Reads the whole body; past 1 MiB the read fails with 413.
//! let app = fn_app(|mut env| async move {
//!     let body = env.take_body().to_bytes(u64::MAX).await?;
//!     start(200, [("content-type", "text/plain")]).body(format!("{} bytes", body.len()))
//! });
//! let server = gateway_hyper::Server::bind("127.0.0.1:0").await?.max_body_size(Some(1 << 20));
//! server.serve_with_shutdown(app, async {}).await
//! # }
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::{BodyError, Error};
use http::StatusCode;
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::rate::{FOREVER, MinDataRate};

/// What the server allows a request body: its size, and how slowly it may
/// arrive while the application waits for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyLimits {
    /// `u64::MAX` for no limit.
    pub(crate) max_size: u64,
    /// The longest single wait for the next bytes.
    pub(crate) between_reads: Option<Duration>,
    pub(crate) min_rate: Option<MinDataRate>,
}

/// A request body from hyper: its errors get the status they deserve (the
/// client's failures, never the application's), it stops at the server's
/// size limit with 413, and at a client too slow to send it with 408.
///
/// Not `Body::new(incoming).with_limit(n)`: that boxes twice and leaves
/// hyper's errors without a status.
pub(crate) struct RequestBody {
    incoming: Incoming,
    /// Bytes still allowed; `u64::MAX` without a limit.
    remaining: u64,
    /// The limit, for the error.
    limit: u64,
    /// `None` when no time limit applies.
    clock: Option<ReadClock>,
}

impl RequestBody {
    pub(crate) fn new(incoming: Incoming, limits: &BodyLimits) -> RequestBody {
        let clock =
            (limits.between_reads.is_some() || limits.min_rate.is_some()).then(|| ReadClock {
                between_reads: limits.between_reads,
                min_rate: limits.min_rate,
                waited: Duration::ZERO,
                received: 0,
                waiting_since: None,
                reason: "",
                timer: None,
            });
        RequestBody {
            incoming,
            remaining: limits.max_size,
            limit: limits.max_size,
            clock,
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
        let this = &mut *self;
        let polled = match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(polled) => polled,
            Poll::Pending => {
                return match &mut this.clock {
                    Some(clock) => clock.poll_wait(cx).map(|err| Some(Err(err))),
                    None => Poll::Pending,
                };
            }
        };
        let frame = match polled {
            None => return Poll::Ready(None),
            Some(Err(err)) => return Poll::Ready(Some(Err(body_error(err)))),
            Some(Ok(frame)) => frame,
        };
        let len = frame.data_ref().map_or(0, |data| data.len() as u64);
        if let Some(clock) = &mut this.clock {
            clock.arrived(len);
        }
        if len > this.remaining {
            let limit = this.limit;
            return Poll::Ready(Some(Err(BodyError::LengthLimitExceeded { limit }.into())));
        }
        this.remaining -= len;
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

/// How long the application has waited for a request body's bytes: only
/// waits count (nginx's `client_body_timeout` and Kestrel's
/// `MinRequestBodyDataRate` both time the reads, not the application), so
/// an application busy elsewhere never makes its client late.
struct ReadClock {
    between_reads: Option<Duration>,
    min_rate: Option<MinDataRate>,
    /// The waits that ended, added up.
    waited: Duration,
    /// Data bytes received so far.
    received: u64,
    /// When the wait in progress began.
    waiting_since: Option<Instant>,
    /// Which limit the timer is set for, for the error.
    reason: &'static str,
    /// Allocated at the first wait, reset at later ones.
    timer: Option<Pin<Box<Sleep>>>,
}

impl ReadClock {
    /// A frame of `len` data bytes arrived: the wait in progress, if any,
    /// is over.
    fn arrived(&mut self, len: u64) {
        if let Some(since) = self.waiting_since.take() {
            self.waited += since.elapsed();
        }
        self.received += len;
    }

    /// The application waits for the client: `Ready` with the error once
    /// the client is too slow.
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<Error> {
        if self.waiting_since.is_none() {
            let now = Instant::now();
            self.waiting_since = Some(now);
            let (deadline, reason) = self.deadline(now);
            self.reason = reason;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let Some(timer) = &mut self.timer else {
            return Poll::Pending;
        };
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Error::with_status(StatusCode::REQUEST_TIMEOUT, self.reason))
    }

    /// When a wait that begins `now` is too long, and why: the sooner of
    /// the time between reads and the time the bytes so far earn at the
    /// minimum rate (at least its grace period), less the waits before.
    fn deadline(&self, now: Instant) -> (Instant, &'static str) {
        let between = self.between_reads.map(|timeout| {
            (
                timeout,
                "no request body bytes within the body read timeout",
            )
        });
        let rate = self.min_rate.map(|rate| {
            let earned = rate.grace().max(rate.time_for(self.received));
            (
                earned.saturating_sub(self.waited),
                "the request body arrived below the minimum data rate",
            )
        });
        let (wait, reason) = match (between, rate) {
            (Some(a), Some(b)) => {
                if b.0 < a.0 {
                    b
                } else {
                    a
                }
            }
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => (FOREVER, ""),
        };
        (now.checked_add(wait).unwrap_or(now + FOREVER), reason)
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

    fn clock(between_reads: Option<Duration>, min_rate: Option<MinDataRate>) -> ReadClock {
        ReadClock {
            between_reads,
            min_rate,
            waited: Duration::ZERO,
            received: 0,
            waiting_since: None,
            reason: "",
            timer: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_sooner_limit_decides() {
        let now = Instant::now();
        let rate = MinDataRate::new(100, Duration::from_secs(5));
        let mut c = clock(Some(Duration::from_secs(60)), Some(rate));
        // Nothing received yet: the grace period.
        assert_eq!(c.deadline(now).0, now + Duration::from_secs(5));
        // 10,000 bytes earn 100 s at 100 bytes/s, of which 30 were spent
        // waiting: the time between reads is sooner.
        c.received = 10_000;
        c.waited = Duration::from_secs(30);
        let (at, reason) = c.deadline(now);
        assert_eq!(at, now + Duration::from_secs(60));
        assert!(reason.contains("read timeout"), "{reason}");
        // After 90 s of waiting, 10 s are left at the rate.
        c.waited = Duration::from_secs(90);
        let (at, reason) = c.deadline(now);
        assert_eq!(at, now + Duration::from_secs(10));
        assert!(reason.contains("minimum data rate"), "{reason}");
        // Slower than the rate already: the next wait fails at once.
        c.waited = Duration::from_secs(200);
        assert_eq!(c.deadline(now).0, now);
    }

    #[tokio::test(start_paused = true)]
    async fn only_waits_count() {
        let mut c = clock(Some(Duration::from_secs(1)), None);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(c.poll_wait(&mut cx).is_pending());
        tokio::time::advance(Duration::from_millis(600)).await;
        c.arrived(10);
        // The application is busy for an hour: nobody waits.
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(c.poll_wait(&mut cx).is_pending());
        assert_eq!(c.waited, Duration::from_millis(600));
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(c.poll_wait(&mut cx).is_pending());
        tokio::time::advance(Duration::from_millis(2)).await;
        let Poll::Ready(err) = c.poll_wait(&mut cx) else {
            panic!("a wait past the timeout must fail");
        };
        assert_eq!(err.status(), StatusCode::REQUEST_TIMEOUT);
    }
}
