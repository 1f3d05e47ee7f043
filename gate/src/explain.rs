//! The structured explain of a gate decision (`gait gate eval --explain --json`,
//! `gait.gate.policy_explain`): why the verdict is what it is, which rules matched, what was missing,
//! and where the evidence was written.

use crate::eval::{FreezeWindowDecision, KillSwitchDecision, SandboxDecision};
use crate::pipeline::GateResult;
use crate::policy::Policy;
use serde::Serialize;

pub const EXPLAIN_SCHEMA_ID: &str = "gait.gate.policy_explain";
pub const EXPLAIN_SCHEMA_VERSION: &str = "1.0.0";

#[derive(Clone, Debug, Serialize)]
pub struct MatchedRule {
    pub name: String,
    pub priority: i64,
    pub effect: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BrokerExplain {
    pub required: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reference: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_ref: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CredentialPosture {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_ref: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub access_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub ttl_seconds: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ProofRefs {
    pub trace_id: String,
    pub trace_path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub approval_audit_path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub delegation_audit_path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_evidence_path: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PolicyExplain {
    pub schema_id: &'static str,
    pub schema_version: &'static str,
    pub ok: bool,
    pub verdict: String,
    pub matched_rules: Vec<MatchedRule>,
    pub reason_codes: Vec<String>,
    pub violations: Vec<String>,
    pub missing_fields: Vec<String>,
    pub fail_closed_reason_codes: Vec<String>,
    pub approval_required: bool,
    pub required_approvals: i64,
    pub valid_approvals: i64,
    pub broker: BrokerExplain,
    pub require_delegation: bool,
    pub credential_posture: CredentialPosture,
    pub context_evidence_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeze_window: Option<FreezeWindowDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<KillSwitchDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxDecision>,
    pub proof_refs: ProofRefs,
}

/// Builds the explain of a finished `gate eval`.
pub fn explain(policy: &Policy, result: &GateResult) -> PolicyExplain {
    let out = &result.output;
    let ev = &result.evaluation;
    let matched_rules = ev
        .matched_rules
        .iter()
        .filter_map(|name| policy.rules.iter().find(|r| &r.name == name))
        .map(|r| MatchedRule {
            name: r.name.clone(),
            priority: r.priority,
            effect: r.effect.as_str().into(),
        })
        .collect();
    let t = &result.trace;
    let context_evidence_status = if !t.context_set_digest.is_empty() {
        "present"
    } else if out.reason_codes.iter().any(|c| c.starts_with("context_")) {
        "missing"
    } else {
        "not_provided"
    };
    PolicyExplain {
        schema_id: EXPLAIN_SCHEMA_ID,
        schema_version: EXPLAIN_SCHEMA_VERSION,
        ok: true,
        verdict: out.verdict.clone(),
        matched_rules,
        reason_codes: out.reason_codes.clone(),
        violations: out.violations.clone(),
        missing_fields: ev.missing_fields.clone(),
        fail_closed_reason_codes: ev.fail_closed_reason_codes.clone(),
        approval_required: out.required_approvals > 0,
        required_approvals: out.required_approvals,
        valid_approvals: out.valid_approvals,
        broker: BrokerExplain {
            required: ev.require_broker_credential,
            reference: ev.broker_reference.clone(),
            scopes: ev.broker_scopes.clone(),
            credential_ref: out.credential_ref.clone(),
        },
        require_delegation: ev.require_delegation,
        credential_posture: CredentialPosture {
            credential_ref: t.credential_ref.clone(),
            source: t.credential_source.clone(),
            access_type: t.credential_access_type.clone(),
            issuer: t.credential_issuer.clone(),
            ttl_seconds: t.credential_ttl_seconds,
        },
        context_evidence_status: context_evidence_status.into(),
        freeze_window: out.freeze_window.clone(),
        kill_switch: out.kill_switch.clone(),
        sandbox: out.sandbox.clone(),
        proof_refs: ProofRefs {
            trace_id: out.trace_id.clone(),
            trace_path: out.trace_path.clone(),
            approval_audit_path: out.approval_audit_path.clone(),
            delegation_audit_path: out.delegation_audit_path.clone(),
            credential_evidence_path: out.credential_evidence_path.clone(),
        },
    }
}
