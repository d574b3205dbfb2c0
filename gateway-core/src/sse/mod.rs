//! Server-sent events (`text/event-stream`, the HTML standard's
//! `EventSource`) on the push-style [`Body::writer`]: the other
//! "live updates" pattern besides WebSockets, one way, over plain HTTP.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use gateway_core::sse::{self, Event, EventStream};
//! use gateway_core::{driver, fn_app, Body, Environ};
//!
//! let app = fn_app(|env: Environ| async move {
//!     // A reconnecting client says where it stopped.
//!     let from: u64 = sse::last_event_id(&env).and_then(|id| id.parse().ok()).unwrap_or(0);
//!     Ok(EventStream::new(move |mut events| async move {
//!         for n in from + 1..=from + 3 {
//!             events.send(Event::new().id(n.to_string()).data(format!("tick {n}"))).await?;
//!         }
//!         Ok(())
//!     })
//!     // Runtime-agnostic: any sleep future will do.
//!     .keep_alive(|| tokio::time::sleep(Duration::from_secs(15)))
//!     .into_response())
//! });
//!
//! let req = http::Request::get("/events").header("last-event-id", "7").body(Body::empty()).unwrap();
//! let Ok(res) = driver::commit(&app, Environ::from_request(req)).await;
//! assert_eq!(res.headers()["content-type"], "text/event-stream");
//! let body = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
//! assert!(body.starts_with(b"id: 8\ndata: tick 8\n\n"));
//! # });
//! ```
//!
//! [`EventStream`] makes the response: `Content-Type: text/event-stream`,
//! `Cache-Control: no-cache`, `X-Accel-Buffering: no` (so that nginx
//! passes each event on at once instead of buffering the response), and a
//! body whose headers are sent at once ([`BodyWriter::flush_headers`]), so
//! the client's `EventSource` opens before the first event. Each
//! [`EventWriter::send`] completes when the server has taken the event
//! (the writer's exact backpressure); once the client is gone it fails
//! with [`BodyError::ReaderGone`], so a
//! producer stops at its next send — and the producer future is dropped
//! with the body anyway.
//!
//! # Keep-alive
//!
//! Proxies and browsers drop a connection that stays silent too long.
//! [`EventStream::keep_alive`] sends a comment (`: keep-alive`) whenever
//! a sleep completes and no event went out meanwhile. The core has no
//! runtime, so the caller passes the sleep as a closure that makes one
//! (`|| tokio::time::sleep(d)`, `|| async_io::Timer::after(d)`…) rather
//! than a timer stream: a fresh sleep per period needs no `Stream` type
//! from the caller, works with every runtime's one-shot timer, and the
//! period restarts after each keep-alive. A comment goes out at most every
//! period and at the latest two periods after the last event.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use bytes::Bytes;
use futures_util::future::{Either, select};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};

use crate::body_impl::{Body, BodyWriter};
use crate::environ_impl::Environ;
use crate::error::{BodyError, Error};
use crate::response_impl::Response;

mod event;

pub use event::{Event, InvalidEvent};

/// The `Last-Event-ID` a reconnecting client sends: the id of the last
/// event it received. `None` when absent or not UTF-8.
///
/// ```
/// use gateway_core::{Body, Environ, sse};
///
/// let req = http::Request::get("/").header("last-event-id", "41").body(Body::empty()).unwrap();
/// assert_eq!(sse::last_event_id(&Environ::from_request(req)), Some("41"));
/// ```
pub fn last_event_id(env: &Environ) -> Option<&str> {
    let value = env.headers().get("last-event-id")?;
    std::str::from_utf8(value.as_bytes()).ok()
}

/// The comment a keep-alive sends.
const KEEP_ALIVE: &str = ": keep-alive\n\n";

type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;
type MakeSleep = Box<dyn FnMut() -> Sleep + Send>;

/// A `text/event-stream` response whose events a producer future sends
/// through an [`EventWriter`]; see the [module documentation](self).
///
/// No keep-alive by default.
///
/// ```
/// use gateway_core::sse::{Event, EventStream};
/// use gateway_core::Response;
///
/// let res: Response = EventStream::new(|mut events| async move {
///     events.send(Event::new().event("hello").data("world")).await?;
///     Ok(())
/// })
/// .into_response();
/// assert_eq!(res.headers()["cache-control"], "no-cache");
/// ```
pub struct EventStream<F> {
    produce: F,
    keep_alive: Option<MakeSleep>,
}

