//! Benchmark servers and a deterministic load client.
//!
//! Every hello server kind ([`Kind::ALL`] less the session and static-file
//! kinds below) answers `GET /` with the same bytes (`content-type:
//! text/plain; charset=utf-8`, `Hello, world!\n`; [`Kind::RequestId`] and [`Kind::Observed`]
//! add an `x-request-id` header) and, except
//! [`Kind::RawMinimal`], routes alike (other paths 404, other methods
//! 405). The main ones:
//!
//! - [`Kind::Gateway`]: the `hello` example application through
//!   `gateway_hyper::Server`;
//! - [`Kind::RawMinimal`]: the least a raw hyper server with gateway-hyper's
//!   connection setup does — hyper-util's auto builder (HTTP/1.1 + HTTP/2
//!   prior knowledge, with upgrades), `TokioTimer`, the header-read
//!   timeout, `TCP_NODELAY` — and a handler that inserts a static header
//!   value and nothing else: no routing, no drain on shutdown;
//! - [`Kind::Raw`]: a raw hyper 1.x server configured exactly alike — the
//!   same `hyper_util` auto builder (HTTP/1.1 + HTTP/2 prior knowledge,
//!   with upgrades), the same `TokioTimer` and header-read timeout, the
//!   same watch-channel drain on shutdown, `TCP_NODELAY`, and a
//!   `service_fn` — so the difference is the gateway layer alone;
//! - [`Kind::Bare`]: raw hyper with HTTP/1 only and no timers or graceful
//!   watcher: the cheapest hyper server there is, for reference;
//! - [`Kind::Axum`]: an axum 0.8 `Router` served by `axum::serve`, for
//!   comparison with a framework on the same hyper;
//! - [`Kind::GatewayMw5`] and [`Kind::GatewayMw5Async`]: the gateway
//!   server with the hello application wrapped in 5 no-op middleware
//!   layers, to measure what a stack of middleware costs.
//! - [`Kind::Blocking`]: the same hello written as blocking code on a
//!   `gateway_core::blocking::Blocking` pool of 4 threads.
//!
//! Four kinds keep a session (see [`COUNTER`]): `GET /` reads the
//! session's counter, writes it back incremented and answers the new
//! value, so every request after a client's first loads and saves its
//! session ([`load`] carries the session cookie):
//!
//! - [`Kind::SessionCookie`] and [`Kind::SessionMemory`]: [`SessionHello`]
//!   inside `gateway_middleware::Sessions` with the cookie store or the
//!   memory store;
//! - [`Kind::AxumSessions`]: the same in axum with tower-sessions'
//!   `MemoryStore`, cookie attributes and expiry configured alike;
//! - [`Kind::SessionUntouched`]: the hello application inside `Sessions`,
//!   never touching its session (no store call, no cookie).
//!
//! Two more kinds serve files instead of the greeting, from the directory
//! named by the [`STATIC_DIR`] environment variable (`benches/static.sh`
//! compares them with nginx):
//!
//! - [`Kind::StaticGateway`]: `gateway_middleware::StaticFiles` as the
//!   application, through `gateway_hyper::Server` as [`Kind::Gateway`]
//!   runs it (its streaming block size can be set with
//!   [`STATIC_BLOCK_SIZE`]);
//! - [`Kind::StaticServeDir`]: tower-http's `ServeDir` (with
//!   `precompressed_br` and `precompressed_gzip`) on raw hyper configured as
//!   [`Kind::Raw`].
//!
//! Both still run on the current-thread runtime, but both also read files
//! on tokio's blocking pool threads (`StaticFiles` for misses, revalidation
//! and large files, `ServeDir` for every request): that is how they work.
//!
//! [`load`] sends an exact number of keep-alive HTTP/1.1 requests, so that
//! instruction and allocation counts per request are reproducible
//! ([`load_path`] for a given path and headers).

use std::io;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;

pub mod websocket;

