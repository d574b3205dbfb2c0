//! Blocking applications: synchronous code (Diesel, a CPU-heavy handler, a
//! library without async) served on a bounded pool of threads, so that it
//! never blocks the server's async workers — WSGI's plain blocking
//! application, as an [`Application`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::blocking::{Blocking, BlockingRequest};
//! use gateway_core::{driver, start, Application, Body, Environ};
//!
//! // Plain blocking code: no `async`, no `.await`.
//! fn hello(req: BlockingRequest) -> Result<gateway_core::Response, gateway_core::Error> {
//!     std::thread::sleep(std::time::Duration::from_millis(1)); // a database query
//!     start(200, [("content-type", "text/plain")]).body(format!("Hello from {}\n", req.path_info()))
//! }
//!
//! let app = Blocking::new(hello).threads(4).queue(64);
//! let env = Environ::from_request(http::Request::get("/x").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert_eq!(res.status(), 200);
//! app.shutdown().await; // the server does this after its drain
//! # });
//! ```
//!
//! A [`BlockingApplication`] (any `Fn(BlockingRequest) -> Result<Response,
//! Error>` closure, or your own type) gets a [`BlockingRequest`]: the
//! environ read-only and the body as `std::io::Read` ([`BlockingBody`]). It
//! returns a [`Response`] — or a response whose body it then writes from
//! the same thread through a [`BlockingWriter`] (`std::io::Write`), made by
//! [`BlockingRequest::writer`]. [`Blocking`] wraps it into an
//! `Application` with `threads` threads and a queue of `queue` requests.
//!
//! # Backpressure
//!
//! - **Admission.** At most `threads` requests run and `queue` wait; the
//!   next is answered 503 Service Unavailable at once (with `Retry-After`,
//!   1 second by default), never made to wait: a server under more load
//!   than its threads can carry sheds it instead of piling up latency.
//! - **Request body.** Reads pull one chunk at a time from the server's
//!   task; nothing is read ahead, so a client sending faster than the
//!   application reads is held back by flow control. The server's body
//!   limits apply: over the size limit a read fails and `?` answers 413.
//! - **Response body.** Each write of a [`BlockingWriter`] blocks until the
//!   server took the chunk, so a slow client slows the producer and
//!   nothing piles up in memory — it holds a pool thread, not an async
//!   worker.
//!
//! # Cancellation
//!
//! When the future awaiting the response is dropped — the client went
//! away, an HTTP/2 stream was reset, a timeout fired, the drain deadline
//! passed — a request still in the queue is taken out and never runs; one
//! already running sees [`BlockingRequest::is_cancelled`] turn true (a
//! thread cannot be interrupted: long work should look at it), and its
//! body reads fail. Once a streamed response's body is dropped, the next
//! write fails with `BrokenPipe` (and `is_cancelled` is true), so the
//! producer stops at its next write. A panic in the application or in its
//! producer becomes a 500 (or an abort, after the commit) as in the
//! driver, and the thread goes on to the next request.
//!
//! # Sizing, and how this compares
//!
//! Threads bound concurrency as gunicorn's sync workers do (one request per
//! worker; gunicorn suggests `2 × cores + 1` workers), but as threads in
//! one process behind an async server. A gunicorn sync worker is held by a
//! slow client for the whole exchange, which is why gunicorn wants a
//! buffering proxy in front; here reading the request head, waiting for
//! the body and writing a returned response cost an async task, and only
//! the time spent in the application (and in streaming a
//! [`BlockingWriter`] body) holds a thread. For I/O-bound
//! code (a database) use about as many threads as the database pool has
//! connections — more would only queue inside the pool; for CPU-bound
//! code, about as many as cores. The queue bounds latency: `queue /
//! threads × the mean service time` is the longest a request waits before
//! a 503 is the better answer.
//!
//! Django serves sync views under ASGI with `sync_to_async`, by default on
//! one shared thread (`thread_sensitive=True`) — safe for code that is not
//! thread-safe, but one view at a time. Here a `BlockingApplication` is
//! `Sync` and runs on N threads at once.
//!
//! tokio's `spawn_blocking` would also work, but its pool is shared by the
//! whole process (file I/O, DNS) and sized for that (512 threads by
//! default), it queues without bound, and dropping a task's `JoinHandle`
//! (what a cancelled request does) does not stop it, even one that has not
//! started: it runs for a client that is gone. A pool of its own per application
//! gives a bound that means something for this application, an
//! admission answer (503) instead of an unbounded queue, skipped work for
//! cancelled requests, and no dependency on a runtime: the core has none.
//! Threads are started when the server starts the application (or by the
//! first request) and stopped by [`Application::shutdown`], which lets
//! them finish the queue, then joins them.
//!
//! [`Response`]: crate::Response

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use http::header::{HeaderValue, RETRY_AFTER};

