//! HTTPS with rustls (feature `tls`).
//!
//! ```no_run
//! # async fn run(config: gateway_hyper::rustls::ServerConfig) -> std::io::Result<()> {
//! use std::time::Duration;
//! use gateway_core::{fn_app, start};
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // ALPN offers h2 and http/1.1; a handshake must finish within 10 s.
//! gateway_hyper::Server::bind("0.0.0.0:443").await?
//!     .tls(config, Duration::from_secs(10))
//!     .serve(app)
//!     .await
//! # }
//! ```

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;

use crate::sniff::Protocol;

/// A server's TLS settings.
#[derive(Clone)]
pub(crate) struct Tls {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl Tls {
    pub(crate) fn new(mut config: ServerConfig, handshake_timeout: Duration) -> Tls {
        if config.alpn_protocols.is_empty() {
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        }
        Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            handshake_timeout,
        }
    }
}

impl Tls {
    /// Runs the server side of the handshake on `io`, within the
    /// handshake timeout.
    pub(crate) async fn handshake<I>(&self, io: I) -> io::Result<TlsStream<I>>
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(io)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}

/// The protocol ALPN chose, or `None` if the client offered none (its
/// first bytes then tell).
pub(crate) fn alpn<I>(stream: &TlsStream<I>) -> Option<Protocol> {
    match stream.get_ref().1.alpn_protocol()? {
        b"h2" => Some(Protocol::Http2),
        _ => Some(Protocol::Http1),
    }
}
