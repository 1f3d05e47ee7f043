//! Gate trace records (`gait.gate.trace` 1.0.0; CONTRACTS §3.4, FIELDS §2.2): the signed evidence of
//! every gate decision.
//!
//! The struct's field order and `omitempty` rules are the reference's, so a trace signed here is
//! byte-for-byte what the reference would sign, and [`verify`] re-marshals a file exactly as the
//! reference does (unknown keys ignored, zero-valued optional fields dropped, times re-rendered)
//! before checking the signature.

use crate::eval::{FreezeWindowDecision, KillSwitchDecision, SandboxDecision, StepVerdict};
use crate::relationship::Relationship;
use gait_engine::crypto::{PrivateKey, PublicKey, Signature};
use gait_engine::{GaitError, GoTime, canon};
use serde::{Deserialize, Deserializer, Serialize};

pub const TRACE_SCHEMA_ID: &str = "gait.gate.trace";
pub const TRACE_SCHEMA_VERSION: &str = "1.0.0";
/// Trace files larger than this are refused by `trace verify`.
pub const MAX_TRACE_BYTES: u64 = 32 * 1024 * 1024;

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}
fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// Go leaves a time at its zero value for `null`.
pub fn time_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<GoTime, D::Error> {
    Ok(Option::<GoTime>::deserialize(d)?.unwrap_or_default())
}

/// Go leaves a string empty for `null`.
pub fn string_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// Go leaves a slice nil for `null`.
pub fn vec_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentIdentityRecord {
    #[serde(
        default,
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub lifecycle_states: Vec<String>,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub owner: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub manifest_digest: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub publisher: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub source: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub issued_at: GoTime,
    #[serde(default, deserialize_with = "time_or_null")]
    pub approved_at: GoTime,
    #[serde(default, deserialize_with = "time_or_null")]
    pub expires_at: GoTime,
    #[serde(default, skip_serializing_if = "is_false")]
    pub revoked: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DelegationRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delegation_token_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requester_identity: String,
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub delegation_depth: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope_class: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chain_digest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct McpTrustDecision {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub publisher: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub decision_source: String,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub score: f64,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub threshold: f64,
    #[serde(default, deserialize_with = "time_or_null")]
    pub updated_at: GoTime,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_age_seconds: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub enforced: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub registry_verified: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub publisher_allowed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SkillProvenanceRecord {
    #[serde(default, deserialize_with = "string_or_null")]
    pub skill_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub skill_version: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub source: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub publisher: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signature_key_id: String,
}

/// Step verdicts as traces carry them: `index` and `verdict` are always written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceStepVerdict {
    #[serde(default)]
    pub index: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tool_name: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub matched_rule: String,
}

impl From<&StepVerdict> for TraceStepVerdict {
    fn from(s: &StepVerdict) -> Self {
        TraceStepVerdict {
            index: s.index,
            tool_name: s.tool_name.clone(),
            verdict: s.verdict.clone(),
            reason_codes: s.reason_codes.clone(),
            violations: s.violations.clone(),
            matched_rule: s.matched_rule.clone(),
        }
    }
}

/// A trace record, field for field in the reference's order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "time_or_null")]
    pub observed_at: GoTime,
    #[serde(default, deserialize_with = "string_or_null")]
    pub producer_version: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub trace_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub correlation_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub tool_name: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub args_digest: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub intent_digest: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub policy_digest: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_identity: Option<AgentIdentityRecord>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workflow_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub environment: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_access_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_issuer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_subject: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_owner: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_target_binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_run_binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential_job_binding: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub credential_ttl_seconds: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_credential_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_credential_source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_credential_access_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_credential_issuer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_request_digest: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_target_binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_run_binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_job_binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approval_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wrkr_inventory_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_action_bom_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_rule_ids: Vec<String>,
    #[serde(default, deserialize_with = "string_or_null")]
    pub verdict: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context_set_digest: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context_evidence_mode: String,
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub context_ref_count: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context_source: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub script: bool,
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    pub step_count: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub script_hash: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub composite_risk_class: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_verdicts: Vec<TraceStepVerdict>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pre_approved: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pattern_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registry_reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub latency_ms: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approval_token_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_ref: Option<DelegationRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_window: Option<FreezeWindowDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<KillSwitchDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_trust: Option<McpTrustDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_provenance: Option<SkillProvenanceRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// `trace_id` = hex(sha256(policy_digest:intent_digest:verdict))[:24].
pub fn trace_id(policy_digest: &str, intent_digest: &str, verdict: &str) -> String {
    let pre = format!("{policy_digest}:{intent_digest}:{verdict}");
    canon::sha256_hex(pre.as_bytes())[..24].to_string()
}

/// `event_id` = hex(sha256(trace_id:observed_at RFC3339Nano UTC))[:24].
pub fn event_id(trace_id: &str, observed_at: &GoTime) -> String {
    let pre = format!("{trace_id}:{}", observed_at.utc().rfc3339_nano());
    canon::sha256_hex(pre.as_bytes())[..24].to_string()
}

impl TraceRecord {
    /// The digest a signature covers: sha256 of the JCS form without the signature.
    pub fn signable_digest(&self) -> Result<String, GaitError> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        canon::digest_of(&unsigned).map_err(|e| GaitError::internal(format!("digest trace: {e}")))
    }

    /// Signs the record in place.
    pub fn sign(&mut self, key: &PrivateKey) -> Result<(), GaitError> {
        let digest = self.signable_digest()?;
        let sig = key
            .sign_digest(&digest)
            .map_err(|e| GaitError::internal(format!("sign trace: {e}")))?;
        self.signature = Some(sig);
        Ok(())
    }

    /// The file bytes: two-space indent, trailing newline, Go escaping.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>, GaitError> {
        gait_engine::gojson::to_indented(self)
            .map_err(|e| GaitError::internal(format!("encode trace: {e}")))
    }
}

