//! `gate eval`: the one evaluation plus its post-steps, as an ordered pipeline with typed inputs
//! (CONTRACTS §2.4 step 9, §2.10).
//!
//! 1. prepare the intent (context envelope binding or claim stripping, Wrkr enrichment);
//! 2. kill-switch state unavailable in a fail-closed situation → block;
//! 3. evaluate (`crate::eval::evaluate`); a script intent the approved-script registry pre-approves
//!    takes the fast path instead ([`crate::approved_scripts`]);
//! 4. kill switch → block;
//! 5. rate limit, 6. destructive budget (shared counters under the lock protocol);
//! 7. delegation tokens against the intent's chain ([`crate::delegations`]);
//! 8. approval tokens against the required approvals ([`crate::approvals`]);
//! 9. broker credential for allowed calls that require one, its receipt checked
//!    ([`crate::broker::receipt`]);
//! 10. simulate;
//! 11. sign and write the trace, then the audits.
//!
//! Every side input arrives as a value or a trait object ([`GateRequest`]); the pipeline reads no
//! clock, environment or randomness of its own.

use crate::approved_scripts::Registry;
use crate::audit::{
    APPROVAL_AUDIT_SCHEMA_ID, AUDIT_SCHEMA_VERSION, ApprovalAuditRecord, BROKER_RECORD_SCHEMA_ID,
    BrokerCredentialRecord, DELEGATION_AUDIT_SCHEMA_ID, DelegationAuditRecord,
};
use crate::broker::{BrokerCapabilities, CredentialBroker, CredentialRequest, IssuedCredential};
use crate::envelope::ContextEnvelope;
use crate::eval::{
    Env, Evaluation, FreezeWindowDecision, KillSwitchDecision, SandboxDecision, StepVerdict,
    evaluate,
};
use crate::intent::{self, Intent};
use crate::killswitch::KillSwitchState;
use crate::policy::{LoadedPolicy, Verdict};
use crate::profile::Profile;
use crate::ratelimit::{CounterStore, bucket, counter_key};
use crate::relationship::{AgentLink, Edge, PolicyRef, Ref, Relationship};
use crate::tokens::approval::{ApprovalExpectation, ApprovalToken};
use crate::tokens::delegation::DelegationToken;
use crate::trace::{
    AgentIdentityRecord, DelegationRef, SkillProvenanceRecord, TRACE_SCHEMA_ID,
    TRACE_SCHEMA_VERSION, TraceRecord, TraceStepVerdict, event_id, trace_id,
};
use crate::wrkr::Inventory;
use gait_engine::crypto::{PrivateKey, PublicKey};
use gait_engine::error::exit;
use gait_engine::{GaitError, GoTime, PRODUCER_VERSION, fsx};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The clock the pipeline may consult: the CLI's wall clock, or a fixed one in tests.
pub trait Clock {
    /// The current time (the trace's `observed_at`).
    fn now(&self) -> GoTime;
    /// Milliseconds since the request started (the trace's `latency_ms`).
    fn elapsed_ms(&self) -> f64;
}

/// A clock that always reads the same instant.
pub struct FixedClock(pub GoTime);

impl Clock for FixedClock {
    fn now(&self) -> GoTime {
        self.0
    }
    fn elapsed_ms(&self) -> f64 {
        0.0
    }
}

/// The Wrkr inventory as the caller could load it.
pub enum WrkrInput {
    None,
    Loaded {
        inventory: Inventory,
        label: String,
    },
    /// Loading failed: fail closed for high-risk intents or oss-prod, else warn and continue.
    Failed {
        error: String,
    },
}

/// The kill-switch state as the caller could load it.
pub enum KillSwitchInput {
    None,
    Loaded(KillSwitchState),
    /// Reading or parsing failed with this message (already prefixed, e.g. `read kill switch state: …`).
    Unavailable(String),
}

/// The approved-script registry as the caller could load it.
pub enum ApprovedScriptsInput {
    None,
    /// The registry and the key its entries must verify with.
    Loaded {
        registry: Registry,
        key: PublicKey,
    },
    /// Reading or parsing failed: fail closed for high-risk intents or oss-prod, else warn.
    Failed(String),
}

/// Where the pipeline writes its files; `None` = the reference's default names in `dir`.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    pub dir: PathBuf,
    pub trace: Option<PathBuf>,
    pub approval_audit: Option<PathBuf>,
    pub delegation_audit: Option<PathBuf>,
    pub credential_evidence: Option<PathBuf>,
    /// The kill-switch journal a firing is appended to (`None`: no journal).
    pub kill_switch_journal: Option<PathBuf>,
}

pub struct GateRequest<'a> {
    pub policy: &'a LoadedPolicy,
    pub intent: &'a intent::raw::IntentRequest,
    pub profile: Profile,
    /// `--evaluation-time` (UTC), else the clock's now.
    pub evaluation_time: GoTime,
    pub clock: &'a dyn Clock,
    pub simulate: bool,
    pub envelope: Option<&'a ContextEnvelope>,
    pub wrkr: WrkrInput,
    pub kill_switch: KillSwitchInput,
    pub counters: &'a dyn CounterStore,
    pub broker: Option<&'a dyn CredentialBroker>,
    /// What a broker may use (environment snapshot, process spawner).
    pub broker_caps: BrokerCapabilities<'a>,
    /// Presented approval tokens, in the order their paths sort.
    pub approval_tokens: Vec<ApprovalToken>,
    /// The approval verify key (approval key flags, else the signing key).
    pub approval_key: Option<PublicKey>,
    /// Presented delegation tokens, in the order their paths sort.
    pub delegation_tokens: Vec<DelegationToken>,
    /// The delegation verify key (delegation flags, else approval flags, else the signing key).
    pub delegation_key: Option<PublicKey>,
    pub approved_scripts: ApprovedScriptsInput,
    /// `--credential-scopes`, added to the rules' broker scopes.
    pub credential_scopes: Vec<String>,
    /// `--credential-ref`, used when the matched rules name no broker reference.
    pub credential_ref: String,
    pub approval_token_ref: String,
    pub signing_key: &'a PrivateKey,
    pub correlation_id: String,
    pub outputs: Outputs,
    /// Warnings the caller already has (e.g. the dev-key warning).
    pub warnings: Vec<String>,
}

