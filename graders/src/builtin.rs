//! The builtin graders of CONTRACTS §3.7, with the reference's reason codes.
//!
//! | grader | fails with | passes with |
//! |---|---|---|
//! | `schema_validation` | `missing_files`, `hash_mismatch`, `runpack_parse_error`, `manifest_schema_invalid`, `run_schema_invalid`, `intent_schema_invalid`, `result_schema_invalid`, `refs_schema_invalid`, `schema_validation_error` | — |
//! | `expected_exit_code` | `unexpected_exit_code`, `replay_error` | — |
//! | `trajectory` | `unexpected_tool_sequence`, `unexpected_verdict_sequence`, `candidate_path_invalid`, `candidate_runpack_invalid` | `trajectory_match`, `trajectory_not_required` |
//! | `diff` | `unexpected_diff`, `diff_error` | — |
//! | `context_conformance` | `context_set_digest_mismatch`, `context_evidence_missing`, `context_semantic_drift`, `context_runtime_drift_blocked`, `source_runpack_invalid`, `context_diff_error` | `context_conformance_pass`, `context_conformance_not_required` |
//!
//! `schema_validation` checks the fixture's own runpack; the others look at the runpack under test
//! (the candidate when the fixture names one).

use gait_engine::GaitError;
use gait_engine::canon::is_sha256_hex;
use gait_engine::plugin::{
    FixtureView, GradeOutcome, Grader, PluginError, PluginErrorKind, PluginInfo, PluginKind,
    RunpackView,
};
use gait_engine::runpack::model::{
    FILE_INTENTS, FILE_MANIFEST, FILE_REFS, FILE_RESULTS, FILE_RUN, MANIFEST_SCHEMA_ID,
    REFS_SCHEMA_ID, RESULT_SCHEMA_ID, RUN_SCHEMA_ID, SCHEMA_VERSION,
};
use gait_engine::runpack::read::Runpack;
use gait_engine::runpack::verify::SignatureStatus;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub const SCHEMA_VALIDATION: &str = "schema_validation";
pub const EXPECTED_EXIT_CODE: &str = "expected_exit_code";
pub const TRAJECTORY: &str = "trajectory";
pub const DIFF: &str = "diff";
pub const CONTEXT_CONFORMANCE: &str = "context_conformance";

const INTENT_SCHEMA_ID: &str = gait_engine::runpack::model::INTENT_SCHEMA_ID;

fn info(name: &str) -> PluginInfo {
    PluginInfo::builtin(name, PluginKind::Grader)
}

/// Verification and schema checks of the fixture's runpack.
pub struct SchemaValidation(PluginInfo);
/// The stub replay's exit code against `expected_replay_exit_code`.
pub struct ExpectedExitCode(PluginInfo);
/// Tool and verdict sequences against the fixture's expectations.
pub struct Trajectory(PluginInfo);
/// Baseline → candidate differences against `diff_allow_changed_files`.
pub struct Diff(PluginInfo);
/// Context evidence and context drift.
pub struct ContextConformance(PluginInfo);

impl Default for SchemaValidation {
    fn default() -> Self {
        SchemaValidation(info(SCHEMA_VALIDATION))
    }
}
impl Default for ExpectedExitCode {
    fn default() -> Self {
        ExpectedExitCode(info(EXPECTED_EXIT_CODE))
    }
}
impl Default for Trajectory {
    fn default() -> Self {
        Trajectory(info(TRAJECTORY))
    }
}
impl Default for Diff {
    fn default() -> Self {
        Diff(info(DIFF))
    }
}
impl Default for ContextConformance {
    fn default() -> Self {
        ContextConformance(info(CONTEXT_CONFORMANCE))
    }
}

