//! In-process cost of the commit driver and of middleware composition.
//!
//! No sockets, no server, no async runtime: every future here completes on
//! its first poll, so it is driven with `FutureExt::now_or_never` (asserted
//! to return `Some`). Each iteration builds the `Environ` from a fresh
//! `http::Request<Body>` (made by an untimed setup closure, `GET /hello`
//! with a `host` header and an empty body), runs the request and drops the
//! response; the request build in setup is not timed, the `Environ`
//! construction and all drops are.
//!
//! The application answers `200` with one header built per call,
//! `start(200, [("content-type", "text/plain")])`, and a `&'static str`
//! full body.
//!
//! - `driver/full_body`: `driver::commit` on that application.
//! - `driver/direct_call`: the same application called directly
//!   (`app.call(env)`), no driver. The driver's own cost is the difference
//!   to `driver/full_body`.
//! - `middleware/0`: the application through `driver::commit`, unwrapped
//!   (the same work as `driver/full_body`, as the baseline of this group).
//! - `middleware/5`: wrapped in 5 layers of a no-op struct middleware
//!   (statically dispatched, `async fn call` forwarding to the inner
//!   application, like the example in the `Middleware` docs).
//! - `middleware/5_forwarding`: wrapped in 5 layers of a pass-through
//!   struct middleware whose `call` returns the inner future itself (no
//!   `async fn`, so no state machine of its own).
//! - `middleware/5_from_fn`: wrapped in 5 layers of
//!   `from_fn(|env, next| next.run(env))`, which boxes one future per layer
//!   per request.
//!
//! Run it with:
//!
//! ```text
//! cargo bench -p gateway-core --bench driver
//! # shorter: cargo bench -p gateway-core --bench driver -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! `cargo test -p gateway-core --benches` runs each benchmark once, as a
//! smoke test.

use std::future::Future;
use std::hint::black_box;

use criterion::{BatchSize, Bencher, Criterion, criterion_main};
use futures_util::FutureExt;
use gateway_core::http::{Request, StatusCode};
use gateway_core::{
    Application, ApplicationExt, Body, Environ, Error, Middleware, Response, driver, from_fn, start,
};

/// The application under test: a 200 with one header and a static body.
struct Hello;

impl Application for Hello {
    async fn call(&self, _env: Environ) -> Result<Response, Error> {
        start(200, [("content-type", "text/plain")]).body("Hello, world!\n")
    }
}

/// A struct middleware that does nothing but forward to the application it
/// wraps.
#[derive(Clone, Copy)]
struct Noop;

/// The application [`Noop`] produces.
struct NoopApp<A>(A);

impl<A: Application> Middleware<A> for Noop {
    type Output = NoopApp<A>;

    fn wrap(&self, app: A) -> NoopApp<A> {
        NoopApp(app)
    }
}

impl<A: Application> Application for NoopApp<A> {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        self.0.call(env).await
    }

    async fn startup(&self) -> Result<(), Error> {
        self.0.startup().await
    }

    async fn shutdown(&self) {
        self.0.shutdown().await
    }
}

/// A pass-through struct middleware that returns the inner future itself
/// instead of awaiting it inside an `async fn`.
#[derive(Clone, Copy)]
struct Forward;

/// The application [`Forward`] produces.
struct ForwardApp<A>(A);

impl<A: Application> Middleware<A> for Forward {
    type Output = ForwardApp<A>;

    fn wrap(&self, app: A) -> ForwardApp<A> {
        ForwardApp(app)
    }
}

impl<A: Application> Application for ForwardApp<A> {
    fn call(&self, env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        self.0.call(env)
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.0.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.0.shutdown()
    }
}

/// The request each iteration starts from (built in untimed setup).
fn request() -> Request<Body> {
    Request::get("/hello")
        .header("host", "localhost")
        .body(Body::empty())
        .expect("valid request")
}

/// Builds the environ, commits through the driver and drops the response.
fn run_commit<A: Application>(app: &A, req: Request<Body>) {
    let env = Environ::from_request(req);
    let Ok(res) = driver::commit(black_box(app), env)
        .now_or_never()
        .expect("commit completes on its first poll");
    drop(black_box(res));
}

/// Times [`run_commit`] with a fresh request per iteration.
fn bench_commit<A: Application>(b: &mut Bencher<'_>, app: &A) {
    b.iter_batched(request, |req| run_commit(app, req), BatchSize::SmallInput);
}

/// Checks once, untimed, that `app` answers 200 through the driver.
fn assert_ok<A: Application>(app: &A) {
    let env = Environ::from_request(request());
    let Ok(res) = driver::commit(app, env)
        .now_or_never()
        .expect("commit completes on its first poll");
    assert_eq!(res.status(), StatusCode::OK);
}

fn bench_driver(c: &mut Criterion) {
    let app = Hello;
    assert_ok(&app);

    let mut group = c.benchmark_group("driver");
    group.bench_function("full_body", |b| bench_commit(b, &app));
    group.bench_function("direct_call", |b| {
        b.iter_batched(
            request,
            |req| {
                let env = Environ::from_request(req);
                let res = black_box(&app)
                    .call(env)
                    .now_or_never()
                    .expect("call completes on its first poll");
                drop(black_box(res));
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn bench_middleware(c: &mut Criterion) {
    let bare = Hello;
    let structs = Hello.with(Noop).with(Noop).with(Noop).with(Noop).with(Noop);
    let forwarding = Hello
        .with(Forward)
        .with(Forward)
        .with(Forward)
        .with(Forward)
        .with(Forward);
    let closures = Hello
        .with(from_fn(|env, next| next.run(env)))
        .with(from_fn(|env, next| next.run(env)))
        .with(from_fn(|env, next| next.run(env)))
        .with(from_fn(|env, next| next.run(env)))
        .with(from_fn(|env, next| next.run(env)));
    assert_ok(&bare);
    assert_ok(&structs);
    assert_ok(&forwarding);
    assert_ok(&closures);

    let mut group = c.benchmark_group("middleware");
    group.bench_function("0", |b| bench_commit(b, &bare));
    group.bench_function("5", |b| bench_commit(b, &structs));
    group.bench_function("5_forwarding", |b| bench_commit(b, &forwarding));
    group.bench_function("5_from_fn", |b| bench_commit(b, &closures));
    group.finish();
}

/// The benchmark group, in a private module: `criterion_group!` makes a
/// `pub fn` that cannot carry a doc comment.
mod group {
    use super::{bench_driver, bench_middleware};
    use criterion::criterion_group;

    criterion_group!(benches, bench_driver, bench_middleware);
}

criterion_main!(group::benches);
