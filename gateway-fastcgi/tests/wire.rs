//! gateway-fastcgi over raw FastCGI records on 127.0.0.1: the protocol as
//! a web server speaks it, and as a hostile peer might.

#[path = "wire/support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use gateway_core::response::NO_HEADERS;
use gateway_core::{Environ, Error, fn_app, start};
use gateway_fastcgi::Server;
use gateway_fastcgi::record::{self, BeginRequest, ProtocolStatus, RecordType, Role};
use http_body_util::BodyExt as _;
use support::{Client, begin, get, req, start as serve, start_with, within};
use tokio::sync::{Notify, mpsc};

const COMPLETE: u8 = 0;

fn app() -> impl gateway_core::Application {
    fn_app(|mut env: Environ| async move {
        match env.path_info() {
            "/" => start(200, [("content-type", "text/plain")]).body("hi"),
            "/echo" => {
                let body = env.take_body().collect().await?.to_bytes();
                start(200, NO_HEADERS).body(body)
            }
            "/stream" => start(200, NO_HEADERS).body(env.take_body()),
            "/big-head" => {
                let big = "a".repeat(70_000);
                start(200, [("x-big", big.as_str())]).body("ok")
            }
            "/status-field" => start(200, [("status", "500 Oops"), ("x-a", "b")]).body("ok"),
            "/env" => {
                let text = format!(
                    "{}|{}|{}|{}",
                    env.script_name(),
                    env.path_info(),
                    env.query(),
                    env.conn().peer()
                );
                start(200, NO_HEADERS).body(text)
            }
            "/broken" => start(200, NO_HEADERS).writer(|mut w| async move {
                w.write("partial").await?;
                Err(Error::new("the disk went away"))
            }),
            "/big" => start(200, NO_HEADERS).writer(|mut w| async move {
                for _ in 0..64 {
                    w.write(vec![b'x'; 10_000]).await?;
                }
                Ok(())
            }),
            _ => Err(Error::with_status(
                http::StatusCode::NOT_FOUND,
                "no such page",
            )),
        }
    })
}

#[tokio::test]
async fn hello_then_keep_alive_then_close() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    for _ in 0..3 {
        c.send(&req(1, true, &get("/"), b"")).await;
        let reply = c.reply(1).await;
        assert_eq!(reply.end, Some((0, COMPLETE)));
        assert_eq!(
            reply.text(),
            "Status: 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi"
        );
    }
    // Without FCGI_KEEP_CONN the server closes after the answer.
    c.send(&req(7, false, &get("/"), b"")).await;
    assert_eq!(c.reply(7).await.end, Some((0, COMPLETE)));
    assert!(c.closed().await);
}

#[tokio::test]
async fn head_and_errors_follow_the_driver() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    let mut head = get("/");
    head[0].1 = "HEAD".to_owned();
    c.send(&req(1, true, &head, b"")).await;
    let reply = c.reply(1).await;
    assert_eq!(
        reply.text(),
        "Status: 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n"
    );
    c.send(&req(2, true, &get("/nope"), b"")).await;
    assert!(
        c.reply(2)
            .await
            .text()
            .starts_with("Status: 404 Not Found\r\n")
    );
    // A head longer than one record is split over several.
    c.send(&req(4, true, &get("/big-head"), b"")).await;
    let reply = c.reply(4).await;
    let (head, body) = reply.split();
    assert!(head.contains(&format!("x-big: {}", "a".repeat(70_000))));
    assert_eq!(body, b"ok");
    // An application's own `status` field cannot override the status.
    c.send(&req(3, true, &get("/status-field"), b"")).await;
    assert_eq!(
        c.reply(3).await.text(),
        "Status: 200 OK\r\nx-a: b\r\ncontent-length: 2\r\n\r\nok"
    );
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut params = get("/echo");
    params[0].1 = "POST".to_owned();
    params.push(("CONTENT_LENGTH", body.len().to_string()));
    c.send(&req(1, true, &params, &body)).await;
    let reply = c.reply(1).await;
    let (head, got) = reply.split();
    assert!(head.contains("content-length: 300000"), "{head}");
    assert_eq!(got, body);

    // A streamed response larger than one record.
    c.send(&req(2, true, &get("/big"), b"")).await;
    let reply = c.reply(2).await;
    assert_eq!(reply.split().1.len(), 640_000);
    assert_eq!(reply.end, Some((0, COMPLETE)));
}

