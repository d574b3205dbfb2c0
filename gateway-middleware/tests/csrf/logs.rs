//! What a refusal logs: one debug event naming the reason, and nothing
//! from the request (no header value, no token).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use gateway_middleware::auth::CsrfRejection;

use crate::support::{assert_refused, client, token};

/// A `tracing` subscriber keeping every event's fields as text, with the
/// level.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, "{}={value} ", field.name());
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

#[tokio::test]
async fn refusals_log_the_reason_and_nothing_from_the_request() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let (client, _) = client();
    let good = token(&client).await;
    let marker = "MARKER-7f3a";
    let res = client
        .post("/")
        .header("sec-fetch-site", format!("cross-site-{marker}"))
        .header("origin", format!("https://{marker}.example"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    let res = client
        .post("/")
        .header("origin", format!("https://{marker}.example"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    // A token of this session, altered: close to a real one.
    let mut altered = good.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let res = client
        .post("/")
        .header("x-csrf-token", &altered)
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);
    let res = client
        .post("/")
        .form(&[("csrf_token", marker)])
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);

    let logs = capture.0.lock().unwrap().clone();
    let refusals: Vec<&String> = logs.iter().filter(|l| l.contains("Csrf refused")).collect();
    assert_eq!(refusals.len(), 4, "{logs:#?}");
    assert!(
        refusals.iter().all(|l| l.starts_with("DEBUG ")),
        "{refusals:#?}"
    );
    for (line, why) in refusals.iter().zip([
        CsrfRejection::CrossSite,
        CsrfRejection::OriginMismatch,
        CsrfRejection::InvalidToken,
        CsrfRejection::InvalidToken,
    ]) {
        assert!(line.contains(&format!("reason={}", why.reason())), "{line}");
    }
    for line in &logs {
        assert!(!line.contains(marker), "{line}");
        assert!(!line.contains(&good), "{line}");
        assert!(!line.contains(&altered), "{line}");
        assert!(!line.contains(&good[..20]), "{line}");
    }
}
