//! `gait gate eval` as an engine call: plain options in, a [`GateResult`] out.
//!
//! The CLI turns flags (and `.gait/config.yaml` defaults) into [`GateEvalOptions`]; this module
//! validates them in the reference's order, loads the inputs (policy through the cache, intent,
//! envelope, kill-switch state, Wrkr inventory, keys) and runs the [`pipeline`](crate::pipeline).
//! Key sources arrive resolved to text or paths; the engine reads no environment variable.

use crate::broker::{CredentialBroker, StubBroker};
use crate::cache::PolicyCache;
use crate::envelope::{self, ContextEnvelope};
use crate::killswitch::{self, KillSwitchState};
use crate::pipeline::{self, Clock, GateRequest, GateResult, KillSwitchInput, Outputs, WrkrInput};
use crate::profile::{self, Profile, RequestFacts};
use crate::ratelimit::FileCounterStore;
use crate::wrkr::{self, Inventory};
use gait_engine::crypto::{KeyMode, KeySource, resolve_signing_key};
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
    pub evaluation_time: String,
    pub simulate: bool,
    pub context_envelope: String,
    pub kill_switch_state: String,
    pub wrkr_inventory: String,
    pub rate_limit_state: String,
    pub credential_broker: String,
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

/// Validates, loads and evaluates. `cache` serves the policy; `clock` gives now and latency.
pub fn gate_eval(
    opts: &GateEvalOptions,
    cache: &PolicyCache,
    clock: &dyn Clock,
) -> Result<GateResult, GaitError> {
    if opts.policy.trim().is_empty() || opts.intent.trim().is_empty() {
        return Err(GaitError::invalid(
            "both --policy and --intent are required",
        ));
    }
    let profile = Profile::parse(&opts.profile)?;
    let key_mode = match opts.key_mode.trim() {
        "" => KeyMode::Dev,
        m => KeyMode::parse(m).map_err(|_| {
            GaitError::invalid(format!(
                "unsupported key mode: {}",
                gait_engine::canon::go_quote(m)
            ))
        })?,
    };
    let stub = StubBroker;
    let broker: Option<&dyn CredentialBroker> = match opts.credential_broker.trim() {
        "" | "off" => None,
        "stub" => Some(&stub),
        other => {
            return Err(GaitError::invalid(format!(
                "unsupported credential broker: {other}"
            )));
        }
    };
    let outputs = Outputs {
        dir: PathBuf::new(),
        trace: opt_path(&opts.trace_out),
        approval_audit: opt_path(&opts.approval_audit_out),
        delegation_audit: opt_path(&opts.delegation_audit_out),
        credential_evidence: opt_path(&opts.credential_evidence_out),
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

    let signing = resolve_signing_key(key_mode, &opts.private_key, opts.dev_seed)?;
    let mut warnings = Vec::new();
    if let Some(w) = signing.warning {
        warnings.push(w.to_string());
    }

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
        broker,
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
