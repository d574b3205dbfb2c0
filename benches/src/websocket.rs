//! WebSocket echo servers and their load client, for `benches/websocket.sh`:
//! round trips per second through gateway (`gateway_core::websocket` on
//! gateway-hyper) against axum's own WebSocket (`axum::extract::ws`), on the
//! same hyper and the same tungstenite.
//!
//! Both servers answer `GET /ws` with the handshake and then echo every
//! text and binary message, one `recv` and one `send` (which flushes) at a
//! time, with their defaults otherwise (gateway: 1 MiB message limit;
//! axum: 64 MiB; tungstenite's 128 KiB buffers in both). `bench-server`
//! runs them as the kinds `ws-gateway` and `ws-axum`; [`load`] is the
//! `ws-load` client.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpListener;

/// A WebSocket echo server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsKind {
    /// `gateway_core::websocket::WebSocketUpgrade` through
    /// `gateway_hyper::Server`, served like [`crate::Kind::Gateway`].
    Gateway,
    /// An axum 0.8 `Router` with `axum::extract::ws::WebSocketUpgrade`,
    /// served like [`crate::Kind::Axum`].
    Axum,
}

impl WsKind {
    /// The kind named `name` (`ws-gateway`, `ws-axum`), if it is one.
    pub fn parse(name: &str) -> Option<WsKind> {
        match name {
            "ws-gateway" => Some(WsKind::Gateway),
            "ws-axum" => Some(WsKind::Axum),
            _ => None,
        }
    }
}

/// Serves the `kind` echo server on `listener` until `shutdown`.
pub async fn serve(
    kind: WsKind,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> io::Result<()> {
    match kind {
        WsKind::Gateway => crate::serve_gateway(listener, shutdown, gateway_echo()).await,
        WsKind::Axum => {
            let router = axum::Router::new().route(
                "/ws",
                axum::routing::any(|ws: axum::extract::ws::WebSocketUpgrade| async move {
                    ws.on_upgrade(axum_echo)
                }),
            );
            crate::serve_axum(listener, shutdown, router).await
        }
    }
}

fn gateway_echo() -> impl gateway_core::Application {
    use gateway_core::websocket::{Message, WebSocketUpgrade};
    gateway_core::fn_app(|mut env: gateway_core::Environ| async move {
        if env.path_info() != "/ws" {
            return Err(gateway_core::Error::with_status(
                http::StatusCode::NOT_FOUND,
                "no route",
            ));
        }
        let ws = WebSocketUpgrade::from_environ(&mut env)?;
        Ok(ws.on_upgrade(|mut socket| async move {
            while let Some(Ok(msg)) = socket.recv().await {
                if let Message::Text(_) | Message::Binary(_) = msg {
                    if socket.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        }))
    })
}

async fn axum_echo(mut socket: axum::extract::ws::WebSocket) {
    use axum::extract::ws::Message;
    while let Some(Ok(msg)) = socket.recv().await {
        if let Message::Text(_) | Message::Binary(_) = msg {
            if socket.send(msg).await.is_err() {
                return;
            }
        }
    }
}

/// How long [`load`] runs.
#[derive(Clone, Copy, Debug)]
pub enum Run {
    /// For this many seconds after a one-second warm-up.
    Seconds(f64),
    /// Exactly this many round trips on each connection, no warm-up (for
    /// instruction counts).
    RoundTrips(u64),
}

/// Opens `conns` WebSockets to `ws://ADDR/ws` and on each sends a binary
/// message of `size` bytes and waits for its echo, again and again, for
/// as long as `run` says. Returns the round trips per second of all
/// connections together (over the timed seconds; 0 for
/// [`Run::RoundTrips`]) and the round trips of the whole run, warm-up
/// included (to divide the server's CPU time or instructions by). One
/// thread: a current-thread runtime. Fails on any handshake, send, or echo
/// that is not the message.
pub fn load(addr: SocketAddr, conns: usize, run: Run, size: usize) -> io::Result<(f64, u64)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let counting = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let total = Arc::new(AtomicU64::new(0));
        let limit = match run {
            Run::RoundTrips(n) => n,
            Run::Seconds(_) => u64::MAX,
        };
        let mut tasks = Vec::with_capacity(conns);
        for _ in 0..conns {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp)
                .await
                .map_err(io::Error::other)?;
            let (counting, stop) = (counting.clone(), stop.clone());
            let (count, total) = (count.clone(), total.clone());
            tasks.push(tokio::spawn(async move {
                let mut ws = ws;
                let payload = tokio_tungstenite::tungstenite::Bytes::from(vec![b'x'; size]);
                let mut done = 0u64;
                while done < limit && !stop.load(Ordering::Relaxed) {
                    let msg = tokio_tungstenite::tungstenite::Message::Binary(payload.clone());
                    ws.send(msg).await.map_err(io::Error::other)?;
                    match ws.next().await {
                        Some(Ok(tokio_tungstenite::tungstenite::Message::Binary(echo)))
                            if echo.len() == size => {}
                        other => return Err(io::Error::other(format!("bad echo: {other:?}"))),
                    }
                    done += 1;
                    total.fetch_add(1, Ordering::Relaxed);
                    if counting.load(Ordering::Relaxed) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let _ = ws.close(None).await;
                Ok::<(), io::Error>(())
            }));
        }
        let mut rate = 0.0;
        if let Run::Seconds(secs) = run {
            tokio::time::sleep(Duration::from_secs(1)).await;
            counting.store(true, Ordering::Relaxed);
            let began = Instant::now();
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            let done = count.load(Ordering::Relaxed);
            rate = done as f64 / began.elapsed().as_secs_f64();
            stop.store(true, Ordering::Relaxed);
        }
        for task in tasks {
            task.await.map_err(io::Error::other)??;
        }
        Ok((rate, total.load(Ordering::Relaxed)))
    })
}
