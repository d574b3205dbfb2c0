//! HTTPS with rustls (feature `tls`).

use std::sync::Arc;
use std::time::Duration;

use gateway_core::{Application, Scheme};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::listener::Stream;
use crate::server::{Accepted, BoxError, serve_connection, serve_sniffed};
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

/// Handshakes (within the timeout), then serves the protocol ALPN chose.
pub(crate) async fn connection<A: Application>(
    tls: &Tls,
    stream: Stream,
    mut accepted: Accepted<A>,
) -> Result<(), BoxError> {
    accepted.conn = accepted.conn.with_scheme(Scheme::Https, true);
    match stream {
        Stream::Tcp(io) => handshake(tls, io, accepted).await,
        Stream::Unix(io) => handshake(tls, io, accepted).await,
    }
}

async fn handshake<A, I>(tls: &Tls, io: I, accepted: Accepted<A>) -> Result<(), BoxError>
where
    A: Application,
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let stream = match tokio::time::timeout(tls.handshake_timeout, tls.acceptor.accept(io)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => return Err(err.into()),
        Err(_) => return Err("TLS handshake timed out".into()),
    };
    let protocol = match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => Protocol::Http2,
        Some(_) => Protocol::Http1,
        // No ALPN: the first bytes tell.
        None => return serve_sniffed(stream, accepted).await,
    };
    serve_connection(stream, protocol, accepted).await
}
