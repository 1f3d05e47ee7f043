//! `gait run record`: a run-record JSON document → a deterministic, optionally signed runpack
//! (CONTRACTS §3.2, §3.3; vectors `runpacks.jsonl`).
//!
//! Shape of the work, designed for 100,000-record inputs:
//! 1. the document is split by a structural scanner (`split`) into raw slices (`run`, each intent,
//!    each result, `refs`, `normalization`) — no `serde_json::Value` tree is ever built for payloads;
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

/// The run-record document split into its members (values still raw JSON).
#[derive(Default)]
struct InputDoc<'a> {
    run: Option<&'a [u8]>,
    intents: Vec<&'a [u8]>,
    results: Vec<&'a [u8]>,
    refs: Option<&'a [u8]>,
    capture_mode: Option<String>,
    normalization: Option<&'a [u8]>,
}

fn split_input<'a>(input: &'a [u8]) -> Result<InputDoc<'a>, GaitError> {
    let members = super::split::split_object(input, &["intents", "results"])
        .map_err(|e| invalid(format!("parse run record input: {}", e.0)))?;
    let mut doc = InputDoc::default();
    let present = |raw: &[u8]| raw != b"null";
    let elements = |m: super::split::Member<'a>, what: &str| match m.elements {
        Some(items) => Ok(items),
        None => super::split::split_array(m.raw).map_err(|e| parse_err(what, e.0)),
    };
    for member in members {
        let raw = member.raw;
        match member.key.as_str() {
            "run" => doc.run = Some(raw).filter(|r| present(r)),
            "intents" => doc.intents = elements(member, "intents")?,
            "results" => doc.results = elements(member, "results")?,
            "refs" => doc.refs = Some(raw).filter(|r| present(r)),
            "normalization" => doc.normalization = Some(raw).filter(|r| present(r)),
            "capture_mode" => {
                let parsed = canon::parse(raw, ParseOptions::recorded_payload())
                    .map_err(|e| parse_err("capture_mode", e))?;
                doc.capture_mode = match parsed.node {
                    Node::Null => None,
                    Node::Str(s) => Some(s.into_owned()),
                    other => {
                        return Err(parse_err(
                            "capture_mode",
                            format!("expected a string, got {}", other.kind()),
                        ));
                    }
                };
            }
            // Unknown members are ignored, as Go's decoder does, but must still be valid JSON.
            other => {
                canon::parse(raw, ParseOptions::recorded_payload())
                    .map_err(|e| parse_err(other, e))?;
            }
        }
    }
    Ok(doc)
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

/// What refs and warnings need from one processed record (its JCS line went to the chunk buffer).
struct RecordMeta {
    intent_id: String,
    label: String,
    digest: String,
}

/// A run of consecutive records processed together: their JSONL bytes and what the rest needs.
#[derive(Default)]
struct Chunk {
    jsonl: Vec<u8>,
    records: usize,
    /// Only kept when refs need to look records up (gait.trace receipts).
    metas: Vec<RecordMeta>,
    had_payload: bool,
    warnings: Vec<String>,
}

/// Records per parallel work unit: large enough to amortize scheduling, small enough to balance.
const CHUNK_RECORDS: usize = 1024;

fn fill<'a>(slot: &mut Cow<'a, str>, default: &'a str) {
    if slot.is_empty() {
        *slot = Cow::Borrowed(default);
    }
}

