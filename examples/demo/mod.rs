//! The whole stack in one program: static files, login and sessions,
//! CSRF-protected forms, a mounted application and a trusted proxy's
//! headers, served by gateway-hyper — and the program that
//! `deploy/` runs as two instances behind nginx.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_examples::demo::{self, Options};
//! use gateway_hyper::ServerStats;
//! use gateway_middleware::auth::AuthKey;
//! use gateway_middleware::sessions::{MemoryStore, Sessions};
//!
//! let sessions = Sessions::new(MemoryStore::new());
//! let stats = ServerStats::default(); // a server's, when served
//! let app = demo::app(&Options::default(), sessions, AuthKey::generate(), &stats);
//! let client = TestClient::new(app);
//!
//! let res = client.get("/whoami").send().await;
//! assert_eq!(res.status(), 200);
//! assert!(res.text().contains("instance: demo\nuser: -\n"), "{}", res.text());
//!
//! // Only logged-in users see /private: a browser is sent to the login form.
//! let res = client.get("/private").header("accept", "text/html").send().await;
//! assert_eq!(res.status(), 303);
//! assert_eq!(res.header("location"), Some("/login?next=/private"));
//!
//! assert_eq!(client.get("/static/site.css").send().await.status(), 200);
//! assert_eq!(client.get("/api/notes").send().await.text(), "[]");
//! assert_eq!(client.get("/readyz").send().await.status(), 200);
//! let metrics = client.get("/metrics").send().await.text();
//! assert!(metrics.contains(r#"http_requests_total{method="GET",status="2xx",route="/readyz"} 1"#), "{metrics}");
//! # });
//! ```
//!
//! # What is where
//!
//! | route | served by |
//! |---|---|
//! | `GET /` | the index: a visit counter kept in the session, who is logged in, links |
//! | `GET /login`, `POST /login` | the login form (CSRF token) and its check (`ada` / `lovelace`, an Argon2id hash from [`login`](crate::login)); `303` to `next` or `/private` |
//! | `GET /private`, `POST /private` | logged in only: a note kept in the session, a form to change it; `303` to the login form for browsers, `401` for other clients |
//! | `POST /logout` | ends the session; `303` to `/` |
//! | `GET /whoami` | `text/plain`, one `key: value` per line: `instance`, `user`, `client` (address), `scheme`, `host`, `script_name`, `url` — what the application sees after [`ProxyHeaders`](gateway_middleware::ProxyHeaders) |
//! | `GET /ws` | a WebSocket echo: each text message comes back as `NAME: text` (the instance's `--name`), binary as it is, `bye` closes (1000); a page from another origin is refused (`403`), a plain request told to upgrade (`426`); SIGTERM closes open sockets with `1001` |
//! | `/api/…` | the [`mini_framework`](crate::mini_framework) notes API, mounted with [`Mount`] (`GET /api/notes`, `POST /api/notes`, …; each instance has its own notes) |
//! | `/static/…` | [`StaticFiles`] from [`Options::static_dir`] (`examples/demo/static`) |
//! | `GET /metrics` | Prometheus metrics ([`Metrics`]): requests by method, status class and route, latency and size histograms, in-flight requests, and the server's own gauges ([`ServerStats`]) |
//! | `GET /livez`, `GET /readyz` | [`Liveness`] (always `200`) and [`Readiness`] (`503` from SIGTERM on, through `--drain-delay`) |
//!
//! Every link and redirect is built from `script_name`, so the site works
//! at `/` and under a prefix that nginx strips and reports in
//! `X-Forwarded-Prefix` (`deploy/nginx/gateway.conf` shows both).
//!
//! The stack, outermost first: [`ProxyHeaders`](gateway_middleware::ProxyHeaders) (peers on a Unix socket
//! are trusted by default, TCP peers only with `--trust-proxy`),
//! [`RequestId`](gateway_middleware::RequestId) (a proxy's `X-Request-Id`
//! from the same peers, else a new one), [`AccessLog`] (one line per
//! request on stdout, `--access-log combined|common|json`), [`Metrics`],
//! then a [`Mount`] of `/static`, `/api`, `/ws`, `/metrics`, `/livez`,
//! `/readyz` and the pages; the pages run inside
//! `Sessions` (memory, or Redis with `--redis`), `SessionAuth` (the
//! session's login becomes the request's `Identity`) and `Csrf`. It is
//! put together in one place, [`app`].
//!
//! # Running it
//!
//! `cargo run --example demo` serves on `127.0.0.1:8000` with sessions in
//! memory and a random login key. The options ([`USAGE`]): `--listen
//! ADDR`, `--unix PATH`, `--redis URL`, `--name NAME`, `--static-dir DIR`,
//! `--trust-proxy CIDR`, `--access-log FORMAT`, `--drain-delay SECS`.
//! Two instances that share Redis must share `LOGIN_SECRET` too. Under
//! systemd socket activation (`LISTEN_FDS`) the socket systemd passes, TCP
//! or Unix, is served. SIGTERM or Ctrl-C drains and exits.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::task::Poll;

