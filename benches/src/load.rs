//! The load client the benchmark scripts drive (`load ADDR CONNS N`):
//! keep-alive requests over plain `std` sockets, one thread per
//! connection, checking every response and keeping its cookies.
//!
//! ```no_run
//! let addr = "127.0.0.1:8000".parse().unwrap();
//! gateway_benches::load(addr, 1, 100).unwrap();
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Sends `requests` keep-alive `GET /` requests over each of `conns`
/// connections (one thread each, one request in flight per connection) and
/// checks every response is a 200 with a body. Each connection keeps the
/// cookies its responses set and sends them back (see [`load_path`]).
/// Allocates nothing per request unless a response sets a cookie.
pub fn load(addr: SocketAddr, conns: usize, requests: usize) -> io::Result<()> {
    load_path(addr, conns, requests, "/", &[])
}

/// [`load`] for `GET path` with extra request `headers` (each a full
/// `name: value` line without its CRLF): [`load_request`] with `GET`.
pub fn load_path(
    addr: SocketAddr,
    conns: usize,
    requests: usize,
    path: &str,
    headers: &[String],
) -> io::Result<()> {
    load_request(addr, conns, requests, "GET", path, headers)
}

/// [`load`] for `METHOD path` with extra request `headers` (each a full
/// `name: value` line without its CRLF; a request with a body method
/// needs its own `content-length: 0`). Every response must be a 200
/// with a `content-length`; bodies of any size are read and dropped.
///
/// Each connection is one client with its own cookie jar, as a browser
/// tab is: every `Set-Cookie` response field stores its `name=value`
/// (replacing a cookie of the same name; `Max-Age=0` or an empty value
/// removes it), and every later request on that connection carries the
/// stored cookies in one `cookie` field, in the order first set. Other
/// attributes (`Path`, `Domain`, `Secure`, expiry) are ignored: the
/// benchmark servers set one cookie on `/`. Servers that set no cookie
/// get exactly the same bytes on every request.
pub fn load_request(
    addr: SocketAddr,
    conns: usize,
    requests: usize,
    method: &str,
    path: &str,
    headers: &[String],
) -> io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: bench\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    let head: std::sync::Arc<[u8]> = head.into_bytes().into();
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let head = head.clone();
            std::thread::spawn(move || load_one(addr, requests, &head))
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| io::Error::other("load thread panicked"))??;
    }
    Ok(())
}

/// One connection's cookies: `(name, value)` in the order first set.
#[derive(Default)]
pub(crate) struct Jar(Vec<(Vec<u8>, Vec<u8>)>);

impl Jar {
    /// Applies every `set-cookie` field of a response `head`; true if the
    /// jar changed.
    pub(crate) fn update(&mut self, head: &[u8]) -> bool {
        let mut changed = false;
        for line in head.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = line.split_at(colon);
            if !name.eq_ignore_ascii_case(b"set-cookie") {
                continue;
            }
            let mut parts = value[1..].split(|&b| b == b';');
            let Some(pair) = parts.next() else { continue };
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (cookie, value) = (pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii());
            let removed = value.is_empty()
                || parts.any(|attr| attr.trim_ascii().eq_ignore_ascii_case(b"max-age=0"));
            let slot = self.0.iter().position(|(n, _)| n == cookie);
            match (slot, removed) {
                (Some(i), true) => {
                    self.0.remove(i);
                }
                (Some(i), false) => value.clone_into(&mut self.0[i].1),
                (None, false) => self.0.push((cookie.to_vec(), value.to_vec())),
                (None, true) => continue,
            }
            changed = true;
        }
        changed
    }

    /// `head`, then a `cookie` field with the jar's cookies (if any), then
    /// the blank line ending the request head, into `request`.
    pub(crate) fn request(&self, head: &[u8], request: &mut Vec<u8>) {
        request.clear();
        request.extend_from_slice(head);
        for (i, (name, value)) in self.0.iter().enumerate() {
            request.extend_from_slice(if i == 0 { b"cookie: " } else { b"; " });
            request.extend_from_slice(name);
            request.push(b'=');
            request.extend_from_slice(value);
        }
        if !self.0.is_empty() {
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
    }
}

fn load_one(addr: SocketAddr, requests: usize, head: &[u8]) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut jar = Jar::default();
    let mut request = Vec::with_capacity(head.len() + 2);
    jar.request(head, &mut request);
    for _ in 0..requests {
        stream.write_all(&request)?;
        if read_response(&mut stream, &mut buf, &mut jar)? {
            jar.request(head, &mut request);
        }
    }
    Ok(())
}

/// Reads one response with a `content-length` body (one request is in
/// flight, so nothing past its end has been sent yet) and stores the
/// cookies it sets in `jar`; true if the jar changed.
fn read_response(stream: &mut TcpStream, buf: &mut [u8], jar: &mut Jar) -> io::Result<bool> {
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed",
            ));
        }
        filled += n;
        let Some(end) = find(&buf[..filled], b"\r\n\r\n") else {
            if filled == buf.len() {
                return Err(io::Error::other("response head too large"));
            }
            continue;
        };
        let head = &buf[..end];
        if !head.starts_with(b"HTTP/1.1 200") {
            let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
            return Err(io::Error::other(format!(
                "unexpected status: {}",
                String::from_utf8_lossy(line)
            )));
        }
        let len = content_length(head).ok_or_else(|| io::Error::other("no content-length"))?;
        let changed = jar.update(head);
        let mut left = (end + 4 + len).saturating_sub(filled);
        while left > 0 {
            let want = left.min(buf.len());
            let n = stream.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
            }
            left -= n;
        }
        return Ok(changed);
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn content_length(head: &[u8]) -> Option<usize> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
        if !name.eq_ignore_ascii_case(b"content-length") {
            return None;
        }
        std::str::from_utf8(&value[1..]).ok()?.trim().parse().ok()
    })
}
