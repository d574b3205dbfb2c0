//! A connection's byte stream as hyper uses it: reads are noted for the
//! idle sweeper, and writes the client does not take fast enough end the
//! connection (the minimum response data rate).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use gateway_core::{fn_app, start};
//! use gateway_hyper::MinDataRate;
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // A client that stops reading a response is cut off after 10 s.
//! gateway_hyper::Server::bind("127.0.0.1:0").await?
//!     .min_response_rate(MinDataRate::new(240, Duration::from_secs(10)))
//!     .serve_with_shutdown(app, async {})
//!     .await
//! # }
//! ```

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::time::{Instant, Sleep};

use crate::conns::Activity;
use crate::rate::MinDataRate;

pin_project_lite::pin_project! {
    /// A connection's stream as hyper uses it: each read notes that bytes
    /// arrived (one relaxed store), each write that the socket took whole
    /// costs one branch. Outside hyper-util's `TokioIo`, so that its read
    /// path stays as hyper has it.
    pub(crate) struct Noted<I> {
        #[pin]
        io: I,
        activity: Arc<Activity>,
        // `None` without a minimum response rate.
        clock: Option<WriteClock>,
        // Whether flushes are timed too: TLS takes writes into its own
        // buffer and waits for the socket only when flushed; a plain
        // socket's flush never waits.
        time_flush: bool,
    }
}

impl<I> Noted<I> {
    pub(crate) fn new(
        io: I,
        activity: Arc<Activity>,
        min_rate: Option<MinDataRate>,
        time_flush: bool,
    ) -> Noted<I> {
        Noted {
            io,
            activity,
            clock: min_rate.map(WriteClock::new),
            time_flush,
        }
    }
}

impl<I: Read> Read for Noted<I> {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let polled = this.io.poll_read(cx, buf);
        if polled.is_ready() {
            this.activity.note_read();
        }
        polled
    }
}

impl<I: Write> Write for Noted<I> {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.io.poll_write(cx, buf);
        match this.clock {
            Some(clock) => clock.track(polled, cx, this.activity, || buf.len()),
            None => polled,
        }
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.io.poll_write_vectored(cx, bufs);
        match this.clock {
            Some(clock) => clock.track(polled, cx, this.activity, || {
                bufs.iter().map(|buf| buf.len()).sum()
            }),
            None => polled,
        }
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    /// Timed too: a buffering layer (TLS) takes every write into its own
    /// buffer and waits for the socket only here, so a client that stops
    /// reading would otherwise never be timed.
    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let polled = this.io.poll_flush(cx);
        if !*this.time_flush {
            return polled;
        }
        match this.clock {
            Some(clock) => clock
                .track(polled.map_ok(|()| 0), cx, this.activity, || 0)
                .map_ok(|_| ()),
            None => polled,
        }
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

/// Times the writes the socket cannot take at once, after Kestrel's
/// `MinResponseDataRate`: bytes offered to a full socket must be taken
/// within the grace period or within the time they take at the minimum
/// rate, whichever is longer; bytes offered while earlier ones still wait
/// add their time at the rate. Nothing is timed while the socket keeps
/// up, so a fast client costs one branch per write.
struct WriteClock {
    rate: MinDataRate,
    /// While offered bytes wait: by when the socket must have taken them.
    deadline: Option<Instant>,
    /// How many bytes the last write left waiting.
    waiting: usize,
    /// Allocated at the first wait, reset at later ones.
    timer: Option<Pin<Box<Sleep>>>,
}

impl WriteClock {
    fn new(rate: MinDataRate) -> WriteClock {
        WriteClock {
            rate,
            deadline: None,
            waiting: 0,
            timer: None,
        }
    }

