//! Context envelopes (`gait.context.envelope`): the verified set of context records an intent's
//! evidence claims are bound to (CONTRACTS §2.4 step 1, §3.9).
//!
//! Decoding is strict (unknown fields are errors, as the reference's `DisallowUnknownFields`), record
//! digests must be sha256 hex, and `context_set_digest` = sha256(JCS(records normalized and sorted by
//! `ref_id`)) must match when the envelope states it.

use gait_engine::canon::{self, Node, ParseOptions};
use gait_engine::{GaitError, GoTime};
use serde::Serialize;

pub const ENVELOPE_SCHEMA_ID: &str = "gait.context.envelope";
/// Envelopes larger than this are refused.
pub const MAX_ENVELOPE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ContextRecord {
    pub ref_id: String,
    pub source_type: String,
    pub source_locator: String,
    pub query_digest: String,
    pub content_digest: String,
    pub retrieved_at: GoTime,
    pub redaction_mode: String,
    pub immutability: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub freshness_sla_seconds: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sensitivity_label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrieval_params: Option<serde_json::Value>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContextEnvelope {
    pub context_set_id: String,
    pub evidence_mode: String,
    pub created_at: GoTime,
    /// Sorted by `ref_id`.
    pub records: Vec<ContextRecord>,
    pub context_set_digest: String,
}

fn invalid(msg: impl Into<String>) -> GaitError {
    GaitError::invalid(msg)
}

fn unknown_field(key: &str) -> GaitError {
    invalid(format!(
        "parse context envelope: json: unknown field {}",
        canon::go_quote(key)
    ))
}

fn text(node: &Node<'_>, field: &str) -> Result<String, GaitError> {
    match node {
        Node::Str(s) => Ok(s.trim().to_string()),
        Node::Null => Ok(String::new()),
        _ => Err(invalid(format!(
            "parse context envelope: json: cannot unmarshal {} into field {field} of type string",
            node.kind()
        ))),
    }
}

fn time(node: &Node<'_>) -> Result<GoTime, GaitError> {
    match node {
        Node::Null => Ok(GoTime::zero()),
        Node::Str(s) => GoTime::parse(s)
            .map(|t| t.utc())
            .map_err(|e| invalid(format!("parse context envelope: {e}"))),
        _ => Err(invalid(
            "parse context envelope: Time.UnmarshalJSON: input is not a JSON string",
        )),
    }
}

impl ContextEnvelope {
    /// Parses and verifies an envelope.
    pub fn parse(bytes: &[u8]) -> Result<ContextEnvelope, GaitError> {
        let parsed = canon::parse(bytes, ParseOptions::default())
            .map_err(|e| invalid(format!("parse context envelope: {e}")))?;
        let Node::Obj(members) = &parsed.node else {
            return Err(invalid(format!(
                "parse context envelope: json: cannot unmarshal {} into Go value of type contextspec.Envelope",
                parsed.node.kind()
            )));
        };
        let mut env = ContextEnvelope::default();
        let mut schema_id = String::new();
        for (k, v) in members {
            match k.as_ref() {
                "schema_id" => schema_id = text(v, k)?,
                "schema_version" | "producer_version" => {
                    text(v, k)?;
                }
                "created_at" => env.created_at = time(v)?,
                "context_set_id" => env.context_set_id = text(v, k)?,
                "evidence_mode" => env.evidence_mode = crate::text::go_lower(&text(v, k)?),
                "context_set_digest" => {
                    env.context_set_digest = crate::text::go_lower(&text(v, k)?)
                }
                "records" => match v {
                    Node::Arr(items) => {
                        for item in items {
                            env.records.push(record(item)?);
                        }
                    }
                    Node::Null => {}
                    other => {
                        return Err(invalid(format!(
                            "parse context envelope: json: cannot unmarshal {} into field records of type []contextspec.Record",
                            other.kind()
                        )));
                    }
                },
                other => return Err(unknown_field(other)),
            }
        }
        if !schema_id.is_empty() && schema_id != ENVELOPE_SCHEMA_ID {
            return Err(invalid(format!(
                "unsupported context envelope schema_id: {schema_id}"
            )));
        }
        match env.evidence_mode.as_str() {
            "best_effort" | "required" => {}
            "" => env.evidence_mode = "best_effort".into(),
            other => {
                return Err(invalid(format!(
                    "context envelope evidence_mode must be best_effort or required: {other}"
                )));
            }
        }
        for r in &env.records {
            if r.ref_id.is_empty() {
                return Err(invalid("context record ref_id is required"));
            }
            if !crate::text::is_sha256_hex(&r.query_digest)
                || !crate::text::is_sha256_hex(&r.content_digest)
            {
                return Err(invalid("context record digests must be sha256 hex"));
            }
        }
        env.records.sort_by(|a, b| a.ref_id.cmp(&b.ref_id));
        let computed = canon::digest_of(&env.records)
            .map_err(|e| invalid(format!("digest context records: {e}")))?;
        if env.context_set_digest.is_empty() {
            env.context_set_digest = computed;
        } else if env.context_set_digest != computed {
            return Err(invalid("context_set_digest mismatch"));
        }
        Ok(env)
    }

    /// The records' ids, sorted.
    pub fn ref_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.records.iter().map(|r| r.ref_id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The age in whole seconds of the oldest record at `now` (of the envelope when it has none),
    /// computed as Go's `now.Sub(t)`: a duration in int64 nanoseconds that saturates. A record
    /// without `retrieved_at` holds Go's zero time (year 1), so its age saturates to the largest
    /// duration (9223372036 s) and any `max_context_age_seconds` finds it stale — fail closed.
    pub fn max_age_seconds(&self, now: GoTime) -> i64 {
        let age = |t: &GoTime| -> i64 {
            let nanos =
                (now.unix_nanos() - t.unix_nanos()).clamp(i64::MIN as i128, i64::MAX as i128);
            (nanos / 1_000_000_000).max(0) as i64
        };
        if self.records.is_empty() {
            return age(&self.created_at);
        }
        self.records
            .iter()
            .map(|r| age(&r.retrieved_at))
            .max()
            .unwrap_or(0)
    }
}

fn record(node: &Node<'_>) -> Result<ContextRecord, GaitError> {
    let Node::Obj(members) = node else {
        return Err(invalid(
            "parse context envelope: json: cannot unmarshal non-object into field records of type contextspec.Record",
        ));
    };
    let mut r = ContextRecord::default();
    for (k, v) in members {
        match k.as_ref() {
            "ref_id" => r.ref_id = text(v, k)?,
            "source_type" => r.source_type = text(v, k)?,
            "source_locator" => r.source_locator = text(v, k)?,
            "query_digest" => r.query_digest = crate::text::go_lower(&text(v, k)?),
            "content_digest" => r.content_digest = crate::text::go_lower(&text(v, k)?),
            "retrieved_at" => r.retrieved_at = time(v)?,
            "redaction_mode" => r.redaction_mode = text(v, k)?,
            "immutability" => r.immutability = crate::text::go_lower(&text(v, k)?),
            "sensitivity_label" => r.sensitivity_label = text(v, k)?,
            "freshness_sla_seconds" => {
                r.freshness_sla_seconds = match v {
                    Node::Num(n) if n.is_integer_literal() => n.value as i64,
                    Node::Null => 0,
                    _ => {
                        return Err(invalid(
                            "parse context envelope: freshness_sla_seconds must be an integer",
                        ));
                    }
                }
            }
            "retrieval_params" => {
                r.retrieval_params = match v {
                    Node::Null => None,
                    other => Some(other.to_value()),
                }
            }
            other => return Err(unknown_field(other)),
        }
    }
    if r.immutability.is_empty() {
        r.immutability = "unknown".into();
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_record_set_digest_is_sha256_of_empty_array() {
        let env = ContextEnvelope::parse(
            br#"{"schema_id":"gait.context.envelope","evidence_mode":"required","records":[]}"#,
        )
        .unwrap();
        assert_eq!(
            env.context_set_digest,
            "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
        );
    }

    #[test]
    fn rejects_unknown_fields_bad_digests_and_tampering() {
        let e = ContextEnvelope::parse(br#"{"records":[],"extra_field":1}"#).unwrap_err();
        assert_eq!(
            e.message,
            "parse context envelope: json: unknown field \"extra_field\""
        );
        let e = ContextEnvelope::parse(
            br#"{"records":[{"ref_id":"r","query_digest":"xyz","content_digest":"xyz"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.message, "context record digests must be sha256 hex");
        let e = ContextEnvelope::parse(
            format!(
                r#"{{"records":[],"context_set_digest":"{}"}}"#,
                "0".repeat(64)
            )
            .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.message, "context_set_digest mismatch");
    }

    #[test]
    fn a_record_without_retrieved_at_is_as_old_as_go_says() {
        // Go: now.Sub(time.Time{}) overflows int64 nanoseconds and saturates to maxDuration,
        // whose whole seconds are 9223372036 — never fresh (the review found age 0 here).
        let digest = "a".repeat(64);
        let env = ContextEnvelope::parse(
            format!(
                r#"{{"records":[{{"ref_id":"r","query_digest":"{digest}","content_digest":"{digest}"}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        let now = GoTime::parse("2026-02-05T07:30:00Z").unwrap();
        assert_eq!(env.max_age_seconds(now), i64::MAX / 1_000_000_000);
        // A dated record keeps its plain age; one from the future counts as 0.
        let dated = ContextEnvelope::parse(
            format!(
                r#"{{"records":[{{"ref_id":"r","query_digest":"{digest}","content_digest":"{digest}","retrieved_at":"2026-02-05T07:20:00.9Z"}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(dated.max_age_seconds(now), 599);
        let early = GoTime::parse("2026-02-05T07:00:00Z").unwrap();
        assert_eq!(dated.max_age_seconds(early), 0);
    }
}
