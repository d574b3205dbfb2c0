//! The deployment in `deploy/`, end to end: nginx from the shipped
//! `deploy/nginx/gateway.conf` in front of two demo instances
//! (`examples/demo`, run as `demo_server` processes) on Unix sockets,
//! sharing one `redis-server` and one login key — the layered model
//! scaled out, with real processes killed, stopped and restarted under
//! load.
//!
//! - A login through nginx holds on both instances; the application sees
//!   the client's address and scheme from nginx, and the prefix in both
//!   prefix modes; a request that bypasses nginx cannot forge them.
//! - SIGKILL of one instance under load fails no request; SIGTERM of one
//!   under `wrk` gives no error and no non-2xx answer; a rolling restart
//!   of both under `wrk` neither, and the user stays logged in.
//! - With nginx's `proxy_cache` on (the config's `#cache:` lines), a page
//!   that read the session is never served to another user.
//! - systemd socket activation over TCP and a Unix socket, and the shipped units pass
//!   `systemd-analyze verify`.
//! - Through nginx, every request has one access-log line with nginx's
//!   request id, the verified user and the client's address, and
//!   `/metrics` counts it; `--drain-delay` keeps an instance serving
//!   while `/readyz` answers 503 ([`observe`]).
//! - The demo's WebSocket through nginx at `/ws` and `/app/ws`, a foreign
//!   `Origin` refused, close 1001 from a SIGTERM to the instance holding
//!   the socket, and plain requests still on kept-alive upstream
//!   connections ([`websocket`]).
//!
//! Each test starts its own processes, stopped by PID however it ends.
//! They run one at a time ([`SERIAL`]): each puts two instances, nginx,
//! Redis and load on the machine. Missing nginx, curl, redis-server, wrk
//! or systemd's tools: a loud notice and a pass, or a failure with `CI`
//! set.

mod load;
mod observe;
mod stack;
mod websocket;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway_tests::{KillOnDrop, TIMEOUT, TempDir, curl, curl_available, skip_unless_ci};
use load::{Load, POST_NOTES, WrkReport, start_wrk, start_wrk_with, wrk_available};
use stack::{Browser, CLIENT_IP, Deployment};

