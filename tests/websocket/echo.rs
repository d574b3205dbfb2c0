//! Echo through gateway-hyper with a real client: tokio-tungstenite's over
//! plain TCP and TLS, and Python's `websockets`.

use super::*;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

/// Text, binary, unicode, an empty message, ping/pong, and the client's
/// close answered with its code; the subprotocol is chosen.
async fn echo_session<S: AsyncRead + AsyncWrite + Unpin>(mut ws: Client<S>) {
    for text in ["hello", "ünïcødé", ""] {
        round_trip(&mut ws, text).await;
    }
    let data = gateway_tests::pattern(10_000);
    within("send binary", ws.send(ts::Message::binary(data.clone())))
        .await
        .expect("send");
    assert_eq!(next(&mut ws).await, ts::Message::binary(data));
    within(
        "ping",
        ws.send(ts::Message::Ping(ts::Bytes::from_static(b"heartbeat"))),
    )
    .await
    .expect("ping");
    assert_eq!(
        next(&mut ws).await,
        ts::Message::Pong(ts::Bytes::from_static(b"heartbeat"))
    );
    let bye = ts::protocol::CloseFrame {
        code: CloseCode::Away,
        reason: "done".into(),
    };
    within("close", ws.close(Some(bye))).await.expect("close");
    match next(&mut ws).await {
        ts::Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("no close reply: {other:?}"),
    }
    assert!(
        within("the server to close", ws.next()).await.is_none(),
        "the server closes the connection after the closing handshake"
    );
}

#[tokio::test]
async fn echo_over_http1() {
    let server = start_echo().await;
    let (ws, protocol) = connect(server.addr, "/ws").await;
    assert_eq!(protocol.as_deref(), Some("echo"));
    echo_session(ws).await;
    server.stop().await;
}

#[tokio::test]
async fn echo_over_tls() {
    let (config, cert) = tls_config();
    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .tls(config, std::time::Duration::from_secs(5));
    let server = TestServer::serve(server, echo_app());
    let tls = tls_connect(server.addr, cert).await;
    let url = format!("wss://localhost:{}/ws", server.addr.port());
    let (ws, protocol) = handshake_over(tls, &url).await;
    assert_eq!(protocol.as_deref(), Some("echo"));
    echo_session(ws).await;
    server.stop().await;
}

/// A 1 MiB message sent as 16 frames of 64 KiB comes back whole.
#[tokio::test]
async fn a_message_in_frames_arrives_whole() {
    let server = start_echo().await;
    let (mut ws, _) = connect(server.addr, "/ws/big").await;
    let data = gateway_tests::pattern(1 << 20);
    let frames: Vec<&[u8]> = data.chunks(64 << 10).collect();
    for (i, chunk) in frames.iter().enumerate() {
        let opcode = OpCode::Data(if i == 0 { Data::Binary } else { Data::Continue });
        let frame = Frame::message(
            ts::Bytes::copy_from_slice(chunk),
            opcode,
            i + 1 == frames.len(),
        );
        within("send a frame", ws.feed(ts::Message::Frame(frame)))
            .await
            .expect("send a frame");
    }
    within("flush", ws.flush()).await.expect("flush");
    match next(&mut ws).await {
        ts::Message::Binary(echoed) => assert!(echoed == data, "the echo differs"),
        other => panic!("no echo: {other:?}"),
    }
    drop(ws);
    server.stop().await;
}

