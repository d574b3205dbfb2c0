//! The deployment the tests run: a `redis-server`, two `demo_server`
//! processes (instances `a` and `b`) on Unix sockets in a temporary
//! directory, sharing that Redis and one `LOGIN_SECRET`, and nginx in
//! front of them from the shipped `deploy/nginx/gateway.conf`. Every
//! process is the test's own, stopped by PID when the [`Deployment`] is
//! dropped; every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use gateway_tests::{KillOnDrop, TIMEOUT, TempDir, curl, curl_available, parse_curl};

use crate::nginx::nginx_binary;
use crate::sessions::redis_server::RedisServer;

/// The address curl sends from: not nginx's, not trusted by anyone.
pub(super) const CLIENT_IP: &str = "127.0.0.2";

/// The login key both instances share (as `LOGIN_SECRET`).
const SECRET: &str = "deploy-tests-login-secret-0123456789abcdef";

/// The demo program (`gateway_examples::demo`, built as this package's
/// `demo_server`).
const DEMO: &str = env!("CARGO_BIN_EXE_demo_server");

/// The shipped nginx configuration: the tests change only paths and the
/// port in it (see [`gateway_conf`]).
const SHIPPED_CONF: &str = include_str!("../../deploy/nginx/gateway.conf");

/// One demo instance: a `demo_server` process on `DIR/NAME.sock` and on a
/// TCP port of its own (to be reached without nginx).
pub(super) struct Instance {
    pub(super) name: &'static str,
    child: Option<KillOnDrop>,
    /// Its TCP address (`127.0.0.1:PORT`), for requests that bypass nginx.
    pub(super) tcp: String,
    /// Its Unix socket.
    pub(super) sock: PathBuf,
    dir: PathBuf,
    redis: String,
}

impl Instance {
    /// Starts the instance and waits (bounded) until it listens on both
    /// sockets.
    pub(super) async fn start(dir: &Path, name: &'static str, redis: &str) -> Instance {
        let mut instance = Instance {
            name,
            child: None,
            tcp: String::new(),
            sock: dir.join(format!("{name}.sock")),
            dir: dir.to_owned(),
            redis: redis.to_owned(),
        };
        instance.spawn().await;
        instance
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let out = self.dir.join(format!("{}.out", self.name));
        let err = self.dir.join(format!("{}.err", self.name));
        // Output goes to files (appended across restarts), so a full pipe
        // can never block the server.
        let open = |path: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open an instance's log")
        };
        let skip = std::fs::metadata(&out).map_or(0, |m| m.len() as usize);
        let child = Command::new(DEMO)
            .args(["--name", self.name, "--listen", "127.0.0.1:0", "--unix"])
            .arg(&self.sock)
            .args(["--redis", &self.redis])
            .env("LOGIN_SECRET", SECRET)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(open(&out))
            .stderr(open(&err))
            .spawn()
            .expect("start demo_server");
        self.child = Some(KillOnDrop(child));
        // Waits for this run's lines, not a previous run's.
        let deadline = Instant::now() + TIMEOUT;
        let unix_line = format!("listening on unix:{}", self.sock.display());
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let text = text.get(skip..).unwrap_or_default();
            let tcp = text
                .lines()
                .find_map(|l| l.strip_prefix("listening on http://"));
            if let (Some(tcp), true) = (tcp, text.lines().any(|l| l == unix_line)) {
                self.tcp = tcp.to_owned();
                return;
            }
            if let Some(status) = self.try_status() {
                panic!("{} exited at start ({status}): {}", self.name, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen within {TIMEOUT:?}: {}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The instance's stdout so far, over all its runs: the `listening`
    /// lines and its access log.
    pub(super) fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.out", self.name))).unwrap_or_default()
    }

    /// The instance's stderr so far (its log).
    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.err", self.name))).unwrap_or_default()
    }

    fn try_status(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        child.0.try_wait().expect("wait for demo_server")
    }

