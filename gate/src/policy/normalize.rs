//! Policy normalization and validation (CONTRACTS §2.1–2.3 with the vectors' errata).
//!
//! Error messages are the reference's where the vectors record them (`invalid rule effect "deny" for
//! bad`); the others follow the same pattern and name the rule and the field.

use super::model::*;
use super::*;
use crate::text::{lower_trim, norm_list, norm_lower_list};
use crate::vocab;
use crate::yaml::{Kind, YNode};
use serde_json::json;

fn invalid(msg: impl Into<String>) -> GaitError {
    GaitError::invalid(msg)
}

/// The reference's legacy top-level keys, their replacements and notes, in its order.
const LEGACY: &[(&str, &[&str], &str)] = &[
    (
        "version",
        &["schema_id", "schema_version"],
        "set schema_id=gait.gate.policy and schema_version=1.0.0",
    ),
    (
        "name",
        &[],
        "remove the top-level policy name; rule names remain under rules[].name when needed",
    ),
    ("boundaries", &["rules", "mcp_trust"], ""),
    ("defaults", &["default_verdict", "fail_closed"], ""),
    (
        "trust_sources",
        &["mcp_trust.snapshot"],
        "render external trust data to a local snapshot before evaluation",
    ),
    (
        "unknown_server",
        &["mcp_trust.action"],
        "enforce unknown servers through local snapshot coverage and a fail-closed action",
    ),
];

/// Rejects the legacy policy-proposal keys with migration guidance (before unknown-key errors).
pub fn reject_legacy_keys(tree: &YNode) -> Result<(), GaitError> {
    let Kind::Map(entries) = &tree.kind else {
        return Ok(());
    };
    let present: Vec<&(&str, &[&str], &str)> = LEGACY
        .iter()
        .filter(|(key, _, _)| entries.iter().any(|(k, _)| k.text == *key))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = present.iter().map(|(k, _, _)| *k).collect();
    let details: Vec<String> = present
        .iter()
        .map(
            |(key, repl, note)| match (repl.is_empty(), note.is_empty()) {
                (true, _) => format!("{key}->{note}"),
                (false, true) => format!("{key}->{}", repl.join("|")),
                (false, false) => format!("{key}->{} ({note})", repl.join("|")),
            },
        )
        .collect();
    let replacements: Vec<serde_json::Value> = present
        .iter()
        .map(|(key, repl, note)| {
            let mut m = serde_json::Map::new();
            m.insert("field".into(), json!(key));
            if !repl.is_empty() {
                m.insert("replacement_fields".into(), json!(repl));
            }
            if !note.is_empty() {
                m.insert("note".into(), json!(note));
            }
            serde_json::Value::Object(m)
        })
        .collect();
    Err(GaitError::invalid(format!(
        "parse policy yaml: legacy policy proposal fields are not supported [{}]: {}",
        names.join(", "),
        details.join("; ")
    ))
    .with_hint("use the repo-root `.gait.yaml` contract: `schema_id`, `schema_version`, `default_verdict`, optional `fail_closed`, optional `mcp_trust`, and `rules`")
    .with_migration(json!({
        "kind": "policy_fields",
        "deprecated_fields": names,
        "field_replacements": replacements,
    })))
}

/// Validates every entry of a lowercased list against an allowed set.
fn check_all(
    items: &[String],
    allowed: &[&str],
    err: impl Fn(&str) -> GaitError,
) -> Result<(), GaitError> {
    match items.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(bad) => Err(err(bad)),
        None => Ok(()),
    }
}

fn q(s: &str) -> String {
    gait_engine::canon::go_quote(s)
}

