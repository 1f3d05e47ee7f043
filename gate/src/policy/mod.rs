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

// The normalized structs serialize only into the compiled-policy cache; empty members are skipped
// there to keep entries small (a 200-rule policy is mostly empty fields).
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_zero_i128(v: &i128) -> bool {
    *v == 0
}
fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schema_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schema_version: String,
    #[serde(default)]
    pub default_verdict: Verdict,
    #[serde(default, skip_serializing_if = "is_default")]
    pub scripts: Scripts,
    #[serde(default, skip_serializing_if = "is_default")]
    pub fail_closed: FailClosed,
    #[serde(default, skip_serializing_if = "is_default")]
    pub mcp_trust: McpTrust,
    /// Sorted by (priority, name); the sort is stable for rules sharing both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scripts {
    /// 0 means the default (64) at evaluation time.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_steps: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub require_approval_above: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub block_mixed_risk: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailClosed {
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_high_risk_fields: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct McpTrust {
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub snapshot: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_risk_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub min_score: f64,
    /// The Go duration text as written (normalized by trimming).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub max_age: String,
    #[serde(default, skip_serializing_if = "is_zero_i128")]
    pub max_age_nanos: i128,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publisher_allowlist: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_registry: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub priority: i64,
    #[serde(default)]
    pub effect: Verdict,
    #[serde(default, skip_serializing_if = "is_default")]
    pub matcher: Match,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub min_approvals: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_distinct_approvers: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_broker_credential: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub broker_reference: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broker_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_declared_agent: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_agent_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied_agent_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub required_agent_manifest_digest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_agent_manifest_publishers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_agent_manifest_sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_agent_lifecycle_states: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_agent_owner: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_unexpired_agent: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub block_standing_credentials: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_credential_sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_credential_issuers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_credential_access_types: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_credential_ttl_seconds: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_jit_credential: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_context_evidence: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub required_context_evidence_mode: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_context_age_seconds: i64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub freeze_window: FreezeWindow,
    #[serde(default, skip_serializing_if = "is_default")]
    pub sandbox: Sandbox,
    #[serde(default, skip_serializing_if = "is_default")]
    pub rate_limit: RateLimit,
    #[serde(default, skip_serializing_if = "is_default")]
    pub destructive_budget: RateLimit,
    #[serde(default, skip_serializing_if = "is_default")]
    pub dataflow: Dataflow,
    #[serde(default, skip_serializing_if = "is_default")]
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspace_prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoint_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovery_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub tool_annotations: ToolAnnotations,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance_sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skill_publishers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skill_sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_tool_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_data_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_endpoint_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_autonomy_levels: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_delegation: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_delegator_identities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_delegate_identities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegation_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delegation_depth: Option<i64>,
    /// A predicate plugin that must also answer true (gait extension; see [`crate::predicate`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub predicate: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolAnnotations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timezone: String,
    #[serde(default)]
    pub effect: Verdict,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<Window>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sandbox {
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_network_modes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_writable_path_prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_read_only_roots: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_env_exposure_modes: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_timeout_seconds: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_filesystem_isolations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_user_modes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// 0 = no limit configured.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub requests: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub window: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

impl RateLimit {
    pub fn is_set(&self) -> bool {
        self.requests > 0
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dataflow {
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tainted_sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_operations: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub violation: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_allowlist: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_denylist: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_allowlist: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_denylist: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_classes: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub destructive_action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub violation: String,
}

impl Policy {
    /// The predicate names the rules use, sorted and deduplicated.
    pub fn predicate_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .rules
            .iter()
            .map(|r| r.matcher.predicate.as_str())
            .filter(|n| !n.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// A policy with its digest, as loaded from bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadedPolicy {
    pub policy: Policy,
    pub digest: String,
    /// The predicates the rules name, as bound at load (sorted by name); part of the digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predicates: Vec<crate::predicate::PredicateIdentity>,
    /// What runs those predicates.
    #[serde(skip)]
    pub evaluator: crate::predicate::PredicateHandle,
}

impl LoadedPolicy {
    /// Binds a normalized policy to its predicates and computes its digest. A policy without
    /// predicates gets the reference's digest and needs no resolver; one with predicates needs
    /// `predicates` to resolve every name (an unknown or unverifiable plugin is an error).
    pub fn bind(
        policy: Policy,
        predicates: &crate::predicate::PredicateHandle,
    ) -> Result<LoadedPolicy, GaitError> {
        let names = policy.predicate_names();
        if names.is_empty() {
            let digest = digest::policy_digest(&policy);
            return Ok(LoadedPolicy {
                policy,
                digest,
                predicates: Vec::new(),
                evaluator: predicates.clone(),
            });
        }
        let Some(resolver) = predicates.get() else {
            return Err(GaitError::invalid(format!(
                "the policy uses predicate {}, but predicate plugins are not available here",
                names[0]
            ))
            .with_hint(
                "predicates are installed plugins: gait plugin install NAME --registry DIR|URL",
            ));
        };
        let mut bound = Vec::with_capacity(names.len());
        for name in names {
            let rule = policy
                .rules
                .iter()
                .find(|r| r.matcher.predicate == name)
                .map(|r| r.name.as_str())
                .unwrap_or_default();
            bound.push(
                resolver
                    .resolve(name)
                    .map_err(|e| e.context(&format!("rule {rule}: predicate {name}")))?,
            );
        }
        let digest = digest::policy_digest_bound(&policy, &bound);
        Ok(LoadedPolicy {
            policy,
            digest,
            predicates: bound,
            evaluator: predicates.clone(),
        })
    }

    /// The predicates to evaluate this policy with.
    pub fn predicates(&self) -> Option<&dyn crate::predicate::Predicates> {
        self.evaluator.get()
    }
}

/// Policy files larger than this are refused before parsing.
pub const MAX_POLICY_BYTES: u64 = 8 * 1024 * 1024;

/// Decodes, validates and normalizes policy YAML and computes its digest. A policy naming
/// predicates needs [`load_with`].
pub fn load(src: &[u8]) -> Result<LoadedPolicy, GaitError> {
    load_with(src, &crate::predicate::PredicateHandle::none())
}

/// [`load`], binding the predicates the rules name through `predicates`.
pub fn load_with(
    src: &[u8],
    predicates: &crate::predicate::PredicateHandle,
) -> Result<LoadedPolicy, GaitError> {
    LoadedPolicy::bind(normalize_bytes(src)?, predicates)
}

/// Decodes, validates and normalizes policy YAML.
pub fn normalize_bytes(src: &[u8]) -> Result<Policy, GaitError> {
    let text = std::str::from_utf8(src).map_err(|_| {
        GaitError::invalid("parse policy yaml: policy file is not valid UTF-8")
            .with_hint("save the policy as UTF-8 text")
    })?;
    let tree = crate::yaml::tree::parse(text)
        .map_err(|e| GaitError::invalid(format!("parse policy yaml: {e}")))?;
    normalize::reject_legacy_keys(&tree)?;
    let file: model::PolicyFile = crate::yaml::decode_tree(&tree, "Policy")
        .map_err(|e| GaitError::invalid(format!("parse policy yaml: {e}")))?;
    normalize::normalize(file)
}
