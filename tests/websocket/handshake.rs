//! The opening handshake over raw sockets: the 101 and its fields, and
//! every malformed handshake refused with its 4xx (never a 500).

use super::*;

/// RFC 6455 §1.3's example key and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A handshake for `path` with `fields` (each `name: value\r\n`), or the
/// standard fields when `None`.
fn request(method: &str, path: &str, version: &str, fields: Option<&str>) -> String {
    let standard = format!(
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: {KEY}\r\n"
    );
    format!(
        "{method} {path} {version}\r\nHost: localhost\r\n{}Content-Length: 0\r\n\r\n",
        fields.unwrap_or(&standard)
    )
}

#[tokio::test]
async fn a_valid_handshake_gets_101_with_the_accept_key() {
    let server = start_echo().await;
    let fields = format!(
        "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Protocol: chat, echo, echo.v2\r\n"
    );
    let (status, headers) = raw_head(
        server.addr,
        &request("GET", "/ws", "HTTP/1.1", Some(&fields)),
    )
    .await;
    assert_eq!(status, "HTTP/1.1 101 Switching Protocols");
    for expected in [
        "upgrade: websocket".to_owned(),
        "connection: upgrade".to_owned(),
        format!("sec-websocket-accept: {}", ACCEPT.to_ascii_lowercase()),
        // The server's first choice among those offered.
        "sec-websocket-protocol: echo.v2".to_owned(),
    ] {
        assert!(
            headers.contains(&expected),
            "no {expected:?} in {headers:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn malformed_handshakes_get_their_4xx() {
    let server = start_echo().await;
    let std_fields = |skip: &str, extra: &str| {
        let mut fields = String::new();
        for (name, value) in [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", KEY),
        ] {
            if name != skip {
                fields.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        fields + extra
    };
    let cases: Vec<(&str, String, &str, &[&str])> = vec![
        (
            "a page load (no Upgrade)",
            request("GET", "/ws", "HTTP/1.1", Some("")),
            "426",
            &["upgrade: websocket"],
        ),
        (
            "POST",
            request("POST", "/ws", "HTTP/1.1", None),
            "405",
            &["allow: get"],
        ),
        (
            "Upgrade: h2c",
            request(
                "GET",
                "/ws",
                "HTTP/1.1",
                Some(&std_fields("Upgrade", "Upgrade: h2c\r\n")),
            ),
            "426",
            &["upgrade: websocket"],
        ),
        (
            "Connection without upgrade",
            request(
                "GET",
                "/ws",
                "HTTP/1.1",
                Some(&std_fields("Connection", "Connection: keep-alive\r\n")),
            ),
            "400",
            &[],
        ),
        (
            "version 8",
            request(
                "GET",
                "/ws",
                "HTTP/1.1",
                Some(&std_fields(
                    "Sec-WebSocket-Version",
                    "Sec-WebSocket-Version: 8\r\n",
                )),
            ),
            "426",
            &["sec-websocket-version: 13", "upgrade: websocket"],
        ),
        (
            "no version",
            request(
                "GET",
                "/ws",
                "HTTP/1.1",
                Some(&std_fields("Sec-WebSocket-Version", "")),
            ),
            "426",
            &["sec-websocket-version: 13"],
        ),
        (
            "no key",
            request(
                "GET",
                "/ws",
                "HTTP/1.1",
                Some(&std_fields("Sec-WebSocket-Key", "")),
            ),
            "400",
            &[],
        ),
        (
            "a 15-byte key",
            request(
                "GET",
                "/ws",
                "HTTP/1.1",
                Some(&std_fields(
                    "Sec-WebSocket-Key",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n",
                )),
            ),
            "400",
            &[],
        ),
        (
            "a key that is not base64",
            request(
                "GET",
                "/ws",
                "HTTP/1.1",
                Some(&std_fields(
                    "Sec-WebSocket-Key",
                    "Sec-WebSocket-Key: not base64 at all!!!!!!\r\n",
                )),
            ),
            "400",
            &[],
        ),
        (
            "two keys",
            request(
                "GET",
                "/ws",
                "HTTP/1.1",
                Some(&std_fields("", &format!("Sec-WebSocket-Key: {KEY}\r\n"))),
            ),
            "400",
            &[],
        ),
        (
            "HTTP/1.0",
            request("GET", "/ws", "HTTP/1.0", None),
            "400",
            &[],
        ),
        (
            // gateway-hyper offers no upgrade to a request with a body;
            // the refusal is still the client's 400, not a 501.
            "a body",
            format!(
                "GET /ws HTTP/1.1\r\nHost: localhost\r\n{}Content-Length: 5\r\n\r\nhello",
                std_fields("", "")
            ),
            "400",
            &[],
        ),
    ];
    for (what, req, status, fields) in cases {
        let (line, headers) = raw_head(server.addr, &req).await;
        // hyper answers an HTTP/1.0 request in HTTP/1.0.
        assert_eq!(
            line.split(' ').nth(1),
            Some(status),
            "{what}: got {line:?} {headers:?}"
        );
        for field in fields {
            assert!(
                headers.iter().any(|h| h == field),
                "{what}: no {field:?} in {headers:?}"
            );
        }
        assert!(
            !headers
                .iter()
                .any(|h| h.starts_with("sec-websocket-accept")),
            "{what}: a refusal accepted the key"
        );
    }
    server.stop().await;
}

/// Over HTTP/2 without extended CONNECT, a GET is not a handshake: 400.
#[tokio::test]
async fn an_http2_get_is_refused_with_400() {
    let server = start_echo().await;
    let mut client = server.client(gateway_tests::Proto::Http2).await;
    let (parts, _) = client.fetch(http::Method::GET, "/ws").await;
    assert_eq!(parts.status, StatusCode::BAD_REQUEST);
    drop(client);
    server.stop().await;
}

/// `/ws/same-origin` refuses a foreign `Origin` (cross-site WebSocket
/// hijacking) and accepts its own or none.
#[tokio::test]
async fn a_foreign_origin_can_be_refused() {
    let server = start_echo().await;
    let host = server.addr.to_string();
    for (origin, status) in [
        (Some("http://evil.example".to_owned()), "403"),
        (Some(format!("http://{host}")), "101"),
        (None, "101"),
    ] {
        let origin_field = origin
            .as_ref()
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET /ws/same-origin HTTP/1.1\r\nHost: {host}\r\n{origin_field}Upgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\r\n"
        );
        let (line, _) = raw_head(server.addr, &req).await;
        assert!(
            line.starts_with(&format!("HTTP/1.1 {status} ")),
            "{origin:?}: {line}"
        );
    }
    server.stop().await;
}
