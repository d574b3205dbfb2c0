//! An application's `Content-Length` on a streaming body, over a real
//! socket: a body that breaks it aborts the response (the connection
//! closes, so the client sees a truncated response and no later response
//! on that connection), and a body that keeps it leaves the connection
//! open for the next request.

use std::time::Duration;

use gateway_core::{Environ, Error, fn_app, start};
use gateway_hyper::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(10);

struct Fixture {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A server whose routes announce a length and stream through a writer
/// (whose size is unknown): `/short` 3 of 10 bytes, `/long` 2 + 4 of 2,
/// `/exact` 2 + 3 of 5; `/next` answers `next`.
async fn serve() -> Fixture {
    let app = fn_app(|env: Environ| async move {
        let (length, chunks): (&'static str, &'static [&'static str]) = match env.path() {
            "/short" => ("10", &["abc"]),
            "/long" => ("2", &["ab", "INJECTED"]),
            "/exact" => ("5", &["ab", "cde"]),
            _ => return start(200, [("content-type", "text/plain")]).body("next"),
        };
        start(200, [("content-length", length)]).writer(move |mut w| async move {
            for chunk in chunks {
                w.write(*chunk).await?;
                // Separate writes reach the server separately.
                tokio::task::yield_now().await;
            }
            Ok::<_, Error>(())
        })
    });
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(app, async {
        let _ = stopped.await;
    }));
    Fixture { addr, stop, task }
}

impl Fixture {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }

    /// Sends `first` and a pipelined `GET /next` on one keep-alive
    /// connection, and reads until the server closes it (or the client
    /// gives up after `LIMIT`, returning what it has).
    async fn pipelined(&self, first: &str) -> (String, bool) {
        let mut tcp = TcpStream::connect(self.addr).await.unwrap();
        let requests = format!(
            "GET {first} HTTP/1.1\r\nhost: a.test\r\n\r\nGET /next HTTP/1.1\r\nhost: a.test\r\n\r\n"
        );
        tcp.write_all(requests.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let closed = loop {
            match tokio::time::timeout(LIMIT, tcp.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => break true,
                Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                Err(_) => break false,
            }
            // Both answered: nothing more is coming on a live connection.
            if String::from_utf8_lossy(&seen).ends_with("\r\n\r\nnext") {
                break false;
            }
        };
        (String::from_utf8_lossy(&seen).into_owned(), closed)
    }
}

#[tokio::test]
async fn a_short_body_closes_the_connection() {
    let server = serve().await;
    let (seen, closed) = server.pipelined("/short").await;
    assert!(
        closed,
        "the connection must close after a short body: {seen:?}"
    );
    // At most the head and the 3 bytes; never a second response.
    assert!(!seen.contains("next"), "{seen:?}");
    if let Some((head, body)) = seen.split_once("\r\n\r\n") {
        assert!(
            head.to_ascii_lowercase().contains("content-length: 10"),
            "{head}"
        );
        assert!(body.len() < 10, "{body:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_long_body_is_cut_and_the_connection_closed() {
    let server = serve().await;
    let (seen, closed) = server.pipelined("/long").await;
    assert!(
        closed,
        "a body past its length must abort, not end as a complete response: {seen:?}"
    );
    assert!(!seen.contains("INJECTED"), "{seen:?}");
    assert!(!seen.contains("next"), "{seen:?}");
    if let Some((head, body)) = seen.split_once("\r\n\r\n") {
        assert!(
            head.to_ascii_lowercase().contains("content-length: 2"),
            "{head}"
        );
        assert!(
            body.len() < 2,
            "a truncated response, not a complete one: {body:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_body_of_the_announced_length_keeps_the_connection() {
    let server = serve().await;
    let (seen, closed) = server.pipelined("/exact").await;
    assert!(!closed, "{seen:?}");
    let (first, second) = seen.split_once("HTTP/1.1 200 OK\r\ncontent-type").unwrap();
    assert!(
        first.to_ascii_lowercase().contains("content-length: 5"),
        "{first}"
    );
    assert!(first.ends_with("\r\n\r\nabcde"), "{first:?}");
    assert!(second.ends_with("\r\n\r\nnext"), "{second:?}");
    server.stop().await;
}

/// A `tracing` subscriber that keeps each event's level and fields.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = String::new();
        event.record(&mut Fields(&mut text));
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, text));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn the_abort_is_logged_at_warn_with_the_route() {
    // The server runs on this test's thread (current-thread runtime), so
    // a thread-local subscriber sees its events.
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let server = serve().await;
    let (_, closed) = server.pipelined("/short?secret=1").await;
    assert!(closed);
    server.stop().await;
    let events = capture.0.lock().unwrap();
    let warning = events
        .iter()
        .find(|(level, text)| *level == tracing::Level::WARN && text.contains("Content-Length"))
        .map(|(_, text)| text)
        .unwrap_or_else(|| panic!("no warning in {events:?}"));
    assert!(warning.contains("method=GET"), "{warning}");
    assert!(warning.contains("path=/short "), "{warning}");
}
