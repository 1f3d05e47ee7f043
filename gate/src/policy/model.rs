//! The policy file as written (`gait.gate.policy` 1.0.0, CONTRACTS §2.1–2.3): every key the
//! reference accepts, nothing else (`deny_unknown_fields`). Aliases (`default_action`, `action`,
//! `tool_name`, `endpoint_class`) are separate fields so normalization can check they agree.

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyFile {
    pub schema_id: String,
    pub schema_version: String,
    pub default_verdict: String,
    pub default_action: String,
    pub scripts: Option<ScriptsFile>,
    pub fail_closed: Option<FailClosedFile>,
    pub mcp_trust: Option<McpTrustFile>,
    pub rules: Vec<RuleFile>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptsFile {
    pub max_steps: i64,
    pub require_approval_above: i64,
    pub block_mixed_risk: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailClosedFile {
    pub enabled: bool,
    pub risk_classes: Vec<String>,
    pub required_fields: Vec<String>,
    pub required_high_risk_fields: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpTrustFile {
    pub enabled: bool,
    pub snapshot: String,
    pub action: String,
    pub required_risk_classes: Vec<String>,
    pub min_score: f64,
    pub max_age: String,
    pub publisher_allowlist: Vec<String>,
    pub require_registry: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleFile {
    pub name: String,
    pub priority: i64,
    pub effect: String,
    pub action: String,
    #[serde(rename = "match")]
    pub matcher: Option<MatchFile>,
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
    pub freeze_window: Option<FreezeWindowFile>,
    pub sandbox: Option<SandboxFile>,
    pub rate_limit: Option<RateLimitFile>,
    pub destructive_budget: Option<RateLimitFile>,
    pub dataflow: Option<DataflowFile>,
    pub endpoint: Option<EndpointFile>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchFile {
    pub tool_name: String,
    pub tool_names: Vec<String>,
    pub risk_classes: Vec<String>,
    pub identities: Vec<String>,
    pub workspace_prefixes: Vec<String>,
    pub target_kinds: Vec<String>,
    pub target_values: Vec<String>,
    pub endpoint_class: Vec<String>,
    pub endpoint_classes: Vec<String>,
    pub discovery_method: Vec<String>,
    pub tool_annotations: Option<ToolAnnotationsFile>,
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
    /// gait extension: the name of a predicate plugin that must also answer true.
    pub predicate: String,
}

/// MCP tool annotations; each hint is tri-state (absent = not constrained).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolAnnotationsFile {
    #[serde(rename = "readOnlyHint")]
    pub read_only_hint: Option<bool>,
    #[serde(rename = "destructiveHint")]
    pub destructive_hint: Option<bool>,
    #[serde(rename = "idempotentHint")]
    pub idempotent_hint: Option<bool>,
    #[serde(rename = "openWorldHint")]
    pub open_world_hint: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FreezeWindowFile {
    pub enabled: bool,
    pub timezone: String,
    pub effect: String,
    pub reason: String,
    pub environments: Vec<String>,
    pub risk_classes: Vec<String>,
    pub windows: Vec<WindowFile>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowFile {
    pub name: String,
    pub start: String,
    pub end: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxFile {
    pub enabled: bool,
    pub allowed_network_modes: Vec<String>,
    pub allowed_writable_path_prefixes: Vec<String>,
    pub required_read_only_roots: Vec<String>,
    pub allowed_env_exposure_modes: Vec<String>,
    pub max_timeout_seconds: i64,
    pub allowed_filesystem_isolations: Vec<String>,
    pub allowed_user_modes: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitFile {
    pub requests: i64,
    pub window: String,
    pub scope: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataflowFile {
    pub enabled: bool,
    pub tainted_sources: Vec<String>,
    pub destination_kinds: Vec<String>,
    pub destination_values: Vec<String>,
    pub destination_operations: Vec<String>,
    pub action: String,
    pub reason_code: String,
    pub violation: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointFile {
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
