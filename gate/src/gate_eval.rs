//! `gait gate eval` as an engine call: plain options in, a [`GateResult`] out.
//!
//! The CLI turns flags (and `.gait/config.yaml` defaults) into [`GateEvalOptions`]; this module
//! validates them in the reference's order, loads the inputs (policy through the cache, intent,
//! envelope, kill-switch state, Wrkr inventory, keys) and runs the [`pipeline`](crate::pipeline).
//! Key sources arrive resolved to text or paths; the engine reads no environment variable. The
//! process spawner and the environment snapshot the brokers may use are lent by the caller.

use crate::approved_scripts::Registry;
use crate::broker::{
    BrokerCapabilities, BrokerHandle, CommandBroker, CredentialBroker, DEFAULT_ENV_PREFIX,
    EnvBroker, EnvSnapshot, StubBroker,
};
use crate::cache::PolicyCache;
use crate::envelope::{self, ContextEnvelope};
use crate::killswitch::{self, KillSwitchState};
use crate::pipeline::{
    self, ApprovedScriptsInput, Clock, GateRequest, GateResult, KillSwitchInput, Outputs, WrkrInput,
};
use crate::profile::{self, Profile, RequestFacts};
use crate::ratelimit::FileCounterStore;
use crate::tokens::approval::ApprovalToken;
use crate::tokens::delegation::DelegationToken;
use crate::tokens::{read_token_bytes, token_paths};
use crate::wrkr::{self, Inventory};
use gait_engine::crypto::{KeyMode, KeySource, PublicKey, load_verify_key, resolve_signing_key};
use gait_engine::procx::ProcessSpawner;
use gait_engine::{GaitError, GoTime, fsx};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct GateEvalOptions {
    pub policy: String,
    pub intent: String,
    pub profile: String,
    pub key_mode: String,
    pub private_key: KeySource,
    pub approval_public_key: KeySource,
    pub approval_private_key: KeySource,
    pub delegation_public_key: KeySource,
    pub delegation_private_key: KeySource,
    pub approved_script_public_key: KeySource,
    /// `--approval-token` and `--approval-token-chain` (comma-separated, split by the caller).
    pub approval_token: String,
    pub approval_token_chain: Vec<String>,
    pub delegation_token: String,
    pub delegation_token_chain: Vec<String>,
    pub approved_script_registry: String,
    pub evaluation_time: String,
    pub simulate: bool,
    pub context_envelope: String,
    pub kill_switch_state: String,
    pub wrkr_inventory: String,
    pub rate_limit_state: String,
    pub credential_broker: String,
    /// `--credential-env-prefix` (default `GAIT_BROKER_TOKEN_`).
    pub credential_env_prefix: String,
    pub credential_command: String,
    pub credential_command_args: Vec<String>,
    /// `GAIT_CREDENTIAL_COMMAND_ALLOWLIST`, split on commas (read by the caller).
    pub credential_command_allowlist: Vec<String>,
    /// The environment variables the broker may read (read by the caller: the env broker's
    /// prefixed variables, or exactly those a plugin broker's manifest declares).
    pub broker_env: EnvSnapshot,
    /// A plugin broker (resolved by the caller); used when `credential_broker` names it, ahead of
    /// a builtin of the same name (an installed newer version replaces a builtin).
    pub plugin_broker: BrokerHandle,
    pub credential_ref: String,
    pub credential_scopes: Vec<String>,
    pub approval_token_ref: String,
    pub trace_out: String,
    pub approval_audit_out: String,
    pub delegation_audit_out: String,
    pub credential_evidence_out: String,
    pub correlation_id: String,
    /// 32 random bytes for the dev-mode ephemeral key (the CLI reads the OS randomness).
    pub dev_seed: [u8; 32],
}

fn opt_path(s: &str) -> Option<PathBuf> {
    let t = s.trim();
    (!t.is_empty()).then(|| PathBuf::from(t))
}

fn read_input(path: &str, what: &str, limit: u64) -> Result<Vec<u8>, GaitError> {
    fsx::read_bounded(Path::new(path), limit)
        .map_err(|e| GaitError::invalid(format!("read {what}: {e}")))
}

/// Parses `--evaluation-time` (RFC3339, converted to UTC).
pub fn parse_evaluation_time(s: &str) -> Result<Option<GoTime>, GaitError> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    GoTime::parse(t)
        .map(|g| Some(g.utc()))
        .map_err(|e| GaitError::invalid(format!("invalid --evaluation-time: {e}")))
}