pub fn normalize(file: PolicyFile) -> Result<Policy, GaitError> {
    let schema_id = match file.schema_id.trim() {
        "" => POLICY_SCHEMA_ID.to_string(),
        s if s == POLICY_SCHEMA_ID => s.to_string(),
        s => return Err(invalid(format!("unsupported policy schema_id: {s}"))),
    };
    let schema_version = match file.schema_version.trim() {
        "" => POLICY_SCHEMA_VERSION.to_string(),
        s if s == POLICY_SCHEMA_VERSION => s.to_string(),
        s => return Err(invalid(format!("unsupported policy schema_version: {s}"))),
    };
    let verdict = lower_trim(&file.default_verdict);
    let action = lower_trim(&file.default_action);
    if !verdict.is_empty() && !action.is_empty() && verdict != action {
        return Err(invalid(
            "default_action must match default_verdict when both are set",
        ));
    }
    let chosen = if verdict.is_empty() { action } else { verdict };
    let default_verdict = if chosen.is_empty() {
        Verdict::RequireApproval
    } else {
        Verdict::parse(&chosen)
            .ok_or_else(|| invalid(format!("invalid default_verdict: {chosen}")))?
    };

    let scripts = match file.scripts {
        None => Scripts::default(),
        Some(s) => {
            if s.max_steps < 0 {
                return Err(invalid("scripts.max_steps must be >= 0"));
            }
            if s.require_approval_above < 0 {
                return Err(invalid("scripts.require_approval_above must be >= 0"));
            }
            Scripts {
                max_steps: s.max_steps,
                require_approval_above: s.require_approval_above,
                block_mixed_risk: s.block_mixed_risk,
            }
        }
    };

    let fail_closed = normalize_fail_closed(file.fail_closed.unwrap_or_default())?;
    let mcp_trust = normalize_mcp_trust(file.mcp_trust.unwrap_or_default())?;

    let mut rules = Vec::with_capacity(file.rules.len());
    for rule in file.rules {
        rules.push(normalize_rule(rule)?);
    }
    rules.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.name.cmp(&b.name))
    });

    Ok(Policy {
        schema_id,
        schema_version,
        default_verdict,
        scripts,
        fail_closed,
        mcp_trust,
        rules,
    })
}

fn normalize_fail_closed(f: FailClosedFile) -> Result<FailClosed, GaitError> {
    let mut risk_classes = norm_lower_list(&f.risk_classes);
    if f.enabled && risk_classes.is_empty() {
        risk_classes = vec!["critical".into(), "high".into()];
    }
    let required_fields = norm_lower_list(&f.required_fields);
    check_all(&required_fields, vocab::FAIL_CLOSED_FIELDS, |v| {
        invalid(format!("unsupported fail_closed required_field: {v}"))
    })?;
    let required_high_risk_fields = norm_lower_list(&f.required_high_risk_fields);
    check_all(
        &required_high_risk_fields,
        vocab::FAIL_CLOSED_HIGH_RISK_FIELDS,
        |v| {
            invalid(format!(
                "unsupported fail_closed required_high_risk_field: {v}"
            ))
        },
    )?;
    Ok(FailClosed {
        enabled: f.enabled,
        risk_classes,
        required_fields,
        required_high_risk_fields,
    })
}

