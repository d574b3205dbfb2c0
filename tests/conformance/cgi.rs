//! The CGI adapter example (`gateway_examples::cgi`) under the kit, hosted
//! as in the `cgi` tests: Python's `http.server --cgi` on `127.0.0.1` runs
//! the program `cgi-bin/cgi_conformance` (this package's bin: the kit's
//! battery through `run_cgi`) once per request.
//!
//! Its capabilities are those of CGI under this host, as they are:
//!
//! - the host copies the program's output unparsed after a status line of
//!   its own, so the status is read from the `Status` field, and
//!   responses are not framed by the host: no keep-alive, no framing to
//!   check, no way to show an abort (a failed body just stops);
//! - it loses request body bytes that come with the head: bodies follow
//!   its `100 Continue`;
//! - it decodes `PATH_INFO` (no raw paths, `%2F` is lost), has no HTTP/2,
//!   trailers or upgrades, and never tells a program its client is gone;
//! - the application runs in the program's process: the kit watches it
//!   through a file named in the environment the host passes on.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
use gateway_tests::{KillOnDrop, TempDir};

/// The program: the battery with a 64 KiB body limit.
const PROGRAM: &str = env!("CARGO_BIN_EXE_cgi_conformance");

struct PythonCgi;

impl Adapter for PythonCgi {
    fn name(&self) -> &str {
        "the CGI adapter under Python's http.server"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .keep_alive(false)
            .exact_framing(false)
            .abort(false)
            .disconnect(false)
            .raw_path(false)
            .max_body_size(64 * 1024)
            .out_of_process(true)
            .status_field(true)
            .body_after_continue(true)
    }

    async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
        let dir = TempDir::new("conformance-cgi");
        let bin = dir.join("cgi-bin");
        std::fs::create_dir(&bin)?;
        // The host runs programs as `nobody` when it can.
        set_mode(dir.path(), 0o755)?;
        set_mode(&bin, 0o755)?;
        let copy = bin.join("cgi_conformance");
        std::fs::copy(PROGRAM, &copy)?;
        set_mode(&copy, 0o755)?;
        let log = std::fs::File::create(dir.join("host.log"))?;
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--cgi", "--bind", "127.0.0.1"])
            .args(["--protocol", "HTTP/1.1", "--directory"])
            .arg(dir.path())
            .arg("0")
            // The host passes its environment on to every program.
            .envs(battery.env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let child = KillOnDrop(child);
        // "Serving HTTP on 127.0.0.1 port 41234 (...) ..." once it listens.
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await??;
        let port: u16 = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("no port in the host's banner {line:?}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        Ok(Running::tcp(addr)
            .path_prefix("/cgi-bin/cgi_conformance")
            .on_stop(async move {
                drop(child);
                if std::thread::panicking() {
                    let log = std::fs::read_to_string(dir.join("host.log")).unwrap_or_default();
                    eprintln!("--- CGI host log ---\n{log}--- end ---");
                }
                drop(dir);
            }))
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cgi_adapter_under_a_cgi_host() {
    if !crate::cgi::python_cgi_available() {
        return;
    }
    let report = gateway_conformance::run(&PythonCgi).await;
    println!("{report}");
    report.assert_passed();
}