/// Builds the configured broker (`off`, `stub`, `env`, `command`, or the plugin broker it names).
fn make_broker(opts: &GateEvalOptions) -> Result<Option<Box<dyn CredentialBroker>>, GaitError> {
    let name = opts.credential_broker.trim();
    if !matches!(name, "" | "off")
        && let Some(plugin) = opts.plugin_broker.boxed(name)
    {
        return Ok(Some(plugin));
    }
    Ok(match name {
        "" | "off" => None,
        "stub" => Some(Box::new(StubBroker)),
        "env" => Some(Box::new(EnvBroker::new(
            match opts.credential_env_prefix.trim() {
                "" => DEFAULT_ENV_PREFIX,
                p => p,
            },
        ))),
        "command" => {
            if opts.credential_command.trim().is_empty() {
                return Err(GaitError::invalid(
                    "--credential-broker command requires --credential-command",
                )
                .with_hint("name the broker executable and allowlist it in GAIT_CREDENTIAL_COMMAND_ALLOWLIST"));
            }
            Some(Box::new(CommandBroker::new(
                &opts.credential_command,
                opts.credential_command_args.clone(),
                opts.credential_command_allowlist.clone(),
            )))
        }
        other => {
            return Err(GaitError::invalid(format!(
                "unsupported credential broker: {other}"
            )));
        }
    })
}

/// A verify key from explicit sources, if any were given.
fn explicit_verify_key(
    public: &KeySource,
    private: &KeySource,
    what: &str,
) -> Result<Option<PublicKey>, GaitError> {
    if !public.is_set() && !private.is_set() {
        return Ok(None);
    }
    load_verify_key(public, private)
        .map(Some)
        .map_err(|e| GaitError::invalid(format!("load {what} verify key: {e}")))
}

fn load_tokens<T>(
    single: &str,
    chain: &[String],
    what: &str,
    parse: fn(&[u8]) -> Result<T, GaitError>,
) -> Result<Vec<T>, GaitError> {
    token_paths(single, chain)
        .iter()
        .map(|path| {
            let bytes = read_token_bytes(Path::new(path), what)?;
            parse(&bytes)
        })
        .collect()
}

