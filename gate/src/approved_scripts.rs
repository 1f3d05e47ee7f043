//! The approved-script registry (CONTRACTS §2.6, FIELDS §2.8): signed
//! `gait.gate.approved_script_entry` records that pre-approve one script (by policy digest, script
//! hash and tool sequence) within a scope until they expire. `gait approve-script` adds entries,
//! `gait list-scripts` shows them, and `gate eval --approved-script-registry` lets a matching script
//! intent through without per-call approval (the fast path).
//!
//! Entries are stored normalized; verification re-normalizes, requires a signature, refuses expired
//! entries and checks the ed25519 signature over the JCS digest of the entry without it. Scope
//! entries are allowlists by kind: `risk:X` (the intent's risk class), `tool:X` (every step's tool),
//! `workspace_prefix:X` (the workspace), `endpoint:X` (every target's endpoint class); an entry
//! with a scope kind it does not know matches nothing.

use crate::intent::Intent;
use crate::trace::{string_or_null, time_or_null, vec_or_null};
use gait_engine::canon::{self, Node};
use gait_engine::crypto::{PrivateKey, PublicKey, Signature};
use gait_engine::{GaitError, GoTime, fsx};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const ENTRY_SCHEMA_ID: &str = "gait.gate.approved_script_entry";
pub const ENTRY_SCHEMA_VERSION: &str = "1.0.0";
/// Registry files larger than this are refused.
pub const MAX_REGISTRY_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApprovedScriptEntry {
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "string_or_null")]
    pub producer_version: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub pattern_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub policy_digest: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub script_hash: String,
    #[serde(default, deserialize_with = "vec_or_null")]
    pub tool_sequence: Vec<String>,
    #[serde(
        default,
        deserialize_with = "vec_or_null",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scope: Vec<String>,
    #[serde(default, deserialize_with = "string_or_null")]
    pub approver_identity: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub expires_at: GoTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// The registry file: `{"entries": [...]}` (`[]` when empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Registry {
    pub entries: Vec<ApprovedScriptEntry>,
}

impl ApprovedScriptEntry {
    /// The stored form: trimmed ids, lowercased digests, sorted lowercased sequences and scopes,
    /// UTC times (a zero `created_at` becomes 1980-01-01).
    pub fn normalized(&self) -> Result<ApprovedScriptEntry, String> {
        let mut e = self.clone();
        e.schema_id = match e.schema_id.trim() {
            "" => ENTRY_SCHEMA_ID.into(),
            s => s.into(),
        };
        if e.schema_id != ENTRY_SCHEMA_ID {
            return Err(format!("unsupported schema_id {}", e.schema_id));
        }
        e.schema_version = match e.schema_version.trim() {
            "" => ENTRY_SCHEMA_VERSION.into(),
            s => s.into(),
        };
        e.pattern_id = e.pattern_id.trim().into();
        e.approver_identity = e.approver_identity.trim().into();
        if e.pattern_id.is_empty() {
            return Err("pattern_id is required".into());
        }
        if e.approver_identity.is_empty() {
            return Err("approver_identity is required".into());
        }
        e.policy_digest = crate::tokens::normalize_digest(&e.policy_digest)
            .ok_or("policy_digest must be sha256 hex")?;
        e.script_hash = crate::tokens::normalize_digest(&e.script_hash)
            .ok_or("script_hash must be sha256 hex")?;
        e.tool_sequence = crate::text::norm_lower_list(&e.tool_sequence);
        if e.tool_sequence.is_empty() {
            return Err("tool_sequence is required".into());
        }
        e.scope = crate::text::norm_lower_list(&e.scope);
        e.created_at = if e.created_at.is_zero() {
            GoTime::epoch_1980()
        } else {
            e.created_at.utc()
        };
        if e.expires_at.is_zero() {
            return Err("expires_at is required".into());
        }
        e.expires_at = e.expires_at.utc();
        Ok(e)
    }

