//! HTTPS over real sockets (feature `tls`): ALPN chooses HTTP/2 or
//! HTTP/1.1, the application sees `https`, and a client that never
//! finishes its handshake is cut at the handshake timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_core::{Environ, fn_app, start};
use gateway_hyper::Server;
use gateway_hyper::rustls;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(10);

struct Fixture {
    addr: std::net::SocketAddr,
    cert: CertificateDer<'static>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve_tls(handshake_timeout: Duration) -> Fixture {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    // The application answers with what it knows of the connection.
    let app = fn_app(|env: Environ| async move {
        let text = format!("{} {} {:?}", env.url(), env.conn().is_tls(), env.version());
        start(200, [("content-type", "text/plain")]).body(text)
    });
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .tls(config, handshake_timeout);
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(app, async {
        let _ = stopped.await;
    }));
    Fixture {
        addr,
        cert,
        stop,
        task,
    }
}

impl Fixture {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }

    async fn connect(&self, alpn: &[&[u8]]) -> tokio_rustls::client::TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        tokio::time::timeout(LIMIT, connector.connect(name, tcp))
            .await
            .expect("handshake in time")
            .expect("handshake")
    }
}

/// `GET path` with `Host: localhost` over HTTP/1.1 on `tls`.
async fn get_http1(
    tls: tokio_rustls::client::TlsStream<TcpStream>,
    path: &str,
) -> http::Response<hyper::body::Incoming> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    tokio::time::timeout(LIMIT, sender.send_request(req))
        .await
        .unwrap()
        .unwrap()
}

async fn body_text(res: http::Response<hyper::body::Incoming>) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn alpn_h2_serves_http2() {
    let server = serve_tls(Duration::from_secs(5)).await;
    let tls = server.connect(&[b"h2"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("https://localhost/x?y=1")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let res = tokio::time::timeout(LIMIT, sender.send_request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        body_text(res).await,
        "https://localhost/x?y=1 true HTTP/2.0"
    );
    server.stop().await;
}

#[tokio::test]
async fn alpn_http11_serves_http1() {
    let server = serve_tls(Duration::from_secs(5)).await;
    let tls = server.connect(&[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let res = get_http1(tls, "/p").await;
    assert_eq!(res.status(), 200);
    assert_eq!(body_text(res).await, "https://localhost/p true HTTP/1.1");
    server.stop().await;
}

#[tokio::test]
async fn no_alpn_is_told_apart_by_its_first_bytes() {
    let server = serve_tls(Duration::from_secs(5)).await;
    let tls = server.connect(&[]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    let res = get_http1(tls, "/").await;
    assert_eq!(body_text(res).await, "https://localhost/ true HTTP/1.1");
    server.stop().await;
}

#[tokio::test]
async fn stalled_handshake_is_cut_at_the_timeout() {
    let server = serve_tls(Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    // Send nothing: the server must give up on its own.
    let n = tokio::time::timeout(LIMIT, tcp.read(&mut buf))
        .await
        .expect("the server closes the connection")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // And it still serves a real client.
    let tls = server.connect(&[b"h2"]).await;
    drop(tls);
    server.stop().await;
}
