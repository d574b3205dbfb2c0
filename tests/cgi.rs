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

// The host -------------------------------------------------------------------

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
fn python_cgi_available() -> bool {
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

// Through the host -------------------------------------------------------------

#[test]
fn hello_through_a_cgi_host() {
    if !python_cgi_available() {
        return;
    }
    let host = Host::start(&[HELLO]);

    // The host splits the path: SCRIPT_NAME=/cgi-bin/cgi_hello, PATH_INFO=/.
    let r = host.request("GET", "/cgi-bin/cgi_hello/", &[], b"");
    r.assert(200, "GET /");
    assert_eq!(r.text(), GREETING);
    assert_eq!(r.header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(r.header("content-length"), GREETING.len().to_string());

    // PATH_INFO is empty: the app's "/" is not matched.
    host.request("GET", "/cgi-bin/cgi_hello", &[], b"")
        .assert(404, "GET without PATH_INFO");
    let r = host.request("GET", "/cgi-bin/cgi_hello/missing", &[], b"");
    r.assert(404, "unknown path");
    assert_eq!(r.text(), "Not Found");
    host.request("GET", "/cgi-bin/cgi_hello/echo", &[], b"")
        .assert(405, "GET /echo");

    let r = host.request("HEAD", "/cgi-bin/cgi_hello/", &[], b"");
    assert_eq!(r.status(), 200, "HEAD: {r:?}");
    assert_eq!(
        r.header("content-length"),
        GREETING.len().to_string(),
        "GET's length"
    );
    assert!(r.body.is_empty(), "HEAD has no body: {r:?}");

    let payload = pattern(100_000);
    let r = host.request(
        "POST",
        "/cgi-bin/cgi_hello/echo",
        &[("content-type", "application/x-test")],
        &payload,
    );
    r.assert(200, "POST /echo");
    assert_eq!(r.header("content-type"), "application/x-test");
    assert!(
        r.body == payload,
        "the echo differs ({} bytes back)",
        r.body.len()
    );
}

#[test]
fn mini_framework_through_a_cgi_host() {
    if !python_cgi_available() {
        return;
    }
    let host = Host::start(&[MINI]);

    let r = host.request("GET", "/cgi-bin/cgi_mini/", &[], b"");
    r.assert(200, "index");
    assert_eq!(r.text(), gateway_examples::mini_framework::notes::INDEX);

    // JSON in, JSON out, and a Location built from SCRIPT_NAME.
    let r = host.request(
        "POST",
        "/cgi-bin/cgi_mini/notes",
        &[("content-type", "application/json")],
        br#"{"title":"cgi","body":"via python"}"#,
    );
    r.assert(201, "POST /notes");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("location"), "/cgi-bin/cgi_mini/notes/1");
    assert_eq!(r.text(), r#"{"id":1,"title":"cgi","body":"via python"}"#);

    // Every request is a new process: the note is gone.
    host.request("GET", "/cgi-bin/cgi_mini/notes/1", &[], b"")
        .assert(404, "a note of another process");
    let r = host.request("GET", "/cgi-bin/cgi_mini/notes", &[], b"");
    r.assert(200, "GET /notes");
    assert_eq!(r.text(), "[]");

    // The query reaches the app as sent; a bad one is the app's 400.
    let r = host.request("GET", "/cgi-bin/cgi_mini/search?q=a%20b&limit=3", &[], b"");
    r.assert(200, "search");
    assert_eq!(r.text(), "[]");
    host.request("GET", "/cgi-bin/cgi_mini/search?limit=x", &[], b"")
        .assert(400, "search without q");

    // The host decodes PATH_INFO; the adapter encodes it again, and the
    // router decodes the parameter.
    let r = host.request("GET", "/cgi-bin/cgi_mini/hello/J%C3%BCrgen%20%25", &[], b"");
    r.assert(200, "hello with an encoded name");
    assert_eq!(r.text(), "Hello, Jürgen %!\n");

    let r = host.request(
        "POST",
        "/cgi-bin/cgi_mini/notes",
        &[("content-type", "application/json")],
        br#"{"title":"#,
    );
    r.assert(400, "malformed JSON");
    let r = host.request(
        "POST",
        "/cgi-bin/cgi_mini/notes",
        &[("content-type", "text/plain")],
        b"title",
    );
    r.assert(415, "not JSON");
    let r = host.request("HEAD", "/cgi-bin/cgi_mini/notes", &[], b"");
    assert_eq!(r.status(), 200, "HEAD /notes: {r:?}");
    assert_eq!(r.header("content-length"), "2", "GET's length");
    assert!(r.body.is_empty(), "HEAD has no body: {r:?}");
    host.request("POST", "/cgi-bin/cgi_mini/search", &[], b"x")
        .assert(405, "POST /search");
}

// Without a host ----------------------------------------------------------------

/// Runs `program` as a CGI host would: only the given meta-variables,
/// `stdin` as the body. Returns the exit status and stdout.
fn run_direct(program: &str, vars: &[(&str, &str)], stdin: &[u8]) -> (bool, Vec<u8>) {
    let mut child = Command::new(program)
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the CGI program");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.success(), out.stdout)
}

#[test]
fn the_programs_write_rfc_3875_responses() {
    let (ok, out) = run_direct(
        HELLO,
        &[
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/cgi-bin/cgi_hello"),
            ("PATH_INFO", "/"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SERVER_NAME", "localhost"),
            ("SERVER_PORT", "80"),
        ],
        b"",
    );
    assert!(ok);
    let expected = format!(
        "Status: 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\r\n{GREETING}",
        GREETING.len()
    );
    assert_eq!(String::from_utf8_lossy(&out), expected);

    let (ok, out) = run_direct(
        HELLO,
        &[("REQUEST_METHOD", "PUT"), ("PATH_INFO", "/echo")],
        b"",
    );
    assert!(ok);
    let (head, body) = split_head(&out);
    assert!(
        head.starts_with("Status: 405 Method Not Allowed\r\n"),
        "{head}"
    );
    assert_eq!(body, b"Method Not Allowed");

    // A body cut short of CONTENT_LENGTH after the commit: the output
    // stops and the program fails, so the host can tell.
    let vars = [
        ("REQUEST_METHOD", "POST"),
        ("PATH_INFO", "/echo"),
        ("CONTENT_LENGTH", "10"),
    ];
    let (ok, out) = run_direct(HELLO, &vars, b"12345");
    assert!(!ok, "an aborted response is a failed run");
    let (head, body) = split_head(&out);
    assert!(head.contains("content-length: 10"), "{head}");
    assert_eq!(body, b"12345");

    // Not started by a CGI host.
    let (_, out) = run_direct(MINI, &[], b"");
    assert!(out.starts_with(b"Status: 500 Internal Server Error\r\n"));
}
