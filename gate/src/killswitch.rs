//! Kill-switch state (`gait.gate.kill_switch_state`) and its evaluation (CONTRACTS §2.4 step 8).
//!
//! An enabled, unexpired entry whose set selectors all match the intent blocks it. An entry without
//! any selector matches everything (the reference's behaviour, kept: a blanket emergency stop).
//! Entries are managed by `gait kill-switch add|list|disable|expire` ([`add`], [`list`],
//! [`disable`], [`expire`]): each change happens under the state file's lock (the reference's
//! protocol) and is written atomically, so concurrent operators never lose an entry.

use crate::eval::KillSwitchDecision;
use crate::intent::Intent;
use crate::trace::{string_or_null, time_or_null, vec_or_null};
use gait_engine::{GaitError, GoTime, fsx};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const KILL_SWITCH_SCHEMA_ID: &str = "gait.gate.kill_switch_state";
pub const KILL_SWITCH_SCHEMA_VERSION: &str = "1.0.0";
/// The state file `gait kill-switch` manages unless told otherwise.
pub const DEFAULT_STATE_PATH: &str = "./.gait-out/kill_switch_state.json";
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

/// The selectors and notes of a new entry (`gait kill-switch add`).
#[derive(Clone, Debug, Default)]
pub struct NewEntry {
    pub entry_id: String,
    pub agent_id: String,
    pub identity: String,
    pub tool_name: String,
    pub target_kind: String,
    pub target_value: String,
    pub environment: String,
    pub path_prefixes: Vec<String>,
    pub workspace_prefixes: Vec<String>,
    pub reason: String,
    pub actor: String,
    pub expires_at: Option<GoTime>,
}

/// An entry as `gait kill-switch list` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListedEntry {
    #[serde(flatten)]
    pub entry: KillSwitchEntry,
    /// `active`, `disabled` or `expired`.
    pub status: &'static str,
}

/// An entry's status at `now`.
pub fn status(entry: &KillSwitchEntry, now: GoTime) -> &'static str {
    if !entry.enabled {
        "disabled"
    } else if !entry.expires_at.is_zero() && entry.expires_at <= now {
        "expired"
    } else {
        "active"
    }
}

fn read_state(path: &Path, now: GoTime) -> Result<KillSwitchState, GaitError> {
    if !path.exists() {
        return Ok(KillSwitchState {
            schema_id: KILL_SWITCH_SCHEMA_ID.into(),
            schema_version: KILL_SWITCH_SCHEMA_VERSION.into(),
            created_at: now,
            updated_at: now,
            ..KillSwitchState::default()
        });
    }
    let bytes = fsx::read_bounded(path, MAX_STATE_BYTES)
        .map_err(|e| GaitError::invalid(format!("read kill switch state: {e}")))?;
    let mut state = KillSwitchState::parse(&bytes).map_err(GaitError::invalid)?;
    if state.schema_id.is_empty() {
        state.schema_id = KILL_SWITCH_SCHEMA_ID.into();
    }
    if state.schema_version.is_empty() {
        state.schema_version = KILL_SWITCH_SCHEMA_VERSION.into();
    }
    Ok(state)
}

/// Reads, changes and writes the state under its lock.
fn update<T>(
    path: &Path,
    now: GoTime,
    change: impl FnOnce(&mut KillSwitchState) -> Result<T, GaitError>,
) -> Result<T, GaitError> {
    let _lock = fsx::acquire_lock(path, fsx::LockSettings::default())
        .map_err(|e| GaitError::io(format!("lock kill switch state: {e}")))?;
    let mut state = read_state(path, now)?;
    let out = change(&mut state)?;
    state.updated_at = now;
    // Stamped by whoever writes the state last, as the gate.jsonl state files carry it.
    state.producer_version = gait_engine::PRODUCER_VERSION.into();
    let bytes = gait_engine::gojson::to_indented(&state)
        .map_err(|e| GaitError::internal(format!("encode kill switch state: {e}")))?;
    fsx::write_atomic(path, &bytes, 0o600)
        .map_err(|e| GaitError::io(format!("write kill switch state: {e}")))?;
    Ok(out)
}

fn clean_list(items: &[String]) -> Vec<String> {
    crate::text::norm_list(items)
}

