//! `load ADDR CONNS REQUESTS [PATH [HEADER...]]`: sends exactly REQUESTS
//! keep-alive `GET PATH` requests (default `/`) on each of CONNS
//! connections, each with the extra HEADER lines (`name: value`), and
//! fails on any response other than a 200 with a `content-length`.
//! `LOAD_METHOD` in the environment changes the method (default `GET`).

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
    let method = std::env::var("LOAD_METHOD").unwrap_or_else(|_| "GET".to_owned());
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(std::io::Error::other(
            "LOAD_METHOD must be an upper-case method",
        ));
    }
    gateway_benches::load_request(addr, conns, requests, &method, path, headers)
}
