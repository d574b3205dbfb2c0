//! The HTTP/1.1 rules: raw requests over the socket, framing read as sent.

use std::time::Duration;

use super::{Check, Ctx, Rule, ensure, pattern, rule};
use crate::battery::{HELLO, PARTIAL, STREAM, TRAILER, TRAILERS_BODY, UPGRADE_PROTOCOL};
use crate::wire::{Framing, H1, H1Response};

pub(super) fn rules() -> Vec<Rule> {
    vec![
        rule!("h1/request_in_one_write", [], None, request_in_one_write),
        rule!("h1/request_in_pieces", [], None, request_in_pieces),
        rule!("h1/pipelined_requests", [KeepAlive], None, pipelined),
        rule!("h1/exact_length", [ExactFraming], Some(5), exact_length),
        rule!("h1/stream_chunked", [ExactFraming], Some(6), stream_chunked),
        rule!(
            "h1/http10_close_delimited",
            [ExactFraming],
            Some(7),
            http10_close_delimited
        ),
        rule!("h1/head_keeps_length", [], Some(4), head_keeps_length),
        rule!("h1/head_of_stream", [], Some(4), head_of_stream),
        rule!("h1/no_body_204", [], Some(4), no_body_204),
        rule!("h1/no_body_304", [], Some(4), no_body_304),
        rule!("h1/trailers", [Trailers], None, trailers),
        rule!("h1/error_before_commit", [], Some(6), error_before_commit),
        rule!(
            "h1/abort_after_commit",
            [Abort],
            Some(7),
            abort_after_commit
        ),
        rule!("h1/panic_isolated", [], Some(1), panic_isolated),
        rule!("h1/echo_body", [], None, echo_body),
        rule!(
            "h1/request_body_streamed",
            [RequestStreaming],
            None,
            request_body_streamed
        ),
        rule!("h1/body_limit", [BodyLimit], None, body_limit),
        rule!(
            "h1/chunked_request_body",
            [ChunkedRequests],
            None,
            chunked_request_body
        ),
        rule!(
            "h1/chunked_body_limit",
            [ChunkedRequests, BodyLimit],
            None,
            chunked_body_limit
        ),
        rule!(
            "h1/disconnect_pending",
            [Disconnect],
            None,
            disconnect_pending
        ),
        rule!(
            "h1/disconnect_streaming",
            [Disconnect],
            None,
            disconnect_streaming
        ),
        rule!("h1/on_finish_completed", [], None, on_finish_completed),
        rule!("h1/on_finish_aborted", [], Some(7), on_finish_aborted),
        rule!("h1/path_invariant", [], None, path_invariant),
        rule!("h1/path_raw", [RawPath], None, path_raw),
        rule!("h1/upgrade_echo", [Upgrades], Some(2), upgrade_echo),
        rule!("h1/upgrade_refused", [NoUpgrades], Some(2), upgrade_refused),
    ]
}

impl Ctx<'_> {
    async fn h1(&self) -> Result<H1, String> {
        H1::connect(self.running, self.caps.status_field).await
    }

    /// A bodiless request for battery route `path`.
    fn request(&self, method: &str, path: &str, id: u64, extra: &str) -> String {
        self.request_target(method, &self.target(path, id), extra)
    }

    fn request_target(&self, method: &str, target: &str, extra: &str) -> String {
        let close = if self.caps.keep_alive {
            ""
        } else {
            "connection: close\r\n"
        };
        format!(
            "{method} {target} HTTP/1.1\r\nhost: {}\r\n{close}{extra}\r\n",
            self.authority()
        )
    }

    /// Sends a request with `body` on `conn`: with the head in one write,
    /// or after the adapter's `100 Continue` when it needs that.
    async fn send_with_body(&self, conn: &mut H1, path: &str, id: u64, body: &[u8]) -> Check {
        let length = format!("content-length: {}\r\n", body.len());
        if !self.caps.body_after_continue {
            let mut bytes = self.request("POST", path, id, &length).into_bytes();
            bytes.extend_from_slice(body);
            return conn.send(&bytes).await;
        }
        let head = self.request(
            "POST",
            path,
            id,
            &format!("{length}expect: 100-continue\r\n"),
        );
        conn.send(head.as_bytes()).await?;
        let (status, _) = conn.head().await?;
        ensure(status == 100, || {
            format!("expected 100 Continue before the body, got {status}")
        })?;
        conn.send(body).await
    }

    /// The next request after `res` on the same connection still works:
    /// on `conn` when connections are kept alive, else on a new one.
    async fn still_serves(&self, conn: H1, res: &H1Response, after: &str) -> Check {
        let mut conn = if self.caps.keep_alive {
            ensure(!res.closed, || {
                format!("the connection closed after {after}: {}", res.summary())
            })?;
            conn
        } else {
            self.h1().await?
        };
        let id = self.id();
        conn.send(self.request("GET", "/hello", id, "").as_bytes())
            .await
            .map_err(|e| format!("after {after}: {e}"))?;
        let next = conn
            .response(false)
            .await
            .map_err(|e| format!("the next request after {after}: {e}"))?;
        ensure(next.status == 200 && next.body == HELLO.as_bytes(), || {
            format!("the next request after {after} got {}", next.summary())
        })
    }
}

