//! The server the declared-length tests run against (shared by the
//! `declared_length` and `length_warning` test binaries).

use std::time::Duration;

use gateway_core::{Environ, Error, fn_app, start};
use gateway_hyper::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) const LIMIT: Duration = Duration::from_secs(10);

pub(crate) struct Fixture {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A server whose routes announce a length and stream through a writer
/// (whose size is unknown): `/short` 3 of 10 bytes, `/long` 2 + 4 of 2,
/// `/exact` 2 + 3 of 5; `/next` answers `next`.
pub(crate) async fn serve() -> Fixture {
    let app = fn_app(|env: Environ| async move {
        let (length, chunks): (&'static str, &'static [&'static str]) = match env.path() {
            "/short" => ("10", &["abc"]),
            "/long" => ("2", &["ab", "INJECTED"]),
            "/exact" => ("5", &["ab", "cde"]),
            _ => return start(200, [("content-type", "text/plain")]).body("next"),
        };
        start(200, [("content-length", length)]).writer(move |mut w| async move {
            for chunk in chunks {
                w.write(*chunk).await?;
                // Separate writes reach the server separately.
                tokio::task::yield_now().await;
            }
            Ok::<_, Error>(())
        })
    });
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(app, async {
        let _ = stopped.await;
    }));
    Fixture { addr, stop, task }
}

impl Fixture {
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }

    /// Sends `first` and a pipelined `GET /next` on one keep-alive
    /// connection, and reads until the server closes it (or the client
    /// gives up after `LIMIT`, returning what it has).
    pub(crate) async fn pipelined(&self, first: &str) -> (String, bool) {
        let mut tcp = TcpStream::connect(self.addr).await.unwrap();
        let requests = format!(
            "GET {first} HTTP/1.1\r\nhost: a.test\r\n\r\nGET /next HTTP/1.1\r\nhost: a.test\r\n\r\n"
        );
        tcp.write_all(requests.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let closed = loop {
            match tokio::time::timeout(LIMIT, tcp.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break true,
                Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                Err(_) => break false,
            }
            // Both answered: nothing more is coming on a live connection.
            if String::from_utf8_lossy(&seen).ends_with("\r\n\r\nnext") {
                break false;
            }
        };
        (String::from_utf8_lossy(&seen).into_owned(), closed)
    }
}
