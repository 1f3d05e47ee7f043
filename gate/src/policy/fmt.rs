//! `gait policy fmt`: the normalized policy written back as YAML (two-space indent, every string
//! double-quoted, defaults made explicit, rules in evaluation order). Formatting is idempotent and
//! never changes the policy digest (both are tested over every policy in the recorded vectors).

use super::*;

struct W {
    out: String,
}

fn q(s: &str) -> String {
    // A JSON string is a valid YAML double-quoted scalar.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl W {
    fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }
    fn str(&mut self, indent: usize, key: &str, v: &str) {
        if !v.is_empty() {
            self.line(indent, &format!("{key}: {}", q(v)));
        }
    }
    fn int(&mut self, indent: usize, key: &str, v: i64) {
        if v != 0 {
            self.line(indent, &format!("{key}: {v}"));
        }
    }
    fn flag(&mut self, indent: usize, key: &str, v: bool) {
        if v {
            self.line(indent, &format!("{key}: true"));
        }
    }
    fn list(&mut self, indent: usize, key: &str, v: &[String]) {
        if v.is_empty() {
            return;
        }
        self.line(indent, &format!("{key}:"));
        for item in v {
            self.line(indent + 1, &format!("- {}", q(item)));
        }
    }
}

/// Formats a normalized policy.
pub fn format(p: &Policy) -> String {
    let mut w = W { out: String::new() };
    w.str(0, "schema_id", &p.schema_id);
    w.str(0, "schema_version", &p.schema_version);
    w.str(0, "default_verdict", p.default_verdict.as_str());
    let s = &p.scripts;
    if s.max_steps != 0 || s.require_approval_above != 0 || s.block_mixed_risk {
        w.line(0, "scripts:");
        w.int(1, "max_steps", s.max_steps);
        w.int(1, "require_approval_above", s.require_approval_above);
        w.flag(1, "block_mixed_risk", s.block_mixed_risk);
    }
    let f = &p.fail_closed;
    if f.enabled
        || !f.risk_classes.is_empty()
        || !f.required_fields.is_empty()
        || !f.required_high_risk_fields.is_empty()
    {
        w.line(0, "fail_closed:");
        w.line(1, &format!("enabled: {}", f.enabled));
        w.list(1, "risk_classes", &f.risk_classes);
        w.list(1, "required_fields", &f.required_fields);
        w.list(1, "required_high_risk_fields", &f.required_high_risk_fields);
    }
    let t = &p.mcp_trust;
    if t.enabled {
        w.line(0, "mcp_trust:");
        w.line(1, "enabled: true");
        w.str(1, "snapshot", &t.snapshot);
        w.str(1, "action", &t.action);
        w.list(1, "required_risk_classes", &t.required_risk_classes);
        if t.min_score != 0.0 {
            w.line(
                1,
                &format!("min_score: {}", gait_engine::canon::es6_number(t.min_score)),
            );
        }
        w.str(1, "max_age", &t.max_age);
        w.list(1, "publisher_allowlist", &t.publisher_allowlist);
        w.flag(1, "require_registry", t.require_registry);
    }
    if p.rules.is_empty() {
        w.line(0, "rules: []");
    } else {
        w.line(0, "rules:");
        for r in &p.rules {
            rule(&mut w, r);
        }
    }
    w.out
}

