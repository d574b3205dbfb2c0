//! Allocation budget: serving hello through gateway-hyper must not allocate
//! more per request than the raw hyper server configured alike and
//! connecting alike (`Kind::RawDirect`: hyper's own HTTP/1 or HTTP/2
//! server chosen per connection). Raw hyper through hyper-util's `auto`
//! connection (`Kind::Raw`) is reported too: its read wrapper lets hyper
//! reuse its 8 KiB read buffer on about one request in eight, which saves
//! about 0.26 allocations per request (see BENCHMARKS.md). The minimal raw
//! hyper server (`Kind::RawMinimal`) and bare HTTP/1 hyper are reported
//! too.
//!
//! The same holds with the hello application wrapped in 5 no-op struct
//! middleware layers (`Kind::GatewayMw5`, `Kind::GatewayMw5Async`): static
//! dispatch allocates nothing. axum (`Kind::Axum`) is reported for
//! comparison.
//!
//! Sessions (`Kind::SessionUntouched`): the hello application inside
//! `Sessions` that never touches its session allocates at most 4 more per
//! request than gateway alone — today's figure, a regression guard: the
//! handle's shared state (an `Arc`) and the environ's extensions map (its
//! box, its table and the boxed handle). BENCHMARKS.md has the figures. The session
//! kinds that read and write one value per request (the cookie store, the
//! memory store, and axum with tower-sessions) are reported: each load
//! client connection keeps its session cookie, so every request after the
//! first loads and saves an existing session.
//!
//! With a `tracing` subscriber at `warn` installed (as the examples do),
//! gateway allocates no more than without one: the driver then keeps each
//! request's route for commit rule 8's warning, and must do so without a
//! box.
//!
//! The observing layers (`Kind::AccessLog`, `Kind::RequestId`,
//! `Kind::Metrics`, and the three together, `Kind::Observed`) are
//! reported, with a budget for the three together.
//!
//! A counting global allocator counts only on the server's thread (a
//! current-thread tokio runtime), so the client running in this process
//! does not disturb the figures. Both servers get the same warm-up and the
//! same measured requests; the counts are exact, not timed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use gateway_benches::Kind;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn count(size: usize) {
    // try_with: the allocator may run while thread-locals are torn down.
    if COUNTED.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(size as u64, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; counting
// touches only atomics and a const-initialised thread-local (no allocation).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CONNS: usize = 4;
const WARMUP: usize = 200;
const MEASURED: usize = 2_000;

/// A subscriber enabled at `warn` and coarser that records nothing: it
/// turns on what a logging server pays for without allocating itself.
struct Warn;

impl tracing::Subscriber for Warn {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::WARN)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Allocations and bytes per request on the server thread.
/// What RequestId, AccessLog and Metrics together may allocate per
/// request beyond gateway alone — today's figure, a regression guard: the
/// shared notes, the made id, the access log's record, and one box per
/// finish callback (two).
const OBSERVED_BUDGET: f64 = 5.0;

fn measure(kind: Kind) -> (f64, f64) {
    measure_with(kind, false)
}

/// [`measure`], with the [`Warn`] subscriber on the server thread when
/// `warn` is set.
fn measure_with(kind: Kind, warn: bool) -> (f64, f64) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            addr_tx
                .send(listener.local_addr().expect("addr"))
                .expect("send addr");
            // Installed before counting starts: installing allocates.
            let _subscriber = warn.then(|| tracing::subscriber::set_default(Warn));
            COUNTED.with(|c| c.set(true));
            gateway_benches::serve(kind, listener, async {
                let _ = stop_rx.await;
            })
            .await
            .expect("serve");
            COUNTED.with(|c| c.set(false));
        });
    });
    let addr = addr_rx.recv().expect("server address");

    gateway_benches::load(addr, CONNS, WARMUP).expect("warm-up");
    let (a0, b0) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
    gateway_benches::load(addr, CONNS, MEASURED).expect("measured load");
    let (a1, b1) = (ALLOCS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));

    stop_tx.send(()).expect("stop");
    server.join().expect("server thread");
    let n = (CONNS * MEASURED) as f64;
    ((a1 - a0) as f64 / n, (b1 - b0) as f64 / n)
}

