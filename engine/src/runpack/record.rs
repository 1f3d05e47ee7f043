//! `gait run record`: a run-record JSON document → a deterministic, optionally signed runpack
//! (CONTRACTS §3.2, §3.3; vectors `runpacks.jsonl`).
//!
//! Shape of the work, designed for 100,000-record inputs:
//! 1. the document is split with serde into borrowed raw values (`run`, each intent, each result,
//!    `refs`, `normalization`) — no `serde_json::Value` tree is ever built for payloads;
//! 2. every intent and result is parsed by the strict canonical parser, digested straight into sha256
//!    and re-emitted as its JCS line, in parallel across records;
//! 3. refs, run and manifest are small; the five entries are hashed, the manifest digested (and signed),
//!    and the entries deflated in parallel into the zip.
//!
//! Reference behaviours kept on purpose (vectors): a given `args_digest`/`result_digest` is not
//! recomputed from the payload unless `normalization.*` supplies the raw payload (quirk 19); per-record
//! `created_at`/`producer_version`/`run_id`/schema fields are kept, empty ones inherit from the run; times
//! keep their offsets; `env` defaults to the platform. gait differences: duplicate JSON keys anywhere in
//! the input are rejected, integers beyond ±(2^53−1) in payloads round with a warning (DEVIATIONS #2),
//! and run ids that are not safe file-name parts are refused.

use super::context::{self, EvidenceMode};
use super::fields::{self, RecordFields, RecordKind};
use super::model::*;
use crate::GoTime;
use crate::canon::{self, Node, ParseOptions};
use crate::crypto::PrivateKey;
use crate::error::GaitError;
use crate::zipx::ZipLimits;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;

pub const WARN_REFERENCE_STRIPPED: &str =
    "reference capture stripped raw intent arguments and raw result payloads after digesting";
pub const WARN_RAW_RETAINED: &str = "raw capture retains raw intent arguments and raw result payloads; handle runpack as sensitive evidence";

/// Payload warnings (rounded big integers) listed before the rest are summarized.
const MAX_PAYLOAD_WARNINGS: usize = 20;
/// Fewer records than this are processed on the calling thread (no worker start-up for small runs).
const PARALLEL_RECORDS: usize = 64;

/// `reference` (default: payloads digested, then stripped) or `raw` (payloads kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureMode {
    Reference,
    Raw,
}

impl CaptureMode {
    pub fn parse(s: &str) -> Result<Self, GaitError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "reference" => Ok(CaptureMode::Reference),
            "raw" => Ok(CaptureMode::Raw),
            // The reference's message, with the default hint (vector runpack-err-bad-capture-mode).
            _ => Err(GaitError::invalid(
                "capture mode must be one of: reference, raw",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMode::Reference => "reference",
            CaptureMode::Raw => "raw",
        }
    }
}

/// Everything `record` needs besides the input bytes. The CLI fills it from flags, files and the clock.
pub struct RecordOptions<'a> {
    /// `--run-id`: replaces the run id of the run and of every record.
    pub run_id: Option<&'a str>,
    /// `--capture-mode`: overrides the input's `capture_mode`.
    pub capture_mode: Option<&'a str>,
    /// Bytes of a `gait.context.envelope` file (`--context-envelope`).
    pub context_envelope: Option<&'a [u8]>,
    /// `--context-evidence-mode` when given explicitly.
    pub context_evidence_mode: Option<&'a str>,
    /// `--unsafe-context-raw`: allow receipts with `redaction_mode=raw`.
    pub unsafe_context_raw: bool,
    /// Signs the manifest when set.
    pub signing_key: Option<&'a PrivateKey>,
    /// The wall clock, used when the run has no `created_at`.
    pub now: GoTime,
    /// Written into `run.env` fields the input leaves empty.
    pub platform: &'a Platform,
    pub producer_version: &'a str,
}

/// A recorded runpack, in memory.
#[derive(Debug)]
pub struct Recorded {
    pub run_id: String,
    pub manifest_digest: String,
    pub capture_mode: CaptureMode,
    pub signature_key_id: Option<String>,
    pub warnings: Vec<String>,
    pub zip: Vec<u8>,
    pub intent_count: usize,
    pub result_count: usize,
}

#[derive(Deserialize)]
struct InputDoc<'a> {
    #[serde(borrow, default)]
    run: Option<&'a RawValue>,
    #[serde(borrow, default)]
    intents: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    results: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    refs: Option<&'a RawValue>,
    #[serde(default)]
    capture_mode: Option<String>,
    #[serde(borrow, default)]
    normalization: Option<&'a RawValue>,
}

