//! WebSockets through gateway-hyper (`gateway_core::websocket`) over real
//! sockets: echo over HTTP/1.1, plain and TLS, with tokio-tungstenite's
//! client and with Python's `websockets`; a message in frames, ping/pong,
//! an oversize message refused with 1009, close codes; every malformed
//! handshake over a raw socket gets its 4xx; the same echo through a real
//! nginx proxying WebSockets; the server's graceful shutdown sends 1001 to
//! open sockets and waits for them; an upgrade through `Lint`,
//! `ProxyHeaders`, `Mount` and `Sessions` arrives untouched.
//!
//! Without nginx or Python's `websockets` the tests that need them print a
//! loud notice and pass, unless `CI` is set, where they fail.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt as _, StreamExt as _};
use gateway_core::websocket::{Message, WebSocket, WebSocketUpgrade, close_code};
use gateway_core::{Application, Environ, Error, fn_app, start};
use gateway_hyper::rustls;
use gateway_tests::{TestServer, within};
use http::StatusCode;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self as ts, ClientRequestBuilder};

mod echo;
mod handshake;
mod nginx;
mod shutdown;

/// The message limit of `/ws` (a test of the 1009 needs a small one).
const LIMIT: usize = 64 << 10;

/// `/ws`: echo with a 64 KiB message limit and subprotocols `echo.v2`,
/// `echo`; a text `close NNNN` makes the server close with that code.
/// `/ws/big`: the same with a 4 MiB limit. `/ws/same-origin`: refuses an
/// `Origin` other than the server's own. Anything else: a page.
pub(crate) fn echo_app() -> impl Application + Clone {
    fn_app(|mut env: Environ| async move {
        let own = env.host_url();
        let path = env.path_info().to_owned();
        let ws = match path.as_str() {
            "/ws" => WebSocketUpgrade::from_environ(&mut env)?.max_message_size(LIMIT),
            "/ws/big" => WebSocketUpgrade::from_environ(&mut env)?.max_message_size(4 << 20),
            "/ws/same-origin" => {
                let ws = WebSocketUpgrade::from_environ(&mut env)?;
                if ws.origin().is_some_and(|o| !o.eq_ignore_ascii_case(&own)) {
                    return Err(Error::with_status(StatusCode::FORBIDDEN, "foreign origin"));
                }
                ws
            }
            _ => return start(200, [("content-type", "text/plain")]).body("a page\n"),
        };
        Ok(ws.protocols(["echo.v2", "echo"]).on_upgrade(echo))
    })
}

/// Echoes text and binary messages; `close NNNN` closes with code NNNN.
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if let Some(code) = msg.as_text().and_then(|t| t.strip_prefix("close ")) {
            let code = code.parse().unwrap_or(close_code::ERROR);
            let _ = socket.close(code, "asked to").await;
            return;
        }
        if let Message::Text(_) | Message::Binary(_) = msg {
            if socket.send(msg).await.is_err() {
                return;
            }
        }
    }
}

/// A WebSocket client connection (tokio-tungstenite) over any stream.
pub(crate) type Client<S> = WebSocketStream<S>;

/// Opens a WebSocket to `path` on `addr` over plain TCP (bounded), with
/// `Sec-WebSocket-Protocol: echo` offered; returns the client and the
/// response's selected subprotocol.
pub(crate) async fn connect(addr: SocketAddr, path: &str) -> (Client<TcpStream>, Option<String>) {
    let tcp = within("tcp connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    handshake_over(tcp, &format!("ws://{addr}{path}")).await
}

/// The WebSocket handshake over an open stream (bounded).
pub(crate) async fn handshake_over<S>(stream: S, url: &str) -> (Client<S>, Option<String>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request =
        ClientRequestBuilder::new(url.parse().expect("a ws:// URL")).with_sub_protocol("echo");
    let (ws, res) = within(
        "websocket handshake",
        tokio_tungstenite::client_async(request, stream),
    )
    .await
    .unwrap_or_else(|e| panic!("websocket handshake to {url}: {e}"));
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    let protocol = res
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    (ws, protocol)
}

/// The next message (bounded); fails the test on an error or the end.
pub(crate) async fn next<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Client<S>) -> ts::Message {
    match within("the next message", ws.next()).await {
        Some(Ok(msg)) => msg,
        other => panic!("no message: {other:?}"),
    }
}

/// Reads (bounded) until the server's close frame; returns its code.
pub(crate) async fn close_code_of<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Client<S>) -> u16 {
    loop {
        match within("the server's close", ws.next()).await {
            Some(Ok(ts::Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(ts::Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => {}
            other => panic!("the connection ended without a close frame: {other:?}"),
        }
    }
}

/// Sends a text message and expects it back.
pub(crate) async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut Client<S>, text: &str) {
    within("send", ws.send(ts::Message::text(text)))
        .await
        .expect("send");
    assert_eq!(next(ws).await, ts::Message::text(text));
}

/// Writes a raw request on a new connection and returns the response head
/// (status line and lower-cased header lines), read up to the blank line
/// (bounded).
pub(crate) async fn raw_head(addr: SocketAddr, request: &str) -> (String, Vec<String>) {
    let mut stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    within("write", stream.write_all(request.as_bytes()))
        .await
        .expect("write the request");
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    while gateway_tests::find(&raw, b"\r\n\r\n").is_none() {
        let n = within("the response head", stream.read(&mut buf))
            .await
            .expect("read");
        assert!(
            n > 0,
            "closed before a response head: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
    let (head, _) = gateway_tests::split_head(&raw);
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_owned();
    (status, lines.map(str::to_ascii_lowercase).collect())
}

/// A self-signed certificate for `localhost` as the server's TLS
/// configuration, with the certificate for the client to trust.
pub(crate) fn tls_config() -> (rustls::ServerConfig, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a self-signed certificate");
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("a TLS configuration");
    (config, cert)
}

/// A TLS connection to `addr` trusting `cert`, offering only HTTP/1.1.
pub(crate) async fn tls_connect(
    addr: SocketAddr,
    cert: CertificateDer<'static>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("trust the certificate");
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = within("tcp connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("a server name");
    within("TLS handshake", connector.connect(name, tcp))
        .await
        .expect("TLS handshake")
}

/// Starts the echo application on `127.0.0.1:0`.
pub(crate) async fn start_echo() -> TestServer {
    TestServer::start(echo_app()).await
}
