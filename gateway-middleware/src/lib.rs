//! Middleware for gateway applications: the glue real deployments need.
//! A middleware wraps an [`Application`] and is one itself; stack them
//! with [`ApplicationExt::with`](gateway_core::ApplicationExt::with), the
//! last one added seeing the request first.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{Addr, ApplicationExt, ConnInfo, Environ, fn_app, start};
//! use gateway_middleware::{Mount, ProxyHeaders};
//!
//! let shop = fn_app(|env: Environ| async move {
//!     // A redirect to the cart, built from where the shop is mounted.
//!     let cart = format!("{}{}/cart", env.host_url(), env.script_name());
//!     start(303, [("location", cart.as_str())]).empty()
//! });
//! let site = fn_app(|env: Environ| async move {
//!     start(200, [("content-type", "text/plain")]).body(env.url())
//! });
//!
//! let app = Mount::new()
//!     .mount("/shop", shop)
//!     .fallback(site)
//!     // Last added, so outermost: Mount sees the forwarded prefix.
//!     .with(
//!         ProxyHeaders::new()
//!             .trusted_proxies(["127.0.0.1"])
//!             .x_host(1)
//!             .x_prefix(1),
//!     );
//!
//! // What nginx sends for https://example.com/outer/shop/item.
//! let nginx = ConnInfo::new(Addr::Tcp("127.0.0.1:50000".parse()?), Addr::None);
//! let client = TestClient::new(app).with_conn(nginx);
//! let res = client
//!     .get("/shop/item")
//!     .header("host", "backend")
//!     .header("x-forwarded-for", "203.0.113.7")
//!     .header("x-forwarded-proto", "https")
//!     .header("x-forwarded-host", "example.com")
//!     .header("x-forwarded-prefix", "/outer")
//!     .send()
//!     .await;
//! assert_eq!(res.header("location"), Some("https://example.com/outer/shop/cart"));
//!
//! let res = client
//!     .get("/about")
//!     .header("x-forwarded-proto", "https")
//!     .header("x-forwarded-host", "example.com")
//!     .header("x-forwarded-prefix", "/outer")
//!     .send()
//!     .await;
//! assert_eq!(res.text(), "https://example.com/outer/about");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Above: nginx serves the site at `https://example.com/outer/`, strips
//! `/outer` and says so in `X-Forwarded-Prefix`; the program mounts a shop
//! at `/shop`. The shop sees `script_name = /outer/shop` and builds its
//! redirects from it.
//!
//! # The middleware
//!
//! A middleware may change the environ on the way in, the response on the
//! way out, or answer by itself.
//!
//! | Type | Feature | Does | Runtime |
//! |---|---|---|---|
//! | [`ProxyHeaders`] | `proxy` | the client's address, scheme, host and prefix from a trusted reverse proxy's `Forwarded` / `X-Forwarded-*` headers; outermost, so everything else sees the corrected request | any |
//! | [`RequestId`] | `request-id` | an id per request: a trusted proxy's `X-Request-Id` when it matches `[A-Za-z0-9._:-]{1,128}`, else a new unpredictable one; on the response (also on error pages), in a `tracing` span, in the access log, and to the application through [`RequestId::of`] | any |
//! | [`AccessLog`] | `access-log` | one line per request when its body finishes or is aborted (also for `Err`, panics and clients that leave early), in the common, combined or JSON format, every field escaped; to `tracing` or to a writer from a background thread — see [`access_log`] | any (a writer: a thread of its own) |
//! | [`Mount`] | `mount` | several applications under path prefixes, longest prefix first, with a fallback | any |
//! | [`StaticFiles`] | `static-files` | files from a directory, as correct as nginx (preconditions, ranges, precompressed variants, caching headers, no path escapes) and close to it in speed; an application of its own, or a middleware in front of one | **tokio** (file I/O on its blocking pool) |
//! | [`Sessions`] | `sessions` (`redis` for `RedisStore`) | a [`Session`] in every request's extensions: lazy, saved once before the commit and only when changed, never for anonymous traffic or on a 5xx; kept in [`MemoryStore`](sessions::MemoryStore), Redis (per-key merge, logout wins) or an encrypted [`CookieStore`](sessions::CookieStore); `503` when the store is down — see [`sessions`] | any (`RedisStore`: **tokio**) |
//! | [`Liveness`], [`Readiness`] | `health` | applications to mount for probes and load balancers: `200 ok`, and `200 ready` / `503 not ready` from a check such as gateway-hyper's drain state — see [`health`] | any |
//! | [`Metrics`] | `metrics` | Prometheus metrics of every request — count, in-flight, latency and response-size histograms by method, status class and a route label the application sets (never the raw path) — served by a mountable `/metrics` application, plus gauges and counters read at scrape time (the adapter's own) — see [`metrics`] | any |
//! | [`ConditionalGet`] | `conditional` | `304 Not Modified` / `412 Precondition Failed` for dynamic `GET`/`HEAD` responses that carry `ETag` or `Last-Modified`; the evaluator itself, for handlers, is in [`conditional`] (RFC 9110 §13) | any |
//!
//! **Order.** `ProxyHeaders` outermost, then `RequestId`, then
//! `AccessLog`, then the rest: the log then has the client's address and
//! the request id, and error pages (rendered inside `AccessLog`) carry the
//! `X-Request-Id` header. With `.with()`, the last added is outermost.
//!
//! **Features.** Each middleware has its cargo feature, all on by default;
//! `default-features = false` and a list of them compiles only those and
//! their dependencies (`ipnet` for `proxy`; `httpdate` for `conditional`;
//! `mime_guess`, `tokio` and `conditional` for `static-files`; `serde`,
//! `serde_json`, the RustCrypto AEAD and HMAC crates, `getrandom` and
//! tokio's `sync` for `sessions`; `redis` for `redis`; `itoa` and
//! `tracing` for `access-log`; `proxy`, `getrandom`, `siphasher` and
//! `tracing` for `request-id`; `prometheus-client` for `metrics`).
//!
//! **Runtime.** "any" runs on whatever executor polls it: no timers, no
//! spawning. [`StaticFiles`] needs to run inside a tokio runtime (either
//! flavour, as gateway-hyper provides); outside one its `startup` fails
//! with an error that says so, and a request that needs the disk is an
//! error, never a panic.
//!
//! # Writing one
//!
//! Every middleware here takes the same shape: a configuration type that
//! implements [`Middleware`], and the application it produces, which
//! forwards `startup` and `shutdown`.
//!
//! ```
//! use gateway_core::{
//!     driver, fn_app, start, Application, ApplicationExt, Body, Environ, Error, Middleware,
//!     Response,
//! };
//!
//! /// Answers `/healthz` itself; passes everything else on.
//! #[derive(Clone, Copy)]
//! struct Health;
//!
//! struct HealthApp<A>(A);
//!
//! impl<A: Application> Middleware<A> for Health {
//!     type Output = HealthApp<A>;
//!     fn wrap(&self, app: A) -> HealthApp<A> {
//!         HealthApp(app)
//!     }
//! }
//!
//! impl<A: Application> Application for HealthApp<A> {
//!     async fn call(&self, env: Environ) -> Result<Response, Error> {
//!         if env.path_info() == "/healthz" {
//!             return start(200, [("content-type", "text/plain")]).body("ok");
//!         }
//!         self.0.call(env).await
//!     }
//!     async fn startup(&self) -> Result<(), Error> {
//!         self.0.startup().await
//!     }
//!     async fn shutdown(&self) {
//!         self.0.shutdown().await
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("app") })
//!     .with(Health);
//! let env = Environ::from_request(http::Request::get("/healthz").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert_eq!(res.status(), 200);
//! # });
//! ```

