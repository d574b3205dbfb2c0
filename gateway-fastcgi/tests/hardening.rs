//! gateway-fastcgi against a hostile or careless peer, over raw FastCGI
//! records on 127.0.0.1: each test reproduces a finding of the review of
//! issue 17 and fails without its fix.

#[path = "wire/support.rs"]
#[allow(dead_code)] // the helpers `wire` uses and these tests do not
mod support;

use std::time::Duration;

use gateway_core::response::NO_HEADERS;
use gateway_core::{Environ, fn_app, start};
use gateway_fastcgi::record::{self, RecordType};
use support::{Client, get, req, start as serve};

fn app() -> impl gateway_core::Application {
    fn_app(|mut env: Environ| async move {
        match env.path_info() {
            "/stream" => start(200, NO_HEADERS).body(env.take_body()),
            "/huge" => start(200, NO_HEADERS).body(vec![b'a'; 20 << 20]),
            "/env" => {
                let text = format!("{}|{}", env.uri(), env.path_info());
                start(200, NO_HEADERS).body(text)
            }
            _ => start(200, NO_HEADERS).body("hi"),
        }
    })
}

/// `ABORT_REQUEST` while the request's response is blocked half-way
/// through a record: the record is finished before `END_REQUEST`, and a
/// second request on the same connection decodes cleanly.
#[tokio::test]
async fn abort_during_a_large_response_keeps_the_record_stream_whole() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/huge"), b"")).await;
    // Not reading: the server blocks inside a STDOUT record.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut abort = Vec::new();
    record::put_record(&mut abort, RecordType::AbortRequest, 1, b"");
    c.send(&abort).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.send(&req(2, true, &get("/"), b"")).await;
    // Every record decodes (`Client::record` panics on a bad one).
    let reply = c.reply(2).await;
    assert!(reply.text().ends_with("hi"), "{:?}", reply.end);
    assert_eq!(reply.end, Some((0, 0)));
}

fn post(path: &str, content_length: Option<usize>) -> Vec<(&'static str, String)> {
    let mut params = get(path);
    params[0].1 = "POST".to_owned();
    if let Some(n) = content_length {
        params.push(("CONTENT_LENGTH", n.to_string()));
    }
    params
}

/// The records of a request up to (not including) its `STDIN`.
fn head_of(id: u16, params: &[(&'static str, String)]) -> Vec<u8> {
    let mut whole = req(id, true, params, b"");
    whole.truncate(whole.len() - 8); // the empty STDIN
    whole
}

fn stdin_records(id: u16, bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let chunk = vec![b'b'; 60_000];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        record::put_record(&mut out, RecordType::Stdin, id, &chunk[..n]);
        left -= n;
    }
    out
}

fn status_of(reply: &support::Reply) -> String {
    reply.text().lines().next().unwrap_or("").to_owned()
}

/// `STDIN` past `max_body_size` (no `CONTENT_LENGTH`) to an application
/// that streams its body back: the answer is 413 at once, before the
/// rest of the body arrives; nothing past the limit is queued.
#[tokio::test]
async fn stdin_past_the_body_limit_is_413_at_once() {
    let server = support::start_with(
        gateway_fastcgi::Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .max_body_size(1 << 20),
        app(),
    );
    let mut c = Client::connect(server.addr).await;
    c.send(&head_of(1, &post("/stream", None))).await;
    // 2 MiB, and no end of STDIN.
    c.send(&stdin_records(1, 2 << 20)).await;
    let reply = c.reply(1).await;
    assert_eq!(status_of(&reply), "Status: 413 Payload Too Large");
    assert_eq!(reply.end, Some((0, 0)));
}

/// `STDIN` longer than `CONTENT_LENGTH` is a 400, not queued.
#[tokio::test]
async fn stdin_past_content_length_is_400() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    c.send(&head_of(1, &post("/stream", Some(10)))).await;
    c.send(&stdin_records(1, 100_000)).await;
    let reply = c.reply(1).await;
    assert_eq!(status_of(&reply), "Status: 400 Bad Request");
    assert_eq!(reply.end, Some((0, 0)));
}

/// `CONTENT_LENGTH: 0` is exact: `STDIN` data after it is a 400, not a
/// body.
#[tokio::test]
async fn stdin_after_content_length_zero_is_400() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    c.send(&req(
        1,
        true,
        &post("/stream", Some(0)),
        b"more than zero bytes",
    ))
    .await;
    let reply = c.reply(1).await;
    assert_eq!(
        status_of(&reply),
        "Status: 400 Bad Request",
        "{}",
        reply.text()
    );
    assert!(!reply.text().contains("more than zero"), "{}", reply.text());
}