#[test]
fn gateway_allocates_no_more_than_raw_hyper() {
    // Measured one after the other in one process: the counter is global.
    let (raw, raw_bytes) = measure(Kind::RawDirect);
    let (gateway, gateway_bytes) = measure(Kind::Gateway);
    let (auto, auto_bytes) = measure(Kind::Raw);
    let (bare, bare_bytes) = measure(Kind::Bare);
    let (minimal, minimal_bytes) = measure(Kind::RawMinimal);
    let (mw5, mw5_bytes) = measure(Kind::GatewayMw5);
    let (mw5_async, mw5_async_bytes) = measure(Kind::GatewayMw5Async);
    let (axum, axum_bytes) = measure(Kind::Axum);
    let (root, root_bytes) = measure(Kind::GatewayRoot);
    let (untouched, untouched_bytes) = measure(Kind::SessionUntouched);
    let (cookie, cookie_bytes) = measure(Kind::SessionCookie);
    let (memory, memory_bytes) = measure(Kind::SessionMemory);
    // Only with the `axum-sessions` feature (see benches/Cargo.toml).
    let (axum_sessions, axum_sessions_bytes) = if cfg!(feature = "axum-sessions") {
        measure(Kind::AxumSessions)
    } else {
        println!("NOTICE: axum + tower-sessions not measured (feature `axum-sessions` off)");
        (f64::NAN, f64::NAN)
    };
    let (access_log, access_log_bytes) = measure(Kind::AccessLog);
    let (request_id, request_id_bytes) = measure(Kind::RequestId);
    let (metrics, metrics_bytes) = measure(Kind::Metrics);
    let (observed, observed_bytes) = measure(Kind::Observed);
    // Last: the maximum level a subscriber raises may outlive it.
    let (logging, logging_bytes) = measure_with(Kind::Gateway, true);
    println!(
        "allocations per request (bytes): raw hyper {raw:.3} ({raw_bytes:.0}), gateway {gateway:.3} ({gateway_bytes:.0}), raw hyper through hyper-util auto {auto:.3} ({auto_bytes:.0}), bare HTTP/1 hyper {bare:.3} ({bare_bytes:.0})"
    );
    println!(
        "gateway with 5 forwarding middleware {mw5:.3} ({mw5_bytes:.0}), with 5 async fn middleware {mw5_async:.3} ({mw5_async_bytes:.0}), axum {axum:.3} ({axum_bytes:.0})"
    );
    println!(
        "gateway with a root path {root:.3} ({root_bytes:.0}), minimal raw hyper {minimal:.3} ({minimal_bytes:.0}), gateway with a warn subscriber {logging:.3} ({logging_bytes:.0})"
    );
    println!(
        "sessions: untouched {untouched:.3} ({untouched_bytes:.0}), cookie store {cookie:.3} ({cookie_bytes:.0}), memory store {memory:.3} ({memory_bytes:.0}), axum + tower-sessions {axum_sessions:.3} ({axum_sessions_bytes:.0})"
    );
    println!(
        "observing: AccessLog {access_log:.3} ({access_log_bytes:.0}), RequestId {request_id:.3} ({request_id_bytes:.0}), Metrics {metrics:.3} ({metrics_bytes:.0}), all three {observed:.3} ({observed_bytes:.0})"
    );
    // The three observing layers together: OBSERVED_BUDGET.
    assert!(
        observed <= gateway + OBSERVED_BUDGET + 0.01,
        "RequestId + AccessLog + Metrics allocate {observed:.3} per request, gateway alone {gateway:.3}"
    );
    // A session never touched costs no store call and no cookie: at most
    // the handle (1) and the extensions map it lives in (3).
    assert!(
        untouched <= gateway + 4.01,
        "Sessions never touched allocates {untouched:.3} per request, gateway alone {gateway:.3}"
    );
    // The route kept for rule 8's warning is not boxed.
    assert!(
        logging <= gateway + 0.01,
        "with a warn subscriber gateway allocates {logging:.3} per request, without {gateway:.3}"
    );
    // A configured root path is set without allocating.
    assert!(
        root <= gateway + 0.01,
        "with a root path gateway allocates {root:.3} per request, without {gateway:.3}"
    );
    // Struct middleware is statically dispatched: no allocation of its own.
    assert!(
        mw5 <= gateway + 0.01 && mw5_async <= gateway + 0.01,
        "5 no-op middleware layers allocate {mw5:.3} / {mw5_async:.3} per request, gateway alone {gateway:.3}"
    );
    // Connection setup is amortised over 2,000 requests per connection; the
    // slack of 0.01 absorbs that, not a per-request allocation.
    assert!(
        gateway <= raw + 0.01,
        "gateway allocates {gateway:.3} per request, raw hyper {raw:.3}"
    );
}
