//! A real nginx in front of a gateway application: `ProxyHeaders` and
//! `Mount` give the application the client's address and the URLs the
//! client used, over a TCP upstream and a Unix-socket upstream, over
//! `http` and `https`, with the prefix stripped by nginx
//! (`X-Forwarded-Prefix`) and with the prefix passed through to a `Mount`.
//! A request sent straight to the application's port with forged
//! `X-Forwarded-*` headers is not trusted.
//!
//! The client is `curl`, bound to `127.0.0.2` so that its address differs
//! from nginx's (`127.0.0.1`, the one trusted proxy address).
//!
//! Without nginx (or curl) these tests print a loud notice and pass,
//! unless `CI` is set, where they fail. nginx runs in the foreground
//! (`daemon off`, `master_process off`: one process) from a generated
//! configuration in a temporary directory, and is killed by PID when the
//! test ends, however it ends.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway_core::{Application, ApplicationExt, Environ, fn_app, start};
use gateway_middleware::{Mount, ProxyHeaders, ProxyOriginal};
use gateway_tests::{
    KillOnDrop, TIMEOUT, TempDir, TestServer, curl, curl_available, skip_unless_ci, split_head,
};

/// The address curl sends from: not a trusted proxy.
const CLIENT_IP: &str = "127.0.0.2";

/// The nginx binary, if one can be run. When none can: fails the test if
/// `CI` is set, else prints a loud notice and returns `None`.
pub(crate) fn nginx_binary() -> Option<&'static str> {
    // Root's PATH has /usr/sbin; other users' may not.
    for candidate in ["nginx", "/usr/sbin/nginx"] {
        let ok = Command::new(candidate)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(candidate);
        }
    }
    skip_unless_ci(
        "nginx interop test",
        "cannot run `nginx`",
        "Install nginx (apt-get install nginx)",
    );
    None
}

/// An nginx process, killed (and reaped) when dropped. One process
/// (`master_process off`), so killing it leaves nothing behind.
struct Nginx {
    child: KillOnDrop,
    /// Plain `http` and `https` ports of the server block in front of the
    /// TCP upstream, then of the one in front of the Unix-socket upstream.
    tcp_http: u16,
    tcp_https: u16,
    unix_http: u16,
    unix_https: u16,
    error_log: PathBuf,
}

/// Proxy settings shared by every location: the client's address
/// appended, scheme, host and port as the client used them.
const FORWARD: &str = "
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Port $server_port;";

/// One `server` block in front of `upstream`:
/// - `/outer/` strips the prefix and says so in `X-Forwarded-Prefix`;
/// - `/app/` passes the path unchanged (the application mounts `/app`)
///   and removes any `X-Forwarded-Prefix` the client sent.
fn server_block(http: u16, https: u16, upstream: &str) -> String {
    format!(
        "
    server {{
        listen 127.0.0.1:{http};
        listen 127.0.0.1:{https} ssl;
        location /outer/ {{
            proxy_pass http://{upstream}/;{FORWARD}
            proxy_set_header X-Forwarded-Prefix /outer;
        }}
        location /app/ {{
            proxy_pass http://{upstream};{FORWARD}
            proxy_set_header X-Forwarded-Prefix \"\";
        }}
    }}"
    )
}

/// Four ports that were free a moment ago.
fn free_ports() -> [u16; 4] {
    let listeners: Vec<std::net::TcpListener> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    let port = |i: usize| listeners[i].local_addr().expect("local_addr").port();
    [port(0), port(1), port(2), port(3)]
}

