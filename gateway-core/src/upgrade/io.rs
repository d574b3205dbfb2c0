//! [`Upgraded`], the byte stream after a switch, and [`Shutdown`], the
//! server's "finish now" signal for it.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::upgrade::{Shutdown, Upgraded};
//! use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
//!
//! let (client, server) = tokio::io::duplex(64);
//! let mut upgraded = Upgraded::new(server).with_shutdown(Shutdown::new(async {}));
//! upgraded.shutdown().await; // the adapter's signal resolved at once
//! upgraded.write_all(b"bye").await.unwrap();
//! drop(upgraded);
//! let mut got = Vec::new();
//! let mut client = client;
//! client.read_to_end(&mut got).await.unwrap();
//! assert_eq!(got, b"bye");
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::FutureExt as _;
use futures_util::future::Shared;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What an adapter's upgraded connection is: any tokio byte stream.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// The upgraded byte stream an application's handler receives after the
/// switch: tokio's `AsyncRead + AsyncWrite + Unpin + Send`, so any tokio
/// protocol crate (tokio-tungstenite, a codec) runs on it.
///
/// Bytes the client sent right after its upgrade request, in the same
/// packet, are the first bytes read: adapters hand them over (hyper does).
/// End of input (a read of 0 bytes) means the client closed its side;
/// dropping the stream closes the connection.
///
/// Adapters make one with [`Upgraded::new`] and, if they drain gracefully,
/// [`Upgraded::with_shutdown`]; applications read [`Upgraded::shutdown`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::upgrade::Upgraded;
/// use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
///
/// let (mut client, server) = tokio::io::duplex(64);
/// let mut upgraded = Upgraded::new(server);
/// client.write_all(b"ping").await.unwrap();
/// let mut buf = [0; 4];
/// upgraded.read_exact(&mut buf).await.unwrap();
/// assert_eq!(&buf, b"ping");
/// # });
/// ```
pub struct Upgraded {
    io: Box<dyn Io>,
    shutdown: Shutdown,
}

impl Upgraded {
    /// Wraps an adapter's upgraded connection (one allocation). Its
    /// [`shutdown`](Upgraded::shutdown) signal never resolves until
    /// [`with_shutdown`](Upgraded::with_shutdown) gives one.
    ///
    /// ```
    /// use gateway_core::upgrade::Upgraded;
    ///
    /// let (_client, server) = tokio::io::duplex(64);
    /// let upgraded = Upgraded::new(server);
    /// assert_eq!(format!("{:?}", upgraded.shutdown()), r#"Shutdown("never")"#);
    /// ```
    pub fn new<T>(io: T) -> Upgraded
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Upgraded {
            io: Box::new(io),
            shutdown: Shutdown::never(),
        }
    }

    /// Sets the signal that tells the handler the server is shutting down
    /// gracefully (adapter side).
    ///
    /// ```
    /// use gateway_core::upgrade::{Shutdown, Upgraded};
    /// let (_client, server) = tokio::io::duplex(64);
    /// let upgraded = Upgraded::new(server).with_shutdown(Shutdown::never());
    /// # let _ = upgraded;
    /// ```
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Upgraded {
        self.shutdown = shutdown;
        self
    }

    /// Resolves when the server begins a graceful shutdown; never, when the
    /// adapter gave no signal (it cannot drain, or it is a test).
    ///
    /// A handler should then finish what it is doing and say goodbye in
    /// its protocol (a WebSocket sends a close frame with code 1001, "going
    /// away"). The adapter waits for the handler up to its drain deadline
    /// and then drops it, which closes the connection. The returned future
    /// is cheap to clone and may be awaited any number of times.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::upgrade::{Shutdown, Upgraded};
    /// use tokio::io::AsyncReadExt as _;
    ///
    /// let (_client, server) = tokio::io::duplex(64);
    /// let mut upgraded = Upgraded::new(server).with_shutdown(Shutdown::new(async {}));
    /// let shutdown = upgraded.shutdown();
    /// let mut buf = [0; 16];
    /// tokio::select! {
    ///     _ = upgraded.read(&mut buf) => unreachable!("the client sent nothing"),
    ///     () = shutdown => {} // say goodbye, then return
    /// }
    /// # });
    /// ```
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded").finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.io).poll_write(cx, buf)
    }

    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.io).poll_shutdown(cx)
    }

    #[inline]
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.io).poll_write_vectored(cx, bufs)
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The server's graceful-shutdown signal for an upgraded connection: a
/// future that resolves once the server begins to drain. `Clone`, `Send`,
/// `Unpin`; every clone resolves at the same moment, and a resolved signal
/// stays resolved.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::upgrade::Shutdown;
///
/// let (tx, rx) = tokio::sync::oneshot::channel::<()>();
/// let shutdown = Shutdown::new(async move { let _ = rx.await; });
/// let waiting = shutdown.clone();
/// tx.send(()).unwrap();
/// waiting.await;
/// shutdown.await; // resolved for every clone
/// # });
/// ```
#[derive(Clone)]
#[must_use = "futures do nothing unless polled"]
pub struct Shutdown {
    signal: Option<Shared<BoxFuture>>,
}

impl Shutdown {
    /// A signal that resolves when `signal` does (one allocation; clones
    /// share it). `signal` is polled by whichever clone is polled.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::upgrade::Shutdown;
    ///
    /// // What an adapter might pass: its drain signal, as a watch channel.
    /// let (drain, mut draining) = tokio::sync::watch::channel(false);
    /// let shutdown = Shutdown::new(async move {
    ///     let _ = draining.wait_for(|d| *d).await;
    /// });
    /// drain.send_replace(true);
    /// shutdown.await;
    /// # });
    /// ```
    pub fn new<F>(signal: F) -> Shutdown
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let signal: BoxFuture = Box::pin(signal);
        Shutdown {
            signal: Some(signal.shared()),
        }
    }

    /// A signal that never resolves (no allocation): for adapters that do
    /// not drain, and for tests.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use gateway_core::upgrade::Shutdown;
    ///
    /// let waited = tokio::time::timeout(Duration::from_millis(10), Shutdown::never()).await;
    /// assert!(waited.is_err());
    /// # });
    /// ```
    pub fn never() -> Shutdown {
        Shutdown { signal: None }
    }
}

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.signal.as_mut() {
            Some(signal) => Pin::new(signal).poll(cx),
            None => Poll::Pending,
        }
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.signal {
            None => "never",
            Some(signal) if signal.peek().is_some() => "resolved",
            Some(_) => "pending",
        };
        f.debug_tuple("Shutdown").field(&state).finish()
    }
}