fn expect_hello(res: &H1Response) -> Check {
    ensure(res.status == 200 && res.body == HELLO.as_bytes(), || {
        format!("GET /hello: expected 200 {HELLO:?}, got {}", res.summary())
    })
}

/// The whole request in one write.
async fn request_in_one_write(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("GET", "/hello", c.id(), "").as_bytes())
        .await?;
    expect_hello(&conn.response(false).await?)
}

/// The head arrives in pieces, with pauses in between.
async fn request_in_pieces(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let request = c.request("GET", "/hello", c.id(), "x-conformance: pieces\r\n");
    let bytes = request.as_bytes();
    let cuts = [
        0,
        3,
        9,
        bytes.len() / 2,
        bytes.len() - 3,
        bytes.len() - 1,
        bytes.len(),
    ];
    for piece in cuts.windows(2) {
        conn.send(&bytes[piece[0]..piece[1]]).await?;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    expect_hello(&conn.response(false).await?)
}

/// Two requests in one write get two responses, in order.
async fn pipelined(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let mut both = c.request("GET", "/hello", c.id(), "");
    both.push_str(&c.request("GET", "/stream", c.id(), ""));
    conn.send(both.as_bytes()).await?;
    expect_hello(&conn.response(false).await?)?;
    let second = conn.response(false).await?;
    ensure(
        second.status == 200 && second.body == STREAM.concat().as_bytes(),
        || format!("the second pipelined response: {}", second.summary()),
    )
}

/// A body of exactly known size is framed by its exact `Content-Length`.
async fn exact_length(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("GET", "/hello", c.id(), "").as_bytes())
        .await?;
    let res = conn.response(false).await?;
    expect_hello(&res)?;
    ensure(
        res.framing
            == Framing::Length {
                len: HELLO.len() as u64,
                complete: true,
            }
            && !res.is_chunked(),
        || {
            format!(
                "expected Content-Length: {} and no chunking: {}",
                HELLO.len(),
                res.summary()
            )
        },
    )
}

/// A body of unknown size is chunked (HTTP/1.1), never close-delimited.
async fn stream_chunked(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("GET", "/stream", c.id(), "").as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(
        res.status == 200 && res.body == STREAM.concat().as_bytes(),
        || format!("GET /stream: {}", res.summary()),
    )?;
    ensure(
        res.framing == Framing::Chunked { complete: true } && !res.has("content-length"),
        || {
            format!(
                "expected chunked framing without Content-Length: {}",
                res.summary()
            )
        },
    )
}

/// An HTTP/1.0 request: no chunking; a body of unknown size ends with the
/// connection.
async fn http10_close_delimited(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let request = format!(
        "GET {} HTTP/1.0\r\nhost: {}\r\n\r\n",
        c.target("/stream", c.id()),
        c.authority()
    );
    conn.send(request.as_bytes()).await?;
    let res = conn.response(false).await?;
    ensure(!res.is_chunked(), || {
        format!("chunked answer to an HTTP/1.0 request: {}", res.summary())
    })?;
    ensure(
        res.status == 200 && res.body == STREAM.concat().as_bytes(),
        || format!("GET /stream over HTTP/1.0: {}", res.summary()),
    )?;
    if res.framing == Framing::Close {
        ensure(res.closed, || {
            "close-delimited, yet the connection stayed open".to_owned()
        })?;
    }
    Ok(())
}

/// HEAD gets GET's `Content-Length` and no body.
async fn head_keeps_length(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("HEAD", "/hello", c.id(), "").as_bytes())
        .await?;
    let res = conn.response(true).await?;
    ensure(res.status == 200, || {
        format!("HEAD /hello: {}", res.summary())
    })?;
    ensure(
        res.header("content-length") == Some(&HELLO.len().to_string()),
        || {
            format!(
                "HEAD must announce GET's Content-Length: {}: {}",
                HELLO.len(),
                res.summary()
            )
        },
    )?;
    no_stray_body(c, conn, &res, "HEAD /hello").await
}

