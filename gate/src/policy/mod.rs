//! Gate policies: strict YAML decoding, normalization and the policy digest (CONTRACTS §2.1–2.3, §2.8).
//!
//! [`load`] is the one way to turn policy bytes into a [`Policy`]: decode ([`model`]), reject legacy
//! keys, normalize ([`normalize`]) and digest ([`digest`]). A `Policy` is always normalized: lists are
//! trimmed, deduplicated and sorted, enums are lowercased and validated, rules are sorted by
//! (priority, name), defaults are applied — so evaluation never re-checks any of it.

pub mod digest;
pub mod fmt;
pub mod model;
pub mod normalize;

use gait_engine::GaitError;
use serde::{Deserialize, Serialize};

/// A decision, ordered from least to most restrictive.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    #[default]
    Allow,
    DryRun,
    RequireApproval,
    Block,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::DryRun => "dry_run",
            Verdict::RequireApproval => "require_approval",
            Verdict::Block => "block",
        }
    }

    /// Parses a lowercased, trimmed verdict name.
    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "allow" => Some(Verdict::Allow),
            "dry_run" => Some(Verdict::DryRun),
            "require_approval" => Some(Verdict::RequireApproval),
            "block" => Some(Verdict::Block),
            _ => None,
        }
    }

    /// The more restrictive of two verdicts.
    pub fn max(self, other: Verdict) -> Verdict {
        std::cmp::max(self, other)
    }
}

