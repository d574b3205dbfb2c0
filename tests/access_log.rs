//! `ProxyHeaders` → `RequestId` → `AccessLog` on a real gateway-hyper
//! server: raw hostile requests (in one write and in pieces), a client
//! that leaves mid-response, and request ids from trusted and untrusted
//! peers. Every request that reached the application has exactly one
//! line, and every line is valid JSON.

use std::time::{Duration, Instant};

use gateway_core::{ApplicationExt, Environ, fn_app, start};
use gateway_middleware::access_log::{Format, MemoryLog};
use gateway_middleware::{AccessLog, ProxyHeaders, RequestId};
use gateway_tests::{TestServer, exchange, find, split_head, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The stack, with RequestId trusting `id_from`; and its log.
async fn start_stack(id_from: &str) -> (TestServer, AccessLog, MemoryLog) {
    let lines = MemoryLog::new();
    let log = AccessLog::new()
        .format(Format::Json)
        .to_writer(lines.clone());
    let app = fn_app(|env: Environ| async move {
        if env.path() == "/big" {
            // 64 MiB in 64 KiB chunks: far more than socket buffers hold.
            return start(
                200,
                [("content-type", "application/octet-stream"), ("x-app", "1")],
            )
            .writer(|mut w| async move {
                let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
                for _ in 0..1024 {
                    w.write(chunk.clone()).await?;
                }
                Ok(())
            });
        }
        start(200, [("content-type", "text/plain"), ("x-app", "1")]).body("hello")
    })
    .with(log.clone())
    .with(RequestId::new().trusted_proxies([id_from]))
    .with(ProxyHeaders::new().trusted_proxies(["127.0.0.1"]));
    (TestServer::start(app).await, log, lines)
}

/// The log's lines once it has `n` (bounded wait: the body's end is seen
/// by the server's task after the client has its bytes).
async fn lines_when(log: &AccessLog, lines: &MemoryLog, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        log.flush();
        let got = lines.lines();
        if got.len() >= n || Instant::now() > deadline {
            assert!(
                lines
                    .bytes()
                    .iter()
                    .all(|&b| b == b'\n' || (0x20..0x7f).contains(&b))
            );
            return got
                .iter()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Raw requests a client could send, each on its own connection.
fn corpus() -> Vec<Vec<u8>> {
    let long = "A".repeat(6000);
    let mut reqs: Vec<Vec<u8>> = [
        "GET / HTTP/1.1\r\nhost: x\r\nuser-agent: plain\r\n",
        "GET /q?a=\"b\"&c=\\d HTTP/1.1\r\nhost: x\r\nreferer: \"quoted\" \\ back\r\n",
        "GET / HTTP/1.1\r\nhost: x\r\nuser-agent: a\rb\r\n",
        "GET / HTTP/1.1\r\nhost: x\r\nuser-agent: nul\0here\r\n",
        "GET / HTTP/1.1\r\nhost: x\r\nx-request-id: a\"b\r\n",
        "GET / HTTP/1.1\r\nhost: x\r\nx-request-id: line\r\n injected: 1\r\n",
        "GET / HTTP/1.0\r\nuser-agent: \" 200 0 \"-\" \"-\" 0.000 - completed\r\n",
        "GET /%0d%0a%00 HTTP/1.1\r\nhost: x\r\nuser-agent: } {\"status\":200}\r\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    reqs.push(
        b"GET / HTTP/1.1\r\nhost: x\r\nuser-agent: latin1 \xe9 utf8 \xc3\xa9 \xff\x7f\r\n".to_vec(),
    );
    reqs.push(format!("GET /{long} HTTP/1.1\r\nhost: x\r\nreferer: {long}\r\n").into_bytes());
    reqs.push(
        b"GET / HTTP/1.1\r\nhost: x\r\nx-forwarded-for: 1.2.3.4\r\nx-forwarded-for: \"\r\n"
            .to_vec(),
    );
    for req in &mut reqs {
        req.extend_from_slice(b"connection: close\r\n\r\n");
    }
    reqs
}

/// Sends `request` in three pieces, flushing each.
async fn exchange_in_pieces(addr: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let third = request.len() / 3;
    for piece in [
        &request[..third],
        &request[third..2 * third],
        &request[2 * third..],
    ] {
        if stream.write_all(piece).await.is_err() {
            break;
        }
        let _ = stream.flush().await;
        tokio::task::yield_now().await;
    }
    let mut out = Vec::new();
    let _ = within("the answer", stream.read_to_end(&mut out)).await;
    out
}

#[tokio::test]
async fn hostile_raw_requests_get_exactly_one_valid_line_each() {
    let (server, log, lines) = start_stack("127.0.0.1").await;
    let mut reached_app = 0;
    for request in corpus() {
        for pieces in [false, true] {
            let response = if pieces {
                exchange_in_pieces(server.addr, &request).await
            } else {
                exchange(server.addr, &request).await
            };
            let (head, _) = split_head(&response);
            // The adapter refuses some before the application (400): no line.
            if head.contains("x-app: 1") {
                reached_app += 1;
            } else {
                assert!(head.starts_with("HTTP/1.1 400"), "{head}");
            }
        }
    }
    assert!(
        reached_app >= 12,
        "too few requests reached the application: {reached_app}"
    );
    let got = lines_when(&log, &lines, reached_app).await;
    assert_eq!(got.len(), reached_app);
    for line in &got {
        assert_eq!(line["status"], 200);
        assert_eq!(line["completed"], true);
        let id = line["request_id"].as_str().unwrap();
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)),
            "{id}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_mid_response_still_gets_its_line() {
    let (server, log, lines) = start_stack("127.0.0.1").await;
    let mut stream = within("connect", TcpStream::connect(server.addr))
        .await
        .unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut seen = 0;
    while seen < 200_000 {
        let n = within("part of the body", stream.read(&mut buf))
            .await
            .unwrap();
        assert!(n > 0, "closed early");
        seen += n;
    }
    drop(stream);
    let got = lines_when(&log, &lines, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["status"], 200);
    assert_eq!(got[0]["completed"], false);
    let bytes = got[0]["bytes"].as_u64().unwrap();
    assert!(bytes < 64 * 1024 * 1024, "{bytes}");
    // Later requests are logged as usual.
    exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(lines_when(&log, &lines, 2).await.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn request_ids_from_trusted_peers_only() {
    let request =
        b"GET / HTTP/1.1\r\nhost: x\r\nx-request-id: from-nginx-1\r\nconnection: close\r\n\r\n";
    // Trusted: kept, echoed, logged.
    let (server, log, lines) = start_stack("127.0.0.1").await;
    let response = exchange(server.addr, request).await;
    assert!(find(&response, b"x-request-id: from-nginx-1\r\n").is_some());
    assert_eq!(
        lines_when(&log, &lines, 1).await[0]["request_id"],
        "from-nginx-1"
    );
    server.stop().await;

    // Not trusted: replaced by a made id, echoed and logged.
    let (server, log, lines) = start_stack("192.0.2.1").await;
    let response = exchange(server.addr, request).await;
    let (head, _) = split_head(&response);
    assert!(!head.contains("from-nginx-1"), "{head}");
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("an id on the response")
        .trim()
        .to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(
        lines_when(&log, &lines, 1).await[0]["request_id"],
        id.as_str()
    );
    server.stop().await;
}