#[tokio::test]
async fn body_limits_and_short_bodies() {
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .max_body_size(1000),
        app(),
    );
    let mut c = Client::connect(server.addr).await;
    let mut params = get("/echo");
    params[0].1 = "POST".to_owned();
    let mut announced = params.clone();
    announced.push(("CONTENT_LENGTH", "1001".to_owned()));
    c.send(&req(1, true, &announced, &[b'a'; 1001])).await;
    assert!(c.reply(1).await.text().starts_with("Status: 413 "));
    // No CONTENT_LENGTH: counted as it streams.
    c.send(&req(2, true, &params, &[b'a'; 1500])).await;
    assert!(c.reply(2).await.text().starts_with("Status: 413 "));
    // STDIN ends short of CONTENT_LENGTH: 400.
    let mut short = params.clone();
    short.push(("CONTENT_LENGTH", "10".to_owned()));
    c.send(&req(3, true, &short, b"abc")).await;
    assert!(c.reply(3).await.text().starts_with("Status: 400 "));
    // And the connection still serves.
    c.send(&req(4, true, &get("/"), b"")).await;
    assert!(c.reply(4).await.text().starts_with("Status: 200 "));
}

#[tokio::test]
async fn params_over_the_head_limit_are_431() {
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .max_head_size(512),
        app(),
    );
    let mut c = Client::connect(server.addr).await;
    let mut params = get("/");
    params.push(("HTTP_X_BIG", "y".repeat(600)));
    c.send(&req(1, true, &params, b"")).await;
    assert!(c.reply(1).await.text().starts_with("Status: 431 "));
    c.send(&req(2, true, &get("/"), b"")).await;
    assert!(c.reply(2).await.text().starts_with("Status: 200 "));
}

#[tokio::test]
async fn requests_are_multiplexed() {
    let gate = Arc::new(Notify::new());
    let app = {
        let gate = gate.clone();
        fn_app(move |env: Environ| {
            let gate = gate.clone();
            async move {
                if env.path_info() == "/wait" {
                    gate.notified().await;
                }
                start(200, NO_HEADERS).body(env.path_info().to_owned())
            }
        })
    };
    let server = serve(app).await;
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/wait"), b"")).await;
    c.send(&req(2, true, &get("/fast"), b"")).await;
    // Request 2 finishes while request 1 waits.
    let mut first_end = None;
    while let Some(rec) = c.record().await {
        if rec.kind() == RecordType::EndRequest {
            first_end = Some(rec.request_id());
            break;
        }
    }
    assert_eq!(first_end, Some(2));
    gate.notify_one();
    assert!(c.reply(1).await.text().ends_with("/wait"));
}

#[tokio::test]
async fn get_values_unknown_types_and_roles() {
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .max_connections(10),
        app(),
    );
    let mut c = Client::connect(server.addr).await;
    let mut pairs = Vec::new();
    for name in [
        "FCGI_MAX_CONNS",
        "FCGI_MAX_REQS",
        "FCGI_MPXS_CONNS",
        "OTHER",
    ] {
        record::put_pair(&mut pairs, name.as_bytes(), b"");
    }
    let mut out = Vec::new();
    record::put_record(&mut out, RecordType::GetValues, 0, &pairs);
    record::put_record(&mut out, RecordType::Other(42), 0, b"??");
    BeginRequest {
        role: Role::Authorizer,
        flags: record::KEEP_CONN,
    }
    .put(&mut out, 5);
    c.send(&out).await;
    let result = c.record().await.unwrap();
    assert_eq!(result.kind(), RecordType::GetValuesResult);
    let values: Vec<_> = record::pairs(result.content())
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        values,
        [
            (&b"FCGI_MAX_CONNS"[..], &b"10"[..]),
            (&b"FCGI_MAX_REQS"[..], &b"640"[..]),
            (&b"FCGI_MPXS_CONNS"[..], &b"1"[..]),
        ]
    );
    let unknown = c.record().await.unwrap();
    assert_eq!(
        (unknown.kind(), unknown.content()[0]),
        (RecordType::UnknownType, 42)
    );
    let end = c.reply(5).await.end.unwrap();
    assert_eq!(end.1, ProtocolStatus::UnknownRole.as_u8());
}

