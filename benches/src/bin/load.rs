//! `load ADDR CONNS REQUESTS`: sends exactly REQUESTS keep-alive
//! `GET /` requests on each of CONNS connections, and fails on any
//! unexpected response.

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || std::io::Error::other("usage: load ADDR CONNS REQUESTS");
    let addr = args
        .first()
        .ok_or_else(usage)?
        .parse()
        .map_err(|_| usage())?;
    let conns = args
        .get(1)
        .ok_or_else(usage)?
        .parse()
        .map_err(|_| usage())?;
    let requests = args
        .get(2)
        .ok_or_else(usage)?
        .parse()
        .map_err(|_| usage())?;
    gateway_benches::load(addr, conns, requests)
}
