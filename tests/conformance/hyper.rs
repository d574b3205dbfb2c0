//! gateway-hyper under the kit: TCP, TLS and a Unix socket.

use std::sync::Arc;
use std::time::Duration;

use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
use gateway_hyper::Server;
use gateway_hyper::rustls;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The body limit the servers are given, so the limit rules stay small.
const LIMIT: u64 = 64 * 1024;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Tls,
    Unix,
}

struct Hyper(Transport);

impl Adapter for Hyper {
    fn name(&self) -> &str {
        match self.0 {
            Transport::Tcp => "gateway-hyper over TCP",
            Transport::Tls => "gateway-hyper over TLS",
            Transport::Unix => "gateway-hyper over a Unix socket",
        }
    }

    fn capabilities(&self) -> Capabilities {
        // Everything the kit checks, except upgrades: gateway-hyper's
        // side of the upgrade API is not on this branch yet.
        Capabilities::new()
            .http2(true)
            .trailers(true)
            .max_body_size(LIMIT)
    }

    async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
        let dir = gateway_tests::TempDir::new("conformance");
        let (server, running) = match self.0 {
            Transport::Tcp => {
                let server = Server::bind("127.0.0.1:0").await?;
                let addr = server.local_addr()?;
                (server, Running::tcp(addr))
            }
            Transport::Tls => {
                let (config, client) = tls_configs();
                let server = Server::bind("127.0.0.1:0")
                    .await?
                    .tls(config, Duration::from_secs(5));
                let addr = server.local_addr()?;
                (server, Running::tcp(addr).tls(client, "localhost"))
            }
            Transport::Unix => {
                let path = dir.join("battery.sock");
                let server = Server::bind_unix(&path, None)?;
                (server, Running::unix(path))
            }
        };
        let server = server.max_body_size(LIMIT);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_with_shutdown(battery, async move {
            let _ = stopped.await;
        }));
        Ok(running.on_stop(async move {
            let _ = stop.send(());
            let _ = task.await;
            drop(dir);
        }))
    }
}

/// A self-signed certificate for `localhost`: the server's configuration
/// and a client configuration that trusts it.
fn tls_configs() -> (rustls::ServerConfig, Arc<rustls::ClientConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, Arc::new(client))
}

async fn check(transport: Transport) {
    let report = gateway_conformance::run(&Hyper(transport)).await;
    println!("{report}");
    report.assert_passed();
    // Only the upgrade rules may be skipped: gateway-hyper does the rest.
    for result in report.results() {
        assert!(
            result.outcome() != gateway_conformance::Outcome::Skipped
                || result.name().contains("upgrade"),
            "{result}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_hyper_over_tcp() {
    check(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_hyper_over_tls() {
    check(Transport::Tls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_hyper_over_a_unix_socket() {
    check(Transport::Unix).await;
}
