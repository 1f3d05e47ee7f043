//! Re-recording recorded content (reduce, migrate): the records of an existing runpack go back through
//! the one recording pipeline, so every derived runpack follows exactly the same rules as a fresh one.
//!
//! The run-record document is assembled from the entries' bytes (JSONL lines are already JSON
//! objects), so large runpacks are never expanded into value trees.

use super::model::{Refs, Run};
use super::record::{RecordOptions, Recorded, record};
use crate::crypto::PrivateKey;
use crate::error::GaitError;

/// What to re-record.
pub struct Rebuild<'a> {
    pub run: &'a Run,
    pub intent_lines: &'a [&'a [u8]],
    pub result_lines: &'a [&'a [u8]],
    pub refs: &'a Refs,
    pub capture_mode: &'a str,
    /// Replaces the run id everywhere when set.
    pub run_id: Option<&'a str>,
    pub signing_key: Option<&'a PrivateKey>,
    pub producer_version: &'a str,
}

fn push_array(doc: &mut Vec<u8>, key: &str, lines: &[&[u8]]) {
    doc.extend_from_slice(format!(",\"{key}\":[").as_bytes());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            doc.push(b',');
        }
        doc.extend_from_slice(line);
    }
    doc.push(b']');
}

fn encode<T: serde::Serialize + ?Sized>(what: &str, v: &T) -> Result<Vec<u8>, GaitError> {
    serde_json::to_vec(v).map_err(|e| GaitError::internal(format!("encode {what}: {e}")))
}

pub fn rerecord(b: &Rebuild<'_>) -> Result<Recorded, GaitError> {
    let mut doc = Vec::new();
    doc.extend_from_slice(b"{\"run\":");
    doc.extend_from_slice(&encode("run", b.run)?);
    push_array(&mut doc, "intents", b.intent_lines);
    push_array(&mut doc, "results", b.result_lines);
    doc.extend_from_slice(b",\"refs\":");
    doc.extend_from_slice(&encode("refs", b.refs)?);
    doc.extend_from_slice(b",\"capture_mode\":");
    doc.extend_from_slice(&encode("capture_mode", b.capture_mode)?);
    doc.push(b'}');
    let platform = super::model::Platform {
        os: b.run.env.os.clone(),
        arch: b.run.env.arch.clone(),
        runtime: b.run.env.runtime.clone(),
    };
    record(
        doc,
        &RecordOptions {
            run_id: b.run_id,
            capture_mode: Some(b.capture_mode),
            context_envelope: None,
            context_evidence_mode: None,
            // The receipts were accepted when the source was recorded; re-packaging them is not a new
            // capture of raw context.
            unsafe_context_raw: true,
            signing_key: b.signing_key,
            now: b.run.created_at,
            platform: &platform,
            producer_version: b.producer_version,
        },
    )
}