/// Parses, digests and re-emits one record into `chunk`.
fn process_record(
    index: usize,
    raw: &[u8],
    kind: RecordKind,
    inherit: &Inherit<'_>,
    normalization: &HashMap<&str, &Node<'_>>,
    chunk: &mut Chunk,
    keep_meta: bool,
) -> Result<(), GaitError> {
    let (list, noun, schema_id, norm_key) = match kind {
        RecordKind::Intent => ("intents", "intent", INTENT_SCHEMA_ID, "intent_args"),
        RecordKind::Result => ("results", "result", RESULT_SCHEMA_ID, "result_payloads"),
    };
    let what = || format!("{list}[{index}]");
    let parsed =
        canon::parse(raw, ParseOptions::recorded_payload()).map_err(|e| parse_err(&what(), e))?;
    let mut rec: RecordFields<'_> = fields::decode_record(parsed.node, kind, &what())
        .map_err(|e| invalid(format!("parse run record input: {e}")))?;
    // Digest-bearing fields (quirk 19): normalization payload > given digest > payload.
    let prefix = "normalize digest-bearing fields";
    if let Some(norm) = normalization.get(rec.intent_id.as_ref()) {
        let digest = canon::digest_node(norm);
        if !rec.digest.is_empty() && !rec.digest.eq_ignore_ascii_case(&digest) {
            let what = if kind == RecordKind::Intent {
                "args"
            } else {
                "result"
            };
            return Err(GaitError::invalid(format!(
                "{prefix}: {noun} {} {what} digest mismatch",
                rec.intent_id
            )));
        }
        rec.digest = Cow::Owned(digest);
    } else if rec.digest.is_empty() {
        match &rec.payload {
            Some(p) => rec.digest = Cow::Owned(canon::digest_node(p)),
            None => {
                return Err(GaitError::invalid(format!(
                    "{prefix}: {noun} {} requires {} or normalization.{norm_key}",
                    rec.intent_id,
                    kind.digest_key()
                )));
            }
        }
    }
    for w in parsed.warnings {
        chunk
            .warnings
            .push(format!("{noun} {}: {w}", rec.intent_id));
    }
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
    chunk.had_payload |= rec.payload.is_some();
    if keep_meta {
        chunk.metas.push(RecordMeta {
            intent_id: rec.intent_id.to_string(),
            label: rec.label.to_string(),
            digest: rec.digest.to_string(),
        });
    }
    let node = fields::encode_record(rec, kind, inherit.capture == CaptureMode::Raw);
    canon::write_jcs(&node, &mut chunk.jsonl);
    chunk.jsonl.push(b'\n');
    chunk.records += 1;
    Ok(())
}

/// Processes every record, in parallel chunks for big inputs; chunks come back in input order.
fn process_all(
    raws: &[&[u8]],
    kind: RecordKind,
    inherit: &Inherit<'_>,
    normalization: &HashMap<&str, &Node<'_>>,
    keep_meta: bool,
) -> Result<Vec<Chunk>, GaitError> {
    let run = |(ci, part): (usize, &[&[u8]])| -> Result<Chunk, GaitError> {
        let mut chunk = Chunk::default();
        for (j, raw) in part.iter().enumerate() {
            process_record(
                ci * CHUNK_RECORDS + j,
                raw,
                kind,
                inherit,
                normalization,
                &mut chunk,
                keep_meta,
            )?;
        }
        Ok(chunk)
    };
    let results: Vec<Result<Chunk, GaitError>> = if raws.len() >= PARALLEL_RECORDS {
        raws.par_chunks(CHUNK_RECORDS)
            .enumerate()
            .map(run)
            .collect()
    } else {
        raws.chunks(CHUNK_RECORDS).enumerate().map(run).collect()
    };
    // The first failing chunk by position, whatever thread found it: errors are deterministic.
    results.into_iter().collect()
}

fn parse_normalization(raw: Option<&[u8]>) -> Result<Option<Node<'_>>, GaitError> {
    let Some(raw) = raw else { return Ok(None) };
    let parsed = canon::parse(raw, ParseOptions::recorded_payload())
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