fn invalid(msg: impl Into<String>) -> GaitError {
    GaitError::invalid(msg).with_hint(
        "the input is a run record: {run, intents, results, refs, capture_mode, normalization} (CONTRACTS §3.3)",
    )
}

fn parse_err(part: &str, e: impl std::fmt::Display) -> GaitError {
    invalid(format!("parse run record input: {part}: {e}"))
}

/// Refuses run ids that cannot safely name `runpack_<run_id>.zip`.
pub fn check_run_id(run_id: &str) -> Result<(), GaitError> {
    if run_id.contains(['/', '\\']) || run_id.chars().any(char::is_control) || run_id == ".." {
        return Err(GaitError::invalid(format!(
            "run_id {} must not contain path separators or control characters",
            canon::go_quote(run_id)
        ))
        .with_hint(
            "run ids name files (runpack_<run_id>.zip); use letters, digits, '_', '-', '.'",
        ));
    }
    Ok(())
}

/// Record-level defaults inherited from the run.
struct Inherit<'r> {
    run_id: &'r str,
    run_id_override: bool,
    created_at: GoTime,
    producer_version: &'r str,
    capture: CaptureMode,
}

/// One processed record: its JCS line and what refs and warnings need from it.
struct Processed {
    line: Vec<u8>,
    intent_id: String,
    label: String,
    digest: String,
    had_payload: bool,
    warnings: Vec<String>,
}

fn fill<'a>(slot: &mut Cow<'a, str>, default: &'a str) {
    if slot.is_empty() {
        *slot = Cow::Borrowed(default);
    }
}

fn process_record(
    index: usize,
    raw: &RawValue,
    kind: RecordKind,
    inherit: &Inherit<'_>,
    normalization: &HashMap<&str, &Node<'_>>,
) -> Result<Processed, GaitError> {
    let (list, noun, schema_id, norm_key) = match kind {
        RecordKind::Intent => ("intents", "intent", INTENT_SCHEMA_ID, "intent_args"),
        RecordKind::Result => ("results", "result", RESULT_SCHEMA_ID, "result_payloads"),
    };
    let what = format!("{list}[{index}]");
    let parsed = canon::parse(raw.get().as_bytes(), ParseOptions::recorded_payload())
        .map_err(|e| parse_err(&what, e))?;
    let mut rec: RecordFields<'_> = fields::decode_record(parsed.node, kind, &what)
        .map_err(|e| invalid(format!("parse run record input: {e}")))?;
    let mut warnings: Vec<String> = Vec::new();
    let id = rec.intent_id.to_string();
    let payload_warnings = |ws: Vec<String>, warnings: &mut Vec<String>| {
        warnings.extend(ws.into_iter().map(|w| format!("{noun} {id}: {w}")));
    };
    // Digest-bearing fields (quirk 19): normalization payload > given digest > payload.
    let prefix = "normalize digest-bearing fields";
    if let Some(norm) = normalization.get(id.as_str()) {
        let digest = canon::digest_node(norm);
        if !rec.digest.is_empty() && !rec.digest.eq_ignore_ascii_case(&digest) {
            let what = if kind == RecordKind::Intent {
                "args"
            } else {
                "result"
            };
            return Err(GaitError::invalid(format!(
                "{prefix}: {noun} {id} {what} digest mismatch"
            )));
        }
        rec.digest = Cow::Owned(digest);
    } else if rec.digest.is_empty() {
        match &rec.payload {
            Some(p) => rec.digest = Cow::Owned(canon::digest_node(p)),
            None => {
                return Err(GaitError::invalid(format!(
                    "{prefix}: {noun} {id} requires {} or normalization.{norm_key}",
                    kind.digest_key()
                )));
            }
        }
    }
    payload_warnings(parsed.warnings, &mut warnings);
    fill(&mut rec.schema_id, schema_id);
    fill(&mut rec.schema_version, SCHEMA_VERSION);
    if rec.created_at.is_zero() {
        rec.created_at = inherit.created_at;
    }
    fill(&mut rec.producer_version, inherit.producer_version);
    if inherit.run_id_override {
        rec.run_id = Cow::Borrowed(inherit.run_id);
    } else {
        fill(&mut rec.run_id, inherit.run_id);
    }
    let had_payload = rec.payload.is_some();
    let label = rec.label.to_string();
    let digest = rec.digest.to_string();
    let node = fields::encode_record(rec, kind, inherit.capture == CaptureMode::Raw);
    let mut line = Vec::with_capacity(raw.get().len() / 2 + 256);
    canon::write_jcs(&node, &mut line);
    line.push(b'\n');
    Ok(Processed {
        line,
        intent_id: id,
        label,
        digest,
        had_payload,
        warnings,
    })
}

