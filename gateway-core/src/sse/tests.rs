use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;

use super::*;
use crate::driver;
use crate::fn_app;

fn get() -> Environ {
    Environ::from_request(http::Request::get("/events").body(Body::empty()).unwrap())
}

async fn next_data(body: &mut Body) -> Bytes {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("a frame in time")
            .expect("not the end")
            .expect("not an error");
        if let Ok(data) = frame.into_data() {
            if !data.is_empty() {
                return data;
            }
        }
    }
}

#[test]
fn every_line_end_splits_data() {
    let event = Event::new().data("a\rb\nc\r\nd\n\re");
    assert_eq!(
        event.to_bytes(),
        "data: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: e\n\n"
    );
    // A trailing line end is kept: the client rebuilds "x\n".
    assert_eq!(Event::new().data("x\n").to_bytes(), "data: x\ndata: \n\n");
}

#[test]
fn injection_attempts_are_harmless_or_refused() {
    // Data cannot start a field or end the event early.
    let event = Event::new().data("ok\n\nevent: evil\nid: 666\r\nretry: 1");
    assert_eq!(
        event.to_bytes(),
        "data: ok\ndata: \ndata: event: evil\ndata: id: 666\ndata: retry: 1\n\n"
    );
    for bad in ["a\nb", "a\rb", "a\r\nb"] {
        assert!(Event::new().try_event(bad).is_err(), "{bad:?}");
        assert!(Event::new().try_id(bad).is_err(), "{bad:?}");
    }
    assert!(Event::new().try_id("a\0b").is_err());
    assert!(std::panic::catch_unwind(|| Event::new().id("x\n")).is_err());
    assert!(std::panic::catch_unwind(|| Event::new().event("x\r")).is_err());
    // Comments are split like data.
    assert_eq!(
        Event::new().comment("a\ndata: b").to_bytes(),
        ": a\n: data: b\n\n"
    );
}

#[test]
fn fields_are_encoded_in_order() {
    let event = Event::new()
        .event("update")
        .id("7")
        .retry(Duration::from_millis(2500))
        .data("{}");
    assert_eq!(
        event.to_bytes(),
        "event: update\nid: 7\nretry: 2500\ndata: {}\n\n"
    );
}

#[test]
fn last_event_id_is_read_from_the_request() {
    assert_eq!(last_event_id(&get()), None);
    let req = http::Request::get("/")
        .header("last-event-id", "é-1".as_bytes())
        .body(Body::empty())
        .unwrap();
    assert_eq!(last_event_id(&Environ::from_request(req)), Some("é-1"));
}

#[tokio::test]
async fn headers_go_at_once_and_events_as_they_are_sent() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = std::sync::Mutex::new(Some(rx));
    let app = fn_app(move |_env| {
        let rx = rx.lock().unwrap().take().unwrap();
        async move {
            Ok(EventStream::new(move |mut events| async move {
                let _ = rx.await;
                events.send(Event::new().data("first")).await?;
                // Never ends by itself.
                std::future::pending::<()>().await;
                Ok(())
            })
            .into_response())
        }
    });
    // The response is committed before any event exists.
    let Ok(res) = tokio::time::timeout(Duration::from_secs(10), driver::commit(&app, get()))
        .await
        .expect("committed at once");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(res.headers()["x-accel-buffering"], "no");
    let mut body = res.into_body();
    tx.send(()).unwrap();
    assert_eq!(next_data(&mut body).await, "data: first\n\n");
}

#[tokio::test]
async fn keep_alive_comments_fill_the_silence() {
    let res = EventStream::new(|mut events| async move {
        events.send(Event::new().data("hello")).await?;
        std::future::pending::<()>().await;
        Ok(())
    })
    .keep_alive(|| tokio::time::sleep(Duration::from_millis(5)))
    .into_response();
    let mut body = res.into_body();
    assert_eq!(next_data(&mut body).await, "data: hello\n\n");
    for _ in 0..3 {
        assert_eq!(next_data(&mut body).await, KEEP_ALIVE);
    }
}

#[tokio::test]
async fn a_dropped_body_stops_the_producer() {
    let dropped = Arc::new(AtomicBool::new(false));
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let (result_tx, result_rx) = tokio::sync::oneshot::channel();
    let flag = Flag(dropped.clone());
    let res = EventStream::new(move |mut events| async move {
        let _flag = flag;
        // A writer moved to another task outlives the body: its next send
        // fails.
        tokio::spawn(async move {
            let first = events.send(Event::new().data("one")).await;
            assert!(first.is_ok());
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = result_tx.send(events.send(Event::new().data("two")).await);
        });
        std::future::pending::<()>().await;
        Ok(())
    })
    .into_response();
    let mut body = res.into_body();
    assert_eq!(next_data(&mut body).await, "data: one\n\n");
    drop(body);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the producer future is dropped"
    );
    let sent = tokio::time::timeout(Duration::from_secs(10), result_rx)
        .await
        .unwrap()
        .unwrap();
    assert!(sent.is_err(), "a send after the client left fails");
}
