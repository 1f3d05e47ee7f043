//! Script intents (CONTRACTS §2.6): each step is evaluated as a single intent with the shared
//! context; the script's verdict is the most restrictive step verdict, then the script settings
//! (max_steps, require_approval_above, block_mixed_risk) may escalate it.

use super::{Env, Evaluation, ScriptEvaluation, StepVerdict, View, evaluate_view, sorted};
use crate::intent::{Intent, Step};
use crate::policy::{Policy, Verdict};

/// Default and hard limit for `scripts.max_steps`.
pub const DEFAULT_MAX_STEPS: i64 = 64;

/// Step risk: destructive or fs.delete/proc.exec → high; fs.write/net.* → medium; else low.
pub fn step_risk(step: &Step) -> u8 {
    let mut risk = 0;
    for t in &step.targets {
        let r = match t.endpoint_class.as_str() {
            _ if t.destructive => 2,
            "fs.delete" | "proc.exec" => 2,
            "fs.write" | "net.http" | "net.dns" => 1,
            _ => 0,
        };
        risk = risk.max(r);
    }
    risk
}

pub fn risk_name(r: u8) -> &'static str {
    match r {
        2 => "high",
        1 => "medium",
        _ => "low",
    }
}

pub(crate) fn evaluate_script(
    policy: &Policy,
    intent: &Intent,
    steps: &[Step],
    env: &Env<'_>,
) -> Evaluation {
    let mut out = Evaluation::default();
    let mut reasons = Vec::new();
    let mut violations = Vec::new();
    let mut matched = Vec::new();
    let mut step_verdicts = Vec::with_capacity(steps.len());
    let mut per_step: Vec<Evaluation> = Vec::with_capacity(steps.len());
    let mut risks: Vec<u8> = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        let enriched;
        let context = match env.wrkr {
            Some(inv) => {
                enriched = inv.enrich(&intent.context, &step.tool_name).0;
                &enriched
            }
            None => &intent.context,
        };
        let view = View {
            tool_name: &step.tool_name,
            targets: &step.targets,
            arg_provenance: &step.arg_provenance,
            context,
            intent,
            step: Some((index, step)),
        };
        let ev = evaluate_view(policy, &view, env);
        step_verdicts.push(StepVerdict {
            index,
            tool_name: step.tool_name.clone(),
            verdict: ev.verdict.as_str().to_string(),
            reason_codes: ev.reason_codes.clone(),
            violations: ev.violations.clone(),
            matched_rule: ev.matched_rule(),
        });
        reasons.extend(ev.reason_codes.iter().cloned());
        violations.extend(ev.violations.iter().cloned());
        matched.extend(ev.matched_rules.iter().cloned());
        out.verdict = out.verdict.max(ev.verdict);
        risks.push(step_risk(step));
        per_step.push(ev);
    }
    let s = &policy.scripts;
    let max_steps = if s.max_steps == 0 {
        DEFAULT_MAX_STEPS
    } else {
        s.max_steps
    };
    if steps.len() as i64 > max_steps {
        out.verdict = Verdict::Block;
        reasons.push("script_max_steps_exceeded".into());
        violations.push("script_max_steps_exceeded".into());
    }
    if s.require_approval_above > 0 && steps.len() as i64 > s.require_approval_above {
        out.verdict = out.verdict.max(Verdict::RequireApproval);
        reasons.push("script_step_threshold_approval".into());
    }
    let mut distinct = risks.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if s.block_mixed_risk && distinct.len() > 1 {
        out.verdict = Verdict::Block;
        reasons.push("script_mixed_risk_blocked".into());
        violations.push("script_mixed_risk".into());
    }
    // Approvers are asked for whenever any step (or the step threshold) asks, whatever the final
    // verdict — the reference writes the approval audit for such scripts even when they block.
    for ev in &per_step {
        out.min_approvals = out.min_approvals.max(ev.min_approvals);
        out.require_distinct_approvers |= ev.require_distinct_approvers;
    }
    if s.require_approval_above > 0 && steps.len() as i64 > s.require_approval_above {
        out.min_approvals = out.min_approvals.max(1);
    }
    for ev in per_step.iter().filter(|e| e.verdict == out.verdict) {
        if ev.require_broker_credential {
            out.require_broker_credential = true;
            if out.broker_reference.is_empty() {
                out.broker_reference = ev.broker_reference.clone();
            }
            out.broker_scopes.extend(ev.broker_scopes.iter().cloned());
            out.broker_postures
                .extend(ev.broker_postures.iter().cloned());
        }
        out.require_delegation |= ev.require_delegation;
        out.delegation_scopes
            .extend(ev.delegation_scopes.iter().cloned());
        if out.rate_limit.is_none() {
            out.rate_limit = ev.rate_limit.clone();
        }
        if out.destructive_budget.is_none() {
            out.destructive_budget = ev.destructive_budget.clone();
        }
    }
    if out.verdict == Verdict::RequireApproval {
        out.min_approvals = out.min_approvals.max(1);
    }
    out.freeze_window = per_step.iter().find_map(|e| e.freeze_window.clone());
    out.sandbox = per_step.iter().find_map(|e| e.sandbox.clone());
    out.broker_scopes = sorted(std::mem::take(&mut out.broker_scopes));
    out.delegation_scopes = sorted(std::mem::take(&mut out.delegation_scopes));
    out.predicate_failures = sorted(
        per_step
            .iter()
            .flat_map(|e| e.predicate_failures.iter().cloned())
            .collect(),
    );
    out.reason_codes = sorted(reasons);
    out.violations = sorted(violations);
    let matched = sorted(matched);
    out.matched_rules = matched.clone();
    out.script = Some(ScriptEvaluation {
        step_count: steps.len(),
        step_verdicts,
        composite_risk_class: risk_name(risks.iter().copied().max().unwrap_or(0)).into(),
        matched_rule_ids: matched,
    });
    out
}
