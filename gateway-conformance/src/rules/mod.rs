//! The rules, their needs, and the runner.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::adapter::{Capabilities, Endpoint, Running};
use crate::probe::Probe;
use crate::report::{Outcome, RuleResult};

mod h1;
mod h2;

/// How long one rule may take in all.
pub(crate) const RULE_TIMEOUT: Duration = Duration::from_secs(8);
/// How long an adapter may take to drop an abandoned application, or to
/// run it far enough for the kit to see.
pub(crate) const OBSERVE: Duration = Duration::from_secs(2);

/// A rule's result: `Err` says what the kit saw.
pub(crate) type Check = Result<(), String>;

type RuleFuture<'a> = Pin<Box<dyn Future<Output = Check> + 'a>>;

/// What a rule needs the adapter to declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    Http1,
    Http2,
    KeepAlive,
    ExactFraming,
    Trailers,
    Upgrades,
    /// The adapter does not declare upgrades.
    NoUpgrades,
    ExtendedConnect,
    Abort,
    Disconnect,
    RequestStreaming,
    ChunkedRequests,
    RawPath,
    BodyLimit,
}

impl Need {
    fn met(self, caps: &Capabilities) -> bool {
        match self {
            Need::Http1 => caps.http1,
            Need::Http2 => caps.http2,
            Need::KeepAlive => caps.keep_alive,
            Need::ExactFraming => caps.exact_framing,
            Need::Trailers => caps.trailers,
            Need::Upgrades => caps.upgrades,
            Need::NoUpgrades => !caps.upgrades,
            Need::ExtendedConnect => caps.extended_connect,
            Need::Abort => caps.abort,
            Need::Disconnect => caps.disconnect,
            Need::RequestStreaming => caps.request_streaming,
            Need::ChunkedRequests => caps.chunked_requests,
            Need::RawPath => caps.raw_path,
            Need::BodyLimit => caps.max_body_size.is_some(),
        }
    }

    /// The capability's name, as its `Capabilities` setter spells it.
    fn name(self) -> &'static str {
        match self {
            Need::Http1 => "http1",
            Need::Http2 => "http2",
            Need::KeepAlive => "keep_alive",
            Need::ExactFraming => "exact_framing",
            Need::Trailers => "trailers",
            Need::Upgrades => "upgrades",
            Need::NoUpgrades => "upgrades(false)",
            Need::ExtendedConnect => "extended_connect",
            Need::Abort => "abort",
            Need::Disconnect => "disconnect",
            Need::RequestStreaming => "request_streaming",
            Need::ChunkedRequests => "chunked_requests",
            Need::RawPath => "raw_path",
            Need::BodyLimit => "max_body_size",
        }
    }
}

/// One rule: its name (with the protocol), what it needs, the driver rule
/// it checks the adapter's side of, and the check.
pub(crate) struct Rule {
    pub(crate) name: &'static str,
    pub(crate) needs: &'static [Need],
    pub(crate) driver_rule: Option<u8>,
    pub(crate) run: for<'a> fn(&'a Ctx<'a>) -> RuleFuture<'a>,
}

/// Declares a rule: `rule!("h1/name", [needs], driver rule, function)`.
macro_rules! rule {
    ($name:literal, [$($need:ident),*], $driver:expr, $f:path) => {
        $crate::rules::Rule {
            name: $name,
            needs: &[$($crate::rules::Need::$need),*],
            driver_rule: $driver,
            run: |ctx| Box::pin($f(ctx)),
        }
    };
}
pub(crate) use rule;

/// Every rule, in the order they run.
pub(crate) fn all() -> Vec<Rule> {
    let mut rules = h1::rules();
    rules.extend(h2::rules());
    rules
}

/// What a rule works with.
pub(crate) struct Ctx<'a> {
    pub(crate) running: &'a Running,
    pub(crate) caps: Capabilities,
    pub(crate) probe: Probe,
    next_id: Cell<u64>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(running: &'a Running, caps: Capabilities, probe: Probe) -> Ctx<'a> {
        Ctx {
            running,
            caps,
            probe,
            next_id: Cell::new(1),
        }
    }

    /// A new request id: the battery records its events under it.
    pub(crate) fn id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// The request-target of battery route `path` for request `id`.
    pub(crate) fn target(&self, path: &str, id: u64) -> String {
        format!("{}{path}?id={id}", self.running.prefix)
    }

    /// The `Host` (or `:authority`) to send.
    pub(crate) fn authority(&self) -> String {
        match &self.running.endpoint {
            Endpoint::Tcp(addr) => {
                #[cfg(feature = "tls")]
                if let Some(tls) = &self.running.tls {
                    return format!("{}:{}", tls.server_name, addr.port());
                }
                addr.to_string()
            }
            Endpoint::Unix(_) => "localhost".to_owned(),
        }
    }

    pub(crate) fn scheme(&self) -> &'static str {
        if self.running.is_tls() {
            "https"
        } else {
            "http"
        }
    }

    /// Waits for an event of request `id` starting with `prefix`.
    pub(crate) async fn observe(
        &self,
        id: u64,
        prefix: &str,
        what: &str,
    ) -> Result<String, String> {
        self.probe
            .wait_for(id, prefix, OBSERVE)
            .await
            .map_err(|seen| {
                format!("{what}: no `{prefix}` event within {OBSERVE:?} (the application recorded {seen:?})")
            })
    }
}

/// Runs every rule against `running`, in order.
pub(crate) async fn run_all(ctx: &Ctx<'_>) -> Vec<RuleResult> {
    let mut results = Vec::new();
    for rule in all() {
        let implied = if rule.name.starts_with("h2/") {
            Need::Http2
        } else {
            Need::Http1
        };
        let missing: Vec<&str> = std::iter::once(implied)
            .chain(rule.needs.iter().copied())
            .filter(|need| !need.met(&ctx.caps))
            .map(Need::name)
            .collect();
        let (outcome, message) = if !missing.is_empty() {
            (Outcome::Skipped, format!("needs {}", missing.join(", ")))
        } else {
            match tokio::time::timeout(RULE_TIMEOUT, (rule.run)(ctx)).await {
                Ok(Ok(())) => (Outcome::Passed, String::new()),
                Ok(Err(message)) => (Outcome::Failed, message),
                Err(_) => (
                    Outcome::Failed,
                    format!("the rule did not finish within {RULE_TIMEOUT:?}"),
                ),
            }
        };
        results.push(RuleResult {
            name: rule.name.to_owned(),
            outcome,
            message,
            driver_rule: rule.driver_rule,
        });
    }
    results
}

/// The path rule's verdict, over either protocol: the battery's path
/// application answered `text` (its `script_name`, then its `path_info`,
/// one per line) for `target`; together they must be the path sent, and
/// `script_name` the adapter's prefix.
pub(crate) fn path_split(c: &Ctx<'_>, target: &str, text: &str) -> Check {
    let mut lines = text.lines();
    let (script, info) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    let sent = target.split('?').next().unwrap_or_default();
    ensure(
        format!("{script}{info}") == sent && script == c.running.prefix,
        || {
            format!(
                "sent {sent:?}; the application saw script_name {script:?} + path_info {info:?} \
             (expected script_name {:?})",
                c.running.prefix
            )
        },
    )
}

/// `Err` with `message` unless `ok`.
pub(crate) fn ensure(ok: bool, message: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(message()) }
}

/// `len` bytes of a recognisable pattern.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"0123456789abcdef"[i % 16]).collect()
}