use gateway_core::{Addr, Application, ApplicationExt, Environ, Error, Middleware, Response};
use gateway_hyper::{Server, ServerStats};
use gateway_middleware::auth::{AuthKey, Csrf, SessionAuth};
use gateway_middleware::sessions::{Backend, MemoryStore, RedisStore, Sessions};
use gateway_middleware::{AccessLog, Liveness, Metrics, Mount, Readiness, StaticFiles, metrics};

use crate::login::Accounts;

mod cli;
mod site;
mod socket;
#[cfg(test)]
mod tests;

pub use cli::{Command, Options, USAGE};

/// The address served when no listener is given: `127.0.0.1:8000`.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8000";

/// The demo's own static files (`examples/demo/static`).
pub fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo")
        .join("static")
}

/// The whole site, with its sessions kept by `sessions` and logins keyed
/// by `key` (one key for every instance that shares the sessions).
///
/// This is the one place the stack is put together: a middleware for
/// every request goes in the `.with(…)` chain, inside
/// [`ProxyHeaders`](gateway_middleware::ProxyHeaders) so that it sees the
/// client's address; an endpoint goes in the [`Mount`].
pub fn app<B: Backend>(
    options: &Options,
    sessions: Sessions<B>,
    key: AuthKey,
    stats: &ServerStats,
) -> impl Application + use<B> {
    let accounts = Arc::new(Accounts::demo());
    let loader = {
        let accounts = Arc::clone(&accounts);
        move |id: String| {
            let accounts = Arc::clone(&accounts);
            async move { Ok::<_, Error>(accounts.get(&id).cloned()) }
        }
    };
    let pages = site::Pages::new(&options.name, accounts, key.clone())
        // Unsafe methods from other sites are refused; the forms carry a
        // token for clients that send no Fetch metadata and no Origin.
        .with(Csrf::new())
        // The session's login becomes the request's `Identity`.
        .with(SessionAuth::new(loader, key))
        .with(sessions);
    let metrics = server_gauges(Metrics::new(), stats);
    let draining = stats.clone();
    Mount::new()
        .mount(
            "/static",
            StaticFiles::new(&options.static_dir).with(Route("/static")),
        )
        .mount("/api", crate::mini_framework::app().with(Route("/api")))
        .mount("/ws", socket::Socket::new(&options.name).with(Route("/ws")))
        .mount("/metrics", metrics.app().with(Route("/metrics")))
        .mount("/livez", Liveness::new().with(Route("/livez")))
        // 503 from the moment SIGTERM arrives (and through
        // `--drain-delay`), so that probes stop sending traffic first.
        .mount(
            "/readyz",
            Readiness::new(move || !draining.is_draining()).with(Route("/readyz")),
        )
        .fallback(pages)
        // Every request counted (by the route label set inside), logged
        // with the status the client saw, and given an id.
        .with(metrics)
        .with(AccessLog::new().format(options.access_log).to_stdout())
        .with(options.request_id.clone())
        // Outermost: everything inside sees the client's address, scheme,
        // host and prefix.
        .with(options.proxy.clone())
}

