//! Load through nginx while instances die, stop and restart: `wrk`
//! (parsed for its error counts), and a few keep-alive clients that
//! record every answer.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gateway_tests::{Client, Proto, TIMEOUT, empty, skip_unless_ci, within};
use http::Method;
use http::header::{CONNECTION, COOKIE, HeaderValue};
use http_body_util::BodyExt;

/// Whether `wrk` can be run. When it cannot: fails the test if `CI` is
/// set, else prints a loud notice and returns `false`.
pub(super) fn wrk_available() -> bool {
    let ok = std::process::Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        // `wrk --version` prints its usage and exits 1.
        .is_ok();
    if !ok {
        skip_unless_ci(
            "deploy load test",
            "cannot run `wrk`",
            "Install wrk (apt-get install wrk)",
        );
    }
    ok
}

/// What `wrk` reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct WrkReport {
    /// Requests completed.
    pub(super) requests: u64,
    /// "Non-2xx or 3xx responses" (a status of 400 or more).
    pub(super) bad_status: u64,
    /// "Socket errors": connect, read, write and timeout, added up.
    pub(super) socket_errors: u64,
}

impl WrkReport {
    /// Parses wrk's output. The error lines appear only when there were
    /// errors; a missing requests line is a parse failure.
    pub(super) fn parse(out: &str) -> Result<WrkReport, String> {
        let mut report = WrkReport::default();
        let mut saw_requests = false;
        for line in out.lines().map(str::trim) {
            if let Some((n, _)) = line.split_once(" requests in ") {
                report.requests = n.parse().map_err(|_| format!("bad line {line:?}"))?;
                saw_requests = true;
            } else if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
                report.bad_status = n.trim().parse().map_err(|_| format!("bad line {line:?}"))?;
            } else if let Some(list) = line.strip_prefix("Socket errors:") {
                for part in list.split(',') {
                    let n = part.split_whitespace().nth(1).unwrap_or("");
                    report.socket_errors +=
                        n.parse::<u64>().map_err(|_| format!("bad line {line:?}"))?;
                }
            }
        }
        if saw_requests {
            Ok(report)
        } else {
            Err(format!("no requests line in wrk's output:\n{out}"))
        }
    }
}

/// Starts `wrk -t1 -c8 -dSECS` on `url` with `cookie`; await the handle
/// for its report. wrk ends by itself after `secs` (plus a bounded grace).
pub(super) fn start_wrk(url: &str, cookie: &str, secs: u64) -> tokio::task::JoinHandle<WrkReport> {
    start_wrk_with(url, cookie, secs, None)
}

/// wrk's Lua script for [`start_wrk_with`]: every request a `POST` of a
/// small JSON note (`/api/notes` answers `201`). nginx never sends a
/// `POST` twice, so every one an instance drops is a failure.
pub(super) const POST_NOTES: &str = r#"
wrk.method = "POST"
wrk.body = '{"title":"written under load"}'
wrk.headers["Content-Type"] = "application/json"
"#;