#[tokio::test]
async fn too_many_requests_on_one_connection_are_overloaded() {
    let app = fn_app(|_| async {
        std::future::pending::<()>().await;
        start(200, NO_HEADERS).empty()
    });
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .max_requests_per_connection(1),
        app,
    );
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/"), b"")).await;
    c.send(&req(2, true, &get("/"), b"")).await;
    assert_eq!(
        c.reply(2).await.end,
        Some((0, ProtocolStatus::Overloaded.as_u8()))
    );
}

/// Sends `()` on `tx` when dropped: proves an application future was
/// dropped.
struct DropSignal(mpsc::UnboundedSender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

fn hanging_app(dropped: mpsc::UnboundedSender<()>) -> impl gateway_core::Application {
    fn_app(move |_| {
        let guard = DropSignal(dropped.clone());
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            start(200, NO_HEADERS).empty()
        }
    })
}

#[tokio::test]
async fn abort_request_drops_the_application_future() {
    let (tx, mut dropped) = mpsc::unbounded_channel();
    let server = serve(hanging_app(tx)).await;
    let mut c = Client::connect(server.addr).await;
    c.send(&req(3, true, &get("/"), b"")).await;
    let mut abort = Vec::new();
    record::put_record(&mut abort, RecordType::AbortRequest, 3, b"");
    // Give the request time to start, then abort it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.send(&abort).await;
    within("the future dropped", dropped.recv()).await.unwrap();
    let reply = c.reply(3).await;
    assert!(reply.stdout.is_empty());
    assert_eq!(reply.end.map(|e| e.1), Some(COMPLETE));
}

#[tokio::test]
async fn a_closed_connection_drops_the_application_future() {
    let (tx, mut dropped) = mpsc::unbounded_channel();
    let server = serve(hanging_app(tx)).await;
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/"), b"")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(c);
    within("the future dropped", dropped.recv()).await.unwrap();
}

#[tokio::test]
async fn an_error_after_the_commit_closes_without_end_request() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/broken"), b"")).await;
    let reply = c.reply(1).await;
    assert_eq!(
        reply.end, None,
        "no END_REQUEST: the response was cut short"
    );
    assert!(reply.text().starts_with("Status: 200 OK\r\n"));
    assert!(reply.text().ends_with("partial"));
}

