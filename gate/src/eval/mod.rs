//! Deterministic policy evaluation (CONTRACTS §2.4, §2.6).
//!
//! [`evaluate`] is the one evaluation: `gait policy test` calls it directly; `gait gate eval` calls it
//! from its pipeline (`crate::gate`) and then adds its post-steps. It is a pure function of the
//! policy, the normalized intent and the environment values passed in ([`Env`]: the evaluation time
//! and the loaded Wrkr inventory).
//!
//! Order: fail_closed → (script steps | single intent) → rule groups by priority → per-rule
//! constraints (dataflow replaces the effect; everything else only escalates) → most-restrictive
//! combination. The kill switch and the gate post-steps live in `crate::gate`.

pub mod constraints;
pub mod decisions;
pub mod glob;
pub mod script;

use crate::intent::{ArgProvenance, Context, Intent, Step, Target};
use crate::policy::{Policy, RateLimit, Rule, Verdict};
use crate::predicate::{self, PredicateFailure, Predicates};
use crate::wrkr::Inventory;
pub use decisions::{FreezeWindowDecision, KillSwitchDecision, SandboxDecision};
use gait_engine::GoTime;
use serde::Serialize;

/// Values evaluation depends on besides the policy and the intent.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The evaluation time (freeze windows, agent expiry).
    pub now: GoTime,
    /// When set, script steps are enriched with `wrkr.*` context per step.
    pub wrkr: Option<&'a Inventory>,
    /// Runs the predicates rules name (`match: {predicate: NAME}`); the policy's own binding
    /// ([`crate::policy::LoadedPolicy::evaluator`]). A rule naming a predicate with none here fails
    /// closed.
    pub predicates: Option<&'a dyn Predicates>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("now", &self.now)
            .field("wrkr", &self.wrkr.is_some())
            .field("predicates", &self.predicates.is_some())
            .finish()
    }
}

/// What an intent is evaluated as: the whole intent, or one script step with the shared context.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub tool_name: &'a str,
    pub targets: &'a [Target],
    pub arg_provenance: &'a [ArgProvenance],
    pub context: &'a Context,
    pub intent: &'a Intent,
    /// The script step (0-based index) this view evaluates; `None` for the whole intent.
    pub step: Option<(usize, &'a Step)>,
}

