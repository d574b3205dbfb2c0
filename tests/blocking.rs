//! Blocking applications (`gateway_core::blocking`) served by
//! gateway-hyper over real sockets: a thousand requests on a pool of four,
//! a full queue answered 503, a slow client that holds a pool thread but
//! not the one async worker, a disconnect that stops a blocking writer, the
//! body limit as 413, and bad bytes.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use gateway_core::blocking::{Blocking, BlockingRequest};
use gateway_core::{Error, Response, start};
use gateway_tests::{Proto, TIMEOUT, TestServer, exchange, within};
use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A gate the blocking application waits at until the test opens it.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn wait(&self) {
        let (open, cond) = &*self.0;
        let mut open = open.lock().expect("gate lock");
        while !*open {
            open = cond.wait(open).expect("gate lock");
        }
    }

    fn open(&self) {
        let (open, cond) = &*self.0;
        *open.lock().expect("gate lock") = true;
        cond.notify_all();
    }
}

/// Waits (bounded) until `cond` holds.
async fn until(what: &str, cond: impl Fn() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
}

/// Answers with the name of the pool thread that ran it.
fn which_thread(req: BlockingRequest) -> Result<Response, Error> {
    let name = std::thread::current().name().unwrap_or("?").to_owned();
    start(
        200,
        [("content-type", "text/plain"), ("x-thread", name.as_str())],
    )
    .body(format!("{} {}", req.method(), req.path_info()))
}

/// 1,000 requests over 20 keep-alive connections at once, served by 4
/// threads with room for 16 more in the queue: every one is answered 200
/// with its own path, by at most 4 distinct threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_on_a_pool_of_four() {
    const CONNS: usize = 20;
    const PER_CONN: usize = 50;
    let app = Blocking::new(which_thread).threads(4).queue(16);
    let server = TestServer::start(app).await;
    let mut tasks = Vec::new();
    for c in 0..CONNS {
        let mut client = server.client(Proto::Http1).await;
        tasks.push(tokio::spawn(async move {
            let mut threads = HashSet::new();
            for r in 0..PER_CONN {
                let path = format!("/{c}/{r}");
                let (parts, body) = client.fetch(Method::GET, &path).await;
                assert_eq!(parts.status, StatusCode::OK, "{path}: {body:?}");
                assert_eq!(body, format!("GET {path}").as_bytes());
                threads.insert(parts.headers["x-thread"].to_str().unwrap().to_owned());
            }
            threads
        }));
    }
    let mut threads = HashSet::new();
    for task in tasks {
        threads.extend(within("a connection's requests", task).await.unwrap());
    }
    assert!(
        !threads.is_empty() && threads.len() <= 4,
        "threads seen: {threads:?}"
    );
    assert!(threads.iter().all(|t| t.starts_with("gateway-blocking-")));
    server.stop().await;
}

/// 200 streams at once on one HTTP/2 connection, 4 threads and room for
/// all of them in the queue: every stream gets its own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_share_the_pool() {
    const STREAMS: usize = 200;
    let app = Blocking::new(which_thread).threads(4).queue(STREAMS);
    let server = TestServer::start(app).await;
    let client = server.client(Proto::Http2).await;
    let mut tasks = Vec::new();
    for i in 0..STREAMS {
        let mut stream = client.try_clone().expect("HTTP/2 handles clone");
        tasks.push(tokio::spawn(async move {
            let path = format!("/{i}");
            let (parts, body) = stream.fetch(Method::GET, &path).await;
            assert_eq!(parts.status, StatusCode::OK, "{path}");
            assert_eq!(body, format!("GET {path}").as_bytes());
        }));
    }
    for task in tasks {
        within("a stream", task).await.unwrap();
    }
    drop(client);
    server.stop().await;
}