/// HEAD of a streamed body: no body bytes, not even a last chunk.
async fn head_of_stream(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("HEAD", "/stream", c.id(), "").as_bytes())
        .await?;
    let res = conn.response(true).await?;
    ensure(res.status == 200, || {
        format!("HEAD /stream: {}", res.summary())
    })?;
    no_stray_body(c, conn, &res, "HEAD /stream").await
}

async fn no_body_204(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("GET", "/status/204", c.id(), "").as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(res.status == 204, || {
        format!("GET /status/204: {}", res.summary())
    })?;
    ensure(
        !res.has("content-length") && !res.has("transfer-encoding"),
        || {
            format!(
                "a 204 carries no Content-Length or Transfer-Encoding: {}",
                res.summary()
            )
        },
    )?;
    no_stray_body(c, conn, &res, "a 204").await
}

async fn no_body_304(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("GET", "/status/304", c.id(), "").as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(res.status == 304, || {
        format!("GET /status/304: {}", res.summary())
    })?;
    ensure(!res.has("transfer-encoding"), || {
        format!("a 304 carries no Transfer-Encoding: {}", res.summary())
    })?;
    no_stray_body(c, conn, &res, "a 304").await
}

/// After a bodiless response, no byte follows; the connection serves on.
async fn no_stray_body(c: &Ctx<'_>, mut conn: H1, res: &H1Response, what: &str) -> Check {
    let stray = if c.caps.keep_alive {
        conn.stray_bytes(Duration::from_millis(100)).await?
    } else {
        conn.until_close().await?
    };
    ensure(stray.is_empty(), || {
        format!(
            "bytes after {what}, which has no body: {:?}",
            String::from_utf8_lossy(&stray)
        )
    })?;
    c.still_serves(conn, res, what).await
}

async fn trailers(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(
        c.request("GET", "/trailers", c.id(), "te: trailers\r\n")
            .as_bytes(),
    )
    .await?;
    let res = conn.response(false).await?;
    ensure(
        res.status == 200 && res.body == TRAILERS_BODY.as_bytes(),
        || format!("GET /trailers: {}", res.summary()),
    )?;
    let (name, value) = TRAILER;
    ensure(
        res.trailers.iter().any(|(n, v)| n == name && v == value),
        || {
            format!(
                "expected the trailer `{name}: {value}`, got {:?} ({})",
                res.trailers,
                res.summary()
            )
        },
    )
}

/// A body that fails before its first byte: a clean, complete 500, and
/// the connection serves on.
async fn error_before_commit(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("GET", "/fail/before", c.id(), "").as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(res.status == 500, || {
        format!(
            "a body failing before the commit must become a 500: {}",
            res.summary()
        )
    })?;
    let complete = match res.framing {
        Framing::Length { complete, .. } | Framing::Chunked { complete } => complete,
        Framing::Close => res.closed,
        Framing::None => false,
    };
    ensure(complete, || {
        format!("the 500 is not complete: {}", res.summary())
    })?;
    c.still_serves(conn, &res, "the 500").await
}

/// A body that fails after the commit: the client sees a truncated
/// response, never a complete-looking one.
async fn abort_after_commit(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("GET", "/fail/after", c.id(), "").as_bytes())
        .await?;
    let res = match conn.response(false).await {
        Ok(res) => res,
        // Closed before the head went out (rule 7: "or none at all").
        Err(e) if e.contains("closed before a response") => return Ok(()),
        Err(e) => return Err(e),
    };
    if res.status >= 500 {
        // An adapter that buffered the body could still answer with an
        // error: not a short success either.
        return Ok(());
    }
    match res.framing {
        Framing::Length {
            complete: false, ..
        }
        | Framing::Chunked { complete: false } => ensure(
            res.body.starts_with(PARTIAL.as_bytes()) || res.body.is_empty(),
            || format!("unexpected bytes before the abort: {}", res.summary()),
        ),
        Framing::Close => Err(format!(
            "close-delimited: the client cannot tell the truncation from the end: {}",
            res.summary()
        )),
        _ => Err(format!(
            "the body failed after the commit, yet the response looks complete: {}",
            res.summary()
        )),
    }
}