/// Each hostile input, sent in one write and again byte by byte, closes
/// the connection (or is ignored), and the server keeps serving.
#[tokio::test]
async fn hostile_records_close_the_connection() {
    let server = serve(app()).await;
    let mut dup = Vec::new();
    begin(&mut dup, 1, true);
    begin(&mut dup, 1, true);
    let mut zero = Vec::new();
    begin(&mut zero, 0, true);
    let mut bad_params = Vec::new();
    begin(&mut bad_params, 1, true);
    record::put_record(&mut bad_params, RecordType::Params, 1, &[9, 9, b'x']);
    record::put_record(&mut bad_params, RecordType::Params, 1, b"");
    record::put_record(&mut bad_params, RecordType::Stdin, 1, b"");
    let mut bad_values = Vec::new();
    record::put_record(&mut bad_values, RecordType::GetValues, 0, &[0x80, 1]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "version 2",
            vec![2, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0],
        ),
        ("short BEGIN_REQUEST", vec![1, 1, 0, 1, 0, 3, 0, 0, 0, 1, 1]),
        ("BEGIN_REQUEST id 0", zero),
        ("request id in use", dup),
        ("malformed GET_VALUES", bad_values),
    ];
    for (what, bytes) in &cases {
        for pieces in [false, true] {
            let mut c = Client::connect(server.addr).await;
            if pieces {
                c.send_in_pieces(bytes).await;
            } else {
                c.send(bytes).await;
            }
            assert!(c.closed().await, "{what}");
        }
    }
    // Malformed params are the request's error (400), not the connection's.
    let mut c = Client::connect(server.addr).await;
    c.send_in_pieces(&bad_params).await;
    assert!(c.reply(1).await.text().starts_with("Status: 400 "));

    // Records for requests that are not in flight are ignored.
    let mut c = Client::connect(server.addr).await;
    let mut stray = Vec::new();
    record::put_record(&mut stray, RecordType::Stdin, 9, b"stray");
    record::put_record(&mut stray, RecordType::Params, 9, b"\x01\x01ab");
    record::put_record(&mut stray, RecordType::AbortRequest, 9, b"");
    record::put_record(&mut stray, RecordType::Stdout, 9, b"?");
    record::put_record(&mut stray, RecordType::Data, 9, b"?");
    stray.extend(req(1, true, &get("/"), b""));
    c.send_in_pieces(&stray).await;
    assert!(c.reply(1).await.text().ends_with("hi"));

    // A record cut off by the peer's close: nothing to answer.
    let mut c = Client::connect(server.addr).await;
    c.send(&[1, 5, 0, 1, 0xff, 0xff, 0, 0, 1, 2, 3]).await;
    c.io.shutdown().await.unwrap();
    assert!(c.closed().await);
}

use tokio::io::AsyncWriteExt as _;

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight() {
    let gate = Arc::new(Notify::new());
    let app = {
        let gate = gate.clone();
        fn_app(move |_| {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                start(200, NO_HEADERS).body("done")
            }
        })
    };
    let server = serve(app).await;
    let mut busy = Client::connect(server.addr).await;
    let mut idle = Client::connect(server.addr).await;
    busy.send(&req(1, true, &get("/"), b"")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.stop.send(()).unwrap();
    // The idle connection closes at once; the busy one finishes first.
    assert!(idle.closed().await);
    gate.notify_one();
    let reply = busy.reply(1).await;
    assert_eq!(
        (reply.text().ends_with("done"), reply.end),
        (true, Some((0, COMPLETE)))
    );
    assert!(busy.closed().await);
    within("serve returns", server.join).await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
}

#[tokio::test]
async fn the_drain_deadline_drops_what_is_left() {
    let (tx, mut dropped) = mpsc::unbounded_channel();
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .drain_timeout(Duration::from_millis(200)),
        hanging_app(tx),
    );
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/"), b"")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    server.stop.send(()).unwrap();
    within("serve returns", server.join).await.unwrap().unwrap();
    within("the future dropped", dropped.recv()).await.unwrap();
    assert_eq!(c.reply(1).await.end, None);
}

#[tokio::test]
async fn unix_socket_listener() {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("gateway-fastcgi-{}.sock", std::process::id()));
    let server = Server::bind_unix(&path, 0o600).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let join = tokio::spawn(server.serve_with_shutdown(app(), async {
        let _ = rx.await;
    }));
    let mut io = tokio::net::UnixStream::connect(&path).await.unwrap();
    io.write_all(&req(1, false, &get("/env"), b""))
        .await
        .unwrap();
    let mut out = Vec::new();
    within(
        "the reply",
        tokio::io::AsyncReadExt::read_to_end(&mut io, &mut out),
    )
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&out).contains("||"), "{out:?}");
    stop.send(()).unwrap();
    within("serve returns", join).await.unwrap().unwrap();
    assert!(!path.exists(), "the socket file is removed");
}