/// With both threads held and both queue places taken, the next request
/// is answered 503 with `Retry-After` at once; the held ones are answered
/// once released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_at_once() {
    let gate = Gate::default();
    let app = {
        let gate = gate.clone();
        Blocking::new(move |req: BlockingRequest| {
            if req.path_info() == "/hold" {
                gate.wait();
            }
            which_thread(req)
        })
        .threads(2)
        .queue(2)
    };
    let probe = app.clone();
    let server = TestServer::start(app).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut client = server.client(Proto::Http1).await;
        held.push(tokio::spawn(async move {
            client.fetch(Method::GET, "/hold").await
        }));
    }
    until("two running and two queued", || {
        probe.running() == 2 && probe.queued() == 2
    })
    .await;

    let mut client = server.client(Proto::Http1).await;
    let started = std::time::Instant::now();
    let (parts, _) = client.fetch(Method::GET, "/other").await;
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(parts.headers["retry-after"], "1");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused without waiting"
    );

    gate.open();
    for task in held {
        let (parts, body) = within("a held request", task).await.unwrap();
        assert_eq!(parts.status, StatusCode::OK, "{body:?}");
    }
    // The connection that got the 503 is still usable.
    let (parts, _) = client.fetch(Method::GET, "/other").await;
    assert_eq!(parts.status, StatusCode::OK);
    drop(client);
    server.stop().await;
}

/// One async worker in the whole runtime. A client that reads nothing of a
/// large streamed blocking response keeps its producer blocked in `write`
/// (backpressure: the producer stays far from the end) — on a pool thread;
/// meanwhile another request is answered on the same single worker, and
/// once the slow client reads, the whole body arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_slow_client_does_not_hold_an_async_worker() {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 512; // 32 MiB, far more than the socket buffers
    let written = Arc::new(AtomicUsize::new(0));
    let app = {
        let written = written.clone();
        Blocking::new(move |req: BlockingRequest| {
            if req.path_info() != "/big" {
                return which_thread(req);
            }
            let written = written.clone();
            let body = req.writer(move |mut w| {
                let chunk = bytes::Bytes::from(vec![b'x'; CHUNK]);
                for _ in 0..CHUNKS {
                    w.write_bytes(chunk.clone())?;
                    written.fetch_add(CHUNK, Ordering::SeqCst);
                }
                Ok(())
            });
            start(200, [("content-type", "application/octet-stream")]).body(body)
        })
        .threads(2)
    };
    let server = TestServer::start(app).await;

    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    until("the producer to start", || {
        written.load(Ordering::SeqCst) > 0
    })
    .await;
    // Let it fill the socket buffers and block.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stalled = written.load(Ordering::SeqCst);
    assert!(
        stalled < CHUNK * CHUNKS / 2,
        "the producer ran ahead of the client: {stalled} bytes"
    );

    // The single async worker is free: another request is answered.
    let mut client = server.client(Proto::Http1).await;
    let (parts, body) = client.fetch(Method::GET, "/hello").await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "GET /hello".as_bytes());
    assert!(
        written.load(Ordering::SeqCst) < CHUNK * CHUNKS / 2,
        "still held back by the client"
    );

    // Now the slow client reads everything.
    let mut received = Vec::new();
    let mut buf = vec![0; 256 * 1024];
    let total = within("the whole big body", async {
        loop {
            let n = slow.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early after {} bytes", received.len());
            received.extend_from_slice(&buf[..n]);
            // Chunked: the body ends with the last chunk.
            if received.ends_with(b"\r\n0\r\n\r\n") {
                break received.len();
            }
        }
    })
    .await;
    assert!(total > CHUNK * CHUNKS, "{total} bytes");
    assert_eq!(written.load(Ordering::SeqCst), CHUNK * CHUNKS);
    drop((client, slow));
    server.stop().await;
}