/// The `--json` object of `gate eval` (keys are sorted by the writer; empty fields are omitted).
#[derive(Clone, Debug, Default, Serialize)]
pub struct GateOutput {
    pub ok: bool,
    pub profile: String,
    pub verdict: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub approval_ref: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub required_approvals: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub valid_approvals: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub approval_audit_path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub delegation_ref: String,
    #[serde(skip_serializing_if = "is_false")]
    pub delegation_required: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub valid_delegations: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub delegation_audit_path: String,
    pub trace_id: String,
    pub trace_path: String,
    pub policy_digest: String,
    pub intent_digest: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub context_set_digest: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub context_evidence_mode: String,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub context_ref_count: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub context_source: String,
    #[serde(skip_serializing_if = "is_false")]
    pub script: bool,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub step_count: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub script_hash: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub composite_risk_class: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub step_verdicts: Vec<StepVerdict>,
    #[serde(skip_serializing_if = "is_false")]
    pub pre_approved: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pattern_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub registry_reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub matched_rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeze_window: Option<FreezeWindowDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<KillSwitchDecision>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rate_limit_scope: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rate_limit_key: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub rate_limit_used: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub rate_limit_remaining: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destructive_budget_scope: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destructive_budget_key: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub destructive_budget_used: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub destructive_budget_remaining: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_issuer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_access_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_ref: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub credential_ttl_seconds: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub credential_evidence_path: String,
    #[serde(skip_serializing_if = "is_false")]
    pub simulate_mode: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub would_have_blocked: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub simulated_verdict: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub simulated_reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}
fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}
fn is_false(b: &bool) -> bool {
    !*b
}

