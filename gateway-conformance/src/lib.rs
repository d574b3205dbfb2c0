//! An adapter conformance kit for the gateway interface: point it at your
//! adapter, and it runs a battery of applications and raw requests through
//! it and checks the contract of [`gateway_core::driver`] from the
//! client's side of the socket.
//!
//! **Mental model:** you implement [`Adapter`] — a name, the
//! [`Capabilities`] you claim, and `start`, which serves the kit's
//! application (a [`Battery`]) and returns where to reach it
//! ([`Running`]). [`run`] starts it once, sends every rule's requests
//! (HTTP/1.1 as raw bytes, HTTP/2 through hyper's client), watches what
//! the battery saw from inside, stops it, and returns a [`Report`].
//!
//! ```
//! use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
//!
//! /// gateway-hyper on 127.0.0.1, HTTP/1.1 and HTTP/2 on one port.
//! struct Hyper;
//!
//! impl Adapter for Hyper {
//!     fn name(&self) -> &str {
//!         "gateway-hyper"
//!     }
//!
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities::new().http2(true).trailers(true).max_body_size(64 * 1024)
//!     }
//!
//!     async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
//!         let server = gateway_hyper::Server::bind("127.0.0.1:0").await?.max_body_size(64 * 1024);
//!         let addr = server.local_addr()?;
//!         let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//!         let task = tokio::spawn(server.serve_with_shutdown(battery, async move {
//!             let _ = stopped.await;
//!         }));
//!         Ok(Running::tcp(addr).on_stop(async move {
//!             let _ = stop.send(());
//!             let _ = task.await;
//!         }))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! // In a #[tokio::test]:
//! let report = gateway_conformance::run(&Hyper).await;
//! println!("{report}");
//! report.assert_passed(); // panics listing every failed rule
//! # });
//! ```
//!
//! # Why a crate of its own
//!
//! The issue allowed a `conformance` feature of `gateway-core`. The kit
//! needs sockets, timers, a runtime to spawn hyper's HTTP/2 client on, and
//! TLS: `gateway-core` stays runtime-free and does no I/O, and a feature
//! there would pull tokio and hyper's client into the contract crate's
//! dependency graph for everyone who enables it. So the kit is a
//! dev-dependency of adapters instead, and depends on the contract like
//! any adapter does.
//!
//! # Implementing the kit for your adapter
//!
//! 1. **Start the adapter in `start`** with the [`Battery`] as its
//!    application, listening on a free port or a fresh Unix socket, and
//!    return [`Running::tcp`] or [`Running::unix`] once it accepts
//!    connections; give [`Running::on_stop`] whatever stops it.
//! 2. **An adapter reached through a web server** (FastCGI behind nginx):
//!    start both, and return nginx's address. Declare
//!    [`Capabilities::exact_framing`]`(false)` if nginx re-frames
//!    responses (it does for FastCGI: it chunks or buffers), and whatever
//!    else nginx changes — the kit then checks what still must hold through
//!    it: bodies, HEAD, 204/304, errors, panics, limits, disconnects.
//! 3. **The battery under a path prefix** (a CGI program at
//!    `/cgi-bin/battery`): [`Running::path_prefix`]; the battery then
//!    expects that prefix as its `script_name`.
//! 4. **The application in another process** (CGI):
//!    [`Capabilities::out_of_process`], pass the process [`Battery::env`]
//!    and run [`Battery::from_env`] in it.
//! 5. **TLS** (feature `tls`): [`Running::tls`] with a client
//!    configuration that trusts your test certificate; HTTP/2 is then
//!    negotiated by ALPN.
//! 6. Declare only what the adapter really does. A rule that needs an
//!    undeclared capability is reported as **skipped (needs X)**, never
//!    silently dropped, so the report shows what was not checked.
//!
//! ```
//! use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
//!
//! /// A FastCGI adapter behind nginx (sketch: the processes are yours).
//! struct FastCgiBehindNginx;
//!
//! impl Adapter for FastCgiBehindNginx {
//!     fn name(&self) -> &str {
//!         "gateway-fastcgi behind nginx"
//!     }
//!
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities::new().exact_framing(false).max_body_size(1 << 20)
//!     }
//!
//!     async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
//!         // Start the FastCGI server with `battery` on a Unix socket, then
//!         // nginx with `fastcgi_pass unix:…` on a free port.
//!         # let _ = battery;
//!         let nginx_addr: std::net::SocketAddr = "127.0.0.1:8080".parse()?;
//!         Ok(Running::tcp(nginx_addr).on_stop(async { /* stop nginx, then the server */ }))
//!     }
//! }
//! ```
//!
//! # The rules
//!
//! Each rule runs over HTTP/1.1 (`h1/…`, raw bytes) and, where the adapter
//! declares [`Capabilities::http2`], over HTTP/2 (`h2/…`). Where a rule
//! checks the adapter's side of one of the driver's
//! [commit rules](gateway_core::driver#the-commit-rules), its failure
//! names that rule.
//!
//! | rule | checks | needs |
//! |---|---|---|
//! | `request_in_one_write`, `request_in_pieces`, `pipelined_requests` | the head in one write, in pieces with pauses, two requests in one write | (`keep_alive`) |
//! | `exact_length` | a body of exact size is framed by that `Content-Length` (rule 5) | `exact_framing` |
//! | `stream_chunked`, `h2/stream` | a body of unknown size is chunked, not close-delimited (rule 6) | `exact_framing` (h1) |
//! | `http10_close_delimited` | no chunking for HTTP/1.0 | `exact_framing` |
//! | `head_keeps_length`, `head_of_stream` | HEAD announces GET's length, sends no body, not even a last chunk (rule 4) | |
//! | `no_body_204`, `no_body_304` | no body, no framing (rule 4) | |
//! | `trailers` | trailers reach the client | `trailers` |
//! | `error_before_commit` | a body failing before its first byte: a complete 500, the connection serves on (rule 6) | |
//! | `abort_after_commit` | failing after: truncated (no last chunk, short length, HTTP/2 reset), never complete-looking (rule 7) | `abort` |
//! | `panic_isolated` | a panic: 500, the connection serves on (rule 1) | |
//! | `echo_body`, `request_body_streamed` | request bodies arrive, and incrementally | (`request_streaming`) |
//! | `body_limit` | a body over the limit gets 413 | `max_body_size` |
//! | `disconnect_pending`, `disconnect_streaming` | a client gone: the application future, or its body, is dropped within 2 s; `on_finish` says aborted | `disconnect` |
//! | `on_finish_completed`, `on_finish_aborted` | `Body::on_finish` reports how the body ended (rule 7) | |
//! | `path_invariant`, `path_raw` | `script_name + path_info` is the path sent; `%2F` survives | (`raw_path`) |
//!
//! # Bounds
//!
//! Every step (connect, write, response) has a 3 s timeout and every rule
//! 8 s; observations of the application (dropped, finished) wait up to
//! 2 s. A passing run against a local adapter takes a second or two.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adapter;
mod battery;
mod probe;
mod report;
mod rules;
mod wire;

