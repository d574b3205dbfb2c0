use std::sync::{Arc, Mutex};
use std::task::Waker;

use http::HeaderMap;

use super::*;
use crate::error::BodyError;
use http_body::Body as _;
use http_body_util::BodyExt;
use std::sync::atomic::{AtomicU64, Ordering};

fn assert_send_unpin<T: Send + Unpin>() {}

#[test]
fn body_is_send_unpin_and_small() {
    assert_send_unpin::<Body>();
    // A Bytes and a tag: responses move by value through every layer.
    assert!(std::mem::size_of::<Body>() <= std::mem::size_of::<Bytes>() + 8);
}

#[tokio::test]
async fn full_is_exact_and_yields_once() {
    let mut b = Body::from("hello");
    assert_eq!(b.size_hint().exact(), Some(5));
    assert!(!b.is_end_stream());
    let f = b.frame().await.unwrap().unwrap();
    assert_eq!(f.into_data().unwrap(), "hello");
    assert!(b.is_end_stream());
    assert!(b.frame().await.is_none());
}

#[tokio::test]
async fn empty_full_is_empty() {
    let b = Body::from(String::new());
    assert!(b.is_end_stream());
    assert_eq!(b.size_hint().exact(), Some(0));
}

#[tokio::test]
async fn writer_yields_chunks_then_trailers() {
    let body = Body::writer(|mut w| async move {
        w.write("a").await?;
        w.write("").await?;
        w.write("b").await?;
        let mut t = HeaderMap::new();
        t.insert("x-sum", "2".parse().unwrap());
        w.send_trailers(t).await
    });
    assert_eq!(body.size_hint().exact(), None);
    let collected = body.collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["x-sum"], "2");
    assert_eq!(collected.to_bytes(), "ab");
}

