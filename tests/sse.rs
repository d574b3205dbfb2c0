//! Server-sent events (`gateway_core::sse`) served by gateway-hyper: read
//! by `curl -N` and over raw sockets. Events arrive as they are sent (not
//! at the end), keep-alive comments fill the silence, `Last-Event-ID`
//! resumes a stream, a disconnect stops the producer, and client input
//! put into data, event or id cannot inject a field.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use gateway_core::sse::{self, Event, EventStream};
use gateway_core::{Environ, fn_app};
use gateway_tests::{TestServer, curl_available, within};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// `/ticks`: events `id: n` / `data: tick n` from `Last-Event-ID + 1`;
/// the second waits for `go`, the fifth ends the stream.
fn ticking(go: Arc<Notify>) -> impl gateway_core::Application {
    fn_app(move |env: Environ| {
        let go = go.clone();
        let from: u64 = sse::last_event_id(&env)
            .and_then(|id| id.parse().ok())
            .unwrap_or(0);
        async move {
            Ok(EventStream::new(move |mut events| async move {
                for n in from + 1..=from + 5 {
                    if n == from + 2 {
                        go.notified().await;
                    }
                    let event = Event::new().id(n.to_string()).data(format!("tick {n}"));
                    events.send(event).await?;
                }
                Ok(())
            })
            .into_response())
        }
    })
}

/// Reads lines from `reader` until one equals `want` (bounded); returns
/// the lines read.
async fn lines_until<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    want: &str,
) -> Vec<String> {
    within(&format!("the line {want:?}"), async {
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).await.expect("read a line");
            assert!(n > 0, "ended before {want:?}; saw {seen:?}");
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            let done = line == want;
            seen.push(line);
            if done {
                return seen;
            }
        }
    })
    .await
}

/// `curl -N` sees the first event while the second is not yet sent, then
/// the rest; a `Last-Event-ID` resumes after it.
async fn curl_receives_events_as_they_are_sent(version_flag: &str, status_line: &str) {
    if !curl_available().await {
        return;
    }
    let go = Arc::new(Notify::new());
    let server = TestServer::start(ticking(go.clone())).await;
    let url = server.url("/ticks");
    let mut curl = tokio::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "-N",
            "--include",
            "--max-time",
            "10",
        ])
        .args([version_flag, "--header", "Last-Event-ID: 40", &url])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn curl");
    let mut out = BufReader::new(curl.stdout.take().expect("curl stdout"));
    let head = lines_until(&mut out, "").await;
    assert!(head[0].starts_with(status_line), "{head:?}");
    assert!(
        head.iter()
            .any(|l| l.eq_ignore_ascii_case("content-type: text/event-stream")),
        "{head:?}"
    );
    let first = lines_until(&mut out, "data: tick 41").await;
    assert_eq!(first, ["id: 41", "data: tick 41"]);
    // Only now is the second event sent: the first was not held back.
    go.notify_one();
    let rest = lines_until(&mut out, "data: tick 45").await;
    assert_eq!(rest[..3], ["", "id: 42", "data: tick 42"]);
    let status = within("curl to exit", curl.wait()).await.unwrap();
    assert!(status.success(), "{status}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_receives_events_as_they_are_sent_over_http1() {
    curl_receives_events_as_they_are_sent("--http1.1", "HTTP/1.1 200").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_receives_events_as_they_are_sent_over_http2() {
    curl_receives_events_as_they_are_sent("--http2-prior-knowledge", "HTTP/2 200").await;
}

/// Keep-alive comments over a raw socket while no event is sent; the
/// response is chunked and not cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_comments_arrive_over_a_raw_socket() {
    let app = fn_app(|_env| async {
        Ok(EventStream::new(|_events| std::future::pending())
            .keep_alive(|| tokio::time::sleep(Duration::from_millis(20)))
            .into_response())
    });
    let server = TestServer::start(app).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reader = BufReader::new(conn);
    let head = lines_until(&mut reader, "").await;
    let head = head.join("\n").to_ascii_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    for _ in 0..2 {
        lines_until(&mut reader, ": keep-alive").await;
    }
    drop(reader);
    server.stop().await;
}

/// A client that leaves: the producer future is dropped at its next send
/// at the latest, and stops sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_stops_the_producer() {
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let app = {
        let (dropped, sent) = (dropped.clone(), sent.clone());
        fn_app(move |_env| {
            let flag = Flag(dropped.clone());
            let sent = sent.clone();
            async move {
                Ok(EventStream::new(move |mut events| async move {
                    let _flag = flag;
                    loop {
                        events.send(Event::new().data("tick")).await?;
                        sent.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                })
                .into_response())
            }
        })
    };
    let server = TestServer::start(app).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reader = BufReader::new(conn);
    lines_until(&mut reader, "data: tick").await;
    drop(reader);
    within("the producer to be dropped", async {
        while !dropped.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    let at_drop = sent.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sent.load(Ordering::SeqCst), at_drop, "nothing sent after");
    server.stop().await;
}

/// Client input put into an event: a data value full of line ends stays
/// data; an event name or id with a line end is refused by `try_event` /
/// `try_id` (the application sends a comment instead). Whatever the
/// query, every line on the wire is a `data:` line, a comment, or blank.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_attempts_are_harmless() {
    let app = fn_app(|env: Environ| async move {
        let param = |name: &str| {
            env.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (data, name, id) = (param("data"), param("event"), param("id"));
        Ok(EventStream::new(move |mut events| async move {
            let mut event = Event::new().data(data);
            event = match event.clone().try_event(name) {
                Ok(named) => named,
                Err(_) => event.comment("refused event name"),
            };
            event = match event.clone().try_id(id) {
                Ok(with_id) => with_id,
                Err(_) => event.comment("refused id"),
            };
            events.send(event).await
        })
        .into_response())
    });
    let server = TestServer::start(app).await;
    let request = "GET /?data=a%0Aevent:%20evil%0D%0Aid:%20666%0Dretry:%201%0A%0Adata:%20x\
                   &event=ok%0Aid:%201&id=7%0D%0Aevent:%20evil HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    within("the stream to end", conn.read_to_end(&mut raw))
        .await
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Undo the chunked framing: keep the chunks' contents.
    let mut events = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        events.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    assert_eq!(
        events,
        "data: a\ndata: event: evil\ndata: id: 666\ndata: retry: 1\ndata: \ndata: data: x\n\
         : refused event name\n: refused id\n\n"
    );
    for line in events.lines() {
        assert!(
            line.is_empty() || line.starts_with("data: ") || line.starts_with(": "),
            "{line:?}"
        );
    }
    server.stop().await;
}
