//! `gait gate eval`: flags (and `.gait/config.yaml` defaults) → `gait_gate::gate_eval`.

use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::crypto::KeySource;
use gait_engine::procx::SystemSpawner;
use gait_engine::{GaitError, GoTime};
use gait_gate::broker::{BrokerHandle, DEFAULT_ENV_PREFIX, EnvSnapshot};
use gait_gate::cache::PolicyCache;
use gait_gate::gate_eval::{GateEvalOptions, gate_eval};
use gait_gate::predicate::PredicateHandle;
use std::path::PathBuf;
use std::time::Instant;

const FLAGS: &[Flag] = &[
    Flag::string("policy", "", "policy YAML file"),
    Flag::string("intent", "", "intent JSON file"),
    Flag::string(
        "context-envelope",
        "",
        "verified context envelope (gait.context.envelope) binding the intent's context evidence",
    ),
    Flag::string(
        "trace-out",
        "",
        "trace file path (default ./trace_<trace_id>.json)",
    ),
    Flag::string(
        "approval-token-ref",
        "",
        "approval reference recorded in the trace",
    ),
    Flag::string(
        "approval-token",
        "",
        "approval token file (gait approve) for a require_approval decision",
    ),
    Flag::string(
        "approval-token-chain",
        "",
        "more approval token files (comma-separated) for multi-party approval",
    ),
    Flag::string(
        "delegation-token",
        "",
        "delegation token file (gait delegate mint) for a delegated call",
    ),
    Flag::string(
        "delegation-token-chain",
        "",
        "more delegation token files (comma-separated), one per chain link",
    ),
    Flag::string(
        "approval-audit-out",
        "",
        "approval audit path (default ./approval_audit_<trace_id>.json)",
    ),
    Flag::string(
        "delegation-audit-out",
        "",
        "delegation audit path (default ./delegation_audit_<trace_id>.json)",
    ),
    Flag::string(
        "approval-public-key",
        "",
        "approval verify key (public key file)",
    ),
    Flag::string(
        "approval-public-key-env",
        "",
        "environment variable holding the approval verify key",
    ),
    Flag::string(
        "approval-private-key",
        "",
        "approval private key file (its public half verifies)",
    ),
    Flag::string(
        "approval-private-key-env",
        "",
        "environment variable holding the approval private key",
    ),
    Flag::string(
        "delegation-public-key",
        "",
        "delegation verify key (public key file)",
    ),
    Flag::string(
        "delegation-public-key-env",
        "",
        "environment variable holding the delegation verify key",
    ),
    Flag::string(
        "delegation-private-key",
        "",
        "delegation private key file (its public half verifies)",
    ),
    Flag::string(
        "delegation-private-key-env",
        "",
        "environment variable holding the delegation private key",
    ),
    Flag::string(
        "key-mode",
        "dev",
        "signing key mode: dev (ephemeral key) or prod (--private-key required)",
    ),
    Flag::string("private-key", "", "trace signing key file (0600)"),
    Flag::string(
        "private-key-env",
        "",
        "environment variable holding the trace signing key",
    ),
    Flag::string(
        "profile",
        "standard",
        "standard or oss-prod (production refusals, fail-closed side inputs)",
    ),
    Flag::string(
        "evaluation-time",
        "",
        "RFC3339 time to evaluate at (freeze windows, expiry, rate-limit buckets)",
    ),
    Flag::string("kill-switch-state", "", "kill-switch state file"),
    Flag::string(
        "rate-limit-state",
        ".gait-out/gate_rate_limits.json",
        "shared rate-limit state file",
    ),
    Flag::string(
        "credential-broker",
        "off",
        "credential broker: off, stub, env, command, or an installed broker plugin",
    ),
    Flag::string(
        "credential-env-prefix",
        "GAIT_BROKER_TOKEN_",
        "env broker: prefix of the variables holding credentials",
    ),
    Flag::string(
        "credential-command",
        "",
        "command broker: executable (allowlisted in GAIT_CREDENTIAL_COMMAND_ALLOWLIST; no shell)",
    ),
    Flag::string(
        "credential-command-args",
        "",
        "command broker: arguments (comma-separated)",
    ),
    Flag::string(
        "credential-ref",
        "",
        "broker reference when the matched rules name none",
    ),
    Flag::string(
        "credential-scopes",
        "",
        "extra broker scopes (comma-separated)",
    ),
    Flag::string(
        "credential-evidence-out",
        "",
        "broker credential record path (default ./credential_evidence_<trace_id>.json)",
    ),
    Flag::string(
        "wrkr-inventory",
        "",
        "Wrkr inventory JSON enriching auth_context with wrkr.* values",
    ),
    Flag::string(
        "approved-script-registry",
        "",
        "approved-script registry (gait approve-script) enabling the pre-approved script fast path",
    ),
    Flag::string(
        "approved-script-public-key",
        "",
        "approved-script verify key (default: the approval verify key)",
    ),
    Flag::string(
        "approved-script-public-key-env",
        "",
        "environment variable holding the approved-script verify key",
    ),
    Flag::string(
        "config",
        "",
        "project defaults file (default .gait/config.yaml when present)",
    ),
    Flag::bool("no-config", "ignore project defaults"),
    Flag::bool(
        "simulate",
        "non-enforcing: report what would happen, exit 0",
    ),
];

