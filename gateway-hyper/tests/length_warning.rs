//! Rule 8's warning over a real socket names the method and the path.
//!
//! A test binary of its own: `tracing` caches whether a call site is
//! enabled, and another test hitting the same call site, with no
//! subscriber, while this one installs its own, can leave it cached as
//! disabled.

#[path = "common/declared.rs"]
mod declared;

use declared::serve;

/// A `tracing` subscriber that keeps each event's level and fields.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

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
    // The server runs on this test's thread (current-thread runtime), so
    // a thread-local subscriber sees its events.
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let server = serve().await;
    let (_, closed) = server.pipelined("/short?secret=1").await;
    assert!(closed);
    server.stop().await;
    let events = capture.0.lock().unwrap();
    let warning = events
        .iter()
        .find(|(level, text)| *level == tracing::Level::WARN && text.contains("Content-Length"))
        .map(|(_, text)| text)
        .unwrap_or_else(|| panic!("no warning in {events:?}"));
    assert!(warning.contains("method=GET"), "{warning}");
    assert!(warning.contains("path=/short "), "{warning}");
}
