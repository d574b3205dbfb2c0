//! What [`Lint`](super::Lint) reports: a [`Violation`] of a [`Rule`], its [`Severity`],
//! and the [`Violations`] list that [`Lint::collecting`](super::Lint::collecting) fills.
//!
//! ```
//! use gateway_core::lint::{Lint, Severity};
//!
//! let (lint, violations) = Lint::collecting();
//! # let _ = lint;
//! for v in violations.take() {
//!     assert!(v.severity() == Severity::Error || v.severity() == Severity::Warning);
//! }
//! violations.assert_none();
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::Rule;

/// One broken rule, as [`Lint`](super::Lint) reports it.
///
/// It is also the source of the [`Error`](crate::Error) that fails the request on an
/// error: `err.downcast_ref::<Violation>()` finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    rule: Rule,
    message: String,
}

impl Violation {
    pub(super) fn new(rule: Rule, message: String) -> Violation {
        Violation { rule, message }
    }

    /// The rule broken.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The rule's severity.
    pub fn severity(&self) -> Severity {
        self.rule.severity()
    }

    /// What was found, in words.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lint {} [{}]: {}",
            self.severity(),
            self.rule,
            self.message
        )
    }
}

impl std::error::Error for Violation {}

/// How serious a [`Violation`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Breaks the contract: the request fails (500, or an aborted body).
    Error,
    /// Legal but almost certainly unintended: logged, response unchanged.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// The violations a [`Lint::collecting`](super::Lint::collecting) lint found, in the order found.
/// Clones share the list.
#[derive(Clone, Default)]
pub struct Violations {
    list: Arc<Mutex<Vec<Violation>>>,
}

impl Violations {
    pub(super) fn lock(&self) -> MutexGuard<'_, Vec<Violation>> {
        // An observer never panics while holding the lock; recover anyway.
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the violations found so far, leaving the list empty.
    pub fn take(&self) -> Vec<Violation> {
        std::mem::take(&mut *self.lock())
    }

    /// Whether nothing was found (or everything found was taken).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Panics, listing them, if any violation (error or warning) was found.
    ///
    /// Body rules are checked as the server reads the body: assert after
    /// the response was read to its end (or the server stopped).
    #[track_caller]
    pub fn assert_none(&self) {
        let found = self.take();
        if !found.is_empty() {
            let list: String = found.iter().map(|v| format!("\n  {v}")).collect();
            panic!("Lint found {} violation(s):{list}", found.len());
        }
    }
}

impl fmt::Debug for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}
