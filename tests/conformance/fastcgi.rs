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
//! - no HTTP/2 (the site listens on HTTP/1.1), no trailers, no upgrades
//!   (FastCGI carries neither);
//! - an abort (connection closed without `END_REQUEST`) shows as a
//!   truncated response, and a client that goes away makes nginx close
//!   the FastCGI connection, which drops the application's future.

use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
use std::net::SocketAddr;

use crate::fastcgi::stack::{Stack, Via};

/// The body limit the server is given (nginx's own is 10 MiB).
const LIMIT: u64 = 64 * 1024;

struct FastCgiBehindNginx(Via);

impl Adapter for FastCgiBehindNginx {
    fn name(&self) -> &str {
        match self.0 {
            Via::Tcp => "gateway-fastcgi behind nginx over TCP",
            Via::Unix => "gateway-fastcgi behind nginx over a Unix socket",
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .exact_framing(false)
            .request_streaming(false)
            .max_body_size(LIMIT)
    }

    async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
        let mut stack = Stack::start(self.0, battery, |s| s.max_body_size(LIMIT))
            .await
            .ok_or("nginx cannot run")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], stack.port));
        Ok(Running::tcp(addr).on_stop(async move {
            stack.stop();
            stack.stopped().await;
            if std::thread::panicking() {
                eprintln!("--- nginx error log ---\n{}--- end ---", stack.error_log());
            }
        }))
    }
}

async fn conformance(via: Via) {
    if crate::nginx::nginx_binary().is_none() {
        return;
    }
    let report = gateway_conformance::run(&FastCgiBehindNginx(via)).await;
    println!("{report}");
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_fastcgi_behind_nginx_over_tcp() {
    conformance(Via::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_fastcgi_behind_nginx_over_a_unix_socket() {
    conformance(Via::Unix).await;
}
