//! gateway-fastcgi under the kit, behind a real nginx (`fastcgi_pass`,
//! the shipped `deploy/nginx/fastcgi.conf`) over TCP and over a Unix
//! socket. The kit talks to nginx; its capabilities are those of the
//! pair:
//!
//! - nginx frames responses itself (buffered: a `Content-Length` or
//!   chunks of its choosing), so framing is not checked;
//! - it buffers request bodies before passing them on
//!   (`fastcgi_request_buffering on`), so they do not arrive
//!   incrementally;
//! - HTTP/2 only over HTTPS (nginx 1.22 serves HTTP/1.1 and cleartext
//!   HTTP/2 on different ports, the kit reaches one address: the `tls`
//!   run has both by ALPN); no trailers, no upgrades (FastCGI carries
//!   neither);
//! - an abort (connection closed without `END_REQUEST`) shows as a
//!   truncated response, and a client that goes away makes nginx close
//!   the FastCGI connection, which drops the application's future.

use std::net::SocketAddr;
use std::sync::Arc;

use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
use gateway_hyper::rustls;
use rustls::pki_types::CertificateDer;

use crate::fastcgi::stack::{Stack, Via};

/// The body limit the server is given (nginx's own is 10 MiB).
const LIMIT: u64 = 64 * 1024;

/// How nginx reaches the server, and whether clients reach nginx over
/// HTTPS.
struct FastCgiBehindNginx {
    via: Via,
    tls: bool,
}

impl Adapter for FastCgiBehindNginx {
    fn name(&self) -> &str {
        match (self.via, self.tls) {
            (Via::Tcp, false) => "gateway-fastcgi behind nginx over TCP",
            (Via::Unix, false) => "gateway-fastcgi behind nginx over a Unix socket",
            (Via::Tcp, true) => "gateway-fastcgi behind nginx (HTTPS, h2 and h1) over TCP",
            (Via::Unix, true) => {
                "gateway-fastcgi behind nginx (HTTPS, h2 and h1) over a Unix socket"
            }
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .http2(self.tls)
            .exact_framing(false)
            .request_streaming(false)
            .max_body_size(LIMIT)
    }

    async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
        let (pems, client) = if self.tls {
            let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
            let mut roots = rustls::RootCertStore::empty();
            roots.add(CertificateDer::from(certified.cert.der().to_vec()))?;
            let client = rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let pems = (certified.cert.pem(), certified.key_pair.serialize_pem());
            (Some(pems), Some(Arc::new(client)))
        } else {
            (None, None)
        };
        let mut stack = Stack::start_with(self.via, battery, |s| s.max_body_size(LIMIT), pems)
            .await
            .ok_or("nginx cannot run")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], stack.port));
        let running = match client {
            Some(client) => Running::tcp(addr).tls(client, "localhost"),
            None => Running::tcp(addr),
        };
        Ok(running.on_stop(async move {
            stack.stop();
            stack.stopped().await;
            if std::thread::panicking() {
                eprintln!("--- nginx error log ---\n{}--- end ---", stack.error_log());
            }
        }))
    }
}

async fn conformance(via: Via, tls: bool) {
    if crate::nginx::nginx_binary().is_none() {
        return;
    }
    let report = gateway_conformance::run(&FastCgiBehindNginx { via, tls }).await;
    println!("{report}");
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_fastcgi_behind_nginx_over_tcp() {
    conformance(Via::Tcp, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_fastcgi_behind_nginx_over_a_unix_socket() {
    conformance(Via::Unix, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_fastcgi_behind_nginx_https_h2_and_h1_over_tcp() {
    conformance(Via::Tcp, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_fastcgi_behind_nginx_https_h2_and_h1_over_a_unix_socket() {
    conformance(Via::Unix, true).await;
}