use crate::app_impl::Application;
use crate::environ_impl::Environ;
use crate::error::Error;
use crate::response_impl::Response;

mod job;
mod pool;
mod request;
mod writer;

pub use request::{BlockingBody, BlockingRequest};
pub use writer::BlockingWriter;

use job::{Job, ResponseGuard};
use pool::{Pool, Queued, Refused};

/// Synchronous code that answers requests: given a [`BlockingRequest`], it
/// returns exactly one [`Response`], on a pool thread.
///
/// Implemented for every `Fn(BlockingRequest) -> Result<Response, Error>`
/// closure and function that is `Send + Sync + 'static`; implement it on
/// your own type to keep state (a database pool). Wrap it in [`Blocking`]
/// to serve it.
///
/// ```
/// use gateway_core::blocking::{Blocking, BlockingApplication, BlockingRequest};
/// use gateway_core::{Error, Response, start};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// struct Counter(AtomicU64);
///
/// impl BlockingApplication for Counter {
///     fn call(&self, _req: BlockingRequest) -> Result<Response, Error> {
///         let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
///         start(200, [("content-type", "text/plain")]).body(format!("{n}\n"))
///     }
/// }
///
/// let app = Blocking::new(Counter(AtomicU64::new(0)));
/// # let _ = app;
/// ```
pub trait BlockingApplication: Send + Sync + 'static {
    /// Handles one request, blocking as long as it needs (on a pool
    /// thread). An `Err` or a panic becomes an error response, as for an
    /// [`Application`].
    fn call(&self, req: BlockingRequest) -> Result<Response, Error>;
}

impl<F> BlockingApplication for F
where
    F: Fn(BlockingRequest) -> Result<Response, Error> + Send + Sync + 'static,
{
    fn call(&self, req: BlockingRequest) -> Result<Response, Error> {
        self(req)
    }
}

/// A [`BlockingApplication`] served as an [`Application`] on a bounded
/// pool of threads: see the [module documentation](self) for
/// backpressure, cancellation and sizing.
///
/// Defaults to 8 threads and a queue of 64 requests, and `Retry-After: 1`
/// on the 503 of a full queue. No thread is started by `new` (it does no
/// I/O): they start in [`Application::startup`] or with the first request,
/// and stop in [`Application::shutdown`] or when the last clone is
/// dropped. Clones share the pool.
///
/// ```
/// use std::time::Duration;
/// use gateway_core::blocking::Blocking;
/// use gateway_core::start;
///
/// let app = Blocking::new(|_req| start(200, [("content-type", "text/plain")]).body("hi"))
///     .threads(4)
///     .queue(16)
///     .retry_after(Duration::from_secs(2));
/// # let _ = app;
/// ```
pub struct Blocking<A> {
    /// Dropped with the last clone, which stops the threads.
    handle: Arc<Handle<A>>,
}

/// The configuration until the pool is made (at the first use).
struct Handle<A> {
    pool: Arc<Pool<A>>,
    retry_after: Option<HeaderValue>,
}

impl<A> Drop for Handle<A> {
    fn drop(&mut self) {
        self.pool.stop();
    }
}

/// The error [`Blocking::try_threads`] returns for zero threads.
#[derive(Debug, thiserror::Error)]
#[error("a blocking pool needs at least one thread")]
#[non_exhaustive]
pub struct InvalidPoolSize;

const DEFAULT_THREADS: usize = 8;
const DEFAULT_QUEUE: usize = 64;

impl<A: BlockingApplication> Blocking<A> {
    /// Wraps `app`: 8 threads, a queue of 64, `Retry-After: 1`.
    pub fn new(app: A) -> Blocking<A> {
        Blocking {
            handle: Arc::new(Handle {
                pool: Arc::new(Pool::new(app, DEFAULT_THREADS, DEFAULT_QUEUE)),
                retry_after: Some(HeaderValue::from_static("1")),
            }),
        }
    }

    /// Sets the number of threads: how many requests run at once.
    /// Defaults to 8.
    ///
    /// # Panics
    ///
    /// When `n` is 0 (see [`try_threads`](Blocking::try_threads)), or once
    /// the pool is shared (configure before cloning).
    pub fn threads(self, n: usize) -> Blocking<A> {
        match self.try_threads(n) {
            Ok(app) => app,
            Err(e) => panic!("Blocking::threads({n}): {e}"),
        }
    }