/// Which server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The hello example through gateway-hyper.
    Gateway,
    /// Raw hyper, configured like gateway-hyper.
    Raw,
    /// Raw hyper with gateway-hyper's connection setup and the least
    /// handler: every request gets the greeting with a static
    /// `content-type` value (no routing, no copied header value), and
    /// shutdown stops accepting without draining (no watch channel).
    RawMinimal,
    /// Raw hyper, HTTP/1 only, no timers, no graceful shutdown.
    Bare,
    /// Raw hyper configured like `Raw`, but connecting the way gateway-hyper
    /// does: each connection's first bytes are peeked to choose hyper's own
    /// HTTP/1 or HTTP/2 server, instead of hyper-util's `auto` connection
    /// (which reads them through a wrapper kept on every later read).
    RawDirect,
    /// Ablation: `Raw` answering with gateway's `Body` instead of `Full`.
    RawBody,
    /// Ablation: `RawBody` plus building an `Environ` (and a `ConnInfo`
    /// clone) for the handler, without the driver.
    RawEnviron,
    /// Ablation: `RawEnviron` with the handler called through
    /// `gateway_core::driver::commit` (the adapter's own loop not used).
    RawDriver,
    /// An axum 0.8 `Router` (`route("/", get(...))`) answering the same
    /// bytes, served by `axum::serve` with graceful shutdown. axum's own
    /// defaults: hyper-util's `auto` connection, no header-read timeout;
    /// `TCP_NODELAY` is set through `ListenerExt::tap_io`, as the other
    /// servers set it.
    Axum,
    /// `Gateway` with the hello application wrapped in 5 pass-through
    /// struct middleware layers whose `call` returns the inner future
    /// itself (no state machine of their own).
    GatewayMw5,
    /// `Gateway` with the hello application wrapped in 5 no-op struct
    /// middleware layers written as `async fn call` (each awaits the inner
    /// future inside its own state machine).
    GatewayMw5Async,
    /// `Gateway` with a root path configured (`/outer` precedes every
    /// `script_name`): the adapter must still fill the environ without
    /// allocating.
    GatewayRoot,
    /// The hello example as a FastCGI responder (`gateway_fastcgi::Server`,
    /// defaults); `benches/nginx.sh` puts it behind `fastcgi_pass`.
    Fastcgi,
    /// `gateway_middleware::StaticFiles::new($STATIC_DIR)` as the
    /// application, served like `Gateway`.
    StaticGateway,
    /// The gateway server with [`SessionHello`] (the session counter read
    /// and written back) inside `gateway_middleware::Sessions` with the
    /// cookie store (`CookieStore::new(Key::generate(1))`: the session
    /// sealed into the cookie with AES-256-GCM-SIV). Sessions'
    /// defaults: cookie `session`, `HttpOnly`, `SameSite=Lax`, `Path=/`,
    /// `Secure` only on https, rolling idle expiry of 14 days.
    SessionCookie,
    /// [`Kind::SessionCookie`] with `gateway_middleware::sessions::MemoryStore`
    /// (defaults) instead of the cookie store.
    SessionMemory,
    /// [`Kind::Gateway`]'s hello application inside `Sessions` with a
    /// `MemoryStore`, never touching its session: what `Sessions` costs a
    /// request that does not use it (no store call, no cookie).
    SessionUntouched,
    /// [`Kind::Gateway`]'s hello application behind
    /// `gateway_middleware::auth::BasicAuth::single("bench", "ada",
    /// "correct horse")`: the constant-time static verifier. Load it with
    /// the header `authorization: Basic YWRhOmNvcnJlY3QgaG9yc2U=` (and
    /// `gateway` with the same bytes, as its baseline).
    BasicAuth,
    /// [`Kind::Gateway`]'s hello application inside
    /// `gateway_middleware::Metrics::new()` (defaults; the route label
    /// unset): what recording a request's metrics costs. Its `/metrics`
    /// endpoint is not mounted: the load never scrapes.
    Metrics,
    /// [`Kind::Gateway`]'s hello application behind
    /// `gateway_middleware::auth::Csrf::new()` (defaults): load it with
    /// `LOAD_METHOD=POST`, path `/echo`, `content-length: 0` and
    /// `sec-fetch-site: same-origin` (and `gateway` with the same bytes,
    /// the unchecked POST).
    Csrf,
    /// [`Kind::Axum`]'s router with tower-sessions 0.15's
    /// `SessionManagerLayer` over its `MemoryStore`, answering `GET /`
    /// with `axum_session_hello`: the session counter read and written
    /// back incremented. Cookie `session`, `HttpOnly`, `SameSite=Lax`,
    /// `Path=/`, not `Secure` (plain http), rolling expiry
    /// (`Expiry::OnInactivity`, 14 days), as the gateway session kinds.
    /// Only with the `axum-sessions` feature (off by default: see
    /// benches/Cargo.toml); without it the server fails to start.
    AxumSessions,
    /// tower-http's `ServeDir::new($STATIC_DIR).precompressed_br()` (and
    /// `.precompressed_gzip()`) on raw hyper configured like `Raw`
    /// (hyper-util's `auto` connection; the service cloned per request, as
    /// hyper-util's `TowerToHyperService` does).
    StaticServeDir,
    /// [`Kind::Gateway`]'s hello application inside
    /// `gateway_middleware::AccessLog` (combined format) writing to
    /// `std::io::sink()` through its buffer and background thread: what a
    /// logged request costs the request path.
    AccessLog,
    /// [`Kind::Gateway`]'s hello application inside
    /// `gateway_middleware::RequestId` (defaults: no trusted proxy, so an
    /// id is made for every request).
    RequestId,
    /// The demo (`gateway_examples::demo::app`, default options, sessions
    /// in memory): the whole stack — ProxyHeaders, RequestId, AccessLog
    /// (to stdout), Metrics, Mount, Sessions, SessionAuth, Csrf — for
    /// `benches/nginx.sh` (its `/whoami` against a hello).
    Demo,
    /// [`Kind::Gateway`]'s hello application inside, outermost first,
    /// `RequestId::new()`, `AccessLog::new().to_writer(io::sink())` and
    /// `Metrics::new()`: the observing stack of issue 16 (its target:
    /// at most 1.15 times [`Kind::Gateway`]'s instructions per request).
    Observed,
    /// The hello example's `GET /` written as blocking code
    /// (`gateway_core::blocking::BlockingApplication`) on a `Blocking` pool
    /// of 4 threads, served like [`Kind::Gateway`]: what the hand-off to a
    /// pool thread and back costs a request.
    Blocking,
}