/// A panic becomes a 500 and the server serves on.
async fn panic_isolated(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    conn.send(c.request("GET", "/panic", c.id(), "").as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(res.status == 500, || {
        format!(
            "a panicking application must become a 500: {}",
            res.summary()
        )
    })?;
    c.still_serves(conn, &res, "a panic").await
}

async fn echo_body(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let body = pattern(10_000);
    c.send_with_body(&mut conn, "/echo", c.id(), &body).await?;
    let res = conn.response(false).await?;
    ensure(res.status == 200 && res.body == body, || {
        format!("POST /echo of {} bytes: {}", body.len(), res.summary())
    })
}

/// The application reads the first piece of the body before the rest is
/// sent.
async fn request_body_streamed(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let id = c.id();
    let (first, rest) = (pattern(1000), pattern(500));
    let length = format!("content-length: {}\r\n", first.len() + rest.len());
    if c.caps.body_after_continue {
        let head = c.request(
            "POST",
            "/count",
            id,
            &format!("{length}expect: 100-continue\r\n"),
        );
        conn.send(head.as_bytes()).await?;
        let (status, _) = conn.head().await?;
        ensure(status == 100, || {
            format!("expected 100 Continue, got {status}")
        })?;
        conn.send(&first).await?;
    } else {
        let mut bytes = c.request("POST", "/count", id, &length).into_bytes();
        bytes.extend_from_slice(&first);
        conn.send(&bytes).await?;
    }
    c.observe(id, "read ", "the application did not read the first piece of the body while the rest was held back (is the body buffered?)")
        .await?;
    conn.send(&rest).await?;
    let res = conn.response(false).await?;
    ensure(res.status == 200 && res.text() == "1500", || {
        format!("POST /count of 1500 bytes: {}", res.summary())
    })
}

/// A body over the adapter's limit gets 413.
async fn body_limit(c: &Ctx<'_>) -> Check {
    let limit = c.caps.max_body_size.unwrap_or_default();
    let mut conn = c.h1().await?;
    let id = c.id();
    let head = c.request(
        "POST",
        "/count",
        id,
        &format!("content-length: {}\r\nexpect: 100-continue\r\n", limit + 1),
    );
    conn.send(head.as_bytes()).await?;
    // An adapter may ignore `Expect`: like curl, send the body after a
    // second without an answer.
    let interim = tokio::time::timeout(Duration::from_secs(1), conn.head()).await;
    let status = match interim {
        Ok(head) => head?.0,
        Err(_) => 100,
    };
    let status = if status == 100 {
        // The adapter lets the body come: send it all, then read.
        let chunk = pattern(64 * 1024);
        let mut left = limit + 1;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if conn.send(&chunk[..n]).await.is_err() {
                break; // refused part-way: the response says how
            }
            left -= n as u64;
        }
        conn.response(false).await?.status
    } else {
        status
    };
    ensure(status == 413, || {
        format!(
            "a body of {} bytes over a limit of {limit} must get 413, got {status}",
            limit + 1
        )
    })
}

/// `data` as one chunk of a chunked body.
fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// A chunked request body, sent in pieces, arrives whole.
async fn chunked_request_body(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let head = c.request("POST", "/count", c.id(), "transfer-encoding: chunked\r\n");
    conn.send(head.as_bytes()).await?;
    for size in [1000, 1, 4000] {
        conn.send(&chunk(&pattern(size))).await?;
    }
    conn.send(b"0\r\n\r\n").await?;
    let res = conn.response(false).await?;
    ensure(res.status == 200 && res.text() == "5001", || {
        format!("POST /count of 5001 bytes, chunked: {}", res.summary())
    })?;
    c.still_serves(conn, &res, "a chunked request").await
}

/// A chunked body over the limit gets 413: the limit is counted as the
/// body streams.
async fn chunked_body_limit(c: &Ctx<'_>) -> Check {
    let limit = c.caps.max_body_size.unwrap_or_default();
    let mut conn = c.h1().await?;
    let head = c.request("POST", "/count", c.id(), "transfer-encoding: chunked\r\n");
    conn.send(head.as_bytes()).await?;
    let piece = chunk(&pattern(16 * 1024));
    let mut sent = 0;
    while sent <= limit {
        if conn.send(&piece).await.is_err() {
            break; // refused part-way: the response says how
        }
        sent += 16 * 1024;
    }
    let _ = conn.send(b"0\r\n\r\n").await;
    let res = conn.response(false).await?;
    ensure(res.status == 413, || {
        format!(
            "a chunked body of {sent} bytes over a limit of {limit} must get 413, got {}",
            res.summary()
        )
    })
}

/// A client that goes away while the application works: its future is
/// dropped.
async fn disconnect_pending(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let id = c.id();
    conn.send(c.request("GET", "/hang", id, "").as_bytes())
        .await?;
    c.observe(id, "started", "GET /hang").await?;
    conn.close().await;
    c.observe(
        id,
        "dropped",
        "the client went away; the application future was not dropped",
    )
    .await
    .map(drop)
}