/// The id of an entry that was not given one: hex(sha256 of its selectors, notes and creation
/// time))[:24], like the reference's other ids.
fn entry_id(e: &KillSwitchEntry) -> String {
    let preimage = [
        e.agent_id.as_str(),
        &e.identity,
        &e.tool_name,
        &e.target_kind,
        &e.target_value,
        &e.environment,
        &e.path_prefixes.join(","),
        &e.workspace_prefixes.join(","),
        &e.reason,
        &e.actor,
        &e.created_at.utc().rfc3339_nano(),
    ]
    .join(":");
    gait_engine::canon::sha256_hex(preimage.as_bytes())[..24].to_string()
}

/// Adds an enabled entry; an entry id already in use is refused.
pub fn add(path: &Path, new: NewEntry, now: GoTime) -> Result<KillSwitchEntry, GaitError> {
    let now = now.utc();
    let mut entry = KillSwitchEntry {
        entry_id: new.entry_id.trim().into(),
        enabled: true,
        agent_id: new.agent_id.trim().into(),
        identity: new.identity.trim().into(),
        tool_name: crate::text::lower_trim(&new.tool_name),
        target_kind: crate::text::lower_trim(&new.target_kind),
        target_value: new.target_value.trim().into(),
        environment: new.environment.trim().into(),
        path_prefixes: clean_list(&new.path_prefixes),
        workspace_prefixes: clean_list(&new.workspace_prefixes),
        reason: new.reason.trim().into(),
        actor: new.actor.trim().into(),
        created_at: now,
        expires_at: new.expires_at.map(|t| t.utc()).unwrap_or_default(),
    };
    if let Some(exp) = new.expires_at
        && exp <= now
    {
        return Err(GaitError::invalid(format!(
            "--expires-at {} is not in the future",
            exp.utc().rfc3339_nano()
        )));
    }
    if entry.entry_id.is_empty() {
        entry.entry_id = entry_id(&entry);
    }
    update(path, now, |state| {
        if state
            .entries
            .iter()
            .any(|e| e.entry_id.trim() == entry.entry_id)
        {
            return Err(GaitError::invalid(format!(
                "kill switch entry already exists: {}",
                entry.entry_id
            ))
            .with_hint("choose another --entry-id, or disable the existing entry first"));
        }
        state.entries.push(entry.clone());
        state.entries.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
        Ok(entry)
    })
}

fn change_entry(
    path: &Path,
    id: &str,
    now: GoTime,
    apply: impl FnOnce(&mut KillSwitchEntry),
) -> Result<KillSwitchEntry, GaitError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(GaitError::invalid("--entry-id is required"));
    }
    if !path.exists() {
        return Err(GaitError::invalid(format!(
            "kill switch state not found: {}",
            path.display()
        )));
    }
    update(path, now.utc(), |state| {
        let Some(entry) = state.entries.iter_mut().find(|e| e.entry_id.trim() == id) else {
            return Err(
                GaitError::invalid(format!("kill switch entry not found: {id}"))
                    .with_hint("`gait kill-switch list` shows the entry ids"),
            );
        };
        apply(entry);
        Ok(entry.clone())
    })
}

/// Disables an entry (it stays in the file for the record).
pub fn disable(path: &Path, id: &str, now: GoTime) -> Result<KillSwitchEntry, GaitError> {
    change_entry(path, id, now, |e| e.enabled = false)
}

/// Expires an entry (it stays enabled, for the record): at `at` when given — which sets its
/// expiry to that time, earlier or later than before — else now, unless it has already expired.
pub fn expire(
    path: &Path,
    id: &str,
    at: Option<GoTime>,
    now: GoTime,
) -> Result<KillSwitchEntry, GaitError> {
    let now = now.utc();
    change_entry(path, id, now, |e| match at {
        Some(t) => e.expires_at = t.utc(),
        None => {
            if e.expires_at.is_zero() || e.expires_at > now {
                e.expires_at = now;
            }
        }
    })
}