fn normalize_mcp_trust(m: McpTrustFile) -> Result<McpTrust, GaitError> {
    let configured = m.enabled
        || !m.snapshot.trim().is_empty()
        || !m.action.trim().is_empty()
        || !m.required_risk_classes.is_empty()
        || m.min_score != 0.0
        || !m.max_age.trim().is_empty()
        || !m.publisher_allowlist.is_empty()
        || m.require_registry;
    if !configured {
        return Ok(McpTrust::default());
    }
    let snapshot = m.snapshot.trim().to_string();
    if snapshot.is_empty() {
        return Err(invalid(
            "mcp_trust.snapshot is required when mcp_trust is configured",
        ));
    }
    let action = match lower_trim(&m.action).as_str() {
        "" => "block".to_string(),
        a @ ("block" | "require_approval") => a.to_string(),
        other => {
            return Err(invalid(format!(
                "unsupported mcp_trust.action {}",
                q(other)
            )));
        }
    };
    let mut required_risk_classes = norm_lower_list(&m.required_risk_classes);
    if required_risk_classes.is_empty() {
        required_risk_classes = vec!["critical".into(), "high".into()];
    }
    if !(0.0..=1.0).contains(&m.min_score) || m.min_score.is_nan() {
        return Err(invalid("mcp_trust.min_score must be between 0 and 1"));
    }
    let max_age = m.max_age.trim().to_string();
    let mut max_age_nanos = 0;
    if !max_age.is_empty() {
        max_age_nanos = gait_engine::gotime::parse_go_duration(&max_age)
            .map_err(|e| invalid(format!("parse mcp_trust.max_age: {e}")))?;
        if max_age_nanos <= 0 {
            return Err(invalid("mcp_trust.max_age must be > 0"));
        }
    }
    Ok(McpTrust {
        enabled: true,
        snapshot,
        action,
        required_risk_classes,
        min_score: m.min_score,
        max_age,
        max_age_nanos,
        publisher_allowlist: norm_lower_list(&m.publisher_allowlist),
        require_registry: m.require_registry,
    })
}

fn normalize_rule(r: RuleFile) -> Result<Rule, GaitError> {
    let name = r.name.trim().to_string();
    if name.is_empty() {
        return Err(invalid("rule name is required"));
    }
    let effect_text = lower_trim(&r.effect);
    let action_text = lower_trim(&r.action);
    if !effect_text.is_empty() && !action_text.is_empty() && effect_text != action_text {
        return Err(invalid(format!("rule action must match effect for {name}")));
    }
    let chosen = if effect_text.is_empty() {
        action_text
    } else {
        effect_text
    };
    if chosen.is_empty() {
        return Err(invalid(format!("rule effect is required for {name}")));
    }
    let effect = Verdict::parse(&chosen)
        .ok_or_else(|| invalid(format!("invalid rule effect {} for {name}", q(&chosen))))?;

    if r.min_approvals < 0 {
        return Err(invalid(format!("min_approvals must be >= 0 for {name}")));
    }
    let matcher = normalize_match(&name, r.matcher.unwrap_or_default())?;

    let allowed_credential_sources = norm_lower_list(&r.allowed_credential_sources);
    check_all(
        &allowed_credential_sources,
        vocab::CREDENTIAL_SOURCES,
        |v| {
            invalid(format!(
                "unsupported allowed_credential_source {} for {name}",
                q(v)
            ))
        },
    )?;
    let allowed_credential_access_types = norm_lower_list(&r.allowed_credential_access_types);
    check_all(
        &allowed_credential_access_types,
        vocab::CREDENTIAL_ACCESS_TYPES,
        |v| {
            invalid(format!(
                "unsupported allowed_credential_access_type {} for {name}",
                q(v)
            ))
        },
    )?;
    if r.max_credential_ttl_seconds < 0 {
        return Err(invalid(format!(
            "max_credential_ttl_seconds must be >= 0 for {name}"
        )));
    }
    let required_agent_manifest_digest = lower_trim(&r.required_agent_manifest_digest);
    if !required_agent_manifest_digest.is_empty()
        && !crate::text::is_sha256_hex(&required_agent_manifest_digest)
    {
        return Err(invalid(format!(
            "required_agent_manifest_digest must be sha256 hex for {name}"
        )));
    }
    let mut required_context_evidence_mode = lower_trim(&r.required_context_evidence_mode);
    if !required_context_evidence_mode.is_empty() && required_context_evidence_mode != "required" {
        return Err(invalid(format!(
            "required_context_evidence_mode must be required for {name}"
        )));
    }
    if r.require_context_evidence && required_context_evidence_mode.is_empty() {
        required_context_evidence_mode = "required".into();
    }
    if r.max_context_age_seconds < 0 {
        return Err(invalid(format!(
            "max_context_age_seconds must be >= 0 for {name}"
        )));
    }

    let freeze_window = normalize_freeze(&name, r.freeze_window.unwrap_or_default())?;
    let sandbox = normalize_sandbox(&name, r.sandbox.unwrap_or_default())?;
    let rate_limit = normalize_rate(&name, "rate_limit", r.rate_limit.unwrap_or_default())?;
    let destructive_budget = normalize_rate(
        &name,
        "destructive_budget",
        r.destructive_budget.unwrap_or_default(),
    )?;
    let dataflow = normalize_dataflow(&name, r.dataflow.unwrap_or_default())?;
    let endpoint = normalize_endpoint(&name, r.endpoint.unwrap_or_default())?;

    Ok(Rule {
        name,
        priority: r.priority,
        effect,
        matcher,
        reason_codes: norm_list(&r.reason_codes),
        violations: norm_list(&r.violations),
        min_approvals: r.min_approvals,
        require_distinct_approvers: r.require_distinct_approvers || r.min_approvals > 1,
        require_broker_credential: r.require_broker_credential,
        broker_reference: r.broker_reference.trim().to_string(),
        broker_scopes: norm_lower_list(&r.broker_scopes),
        require_declared_agent: r.require_declared_agent,
        allowed_agent_ids: norm_list(&r.allowed_agent_ids),
        denied_agent_ids: norm_list(&r.denied_agent_ids),
        required_agent_manifest_digest,
        allowed_agent_manifest_publishers: norm_lower_list(&r.allowed_agent_manifest_publishers),
        allowed_agent_manifest_sources: norm_lower_list(&r.allowed_agent_manifest_sources),
        required_agent_lifecycle_states: norm_lower_list(&r.required_agent_lifecycle_states),
        require_agent_owner: r.require_agent_owner,
        require_unexpired_agent: r.require_unexpired_agent,
        block_standing_credentials: r.block_standing_credentials,
        allowed_credential_sources,
        allowed_credential_issuers: norm_list(&r.allowed_credential_issuers),
        allowed_credential_access_types,
        max_credential_ttl_seconds: r.max_credential_ttl_seconds,
        require_jit_credential: r.require_jit_credential,
        require_context_evidence: r.require_context_evidence,
        required_context_evidence_mode,
        max_context_age_seconds: r.max_context_age_seconds,
        freeze_window,
        sandbox,
        rate_limit,
        destructive_budget,
        dataflow,
        endpoint,
    })
}