    /// Follows one write of `offered()` bytes that `polled`; past the
    /// deadline, fails it, which ends the connection.
    #[inline]
    fn track(
        &mut self,
        polled: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
        activity: &Activity,
        offered: impl FnOnce() -> usize,
    ) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Ready(Ok(written)) => {
                if self.deadline.is_some() {
                    self.took(written, offered());
                }
                Poll::Ready(Ok(written))
            }
            // An upgraded connection (WebSocket) is the application's to
            // pace, as in Kestrel.
            Poll::Pending if !activity.is_upgraded() => self.wait(cx, offered()),
            other => other,
        }
    }

    /// The socket took `written` of the `offered` bytes.
    #[cold]
    fn took(&mut self, written: usize, offered: usize) {
        if written >= offered {
            self.deadline = None;
            self.waiting = 0;
        } else {
            self.waiting = offered - written;
        }
    }

    /// The socket took none of the `offered` bytes.
    #[cold]
    fn wait(&mut self, cx: &mut Context<'_>, offered: usize) -> Poll<io::Result<usize>> {
        let deadline = match self.deadline {
            None => {
                let allowed = self.rate.grace().max(self.rate.time_for(offered as u64));
                later(Instant::now(), allowed)
            }
            // Bytes queued behind the waiting ones earn their own time.
            Some(deadline) => {
                let added = offered.saturating_sub(self.waiting) as u64;
                later(deadline, self.rate.time_for(added))
            }
        };
        self.waiting = self.waiting.max(offered);
        if self.deadline != Some(deadline) {
            self.deadline = Some(deadline);
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        let Some(timer) = &mut self.timer else {
            return Poll::Pending;
        };
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took the response below the minimum data rate",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `at + wait`, or as late as can be.
fn later(at: Instant, wait: std::time::Duration) -> Instant {
    at.checked_add(wait).unwrap_or(at + crate::rate::FOREVER)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Waker;
    use std::time::Duration;

    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, DuplexStream};

    use super::*;
    use crate::conns::{Counted, InFlight, Registry};

    /// A connection whose peer has room for 1,000 bytes and reads only
    /// when told.
    fn connection(
        rate: MinDataRate,
    ) -> (Noted<TokioIo<DuplexStream>>, DuplexStream, Arc<Registry>) {
        let (ours, theirs) = tokio::io::duplex(1000);
        let registry = Arc::new(Registry::new());
        let registered = registry.register(Counted::for_tests());
        let noted = Noted::new(
            TokioIo::new(ours),
            registered.activity().clone(),
            Some(rate),
            false,
        );
        // The registry entry may go: the activity lives on in `noted`.
        drop(registered);
        (noted, theirs, registry)
    }

    fn write(noted: &mut Noted<TokioIo<DuplexStream>>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        let mut cx = Context::from_waker(Waker::noop());
        Pin::new(noted).poll_write(&mut cx, bytes)
    }

    fn timed_out(polled: Poll<io::Result<usize>>) -> bool {
        matches!(polled, Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::TimedOut)
    }

    /// Takes every write into a buffer and never gets it out, as TLS over
    /// a socket whose peer stopped reading does.
    struct Buffering;

    impl Write for Buffering {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_that_never_ends_is_timed_like_a_write() {
        let registry = Arc::new(Registry::new());
        let registered = registry.register(Counted::for_tests());
        let mut noted = Noted::new(
            Buffering,
            registered.activity().clone(),
            Some(MinDataRate::new(240, Duration::from_secs(5))),
            true,
        );
        let mut cx = Context::from_waker(Waker::noop());
        let mut flush = |noted: &mut Noted<Buffering>| Pin::new(noted).poll_flush(&mut cx);
        assert!(matches!(
            Pin::new(&mut noted).poll_write(&mut Context::from_waker(Waker::noop()), b"body"),
            Poll::Ready(Ok(4))
        ));
        assert!(flush(&mut noted).is_pending());
        tokio::time::advance(Duration::from_millis(4900)).await;
        assert!(flush(&mut noted).is_pending());
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(matches!(
            flush(&mut noted),
            Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::TimedOut
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_keeps_up_is_never_timed() {
        let (mut noted, mut peer, _registry) = connection(MinDataRate::new(1, Duration::ZERO));
        let mut sink = vec![0; 1000];
        for _ in 0..10 {
            assert!(matches!(
                write(&mut noted, &[7; 1000]),
                Poll::Ready(Ok(1000))
            ));
            peer.read_exact(&mut sink).await.unwrap();
        }
        assert!(noted.clock.as_ref().unwrap().timer.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_ends_the_connection_after_the_grace_period() {
        let (mut noted, _peer, _registry) =
            connection(MinDataRate::new(1 << 20, Duration::from_secs(5)));
        assert!(matches!(
            write(&mut noted, &[7; 1000]),
            Poll::Ready(Ok(1000))
        ));
        assert!(write(&mut noted, b"more").is_pending());
        tokio::time::advance(Duration::from_millis(4900)).await;
        assert!(write(&mut noted, b"more").is_pending());
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(timed_out(write(&mut noted, b"more")));
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_bytes_earn_their_time_at_the_rate() {
        // 100 bytes a second: 1,000 waiting bytes may take 10 s, more than
        // the grace period.
        let (mut noted, _peer, _registry) =
            connection(MinDataRate::new(100, Duration::from_secs(1)));
        assert!(matches!(
            write(&mut noted, &[7; 1000]),
            Poll::Ready(Ok(1000))
        ));
        assert!(write(&mut noted, &[8; 1000]).is_pending());
        tokio::time::advance(Duration::from_secs(9)).await;
        // 500 more bytes queued behind them earn 5 s more.
        assert!(write(&mut noted, &[8; 1500]).is_pending());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(write(&mut noted, &[8; 1500]).is_pending());
        tokio::time::advance(Duration::from_millis(1100)).await;
        assert!(timed_out(write(&mut noted, &[8; 1500])));
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_catches_up_is_timed_afresh() {
        let (mut noted, mut peer, _registry) =
            connection(MinDataRate::new(1 << 20, Duration::from_secs(5)));
        let mut sink = vec![0; 1000];
        for _ in 0..3 {
            assert!(matches!(
                write(&mut noted, &[7; 1000]),
                Poll::Ready(Ok(1000))
            ));
            assert!(write(&mut noted, &[7; 1000]).is_pending());
            tokio::time::advance(Duration::from_secs(4)).await;
            peer.read_exact(&mut sink).await.unwrap();
        }
        assert!(matches!(
            write(&mut noted, &[7; 1000]),
            Poll::Ready(Ok(1000))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn an_upgraded_connection_is_the_applications_to_pace() {
        let (mut noted, _peer, _registry) =
            connection(MinDataRate::new(1 << 20, Duration::from_secs(5)));
        InFlight::new(&noted.activity, true).upgraded();
        assert!(matches!(
            write(&mut noted, &[7; 1000]),
            Poll::Ready(Ok(1000))
        ));
        assert!(write(&mut noted, b"more").is_pending());
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(write(&mut noted, b"more").is_pending());
    }
}