fn process_all(
    raws: &[&RawValue],
    kind: RecordKind,
    inherit: &Inherit<'_>,
    normalization: &HashMap<&str, &Node<'_>>,
) -> Result<Vec<Processed>, GaitError> {
    let run = |(i, raw): (usize, &&RawValue)| process_record(i, raw, kind, inherit, normalization);
    let results: Vec<Result<Processed, GaitError>> = if raws.len() >= PARALLEL_RECORDS {
        raws.par_iter().enumerate().map(run).collect()
    } else {
        raws.iter().enumerate().map(run).collect()
    };
    // The first failing record by position, whatever thread found it: errors are deterministic.
    results.into_iter().collect()
}

fn parse_normalization<'a>(raw: Option<&'a RawValue>) -> Result<Option<Node<'a>>, GaitError> {
    let Some(raw) = raw else { return Ok(None) };
    let parsed = canon::parse(raw.get().as_bytes(), ParseOptions::recorded_payload())
        .map_err(|e| parse_err("normalization", e))?;
    match &parsed.node {
        Node::Null | Node::Obj(_) => Ok(Some(parsed.node)),
        other => Err(parse_err(
            "normalization",
            format!("expected an object, got {}", other.kind()),
        )),
    }
}

fn normalization_map<'n, 'a>(
    norm: &'n Option<Node<'a>>,
    key: &str,
) -> Result<HashMap<&'n str, &'n Node<'a>>, GaitError> {
    let mut map = HashMap::new();
    let Some(section) = norm.as_ref().and_then(|n| n.get(key)) else {
        return Ok(map);
    };
    match section {
        Node::Null => {}
        Node::Obj(members) => {
            for (k, v) in members {
                map.insert(k.as_ref(), v);
            }
        }
        other => {
            return Err(parse_err(
                &format!("normalization.{key}"),
                format!("expected an object, got {}", other.kind()),
            ));
        }
    }
    Ok(map)
}

fn parse_run(raw: Option<&RawValue>) -> Result<Run, GaitError> {
    match raw {
        None => Ok(Run::default()),
        Some(raw) => {
            // Strict first (duplicate keys anywhere are refused), then typed decoding.
            canon::parse(raw.get().as_bytes(), ParseOptions::recorded_payload())
                .map_err(|e| parse_err("run", e))?;
            serde_json::from_str(raw.get()).map_err(|e| parse_err("run", e))
        }
    }
}

/// Decodes a refs object strictly (its `retrieval_params` are free-form JSON).
pub(crate) fn parse_refs_bytes(bytes: &[u8], what: &str) -> Result<(Refs, Vec<String>), String> {
    let parsed =
        canon::parse(bytes, ParseOptions::recorded_payload()).map_err(|e| e.to_string())?;
    let refs = match &parsed.node {
        Node::Null => Refs::default(),
        Node::Obj(_) => {
            serde_json::from_value(parsed.node.to_value()).map_err(|e| e.to_string())?
        }
        other => return Err(format!("{what}: expected an object, got {}", other.kind())),
    };
    Ok((refs, parsed.warnings))
}