fn normalize_match(name: &str, m: MatchFile) -> Result<Match, GaitError> {
    let mut tool_names = m.tool_names.clone();
    if !m.tool_name.trim().is_empty() {
        tool_names.push(m.tool_name.clone());
    }
    let mut endpoint_classes = m.endpoint_classes.clone();
    endpoint_classes.extend(m.endpoint_class.iter().cloned());
    let endpoint_classes = norm_lower_list(&endpoint_classes);
    check_all(&endpoint_classes, vocab::ENDPOINT_CLASSES, |v| {
        invalid(format!(
            "unsupported match.endpoint_class {} for {name}",
            q(v)
        ))
    })?;
    let discovery_methods: Vec<String> = {
        let mut v: Vec<String> = m
            .discovery_method
            .iter()
            .map(|s| vocab::normalize_discovery_method(s))
            .filter(|s| !s.is_empty())
            .collect();
        crate::text::sort_dedup(&mut v);
        v
    };
    check_all(&discovery_methods, vocab::DISCOVERY_METHODS, |v| {
        invalid(format!(
            "unsupported match.discovery_method {} for {name}",
            q(v)
        ))
    })?;
    if let Some(depth) = m.max_delegation_depth
        && depth < 0
    {
        return Err(invalid(format!(
            "max_delegation_depth must be >= 0 for {name}"
        )));
    }
    let workspace_prefixes: Vec<String> = {
        let v: Vec<String> = m
            .workspace_prefixes
            .iter()
            .map(|s| s.trim().replace('\\', "/"))
            .collect();
        norm_list(&v)
    };
    let predicate = m.predicate.trim().to_string();
    if !predicate.is_empty() && !valid_plugin_name(&predicate) {
        return Err(invalid(format!(
            "invalid match.predicate {} for {name}: a predicate is named like a plugin (1-64 of a-z, 0-9, `_`, `-`, starting with a letter or digit)",
            q(&predicate)
        )));
    }
    let annotations = m.tool_annotations.unwrap_or_default();
    Ok(Match {
        tool_names: norm_lower_list(&tool_names),
        risk_classes: norm_lower_list(&m.risk_classes),
        identities: norm_list(&m.identities),
        workspace_prefixes,
        target_kinds: norm_lower_list(&m.target_kinds),
        target_values: norm_list(&m.target_values),
        endpoint_classes,
        discovery_methods,
        tool_annotations: ToolAnnotations {
            read_only_hint: annotations.read_only_hint,
            destructive_hint: annotations.destructive_hint,
            idempotent_hint: annotations.idempotent_hint,
            open_world_hint: annotations.open_world_hint,
        },
        data_classes: norm_lower_list(&m.data_classes),
        destination_kinds: norm_lower_list(&m.destination_kinds),
        destination_values: norm_list(&m.destination_values),
        destination_operations: norm_lower_list(&m.destination_operations),
        provenance_sources: norm_lower_list(&m.provenance_sources),
        skill_publishers: norm_lower_list(&m.skill_publishers),
        skill_sources: norm_lower_list(&m.skill_sources),
        context_tool_names: norm_lower_list(&m.context_tool_names),
        context_data_classes: norm_lower_list(&m.context_data_classes),
        context_endpoint_classes: norm_lower_list(&m.context_endpoint_classes),
        context_autonomy_levels: norm_lower_list(&m.context_autonomy_levels),
        require_delegation: m.require_delegation,
        allowed_delegator_identities: norm_list(&m.allowed_delegator_identities),
        allowed_delegate_identities: norm_list(&m.allowed_delegate_identities),
        delegation_scopes: norm_lower_list(&m.delegation_scopes),
        max_delegation_depth: m.max_delegation_depth,
        predicate,
    })
}

