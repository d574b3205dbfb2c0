//! A toy HTTP/1.1 adapter on tokio, following `gateway_core::adapter_guide`,
//! with switches that break it on purpose: each breakage must fail the
//! kit's rule that names it, and the unbroken toy must pass.

mod h2;

pub(crate) use h2::ToyH2;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
use gateway_core::driver::{self, CommitHints};
use gateway_core::http::header::{CONTENT_LENGTH, UPGRADE};
use gateway_core::http::{Method, Request, StatusCode, Version};
use gateway_core::upgrade::{self, OnUpgrade, Upgraded};
use gateway_core::{Addr, Application, Body, ConnInfo, Environ};
use http_body::Body as _;
use http_body_util::BodyExt as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the toy gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Breakage {
    /// Nothing: the toy passes.
    None,
    /// Serves HEAD as GET, body and all.
    IgnoresHead,
    /// Ends a response whose body failed after the commit with the
    /// terminating chunk, as if it were complete.
    CompletesAfterError,
    /// Keeps the application's future (and body) when the client is gone.
    NeverDrops,
    /// Chunks every body, ignoring an exact size.
    AlwaysChunked,
    /// Calls the application without the driver: a panic takes the
    /// connection down.
    NoDriver,
    /// Writes the 101 but never runs the application's handler.
    DropsUpgrade,
}

/// The toy adapter with one breakage.
pub(crate) struct Toy(pub(crate) Breakage);

/// Futures and bodies a `NeverDrops` toy holds on to forever.
type Kept = Arc<Mutex<Vec<Box<dyn Send>>>>;

impl Adapter for Toy {
    fn name(&self) -> &str {
        "toy"
    }

    fn capabilities(&self) -> Capabilities {
        // Reads each request body whole before calling the application.
        Capabilities::new().request_streaming(false).upgrades(true)
    }

    async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app: &'static Battery = Box::leak(Box::new(battery));
        let breakage = self.0;
        let kept: Kept = Arc::default();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(serve(app, stream, breakage, kept));
            }
        });
        Ok(Running::tcp(addr).on_stop(async move { accept.abort() }))
    }
}

/// One connection: requests one after another until either side closes.
async fn serve(app: &'static Battery, mut stream: TcpStream, breakage: Breakage, kept: Kept) {
    let mut buf = Vec::new();
    loop {
        let Some(end) = read_head(&mut stream, &mut buf).await else {
            return;
        };
        let head: Vec<u8> = buf.drain(..end + 4).collect();
        let Some((mut parts, length, close)) = parse(&head) else {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        };
        while buf.len() < length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..length).collect();
        // An HTTP/1.1 upgrade: the stream goes to the handler after the 101.
        let (give_stream, stream_given) = tokio::sync::oneshot::channel::<TcpStream>();
        let upgrade = parts.version == Version::HTTP_11 && parts.headers.contains_key(UPGRADE);
        if breakage == Breakage::IgnoresHead && parts.method == Method::HEAD {
            parts.method = Method::GET;
        }
        let hints = CommitHints::from_head(&parts.method, parts.version, &parts.headers);
        let version = parts.version;
        let peer = stream.peer_addr().map_or(Addr::None, Addr::Tcp);
        let mut env = Environ::from_parts(parts, Body::from(body), ConnInfo::new(peer, Addr::None));
        if upgrade {
            env.set_upgrade(OnUpgrade::http1(async move {
                let stream = stream_given.await.map_err(|_| "no switch")?;
                Ok(Upgraded::new(stream))
            }));
        }

        let response: Pin<Box<dyn Future<Output = gateway_core::Response> + Send>> =
            if breakage == Breakage::NoDriver {
                Box::pin(async move {
                    match app.call(env).await {
                        Ok(res) => res,
                        Err(_) => {
                            let mut res = gateway_core::Response::new(Body::empty());
                            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                            res
                        }
                    }
                })
            } else {
                Box::pin(async move {
                    let Ok(res) = driver::commit(app, env).await;
                    res
                })
            };
        let Some(mut response) = until_gone(&stream, response, breakage, &kept).await else {
            return;
        };
        let switch = upgrade::take_switch(&mut response);
        if write(&mut stream, response, hints, version, breakage, &kept)
            .await
            .is_err()
            || close
        {
            return;
        }
        if let Some(switch) = switch {
            if breakage == Breakage::DropsUpgrade {
                drop(switch);
                continue;
            }
            let _ = give_stream.send(stream);
            switch.await;
            return;
        }
    }
}