pub use adapter::{Adapter, Capabilities, InvalidPrefix, Running};
pub use battery::Battery;
pub use gateway_core::BoxError;
pub use report::{Outcome, Report, RuleResult};

/// The rustls crate the kit's TLS client is built with (feature `tls`),
/// for the configuration [`Running::tls`] takes.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tokio_rustls::rustls;

use std::time::Duration;

/// How long `Adapter::start` and the stop may take.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts `adapter` with the kit's [`Battery`], runs every rule against
/// it, stops it, and reports. Never panics on the adapter's failures:
/// they are in the [`Report`] (a failed start is one failed rule,
/// `start`); call [`Report::assert_passed`] in a test.
///
/// Must run inside a tokio runtime with timers (`#[tokio::test]`); the
/// HTTP/2 client is spawned on it. See the [crate docs](crate) for an
/// example.
pub async fn run<A: Adapter>(adapter: &A) -> Report {
    let caps = adapter.capabilities();
    let mut report = Report {
        adapter: adapter.name().to_owned(),
        results: Vec::new(),
    };
    let probe = if caps.out_of_process {
        match probe::Probe::file() {
            Ok(probe) => probe,
            Err(e) => {
                report
                    .results
                    .push(start_failure(format!("cannot create the probe file: {e}")));
                return report;
            }
        }
    } else {
        probe::Probe::memory()
    };
    let started = tokio::time::timeout(
        START_TIMEOUT,
        adapter.start(battery::Battery::new(probe.clone())),
    );
    let mut running = match started.await {
        Ok(Ok(running)) => running,
        Ok(Err(e)) => {
            report
                .results
                .push(start_failure(format!("the adapter did not start: {e}")));
            return report;
        }
        Err(_) => {
            report.results.push(start_failure(format!(
                "the adapter did not start within {START_TIMEOUT:?}"
            )));
            return report;
        }
    };
    let ctx = rules::Ctx::new(&running, caps, probe.clone());
    report.results = rules::run_all(&ctx).await;
    drop(ctx);
    if let Some(stop) = running.stop.take() {
        let _ = tokio::time::timeout(START_TIMEOUT, stop).await;
    }
    let _ = probe.path();
    report
}

fn start_failure(message: String) -> RuleResult {
    RuleResult {
        name: "start".to_owned(),
        outcome: Outcome::Failed,
        message,
        driver_rule: None,
    }
}
