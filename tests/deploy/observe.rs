//! What operators watch, through the deployment: the access log, request
//! ids, `/metrics` and the readiness endpoint during a drain.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway_tests::{KillOnDrop, TIMEOUT, TempDir, curl, curl_available};

use super::SERIAL;
use super::stack::{Browser, CLIENT_IP, Deployment};

/// Requests through nginx carry nginx's `$request_id` to the instance,
/// which keeps it (its peer is trusted), echoes it, and logs exactly one
/// access line for it naming the verified user and the client's address;
/// `/metrics` on both instances counts exactly those requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_request_ids_and_metrics_through_nginx() {
    let _serial = SERIAL.lock().await;
    let Some(deploy) = Deployment::start("deploy: observe", false).await else {
        return;
    };
    let ada = Browser::new();
    ada.log_in(&deploy.url("")).await;
    const N: usize = 12;
    let mut ids = Vec::new();
    for _ in 0..N {
        // A client's own id is replaced by nginx's.
        let seen = ada
            .request(
                &["--header", "X-Request-Id: forged-by-the-client"],
                &deploy.url("/whoami"),
            )
            .await;
        assert_eq!(seen.status, 200, "{}", seen.body);
        let id = seen
            .header("x-request-id")
            .expect("an X-Request-Id")
            .to_owned();
        assert_eq!(id.len(), 32, "nginx's $request_id: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "one id per request");

    // The log is written by a background thread at least once a second.
    let deadline = Instant::now() + TIMEOUT;
    let lines = loop {
        let out = deploy.a.stdout() + &deploy.b.stdout();
        let lines: Vec<String> = out
            .lines()
            .filter(|l| l.contains("\"GET /whoami HTTP/1.1\""))
            .map(str::to_owned)
            .collect();
        if lines.len() >= N || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(lines.len(), N, "one line per request: {lines:#?}");
    for id in &ids {
        let line = lines
            .iter()
            .find(|l| l.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no line for {id}: {lines:#?}"));
        // Combined: client, ident, the verified user, …, status.
        let prefix = format!("{CLIENT_IP} - ada [");
        assert!(line.starts_with(&prefix), "{line}");
        assert!(line.contains("\"GET /whoami HTTP/1.1\" 200 "), "{line}");
        assert!(!line.contains("forged-by-the-client"), "{line}");
        assert!(line.ends_with(" completed"), "{line}");
    }

    // Each instance counts what it served; together, the N requests.
    let mut served = 0;
    for instance in [&deploy.a, &deploy.b] {
        let sock = instance.sock.display().to_string();
        let out = curl(
            &[
                "--silent",
                "--unix-socket",
                &sock,
                "http://localhost/metrics",
            ],
            None,
        )
        .await;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        served += sample(
            &text,
            r#"http_requests_total{method="GET",status="2xx",route="/whoami"}"#,
        );
        assert_eq!(sample(&text, "gateway_draining"), 0, "{text}");
        assert!(
            sample(&text, "gateway_connections_accepted_total") >= 1,
            "{text}"
        );
    }
    assert_eq!(served, N as u64);

    // The operator's endpoints are not public through nginx.
    for path in [
        "/metrics",
        "/app/metrics",
        "/livez",
        "/readyz",
        "/app/readyz",
    ] {
        let res = ada.get(&deploy.url(path)).await;
        assert_eq!(res.status, 404, "{path} through nginx: {}", res.body);
    }
}

/// The value of the sample `series` in an exposition, 0 when absent.
pub(super) fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.parse::<f64>().expect("a number") as u64)
}

/// `--drain-delay`: from SIGTERM on `/readyz` answers 503 while the
/// instance still serves everything else; after the delay it drains and
/// exits 0. `/livez` stays 200 throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_from_sigterm_through_the_drain_delay() {
    if !curl_available().await {
        return;
    }
    let dir = TempDir::new("deploy-drain");
    let sock = dir.join("a.sock");
    let out = dir.join("a.out");
    let child = Command::new(env!("CARGO_BIN_EXE_demo_server"))
        .args(["--name", "a", "--drain-delay", "3", "--unix"])
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("create a.out"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start demo_server");
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + TIMEOUT;
    while !std::fs::read_to_string(&out)
        .unwrap_or_default()
        .contains("listening on unix:")
    {
        assert!(Instant::now() < deadline, "demo_server did not listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sock = sock.display().to_string();
    let status = |path: &'static str| {
        let sock = sock.clone();
        async move {
            let url = format!("http://localhost{path}");
            let args = [
                "--silent",
                "--output",
                "/dev/null",
                "--write-out",
                "%{http_code}",
            ];
            let mut args = args.to_vec();
            args.extend(["--unix-socket", &sock, &url]);
            let out = curl(&args, None).await;
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    assert_eq!(status("/readyz").await, "200");
    assert_eq!(status("/livez").await, "200");

    let pid = child.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.expect("run kill").success());
    let sent = Instant::now();
    // Within the delay: not ready, yet serving.
    let mut seen = BTreeMap::new();
    while sent.elapsed() < Duration::from_millis(1500) {
        *seen.entry(status("/readyz").await).or_insert(0) += 1;
        assert_eq!(status("/whoami").await, "200", "served during the delay");
        assert_eq!(status("/livez").await, "200");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first probe may race the signal's delivery; the rest are 503.
    assert!(seen.get("503").copied().unwrap_or(0) >= 3, "{seen:?}");
    assert!(seen.get("200").copied().unwrap_or(0) <= 1, "{seen:?}");
    // After the delay: drained, exit 0.
    let deadline = Instant::now() + TIMEOUT;
    let exit = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after the drain delay");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        sent.elapsed() >= Duration::from_secs(3),
        "the delay was kept"
    );
}
