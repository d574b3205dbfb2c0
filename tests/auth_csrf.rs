//! `Csrf` end to end: a gateway-hyper server on a real socket with
//! `Sessions` (memory store) and `Csrf` in front of an application that
//! hands out tokens and echoes request bodies, driven with raw HTTP/1.1
//! bytes — the browser headers, a token posted in a form (also chunked),
//! an oversized form, a non-UTF-8 `Origin` — and with hyper's client over
//! HTTP/1.1 and HTTP/2.

use std::net::SocketAddr;

use gateway_core::{ApplicationExt, Environ, fn_app, start};
use gateway_middleware::auth::{Csrf, CsrfToken};
use gateway_middleware::sessions::{MemoryStore, Sessions};
use gateway_tests::{Client, Proto, TestServer, exchange, full, read_body, split_head};
use http::Method;
use http::header::{CACHE_CONTROL, SET_COOKIE};

const FORBIDDEN: &[u8] = b"Forbidden: the request failed the cross-site request check.\n";

/// `GET /token` answers a fresh token; anything else echoes the body.
async fn server() -> TestServer {
    let app = fn_app(|mut env: Environ| async move {
        if env.method() == "GET" && env.path_info() == "/token" {
            let token = CsrfToken::of(&env).await?;
            return start(200, [("content-type", "text/plain")]).body(token.into_string());
        }
        let body = env.take_body().to_bytes(1 << 20).await?;
        start(200, [("content-type", "application/octet-stream")]).body(body)
    })
    .with(Csrf::new().trusted_origins(["https://partner.example"]))
    .with(Sessions::new(MemoryStore::new()));
    TestServer::start(app).await
}

/// A response read off the wire: status code, header lines, body.
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `head` (lines without the final blank line; `Host` and
/// `Connection: close` are added) and `body` as one write.
async fn send(addr: SocketAddr, head: &[&[u8]], body: &[u8]) -> Reply {
    let mut request = Vec::new();
    request.extend_from_slice(head[0]);
    request.extend_from_slice(format!("\r\nhost: {addr}\r\nconnection: close\r\n").as_bytes());
    for line in &head[1..] {
        request.extend_from_slice(line);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    let raw = exchange(addr, &request).await;
    let (head, body) = split_head(&raw);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    Reply {
        status,
        head,
        body: body.to_vec(),
    }
}

fn assert_refused(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.head);
    assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "{}",
        reply.head
    );
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=utf-8"),
        "{}",
        reply.head
    );
    if status == 403 {
        assert_eq!(reply.body, FORBIDDEN);
    }
}