/// The plugin-name rule of gait-registry (`^[a-z0-9][a-z0-9_-]{0,63}$`).
fn valid_plugin_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-'))
}

fn normalize_freeze(name: &str, f: FreezeWindowFile) -> Result<FreezeWindow, GaitError> {
    let enabled = f.enabled
        || !f.timezone.trim().is_empty()
        || !f.effect.trim().is_empty()
        || !f.reason.trim().is_empty()
        || !f.environments.is_empty()
        || !f.risk_classes.is_empty()
        || !f.windows.is_empty();
    if !enabled {
        return Ok(FreezeWindow::default());
    }
    let timezone = f.timezone.trim().to_string();
    if timezone.is_empty() {
        return Err(invalid(format!(
            "freeze_window.timezone is required for {name}"
        )));
    }
    if f.windows.is_empty() {
        return Err(invalid(format!(
            "freeze_window.windows is required for {name}"
        )));
    }
    let effect = match lower_trim(&f.effect).as_str() {
        "" | "block" => Verdict::Block,
        "require_approval" => Verdict::RequireApproval,
        other => {
            return Err(invalid(format!(
                "unsupported freeze_window.effect {} for {name}",
                q(other)
            )));
        }
    };
    let mut windows = Vec::with_capacity(f.windows.len());
    for (i, w) in f.windows.iter().enumerate() {
        let start = w.start.trim().to_string();
        let end = w.end.trim().to_string();
        if start.is_empty() || end.is_empty() {
            return Err(invalid(format!(
                "freeze_window window start and end are required for {name}"
            )));
        }
        let wname = match w.name.trim() {
            "" => format!("window-{}", i + 1),
            n => n.to_string(),
        };
        windows.push(Window {
            name: wname,
            start,
            end,
        });
    }
    Ok(FreezeWindow {
        enabled: true,
        timezone,
        effect,
        reason: f.reason.trim().to_string(),
        environments: norm_lower_list(&f.environments),
        risk_classes: norm_lower_list(&f.risk_classes),
        windows,
    })
}

