//! The raw hyper baselines (`raw`, `raw-minimal`, `raw-direct`, `bare`,
//! and the `raw-body`/`raw-environ`/`raw-driver` ablations): the hello
//! example's routes and bytes written as plain hyper code, served the way
//! each kind's row in BENCHMARKS.md describes.
//!
//! ```text
//! bench-server raw-direct 127.0.0.1:8000
//! ```

use std::convert::Infallible;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::HEADER_READ_TIMEOUT;

/// The status the hello example answers a method and path with, when it
/// does not answer with its greeting (it also echoes on `POST /echo`,
/// which these benchmarks do not send).
pub(crate) fn hello_route(method: &http::Method, path: &str) -> Option<u16> {
    match (method, path) {
        (&http::Method::GET | &http::Method::HEAD, "/") => None,
        (_, "/" | "/echo") => Some(405),
        _ => Some(404),
    }
}

/// The hello example's response for a route, with the body of type `B`
/// made from the greeting or from nothing.
pub(crate) fn hello_response<B>(
    status: Option<u16>,
    body: impl Fn(&'static str) -> B,
) -> http::Response<B> {
    let res = match status {
        None => http::Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .body(body(gateway_examples::hello::GREETING)),
        Some(status) => http::Response::builder().status(status).body(body("")),
    };
    // Both heads are valid, so this never falls back.
    res.unwrap_or_else(|_| http::Response::new(body("")))
}

/// The baseline handler, written as plainly as raw hyper code is (kept
/// apart from the ablations' shared helper, which costs it ~70
/// instructions per request).
pub(crate) async fn hello(
    req: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let res = match hello_route(req.method(), req.uri().path()) {
        None => http::Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from_static(
                gateway_examples::hello::GREETING.as_bytes(),
            ))),
        Some(status) => http::Response::builder()
            .status(status)
            .body(Full::new(Bytes::new())),
    };
    Ok(res.unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new()))))
}

/// The content type of [`hello_minimal`]'s greeting, built at compile time.
const TEXT_PLAIN: http::HeaderValue = http::HeaderValue::from_static("text/plain; charset=utf-8");

/// [`Kind::RawMinimal`]'s handler: the greeting and a static header value,
/// whatever the request.
pub(crate) async fn hello_minimal(
    _req: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let mut res = http::Response::new(Full::new(Bytes::from_static(
        gateway_examples::hello::GREETING.as_bytes(),
    )));
    res.headers_mut()
        .insert(http::header::CONTENT_TYPE, TEXT_PLAIN);
    Ok(res)
}

pub(crate) async fn hello_body(
    req: http::Request<Incoming>,
) -> Result<http::Response<gateway_core::Body>, Infallible> {
    let status = hello_route(req.method(), req.uri().path());
    Ok(hello_response(status, gateway_core::Body::from))
}

pub(crate) async fn hello_environ(
    env: gateway_core::Environ,
) -> Result<http::Response<gateway_core::Body>, Infallible> {
    let status = hello_route(env.method(), env.path_info());
    Ok(hello_response(status, gateway_core::Body::from))
}

/// `hello_environ` as an `Application`.
pub(crate) struct HelloEnviron;

impl gateway_core::Application for HelloEnviron {
    async fn call(
        &self,
        env: gateway_core::Environ,
    ) -> Result<gateway_core::Response, gateway_core::Error> {
        let Ok(res) = hello_environ(env).await;
        Ok(res)
    }
}

pub(crate) async fn serve_raw<S, B>(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
    service: S,
) -> io::Result<()>
where
    S: hyper::service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = std::sync::Arc::new(auto_builder());
    let (drain, _) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service.clone())
            .into_owned();
        let mut draining = drain.subscribe();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let _ = tokio::select! {
                biased;
                result = conn.as_mut() => result,
                _ = draining.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
        });
    }
    drain.send_replace(());
    drain.closed().await;
    Ok(())
}

/// hyper-util's auto builder (HTTP/1.1 and HTTP/2 prior knowledge) with
/// gateway-hyper's default timer, header-read timeout and limits.
pub(crate) fn auto_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(200)
        .max_pending_accept_reset_streams(20)
        .max_header_list_size(64 * 1024)
        .keep_alive_timeout(Duration::from_secs(20))
        .max_send_buf_size(400 * 1024);
    builder
}

/// [`Kind::RawMinimal`]: [`serve_raw`]'s connections without its drain,
/// serving [`hello_minimal`]. Shutdown stops accepting; open connections
/// end with the runtime.
pub(crate) async fn serve_raw_minimal(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> io::Result<()> {
    let builder = std::sync::Arc::new(auto_builder());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service_fn(hello_minimal))
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    Ok(())
}

pub(crate) async fn serve_raw_direct(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> io::Result<()> {
    use hyper::server::conn::{http1, http2};
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut h1 = http1::Builder::new();
    h1.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(64 * 1024);
    let mut h2 = http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new())
        .max_concurrent_streams(200)
        .max_pending_accept_reset_streams(20)
        .max_header_list_size(64 * 1024)
        .keep_alive_timeout(Duration::from_secs(20))
        .max_send_buf_size(400 * 1024);
    let (h1, h2) = (std::sync::Arc::new(h1), std::sync::Arc::new(h2));
    let (drain, _) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        let (h1, h2) = (h1.clone(), h2.clone());
        let mut draining = drain.subscribe();
        tokio::spawn(async move {
            let mut first = [0u8; 24];
            let Ok(Ok(n)) =
                tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first)).await
            else {
                return;
            };
            let io = TokioIo::new(stream);
            if first[..n] == *PREFACE {
                let conn = h2.serve_connection(io, service_fn(hello));
                let mut conn = std::pin::pin!(conn);
                let _ = tokio::select! {
                    biased;
                    result = conn.as_mut() => result,
                    _ = draining.changed() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
            } else {
                let conn = h1.serve_connection(io, service_fn(hello)).with_upgrades();
                let mut conn = std::pin::pin!(conn);
                let _ = tokio::select! {
                    biased;
                    result = conn.as_mut() => result,
                    _ = draining.changed() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
            }
        });
    }
    drain.send_replace(());
    drain.closed().await;
    Ok(())
}

pub(crate) async fn serve_bare(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
    Ok(())
}
