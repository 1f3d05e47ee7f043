//! `gait run inspect`: a deterministic timeline of a runpack's intents and results.

use super::model::TimelineEvent;
use super::read::Runpack;
use crate::GoTime;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Clone, Debug, Serialize)]
pub struct InspectStep {
    pub index: usize,
    pub intent_id: String,
    pub tool_name: String,
    pub args_digest: String,
    /// The result's status, or `missing` when the intent has no result.
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub result_digest: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    pub run_id: String,
    pub created_at: GoTime,
    pub producer_version: String,
    pub capture_mode: String,
    pub manifest_digest: String,
    pub intent_count: usize,
    pub result_count: usize,
    pub ref_count: usize,
    pub steps: Vec<InspectStep>,
    /// Results whose intent is not in the runpack.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphan_results: Vec<String>,
    pub timeline: Vec<TimelineEvent>,
}

pub fn inspect(rp: &Runpack<'_>) -> Inspection {
    let mut results: HashMap<&str, (&str, &str)> = HashMap::new();
    for r in &rp.results {
        results
            .entry(r.intent_id.as_ref())
            .or_insert((r.label.as_ref(), r.digest.as_ref()));
    }
    let steps = rp
        .intents
        .iter()
        .enumerate()
        .map(|(i, intent)| {
            let (status, digest) = results
                .get(intent.intent_id.as_ref())
                .copied()
                .unwrap_or(("missing", ""));
            InspectStep {
                index: i + 1,
                intent_id: intent.intent_id.to_string(),
                tool_name: intent.label.to_string(),
                args_digest: intent.digest.to_string(),
                status: status.to_string(),
                result_digest: digest.to_string(),
            }
        })
        .collect();
    let orphan_results = rp
        .results
        .iter()
        .filter(|r| !rp.intents.iter().any(|i| i.intent_id == r.intent_id))
        .map(|r| r.intent_id.to_string())
        .collect();
    Inspection {
        run_id: rp.manifest.run_id.clone(),
        created_at: rp.manifest.created_at,
        producer_version: rp.manifest.producer_version.clone(),
        capture_mode: rp.manifest.capture_mode.clone(),
        manifest_digest: rp.manifest.manifest_digest.clone(),
        intent_count: rp.intents.len(),
        result_count: rp.results.len(),
        ref_count: rp.refs.receipts.len(),
        steps,
        orphan_results,
        timeline: rp.run.timeline.clone().unwrap_or_default(),
    }
}
