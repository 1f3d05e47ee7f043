//! Reference receipts and context evidence: `refs.json` normalization and the context envelope.
//!
//! Receipts (CONTRACTS §3.2): sorted by `ref_id`; `immutability` lowercased, default `unknown`;
//! receipts with `source_type` `gait.trace` and `ref_id` `trace_<intent_id>` get derived digests
//! (query = JCS digest of `{tool_name, args_digest}`, content = the intent's `result_digest`); every
//! receipt must end up with both digests; `redaction_mode=raw` needs `--unsafe-context-raw`.
//!
//! Context envelope (`gait.context.envelope`): its records become receipts, and its
//! `context_set_digest` is sha256(JCS(records)) over the normalized records sorted by `ref_id` — the
//! formula reproduces the reference's digest in vector `runpack-context-envelope`.

use super::model::{Receipt, Refs};
use crate::canon::{self, ParseOptions};
use crate::error::GaitError;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};

pub const ENVELOPE_SCHEMA_ID: &str = "gait.context.envelope";
pub const TRACE_SOURCE: &str = "gait.trace";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvidenceMode {
    BestEffort,
    Required,
}

impl EvidenceMode {
    pub fn parse(s: &str) -> Result<Self, GaitError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "best_effort" => Ok(EvidenceMode::BestEffort),
            "required" => Ok(EvidenceMode::Required),
            _ => Err(GaitError::invalid(format!(
                "context evidence mode must be one of: best_effort, required (got {})",
                canon::go_quote(s)
            ))
            .with_hint("use --context-evidence-mode best_effort (default) or required")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceMode::BestEffort => "best_effort",
            EvidenceMode::Required => "required",
        }
    }
}

/// A validated context envelope.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub context_set_id: String,
    pub evidence_mode: Option<EvidenceMode>,
    /// Normalized and sorted by `ref_id`.
    pub records: Vec<Receipt>,
    pub context_set_digest: String,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    #[serde(default, deserialize_with = "super::model::nullable")]
    schema_id: String,
    #[serde(default, deserialize_with = "super::model::nullable")]
    context_set_id: String,
    #[serde(default, deserialize_with = "super::model::nullable")]
    evidence_mode: String,
    #[serde(default, deserialize_with = "super::model::nullable")]
    records: Vec<Receipt>,
    #[serde(default, deserialize_with = "super::model::nullable")]
    context_set_digest: String,
}

fn envelope_err(msg: impl Into<String>) -> GaitError {
    GaitError::invalid(format!("context envelope: {}", msg.into())).with_hint(
        "a context envelope is {schema_id: gait.context.envelope, context_set_id, evidence_mode, records[{ref_id, source_type, source_locator, query_digest, content_digest, retrieved_at, redaction_mode}]}",
    )
}

/// `immutability` lowercased with default `unknown` (vector `runpack-receipts-sorted`).
pub fn normalize_receipt(r: &mut Receipt) {
    let imm = r.immutability.trim().to_lowercase();
    r.immutability = if imm.is_empty() {
        "unknown".to_string()
    } else {
        imm
    };
}

/// The context-set digest of normalized records: sha256 of the JCS array sorted by `ref_id`.
pub fn context_set_digest(sorted_records: &[Receipt]) -> Result<String, GaitError> {
    canon::digest_of(sorted_records)
        .map_err(|e| GaitError::internal(format!("digest context records: {e}")))
}