/// Writes GET_VALUES records without end (never reading), in a task; the
/// task ends when a write fails: the server dropped the connection.
fn flood_get_values(io: tokio::net::TcpStream) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut query = Vec::new();
    for name in ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"] {
        record::put_pair(&mut query, name.as_bytes(), b"");
    }
    let mut batch = Vec::new();
    for _ in 0..1000 {
        record::put_record(&mut batch, RecordType::GetValues, 0, &query);
    }
    let mut io = io;
    tokio::spawn(async move { while io.write_all(&batch).await.is_ok() {} })
}

/// A peer that floods `GET_VALUES` and never reads blocks the server's
/// answers: the connection is dropped at the idle timeout, not held.
#[tokio::test]
async fn a_peer_that_never_reads_is_dropped_at_the_idle_timeout() {
    let server = support::start_with(
        gateway_fastcgi::Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .idle_timeout(Duration::from_millis(300)),
        app(),
    );
    let io = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let flood = flood_get_values(io);
    support::within("the connection dropped", flood)
        .await
        .unwrap();
}

/// The drain deadline ends `serve_with_shutdown` even with a connection
/// whose peer never reads (and the idle timeout off).
#[tokio::test]
async fn the_drain_deadline_ends_serve_when_the_peer_never_reads() {
    let server = support::start_with(
        gateway_fastcgi::Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .idle_timeout(None)
            .drain_timeout(Duration::from_millis(300)),
        app(),
    );
    let io = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let flood = flood_get_values(io);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop.send(()).unwrap();
    support::within("serve returns", server.join)
        .await
        .unwrap()
        .unwrap();
    flood.abort();
}

/// A request whose `STDIN` stops half-way (1 byte, then nothing) does not
/// hold its connection past the idle timeout.
#[tokio::test]
async fn a_request_waiting_for_stdin_is_dropped_at_the_idle_timeout() {
    let server = support::start_with(
        gateway_fastcgi::Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .idle_timeout(Duration::from_millis(200)),
        app(),
    );
    let mut c = Client::connect(server.addr).await;
    let mut first = head_of(1, &post("/stream", None));
    record::put_record(&mut first, RecordType::Stdin, 1, b"x");
    c.send(&first).await;
    let reply = c.reply(1).await; // EOF within the timeout, or it panics
    assert_eq!(reply.end, None);
}

async fn status_for(c: &mut Client, id: u16, params: &[(&'static str, String)]) -> String {
    c.send(&req(id, true, params, b"")).await;
    status_of(&c.reply(id).await)
}

/// A `REQUEST_URI` with dot segments (raw or `%2e`) is a 400: nginx
/// matched its locations against the normalised path, so
/// `/app/admin/../public` would reach the application past a
/// `location /app/admin/ { return 403; }`.
#[tokio::test]
async fn dot_segments_in_request_uri_are_400() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    let mut id = 0;
    for uri in [
        "/app/admin/../public",
        "/app/admin/%2e%2E/public",
        "/app/admin/.%2e",
        "/app/./admin",
    ] {
        id += 1;
        assert_eq!(
            status_for(&mut c, id, &get(uri)).await,
            "Status: 400 Bad Request",
            "{uri}"
        );
    }
    // Dots that are not whole segments, or in the query, are fine.
    for uri in ["/app/..x/y", "/app/x?next=/../y"] {
        id += 1;
        assert_eq!(
            status_for(&mut c, id, &get(uri)).await,
            "Status: 200 OK",
            "{uri}"
        );
    }
}

/// Only an origin-form `REQUEST_URI` is served (and `*` for OPTIONS).
#[tokio::test]
async fn request_uri_must_be_origin_form() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    let mut id = 0;
    for uri in ["*", "http://evil.example/x", "evil.example:443", "x/y"] {
        id += 1;
        assert_eq!(
            status_for(&mut c, id, &get(uri)).await,
            "Status: 400 Bad Request",
            "{uri}"
        );
    }
    let mut options = get("*");
    options[0].1 = "OPTIONS".to_owned();
    assert_eq!(status_for(&mut c, 99, &options).await, "Status: 200 OK");
}
