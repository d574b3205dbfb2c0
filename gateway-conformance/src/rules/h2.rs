//! The HTTP/2 rules, through hyper's client (prior knowledge, or ALPN
//! under TLS).

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use super::{Check, Ctx, Rule, ensure, pattern, rule};
use crate::battery::{HELLO, STREAM, TRAILER, TRAILERS_BODY, UPGRADE_PROTOCOL};
use crate::wire::{H2, ReqBody, step};

pub(super) fn rules() -> Vec<Rule> {
    vec![
        rule!("h2/exact_length", [ExactFraming], Some(5), exact_length),
        rule!("h2/stream", [], Some(6), stream),
        rule!("h2/head_keeps_length", [], Some(4), head_keeps_length),
        rule!("h2/no_body_204", [], Some(4), no_body_204),
        rule!("h2/no_body_304", [], Some(4), no_body_304),
        rule!("h2/trailers", [Trailers], None, trailers),
        rule!("h2/error_before_commit", [], Some(6), error_before_commit),
        rule!(
            "h2/abort_after_commit",
            [Abort],
            Some(7),
            abort_after_commit
        ),
        rule!("h2/panic_isolated", [], Some(1), panic_isolated),
        rule!("h2/echo_body", [], None, echo_body),
        rule!(
            "h2/request_body_streamed",
            [RequestStreaming],
            None,
            request_body_streamed
        ),
        rule!("h2/body_limit", [BodyLimit], None, body_limit),
        rule!(
            "h2/disconnect_pending",
            [Disconnect],
            None,
            disconnect_pending
        ),
        rule!(
            "h2/disconnect_streaming",
            [Disconnect],
            None,
            disconnect_streaming
        ),
        rule!("h2/on_finish_completed", [], None, on_finish_completed),
        rule!("h2/path_invariant", [], None, path_invariant),
        rule!("h2/path_raw", [RawPath], None, path_raw),
        rule!("h2/upgrade_echo", [ExtendedConnect], Some(4), upgrade_echo),
    ]
}

/// A response with its whole body, or the error that ended the body.
struct Got {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Result<(Bytes, Option<http::HeaderMap>), String>,
}

impl Got {
    fn summary(&self) -> String {
        let body = match &self.body {
            Ok((data, _)) => format!("{:?}", String::from_utf8_lossy(data)),
            Err(e) => format!("body failed: {e}"),
        };
        format!("{} {:?} {body}", self.status.as_u16(), self.headers)
    }

    fn data(&self) -> &[u8] {
        self.body.as_ref().map_or(&[], |(d, _)| d)
    }
}

impl Ctx<'_> {
    fn h2_request(&self, method: Method, target: &str, body: ReqBody) -> Request<ReqBody> {
        let uri = format!("{}://{}{target}", self.scheme(), self.authority());
        let mut req = Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = uri.parse().expect("a valid URI");
        *req.version_mut() = http::Version::HTTP_2;
        req
    }

    async fn h2_send(
        &self,
        conn: &mut H2,
        req: Request<ReqBody>,
    ) -> Result<Response<Incoming>, String> {
        step("the connection to be ready", conn.send.ready())
            .await?
            .map_err(|e| format!("HTTP/2 connection failed: {e}"))?;
        let what = format!("{} {}", req.method(), req.uri().path());
        step("a response", conn.send.send_request(req))
            .await?
            .map_err(|e| format!("{what}: {e}"))
    }

    /// Sends a bodiless request for `path` and reads the whole response.
    async fn h2_get(
        &self,
        conn: &mut H2,
        method: Method,
        path: &str,
        id: u64,
    ) -> Result<Got, String> {
        let req = self.h2_request(method, &self.target(path, id), ReqBody::Full(None));
        let res = self.h2_send(conn, req).await?;
        read(res).await
    }
}

