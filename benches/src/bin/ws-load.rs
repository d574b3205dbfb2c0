//! `ws-load ADDR CONNS SECONDS [SIZE]`: WebSocket echo round trips per
//! second on CONNS connections to `ws://ADDR/ws` (binary messages of SIZE
//! bytes, default 64), measured for SECONDS after a one-second warm-up;
//! prints the number. See `gateway_benches::websocket::load`.

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || std::io::Error::other("usage: ws-load ADDR CONNS SECONDS [SIZE]");
    let arg = |i: usize| args.get(i).ok_or_else(usage);
    let addr = arg(0)?.parse().map_err(|_| usage())?;
    let conns = arg(1)?.parse().map_err(|_| usage())?;
    let secs = arg(2)?.parse().map_err(|_| usage())?;
    let size = args
        .get(3)
        .map_or(Ok(64), |s| s.parse().map_err(|_| usage()))?;
    let rate = gateway_benches::websocket::load(addr, conns, secs, size)?;
    println!("{rate:.0}");
    Ok(())
}