fn rule(w: &mut W, r: &Rule) {
    w.line(1, &format!("- name: {}", q(&r.name)));
    let i = 2;
    if r.priority != 0 {
        w.line(i, &format!("priority: {}", r.priority));
    }
    w.str(i, "effect", r.effect.as_str());
    let m = &r.matcher;
    let mut body = W { out: String::new() };
    let j = i + 1;
    body.list(j, "tool_names", &m.tool_names);
    body.list(j, "risk_classes", &m.risk_classes);
    body.list(j, "identities", &m.identities);
    body.list(j, "workspace_prefixes", &m.workspace_prefixes);
    body.list(j, "target_kinds", &m.target_kinds);
    body.list(j, "target_values", &m.target_values);
    body.list(j, "endpoint_classes", &m.endpoint_classes);
    body.list(j, "discovery_method", &m.discovery_methods);
    if m.tool_annotations.is_set() {
        body.line(j, "tool_annotations:");
        let a = &m.tool_annotations;
        for (k, v) in [
            ("readOnlyHint", a.read_only_hint),
            ("destructiveHint", a.destructive_hint),
            ("idempotentHint", a.idempotent_hint),
            ("openWorldHint", a.open_world_hint),
        ] {
            if let Some(b) = v {
                body.line(j + 1, &format!("{k}: {b}"));
            }
        }
    }
    body.list(j, "data_classes", &m.data_classes);
    body.list(j, "destination_kinds", &m.destination_kinds);
    body.list(j, "destination_values", &m.destination_values);
    body.list(j, "destination_operations", &m.destination_operations);
    body.list(j, "provenance_sources", &m.provenance_sources);
    body.list(j, "skill_publishers", &m.skill_publishers);
    body.list(j, "skill_sources", &m.skill_sources);
    body.list(j, "context_tool_names", &m.context_tool_names);
    body.list(j, "context_data_classes", &m.context_data_classes);
    body.list(j, "context_endpoint_classes", &m.context_endpoint_classes);
    body.list(j, "context_autonomy_levels", &m.context_autonomy_levels);
    body.flag(j, "require_delegation", m.require_delegation);
    body.list(
        j,
        "allowed_delegator_identities",
        &m.allowed_delegator_identities,
    );
    body.list(
        j,
        "allowed_delegate_identities",
        &m.allowed_delegate_identities,
    );
    body.list(j, "delegation_scopes", &m.delegation_scopes);
    if let Some(d) = m.max_delegation_depth {
        body.line(j, &format!("max_delegation_depth: {d}"));
    }
    body.str(j, "predicate", &m.predicate);
    if !body.out.is_empty() {
        w.line(i, "match:");
        w.out.push_str(&body.out);
    }
    w.list(i, "reason_codes", &r.reason_codes);
    w.list(i, "violations", &r.violations);
    w.int(i, "min_approvals", r.min_approvals);
    w.flag(
        i,
        "require_distinct_approvers",
        r.require_distinct_approvers,
    );
    w.flag(i, "require_broker_credential", r.require_broker_credential);
    w.str(i, "broker_reference", &r.broker_reference);
    w.list(i, "broker_scopes", &r.broker_scopes);
    w.flag(i, "require_declared_agent", r.require_declared_agent);
    w.list(i, "allowed_agent_ids", &r.allowed_agent_ids);
    w.list(i, "denied_agent_ids", &r.denied_agent_ids);
    w.str(
        i,
        "required_agent_manifest_digest",
        &r.required_agent_manifest_digest,
    );
    w.list(
        i,
        "allowed_agent_manifest_publishers",
        &r.allowed_agent_manifest_publishers,
    );
    w.list(
        i,
        "allowed_agent_manifest_sources",
        &r.allowed_agent_manifest_sources,
    );
    w.list(
        i,
        "required_agent_lifecycle_states",
        &r.required_agent_lifecycle_states,
    );
    w.flag(i, "require_agent_owner", r.require_agent_owner);
    w.flag(i, "require_unexpired_agent", r.require_unexpired_agent);
    w.flag(
        i,
        "block_standing_credentials",
        r.block_standing_credentials,
    );
    w.list(
        i,
        "allowed_credential_sources",
        &r.allowed_credential_sources,
    );
    w.list(
        i,
        "allowed_credential_issuers",
        &r.allowed_credential_issuers,
    );
    w.list(
        i,
        "allowed_credential_access_types",
        &r.allowed_credential_access_types,
    );
    w.int(
        i,
        "max_credential_ttl_seconds",
        r.max_credential_ttl_seconds,
    );
    w.flag(i, "require_jit_credential", r.require_jit_credential);
    w.flag(i, "require_context_evidence", r.require_context_evidence);
    w.str(
        i,
        "required_context_evidence_mode",
        &r.required_context_evidence_mode,
    );
    w.int(i, "max_context_age_seconds", r.max_context_age_seconds);
    let f = &r.freeze_window;
    if f.enabled {
        w.line(i, "freeze_window:");
        w.line(i + 1, "enabled: true");
        w.str(i + 1, "timezone", &f.timezone);
        w.str(i + 1, "effect", f.effect.as_str());
        w.str(i + 1, "reason", &f.reason);
        w.list(i + 1, "environments", &f.environments);
        w.list(i + 1, "risk_classes", &f.risk_classes);
        w.line(i + 1, "windows:");
        for win in &f.windows {
            w.line(i + 2, &format!("- name: {}", q(&win.name)));
            w.str(i + 3, "start", &win.start);
            w.str(i + 3, "end", &win.end);
        }
    }
    let s = &r.sandbox;
    if s.enabled {
        w.line(i, "sandbox:");
        w.line(i + 1, "enabled: true");
        w.list(i + 1, "allowed_network_modes", &s.allowed_network_modes);
        w.list(
            i + 1,
            "allowed_writable_path_prefixes",
            &s.allowed_writable_path_prefixes,
        );
        w.list(
            i + 1,
            "required_read_only_roots",
            &s.required_read_only_roots,
        );
        w.list(
            i + 1,
            "allowed_env_exposure_modes",
            &s.allowed_env_exposure_modes,
        );
        w.int(i + 1, "max_timeout_seconds", s.max_timeout_seconds);
        w.list(
            i + 1,
            "allowed_filesystem_isolations",
            &s.allowed_filesystem_isolations,
        );
        w.list(i + 1, "allowed_user_modes", &s.allowed_user_modes);
    }
    for (key, rl) in [
        ("rate_limit", &r.rate_limit),
        ("destructive_budget", &r.destructive_budget),
    ] {
        if rl.is_set() {
            w.line(i, &format!("{key}:"));
            w.int(i + 1, "requests", rl.requests);
            w.str(i + 1, "window", &rl.window);
            w.str(i + 1, "scope", &rl.scope);
        }
    }
    let d = &r.dataflow;
    if d.enabled {
        w.line(i, "dataflow:");
        w.line(i + 1, "enabled: true");
        w.list(i + 1, "tainted_sources", &d.tainted_sources);
        w.list(i + 1, "destination_kinds", &d.destination_kinds);
        w.list(i + 1, "destination_values", &d.destination_values);
        w.list(i + 1, "destination_operations", &d.destination_operations);
        w.str(i + 1, "action", &d.action);
        w.str(i + 1, "reason_code", &d.reason_code);
        w.str(i + 1, "violation", &d.violation);
    }
    let e = &r.endpoint;
    if e.enabled {
        w.line(i, "endpoint:");
        w.line(i + 1, "enabled: true");
        w.list(i + 1, "path_allowlist", &e.path_allowlist);
        w.list(i + 1, "path_denylist", &e.path_denylist);
        w.list(i + 1, "domain_allowlist", &e.domain_allowlist);
        w.list(i + 1, "domain_denylist", &e.domain_denylist);
        w.list(i + 1, "egress_classes", &e.egress_classes);
        w.str(i + 1, "action", &e.action);
        w.str(i + 1, "destructive_action", &e.destructive_action);
        w.str(i + 1, "reason_code", &e.reason_code);
        w.str(i + 1, "violation", &e.violation);
    }
}
