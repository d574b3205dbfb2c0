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

use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

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

/// The status the hello example answers a method and path with, when it
/// does not answer with its greeting (it also echoes on `POST /echo`,
/// which these benchmarks do not send).
fn hello_route(method: &http::Method, path: &str) -> Option<u16> {
    match (method, path) {
        (&http::Method::GET | &http::Method::HEAD, "/") => None,
        (_, "/" | "/echo") => Some(405),
        _ => Some(404),
    }
}

/// The hello example's response for a route, with the body of type `B`
/// made from the greeting or from nothing.
fn hello_response<B>(status: Option<u16>, body: impl Fn(&'static str) -> B) -> http::Response<B> {
    let res = match status {
        None => http::Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .body(body(gateway_examples::hello::GREETING)),
        Some(status) => http::Response::builder().status(status).body(body("")),
    };
    // Both heads are valid, so this never falls back.
    res.unwrap_or_else(|_| http::Response::new(body("")))
}

/// The baseline handler, written as plainly as raw hyper code is (kept
/// apart from the ablations' shared helper, which costs it ~70
/// instructions per request).
async fn hello(req: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let res = match hello_route(req.method(), req.uri().path()) {
        None => http::Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from_static(
                gateway_examples::hello::GREETING.as_bytes(),
            ))),
        Some(status) => http::Response::builder()
            .status(status)
            .body(Full::new(Bytes::new())),
    };
    Ok(res.unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new()))))
}

/// The content type of [`hello_minimal`]'s greeting, built at compile time.
const TEXT_PLAIN: http::HeaderValue = http::HeaderValue::from_static("text/plain; charset=utf-8");

/// [`Kind::RawMinimal`]'s handler: the greeting and a static header value,
/// whatever the request.
async fn hello_minimal(
    _req: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let mut res = http::Response::new(Full::new(Bytes::from_static(
        gateway_examples::hello::GREETING.as_bytes(),
    )));
    res.headers_mut()
        .insert(http::header::CONTENT_TYPE, TEXT_PLAIN);
    Ok(res)
}

async fn hello_body(
    req: http::Request<Incoming>,
) -> Result<http::Response<gateway_core::Body>, Infallible> {
    let status = hello_route(req.method(), req.uri().path());
    Ok(hello_response(status, gateway_core::Body::from))
}

async fn hello_environ(
    env: gateway_core::Environ,
) -> Result<http::Response<gateway_core::Body>, Infallible> {
    let status = hello_route(env.method(), env.path_info());
    Ok(hello_response(status, gateway_core::Body::from))
}

/// `hello_environ` as an `Application`.
struct HelloEnviron;

impl gateway_core::Application for HelloEnviron {
    async fn call(
        &self,
        env: gateway_core::Environ,
    ) -> Result<gateway_core::Response, gateway_core::Error> {
        let Ok(res) = hello_environ(env).await;
        Ok(res)
    }
}

async fn serve_raw<S, B>(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
    service: S,
) -> io::Result<()>
where
    S: hyper::service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = std::sync::Arc::new(auto_builder());
    let (drain, _) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service.clone())
            .into_owned();
        let mut draining = drain.subscribe();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let _ = tokio::select! {
                biased;
                result = conn.as_mut() => result,
                _ = draining.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
        });
    }
    drain.send_replace(());
    drain.closed().await;
    Ok(())
}

/// hyper-util's auto builder (HTTP/1.1 and HTTP/2 prior knowledge) with
/// gateway-hyper's default timer, header-read timeout and limits.
fn auto_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(200)
        .max_pending_accept_reset_streams(20)
        .max_header_list_size(64 * 1024)
        .keep_alive_timeout(Duration::from_secs(20))
        .max_send_buf_size(400 * 1024);
    builder
}

/// [`Kind::RawMinimal`]: [`serve_raw`]'s connections without its drain,
/// serving [`hello_minimal`]. Shutdown stops accepting; open connections
/// end with the runtime.
async fn serve_raw_minimal(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> io::Result<()> {
    let builder = std::sync::Arc::new(auto_builder());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service_fn(hello_minimal))
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    Ok(())
}

async fn serve_raw_direct(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> io::Result<()> {
    use hyper::server::conn::{http1, http2};
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut h1 = http1::Builder::new();
    h1.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(64 * 1024);
    let mut h2 = http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new())
        .max_concurrent_streams(200)
        .max_pending_accept_reset_streams(20)
        .max_header_list_size(64 * 1024)
        .keep_alive_timeout(Duration::from_secs(20))
        .max_send_buf_size(400 * 1024);
    let (h1, h2) = (std::sync::Arc::new(h1), std::sync::Arc::new(h2));
    let (drain, _) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        let (h1, h2) = (h1.clone(), h2.clone());
        let mut draining = drain.subscribe();
        tokio::spawn(async move {
            let mut first = [0u8; 24];
            let Ok(Ok(n)) =
                tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first)).await
            else {
                return;
            };
            let io = TokioIo::new(stream);
            if first[..n] == *PREFACE {
                let conn = h2.serve_connection(io, service_fn(hello));
                let mut conn = std::pin::pin!(conn);
                let _ = tokio::select! {
                    biased;
                    result = conn.as_mut() => result,
                    _ = draining.changed() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
            } else {
                let conn = h1.serve_connection(io, service_fn(hello)).with_upgrades();
                let mut conn = std::pin::pin!(conn);
                let _ = tokio::select! {
                    biased;
                    result = conn.as_mut() => result,
                    _ = draining.changed() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
            }
        });
    }
    drain.send_replace(());
    drain.closed().await;
    Ok(())
}