/// The schema reason code for a parse error of one runpack entry.
fn parse_error_code(e: &GaitError) -> &'static str {
    let m = &e.message;
    let entry = |name: &str| m.contains(&format!("runpack entry {name}:"));
    if e.code.as_deref() == Some("runpack_missing_files") {
        "missing_files"
    } else if entry(FILE_MANIFEST) {
        "manifest_schema_invalid"
    } else if entry(FILE_RUN) {
        "run_schema_invalid"
    } else if entry(FILE_INTENTS) {
        "intent_schema_invalid"
    } else if entry(FILE_RESULTS) {
        "result_schema_invalid"
    } else if entry(FILE_REFS) {
        "refs_schema_invalid"
    } else {
        "runpack_parse_error"
    }
}

/// Schema problems of a parsed runpack: (reason code, description).
fn schema_problems(rp: &Runpack<'_>) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let m = &rp.manifest;
    if m.schema_id != MANIFEST_SCHEMA_ID || m.schema_version != SCHEMA_VERSION {
        out.push((
            "manifest_schema_invalid",
            format!(
                "manifest.json is {:?} {:?}, expected {MANIFEST_SCHEMA_ID:?} {SCHEMA_VERSION:?}",
                m.schema_id, m.schema_version
            ),
        ));
    }
    let r = &rp.run;
    if r.schema_id != RUN_SCHEMA_ID || r.run_id.trim().is_empty() {
        out.push((
            "run_schema_invalid",
            format!(
                "run.json has schema_id {:?} and run_id {:?}",
                r.schema_id, r.run_id
            ),
        ));
    }
    if let Some((i, rec)) = rp.intents.iter().enumerate().find(|(_, rec)| {
        rec.schema_id != INTENT_SCHEMA_ID
            || rec.intent_id.trim().is_empty()
            || rec.label.trim().is_empty()
            || !is_sha256_hex(&rec.digest)
    }) {
        out.push((
            "intent_schema_invalid",
            format!(
                "intents.jsonl line {}: needs schema_id {INTENT_SCHEMA_ID:?}, intent_id, tool_name and a sha256 args_digest (intent_id {:?})",
                i + 1,
                rec.intent_id
            ),
        ));
    }
    if let Some((i, rec)) = rp.results.iter().enumerate().find(|(_, rec)| {
        rec.schema_id != RESULT_SCHEMA_ID
            || rec.intent_id.trim().is_empty()
            || rec.label.trim().is_empty()
            || !is_sha256_hex(&rec.digest)
    }) {
        out.push((
            "result_schema_invalid",
            format!(
                "results.jsonl line {}: needs schema_id {RESULT_SCHEMA_ID:?}, intent_id, status and a sha256 result_digest (intent_id {:?})",
                i + 1,
                rec.intent_id
            ),
        ));
    }
    if rp.refs.schema_id != REFS_SCHEMA_ID {
        out.push((
            "refs_schema_invalid",
            format!(
                "refs.json has schema_id {:?}, expected {REFS_SCHEMA_ID:?}",
                rp.refs.schema_id
            ),
        ));
    }
    out
}

impl Grader for SchemaValidation {
    fn info(&self) -> &PluginInfo {
        &self.0
    }