/// A message over `/ws`'s 64 KiB limit closes that socket with 1009 —
/// in one frame (refused at its header) and in small frames (refused when
/// their sum passes the limit); the server serves the next one.
#[tokio::test]
async fn an_oversize_message_is_refused_with_1009() {
    let server = start_echo().await;
    let (mut ws, _) = connect(server.addr, "/ws").await;
    round_trip(&mut ws, "under the limit").await;
    let big = vec![b'x'; LIMIT + 1];
    within("send", ws.send(ts::Message::binary(big)))
        .await
        .expect("send");
    assert_eq!(close_code_of(&mut ws).await, 1009);
    // Reading on sends the close reply; the server then ends the connection.
    assert!(within("the end", ws.next()).await.is_none());
    drop(ws);

    let (mut ws, _) = connect(server.addr, "/ws").await;
    for i in 0..8 {
        let opcode = OpCode::Data(if i == 0 { Data::Text } else { Data::Continue });
        let frame = Frame::message(ts::Bytes::from(vec![b'y'; 10_000]), opcode, i == 7);
        if within("send a frame", ws.send(ts::Message::Frame(frame)))
            .await
            .is_err()
        {
            break; // the server may close before the last frames
        }
    }
    assert_eq!(close_code_of(&mut ws).await, 1009);
    drop(ws);

    let (mut ws, _) = connect(server.addr, "/ws").await;
    round_trip(&mut ws, "the server still serves").await;
    drop(ws);
    server.stop().await;
}

/// The server closes with the code the application chose.
#[tokio::test]
async fn the_application_chooses_the_close_code() {
    let server = start_echo().await;
    for code in [1000u16, 1008, 4000] {
        let (mut ws, _) = connect(server.addr, "/ws").await;
        within("send", ws.send(ts::Message::text(format!("close {code}"))))
            .await
            .expect("send");
        assert_eq!(close_code_of(&mut ws).await, code);
        assert!(within("the server to close", ws.next()).await.is_none());
    }
    server.stop().await;
}

/// Python's `websockets` (an independent implementation) as the client:
/// echo, a fragmented message, ping, 1009, a chosen close code.
#[tokio::test]
async fn echo_with_pythons_websockets() {
    if !python_websockets_available().await {
        return;
    }
    let server = start_echo().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/websocket/client.py");
    let url = format!("ws://{}/ws", server.addr);
    let out = within(
        "the python client",
        tokio::process::Command::new("python3")
            .args([script, &url])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the python client failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["echo ok", "closed 1009", "closed 4000"]
    );
    server.stop().await;
}

/// Whether `python3` can import `websockets`; when not, fails under `CI`
/// and prints a loud notice otherwise.
async fn python_websockets_available() -> bool {
    let ok = tokio::process::Command::new("python3")
        .args(["-c", "import websockets.asyncio.client"])
        .output()
        .await
        .is_ok_and(|out| out.status.success());
    if !ok {
        gateway_tests::skip_unless_ci(
            "WebSocket interop with Python's websockets",
            "cannot import websockets (>= 13) in python3",
            "Install it (python3 -m pip install websockets)",
        );
    }
    ok
}

/// RFC 8441: a WebSocket over an HTTP/2 stream (extended CONNECT, h2c),
/// with hyper's HTTP/2 client and tokio-tungstenite on the stream.
#[tokio::test]
async fn echo_over_http2_extended_connect() {
    use http_body_util::Empty;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .http2_extended_connect(true);
    let server = TestServer::serve(server, echo_app());
    let tcp = within("connect", TcpStream::connect(server.addr))
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    // A plain GET is not a handshake (and lets the server's SETTINGS,
    // which announce extended CONNECT, arrive).
    let get = http::Request::get(format!("http://{}/ws", server.addr))
        .body(Empty::<ts::Bytes>::new())
        .unwrap();
    let res = within("GET", sender.send_request(get)).await.expect("GET");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let mut connect = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{}/ws", server.addr))
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", "echo")
        .body(Empty::<ts::Bytes>::new())
        .unwrap();
    connect
        .extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let res = within("CONNECT", sender.send_request(connect))
        .await
        .expect("CONNECT");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["sec-websocket-protocol"], "echo");
    assert!(!res.headers().contains_key("sec-websocket-accept"));
    let stream = within("the stream", hyper::upgrade::on(res))
        .await
        .expect("the upgraded stream");
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(stream), ts::protocol::Role::Client, None)
            .await;
    echo_session(ws).await;
    drop(sender);
    server.stop().await;
}