/// A web server that sends the whole body before it reads anything (as
/// nginx does) gets the echo of a body far larger than the socket buffers.
#[tokio::test]
async fn an_echo_does_not_deadlock_a_web_server_that_sends_everything_first() {
    let path =
        std::env::temp_dir().join(format!("gateway-fastcgi-echo-{}.sock", std::process::id()));
    let server = Server::bind_unix(&path, None).unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let join = tokio::spawn(server.serve_with_shutdown(app(), async {
        let _ = rx.await;
    }));
    let body: Vec<u8> = (0..4_000_000u32).map(|i| (i % 253) as u8).collect();
    let mut params = get("/stream");
    params[0].1 = "POST".to_owned();
    params.push(("CONTENT_LENGTH", body.len().to_string()));
    let mut io = tokio::net::UnixStream::connect(&path).await.unwrap();
    within(
        "send everything",
        io.write_all(&req(1, false, &params, &body)),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    within(
        "the reply",
        tokio::io::AsyncReadExt::read_to_end(&mut io, &mut out),
    )
    .await
    .unwrap();
    assert!(out.len() > body.len());
    stop.send(()).unwrap();
    within("serve returns", join).await.unwrap().unwrap();
}

/// Nothing of a response is written before the request's `STDIN` has
/// ended: nginx stops sending a body once the response begins.
#[tokio::test]
async fn the_response_waits_for_the_end_of_stdin() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    let mut params = get("/"); // answers without reading the body
    params[0].1 = "POST".to_owned();
    params.push(("CONTENT_LENGTH", "6".to_owned()));
    let whole = req(1, true, &params, b"abcdef");
    // Everything but the STDIN records: 3 bytes of body only.
    let mut first = Vec::new();
    begin(&mut first, 1, true);
    let stdin_at = whole.len() - (8 + 6) - 8;
    first.extend_from_slice(&whole[16..stdin_at]);
    record::put_record(&mut first, RecordType::Stdin, 1, b"abc");
    c.send(&first).await;
    let early = tokio::time::timeout(Duration::from_millis(200), c.record()).await;
    assert!(early.is_err(), "a record before STDIN ended: {early:?}");
    let mut rest = Vec::new();
    record::put_record(&mut rest, RecordType::Stdin, 1, b"def");
    record::put_record(&mut rest, RecordType::Stdin, 1, b"");
    c.send(&rest).await;
    let reply = c.reply(1).await;
    assert!(reply.text().ends_with("hi"), "{}", reply.text());
    assert_eq!(reply.end, Some((0, COMPLETE)));
}

#[tokio::test]
async fn idle_connections_close_at_the_idle_timeout() {
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .idle_timeout(Duration::from_millis(100)),
        app(),
    );
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/"), b"")).await;
    assert!(c.reply(1).await.text().ends_with("hi"));
    let started = std::time::Instant::now();
    assert!(c.closed().await);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_connection_limit_pauses_accepting() {
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .max_connections(1),
        app(),
    );
    let mut first = Client::connect(server.addr).await;
    first.send(&req(1, true, &get("/"), b"")).await;
    assert!(first.reply(1).await.text().ends_with("hi"));
    let mut second = Client::connect(server.addr).await; // queued by the kernel
    second.send(&req(1, true, &get("/"), b"")).await;
    let waiting = tokio::time::timeout(Duration::from_millis(200), second.record()).await;
    assert!(waiting.is_err(), "served past the limit: {waiting:?}");
    drop(first);
    assert!(second.reply(1).await.text().ends_with("hi"));
}

/// The idle clock starts at the answer: a request longer than the idle
/// timeout leaves its connection open for the next one.
#[tokio::test]
async fn a_long_request_does_not_use_up_the_idle_timeout() {
    let app = fn_app(|_| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        start(200, NO_HEADERS).body("late")
    });
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .idle_timeout(Duration::from_millis(200)),
        app,
    );
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/"), b"")).await;
    assert!(c.reply(1).await.text().ends_with("late"));
    // At once after the answer: still open.
    c.send(&req(2, true, &get("/"), b"")).await;
    assert!(c.reply(2).await.text().ends_with("late"));
}