/// Awaits `response` unless the client goes away first; then drops it (or
/// keeps it, when broken so).
async fn until_gone(
    stream: &TcpStream,
    mut response: Pin<Box<dyn Future<Output = gateway_core::Response> + Send>>,
    breakage: Breakage,
    kept: &Kept,
) -> Option<gateway_core::Response> {
    let mut peek = [0u8; 1];
    tokio::select! {
        res = &mut response => return Some(res),
        gone = stream.peek(&mut peek) => {
            if !matches!(gone, Ok(0) | Err(_)) {
                // A pipelined request, not a close: wait for the response.
                return Some(response.await);
            }
        }
    }
    if breakage == Breakage::NeverDrops {
        kept.lock().unwrap().push(Box::new(response));
    }
    None
}

/// Writes the committed response; `Err` when the connection must close.
async fn write(
    stream: &mut TcpStream,
    response: gateway_core::Response,
    hints: CommitHints,
    version: Version,
    breakage: Breakage,
    kept: &Kept,
) -> Result<(), ()> {
    let (res, mut body) = response.into_parts();
    let bodiless = hints.is_head()
        || res.status.is_informational()
        || res.status == StatusCode::NO_CONTENT
        || res.status == StatusCode::NOT_MODIFIED;
    let exact = body
        .size_hint()
        .exact()
        .filter(|_| breakage != Breakage::AlwaysChunked);
    let chunked = !bodiless && exact.is_none() && version == Version::HTTP_11;
    let mut out = format!("HTTP/1.1 {}\r\n", res.status).into_bytes();
    for (name, value) in &res.headers {
        if chunked && name == CONTENT_LENGTH {
            continue; // only when broken: the driver's lengths are exact
        }
        out.extend([name.as_str().as_bytes(), b": ", value.as_bytes(), b"\r\n"].concat());
    }
    if bodiless {
        out.extend(b"\r\n");
        return stream.write_all(&out).await.map_err(drop);
    }
    match exact {
        Some(n) if !res.headers.contains_key(CONTENT_LENGTH) => {
            out.extend(format!("content-length: {n}\r\n").as_bytes());
        }
        Some(_) => {}
        None if chunked => out.extend(b"transfer-encoding: chunked\r\n"),
        None => out.extend(b"connection: close\r\n"),
    }
    out.extend(b"\r\n");
    stream.write_all(&out).await.map_err(drop)?;
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(_)) => {
                if breakage == Breakage::CompletesAfterError && chunked {
                    let _ = stream.write_all(b"0\r\n\r\n").await;
                    return Ok(());
                }
                return Err(()); // abort: no terminating chunk
            }
        };
        let Ok(data): Result<Bytes, _> = frame.into_data() else {
            continue; // trailers are dropped
        };
        let written = if chunked {
            let mut piece = format!("{:x}\r\n", data.len()).into_bytes();
            piece.extend(&data);
            piece.extend(b"\r\n");
            stream.write_all(&piece).await
        } else {
            stream.write_all(&data).await
        };
        if written.is_err() {
            if breakage == Breakage::NeverDrops {
                kept.lock().unwrap().push(Box::new(body));
            }
            return Err(());
        }
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").await.map_err(drop)?;
    }
    if exact.is_none() && !chunked {
        return Err(()); // close-delimited: the close ends the body
    }
    Ok(())
}

/// Reads until `buf` holds a whole head; the offset of its blank line.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(end);
        }
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The request head, its body length and whether the connection closes
/// after it. Far too trusting for a network; enough for the kit.
fn parse(head: &[u8]) -> Option<(gateway_core::http::request::Parts, usize, bool)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let (method, target, version) = (start.next()?, start.next()?, start.next()?);
    let version = match version {
        "HTTP/1.0" => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let mut req = Request::builder()
        .method(method)
        .uri(target)
        .version(version);
    let (mut length, mut close) = (0, version == Version::HTTP_10);
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        }
        if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
        req = req.header(name, value);
    }
    let (parts, ()) = req.body(()).ok()?.into_parts();
    Some((parts, length, close))
}