/// A client that goes away while the body streams: the body is dropped
/// and reports an abort.
async fn disconnect_streaming(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let id = c.id();
    conn.send(c.request("GET", "/drip", id, "").as_bytes())
        .await?;
    let (status, _) = conn.head().await?;
    ensure(status == 200, || format!("GET /drip: status {status}"))?;
    conn.close().await;
    c.observe(
        id,
        "dropped",
        "the client went away; the streaming body was not dropped",
    )
    .await?;
    c.observe(id, "finish aborted", "the body's on_finish")
        .await
        .map(drop)
}

async fn on_finish_completed(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let id = c.id();
    conn.send(c.request("GET", "/finish", id, "").as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(
        res.status == 200 && res.body == STREAM.concat().as_bytes(),
        || format!("GET /finish: {}", res.summary()),
    )?;
    let event = c.observe(id, "finish ", "the body's on_finish").await?;
    let expected = format!("finish completed {}", STREAM.concat().len());
    ensure(event == expected, || {
        format!("on_finish reported `{event}`, expected `{expected}`")
    })
}

async fn on_finish_aborted(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let id = c.id();
    conn.send(c.request("GET", "/fail/after", id, "").as_bytes())
        .await?;
    let _ = conn.response(false).await;
    let event = c.observe(id, "finish ", "the body's on_finish").await?;
    ensure(event.starts_with("finish aborted"), || {
        format!("a body that failed reported `{event}`, expected `finish aborted …`")
    })
}

/// `script_name + path_info` is the path the client sent.
async fn path_invariant(c: &Ctx<'_>) -> Check {
    check_path(c, "/path/a/b.txt").await
}

/// The same with percent-encoding, `%2F` included, kept raw.
async fn path_raw(c: &Ctx<'_>) -> Check {
    check_path(c, "/path/a%2Fb/c%20d;e").await
}

async fn check_path(c: &Ctx<'_>, path: &str) -> Check {
    let mut conn = c.h1().await?;
    let target = c.target(path, c.id());
    conn.send(c.request_target("GET", &target, "").as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(res.status == 200, || {
        format!("GET {target}: {}", res.summary())
    })?;
    super::path_split(c, &target, &res.text())
}

/// An HTTP/1.1 upgrade: 101 with the protocol, then raw bytes both ways;
/// the handler ends when the client ends its side.
async fn upgrade_echo(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let id = c.id();
    let extra = format!("connection: upgrade\r\nupgrade: {UPGRADE_PROTOCOL}\r\n");
    conn.send(c.request("GET", "/upgrade", id, &extra).as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(res.status == 101, || {
        format!("an upgrade request got {}", res.summary())
    })?;
    let upgrade = res.header("upgrade").unwrap_or_default();
    let connection = res
        .header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    ensure(
        upgrade.eq_ignore_ascii_case(UPGRADE_PROTOCOL) && connection.contains("upgrade"),
        || {
            format!(
                "a 101 needs `upgrade: {UPGRADE_PROTOCOL}` and `connection: upgrade`: {}",
                res.summary()
            )
        },
    )?;
    for message in [&b"ping over the upgraded connection"[..], &pattern(20_000)] {
        conn.send(message).await?;
        let back = conn.raw(message.len()).await?;
        ensure(back == message, || {
            format!(
                "sent {} bytes after the 101, got {} back: {:?}",
                message.len(),
                back.len(),
                String::from_utf8_lossy(&back[..back.len().min(60)])
            )
        })?;
    }
    conn.close().await;
    c.observe(
        id,
        "handler ended",
        "the client ended the upgraded connection; the handler did not end",
    )
    .await
    .map(drop)
}

/// An adapter that cannot switch protocols: the application sees no
/// upgrade, its 426 reaches the client, and the connection stays HTTP.
async fn upgrade_refused(c: &Ctx<'_>) -> Check {
    let mut conn = c.h1().await?;
    let id = c.id();
    let extra = format!("connection: upgrade\r\nupgrade: {UPGRADE_PROTOCOL}\r\n");
    conn.send(c.request("GET", "/upgrade", id, &extra).as_bytes())
        .await?;
    let res = conn.response(false).await?;
    ensure(res.status != 101, || {
        format!(
            "declared without upgrades, yet the adapter switched protocols (declare \
             `upgrades(true)` if it can): {}",
            res.summary()
        )
    })?;
    ensure(res.status == 426, || {
        format!(
            "without upgrade support the application answers 426, the client got {}",
            res.summary()
        )
    })?;
    c.observe(
        id,
        "no upgrade",
        "the application was offered an upgrade the adapter cannot make",
    )
    .await?;
    c.still_serves(conn, &res, "the 426").await
}
