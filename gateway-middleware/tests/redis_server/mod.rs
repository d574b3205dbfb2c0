//! A real `redis-server` for tests, on a free loopback port, killed when
//! dropped. Shared by `gateway-middleware/tests/sessions_redis.rs` and the
//! root tests crate (`tests/sessions.rs` includes this file by path), so
//! it depends on nothing but std.
//!
//! Missing `redis-server`: with `CI` set, [`RedisServer::start`] panics
//! (the test fails); otherwise it prints a loud notice past the test
//! harness's capture and returns `None`, and the test returns early.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer `PING` after starting.
const READY: Duration = Duration::from_secs(10);

/// A `redis-server` process the test started.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    paused: bool,
}

impl RedisServer {
    /// Starts `redis-server` on `127.0.0.1` and a free port, persisting to
    /// an append-only file in a fresh directory (so [`restart`](Self::restart)
    /// keeps the data), and waits until it answers `PING`.
    pub fn start(test: &str) -> Option<RedisServer> {
        if let Err(problem) = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            let problem = format!("cannot run redis-server: {problem}");
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: {problem}; required when CI is set (install the redis-server package)"
            );
            let banner = "!".repeat(72);
            let notice = format!(
                "\n{banner}\n!!! SKIPPED: {test}: {problem}\n\
                 !!! Install redis-server to run it; with CI set it fails.\n{banner}\n\n"
            );
            let _ = std::io::stderr().write_all(notice.as_bytes());
            return None;
        }
        // A free port may be taken by another process between our probe
        // and redis-server's bind: then it exits and we try another.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir()
                .join(format!("gateway-redis-test-{}-{port}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the redis test directory");
            // As redis-server reports it (`CONFIG GET dir`), links resolved.
            let dir = std::fs::canonicalize(&dir).expect("the redis test directory");
            let mut server = RedisServer {
                child: None,
                port,
                dir,
                paused: false,
            };
            match server.spawn() {
                Ok(()) => return Some(server),
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + READY;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!(
                    "it exited at start on port {}: {status}",
                    self.port
                ));
            }
            // Ours, not another server that took the port first.
            let ours = format!("dir\n{}", self.dir.display());
            if self
                .try_command(&["CONFIG", "GET", "dir"])
                .is_ok_and(|r| r == ours)
            {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING within {READY:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Freezes the process (SIGSTOP): connections stay open, nothing is
    /// answered — an outage that loses no data. Undone by
    /// [`resume`](Self::resume) or the drop.
    pub fn pause(&mut self) {
        self.signal("STOP");
        self.paused = true;
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&mut self) {
        self.signal("CONT");
        self.paused = false;
    }

    /// Stops the server (SIGTERM: it writes its append-only file and
    /// exits) and waits for it; connections to it are closed.
    pub fn stop(&mut self) {
        if self.paused {
            self.resume();
        }
        self.signal("TERM");
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, with the
    /// data it had when stopped.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart a stopped server only");
        if let Err(e) = self.spawn() {
            panic!("redis-server did not restart: {e}");
        }
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running redis-server");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed: {status}");
    }

    /// Runs one command on a new connection and returns the reply as text
    /// (see [`read_reply`]); fails the test on an error.
    pub fn command(&self, args: &[&str]) -> String {
        self.try_command(args)
            .unwrap_or_else(|e| panic!("redis {args:?} failed: {e}"))
    }

    fn try_command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes())?;
        read_reply(&mut BufReader::new(stream))
    }
}

/// Reads one RESP2 reply: a simple string, error (as `Err`), integer or
/// bulk string as its text, nil as `(nil)`, an array as its elements
/// joined by newlines.
fn read_reply(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let bad = || std::io::Error::other(format!("unexpected reply line {line:?}"));
    let (kind, rest) = (line.get(..1).ok_or_else(bad)?, &line[1..]);
    match kind {
        "+" | ":" => Ok(rest.to_owned()),
        "-" => Err(std::io::Error::other(rest.to_owned())),
        "$" => {
            let Ok(len) = rest.parse::<usize>() else {
                return Ok("(nil)".to_owned());
            };
            let mut buf = vec![0; len + 2];
            reader.read_exact(&mut buf)?;
            buf.truncate(len);
            String::from_utf8(buf).map_err(std::io::Error::other)
        }
        "*" => {
            let Ok(n) = rest.parse::<usize>() else {
                return Ok("(nil)".to_owned());
            };
            let items = (0..n)
                .map(|_| read_reply(reader))
                .collect::<std::io::Result<Vec<_>>>()?;
            Ok(items.join("\n"))
        }
        _ => Err(bad()),
    }
}

fn free_port() -> u16 {
    // The port is free when this returns; redis-server binds it moments
    // later (a race with other processes is possible but not with this
    // test binary's other servers, which bind port 0 themselves).
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL ends a stopped process too.
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