/// Validates, loads and evaluates. `cache` serves the policy; `clock` gives now and latency;
/// `spawner` runs a command broker.
pub fn gate_eval(
    opts: &GateEvalOptions,
    cache: &PolicyCache,
    clock: &dyn Clock,
    spawner: &dyn ProcessSpawner,
) -> Result<GateResult, GaitError> {
    if opts.policy.trim().is_empty() || opts.intent.trim().is_empty() {
        return Err(GaitError::invalid(
            "both --policy and --intent are required",
        ));
    }
    let profile = Profile::parse(&opts.profile)?;
    let key_mode = match opts.key_mode.trim() {
        "" => KeyMode::Dev,
        m => KeyMode::parse(m)?,
    };
    let broker = make_broker(opts)?;
    let outputs = Outputs {
        dir: PathBuf::new(),
        trace: opt_path(&opts.trace_out),
        approval_audit: opt_path(&opts.approval_audit_out),
        delegation_audit: opt_path(&opts.delegation_audit_out),
        credential_evidence: opt_path(&opts.credential_evidence_out),
        kill_switch_journal: opt_path(&opts.kill_switch_state)
            .map(|p| crate::killswitch_journal::journal_path(&p)),
    };
    if let Some(p) = &outputs.trace {
        pipeline::check_output_path(p, "trace")?;
    }
    let evaluation_time = parse_evaluation_time(&opts.evaluation_time)?;
    let facts = RequestFacts {
        simulate: opts.simulate,
        prod_key_mode: key_mode == KeyMode::Prod,
        private_key_configured: opts.private_key.is_set(),
        broker_configured: broker.is_some(),
        approval_key_explicit: opts.approval_public_key.is_set()
            || opts.approval_private_key.is_set(),
        delegation_key_explicit: opts.delegation_public_key.is_set()
            || opts.delegation_private_key.is_set(),
    };
    profile::check_request(profile, &facts)?;

    let policy_bytes = read_input(&opts.policy, "policy", crate::policy::MAX_POLICY_BYTES)?;
    let (loaded, _) = cache.load(&policy_bytes)?;
    profile::check_policy(profile, &loaded.policy, &facts)?;

    let intent_bytes = read_input(&opts.intent, "intent", crate::intent::MAX_INTENT_BYTES)?;
    let raw = crate::intent::parse(&intent_bytes)?;

    let signing = resolve_signing_key(key_mode, &opts.private_key, opts.dev_seed)
        .map_err(|e| GaitError::invalid(e.to_string()))?;
    let mut warnings = Vec::new();
    if let Some(w) = signing.warning {
        warnings.push(w.to_string());
    }
    // Verify keys: approval flags, else the signing key; delegation flags, else the approval key;
    // approved scripts: their own flags, else the approval key (CONTRACTS §2.6, §2.10).
    let approval_key = explicit_verify_key(
        &opts.approval_public_key,
        &opts.approval_private_key,
        "approval",
    )?
    .unwrap_or_else(|| signing.key.public());
    let delegation_key = explicit_verify_key(
        &opts.delegation_public_key,
        &opts.delegation_private_key,
        "delegation",
    )?
    .unwrap_or(approval_key);
    let script_key = explicit_verify_key(
        &opts.approved_script_public_key,
        &KeySource::default(),
        "approved script",
    )?
    .unwrap_or(approval_key);
    let approval_tokens = load_tokens(
        &opts.approval_token,
        &opts.approval_token_chain,
        "approval token",
        ApprovalToken::parse,
    )?;
    let delegation_tokens = load_tokens(
        &opts.delegation_token,
        &opts.delegation_token_chain,
        "delegation token",
        DelegationToken::parse,
    )?;

    let envelope = match opt_path(&opts.context_envelope) {
        None => None,
        Some(p) => {
            let bytes = fsx::read_bounded(&p, envelope::MAX_ENVELOPE_BYTES)
                .map_err(|e| GaitError::invalid(format!("read context envelope: {e}")))?;
            Some(ContextEnvelope::parse(&bytes)?)
        }
    };
    let kill_switch = match opt_path(&opts.kill_switch_state) {
        None => KillSwitchInput::None,
        Some(p) => match fsx::read_bounded(&p, killswitch::MAX_STATE_BYTES) {
            Err(e) => KillSwitchInput::Unavailable(format!("read kill switch state: {e}")),
            Ok(bytes) => match KillSwitchState::parse(&bytes) {
                Ok(state) => KillSwitchInput::Loaded(state),
                Err(e) => KillSwitchInput::Unavailable(e),
            },
        },
    };
    let wrkr = match opt_path(&opts.wrkr_inventory) {
        None => WrkrInput::None,
        Some(p) => load_inventory(&p),
    };
    let approved_scripts = match opt_path(&opts.approved_script_registry) {
        None => ApprovedScriptsInput::None,
        Some(p) => match Registry::load(&p) {
            Ok(registry) => ApprovedScriptsInput::Loaded {
                registry,
                key: script_key,
            },
            Err(e) => ApprovedScriptsInput::Failed(e),
        },
    };
    let state_path = match opts.rate_limit_state.trim() {
        "" => crate::ratelimit::DEFAULT_STATE_PATH,
        s => s,
    };
    let counters = FileCounterStore::new(state_path);
    let evaluation_time = evaluation_time.unwrap_or_else(|| clock.now().utc());
    pipeline::run(GateRequest {
        policy: &loaded,
        intent: &raw,
        profile,
        evaluation_time,
        clock,
        simulate: opts.simulate,
        envelope: envelope.as_ref(),
        wrkr,
        kill_switch,
        counters: &counters,
        broker: broker.as_deref(),
        broker_caps: BrokerCapabilities {
            env: &opts.broker_env,
            spawner,
            cwd: Path::new("."),
        },
        approval_tokens,
        approval_key: Some(approval_key),
        delegation_tokens,
        delegation_key: Some(delegation_key),
        approved_scripts,
        credential_scopes: opts.credential_scopes.clone(),
        credential_ref: opts.credential_ref.clone(),
        approval_token_ref: opts.approval_token_ref.trim().to_string(),
        signing_key: &signing.key,
        correlation_id: opts.correlation_id.clone(),
        outputs,
        warnings,
    })
}

fn load_inventory(path: &Path) -> WrkrInput {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return WrkrInput::Failed {
                error: format!("stat wrkr inventory: stat {shown}: {}", fsx::io_reason(&e)),
            };
        }
    };
    if meta.is_dir() {
        return WrkrInput::Failed {
            error: format!("read wrkr inventory: {shown} is a directory"),
        };
    }
    match fsx::read_bounded(path, wrkr::MAX_INVENTORY_BYTES) {
        Err(e) => WrkrInput::Failed {
            error: format!("read wrkr inventory: {e}"),
        },
        Ok(bytes) => match Inventory::parse(&bytes) {
            Ok(inventory) => WrkrInput::Loaded {
                inventory,
                label: shown,
            },
            Err(error) => WrkrInput::Failed { error },
        },
    }
}