impl Nginx {
    /// Starts nginx in `dir` in front of the application at `app` (TCP)
    /// and `sock` (Unix socket), and waits (bounded) until it accepts on
    /// all four ports. Ports are picked free and could be taken in
    /// between, so a start that fails to bind is retried with new ones.
    fn start(binary: &str, dir: &TempDir, app: SocketAddr, sock: &Path) -> Nginx {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("a self-signed certificate");
        std::fs::write(dir.join("cert.pem"), certified.cert.pem()).expect("write cert.pem");
        std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem())
            .expect("write key.pem");
        let mut last_error = String::new();
        for _attempt in 0..3 {
            let [tcp_http, tcp_https, unix_http, unix_https] = free_ports();
            let d = dir.path().display();
            let config = format!(
                "
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/key.pem;
    upstream tcp_app {{ server {app}; }}
    upstream unix_app {{ server unix:{sock}; }}
{tcp}
{unix}
}}
",
                sock = sock.display(),
                tcp = server_block(tcp_http, tcp_https, "tcp_app"),
                unix = server_block(unix_http, unix_https, "unix_app"),
            );
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, config).expect("write nginx.conf");
            let error_log = dir.join("error.log");
            let child = gateway_tests::spawn_nginx(
                binary.as_ref(),
                dir.path(),
                &conf,
                &error_log,
                Stdio::piped(),
            );
            let mut nginx = Nginx {
                child: KillOnDrop(child),
                tcp_http,
                tcp_https,
                unix_http,
                unix_https,
                error_log,
            };
            match nginx.wait_ready() {
                Ok(()) => return nginx,
                Err(e) => last_error = e,
            }
            if !last_error.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start: {last_error}");
    }

    /// Waits (bounded) until every port accepts, or nginx exits.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + TIMEOUT;
        let ports = [
            self.tcp_http,
            self.tcp_https,
            self.unix_http,
            self.unix_https,
        ];
        loop {
            if let Ok(Some(status)) = self.child.0.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.0.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                let log = std::fs::read_to_string(&self.error_log).unwrap_or_default();
                return Err(format!("nginx exited with {status}: {stderr}{log}"));
            }
            let ready = ports
                .iter()
                .all(|&p| TcpStream::connect(("127.0.0.1", p)).is_ok());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not listening after {TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What the application behind nginx sees, one `key=value` per line; for
/// a `path_info` ending in `/go`, a 303 whose `Location` is built from
/// `host_url() + script_name()`.
fn echo(name: &'static str) -> impl Application {
    fn_app(move |env: Environ| async move {
        let original = env.extensions().get::<ProxyOriginal>();
        let body = format!(
            "app={name}\npeer_ip={}\nscheme={}\nscript={}\ninfo={}\nurl={}\nvia={}\n",
            env.conn()
                .peer()
                .ip()
                .map_or("-".to_owned(), |ip| ip.to_string()),
            env.scheme(),
            env.script_name(),
            env.path_info(),
            env.url(),
            original.map_or("-".to_owned(), |o| match o.peer().ip() {
                Some(ip) => ip.to_string(),
                None => o.peer().to_string(),
            }),
        );
        if env.path_info().ends_with("/go") {
            let location = format!("{}{}/done", env.host_url(), env.script_name());
            start(
                303,
                [
                    ("content-type", "text/plain"),
                    ("location", location.as_str()),
                ],
            )
            .body(body)
        } else {
            start(200, [("content-type", "text/plain")]).body(body)
        }
    })
}

/// The application: `/app` mounted, everything else in the fallback,
/// behind `ProxyHeaders` that trusts nginx on 127.0.0.1 and on the Unix
/// socket.
fn app() -> impl Application {
    Mount::new()
        .mount("/app", echo("app"))
        .fallback(echo("root"))
        .with(
            ProxyHeaders::new()
                .trusted_proxies(["127.0.0.1"])
                .trust_unix_peers(true)
                .x_host(1)
                .x_port(1)
                .x_prefix(1),
        )
}

/// A response as curl saw it: status code, `Location`, and the echo's
/// fields.
struct Seen {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Seen {
    fn field(&self, key: &str) -> &str {
        let prefix = format!("{key}=");
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.body))
    }
}