/// [`start_wrk`], with wrk running the Lua `script` (a file's path) when
/// given.
pub(super) fn start_wrk_with(
    url: &str,
    cookie: &str,
    secs: u64,
    script: Option<&std::path::Path>,
) -> tokio::task::JoinHandle<WrkReport> {
    let mut cmd = tokio::process::Command::new("wrk");
    cmd.args(["-t1", "-c8", &format!("-d{secs}s"), "--timeout", "5s"])
        .args(["-H", &format!("Cookie: {cookie}")]);
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("start wrk");
    tokio::spawn(async move {
        let limit = Duration::from_secs(secs) + TIMEOUT;
        let out = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("wrk ran longer than {limit:?}"))
            .expect("wait for wrk");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "wrk failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        WrkReport::parse(&stdout).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// What the keep-alive clients of a [`Load`] saw.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Answers that were a `200` naming the user.
    pub(super) ok: u64,
    /// Every answer that was not a `200` for `ada`, and every transport
    /// error, described.
    pub(super) failures: Vec<String>,
    /// Instances that answered after [`Load::mark`].
    pub(super) after_mark: BTreeSet<String>,
    /// Answers after the mark.
    pub(super) ok_after_mark: u64,
}

/// Keep-alive clients sending `GET /whoami` through nginx until
/// [`finish`](Load::finish)ed.
pub(super) struct Load {
    mark: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
}

impl Load {
    /// Starts `clients` concurrent HTTP/1.1 keep-alive clients sending
    /// `GET /whoami` with `cookie` to `addr` (nginx), each answer to be a
    /// `200` naming `user`. A connection nginx closes (`Connection:
    /// close`) is replaced; any other transport error is a failure.
    pub(super) fn start(addr: SocketAddr, cookie: &str, user: &str, clients: usize) -> Load {
        let cookie = HeaderValue::try_from(cookie).expect("a valid cookie header");
        let mark = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..clients)
            .map(|_| {
                let (cookie, user) = (cookie.clone(), user.to_owned());
                let (mark, stop) = (mark.clone(), stop.clone());
                tokio::spawn(client_loop(addr, cookie, user, mark, stop))
            })
            .collect();
        Load { mark, stop, tasks }
    }

    /// From now on, answers also count in [`Tally::after_mark`].
    pub(super) fn mark(&self) {
        self.mark.store(true, Ordering::Relaxed);
    }

    /// Stops the clients and adds up what they saw.
    pub(super) async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for task in self.tasks {
            let tally = within("a load client to stop", task)
                .await
                .expect("a load client panicked");
            total.ok += tally.ok;
            total.ok_after_mark += tally.ok_after_mark;
            total.failures.extend(tally.failures);
            total.after_mark.extend(tally.after_mark);
        }
        total
    }
}

async fn client_loop(
    addr: SocketAddr,
    cookie: HeaderValue,
    user: String,
    mark: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    let mut client = Client::connect(Proto::Http1, addr).await;
    while !stop.load(Ordering::Relaxed) {
        let after = mark.load(Ordering::Relaxed);
        let mut req = client.request(Method::GET, "/whoami", empty());
        req.headers_mut().insert(COOKIE, cookie.clone());
        let res = match within("a request through nginx", client.try_send(req)).await {
            Ok(res) => res,
            Err(e) => {
                tally.failures.push(format!("transport: {e}"));
                client = Client::connect(Proto::Http1, addr).await;
                continue;
            }
        };
        let status = res.status();
        let closing = res
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = match within("a response body", res.into_body().collect()).await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Err(e) => {
                tally.failures.push(format!("body: {e}"));
                client = Client::connect(Proto::Http1, addr).await;
                continue;
            }
        };
        let field = |key: &str| {
            let prefix = format!("{key}: ");
            body.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or("?")
                .to_owned()
        };
        if status != 200 || field("user") != user {
            tally.failures.push(format!("{status}: {body:?}"));
        } else {
            tally.ok += 1;
            if after {
                tally.ok_after_mark += 1;
                tally.after_mark.insert(field("instance"));
            }
        }
        if closing {
            client = Client::connect(Proto::Http1, addr).await;
        }
    }
    tally
}

#[test]
fn wrk_output_is_parsed() {
    let clean = "Running 3s test @ http://127.0.0.1:8080/private
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  400.00us   9.00ms   90.00%
    Req/Sec     6.00k   300.00     6.50k    70.00%
  17890 requests in 3.00s, 5.12MB read
Requests/sec:   5963.33
Transfer/sec:      1.71MB
";
    assert_eq!(
        WrkReport::parse(clean),
        Ok(WrkReport {
            requests: 17890,
            bad_status: 0,
            socket_errors: 0
        })
    );
    let failing = clean.replace(
        "Requests/sec",
        "  Socket errors: connect 2, read 3, write 0, timeout 1\n  \
         Non-2xx or 3xx responses: 7\nRequests/sec",
    );
    assert_eq!(
        WrkReport::parse(&failing),
        Ok(WrkReport {
            requests: 17890,
            bad_status: 7,
            socket_errors: 6
        })
    );
    assert!(WrkReport::parse("unable to connect to 127.0.0.1:1").is_err());
}
