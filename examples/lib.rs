//! The applications behind the runnable examples, shared with the
//! integration tests and benchmarks so that what is tested is what runs.
//!
//! Each example follows one convention: its first argument is the listen
//! address (default `127.0.0.1:8000`), and it prints
//! `listening on http://ADDR` once it accepts connections. The
//! [`demo`], the whole stack, takes named options instead (`--listen
//! ADDR`, `--unix PATH`, …) and prints one such line per listener.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::{driver, Body, Environ};
//! let app = gateway_examples::hello::app();
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert_eq!(res.status(), 200);
//! # });
//! ```

use std::net::SocketAddr;

/// The README's code blocks, compiled as doc tests so they cannot rot.
/// (Its links are repository paths, not Rust items.)
#[doc = include_str!("../README.md")]
#[allow(rustdoc::broken_intra_doc_links)]
pub mod readme {}

/// The listen address from the first command-line argument, or
/// `127.0.0.1:8000`.
pub fn listen_addr() -> Result<SocketAddr, String> {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8000".to_owned());
    arg.parse()
        .map_err(|e| format!("invalid listen address {arg:?}: {e} (expected e.g. 127.0.0.1:8000)"))
}

/// Installs a `tracing` subscriber that prints log lines to stderr, so
/// that what the gateway logs shows up: above all a failed request (an
/// application's `Err` or panic), which the driver logs at `error` for a
/// 5xx and `debug` for a 4xx. Without a subscriber, `tracing` prints
/// nothing at all.
///
/// `RUST_LOG` chooses what is printed (`RUST_LOG=debug`,
/// `RUST_LOG=gateway_core=debug,info`); the default is `info`. Stderr, not
/// stdout: a CGI program's stdout is its response. Does nothing if a
/// subscriber is already installed.
///
/// ```
/// gateway_examples::init_tracing();
/// // ... serve: a failed request is now logged to stderr.
/// gateway_examples::init_tracing(); // a second call changes nothing
/// ```
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Binds the example's address, prints `listening on http://ADDR`, and
/// serves `app` until SIGTERM or Ctrl-C, then drains gracefully.
pub async fn run<A: gateway_core::Application>(app: A) -> std::io::Result<()> {
    let addr = listen_addr().map_err(std::io::Error::other)?;
    let server = gateway_hyper::Server::bind(addr).await?;
    println!("listening on http://{}", server.local_addr()?);
    server
        .serve_with_shutdown(app, gateway_hyper::shutdown_signal())
        .await
}

pub mod cgi;

pub mod static_site {
    //! A site from a directory in front of an application:
    //! [`StaticFiles`] answers what is on disk, everything else (here
    //! `/api/time`, and a 404 page) goes to the application behind it.

    use std::path::{Path, PathBuf};
    use std::time::SystemTime;

    use gateway_core::http::Method;
    use gateway_core::{Application, ApplicationExt, Environ, Error, Response, start};
    use gateway_middleware::StaticFiles;

    /// The sample folder shipped with the examples (`examples/static_site`).
    pub fn sample_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("static_site")
    }

    /// The application behind the files.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Api;

    impl Application for Api {
        async fn call(&self, env: Environ) -> Result<Response, Error> {
            match (env.method(), env.path_info()) {
                (&Method::GET | &Method::HEAD, "/api/time") => {
                    let now = httpdate::fmt_http_date(SystemTime::now());
                    start(
                        200,
                        [
                            ("content-type", "text/plain; charset=utf-8"),
                            ("cache-control", "no-store"),
                        ],
                    )
                    .body(format!("{now}\n"))
                }
                _ => {
                    start(404, [("content-type", "text/plain; charset=utf-8")]).body("Not Found\n")
                }
            }
        }
    }

    /// `dir` served at `/`, with misses going to [`Api`].
    pub fn app(dir: impl Into<PathBuf>) -> impl Application {
        Api.with(StaticFiles::new(dir))
    }
}

pub mod hello {
    //! `GET /` answers with a greeting; `POST /echo` streams the request body
    //! back as it arrives.

    use gateway_core::http::header::ALLOW;
    use gateway_core::http::{HeaderValue, Method, StatusCode};
    use gateway_core::{Application, Environ, Error, Response, start};

    /// The hello application.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Hello;

    /// The greeting `GET /` answers with.
    pub const GREETING: &str = "Hello, world!\n";

    impl Application for Hello {
        async fn call(&self, mut env: Environ) -> Result<Response, Error> {
            match (env.method(), env.path_info()) {
                (&Method::GET | &Method::HEAD, "/") => {
                    start(200, [("content-type", "text/plain; charset=utf-8")]).body(GREETING)
                }
                (&Method::POST, "/echo") => {
                    let ty = env
                        .headers()
                        .get("content-type")
                        .cloned()
                        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
                    // The request body streams straight into the response:
                    // each chunk is sent as soon as it arrives.
                    start(200, [("content-type", ty)]).body(env.take_body())
                }
                (_, path) if path == "/" || path == "/echo" => {
                    let allow = if path == "/" { "GET, HEAD" } else { "POST" };
                    Err(
                        Error::with_status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
                            .with_header(ALLOW, HeaderValue::from_static(allow)),
                    )
                }
                _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no such page")),
            }
        }
    }

    /// The hello application, ready to serve.
    pub fn app() -> Hello {
        Hello
    }
}

// Directory modules: `demo.rs`, `login.rs` and `mini_framework.rs`
// beside this file are the example binaries that serve them.
#[path = "demo/mod.rs"]
pub mod demo;
#[path = "login/mod.rs"]
pub mod login;
#[path = "mini_framework/mod.rs"]
pub mod mini_framework;
#[path = "websocket/mod.rs"]
pub mod websocket;