fn normalize_sandbox(name: &str, s: SandboxFile) -> Result<Sandbox, GaitError> {
    let enabled = s.enabled
        || !s.allowed_network_modes.is_empty()
        || !s.allowed_writable_path_prefixes.is_empty()
        || !s.required_read_only_roots.is_empty()
        || !s.allowed_env_exposure_modes.is_empty()
        || s.max_timeout_seconds != 0
        || !s.allowed_filesystem_isolations.is_empty()
        || !s.allowed_user_modes.is_empty();
    if !enabled {
        return Ok(Sandbox::default());
    }
    let allowed_network_modes = norm_lower_list(&s.allowed_network_modes);
    check_all(&allowed_network_modes, vocab::NETWORK_MODES, |v| {
        invalid(format!(
            "unsupported sandbox.allowed_network_mode {} for {name}",
            q(v)
        ))
    })?;
    let allowed_env_exposure_modes = norm_lower_list(&s.allowed_env_exposure_modes);
    check_all(
        &allowed_env_exposure_modes,
        vocab::ENV_EXPOSURE_MODES,
        |v| {
            invalid(format!(
                "unsupported sandbox.allowed_env_exposure_mode {} for {name}",
                q(v)
            ))
        },
    )?;
    let allowed_filesystem_isolations = norm_lower_list(&s.allowed_filesystem_isolations);
    check_all(
        &allowed_filesystem_isolations,
        vocab::FILESYSTEM_ISOLATIONS,
        |v| {
            invalid(format!(
                "unsupported sandbox.allowed_filesystem_isolation {} for {name}",
                q(v)
            ))
        },
    )?;
    let allowed_user_modes = norm_lower_list(&s.allowed_user_modes);
    check_all(&allowed_user_modes, vocab::USER_MODES, |v| {
        invalid(format!(
            "unsupported sandbox.allowed_user_mode {} for {name}",
            q(v)
        ))
    })?;
    if s.max_timeout_seconds < 0 {
        return Err(invalid(format!(
            "sandbox.max_timeout_seconds must be >= 0 for {name}"
        )));
    }
    Ok(Sandbox {
        enabled: true,
        allowed_network_modes,
        allowed_writable_path_prefixes: norm_list(&s.allowed_writable_path_prefixes),
        required_read_only_roots: norm_list(&s.required_read_only_roots),
        allowed_env_exposure_modes,
        max_timeout_seconds: s.max_timeout_seconds,
        allowed_filesystem_isolations,
        allowed_user_modes,
    })
}

fn normalize_rate(name: &str, label: &str, r: RateLimitFile) -> Result<RateLimit, GaitError> {
    let configured = r.requests != 0 || !r.window.trim().is_empty() || !r.scope.trim().is_empty();
    if !configured {
        return Ok(RateLimit::default());
    }
    if r.requests < 1 {
        return Err(invalid(format!("{label}.requests must be >= 1 for {name}")));
    }
    let window = match lower_trim(&r.window).as_str() {
        "" | "minute" => "minute".to_string(),
        "hour" => "hour".to_string(),
        other => {
            return Err(invalid(format!(
                "unsupported {label}.window {} for {name}",
                q(other)
            )));
        }
    };
    let scope = match lower_trim(&r.scope).as_str() {
        "" | "tool_identity" => "tool_identity".to_string(),
        s @ ("tool" | "identity") => s.to_string(),
        other => {
            return Err(invalid(format!(
                "unsupported {label}.scope {} for {name}",
                q(other)
            )));
        }
    };
    Ok(RateLimit {
        requests: r.requests,
        window,
        scope,
    })
}