/// A request whose `STDIN` never comes does not hold its connection past
/// the idle timeout.
#[tokio::test]
async fn a_request_without_stdin_is_closed_at_the_idle_timeout() {
    let server = start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .idle_timeout(Duration::from_millis(100)),
        app(),
    );
    let mut c = Client::connect(server.addr).await;
    let whole = req(1, true, &get("/"), b"");
    c.send(&whole[..whole.len() - 8]).await; // all but the empty STDIN
    let reply = c.reply(1).await;
    assert_eq!(
        (reply.stdout.len(), reply.end),
        (0, None),
        "closed unanswered"
    );
}

/// A server whose head deadline is `timeout` (the idle timeout left at
/// its default of 120 s, so that only the head deadline can end a
/// request).
async fn head_deadline(timeout: Duration) -> support::Running {
    start_with(
        Server::bind("127.0.0.1:0")
            .await
            .unwrap()
            .header_read_timeout(timeout),
        app(),
    )
}

/// A params stream trickled a byte at a time (each byte resetting the
/// idle clock) is answered 408 at the head deadline, and the connection
/// closes.
#[tokio::test]
async fn a_trickled_params_stream_is_408_at_the_header_read_timeout() {
    let server = head_deadline(Duration::from_millis(300)).await;
    let mut c = Client::connect(server.addr).await;
    let mut out = Vec::new();
    begin(&mut out, 1, true);
    c.send(&out).await;
    let started = std::time::Instant::now();
    let whole = req(1, true, &get("/"), b"");
    // The params and the rest, 50 ms a byte: about 5 s in all.
    let trickler = c.trickle(whole[16..].to_vec(), Duration::from_millis(50));
    let reply = c.reply(1).await;
    let took = started.elapsed();
    assert!(
        reply.text().starts_with("Status: 408 "),
        "{:?}",
        reply.text()
    );
    assert_eq!(reply.end, Some((0, COMPLETE)));
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "answered after {took:?}"
    );
    assert!(c.closed().await);
    trickler.abort();
}

/// `BEGIN_REQUEST`, then nothing: 408 at the head deadline (not at the
/// idle timeout), and other requests on the connection are not touched.
#[tokio::test]
async fn a_begin_request_without_params_is_408_at_the_header_read_timeout() {
    let server = head_deadline(Duration::from_millis(300)).await;
    let mut c = Client::connect(server.addr).await;
    let mut out = Vec::new();
    begin(&mut out, 1, true);
    c.send(&out).await;
    // A whole request on another id meanwhile is answered as usual.
    c.send(&req(2, true, &get("/"), b"")).await;
    assert!(c.reply(2).await.text().ends_with("hi"));
    let reply = c.reply(1).await;
    assert!(reply.text().starts_with("Status: 408 "), "{}", reply.text());
    assert_eq!(reply.end, Some((0, COMPLETE)));
    assert!(c.closed().await);
}

/// The deadline ends with the params: a body that comes later than it
/// is still served.
#[tokio::test]
async fn the_header_read_timeout_does_not_time_the_body() {
    let server = head_deadline(Duration::from_millis(200)).await;
    let mut c = Client::connect(server.addr).await;
    let whole = req(1, true, &get("/"), b"");
    c.send(&whole[..whole.len() - 8]).await; // all but the empty STDIN
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.send(&whole[whole.len() - 8..]).await;
    let reply = c.reply(1).await;
    assert!(reply.text().ends_with("hi"), "{}", reply.text());
    assert_eq!(reply.end, Some((0, COMPLETE)));
    // A head sent slowly but within the deadline is served too.
    let whole = req(2, true, &get("/"), b"");
    c.send_in_pieces(&whole).await;
    assert!(c.reply(2).await.text().ends_with("hi"));
}