    pub fn signable_digest(&self) -> Result<String, GaitError> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        canon::digest_of(&unsigned)
            .map_err(|e| GaitError::internal(format!("digest approved script entry: {e}")))
    }

    /// Verifies a stored entry at `now` (FIELDS §1: normalize → signature present → unexpired →
    /// signature). Returns the normalized entry.
    pub fn verify(&self, key: &PublicKey, now: GoTime) -> Result<ApprovedScriptEntry, String> {
        let e = self.normalized()?;
        let Some(sig) = &e.signature else {
            return Err("signature missing".into());
        };
        if now >= e.expires_at {
            return Err(format!("entry {} expired", e.pattern_id));
        }
        let digest = e.signable_digest().map_err(|err| err.message)?;
        key.verify(sig, &digest)
            .map_err(|err| format!("signature invalid: {err}"))?;
        Ok(e)
    }

    /// Whether this (verified) entry pre-approves `intent` under `policy_digest` at `now`.
    pub fn matches(&self, intent: &Intent, policy_digest: &str, now: GoTime) -> bool {
        let Some(steps) = &intent.script else {
            return false;
        };
        if self.policy_digest != policy_digest
            || self.script_hash != intent.script_hash
            || now >= self.expires_at
        {
            return false;
        }
        let sequence: Vec<String> = crate::text::norm_lower_list(
            &steps
                .iter()
                .map(|s| s.tool_name.clone())
                .collect::<Vec<_>>(),
        );
        sequence == self.tool_sequence && scope_holds(&self.scope, intent, steps)
    }
}

fn scope_holds(scope: &[String], intent: &Intent, steps: &[crate::intent::Step]) -> bool {
    let mut kinds: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for entry in scope {
        let Some((kind, value)) = entry.split_once(':') else {
            return false;
        };
        kinds.entry(kind).or_default().push(value);
    }
    kinds.iter().all(|(kind, allowed)| match *kind {
        "risk" => allowed.contains(&intent.context.risk_class.as_str()),
        "tool" => steps
            .iter()
            .all(|s| allowed.contains(&s.tool_name.as_str())),
        "workspace_prefix" => allowed
            .iter()
            .any(|p| intent.context.workspace.starts_with(p)),
        "endpoint" => intent
            .targets
            .iter()
            .all(|t| allowed.contains(&t.endpoint_class.as_str())),
        _ => false,
    })
}

impl Registry {
    /// Parses `{"entries":[…]}` or a bare array (strict JSON).
    pub fn parse(bytes: &[u8]) -> Result<Registry, String> {
        let parsed = canon::parse(bytes, canon::ParseOptions::recorded_payload())
            .map_err(|e| format!("parse approved script registry: {e}"))?;
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("parse approved script registry: {e}"))?;
        let list = match (&parsed.node, value) {
            (Node::Arr(_), v) => v,
            (Node::Obj(_), serde_json::Value::Object(mut m)) => {
                m.remove("entries").unwrap_or(serde_json::Value::Null)
            }
            _ => {
                return Err(
                    "parse approved script registry: expected an object or an array".into(),
                );
            }
        };
        let entries: Option<Vec<ApprovedScriptEntry>> = serde_json::from_value(list)
            .map_err(|e| format!("parse approved script registry: {e}"))?;
        Ok(Registry {
            entries: entries.unwrap_or_default(),
        })
    }

    /// Loads a registry file; a missing file is an empty registry.
    pub fn load(path: &Path) -> Result<Registry, String> {
        if !path.exists() {
            return Ok(Registry::default());
        }
        let bytes = fsx::read_bounded(path, MAX_REGISTRY_BYTES)
            .map_err(|e| format!("read approved script registry: {e}"))?;
        Registry::parse(&bytes)
    }

    /// Verifies every entry; the first failure names its (0-based) index.
    pub fn verify(&self, key: &PublicKey, now: GoTime) -> Result<Vec<ApprovedScriptEntry>, String> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.verify(key, now)
                    .map_err(|err| format!("at entry {i}: {err}"))
            })
            .collect()
    }

    pub fn to_file_bytes(&self) -> Result<Vec<u8>, GaitError> {
        gait_engine::gojson::to_indented(self)
            .map_err(|e| GaitError::internal(format!("encode approved script registry: {e}")))
    }
}

/// What `gait approve-script` adds.
#[derive(Clone, Debug, Default)]
pub struct NewEntry<'a> {
    pub pattern_id: &'a str,
    pub policy_digest: &'a str,
    pub intent: Option<&'a Intent>,
    pub approver: &'a str,
    pub scope: &'a [String],
    pub ttl_nanos: i128,
    pub now: GoTime,
    pub producer_version: &'a str,
}