    /// Sets the number of threads, failing for 0.
    ///
    /// # Panics
    ///
    /// Once the pool is shared (configure before cloning).
    pub fn try_threads(self, n: usize) -> Result<Blocking<A>, InvalidPoolSize> {
        if n == 0 {
            return Err(InvalidPoolSize);
        }
        Ok(self.reconfigure(|threads, _| *threads = n))
    }

    /// Sets how many requests may wait for a thread; past them a request
    /// is answered 503 at once. 0 means none waits. Defaults to 64.
    ///
    /// # Panics
    ///
    /// Once the pool is shared (configure before cloning).
    pub fn queue(self, n: usize) -> Blocking<A> {
        self.reconfigure(|_, queue| *queue = n)
    }

    /// Sets the `Retry-After` of the 503 a full queue gets (whole seconds,
    /// rounded up), or `None` for no header. Defaults to 1 second.
    pub fn retry_after(mut self, delay: impl Into<Option<Duration>>) -> Blocking<A> {
        let value = delay.into().map(|d| {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            HeaderValue::from(secs)
        });
        self.handle_mut().retry_after = value;
        self
    }

    /// Requests running now (one per busy thread).
    pub fn running(&self) -> usize {
        self.handle.pool.counts().0
    }

    /// Requests waiting for a thread now.
    pub fn queued(&self) -> usize {
        self.handle.pool.counts().1
    }

    fn handle_mut(&mut self) -> &mut Handle<A> {
        match Arc::get_mut(&mut self.handle) {
            Some(handle) => handle,
            None => panic!("configure a Blocking application before cloning it"),
        }
    }

    fn reconfigure(mut self, f: impl FnOnce(&mut usize, &mut usize)) -> Blocking<A> {
        let handle = self.handle_mut();
        let Some(pool) = Arc::get_mut(&mut handle.pool) else {
            panic!("configure a Blocking application before it starts");
        };
        f(&mut pool.threads, &mut pool.queue);
        self
    }

    fn refusal(&self, refused: Refused) -> Error {
        match refused {
            Refused::Full => {
                let err = Error::with_status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "every blocking thread is busy and the queue is full",
                );
                match &self.handle.retry_after {
                    Some(value) => err.with_header(RETRY_AFTER, value.clone()),
                    None => err,
                }
            }
            Refused::Stopped => Error::with_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "the blocking pool is shut down",
            ),
            Refused::Spawn(e) => Error::with_status(StatusCode::SERVICE_UNAVAILABLE, e),
        }
    }
}

impl<A> Clone for Blocking<A> {
    fn clone(&self) -> Self {
        Blocking {
            handle: self.handle.clone(),
        }
    }
}

impl<A> std::fmt::Debug for Blocking<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking")
            .field("threads", &self.handle.pool.threads)
            .field("queue", &self.handle.pool.queue)
            .finish_non_exhaustive()
    }
}

impl<A: BlockingApplication> Application for Blocking<A> {
    async fn call(&self, mut env: Environ) -> Result<Response, Error> {
        let job = Arc::new(Job::new(env.take_body()));
        let pool = &self.handle.pool;
        pool.submit(Queued {
            job: job.clone(),
            env,
        })
        .map_err(|refused| self.refusal(refused))?;
        let mut guard = Withdraw {
            guard: ResponseGuard {
                job,
                answered: false,
            },
            pool,
        };
        let result = std::future::poll_fn(|cx| guard.guard.job.poll_response(cx)).await;
        guard.guard.answered = true;
        result
    }

    async fn startup(&self) -> Result<(), Error> {
        self.handle
            .pool
            .start()
            .map_err(|refused| self.refusal(refused))
    }

    async fn shutdown(&self) {
        let pool = &self.handle.pool;
        pool.stop();
        std::future::poll_fn(|cx| pool.poll_drained(cx)).await;
    }
}

/// Takes a cancelled job out of the queue, then cancels it.
struct Withdraw<'a, A: BlockingApplication> {
    guard: ResponseGuard,
    pool: &'a Arc<Pool<A>>,
}

impl<A: BlockingApplication> Drop for Withdraw<'_, A> {
    fn drop(&mut self) {
        if !self.guard.answered {
            self.pool.withdraw(&self.guard.job);
        }
    }
}

#[cfg(test)]
mod tests;