/// What `gate eval` produced.
pub struct GateResult {
    pub output: GateOutput,
    pub exit_code: i32,
    /// The evaluation behind the verdict (for the structured explain).
    pub evaluation: Evaluation,
    pub trace: TraceRecord,
    /// Why the broker could not issue a credential (safe to show: never a value or broker output).
    pub broker_error: Option<String>,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Rejects relative output paths that climb out of the working directory.
pub fn check_output_path(path: &Path, what: &str) -> Result<(), GaitError> {
    if fsx::is_traversing(path) {
        return Err(GaitError::invalid(format!(
            "relative {what} path must not traverse parent directories"
        )));
    }
    Ok(())
}

fn resolve(dir: &Path, explicit: &Option<PathBuf>, default_name: String) -> PathBuf {
    match explicit {
        Some(p) => p.clone(),
        None if dir.as_os_str().is_empty() => PathBuf::from(default_name),
        None => dir.join(default_name),
    }
}

fn high_risk(risk: &str) -> bool {
    risk == "high" || risk == "critical"
}

/// The mutable decision as post-steps refine it.
struct Decision {
    verdict: Verdict,
    reasons: Vec<String>,
    violations: Vec<String>,
}

impl Decision {
    fn block(&mut self, reason: &str, violation: Option<&str>) {
        self.verdict = Verdict::Block;
        self.reasons.push(reason.to_string());
        if let Some(v) = violation {
            self.violations.push(v.to_string());
        }
    }
}

/// Runs `gate eval`.
pub fn run(req: GateRequest<'_>) -> Result<GateResult, GaitError> {
    for (path, what) in [
        (&req.outputs.trace, "trace"),
        (&req.outputs.approval_audit, "approval audit"),
        (&req.outputs.delegation_audit, "delegation audit"),
        (&req.outputs.credential_evidence, "credential evidence"),
    ] {
        if let Some(p) = path {
            check_output_path(p, what)?;
        }
    }
    let policy = &req.policy.policy;
    let normalized = intent::normalize(req.intent)?;
    let raw_risk = normalized.context.risk_class.clone();
    let mut warnings = req.warnings.clone();

    // 1. Prepare: bind or strip context evidence, enrich from Wrkr.
    let mut prepared = normalized.clone();
    let mut context_sources: Vec<String> = Vec::new();
    let mut context_ref_count = 0;
    let mut intent_invalid = false;
    match req.envelope {
        Some(env) => match crate::prepare::bind_envelope(&mut prepared, env, req.evaluation_time) {
            Ok(()) => {
                context_sources.push("context_envelope".into());
                context_ref_count = env.records.len();
            }
            Err(e) => {
                let covered = policy.fail_closed.enabled
                    && policy.fail_closed.risk_classes.contains(&raw_risk);
                if !covered {
                    return Err(e);
                }
                intent_invalid = true;
            }
        },
        None => crate::prepare::strip_context_claims(&mut prepared),
    }
    let fail_closed_inputs = req.profile == Profile::OssProd || high_risk(&raw_risk);
    let inventory = match &req.wrkr {
        WrkrInput::None => None,
        WrkrInput::Loaded { inventory, label } => {
            let steps_listed = prepared.script.as_ref().is_some_and(|steps| {
                steps
                    .iter()
                    .any(|s| inventory.items.contains_key(&s.tool_name))
            });
            if !intent_invalid && (crate::prepare::enrich(&mut prepared, inventory) || steps_listed)
            {
                context_sources.push(label.clone());
            }
            Some(inventory)
        }
        WrkrInput::Failed { error } => {
            if fail_closed_inputs {
                return Err(GaitError::invalid(format!(
                    "wrkr inventory unavailable in fail-closed mode: {error}"
                ))
                .with_exit(exit::BLOCKED));
            }
            warnings
                .push("wrkr inventory unavailable; continuing without context enrichment".into());
            None
        }
    };
    let subject: &Intent = if intent_invalid {
        &normalized
    } else {
        &prepared
    };
    let intent_digest = subject.digest();
    let env = Env {
        now: req.evaluation_time,
        wrkr: inventory,
        predicates: req.policy.predicates(),
    };

    // 2–4. Evaluate, with the kill switch around it.
    let mut kill_switch: Option<KillSwitchDecision> = None;
    let mut fast_path = FastPath::default();
    let evaluation: Evaluation = if intent_invalid {
        Evaluation {
            verdict: Verdict::Block,
            reason_codes: vec!["fail_closed_intent_invalid".into()],
            violations: vec!["intent_not_evaluable".into()],
            ..Evaluation::default()
        }
    } else {
        match &req.kill_switch {
            KillSwitchInput::Unavailable(error) => {
                if !fail_closed_inputs {
                    return Err(GaitError::invalid(error.clone()));
                }
                let d = crate::killswitch::unavailable(req.evaluation_time);
                kill_switch = Some(d);
                Evaluation {
                    verdict: Verdict::Block,
                    reason_codes: vec!["kill_switch_state_unavailable".into()],
                    violations: vec!["kill_switch_state_unavailable".into()],
                    ..Evaluation::default()
                }
            }
            _ => {
                let ev = evaluate(policy, &prepared, &env);
                fast_path =
                    approved_script(&req, &prepared, &ev, fail_closed_inputs, &mut warnings)?;
                if fast_path.pre_approved {
                    // Pre-approved: the registry entry decides instead of the rules.
                    Evaluation {
                        verdict: Verdict::Allow,
                        reason_codes: vec!["approved_script_match".into()],
                        script: ev.script,
                        ..Evaluation::default()
                    }
                } else {
                    ev
                }
            }
        }
    };
    let mut d = Decision {
        verdict: evaluation.verdict,
        reasons: evaluation.reason_codes.clone(),
        violations: evaluation.violations.clone(),
    };
    if let KillSwitchInput::Loaded(state) = &req.kill_switch
        && !intent_invalid
    {
        let ks = crate::killswitch::evaluate(state, &prepared, req.evaluation_time);
        if ks.status == "active" {
            d.verdict = Verdict::Block;
            d.reasons.extend(ks.reason_codes.iter().cloned());
            d.violations.push("kill_switch_active".into());
        }
        kill_switch = Some(ks);
    }

    let mut out = GateOutput {
        ok: true,
        profile: req.profile.as_str().into(),
        approval_ref: req.approval_token_ref.clone(),
        pre_approved: fast_path.pre_approved,
        pattern_id: fast_path.pattern_id.clone(),
        registry_reason: fast_path.registry_reason.clone(),
        ..GateOutput::default()
    };

    // 5–6. Rate limit and destructive budget: every evaluated call counts against the limit its
    // deciding rules set (CONTRACTS §2.4 step 9 runs them after the evaluation, whatever it said).
    if !intent_invalid && !matches!(req.kill_switch, KillSwitchInput::Unavailable(_)) {
        let ctx = &prepared.context;
        if let Some(rl) = &evaluation.rate_limit {
            let scope_key = scope_key(&rl.scope, &prepared.tool_name, &ctx.identity);
            let (b, len) = bucket(req.evaluation_time, &rl.window);
            let key = counter_key(&rl.window, &rl.scope, &b, &scope_key);
            let c = req
                .counters
                .consume(&key, rl.requests, len, req.evaluation_time)?;
            out.rate_limit_scope = rl.scope.clone();
            out.rate_limit_key = scope_key;
            out.rate_limit_used = c.used;
            out.rate_limit_remaining = c.remaining;
            if !c.allowed {
                d.block("rate_limit_exceeded", Some("rate_limit_exceeded"));
            }
        }
        if let Some(db) = &evaluation.destructive_budget
            && prepared.has_destructive_target()
        {
            let scope_key = format!(
                "destructive_budget|{}",
                scope_key(&db.scope, &prepared.tool_name, &ctx.identity)
            );
            let (b, len) = bucket(req.evaluation_time, &db.window);
            let key = counter_key(&db.window, &db.scope, &b, &scope_key);
            let c = req
                .counters
                .consume(&key, db.requests, len, req.evaluation_time)?;
            out.destructive_budget_scope = db.scope.clone();
            out.destructive_budget_key = scope_key;
            out.destructive_budget_used = c.used;
            out.destructive_budget_remaining = c.remaining;
            if !c.allowed {
                d.block(
                    "destructive_budget_exceeded",
                    Some("destructive_budget_exceeded"),
                );
            }
        }
    }

    // 7. Delegation: every link of the intent's chain needs its own valid token.
    let mut delegation_codes: Vec<String> = Vec::new();
    let mut delegation_audit: Option<DelegationAuditRecord> = None;
    let mut delegation_granted_ref = String::new();
    // Tokens presented without being required are still checked and audited (CONTRACTS §1.2: the
    // audits are written when delegation or approvals are "required/presented"); they decide nothing.
    let delegation_presented = !req.delegation_tokens.is_empty();
    if (evaluation.require_delegation || delegation_presented) && !intent_invalid {
        let required = evaluation.require_delegation;
        out.delegation_required = required;
        let links = crate::delegations::links(&prepared);
        let outcome = crate::delegations::check(
            &req.delegation_tokens,
            req.delegation_key.as_ref(),
            &links,
            &crate::delegations::DelegationContext {
                required_scopes: &evaluation.delegation_scopes,
                intent_digest: &intent_digest,
                policy_digest: &req.policy.digest,
                now: req.evaluation_time,
            },
        );
        out.valid_delegations = outcome.valid;
        if required {
            if outcome.granted {
                d.reasons.extend(outcome.reason_codes.iter().cloned());
                out.delegation_ref = outcome.delegation_ref.clone();
                delegation_granted_ref = outcome.delegation_ref.clone();
            } else {
                d.verdict = Verdict::Block;
                d.reasons.extend(outcome.reason_codes.iter().cloned());
                d.violations.push("delegation_not_granted".into());
            }
            delegation_codes = outcome.reason_codes.clone();
        }
        delegation_audit = Some(DelegationAuditRecord {
            schema_id: DELEGATION_AUDIT_SCHEMA_ID.into(),
            schema_version: AUDIT_SCHEMA_VERSION.into(),
            created_at: subject.created_at,
            producer_version: PRODUCER_VERSION.into(),
            tool_name: subject.tool_name.clone(),
            intent_digest: intent_digest.clone(),
            policy_digest: req.policy.digest.clone(),
            delegation_required: required,
            valid_delegations: outcome.valid,
            delegated: outcome.valid > 0,
            delegation_ref: outcome.delegation_ref,
            entries: outcome.entries,
            ..DelegationAuditRecord::default()
        });
    }

    // 8. Approvals: required when the evaluation asks for approvers (a script's steps or threshold
    // may ask even when another step blocks; the audit is written either way, and the tokens only
    // decide when the verdict is require_approval).
    let mut approval_audit: Option<ApprovalAuditRecord> = None;
    let mut approval_granted_ref = String::new();
    let required = if d.verdict == Verdict::RequireApproval {
        evaluation.min_approvals.max(1)
    } else {
        evaluation.min_approvals
    };
    if (required > 0 || !req.approval_tokens.is_empty()) && !intent_invalid {
        out.required_approvals = required;
        let binding = prepared.delegation_digest().unwrap_or_default();
        let scope = approval_scope(&prepared);
        let outcome = crate::approvals::check(
            &req.approval_tokens,
            req.approval_key.as_ref(),
            required,
            evaluation.require_distinct_approvers,
            &ApprovalExpectation {
                intent_digest: &intent_digest,
                policy_digest: &req.policy.digest,
                delegation_binding_digest: &binding,
                required_scope: &scope,
                target_count: prepared.targets.len(),
                operation_count: prepared.script.as_ref().map_or(1, Vec::len),
                now: req.evaluation_time,
            },
        );
        out.valid_approvals = outcome.valid;
        if d.verdict == Verdict::RequireApproval {
            d.reasons.extend(outcome.reason_codes.iter().cloned());
            if outcome.granted {
                d.verdict = Verdict::Allow;
                out.approval_ref = outcome.approval_ref.clone();
                approval_granted_ref = outcome.approval_ref.clone();
            } else {
                d.violations.push("approval_not_granted".into());
            }
        }
        approval_audit = Some(ApprovalAuditRecord {
            schema_id: APPROVAL_AUDIT_SCHEMA_ID.into(),
            schema_version: AUDIT_SCHEMA_VERSION.into(),
            created_at: subject.created_at,
            producer_version: PRODUCER_VERSION.into(),
            tool_name: subject.tool_name.clone(),
            intent_digest: intent_digest.clone(),
            policy_digest: req.policy.digest.clone(),
            required_approvals: required,
            valid_approvals: outcome.valid,
            approved: outcome.valid >= required,
            approvers: outcome.approvers,
            entries: outcome.entries,
            ..ApprovalAuditRecord::default()
        });
    }

    // 9. Broker credential for allowed calls that require one; its receipt must hold.
    let mut issued: Option<(IssuedCredential, CredentialRequest)> = None;
    let mut broker_error: Option<String> = None;
    if evaluation.require_broker_credential && d.verdict == Verdict::Allow && !intent_invalid {
        match req.broker {
            None => d.block(
                "broker_credential_required",
                Some("broker_credential_missing"),
            ),
            Some(broker) => {
                let ctx = &prepared.context;
                let mut scope = evaluation.broker_scopes.clone();
                scope.extend(
                    req.credential_scopes
                        .iter()
                        .map(|s| crate::text::lower_trim(s)),
                );
                let scope = sorted(scope.into_iter().filter(|s| !s.is_empty()).collect());
                let reference = if evaluation.broker_reference.is_empty() {
                    req.credential_ref.trim().to_string()
                } else {
                    evaluation.broker_reference.clone()
                };
                let request = CredentialRequest {
                    tool_name: prepared.tool_name.clone(),
                    identity: ctx.identity.clone(),
                    workspace: ctx.workspace.clone(),
                    session_id: ctx.session_id.clone(),
                    request_id: ctx.request_id.clone(),
                    run_id: ctx.run_id.clone(),
                    job_id: ctx.job_id.clone(),
                    reference,
                    scope,
                    target_binding: prepared.targets_digest(),
                };
                match broker.issue(&request, &req.broker_caps) {
                    Ok(cred) => {
                        let codes = crate::broker::receipt::check(
                            &request,
                            &cred,
                            &evaluation.broker_postures,
                        );
                        if codes.is_empty() {
                            d.reasons.push("broker_credential_present".into());
                            issued = Some((cred, request));
                        } else {
                            d.verdict = Verdict::Block;
                            d.reasons.extend(codes.iter().map(|c| c.to_string()));
                            d.violations.push("broker_credential_missing".into());
                            broker_error =
                                Some(format!("broker receipt rejected: {}", codes.join(",")));
                        }
                    }
                    Err(e) => {
                        d.block(e.reason_code, Some("broker_credential_missing"));
                        broker_error = Some(e.message);
                    }
                }
            }
        }
    }

    // 10. Simulate.
    let mut reasons = sorted(d.reasons);
    let mut violations = sorted(d.violations);
    let mut verdict = d.verdict;
    if req.simulate {
        out.simulate_mode = true;
        out.simulated_verdict = verdict.as_str().into();
        out.simulated_reason_codes = reasons.clone();
        reasons.push("simulate_mode_non_enforcing".into());
        if matches!(verdict, Verdict::Block | Verdict::RequireApproval) {
            reasons.push(format!("simulated_{}", verdict.as_str()));
            violations.clear();
            verdict = Verdict::Allow;
            out.would_have_blocked = true;
        }
        reasons = sorted(reasons);
    }

    // 11. Trace and audits.
    let tid = trace_id(&req.policy.digest, &intent_digest, verdict.as_str());
    let observed_at = req.clock.now().utc();
    let trace_path = resolve(
        &req.outputs.dir,
        &req.outputs.trace,
        format!("trace_{tid}.json"),
    );
    let mut trace = build_trace(
        &req,
        subject,
        &evaluation,
        &tid,
        &intent_digest,
        verdict,
        &violations,
        observed_at,
    );
    trace.kill_switch = kill_switch.clone();
    if !intent_invalid {
        trace.context_source = context_sources.join(",");
        trace.context_ref_count = context_ref_count;
    }
    if let Some(dr) = &mut trace.delegation_ref {
        dr.reason_codes = sorted(delegation_codes.clone());
        if !delegation_granted_ref.is_empty() {
            dr.delegation_token_ref = delegation_granted_ref.clone();
        }
    }
    if !approval_granted_ref.is_empty() {
        trace.approval_token_ref = approval_granted_ref.clone();
    }
    trace.pre_approved = fast_path.pre_approved;
    trace.pattern_id = fast_path.pattern_id.clone();
    trace.registry_reason = fast_path.registry_reason.clone();
    if let Some((cred, request)) = &issued {
        trace.broker_credential_ref = cred.credential_ref.clone();
        trace.broker_credential_source = crate::text::lower_trim(&cred.source);
        trace.broker_credential_access_type = crate::text::lower_trim(&cred.access_type);
        trace.broker_credential_issuer = cred.issuer.clone();
        trace.broker_request_digest = request.digest();
        trace.broker_target_binding = request.target_binding.clone();
        trace.broker_run_binding = cred.run_binding.clone();
        trace.broker_job_binding = cred.job_binding.clone();
    }
    trace.latency_ms = req.clock.elapsed_ms();
    trace.sign(req.signing_key)?;
    let mut writes = PendingWrites::default();
    writes.push(trace_path.clone(), trace.to_file_bytes()?, "trace");

    if let Some(mut audit) = approval_audit {
        audit.trace_id = tid.clone();
        audit.relationship = audit_relationship(
            &tid,
            &audit.tool_name,
            &req.policy.digest,
            &audit.approvers,
            &[],
        );
        let path = resolve(
            &req.outputs.dir,
            &req.outputs.approval_audit,
            format!("approval_audit_{tid}.json"),
        );
        writes.push_json(path.clone(), &audit, "approval audit")?;
        out.approval_audit_path = path.display().to_string();
    }
    if let Some(mut audit) = delegation_audit {
        audit.trace_id = tid.clone();
        let links: Vec<(String, String)> = audit
            .entries
            .iter()
            .map(|e| (e.delegator_identity.clone(), e.delegate_identity.clone()))
            .collect();
        audit.relationship =
            audit_relationship(&tid, &audit.tool_name, &req.policy.digest, &[], &links);
        let path = resolve(
            &req.outputs.dir,
            &req.outputs.delegation_audit,
            format!("delegation_audit_{tid}.json"),
        );
        writes.push_json(path.clone(), &audit, "delegation audit")?;
        out.delegation_audit_path = path.display().to_string();
    }
    if let Some((cred, request)) = &issued {
        let record = BrokerCredentialRecord {
            schema_id: BROKER_RECORD_SCHEMA_ID.into(),
            schema_version: AUDIT_SCHEMA_VERSION.into(),
            created_at: subject.created_at,
            producer_version: PRODUCER_VERSION.into(),
            trace_id: tid.clone(),
            tool_name: subject.tool_name.clone(),
            identity: subject.context.identity.clone(),
            broker: req.broker.map(|b| b.name().to_string()).unwrap_or_default(),
            reference: request.reference.clone(),
            credential_source: crate::text::lower_trim(&cred.source),
            credential_access_type: crate::text::lower_trim(&cred.access_type),
            credential_issuer: cred.issuer.clone(),
            credential_subject: cred.subject.clone(),
            credential_owner: cred.owner.clone(),
            scope: request.scope.clone(),
            credential_ref: cred.credential_ref.clone(),
            target_binding: if cred.target_binding.is_empty() {
                request.target_binding.clone()
            } else {
                cred.target_binding.clone()
            },
            run_binding: cred.run_binding.clone(),
            job_binding: cred.job_binding.clone(),
            request_digest: request.digest(),
            issued_at: cred.issued_at.map(|t| t.utc()).unwrap_or_default(),
            expires_at: cred.expires_at.map(|t| t.utc()).unwrap_or_default(),
            ttl_seconds: cred.ttl_seconds,
        };
        let path = resolve(
            &req.outputs.dir,
            &req.outputs.credential_evidence,
            format!("credential_evidence_{tid}.json"),
        );
        writes.push_json(path.clone(), &record, "credential evidence")?;
        out.credential_evidence_path = path.display().to_string();
        out.credential_issuer = cred.issuer.clone();
        out.credential_source = record.credential_source.clone();
        out.credential_access_type = record.credential_access_type.clone();
        out.credential_ref = cred.credential_ref.clone();
        out.credential_ttl_seconds = cred.ttl_seconds;
    }

    writes.commit()?;

    // 12. Journal a kill switch that blocked the call (not a simulated one: nothing was stopped).
    // The block stands whatever happens to the journal; a failure is reported as a warning.
    if let (Some(ks), Some(journal), false) = (
        kill_switch.as_ref().filter(|k| k.status == "active"),
        &req.outputs.kill_switch_journal,
        req.simulate,
    ) {
        let event = crate::killswitch_journal::KillSwitchEvent::new(
            ks.evaluated_at,
            &tid,
            &intent_digest,
            &req.policy.digest,
            &prepared.tool_name,
            &ks.matched_entry_ids,
            &ks.reason_codes,
        );
        if let Err(e) = crate::killswitch_journal::append(journal, &event) {
            warnings.push(format!("kill switch journal not written: {e}"));
        }
    }

    out.verdict = verdict.as_str().into();
    out.reason_codes = reasons;
    out.violations = violations;
    out.trace_id = tid;
    out.trace_path = trace_path.display().to_string();
    out.policy_digest = req.policy.digest.clone();
    out.intent_digest = intent_digest;
    out.matched_rule = evaluation.matched_rule();
    out.freeze_window = evaluation.freeze_window.clone();
    out.sandbox = evaluation.sandbox.clone();
    out.kill_switch = kill_switch;
    if intent_invalid {
        out.context_set_digest = subject.context.context_set_digest.clone();
    } else {
        out.phase = prepared.context.phase.clone();
        out.context_set_digest = prepared.context.context_set_digest.clone();
        out.context_evidence_mode = prepared.context.context_evidence_mode.clone();
        out.context_ref_count = context_ref_count;
        out.context_source = context_sources.join(",");
    }
    if let Some(s) = &evaluation.script {
        out.script = true;
        out.step_count = s.step_count;
        out.script_hash = prepared.script_hash.clone();
        out.composite_risk_class = s.composite_risk_class.clone();
        out.step_verdicts = s.step_verdicts.clone();
    }
    // Predicates that failed closed: the decision says `predicate_error`; the warning says why.
    warnings.extend(evaluation.predicate_failures.iter().cloned());
    out.warnings = warnings;
    let exit_code = if req.simulate {
        exit::OK
    } else {
        match verdict {
            Verdict::Block => exit::BLOCKED,
            Verdict::RequireApproval => exit::APPROVAL_REQUIRED,
            _ => exit::OK,
        }
    };
    Ok(GateResult {
        output: out,
        exit_code,
        evaluation,
        trace,
        broker_error,
    })
}

fn scope_key(scope: &str, tool: &str, identity: &str) -> String {
    match scope {
        "tool" => tool.to_string(),
        "identity" => identity.to_string(),
        _ => format!("{tool}|{identity}"),
    }
}

/// The files a decision produces, written together at the end, each atomically (temp file, fsync,
/// rename). They are written one after the other on purpose: a writer thread saved a fraction of a
/// millisecond on an idle machine but cost several when the cores were busy (the join waited for the
/// scheduler), measured 13 ms → 2.5 ms mean under load.
#[derive(Default)]
struct PendingWrites {
    files: Vec<(PathBuf, Vec<u8>, &'static str)>,
}

impl PendingWrites {
    fn push(&mut self, path: PathBuf, bytes: Vec<u8>, what: &'static str) {
        self.files.push((path, bytes, what));
    }