    fn grade(&self, fixture: &FixtureView<'_>) -> Result<GradeOutcome, PluginError> {
        let b = &fixture.baseline;
        let mut codes: BTreeSet<&str> = BTreeSet::new();
        let mut problems: Vec<String> = Vec::new();
        let mut details = BTreeMap::new();
        details.insert("runpack".to_string(), json!(b.loaded.display));
        match &b.loaded.verify {
            Err(e) => {
                codes.insert(parse_error_code(e));
                problems.push(e.message.clone());
            }
            Ok(r) => {
                if !r.missing_files.is_empty() {
                    codes.insert("missing_files");
                    details.insert("missing_files".into(), json!(r.missing_files));
                    problems.push(format!("missing {}", r.missing_files.join(", ")));
                }
                if !r.hash_mismatches.is_empty() {
                    codes.insert("hash_mismatch");
                    let paths: Vec<&str> =
                        r.hash_mismatches.iter().map(|m| m.path.as_str()).collect();
                    details.insert("hash_mismatches".into(), json!(paths));
                    problems.push(format!("hash mismatch in {}", paths.join(", ")));
                }
                if !r.undeclared_files.is_empty() {
                    codes.insert("schema_validation_error");
                    details.insert("undeclared_files".into(), json!(r.undeclared_files));
                    problems.push(format!(
                        "entries not declared by the manifest: {}",
                        r.undeclared_files.join(", ")
                    ));
                }
                if r.signature_status == SignatureStatus::Failed {
                    codes.insert("schema_validation_error");
                    details.insert("signature_errors".into(), json!(r.signature_errors));
                    problems.push("signature does not verify".into());
                }
            }
        }
        match b.parsed {
            Err(e) => {
                // A zip that does not open was reported above already.
                if b.loaded.verify.is_ok() {
                    codes.insert(parse_error_code(e));
                    problems.push(e.message.clone());
                }
            }
            Ok(rp) => {
                for (code, text) in schema_problems(rp) {
                    codes.insert(code);
                    problems.push(text);
                }
            }
        }
        let mut outcome = if codes.is_empty() {
            GradeOutcome::pass(&[])
        } else {
            GradeOutcome::fail(&codes.into_iter().collect::<Vec<_>>())
                .with_message(problems.join("; "))
        };
        outcome.details.extend(details);
        Ok(outcome)
    }
}

impl Grader for ExpectedExitCode {
    fn info(&self) -> &PluginInfo {
        &self.0
    }

    fn grade(&self, fixture: &FixtureView<'_>) -> Result<GradeOutcome, PluginError> {
        let expected = fixture.spec.expected_replay_exit_code;
        let replay = match fixture.replay {
            Ok(r) => r,
            Err(e) => {
                return Ok(GradeOutcome::fail(&["replay_error"])
                    .with_message(format!("stub replay could not run: {}", e.message))
                    .with_detail("expected", expected)
                    .with_detail("error", e.message.clone()));
            }
        };
        // The stub replay's exit code: 0, or 2 when a result is missing (CONTRACTS §1.2).
        let actual = if replay.ok { 0 } else { 2 };
        let outcome = if actual == expected {
            GradeOutcome::pass(&[])
        } else {
            GradeOutcome::fail(&["unexpected_exit_code"])
                .with_message(format!("stub replay exited {actual}, expected {expected}"))
        };
        let mut outcome = outcome
            .with_detail("expected", expected)
            .with_detail("actual", actual);
        if !replay.missing_results.is_empty() {
            outcome = outcome.with_detail("missing_results", json!(replay.missing_results));
        }
        Ok(outcome)
    }
}

/// Why a candidate cannot be used, if it cannot.
fn candidate_problem(c: &RunpackView<'_>) -> Option<(&'static str, String)> {
    if let Err(e) = &c.loaded.files
        && e.code.as_deref() == Some("runpack_not_found")
    {
        return Some((
            "candidate_path_invalid",
            format!("candidate runpack {} not found", c.loaded.display),
        ));
    }
    match (&c.loaded.verify, c.parsed) {
        (Err(e), _) | (_, Err(e)) => Some((
            "candidate_runpack_invalid",
            format!("candidate runpack {}: {}", c.loaded.display, e.message),
        )),
        (Ok(r), Ok(_)) if !r.ok => Some((
            "candidate_runpack_invalid",
            format!("candidate runpack {} failed verification", c.loaded.display),
        )),
        _ => None,
    }
}

/// Result status per intent, in intent order (`missing` when an intent has no result).
fn verdict_sequence(rp: &Runpack<'_>) -> Vec<String> {
    let mut status: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &rp.results {
        status
            .entry(r.intent_id.as_ref())
            .or_insert(r.label.as_ref());
    }
    rp.intents
        .iter()
        .map(|i| {
            status
                .get(i.intent_id.as_ref())
                .copied()
                .unwrap_or("missing")
                .to_string()
        })
        .collect()
}