pub static EVAL: Command = Command {
    path: "gate eval",
    synopsis: "--policy <policy.yaml> --intent <intent.json> [flags]",
    summary: "Evaluate a tool-call intent against a policy and write a signed trace.",
    explain: "Evaluates a structured tool-call intent against a policy, answers allow, block, require_approval or dry_run with reason codes, and writes a signed trace of the decision.",
    flags: FLAGS,
    order: Order::FlagsFirst,
    custom_explain: true,
    run,
};

/// The wall clock for the pipeline: now, and the time since the command started.
struct WallClock(Instant);

impl gait_gate::pipeline::Clock for WallClock {
    fn now(&self) -> GoTime {
        GoTime::from_utc(chrono::Utc::now())
    }
    fn elapsed_ms(&self) -> f64 {
        self.0.elapsed().as_secs_f64() * 1000.0
    }
}

/// The flag's value when given, else the config default.
fn pick(p: &Parsed, flag: &str, default: &str) -> String {
    if p.is_set(flag) {
        p.str(flag)
    } else if !default.trim().is_empty() {
        default.to_string()
    } else {
        p.str(flag)
    }
}

/// A key source from a path flag and an env flag, falling back to config values.
fn key(
    ctx: &Ctx,
    p: &Parsed,
    path_flag: &str,
    env_flag: &str,
    cfg_path: &str,
    cfg_env: &str,
) -> Result<KeySource, GaitError> {
    let flag_source = ctx.key_source(p, path_flag, env_flag)?;
    if flag_source.is_set() || (cfg_path.trim().is_empty() && cfg_env.trim().is_empty()) {
        return Ok(flag_source);
    }
    let path = (!cfg_path.trim().is_empty()).then(|| PathBuf::from(cfg_path.trim()));
    let env = match cfg_env.trim() {
        "" => None,
        name => match ctx.env(name) {
            Some(v) if !v.trim().is_empty() => Some((name.to_string(), v)),
            _ => {
                return Err(GaitError::invalid(format!(
                    "environment variable {name} is empty or not set"
                ))
                .with_hint("set the variable named by .gait/config.yaml or pass the key flag"));
            }
        },
    };
    Ok(KeySource { path, env })
}