impl<'a> View<'a> {
    pub fn of(intent: &'a Intent) -> Self {
        View {
            tool_name: &intent.tool_name,
            targets: &intent.targets,
            arg_provenance: &intent.arg_provenance,
            context: &intent.context,
            intent,
            step: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StepVerdict {
    pub index: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tool_name: String,
    pub verdict: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub matched_rule: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScriptEvaluation {
    pub step_count: usize,
    pub step_verdicts: Vec<StepVerdict>,
    pub composite_risk_class: String,
    /// Matched rule names of all steps, sorted and deduplicated (the trace's `matched_rule_ids`).
    pub matched_rule_ids: Vec<String>,
}

/// The result of evaluating one intent against a policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    pub verdict: Verdict,
    /// Sorted, deduplicated.
    pub reason_codes: Vec<String>,
    /// Sorted, deduplicated.
    pub violations: Vec<String>,
    /// Names of the matched rules, sorted and deduplicated.
    pub matched_rules: Vec<String>,
    pub min_approvals: i64,
    pub require_distinct_approvers: bool,
    pub require_broker_credential: bool,
    pub broker_reference: String,
    pub broker_scopes: Vec<String>,
    /// Credential posture of the deciding broker rules, applied to the brokered credential.
    pub broker_postures: Vec<crate::broker::receipt::CredentialPosture>,
    pub require_delegation: bool,
    /// `match.delegation_scopes` of the deciding delegation rules, sorted (what a delegation token
    /// must carry).
    pub delegation_scopes: Vec<String>,
    pub rate_limit: Option<RateLimit>,
    pub destructive_budget: Option<RateLimit>,
    pub freeze_window: Option<FreezeWindowDecision>,
    pub sandbox: Option<SandboxDecision>,
    /// fail_closed codes and the fields they found missing (for the structured explain).
    pub fail_closed_reason_codes: Vec<String>,
    pub missing_fields: Vec<String>,
    pub script: Option<ScriptEvaluation>,
    /// Why predicates that blocked could not answer (messages for humans; sorted, deduplicated).
    pub predicate_failures: Vec<String>,
}

impl Evaluation {
    pub fn matched_rule(&self) -> String {
        self.matched_rules.join(",")
    }
}

/// Evaluates a normalized intent.
pub fn evaluate(policy: &Policy, intent: &Intent, env: &Env<'_>) -> Evaluation {
    if let Some(blocked) = fail_closed(policy, intent) {
        return blocked;
    }
    if let Some(steps) = &intent.script {
        return script::evaluate_script(policy, intent, steps, env);
    }
    evaluate_view(policy, &View::of(intent), env)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The fail_closed check (§2.4 step 2): block when a covered risk class misses a required field.
fn fail_closed(policy: &Policy, intent: &Intent) -> Option<Evaluation> {
    let fc = &policy.fail_closed;
    if !fc.enabled || !fc.risk_classes.contains(&intent.context.risk_class) {
        return None;
    }
    let ctx = &intent.context;
    let unknown_class = intent
        .targets
        .iter()
        .any(|t| t.endpoint_class.is_empty() || t.endpoint_class == "other");
    let mut reasons = Vec::new();
    let mut violations = Vec::new();
    let mut missing = Vec::new();
    for field in &fc.required_fields {
        let absent = match field.as_str() {
            "targets" => intent.targets.is_empty(),
            "arg_provenance" => intent.arg_provenance.is_empty(),
            "endpoint_class" => intent.targets.is_empty() || unknown_class,
            "delegation" => intent.delegation.is_none(),
            "context_evidence" => ctx.context_set_digest.is_empty(),
            _ => false,
        };
        if absent {
            missing.push(field.clone());
            if field == "context_evidence" {
                reasons.push("context_evidence_missing".to_string());
            } else {
                reasons.push(format!("fail_closed_missing_{field}"));
            }
            violations.push(format!("missing_{field}"));
        }
    }
    for field in &fc.required_high_risk_fields {
        let absent = match field.as_str() {
            "agent_id" => ctx.agent_id.is_empty(),
            "agent_identity" => ctx.agent_identity.is_none(),
            "run_id" => ctx.run_id.is_empty(),
            "workflow_id" => ctx.workflow_id.is_empty(),
            "repo" => ctx.repo.is_empty(),
            "environment" => ctx.environment.is_empty(),
            "credential_ref" => ctx.credential_ref.is_empty(),
            "credential_source" => ctx.credential_source.is_empty(),
            "credential_access_type" => ctx.credential_access_type.is_empty(),
            "credential_issuer" => ctx.credential_issuer.is_empty(),
            "credential_ttl_seconds" => ctx.credential_ttl_seconds <= 0,
            "approval_ref" => ctx.approval_ref.is_empty(),
            "wrkr_inventory_ref" => ctx.wrkr_inventory_ref.is_empty(),
            "agent_action_bom_ref" => ctx.agent_action_bom_ref.is_empty(),
            _ => false,
        };
        if absent {
            missing.push(field.clone());
            reasons.push(format!("fail_closed_missing_{field}"));
            violations.push(format!("missing_{field}"));
        }
    }
    if unknown_class {
        reasons.push("fail_closed_endpoint_class_unknown".into());
        violations.push("endpoint_class_unknown".into());
    }
    if reasons.is_empty() {
        return None;
    }
    let reasons = sorted(reasons);
    Some(Evaluation {
        verdict: Verdict::Block,
        fail_closed_reason_codes: reasons.clone(),
        reason_codes: reasons,
        violations: sorted(violations),
        missing_fields: sorted(missing),
        ..Evaluation::default()
    })
}

/// A matched rule's contribution.
#[derive(Clone, Debug)]
pub(crate) struct RuleEval {
    pub effect: Verdict,
    pub reasons: Vec<String>,
    pub violations: Vec<String>,
    pub freeze_window: Option<FreezeWindowDecision>,
    pub sandbox: Option<SandboxDecision>,
    /// The predicate's failure message, when its failure decided this rule.
    pub predicate_failure: Option<String>,
}

/// Evaluates one view (a single intent or one script step) against the rules.
pub fn evaluate_view(policy: &Policy, view: &View<'_>, env: &Env<'_>) -> Evaluation {
    let mut matched: Vec<(&Rule, RuleEval)> = Vec::new();
    let mut group: Option<i64> = None;
    // What predicates see, built on first use and shared by every predicate of this view.
    let input: std::cell::OnceCell<std::sync::Arc<serde_json::Value>> = Default::default();
    for rule in &policy.rules {
        if let Some(p) = group
            && rule.priority != p
        {
            break;
        }
        if !constraints::rule_matches(rule, view) {
            continue;
        }
        // The predicate runs last: only when every declarative condition already holds.
        let eval = match check_predicate(rule, view, env, &input) {
            Ok(true) => constraints::evaluate_rule(rule, view, env),
            Ok(false) => continue,
            Err(failure) => predicate_failed(failure),
        };
        group = Some(rule.priority);
        matched.push((rule, eval));
    }
    if matched.is_empty() {
        let verdict = policy.default_verdict;
        return Evaluation {
            verdict,
            reason_codes: vec![format!("default_{}", verdict.as_str())],
            min_approvals: i64::from(verdict == Verdict::RequireApproval),
            ..Evaluation::default()
        };
    }
    combine(&matched)
}

/// The rule's predicate answer (`true` for rules without one).
fn check_predicate(
    rule: &Rule,
    view: &View<'_>,
    env: &Env<'_>,
    input: &std::cell::OnceCell<std::sync::Arc<serde_json::Value>>,
) -> Result<bool, PredicateFailure> {
    let name = &rule.matcher.predicate;
    if name.is_empty() {
        return Ok(true);
    }
    let Some(predicates) = env.predicates else {
        return Err(PredicateFailure {
            reason_code: predicate::PREDICATE_UNAVAILABLE,
            message: format!(
                "rule {} names predicate {name}, but no predicates were loaded",
                rule.name
            ),
        });
    };
    let intent = input.get_or_init(|| std::sync::Arc::new(predicate::input(view)));
    predicates.evaluate(name, intent)
}

/// A rule whose predicate could not answer: matched, blocking (see [`crate::predicate`]).
fn predicate_failed(failure: PredicateFailure) -> RuleEval {
    RuleEval {
        effect: Verdict::Block,
        reasons: vec![failure.reason_code.to_string()],
        violations: vec![predicate::PREDICATE_FAILED.to_string()],
        freeze_window: None,
        sandbox: None,
        predicate_failure: Some(failure.message),
    }
}

/// Most-restrictive combination: only rules whose effect equals the final verdict contribute
/// reasons, violations, approvals, broker, delegation and rate-limit settings.
fn combine(matched: &[(&Rule, RuleEval)]) -> Evaluation {
    let verdict = matched
        .iter()
        .map(|(_, e)| e.effect)
        .max()
        .unwrap_or(Verdict::Allow);
    let mut out = Evaluation {
        verdict,
        matched_rules: sorted(matched.iter().map(|(r, _)| r.name.clone()).collect()),
        ..Evaluation::default()
    };
    let mut reasons = Vec::new();
    let mut violations = Vec::new();
    let mut broker_scopes = Vec::new();
    let mut delegation_scopes = Vec::new();
    for (rule, e) in matched.iter().filter(|(_, e)| e.effect == verdict) {
        reasons.extend(e.reasons.iter().cloned());
        violations.extend(e.violations.iter().cloned());
        out.min_approvals = out.min_approvals.max(rule.min_approvals);
        out.require_distinct_approvers |= rule.require_distinct_approvers;
        if rule.require_broker_credential {
            out.require_broker_credential = true;
            if out.broker_reference.is_empty() {
                out.broker_reference = rule.broker_reference.clone();
            }
            broker_scopes.extend(rule.broker_scopes.iter().cloned());
            out.broker_postures
                .extend(crate::broker::receipt::CredentialPosture::of(rule));
        }
        if rule.matcher.require_delegation {
            out.require_delegation = true;
            delegation_scopes.extend(rule.matcher.delegation_scopes.iter().cloned());
        }
        out.rate_limit = tighter(out.rate_limit.take(), &rule.rate_limit);
        out.destructive_budget = tighter(out.destructive_budget.take(), &rule.destructive_budget);
    }
    if verdict == Verdict::RequireApproval {
        out.min_approvals = out.min_approvals.max(1);
    } else {
        out.min_approvals = 0;
        out.require_distinct_approvers = false;
    }
    out.reason_codes = sorted(reasons);
    out.violations = sorted(violations);
    out.broker_scopes = sorted(broker_scopes);
    out.delegation_scopes = sorted(delegation_scopes);
    out.predicate_failures = sorted(
        matched
            .iter()
            .filter_map(|(_, e)| e.predicate_failure.clone())
            .collect(),
    );
    out.freeze_window = pick_decision(
        matched,
        verdict,
        |e| e.freeze_window.as_ref(),
        |d| d.status != "inactive",
    );
    out.sandbox = pick_decision(
        matched,
        verdict,
        |e| e.sandbox.as_ref(),
        |d| d.status != "valid",
    );
    out
}

/// The decision to report: from rules with the final effect first, preferring "interesting" ones.
fn pick_decision<T: Clone>(
    matched: &[(&Rule, RuleEval)],
    verdict: Verdict,
    get: impl Fn(&RuleEval) -> Option<&T>,
    interesting: impl Fn(&T) -> bool,
) -> Option<T> {
    let final_first = matched
        .iter()
        .filter(|(_, e)| e.effect == verdict)
        .chain(matched.iter().filter(|(_, e)| e.effect != verdict));
    let all: Vec<&T> = final_first.filter_map(|(_, e)| get(e)).collect();
    all.iter()
        .find(|d| interesting(d))
        .or_else(|| all.first())
        .map(|d| (*d).clone())
}

/// The tighter of two rate limits: fewer requests, then minute before hour, then scope order.
fn tighter(current: Option<RateLimit>, candidate: &RateLimit) -> Option<RateLimit> {
    if !candidate.is_set() {
        return current;
    }
    match current {
        None => Some(candidate.clone()),
        Some(c) => {
            let key = |r: &RateLimit| (r.requests, r.window != "minute", r.scope.clone());
            if key(candidate) < key(&c) {
                Some(candidate.clone())
            } else {
                Some(c)
            }
        }
    }
}