    /// SIGTERM: a graceful stop. Waits (bounded) for the process to exit
    /// and returns how it exited.
    pub(super) async fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.as_ref().expect("a running instance").0.id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.try_status() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {TIMEOUT:?} of SIGTERM: {}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: the process dies at once, its socket file left behind.
    pub(super) fn kill(&mut self) {
        let mut child = self.child.take().expect("a running instance");
        child.0.kill().expect("SIGKILL demo_server");
        child.0.wait().expect("reap demo_server");
    }

    /// Starts the stopped instance again, on the same sockets.
    pub(super) async fn restart(&mut self) {
        self.spawn().await;
    }
}

/// nginx from the shipped configuration, one process (`master_process
/// off`), killed and reaped when dropped.
struct Nginx {
    _child: KillOnDrop,
}

/// The shipped `gateway.conf` with the sockets in `dir`, `listen` on
/// `127.0.0.1:port`, the demo's static directory, and, with `cache`, the
/// `#cache:` lines turned on with the cache in `dir`. Plain string
/// replacement: each replaced text must be in the file.
pub(super) fn gateway_conf(dir: &Path, port: u16, cache: bool) -> String {
    let static_dir = gateway_examples::demo::static_dir();
    let mut replacements = vec![
        (
            "unix:/run/gateway/".to_owned(),
            format!("unix:{}/", dir.display()),
        ),
        (
            "    listen 80;\n".to_owned(),
            format!("    listen 127.0.0.1:{port};\n"),
        ),
        (
            "alias /srv/gateway/static/;".to_owned(),
            format!("alias {}/;", static_dir.display()),
        ),
    ];
    if cache {
        replacements.push((
            "/var/cache/nginx/gateway".to_owned(),
            dir.join("cache").display().to_string(),
        ));
        replacements.push(("#cache: ".to_owned(), String::new()));
    }
    let mut conf = SHIPPED_CONF.to_owned();
    for (from, to) in replacements {
        assert!(
            conf.contains(&from),
            "deploy/nginx/gateway.conf no longer contains {from:?}: update tests/deploy"
        );
        conf = conf.replace(&from, &to);
    }
    conf
}