fn normalize_dataflow(name: &str, d: DataflowFile) -> Result<Dataflow, GaitError> {
    let enabled = d.enabled
        || !d.tainted_sources.is_empty()
        || !d.destination_kinds.is_empty()
        || !d.destination_values.is_empty()
        || !d.destination_operations.is_empty();
    if !enabled {
        return Ok(Dataflow::default());
    }
    let mut tainted_sources = norm_lower_list(&d.tainted_sources);
    if tainted_sources.is_empty() {
        tainted_sources = vec!["external".into(), "tool_output".into()];
    }
    check_all(&tainted_sources, vocab::PROVENANCE_SOURCES, |v| {
        invalid(format!(
            "unsupported dataflow.tainted_source {} for {name}",
            q(v)
        ))
    })?;
    let action = match lower_trim(&d.action).as_str() {
        "" => "require_approval".to_string(),
        a @ ("block" | "require_approval") => a.to_string(),
        other => {
            return Err(invalid(format!(
                "unsupported dataflow.action {} for {name}",
                q(other)
            )));
        }
    };
    Ok(Dataflow {
        enabled: true,
        tainted_sources,
        destination_kinds: norm_lower_list(&d.destination_kinds),
        destination_values: norm_list(&d.destination_values),
        destination_operations: norm_lower_list(&d.destination_operations),
        action,
        reason_code: match d.reason_code.trim() {
            "" => "dataflow_tainted_destination".to_string(),
            s => s.to_string(),
        },
        violation: match d.violation.trim() {
            "" => "tainted_dataflow".to_string(),
            s => s.to_string(),
        },
    })
}

fn normalize_endpoint(name: &str, e: EndpointFile) -> Result<Endpoint, GaitError> {
    let enabled = e.enabled
        || !e.path_allowlist.is_empty()
        || !e.path_denylist.is_empty()
        || !e.domain_allowlist.is_empty()
        || !e.domain_denylist.is_empty()
        || !e.egress_classes.is_empty()
        || !e.destructive_action.trim().is_empty();
    if !enabled {
        return Ok(Endpoint::default());
    }
    let egress_classes = norm_lower_list(&e.egress_classes);
    if egress_classes.iter().any(|c| !c.starts_with("net.")) {
        return Err(invalid(format!(
            "endpoint.egress_class must be network class for {name}"
        )));
    }
    let action = match lower_trim(&e.action).as_str() {
        "" => "block".to_string(),
        a @ ("block" | "require_approval") => a.to_string(),
        other => {
            return Err(invalid(format!(
                "unsupported endpoint.action {} for {name}",
                q(other)
            )));
        }
    };
    let destructive_action = match lower_trim(&e.destructive_action).as_str() {
        "" => String::new(),
        a @ ("block" | "require_approval" | "dry_run") => a.to_string(),
        other => {
            return Err(invalid(format!(
                "unsupported endpoint.destructive_action {} for {name}",
                q(other)
            )));
        }
    };
    // Patterns are kept as written: the reference does not rewrite `\` in paths (only the
    // context workspace), so neither side of a path comparison is converted.
    let paths = |v: &[String]| -> Vec<String> { norm_list(v) };
    Ok(Endpoint {
        enabled: true,
        path_allowlist: paths(&e.path_allowlist),
        path_denylist: paths(&e.path_denylist),
        domain_allowlist: norm_lower_list(&e.domain_allowlist),
        domain_denylist: norm_lower_list(&e.domain_denylist),
        egress_classes,
        action,
        destructive_action,
        reason_code: match e.reason_code.trim() {
            "" => "endpoint_constraint_violation".to_string(),
            s => s.to_string(),
        },
        violation: match e.violation.trim() {
            "" => "endpoint_constraint_violation".to_string(),
            s => s.to_string(),
        },
    })
}
