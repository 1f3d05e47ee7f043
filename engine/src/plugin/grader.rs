//! The `Grader` plugin seam: judges one regress fixture.

use crate::regress::result::{GradeStatus, normalize_codes};
use std::collections::BTreeMap;

/// What a grader concluded about one fixture.
#[derive(Clone, Debug, PartialEq)]
pub struct GradeOutcome {
    pub status: GradeStatus,
    /// Sorted and deduplicated (see [`GradeOutcome::new`]).
    pub reason_codes: Vec<String>,
    pub message: String,
    /// Grader-specific facts; script graders put their captured print/debug output here (capped).
    pub details: BTreeMap<String, serde_json::Value>,
    /// The context drift classification (`none`, `runtime_only`, `semantic`), for the
    /// context_conformance grader only.
    pub context_conformance: Option<String>,
}

impl GradeOutcome {
    pub fn new(status: GradeStatus, reason_codes: impl IntoIterator<Item = String>) -> Self {
        GradeOutcome {
            status,
            reason_codes: normalize_codes(reason_codes),
            message: String::new(),
            details: BTreeMap::new(),
            context_conformance: None,
        }
    }

    pub fn pass(reason_codes: &[&str]) -> Self {
        Self::new(
            GradeStatus::Pass,
            reason_codes.iter().map(|s| s.to_string()),
        )
    }

    pub fn fail(reason_codes: &[&str]) -> Self {
        Self::new(
            GradeStatus::Fail,
            reason_codes.iter().map(|s| s.to_string()),
        )
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
}