    fn push_json<T: Serialize>(
        &mut self,
        path: PathBuf,
        value: &T,
        what: &'static str,
    ) -> Result<(), GaitError> {
        let bytes = gait_engine::gojson::to_indented(value)
            .map_err(|e| GaitError::internal(format!("encode {what}: {e}")))?;
        self.push(path, bytes, what);
        Ok(())
    }

    /// Writes every file in one durable batch (their syncs overlap). An error names the files,
    /// since it may come from any of them.
    fn commit(self) -> Result<(), GaitError> {
        let files: Vec<fsx::AtomicFile<'_>> = self
            .files
            .iter()
            .map(|(path, bytes, _)| fsx::AtomicFile {
                path,
                bytes,
                mode: 0o600,
            })
            .collect();
        fsx::write_atomic_all(&files).map_err(|e| {
            let what: Vec<&str> = self.files.iter().map(|(_, _, what)| *what).collect();
            GaitError::io(format!("write {}: {e}", what.join(", ")))
        })
    }
}

/// The relationship of an audit record: parented by the trace, governed by the policy; approvers
/// and delegation links (delegator → delegate) add agents, roles and `delegates_to` edges.
fn audit_relationship(
    trace_id: &str,
    tool: &str,
    policy_digest: &str,
    agents: &[String],
    links: &[(String, String)],
) -> Option<Relationship> {
    let mut entity_refs = vec![
        Ref::new("trace", trace_id),
        Ref::new("tool", tool),
        Ref::new("policy", policy_digest),
    ];
    entity_refs.extend(agents.iter().map(|a| Ref::new("agent", a)));
    let mut edges = vec![Edge {
        kind: "governed_by".into(),
        from: Ref::new("tool", tool),
        to: Ref::new("policy", policy_digest),
    }];
    let mut agent_chain = Vec::new();
    for (delegator, delegate) in links {
        for (id, role) in [(delegator, "delegator"), (delegate, "delegate")] {
            if !id.is_empty() {
                entity_refs.push(Ref::new("agent", id));
                agent_chain.push(AgentLink {
                    identity: id.clone(),
                    role: role.into(),
                });
            }
        }
        if !delegator.is_empty() && !delegate.is_empty() {
            edges.push(Edge {
                kind: "delegates_to".into(),
                from: Ref::new("agent", delegator),
                to: Ref::new("agent", delegate),
            });
        }
    }
    Relationship {
        parent_ref: Some(Ref::new("trace", trace_id)),
        entity_refs,
        policy_ref: Some(PolicyRef {
            policy_digest: policy_digest.into(),
            ..PolicyRef::default()
        }),
        agent_chain,
        edges,
        parent_record_id: trace_id.into(),
        ..Relationship::default()
    }
    .finish()
}

/// The scope an approval token must carry: `tool:<tool>`, and for a destructive call in the apply
/// phase also `phase:apply` and `destructive:apply` (CONTRACTS §2.10).
fn approval_scope(intent: &Intent) -> Vec<String> {
    let mut scope = vec![format!("tool:{}", intent.tool_name)];
    if intent.context.phase == "apply" && intent.has_destructive_target() {
        scope.push("phase:apply".into());
        scope.push("destructive:apply".into());
    }
    scope
}

/// What the approved-script registry said about this intent.
#[derive(Clone, Debug, Default)]
struct FastPath {
    pre_approved: bool,
    pattern_id: String,
    registry_reason: String,
}

/// The approved-script fast path (CONTRACTS §2.6): for a script intent the rules did not fail
/// closed on, under a policy that does not require context evidence, a verified registry entry that
/// matches pre-approves the script. A registry that cannot be read or verified fails closed for
/// high-risk intents and oss-prod (exit 3), else it is skipped with a warning.
fn approved_script(
    req: &GateRequest<'_>,
    intent: &Intent,
    evaluation: &Evaluation,
    fail_closed: bool,
    warnings: &mut Vec<String>,
) -> Result<FastPath, GaitError> {
    let registry_and_key = match &req.approved_scripts {
        ApprovedScriptsInput::None => return Ok(FastPath::default()),
        ApprovedScriptsInput::Failed(error) => {
            if fail_closed {
                return Err(GaitError::invalid(format!(
                    "approved script registry unavailable in fail-closed mode: {error}"
                ))
                .with_exit(exit::BLOCKED));
            }
            warnings.push(format!(
                "approved script registry unavailable; fast path disabled: {error}"
            ));
            None
        }
        ApprovedScriptsInput::Loaded { registry, key } => Some((registry, key)),
    };
    let Some((registry, key)) = registry_and_key else {
        return Ok(FastPath::default());
    };
    if !intent.is_script()
        || !evaluation.fail_closed_reason_codes.is_empty()
        || req
            .policy
            .policy
            .rules
            .iter()
            .any(|r| r.require_context_evidence)
    {
        return Ok(FastPath::default());
    }
    let entries = match registry.verify(key, req.evaluation_time) {
        Ok(entries) => entries,
        Err(error) => {
            let message = format!("approved script registry verification failed {error}");
            if fail_closed {
                return Err(GaitError::invalid(message).with_exit(exit::BLOCKED));
            }
            warnings.push(format!("{message}; fast path disabled"));
            return Ok(FastPath::default());
        }
    };
    Ok(
        match entries
            .iter()
            .find(|e| e.matches(intent, &req.policy.digest, req.evaluation_time))
        {
            Some(e) => FastPath {
                pre_approved: true,
                pattern_id: e.pattern_id.clone(),
                registry_reason: "approved_script_match".into(),
            },
            None => FastPath {
                registry_reason: "approved_script_not_found".into(),
                ..FastPath::default()
            },
        },
    )
}

/// The trace's relationship: session parent, the calling agent, the tool, the policy, the trace and
/// the delegation chain.
fn trace_relationship(
    intent: &Intent,
    trace_id: &str,
    policy: &LoadedPolicy,
    matched_rule_ids: &[String],
) -> Option<Relationship> {
    let ctx = &intent.context;
    let tool = &intent.tool_name;
    let mut rel = Relationship {
        parent_ref: (!ctx.session_id.is_empty()).then(|| Ref::new("session", &ctx.session_id)),
        entity_refs: vec![
            Ref::new("trace", trace_id),
            Ref::new("tool", tool),
            Ref::new("agent", &ctx.identity),
            Ref::new("policy", &policy.digest),
        ],
        policy_ref: Some(PolicyRef {
            policy_id: policy.policy.schema_id.clone(),
            policy_version: policy.policy.schema_version.clone(),
            policy_digest: policy.digest.clone(),
            matched_rule_ids: matched_rule_ids.to_vec(),
        }),
        edges: vec![
            Edge {
                kind: "calls".into(),
                from: Ref::new("agent", &ctx.identity),
                to: Ref::new("tool", tool),
            },
            Edge {
                kind: "governed_by".into(),
                from: Ref::new("tool", tool),
                to: Ref::new("policy", &policy.digest),
            },
        ],
        ..Relationship::default()
    };
    match &intent.delegation {
        Some(del) => {
            rel.agent_chain.push(AgentLink {
                identity: del.requester_identity.clone(),
                role: "requester".into(),
            });
            for link in &del.chain {
                rel.agent_chain.push(AgentLink {
                    identity: link.delegator_identity.clone(),
                    role: "delegator".into(),
                });
                rel.agent_chain.push(AgentLink {
                    identity: link.delegate_identity.clone(),
                    role: "delegate".into(),
                });
                rel.edges.push(Edge {
                    kind: "delegates_to".into(),
                    from: Ref::new("agent", &link.delegator_identity),
                    to: Ref::new("agent", &link.delegate_identity),
                });
            }
        }
        None => rel.agent_chain.push(AgentLink {
            identity: ctx.identity.clone(),
            role: "requester".into(),
        }),
    }
    rel.finish()
}

#[allow(clippy::too_many_arguments)]
fn build_trace(
    req: &GateRequest<'_>,
    intent: &Intent,
    evaluation: &Evaluation,
    tid: &str,
    intent_digest: &str,
    verdict: Verdict,
    violations: &[String],
    observed_at: GoTime,
) -> TraceRecord {
    let ctx = &intent.context;
    let script = evaluation.script.as_ref();
    let matched_rule_ids = script
        .map(|s| s.matched_rule_ids.clone())
        .unwrap_or_default();
    let delegation_ref = intent.delegation.as_ref().map(|d| DelegationRef {
        delegation_token_ref: d.token_refs.first().cloned().unwrap_or_default(),
        requester_identity: d.requester_identity.clone(),
        delegation_depth: d.chain.len(),
        scope_class: d.scope_class.clone(),
        chain_digest: intent.delegation_digest().unwrap_or_default(),
        reason_codes: Vec::new(),
    });
    TraceRecord {
        schema_id: TRACE_SCHEMA_ID.into(),
        schema_version: TRACE_SCHEMA_VERSION.into(),
        created_at: intent.created_at,
        observed_at,
        producer_version: PRODUCER_VERSION.into(),
        trace_id: tid.into(),
        event_id: event_id(tid, &observed_at),
        correlation_id: req.correlation_id.clone(),
        tool_name: intent.tool_name.clone(),
        args_digest: intent.args_digest(),
        intent_digest: intent_digest.into(),
        policy_digest: req.policy.digest.clone(),
        agent_id: ctx.agent_id.clone(),
        agent_identity: ctx.agent_identity.as_ref().map(|a| AgentIdentityRecord {
            lifecycle_states: a.lifecycle_states.clone(),
            owner: a.owner.clone(),
            manifest_digest: a.manifest_digest.clone(),
            publisher: a.publisher.clone(),
            source: a.source.clone(),
            issued_at: a.issued_at,
            approved_at: a.approved_at,
            expires_at: a.expires_at,
            revoked: a.revoked,
        }),
        run_id: ctx.run_id.clone(),
        workflow_id: ctx.workflow_id.clone(),
        repo: ctx.repo.clone(),
        environment: ctx.environment.clone(),
        credential_ref: ctx.credential_ref.clone(),
        credential_source: ctx.credential_source.clone(),
        credential_access_type: ctx.credential_access_type.clone(),
        credential_issuer: ctx.credential_issuer.clone(),
        credential_subject: ctx.credential_subject.clone(),
        credential_owner: ctx.credential_owner.clone(),
        credential_target_binding: ctx.credential_target_binding.clone(),
        credential_run_binding: ctx.credential_run_binding.clone(),
        credential_job_binding: ctx.credential_job_binding.clone(),
        credential_ttl_seconds: ctx.credential_ttl_seconds,
        approval_ref: ctx.approval_ref.clone(),
        wrkr_inventory_ref: ctx.wrkr_inventory_ref.clone(),
        agent_action_bom_ref: ctx.agent_action_bom_ref.clone(),
        policy_id: req.policy.policy.schema_id.clone(),
        policy_version: req.policy.policy.schema_version.clone(),
        matched_rule_ids: matched_rule_ids.clone(),
        verdict: verdict.as_str().into(),
        context_set_digest: ctx.context_set_digest.clone(),
        context_evidence_mode: ctx.context_evidence_mode.clone(),
        script: intent.is_script(),
        step_count: intent.script.as_ref().map_or(0, |s| s.len()),
        script_hash: intent.script_hash.clone(),
        composite_risk_class: script
            .map(|s| s.composite_risk_class.clone())
            .unwrap_or_default(),
        step_verdicts: script
            .map(|s| s.step_verdicts.iter().map(TraceStepVerdict::from).collect())
            .unwrap_or_default(),
        violations: violations.to_vec(),
        approval_token_ref: req.approval_token_ref.clone(),
        delegation_ref,
        freeze_window: evaluation.freeze_window.clone(),
        sandbox: evaluation.sandbox.clone(),
        relationship: trace_relationship(intent, tid, req.policy, &matched_rule_ids),
        skill_provenance: intent
            .skill_provenance
            .as_ref()
            .map(|s| SkillProvenanceRecord {
                skill_name: s.skill_name.clone(),
                skill_version: s.skill_version.clone(),
                source: s.source.clone(),
                publisher: s.publisher.clone(),
                digest: s.digest.clone(),
                signature_key_id: s.signature_key_id.clone(),
            }),
        ..TraceRecord::default()
    }
}