impl<F, Fut> EventStream<F>
where
    F: FnOnce(EventWriter) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    /// An event stream produced by `produce`. The stream ends when the
    /// future `produce` returns ends (an `Err` aborts it); keep that future
    /// running for as long as events should flow.
    pub fn new(produce: F) -> EventStream<F> {
        EventStream {
            produce,
            keep_alive: None,
        }
    }

    /// Sends a `: keep-alive` comment each time a sleep made by `sleep`
    /// completes without an event sent meanwhile. Typically
    /// `|| tokio::time::sleep(Duration::from_secs(15))`.
    pub fn keep_alive<S, SF>(mut self, mut sleep: S) -> EventStream<F>
    where
        S: FnMut() -> SF + Send + 'static,
        SF: Future<Output = ()> + Send + 'static,
    {
        self.keep_alive = Some(Box::new(move || Box::pin(sleep()) as Sleep));
        self
    }

    /// The response: 200, the event-stream headers, and the body.
    pub fn into_response(self) -> Response {
        let EventStream {
            produce,
            keep_alive,
        } = self;
        let body = Body::writer(move |w| async move {
            let shared = Arc::new(Shared {
                slot: Mutex::new(Slot {
                    writer: Some(w),
                    waiter: None,
                    sent: 0,
                }),
            });
            let mut events = EventWriter {
                shared: shared.clone(),
            };
            events.flush_headers().await?;
            let produced = produce(events);
            match keep_alive {
                None => produced.await,
                Some(make_sleep) => {
                    let alive = keep_alive_loop(&shared, make_sleep);
                    match select(pin!(produced), pin!(alive)).await {
                        Either::Left((result, _)) | Either::Right((result, _)) => result,
                    }
                }
            }
        });
        let mut res = Response::new(body);
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        );
        res
    }
}

impl<F> std::fmt::Debug for EventStream<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("keep_alive", &self.keep_alive.is_some())
            .finish_non_exhaustive()
    }
}

/// Sends a comment whenever a sleep passes without an event; ends only
/// when the client is gone.
async fn keep_alive_loop(shared: &Shared, mut make_sleep: MakeSleep) -> Result<(), Error> {
    loop {
        let before = shared.lock().sent;
        make_sleep().await;
        if shared.lock().sent != before {
            continue;
        }
        // An event being sent right now keeps the stream alive itself.
        if let Some(mut guard) = shared.try_acquire() {
            guard
                .write(Bytes::from_static(KEEP_ALIVE.as_bytes()))
                .await?;
        }
    }
}

/// The body's writer, shared by the producer and the keep-alive.
struct Shared {
    slot: Mutex<Slot>,
}

struct Slot {
    /// `None` while one side writes.
    writer: Option<BodyWriter>,
    /// The producer, waiting for the keep-alive's write to finish.
    waiter: Option<Waker>,
    /// Events sent so far.
    sent: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn try_acquire(&self) -> Option<WriterGuard<'_>> {
        let writer = self.lock().writer.take()?;
        Some(WriterGuard {
            shared: self,
            writer: Some(writer),
        })
    }

    async fn acquire(&self) -> WriterGuard<'_> {
        std::future::poll_fn(|cx| {
            let mut slot = self.lock();
            match slot.writer.take() {
                Some(writer) => Poll::Ready(WriterGuard {
                    shared: self,
                    writer: Some(writer),
                }),
                None => {
                    slot.waiter = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// The writer taken out of the slot; put back (and the waiter woken) on
/// drop, even when the write is cancelled.
struct WriterGuard<'a> {
    shared: &'a Shared,
    writer: Option<BodyWriter>,
}

impl WriterGuard<'_> {
    async fn write(&mut self, data: Bytes) -> Result<(), Error> {
        match &mut self.writer {
            Some(w) => w.write(data).await,
            None => Err(BodyError::ReaderGone.into()),
        }
    }
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        let mut slot = self.shared.lock();
        slot.writer = self.writer.take();
        if let Some(w) = slot.waiter.take() {
            w.wake();
        }
    }
}

/// Sends events to the client of an [`EventStream`].
pub struct EventWriter {
    shared: Arc<Shared>,
}

impl EventWriter {
    /// Sends one event; completes when the server has taken it. Fails with
    /// [`BodyError::ReaderGone`] once the client is gone.
    pub async fn send(&mut self, event: Event) -> Result<(), Error> {
        let mut guard = self.shared.acquire().await;
        guard.write(event.into_bytes()).await?;
        drop(guard);
        self.shared.lock().sent += 1;
        Ok(())
    }

    /// Sends a comment (`: text`), which clients ignore.
    pub async fn comment(&mut self, text: impl AsRef<str>) -> Result<(), Error> {
        self.send(Event::new().comment(text)).await
    }

    async fn flush_headers(&mut self) -> Result<(), Error> {
        let mut guard = self.shared.acquire().await;
        match &mut guard.writer {
            Some(w) => w.flush_headers().await,
            None => Err(BodyError::ReaderGone.into()),
        }
    }
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
