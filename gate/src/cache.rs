//! A cache of compiled policies keyed by the sha256 of the policy file's bytes.
//!
//! Why: parsing and normalizing a large policy (200 rules, ~50 KB of YAML) costs more than the whole
//! rest of a `gate eval`. The normalized policy is stored as JSON under the gait home directory and
//! read back on the next call with the same bytes.
//!
//! Trust: an entry is used only when its format tag, producer version, source hash (the key) and
//! payload hash all check out; anything else — a missing, truncated, corrupt or foreign entry —
//! falls back to parsing the policy, and the fresh result replaces the entry. Writing is
//! best-effort and atomic: the cache never changes a decision, only how fast it is reached. The cache
//! is as trustworthy as the gait home directory (which also holds keys), so keep that directory
//! private to the user.
//!
//! Predicates: the digest of a policy naming predicates covers the identity of the plugins they
//! were bound to (see `crate::predicate`). An entry records those identities, and a hit is used only
//! when every name still resolves to the same identity now (an updated, removed or untrusted plugin
//! makes it a miss — and the fresh load reports why). The key is thus the source bytes *and* the
//! predicates' identities.

use crate::policy::{self, LoadedPolicy};
use crate::predicate::PredicateHandle;
use gait_engine::{GaitError, PRODUCER_VERSION, canon, fsx};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const FORMAT: &str = "gait.gate.policy_cache.v3";
/// Entries larger than this are ignored.
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// An entry is one header line (this struct as JSON) followed by the payload: the compact JSON of
/// the [`LoadedPolicy`], whose exact bytes `payload_sha256` covers.
#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    producer_version: String,
    engine_version: String,
    source_sha256: String,
    payload_sha256: String,
}

/// How a policy was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Miss,
    Disabled,
}

pub struct PolicyCache {
    dir: Option<PathBuf>,
    predicates: PredicateHandle,
}

impl PolicyCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PolicyCache {
            dir: Some(dir.into()),
            predicates: PredicateHandle::none(),
        }
    }

    /// No caching: every load parses.
    pub fn disabled() -> Self {
        PolicyCache {
            dir: None,
            predicates: PredicateHandle::none(),
        }
    }

    /// Binds loaded policies' predicates through `predicates`.
    pub fn with_predicates(mut self, predicates: PredicateHandle) -> Self {
        self.predicates = predicates;
        self
    }

    /// The predicates policies are bound through.
    pub fn predicates(&self) -> &PredicateHandle {
        &self.predicates
    }

    /// Loads policy bytes without the cache (still binding predicates).
    pub fn load_fresh(&self, bytes: &[u8]) -> Result<LoadedPolicy, GaitError> {
        policy::load_with(bytes, &self.predicates)
    }

    fn entry_path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{key}.json")))
    }

    /// Loads policy bytes through the cache.
    pub fn load(&self, bytes: &[u8]) -> Result<(LoadedPolicy, CacheOutcome), GaitError> {
        let Some(dir) = &self.dir else {
            return Ok((self.load_fresh(bytes)?, CacheOutcome::Disabled));
        };
        let key = canon::sha256_hex(bytes);
        let path = dir.join(format!("{key}.json"));
        if let Some(mut hit) = read_entry(&path, &key)
            && self.still_bound(&hit)
        {
            hit.evaluator = self.predicates.clone();
            return Ok((hit, CacheOutcome::Hit));
        }
        let loaded = self.load_fresh(bytes)?;
        // Best effort: a read-only home directory must not fail the gate.
        let _ = write_entry(dir, &path, &key, &loaded);
        Ok((loaded, CacheOutcome::Miss))
    }

    /// True when every predicate of a cached entry resolves to the identity it was bound to.
    fn still_bound(&self, hit: &LoadedPolicy) -> bool {
        if hit.predicates.is_empty() {
            return hit.policy.predicate_names().is_empty();
        }
        let Some(resolver) = self.predicates.get() else {
            return false;
        };
        let names = hit.policy.predicate_names();
        names.len() == hit.predicates.len()
            && hit.predicates.iter().zip(names).all(|(bound, name)| {
                bound.name == name && resolver.resolve(name).is_ok_and(|id| id == *bound)
            })
    }

    /// The path an entry for these bytes would have (tests and diagnostics).
    pub fn path_for(&self, bytes: &[u8]) -> Option<PathBuf> {
        self.entry_path(&canon::sha256_hex(bytes))
    }
}

fn read_entry(path: &Path, key: &str) -> Option<LoadedPolicy> {
    let bytes = fsx::read_bounded(path, MAX_ENTRY_BYTES).ok()?;
    let split = bytes.iter().position(|&b| b == b'\n')?;
    let (head, payload) = (&bytes[..split], &bytes[split + 1..]);
    let header: Header = serde_json::from_slice(head).ok()?;
    if header.format != FORMAT
        || header.producer_version != PRODUCER_VERSION
        || header.engine_version != env!("CARGO_PKG_VERSION")
        || header.source_sha256 != key
        || canon::sha256_hex(payload) != header.payload_sha256
    {
        return None;
    }
    serde_json::from_slice(payload).ok()
}

fn write_entry(dir: &Path, path: &Path, key: &str, loaded: &LoadedPolicy) -> Result<(), String> {
    let payload = serde_json::to_vec(loaded).map_err(|e| e.to_string())?;
    let header = Header {
        format: FORMAT.into(),
        producer_version: PRODUCER_VERSION.into(),
        engine_version: env!("CARGO_PKG_VERSION").into(),
        source_sha256: key.into(),
        payload_sha256: canon::sha256_hex(&payload),
    };
    let mut bytes = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    bytes.extend_from_slice(&payload);
    fsx::create_dir_all(dir).map_err(|e| e.to_string())?;
    fsx::write_atomic(path, &bytes, 0o600).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &[u8] = b"default_verdict: block\nrules:\n  - name: r\n    effect: allow\n    match:\n      tool_names: [tool.read]\n";

    #[test]
    fn hit_after_miss_gives_the_same_policy() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PolicyCache::new(dir.path().join("cache"));
        let (a, o1) = cache.load(POLICY).unwrap();
        let (b, o2) = cache.load(POLICY).unwrap();
        assert_eq!((o1, o2), (CacheOutcome::Miss, CacheOutcome::Hit));
        assert_eq!(a, b);
        assert_eq!(a, policy::load(POLICY).unwrap());
    }

    #[test]
    fn corrupt_or_tampered_entries_fall_back_to_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PolicyCache::new(dir.path());
        let (fresh, _) = cache.load(POLICY).unwrap();
        let path = cache.path_for(POLICY).unwrap();
        // Truncated entry.
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        let (p, o) = cache.load(POLICY).unwrap();
        assert_eq!((p, o), (fresh.clone(), CacheOutcome::Miss));
        // Payload edited without fixing its hash: block → allow must not be trusted.
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        let edited = text.replacen("\"block\"", "\"allow\"", 1);
        assert_ne!(edited, text);
        std::fs::write(&path, edited).unwrap();
        let (p, o) = cache.load(POLICY).unwrap();
        assert_eq!((p, o), (fresh, CacheOutcome::Miss));
    }

    #[test]
    fn invalid_policies_are_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PolicyCache::new(dir.path());
        assert!(cache.load(b"surprise: 1\n").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
