//! A `tracing` subscriber that keeps every event's and span's fields as
//! text, for the tests that check what is logged (and what never is).
//! Shared by the sessions and CSRF test binaries (`#[path]`-included).

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// A `tracing` subscriber that keeps every event's and span's fields
/// (the message included) as text, with the level.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, "{}={value} ", field.name());
    }
    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        // The whole chain, as an error-reporting subscriber would print it.
        let _ = write!(self.0, "{}={value}", field.name());
        let mut source = value.source();
        while let Some(e) = source {
            let _ = write!(self.0, ": {e}");
            source = e.source();
        }
        self.0.push(' ');
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = format!("span {} ", span.metadata().name());
        span.record(&mut Fields(&mut text));
        self.0.lock().unwrap().push(text);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = "span record ".to_owned();
        values.record(&mut Fields(&mut text));
        self.0.lock().unwrap().push(text);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = format!("{} ", event.metadata().level());
        event.record(&mut Fields(&mut text));
        self.0.lock().unwrap().push(text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Capture {
    /// Captures this thread's events until the guard is dropped. The
    /// tests that capture run one at a time: tracing's global interest
    /// cache and max level are rebuilt whenever a subscriber is installed,
    /// and two installs racing on two threads can leave one of them
    /// filtered out (seen: a capture that received nothing).
    pub fn install(
        &self,
    ) -> (
        std::sync::MutexGuard<'static, ()>,
        tracing::subscriber::DefaultGuard,
    ) {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let serial = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let guard = tracing::subscriber::set_default(self.clone());
        // A call site another test's thread (with no subscriber) reached
        // first may have cached "never": ask every call site again.
        tracing::callsite::rebuild_interest_cache();
        (serial, guard)
    }

    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Fails if no captured event contains `needle` (the positive
    /// control: the capture saw what the scenario must log).
    pub fn assert_logged(&self, needle: &str) {
        let events = self.events();
        assert!(
            events.iter().any(|e| e.contains(needle)),
            "no event mentions {needle:?}: {events:#?}"
        );
    }
}
