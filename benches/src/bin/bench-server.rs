//! `bench-server KIND ADDR`: runs one of the hello servers (`gateway`,
//! `raw-minimal`, `bare`, `raw`, `raw-direct`, `axum`, `gateway-mw5`,
//! `gateway-mw5-async`, `blocking`, the session kinds `session-cookie`,
//! `session-memory`, `session-untouched`, `axum-sessions`, or an ablation;
//! see `gateway_benches::Kind`), or
//! one of the static-file servers (`static-gateway`, `static-servedir`: the
//! directory named by `STATIC_DIR`), or a WebSocket echo server (`ws-gateway`,
//! `ws-axum`; see `gateway_benches::websocket`), on a current-thread runtime until
//! SIGINT or SIGTERM, then exits cleanly (so `valgrind --tool=callgrind`
//! writes its totals).

use gateway_benches::Kind;
use gateway_benches::websocket::WsKind;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "gateway".into());
    let kind = match WsKind::parse(&name) {
        Some(ws) => Err(ws),
        None => Ok(name.parse::<Kind>().map_err(std::io::Error::other)?),
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8000".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        match kind {
            Ok(kind) => gateway_benches::serve(kind, listener, shutdown).await,
            Err(ws) => gateway_benches::websocket::serve(ws, listener, shutdown).await,
        }
    })
}
