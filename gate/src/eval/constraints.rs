//! Rule matching (§2.3) and the per-rule constraints of §2.4 step 6.

use super::decisions::{FreezeWindowDecision, SandboxDecision};
use super::glob::path_match;
use super::{Env, RuleEval, View};
use crate::policy::{Dataflow, Endpoint, FreezeWindow, Rule, Sandbox, Verdict};
use crate::text::go_lower;
use gait_engine::GoTime;

fn contains(list: &[String], v: &str) -> bool {
    list.iter().any(|x| x == v)
}

/// True when every condition of the rule's `match` holds (absent conditions hold).
pub fn rule_matches(rule: &Rule, view: &View<'_>) -> bool {
    let m = &rule.matcher;
    let ctx = view.context;
    let targets = view.targets;
    let any_target = |list: &[String], f: &dyn Fn(&crate::intent::Target) -> &str| {
        list.is_empty() || targets.iter().any(|t| contains(list, f(t)))
    };
    if !m.tool_names.is_empty() && !contains(&m.tool_names, view.tool_name) {
        return false;
    }
    if !m.risk_classes.is_empty() && !contains(&m.risk_classes, &ctx.risk_class) {
        return false;
    }
    if !m.identities.is_empty() && !contains(&m.identities, &ctx.identity) {
        return false;
    }
    if !m.workspace_prefixes.is_empty()
        && !m
            .workspace_prefixes
            .iter()
            .any(|p| ctx.workspace.starts_with(p.as_str()))
    {
        return false;
    }
    if !any_target(&m.target_kinds, &|t| &t.kind)
        || !any_target(&m.target_values, &|t| &t.value)
        || !any_target(&m.endpoint_classes, &|t| &t.endpoint_class)
        || !any_target(&m.discovery_methods, &|t| &t.discovery_method)
        || !any_target(&m.data_classes, &|t| &t.sensitivity)
        || !any_target(&m.destination_kinds, &|t| &t.kind)
        || !any_target(&m.destination_values, &|t| &t.value)
        || !any_target(&m.destination_operations, &|t| &t.operation)
    {
        return false;
    }
    let a = &m.tool_annotations;
    if a.is_set() {
        let hit = targets.iter().any(|t| {
            a.read_only_hint.is_none_or(|v| v == t.read_only_hint)
                && a.destructive_hint.is_none_or(|v| v == t.destructive_hint)
                && a.idempotent_hint.is_none_or(|v| v == t.idempotent_hint)
                && a.open_world_hint.is_none_or(|v| v == t.open_world_hint)
        });
        if !hit {
            return false;
        }
    }
    if !m.provenance_sources.is_empty()
        && !view
            .arg_provenance
            .iter()
            .any(|p| contains(&m.provenance_sources, &p.source))
    {
        return false;
    }
    if !m.skill_publishers.is_empty() || !m.skill_sources.is_empty() {
        let Some(skill) = &view.intent.skill_provenance else {
            return false;
        };
        if !m.skill_publishers.is_empty()
            && !contains(&m.skill_publishers, &go_lower(&skill.publisher))
        {
            return false;
        }
        if !m.skill_sources.is_empty() && !contains(&m.skill_sources, &go_lower(&skill.source)) {
            return false;
        }
    }
    for (list, key) in [
        (&m.context_tool_names, "wrkr.tool_name"),
        (&m.context_data_classes, "wrkr.data_class"),
        (&m.context_endpoint_classes, "wrkr.endpoint_class"),
        (&m.context_autonomy_levels, "wrkr.autonomy_level"),
    ] {
        if !list.is_empty() {
            match ctx.auth_string(key) {
                Some(v) if contains(list, &go_lower(v.trim())) => {}
                _ => return false,
            }
        }
    }
    if rule.needs_delegation() {
        let Some(d) = &view.intent.delegation else {
            return false;
        };
        if !m.allowed_delegator_identities.is_empty()
            && !d
                .chain
                .iter()
                .any(|l| contains(&m.allowed_delegator_identities, &l.delegator_identity))
        {
            return false;
        }
        if !m.allowed_delegate_identities.is_empty()
            && !contains(&m.allowed_delegate_identities, &d.requester_identity)
            && !d
                .chain
                .iter()
                .any(|l| contains(&m.allowed_delegate_identities, &l.delegate_identity))
        {
            return false;
        }
        if !m.delegation_scopes.is_empty()
            && !contains(&m.delegation_scopes, &d.scope_class)
            && !d
                .chain
                .iter()
                .any(|l| contains(&m.delegation_scopes, &l.scope_class))
        {
            return false;
        }
        if let Some(max) = m.max_delegation_depth
            && d.chain.len() as i64 > max
        {
            return false;
        }
    }
    true
}