/// The run without its timeline: what records inherit and the manifest carries. Decoding it skips the
/// timeline (one event per call in big runs), which is decoded in parallel with the records.
#[derive(serde::Deserialize)]
struct RunHeader {
    #[serde(default, deserialize_with = "super::model::nullable")]
    schema_id: String,
    #[serde(default, deserialize_with = "super::model::nullable")]
    schema_version: String,
    #[serde(default, deserialize_with = "super::model::nullable")]
    created_at: GoTime,
    #[serde(default, deserialize_with = "super::model::nullable")]
    producer_version: String,
    #[serde(default, deserialize_with = "super::model::nullable")]
    run_id: String,
    #[serde(default, deserialize_with = "super::model::nullable")]
    env: RunEnv,
}

fn parse_run_header(raw: Option<&[u8]>) -> Result<Run, GaitError> {
    let Some(raw) = raw else {
        return Ok(Run::default());
    };
    let h: RunHeader = serde_json::from_slice(raw).map_err(|e| parse_err("run", e))?;
    Ok(Run {
        schema_id: h.schema_id,
        schema_version: h.schema_version,
        created_at: h.created_at,
        producer_version: h.producer_version,
        run_id: h.run_id,
        env: h.env,
        timeline: None,
    })
}

fn parse_run(raw: Option<&[u8]>) -> Result<Run, GaitError> {
    match raw {
        None => Ok(Run::default()),
        // Typed decoding: every member of a run is a known field (duplicates of those are refused by
        // serde); unknown members are dropped, so nothing free-form is kept from it.
        Some(raw) => serde_json::from_slice(raw).map_err(|e| parse_err("run", e)),
    }
}

