use std::future::Future;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;

use super::*;
use crate::body_impl::Body;
use crate::driver;
use crate::response_impl::start;

fn get(path: &str) -> Environ {
    Environ::from_request(http::Request::get(path).body(Body::empty()).unwrap())
}

fn post(body: Body) -> Environ {
    Environ::from_request(http::Request::post("/").body(body).unwrap())
}

async fn text(res: Response) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Waits (bounded) until `cond` holds, yielding to the runtime.
async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for {what}");
}

fn hello(req: BlockingRequest) -> Result<Response, Error> {
    start(200, [("content-type", "text/plain")]).body(format!("hello {}", req.path_info()))
}

#[tokio::test]
async fn answers_from_a_pool_thread() {
    let app = Blocking::new(|req: BlockingRequest| {
        let name = std::thread::current().name().unwrap_or("").to_owned();
        start(200, [("x-thread", name)]).body(format!("hello {}", req.path_info()))
    })
    .threads(2);
    let Ok(res) = driver::commit(&app, get("/a")).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["x-thread"]
            .to_str()
            .unwrap()
            .starts_with("gateway-blocking-")
    );
    assert_eq!(text(res).await, "hello /a");
    app.shutdown().await;
}

#[tokio::test]
async fn a_panic_is_a_500_and_the_thread_survives() {
    let app = Blocking::new(|req: BlockingRequest| {
        if req.path_info() == "/boom" {
            panic!("boom");
        }
        hello(req)
    })
    .threads(1);
    let Ok(res) = driver::commit(&app, get("/boom")).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let Ok(res) = driver::commit(&app, get("/ok")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(text(res).await, "hello /ok");
    app.shutdown().await;
}

/// A gate the application waits at until the test opens it.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    fn wait(&self) {
        let (open, cond) = &*self.0;
        let mut open = open.lock().unwrap();
        while !*open {
            open = cond.wait(open).unwrap();
        }
    }

    fn open(&self) {
        let (open, cond) = &*self.0;
        *open.lock().unwrap() = true;
        cond.notify_all();
    }
}

