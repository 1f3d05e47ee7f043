//! Kill-switch state (`gait.gate.kill_switch_state`) and its evaluation (CONTRACTS §2.4 step 8).
//!
//! An enabled, unexpired entry whose set selectors all match the intent blocks it. An entry without
//! any selector matches everything (the reference's behaviour, kept: a blanket emergency stop).
//! Managing entries (`gait kill-switch add|list|disable|expire`) is the gate-depth issue; this module
//! already owns the file format so both share it.

use crate::eval::KillSwitchDecision;
use crate::intent::Intent;
use crate::trace::{string_or_null, time_or_null, vec_or_null};
use gait_engine::GoTime;
use serde::{Deserialize, Serialize};

pub const KILL_SWITCH_SCHEMA_ID: &str = "gait.gate.kill_switch_state";
/// State files larger than this are refused.
pub const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KillSwitchEntry {
    #[serde(default, deserialize_with = "string_or_null")]
    pub entry_id: String,
    #[serde(default)]
    pub enabled: bool,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub agent_id: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub identity: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub tool_name: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub target_kind: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub target_value: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub environment: String,
    #[serde(
        default,
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub path_prefixes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub workspace_prefixes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub reason: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub actor: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "time_or_null")]
    pub expires_at: GoTime,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KillSwitchState {
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "time_or_null")]
    pub updated_at: GoTime,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub producer_version: String,
    #[serde(default, deserialize_with = "vec_or_null")]
    pub entries: Vec<KillSwitchEntry>,
}

impl KillSwitchState {
    /// Parses a state file (strict JSON: duplicate keys are tampering).
    pub fn parse(bytes: &[u8]) -> Result<KillSwitchState, String> {
        gait_engine::canon::parse(bytes, gait_engine::canon::ParseOptions::recorded_payload())
            .map_err(|e| format!("parse kill switch state: {e}"))?;
        let state: KillSwitchState =
            serde_json::from_slice(bytes).map_err(|e| format!("parse kill switch state: {e}"))?;
        if !state.schema_id.is_empty() && state.schema_id != KILL_SWITCH_SCHEMA_ID {
            return Err(format!(
                "parse kill switch state: unsupported schema_id {}",
                state.schema_id
            ));
        }
        Ok(state)
    }
}

/// Which selectors of `entry` match, or `None` when one of them does not.
fn entry_matches(entry: &KillSwitchEntry, intent: &Intent) -> Option<Vec<&'static str>> {
    let ctx = &intent.context;
    let mut codes = Vec::new();
    let lower = crate::text::lower_trim;
    if !entry.agent_id.trim().is_empty() {
        if entry.agent_id.trim() != ctx.agent_id {
            return None;
        }
        codes.push("kill_switch_agent_id_active");
    }
    if !entry.identity.trim().is_empty() {
        if entry.identity.trim() != ctx.identity {
            return None;
        }
        codes.push("kill_switch_identity_active");
    }
    if !entry.tool_name.trim().is_empty() {
        if lower(&entry.tool_name) != intent.tool_name {
            return None;
        }
        codes.push("kill_switch_tool_name_active");
    }
    if !entry.environment.trim().is_empty() {
        if lower(&entry.environment) != lower(&ctx.environment) {
            return None;
        }
        codes.push("kill_switch_environment_active");
    }
    if !entry.target_kind.trim().is_empty() || !entry.target_value.trim().is_empty() {
        let kind = lower(&entry.target_kind);
        let value = entry.target_value.trim();
        let hit = intent
            .targets
            .iter()
            .any(|t| (kind.is_empty() || t.kind == kind) && (value.is_empty() || t.value == value));
        if !hit {
            return None;
        }
        codes.push("kill_switch_target_active");
    }
    let prefixes: Vec<&str> = entry
        .path_prefixes
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if !prefixes.is_empty() {
        let hit = intent
            .targets
            .iter()
            .any(|t| prefixes.iter().any(|p| t.value.starts_with(p)));
        if !hit {
            return None;
        }
        codes.push("kill_switch_path_active");
    }
    let ws: Vec<&str> = entry
        .workspace_prefixes
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if !ws.is_empty() {
        if !ws.iter().any(|p| ctx.workspace.starts_with(p)) {
            return None;
        }
        codes.push("kill_switch_workspace_active");
    }
    Some(codes)
}