/// Every entry with its status at `now`; a missing state file has none.
pub fn list(path: &Path, now: GoTime) -> Result<Vec<ListedEntry>, GaitError> {
    let state = read_state(path, now)?;
    Ok(state
        .entries
        .into_iter()
        .map(|entry| ListedEntry {
            status: status(&entry, now),
            entry,
        })
        .collect())
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

    #[test]
    fn writes_stamp_the_producer_version_after_updated_at() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ks.json");
        let t0 = at("2031-01-01T00:00:00Z");
        add(&path, NewEntry::default(), t0).unwrap();
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        // The top-level order of the gate.jsonl `ks.json` files.
        assert!(
            text.starts_with(
                "{\n  \"schema_id\": \"gait.gate.kill_switch_state\",\n  \"schema_version\": \"1.0.0\",\n  \"created_at\": \"2031-01-01T00:00:00Z\",\n  \"updated_at\": \"2031-01-01T00:00:00Z\",\n  \"producer_version\": \"0.0.0-dev\",\n  \"entries\": ["
            ),
            "{text}"
        );
        // A state written by another producer is re-stamped by the next change.
        let other = text.replace("0.0.0-dev", "9.9.9");
        std::fs::write(&path, other).unwrap();
        add(&path, NewEntry::default(), at("2031-01-02T00:00:00Z")).unwrap();
        let state = KillSwitchState::parse(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(state.producer_version, gait_engine::PRODUCER_VERSION);
    }

    #[test]
    fn expire_at_a_time_sets_the_expiry_either_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ks.json");
        let t0 = at("2031-01-01T00:00:00Z");
        add(
            &path,
            NewEntry {
                entry_id: "e".into(),
                ..NewEntry::default()
            },
            t0,
        )
        .unwrap();
        let later = expire(&path, "e", Some(at("2031-03-01T01:00:00+01:00")), t0).unwrap();
        assert_eq!(later.expires_at, at("2031-03-01T00:00:00Z"));
        assert_eq!(later.expires_at.rfc3339_nano(), "2031-03-01T00:00:00Z");
        assert_eq!(status(&later, t0), "active");
        // Without a time it ends now; an entry already expired keeps its expiry.
        let now = expire(&path, "e", None, at("2031-02-01T00:00:00Z")).unwrap();
        assert_eq!(now.expires_at, at("2031-02-01T00:00:00Z"));
        let kept = expire(&path, "e", None, at("2031-02-05T00:00:00Z")).unwrap();
        assert_eq!(kept.expires_at, at("2031-02-01T00:00:00Z"));
        // With a time it is set as given, later included.
        let moved = expire(&path, "e", Some(at("2031-04-01T00:00:00Z")), t0).unwrap();
        assert_eq!(moved.expires_at, at("2031-04-01T00:00:00Z"));
    }

    #[test]
    fn add_disable_expire_and_list_manage_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/kill_switch_state.json");
        let t0 = at("2031-01-01T00:00:00Z");
        assert!(list(&path, t0).unwrap().is_empty());
        let e = add(
            &path,
            NewEntry {
                tool_name: " Tool.Write ".into(),
                reason: "incident 42".into(),
                ..NewEntry::default()
            },
            t0,
        )
        .unwrap();
        assert_eq!(e.tool_name, "tool.write");
        assert_eq!(e.entry_id.len(), 24);
        assert!(e.enabled);
        // The file is what gate eval reads, and it blocks the matching intent.
        let state = KillSwitchState::parse(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(state.schema_id, KILL_SWITCH_SCHEMA_ID);
        assert_eq!(evaluate(&state, &intent(), t0).status, "active");
        assert!(
            add(
                &path,
                NewEntry {
                    entry_id: e.entry_id.clone(),
                    ..NewEntry::default()
                },
                t0
            )
            .is_err(),
            "ids are unique"
        );
        let second = add(
            &path,
            NewEntry {
                entry_id: "manual".into(),
                agent_id: "a-9".into(),
                expires_at: Some(at("2031-06-01T00:00:00Z")),
                ..NewEntry::default()
            },
            t0,
        )
        .unwrap();
        assert_eq!(second.entry_id, "manual");
        disable(&path, &e.entry_id, t0).unwrap();
        let t1 = at("2031-02-01T00:00:00Z");
        expire(&path, "manual", None, t1).unwrap();
        let listed = list(&path, t1).unwrap();
        let statuses: Vec<(&str, &str)> = listed
            .iter()
            .map(|l| (l.entry.entry_id.as_str(), l.status))
            .collect();
        assert!(statuses.contains(&("manual", "expired")));
        assert!(statuses.contains(&(e.entry_id.as_str(), "disabled")));
        let state = KillSwitchState::parse(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(evaluate(&state, &intent(), t1).status, "inactive");
        assert!(disable(&path, "nope", t1).is_err());
        assert!(
            add(
                &path,
                NewEntry {
                    expires_at: Some(at("2030-01-01T00:00:00Z")),
                    ..NewEntry::default()
                },
                t1
            )
            .is_err(),
            "an entry that is already expired is refused"
        );
    }
}
