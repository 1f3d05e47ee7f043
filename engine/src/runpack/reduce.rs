//! `gait run reduce`: the smallest runpack that still shows a failure (CONTRACTS §1.2, §3.8).
//!
//! The first intent (in recorded order) that meets the predicate is kept with its result (if any), the
//! receipts that reference it (`trace_<intent_id>`) and the timeline events that are not about other
//! intents; everything else goes. The reduced run id is `<run_id>_reduced_<predicate without '_'>`
//! (e.g. `run_demo_reduced_missingresult`). The report says what was kept and whether the reduced
//! runpack, read back, still meets the predicate.

use super::fields::RecordFields;
use super::model::*;
use super::read::{self, RunpackFiles};
use super::rebuild::{Rebuild, rerecord};
use super::record::Recorded;
use crate::GoTime;
use crate::error::GaitError;
use serde::Serialize;

pub const REPORT_SCHEMA_ID: &str = "gait.runpack.reduce_report";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Predicate {
    MissingResult,
    NonOkStatus,
}

impl Predicate {
    pub fn parse(s: &str) -> Result<Self, GaitError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "missing_result" => Ok(Predicate::MissingResult),
            "non_ok_status" => Ok(Predicate::NonOkStatus),
            other => Err(GaitError::invalid(format!(
                "unsupported --predicate {}",
                crate::canon::go_quote(other)
            ))
            .with_hint("use --predicate missing_result or --predicate non_ok_status")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Predicate::MissingResult => "missing_result",
            Predicate::NonOkStatus => "non_ok_status",
        }
    }

    /// The first intent id (in order) that meets the predicate.
    pub fn select<'r>(
        self,
        intents: &'r [RecordFields<'_>],
        results: &[RecordFields<'_>],
    ) -> Option<&'r RecordFields<'r>> {
        intents.iter().find(|i| {
            let result = results.iter().find(|r| r.intent_id == i.intent_id);
            match self {
                Predicate::MissingResult => result.is_none(),
                Predicate::NonOkStatus => result.is_some_and(|r| r.label != "ok"),
            }
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ReduceReport {
    pub schema_id: &'static str,
    pub schema_version: &'static str,
    pub created_at: GoTime,
    pub producer_version: String,
    pub run_id: String,
    pub reduced_run_id: String,
    pub predicate: Predicate,
    pub selected_intent_id: String,
    pub original_intent_count: usize,
    pub original_result_count: usize,
    pub original_ref_count: usize,
    pub reduced_intent_count: usize,
    pub reduced_result_count: usize,
    pub reduced_ref_count: usize,
    pub still_failing: bool,
}

pub fn reduced_run_id(run_id: &str, predicate: Predicate) -> String {
    format!("{run_id}_reduced_{}", predicate.as_str().replace('_', ""))
}

/// Reduces a runpack. Fails (invalid input) when no intent meets the predicate.
pub fn reduce(
    files: &RunpackFiles,
    predicate: Predicate,
    producer_version: &str,
) -> Result<(Recorded, ReduceReport), GaitError> {
    let rp = files.parse()?;
    let run_id = rp.manifest.run_id.clone();
    let Some(selected) = predicate.select(&rp.intents, &rp.results) else {
        return Err(GaitError::invalid(format!(
            "runpack {run_id} has no intent matching predicate {}",
            predicate.as_str()
        ))
        .with_hint("reduce keeps a failure: pick the predicate the run actually fails (missing_result or non_ok_status)"));
    };
    let selected_id = selected.intent_id.to_string();
    let intent_lines: Vec<&[u8]> = read::lines(&files.intents)
        .into_iter()
        .zip(&rp.intents)
        .filter(|(_, r)| r.intent_id == selected_id)
        .take(1)
        .map(|(l, _)| l)
        .collect();
    let result_lines: Vec<&[u8]> = read::lines(&files.results)
        .into_iter()
        .zip(&rp.results)
        .filter(|(_, r)| r.intent_id == selected_id)
        .take(1)
        .map(|(l, _)| l)
        .collect();
    let mut run = rp.run.clone();
    if let Some(timeline) = &mut run.timeline {
        timeline.retain(|e| e.reference.is_empty() || e.reference == selected_id);
    }
    let mut refs = rp.refs.clone();
    let trace_ref = format!("trace_{selected_id}");
    refs.receipts.retain(|r| r.ref_id == trace_ref);
    let reduced_id = reduced_run_id(&run_id, predicate);
    let recorded = rerecord(&Rebuild {
        run: &run,
        intent_lines: &intent_lines,
        result_lines: &result_lines,
        refs: &refs,
        capture_mode: &rp.manifest.capture_mode,
        run_id: Some(&reduced_id),
        signing_key: None,
        producer_version,
    })?;
    // Read the reduced runpack back and check the failure is still there.
    let back = read::read_files(&read::open_archive(recorded.zip.clone())?)?;
    let back_rp = back.parse()?;
    let still_failing = predicate
        .select(&back_rp.intents, &back_rp.results)
        .is_some();
    let report = ReduceReport {
        schema_id: REPORT_SCHEMA_ID,
        schema_version: SCHEMA_VERSION,
        created_at: rp.manifest.created_at,
        producer_version: rp.manifest.producer_version.clone(),
        run_id,
        reduced_run_id: reduced_id,
        predicate,
        selected_intent_id: selected_id,
        original_intent_count: rp.intents.len(),
        original_result_count: rp.results.len(),
        original_ref_count: rp.refs.receipts.len(),
        reduced_intent_count: back_rp.intents.len(),
        reduced_result_count: back_rp.results.len(),
        reduced_ref_count: back_rp.refs.receipts.len(),
        still_failing,
    };
    Ok((recorded, report))
}
