//! gateway-fastcgi under a real nginx `fastcgi_pass`, from the shipped
//! `deploy/nginx/fastcgi.conf`, over TCP and over a Unix socket: hello,
//! HEAD, a large POST echoed as it streams, 413, keep-alive (many
//! requests over one FastCGI connection), `script_name`/`path_info`
//! under a `location` prefix with `%2F` preserved, the static-site and
//! login examples, an error after the commit (the client sees a
//! truncated response), a client that goes away (the application's
//! future is dropped) and a graceful shutdown that finishes the request
//! in flight.
//!
//! The client is `curl`. Without nginx or curl these tests print a loud
//! notice and pass, unless `CI` is set, where they fail.

pub(crate) mod stack;

use std::sync::Arc;
use std::time::Duration;

use gateway_core::response::NO_HEADERS;
use gateway_core::{Application, Environ, Error, fn_app, start};
use gateway_examples::{login, static_site};
use gateway_middleware::auth::AuthKey;
use gateway_middleware::sessions::{MemoryStore, Sessions};
use gateway_tests::{TempDir, curl, curl_available, parse_curl, pattern, within};
use stack::{Stack, Via};
use tokio::sync::{Notify, mpsc};

/// Sends its message when dropped: proves a future was dropped.
struct DropSignal(mpsc::UnboundedSender<&'static str>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

/// The test application; routes on `path_info`, so it answers the same
/// at `/` and under `/app/`.
fn app(dropped: mpsc::UnboundedSender<&'static str>, gate: Arc<Notify>) -> impl Application {
    fn_app(move |mut env: Environ| {
        let dropped = dropped.clone();
        let gate = gate.clone();
        async move {
            let info = env.path_info().to_owned();
            match info.as_str() {
                "/" => start(200, [("content-type", "text/plain")]).body("Hello, world!\n"),
                "/echo" => start(200, NO_HEADERS).body(env.take_body()),
                "/broken" => start(200, NO_HEADERS).writer(|mut w| async move {
                    w.write("partial").await?;
                    Err(Error::new("the disk went away"))
                }),
                "/hang" => {
                    let _guard = DropSignal(dropped);
                    std::future::pending::<()>().await;
                    start(200, NO_HEADERS).empty()
                }
                "/slow" => {
                    gate.notify_one();
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    start(200, NO_HEADERS).body("done")
                }
                _ => {
                    let text = format!(
                        "script={}\ninfo={}\nquery={}\npeer={}\nhost={}\nurl={}\n",
                        env.script_name(),
                        env.path_info(),
                        env.query(),
                        env.conn().peer(),
                        env.host().unwrap_or("-"),
                        env.url(),
                    );
                    start(200, [("content-type", "text/plain")]).body(text)
                }
            }
        }
    })
}

async fn stack(via: Via) -> Option<(Stack, mpsc::UnboundedReceiver<&'static str>, Arc<Notify>)> {
    if !curl_available().await {
        return None;
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Notify::new());
    let stack = Stack::start(via, app(tx, gate.clone()), |s| s.max_body_size(1 << 20)).await?;
    Some((stack, rx, gate))
}

/// `curl --include` with `args`: status code, header lines, body.
async fn fetch(args: &[&str]) -> (u16, Vec<String>, Vec<u8>) {
    // No `Expect: 100-continue` (curl's default for large bodies): the
    // interim 100 would come before the status this reads.
    let mut all = vec!["--include", "--path-as-is", "--header", "expect:"];
    all.extend_from_slice(args);
    let out = curl(&all, None).await;
    let (status, headers, body) = parse_curl(&out);
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status:?}"));
    (code, headers, body)
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

async fn hello_head_and_paths(via: Via) {
    let Some((stack, _, _)) = stack(via).await else {
        return;
    };
    let (status, headers, body) = fetch(&[&stack.url("/")]).await;
    assert_eq!((status, text(&body).as_str()), (200, "Hello, world!\n"));
    assert!(
        headers.contains(&"content-length: 14".to_owned()),
        "{headers:?}"
    );

    let (status, headers, body) = fetch(&["--head", &stack.url("/")]).await;
    assert_eq!(status, 200);
    assert!(
        headers.contains(&"content-length: 14".to_owned()),
        "HEAD keeps GET's length: {headers:?}"
    );
    assert!(body.is_empty());

    // The location prefix is the mount point; the rest is raw, %2F kept.
    let (_, _, body) = fetch(&[&stack.url("/app/files/a%2Fb?x=1")]).await;
    let seen = text(&body);
    assert!(
        seen.contains("script=/app\ninfo=/files/a%2Fb\nquery=x=1\n"),
        "{seen}"
    );
    let port = stack.port;
    assert!(
        seen.contains(&format!(
            "url=http://127.0.0.1:{port}/app/files/a%2Fb?x=1\n"
        )),
        "{seen}"
    );
    assert!(
        seen.contains("peer=127.0.0.1:"),
        "REMOTE_ADDR/REMOTE_PORT: {seen}"
    );

    // At the root, nothing is mounted; an encoded byte in what would be
    // the prefix is no prefix of the raw path: all of it is path_info.
    let (_, _, body) = fetch(&[&stack.url("/files/a%2Fb")]).await;
    assert!(
        text(&body).contains("script=\ninfo=/files/a%2Fb\n"),
        "{}",
        text(&body)
    );
    let (_, _, body) = fetch(&[&stack.url("/%61pp/x")]).await;
    assert!(
        text(&body).contains("script=\ninfo=/%61pp/x\n"),
        "{}",
        text(&body)
    );
    // A dot segment, raw or encoded: nginx routed by the normalised
    // path, which the environ (built from the raw one) would not match,
    // so gateway-fastcgi answers 400 without the application.
    for path in ["/app/a/../x", "/app/a/%2e%2e/x", "/app/./x"] {
        let (status, _, body) = fetch(&[&stack.url(path)]).await;
        assert_eq!(status, 400, "{path}: {}", text(&body));
        assert!(!text(&body).contains("info="), "{path}: {}", text(&body));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_head_and_paths_over_tcp() {
    hello_head_and_paths(Via::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_head_and_paths_over_a_unix_socket() {
    hello_head_and_paths(Via::Unix).await;
}

async fn post_echo_and_413(via: Via) {
    let Some((stack, _, _)) = stack(via).await else {
        return;
    };
    let dir = TempDir::new("fastcgi-post");
    let upload = dir.join("upload");
    let data = pattern(1 << 20); // exactly the server's limit
    std::fs::write(&upload, &data).unwrap();
    let file = format!("@{}", upload.display());
    let (status, _, body) = fetch(&["--data-binary", &file, &stack.url("/echo")]).await;
    assert_eq!(status, 200);
    assert!(body == data, "the echo differs ({} bytes)", body.len());
    // Chunked from the client: nginx buffers it and sends CONTENT_LENGTH.
    let (status, _, body) = fetch(&[
        "--data-binary",
        &file,
        "--header",
        "transfer-encoding: chunked",
        &stack.url("/app/echo"),
    ])
    .await;
    assert_eq!((status, body.len()), (200, data.len()));

    std::fs::write(&upload, pattern((1 << 20) + 1)).unwrap();
    let (status, _, _) = fetch(&["--data-binary", &file, &stack.url("/echo")]).await;
    assert_eq!(status, 413, "over the application's limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_echo_and_413_over_tcp() {
    post_echo_and_413(Via::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_echo_and_413_over_a_unix_socket() {
    post_echo_and_413(Via::Unix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let Some((stack, _, _)) = stack(Via::Tcp).await else {
        return;
    };
    let url = stack.url("/");
    let urls: Vec<String> = (0..40).map(|i| format!("{url}?n={i}")).collect();
    let mut args = Vec::new();
    for (i, u) in urls.iter().enumerate() {
        if i > 0 {
            args.push("--next");
        }
        args.extend(["--output", "/dev/null", "--write-out", "%{http_code}\n", u]);
    }
    let out = curl(&args, None).await;
    let codes = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(codes.lines().filter(|c| *c == "200").count(), 40, "{codes}");
    let accepted = stack.stats.accepted_connections();
    assert!(
        (1..=2).contains(&accepted),
        "{accepted} FastCGI connections for 40 requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_examples_run_unchanged() {
    if !curl_available().await {
        return;
    }
    // The static site: files, a conditional GET, a range, the API behind.
    let Some(site) = Stack::start(
        Via::Unix,
        static_site::app(static_site::sample_dir()),
        |s| s,
    )
    .await
    else {
        return;
    };
    let index = std::fs::read(static_site::sample_dir().join("index.html")).unwrap();
    let (status, headers, body) = fetch(&[&site.url("/")]).await;
    assert_eq!((status, body == index), (200, true), "{headers:?}");
    let etag = headers
        .iter()
        .find_map(|h| h.strip_prefix("etag: "))
        .expect("an ETag")
        .to_owned();
    let (status, _, body) = fetch(&[
        "--header",
        &format!("if-none-match: {etag}"),
        &site.url("/"),
    ])
    .await;
    assert_eq!((status, body.len()), (304, 0));
    let (status, _, body) = fetch(&["--range", "0-4", &site.url("/index.html")]).await;
    assert_eq!((status, &body[..]), (206, &index[..5]));
    let (status, _, body) = fetch(&[&site.url("/app/api/time")]).await;
    assert_eq!(status, 200, "{}", text(&body));
    let (status, _, _) = fetch(&[&site.url("/no/such/file")]).await;
    assert_eq!(status, 404);
    drop(site);

    // The login site: a session cookie, a CSRF token, redirects.
    let app = login::app(Sessions::new(MemoryStore::new()), AuthKey::generate());
    let Some(site) = Stack::start(Via::Tcp, app, |s| s).await else {
        return;
    };
    let dir = TempDir::new("fastcgi-login");
    let jar = dir.join("cookies").display().to_string();
    let browse = |extra: Vec<String>| {
        let jar = jar.clone();
        async move {
            let mut args = vec!["-c".to_owned(), jar.clone(), "-b".to_owned(), jar];
            args.extend(["--header".to_owned(), "accept: text/html".to_owned()]);
            args.extend(extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            fetch(&args).await
        }
    };
    let location = |headers: &[String]| {
        headers
            .iter()
            .find_map(|h| h.strip_prefix("location: "))
            .map(str::to_owned)
    };
    let (status, headers, _) = browse(vec![site.url("/private")]).await;
    assert_eq!(
        (status, location(&headers).as_deref()),
        (303, Some("/login?next=/private"))
    );
    let (status, _, form) = browse(vec![site.url("/login?next=%2Fprivate")]).await;
    assert_eq!(status, 200);
    let form = text(&form);
    let marker = "name=\"csrf_token\" value=\"";
    let at = form.find(marker).expect("a csrf_token") + marker.len();
    let token = &form[at..at + form[at..].find('"').unwrap()];
    let login = format!("user=ada&password=lovelace&csrf_token={token}");
    let (status, headers, _) = browse(vec!["--data".into(), login, site.url("/login")]).await;
    assert_eq!(
        (status, location(&headers).as_deref()),
        (303, Some("/private"))
    );
    let (status, _, page) = browse(vec![site.url("/private")]).await;
    assert_eq!(status, 200);
    assert!(text(&page).contains("Hello, ada."), "{}", text(&page));
    // Under the /app/ location the site is mounted at /app (SCRIPT_NAME):
    // the page to come back to is the whole path the client used.
    let (status, headers, _) =
        fetch(&["--header", "accept: text/html", &site.url("/app/private")]).await;
    assert_eq!(status, 303);
    let to = location(&headers).unwrap_or_default();
    assert!(to.ends_with("?next=/app/private"), "{to}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_after_the_commit_truncates_the_response() {
    let Some((stack, _, _)) = stack(Via::Tcp).await else {
        return;
    };
    let out = curl(&["--include", &stack.url("/broken")], None).await;
    let seen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(seen.starts_with("HTTP/1.1 200 OK\r\n"), "{seen}");
    assert!(seen.ends_with("partial"), "{seen}");
    // curl 18: "transfer closed with outstanding read data remaining" —
    // no last chunk, the client knows the response is incomplete.
    assert_eq!(
        out.status.code(),
        Some(18),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = stack.error_log();
    assert!(log.contains("upstream prematurely closed"), "{log}");
    // And the next request is served (on a new FastCGI connection).
    let (status, _, _) = fetch(&[&stack.url("/")]).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_drops_the_application_future() {
    let Some((stack, mut dropped, _)) = stack(Via::Tcp).await else {
        return;
    };
    let out = curl(&["--max-time", "1", &stack.url("/hang")], None).await;
    assert_eq!(out.status.code(), Some(28), "curl timed out");
    assert_eq!(
        within("the future dropped", dropped.recv()).await,
        Some("dropped")
    );
    let log = stack.error_log();
    assert!(!log.contains("[crit]") && !log.contains("[alert]"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let Some((mut stack, _, gate)) = stack(Via::Unix).await else {
        return;
    };
    let url = stack.url("/slow");
    let slow = tokio::spawn(async move { curl(&["--include", &url], None).await });
    within("the request to start", gate.notified()).await;
    stack.stop();
    let out = within("curl", slow).await.unwrap();
    let (status, _, body) = parse_curl(&out);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(body, b"done");
    stack.stopped().await;
    assert!(stack.stats.is_draining());
    assert_eq!(stack.stats.open_connections(), 0);
    let (status, _, _) = fetch(&[&stack.url("/")]).await;
    assert_eq!(status, 502, "nothing listens any more");
}