#[tokio::test]
async fn writer_backpressure_is_exact() {
    // The producer may not run ahead: after the consumer took one chunk,
    // exactly one more write has been started.
    let started = Arc::new(AtomicU64::new(0));
    let s = started.clone();
    let mut body = Body::writer(move |mut w| async move {
        for _ in 0..5 {
            s.fetch_add(1, Ordering::SeqCst);
            w.write("x").await?;
        }
        Ok(())
    });
    body.frame().await.unwrap().unwrap();
    assert_eq!(started.load(Ordering::SeqCst), 1);
    body.frame().await.unwrap().unwrap();
    assert_eq!(started.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn writer_error_ends_body_with_error() {
    let mut body = Body::writer(|mut w| async move {
        w.write("a").await?;
        Err(Error::new("boom"))
    });
    assert!(body.frame().await.unwrap().is_ok());
    assert!(body.frame().await.unwrap().is_err());
    assert!(body.frame().await.is_none(), "a failed body is fused");
}

#[tokio::test]
async fn writer_in_another_task_is_woken() {
    let (tx, rx) = std::sync::mpsc::channel();
    let body = Body::writer(move |w| {
        tx.send(w).unwrap();
        async { Ok(()) }
    });
    // The producer finished at once; the writer lives elsewhere, and its
    // write fails because... no: the producer future ended, so the body
    // ends even though a writer handle lives on.
    let w = rx.recv().unwrap();
    let bytes = body.collect().await.unwrap().to_bytes();
    assert!(bytes.is_empty());
    drop(w);
}

#[tokio::test]
async fn writer_reports_reader_gone() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let body = Body::writer(move |w| {
        tx.send(w).ok();
        std::future::pending()
    });
    let mut w = rx.await.unwrap();
    drop(body);
    let err = w.write("late").await.unwrap_err();
    assert!(matches!(
        err.downcast_ref::<BodyError>(),
        Some(BodyError::ReaderGone)
    ));
}

#[tokio::test]
async fn panic_in_stream_becomes_error_frame() {
    let body = Body::from_stream(futures_util::stream::poll_fn(
        |_| -> Poll<Option<Result<Bytes, std::io::Error>>> { panic!("stream panicked") },
    ));
    let err = body.collect().await.unwrap_err();
    assert!(err.is_panic());
}

#[tokio::test]
async fn on_finish_reports_completion_and_bytes() {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let body = Body::from("hello").on_finish(move |f| *s.lock().unwrap() = Some(f));
    body.collect().await.unwrap();
    let f = seen.lock().unwrap().unwrap();
    assert!(f.is_completed());
    assert_eq!(f.bytes(), 5);
}

#[tokio::test]
async fn on_finish_reports_abort_on_drop() {
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let mut body = Body::from_stream(futures_util::stream::iter(
        ["a", "b"].map(Ok::<_, std::io::Error>),
    ))
    .on_finish(move |f| *s.lock().unwrap() = Some(f));
    body.frame().await.unwrap().unwrap();
    drop(body);
    let f = seen.lock().unwrap().unwrap();
    assert!(!f.is_completed());
    assert_eq!(f.bytes(), 1);
}

#[tokio::test]
async fn prefetch_skips_empty_chunks_and_keeps_the_first() {
    let mut body = Body::from_stream(futures_util::stream::iter(
        ["", "", "x", "y"].map(Ok::<_, std::io::Error>),
    ));
    body.prefetch().await.unwrap();
    assert_eq!(body.collect().await.unwrap().to_bytes(), "xy");
}

#[tokio::test]
async fn with_limit_rejects_long_bodies() {
    let body = Body::from_stream(futures_util::stream::iter(
        ["abc", "def"].map(Ok::<_, std::io::Error>),
    ));
    let err = body.to_bytes(4).await.unwrap_err();
    assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    let ok = Body::from_stream(futures_util::stream::iter(
        ["abc", "def"].map(Ok::<_, std::io::Error>),
    ));
    assert_eq!(ok.to_bytes(6).await.unwrap(), "abcdef");
}

#[tokio::test]
async fn new_does_not_rebox_a_body() {
    let b = Body::new(Body::from("x"));
    assert!(b.is_in_memory());
}

#[tokio::test]
async fn file_hint_keeps_exact_size() {
    let file = Arc::new(std::fs::File::open("Cargo.toml").unwrap());
    let body = Body::file(
        Body::from_stream(futures_util::stream::iter(
            ["ab", "c"].map(Ok::<_, std::io::Error>),
        )),
        FileHint::new(file, 0, 3),
    );
    assert_eq!(body.size_hint().exact(), Some(3));
    assert_eq!(body.file_hint().unwrap().len(), 3);
    let mut body = body;
    body.frame().await.unwrap().unwrap();
    assert_eq!(body.size_hint().exact(), Some(1));
}

#[tokio::test]
async fn to_bytes_and_with_limit_take_one_integer_type() {
    // Content-Length's type: a limit read from one passes to either.
    let limit: u64 = 3;
    let err = Body::from("abcd").to_bytes(limit).await.unwrap_err();
    assert_eq!(err.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    let ok = Body::from("abc").with_limit(limit).to_bytes(limit).await;
    assert_eq!(ok.unwrap(), "abc");
}

#[tokio::test]
async fn a_file_body_never_passes_its_hint_and_fails_short_of_it() {
    let file = Arc::new(std::fs::File::open("Cargo.toml").unwrap());
    let stream = |chunks: &'static [&'static str]| {
        Body::from_stream(futures_util::stream::iter(
            chunks.iter().map(|c| Ok::<_, std::io::Error>(*c)),
        ))
    };
    // The file grew: the announced range is sent, nothing more.
    let long = Body::file(stream(&["ab", "cdef"]), FileHint::new(file.clone(), 0, 3));
    assert_eq!(long.collect().await.unwrap().to_bytes(), "abc");
    // The file shrank: the body fails rather than end short.
    let mut short = Body::file(stream(&["ab"]), FileHint::new(file, 0, 3));
    assert_eq!(
        short.frame().await.unwrap().unwrap().into_data().unwrap(),
        "ab"
    );
    assert!(short.frame().await.unwrap().is_err());
    assert!(short.frame().await.is_none());
}

// Regression tests for the writer's wake-up protocol: each of these
// hung before the protocol was made airtight.

#[tokio::test]
async fn write_inside_a_combinator_with_its_own_waker_completes() {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let body = Body::writer(|mut w| async move {
        let mut set = FuturesUnordered::new();
        set.push(async move {
            w.write("a").await?;
            w.write("b").await
        });
        set.next().await.unwrap_or(Ok(()))
    });
    let bytes = tokio::time::timeout(std::time::Duration::from_secs(5), body.collect())
        .await
        .expect("no hang")
        .unwrap()
        .to_bytes();
    assert_eq!(bytes, "ab");
}

#[tokio::test]
async fn flush_headers_from_another_task_completes() {
    let (tx, rx) = tokio::sync::oneshot::channel::<BodyWriter>();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let mut body = Body::writer(move |w| {
        tx.send(w).ok();
        async move {
            done_rx.await.ok();
            Ok(())
        }
    });
    let mut w = rx.await.unwrap();
    let flusher = tokio::spawn(async move {
        w.flush_headers().await?;
        w.write("after").await?;
        done_tx.send(()).ok();
        Ok::<_, Error>(())
    });
    let first = body.frame().await.unwrap().unwrap();
    assert!(
        first.data_ref().unwrap().is_empty(),
        "the flush comes first"
    );
    assert!(body.flush_requested());
    let second = body.frame().await.unwrap().unwrap();
    assert_eq!(second.into_data().unwrap(), "after");
    tokio::time::timeout(std::time::Duration::from_secs(5), flusher)
        .await
        .expect("no hang")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn pending_write_in_another_task_fails_when_the_body_is_dropped() {
    let (tx, rx) = tokio::sync::oneshot::channel::<BodyWriter>();
    let mut body = Body::writer(move |w| {
        tx.send(w).ok();
        std::future::pending::<Result<(), Error>>()
    });
    let mut w = rx.await.unwrap();
    let writer = tokio::spawn(async move {
        w.write("a").await?;
        w.write("b").await
    });
    assert_eq!(
        body.frame().await.unwrap().unwrap().into_data().unwrap(),
        "a"
    );
    drop(body);
    let err = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
        .await
        .expect("no hang")
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        err.downcast_ref::<BodyError>(),
        Some(BodyError::ReaderGone)
    ));
}

