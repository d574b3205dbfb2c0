use http::header::{ALLOW, CONNECTION, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};

use super::handshake::{check_extended_connect, check_http1};
use super::message::CloseFrame;
use super::{HandshakeError, Message, accept_key, close_code, requested_protocols};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// A valid HTTP/1.1 handshake, with `change` applied to its fields.
fn h1(change: impl FnOnce(&mut HeaderMap)) -> Result<HeaderValue, HandshakeError> {
    let mut map = headers(&[
        ("host", "example.com"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", KEY),
    ]);
    change(&mut map);
    check_http1(&Method::GET, Version::HTTP_11, &map)
}

fn set(map: &mut HeaderMap, name: &'static str, value: &'static str) {
    map.insert(name, HeaderValue::from_static(value));
}

#[test]
fn accept_key_is_rfc_6455s_example() {
    let key = HeaderValue::from_static(KEY);
    assert_eq!(accept_key(&key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    // Surrounding whitespace is not part of the key.
    let padded = HeaderValue::from_static(" dGhlIHNhbXBsZSBub25jZQ== ");
    assert_eq!(accept_key(&padded), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn a_valid_http1_handshake_returns_its_key() {
    assert_eq!(h1(|_| {}).unwrap(), KEY);
    // Tokens are case-insensitive and may be in lists.
    let ok = h1(|m| {
        set(m, "upgrade", "WebSocket");
        set(m, "connection", "keep-alive, UPGRADE");
    });
    assert!(ok.is_ok(), "{ok:?}");
    let ok = h1(|m| {
        m.remove("connection");
        m.append("connection", HeaderValue::from_static("keep-alive"));
        m.append("connection", HeaderValue::from_static("upgrade"));
    });
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn each_broken_http1_field_gets_its_error() {
    let cases: Vec<(&str, Result<HeaderValue, HandshakeError>, HandshakeError)> = vec![
        (
            "no Upgrade",
            h1(|m| drop(m.remove("upgrade"))),
            HandshakeError::NotWebSocketUpgrade,
        ),
        (
            "Upgrade: h2c",
            h1(|m| set(m, "upgrade", "h2c")),
            HandshakeError::NotWebSocketUpgrade,
        ),
        (
            "Upgrade: websockets",
            h1(|m| set(m, "upgrade", "websockets")),
            HandshakeError::NotWebSocketUpgrade,
        ),
        (
            "no Connection",
            h1(|m| drop(m.remove("connection"))),
            HandshakeError::ConnectionNotUpgrade,
        ),
        (
            "Connection: upgrades",
            h1(|m| set(m, "connection", "upgrades")),
            HandshakeError::ConnectionNotUpgrade,
        ),
        (
            "no version",
            h1(|m| drop(m.remove("sec-websocket-version"))),
            HandshakeError::UnsupportedVersion,
        ),
        (
            "version 8",
            h1(|m| set(m, "sec-websocket-version", "8")),
            HandshakeError::UnsupportedVersion,
        ),
        (
            "version twice",
            h1(|m| {
                m.append("sec-websocket-version", HeaderValue::from_static("13"));
            }),
            HandshakeError::UnsupportedVersion,
        ),
        (
            "version list",
            h1(|m| set(m, "sec-websocket-version", "13, 8")),
            HandshakeError::UnsupportedVersion,
        ),
        (
            "no key",
            h1(|m| drop(m.remove("sec-websocket-key"))),
            HandshakeError::InvalidKey,
        ),
        (
            "empty key",
            h1(|m| set(m, "sec-websocket-key", "")),
            HandshakeError::InvalidKey,
        ),
        (
            "key not base64",
            h1(|m| set(m, "sec-websocket-key", "!!!!!!!!!!!!!!!!!!!!!!==")),
            HandshakeError::InvalidKey,
        ),
        // 15 and 17 bytes; unpadded 16.
        (
            "15-byte key",
            h1(|m| set(m, "sec-websocket-key", "dGhlIHNhbXBsZSBub25j")),
            HandshakeError::InvalidKey,
        ),
        (
            "17-byte key",
            h1(|m| set(m, "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZXg=")),
            HandshakeError::InvalidKey,
        ),
        (
            "unpadded key",
            h1(|m| set(m, "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ")),
            HandshakeError::InvalidKey,
        ),
        (
            "key twice",
            h1(|m| {
                m.append("sec-websocket-key", HeaderValue::from_static(KEY));
            }),
            HandshakeError::InvalidKey,
        ),
        (
            "a body",
            h1(|m| set(m, "content-length", "5")),
            HandshakeError::UnexpectedBody,
        ),
        (
            "a chunked body",
            h1(|m| set(m, "transfer-encoding", "chunked")),
            HandshakeError::UnexpectedBody,
        ),
    ];
    for (what, got, want) in cases {
        assert_eq!(got, Err(want), "{what}");
    }
    assert!(
        h1(|m| set(m, "content-length", "0")).is_ok(),
        "an empty body is no body"
    );
}

#[test]
fn method_and_http_version_are_checked_first() {
    let map = headers(&[("upgrade", "websocket"), ("connection", "upgrade")]);
    assert_eq!(
        check_http1(&Method::POST, Version::HTTP_11, &map),
        Err(HandshakeError::MethodNotGet)
    );
    assert_eq!(
        check_http1(&Method::GET, Version::HTTP_10, &map),
        Err(HandshakeError::HttpVersion)
    );
}

#[test]
fn extended_connect_needs_connect_websocket_and_version_13() {
    let v13 = headers(&[("sec-websocket-version", "13")]);
    assert_eq!(
        check_extended_connect(&Method::CONNECT, Some("websocket"), &v13),
        Ok(())
    );
    assert_eq!(
        check_extended_connect(&Method::CONNECT, Some("WebSocket"), &v13),
        Ok(())
    );
    for (method, protocol) in [
        (Method::GET, Some("websocket")),
        (Method::CONNECT, None),
        (Method::CONNECT, Some("webtransport")),
    ] {
        assert_eq!(
            check_extended_connect(&method, protocol, &v13),
            Err(HandshakeError::NotExtendedConnect),
            "{method} {protocol:?}"
        );
    }
    assert_eq!(
        check_extended_connect(&Method::CONNECT, Some("websocket"), &HeaderMap::new()),
        Err(HandshakeError::UnsupportedVersion)
    );
}

#[test]
fn refusals_carry_their_status_and_fields() {
    let e = HandshakeError::UnsupportedVersion.into_error(Version::HTTP_11);
    assert_eq!(e.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(e.headers()[SEC_WEBSOCKET_VERSION], "13");
    assert_eq!(e.headers()[UPGRADE], "websocket");
    assert_eq!(e.headers()[CONNECTION], "upgrade");
    assert_eq!(
        e.downcast_ref::<HandshakeError>(),
        Some(&HandshakeError::UnsupportedVersion)
    );

    // HTTP/2 has no Upgrade field.
    let e = HandshakeError::UnsupportedVersion.into_error(Version::HTTP_2);
    assert_eq!(e.headers()[SEC_WEBSOCKET_VERSION], "13");
    assert!(!e.headers().contains_key(UPGRADE));

    let e = HandshakeError::NotWebSocketUpgrade.into_error(Version::HTTP_11);
    assert_eq!(e.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(e.headers()[UPGRADE], "websocket");

    let e = HandshakeError::MethodNotGet.into_error(Version::HTTP_11);
    assert_eq!(e.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(e.headers()[ALLOW], "GET");

    for (error, status) in [
        (HandshakeError::HttpVersion, 400),
        (HandshakeError::ConnectionNotUpgrade, 400),
        (HandshakeError::InvalidKey, 400),
        (HandshakeError::NotExtendedConnect, 400),
        (HandshakeError::UnexpectedBody, 400),
        (HandshakeError::NotUpgradable, 501),
    ] {
        let e = error.into_error(Version::HTTP_11);
        assert_eq!(e.status(), status, "{error:?}");
        assert!(e.headers().is_empty(), "{error:?}");
    }
}

#[test]
fn requested_protocols_are_the_tokens_of_every_field() {
    let map = headers(&[
        ("sec-websocket-protocol", "chat, superchat"),
        ("sec-websocket-protocol", " v2 ,,"),
    ]);
    assert_eq!(requested_protocols(&map), ["chat", "superchat", "v2"]);
    assert!(requested_protocols(&HeaderMap::new()).is_empty());
}

#[test]
fn a_long_close_reason_is_cut_at_a_character_boundary() {
    // 61 two-byte characters: 122 bytes fit, the 62nd would end at 124.
    let reason = "é".repeat(70);
    let frame = CloseFrame::new(close_code::POLICY, reason.as_str()).into_tungstenite();
    assert_eq!(frame.reason.len(), 122);
    assert!(reason.starts_with(frame.reason.as_str()));
    let short = CloseFrame::new(close_code::NORMAL, "bye").into_tungstenite();
    assert_eq!(short.reason, "bye");
    assert_eq!(u16::from(short.code), 1000);
}

#[test]
fn messages_convert_both_ways_without_loss() {
    for msg in [
        Message::text("hello"),
        Message::binary(&b"\x00\xff"[..]),
        Message::Ping(bytes::Bytes::from_static(b"p")),
        Message::Pong(bytes::Bytes::new()),
        Message::Close(None),
        Message::Close(Some(CloseFrame::new(close_code::AWAY, "bye"))),
    ] {
        let back = Message::from_tungstenite(msg.clone().into_tungstenite());
        assert_eq!(back, Some(msg));
    }
}

mod socket {
    //! The server's `WebSocket` against tokio-tungstenite's client over an
    //! in-memory duplex pipe.

    use bytes::Bytes;
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio::io::DuplexStream;
    use tokio::sync::oneshot;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
    use tokio_tungstenite::tungstenite::{self as ts};

    use crate::upgrade::{Shutdown, Upgraded};
    use crate::websocket::{Message, WebSocket, close_code};

    type Client = WebSocketStream<DuplexStream>;

    const LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

    async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
        tokio::time::timeout(LIMIT, fut)
            .await
            .unwrap_or_else(|_| panic!("timed out: {what}"))
    }

    /// A server socket with a shutdown trigger, and its client.
    async fn pair(max_message: usize) -> (WebSocket, Client, oneshot::Sender<()>) {
        let (server, client) = tokio::io::duplex(64 << 10);
        let (trigger, fired) = oneshot::channel::<()>();
        let shutdown = Shutdown::new(async move {
            let _ = fired.await;
        });
        let config = WebSocketConfig::default()
            .max_message_size(Some(max_message))
            .max_frame_size(Some(max_message));
        let upgraded = Upgraded::new(server).with_shutdown(shutdown);
        let ws = WebSocket::from_upgraded(upgraded, config, None).await;
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (ws, client, trigger)
    }

    /// Echoes data messages and logs what it saw, until `recv` ends.
    async fn echo(mut ws: WebSocket) -> Vec<String> {
        let mut log = Vec::new();
        while let Some(msg) = ws.recv().await {
            match msg {
                Ok(msg @ (Message::Text(_) | Message::Binary(_))) => {
                    if let Err(err) = ws.send(msg).await {
                        log.push(format!("send failed: {err}"));
                    }
                }
                Ok(Message::Ping(data)) => log.push(format!("ping {data:?}")),
                Ok(Message::Pong(_)) => log.push("pong".to_owned()),
                Ok(Message::Close(frame)) => {
                    log.push(format!("close {:?}", frame.map(|f| f.code)));
                }
                Err(err) => log.push(format!("error {:?}", err.close_code())),
            }
        }
        log.push("end".to_owned());
        log
    }

    async fn next(client: &mut Client) -> Option<Result<ts::Message, ts::Error>> {
        within("the client's next message", client.next()).await
    }

    /// Reads until the server's close; returns its code.
    async fn expect_close(client: &mut Client) -> u16 {
        loop {
            match next(client).await {
                Some(Ok(ts::Message::Close(Some(frame)))) => return frame.code.into(),
                Some(Ok(ts::Message::Close(None))) => panic!("a close without a code"),
                Some(Ok(_)) => {}
                other => panic!("no close from the server: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn echoes_text_and_binary_and_answers_pings() {
        let (ws, mut client, _trigger) = pair(1 << 20).await;
        let server = tokio::spawn(echo(ws));
        client.send(ts::Message::text("hello")).await.unwrap();
        assert_eq!(
            next(&mut client).await.unwrap().unwrap(),
            ts::Message::text("hello")
        );
        client
            .send(ts::Message::binary(vec![0u8, 255]))
            .await
            .unwrap();
        assert_eq!(
            next(&mut client).await.unwrap().unwrap(),
            ts::Message::binary(vec![0u8, 255])
        );
        client
            .send(ts::Message::Ping(Bytes::from_static(b"hb")))
            .await
            .unwrap();
        assert_eq!(
            next(&mut client).await.unwrap().unwrap(),
            ts::Message::Pong(Bytes::from_static(b"hb"))
        );
        client.close(None).await.unwrap();
        assert!(matches!(
            next(&mut client).await,
            Some(Ok(ts::Message::Close(None)))
        ));
        assert!(
            next(&mut client).await.is_none(),
            "the server closes after the handshake"
        );
        let log = within("the handler", server).await.unwrap();
        assert_eq!(log, ["ping b\"hb\"", "close None", "end"]);
    }

    #[tokio::test]
    async fn a_message_in_frames_arrives_whole() {
        let (ws, mut client, _trigger) = pair(1 << 20).await;
        let server = tokio::spawn(echo(ws));
        let text = "0123456789".repeat(10_000);
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(7_000).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Data(Data::Text)
            } else {
                OpCode::Data(Data::Continue)
            };
            let fin = i + 1 == chunks.len();
            let frame = Frame::message(Bytes::copy_from_slice(chunk), opcode, fin);
            client.feed(ts::Message::Frame(frame)).await.unwrap();
        }
        client.flush().await.unwrap();
        match next(&mut client).await {
            Some(Ok(ts::Message::Text(echoed))) => assert!(echoed == text.as_str()),
            other => panic!("no echo: {other:?}"),
        }
        drop(client);
        within("the handler", server).await.unwrap();
    }

    #[tokio::test]
    async fn an_oversize_message_is_refused_with_1009() {
        let (ws, mut client, _trigger) = pair(1_000).await;
        let server = tokio::spawn(echo(ws));
        client.send(ts::Message::text("small")).await.unwrap();
        assert_eq!(
            next(&mut client).await.unwrap().unwrap(),
            ts::Message::text("small")
        );
        // One frame far over the limit: refused at its header.
        client
            .send(ts::Message::binary(vec![7u8; 300_000]))
            .await
            .unwrap();
        assert_eq!(expect_close(&mut client).await, 1009);
        assert!(next(&mut client).await.is_none());
        drop(client);
        let log = within("the handler", server).await.unwrap();
        assert_eq!(log, ["error Some(1009)", "end"]);
    }

    #[tokio::test]
    async fn an_oversize_message_in_small_frames_is_refused_with_1009() {
        let (ws, mut client, _trigger) = pair(1_000).await;
        let server = tokio::spawn(echo(ws));
        for i in 0..4 {
            let opcode = if i == 0 {
                OpCode::Data(Data::Binary)
            } else {
                OpCode::Data(Data::Continue)
            };
            let frame = Frame::message(Bytes::from(vec![1u8; 400]), opcode, i == 3);
            client.send(ts::Message::Frame(frame)).await.unwrap();
        }
        assert_eq!(expect_close(&mut client).await, 1009);
        drop(client);
        let log = within("the handler", server).await.unwrap();
        assert_eq!(log, ["error Some(1009)", "end"]);
    }

    #[tokio::test]
    async fn text_that_is_not_utf8_is_refused_with_1007() {
        let (ws, mut client, _trigger) = pair(1 << 20).await;
        let server = tokio::spawn(echo(ws));
        let frame = Frame::message(
            Bytes::from_static(b"\xff\xfe"),
            OpCode::Data(Data::Text),
            true,
        );
        client.send(ts::Message::Frame(frame)).await.unwrap();
        assert_eq!(expect_close(&mut client).await, 1007);
        drop(client);
        let log = within("the handler", server).await.unwrap();
        assert_eq!(log, ["error Some(1007)", "end"]);
    }

    #[tokio::test]
    async fn an_unmasked_frame_is_refused_with_1002() {
        let (ws, client, _trigger) = pair(1 << 20).await;
        let server = tokio::spawn(echo(ws));
        // A frame written by hand, without the mask a client must set.
        let mut io = client.into_inner();
        let mut raw = Vec::new();
        let header = FrameHeader::default();
        header.format(2, &mut raw).unwrap();
        raw.extend_from_slice(b"hi");
        tokio::io::AsyncWriteExt::write_all(&mut io, &raw)
            .await
            .unwrap();
        let mut client = WebSocketStream::from_raw_socket(io, Role::Client, None).await;
        assert_eq!(expect_close(&mut client).await, 1002);
        drop(client);
        let log = within("the handler", server).await.unwrap();
        assert_eq!(log, ["error Some(1002)", "end"]);
    }

    #[tokio::test]
    async fn the_clients_close_code_reaches_the_handler_and_is_echoed() {
        let (ws, mut client, _trigger) = pair(1 << 20).await;
        let server = tokio::spawn(echo(ws));
        let frame = ts::protocol::CloseFrame {
            code: CloseCode::Policy,
            reason: "done".into(),
        };
        client.close(Some(frame)).await.unwrap();
        match next(&mut client).await {
            Some(Ok(ts::Message::Close(Some(reply)))) => assert_eq!(u16::from(reply.code), 1008),
            other => panic!("no close reply: {other:?}"),
        }
        let log = within("the handler", server).await.unwrap();
        assert_eq!(log, ["close Some(1008)", "end"]);
    }

    #[tokio::test]
    async fn shutdown_sends_1001_and_completes_the_handshake() {
        let (ws, mut client, trigger) = pair(1 << 20).await;
        let server = tokio::spawn(echo(ws));
        client.send(ts::Message::text("before")).await.unwrap();
        assert_eq!(
            next(&mut client).await.unwrap().unwrap(),
            ts::Message::text("before")
        );
        trigger.send(()).unwrap();
        assert_eq!(expect_close(&mut client).await, 1001);
        // tungstenite's client answered the close; the server then ends.
        assert!(next(&mut client).await.is_none());
        let log = within("the handler", server).await.unwrap();
        assert_eq!(log, ["close Some(1001)", "end"]);
    }

    #[tokio::test]
    async fn a_send_only_handler_notices_the_shutdown() {
        let (mut ws, mut client, trigger) = pair(1 << 20).await;
        let server = tokio::spawn(async move {
            let mut sent = 0u32;
            loop {
                match ws.send(Message::text(format!("tick {sent}"))).await {
                    Ok(()) => sent += 1,
                    Err(err) => return (sent, err.is_closed()),
                }
                tokio::task::yield_now().await;
            }
        });
        assert_eq!(
            next(&mut client).await.unwrap().unwrap(),
            ts::Message::text("tick 0")
        );
        trigger.send(()).unwrap();
        assert_eq!(expect_close(&mut client).await, 1001);
        assert!(next(&mut client).await.is_none());
        let (sent, closed) = within("the handler", server).await.unwrap();
        assert!(sent >= 1);
        assert!(closed, "the send error says the socket is closed");
    }

    #[tokio::test]
    async fn close_sends_the_code_and_returns_the_reply() {
        let (ws, mut client, _trigger) = pair(1 << 20).await;
        let server = tokio::spawn(async move { ws.close(close_code::NORMAL, "bye").await });
        assert_eq!(expect_close(&mut client).await, 1000);
        assert!(next(&mut client).await.is_none());
        let reply = within("the handler", server).await.unwrap().unwrap();
        assert_eq!(reply.map(|f| f.code), Some(1000));
    }

    #[tokio::test]
    async fn a_vanished_client_ends_recv() {
        let (ws, client, _trigger) = pair(1 << 20).await;
        let server = tokio::spawn(echo(ws));
        drop(client);
        let log = within("the handler", server).await.unwrap();
        assert_eq!(log.last().map(String::as_str), Some("end"));
        assert!(log.len() <= 2, "{log:?}");
    }
}

#[cfg(feature = "test-client")]
mod in_process {
    //! The whole path in-process: the handshake through `TestClient`, the
    //! handler on the test connection, tokio-tungstenite's client on it.

    use futures_util::{SinkExt as _, StreamExt as _};
    use http::{Method, Version};
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::{self as ts, protocol::Role};

    use crate::test_client::{TestClient, TestConnection};
    use crate::websocket::{Message, WebSocketUpgrade};
    use crate::{Application, Environ, fn_app};

    fn echo_app() -> impl Application {
        fn_app(|mut env: Environ| async move {
            let ws = WebSocketUpgrade::from_environ(&mut env)?.protocols(["v2", "v1"]);
            Ok(ws.on_upgrade(|mut socket| async move {
                let protocol = socket.protocol().unwrap_or("none").to_owned();
                while let Some(Ok(msg)) = socket.recv().await {
                    let reply = match msg {
                        Message::Text(text) => Message::text(format!("{protocol}: {text}")),
                        Message::Binary(_) => msg,
                        _ => continue,
                    };
                    if socket.send(reply).await.is_err() {
                        break;
                    }
                }
            }))
        })
    }

    async fn client(conn: TestConnection) -> WebSocketStream<TestConnection> {
        WebSocketStream::from_raw_socket(conn, Role::Client, None).await
    }

    #[tokio::test]
    async fn echo_over_http1_with_a_subprotocol() {
        let app = TestClient::new(echo_app());
        let (res, conn) = app
            .get("/ws")
            .header("sec-websocket-key", super::KEY)
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "v1, v2")
            .upgrade("websocket")
            .await
            .expect("the application switches");
        assert_eq!(res.status(), 101);
        assert_eq!(res.header("upgrade"), Some("websocket"));
        assert_eq!(
            res.header("sec-websocket-accept"),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        assert_eq!(res.header("sec-websocket-protocol"), Some("v2"));
        let mut ws = client(conn).await;
        ws.send(ts::Message::text("hi")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            ts::Message::text("v2: hi")
        );
        ws.close(None).await.unwrap();
        assert!(matches!(ws.next().await, Some(Ok(ts::Message::Close(_)))));
        assert!(ws.next().await.is_none());
        assert!(
            ws.get_ref().is_finished(),
            "the handler returned after the close"
        );
    }

    #[tokio::test]
    async fn echo_over_http2_extended_connect() {
        let app = TestClient::new(echo_app());
        let (res, conn) = app
            .request(Method::CONNECT, "https://localhost/ws")
            .version(Version::HTTP_2)
            .header("sec-websocket-version", "13")
            .upgrade("websocket")
            .await
            .expect("the application switches");
        assert_eq!(res.status(), 200);
        assert_eq!(res.header("sec-websocket-accept"), None);
        let mut ws = client(conn).await;
        ws.send(ts::Message::text("h2")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            ts::Message::text("none: h2")
        );
    }

    #[tokio::test]
    async fn shutdown_closes_with_1001() {
        let app = TestClient::new(echo_app());
        let (_, conn) = app
            .get("/ws")
            .header("sec-websocket-key", super::KEY)
            .header("sec-websocket-version", "13")
            .upgrade("websocket")
            .await
            .expect("the application switches");
        let mut ws = client(conn).await;
        ws.get_ref().begin_shutdown();
        match ws.next().await {
            Some(Ok(ts::Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
            other => panic!("no close 1001: {other:?}"),
        }
        assert!(ws.next().await.is_none());
        assert!(ws.get_ref().is_finished());
    }

    #[tokio::test]
    async fn refusals_are_4xx_with_their_fields() {
        let app = TestClient::new(echo_app());
        let res = app
            .get("/ws")
            .header("sec-websocket-key", super::KEY)
            .header("sec-websocket-version", "8")
            .upgrade("websocket")
            .await
            .expect_err("version 8 is refused");
        assert_eq!(res.status(), 426);
        assert_eq!(res.header("sec-websocket-version"), Some("13"));
        let res = app
            .get("/ws")
            .header("sec-websocket-version", "13")
            .upgrade("websocket")
            .await
            .expect_err("no key");
        assert_eq!(res.status(), 400);
        let res = app.get("/ws").send().await;
        assert_eq!(res.status(), 426);
        assert_eq!(res.header("upgrade"), Some("websocket"));
    }
}