impl Kind {
    /// Every kind with its command-line name.
    pub const ALL: [(&'static str, Kind); 27] = [
        ("gateway", Kind::Gateway),
        ("raw", Kind::Raw),
        ("raw-minimal", Kind::RawMinimal),
        ("bare", Kind::Bare),
        ("raw-direct", Kind::RawDirect),
        ("raw-body", Kind::RawBody),
        ("raw-environ", Kind::RawEnviron),
        ("raw-driver", Kind::RawDriver),
        ("axum", Kind::Axum),
        ("gateway-mw5", Kind::GatewayMw5),
        ("gateway-mw5-async", Kind::GatewayMw5Async),
        ("gateway-root", Kind::GatewayRoot),
        ("fastcgi", Kind::Fastcgi),
        ("static-gateway", Kind::StaticGateway),
        ("static-servedir", Kind::StaticServeDir),
        ("session-cookie", Kind::SessionCookie),
        ("session-memory", Kind::SessionMemory),
        ("session-untouched", Kind::SessionUntouched),
        ("basic-auth", Kind::BasicAuth),
        ("metrics", Kind::Metrics),
        ("csrf", Kind::Csrf),
        ("axum-sessions", Kind::AxumSessions),
        ("access-log", Kind::AccessLog),
        ("request-id", Kind::RequestId),
        ("demo", Kind::Demo),
        ("observed", Kind::Observed),
        ("blocking", Kind::Blocking),
    ];
}

/// The environment variable naming the directory the static-file kinds
/// ([`Kind::StaticGateway`], [`Kind::StaticServeDir`]) serve.
pub const STATIC_DIR: &str = "STATIC_DIR";

/// An optional environment variable: the block size (bytes) in which
/// [`Kind::StaticGateway`] streams large files, instead of `StaticFiles`'
/// default (for experiments).
pub const STATIC_BLOCK_SIZE: &str = "STATIC_BLOCK_SIZE";

/// The directory named by [`STATIC_DIR`], which must be set.
fn static_dir() -> io::Result<std::path::PathBuf> {
    std::env::var_os(STATIC_DIR)
        .map(Into::into)
        .ok_or_else(|| io::Error::other(format!("{STATIC_DIR} must name the directory to serve")))
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|&(_, kind)| kind)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|(name, _)| *name).collect();
                format!("unknown server kind {s:?} ({})", names.join(", "))
            })
    }
}