/// Parses and validates an envelope file.
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, GaitError> {
    let parsed = canon::parse(bytes, ParseOptions::recorded_payload())
        .map_err(|e| envelope_err(format!("parse: {e}")))?;
    let env: EnvelopeIn = serde_json::from_value(parsed.node.to_value())
        .map_err(|e| envelope_err(format!("parse: {e}")))?;
    if !env.schema_id.is_empty() && env.schema_id != ENVELOPE_SCHEMA_ID {
        return Err(envelope_err(format!(
            "schema_id must be {ENVELOPE_SCHEMA_ID}, got {}",
            canon::go_quote(&env.schema_id)
        )));
    }
    let evidence_mode = if env.evidence_mode.trim().is_empty() {
        None
    } else {
        Some(EvidenceMode::parse(&env.evidence_mode)?)
    };
    let mut records = env.records;
    let mut seen = BTreeSet::new();
    for r in &mut records {
        normalize_receipt(r);
        if r.ref_id.trim().is_empty() {
            return Err(envelope_err("every record needs a ref_id"));
        }
        if !seen.insert(r.ref_id.clone()) {
            return Err(envelope_err(format!(
                "duplicate record ref_id {}",
                canon::go_quote(&r.ref_id)
            )));
        }
        for (field, value) in [
            ("query_digest", &r.query_digest),
            ("content_digest", &r.content_digest),
        ] {
            if !canon::is_sha256_hex(value) {
                return Err(envelope_err(format!(
                    "record {} {field} must be 64 hex characters",
                    r.ref_id
                )));
            }
        }
    }
    records.sort_by(|a, b| a.ref_id.cmp(&b.ref_id));
    let digest = context_set_digest(&records)?;
    if !env.context_set_digest.is_empty() && !env.context_set_digest.eq_ignore_ascii_case(&digest) {
        return Err(envelope_err(format!(
            "context_set_digest {} does not match its records (computed {digest})",
            env.context_set_digest
        )));
    }
    Ok(Envelope {
        context_set_id: env.context_set_id,
        evidence_mode,
        records,
        context_set_digest: digest,
    })
}

/// What refs normalization needs from the rest of the record.
pub struct RefsContext<'a> {
    /// intent_id → (tool_name, args_digest).
    pub intents: &'a HashMap<&'a str, (&'a str, &'a str)>,
    /// intent_id → result_digest.
    pub results: &'a HashMap<&'a str, &'a str>,
    pub envelope: Option<&'a Envelope>,
    pub mode_flag: Option<EvidenceMode>,
    pub unsafe_context_raw: bool,
}

