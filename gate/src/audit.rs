//! Unsigned gate audit records written next to traces (FIELDS §2.5–2.7): approval audits, delegation
//! audits and broker credential records.

use crate::relationship::Relationship;
use crate::trace::{string_or_null, time_or_null, vec_or_null};
use gait_engine::GoTime;
use serde::{Deserialize, Serialize};

pub const APPROVAL_AUDIT_SCHEMA_ID: &str = "gait.gate.approval_audit_record";
pub const DELEGATION_AUDIT_SCHEMA_ID: &str = "gait.gate.delegation_audit_record";
pub const BROKER_RECORD_SCHEMA_ID: &str = "gait.gate.broker_credential_record";
pub const AUDIT_SCHEMA_VERSION: &str = "1.0.0";

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApprovalAuditEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub approver_identity: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason_code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    #[serde(default, deserialize_with = "time_or_null")]
    pub expires_at: GoTime,
    #[serde(default)]
    pub valid: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_code: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApprovalAuditRecord {
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "string_or_null")]
    pub producer_version: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub trace_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub tool_name: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub intent_digest: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub policy_digest: String,
    #[serde(default)]
    pub required_approvals: i64,
    #[serde(default)]
    pub valid_approvals: i64,
    #[serde(default)]
    pub approved: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
    /// `null` when no token was presented (Go's nil slice), as the reference writes it.
    #[serde(default)]
    pub entries: Option<Vec<ApprovalAuditEntry>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DelegationAuditEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delegator_identity: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delegate_identity: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    #[serde(default, deserialize_with = "time_or_null")]
    pub expires_at: GoTime,
    #[serde(default)]
    pub valid: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_code: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DelegationAuditRecord {
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "string_or_null")]
    pub producer_version: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub trace_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub tool_name: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub intent_digest: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub policy_digest: String,
    #[serde(default)]
    pub delegation_required: bool,
    #[serde(default)]
    pub valid_delegations: i64,
    #[serde(default)]
    pub delegated: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delegation_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
    /// Always an array (`[]` when empty), unlike the approval audit.
    #[serde(default, deserialize_with = "vec_or_null")]
    pub entries: Vec<DelegationAuditEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerCredentialRecord {
    pub schema_id: String,
    pub schema_version: String,
    pub created_at: GoTime,
    pub producer_version: String,
    pub trace_id: String,
    pub tool_name: String,
    pub identity: String,
    pub broker: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
    pub credential_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run_binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub job_binding: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request_digest: String,
    pub issued_at: GoTime,
    pub expires_at: GoTime,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ttl_seconds: i64,
}