impl Grader for Trajectory {
    fn info(&self) -> &PluginInfo {
        &self.0
    }

    fn grade(&self, fixture: &FixtureView<'_>) -> Result<GradeOutcome, PluginError> {
        let spec = &fixture.spec;
        if let Some(c) = &fixture.candidate
            && let Some((code, msg)) = candidate_problem(c)
        {
            return Ok(GradeOutcome::fail(&[code])
                .with_message(msg)
                .with_detail("candidate_runpack", c.loaded.display.clone()));
        }
        let (want_tools, want_verdicts) = (
            &spec.expected_tool_sequence,
            &spec.expected_verdict_sequence,
        );
        if want_tools.is_empty() && want_verdicts.is_empty() {
            return Ok(GradeOutcome::pass(&["trajectory_not_required"]));
        }
        let rp = fixture.subject().parsed.map_err(|e| {
            PluginError::new(
                PluginErrorKind::Failed,
                "grader_error",
                format!("cannot read the runpack's intents: {}", e.message),
            )
        })?;
        let tools: Vec<String> = rp.intents.iter().map(|i| i.label.to_string()).collect();
        let verdicts = verdict_sequence(rp);
        let mut codes = Vec::new();
        let mut msgs = Vec::new();
        let mut outcome_details: Vec<(&str, Value)> = Vec::new();
        if !want_tools.is_empty() {
            outcome_details.push(("expected_tool_sequence", json!(want_tools)));
            outcome_details.push(("actual_tool_sequence", json!(tools)));
            if *want_tools != tools {
                codes.push("unexpected_tool_sequence");
                msgs.push(format!("tools {tools:?}, expected {want_tools:?}"));
            }
        }
        if !want_verdicts.is_empty() {
            outcome_details.push(("expected_verdict_sequence", json!(want_verdicts)));
            outcome_details.push(("actual_verdict_sequence", json!(verdicts)));
            if *want_verdicts != verdicts {
                codes.push("unexpected_verdict_sequence");
                msgs.push(format!("verdicts {verdicts:?}, expected {want_verdicts:?}"));
            }
        }
        let mut outcome = if codes.is_empty() {
            GradeOutcome::pass(&["trajectory_match"])
        } else {
            GradeOutcome::fail(&codes).with_message(msgs.join("; "))
        };
        for (k, v) in outcome_details {
            outcome = outcome.with_detail(k, v);
        }
        Ok(outcome)
    }
}

impl Grader for Diff {
    fn info(&self) -> &PluginInfo {
        &self.0
    }

    fn grade(&self, fixture: &FixtureView<'_>) -> Result<GradeOutcome, PluginError> {
        let report = match fixture.diff {
            None => return Ok(GradeOutcome::pass(&[])),
            Some(Err(e)) => {
                return Ok(GradeOutcome::fail(&["diff_error"])
                    .with_message(format!("cannot diff against the candidate: {}", e.message))
                    .with_detail("error", e.message.clone()));
            }
            Some(Ok(r)) => r,
        };
        let s = &report.summary;
        let mut changed: BTreeSet<String> = s.files_changed.iter().cloned().collect();
        if s.manifest_changed {
            changed.insert(FILE_MANIFEST.into());
        }
        if s.intents_changed {
            changed.insert(FILE_INTENTS.into());
        }
        if s.results_changed {
            changed.insert(FILE_RESULTS.into());
        }
        let runtime_only = s.context_drift_classification == "runtime_only";
        if s.refs_changed && !(fixture.options.allow_nondeterministic && runtime_only) {
            changed.insert(FILE_REFS.into());
        }
        let allowed: BTreeSet<&str> = fixture
            .spec
            .diff_allow_changed_files
            .iter()
            .map(String::as_str)
            .collect();
        let disallowed: Vec<&String> = changed
            .iter()
            .filter(|f| !allowed.contains(f.as_str()))
            .collect();
        let mut outcome = if disallowed.is_empty() {
            GradeOutcome::pass(&[])
        } else {
            let mut what = Vec::new();
            for (label, ids) in [
                ("changed results", &s.changed_results),
                ("changed intents", &s.changed_intents),
                ("results only in the fixture", &s.left_only_results),
                ("results only in the candidate", &s.right_only_results),
                ("intents only in the fixture", &s.left_only_intents),
                ("intents only in the candidate", &s.right_only_intents),
            ] {
                if !ids.is_empty() {
                    what.push(format!("{label}: {}", ids.join(", ")));
                }
            }
            let files: Vec<&str> = disallowed.iter().map(|s| s.as_str()).collect();
            let mut msg = format!("candidate differs in {}", files.join(", "));
            if !what.is_empty() {
                msg.push_str(&format!(" ({})", what.join("; ")));
            }
            GradeOutcome::fail(&["unexpected_diff"])
                .with_message(msg)
                .with_detail("disallowed_files", json!(files))
        };
        outcome = outcome
            .with_detail("changed_files", json!(changed))
            .with_detail("candidate_runpack", json!(fixture.spec.candidate_runpack))
            .with_detail(
                "diff",
                serde_json::to_value(&report.summary).unwrap_or(Value::Null),
            );
        Ok(outcome)
    }
}

