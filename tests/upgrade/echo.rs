//! The echo protocol over every transport: HTTP/1.1 `Upgrade` on TCP, a
//! Unix socket and TLS, and HTTP/2 extended CONNECT (h2c and TLS).

use std::sync::Arc as StdArc;

use bytes::Bytes;
use gateway_hyper::rustls;
use gateway_tests::TempDir;
use http::{Method, Request, StatusCode};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::{TcpStream, UnixStream};

use super::*;

#[tokio::test]
async fn http1_over_tcp_with_pipelined_bytes() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    upgrade_and_echo(&mut tcp, b"sent with the request").await;
    assert_eq!(stats.upgraded_connections(), 1);
    // Its socket is still open: it still counts (and against the limit).
    assert_eq!(stats.open_connections(), 1);
    // The client closes: the handler reads the end and returns.
    drop(tcp);
    no_upgraded_left(&stats).await;
    eventually("the connection to stop counting as open", || {
        stats.open_connections() == 0
    })
    .await;
    assert_eq!(counts.get(), (1, 1, 1));
    running.stop().await;
}

#[tokio::test]
async fn http1_over_a_unix_socket() {
    let counts = Arc::new(Counts::default());
    let dir = TempDir::new("upgrade");
    let path = dir.join("echo.sock");
    let server = Server::bind_unix(&path, None).unwrap();
    let stats = server.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(
        echo_app(counts.clone(), OnShutdown::SayBye),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut unix = UnixStream::connect(&path).await.unwrap();
    upgrade_and_echo(&mut unix, b"early").await;
    unix.shutdown().await.unwrap();
    assert!(read_to_end(&mut unix).await.is_empty());
    no_upgraded_left(&stats).await;
    assert_eq!(counts.get(), (1, 1, 1));
    let _ = stop.send(());
    within("the server to stop", task).await.unwrap().unwrap();
}

/// A TLS server with a fresh self-signed certificate for `localhost`.
async fn tls_server(counts: Arc<Counts>) -> (TestServer, ServerStats, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .tls(config, Duration::from_secs(10))
        .http2_extended_connect(true);
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts, OnShutdown::SayBye));
    (running, stats, cert)
}

async fn tls_connect(
    addr: std::net::SocketAddr,
    cert: &CertificateDer<'static>,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(StdArc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    within("the TLS handshake", connector.connect(name, tcp))
        .await
        .expect("handshake")
}

#[tokio::test]
async fn http1_over_tls() {
    let counts = Arc::new(Counts::default());
    let (running, stats, cert) = tls_server(counts.clone()).await;
    let mut tls = tls_connect(running.addr, &cert, b"http/1.1").await;
    upgrade_and_echo(&mut tls, b"early, encrypted").await;
    drop(tls);
    no_upgraded_left(&stats).await;
    assert_eq!(counts.get(), (1, 1, 1));
    running.stop().await;
}

/// Opens an extended CONNECT stream for `echo` on an HTTP/2 connection
/// over `io`, after a plain request (so that the server's SETTINGS,
/// which announce extended CONNECT, have arrived).
async fn h2_connect<I>(io: I) -> Result<TokioIo<hyper::upgrade::Upgraded>, hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let plain = Request::get("http://localhost/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = within("a plain h2 request", sender.send_request(plain))
        .await
        .expect("a plain request");
    // No upgrade offered to a plain GET.
    assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri("http://localhost/echo")
        .body(Empty::<Bytes>::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("echo"));
    let res = within("the CONNECT response", sender.send_request(req)).await?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-echo"], "1");
    let upgraded = within("the h2 upgrade", hyper::upgrade::on(res))
        .await
        .expect("the stream");
    Ok(TokioIo::new(upgraded))
}

#[tokio::test]
async fn http2_extended_connect_cleartext() {
    let counts = Arc::new(Counts::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .http2_extended_connect(true);
    let stats = server.stats();
    let running = TestServer::serve(server, echo_app(counts.clone(), OnShutdown::SayBye));
    let tcp = TcpStream::connect(running.addr).await.unwrap();
    let mut stream = h2_connect(tcp).await.expect("extended CONNECT");
    round_trip(&mut stream, b"over h2").await;
    round_trip(&mut stream, &gateway_tests::pattern(300_000)).await;
    assert_eq!(stats.upgraded_connections(), 1);
    // The HTTP/2 connection still counts: it may carry other streams.
    assert_eq!(stats.open_connections(), 1);
    stream.shutdown().await.unwrap();
    assert!(read_to_end(&mut stream).await.is_empty());
    no_upgraded_left(&stats).await;
    assert_eq!(counts.get(), (1, 1, 1));
    drop(stream);
    running.stop().await;
}

#[tokio::test]
async fn http2_extended_connect_over_tls() {
    let counts = Arc::new(Counts::default());
    let (running, stats, cert) = tls_server(counts.clone()).await;
    let tls = tls_connect(running.addr, &cert, b"h2").await;
    let mut stream = h2_connect(tls).await.expect("extended CONNECT");
    round_trip(&mut stream, b"over h2 and TLS").await;
    stream.shutdown().await.unwrap();
    assert!(read_to_end(&mut stream).await.is_empty());
    no_upgraded_left(&stats).await;
    assert_eq!(counts.get(), (1, 1, 1));
    drop(stream);
    running.stop().await;
}

#[tokio::test]
async fn extended_connect_is_off_by_default() {
    let running = TestServer::start(echo_app(Arc::default(), OnShutdown::SayBye)).await;
    let tcp = TcpStream::connect(running.addr).await.unwrap();
    // The server does not announce it, so the client will not send it.
    assert!(h2_connect(tcp).await.is_err());
    running.stop().await;
}