/// Builds and signs an entry for a script intent.
pub fn new_entry(n: &NewEntry<'_>, key: &PrivateKey) -> Result<ApprovedScriptEntry, GaitError> {
    let Some(intent) = n.intent.filter(|i| i.script.is_some()) else {
        return Err(GaitError::invalid(
            "approve-script requires a script intent (an intent with script.steps)",
        ));
    };
    if n.approver.trim().is_empty() {
        return Err(GaitError::invalid("approver identity is required"));
    }
    if n.ttl_nanos <= 0 {
        return Err(GaitError::invalid(
            "invalid --ttl, expected positive duration",
        ));
    }
    let steps = intent.script.as_deref().unwrap_or_default();
    let pattern_id = match n.pattern_id.trim() {
        "" => format!(
            "pattern_{}",
            &intent.script_hash[..intent.script_hash.len().min(12)]
        ),
        p => p.to_string(),
    };
    let created_at = n.now.utc();
    let entry = ApprovedScriptEntry {
        schema_id: ENTRY_SCHEMA_ID.into(),
        schema_version: ENTRY_SCHEMA_VERSION.into(),
        created_at,
        producer_version: n.producer_version.into(),
        pattern_id,
        policy_digest: n.policy_digest.into(),
        script_hash: intent.script_hash.clone(),
        tool_sequence: steps.iter().map(|s| s.tool_name.clone()).collect(),
        scope: n.scope.to_vec(),
        approver_identity: n.approver.into(),
        expires_at: created_at.add_nanos(n.ttl_nanos),
        signature: None,
    };
    let mut entry = entry.normalized().map_err(GaitError::invalid)?;
    let digest = entry.signable_digest()?;
    entry.signature = Some(
        key.sign_digest(&digest)
            .map_err(|e| GaitError::internal(format!("sign approved script entry: {e}")))?,
    );
    Ok(entry)
}

