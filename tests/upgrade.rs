//! Protocol upgrades through the contract (`gateway_core::upgrade`) over
//! real sockets: a raw echo protocol over HTTP/1.1 `Upgrade` on TCP, Unix
//! sockets and TLS, and over HTTP/2 extended CONNECT; the graceful drain of
//! upgraded connections; an upgrade through a middleware stack; hostile
//! and unlucky clients; the connection limit with upgraded connections.
//!
//! The echo handler counts itself: `dropped` rises when its closure or
//! future is dropped (called or not), `finished` when it returns, so a
//! test sees that no handler task leaks. Every wait is bounded.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gateway_core::upgrade::Upgraded;
use gateway_core::{Application, Environ, fn_app, start};
use gateway_hyper::{Server, ServerStats};
use gateway_tests::{TestServer, find, within};
use http::HeaderMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

mod drain;
mod echo;
mod hostile;
mod limit;
mod stack;

/// What the echo handler does when the server drains.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnShutdown {
    /// Writes `bye` and returns.
    SayBye,
    /// Goes on echoing (the drain deadline must cancel it).
    Ignore,
}

/// The handlers' counters.
#[derive(Default)]
struct Counts {
    started: AtomicUsize,
    finished: AtomicUsize,
    dropped: AtomicUsize,
}

impl Counts {
    fn get(&self) -> (usize, usize, usize) {
        (
            self.started.load(Ordering::SeqCst),
            self.finished.load(Ordering::SeqCst),
            self.dropped.load(Ordering::SeqCst),
        )
    }
}

/// Raises `dropped` when dropped.
struct DropCount(Arc<Counts>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Switches to `echo` (426 without an upgrade, 400 for another protocol);
/// `/slow` waits `delay` before answering, `/refuse` answers 403.
fn echo_app(counts: Arc<Counts>, on_shutdown: OnShutdown) -> impl Application + Clone {
    let counts = counts.clone();
    fn_app(move |mut env: Environ| {
        let counts = counts.clone();
        async move {
            // `/slow`: counted from the call, so that a client leaving
            // before the 101 is seen to drop it either way (the
            // application's future, or the handler never called).
            let early = (env.path_info() == "/slow").then(|| DropCount(counts.clone()));
            if early.is_some() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let Some(up) = env.upgrade() else {
                return start(426, [("upgrade", "echo"), ("connection", "upgrade")]).empty();
            };
            if up.protocol() != "echo" || env.path_info() == "/refuse" {
                return start(400, [("content-type", "text/plain")]).body("not switching");
            }
            let guard = early.unwrap_or_else(|| DropCount(counts.clone()));
            let mut headers = HeaderMap::new();
            headers.insert("x-echo", "1".parse()?);
            Ok(up.switch(headers, move |io: Upgraded| async move {
                let _guard = guard;
                counts.started.fetch_add(1, Ordering::SeqCst);
                echo(io, on_shutdown).await;
                counts.finished.fetch_add(1, Ordering::SeqCst);
            }))
        }
    })
}

async fn echo(mut io: Upgraded, on_shutdown: OnShutdown) {
    let mut shutdown = std::pin::pin!(io.shutdown());
    let watching = on_shutdown == OnShutdown::SayBye;
    let mut buf = vec![0; 16 * 1024];
    loop {
        tokio::select! {
            read = io.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => if io.write_all(&buf[..n]).await.is_err() { return },
            },
            () = &mut shutdown, if watching => {
                let _ = io.write_all(b"bye").await;
                let _ = io.shutdown().await;
                return;
            }
        }
    }
}

/// The HTTP/1.1 upgrade request for `path`, then `extra` in the same write.
fn upgrade_request(path: &str, extra: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
    )
    .into_bytes();
    req.extend_from_slice(extra);
    req
}

/// Reads a response head; returns it and the bytes read past it.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&got, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            return (head, got[end + 4..].to_vec());
        }
        let n = within("a response head", stream.read(&mut buf))
            .await
            .expect("read a response head");
        assert!(
            n > 0,
            "closed before a full head: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
}

/// Sends `msg` and reads it back, writing and reading at once (a large
/// message would otherwise fill the buffers and flow-control windows of
/// both directions).
async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, msg: &[u8]) {
    let (mut r, mut w) = tokio::io::split(stream);
    let write = async { w.write_all(msg).await.expect("write") };
    let read = async {
        let mut back = vec![0; msg.len()];
        r.read_exact(&mut back).await.expect("read the echo");
        back
    };
    let ((), back) = within("the echo", async { tokio::join!(write, read) }).await;
    assert!(back == msg, "the echo differs ({} bytes)", msg.len());
}

/// Upgrades `stream` (any transport) with `early` bytes pipelined behind
/// the request, checks the 101 and that `early` comes back first.
async fn upgrade_and_echo<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, early: &[u8]) {
    within(
        "write the upgrade",
        stream.write_all(&upgrade_request("/", early)),
    )
    .await
    .expect("write the upgrade request");
    let (head, mut rest) = read_head(stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nupgrade: echo"), "{head}");
    assert!(lower.contains("\r\nconnection: upgrade"), "{head}");
    assert!(lower.contains("\r\nx-echo: 1"), "{head}");
    while rest.len() < early.len() {
        let mut buf = [0u8; 4096];
        let n = within("the pipelined bytes' echo", stream.read(&mut buf))
            .await
            .expect("read");
        assert!(n > 0, "closed before the pipelined bytes came back");
        rest.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        rest, early,
        "the bytes sent with the request come back first"
    );
    round_trip(stream, b"second message").await;
    round_trip(stream, &gateway_tests::pattern(200_000)).await;
}

/// Waits until `cond` holds (polling every 10 ms, bounded).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Waits until the server's upgraded connections are down to zero.
async fn no_upgraded_left(stats: &ServerStats) {
    eventually("upgraded connections to close", || {
        stats.upgraded_connections() == 0
    })
    .await;
}

/// Reads to the end; a reset counts as the end.
async fn read_to_end<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match within("the end of the stream", stream.read(&mut buf)).await {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::ConnectionReset => return got,
            Err(err) => panic!("read failed: {err}"),
        }
    }
}