/// Normalizes receipts and context evidence in place.
pub fn normalize_refs(refs: &mut Refs, ctx: &RefsContext<'_>) -> Result<(), GaitError> {
    // Error messages here are the reference's, recorded in the vectors, with the default hint.
    let prefix = "normalize digest-bearing fields";
    for r in &mut refs.receipts {
        normalize_receipt(r);
        if r.source_type == TRACE_SOURCE
            && let Some(intent_id) = r.ref_id.strip_prefix("trace_")
        {
            let Some((tool_name, args_digest)) = ctx.intents.get(intent_id) else {
                return Err(GaitError::invalid(format!(
                    "{prefix}: receipt {} references unknown intent {intent_id}",
                    r.ref_id
                )));
            };
            if r.query_digest.is_empty() {
                r.query_digest = canon::digest_of(&serde_json::json!({
                    "tool_name": tool_name,
                    "args_digest": args_digest,
                }))
                .map_err(|e| GaitError::internal(e.to_string()))?;
            }
            if r.content_digest.is_empty()
                && let Some(result_digest) = ctx.results.get(intent_id)
            {
                r.content_digest = result_digest.to_string();
            }
        }
        for (field, value) in [
            ("query_digest", &r.query_digest),
            ("content_digest", &r.content_digest),
        ] {
            if value.is_empty() {
                return Err(GaitError::invalid(format!(
                    "{prefix}: receipt {} requires {field}",
                    r.ref_id
                )));
            }
        }
    }
    if let Some(env) = ctx.envelope {
        for rec in &env.records {
            if refs.receipts.iter().any(|r| r.ref_id == rec.ref_id) {
                return Err(GaitError::invalid(format!(
                    "context envelope record {} duplicates a refs receipt with the same ref_id",
                    rec.ref_id
                ))
                .with_hint("give each receipt a unique ref_id"));
            }
            refs.receipts.push(rec.clone());
        }
        refs.context_set_digest = env.context_set_digest.clone();
    }
    if !ctx.unsafe_context_raw
        && refs
            .receipts
            .iter()
            .any(|r| r.redaction_mode.trim().eq_ignore_ascii_case("raw"))
    {
        return Err(GaitError::invalid(
            "refs receipts include redaction_mode=raw; re-run with --unsafe-context-raw to allow unsafe context capture",
        ));
    }
    refs.receipts.sort_by(|a, b| a.ref_id.cmp(&b.ref_id));
    let from_refs = if refs.context_evidence_mode.trim().is_empty() {
        None
    } else {
        Some(EvidenceMode::parse(&refs.context_evidence_mode)?)
    };
    let mode = ctx
        .mode_flag
        .or(ctx.envelope.and_then(|e| e.evidence_mode))
        .or(from_refs)
        .unwrap_or(EvidenceMode::BestEffort);
    if mode == EvidenceMode::Required && refs.context_set_digest.trim().is_empty() {
        return Err(GaitError::invalid(
            "context evidence mode required but context_set_digest is missing",
        ));
    }
    refs.context_evidence_mode = mode.as_str().to_string();
    refs.context_ref_count = refs.receipts.len() as i64;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &str = r#"{"schema_id":"gait.context.envelope","schema_version":"1.0.0","created_at":"2031-02-03T04:05:06Z","context_set_id":"ctx-run-1","evidence_mode":"required","records":[
      {"ref_id":"ctx-b","source_type":"web","source_locator":"kb://docs/ctx-b","query_digest":"1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a","content_digest":"2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b","retrieved_at":"2031-02-03T04:05:06Z","redaction_mode":"hashes"},
      {"ref_id":"ctx-a","source_type":"kb","source_locator":"kb://docs/ctx-a","query_digest":"1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a","content_digest":"2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b","retrieved_at":"2031-02-03T04:05:06Z","redaction_mode":"hashes","immutability":"immutable"}]}"#;

    #[test]
    fn envelope_digest_matches_the_reference_vector() {
        // runpacks.jsonl `runpack-context-envelope`: refs.context_set_digest.
        let env = parse_envelope(ENVELOPE.as_bytes()).unwrap();
        assert_eq!(
            env.context_set_digest,
            "9a20cfad63b791b4ab84c94b1ff5ff9a14c1238832510ad61c85c25f69c839df"
        );
        assert_eq!(env.records[0].ref_id, "ctx-a");
        assert_eq!(env.records[1].immutability, "unknown");
        assert_eq!(env.evidence_mode, Some(EvidenceMode::Required));
    }

    #[test]
    fn envelope_rejects_bad_input() {
        let wrong_digest = ENVELOPE.replacen(
            "\"records\"",
            "\"context_set_digest\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"records\"",
            1,
        );
        assert!(
            parse_envelope(wrong_digest.as_bytes())
                .unwrap_err()
                .message
                .contains("does not match")
        );
        let dup = ENVELOPE.replace("ctx-b", "ctx-a");
        assert!(parse_envelope(dup.as_bytes()).is_err());
        let bad_hex = ENVELOPE.replacen("1a1a", "zz1a", 1);
        assert!(parse_envelope(bad_hex.as_bytes()).is_err());
        assert!(parse_envelope(b"{\"schema_id\":\"other\"}").is_err());
        assert!(parse_envelope(b"{\"a\":1,\"a\":2}").is_err());
    }

    #[test]
    fn trace_receipts_get_derived_digests() {
        // runpacks.jsonl `runpack-trace-receipts`.
        let mut refs = Refs {
            receipts: vec![Receipt {
                ref_id: "trace_intent_1".into(),
                source_type: "gait.trace".into(),
                ..Receipt::default()
            }],
            ..Refs::default()
        };
        let intents = HashMap::from([(
            "intent_1",
            (
                "tool.search",
                "f13de0ce7b557535c93102675a8488385a65e20853babe4e24e29c7107f3acbd",
            ),
        )]);
        let results = HashMap::from([(
            "intent_1",
            "f008b23e07e3054ab94b391d47a03de2d2257bffff958a4a185431516160c888",
        )]);
        let ctx = RefsContext {
            intents: &intents,
            results: &results,
            envelope: None,
            mode_flag: None,
            unsafe_context_raw: false,
        };
        normalize_refs(&mut refs, &ctx).unwrap();
        let r = &refs.receipts[0];
        assert_eq!(
            r.query_digest,
            "c2d1283edd241d05d073df8dd20c4a99141d2206a611858f089caed4c69b83e0"
        );
        assert_eq!(r.content_digest, results["intent_1"]);
        assert_eq!(refs.context_ref_count, 1);
        assert_eq!(refs.context_evidence_mode, "best_effort");
    }
}
