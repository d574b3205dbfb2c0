//! `AccessLog` through `TestClient`: each format byte for byte, exactly
//! one line per request whatever happens to it, the user field, and a
//! hostile corpus whose lines all parse back.

use std::time::Duration;

use gateway_core::test_client::TestClient;
use gateway_core::{
    Addr, Application, ApplicationExt, ConnInfo, Environ, Error, fn_app, from_fn, start,
};
use gateway_middleware::access_log::{Format, MemoryLog};
use gateway_middleware::auth::{BasicAuth, Identity, Via};
use gateway_middleware::{AccessLog, AccessLogApp, RequestId};
use http::Method;

const TEXT: [(&str, &str); 1] = [("content-type", "text/plain")];

/// An application with a route per outcome.
fn app() -> impl Application {
    fn_app(|env: Environ| async move {
        match env.path() {
            "/err" => Err(Error::with_status(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "db down",
            )),
            "/panic" => panic!("boom"),
            "/no-content" => start(204, TEXT).empty(),
            "/cut" => start(200, TEXT).writer(|mut w| async move {
                w.write("first part").await?;
                Err(Error::new("the disk went away"))
            }),
            "/never" => std::future::pending().await,
            _ => start(200, TEXT).body("hello"),
        }
    })
}

/// A client at 203.0.113.7 through `log`, and the log's lines.
fn client<A: Application>(
    app: A,
    format: Format,
) -> (TestClient<AccessLogApp<A>>, AccessLog, MemoryLog) {
    let lines = MemoryLog::new();
    let log = AccessLog::new().format(format).to_writer(lines.clone());
    (
        TestClient::new(app.with(log.clone())).with_conn(peer()),
        log,
        lines,
    )
}

fn peer() -> ConnInfo {
    ConnInfo::new(Addr::Tcp("203.0.113.7:50000".parse().unwrap()), Addr::None)
}

/// A user id an application verified, with every awkward byte in it.
const HOSTILE_USER: &str = "ev il\"\\\r\n\0\u{7f}é";

/// The text line with its time and duration (which vary) replaced by
/// `TIME` and `DUR`; the duration is checked to be `s.mmm`.
fn mask_text(line: &str) -> String {
    let open = line.find('[').unwrap();
    let close = line.find(']').unwrap();
    assert_eq!(close - open - 1, 26, "{line}");
    let mut fields: Vec<&str> = line.rsplitn(4, ' ').collect();
    // fields: outcome, id, duration, rest
    let dur = fields[2];
    let (secs, ms) = dur.split_once('.').unwrap();
    assert!(
        secs.bytes().all(|b| b.is_ascii_digit()) && ms.len() == 3,
        "{dur}"
    );
    fields[2] = "DUR";
    fields.reverse();
    let joined = fields.join(" ");
    format!("{}[TIME]{}", &joined[..open], &joined[close + 1..])
}

/// The JSON line parsed, with `time` and `duration` replaced.
fn mask_json(line: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["time"].as_str().unwrap().len(), 26);
    assert!(v["duration"].as_f64().unwrap() >= 0.0);
    v["time"] = "TIME".into();
    v["duration"] = "DUR".into();
    v
}

async fn send<A: Application>(client: &TestClient<A>) {
    client
        .get("/page?q=1")
        .header("referer", "https://example.com/start")
        .header("user-agent", "curl/8.5.0")
        .send()
        .await;
}

#[tokio::test]
async fn each_format_byte_for_byte() {
    let (c, log, lines) = client(app(), Format::Common);
    send(&c).await;
    log.flush();
    assert_eq!(
        lines
            .lines()
            .iter()
            .map(|l| mask_text(l))
            .collect::<Vec<_>>(),
        ["203.0.113.7 - - [TIME] \"GET /page?q=1 HTTP/1.1\" 200 5 DUR - completed"]
    );

    let (c, log, lines) = client(app(), Format::Combined);
    send(&c).await;
    log.flush();
    assert_eq!(
        lines
            .lines()
            .iter()
            .map(|l| mask_text(l))
            .collect::<Vec<_>>(),
        [
            "203.0.113.7 - - [TIME] \"GET /page?q=1 HTTP/1.1\" 200 5 \"https://example.com/start\" \"curl/8.5.0\" DUR - completed"
        ]
    );

    let (c, log, lines) = client(app(), Format::Json);
    send(&c).await;
    log.flush();
    let lines = lines.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        mask_json(&lines[0]),
        serde_json::json!({
            "time": "TIME", "remote_addr": "203.0.113.7", "user": null, "method": "GET",
            "target": "/page?q=1", "protocol": "HTTP/1.1", "status": 200, "bytes": 5,
            "duration": "DUR", "completed": true, "referer": "https://example.com/start",
            "user_agent": "curl/8.5.0", "request_id": null,
        })
    );
    // The fields in the documented order.
    let keys: Vec<&str> = lines[0]
        .split("\":")
        .filter_map(|part| part.rsplit("\"").next())
        .collect();
    let order = [
        "time",
        "remote_addr",
        "user",
        "method",
        "target",
        "protocol",
        "status",
        "bytes",
        "duration",
        "completed",
        "referer",
        "user_agent",
        "request_id",
    ];
    assert_eq!(&keys[..order.len()], order);
}

