//! `regress_result.json` (`gait.regress.result` 1.0.0, CONTRACTS §3.7) and the grader outcomes in it.

use crate::GoTime;
use crate::error::GaitError;
use serde::Serialize;
use std::collections::BTreeMap;

pub const RESULT_SCHEMA_ID: &str = "gait.regress.result";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GradeStatus {
    Pass,
    Fail,
}

impl GradeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GradeStatus::Pass => "pass",
            GradeStatus::Fail => "fail",
        }
    }
}

/// One grader's result for one fixture, named `<fixture>/<grader>`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GraderResult {
    pub name: String,
    pub status: GradeStatus,
    /// Sorted and deduplicated.
    pub reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_conformance: Option<String>,
    /// Always includes `fixture` and `run_id`.
    pub details: BTreeMap<String, serde_json::Value>,
}

impl GraderResult {
    /// The fixture part of the name.
    pub fn fixture(&self) -> &str {
        self.name.split_once('/').map_or("", |(f, _)| f)
    }

    /// The grader part of the name.
    pub fn grader(&self) -> &str {
        self.name.split_once('/').map_or(&self.name, |(_, g)| g)
    }

    /// The failure text of JUnit and of `top_failure_reason`: reason codes joined by `,`, or
    /// `failed` when a failing grader gave none.
    pub fn failure_text(&self) -> String {
        if self.reason_codes.is_empty() {
            "failed".to_string()
        } else {
            self.reason_codes.join(",")
        }
    }
}

/// The whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegressResult {
    pub schema_id: String,
    pub schema_version: String,
    /// The `created_at` of the first fixture's run (not the clock: the result is reproducible).
    pub created_at: GoTime,
    pub producer_version: String,
    pub fixture_set: String,
    pub status: GradeStatus,
    /// Sorted by name.
    pub graders: Vec<GraderResult>,
}

impl RegressResult {
    /// Assembles a result: graders sorted by name, status `fail` if any grader failed.
    pub fn new(fixture_set: &str, created_at: GoTime, mut graders: Vec<GraderResult>) -> Self {
        graders.sort_by(|a, b| a.name.cmp(&b.name));
        let status = if graders.iter().any(|g| g.status == GradeStatus::Fail) {
            GradeStatus::Fail
        } else {
            GradeStatus::Pass
        };
        RegressResult {
            schema_id: RESULT_SCHEMA_ID.to_string(),
            schema_version: super::config::SCHEMA_VERSION.to_string(),
            created_at,
            producer_version: crate::PRODUCER_VERSION.to_string(),
            fixture_set: fixture_set.to_string(),
            status,
            graders,
        }
    }

    pub fn failed(&self) -> impl Iterator<Item = &GraderResult> {
        self.graders
            .iter()
            .filter(|g| g.status == GradeStatus::Fail)
    }

    /// The file text: two-space indent, trailing newline, byte-stable for the same inputs.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GaitError> {
        crate::gojson::to_indented(self)
            .map_err(|e| GaitError::internal(format!("encode regress result: {e}")))
    }
}

/// Sorts and deduplicates reason codes.
pub fn normalize_codes(codes: impl IntoIterator<Item = String>) -> Vec<String> {
    let set: std::collections::BTreeSet<String> = codes.into_iter().collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gr(name: &str, status: GradeStatus, codes: &[&str]) -> GraderResult {
        GraderResult {
            name: name.into(),
            status,
            reason_codes: codes.iter().map(|s| s.to_string()).collect(),
            context_conformance: None,
            details: BTreeMap::from([("fixture".to_string(), serde_json::json!("f"))]),
        }
    }

    #[test]
    fn result_sorts_graders_and_derives_status() {
        let r = RegressResult::new(
            "default",
            GoTime::epoch_1980(),
            vec![
                gr(
                    "f/trajectory",
                    GradeStatus::Pass,
                    &["trajectory_not_required"],
                ),
                gr("f/diff", GradeStatus::Fail, &["unexpected_diff"]),
            ],
        );
        assert_eq!(r.status, GradeStatus::Fail);
        assert_eq!(r.graders[0].name, "f/diff");
        assert_eq!(r.graders[0].fixture(), "f");
        assert_eq!(r.graders[0].grader(), "diff");
        assert_eq!(r.failed().count(), 1);
        let text = String::from_utf8(r.to_bytes().unwrap()).unwrap();
        assert!(text.starts_with("{\n  \"schema_id\": \"gait.regress.result\",\n  \"schema_version\": \"1.0.0\",\n  \"created_at\": \"1980-01-01T00:00:00Z\",\n  \"producer_version\": \"0.0.0-dev\",\n  \"fixture_set\": \"default\",\n  \"status\": \"fail\",\n  \"graders\": ["), "{text}");
        assert!(text.ends_with("}\n"));
        assert!(!text.contains("context_conformance"));
    }

    #[test]
    fn failure_text_joins_codes() {
        assert_eq!(gr("f/g", GradeStatus::Fail, &[]).failure_text(), "failed");
        assert_eq!(
            gr("f/g", GradeStatus::Fail, &["a", "b"]).failure_text(),
            "a,b"
        );
        assert_eq!(
            normalize_codes(["b".to_string(), "a".to_string(), "b".to_string()]),
            ["a", "b"]
        );
    }
}
