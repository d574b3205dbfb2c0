//! Telling HTTP/1 from HTTP/2 prior knowledge, once per connection.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // `curl http://127.0.0.1:8000/` and `curl --http2-prior-knowledge
//! // http://127.0.0.1:8000/` are both answered on this one port.
//! gateway_hyper::serve("127.0.0.1:8000", app).await
//! # }
//! ```
//!
//! hyper-util's `auto` connection reads the first bytes through a wrapper
//! that stays on every later read, and waits for them without a deadline.
//! Here a TCP connection is *peeked* (nothing consumed, nothing wrapped)
//! under the header-read timeout, and the plain socket goes to hyper's
//! HTTP/1 or HTTP/2 server. A Unix socket cannot be peeked with tokio: its
//! first bytes are read and replayed by [`Prefixed`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
}

/// What the first bytes say: `None` while they are still a prefix of the
/// preface.
fn classify(bytes: &[u8]) -> Option<Protocol> {
    if bytes.len() >= PREFACE.len() && bytes[..PREFACE.len()] == PREFACE[..] {
        Some(Protocol::Http2)
    } else if PREFACE.starts_with(bytes) {
        None
    } else {
        Some(Protocol::Http1)
    }
}

/// What a first peek at a TCP connection tells.
pub(crate) enum Peeked {
    /// The protocol is known; nothing was consumed.
    Known(Protocol),
    /// The bytes so far are a prefix of the HTTP/2 preface (a split
    /// preface, or a client stalling on purpose): read them and replay
    /// them, as for a Unix socket, rather than peek again (the socket stays
    /// readable while bytes wait unread, so waiting for more would poll).
    Ambiguous,
    /// The client closed without sending anything.
    Closed,
}

/// Peeks once at a TCP connection's first bytes.
pub(crate) async fn peek_tcp(stream: &TcpStream) -> io::Result<Peeked> {
    let mut buf = [0u8; PREFACE.len()];
    let n = stream.peek(&mut buf).await?;
    Ok(match n {
        0 => Peeked::Closed,
        n => classify(&buf[..n]).map_or(Peeked::Ambiguous, Peeked::Known),
    })
}

/// Reads the first bytes of a connection until its protocol is known, and
/// returns them for [`Prefixed`] to replay. `Ok(None)` when the client
/// closed without sending anything that decides.
pub(crate) async fn read_first<I: AsyncRead + Unpin>(
    io: &mut I,
) -> io::Result<Option<(Protocol, Bytes)>> {
    let mut buf = [0u8; PREFACE.len()];
    let mut filled = 0;
    // Stops at the latest when the whole preface length is in: classify
    // then always decides.
    loop {
        let n = io.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(None);
        }
        filled += n;
        if let Some(protocol) = classify(&buf[..filled]) {
            return Ok(Some((protocol, Bytes::copy_from_slice(&buf[..filled]))));
        }
    }
}

pin_project_lite::pin_project! {
    /// An I/O stream whose first bytes were already read: they are replayed
    /// before the stream's own.
    pub(crate) struct Prefixed<I> {
        prefix: Bytes,
        #[pin]
        inner: I,
    }
}

impl<I> Prefixed<I> {
    pub(crate) fn new(prefix: Bytes, inner: I) -> Prefixed<I> {
        Prefixed { prefix, inner }
    }
}

impl<I: AsyncRead> AsyncRead for Prefixed<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        this.inner.poll_read(cx, buf)
    }
}

impl<I: AsyncWrite> AsyncWrite for Prefixed<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(b"G"), Some(Protocol::Http1));
        assert_eq!(classify(b"POST / HTTP/1.1"), Some(Protocol::Http1));
        assert_eq!(classify(b"P"), None);
        assert_eq!(classify(b"PRI * HTTP/2.0\r\n"), None);
        assert_eq!(classify(PREFACE), Some(Protocol::Http2));
        assert_eq!(
            classify(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nrest"),
            Some(Protocol::Http2)
        );
    }

    #[tokio::test]
    async fn prefixed_replays_then_reads_on() {
        let (mut client, server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\n")
            .await
            .unwrap();
        let mut server = server;
        let (protocol, first) = read_first(&mut server).await.unwrap().unwrap();
        assert_eq!(protocol, Protocol::Http1);
        drop(client);
        let mut all = Vec::new();
        Prefixed::new(first, server)
            .read_to_end(&mut all)
            .await
            .unwrap();
        assert_eq!(all, b"GET / HTTP/1.1\r\n");
    }
}
