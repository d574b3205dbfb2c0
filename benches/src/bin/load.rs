//! `load ADDR CONNS REQUESTS [PATH [HEADER...]]`: sends exactly REQUESTS
//! keep-alive `GET PATH` requests (default `/`) on each of CONNS
//! connections, each with the extra HEADER lines (`name: value`), and
//! fails on any response other than a 200 with a `content-length`.

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || std::io::Error::other("usage: load ADDR CONNS REQUESTS [PATH [HEADER...]]");
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
    let path = args.get(3).map_or("/", String::as_str);
    if !path.starts_with('/') {
        return Err(usage());
    }
    let headers = args.get(4..).unwrap_or_default();
    gateway_benches::load_path(addr, conns, requests, path, headers)
}