fn load_config(p: &Parsed) -> Result<gait_gate::config::GateDefaults, GaitError> {
    if p.bool("no-config") {
        return Ok(Default::default());
    }
    let (path, explicit) = match p.opt("config") {
        Some(c) => (PathBuf::from(c.trim()), true),
        None => (PathBuf::from(gait_gate::config::DEFAULT_PATH), false),
    };
    if !explicit && !path.exists() {
        return Ok(Default::default());
    }
    let bytes = gait_engine::fsx::read_bounded(&path, gait_gate::config::MAX_CONFIG_BYTES)
        .map_err(|e| GaitError::invalid(format!("read project config: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| GaitError::invalid("read project config: not UTF-8 text"))?;
    let cfg = gait_gate::config::parse(&text).map_err(|e| {
        GaitError::invalid(e).with_hint("fix .gait/config.yaml or pass --no-config")
    })?;
    Ok(cfg.gate)
}

/// The compiled-policy cache under the gait home (`GAIT_POLICY_CACHE=off` disables it), writable:
/// `gate eval` creates its MAC key (from OS randomness) and entries. Policies naming predicates
/// bind them through the plugin host (installed predicate plugins, verified and compiled on first
/// use only).
pub fn policy_cache(ctx: &Ctx) -> PolicyCache {
    let cache = policy_cache_read_only(ctx);
    match ctx.random_seed() {
        Ok(seed) => cache.with_new_key(seed).writable(),
        Err(_) => cache,
    }
}

/// The compiled-policy cache for commands that only read policies (`policy test`, `validate`,
/// `fmt`, `simulate`): valid entries are used, nothing is written under the gait home.
pub fn policy_cache_read_only(ctx: &Ctx) -> PolicyCache {
    let cache = match ctx.env("GAIT_POLICY_CACHE").as_deref().map(str::trim) {
        Some("off" | "0" | "false") => PolicyCache::disabled(),
        _ => PolicyCache::new(ctx.gait_home().join("cache").join("policies")).read_only(),
    };
    let predicates = super::plugin::host(ctx).predicates();
    cache.with_predicates(PredicateHandle::new(predicates))
}

fn run(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    if !p.positionals.is_empty() {
        return Err(GaitError::invalid("unexpected positional arguments"));
    }
    let explain = p.bool("explain");
    if explain && !ctx.json {
        return Response::ok(
            &serde_json::json!({"ok": true, "command": "gait gate eval", "explain": EVAL.explain}),
            EVAL.explain,
        );
    }
    let started = Instant::now();
    let cfg = load_config(&p)?;
    let args = if p.is_set("credential-command-args") {
        p.csv("credential-command-args")
    } else {
        cfg.credential_command_args.clone()
    };
    let env_prefix = match pick(&p, "credential-env-prefix", &cfg.credential_env_prefix).trim() {
        "" => DEFAULT_ENV_PREFIX.to_string(),
        prefix => prefix.to_string(),
    };
    let scopes = if p.is_set("credential-scopes") {
        p.csv("credential-scopes")
    } else if !cfg.credential_scopes.is_empty() {
        cfg.credential_scopes.clone()
    } else {
        Vec::new()
    };
    let mut opts = GateEvalOptions {
        policy: pick(&p, "policy", &cfg.policy),
        intent: p.str("intent"),
        profile: pick(&p, "profile", &cfg.profile),
        key_mode: pick(&p, "key-mode", &cfg.key_mode),
        private_key: key(
            ctx,
            &p,
            "private-key",
            "private-key-env",
            &cfg.private_key,
            &cfg.private_key_env,
        )?,
        approval_public_key: key(
            ctx,
            &p,
            "approval-public-key",
            "approval-public-key-env",
            &cfg.approval_public_key,
            &cfg.approval_public_key_env,
        )?,
        approval_private_key: key(
            ctx,
            &p,
            "approval-private-key",
            "approval-private-key-env",
            &cfg.approval_private_key,
            &cfg.approval_private_key_env,
        )?,
        delegation_public_key: ctx.key_source(
            &p,
            "delegation-public-key",
            "delegation-public-key-env",
        )?,
        delegation_private_key: ctx.key_source(
            &p,
            "delegation-private-key",
            "delegation-private-key-env",
        )?,
        approved_script_public_key: ctx.key_source(
            &p,
            "approved-script-public-key",
            "approved-script-public-key-env",
        )?,
        approval_token: p.str("approval-token"),
        approval_token_chain: p.csv("approval-token-chain"),
        delegation_token: p.str("delegation-token"),
        delegation_token_chain: p.csv("delegation-token-chain"),
        approved_script_registry: p.str("approved-script-registry"),
        evaluation_time: p.str("evaluation-time"),
        simulate: p.bool("simulate"),
        context_envelope: p.str("context-envelope"),
        kill_switch_state: pick(&p, "kill-switch-state", &cfg.kill_switch_state),
        wrkr_inventory: pick(&p, "wrkr-inventory", &cfg.wrkr_inventory_path),
        rate_limit_state: pick(&p, "rate-limit-state", &cfg.rate_limit_state),
        credential_broker: pick(&p, "credential-broker", &cfg.credential_broker),
        credential_command: pick(&p, "credential-command", &cfg.credential_command),
        credential_command_args: args,
        credential_command_allowlist: crate::cli::flags::split_csv(
            &ctx.env("GAIT_CREDENTIAL_COMMAND_ALLOWLIST")
                .unwrap_or_default(),
        ),
        // The env broker sees only the variables under its prefix.
        broker_env: EnvSnapshot::new(ctx.env_with_prefix(&env_prefix)),
        credential_env_prefix: env_prefix,
        credential_ref: pick(&p, "credential-ref", &cfg.credential_ref),
        credential_scopes: scopes,
        approval_token_ref: p.str("approval-token-ref"),
        trace_out: pick(&p, "trace-out", &cfg.trace_path),
        approval_audit_out: p.str("approval-audit-out"),
        delegation_audit_out: p.str("delegation-audit-out"),
        credential_evidence_out: pick(&p, "credential-evidence-out", &cfg.credential_evidence_path),
        correlation_id: ctx.correlation_id.clone(),
        dev_seed: ctx.random_seed()?,
        plugin_broker: BrokerHandle::default(),
    };
    // An installed broker plugin of that name (verified now): it sees exactly the variables its
    // signed manifest declares, nothing else.
    if let Some(broker) = super::plugin::host(ctx).broker(&opts.credential_broker)? {
        opts.broker_env = EnvSnapshot::new(
            broker
                .env_names()
                .iter()
                .filter_map(|n| ctx.env(n).map(|v| (n.clone(), v))),
        );
        opts.plugin_broker = BrokerHandle::new(std::sync::Arc::new(broker));
    }
    let clock = WallClock(started);
    let cache = policy_cache(ctx);
    let result = gate_eval(&opts, &cache, &clock, &SystemSpawner)?;
    if explain {
        let policy_bytes = gait_engine::fsx::read_bounded(
            std::path::Path::new(&opts.policy),
            gait_gate::policy::MAX_POLICY_BYTES,
        )
        .map_err(|e| GaitError::invalid(format!("read policy: {e}")))?;
        let (loaded, _) = cache.load(&policy_bytes)?;
        let ex = gait_gate::explain::explain(&loaded.policy, &result);
        return Response::new(result.exit_code, &ex, String::new());
    }
    let o = &result.output;
    let mut text = format!(
        "gate eval: verdict={} reasons={}\n",
        o.verdict,
        if o.reason_codes.is_empty() {
            "none".to_string()
        } else {
            o.reason_codes.join(",")
        }
    );
    if !o.violations.is_empty() {
        text.push_str(&format!("violations={}\n", o.violations.join(",")));
    }
    if !o.matched_rule.is_empty() {
        text.push_str(&format!("matched_rule={}\n", o.matched_rule));
    }
    text.push_str(&format!(
        "trace_id={}\ntrace_path={}\npolicy_digest={}\nintent_digest={}",
        o.trace_id, o.trace_path, o.policy_digest, o.intent_digest
    ));
    for (key, value) in [
        ("approval_audit_path", &o.approval_audit_path),
        ("delegation_audit_path", &o.delegation_audit_path),
        ("credential_evidence_path", &o.credential_evidence_path),
    ] {
        if !value.is_empty() {
            text.push_str(&format!("\n{key}={value}"));
        }
    }
    if let Some(e) = &result.broker_error {
        text.push_str(&format!("\nbroker_error={e}"));
    }
    if o.would_have_blocked {
        text.push_str(&format!(
            "\nsimulate: would have been {} (not enforced)",
            o.simulated_verdict
        ));
    }
    let warnings = o.warnings.clone();
    Ok(Response::new(result.exit_code, o, text)?.with_warnings(&warnings))
}
