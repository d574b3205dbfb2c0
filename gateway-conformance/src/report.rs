//! The outcome of a run: one [`RuleResult`] per rule and protocol.

use std::fmt;

/// Where the driver's commit rules are documented; failures of a rule that
/// has a driver counterpart link to it.
pub(crate) const DRIVER_RULES: &str =
    "https://docs.rs/gateway-core/latest/gateway_core/driver/index.html#the-commit-rules";

/// How one rule ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The adapter did what the rule asks.
    Passed,
    /// It did not; the message says what the kit saw.
    Failed,
    /// Not checked: the adapter does not declare what the rule needs (the
    /// message names it). Never silent.
    Skipped,
}

/// One rule's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleResult {
    pub(crate) name: String,
    pub(crate) outcome: Outcome,
    pub(crate) message: String,
    pub(crate) driver_rule: Option<u8>,
}

impl RuleResult {
    /// The rule's name with its protocol, such as `h1/head_keeps_length`
    /// or `h2/abort_after_commit`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Passed, failed or skipped.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// What the kit saw (failed), what was missing (skipped), or empty.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The commit rule of `gateway_core::driver` this rule checks the
    /// adapter's side of, if any.
    pub fn driver_rule(&self) -> Option<u8> {
        self.driver_rule
    }
}

impl fmt::Display for RuleResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.outcome {
            Outcome::Passed => "passed",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "skipped",
        };
        write!(f, "{outcome:7} {}", self.name)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let (Outcome::Failed, Some(rule)) = (self.outcome, self.driver_rule) {
            write!(f, " (driver rule {rule}: {DRIVER_RULES})")?;
        }
        Ok(())
    }
}

/// The results of [`run`](crate::run) against one adapter, in the order
/// the rules ran. `Display` prints one line per rule.
///
/// ```
/// # fn check(report: gateway_conformance::Report) {
/// println!("{report}");
/// report.assert_passed();
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub(crate) adapter: String,
    pub(crate) results: Vec<RuleResult>,
}

impl Report {
    /// The adapter's [`name`](crate::Adapter::name).
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// Every rule's result.
    pub fn results(&self) -> &[RuleResult] {
        &self.results
    }

    /// The result of the rule named `name` (`h1/head_keeps_length`).
    pub fn get(&self, name: &str) -> Option<&RuleResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// The failed rules.
    pub fn failures(&self) -> impl Iterator<Item = &RuleResult> {
        self.results.iter().filter(|r| r.outcome == Outcome::Failed)
    }

    /// No rule failed (skipped ones do not count).
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Panics, listing every failed rule with what the kit saw, unless
    /// all passed or were skipped.
    ///
    /// # Panics
    ///
    /// When a rule failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        if self.passed() {
            return;
        }
        let failures: Vec<String> = self.failures().map(|r| format!("  {r}")).collect();
        panic!(
            "{} failed {} conformance rule(s):\n{}\n\nthe whole report:\n{self}",
            self.adapter,
            failures.len(),
            failures.join("\n")
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |o: Outcome| self.results.iter().filter(|r| r.outcome == o).count();
        writeln!(
            f,
            "conformance of {}: {} passed, {} failed, {} skipped",
            self.adapter,
            count(Outcome::Passed),
            count(Outcome::Failed),
            count(Outcome::Skipped)
        )?;
        for result in &self.results {
            writeln!(f, "  {result}")?;
        }
        Ok(())
    }
}