struct CountWakes(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn write_from_another_thread_while_the_body_polls_is_acknowledged() {
    use std::sync::mpsc;
    let (go_tx, go_rx) = mpsc::channel::<BodyWriter>();
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let (took_tx, took_rx) = mpsc::channel::<()>();
    let mut body = Body::writer(move |w| {
        let mut w = Some(w);
        std::future::poll_fn(move |_cx| {
            if let Some(w) = w.take() {
                go_tx.send(w).unwrap();
                // The writer writes while the body is inside this poll.
                ack_rx.recv().unwrap();
            }
            Poll::<Result<(), Error>>::Pending
        })
    });
    let writer = std::thread::spawn(move || {
        let mut w = go_rx.recv().unwrap();
        let wakes = Arc::new(CountWakes(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(w.write("x"));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        ack_tx.send(()).unwrap();
        took_rx.recv().unwrap();
        assert!(
            wakes.0.load(Ordering::SeqCst) > 0,
            "the writer was told its frame was taken"
        );
        assert!(fut.as_mut().poll(&mut cx).is_ready());
    });
    let body_wakes = Arc::new(CountWakes(std::sync::atomic::AtomicUsize::new(0)));
    let waker = Waker::from(body_wakes);
    let mut cx = Context::from_waker(&waker);
    let polled = Pin::new(&mut body).poll_frame(&mut cx);
    assert!(
        matches!(polled, Poll::Ready(Some(Ok(_)))),
        "the frame is seen at once"
    );
    took_tx.send(()).unwrap();
    writer.join().unwrap();
}

#[test]
fn no_lost_body_wake_up_under_races() {
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;
    let mut lost = 0;
    for i in 0..3_000 {
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let (wtx, wrx) = mpsc::channel::<BodyWriter>();
        let mut body = Body::writer(move |w| {
            wtx.send(w).unwrap();
            std::future::poll_fn(move |_| {
                s.store(true, Ordering::SeqCst);
                Poll::<Result<(), Error>>::Pending
            })
        });
        let mut w = wrx.recv().unwrap();
        let t = std::thread::spawn(move || {
            while !started.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            for _ in 0..(i % 150) {
                std::hint::spin_loop();
            }
            let waker = Waker::from(Arc::new(CountWakes(std::sync::atomic::AtomicUsize::new(0))));
            let mut cx = Context::from_waker(&waker);
            let mut fut = std::pin::pin!(w.write("x"));
            let _ = fut.as_mut().poll(&mut cx);
        });
        let wakes = Arc::new(CountWakes(std::sync::atomic::AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let first = Pin::new(&mut body).poll_frame(&mut cx);
        t.join().unwrap();
        if first.is_pending() && wakes.0.load(Ordering::SeqCst) == 0 {
            if let Poll::Ready(Some(Ok(_))) = Pin::new(&mut body).poll_frame(&mut cx) {
                lost += 1;
            }
        }
    }
    assert_eq!(lost, 0, "a frame was written but the body was never woken");
}

#[tokio::test]
async fn a_prefetching_layer_keeps_flush_headers_working() {
    let mut body = Body::writer(|mut w| async move {
        w.flush_headers().await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    // A middleware's prefetch consumes the flush...
    body.prefetch().await.unwrap();
    // ...and the driver's own prefetch must still return at once.
    tokio::time::timeout(std::time::Duration::from_secs(5), body.prefetch())
        .await
        .expect("no hang")
        .unwrap();
}

#[tokio::test]
async fn on_finish_counts_only_what_leaves_after_a_prefetch() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let mut body = Body::from_stream(futures_util::stream::iter(
        ["ab", "c"].map(Ok::<_, std::io::Error>),
    ))
    .on_finish(move |f| s.lock().unwrap().push(f));
    body.prefetch().await.unwrap();
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent yet");
    drop(body);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "reported exactly once");
    assert!(!seen[0].is_completed());
    assert_eq!(seen[0].bytes(), 0);
}

#[tokio::test]
async fn on_finish_reports_failure_found_by_prefetch() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let mut body = Body::writer(|_w| async { Err(Error::new("first chunk failed")) })
        .on_finish(move |f| s.lock().unwrap().push(f));
    assert!(body.prefetch().await.is_err());
    drop(body);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].is_completed());
}

#[test]
fn file_hint_survives_on_finish() {
    let file = Arc::new(std::fs::File::open("Cargo.toml").unwrap());
    let body = Body::file(Body::from("abc"), FileHint::new(file, 0, 3)).on_finish(|_| {});
    assert_eq!(body.file_hint().map(FileHint::len), Some(3));
}

#[tokio::test]
async fn a_panicking_on_finish_callback_is_contained() {
    let body = Body::from("x").on_finish(|_| panic!("callback panicked"));
    // Neither the poll that ends the body nor a drop may unwind.
    let collected = body.collect().await.unwrap();
    assert_eq!(collected.to_bytes(), "x");
    drop(Body::from("y").on_finish(|_| panic!("in drop")));
}
