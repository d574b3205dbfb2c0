//! HTTPS with rustls (feature `tls`).

use std::sync::Arc;
use std::time::Duration;

use crate::conns::Activity;
use gateway_core::{Application, ConnInfo, Scheme};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::listener::Stream;
use crate::server::{Builders, serve_connection, serve_sniffed};
use crate::service::State;
use crate::sniff::Protocol;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    state: &'static State<A>,
    builders: &Builders,
    conn: ConnInfo,
    activity: Arc<Activity>,
) -> Result<(), BoxError> {
    let conn = conn.with_scheme(Scheme::Https, true);
    match stream {
        Stream::Tcp(io) => handshake(tls, io, state, builders, conn, activity).await,
        Stream::Unix(io) => handshake(tls, io, state, builders, conn, activity).await,
    }
}

async fn handshake<A, I>(
    tls: &Tls,
    io: I,
    state: &'static State<A>,
    builders: &Builders,
    conn: ConnInfo,
    activity: Arc<Activity>,
) -> Result<(), BoxError>
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
        Some(b"h2") => Some(Protocol::Http2),
        Some(_) => Some(Protocol::Http1),
        None => None,
    };
    match protocol {
        Some(protocol) => serve_connection(stream, protocol, state, builders, conn, activity).await,
        // No ALPN: the first bytes tell.
        None => serve_sniffed(stream, state, builders, conn, activity).await,
    }
}
