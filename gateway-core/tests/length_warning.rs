//! Rule 8's warning names the method and the path.
//!
//! A test binary of its own: `tracing` caches whether a call site is
//! enabled, and another test hitting the same call site, with no
//! subscriber, while this one installs its own, can leave it cached as
//! disabled.

use std::sync::{Arc, Mutex};

use gateway_core::test_client::TestClient;
use gateway_core::{Environ, fn_app, start};

/// A `tracing` subscriber that keeps each event's level and fields.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(tracing::Level, String)>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = String::new();
        event.record(&mut Fields(&mut text));
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, text));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn the_abort_is_logged_at_warn_with_the_route() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let app = fn_app(|_env: Environ| async {
        start(200, [("content-length", "10")]).writer(|mut w| async move { w.write("abc").await })
    });
    let res = TestClient::new(app).get("/shop/cart?id=42").send().await;
    assert!(res.is_aborted());
    let events = capture.0.lock().unwrap();
    let warnings: Vec<&String> = events
        .iter()
        .filter(|(level, _)| *level == tracing::Level::WARN)
        .map(|(_, text)| text)
        .collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert!(warnings[0].contains("method=GET"), "{}", warnings[0]);
    assert!(warnings[0].contains("path=/shop/cart "), "{}", warnings[0]);
    assert!(warnings[0].contains("3 of the 10 bytes"), "{}", warnings[0]);
}