/// `metrics` with the server's own gauges and counters, read from
/// `stats` at each scrape.
fn server_gauges(metrics: Metrics, stats: &ServerStats) -> Metrics {
    let (open, accepted, limited, refused, draining) = (
        stats.clone(),
        stats.clone(),
        stats.clone(),
        stats.clone(),
        stats.clone(),
    );
    metrics
        .gauge_fn(
            "gateway_connections_open",
            "Client connections open now.",
            move || i64::try_from(open.open_connections()).unwrap_or(i64::MAX),
        )
        .counter_fn(
            "gateway_connections_accepted_total",
            "Client connections accepted.",
            move || accepted.accepted_connections(),
        )
        .counter_fn(
            "gateway_connections_limited_total",
            "Times accepting paused at the connection limit.",
            move || limited.connections_limited(),
        )
        .counter_fn(
            "gateway_requests_refused_total",
            "Requests answered 503 at the concurrency limit.",
            move || refused.requests_refused(),
        )
        .gauge_fn(
            "gateway_draining",
            "1 from the shutdown signal on, 0 before.",
            move || i64::from(draining.is_draining()),
        )
}

/// Sets the route label of every request to a mounted application, for
/// [`Metrics`]: one label per mount, never the raw path.
#[derive(Clone, Copy, Debug)]
struct Route(&'static str);

/// The application a [`Route`] wraps.
struct Routed<A>(&'static str, A);

impl<A: Application> Middleware<A> for Route {
    type Output = Routed<A>;

    fn wrap(&self, app: A) -> Routed<A> {
        Routed(self.0, app)
    }
}

impl<A: Application> Application for Routed<A> {
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        metrics::set_route(&env, self.0);
        self.1.call(env)
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.1.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.1.shutdown()
    }
}

/// A listening socket the demo was handed instead of binding its own
/// (systemd socket activation: `LISTEN_FDS`).
#[derive(Debug)]
#[non_exhaustive]
pub enum Inherited {
    /// A TCP socket (`ListenStream=127.0.0.1:8000`).
    Tcp(std::net::TcpListener),
    /// A Unix socket (`ListenStream=/run/gateway/a.sock`).
    Unix(std::os::unix::net::UnixListener),
}

impl Inherited {
    /// The first socket systemd passed (fd 3), if `LISTEN_FDS` says there
    /// is one for this process; `LISTEN_FDS` and `LISTEN_PID` are removed
    /// from the environment. Call it before any thread is started: it
    /// edits the environment.
    ///
    /// # Errors
    ///
    /// fd 3 is neither a listening TCP nor a Unix stream socket.
    pub fn from_env() -> io::Result<Option<Inherited>> {
        let mut fds = listenfd::ListenFd::from_env();
        if fds.len() > 1 {
            eprintln!(
                "demo: systemd passed {} sockets; serving the first",
                fds.len()
            );
        }
        match fds.take_tcp_listener(0) {
            Ok(tcp) => Ok(tcp.map(Inherited::Tcp)),
            // Not TCP: the fd is still there to try as a Unix socket.
            Err(tcp_error) => match fds.take_unix_listener(0) {
                Ok(unix) => Ok(unix.map(Inherited::Unix)),
                Err(_) => Err(tcp_error),
            },
        }
    }
}

/// Binds (or takes) the listeners, connects the session store, prints
/// `listening on http://ADDR` or `listening on unix:PATH` once per
/// listener, and serves [`app`] until SIGTERM or SIGINT, then drains.
///
/// # Errors
///
/// A listener cannot be bound, the static directory is not a directory,
/// `LOGIN_SECRET` is too short, or Redis cannot be reached at startup.
pub async fn serve(options: Options, inherited: Option<Inherited>) -> io::Result<()> {
    if !options.static_dir.is_dir() {
        return Err(io::Error::other(format!(
            "--static-dir {}: not a directory",
            options.static_dir.display()
        )));
    }
    let key = match std::env::var("LOGIN_SECRET") {
        Ok(secret) => AuthKey::from_secret(secret.as_bytes())
            .map_err(|e| io::Error::other(format!("LOGIN_SECRET: {e}")))?,
        Err(_) => AuthKey::generate(),
    };
    // Before any socket is bound: a SIGTERM from now on drains.
    let signal = shutdown_signal().await;
    // Redis first: `listening on` is printed only once the instance can
    // serve (a supervisor or a test may wait for that line).
    let store = match &options.redis {
        None => None,
        Some(url) => {
            let client = redis::Client::open(url.as_str()).map_err(io::Error::other)?;
            let store = RedisStore::builder(client)
                .connect()
                .await
                .map_err(|e| io::Error::other(format!("--redis {url}: {e}")))?;
            Some(store)
        }
    };
    let server = bind(&options, inherited)
        .await?
        .drain_delay(options.drain_delay);
    let stats = server.stats();
    for addr in server.local_addrs()? {
        match addr {
            Addr::Tcp(addr) => println!("listening on http://{addr}"),
            other => println!("listening on {other}"),
        }
    }
    match store {
        None => {
            let app = app(&options, Sessions::new(MemoryStore::new()), key, &stats);
            server.serve_with_shutdown(app, signal).await
        }
        Some(store) => {
            let app = app(&options, Sessions::new(store), key, &stats);
            server.serve_with_shutdown(app, signal).await
        }
    }
}

/// [`gateway_hyper::shutdown_signal`], with its signal handlers already
/// installed when this returns. It installs them when first polled;
/// `serve_with_shutdown` polls it before it accepts, but the demo prints
/// `listening on` (and a supervisor may send SIGTERM) before that: a
/// SIGTERM in between would otherwise kill the process (the default
/// action) instead of draining it.
async fn shutdown_signal() -> impl Future<Output = ()> + Send {
    let mut signal = Box::pin(gateway_hyper::shutdown_signal());
    let received =
        std::future::poll_fn(|cx| Poll::Ready(signal.as_mut().poll(cx).is_ready())).await;
    async move {
        if !received {
            signal.await;
        }
    }
}

/// The server with every listener the options ask for: the inherited
/// socket, then `--listen`, then `--unix`; [`DEFAULT_ADDR`] if none.
async fn bind(options: &Options, inherited: Option<Inherited>) -> io::Result<Server> {
    let mut server = match inherited {
        None => None,
        Some(Inherited::Tcp(listener)) => Some(Server::from_std(listener)?),
        // systemd made the socket file and removes it: the server leaves
        // it in place at shutdown.
        Some(Inherited::Unix(listener)) => Some(Server::from_std_unix(listener)?),
    };
    for addr in &options.listen {
        server = Some(match server {
            None => Server::bind(addr).await?,
            Some(server) => server.and_bind(addr).await?,
        });
    }
    for path in &options.unix {
        let bound = match server {
            None => Server::bind_unix(path, 0o660),
            Some(server) => server.and_bind_unix(path, 0o660),
        };
        server =
            Some(bound.map_err(|e| {
                io::Error::new(e.kind(), format!("--unix {}: {e}", path.display()))
            })?);
    }
    match server {
        Some(server) => Ok(server),
        None => Server::bind(DEFAULT_ADDR).await,
    }
}

/// The demo program (`cargo run --example demo`, and the tests'
/// `demo_server`): parses the arguments, takes a socket from systemd if
/// there is one, and [`serve`]s. Prints errors to stderr; exits 2 on bad
/// arguments, 1 on any other failure.
pub fn main() -> ExitCode {
    crate::init_tracing();
    let options = match Command::parse(std::env::args().skip(1)) {
        Ok(Command::Serve(options)) => *options,
        Ok(Command::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("demo: {message}");
            return ExitCode::from(2);
        }
    };
    // Before the runtime's threads exist: listenfd edits the environment.
    let result = Inherited::from_env().and_then(|inherited| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(serve(options, inherited))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}