/// What `trace verify` found.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceVerification {
    pub record: TraceRecord,
    pub verified: bool,
    pub error: String,
    pub key_id: String,
}

/// Parses a trace file and verifies its signature with `key` (struct re-marshal, FIELDS §1).
///
/// Stricter than the reference on purpose: a duplicate key, a case variant of a field name
/// (which Go's case-insensitive decoding would read) or any key the record does not define is
/// reported as a verification failure — the signature covers the record as re-marshalled, so such
/// an edit could otherwise ride along, or mean something else to another reader.
pub fn verify(bytes: &[u8], key: &PublicKey) -> Result<TraceVerification, GaitError> {
    let failed = |record: TraceRecord, error: String| {
        Ok(TraceVerification {
            record,
            verified: false,
            error,
            key_id: key.key_id(),
        })
    };
    match canon::parse(bytes, canon::ParseOptions::recorded_payload()) {
        Ok(_) => {}
        Err(e) if e.kind == canon::JsonErrorKind::DuplicateKey => {
            return failed(
                TraceRecord::default(),
                format!(
                    "duplicate key {} in the trace: an edited trace is ambiguous",
                    canon::go_quote(&e.path)
                ),
            );
        }
        Err(e) => return Err(GaitError::invalid(format!("parse trace: {e}"))),
    }
    let mut unknown: Vec<String> = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let record: TraceRecord =
        serde_ignored::deserialize(&mut de, |path| unknown.push(field_path(&path)))
            .map_err(|e| GaitError::invalid(format!("parse trace: {e}")))?;
    if let Some(field) = unknown.first() {
        return failed(
            record,
            format!(
                "field {} is not part of a gate trace (an unknown field or a case variant of one \
                 means the trace was edited)",
                canon::go_quote(field)
            ),
        );
    }
    let Some(sig) = record.signature.clone() else {
        return failed(record, "trace signature missing".into());
    };
    let digest = record.signable_digest()?;
    let (verified, error) = match key.verify(&sig, &digest) {
        Ok(()) => (true, String::new()),
        Err(e) => (false, e.to_string()),
    };
    Ok(TraceVerification {
        record,
        verified,
        error,
        key_id: if sig.key_id.is_empty() {
            key.key_id()
        } else {
            sig.key_id
        },
    })
}

