//! `bench-server KIND ADDR`: runs one of the hello servers (`gateway`,
//! `raw-minimal`, `bare`, `raw`, `raw-direct`, `axum`, `gateway-mw5`,
//! `gateway-mw5-async`, `blocking`, the session kinds `session-cookie`,
//! `session-memory`, `session-untouched`, `axum-sessions`, or an ablation;
//! see `gateway_benches::Kind`), or
//! one of the static-file servers (`static-gateway`, `static-servedir`: the
//! directory named by `STATIC_DIR`), on a current-thread runtime until
//! SIGINT or SIGTERM, then exits cleanly (so `valgrind --tool=callgrind`
//! writes its totals).

use gateway_benches::Kind;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let kind: Kind = args
        .next()
        .unwrap_or_else(|| "gateway".into())
        .parse()
        .map_err(std::io::Error::other)?;
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
        gateway_benches::serve(kind, listener, shutdown).await
    })
}