async fn serve_bare(
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted?,
        };
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
    Ok(())
}

/// Sends `requests` keep-alive `GET /` requests over each of `conns`
/// connections (one thread each, one request in flight per connection) and
/// checks every response is a 200 with a body. Each connection keeps the
/// cookies its responses set and sends them back (see [`load_path`]).
/// Allocates nothing per request unless a response sets a cookie.
pub fn load(addr: SocketAddr, conns: usize, requests: usize) -> io::Result<()> {
    load_path(addr, conns, requests, "/", &[])
}

/// [`load`] for `GET path` with extra request `headers` (each a full
/// `name: value` line without its CRLF): [`load_request`] with `GET`.
pub fn load_path(
    addr: SocketAddr,
    conns: usize,
    requests: usize,
    path: &str,
    headers: &[String],
) -> io::Result<()> {
    load_request(addr, conns, requests, "GET", path, headers)
}

/// [`load`] for `METHOD path` with extra request `headers` (each a full
/// `name: value` line without its CRLF; a request with a body method
/// needs its own `content-length: 0`). Every response must be a 200
/// with a `content-length`; bodies of any size are read and dropped.
///
/// Each connection is one client with its own cookie jar, as a browser
/// tab is: every `Set-Cookie` response field stores its `name=value`
/// (replacing a cookie of the same name; `Max-Age=0` or an empty value
/// removes it), and every later request on that connection carries the
/// stored cookies in one `cookie` field, in the order first set. Other
/// attributes (`Path`, `Domain`, `Secure`, expiry) are ignored: the
/// benchmark servers set one cookie on `/`. Servers that set no cookie
/// get exactly the same bytes on every request.
pub fn load_request(
    addr: SocketAddr,
    conns: usize,
    requests: usize,
    method: &str,
    path: &str,
    headers: &[String],
) -> io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: bench\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    let head: std::sync::Arc<[u8]> = head.into_bytes().into();
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let head = head.clone();
            std::thread::spawn(move || load_one(addr, requests, &head))
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| io::Error::other("load thread panicked"))??;
    }
    Ok(())
}

/// One connection's cookies: `(name, value)` in the order first set.
#[derive(Default)]
struct Jar(Vec<(Vec<u8>, Vec<u8>)>);

impl Jar {
    /// Applies every `set-cookie` field of a response `head`; true if the
    /// jar changed.
    fn update(&mut self, head: &[u8]) -> bool {
        let mut changed = false;
        for line in head.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = line.split_at(colon);
            if !name.eq_ignore_ascii_case(b"set-cookie") {
                continue;
            }
            let mut parts = value[1..].split(|&b| b == b';');
            let Some(pair) = parts.next() else { continue };
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (cookie, value) = (pair[..eq].trim_ascii(), pair[eq + 1..].trim_ascii());
            let removed = value.is_empty()
                || parts.any(|attr| attr.trim_ascii().eq_ignore_ascii_case(b"max-age=0"));
            let slot = self.0.iter().position(|(n, _)| n == cookie);
            match (slot, removed) {
                (Some(i), true) => {
                    self.0.remove(i);
                }
                (Some(i), false) => value.clone_into(&mut self.0[i].1),
                (None, false) => self.0.push((cookie.to_vec(), value.to_vec())),
                (None, true) => continue,
            }
            changed = true;
        }
        changed
    }

    /// `head`, then a `cookie` field with the jar's cookies (if any), then
    /// the blank line ending the request head, into `request`.
    fn request(&self, head: &[u8], request: &mut Vec<u8>) {
        request.clear();
        request.extend_from_slice(head);
        for (i, (name, value)) in self.0.iter().enumerate() {
            request.extend_from_slice(if i == 0 { b"cookie: " } else { b"; " });
            request.extend_from_slice(name);
            request.push(b'=');
            request.extend_from_slice(value);
        }
        if !self.0.is_empty() {
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
    }
}

fn load_one(addr: SocketAddr, requests: usize, head: &[u8]) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut jar = Jar::default();
    let mut request = Vec::with_capacity(head.len() + 2);
    jar.request(head, &mut request);
    for _ in 0..requests {
        stream.write_all(&request)?;
        if read_response(&mut stream, &mut buf, &mut jar)? {
            jar.request(head, &mut request);
        }
    }
    Ok(())
}

/// Reads one response with a `content-length` body (one request is in
/// flight, so nothing past its end has been sent yet) and stores the
/// cookies it sets in `jar`; true if the jar changed.
fn read_response(stream: &mut TcpStream, buf: &mut [u8], jar: &mut Jar) -> io::Result<bool> {
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed",
            ));
        }
        filled += n;
        let Some(end) = find(&buf[..filled], b"\r\n\r\n") else {
            if filled == buf.len() {
                return Err(io::Error::other("response head too large"));
            }
            continue;
        };
        let head = &buf[..end];
        if !head.starts_with(b"HTTP/1.1 200") {
            let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
            return Err(io::Error::other(format!(
                "unexpected status: {}",
                String::from_utf8_lossy(line)
            )));
        }
        let len = content_length(head).ok_or_else(|| io::Error::other("no content-length"))?;
        let changed = jar.update(head);
        let mut left = (end + 4 + len).saturating_sub(filled);
        while left > 0 {
            let want = left.min(buf.len());
            let n = stream.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
            }
            left -= n;
        }
        return Ok(changed);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> Option<usize> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
        if !name.eq_ignore_ascii_case(b"content-length") {
            return None;
        }
        std::str::from_utf8(&value[1..]).ok()?.trim().parse().ok()
    })
}

mod blocking;

#[cfg(test)]
mod tests;