#[tokio::test]
async fn a_full_queue_is_a_503_at_once() {
    let gate = Gate::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let app = {
        let (gate, ran) = (gate.clone(), ran.clone());
        Blocking::new(move |req: BlockingRequest| {
            gate.wait();
            ran.fetch_add(1, Ordering::SeqCst);
            hello(req)
        })
        .threads(1)
        .queue(1)
        .retry_after(Duration::from_millis(1500))
    };
    let app = Arc::new(app);
    let first = tokio::spawn({
        let app = app.clone();
        async move { driver::commit(&*app, get("/1")).await }
    });
    until("the first request to run", || app.running() == 1).await;
    let second = tokio::spawn({
        let app = app.clone();
        async move { driver::commit(&*app, get("/2")).await }
    });
    until("the second request to queue", || app.queued() == 1).await;

    let Ok(res) = driver::commit(&*app, get("/3")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "2", "1.5 s rounds up");

    gate.open();
    for task in [first, second] {
        let Ok(res) = task.await.unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        ran.load(Ordering::SeqCst),
        2,
        "the refused request never ran"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_request_in_the_queue_is_skipped() {
    let gate = Gate::default();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let app = {
        let (gate, ran) = (gate.clone(), ran.clone());
        Arc::new(
            Blocking::new(move |req: BlockingRequest| {
                gate.wait();
                ran.lock().unwrap().push(req.path_info().to_owned());
                hello(req)
            })
            .threads(1)
            .queue(4),
        )
    };
    let first = tokio::spawn({
        let app = app.clone();
        async move { driver::commit(&*app, get("/first")).await }
    });
    until("the first request to run", || app.running() == 1).await;
    let cancelled = tokio::spawn({
        let app = app.clone();
        async move { driver::commit(&*app, get("/cancelled")).await }
    });
    until("the second request to queue", || app.queued() == 1).await;
    cancelled.abort();
    let _ = cancelled.await;
    assert_eq!(app.queued(), 0, "its place in the queue is freed");

    gate.open();
    let Ok(res) = first.await.unwrap();
    assert_eq!(res.status(), 200);
    let Ok(res) = driver::commit(&*app, get("/last")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(*ran.lock().unwrap(), ["/first", "/last"]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_running_request_sees_its_cancellation() {
    let (seen_tx, seen_rx) = mpsc::channel();
    let started = Arc::new(AtomicUsize::new(0));
    let app = {
        let started = started.clone();
        let seen_tx = Mutex::new(seen_tx);
        Arc::new(
            Blocking::new(move |req: BlockingRequest| {
                started.fetch_add(1, Ordering::SeqCst);
                for _ in 0..5000 {
                    if req.is_cancelled() {
                        seen_tx.lock().unwrap().send(true).unwrap();
                        return hello(req);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                seen_tx.lock().unwrap().send(false).unwrap();
                hello(req)
            })
            .threads(1),
        )
    };
    let task = tokio::spawn({
        let app = app.clone();
        async move { driver::commit(&*app, get("/")).await }
    });
    until("the request to run", || started.load(Ordering::SeqCst) == 1).await;
    task.abort();
    let seen = tokio::task::spawn_blocking(move || seen_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(seen, Ok(true));
    app.shutdown().await;
}

/// Reads the whole body and answers its length.
fn count(mut req: BlockingRequest) -> Result<Response, Error> {
    let mut data = Vec::new();
    req.body().read_to_end(&mut data)?;
    start(200, [("content-type", "text/plain")]).body(format!("{} bytes", data.len()))
}

#[tokio::test]
async fn the_body_is_read_across_threads() {
    let app = Blocking::new(count).threads(1);
    let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1000])));
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let Ok(res) = driver::commit(&app, post(body)).await;
    assert_eq!(text(res).await, "100000 bytes");
    app.shutdown().await;
}

#[tokio::test]
async fn a_body_over_its_limit_is_a_413() {
    let app = Blocking::new(count).threads(1);
    let chunks = (0..10).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"0123456789")));
    let body = Body::from_stream(futures_util::stream::iter(chunks)).with_limit(25);
    let Ok(res) = driver::commit(&app, post(body)).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.shutdown().await;
}

#[tokio::test]
async fn a_streamed_body_is_written_from_the_pool_thread() {
    let app = Blocking::new(|mut req: BlockingRequest| {
        let mut input = req.take_body();
        let body = req.writer(move |mut w| {
            let mut buf = [0; 3];
            loop {
                let n = input.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                w.write_all(&buf[..n].to_ascii_uppercase())?;
            }
        });
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .threads(1);
    let chunks = ["hello ", "blocking ", "world"].map(Ok::<_, std::io::Error>);
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let Ok(res) = driver::commit(&app, post(body)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(text(res).await, "HELLO BLOCKING WORLD");
    app.shutdown().await;
}

#[tokio::test]
async fn writes_wait_for_the_server_and_fail_once_it_is_gone() {
    let (tx, rx) = mpsc::channel();
    let app = Blocking::new(move |req: BlockingRequest| {
        let tx = tx.clone();
        let body = req.writer(move |mut w| {
            for i in 0.. {
                if let Err(e) = w.write_bytes(format!("{i},")) {
                    tx.send((i, e.kind(), w.is_cancelled())).unwrap();
                    return Err(e.into());
                }
            }
            Ok(())
        });
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .threads(1);
    let Ok(res) = driver::commit(&app, get("/")).await;
    let mut body = res.into_body();
    // Two chunks taken: the producer is blocked on its third write.
    for expected in ["0,", "1,"] {
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), expected);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rx.try_recv().is_err(), "the producer waits for the server");
    drop(body);
    let (at, kind, cancelled) =
        tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap();
    assert!(at <= 3, "stopped at write {at}");
    assert_eq!(kind, std::io::ErrorKind::BrokenPipe);
    assert!(cancelled);
    app.shutdown().await;
}

#[tokio::test]
async fn a_producer_error_before_the_first_chunk_is_an_error_response() {
    let app = Blocking::new(|req: BlockingRequest| {
        let body = req.writer(|_w| Err(Error::with_status(StatusCode::CONFLICT, "no")));
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .threads(1);
    let Ok(res) = driver::commit(&app, get("/")).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let app = Blocking::new(|req: BlockingRequest| {
        let body = req.writer(|_w| panic!("in the producer"));
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .threads(1);
    let Ok(res) = driver::commit(&app, get("/")).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    app.shutdown().await;
}

#[tokio::test]
async fn shutdown_drains_the_queue_then_refuses() {
    let gate = Gate::default();
    let ran = Arc::new(AtomicUsize::new(0));
    let app = {
        let (gate, ran) = (gate.clone(), ran.clone());
        Arc::new(
            Blocking::new(move |req: BlockingRequest| {
                gate.wait();
                ran.fetch_add(1, Ordering::SeqCst);
                hello(req)
            })
            .threads(2)
            .queue(8),
        )
    };
    app.startup().await.unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { driver::commit(&*app, get(&format!("/{i}"))).await })
        })
        .collect();
    until("six requests admitted", || {
        app.running() + app.queued() == 6
    })
    .await;
    let shutdown = tokio::spawn({
        let app = app.clone();
        async move { app.shutdown().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!shutdown.is_finished(), "shutdown waits for the queue");
    gate.open();
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 6);
    for task in tasks {
        let Ok(res) = task.await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let Ok(res) = driver::commit(&*app, get("/late")).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn zero_threads_is_refused() {
    assert!(Blocking::new(hello).try_threads(0).is_err());
    let panicked = std::panic::catch_unwind(|| Blocking::new(hello).threads(0));
    assert!(panicked.is_err());
}

/// The application answers with a streamed body, but the future awaiting
/// it is dropped before it takes the answer: the producer's writes fail
/// instead of waiting forever for a body no one will poll.
#[tokio::test]
async fn an_answer_no_one_takes_releases_its_producer() {
    let gate = Gate::default();
    let (tx, rx) = mpsc::channel();
    let app = {
        let gate = gate.clone();
        let tx = Mutex::new(tx);
        Blocking::new(move |req: BlockingRequest| {
            gate.wait();
            let tx = tx.lock().unwrap().clone();
            let body = req.writer(move |mut w| {
                tx.send("started").unwrap();
                let written = w.write_all(b"never taken");
                tx.send(match written {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => "broken pipe",
                    _ => "unexpected",
                })
                .unwrap();
                Ok(())
            });
            start(200, [("content-type", "text/plain")]).body(body)
        })
        .threads(1)
    };
    let mut fut = Box::pin(driver::commit(&app, get("/")));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(
        fut.as_mut().poll(&mut cx).is_pending(),
        "submitted, waiting"
    );
    gate.open();
    let rx = tokio::task::spawn_blocking(move || {
        let started = rx.recv_timeout(Duration::from_secs(10));
        (started, rx)
    })
    .await
    .unwrap();
    assert_eq!(rx.0, Ok("started"));
    drop(fut);
    let ended = tokio::task::spawn_blocking(move || rx.1.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(ended, Ok("broken pipe"));
    app.shutdown().await;
}

/// HEAD: the driver never polls the streamed body, so its producer's
/// first write fails and the thread is free for the next request.
#[tokio::test]
async fn a_head_request_releases_its_producer() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let app = Blocking::new(move |req: BlockingRequest| {
        if req.path_info() != "/stream" {
            return hello(req);
        }
        let tx = tx.lock().unwrap().clone();
        let body = req.writer(move |mut w| {
            let kind = w.write_all(b"not for HEAD").map_err(|e| e.kind());
            tx.send(kind).unwrap();
            Ok(())
        });
        start(200, [("content-type", "text/plain")]).body(body)
    })
    .threads(1);
    let env = Environ::from_request(http::Request::head("/stream").body(Body::empty()).unwrap());
    let Ok(res) = driver::commit(&app, env).await;
    assert_eq!(res.status(), 200);
    drop(res);
    let kind = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(kind, Ok(Err(std::io::ErrorKind::BrokenPipe)));
    let Ok(res) = driver::commit(&app, get("/next")).await;
    assert_eq!(text(res).await, "hello /next");
    app.shutdown().await;
}