/// A client that disconnects mid-stream: the blocking writer's next
/// writes fail with `BrokenPipe` and the producer stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnect_stops_a_blocking_writer() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = Mutex::new(tx);
    let app = Blocking::new(move |req: BlockingRequest| {
        if req.path_info() != "/stream" {
            return which_thread(req);
        }
        let tx = tx.lock().unwrap().clone();
        let body = req.writer(move |mut w| {
            let mut sent = 0u64;
            loop {
                if let Err(e) = w.write_all(format!("line {sent}\n").as_bytes()) {
                    let _ = tx.send((e.kind(), w.is_cancelled(), sent));
                    return Err(e.into());
                }
                sent += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .threads(1);
    let server = TestServer::start(app).await;

    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let mut got = Vec::new();
    within("the first lines", async {
        while !got.windows(6).any(|w| w == b"line 2") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    drop(conn);

    let (kind, cancelled, sent) =
        tokio::task::spawn_blocking(move || rx.recv_timeout(TIMEOUT).expect("the writer stops"))
            .await
            .unwrap();
    assert_eq!(kind, std::io::ErrorKind::BrokenPipe);
    assert!(cancelled, "is_cancelled is true once the client is gone");
    assert!(sent >= 3, "{sent}");
    // The pool's one thread is free again.
    let mut client = server.client(Proto::Http1).await;
    let (parts, _) = within(
        "a request after the disconnect",
        client.fetch(Method::GET, "/again"),
    )
    .await;
    assert_eq!(parts.status, StatusCode::OK);
    drop(client);
    server.stop().await;
}

/// Counts the request body's bytes, read through `std::io::Read`.
fn count_body(mut req: BlockingRequest) -> Result<Response, Error> {
    if req.path_info() == "/panic" {
        panic!("the blocking application panicked");
    }
    let mut data = Vec::new();
    req.body().read_to_end(&mut data)?;
    start(200, [("content-type", "text/plain")]).body(format!("{} bytes", data.len()))
}

async fn serve_counting(max_body: u64) -> TestServer {
    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_body_size(Some(max_body));
    TestServer::serve(server, Blocking::new(count_body).threads(1))
}

/// A chunked body past the server's limit, read by blocking code: 413,
/// not 500; an announced one is refused before the application; a body
/// under the limit is read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_a_413() {
    let server = serve_counting(1000).await;
    let chunk = format!("258\r\n{}\r\n", "a".repeat(600));
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    let response = exchange(server.addr, request.as_bytes()).await;
    assert!(
        response.starts_with(b"HTTP/1.1 413 "),
        "{:?}",
        String::from_utf8_lossy(&response)
    );

    let request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
    let response = exchange(server.addr, request.as_bytes()).await;
    assert!(response.starts_with(b"HTTP/1.1 413 "));

    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunk}0\r\n\r\n"
    );
    let response = exchange(server.addr, request.as_bytes()).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.ends_with("600 bytes"), "{text}");
    server.stop().await;
}

/// Bad bytes: a broken chunk size in the body (the blocking read fails,
/// 400), a body cut short by a disconnect, a NUL in a header (refused by
/// the server before the pool), a panic (500): the one pool thread
/// survives them all and still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bytes_over_raw_sockets() {
    let server = serve_counting(1 << 20).await;

    let request =
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n";
    let response = exchange(server.addr, request).await;
    assert!(
        response.starts_with(b"HTTP/1.1 400 "),
        "{:?}",
        String::from_utf8_lossy(&response)
    );

    // Cut short: announces 100 bytes, sends 10, half-closes.
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    conn.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = within("the cut-short request to end", conn.read_to_end(&mut rest)).await;
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 400 "),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );

    let response = exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\0b\r\n\r\n",
    )
    .await;
    assert!(response.starts_with(b"HTTP/1.1 400 "));

    let response = exchange(
        server.addr,
        b"GET /panic HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with(b"HTTP/1.1 500 "));

    let response = exchange(
        server.addr,
        b"POST /%ff%00?\xff HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    )
    .await;
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 200 ") && text.ends_with("3 bytes")
            || text.starts_with("HTTP/1.1 400 "),
        "{text}"
    );

    let response = exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.ends_with("2 bytes"), "{text}");
    server.stop().await;
}