async fn read(res: Response<Incoming>) -> Result<Got, String> {
    let (parts, body) = res.into_parts();
    let body = match step("the body", body.collect()).await? {
        Ok(collected) => {
            let trailers = collected.trailers().cloned();
            Ok((collected.to_bytes(), trailers))
        }
        Err(e) => Err(e.to_string()),
    };
    Ok(Got {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

fn expect(got: &Got, status: u16, body: &[u8], what: &str) -> Check {
    ensure(
        got.status == status && got.body.is_ok() && got.data() == body,
        || {
            format!(
                "{what}: expected {status} {:?}, got {}",
                String::from_utf8_lossy(body),
                got.summary()
            )
        },
    )
}

async fn exact_length(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let got = c.h2_get(&mut conn, Method::GET, "/hello", c.id()).await?;
    expect(&got, 200, HELLO.as_bytes(), "GET /hello")?;
    let length = got.headers.get("content-length").map(|v| v.as_bytes());
    ensure(length == Some(HELLO.len().to_string().as_bytes()), || {
        format!(
            "expected content-length: {}: {}",
            HELLO.len(),
            got.summary()
        )
    })
}

async fn stream(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let got = c.h2_get(&mut conn, Method::GET, "/stream", c.id()).await?;
    expect(&got, 200, STREAM.concat().as_bytes(), "GET /stream")
}

async fn head_keeps_length(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let got = c.h2_get(&mut conn, Method::HEAD, "/hello", c.id()).await?;
    expect(&got, 200, b"", "HEAD /hello")?;
    let length = got.headers.get("content-length").map(|v| v.as_bytes());
    ensure(length == Some(HELLO.len().to_string().as_bytes()), || {
        format!(
            "HEAD must announce GET's content-length: {}: {}",
            HELLO.len(),
            got.summary()
        )
    })
}

async fn no_body_204(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let got = c
        .h2_get(&mut conn, Method::GET, "/status/204", c.id())
        .await?;
    expect(&got, 204, b"", "GET /status/204")?;
    ensure(!got.headers.contains_key("content-length"), || {
        format!("a 204 carries no content-length: {}", got.summary())
    })
}

async fn no_body_304(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let got = c
        .h2_get(&mut conn, Method::GET, "/status/304", c.id())
        .await?;
    expect(&got, 304, b"", "GET /status/304")
}

async fn trailers(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let got = c
        .h2_get(&mut conn, Method::GET, "/trailers", c.id())
        .await?;
    expect(&got, 200, TRAILERS_BODY.as_bytes(), "GET /trailers")?;
    let (name, value) = TRAILER;
    let trailers = got.body.as_ref().ok().and_then(|(_, t)| t.as_ref());
    ensure(
        trailers
            .and_then(|t| t.get(name))
            .is_some_and(|v| v == value),
        || format!("expected the trailer `{name}: {value}`, got {trailers:?}"),
    )
}

/// Serves on after `what` on the same connection.
async fn still_serves(c: &Ctx<'_>, conn: &mut H2, what: &str) -> Check {
    let got = c
        .h2_get(conn, Method::GET, "/hello", c.id())
        .await
        .map_err(|e| format!("the next request after {what}: {e}"))?;
    expect(
        &got,
        200,
        HELLO.as_bytes(),
        &format!("the next request after {what}"),
    )
}

async fn error_before_commit(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let got = c
        .h2_get(&mut conn, Method::GET, "/fail/before", c.id())
        .await?;
    ensure(got.status == 500 && got.body.is_ok(), || {
        format!(
            "a body failing before the commit must become a complete 500: {}",
            got.summary()
        )
    })?;
    still_serves(c, &mut conn, "the 500").await
}

async fn abort_after_commit(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let req = c.h2_request(
        Method::GET,
        &c.target("/fail/after", c.id()),
        ReqBody::Full(None),
    );
    let res = match c.h2_send(&mut conn, req).await {
        Ok(res) => res,
        // Reset before the head went out (rule 7: "or none at all").
        Err(_) => return still_serves(c, &mut conn, "the reset stream").await,
    };
    let got = read(res).await?;
    ensure(got.body.is_err() || got.status.is_server_error(), || {
        format!(
            "the body failed after the commit, yet the stream ended cleanly (expected a reset): {}",
            got.summary()
        )
    })?;
    still_serves(c, &mut conn, "the reset stream").await
}

async fn panic_isolated(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let got = c.h2_get(&mut conn, Method::GET, "/panic", c.id()).await?;
    ensure(got.status == 500, || {
        format!("a panic must become a 500: {}", got.summary())
    })?;
    still_serves(c, &mut conn, "a panic").await
}

async fn echo_body(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let body = Bytes::from(pattern(10_000));
    let req = c.h2_request(
        Method::POST,
        &c.target("/echo", c.id()),
        ReqBody::Full(Some(body.clone())),
    );
    let got = read(c.h2_send(&mut conn, req).await?).await?;
    expect(&got, 200, &body, "POST /echo")
}

async fn request_body_streamed(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let id = c.id();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let req = c.h2_request(Method::POST, &c.target("/count", id), ReqBody::Channel(rx));
    step("the connection to be ready", conn.send.ready())
        .await?
        .map_err(|e| format!("HTTP/2 connection failed: {e}"))?;
    let response = conn.send.send_request(req);
    let _ = tx.send(Bytes::from(pattern(1000))).await;
    let mut response = std::pin::pin!(response);
    // Drive the request while waiting for the application to read.
    let observed = tokio::select! {
        observed = c.observe(id, "read ", "the application did not read the first piece of the body while the rest was held back (is the body buffered?)") => observed,
        res = &mut response => return Err(format!("answered before the body ended: {:?}", res.map(|r| r.status()))),
    };
    observed?;
    let _ = tx.send(Bytes::from(pattern(500))).await;
    drop(tx);
    let res = step("a response", response)
        .await?
        .map_err(|e| format!("POST /count: {e}"))?;
    let got = read(res).await?;
    expect(&got, 200, b"1500", "POST /count of 1500 bytes")
}

async fn body_limit(c: &Ctx<'_>) -> Check {
    let limit = c.caps.max_body_size.unwrap_or_default();
    let mut conn = H2::connect(c.running).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let req = c.h2_request(
        Method::POST,
        &c.target("/count", c.id()),
        ReqBody::Channel(rx),
    );
    // Feed the body (no length announced) until the server refuses it.
    let feed = tokio::spawn(async move {
        let chunk = Bytes::from(pattern(16 * 1024));
        let mut sent = 0;
        while sent <= limit {
            if tx.send(chunk.clone()).await.is_err() {
                return;
            }
            sent += chunk.len() as u64;
        }
    });
    let res = c.h2_send(&mut conn, req).await;
    feed.abort();
    let status = res?.status();
    ensure(status == 413, || {
        format!("a streamed body over the limit of {limit} bytes must get 413, got {status}")
    })
}

async fn disconnect_pending(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let id = c.id();
    let req = c.h2_request(Method::GET, &c.target("/hang", id), ReqBody::Full(None));
    step("the connection to be ready", conn.send.ready())
        .await?
        .map_err(|e| format!("HTTP/2 connection failed: {e}"))?;
    let response = conn.send.send_request(req);
    let observed = {
        let mut response = std::pin::pin!(response);
        tokio::select! {
            observed = c.observe(id, "started", "GET /hang") => observed,
            res = &mut response => Err(format!("GET /hang was answered: {:?}", res.map(|r| r.status()))),
        }
        // Dropping the response future resets the stream (CANCEL).
    };
    observed?;
    c.observe(
        id,
        "dropped",
        "the stream was reset; the application future was not dropped",
    )
    .await
    .map(drop)
}

async fn disconnect_streaming(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let id = c.id();
    let req = c.h2_request(Method::GET, &c.target("/drip", id), ReqBody::Full(None));
    let res = c.h2_send(&mut conn, req).await?;
    ensure(res.status() == 200, || {
        format!("GET /drip: {}", res.status())
    })?;
    let mut body = res.into_body();
    let _ = step("the first chunk", body.frame()).await?;
    drop(body); // resets the stream
    c.observe(
        id,
        "dropped",
        "the stream was reset; the streaming body was not dropped",
    )
    .await?;
    c.observe(id, "finish aborted", "the body's on_finish")
        .await
        .map(drop)
}

async fn on_finish_completed(c: &Ctx<'_>) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let id = c.id();
    let got = c.h2_get(&mut conn, Method::GET, "/finish", id).await?;
    expect(&got, 200, STREAM.concat().as_bytes(), "GET /finish")?;
    let event = c.observe(id, "finish ", "the body's on_finish").await?;
    let expected = format!("finish completed {}", STREAM.concat().len());
    ensure(event == expected, || {
        format!("on_finish reported `{event}`, expected `{expected}`")
    })
}

async fn path_invariant(c: &Ctx<'_>) -> Check {
    check_path(c, "/path/a/b.txt").await
}

async fn path_raw(c: &Ctx<'_>) -> Check {
    check_path(c, "/path/a%2Fb/c%20d;e").await
}

async fn check_path(c: &Ctx<'_>, path: &str) -> Check {
    let mut conn = H2::connect(c.running).await?;
    let target = c.target(path, c.id());
    let req = c.h2_request(Method::GET, &target, ReqBody::Full(None));
    let got = read(c.h2_send(&mut conn, req).await?).await?;
    ensure(got.status == 200, || {
        format!("GET {target}: {}", got.summary())
    })?;
    super::path_split(c, &target, &String::from_utf8_lossy(got.data()))
}

/// An HTTP/2 extended CONNECT: 200, then raw bytes both ways over the
/// stream; the handler ends when the client ends its side.
async fn upgrade_echo(c: &Ctx<'_>) -> Check {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = H2::connect(c.running).await?;
    let id = c.id();
    let mut req = c.h2_request(
        Method::CONNECT,
        &c.target("/upgrade", id),
        ReqBody::Full(None),
    );
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static(UPGRADE_PROTOCOL));
    let res = c.h2_send(&mut conn, req).await?;
    ensure(res.status() == StatusCode::OK, || {
        format!(
            "an extended CONNECT got {} {:?}",
            res.status(),
            res.headers()
        )
    })?;
    let upgraded = step("the upgraded stream", hyper::upgrade::on(res))
        .await?
        .map_err(|e| format!("no upgraded stream after the 200: {e}"))?;
    let mut io = hyper_util::rt::TokioIo::new(upgraded);
    for message in [&b"ping over the CONNECT stream"[..], &pattern(20_000)] {
        step("a write", io.write_all(message))
            .await?
            .map_err(|e| format!("write over the CONNECT stream: {e}"))?;
        let mut back = vec![0; message.len()];
        step("the echo", io.read_exact(&mut back))
            .await?
            .map_err(|e| format!("read over the CONNECT stream: {e}"))?;
        ensure(back == message, || {
            format!(
                "sent {} bytes over the CONNECT stream, got others back",
                message.len()
            )
        })?;
    }
    let _ = step("a shutdown", io.shutdown()).await;
    c.observe(
        id,
        "handler ended",
        "the client ended the CONNECT stream; the handler did not end",
    )
    .await
    .map(drop)
}
