//! nginx from the shipped `deploy/nginx/fastcgi.conf` in front of a
//! gateway-fastcgi server running in the test's runtime, over TCP or a
//! Unix socket.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use gateway_core::Application;
use gateway_fastcgi::{Server, ServerStats};
use gateway_tests::{KillOnDrop, TIMEOUT, TempDir};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::nginx::nginx_binary;

/// The shipped site, with its upstream and `listen` replaced.
const SHIPPED_CONF: &str = include_str!("../../deploy/nginx/fastcgi.conf");

/// How nginx reaches the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Tcp,
    Unix,
}

/// nginx and the FastCGI server behind it; both stop when dropped (nginx
/// killed by PID, the server's task aborted if not stopped first).
pub(crate) struct Stack {
    _nginx: KillOnDrop,
    pub(crate) port: u16,
    pub(crate) error_log: PathBuf,
    pub(crate) stats: ServerStats,
    stop: Option<oneshot::Sender<()>>,
    join: Option<JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

impl Stack {
    /// Starts `app` on a FastCGI server (configured by `configure`) and
    /// nginx in front of it; `None` when nginx cannot run (skipped).
    pub(crate) async fn start<A: Application>(
        via: Via,
        app: A,
        configure: impl FnOnce(Server) -> Server,
    ) -> Option<Stack> {
        Stack::start_with(via, app, configure, None).await
    }

    /// [`Stack::start`], with nginx listening for HTTPS (HTTP/2 and
    /// HTTP/1.1 by ALPN) when `tls` gives a certificate and key (PEM).
    pub(crate) async fn start_with<A: Application>(
        via: Via,
        app: A,
        configure: impl FnOnce(Server) -> Server,
        tls: Option<(String, String)>,
    ) -> Option<Stack> {
        let binary = nginx_binary()?;
        let dir = TempDir::new("fastcgi-nginx");
        let listen_extra = match tls {
            None => ";".to_owned(),
            Some((cert, key)) => {
                std::fs::write(dir.join("cert.pem"), cert).expect("write cert.pem");
                std::fs::write(dir.join("key.pem"), key).expect("write key.pem");
                let d = dir.path().display();
                format!(
                    " ssl http2; ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;"
                )
            }
        };
        let (server, upstream) = match via {
            Via::Tcp => {
                let server = Server::bind("127.0.0.1:0").await.expect("bind");
                let addr = server.local_addr().expect("local_addr");
                (server, addr.to_string())
            }
            Via::Unix => {
                let sock = dir.join("fcgi.sock");
                let server = Server::bind_unix(&sock, 0o600).expect("bind_unix");
                (server, format!("unix:{}", sock.display()))
            }
        };
        let server = configure(server);
        let stats = server.stats();
        let (stop, rx) = oneshot::channel();
        let join = tokio::spawn(server.serve_with_shutdown(app, async {
            let _ = rx.await;
        }));
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let site = site_conf(&upstream, port, &listen_extra);
            let d = dir.path().display();
            let config = format!(
                "
worker_processes 1;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{site}
}}
"
            );
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, config).expect("write nginx.conf");
            let error_log = dir.join("error.log");
            let child = gateway_tests::spawn_nginx(
                binary.as_ref(),
                dir.path(),
                &conf,
                &error_log,
                Stdio::null(),
            );
            let mut nginx = KillOnDrop(child);
            match wait_ready(&mut nginx, port, &error_log) {
                Ok(()) => {
                    return Some(Stack {
                        _nginx: nginx,
                        port,
                        error_log,
                        stats,
                        stop: Some(stop),
                        join: Some(join),
                        _dir: dir,
                    });
                }
                Err(e) => last_error = e,
            }
            if !last_error.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start: {last_error}");
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// nginx's error log so far.
    pub(crate) fn error_log(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }

    /// Starts the server's graceful shutdown; [`Stack::stopped`] waits
    /// for it.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits (bounded) until the server's `serve` returned.
    pub(crate) async fn stopped(&mut self) {
        let join = self.join.take().expect("not awaited yet");
        gateway_tests::within("the FastCGI server to stop", join)
            .await
            .expect("the server task")
            .expect("serve");
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(join) = &self.join {
            join.abort();
        }
    }
}

/// The shipped site with `upstream` (`HOST:PORT` or `unix:PATH`) and
/// `listen 127.0.0.1:port` (followed by `listen_extra`: TLS). Each
/// replaced text must be in the file.
fn site_conf(upstream: &str, port: u16, listen_extra: &str) -> String {
    let mut conf = SHIPPED_CONF.to_owned();
    for (from, to) in [
        ("unix:/run/gateway/fcgi.sock", upstream.to_owned()),
        (
            "listen 80;",
            format!("listen 127.0.0.1:{port}{listen_extra}"),
        ),
    ] {
        assert!(
            conf.contains(from),
            "deploy/nginx/fastcgi.conf no longer contains {from:?}: update tests/fastcgi"
        );
        conf = conf.replace(from, &to);
    }
    conf
}

fn wait_ready(nginx: &mut KillOnDrop, port: u16, error_log: &PathBuf) -> Result<(), String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Ok(Some(status)) = nginx.0.try_wait() {
            let log = std::fs::read_to_string(error_log).unwrap_or_default();
            return Err(format!("nginx exited with {status}: {log}"));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("not listening after {TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