impl Grader for ContextConformance {
    fn info(&self) -> &PluginInfo {
        &self.0
    }

    fn grade(&self, fixture: &FixtureView<'_>) -> Result<GradeOutcome, PluginError> {
        let spec = &fixture.spec;
        if let Err(e) = fixture.baseline.parsed {
            return Ok(GradeOutcome::fail(&["source_runpack_invalid"])
                .with_message(format!("cannot read the fixture runpack: {}", e.message)));
        }
        let mut codes = Vec::new();
        let mut msgs = Vec::new();
        let refs = fixture.subject().parsed.ok().map(|rp| &rp.refs);
        let digest = refs.map(|r| r.context_set_digest.as_str()).unwrap_or("");
        let expected = spec.expected_context_set_digest.trim();
        if !expected.is_empty() && digest != expected {
            codes.push("context_set_digest_mismatch");
            msgs.push(format!(
                "context_set_digest is {digest:?}, expected {expected:?}"
            ));
        }
        if spec.context_conformance && digest.is_empty() {
            codes.push("context_evidence_missing");
            msgs.push("the runpack carries no context evidence (context_set_digest)".into());
        }
        let mut classification = "none".to_string();
        match fixture.diff {
            None => {}
            Some(Err(e)) => {
                codes.push("context_diff_error");
                msgs.push(format!("cannot diff against the candidate: {}", e.message));
            }
            Some(Ok(d)) => {
                classification = d.summary.context_drift_classification.to_string();
                match d.summary.context_drift_classification {
                    "semantic" => {
                        codes.push("context_semantic_drift");
                        msgs.push("the candidate's context set differs in content".into());
                    }
                    "runtime_only"
                        if !(spec.allow_context_runtime_drift
                            || fixture.options.allow_context_runtime_drift) =>
                    {
                        codes.push("context_runtime_drift_blocked");
                        msgs.push(
                            "only retrieval times moved, but runtime drift is not allowed (--allow-context-runtime-drift)"
                                .into(),
                        );
                    }
                    _ => {}
                }
            }
        }
        let mut outcome = if !codes.is_empty() {
            GradeOutcome::fail(&codes).with_message(msgs.join("; "))
        } else if !spec.context_conformance
            && expected.is_empty()
            && digest.is_empty()
            && fixture.diff.is_none()
        {
            GradeOutcome::pass(&["context_conformance_not_required"])
        } else {
            GradeOutcome::pass(&["context_conformance_pass"])
        };
        if !digest.is_empty() {
            outcome = outcome.with_detail("context_set_digest", digest);
        }
        outcome.context_conformance = Some(classification);
        Ok(outcome)
    }
}
