//! The project lockfile `gait.lock` (`schemas/v1/plugin/lock.schema.json`).
//!
//! One entry per plugin: the registry it comes from, its exact version, the digest of its manifest
//! and the key that signed it. `gait plugin install` writes it; `--locked` installs exactly what it
//! says and refuses anything else, so CI gets the very bytes a developer reviewed.

use crate::codes;
use gait_engine::{GaitError, fsx};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const SCHEMA_ID: &str = "gait.plugin.lock";
pub const SCHEMA_VERSION: &str = "1.0.0";
pub const DEFAULT_PATH: &str = "gait.lock";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub schema_id: String,
    pub schema_version: String,
    pub plugins: Vec<LockEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    pub name: String,
    pub version: String,
    pub registry: String,
    pub manifest_digest: String,
    pub key_id: String,
    /// The requirement the plugin was installed for; `update` keeps resolving it after a
    /// `--locked` install (absent: `^version`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requirement: String,
}

impl Default for Lockfile {
    fn default() -> Self {
        Lockfile {
            schema_id: SCHEMA_ID.into(),
            schema_version: SCHEMA_VERSION.into(),
            plugins: Vec::new(),
        }
    }
}

impl Lockfile {
    /// Reads a lockfile; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Lockfile>, GaitError> {
        if !path.exists() {
            return Ok(None);
        }
        let bytes = fsx::read_bounded(path, 4 * 1024 * 1024)?;
        let lock: Lockfile = crate::json::strict(&bytes, "lockfile", "lockfile_invalid")?;
        if lock.schema_id != SCHEMA_ID || lock.schema_version != SCHEMA_VERSION {
            return Err(GaitError::invalid(format!(
                "{} is not a gait plugin lockfile ({SCHEMA_ID} {SCHEMA_VERSION})",
                path.display()
            )));
        }
        for (i, e) in lock.plugins.iter().enumerate() {
            if crate::manifest::name_problem(&e.name).is_some()
                || semver::Version::parse(&e.version).is_err()
                || !gait_engine::canon::is_sha256_hex(&e.manifest_digest)
                || (!e.requirement.is_empty() && semver::VersionReq::parse(&e.requirement).is_err())
                || lock.plugins[..i].iter().any(|o| o.name == e.name)
            {
                return Err(GaitError::invalid(format!(
                    "{}: entry {:?} is malformed or duplicated",
                    path.display(),
                    e.name
                )));
            }
        }
        Ok(Some(lock))
    }

    /// Reads a lockfile that `--locked` requires.
    pub fn require(path: &Path) -> Result<Lockfile, GaitError> {
        Self::read(path)?.ok_or_else(|| {
            codes::invalid(
                codes::LOCK_MISSING,
                format!("--locked needs {}, which does not exist", path.display()),
            )
            .with_hint("run `gait plugin install NAME` once without --locked to create it")
        })
    }

    pub fn get(&self, name: &str) -> Option<&LockEntry> {
        self.plugins.iter().find(|e| e.name == name)
    }

    /// The entry `--locked` must use for `name`.
    pub fn require_entry(&self, name: &str, path: &Path) -> Result<&LockEntry, GaitError> {
        self.get(name).ok_or_else(|| {
            codes::invalid(
                codes::LOCK_MISSING,
                format!("{} has no entry for plugin {name}", path.display()),
            )
            .with_hint("install it without --locked to add it, and commit the lockfile")
        })
    }

    /// Adds or replaces the entry for its name; entries stay sorted by name.
    pub fn upsert(&mut self, entry: LockEntry) {
        self.plugins.retain(|e| e.name != entry.name);
        self.plugins.push(entry);
        self.plugins.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.plugins.len();
        self.plugins.retain(|e| e.name != name);
        before != self.plugins.len()
    }

    pub fn write(&self, path: &Path) -> Result<(), GaitError> {
        fsx::write_atomic(path, &crate::json::indented(self)?, 0o644)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> LockEntry {
        LockEntry {
            name: name.into(),
            version: "1.0.0".into(),
            registry: "./reg".into(),
            manifest_digest: "a".repeat(64),
            key_id: "b".repeat(64),
            requirement: "^1".into(),
        }
    }

    #[test]
    fn round_trip_sorted_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gait.lock");
        assert!(Lockfile::read(&path).unwrap().is_none());
        assert_eq!(
            Lockfile::require(&path).unwrap_err().error_code(),
            codes::LOCK_MISSING
        );
        let mut lock = Lockfile::default();
        lock.upsert(entry("zeta"));
        lock.upsert(entry("alpha"));
        let mut newer = entry("zeta");
        newer.version = "1.1.0".into();
        lock.upsert(newer);
        lock.write(&path).unwrap();
        let first = std::fs::read(&path).unwrap();
        let back = Lockfile::read(&path).unwrap().unwrap();
        assert_eq!(back.plugins.len(), 2);
        assert_eq!(back.plugins[0].name, "alpha");
        assert_eq!(back.get("zeta").unwrap().version, "1.1.0");
        back.write(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first);
        assert!(String::from_utf8(first).unwrap().ends_with("}\n"));
        let mut lock = back;
        assert!(lock.remove("alpha"));
        assert!(!lock.remove("alpha"));
        assert!(lock.require_entry("alpha", &path).is_err());
    }

    #[test]
    fn malformed_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gait.lock");
        let mut lock = Lockfile {
            plugins: vec![entry("a"), entry("a")],
            ..Lockfile::default()
        };
        std::fs::write(&path, serde_json::to_vec(&lock).unwrap()).unwrap();
        assert!(Lockfile::read(&path).is_err());
        lock.plugins = vec![LockEntry {
            manifest_digest: "xyz".into(),
            ..entry("a")
        }];
        std::fs::write(&path, serde_json::to_vec(&lock).unwrap()).unwrap();
        assert!(Lockfile::read(&path).is_err());
    }
}
