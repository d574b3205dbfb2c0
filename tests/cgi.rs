//! The CGI adapter (`gateway_examples::cgi`) under a real CGI host:
//! Python's `http.server --cgi` on `127.0.0.1`, serving the hello and
//! mini-framework applications as the programs `cgi-bin/cgi_hello` and
//! `cgi-bin/cgi_mini` (this package's `cgi_hello` and `cgi_mini` bins),
//! with real HTTP/1.1 requests over TCP.
//!
//! Python's host is a simple one, and the checks allow for how it differs
//! from RFC 3875, on purpose:
//!
//! - it sends `HTTP/1.1 200 Script output follows` before running the
//!   program and copies the program's output after it unparsed, so the
//!   program's `Status:` line reaches the client as a header field; the
//!   status a compliant host would send is read from it ([`Reply::status`]);
//! - it reads the request head through a buffer the program does not
//!   share, so a request body is sent only after `100 Continue` (the
//!   client asks with `Expect`), which it answers once the head is read;
//! - it passes no `HTTP_HOST`, so the adapter's `Host` comes from
//!   `SERVER_NAME`; it runs only GET, HEAD and POST.
//!
//! Without a Python that has the CGI handler, the host tests print a loud
//! notice and pass, unless `CI` is set, where they fail. The programs are
//! also run directly, with meta-variables set by the test, which needs no
//! host. Python runs from a temporary directory and is killed by PID when
//! the test ends, however it ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

use gateway_examples::hello::GREETING;
use gateway_tests::{KillOnDrop, TIMEOUT, TempDir, pattern, skip_unless_ci, split_head};

mod through_a_host;
mod without_a_host;

/// A response as the client received it.
#[derive(Debug)]
struct Reply {
    /// The status line's code.
    line_status: u16,
    /// The header fields, names lowercased, in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn parse(raw: &[u8]) -> Reply {
        let (head, body) = split_head(raw);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let line_status = status_line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        let headers = lines
            .map(|l| {
                let (name, value) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("bad field {l:?}"));
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        Reply {
            line_status,
            headers,
            body: body.to_vec(),
        }
    }

    /// The one value of field `name`; fails if it is missing or repeated.
    fn header(&self, name: &str) -> &str {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let (_, value) = values
            .next()
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.headers));
        assert!(
            values.next().is_none(),
            "{name} repeated: {:?}",
            self.headers
        );
        value
    }

    fn has(&self, name: &str) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }

    /// The response's status: the program's `Status` field where the host
    /// passed it through (Python's), else the status line (a host that
    /// turned `Status` into the status line, as RFC 3875 §6.3.3 says).
    fn status(&self) -> u16 {
        if self.has("status") {
            assert_eq!(self.line_status, 200, "Python's own status line");
            let status = self.header("status");
            let code = status.split(' ').next().unwrap_or_default();
            assert!(
                status.len() > 4,
                "the Status field has a reason phrase: {status:?}"
            );
            code.parse()
                .unwrap_or_else(|_| panic!("bad Status {status:?}"))
        } else {
            self.line_status
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Checks the status, and that the body is exactly as long as the
    /// program's `Content-Length` says when it gave one.
    #[track_caller]
    fn assert(&self, status: u16, what: &str) {
        assert_eq!(self.status(), status, "{what}: {self:?}");
        if self.has("content-length") {
            let len: usize = self.header("content-length").parse().unwrap();
            assert_eq!(self.body.len(), len, "{what}: body length: {self:?}");
        }
    }
}

/// Python's `http.server` with its CGI handler, killed (and reaped) when
/// dropped; its log is printed if the test is failing.
struct Host {
    /// Dropped before `dir`: the host is gone before its directory.
    _child: KillOnDrop,
    port: u16,
    dir: TempDir,
}

impl Drop for Host {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("host.log")).unwrap_or_default();
            eprintln!("--- CGI host log ---\n{log}--- end ---");
        }
    }
}

/// Whether `python3` has `http.server`'s CGI handler. When it has not:
/// fails the test if `CI` is set, else prints a loud notice and returns
/// `false`.
pub(crate) fn python_cgi_available() -> bool {
    let problem = match Command::new("python3")
        .args([
            "-c",
            "import http.server; http.server.CGIHTTPRequestHandler",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "python3 has no http.server CGI handler: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(err) => format!("cannot run python3: {err}"),
    };
    skip_unless_ci("CGI host test", &problem, "Install python3 (up to 3.14)");
    false
}

impl Host {
    /// Starts the host on `127.0.0.1`, a free port, serving `programs`
    /// (paths of executables) from `cgi-bin/`.
    fn start(programs: &[&str]) -> Host {
        let dir = TempDir::new("cgi");
        let bin = dir.join("cgi-bin");
        std::fs::create_dir(&bin).unwrap();
        // The host runs programs as `nobody` when it can: the directory and
        // copies in it are readable by all, wherever the build is.
        set_mode(dir.path(), 0o755);
        set_mode(&bin, 0o755);
        for program in programs {
            let path = Path::new(program);
            let copy = bin.join(path.file_name().unwrap());
            std::fs::copy(path, &copy).expect("copy the CGI program");
            set_mode(&copy, 0o755);
        }
        let log = std::fs::File::create(dir.join("host.log")).unwrap();
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--cgi", "--bind", "127.0.0.1"])
            .args(["--protocol", "HTTP/1.1", "--directory"])
            .arg(dir.path())
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start python3 -m http.server");
        let stdout = child.stdout.take().unwrap();
        let mut host = Host {
            _child: KillOnDrop(child),
            port: 0,
            dir,
        };
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        // is printed once it listens; the read is bounded by the host
        // exiting (killed by the guard's drop on a panic elsewhere).
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the host's banner");
        host.port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in the host's banner {line:?}"));
        host
    }

    /// Sends one request (`Connection: close`) and reads the response to
    /// the end. A body is sent after the host's `100 Continue`.
    fn request(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the host");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nconnection: close\r\n",
            self.port
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            head.push_str(&format!(
                "content-length: {}\r\nexpect: 100-continue\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        if !body.is_empty() {
            let mut interim = Vec::new();
            while !interim.ends_with(b"\r\n\r\n") {
                let n = reader
                    .read_until(b'\n', &mut interim)
                    .expect("read 100 Continue");
                assert!(n > 0, "the host closed before 100 Continue");
            }
            assert!(
                interim.starts_with(b"HTTP/1.1 100 "),
                "expected 100 Continue, got {:?}",
                String::from_utf8_lossy(&interim)
            );
            stream.write_all(body).unwrap();
        }
        let mut raw = Vec::new();
        reader
            .read_to_end(&mut raw)
            .expect("read the response to its end");
        Reply::parse(&raw)
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

const HELLO: &str = env!("CARGO_BIN_EXE_cgi_hello");
const MINI: &str = env!("CARGO_BIN_EXE_cgi_mini");