/// One deployment at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The demo's stylesheet, as nginx and StaticFiles must serve it.
fn stylesheet() -> String {
    std::fs::read_to_string(gateway_examples::demo::static_dir().join("site.css"))
        .expect("read the demo's site.css")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_holds_on_both_instances_and_the_client_is_seen() {
    let _serial = SERIAL.lock().await;
    let Some(deploy) = Deployment::start("deploy: login", false).await else {
        return;
    };
    let ada = Browser::new();
    ada.log_in(&deploy.url("")).await;

    // nginx spreads requests over both instances; the login holds on each.
    let mut instances = BTreeSet::new();
    for _ in 0..20 {
        let seen = ada.get(&deploy.url("/whoami")).await;
        assert_eq!(seen.status, 200, "{}", seen.body);
        assert_eq!(seen.field("user"), "ada", "{}", seen.body);
        assert_eq!(seen.field("client"), CLIENT_IP, "the client's address");
        assert_eq!(seen.field("scheme"), "http");
        let host = format!("127.0.0.1:{}", deploy.port);
        assert_eq!(seen.field("host"), host);
        assert_eq!(seen.field("script_name"), "");
        assert_eq!(seen.field("url"), deploy.url("/whoami"));
        instances.insert(seen.field("instance").to_owned());
    }
    assert_eq!(instances, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
    for _ in 0..2 {
        let page = ada.get(&deploy.url("/private")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Hello, <b>ada</b>"), "{}", page.body);
    }

    // Headers a client forges through nginx: nginx appends to or replaces
    // them, and only its own values count.
    let forged = [
        "--header",
        "X-Forwarded-For: 203.0.113.9",
        "--header",
        "X-Forwarded-Proto: https",
        "--header",
        "X-Forwarded-Host: evil.test",
        "--header",
        "X-Forwarded-Prefix: /evil",
    ];
    let seen = ada.request(&forged, &deploy.url("/whoami")).await;
    assert_eq!(seen.field("client"), CLIENT_IP);
    assert_eq!(seen.field("scheme"), "http");
    assert_eq!(seen.field("script_name"), "");
    assert_eq!(seen.field("url"), deploy.url("/whoami"));

    // Straight to an instance's TCP port, bypassing nginx: not trusted.
    for instance in [&deploy.a, &deploy.b] {
        let url = format!("http://{}/whoami", instance.tcp);
        let seen = ada.request(&forged, &url).await;
        assert_eq!(
            seen.field("client"),
            CLIENT_IP,
            "direct to {}",
            instance.name
        );
        assert_eq!(seen.field("scheme"), "http");
        assert_eq!(seen.field("script_name"), "");
        assert_eq!(seen.field("url"), url);
        assert_eq!(seen.field("user"), "ada", "the session is shared");
    }
    // Over the Unix socket, where only nginx should be able to connect
    // (the socket's mode), the headers are believed: that is the trust.
    let sock = deploy.a.sock.display().to_string();
    let mut args = vec!["--include", "--unix-socket", &sock];
    args.extend(forged);
    args.push("http://localhost/whoami");
    let seen = curl(&args, None).await;
    let text = String::from_utf8_lossy(&seen.stdout);
    assert!(text.contains("\nclient: 203.0.113.9\n"), "{text}");
    assert!(text.contains("\nscheme: https\n"), "{text}");

    // The site under nginx's /app/ prefix: nginx strips it and says so.
    let seen = ada.get(&deploy.url("/app/whoami")).await;
    assert_eq!(seen.field("script_name"), "/app");
    assert_eq!(seen.field("url"), deploy.url("/app/whoami"));
    assert_eq!(seen.field("user"), "ada");
    let grace = Browser::new();
    let res = grace.get(&deploy.url("/app/private")).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.header("location"), Some("/app/login?next=/app/private"));
    grace.log_in(&deploy.url("/app")).await;
    let page = grace.get(&deploy.url("/app/private")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("action=\"/app/logout\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("href=\"/app/static/site.css\""));

    // Static files: from disk by nginx at /static/, from StaticFiles
    // through nginx under the prefix.
    for path in ["/static/site.css", "/app/static/site.css"] {
        let res = grace.get(&deploy.url(path)).await;
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.body, stylesheet(), "{path}");
    }
}

/// nginx's address, for clients other than curl.
fn nginx_addr(deploy: &Deployment) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], deploy.port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_one_instance_fails_no_request() {
    let _serial = SERIAL.lock().await;
    let Some(mut deploy) = Deployment::start("deploy: sigkill", false).await else {
        return;
    };
    let ada = Browser::new();
    ada.log_in(&deploy.url("")).await;

    let load = Load::start(nginx_addr(&deploy), &ada.cookie_header(), "ada", 4);
    tokio::time::sleep(Duration::from_millis(700)).await;
    deploy.a.kill();
    load.mark();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let tally = load.finish().await;

    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed: {:?}",
        tally.failures.len(),
        tally.ok + tally.failures.len() as u64,
        &tally.failures[..tally.failures.len().min(5)]
    );
    assert!(tally.ok_after_mark > 0, "no request after the kill");
    assert_eq!(
        tally.after_mark,
        BTreeSet::from(["b".to_owned()]),
        "after the kill only b answers"
    );
    // Still logged in; the session was never in the dead process.
    let seen = ada.get(&deploy.url("/whoami")).await;
    assert_eq!(seen.field("user"), "ada");
    assert_eq!(seen.field("instance"), "b");
}

/// Asserts that a `wrk` run completed requests, all 2xx/3xx, with no
/// socket error.
fn assert_clean(what: &str, report: &WrkReport) {
    assert!(report.requests > 0, "{what}: wrk completed no request");
    assert_eq!(
        report.bad_status, 0,
        "{what}: non-2xx/3xx answers: {report:?}"
    );
    assert_eq!(report.socket_errors, 0, "{what}: socket errors: {report:?}");
}