/// A rule's effect, reasons and violations after its constraints.
pub(crate) fn evaluate_rule(rule: &Rule, view: &View<'_>, env: &Env<'_>) -> RuleEval {
    let mut e = RuleEval {
        effect: rule.effect,
        reasons: rule.base_reason_codes(),
        violations: rule.violations.clone(),
        freeze_window: None,
        sandbox: None,
        predicate_failure: None,
    };
    dataflow(&rule.dataflow, view, &mut e);
    endpoint(&rule.endpoint, view, &mut e);
    context_evidence(rule, view, &mut e);
    agent_identity(rule, view, env, &mut e);
    credential_posture(rule, view, &mut e);
    if rule.freeze_window.enabled {
        let d = freeze_window(&rule.freeze_window, view, env.now);
        match d.status.as_str() {
            "active" | "invalid" => {
                let effect = if d.status == "active" {
                    rule.freeze_window.effect
                } else {
                    Verdict::Block
                };
                escalate(&mut e, effect, &d.reason_code, &d.reason_code);
            }
            _ => {}
        }
        e.freeze_window = Some(d);
    }
    let mut sandbox_valid = false;
    if rule.sandbox.enabled {
        let d = sandbox(&rule.sandbox, view);
        sandbox_valid = d.status == "valid";
        for code in &d.reason_codes {
            escalate(&mut e, Verdict::Block, code, code);
        }
        e.sandbox = Some(d);
    }
    let destructive = view.targets.iter().any(|t| t.destructive);
    let exec_only =
        !view.targets.is_empty() && view.targets.iter().all(|t| t.endpoint_class == "proc.exec");
    if destructive && !(sandbox_valid && exec_only) {
        if view.context.phase == "plan" {
            e.effect = e.effect.max(Verdict::DryRun);
            e.reasons.push("plan_phase_non_destructive".into());
        } else {
            e.effect = e.effect.max(Verdict::RequireApproval);
            e.reasons.push("destructive_apply_requires_approval".into());
        }
    }
    e
}

/// Raises the effect and records a reason code and a violation.
fn escalate(e: &mut RuleEval, effect: Verdict, reason: &str, violation: &str) {
    e.effect = e.effect.max(effect);
    e.reasons.push(reason.to_string());
    e.violations.push(violation.to_string());
}

fn verdict_of(action: &str) -> Verdict {
    Verdict::parse(action).unwrap_or(Verdict::Block)
}

const DEFAULT_EGRESS_KINDS: &[&str] = &["host", "url", "bucket", "queue", "topic"];

/// Tainted provenance flowing to a matching destination *replaces* the effect.
fn dataflow(d: &Dataflow, view: &View<'_>, e: &mut RuleEval) {
    if !d.enabled {
        return;
    }
    let tainted = view
        .arg_provenance
        .iter()
        .any(|p| contains(&d.tainted_sources, &p.source));
    if !tainted {
        return;
    }
    let explicit = !d.destination_kinds.is_empty()
        || !d.destination_values.is_empty()
        || !d.destination_operations.is_empty();
    let hit = view.targets.iter().any(|t| {
        if explicit {
            (d.destination_kinds.is_empty() || contains(&d.destination_kinds, &t.kind))
                && (d.destination_values.is_empty() || contains(&d.destination_values, &t.value))
                && (d.destination_operations.is_empty()
                    || contains(&d.destination_operations, &t.operation))
        } else {
            DEFAULT_EGRESS_KINDS.contains(&t.kind.as_str())
        }
    });
    if hit {
        e.effect = verdict_of(&d.action);
        e.reasons.push(d.reason_code.clone());
        e.violations.push(d.violation.clone());
    }
}

