//! The signed registry index (`index.json` at a registry's root; `schemas/v1/plugin/index.schema.json`).
//!
//! The index lists every published plugin version with the digest of its manifest, so one signature
//! check binds the whole registry. Its `version` only grows and it carries `expires_at`: a client
//! remembers the highest version it has seen per registry and refuses an older one (rollback) or a
//! different index under the same version (equivocation), and refuses an expired one (freeze).

use crate::codes::{self, INDEX_INVALID};
use crate::model::{PluginForm, PluginKind};
use crate::{manifest, relpath};
use gait_engine::canon::{self, MAX_SAFE_INTEGER};
use gait_engine::crypto::Signature;
use gait_engine::{GaitError, GoTime};
use serde::{Deserialize, Serialize};

pub const SCHEMA_ID: &str = "gait.plugin.index";
pub const SCHEMA_VERSION: &str = "1.0.0";
pub const FILE_NAME: &str = "index.json";
pub const MAX_INDEX_BYTES: u64 = 8 * 1024 * 1024;
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryIndex {
    pub schema_id: String,
    pub schema_version: String,
    /// An optional human name for the registry.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registry: String,
    /// Grows with every publication; clients refuse to go back.
    pub version: u64,
    pub generated_at: GoTime,
    pub expires_at: GoTime,
    pub entries: Vec<IndexEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub form: PluginForm,
    /// Path of the manifest relative to the registry root; its files sit beside it.
    pub manifest: String,
    pub manifest_digest: String,
}

impl RegistryIndex {
    pub fn digest(&self) -> Result<String, GaitError> {
        let mut body = self.clone();
        body.signatures.clear();
        canon::digest_of(&body).map_err(|e| GaitError::internal(format!("digest index: {e}")))
    }

    /// Entries sorted by name, then semver version — the order `build` writes.
    pub fn sort_entries(&mut self) {
        self.entries.sort_by(|a, b| {
            a.name.cmp(&b.name).then_with(|| {
                match (
                    semver::Version::parse(&a.version),
                    semver::Version::parse(&b.version),
                ) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => a.version.cmp(&b.version),
                }
            })
        });
    }

    pub fn validate(&self) -> Result<(), GaitError> {
        let bad = |m: String| codes::invalid(INDEX_INVALID, m);
        if self.schema_id != SCHEMA_ID || self.schema_version != SCHEMA_VERSION {
            return Err(bad(format!(
                "unsupported index schema {:?} {:?}; expected {SCHEMA_ID} {SCHEMA_VERSION}",
                self.schema_id, self.schema_version
            )));
        }
        if self.version == 0 || self.version as f64 > MAX_SAFE_INTEGER {
            return Err(bad(format!(
                "index version {} must be between 1 and 2^53-1",
                self.version
            )));
        }
        if self.expires_at <= self.generated_at {
            return Err(bad("index expires_at must be after generated_at".into()));
        }
        if self.entries.len() > MAX_ENTRIES {
            return Err(bad(format!("index lists more than {MAX_ENTRIES} entries")));
        }
        let mut seen = std::collections::BTreeSet::new();
        for e in &self.entries {
            if let Some(p) = manifest::name_problem(&e.name) {
                return Err(bad(format!("index entry name {:?} {p}", e.name)));
            }
            let v = semver::Version::parse(&e.version).map_err(|err| {
                bad(format!(
                    "index entry {} version {:?}: {err}",
                    e.name, e.version
                ))
            })?;
            if !seen.insert((e.name.clone(), v)) {
                return Err(bad(format!("index lists {}@{} twice", e.name, e.version)));
            }
            if let Some(p) = relpath::problem(&e.manifest) {
                return Err(bad(format!(
                    "index entry {}@{} manifest path {:?} {p}",
                    e.name, e.version, e.manifest
                )));
            }
            if !canon::is_sha256_hex(&e.manifest_digest)
                || e.manifest_digest != e.manifest_digest.to_ascii_lowercase()
            {
                return Err(bad(format!(
                    "index entry {}@{} manifest_digest must be 64 lowercase hex characters",
                    e.name, e.version
                )));
            }
        }
        Ok(())
    }

    /// The entry for `name`@`version`, if listed.
    pub fn entry(&self, name: &str, version: &semver::Version) -> Option<&IndexEntry> {
        self.entries.iter().find(|e| {
            e.name == name && semver::Version::parse(&e.version).is_ok_and(|v| &v == version)
        })
    }
}