/// Records a runpack from run-record JSON.
pub fn record(input: &[u8], opts: &RecordOptions<'_>) -> Result<Recorded, GaitError> {
    let doc: InputDoc<'_> = serde_json::from_slice(input)
        .map_err(|e| invalid(format!("parse run record input: {e}")))?;
    let mut run = parse_run(doc.run)?;
    if let Some(id) = opts.run_id.map(str::trim).filter(|s| !s.is_empty()) {
        run.run_id = id.to_string();
    }
    if run.run_id.trim().is_empty() {
        return Err(GaitError::invalid(
            "input run.run_id is required (or set --run-id)",
        ));
    }
    check_run_id(&run.run_id)?;
    let capture = match opts.capture_mode.filter(|s| !s.trim().is_empty()) {
        Some(flag) => CaptureMode::parse(flag)?,
        None => CaptureMode::parse(doc.capture_mode.as_deref().unwrap_or(""))?,
    };
    let mode_flag = match opts.context_evidence_mode {
        Some(m) => Some(EvidenceMode::parse(m)?),
        None => None,
    };
    let envelope = match opts.context_envelope {
        Some(bytes) => Some(context::parse_envelope(bytes)?),
        None => None,
    };

    // Run defaults.
    fill_string(&mut run.schema_id, RUN_SCHEMA_ID);
    fill_string(&mut run.schema_version, SCHEMA_VERSION);
    if run.created_at.is_zero() {
        run.created_at = opts.now;
    }
    fill_string(&mut run.producer_version, opts.producer_version);
    fill_string(&mut run.env.os, &opts.platform.os);
    fill_string(&mut run.env.arch, &opts.platform.arch);
    fill_string(&mut run.env.runtime, &opts.platform.runtime);

    let normalization = parse_normalization(doc.normalization)?;
    let intent_norm = normalization_map(&normalization, "intent_args")?;
    let result_norm = normalization_map(&normalization, "result_payloads")?;
    let inherit = Inherit {
        run_id: &run.run_id,
        run_id_override: opts.run_id.is_some_and(|s| !s.trim().is_empty()),
        created_at: run.created_at,
        producer_version: &run.producer_version,
        capture,
    };
    let intents = process_all(
        doc.intents.as_deref().unwrap_or(&[]),
        RecordKind::Intent,
        &inherit,
        &intent_norm,
    )?;
    let results = process_all(
        doc.results.as_deref().unwrap_or(&[]),
        RecordKind::Result,
        &inherit,
        &result_norm,
    )?;

    // Refs: defaults, receipts, context evidence.
    let (mut refs, mut refs_warnings) = match doc.refs {
        Some(raw) => {
            parse_refs_bytes(raw.get().as_bytes(), "refs").map_err(|e| parse_err("refs", e))?
        }
        None => (Refs::default(), Vec::new()),
    };
    fill_string(&mut refs.schema_id, REFS_SCHEMA_ID);
    fill_string(&mut refs.schema_version, SCHEMA_VERSION);
    if refs.created_at.is_zero() {
        refs.created_at = run.created_at;
    }
    fill_string(&mut refs.producer_version, &run.producer_version);
    if inherit.run_id_override || refs.run_id.is_empty() {
        refs.run_id = run.run_id.clone();
    }
    let intent_index: HashMap<&str, (&str, &str)> = intents
        .iter()
        .map(|p| (p.intent_id.as_str(), (p.label.as_str(), p.digest.as_str())))
        .collect();
    let result_index: HashMap<&str, &str> = results
        .iter()
        .map(|p| (p.intent_id.as_str(), p.digest.as_str()))
        .collect();
    context::normalize_refs(
        &mut refs,
        &context::RefsContext {
            intents: &intent_index,
            results: &result_index,
            envelope: envelope.as_ref(),
            mode_flag,
            unsafe_context_raw: opts.unsafe_context_raw,
        },
    )?;

    // Entries.
    let intents_jsonl = concat_lines(&intents);
    let results_jsonl = concat_lines(&results);
    let run_json =
        canon::jcs_of(&run).map_err(|e| GaitError::internal(format!("encode run.json: {e}")))?;
    let refs_json =
        canon::jcs_of(&refs).map_err(|e| GaitError::internal(format!("encode refs.json: {e}")))?;
    let built = super::build::build_runpack(
        super::build::Parts {
            run: &run,
            capture_mode: capture.as_str(),
            run_json: &run_json,
            intents_jsonl: &intents_jsonl,
            results_jsonl: &results_jsonl,
            refs_json: &refs_json,
        },
        opts.signing_key,
    )?;

    let mut warnings = Vec::new();
    let had_payload = intents.iter().chain(&results).any(|p| p.had_payload);
    if had_payload {
        warnings.push(
            match capture {
                CaptureMode::Reference => WARN_REFERENCE_STRIPPED,
                CaptureMode::Raw => WARN_RAW_RETAINED,
            }
            .to_string(),
        );
    }
    let mut payload_warnings: Vec<String> = intents
        .iter()
        .chain(&results)
        .flat_map(|p| p.warnings.iter().cloned())
        .collect();
    payload_warnings.append(&mut refs_warnings);
    let extra = payload_warnings.len().saturating_sub(MAX_PAYLOAD_WARNINGS);
    payload_warnings.truncate(MAX_PAYLOAD_WARNINGS);
    warnings.extend(payload_warnings);
    if extra > 0 {
        warnings.push(format!(
            "{extra} more integers beyond ±(2^53-1) were rounded for hashing"
        ));
    }
    Ok(Recorded {
        run_id: run.run_id.clone(),
        manifest_digest: built.manifest_digest,
        capture_mode: capture,
        signature_key_id: built.signature_key_id,
        warnings,
        zip: built.zip,
        intent_count: intents.len(),
        result_count: results.len(),
    })
}

fn fill_string(slot: &mut String, default: &str) {
    if slot.is_empty() {
        *slot = default.to_string();
    }
}

fn concat_lines(records: &[Processed]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|p| p.line.len()).sum());
    for p in records {
        out.extend_from_slice(&p.line);
    }
    out
}

/// The zip limits runpacks are written and read with: the writer refuses what the reader would.
pub fn runpack_limits() -> ZipLimits {
    ZipLimits::default()
}