/// wrk POSTing notes to `/api/notes` through nginx for `secs` seconds
/// (see [`POST_NOTES`]); the directory holding its script goes with it.
fn start_post_load(
    deploy: &Deployment,
    secs: u64,
) -> (TempDir, tokio::task::JoinHandle<WrkReport>) {
    let script = TempDir::new("deploy-wrk");
    let post = script.join("post.lua");
    std::fs::write(&post, POST_NOTES).expect("write post.lua");
    let posts = start_wrk_with(&deploy.url("/api/notes"), "", secs, Some(&post));
    (script, posts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_one_instance_under_wrk_fails_no_request() {
    let _serial = SERIAL.lock().await;
    if !wrk_available() {
        return;
    }
    let Some(mut deploy) = Deployment::start("deploy: sigterm", false).await else {
        return;
    };
    let ada = Browser::new();
    ada.log_in(&deploy.url("")).await;

    // /private answers 401 to a client (wrk) without a login: a lost
    // session would show as non-2xx answers. Beside it, POSTs, which nginx
    // never retries: the instance must answer every one it took, the
    // requests already in its socket and in its listener's queue
    // included.
    let wrk = start_wrk(&deploy.url("/private"), &ada.cookie_header(), 3);
    let (_script, posts) = start_post_load(&deploy, 3);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = deploy.a.terminate().await;
    assert!(
        status.success(),
        "a exited with {status}: {}",
        deploy.a.log()
    );
    let report = wrk.await.expect("wrk's task");
    assert_clean("SIGTERM under load", &report);
    let report = posts.await.expect("wrk's task");
    let what = format!("SIGTERM under POST load; nginx: {}", deploy.nginx_errors());
    assert_clean(&what, &report);

    let seen = ada.get(&deploy.url("/whoami")).await;
    assert_eq!(seen.field("user"), "ada");
    assert_eq!(seen.field("instance"), "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_wrk_fails_no_request() {
    let _serial = SERIAL.lock().await;
    if !wrk_available() {
        return;
    }
    let Some(mut deploy) = Deployment::start("deploy: rolling restart", false).await else {
        return;
    };
    let ada = Browser::new();
    ada.log_in(&deploy.url("")).await;

    // Long enough for both restarts: each waits for nginx to send the
    // restarted instance requests again (its fail_timeout, 3 s) before
    // the next instance is stopped, as deploy/README.md says to.
    const LOAD_SECS: u64 = 16;
    let started = Instant::now();
    let wrk = start_wrk(&deploy.url("/private"), &ada.cookie_header(), LOAD_SECS);
    // And POSTs, which nginx never sends twice.
    let (_script, posts) = start_post_load(&deploy, LOAD_SECS);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let watcher = Browser::new();
    for name in ["a", "b"] {
        let instance = deploy.instance(name);
        let status = instance.terminate().await;
        assert!(
            status.success(),
            "{name} exited with {status}: {}",
            instance.log()
        );
        instance.restart().await;
        deploy.wait_routed(&watcher, name).await;
    }
    let restarted = started.elapsed();
    let report = wrk.await.expect("wrk's task");
    assert!(
        restarted < Duration::from_secs(LOAD_SECS),
        "the restarts took {restarted:?}, longer than the load ({LOAD_SECS} s)"
    );
    assert_clean("rolling restart under load", &report);
    let report = posts.await.expect("wrk's task");
    let what = format!(
        "rolling restart under POST load; nginx: {}",
        deploy.nginx_errors()
    );
    assert_clean(&what, &report);

    // Still logged in, on both (new) instances.
    let mut instances = BTreeSet::new();
    for _ in 0..6 {
        let seen = ada.get(&deploy.url("/whoami")).await;
        assert_eq!(seen.field("user"), "ada");
        instances.insert(seen.field("instance").to_owned());
    }
    assert_eq!(instances, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_cache_never_serves_a_session_page_to_another_user() {
    let _serial = SERIAL.lock().await;
    let Some(deploy) = Deployment::start("deploy: proxy_cache", true).await else {
        return;
    };
    // The cache is on: a static file from the application is stored and
    // served again by nginx.
    let anon = Browser::new();
    let url = deploy.url("/app/static/site.css");
    let first = anon.get(&url).await;
    assert_eq!(first.body, stylesheet());
    let again = anon.get(&url).await;
    assert_eq!(
        again.header("x-cache-status"),
        Some("hit"),
        "{:?}",
        again.headers
    );
    assert_eq!(again.body, stylesheet());

    let ada = Browser::new();
    ada.log_in(&deploy.url("")).await;
    // Both users ask for the same URLs, in turn; each must get their own.
    for round in 1..=4u32 {
        for (who, browser, user) in [("ada", &ada, "ada"), ("anonymous", &anon, "-")] {
            let seen = browser.get(&deploy.url("/whoami")).await;
            assert_eq!(seen.field("user"), user, "{who}, round {round}");
            assert_ne!(seen.header("x-cache-status"), Some("hit"), "{who} /whoami");
            assert!(
                seen.header("cache-control")
                    .is_some_and(|v| v.contains("private")),
                "{who}: {:?}",
                seen.headers
            );
            let page = browser.get(&deploy.url("/")).await;
            assert_ne!(page.header("x-cache-status"), Some("hit"), "{who} /");
            // The visit counter is per session and counts every visit.
            // ada's first visit to / is this loop's first; the anonymous
            // user's too (the stylesheet did not touch the session).
            let visit = format!("Visit {round} ");
            assert!(
                page.body.contains(&visit),
                "{who}: {visit:?} in {}",
                page.body
            );
            let logged_in = page.body.contains("Logged in as <b>ada</b>");
            assert_eq!(logged_in, user == "ada", "{who}: {}", page.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_activation_over_tcp() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/whoami");
    activated(&format!("127.0.0.1:{port}"), &[&url]).await;
}

/// The same over a Unix socket: the demo serves the socket systemd
/// passes (`Server::from_std_unix`) and leaves its file to systemd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_activation_over_a_unix_socket() {
    let dir = TempDir::new("deploy-activate");
    let sock = dir.join("activated.sock").display().to_string();
    activated(&sock, &["--unix-socket", &sock, "http://localhost/whoami"]).await;
}

/// Runs the demo under `systemd-socket-activate --listen=LISTEN`, asks
/// `/whoami` with curl's `request` arguments, then stops it with SIGTERM:
/// it must have answered as the activated instance and exit 0.
async fn activated(listen: &str, request: &[&str]) {
    let _serial = SERIAL.lock().await;
    if !curl_available().await {
        return;
    }
    let activate = "systemd-socket-activate";
    let runs = Command::new(activate)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        skip_unless_ci(
            "socket activation test",
            "cannot run `systemd-socket-activate`",
            "Install systemd",
        );
        return;
    }
    // systemd-socket-activate binds the socket, then runs the demo with it
    // as fd 3 (LISTEN_FDS=1), as systemd does with a .socket unit.
    let child = Command::new(activate)
        .arg(format!("--listen={listen}"))
        .arg(env!("CARGO_BIN_EXE_demo_server"))
        .args(["--name", "activated"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start systemd-socket-activate");
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + TIMEOUT;
    let text = loop {
        let out = curl(request, None).await;
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no answer on the activated socket {listen}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(text.starts_with("instance: activated\n"), "{text}");
    // SIGTERM drains and exits 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exited with {status}");
}

#[test]
fn shipped_systemd_units_verify() {
    let runs = Command::new("systemd-analyze")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        skip_unless_ci(
            "systemd unit check",
            "cannot run `systemd-analyze`",
            "Install systemd",
        );
        return;
    }
    let dir = TempDir::new("deploy-units");
    let units = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd");
    for name in ["gateway-demo@.service", "gateway-demo@.socket"] {
        let text = std::fs::read_to_string(units.join(name)).expect("read a shipped unit");
        // `verify` checks that the program exists: point it at the demo.
        let program = "/usr/local/bin/gateway-demo";
        assert!(text.contains(program) || name.ends_with(".socket"));
        let text = text.replace(program, env!("CARGO_BIN_EXE_demo_server"));
        std::fs::write(dir.join(name), text).expect("write a unit");
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.join("gateway-demo@a.service"))
        .arg(dir.join("gateway-demo@a.socket"))
        .output()
        .expect("run systemd-analyze");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && report.trim().is_empty(), "{report}");
}

#[test]
fn readme_nginx_excerpt_is_from_the_shipped_config() {
    let readme = include_str!("../README.md");
    let shipped: Vec<&str> = include_str!("../deploy/nginx/gateway.conf")
        .lines()
        .map(str::trim)
        .collect();
    let start = readme
        .find("```nginx\n")
        .expect("README.md shows the nginx config")
        + 9;
    let end = readme[start..].find("```").expect("the end of the block") + start;
    let mut checked = 0;
    for line in readme[start..end].lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        assert!(
            shipped.contains(&line),
            "README.md's nginx excerpt has {line:?}, which deploy/nginx/gateway.conf does not"
        );
        checked += 1;
    }
    assert!(checked > 10, "the excerpt is the config's heart, not empty");
}