/// A decoded, structurally valid index (signature and freshness are checked by `install`).
pub fn decode(bytes: &[u8]) -> Result<(RegistryIndex, String), GaitError> {
    let index: RegistryIndex = crate::json::strict(bytes, "registry index", INDEX_INVALID)?;
    index.validate()?;
    let digest = index.digest()?;
    Ok((index, digest))
}

/// Refuses an expired index (a frozen registry must not keep serving stale, vulnerable versions).
pub fn check_fresh(index: &RegistryIndex, now: GoTime) -> Result<(), GaitError> {
    if index.expires_at <= now {
        return Err(codes::refuse(
            codes::INDEX_EXPIRED,
            format!(
                "registry index version {} expired at {}",
                index.version, index.expires_at
            ),
        )
        .with_hint("the registry must publish a freshly signed index (`gait registry index`)"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> RegistryIndex {
        RegistryIndex {
            schema_id: SCHEMA_ID.into(),
            schema_version: SCHEMA_VERSION.into(),
            registry: String::new(),
            version: 3,
            generated_at: GoTime::parse("2026-01-01T00:00:00Z").unwrap(),
            expires_at: GoTime::parse("2026-02-01T00:00:00Z").unwrap(),
            entries: vec![IndexEntry {
                name: "max-intents".into(),
                version: "1.0.0".into(),
                kind: PluginKind::Grader,
                form: PluginForm::Rhai,
                manifest: "max-intents-1.0.0/manifest.json".into(),
                manifest_digest: canon::sha256_hex(b"m"),
            }],
            signatures: vec![],
        }
    }

    #[test]
    fn decode_and_validate() {
        let idx = sample();
        let (back, digest) = decode(&serde_json::to_vec(&idx).unwrap()).unwrap();
        assert_eq!(back, idx);
        assert_eq!(digest, idx.digest().unwrap());
        let bad = |f: &dyn Fn(&mut RegistryIndex)| {
            let mut i = sample();
            f(&mut i);
            decode(&serde_json::to_vec(&i).unwrap()).unwrap_err()
        };
        assert_eq!(bad(&|i| i.version = 0).error_code(), INDEX_INVALID);
        bad(&|i| i.version = 1 << 60);
        bad(&|i| i.expires_at = i.generated_at);
        bad(&|i| i.entries[0].manifest = "../m.json".into());
        bad(&|i| i.entries[0].version = "1".into());
        bad(&|i| i.entries[0].manifest_digest = "ab".into());
        bad(&|i| i.entries.push(i.entries[0].clone()));
        bad(&|i| i.schema_id = "other".into());
    }

    #[test]
    fn freshness() {
        let idx = sample();
        assert!(check_fresh(&idx, GoTime::parse("2026-01-15T00:00:00Z").unwrap()).is_ok());
        let e = check_fresh(&idx, GoTime::parse("2026-02-01T00:00:00Z").unwrap()).unwrap_err();
        assert_eq!(e.error_code(), codes::INDEX_EXPIRED);
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn sorts_by_semver() {
        let mut idx = sample();
        let mut e2 = idx.entries[0].clone();
        e2.version = "1.10.0".into();
        let mut e3 = idx.entries[0].clone();
        e3.version = "1.9.0".into();
        idx.entries = vec![e2, e3, idx.entries[0].clone()];
        idx.sort_entries();
        let v: Vec<&str> = idx.entries.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(v, ["1.0.0", "1.9.0", "1.10.0"]);
    }
}
