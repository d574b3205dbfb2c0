//! `ws-load ADDR CONNS SECONDS|xN [SIZE]`: WebSocket echo round trips on
//! CONNS connections to `ws://ADDR/ws` (binary messages of SIZE bytes,
//! default 64), for SECONDS after a one-second warm-up, or exactly N round
//! trips per connection (`x1000`). Prints the round trips per second (0
//! for `xN`) and the round trips of the whole run (warm-up included). See
//! `gateway_benches::websocket::load`.

use gateway_benches::websocket::{Run, load};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || std::io::Error::other("usage: ws-load ADDR CONNS SECONDS|xN [SIZE]");
    let arg = |i: usize| args.get(i).ok_or_else(usage);
    let addr = arg(0)?.parse().map_err(|_| usage())?;
    let conns = arg(1)?.parse().map_err(|_| usage())?;
    let run = match arg(2)?.strip_prefix('x') {
        Some(n) => Run::RoundTrips(n.parse().map_err(|_| usage())?),
        None => Run::Seconds(arg(2)?.parse().map_err(|_| usage())?),
    };
    let size = args
        .get(3)
        .map_or(Ok(64), |s| s.parse().map_err(|_| usage()))?;
    let (rate, total) = load(addr, conns, run, size)?;
    println!("{rate:.0} {total}");
    Ok(())
}