/// Appends an entry to the registry file under the state lock (CONTRACTS §1.2: "appended to
/// registry"); entries stay sorted by pattern id, then creation time (FIELDS §2.8), so an entry
/// whose pattern id is already in use goes after the older ones (the sort is stable).
///
/// Duplicate pattern ids are kept: the fast path takes the first entry in file order that matches,
/// and every entry of one pattern id reports the same `pattern_id`, so which of them matched does
/// not change the decision. As every entry must verify (an expired one included), an approval that
/// is renewed under the same pattern id leaves the older entry to expire in the registry.
pub fn add(path: &Path, entry: ApprovedScriptEntry) -> Result<Registry, GaitError> {
    let _lock = fsx::acquire_lock(path, fsx::LockSettings::default())
        .map_err(|e| GaitError::io(format!("lock approved script registry: {e}")))?;
    let mut registry = Registry::load(path).map_err(GaitError::invalid)?;
    registry.entries.push(entry);
    registry
        .entries
        .sort_by(|a, b| (&a.pattern_id, a.created_at).cmp(&(&b.pattern_id, b.created_at)));
    fsx::write_atomic(path, &registry.to_file_bytes()?, 0o600)
        .map_err(|e| GaitError::io(format!("write approved script registry: {e}")))?;
    Ok(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &[u8] = br#"{"tool_name":"script","args":{},
      "script":{"steps":[
        {"tool_name":"tool.read","args":{"path":"/w/a"},"targets":[{"kind":"path","value":"/w/a","operation":"read"}]},
        {"tool_name":"tool.write","args":{"path":"/w/b"},"targets":[{"kind":"path","value":"/w/b","operation":"write"}]}]},
      "context":{"identity":"agent","workspace":"/w/repo","risk_class":"high"}}"#;

    fn intent() -> Intent {
        crate::intent::load(SCRIPT).unwrap()
    }

    fn now() -> GoTime {
        GoTime::parse("2030-01-01T00:00:00Z").unwrap()
    }

    fn entry(scope: &[&str], key: &PrivateKey) -> ApprovedScriptEntry {
        let i = intent();
        let scope: Vec<String> = scope.iter().map(|s| s.to_string()).collect();
        new_entry(
            &NewEntry {
                pattern_id: "p1",
                policy_digest: &"b".repeat(64),
                intent: Some(&i),
                approver: "alice",
                scope: &scope,
                ttl_nanos: 3_600_000_000_000,
                now: now(),
                producer_version: "0.0.0-dev",
            },
            key,
        )
        .unwrap()
    }

    #[test]
    fn a_signed_entry_verifies_and_matches_its_script() {
        let key = PrivateKey::from_seed(&[9; 32]);
        let e = entry(&["risk:high", "workspace_prefix:/w"], &key);
        assert_eq!(e.tool_sequence, ["tool.read", "tool.write"]);
        let v = e.verify(&key.public(), now()).unwrap();
        let b = "b".repeat(64);
        assert!(v.matches(&intent(), &b, now()));
        assert!(!v.matches(&intent(), &"c".repeat(64), now()));
        // Expired, unsigned, tampered, foreign key: all refused.
        let later = now().add_nanos(3_600_000_000_000);
        assert!(
            e.verify(&key.public(), later)
                .unwrap_err()
                .contains("expired")
        );
        let mut unsigned = e.clone();
        unsigned.signature = None;
        assert_eq!(
            unsigned.verify(&key.public(), now()).unwrap_err(),
            "signature missing"
        );
        let mut tampered = e.clone();
        tampered.scope.push("risk:low".into());
        assert!(tampered.verify(&key.public(), now()).is_err());
        let other = PrivateKey::from_seed(&[1; 32]).public();
        assert!(e.verify(&other, now()).is_err());
    }

    #[test]
    fn scopes_are_allowlists_by_kind() {
        let key = PrivateKey::from_seed(&[9; 32]);
        let b = "b".repeat(64);
        for (scope, expect) in [
            (&["risk:low"][..], false),
            (&["risk:high", "risk:low"][..], true),
            (&["tool:tool.read"][..], false),
            (&["tool:tool.read", "tool:tool.write"][..], true),
            (&["workspace_prefix:/other"][..], false),
            (&["endpoint:fs.read", "endpoint:fs.write"][..], true),
            (&["endpoint:fs.read"][..], false),
            (&["mystery:x"][..], false),
        ] {
            let e = entry(scope, &key);
            assert_eq!(e.matches(&intent(), &b, now()), expect, "{scope:?}");
        }
    }

    #[test]
    fn registry_files_round_trip_and_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reg.json");
        assert!(Registry::load(&path).unwrap().entries.is_empty());
        let key = PrivateKey::from_seed(&[9; 32]);
        add(&path, entry(&[], &key)).unwrap();
        let reg = add(&path, entry(&["risk:high"], &key)).unwrap();
        assert_eq!(
            reg.entries.len(),
            2,
            "an entry is appended, even for a pattern id in use"
        );
        // Same pattern id and creation time: the stable sort keeps the order they were added in.
        assert_eq!(
            reg.entries
                .iter()
                .map(|e| e.scope.clone())
                .collect::<Vec<_>>(),
            [vec![], vec!["risk:high".to_string()]]
        );
        // Sorted by pattern id, then creation time, whatever the order of addition.
        let at = |pattern_id: &str, hours_before: i128| {
            let i = intent();
            new_entry(
                &NewEntry {
                    pattern_id,
                    policy_digest: &"b".repeat(64),
                    intent: Some(&i),
                    approver: "alice",
                    scope: &[],
                    ttl_nanos: 7_200_000_000_000,
                    now: now().add_nanos(-hours_before * 3_600_000_000_000),
                    producer_version: "0.0.0-dev",
                },
                &key,
            )
            .unwrap()
        };
        add(&path, at("p1", 1)).unwrap();
        let reg = add(&path, at("p0", 0)).unwrap();
        let order: Vec<(String, String)> = reg
            .entries
            .iter()
            .map(|e| (e.pattern_id.clone(), e.created_at.rfc3339_nano()))
            .collect();
        assert_eq!(
            order,
            [
                ("p0".to_string(), "2030-01-01T00:00:00Z".to_string()),
                ("p1".to_string(), "2029-12-31T23:00:00Z".to_string()),
                ("p1".to_string(), "2030-01-01T00:00:00Z".to_string()),
                ("p1".to_string(), "2030-01-01T00:00:00Z".to_string()),
            ]
        );
        let loaded = Registry::load(&path).unwrap();
        assert_eq!(loaded, reg);
        assert!(loaded.verify(&key.public(), now()).is_ok());
        let bare = Registry::parse(b"[]").unwrap();
        assert!(bare.entries.is_empty());
        assert!(Registry::parse(br#"{"entries":[],"entries":[]}"#).is_err());
        assert_eq!(
            String::from_utf8(Registry::default().to_file_bytes().unwrap()).unwrap(),
            "{\n  \"entries\": []\n}\n"
        );
    }
}
