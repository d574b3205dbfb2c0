//! Upgrades in-process: [`TestRequest::upgrade`](super::TestRequest::upgrade)
//! and the client's end of the connection, [`TestConnection`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::upgrade::Upgraded;
//! use gateway_core::{fn_app, start, Environ};
//! use http::HeaderMap;
//! use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
//!
//! let app = fn_app(|mut env: Environ| async move {
//!     match env.upgrade() {
//!         Some(up) => Ok(up.switch(HeaderMap::new(), |mut io: Upgraded| async move {
//!             let (mut r, mut w) = tokio::io::split(&mut io);
//!             let _ = tokio::io::copy(&mut r, &mut w).await;
//!         })),
//!         None => start(426, [("upgrade", "echo")]).empty(),
//!     }
//! });
//! let client = TestClient::new(app);
//! let (res, mut conn) = client.get("/echo").upgrade("echo").await.unwrap();
//! assert_eq!(res.status(), 101);
//! conn.write_all(b"ping").await.unwrap();
//! let mut buf = [0; 4];
//! conn.read_exact(&mut buf).await.unwrap(); // the handler runs as the test reads
//! assert_eq!(&buf, b"ping");
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

use crate::upgrade::{Shutdown, Switch, Upgraded};

/// How many bytes each direction of the in-memory pipe buffers.
pub(super) const PIPE_CAPACITY: usize = 64 * 1024;

/// The client's end of an upgraded connection made by
/// [`TestRequest::upgrade`](super::TestRequest::upgrade): a tokio
/// `AsyncRead + AsyncWrite` byte stream whose other end is the application
/// handler's [`Upgraded`].
///
/// **The handler runs inside this value**, so that a test needs no spawned
/// task and no particular runtime: every read, write, flush or shutdown of
/// the connection first polls the handler, and
/// [`join`](TestConnection::join) runs it to its end. While the test does
/// something else (sleeps, awaits another future), the handler waits.
/// Dropping the connection drops the handler — as a server cancels it —
/// and closes both ends.
///
/// The pipe holds 64 KiB in each direction; a write blocks when the
/// handler does not read (it is polled meanwhile, so a handler that reads
/// unblocks it).
pub struct TestConnection {
    io: DuplexStream,
    switch: Option<Switch>,
    trigger: Trigger,
}

impl TestConnection {
    /// The connection and the server end to give the handler.
    pub(super) fn pair() -> (TestConnection, DuplexStream, Shutdown) {
        let (client, server) = tokio::io::duplex(PIPE_CAPACITY);
        let trigger = Trigger::default();
        let shutdown = trigger.shutdown();
        (
            TestConnection {
                io: client,
                switch: None,
                trigger,
            },
            server,
            shutdown,
        )
    }

    pub(super) fn set_switch(&mut self, switch: Switch) {
        self.switch = Some(switch);
    }

    /// Tells the handler the server is shutting down: its
    /// [`Upgraded::shutdown`] resolves (it is polled at the next use of
    /// the connection, or by [`join`](TestConnection::join)).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::upgrade::Upgraded;
    /// use gateway_core::{fn_app, start, Environ};
    /// use http::HeaderMap;
    /// use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    ///
    /// let app = fn_app(|mut env: Environ| async move {
    ///     let Some(up) = env.upgrade() else { return start(426, [("upgrade", "x")]).empty() };
    ///     Ok(up.switch(HeaderMap::new(), |mut io: Upgraded| async move {
    ///         io.shutdown().await; // a WebSocket would send close 1001 here
    ///         let _ = io.write_all(b"going away").await;
    ///     }))
    /// });
    /// let (_, mut conn) = TestClient::new(app).get("/").upgrade("x").await.unwrap();
    /// conn.begin_shutdown();
    /// let mut said = String::new();
    /// conn.read_to_string(&mut said).await.unwrap();
    /// assert_eq!(said, "going away");
    /// # });
    /// ```
    pub fn begin_shutdown(&self) {
        self.trigger.fire();
    }

    /// Runs the handler until it returns (at once if it has). The
    /// connection stays open: shut down the writing side first
    /// (`AsyncWriteExt::shutdown`) if the handler reads to the end.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::upgrade::Upgraded;
    /// use gateway_core::{fn_app, start, Environ};
    /// use http::HeaderMap;
    /// use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    ///
    /// // Counts the bytes it receives until the end, then says how many.
    /// let app = fn_app(|mut env: Environ| async move {
    ///     let Some(up) = env.upgrade() else { return start(426, [("upgrade", "count")]).empty() };
    ///     Ok(up.switch(HeaderMap::new(), |mut io: Upgraded| async move {
    ///         let mut all = Vec::new();
    ///         let _ = io.read_to_end(&mut all).await;
    ///         let _ = io.write_all(all.len().to_string().as_bytes()).await;
    ///     }))
    /// });
    /// let (_, mut conn) = TestClient::new(app).get("/").upgrade("count").await.unwrap();
    /// conn.write_all(b"12345").await.unwrap();
    /// conn.shutdown().await.unwrap();
    /// conn.join().await;
    /// assert!(conn.is_finished());
    /// let mut said = String::new();
    /// conn.read_to_string(&mut said).await.unwrap();
    /// assert_eq!(said, "5");
    /// # });
    /// ```
    pub async fn join(&mut self) {
        if let Some(switch) = self.switch.as_mut() {
            switch.await;
            self.switch = None;
        }
    }

    /// Whether the handler has returned (or was never called, because the
    /// response did not switch). See [`join`](TestConnection::join) for an
    /// example.
    pub fn is_finished(&self) -> bool {
        self.switch.is_none()
    }

    /// Polls the handler once, with the caller's waker.
    fn drive(&mut self, cx: &mut Context<'_>) {
        if let Some(switch) = self.switch.as_mut() {
            if Pin::new(switch).poll(cx).is_ready() {
                self.switch = None;
            }
        }
    }
}

impl fmt::Debug for TestConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestConnection")
            .field("handler", &self.switch)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for TestConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.drive(cx);
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for TestConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.drive(cx);
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.drive(cx);
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.drive(cx);
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The test's side of the [`Shutdown`] it hands the handler.
#[derive(Clone, Default)]
struct Trigger(Arc<Mutex<TriggerState>>);

#[derive(Default)]
struct TriggerState {
    fired: bool,
    waker: Option<Waker>,
}

impl Trigger {
    fn fire(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            state.fired = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn shutdown(&self) -> Shutdown {
        let trigger = self.clone();
        // `Shutdown` shares one future among its clones and wakes them
        // all, so one waker is enough here.
        Shutdown::new(std::future::poll_fn(move |cx| {
            let mut state = trigger.0.lock().unwrap_or_else(PoisonError::into_inner);
            if state.fired {
                return Poll::Ready(());
            }
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }))
    }
}

/// The server end of the pipe, as the handler will get it.
pub(super) fn upgraded(server: DuplexStream, shutdown: Shutdown) -> Upgraded {
    Upgraded::new(server).with_shutdown(shutdown)
}