impl Nginx {
    /// Starts nginx on a free port with [`gateway_conf`] and waits
    /// (bounded) until it accepts. A port taken in between is retried.
    fn start(binary: &str, dir: &Path, cache: bool) -> (Nginx, u16) {
        let d = dir.display();
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            std::fs::write(dir.join("gateway.conf"), gateway_conf(dir, port, cache))
                .expect("write gateway.conf");
            let main = format!(
                "pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/gateway.conf;
}}
"
            );
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, main).expect("write nginx.conf");
            let error_log = dir.join("nginx-error.log");
            let child =
                gateway_tests::spawn_nginx(binary.as_ref(), dir, &conf, &error_log, Stdio::null());
            let mut child = KillOnDrop(child);
            let deadline = Instant::now() + TIMEOUT;
            loop {
                if let Ok(Some(status)) = child.0.try_wait() {
                    let log = std::fs::read_to_string(&error_log).unwrap_or_default();
                    last_error = format!("nginx exited with {status}: {log}");
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return (Nginx { _child: child }, port);
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx did not listen within {TIMEOUT:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            if !last_error.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start: {last_error}");
    }
}

/// The whole deployment. Fields drop in order: nginx, the instances,
/// Redis, then the directory.
pub(super) struct Deployment {
    _nginx: Nginx,
    pub(super) a: Instance,
    pub(super) b: Instance,
    _redis: RedisServer,
    _dir: TempDir,
    /// nginx's port on 127.0.0.1.
    pub(super) port: u16,
}

impl Deployment {
    /// Starts everything, or returns `None` (after a loud notice; a
    /// failure with `CI` set) when nginx, curl or redis-server is missing.
    pub(super) async fn start(test: &str, cache: bool) -> Option<Deployment> {
        let nginx = nginx_binary()?;
        if !curl_available().await {
            return None;
        }
        let redis = RedisServer::start(test)?;
        let dir = TempDir::new("deploy");
        let a = Instance::start(dir.path(), "a", &redis.url()).await;
        let b = Instance::start(dir.path(), "b", &redis.url()).await;
        let (nginx, port) = Nginx::start(nginx, dir.path(), cache);
        Some(Deployment {
            _nginx: nginx,
            a,
            b,
            _redis: redis,
            _dir: dir,
            port,
        })
    }

    /// nginx's error log so far: why it failed a request.
    pub(super) fn nginx_errors(&self) -> String {
        std::fs::read_to_string(self._dir.join("nginx-error.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT` + `path`, through nginx.
    pub(super) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The instance named `name`.
    pub(super) fn instance(&mut self, name: &str) -> &mut Instance {
        match name {
            "a" => &mut self.a,
            "b" => &mut self.b,
            _ => panic!("no instance {name}"),
        }
    }

    /// Polls `/whoami` through nginx (bounded) until `name` answers: nginx
    /// sends it requests again (after a restart, once its `fail_timeout`
    /// has passed).
    pub(super) async fn wait_routed(&self, browser: &Browser, name: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let seen = browser.get(&self.url("/whoami")).await;
            if seen.status == 200 && seen.field("instance") == name {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not route to {name} again within {TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What a request answered: status, lower-cased header lines, body.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: Vec<String>,
    pub(super) body: String,
}

impl Answer {
    /// The value of header `name` (lower case).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.headers.iter().find_map(|h| h.strip_prefix(&prefix))
    }

    /// The value of `key: ` in a `/whoami` body.
    pub(super) fn field(&self, key: &str) -> &str {
        let prefix = format!("{key}: ");
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.body))
    }

    /// The `csrf_token` of the page's form.
    pub(super) fn token(&self) -> &str {
        let marker = "name=\"csrf_token\" value=\"";
        let at = self.body.find(marker).expect("a form with a csrf_token") + marker.len();
        let end = self.body[at..].find('"').expect("end of the token") + at;
        &self.body[at..end]
    }
}

/// A user's browser: curl from [`CLIENT_IP`] with a cookie jar, sending
/// `Accept: text/html`.
pub(super) struct Browser {
    jar: PathBuf,
    _dir: TempDir,
}

impl Browser {
    pub(super) fn new() -> Browser {
        let dir = TempDir::new("deploy-browser");
        Browser {
            jar: dir.join("cookies"),
            _dir: dir,
        }
    }

    /// Runs curl with the jar and `extra` arguments on `url`.
    pub(super) async fn request(&self, extra: &[&str], url: &str) -> Answer {
        let jar = self.jar.display().to_string();
        let mut args = vec![
            "--include",
            "--interface",
            CLIENT_IP,
            "-c",
            &jar,
            "-b",
            &jar,
            "--header",
            "accept: text/html",
        ];
        args.extend_from_slice(extra);
        args.push(url);
        let out = curl(&args, None).await;
        let (status_line, headers, body) = parse_curl(&out);
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{url}: status line {status_line:?}"));
        Answer {
            status,
            headers,
            body: String::from_utf8(body).expect("a UTF-8 body"),
        }
    }

    pub(super) async fn get(&self, url: &str) -> Answer {
        self.request(&[], url).await
    }

    pub(super) async fn post(&self, url: &str, form: &str) -> Answer {
        self.request(&["--data", form], url).await
    }

    /// Logs in as `ada` through the login form at `base` (`…/login`),
    /// where `base` is nginx's URL with or without a prefix.
    pub(super) async fn log_in(&self, base: &str) {
        let form = self.get(&format!("{base}/login")).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let body = format!("user=ada&password=lovelace&csrf_token={}", form.token());
        let res = self.post(&format!("{base}/login"), &body).await;
        assert_eq!(res.status, 303, "log in: {}", res.body);
    }

    /// The jar's cookies as one `Cookie` header value (`a=1; b=2`), for
    /// clients other than curl.
    pub(super) fn cookie_header(&self) -> String {
        let jar = std::fs::read_to_string(&self.jar).expect("read the cookie jar");
        jar.lines()
            .map(|l| l.strip_prefix("#HttpOnly_").unwrap_or(l))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let fields: Vec<&str> = l.split('\t').collect();
                (fields.len() == 7).then(|| format!("{}={}", fields[5], fields[6]))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}