/// Sends one request per case and returns (status, bytes, completed) of
/// each line, checking there is exactly one line per request.
async fn outcomes(cases: &[(Method, &str)]) -> Vec<(u64, u64, bool)> {
    let (c, log, lines) = client(app(), Format::Json);
    for (method, path) in cases {
        if *path == "/never" {
            let sent = tokio::time::timeout(
                Duration::from_millis(50),
                c.request(method.clone(), path).send(),
            );
            assert!(sent.await.is_err(), "the request never ends");
        } else {
            c.request(method.clone(), path).send().await;
        }
    }
    log.flush();
    let lines = lines.lines();
    assert_eq!(lines.len(), cases.len(), "{lines:#?}");
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["status"].as_u64().unwrap(),
                v["bytes"].as_u64().unwrap(),
                v["completed"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn exactly_one_line_whatever_happens() {
    let got = outcomes(&[
        (Method::GET, "/"),
        (Method::HEAD, "/"),
        (Method::GET, "/no-content"),
        (Method::GET, "/err"),
        (Method::GET, "/panic"),
        (Method::GET, "/cut"),
        (Method::GET, "/never"),
    ])
    .await;
    // The driver's error page for 503 is its reason phrase.
    let page_503 = "Service Unavailable".len() as u64;
    let page_500 = "Internal Server Error".len() as u64;
    assert_eq!(
        got,
        [
            (200, 5, true),
            (200, 0, true),
            (204, 0, true),
            (503, page_503, true),
            (500, page_500, true),
            (200, "first part".len() as u64, false),
            (499, 0, false),
        ]
    );
}

#[tokio::test]
async fn the_status_is_the_one_the_client_saw() {
    let (c, log, lines) = client(app(), Format::Common);
    let res = c.get("/err").send().await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.text(), "Service Unavailable");
    let res = c.get("/panic").send().await;
    assert_eq!(res.status(), 500);
    log.flush();
    let lines = lines.lines();
    assert!(lines[0].contains("\" 503 19 "), "{}", lines[0]);
    assert!(lines[1].contains("\" 500 21 "), "{}", lines[1]);
}

/// A body of unknown size that fails before its first data gets the
/// driver's error page, and so does the line; the page carries the
/// `X-Request-Id` of a `RequestId` outside. A body of known size is not
/// pulled early: its failure aborts after the head.
#[tokio::test]
async fn a_body_failing_before_its_first_data_is_logged_as_the_page_sent() {
    let inner = fn_app(|env: Environ| async move {
        match env.path() {
            "/stream" => start(200, TEXT).writer(|_w| async {
                Err(Error::with_status(http::StatusCode::BAD_GATEWAY, "gone"))
            }),
            _ => {
                // Of known size (4 bytes, as a file's), failing at once.
                let failing = gateway_core::Body::writer(|_w| async { Err(Error::new("disk")) });
                let null = std::fs::File::open("/dev/null").unwrap();
                let hint = gateway_core::body::FileHint::new(std::sync::Arc::new(null), 0, 4);
                let body = gateway_core::Body::file(failing, hint);
                start(200, TEXT).body(body)
            }
        }
    });
    let lines = MemoryLog::new();
    let log = AccessLog::new()
        .format(Format::Json)
        .to_writer(lines.clone());
    let app = inner.with(log.clone()).with(RequestId::new());
    let c = TestClient::new(app).with_conn(peer());
    let res = c.get("/stream").send().await;
    assert_eq!(res.status(), 502);
    assert_eq!(res.text(), "Bad Gateway");
    assert!(res.header("x-request-id").is_some());
    let res = c.head("/stream").send().await;
    assert_eq!(res.status(), 200);
    c.get("/sized").send().await;
    log.flush();
    let got: Vec<(u64, u64, bool)> = lines
        .lines()
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["status"].as_u64().unwrap(),
                v["bytes"].as_u64().unwrap(),
                v["completed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(502, 11, true), (200, 0, true), (200, 0, false)]);
}

#[tokio::test]
async fn the_user_is_the_verified_one_only() {
    let app = app().with(BasicAuth::single("test", "ada", "correct horse"));
    let (c, log, lines) = client(app, Format::Common);
    // ada:correct horse
    c.get("/")
        .header("authorization", "Basic YWRhOmNvcnJlY3QgaG9yc2U=")
        .send()
        .await;
    // ada:wrong — the header names ada, but nothing verified her.
    let res = c
        .get("/")
        .header("authorization", "Basic YWRhOndyb25n")
        .send()
        .await;
    assert_eq!(res.status(), 401);
    c.get("/")
        .header("authorization", "Bearer ada")
        .send()
        .await;
    log.flush();
    let users: Vec<String> = lines
        .lines()
        .iter()
        .map(|l| l.split(' ').nth(2).unwrap().to_owned())
        .collect();
    assert_eq!(users, ["ada", "-", "-"]);
}

/// A quoted-field / bracket / bare-field tokenizer for the text formats:
/// fails on anything a forged line would need.
fn text_fields(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    assert!(
        b.iter().all(|&c| (0x20..0x7f).contains(&c)),
        "raw byte in {line:?}"
    );
    let mut fields = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        match b[i] {
            b'"' => {
                i += 1;
                while b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'[' => i = i + line[i..].find(']').unwrap() + 1,
            _ => {
                while i < b.len() && b[i] != b' ' {
                    assert!(b[i] != b'"', "a quote in a bare field: {line}");
                    i += 1;
                }
            }
        }
        fields.push(line[start..i].to_owned());
        if i < b.len() {
            assert_eq!(b[i], b' ', "{line}");
            i += 1;
        }
    }
    fields
}

/// Undoes the text formats' escaping of a quoted field.
fn unescape_text(field: &str) -> Vec<u8> {
    let inner = &field.as_bytes()[1..field.len() - 1];
    let mut out = Vec::new();
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == b'\\' {
            if inner[i + 1] == b'x' {
                let hex = std::str::from_utf8(&inner[i + 2..i + 4]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 4;
            } else {
                out.push(inner[i + 1]);
                i += 2;
            }
        } else {
            out.push(inner[i]);
            i += 1;
        }
    }
    out
}

#[tokio::test]
async fn a_hostile_corpus_never_forges_a_line() {
    let long = "A".repeat(5000);
    let values: Vec<Vec<u8>> = vec![
        b"plain".to_vec(),
        b"quote\" and \\backslash".to_vec(),
        b"tab\there".to_vec(),
        b"latin1 \xe9 utf8 \xc3\xa9 ff \xff".to_vec(),
        b"\" 200 0 \"-\" \"-\" 0.000 - completed".to_vec(),
        b"} {\"status\":200}".to_vec(),
        long.clone().into_bytes(),
    ];
    // What a Uri accepts; raw bytes are the end-to-end test's.
    let targets = ["/a%0d%0ab", "/q?x=%22y%22", "/%00%ff", "/{}|"];
    for format in [Format::Common, Format::Combined, Format::Json] {
        // The id goes through RequestId's allowlist; the user is verified
        // by the application, with every awkward byte in it.
        let app = app().with(from_fn(|mut env: Environ, next| async move {
            if env.headers().contains_key("x-login") {
                Identity::new(HOSTILE_USER.to_owned(), Via::Basic).insert(&mut env);
            }
            next.run(env).await
        }));
        let lines = MemoryLog::new();
        let log = AccessLog::new().format(format).to_writer(lines.clone());
        let app = app
            .with(log.clone())
            .with(RequestId::new().trusted_proxies(["203.0.113.7"]));
        let c = TestClient::new(app).with_conn(peer());
        let mut sent = 0;
        for value in &values {
            for target in targets {
                c.get(target)
                    .header("user-agent", value.as_slice())
                    .header("referer", value.as_slice())
                    .header("x-request-id", value.as_slice())
                    .header("x-login", "1")
                    .send()
                    .await;
                sent += 1;
            }
        }
        log.flush();
        let bytes = lines.bytes();
        assert!(
            bytes
                .iter()
                .all(|&b| b == b'\n' || (0x20..0x7f).contains(&b))
        );
        let lines = lines.lines();
        assert_eq!(lines.len(), sent, "{format:?}");
        for (i, line) in lines.iter().enumerate() {
            let value = &values[i / targets.len()];
            let cut = value.len() > 2048;
            match format {
                Format::Json => {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    // Each byte became one code point.
                    let ua: Vec<u8> = v["user_agent"]
                        .as_str()
                        .unwrap()
                        .chars()
                        .map(|c| c as u8)
                        .collect();
                    if cut {
                        assert_eq!(&ua[..2048], &value[..2048]);
                        assert!(ua.ends_with(b"..."));
                    } else {
                        assert_eq!(&ua, value);
                    }
                    let user: Vec<u8> = v["user"]
                        .as_str()
                        .unwrap()
                        .chars()
                        .map(|c| c as u8)
                        .collect();
                    assert_eq!(user, HOSTILE_USER.as_bytes());
                    assert_eq!(v["status"], 200);
                }
                _ => {
                    let fields = text_fields(line);
                    let n = if format == Format::Common { 10 } else { 12 };
                    assert_eq!(fields.len(), n, "{line}");
                    assert_eq!(fields[2], r"ev\x20il\x22\x5C\x0D\x0A\x00\x7F\xC3\xA9");
                    assert_eq!(fields[5], "200");
                    assert_eq!(fields[n - 1], "completed");
                    if format == Format::Combined {
                        let ua = unescape_text(&fields[7]);
                        if cut {
                            assert_eq!(ua.len(), 2048 + 3);
                        } else {
                            assert_eq!(&ua, value);
                        }
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn past_the_buffer_limit_lines_are_dropped_and_counted() {
    let lines = MemoryLog::new();
    // Room for about one line: the rest are dropped, not waited for.
    let log = AccessLog::new().to_writer(lines.clone()).buffer_limit(150);
    let c = TestClient::new(app().with(log.clone()));
    for _ in 0..5 {
        assert_eq!(c.get("/").send().await.status(), 200);
    }
    // The background thread may have written some already; either way
    // every request is a line written or a line counted.
    log.flush();
    assert!(log.dropped() >= 1);
    assert_eq!(lines.lines().len() as u64 + log.dropped(), 5);
}

/// A writer that always fails.
struct Broken;

impl std::io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::Error::other("disk full"))
    }
}

#[tokio::test]
async fn a_failing_writer_never_fails_a_request() {
    let log = AccessLog::new().to_writer(Broken);
    let c = TestClient::new(app().with(log.clone()));
    for _ in 0..3 {
        let res = c.get("/").send().await;
        assert_eq!((res.status().as_u16(), res.text().as_str()), (200, "hello"));
        log.flush();
    }
}

#[tokio::test]
async fn the_background_thread_writes_without_being_asked() {
    let lines = MemoryLog::new();
    let log = AccessLog::new().to_writer(lines.clone());
    let c = TestClient::new(app().with(log));
    c.get("/").send().await;
    // Written within a second; allow five on a loaded machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while lines.lines().is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shutdown_and_the_last_drop_write_what_is_buffered() {
    let lines = MemoryLog::new();
    let app = app().with(AccessLog::new().to_writer(lines.clone()));
    let c = TestClient::new(app);
    c.get("/").send().await;
    c.app().shutdown().await;
    assert_eq!(lines.lines().len(), 1);
    c.get("/").send().await;
    drop(c);
    assert_eq!(lines.lines().len(), 2);
}

#[tokio::test]
async fn the_tracing_sink_emits_one_event_per_line() {
    #[derive(Clone, Default)]
    struct Events(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);
    struct Message<'a>(&'a mut String);
    impl tracing::field::Visit for Message<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                *self.0 = format!("{value:?}");
            }
        }
    }
    impl tracing::Subscriber for Events {
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
            event.record(&mut Message(&mut text));
            let meta = event.metadata();
            if *meta.level() == tracing::Level::INFO {
                self.0
                    .lock()
                    .unwrap()
                    .push((meta.target().to_owned(), text));
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }
    let events = Events::default();
    let _guard = tracing::subscriber::set_default(events.clone());
    tracing::callsite::rebuild_interest_cache();
    let c = TestClient::new(app().with(AccessLog::new().format(Format::Common)));
    c.get("/x").send().await;
    let got = events.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "access");
    assert!(
        got[0].1.contains("\"GET /x HTTP/1.1\" 200 5 "),
        "{}",
        got[0].1
    );
    assert!(!got[0].1.ends_with('\n'));
}
