//! One accepted connection, from its first byte to its end: the TLS
//! handshake when the server has TLS, telling HTTP/1 from HTTP/2, then
//! hyper with the server's per-request service.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // Each connection to this port is served here, HTTP/1.1 or HTTP/2.
//! gateway_hyper::Server::bind("127.0.0.1:8000").await?.serve(app).await
//! # }
//! ```
//!
//! The accept loop ([`crate::server`]) hands each connection here and
//! knows nothing of protocols; TLS ([`crate::tls`]) only handshakes and
//! reports what ALPN chose.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::{Application, ConnInfo};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::conns::{Activity, Drive, GracefulConnection, StreamTasks};
use crate::io::Noted;
use crate::listener::Stream;
use crate::rate::MinDataRate;
use crate::service::{State, handle, handle_stream};
use crate::sniff::{self, Peeked, Protocol};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a connection that sent no (deciding) bytes in time was closed.
const NO_REQUEST: &str = "no request within the header-read timeout";

/// How a server speaks on its connections: hyper's builders for both
/// protocols, the header-read timeout and TLS.
pub(crate) struct Protocols {
    pub(crate) http1: http1::Builder,
    pub(crate) http2: http2::Builder<StreamTasks>,
    /// Also bounds the wait for a new connection's first bytes.
    pub(crate) header_read_timeout: Duration,
    pub(crate) min_response_rate: Option<MinDataRate>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::Tls>,
}

/// What serving one accepted connection needs, handed from the accept
/// loop down to hyper.
pub(crate) struct Accepted<A: 'static> {
    pub(crate) state: Arc<State<A>>,
    pub(crate) protocols: Arc<Protocols>,
    pub(crate) conn: ConnInfo,
    pub(crate) activity: Arc<Activity>,
}

/// Serves one accepted connection until it ends: TLS if configured, the
/// protocol, then hyper.
pub(crate) async fn serve<A: Application>(
    stream: Stream,
    accepted: Accepted<A>,
) -> Result<(), BoxError> {
    #[cfg(feature = "tls")]
    if let Some(tls) = accepted.protocols.tls.clone() {
        return match stream {
            Stream::Tcp(io) => serve_tls(&tls, io, accepted).await,
            Stream::Unix(io) => serve_tls(&tls, io, accepted).await,
        };
    }
    let timeout = accepted.protocols.header_read_timeout;
    // The protocol is told from the first bytes, which must come within the
    // header-read timeout like any request head.
    match stream {
        Stream::Tcp(io) => match tokio::time::timeout(timeout, sniff::peek_tcp(&io)).await {
            Ok(Ok(Peeked::Known(protocol))) => serve_protocol(io, protocol, accepted).await,
            Ok(Ok(Peeked::Ambiguous)) => serve_sniffed(io, accepted).await,
            Ok(Ok(Peeked::Closed)) => Ok(()),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => Err(NO_REQUEST.into()),
        },
        Stream::Unix(io) => serve_sniffed(io, accepted).await,
    }
}

/// Handshakes (within the timeout), then serves the protocol ALPN chose,
/// or the one the first bytes tell when the client offered none.
#[cfg(feature = "tls")]
async fn serve_tls<A, I>(
    tls: &crate::tls::Tls,
    io: I,
    mut accepted: Accepted<A>,
) -> Result<(), BoxError>
where
    A: Application,
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    accepted.conn = accepted.conn.with_scheme(gateway_core::Scheme::Https, true);
    let stream = tls.handshake(io).await?;
    match crate::tls::alpn(&stream) {
        Some(protocol) => serve_protocol(stream, protocol, accepted).await,
        None => serve_sniffed(stream, accepted).await,
    }
}

/// Serves a stream whose protocol is told by reading its first bytes
/// (under the header-read timeout), which are then replayed.
async fn serve_sniffed<A, I>(mut io: I, accepted: Accepted<A>) -> Result<(), BoxError>
where
    A: Application,
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let timeout = accepted.protocols.header_read_timeout;
    match tokio::time::timeout(timeout, sniff::read_first(&mut io)).await {
        Ok(Ok(Some((protocol, first)))) => {
            let io = sniff::Prefixed::new(first, io);
            serve_protocol(io, protocol, accepted).await
        }
        Ok(Ok(None)) => Ok(()),
        Ok(Err(err)) => Err(err.into()),
        Err(_) => Err(NO_REQUEST.into()),
    }
}

/// Serves one connection in the protocol it speaks, until it ends or the
/// registry tells it to finish (idle timeout or drain).
async fn serve_protocol<A, I>(
    io: I,
    protocol: Protocol,
    accepted: Accepted<A>,
) -> Result<(), BoxError>
where
    A: Application,
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Accepted {
        state,
        protocols,
        conn,
        activity,
    } = accepted;
    let requests = activity.clone();
    let io = Noted::new(
        TokioIo::new(io),
        activity.clone(),
        protocols.min_response_rate,
        conn.is_tls(),
    );
    match protocol {
        // hyper polls HTTP/1 requests in this task: they borrow the state
        // this task holds. With upgrades: a 101 hands the connection to
        // the application's handler (`crate::upgrade`), or to a hosted
        // service through `hyper::upgrade::on`; this task then ends.
        Protocol::Http1 => {
            let state = &*state;
            let service = service_fn(move |req| handle(state, req, conn, &requests));
            let connection = protocols
                .http1
                .serve_connection(io, service)
                .with_upgrades();
            Ok(Drive::new(connection, activity).await?)
        }
        // HTTP/2 streams run in tasks of their own.
        Protocol::Http2 => {
            let service = service_fn(move |req| handle_stream(&state, req, conn, &requests));
            let connection = protocols.http2.serve_connection(io, service);
            Ok(Drive::new(connection, activity).await?)
        }
    }
}

impl<I, B, S> GracefulConnection for http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<BoxError>,
{
    const LINGERS: bool = true;

    fn shut_down(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, B, S, E> GracefulConnection for http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = B>,
    S::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<BoxError>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    // GOAWAY tells the client which requests were taken; the rest it may
    // send again elsewhere.
    const LINGERS: bool = false;

    fn shut_down(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}
