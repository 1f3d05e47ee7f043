//! The policy digest (CONTRACTS §2.8): sha256 of the JCS form of a payload built from the normalized
//! policy with the reference's Go field names as keys. Optional members appear only when set, exactly
//! as the reference builds its payload; the recorded vectors pin every one of them.

use super::*;
use serde_json::{Map, Value, json};

fn list(v: &[String]) -> Value {
    json!(v)
}

/// Inserts `key: list` only when the list is non-empty.
fn opt_list(m: &mut Map<String, Value>, key: &str, v: &[String]) {
    if !v.is_empty() {
        m.insert(key.into(), list(v));
    }
}

fn opt_str(m: &mut Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

fn opt_true(m: &mut Map<String, Value>, key: &str, v: bool) {
    if v {
        m.insert(key.into(), json!(true));
    }
}

fn opt_int(m: &mut Map<String, Value>, key: &str, v: i64) {
    if v != 0 {
        m.insert(key.into(), json!(v));
    }
}

fn nil_when_empty(v: &[String]) -> Value {
    if v.is_empty() { Value::Null } else { list(v) }
}

/// Go's `time.Duration.String()` (`1h30m0s`, `1.5s`, `250ms`, `0s`).
pub fn go_duration_string(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: the largest unit that keeps the integer part non-zero.
        let (unit, scale) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&fraction(u, scale));
        out.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let frac = u % 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total % 3600) / 60;
        let s = secs_total % 60;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&fraction(s * 1_000_000_000 + frac, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `v / scale` with the fraction's trailing zeros trimmed.
fn fraction(v: u128, scale: u128) -> String {
    let int = v / scale;
    let rem = v % scale;
    if rem == 0 {
        return int.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// The digest payload of a normalized policy (without predicates).
pub fn payload(p: &Policy) -> Value {
    payload_bound(p, &[])
}

/// The digest payload of a policy bound to its predicates: a rule naming a predicate gets
/// `Match.Predicate` = `{Name, Version, ManifestDigest, ScriptSHA256}` of the bound plugin. Nothing
/// is added for rules without one, so such policies keep the reference's payload.
pub fn payload_bound(p: &Policy, predicates: &[crate::predicate::PredicateIdentity]) -> Value {
    let mut root = Map::new();
    root.insert("SchemaID".into(), json!(p.schema_id));
    root.insert("SchemaVersion".into(), json!(p.schema_version));
    root.insert("DefaultVerdict".into(), json!(p.default_verdict.as_str()));
    let mut fc = Map::new();
    fc.insert("Enabled".into(), json!(p.fail_closed.enabled));
    fc.insert("RiskClasses".into(), list(&p.fail_closed.risk_classes));
    fc.insert(
        "RequiredFields".into(),
        list(&p.fail_closed.required_fields),
    );
    opt_list(
        &mut fc,
        "RequiredHighRiskFields",
        &p.fail_closed.required_high_risk_fields,
    );
    root.insert("FailClosed".into(), Value::Object(fc));
    root.insert(
        "Rules".into(),
        Value::Array(
            p.rules
                .iter()
                .map(|r| rule_payload(r, predicates))
                .collect(),
        ),
    );
    let s = &p.scripts;
    if s.max_steps != 0 || s.require_approval_above != 0 || s.block_mixed_risk {
        root.insert(
            "Scripts".into(),
            json!({
                "MaxSteps": s.max_steps,
                "RequireApprovalAbove": s.require_approval_above,
                "BlockMixedRisk": s.block_mixed_risk,
            }),
        );
    }
    let t = &p.mcp_trust;
    if t.enabled {
        root.insert(
            "MCPTrust".into(),
            json!({
                "Enabled": t.enabled,
                "SnapshotPath": t.snapshot,
                "Action": t.action,
                "RequiredRiskClasses": t.required_risk_classes,
                "MinScore": t.min_score,
                "MaxAge": go_duration_string(t.max_age_nanos),
                "PublisherAllowlist": t.publisher_allowlist,
                "RequireRegistry": t.require_registry,
            }),
        );
    }
    Value::Object(root)
}

fn match_payload(m: &Match, predicates: &[crate::predicate::PredicateIdentity]) -> Value {
    let mut o = Map::new();
    o.insert("ToolNames".into(), list(&m.tool_names));
    o.insert("RiskClasses".into(), list(&m.risk_classes));
    o.insert("TargetKinds".into(), list(&m.target_kinds));
    o.insert("TargetValues".into(), list(&m.target_values));
    o.insert("ProvenanceSources".into(), list(&m.provenance_sources));
    o.insert("Identities".into(), list(&m.identities));
    o.insert("WorkspacePrefixes".into(), list(&m.workspace_prefixes));
    opt_list(&mut o, "EndpointClasses", &m.endpoint_classes);
    opt_list(&mut o, "DiscoveryMethods", &m.discovery_methods);
    if m.tool_annotations.is_set() {
        let a = &m.tool_annotations;
        let mut t = Map::new();
        for (key, v) in [
            ("ReadOnlyHint", a.read_only_hint),
            ("DestructiveHint", a.destructive_hint),
            ("IdempotentHint", a.idempotent_hint),
            ("OpenWorldHint", a.open_world_hint),
        ] {
            if let Some(b) = v {
                t.insert(key.into(), json!(b));
            }
        }
        o.insert("ToolAnnotations".into(), Value::Object(t));
    }
    opt_list(&mut o, "SkillPublishers", &m.skill_publishers);
    opt_list(&mut o, "SkillSources", &m.skill_sources);
    opt_list(&mut o, "DataClasses", &m.data_classes);
    opt_list(&mut o, "DestinationKinds", &m.destination_kinds);
    opt_list(&mut o, "DestinationValues", &m.destination_values);
    opt_list(&mut o, "DestinationOps", &m.destination_operations);
    opt_list(&mut o, "ContextToolNames", &m.context_tool_names);
    opt_list(&mut o, "ContextDataClasses", &m.context_data_classes);
    opt_list(
        &mut o,
        "ContextEndpointClasses",
        &m.context_endpoint_classes,
    );
    opt_list(&mut o, "ContextAutonomyLevels", &m.context_autonomy_levels);
    opt_true(&mut o, "RequireDelegation", m.require_delegation);
    opt_list(
        &mut o,
        "AllowedDelegatorIdentities",
        &m.allowed_delegator_identities,
    );
    opt_list(
        &mut o,
        "AllowedDelegateIdentities",
        &m.allowed_delegate_identities,
    );
    opt_list(&mut o, "DelegationScopes", &m.delegation_scopes);
    if let Some(depth) = m.max_delegation_depth {
        o.insert("MaxDelegationDepth".into(), json!(depth));
    }
    if !m.predicate.is_empty() {
        let mut pm = Map::new();
        pm.insert("Name".into(), json!(m.predicate));
        if let Some(id) = predicates.iter().find(|i| i.name == m.predicate) {
            pm.insert("Version".into(), json!(id.version));
            pm.insert("ManifestDigest".into(), json!(id.manifest_digest));
            pm.insert("ScriptSHA256".into(), json!(id.script_sha256));
        }
        o.insert("Predicate".into(), Value::Object(pm));
    }
    Value::Object(o)
}

fn rate_payload(r: &RateLimit) -> Value {
    json!({"Requests": r.requests, "Window": r.window, "Scope": r.scope})
}

fn rule_payload(r: &Rule, predicates: &[crate::predicate::PredicateIdentity]) -> Value {
    let mut o = Map::new();
    o.insert("Name".into(), json!(r.name));
    o.insert("Priority".into(), json!(r.priority));
    o.insert("Effect".into(), json!(r.effect.as_str()));
    o.insert("Match".into(), match_payload(&r.matcher, predicates));
    o.insert("ReasonCodes".into(), list(&r.reason_codes));
    o.insert("Violations".into(), list(&r.violations));
    opt_int(&mut o, "MinApprovals", r.min_approvals);
    opt_true(&mut o, "RequireDeclaredAgent", r.require_declared_agent);
    opt_list(&mut o, "AllowedAgentIDs", &r.allowed_agent_ids);
    opt_list(&mut o, "DeniedAgentIDs", &r.denied_agent_ids);
    opt_str(
        &mut o,
        "RequiredAgentManifestDigest",
        &r.required_agent_manifest_digest,
    );
    opt_list(
        &mut o,
        "AllowedAgentManifestPublishers",
        &r.allowed_agent_manifest_publishers,
    );
    opt_list(
        &mut o,
        "AllowedAgentManifestSources",
        &r.allowed_agent_manifest_sources,
    );
    opt_list(
        &mut o,
        "RequiredAgentLifecycleStates",
        &r.required_agent_lifecycle_states,
    );
    opt_true(&mut o, "RequireAgentOwner", r.require_agent_owner);
    opt_true(&mut o, "RequireUnexpiredAgent", r.require_unexpired_agent);
    opt_true(
        &mut o,
        "BlockStandingCredentials",
        r.block_standing_credentials,
    );
    opt_list(
        &mut o,
        "AllowedCredentialSources",
        &r.allowed_credential_sources,
    );
    opt_list(
        &mut o,
        "AllowedCredentialIssuers",
        &r.allowed_credential_issuers,
    );
    opt_list(
        &mut o,
        "AllowedCredentialAccessTypes",
        &r.allowed_credential_access_types,
    );
    opt_int(
        &mut o,
        "MaxCredentialTTLSeconds",
        r.max_credential_ttl_seconds,
    );
    opt_true(&mut o, "RequireJITCredential", r.require_jit_credential);
    opt_true(
        &mut o,
        "RequireDistinctApprovers",
        r.require_distinct_approvers,
    );
    opt_true(&mut o, "RequireContextEvidence", r.require_context_evidence);
    opt_str(
        &mut o,
        "RequiredContextEvidenceMode",
        &r.required_context_evidence_mode,
    );
    opt_int(&mut o, "MaxContextAgeSeconds", r.max_context_age_seconds);
    opt_true(
        &mut o,
        "RequireBrokerCredential",
        r.require_broker_credential,
    );
    opt_str(&mut o, "BrokerReference", &r.broker_reference);
    opt_list(&mut o, "BrokerScopes", &r.broker_scopes);
    let f = &r.freeze_window;
    if f.enabled {
        o.insert(
            "FreezeWindow".into(),
            json!({
                "Enabled": f.enabled,
                "Timezone": f.timezone,
                "Effect": f.effect.as_str(),
                "Reason": f.reason,
                "Environments": f.environments,
                "RiskClasses": f.risk_classes,
                "Windows": f.windows.iter().map(|w| json!({"Name": w.name, "Start": w.start, "End": w.end})).collect::<Vec<_>>(),
            }),
        );
    }
    let s = &r.sandbox;
    if s.enabled {
        o.insert(
            "Sandbox".into(),
            json!({
                "Enabled": s.enabled,
                "AllowedNetworkModes": s.allowed_network_modes,
                // The reference's path lists are nil (null) when empty; its enum lists are empty slices.
                "AllowedWritablePathPrefixes": nil_when_empty(&s.allowed_writable_path_prefixes),
                "RequiredReadOnlyRoots": nil_when_empty(&s.required_read_only_roots),
                "AllowedEnvExposureModes": s.allowed_env_exposure_modes,
                "MaxTimeoutSeconds": s.max_timeout_seconds,
                "AllowedFilesystemIsolations": s.allowed_filesystem_isolations,
                "AllowedUserModes": s.allowed_user_modes,
            }),
        );
    }
    if r.rate_limit.is_set() {
        o.insert("RateLimit".into(), rate_payload(&r.rate_limit));
    }
    if r.destructive_budget.is_set() {
        o.insert(
            "DestructiveBudget".into(),
            rate_payload(&r.destructive_budget),
        );
    }
    let d = &r.dataflow;
    if d.enabled {
        let mut m = Map::new();
        m.insert("Enabled".into(), json!(true));
        m.insert("TaintedSources".into(), list(&d.tainted_sources));
        m.insert("Action".into(), json!(d.action));
        m.insert("ReasonCode".into(), json!(d.reason_code));
        m.insert("Violation".into(), json!(d.violation));
        opt_list(&mut m, "DestinationKinds", &d.destination_kinds);
        opt_list(&mut m, "DestinationValues", &d.destination_values);
        opt_list(&mut m, "DestinationOperations", &d.destination_operations);
        o.insert("Dataflow".into(), Value::Object(m));
    }
    let e = &r.endpoint;
    if e.enabled {
        o.insert(
            "Endpoint".into(),
            json!({
                "Enabled": e.enabled,
                "PathAllowlist": e.path_allowlist,
                "PathDenylist": e.path_denylist,
                "DomainAllowlist": e.domain_allowlist,
                "DomainDenylist": e.domain_denylist,
                "EgressClasses": e.egress_classes,
                "Action": e.action,
                "DestructiveAction": e.destructive_action,
                "ReasonCode": e.reason_code,
                "Violation": e.violation,
            }),
        );
    }
    Value::Object(o)
}

/// The payload as a canon node (hashed directly, without a JSON text round trip).
fn to_node(v: &Value) -> gait_engine::canon::Node<'_> {
    use gait_engine::canon::{Node, Number};
    use std::borrow::Cow;
    match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => Node::Num(Number {
            value: n.as_f64().unwrap_or(0.0),
            raw: "",
        }),
        Value::String(s) => Node::Str(Cow::Borrowed(s)),
        Value::Array(items) => Node::Arr(items.iter().map(to_node).collect()),
        Value::Object(m) => Node::Obj(
            m.iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), to_node(v)))
                .collect(),
        ),
    }
}

