//! Maps a case's CLI flags onto engine options, as the CLI does from its flag table.

use gait_engine::crypto::KeySource;
use gait_gate::gate_eval::GateEvalOptions;
use std::path::PathBuf;

fn csv(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Maps a vector's CLI flags onto engine options (the CLI does the same from its flag table).
pub fn options(argv: &[String]) -> Result<GateEvalOptions, String> {
    let mut o = GateEvalOptions {
        dev_seed: [7; 32],
        ..GateEvalOptions::default()
    };
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i].trim_start_matches('-');
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.to_string(), None),
        };
        if !argv[i].starts_with('-') {
            return Err("positional".into());
        }
        let bools = ["json", "simulate"];
        let value = if bools.contains(&name.as_str()) {
            inline.unwrap_or_else(|| "true".into())
        } else {
            match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    argv.get(i).cloned().unwrap_or_default()
                }
            }
        };
        let path = |v: &str| KeySource {
            path: Some(PathBuf::from(v)),
            env: None,
        };
        match name.as_str() {
            "json" => {}
            "simulate" => o.simulate = value == "true",
            "policy" => o.policy = value,
            "intent" => o.intent = value,
            "profile" => o.profile = value,
            "key-mode" => o.key_mode = value,
            "private-key" => o.private_key = path(&value),
            "approval-public-key" => o.approval_public_key = path(&value),
            "approval-private-key" => o.approval_private_key = path(&value),
            "delegation-public-key" => o.delegation_public_key = path(&value),
            "delegation-private-key" => o.delegation_private_key = path(&value),
            "approved-script-public-key" => o.approved_script_public_key = path(&value),
            "approval-token" => o.approval_token = value,
            "approval-token-chain" => o.approval_token_chain = csv(&value),
            "delegation-token" => o.delegation_token = value,
            "delegation-token-chain" => o.delegation_token_chain = csv(&value),
            "approved-script-registry" => o.approved_script_registry = value,
            "evaluation-time" => o.evaluation_time = value,
            "context-envelope" => o.context_envelope = value,
            "kill-switch-state" => o.kill_switch_state = value,
            "wrkr-inventory" => o.wrkr_inventory = value,
            "credential-broker" => o.credential_broker = value,
            "approval-token-ref" => o.approval_token_ref = value,
            "trace-out" => o.trace_out = value,
            "rate-limit-state" => o.rate_limit_state = value,
            "credential-ref" => o.credential_ref = value,
            "credential-scopes" => o.credential_scopes = csv(&value),
            other => return Err(format!("flag {other}")),
        }
        i += 1;
    }
    Ok(o)
}