/// Run defaults (CONTRACTS §3.2): schema, the clock for a missing `created_at`, the producer version,
/// the platform for empty `env` fields, and `--run-id`.
fn apply_run_defaults(run: &mut Run, opts: &RecordOptions<'_>) {
    if let Some(id) = opts.run_id.map(str::trim).filter(|s| !s.is_empty()) {
        run.run_id = id.to_string();
    }
    fill_string(&mut run.schema_id, RUN_SCHEMA_ID);
    fill_string(&mut run.schema_version, SCHEMA_VERSION);
    if run.created_at.is_zero() {
        run.created_at = opts.now;
    }
    fill_string(&mut run.producer_version, opts.producer_version);
    fill_string(&mut run.env.os, &opts.platform.os);
    fill_string(&mut run.env.arch, &opts.platform.arch);
    fill_string(&mut run.env.runtime, &opts.platform.runtime);
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

/// Everything recorded from the input, owned: the input can be released before the zip is built.
struct Prepared {
    run: Run,
    run_json: Vec<u8>,
    refs: Refs,
    capture: CaptureMode,
    intents: Vec<Chunk>,
    results: Vec<Chunk>,
    refs_warnings: Vec<String>,
}

/// Records a runpack from run-record JSON. Takes the input by value so that it is freed as soon as
/// its records are processed (a 254 MB input should not share the peak with the zip being built).
pub fn record(input: Vec<u8>, opts: &RecordOptions<'_>) -> Result<Recorded, GaitError> {
    let prepared = prepare(&input, opts)?;
    if input.len() >= 64 * 1024 * 1024 {
        // Returning hundreds of megabytes to the OS takes tens of milliseconds; let it overlap
        // with building the zip.
        std::thread::spawn(move || drop(input));
    } else {
        drop(input);
    }
    finish(prepared, opts)
}

fn prepare(input: &[u8], opts: &RecordOptions<'_>) -> Result<Prepared, GaitError> {
    let doc = split_input(input)?;
    let mut run = parse_run_header(doc.run)?;
    apply_run_defaults(&mut run, opts);
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

    let (mut refs, refs_warnings) = match doc.refs {
        Some(raw) => parse_refs_bytes(raw, "refs").map_err(|e| parse_err("refs", e))?,
        None => (Refs::default(), Vec::new()),
    };
    // Records are looked up by id only for gait.trace receipts; skip the index otherwise.
    let keep_meta = refs
        .receipts
        .iter()
        .any(|r| r.source_type == context::TRACE_SOURCE);

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
    let records = || -> Result<_, GaitError> {
        let intents = process_all(
            &doc.intents,
            RecordKind::Intent,
            &inherit,
            &intent_norm,
            keep_meta,
        )?;
        let results = process_all(
            &doc.results,
            RecordKind::Result,
            &inherit,
            &result_norm,
            keep_meta,
        )?;
        Ok((intents, results))
    };
    let encode_run = || -> Result<Vec<u8>, GaitError> {
        let mut full = parse_run(doc.run)?;
        apply_run_defaults(&mut full, opts);
        canon::jcs_of(&full).map_err(|e| GaitError::internal(format!("encode run.json: {e}")))
    };
    // A big run's timeline (one event per call) is decoded and encoded while records are processed.
    let (records, run_json) = if doc.intents.len() + doc.results.len() >= PARALLEL_RECORDS {
        rayon::join(records, encode_run)
    } else {
        (records(), encode_run())
    };
    let (intents, results) = records?;
    let run_json = run_json?;

    // Refs: defaults, receipts, context evidence.
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
        .flat_map(|c| &c.metas)
        .map(|m| (m.intent_id.as_str(), (m.label.as_str(), m.digest.as_str())))
        .collect();
    let result_index: HashMap<&str, &str> = results
        .iter()
        .flat_map(|c| &c.metas)
        .map(|m| (m.intent_id.as_str(), m.digest.as_str()))
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
    Ok(Prepared {
        run,
        run_json,
        refs,
        capture,
        intents,
        results,
        refs_warnings,
    })
}

fn finish(p: Prepared, opts: &RecordOptions<'_>) -> Result<Recorded, GaitError> {
    let intent_count = p.intents.iter().map(|c| c.records).sum();
    let result_count = p.results.iter().map(|c| c.records).sum();
    let had_payload = p.intents.iter().chain(&p.results).any(|c| c.had_payload);
    let mut payload_warnings: Vec<String> = Vec::new();
    for c in p.intents.iter().chain(&p.results) {
        payload_warnings.extend(c.warnings.iter().cloned());
    }
    payload_warnings.extend(p.refs_warnings);
    let run_json = p.run_json;
    let refs_json = canon::jcs_of(&p.refs)
        .map_err(|e| GaitError::internal(format!("encode refs.json: {e}")))?;
    let built = super::build::build_runpack(
        super::build::Parts {
            run: &p.run,
            capture_mode: p.capture.as_str(),
            run_json: &run_json,
            intents_jsonl: p.intents.iter().map(|c| c.jsonl.as_slice()).collect(),
            results_jsonl: p.results.iter().map(|c| c.jsonl.as_slice()).collect(),
            refs_json: &refs_json,
        },
        opts.signing_key,
    )?;

    let mut warnings = Vec::new();
    if had_payload {
        warnings.push(
            match p.capture {
                CaptureMode::Reference => WARN_REFERENCE_STRIPPED,
                CaptureMode::Raw => WARN_RAW_RETAINED,
            }
            .to_string(),
        );
    }
    let extra = payload_warnings.len().saturating_sub(MAX_PAYLOAD_WARNINGS);
    payload_warnings.truncate(MAX_PAYLOAD_WARNINGS);
    warnings.extend(payload_warnings);
    if extra > 0 {
        warnings.push(format!(
            "{extra} more integers beyond ±(2^53-1) were rounded for hashing"
        ));
    }
    Ok(Recorded {
        run_id: p.run.run_id.clone(),
        manifest_digest: built.manifest_digest,
        capture_mode: p.capture,
        signature_key_id: built.signature_key_id,
        warnings,
        zip: built.zip,
        intent_count,
        result_count,
    })
}

fn fill_string(slot: &mut String, default: &str) {
    if slot.is_empty() {
        *slot = default.to_string();
    }
}

/// The zip limits runpacks are written and read with: the writer refuses what the reader would.
pub fn runpack_limits() -> ZipLimits {
    ZipLimits::default()
}