/// `prefix/**` (the prefix itself or anything under it), an exact path, or a `path.Match` glob.
fn path_pattern_matches(pattern: &str, value: &str) -> bool {
    if pattern == value {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix("/**") {
        let prefix = if prefix.is_empty() { "/" } else { prefix };
        return value == prefix || value.starts_with(&format!("{}/", prefix.trim_end_matches('/')));
    }
    path_match(pattern, value)
}

/// An exact domain, `*.suffix` (sub-domains only) or a `path.Match` glob.
fn domain_pattern_matches(pattern: &str, domain: &str) -> bool {
    if pattern == domain {
        return true;
    }
    if let Some(suffix) = pattern.strip_prefix("*.")
        && !suffix.contains(['*', '?', '['])
    {
        return domain.ends_with(&format!(".{suffix}"));
    }
    path_match(pattern, domain)
}

fn endpoint(ep: &Endpoint, view: &View<'_>, e: &mut RuleEval) {
    if !ep.enabled {
        return;
    }
    let mut codes: Vec<&str> = Vec::new();
    for t in view.targets {
        if t.kind == "path" {
            if ep
                .path_denylist
                .iter()
                .any(|p| path_pattern_matches(p, &t.value))
            {
                codes.push("endpoint_path_denied");
            }
            if !ep.path_allowlist.is_empty()
                && !ep
                    .path_allowlist
                    .iter()
                    .any(|p| path_pattern_matches(p, &t.value))
            {
                codes.push("endpoint_path_not_allowlisted");
            }
        }
        if !t.endpoint_domain.is_empty() {
            if ep
                .domain_denylist
                .iter()
                .any(|p| domain_pattern_matches(p, &t.endpoint_domain))
            {
                codes.push("endpoint_domain_denied");
            }
            if !ep.domain_allowlist.is_empty()
                && !ep
                    .domain_allowlist
                    .iter()
                    .any(|p| domain_pattern_matches(p, &t.endpoint_domain))
            {
                codes.push("endpoint_domain_not_allowlisted");
            }
        }
        if t.endpoint_class.starts_with("net.")
            && !ep.egress_classes.is_empty()
            && !contains(&ep.egress_classes, &t.endpoint_class)
        {
            codes.push("endpoint_egress_class_not_allowed");
        }
    }
    codes.sort_unstable();
    codes.dedup();
    let action = verdict_of(&ep.action);
    if !codes.is_empty() {
        for c in &codes {
            e.reasons.push((*c).to_string());
            e.violations.push((*c).to_string());
        }
        escalate(e, action, &ep.reason_code, &ep.violation);
    }
    if !ep.destructive_action.is_empty() && view.targets.iter().any(|t| t.destructive) {
        e.effect = e.effect.max(verdict_of(&ep.destructive_action)).max(action);
        e.reasons.push("endpoint_destructive_operation".into());
        e.violations.push("destructive_operation".into());
        e.reasons.push(ep.reason_code.clone());
        e.violations.push(ep.violation.clone());
    }
}

/// Context evidence requirements: always block.
fn context_evidence(rule: &Rule, view: &View<'_>, e: &mut RuleEval) {
    let ctx = view.context;
    let needs_digest = rule.require_context_evidence || rule.max_context_age_seconds > 0;
    if !needs_digest && rule.required_context_evidence_mode.is_empty() {
        return;
    }
    if rule.require_context_evidence && ctx.context_set_digest.is_empty() {
        escalate(
            e,
            Verdict::Block,
            "context_evidence_missing",
            "missing_context_evidence",
        );
    }
    if needs_digest && ctx.context_set_digest.is_empty() {
        escalate(
            e,
            Verdict::Block,
            "context_set_digest_missing",
            "missing_context_evidence",
        );
    }
    if rule.required_context_evidence_mode == "required" && ctx.context_evidence_mode != "required"
    {
        escalate(
            e,
            Verdict::Block,
            "context_evidence_mode_mismatch",
            "context_evidence_mode_violation",
        );
    }
    if rule.max_context_age_seconds > 0
        && !ctx.context_set_digest.is_empty()
        && let Some(age) = ctx.auth_number("context_age_seconds")
        && age > rule.max_context_age_seconds as f64
    {
        escalate(
            e,
            Verdict::Block,
            "context_freshness_exceeded",
            "context_freshness_violation",
        );
    }
}

/// Agent identity requirements: always block.
fn agent_identity(rule: &Rule, view: &View<'_>, env: &Env<'_>, e: &mut RuleEval) {
    let active = rule.require_declared_agent
        || !rule.allowed_agent_ids.is_empty()
        || !rule.denied_agent_ids.is_empty()
        || !rule.required_agent_manifest_digest.is_empty()
        || !rule.allowed_agent_manifest_publishers.is_empty()
        || !rule.allowed_agent_manifest_sources.is_empty()
        || !rule.required_agent_lifecycle_states.is_empty()
        || rule.require_agent_owner
        || rule.require_unexpired_agent;
    if !active {
        return;
    }
    let ctx = view.context;
    let ident = ctx.agent_identity.as_ref();
    let default = crate::intent::AgentIdentity::default();
    let a = ident.unwrap_or(&default);
    if rule.require_declared_agent && (ctx.agent_id.is_empty() || ident.is_none()) {
        escalate(e, Verdict::Block, "agent_unknown", "agent_identity_missing");
    }
    if !rule.allowed_agent_ids.is_empty() && !contains(&rule.allowed_agent_ids, &ctx.agent_id) {
        escalate(e, Verdict::Block, "agent_unknown", "agent_not_declared");
    }
    if (!ctx.agent_id.is_empty() && contains(&rule.denied_agent_ids, &ctx.agent_id)) || a.revoked {
        escalate(e, Verdict::Block, "agent_revoked", "agent_revoked");
    }
    if rule.require_agent_owner && a.owner.is_empty() {
        escalate(
            e,
            Verdict::Block,
            "agent_owner_missing",
            "agent_owner_missing",
        );
    }
    if !rule.required_agent_lifecycle_states.is_empty()
        && !rule
            .required_agent_lifecycle_states
            .iter()
            .all(|s| contains(&a.lifecycle_states, s))
    {
        escalate(
            e,
            Verdict::Block,
            "agent_lifecycle_state_invalid",
            "agent_lifecycle_state_invalid",
        );
    }
    if rule.require_unexpired_agent && (a.expires_at.is_zero() || a.expires_at <= env.now) {
        escalate(e, Verdict::Block, "agent_expired", "agent_expired");
    }
    let manifest_mismatch = (!rule.required_agent_manifest_digest.is_empty()
        && rule.required_agent_manifest_digest != a.manifest_digest)
        || (!rule.allowed_agent_manifest_publishers.is_empty()
            && !contains(
                &rule.allowed_agent_manifest_publishers,
                &go_lower(&a.publisher),
            ))
        || (!rule.allowed_agent_manifest_sources.is_empty()
            && !contains(&rule.allowed_agent_manifest_sources, &go_lower(&a.source)));
    if manifest_mismatch {
        escalate(
            e,
            Verdict::Block,
            "agent_manifest_mismatch",
            "agent_manifest_mismatch",
        );
    }
}

/// Credential posture requirements: always block.
fn credential_posture(rule: &Rule, view: &View<'_>, e: &mut RuleEval) {
    let active = rule.block_standing_credentials
        || rule.require_jit_credential
        || !rule.allowed_credential_sources.is_empty()
        || !rule.allowed_credential_issuers.is_empty()
        || !rule.allowed_credential_access_types.is_empty()
        || rule.max_credential_ttl_seconds > 0;
    if !active {
        return;
    }
    let ctx = view.context;
    let source = ctx.credential_source.as_str();
    let access = ctx.credential_access_type.as_str();
    let mut codes: Vec<&str> = Vec::new();
    if rule.block_standing_credentials || rule.require_jit_credential {
        if ctx.credential_ref.is_empty() || source.is_empty() || access.is_empty() {
            codes.push("credential_evidence_missing");
        }
        if access.is_empty() || access == "unknown" {
            codes.push("credential_access_type_unknown");
        }
    }
    if rule.block_standing_credentials {
        if source.is_empty() || source == "unknown" {
            codes.push("credential_source_unknown");
        }
        if matches!(access, "" | "unknown" | "standing" | "static") {
            codes.push("standing_credential_disallowed");
        }
    }
    if rule.require_jit_credential && !access.is_empty() && access != "unknown" && access != "jit" {
        codes.push("credential_not_jit");
    }
    if !rule.allowed_credential_sources.is_empty()
        && !contains(&rule.allowed_credential_sources, source)
    {
        codes.push("credential_source_disallowed");
    }
    if !rule.allowed_credential_issuers.is_empty()
        && !contains(&rule.allowed_credential_issuers, &ctx.credential_issuer)
    {
        codes.push("credential_issuer_disallowed");
    }
    if !rule.allowed_credential_access_types.is_empty()
        && !contains(&rule.allowed_credential_access_types, access)
    {
        codes.push("credential_access_type_disallowed");
    }
    if rule.max_credential_ttl_seconds > 0 {
        if ctx.credential_ttl_seconds <= 0 {
            codes.push("credential_evidence_missing");
        } else if ctx.credential_ttl_seconds > rule.max_credential_ttl_seconds {
            codes.push("credential_ttl_exceeded");
        }
    }
    if !ctx.credential_target_binding.is_empty()
        && ctx.credential_target_binding != view.intent.targets_digest()
    {
        codes.push("credential_target_binding_mismatch");
    }
    if !ctx.credential_run_binding.is_empty() && ctx.credential_run_binding != ctx.run_id {
        codes.push("credential_run_binding_mismatch");
    }
    if !ctx.credential_job_binding.is_empty() && ctx.credential_job_binding != ctx.job_id {
        codes.push("credential_job_binding_mismatch");
    }
    codes.sort_unstable();
    codes.dedup();
    for c in codes {
        escalate(e, Verdict::Block, c, c);
    }
}

/// Layout of freeze-window bounds: local time in the window's time zone.
fn parse_local(text: &str, tz: &jiff::tz::TimeZone) -> Option<GoTime> {
    let dt: jiff::civil::DateTime = jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S", text)
        .ok()?
        .to_datetime()
        .ok()?;
    let zoned = dt.to_zoned(tz.clone()).ok()?;
    let ts = zoned.timestamp();
    Some(GoTime::from_unix(
        ts.as_second(),
        ts.subsec_nanosecond() as u32,
    ))
}

fn freeze_window(fw: &FreezeWindow, view: &View<'_>, now: GoTime) -> FreezeWindowDecision {
    let ctx = view.context;
    let mut d = FreezeWindowDecision {
        status: "inactive".into(),
        effect: fw.effect.as_str().into(),
        timezone: fw.timezone.clone(),
        evaluated_at: now.utc(),
        ..FreezeWindowDecision::default()
    };
    if !fw.environments.is_empty() && !contains(&fw.environments, &go_lower(&ctx.environment)) {
        return d;
    }
    if !fw.risk_classes.is_empty() && !contains(&fw.risk_classes, &ctx.risk_class) {
        return d;
    }
    let Ok(tz) = crate::tz::load(&fw.timezone) else {
        d.status = "invalid".into();
        d.effect = Verdict::Block.as_str().into();
        d.reason = "freeze window timezone could not be loaded".into();
        d.reason_code = "freeze_window_invalid_timezone".into();
        return d;
    };
    for w in &fw.windows {
        let (Some(start), Some(end)) = (parse_local(&w.start, &tz), parse_local(&w.end, &tz))
        else {
            return invalid_window(d, &w.name);
        };
        if end <= start {
            return invalid_window(d, &w.name);
        }
        if start <= now && now < end {
            d.status = "active".into();
            d.window_name = w.name.clone();
            d.window_start = start;
            d.window_end = end;
            d.reason = if fw.reason.is_empty() {
                w.name.clone()
            } else {
                fw.reason.clone()
            };
            d.reason_code = format!("freeze_window_active_{}", fw.effect.as_str());
            return d;
        }
    }
    d
}

fn invalid_window(mut d: FreezeWindowDecision, name: &str) -> FreezeWindowDecision {
    d.status = "invalid".into();
    d.effect = Verdict::Block.as_str().into();
    d.window_name = name.to_string();
    d.reason = "freeze window has an invalid range".into();
    d.reason_code = "freeze_window_invalid_window".into();
    d
}

/// True when `path` is `prefix` or lies under it.
fn under(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return path.starts_with('/');
    }
    let prefix = prefix.trim_end_matches('/');
    path == prefix || path.starts_with(&format!("{prefix}/"))
}