/// A dotted path (`agent_identity.Owner`, `step_verdicts[1].x`) of a key serde ignored.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        Path::Map { parent, key } => {
            let p = field_path(parent);
            if p.is_empty() {
                key.clone()
            } else {
                format!("{p}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => field_path(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = include_str!("../../tests/vectors/fields_examples/trace_allow.json");
    const TEST_PUBLIC: &str = include_str!("../../tests/vectors/fields_examples/test_public.key");

    #[test]
    fn reference_trace_verifies_and_round_trips_byte_for_byte() {
        // FIELDS §6.1: a trace the reference signed verifies with its key pair ...
        let key = PublicKey::from_text(TEST_PUBLIC).unwrap();
        let v = verify(TRACE.as_bytes(), &key).unwrap();
        assert!(v.verified, "{}", v.error);
        assert_eq!(v.record.trace_id, "696d191cbfc0ba0a6bec1420");
        // ... and our writer reproduces its exact bytes (field order, omitempty, floats, indent).
        assert_eq!(
            String::from_utf8(v.record.to_file_bytes().unwrap()).unwrap(),
            TRACE
        );
        assert_eq!(
            event_id(&v.record.trace_id, &v.record.observed_at),
            v.record.event_id
        );
        assert_eq!(
            trace_id(&v.record.policy_digest, &v.record.intent_digest, "allow"),
            v.record.trace_id
        );
    }

    #[test]
    fn any_edit_breaks_the_signature() {
        let key = PublicKey::from_text(TEST_PUBLIC).unwrap();
        for (from, to) in [
            ("\"verdict\": \"allow\"", "\"verdict\": \"block\""),
            ("\"latency_ms\": 0.104409", "\"latency_ms\": 0.104408"),
            ("unapproved_write", "unapproved_writ3"),
            (
                "\"created_at\": \"2026-02-05T07:30:00.12Z\"",
                "\"created_at\": \"2026-02-05T09:30:00.12+02:00\"",
            ),
        ] {
            assert!(TRACE.contains(from), "{from}");
            let tampered = TRACE.replace(from, to);
            let v = verify(tampered.as_bytes(), &key).unwrap();
            assert!(!v.verified, "edit {from} → {to} still verified");
        }
        // Re-marshal tolerance (FIELDS §7): an explicit zero value still verifies.
        let zero = TRACE.replacen("{\n", "{\n  \"script\": false,\n", 1);
        assert!(verify(zero.as_bytes(), &key).unwrap().verified);
        // Another key does not verify it.
        let other = PrivateKey::from_seed(&[9; 32]).public();
        assert!(!verify(TRACE.as_bytes(), &other).unwrap().verified);
    }

    #[test]
    fn ambiguous_or_extra_keys_fail_verification_naming_the_key() {
        // The reference ignores unknown keys and reads keys case-insensitively; gait refuses both,
        // and duplicates, as verification failures (exit 2 in the CLI), never as a parse error.
        let key = PublicKey::from_text(TEST_PUBLIC).unwrap();
        for (edit, named) in [
            // A case variant Go would decode into `verdict` (and then fail the digest).
            ("{\n  \"Verdict\": \"block\",\n", "\"Verdict\""),
            ("{\n  \"verdict\": \"block\",\n", "\"verdict\""),
            ("{\n  \"surprise\": 1,\n", "\"surprise\""),
        ] {
            let tampered = TRACE.replacen("{\n", edit, 1);
            let v = verify(tampered.as_bytes(), &key).unwrap();
            assert!(!v.verified, "{edit} verified");
            assert!(v.error.contains(named), "{edit}: {}", v.error);
        }
        // Nested: an unknown key inside the signature envelope is named with its path.
        let nested = TRACE.replacen(
            "\"signature\": {\n",
            "\"signature\": {\n    \"Extra\": 1,\n",
            1,
        );
        assert_ne!(nested, TRACE);
        let v = verify(nested.as_bytes(), &key).unwrap();
        assert!(!v.verified);
        assert!(v.error.contains("\"signature.Extra\""), "{}", v.error);
        // Not JSON at all is still an input error.
        assert!(verify(b"{", &key).is_err());
    }
}