/// The header-read timeout both configured servers use.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `kind` on `listener` until `shutdown` completes.
pub async fn serve(
    kind: Kind,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> io::Result<()> {
    match kind {
        Kind::Gateway => serve_gateway(listener, shutdown, gateway_examples::hello::app()).await,
        Kind::GatewayRoot => {
            gateway_hyper::Server::from_listener(listener)
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .root_path(Some(gateway_core::RootPath::from_static("/outer")))
                .serve_with_shutdown(gateway_examples::hello::app(), shutdown)
                .await
        }
        Kind::Fastcgi => {
            gateway_fastcgi::Server::from_std(listener.into_std()?)?
                .serve_with_shutdown(gateway_examples::hello::app(), shutdown)
                .await
        }
        Kind::GatewayMw5 => {
            use gateway_core::ApplicationExt;
            let app = gateway_examples::hello::app()
                .with(Noop)
                .with(Noop)
                .with(Noop)
                .with(Noop)
                .with(Noop);
            serve_gateway(listener, shutdown, app).await
        }
        Kind::GatewayMw5Async => {
            use gateway_core::ApplicationExt;
            let app = gateway_examples::hello::app()
                .with(NoopAsync)
                .with(NoopAsync)
                .with(NoopAsync)
                .with(NoopAsync)
                .with(NoopAsync);
            serve_gateway(listener, shutdown, app).await
        }
        Kind::Axum => {
            let router = axum::Router::new().route("/", axum::routing::get(axum_hello));
            serve_axum(listener, shutdown, router).await
        }
        Kind::SessionCookie => {
            use gateway_core::ApplicationExt;
            use gateway_middleware::sessions::{CookieStore, Key, Sessions};
            let app = SessionHello.with(Sessions::new(CookieStore::new(Key::generate(1))));
            serve_gateway(listener, shutdown, app).await
        }
        Kind::SessionMemory => {
            use gateway_core::ApplicationExt;
            use gateway_middleware::sessions::{MemoryStore, Sessions};
            let app = SessionHello.with(Sessions::new(MemoryStore::new()));
            serve_gateway(listener, shutdown, app).await
        }
        Kind::SessionUntouched => {
            use gateway_core::ApplicationExt;
            use gateway_middleware::sessions::{MemoryStore, Sessions};
            let app = gateway_examples::hello::app().with(Sessions::new(MemoryStore::new()));
            serve_gateway(listener, shutdown, app).await
        }
        Kind::BasicAuth => {
            use gateway_core::ApplicationExt;
            use gateway_middleware::auth::BasicAuth;
            let auth = BasicAuth::single("bench", "ada", "correct horse");
            let app = gateway_examples::hello::app().with(auth);
            serve_gateway(listener, shutdown, app).await
        }
        Kind::AccessLog => {
            use gateway_core::ApplicationExt;
            use gateway_middleware::AccessLog;
            let log = AccessLog::new().to_writer(io::sink());
            let app = gateway_examples::hello::app().with(log);
            serve_gateway(listener, shutdown, app).await
        }
        Kind::RequestId => {
            use gateway_core::ApplicationExt;
            use gateway_middleware::RequestId;
            let app = gateway_examples::hello::app().with(RequestId::new());
            serve_gateway(listener, shutdown, app).await
        }
        Kind::Demo => {
            use gateway_examples::demo::{Options, app};
            use gateway_middleware::auth::AuthKey;
            use gateway_middleware::sessions::{MemoryStore, Sessions};
            let server = gateway_hyper::Server::from_listener(listener)
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let stats = server.stats();
            let sessions = Sessions::new(MemoryStore::new());
            let app = app(&Options::default(), sessions, AuthKey::generate(), &stats);
            server.serve_with_shutdown(app, shutdown).await
        }
        Kind::Blocking => serve_gateway(listener, shutdown, blocking::app()).await,
        Kind::Observed => {
            use gateway_core::ApplicationExt;
            use gateway_middleware::{AccessLog, Metrics, RequestId};
            let app = gateway_examples::hello::app()
                .with(Metrics::new())
                .with(AccessLog::new().to_writer(io::sink()))
                .with(RequestId::new());
            serve_gateway(listener, shutdown, app).await
        }
        Kind::Metrics => {
            use gateway_core::ApplicationExt;
            let app = gateway_examples::hello::app().with(gateway_middleware::Metrics::new());
            serve_gateway(listener, shutdown, app).await
        }
        Kind::Csrf => {
            use gateway_core::ApplicationExt;
            use gateway_middleware::auth::Csrf;
            let app = gateway_examples::hello::app().with(Csrf::new());
            serve_gateway(listener, shutdown, app).await
        }
        #[cfg(not(feature = "axum-sessions"))]
        Kind::AxumSessions => {
            drop((listener, shutdown));
            Err(io::Error::other(
                "the axum-sessions kind needs gateway-benches' `axum-sessions` feature \
                 (left off by default: tower-sessions turns on tracing's `log` feature, \
                 which would slow every other kind's spans)",
            ))
        }
        #[cfg(feature = "axum-sessions")]
        Kind::AxumSessions => {
            use tower_sessions::cookie::{SameSite, time};
            let layer =
                tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
                    .with_name("session")
                    .with_http_only(true)
                    .with_same_site(SameSite::Lax)
                    .with_path("/")
                    .with_secure(false)
                    .with_expiry(tower_sessions::Expiry::OnInactivity(time::Duration::days(
                        14,
                    )));
            let router = axum::Router::new()
                .route("/", axum::routing::get(axum_session_hello))
                .layer(layer);
            serve_axum(listener, shutdown, router).await
        }
        Kind::StaticGateway => {
            let mut files = gateway_middleware::StaticFiles::new(static_dir()?);
            if let Some(block) = std::env::var_os(STATIC_BLOCK_SIZE) {
                let block = block.to_str().and_then(|b| b.parse().ok()).ok_or_else(|| {
                    io::Error::other(format!("{STATIC_BLOCK_SIZE} must be a number of bytes"))
                })?;
                files = files.block_size(block);
            }
            serve_gateway(listener, shutdown, files).await
        }
        Kind::StaticServeDir => {
            use tower_service::Service;
            // gzip only for benches/static.sh's fallback when it finds no
            // brotli compressor; a request accepting only `br` never
            // looks for a `.gz`.
            let dir = tower_http::services::ServeDir::new(static_dir()?)
                .precompressed_br()
                .precompressed_gzip();
            // `ServeDir` is always ready; `call` takes `&mut self`, so each
            // request gets its own clone (as `TowerToHyperService` does).
            let service = service_fn(move |req: http::Request<Incoming>| dir.clone().call(req));
            serve_raw(listener, shutdown, service).await
        }
        Kind::Raw => serve_raw(listener, shutdown, service_fn(hello)).await,
        Kind::RawMinimal => serve_raw_minimal(listener, shutdown).await,
        Kind::RawBody => serve_raw(listener, shutdown, service_fn(hello_body)).await,
        Kind::RawEnviron => {
            let conn = gateway_core::ConnInfo::new(
                gateway_core::Addr::Tcp(listener.local_addr()?),
                gateway_core::Addr::Tcp(listener.local_addr()?),
            );
            serve_raw(
                listener,
                shutdown,
                service_fn(move |req: http::Request<Incoming>| {
                    let (parts, _incoming) = req.into_parts();
                    let env =
                        gateway_core::Environ::from_parts(parts, gateway_core::Body::empty(), conn);
                    hello_environ(env)
                }),
            )
            .await
        }
        Kind::Bare => serve_bare(listener, shutdown).await,
        Kind::RawDirect => serve_raw_direct(listener, shutdown).await,
        Kind::RawDriver => {
            static APP: HelloEnviron = HelloEnviron;
            let conn = gateway_core::ConnInfo::new(
                gateway_core::Addr::Tcp(listener.local_addr()?),
                gateway_core::Addr::Tcp(listener.local_addr()?),
            );
            serve_raw(
                listener,
                shutdown,
                service_fn(move |req: http::Request<Incoming>| {
                    let (parts, _incoming) = req.into_parts();
                    let env =
                        gateway_core::Environ::from_parts(parts, gateway_core::Body::empty(), conn);
                    gateway_core::driver::commit(&APP, env)
                }),
            )
            .await
        }
    }
}

/// Serves `app` the way [`Kind::Gateway`] serves the hello example.
async fn serve_gateway(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
    app: impl gateway_core::Application,
) -> io::Result<()> {
    gateway_hyper::Server::from_listener(listener)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_with_shutdown(app, shutdown)
        .await
}

/// A pass-through struct middleware whose application returns the inner
/// future itself (the `Forward` layer of gateway-core's driver benchmark).
#[derive(Clone, Copy)]
struct Noop;

/// The application [`Noop`] produces.
struct NoopApp<A>(A);

impl<A: gateway_core::Application> gateway_core::Middleware<A> for Noop {
    type Output = NoopApp<A>;

    fn wrap(&self, app: A) -> NoopApp<A> {
        NoopApp(app)
    }
}

impl<A: gateway_core::Application> gateway_core::Application for NoopApp<A> {
    fn call(
        &self,
        env: gateway_core::Environ,
    ) -> impl std::future::Future<Output = Result<gateway_core::Response, gateway_core::Error>> + Send
    {
        self.0.call(env)
    }

    fn startup(&self) -> impl std::future::Future<Output = Result<(), gateway_core::Error>> + Send {
        self.0.startup()
    }

    fn shutdown(&self) -> impl std::future::Future<Output = ()> + Send {
        self.0.shutdown()
    }
}

/// A no-op struct middleware written as in the `Middleware` docs: its
/// application's methods are `async fn`s awaiting the inner application.
#[derive(Clone, Copy)]
struct NoopAsync;

/// The application [`NoopAsync`] produces.
struct NoopAsyncApp<A>(A);

impl<A: gateway_core::Application> gateway_core::Middleware<A> for NoopAsync {
    type Output = NoopAsyncApp<A>;

    fn wrap(&self, app: A) -> NoopAsyncApp<A> {
        NoopAsyncApp(app)
    }
}

impl<A: gateway_core::Application> gateway_core::Application for NoopAsyncApp<A> {
    async fn call(
        &self,
        env: gateway_core::Environ,
    ) -> Result<gateway_core::Response, gateway_core::Error> {
        self.0.call(env).await
    }

    async fn startup(&self) -> Result<(), gateway_core::Error> {
        self.0.startup().await
    }

    async fn shutdown(&self) {
        self.0.shutdown().await
    }
}

/// The axum handler for `GET /` (axum answers `HEAD /` from it too,
/// without the body).
async fn axum_hello() -> ([(http::header::HeaderName, &'static str); 1], &'static str) {
    (
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        gateway_examples::hello::GREETING,
    )
}

/// The session counter's key in every session kind.
pub const COUNTER: &str = "n";

/// The gateway session kinds' application: `GET /` (and `HEAD /`) reads
/// the session's counter (0 when absent), writes it back incremented and
/// answers the new value in decimal with a newline (`text/plain`), as
/// `axum_session_hello` does; other methods on `/` get a 405, other
/// paths a 404. A session error propagates (`Sessions` answers a store
/// outage with a 503).
#[derive(Clone, Copy, Debug)]
pub struct SessionHello;

impl gateway_core::Application for SessionHello {
    async fn call(
        &self,
        env: gateway_core::Environ,
    ) -> Result<gateway_core::Response, gateway_core::Error> {
        use gateway_core::Error;
        use http::StatusCode;
        match hello_route(env.method(), env.path_info()) {
            None => {}
            Some(405) => {
                return Err(Error::with_status(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed",
                ));
            }
            Some(_) => return Err(Error::with_status(StatusCode::NOT_FOUND, "no such page")),
        }
        let session = gateway_middleware::Session::of(&env).ok_or_else(|| {
            Error::with_status(StatusCode::INTERNAL_SERVER_ERROR, "no Sessions middleware")
        })?;
        let n = session.get::<u64>(COUNTER).await?.unwrap_or(0) + 1;
        session.insert(COUNTER, n).await?;
        gateway_core::start(200, [("content-type", "text/plain; charset=utf-8")])
            .body(format!("{n}\n"))
    }
}

/// [`Kind::AxumSessions`]' handler: reads the session's counter (0 when
/// absent), writes it back incremented and answers the new value in
/// decimal with a newline (`text/plain`); a store error is a 500, as a
/// real handler would answer it.
#[cfg(feature = "axum-sessions")]
async fn axum_session_hello(session: tower_sessions::Session) -> axum::response::Response {
    use axum::response::IntoResponse;
    let n = match session.get::<u64>(COUNTER).await {
        Ok(n) => n.unwrap_or(0) + 1,
        Err(_) => return http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if session.insert(COUNTER, n).await.is_err() {
        return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{n}\n"),
    )
        .into_response()
}

/// Serves an axum `router` (the hello routes: `GET /` (and `HEAD /`)
/// answer the greeting, other methods on `/` get axum's own 405, other
/// paths its 404).
async fn serve_axum(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
    router: axum::Router,
) -> io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        // As the other servers do; a failure only costs latency.
        let _ = tcp.set_nodelay(true);
    });
    // `with_graceful_shutdown` wants a `'static` signal; `shutdown` only
    // lives as long as this call, so it is relayed through a channel.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .into_future();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = server.as_mut() => result,
        () = shutdown => {
            let _ = tx.send(());
            server.await
        }
    }
}

mod raw;

use raw::{
    HelloEnviron, hello, hello_body, hello_environ, hello_route, serve_bare, serve_raw,
    serve_raw_direct, serve_raw_minimal,
};

mod load;

#[cfg(test)]
use load::{Jar, content_length, find};
pub use load::{load, load_path, load_request};

mod blocking;

#[cfg(test)]
mod tests;