/// Evaluates the state for an intent at `now`.
pub fn evaluate(state: &KillSwitchState, intent: &Intent, now: GoTime) -> KillSwitchDecision {
    let mut ids = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    for entry in &state.entries {
        if !entry.enabled || (!entry.expires_at.is_zero() && entry.expires_at <= now) {
            continue;
        }
        if let Some(c) = entry_matches(entry, intent) {
            ids.push(entry.entry_id.trim().to_string());
            codes.extend(c.iter().map(|s| s.to_string()));
        }
    }
    if ids.is_empty() {
        return KillSwitchDecision {
            status: "inactive".into(),
            evaluated_at: now.utc(),
            ..KillSwitchDecision::default()
        };
    }
    codes.sort();
    codes.dedup();
    let reason_code = codes
        .first()
        .cloned()
        .unwrap_or_else(|| "kill_switch_active".into());
    codes.push("kill_switch_active".into());
    codes.sort();
    ids.sort();
    ids.dedup();
    KillSwitchDecision {
        status: "active".into(),
        reason_code,
        reason_codes: codes,
        matched_entry_ids: ids,
        evaluated_at: now.utc(),
    }
}

/// The decision when the state could not be read in a fail-closed situation.
pub fn unavailable(now: GoTime) -> KillSwitchDecision {
    KillSwitchDecision {
        status: "unavailable".into(),
        reason_code: "kill_switch_state_unavailable".into(),
        reason_codes: vec!["kill_switch_state_unavailable".into()],
        matched_entry_ids: Vec::new(),
        evaluated_at: now.utc(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent() -> Intent {
        crate::intent::load(br#"{"tool_name":"Tool.Write","args":{},"targets":[{"kind":"path","value":"/srv/app/a","operation":"write"}],
            "context":{"identity":"agent.k","workspace":"/srv/app","risk_class":"low","environment":"Prod","agent_id":"a-1"}}"#)
        .unwrap()
    }

    fn at(s: &str) -> GoTime {
        GoTime::parse(s).unwrap()
    }

    fn state(entries: &str) -> KillSwitchState {
        KillSwitchState::parse(format!(r#"{{"entries":{entries}}}"#).as_bytes()).unwrap()
    }

    #[test]
    fn every_set_selector_must_match() {
        let now = at("2031-01-01T00:00:00Z");
        let d = evaluate(
            &state(
                r#"[{"entry_id":"e1","enabled":true,"tool_name":"tool.write","environment":"prod","path_prefixes":["/srv"]}]"#,
            ),
            &intent(),
            now,
        );
        assert_eq!(d.status, "active");
        assert_eq!(
            d.reason_codes,
            [
                "kill_switch_active",
                "kill_switch_environment_active",
                "kill_switch_path_active",
                "kill_switch_tool_name_active"
            ]
        );
        assert_eq!(d.reason_code, "kill_switch_environment_active");
        let miss = evaluate(
            &state(
                r#"[{"entry_id":"e1","enabled":true,"tool_name":"tool.write","agent_id":"other"}]"#,
            ),
            &intent(),
            now,
        );
        assert_eq!(miss.status, "inactive");
    }

    #[test]
    fn disabled_and_expired_entries_are_ignored() {
        let s = state(
            r#"[{"entry_id":"off","enabled":false},{"entry_id":"old","enabled":true,"expires_at":"2030-12-31T23:59:59Z"}]"#,
        );
        assert_eq!(
            evaluate(&s, &intent(), at("2031-01-01T00:00:00Z")).status,
            "inactive"
        );
        // Before its expiry the blanket entry (no selector) stops everything.
        let d = evaluate(&s, &intent(), at("2030-06-01T00:00:00Z"));
        assert_eq!(
            (d.status.as_str(), d.matched_entry_ids.as_slice()),
            ("active", &["old".to_string()][..])
        );
    }

    #[test]
    fn foreign_or_broken_state_is_an_error() {
        assert!(KillSwitchState::parse(br#"{"schema_id":"other"}"#).is_err());
        assert!(KillSwitchState::parse(br#"{"entries":[1]}"#).is_err());
        assert!(KillSwitchState::parse(br#"{"entries":[],"entries":[]}"#).is_err());
    }
}
