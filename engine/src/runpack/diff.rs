//! `gait run diff`: deterministic comparison of two runpacks (CONTRACTS §3.8).
//!
//! Records are matched by `intent_id` and compared by digest, ignoring what naturally differs between
//! two recordings of the same behaviour (`run_id`, `producer_version`, `created_at`). With privacy
//! `metadata` the payloads (`args`, `result`) are left out of the comparison (their digests still
//! count) and refs are compared by receipt count only. The manifest comparison ignores run id,
//! producer version, time, digests and file hashes. The two runs are the same when neither manifest,
//! intents, results nor refs changed.
//!
//! gait additions (fields the reference does not write): `changed_intents` and `changed_results` name
//! the intent ids whose records differ on both sides.

use super::fields::{RecordFields, RecordKind};
use super::model::{Receipt, Refs};
use super::read::Runpack;
use crate::canon::{self, Node};
use crate::error::GaitError;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    Full,
    Metadata,
}

impl Privacy {
    pub fn parse(s: &str) -> Result<Self, GaitError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "full" => Ok(Privacy::Full),
            "metadata" => Ok(Privacy::Metadata),
            other => Err(GaitError::invalid(format!(
                "unsupported --privacy {}",
                canon::go_quote(other)
            ))
            .with_hint("use --privacy full or --privacy metadata")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiffSummary {
    pub run_id_left: String,
    pub run_id_right: String,
    pub manifest_changed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files_changed: Vec<String>,
    pub intents_changed: bool,
    pub results_changed: bool,
    pub refs_changed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_only_intents: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub right_only_intents: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_only_results: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub right_only_results: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed_intents: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed_results: Vec<String>,
    /// `none`, `runtime_only` (only retrieval times moved) or `semantic`.
    pub context_drift_classification: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context_runtime_only_changes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiffReport {
    pub privacy: Privacy,
    pub summary: DiffSummary,
}

impl DiffReport {
    pub fn same(&self) -> bool {
        let s = &self.summary;
        !(s.manifest_changed || s.intents_changed || s.results_changed || s.refs_changed)
    }
}

/// Digest of a record without its run-specific fields (and without its payload in metadata mode).
fn record_digest(rec: &RecordFields<'_>, kind: RecordKind, privacy: Privacy) -> String {
    let s = |v: &str| Node::Str(Cow::Owned(v.to_string()));
    let mut members = vec![
        (Cow::Borrowed("schema_id"), s(&rec.schema_id)),
        (Cow::Borrowed("schema_version"), s(&rec.schema_version)),
        (Cow::Borrowed("intent_id"), s(&rec.intent_id)),
        (Cow::Borrowed(kind.label_key()), s(&rec.label)),
        (Cow::Borrowed(kind.digest_key()), s(&rec.digest)),
    ];
    if privacy == Privacy::Full
        && let Some(p) = &rec.payload
    {
        members.push((Cow::Borrowed(kind.payload_key()), p.clone()));
    }
    canon::digest_node(&Node::Obj(members))
}

/// intent_id → digests of that id's records (a list, so duplicate ids still compare).
fn digests(
    recs: &[RecordFields<'_>],
    kind: RecordKind,
    privacy: Privacy,
) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in recs {
        map.entry(r.intent_id.to_string())
            .or_default()
            .push(record_digest(r, kind, privacy));
    }
    map
}

struct SideDiff {
    left_only: Vec<String>,
    right_only: Vec<String>,
    changed: Vec<String>,
}

fn compare(
    left: &BTreeMap<String, Vec<String>>,
    right: &BTreeMap<String, Vec<String>>,
) -> SideDiff {
    let mut d = SideDiff {
        left_only: Vec::new(),
        right_only: Vec::new(),
        changed: Vec::new(),
    };
    for (id, l) in left {
        match right.get(id) {
            None => d.left_only.push(id.clone()),
            Some(r) if r != l => d.changed.push(id.clone()),
            Some(_) => {}
        }
    }
    d.right_only = right
        .keys()
        .filter(|id| !left.contains_key(*id))
        .cloned()
        .collect();
    d
}

fn refs_digest(refs: &Refs) -> Result<String, GaitError> {
    let mut r = refs.clone();
    r.run_id.clear();
    r.producer_version.clear();
    r.created_at = crate::GoTime::zero();
    canon::digest_of(&r).map_err(|e| GaitError::internal(format!("digest refs: {e}")))
}

fn receipt_without_runtime(r: &Receipt) -> Receipt {
    Receipt {
        retrieved_at: crate::GoTime::zero(),
        ..r.clone()
    }
}

fn context_drift(left: &Refs, right: &Refs) -> (&'static str, Vec<String>) {
    if left.context_set_digest == right.context_set_digest {
        return ("none", Vec::new());
    }
    let index = |refs: &Refs| -> BTreeMap<String, Receipt> {
        refs.receipts
            .iter()
            .map(|r| (r.ref_id.clone(), r.clone()))
            .collect()
    };
    let (l, r) = (index(left), index(right));
    let ids: BTreeSet<&String> = l.keys().chain(r.keys()).collect();
    let mut runtime = Vec::new();
    for id in ids {
        match (l.get(id), r.get(id)) {
            (Some(a), Some(b)) if receipt_without_runtime(a) == receipt_without_runtime(b) => {
                if a.retrieved_at != b.retrieved_at {
                    runtime.push(format!("{id}.retrieved_at"));
                }
            }
            _ => return ("semantic", Vec::new()),
        }
    }
    if runtime.is_empty() {
        // Different digests over identical receipts: the context set itself differs.
        return ("semantic", Vec::new());
    }
    ("runtime_only", runtime)
}

/// Compares two runpacks.
pub fn diff(
    left: &Runpack<'_>,
    right: &Runpack<'_>,
    privacy: Privacy,
) -> Result<DiffReport, GaitError> {
    let (lm, rm) = (&left.manifest, &right.manifest);
    let paths = |m: &super::model::Manifest| -> BTreeSet<String> {
        m.files.iter().flatten().map(|f| f.path.clone()).collect()
    };
    let (lp, rp) = (paths(lm), paths(rm));
    let files_changed: Vec<String> = lp.symmetric_difference(&rp).cloned().collect();
    let manifest_changed = lm.schema_id != rm.schema_id
        || lm.schema_version != rm.schema_version
        || lm.capture_mode != rm.capture_mode
        || lp != rp;
    let intents = compare(
        &digests(&left.intents, RecordKind::Intent, privacy),
        &digests(&right.intents, RecordKind::Intent, privacy),
    );
    let results = compare(
        &digests(&left.results, RecordKind::Result, privacy),
        &digests(&right.results, RecordKind::Result, privacy),
    );
    let refs_changed = match privacy {
        Privacy::Full => refs_digest(&left.refs)? != refs_digest(&right.refs)?,
        Privacy::Metadata => left.refs.receipts.len() != right.refs.receipts.len(),
    };
    let (classification, runtime_changes) = context_drift(&left.refs, &right.refs);
    let changed =
        |d: &SideDiff| !(d.left_only.is_empty() && d.right_only.is_empty() && d.changed.is_empty());
    Ok(DiffReport {
        privacy,
        summary: DiffSummary {
            run_id_left: lm.run_id.clone(),
            run_id_right: rm.run_id.clone(),
            manifest_changed,
            files_changed,
            intents_changed: changed(&intents),
            results_changed: changed(&results),
            refs_changed,
            left_only_intents: intents.left_only,
            right_only_intents: intents.right_only,
            left_only_results: results.left_only,
            right_only_results: results.right_only,
            changed_intents: intents.changed,
            changed_results: results.changed,
            context_drift_classification: classification,
            context_runtime_only_changes: runtime_changes,
        },
    })
}