/// `GET url` with curl from [`CLIENT_IP`], with extra `headers`.
async fn get(url: &str, headers: &[&str]) -> Seen {
    let mut args = vec![
        "--include",
        "--insecure",
        "--path-as-is",
        "--interface",
        CLIENT_IP,
    ];
    for h in headers {
        args.extend(["--header", h]);
    }
    args.push(url);
    let out = curl(&args, None).await;
    assert!(
        out.status.success(),
        "curl {url} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let (head, body) = split_head(&out.stdout);
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{url}: no status line in {head:?}"));
    let location = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    });
    Seen {
        status,
        location,
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    if !curl_available().await {
        return;
    }
    let dir = TempDir::new("nginx");
    let sock = dir.join("app.sock");
    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .and_bind_unix(&sock, None)
        .expect("bind the Unix socket");
    let server = TestServer::serve(server, app());
    let nginx = Nginx::start(binary, &dir, server.addr, &sock);

    for (upstream, via, ports) in [
        ("tcp", "127.0.0.1", [nginx.tcp_http, nginx.tcp_https]),
        ("unix", "unix", [nginx.unix_http, nginx.unix_https]),
    ] {
        for (scheme, port) in ["http", "https"].into_iter().zip(ports) {
            let base = format!("{scheme}://127.0.0.1:{port}");
            // (path sent to nginx, application, script_name, path_info)
            for (path, app, script, info) in [
                // Prefix stripped by nginx, given back by X-Forwarded-Prefix.
                ("/outer/x/go", "root", "/outer", "/x/go"),
                // Stripped, then mounted: issue 5's https://host/outer/app/...
                ("/outer/app/x/go", "app", "/outer/app", "/x/go"),
                // Not stripped: the application's Mount takes /app.
                ("/app/x/go", "app", "/app", "/x/go"),
                ("/app/a%2Fb/go", "app", "/app", "/a%2Fb/go"),
            ] {
                let what = format!("{upstream} {base}{path}");
                let seen = get(&format!("{base}{path}?q=1"), &[]).await;
                assert_eq!(seen.status, 303, "{what}: {}", seen.body);
                assert_eq!(seen.field("app"), app, "{what}");
                assert_eq!(seen.field("peer_ip"), CLIENT_IP, "{what}: client address");
                assert_eq!(seen.field("via"), via, "{what}: the proxy's address");
                assert_eq!(seen.field("scheme"), scheme, "{what}");
                assert_eq!(seen.field("script"), script, "{what}");
                assert_eq!(seen.field("info"), info, "{what}");
                assert_eq!(seen.field("url"), format!("{base}{path}?q=1"), "{what}");
                assert_eq!(
                    seen.location.as_deref(),
                    Some(format!("{base}{script}/done").as_str()),
                    "{what}: Location"
                );
            }

            // Forged headers from the client: nginx appends to (or
            // replaces) them, and only its own values are used.
            let what = format!("{upstream} {base} forged through nginx");
            let forged = [
                "X-Forwarded-For: 6.6.6.6",
                "X-Forwarded-Proto: https",
                "X-Forwarded-Host: evil.test",
                "X-Forwarded-Port: 666",
                "X-Forwarded-Prefix: /evil",
            ];
            let seen = get(&format!("{base}/app/go"), &forged).await;
            assert_eq!(seen.field("peer_ip"), CLIENT_IP, "{what}");
            assert_eq!(seen.field("scheme"), scheme, "{what}");
            assert_eq!(seen.field("script"), "/app", "{what}");
            assert_eq!(seen.field("url"), format!("{base}/app/go"), "{what}");
            let seen = get(&format!("{base}/outer/go"), &forged).await;
            assert_eq!(seen.field("script"), "/outer", "{what}");
            assert_eq!(seen.field("url"), format!("{base}/outer/go"), "{what}");
        }
    }

    // Straight to the application's TCP port from an untrusted address:
    // forged headers change nothing.
    let direct = format!("http://{}", server.addr);
    let seen = get(
        &format!("{direct}/app/go"),
        &[
            "X-Forwarded-For: 6.6.6.6",
            "X-Forwarded-Proto: https",
            "X-Forwarded-Host: evil.test",
            "X-Forwarded-Port: 443",
            "X-Forwarded-Prefix: /evil",
            "Forwarded: for=6.6.6.6;proto=https;host=evil.test",
        ],
    )
    .await;
    assert_eq!(seen.status, 303, "{}", seen.body);
    assert_eq!(seen.field("peer_ip"), CLIENT_IP, "direct: client address");
    assert_eq!(seen.field("via"), "-", "direct: nothing rewritten");
    assert_eq!(seen.field("scheme"), "http");
    assert_eq!(seen.field("script"), "/app");
    assert_eq!(seen.field("url"), format!("{direct}/app/go"));
    assert_eq!(
        seen.location.as_deref(),
        Some(format!("{direct}/app/done").as_str())
    );

    drop(nginx);
    server.stop().await;
}