#[tokio::test]
async fn csrf_over_a_real_socket() {
    let server = server().await;
    let addr = server.addr;

    // A page with a token: the session cookie comes with it.
    let page = send(addr, &[b"GET /token HTTP/1.1"], b"").await;
    assert_eq!(page.status, 200, "{}", page.head);
    let token = String::from_utf8(page.body.clone()).unwrap();
    assert_eq!(token.len(), 86);
    let set_cookie = page.header("set-cookie").expect("a session cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let cookie_line = format!("cookie: {cookie}");
    let cookie_line = cookie_line.as_bytes();

    // Browsers' cross-site posts: refused, the application never sees them.
    for fetch_site in [
        &b"sec-fetch-site: cross-site"[..],
        b"sec-fetch-site: same-site",
    ] {
        let reply = send(
            addr,
            &[
                b"POST /transfer HTTP/1.1",
                fetch_site,
                cookie_line,
                b"content-length: 3",
            ],
            b"a=1",
        )
        .await;
        assert_refused(&reply, 403);
    }
    let reply = send(
        addr,
        &[
            b"POST / HTTP/1.1",
            b"origin: https://evil.example",
            b"content-length: 0",
        ],
        b"",
    )
    .await;
    assert_refused(&reply, 403);
    let reply = send(
        addr,
        &[b"POST / HTTP/1.1", b"origin: null", b"content-length: 0"],
        b"",
    )
    .await;
    assert_refused(&reply, 403);
    // A non-UTF-8 Origin (obs-text): refused, not a 500.
    let reply = send(
        addr,
        &[
            b"POST / HTTP/1.1",
            b"origin: http://\xff\xfe.example",
            b"content-length: 0",
        ],
        b"",
    )
    .await;
    assert_refused(&reply, 403);

    // Same-origin posts pass: by Fetch metadata, by Origin (= Host), and
    // from the trusted origin.
    let origin = format!("origin: http://{addr}");
    for lines in [
        vec![&b"sec-fetch-site: same-origin"[..]],
        vec![origin.as_bytes()],
        vec![
            b"sec-fetch-site: cross-site",
            b"origin: https://partner.example",
        ],
    ] {
        let mut head: Vec<&[u8]> = vec![b"POST / HTTP/1.1", b"content-length: 5"];
        head.extend(lines);
        let reply = send(addr, &head, b"hello").await;
        assert_eq!(reply.status, 200, "{}", reply.head);
        assert_eq!(reply.body, b"hello");
    }

    // Neither header: the token decides.
    let reply = send(
        addr,
        &[
            b"POST / HTTP/1.1",
            cookie_line,
            b"content-type: application/x-www-form-urlencoded",
            b"content-length: 3",
        ],
        b"a=1",
    )
    .await;
    assert_refused(&reply, 403);
    let form = format!("a=%FF&csrf_token={token}&b=x+y");
    let length = format!("content-length: {}", form.len());
    let reply = send(
        addr,
        &[
            b"POST / HTTP/1.1",
            cookie_line,
            b"content-type: application/x-www-form-urlencoded",
            length.as_bytes(),
        ],
        form.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert_eq!(
        reply.body,
        form.as_bytes(),
        "the application sees the form unchanged"
    );
    // Chunked, the token split across chunks.
    let (first, second) = form.split_at(20);
    let chunked = format!(
        "{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    let reply = send(
        addr,
        &[
            b"POST / HTTP/1.1",
            cookie_line,
            b"content-type: application/x-www-form-urlencoded",
            b"transfer-encoding: chunked",
        ],
        chunked.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert_eq!(reply.body, form.as_bytes());
    // In the header.
    let header = format!("x-csrf-token: {token}");
    let reply = send(
        addr,
        &[
            b"DELETE /item HTTP/1.1",
            cookie_line,
            header.as_bytes(),
            b"content-length: 0",
        ],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    // The token without its session: refused.
    let reply = send(
        addr,
        &[
            b"DELETE /item HTTP/1.1",
            header.as_bytes(),
            b"content-length: 0",
        ],
        b"",
    )
    .await;
    assert_refused(&reply, 403);

    // A form over the limit (64 KiB): 413, never passed unchecked.
    let big = format!("csrf_token={token}&x={}", "y".repeat(70 * 1024));
    let length = format!("content-length: {}", big.len());
    let reply = send(
        addr,
        &[
            b"POST / HTTP/1.1",
            cookie_line,
            b"content-type: application/x-www-form-urlencoded",
            length.as_bytes(),
        ],
        big.as_bytes(),
    )
    .await;
    assert_refused(&reply, 413);

    // Safe methods pass whatever they carry.
    let reply = send(
        addr,
        &[
            b"GET /token HTTP/1.1",
            b"sec-fetch-site: cross-site",
            b"origin: null",
        ],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.head);

    server.stop().await;
}

/// A request's extra header fields, its body, the status expected.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, u16);

/// The same checks over HTTP/1.1 and HTTP/2 with hyper's client: on
/// HTTP/2 the request's host is its `:authority`.
#[tokio::test]
async fn csrf_over_both_protocols() {
    let server = server().await;
    for proto in [Proto::Http1, Proto::Http2] {
        let mut client = server.client(proto).await;
        let (parts, token) = client.fetch(Method::GET, "/token").await;
        assert_eq!(parts.status, 200);
        let token = String::from_utf8(token.to_vec()).unwrap();
        let set_cookie = parts.headers[SET_COOKIE].to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();

        let post = |client: &Client, headers: &[(&str, &str)], body: &str| {
            let mut req = client.request(Method::POST, "/", full(body.to_owned()));
            for (name, value) in headers {
                req.headers_mut().append(
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
            req
        };
        let origin = format!("http://{}", server.addr);
        let form = format!("csrf_token={token}&n=1");
        let cases: Vec<Case<'_>> = vec![
            (vec![("sec-fetch-site", "cross-site")], "x", 403),
            (vec![("sec-fetch-site", "same-origin")], "x", 200),
            (vec![("origin", origin.as_str())], "x", 200),
            (vec![("origin", "http://127.0.0.1:1")], "x", 403),
            (vec![("cookie", cookie.as_str())], "x", 403),
            (
                vec![
                    ("cookie", cookie.as_str()),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                form.as_str(),
                200,
            ),
            (
                vec![
                    ("cookie", cookie.as_str()),
                    ("x-csrf-token", token.as_str()),
                ],
                "x",
                200,
            ),
        ];
        for (headers, body, status) in cases {
            let res = client.send(post(&client, &headers, body)).await;
            let (parts, bytes) = res.into_parts();
            let bytes = read_body(bytes).await;
            assert_eq!(parts.status, status, "{proto:?} {headers:?}");
            if status == 200 {
                assert_eq!(bytes, body.as_bytes(), "{proto:?} {headers:?}");
            } else {
                assert_eq!(bytes, FORBIDDEN, "{proto:?} {headers:?}");
                assert_eq!(parts.headers[CACHE_CONTROL], "no-store");
            }
        }
    }
    server.stop().await;
}