fn sandbox(sb: &Sandbox, view: &View<'_>) -> SandboxDecision {
    let Some(s) = &view.context.sandbox else {
        return SandboxDecision {
            status: "missing".into(),
            reason_codes: vec!["sandbox_metadata_missing".into()],
            ..SandboxDecision::default()
        };
    };
    let mut codes: Vec<String> = Vec::new();
    let mut check = |field: &str, value: &str, allowed: &[String]| {
        if allowed.is_empty() {
            return;
        }
        if value.is_empty() {
            codes.push(format!("sandbox_{field}_missing"));
        } else if !contains(allowed, value) {
            codes.push(format!("sandbox_{field}_disallowed"));
        }
    };
    check("network_mode", &s.network_mode, &sb.allowed_network_modes);
    check(
        "env_exposure_mode",
        &s.env_exposure_mode,
        &sb.allowed_env_exposure_modes,
    );
    check(
        "filesystem_isolation",
        &s.filesystem_isolation,
        &sb.allowed_filesystem_isolations,
    );
    check("user_mode", &s.user_mode, &sb.allowed_user_modes);
    if sb.max_timeout_seconds > 0 {
        if s.timeout_seconds <= 0 {
            codes.push("sandbox_timeout_missing".into());
        } else if s.timeout_seconds > sb.max_timeout_seconds {
            codes.push("sandbox_timeout_exceeded".into());
        }
    }
    if !sb.allowed_writable_path_prefixes.is_empty()
        && s.writable_paths.iter().any(|p| {
            !sb.allowed_writable_path_prefixes
                .iter()
                .any(|prefix| under(p, prefix))
        })
    {
        codes.push("sandbox_writable_path_disallowed".into());
    }
    // The reference checks the intent's read-only roots against the policy list (inverted).
    if !sb.required_read_only_roots.is_empty()
        && s.read_only_roots
            .iter()
            .any(|r| !contains(&sb.required_read_only_roots, r))
    {
        codes.push("sandbox_read_only_root_missing".into());
    }
    if s.evidence_ref.is_empty() || s.evidence_digest.is_empty() {
        codes.push("sandbox_evidence_missing".into());
    }
    codes.sort();
    codes.dedup();
    let status = if codes.is_empty() {
        "valid"
    } else if codes.iter().any(|c| c.ends_with("_missing")) {
        "missing"
    } else {
        "disallowed"
    };
    SandboxDecision {
        status: status.into(),
        network_mode: s.network_mode.clone(),
        env_exposure_mode: s.env_exposure_mode.clone(),
        timeout_seconds: s.timeout_seconds,
        filesystem_isolation: s.filesystem_isolation.clone(),
        user_mode: s.user_mode.clone(),
        evidence_ref: s.evidence_ref.clone(),
        evidence_digest: s.evidence_digest.clone(),
        reason_codes: codes,
    }
}