/// sha256 hex of the JCS form of [`payload`].
pub fn policy_digest(p: &Policy) -> String {
    gait_engine::canon::digest_node(&to_node(&payload(p)))
}

/// sha256 hex of the JCS form of [`payload_bound`].
pub fn policy_digest_bound(
    p: &Policy,
    predicates: &[crate::predicate::PredicateIdentity],
) -> String {
    gait_engine::canon::digest_node(&to_node(&payload_bound(p, predicates)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration_string(5_400_000_000_000), "1h30m0s");
        assert_eq!(go_duration_string(1_500_000_000), "1.5s");
        assert_eq!(go_duration_string(250_000_000), "250ms");
        assert_eq!(go_duration_string(1_500), "1.5µs");
        assert_eq!(go_duration_string(42), "42ns");
        assert_eq!(go_duration_string(0), "0s");
        assert_eq!(go_duration_string(-60_000_000_000), "-1m0s");
        assert_eq!(go_duration_string(3_600_000_000_000), "1h0m0s");
    }

    #[test]
    fn contracts_digest_of_the_empty_policy() {
        // CONTRACTS §2.8: `default_verdict: require_approval` alone → 07a528a8…
        let loaded = crate::policy::load(b"default_verdict: require_approval\n").unwrap();
        assert_eq!(
            loaded.digest,
            "07a528a879e4f0e0cd5a0e2ca801924746b47dac624862207ef21d4ec266f8f9"
        );
    }
}
