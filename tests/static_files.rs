//! StaticFiles over real sockets: `curl` on HTTP/1.1 and HTTP/2 prior
//! knowledge (a subset of the rules the in-process table in
//! gateway-middleware covers), and the memory bound: a 1 GiB file served
//! to 50 slow clients keeps the server process under 64 MiB resident.
//!
//! Without curl the curl tests print a loud notice and pass, unless `CI`
//! is set, where they fail.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use gateway_tests::{
    TempDir, TestServer, curl, curl_available, parse_curl, pattern, spawn_listening,
};

fn header<'a>(headers: &'a [String], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| {
        h.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(": "))
    })
}

fn site() -> TempDir {
    let dir = TempDir::new("static-curl");
    std::fs::create_dir(dir.join("docs")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(dir.join("docs/index.html"), "<h1>docs</h1>").unwrap();
    std::fs::write(dir.join("app.js"), "console.log(1);").unwrap();
    std::fs::write(dir.join("app.js.br"), "BROTLI-BYTES").unwrap();
    std::fs::write(dir.join("big.bin"), pattern(5 * 1024 * 1024 + 7)).unwrap();
    dir
}

async fn fetch(
    flag: &str,
    server: &TestServer,
    path: &str,
    extra: &[&str],
) -> (String, Vec<String>, Vec<u8>) {
    let url = server.url(path);
    let mut args = vec![flag, "--include"];
    args.extend_from_slice(extra);
    args.push(&url);
    parse_curl(&curl(&args, None).await)
}

async fn with_curl(flag: &str, ok: &str, partial: &str, not_modified: &str, moved: &str) {
    if !curl_available().await {
        return;
    }
    let dir = site();
    let server = TestServer::start(gateway_examples::static_site::app(dir.path())).await;
    let (status, headers, body) = fetch(flag, &server, "/", &[]).await;
    assert_eq!(status, ok);
    assert_eq!(body, b"<h1>home</h1>");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    // (Header lines are lower-cased by `parse`; a weak tag's `W/` is not.)
    let etag = header(&headers, "etag")
        .expect("an etag")
        .replacen("w/", "W/", 1);

    let (status, headers, body) = fetch(
        flag,
        &server,
        "/",
        &["--header", &format!("if-none-match: {etag}")],
    )
    .await;
    assert_eq!(status, not_modified);
    assert!(body.is_empty());
    assert_eq!(
        header(&headers, "etag"),
        Some(etag.to_ascii_lowercase().as_str())
    );

    let (status, headers, body) = fetch(
        flag,
        &server,
        "/app.js",
        &["--header", "accept-encoding: br"],
    )
    .await;
    assert_eq!(status, ok);
    assert_eq!(body, b"BROTLI-BYTES");
    assert_eq!(header(&headers, "content-encoding"), Some("br"));
    assert_eq!(header(&headers, "vary"), Some("accept-encoding"));
    let (_, headers, body) = fetch(flag, &server, "/app.js", &[]).await;
    assert_eq!(body, b"console.log(1);");
    assert_eq!(header(&headers, "content-encoding"), None);

    let (status, headers, body) = fetch(flag, &server, "/big.bin", &["--range", "100-109"]).await;
    assert_eq!(status, partial);
    assert_eq!(
        header(&headers, "content-range"),
        Some("bytes 100-109/5242887")
    );
    assert_eq!(body, &pattern(200)[100..110]);

    // Streamed from disk (past the in-memory size), intact.
    let (status, headers, body) = fetch(flag, &server, "/big.bin", &[]).await;
    assert_eq!(status, ok);
    assert_eq!(header(&headers, "content-length"), Some("5242887"));
    assert!(
        body == pattern(5 * 1024 * 1024 + 7),
        "the large file arrived intact"
    );

    let (status, headers, body) = fetch(flag, &server, "/big.bin", &["--head"]).await;
    assert_eq!(status, ok);
    assert_eq!(header(&headers, "content-length"), Some("5242887"));
    assert!(body.is_empty());

    let (status, headers, _) = fetch(flag, &server, "/docs?page=2", &[]).await;
    assert_eq!(status, moved);
    assert_eq!(header(&headers, "location"), Some("/docs/?page=2"));

    // Not a file: the application behind answers.
    let (status, _, body) = fetch(flag, &server, "/api/time", &[]).await;
    assert_eq!(status, ok);
    assert!(body.ends_with(b" GMT\n"));
    let (_, _, body) = fetch(flag, &server, "/missing.css", &[]).await;
    assert_eq!(body, b"Not Found\n");

    // A path leaving the root, sent as is.
    let (status, _, _) = fetch(flag, &server, "/%2e%2e/etc/passwd", &["--path-as-is"]).await;
    assert!(status.contains(" 400"), "{status}");
    server.stop().await;
}

#[tokio::test]
async fn curl_http1() {
    with_curl(
        "--http1.1",
        "HTTP/1.1 200 OK",
        "HTTP/1.1 206 Partial Content",
        "HTTP/1.1 304 Not Modified",
        "HTTP/1.1 301 Moved Permanently",
    )
    .await;
}

#[tokio::test]
async fn curl_http2() {
    with_curl(
        "--http2-prior-knowledge",
        "HTTP/2 200",
        "HTTP/2 206",
        "HTTP/2 304",
        "HTTP/2 301",
    )
    .await;
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server is alive");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

const CLIENTS: usize = 50;
const LIMIT_KIB: u64 = 64 * 1024;

#[test]
fn a_huge_file_to_slow_clients_stays_within_64_mib() {
    let dir = TempDir::new("static-memory");
    // Sparse: 1 GiB of zeros that takes no disk space.
    std::fs::File::create(dir.join("huge.bin"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    std::fs::write(dir.join("small.txt"), "still here").unwrap();
    let (server, addr) =
        spawn_listening(Command::new(env!("CARGO_BIN_EXE_static_server")).arg(dir.path()));
    let pid = server.0.id();

    // 50 clients ask for the whole file and read it slowly: 16 KiB every
    // 50 ms for 4 seconds, far slower than the server can send.
    let until = Instant::now() + Duration::from_secs(4);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                stream
                    .write_all(b"GET /huge.bin HTTP/1.1\r\nhost: t\r\n\r\n")
                    .unwrap();
                let mut buf = vec![0; 16 * 1024];
                let mut got = 0;
                while Instant::now() < until {
                    let n = stream.read(&mut buf).unwrap();
                    assert!(n > 0, "the server closed early");
                    got += n;
                    std::thread::sleep(Duration::from_millis(50));
                }
                got
            })
        })
        .collect();
    let mut peak_sampled = 0;
    while Instant::now() < until {
        peak_sampled = peak_sampled.max(status_kib(pid, "VmRSS"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let received: Vec<usize> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let peak = status_kib(pid, "VmHWM").max(peak_sampled);
    eprintln!(
        "static_server peak resident set with {CLIENTS} slow clients of a 1 GiB file: {} KiB; \
         each client received {}..{} bytes",
        peak,
        received.iter().min().unwrap(),
        received.iter().max().unwrap()
    );
    assert!(
        received.iter().all(|&n| n > 64 * 1024),
        "every client was being served: {received:?}"
    );
    assert!(
        peak < LIMIT_KIB,
        "peak RSS {peak} KiB is over {LIMIT_KIB} KiB"
    );

    // Still serving others.
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /small.txt HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200 OK"));
    assert!(response.ends_with(b"still here"));
}