pub const POLICY_SCHEMA_ID: &str = "gait.gate.policy";
pub const POLICY_SCHEMA_VERSION: &str = "1.0.0";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub schema_id: String,
    pub schema_version: String,
    pub default_verdict: Verdict,
    pub scripts: Scripts,
    pub fail_closed: FailClosed,
    pub mcp_trust: McpTrust,
    /// Sorted by (priority, name); the sort is stable for rules sharing both.
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scripts {
    /// 0 means the default (64) at evaluation time.
    pub max_steps: i64,
    pub require_approval_above: i64,
    pub block_mixed_risk: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailClosed {
    pub enabled: bool,
    pub risk_classes: Vec<String>,
    pub required_fields: Vec<String>,
    pub required_high_risk_fields: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct McpTrust {
    pub enabled: bool,
    pub snapshot: String,
    pub action: String,
    pub required_risk_classes: Vec<String>,
    pub min_score: f64,
    /// The Go duration text as written (normalized by trimming).
    pub max_age: String,
    pub max_age_nanos: i128,
    pub publisher_allowlist: Vec<String>,
    pub require_registry: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub priority: i64,
    pub effect: Verdict,
    pub matcher: Match,
    pub reason_codes: Vec<String>,
    pub violations: Vec<String>,
    pub min_approvals: i64,
    pub require_distinct_approvers: bool,
    pub require_broker_credential: bool,
    pub broker_reference: String,
    pub broker_scopes: Vec<String>,
    pub require_declared_agent: bool,
    pub allowed_agent_ids: Vec<String>,
    pub denied_agent_ids: Vec<String>,
    pub required_agent_manifest_digest: String,
    pub allowed_agent_manifest_publishers: Vec<String>,
    pub allowed_agent_manifest_sources: Vec<String>,
    pub required_agent_lifecycle_states: Vec<String>,
    pub require_agent_owner: bool,
    pub require_unexpired_agent: bool,
    pub block_standing_credentials: bool,
    pub allowed_credential_sources: Vec<String>,
    pub allowed_credential_issuers: Vec<String>,
    pub allowed_credential_access_types: Vec<String>,
    pub max_credential_ttl_seconds: i64,
    pub require_jit_credential: bool,
    pub require_context_evidence: bool,
    pub required_context_evidence_mode: String,
    pub max_context_age_seconds: i64,
    pub freeze_window: FreezeWindow,
    pub sandbox: Sandbox,
    pub rate_limit: RateLimit,
    pub destructive_budget: RateLimit,
    pub dataflow: Dataflow,
    pub endpoint: Endpoint,
}

impl Rule {
    /// The reason codes this rule contributes when it matches.
    pub fn base_reason_codes(&self) -> Vec<String> {
        if self.reason_codes.is_empty() {
            vec![crate::text::matched_rule_code(&self.name)]
        } else {
            self.reason_codes.clone()
        }
    }

    /// True when the rule constrains delegation (any delegation condition set).
    pub fn needs_delegation(&self) -> bool {
        let m = &self.matcher;
        m.require_delegation
            || !m.allowed_delegator_identities.is_empty()
            || !m.allowed_delegate_identities.is_empty()
            || !m.delegation_scopes.is_empty()
            || m.max_delegation_depth.is_some()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub tool_names: Vec<String>,
    pub risk_classes: Vec<String>,
    pub identities: Vec<String>,
    pub workspace_prefixes: Vec<String>,
    pub target_kinds: Vec<String>,
    pub target_values: Vec<String>,
    pub endpoint_classes: Vec<String>,
    pub discovery_methods: Vec<String>,
    pub tool_annotations: ToolAnnotations,
    pub data_classes: Vec<String>,
    pub destination_kinds: Vec<String>,
    pub destination_values: Vec<String>,
    pub destination_operations: Vec<String>,
    pub provenance_sources: Vec<String>,
    pub skill_publishers: Vec<String>,
    pub skill_sources: Vec<String>,
    pub context_tool_names: Vec<String>,
    pub context_data_classes: Vec<String>,
    pub context_endpoint_classes: Vec<String>,
    pub context_autonomy_levels: Vec<String>,
    pub require_delegation: bool,
    pub allowed_delegator_identities: Vec<String>,
    pub allowed_delegate_identities: Vec<String>,
    pub delegation_scopes: Vec<String>,
    pub max_delegation_depth: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolAnnotations {
    pub read_only_hint: Option<bool>,
    pub destructive_hint: Option<bool>,
    pub idempotent_hint: Option<bool>,
    pub open_world_hint: Option<bool>,
}

impl ToolAnnotations {
    pub fn is_set(&self) -> bool {
        self.read_only_hint.is_some()
            || self.destructive_hint.is_some()
            || self.idempotent_hint.is_some()
            || self.open_world_hint.is_some()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FreezeWindow {
    pub enabled: bool,
    pub timezone: String,
    pub effect: Verdict,
    pub reason: String,
    pub environments: Vec<String>,
    pub risk_classes: Vec<String>,
    pub windows: Vec<Window>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub name: String,
    pub start: String,
    pub end: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sandbox {
    pub enabled: bool,
    pub allowed_network_modes: Vec<String>,
    pub allowed_writable_path_prefixes: Vec<String>,
    pub required_read_only_roots: Vec<String>,
    pub allowed_env_exposure_modes: Vec<String>,
    pub max_timeout_seconds: i64,
    pub allowed_filesystem_isolations: Vec<String>,
    pub allowed_user_modes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// 0 = no limit configured.
    pub requests: i64,
    pub window: String,
    pub scope: String,
}

impl RateLimit {
    pub fn is_set(&self) -> bool {
        self.requests > 0
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dataflow {
    pub enabled: bool,
    pub tainted_sources: Vec<String>,
    pub destination_kinds: Vec<String>,
    pub destination_values: Vec<String>,
    pub destination_operations: Vec<String>,
    pub action: String,
    pub reason_code: String,
    pub violation: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub enabled: bool,
    pub path_allowlist: Vec<String>,
    pub path_denylist: Vec<String>,
    pub domain_allowlist: Vec<String>,
    pub domain_denylist: Vec<String>,
    pub egress_classes: Vec<String>,
    pub action: String,
    pub destructive_action: String,
    pub reason_code: String,
    pub violation: String,
}

/// A policy with its digest, as loaded from bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadedPolicy {
    pub policy: Policy,
    pub digest: String,
}

/// Policy files larger than this are refused before parsing.
pub const MAX_POLICY_BYTES: u64 = 8 * 1024 * 1024;

/// Decodes, validates and normalizes policy YAML and computes its digest.
pub fn load(src: &[u8]) -> Result<LoadedPolicy, GaitError> {
    let text = std::str::from_utf8(src).map_err(|_| {
        GaitError::invalid("parse policy yaml: policy file is not valid UTF-8")
            .with_hint("save the policy as UTF-8 text")
    })?;
    let tree = crate::yaml::tree::parse(text)
        .map_err(|e| GaitError::invalid(format!("parse policy yaml: {e}")))?;
    normalize::reject_legacy_keys(&tree)?;
    let file: model::PolicyFile = crate::yaml::decode_tree(&tree, "Policy")
        .map_err(|e| GaitError::invalid(format!("parse policy yaml: {e}")))?;
    let policy = normalize::normalize(file)?;
    let digest = digest::policy_digest(&policy);
    Ok(LoadedPolicy { policy, digest })
}