#[cfg(feature = "access-log")]
pub mod access_log;
#[cfg(feature = "auth")]
pub mod auth;
#[cfg(feature = "conditional")]
pub mod conditional;
// Each middleware uses part of it.
#[cfg(any(feature = "auth", feature = "conditional", feature = "proxy"))]
#[cfg_attr(
    not(all(feature = "proxy", feature = "static-files")),
    allow(dead_code)
)]
mod header_list;
#[cfg(feature = "health")]
pub mod health;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "mount")]
mod mount;
// Shared by the layers that log or count requests.
#[cfg(any(feature = "access-log", feature = "metrics", feature = "request-id"))]
mod notes;
#[cfg(feature = "proxy")]
mod proxy;
#[cfg(any(feature = "mount", feature = "static-files"))]
mod redirect;
#[cfg(feature = "request-id")]
pub mod request_id;
#[cfg(feature = "sessions")]
pub mod sessions;
#[cfg(feature = "static-files")]
mod static_files;

#[cfg(feature = "access-log")]
pub use access_log::{AccessLog, AccessLogApp};
#[cfg(feature = "conditional")]
pub use conditional::middleware::{ConditionalGet, ConditionalGetApp};
pub use gateway_core::{Application, Middleware};
#[cfg(feature = "health")]
pub use health::{Liveness, Readiness};
#[cfg(feature = "metrics")]
pub use metrics::{Metrics, MetricsApp};
#[cfg(feature = "mount")]
pub use mount::{Mount, MountError};
#[cfg(feature = "proxy")]
pub use proxy::{InvalidProxyAddr, ProxyHeaders, ProxyHeadersApp, ProxyOriginal};
#[cfg(feature = "request-id")]
pub use request_id::{RequestId, RequestIdApp};
#[cfg(feature = "sessions")]
pub use sessions::{Session, Sessions};
#[cfg(feature = "static-files")]
pub use static_files::{StaticFiles, StaticFilesApp};
