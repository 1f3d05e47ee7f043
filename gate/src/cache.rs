//! A cache of compiled policies keyed by the sha256 of the policy file's bytes.
//!
//! Why: parsing and normalizing a large policy (200 rules, ~50 KB of YAML) costs more than the whole
//! rest of a `gate eval`. The normalized policy is stored as JSON under the gait home directory and
//! read back on the next call with the same bytes.
//!
//! Trust: the cache must never change a decision, only how fast it is reached. An entry is used
//! only when all of these hold, and anything else falls back to parsing the policy file:
//! - the cache directory is a real directory owned by the effective user and not writable by group
//!   or others, and the MAC key file in it (`cache.key`, 32 random bytes as hex) is a regular file
//!   owned by the user with no group/other permissions (Unix; elsewhere the MAC alone protects);
//! - the entry's HMAC-SHA256 under that key checks out (an entry forged or edited without the key,
//!   copied from another user or machine, or restored from a backup made with another key fails);
//! - its format tag, producer version and build id (a hash of the gate's and engine's sources taken
//!   at build time, see `build.rs`) are this binary's, so a rebuild never reuses another build's
//!   compiled form even when the crate version did not change;
//! - its source hash is the hash of the policy bytes being loaded (the file name alone is not
//!   trusted).
//!
//! What the MAC cannot do: a process running as the same user can read the key and forge entries.
//! Such a process can equally edit the policy file, the trace key or the binary, so the cache adds
//! no new way in; the gait home directory is as sensitive as the keys it holds. For the same reason
//! a hit does not recompute the policy digest from the decoded rules (the MAC binds the two; the
//! recomputation would cost about 1 ms on a 200-rule policy, most of a cached `gate eval`).
//!
//! Writing is best-effort, atomic, and bounded: at most [`MAX_ENTRIES`] entries are kept (the
//! oldest are removed after a write). A read-only cache (`policy test`, `validate`, `fmt`) uses
//! entries but never creates the directory, the key or an entry. The crate reads no randomness:
//! the caller passes the key material used when the key file does not exist yet.
//!
//! Predicates: the digest of a policy naming predicates covers the identity of the plugins they
//! were bound to (see `crate::predicate`). An entry records those identities, and a hit is used only
//! when every name still resolves to the same identity now (an updated, removed or untrusted plugin
//! makes it a miss — and the fresh load reports why). The key is thus the source bytes *and* the
//! predicates' identities.

use crate::policy::{self, LoadedPolicy};
use crate::predicate::PredicateHandle;
use gait_engine::{GaitError, PRODUCER_VERSION, canon, fsx};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const FORMAT: &str = "gait.gate.policy_cache.v4";
/// A hash of the sources that decide what a compiled policy means (computed by `build.rs`).
pub const BUILD_ID: &str = env!("GAIT_GATE_BUILD_ID");
/// The MAC key's file name inside the cache directory.
pub const KEY_FILE: &str = "cache.key";
/// Entries larger than this are ignored.
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;
/// The most entries kept; older ones are removed after a write.
pub const MAX_ENTRIES: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// An entry is three parts: the hex HMAC-SHA256 line, one header line (this struct as JSON), then
/// the payload (the compact JSON of the [`LoadedPolicy`]). The MAC covers everything after its line.
#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    producer_version: String,
    build_id: String,
    source_sha256: String,
}

/// How a policy was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Miss,
    Disabled,
    /// The cache directory or its key failed the ownership/permission checks: the policy was
    /// parsed and nothing was read from or written to the cache.
    Untrusted,
}

pub struct PolicyCache {
    dir: Option<PathBuf>,
    predicates: PredicateHandle,
    new_key: Option<[u8; 32]>,
    read_only: bool,
}

/// The state of the cache directory's MAC key.
enum KeyState {
    Ready(Box<HmacSha256>),
    Missing,
    Untrusted,
}

impl PolicyCache {
    /// A cache in `dir`. Entries are written only once the key exists: give key material with
    /// [`PolicyCache::with_new_key`] to let the cache create it.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PolicyCache {
            dir: Some(dir.into()),
            predicates: PredicateHandle::none(),
            new_key: None,
            read_only: false,
        }
    }

    /// No caching: every load parses.
    pub fn disabled() -> Self {
        PolicyCache {
            dir: None,
            predicates: PredicateHandle::none(),
            new_key: None,
            read_only: false,
        }
    }

    /// Random bytes to create the MAC key with when the directory has none yet.
    pub fn with_new_key(mut self, material: [u8; 32]) -> Self {
        self.new_key = Some(material);
        self
    }

    /// Uses valid entries but never creates the directory, the key or an entry.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Lets misses write entries again (undoes [`PolicyCache::read_only`]).
    pub fn writable(mut self) -> Self {
        self.read_only = false;
        self
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

    /// Loads policy bytes through the cache.
    pub fn load(&self, bytes: &[u8]) -> Result<(LoadedPolicy, CacheOutcome), GaitError> {
        let Some(dir) = &self.dir else {
            return Ok((self.load_fresh(bytes)?, CacheOutcome::Disabled));
        };
        let key = canon::sha256_hex(bytes);
        let path = dir.join(format!("{key}.json"));
        let mac = match read_key(dir) {
            KeyState::Ready(mac) => Some(mac),
            KeyState::Untrusted => return Ok((self.load_fresh(bytes)?, CacheOutcome::Untrusted)),
            KeyState::Missing => None,
        };
        if let Some(mac) = &mac
            && let Some(mut hit) = read_entry(&path, &key, mac)
            && self.still_bound(&hit)
        {
            hit.evaluator = self.predicates.clone();
            return Ok((hit, CacheOutcome::Hit));
        }
        let loaded = self.load_fresh(bytes)?;
        if !self.read_only {
            let mac = match mac {
                Some(mac) => Some(mac),
                None => self.new_key.and_then(|m| create_key(dir, &m)),
            };
            // Best effort: a read-only home directory must not fail the gate.
            if let Some(mac) = mac {
                let _ = write_entry(&path, &key, &loaded, &mac);
                prune(dir, &path);
            }
        }
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
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}.json", canon::sha256_hex(bytes))))
    }
}

/// True when `meta` belongs to the effective user and has none of the `forbidden` mode bits.
#[cfg(unix)]
fn private_to_user(meta: &fs::Metadata, forbidden: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    meta.uid() == euid && meta.mode() & forbidden == 0
}

#[cfg(not(unix))]
fn private_to_user(_meta: &fs::Metadata, _forbidden: u32) -> bool {
    true
}

fn read_key(dir: &Path) -> KeyState {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() && private_to_user(&meta, 0o022) => {}
        Ok(_) => return KeyState::Untrusted,
        Err(_) => return KeyState::Missing,
    }
    let path = dir.join(KEY_FILE);
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() && private_to_user(&meta, 0o077) && meta.len() == 64 => {}
        Ok(_) => return KeyState::Untrusted,
        Err(_) => return KeyState::Missing,
    }
    let Ok(text) = fsx::read_bounded(&path, 64) else {
        return KeyState::Untrusted;
    };
    match hex::decode(&text)
        .ok()
        .and_then(|k| HmacSha256::new_from_slice(&k).ok())
    {
        Some(mac) if text.len() == 64 => KeyState::Ready(Box::new(mac)),
        _ => KeyState::Untrusted,
    }
}

/// Creates the key file without ever replacing one: a complete temp file is hard-linked into
/// place, so a concurrent creator's key wins and both processes then use it.
fn create_key(dir: &Path, material: &[u8; 32]) -> Option<Box<HmacSha256>> {
    fsx::create_dir_all(dir).ok()?;
    let tmp = dir.join(format!(".{KEY_FILE}.{}.tmp", hex::encode(&material[..8])));
    let written = (|| -> std::io::Result<()> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(hex::encode(material).as_bytes())?;
        f.sync_all()?;
        match fs::hard_link(&tmp, dir.join(KEY_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    })();
    let _ = fs::remove_file(&tmp);
    written.ok()?;
    match read_key(dir) {
        KeyState::Ready(mac) => Some(mac),
        _ => None,
    }
}

fn read_entry(path: &Path, key: &str, mac: &HmacSha256) -> Option<LoadedPolicy> {
    let bytes = fsx::read_bounded(path, MAX_ENTRY_BYTES).ok()?;
    let split = bytes.iter().position(|&b| b == b'\n')?;
    let (tag, body) = (&bytes[..split], &bytes[split + 1..]);
    let tag = hex::decode(tag).ok()?;
    let mut check = mac.clone();
    check.update(body);
    check.verify_slice(&tag).ok()?;
    let split = body.iter().position(|&b| b == b'\n')?;
    let (head, payload) = (&body[..split], &body[split + 1..]);
    let header: Header = serde_json::from_slice(head).ok()?;
    if header.format != FORMAT
        || header.producer_version != PRODUCER_VERSION
        || header.build_id != BUILD_ID
        || header.source_sha256 != key
    {
        return None;
    }
    // The entry's digest is not recomputed from its rules: the MAC already binds them to it, and
    // recomputing costs about 1 ms on a 200-rule policy — most of a cached `gate eval`. Whoever can
    // forge a MAC can read the trace signing key beside it as well (see the module docs).
    serde_json::from_slice(payload).ok()
}

fn write_entry(path: &Path, key: &str, loaded: &LoadedPolicy, mac: &HmacSha256) -> Option<()> {
    let header = Header {
        format: FORMAT.into(),
        producer_version: PRODUCER_VERSION.into(),
        build_id: BUILD_ID.into(),
        source_sha256: key.into(),
    };
    let mut body = serde_json::to_vec(&header).ok()?;
    body.push(b'\n');
    serde_json::to_writer(&mut body, loaded).ok()?;
    let mut m = mac.clone();
    m.update(&body);
    let mut bytes = hex::encode(m.finalize().into_bytes()).into_bytes();
    bytes.push(b'\n');
    bytes.extend_from_slice(&body);
    fsx::write_atomic(path, &bytes, 0o600).ok()
}

/// Keeps at most [`MAX_ENTRIES`] entries, removing the oldest (by modification time) first; the
/// entry just written is kept.
fn prune(dir: &Path, keep: &Path) {
    let Ok(list) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = list
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.len() == 69 && name.ends_with(".json") && crate::text::is_sha256_hex(&name[..64])
        })
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path()))
        })
        .collect();
    if entries.len() <= MAX_ENTRIES {
        return;
    }
    entries.sort();
    let excess = entries.len() - MAX_ENTRIES;
    for (_, path) in entries.iter().filter(|(_, p)| p != keep).take(excess) {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &[u8] = b"default_verdict: block\nrules:\n  - name: r\n    effect: allow\n    match:\n      tool_names: [tool.read]\n";

    fn cache(dir: &Path) -> PolicyCache {
        PolicyCache::new(dir).with_new_key([7; 32])
    }

    /// Rewrites an entry as a forger without the key would: edit the body, keep the tag.
    fn edit_body(path: &Path, from: &str, to: &str) {
        let text = String::from_utf8(fs::read(path).unwrap()).unwrap();
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{from} not in the entry");
        fs::write(path, edited).unwrap();
    }

    /// Re-signs an entry body with `key` (a forger who knows or chose a key).
    fn resign(path: &Path, key: &[u8]) {
        let bytes = fs::read(path).unwrap();
        let split = bytes.iter().position(|&b| b == b'\n').unwrap();
        let body = &bytes[split + 1..];
        let mut m = HmacSha256::new_from_slice(key).unwrap();
        m.update(body);
        let mut out = hex::encode(m.finalize().into_bytes()).into_bytes();
        out.push(b'\n');
        out.extend_from_slice(body);
        fs::write(path, out).unwrap();
    }

    #[test]
    fn hit_after_miss_gives_the_same_policy() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(&dir.path().join("cache"));
        let (a, o1) = cache.load(POLICY).unwrap();
        let (b, o2) = cache.load(POLICY).unwrap();
        assert_eq!((o1, o2), (CacheOutcome::Miss, CacheOutcome::Hit));
        assert_eq!(a, b);
        assert_eq!(a, policy::load(POLICY).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_private_and_never_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        cache(dir.path()).load(POLICY).unwrap();
        let key_path = dir.path().join(KEY_FILE);
        let meta = fs::metadata(&key_path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let key = fs::read(&key_path).unwrap();
        assert_eq!(key, hex::encode([7u8; 32]).into_bytes());
        // Other key material does not replace an existing key.
        let other = PolicyCache::new(dir.path()).with_new_key([8; 32]);
        assert_eq!(other.load(POLICY).unwrap().1, CacheOutcome::Hit);
        assert_eq!(fs::read(&key_path).unwrap(), key);
        // No temp files are left behind.
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn corrupt_or_tampered_entries_fall_back_to_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let (fresh, _) = cache.load(POLICY).unwrap();
        let path = cache.path_for(POLICY).unwrap();
        // Truncated entry.
        let full = fs::read(&path).unwrap();
        fs::write(&path, &full[..full.len() / 2]).unwrap();
        let (p, o) = cache.load(POLICY).unwrap();
        assert_eq!((p, o), (fresh.clone(), CacheOutcome::Miss));
        // Payload edited without the key: block → allow must not be trusted.
        edit_body(&path, "\"block\"", "\"allow\"");
        let (p, o) = cache.load(POLICY).unwrap();
        assert_eq!((p, o), (fresh, CacheOutcome::Miss));
    }

    #[test]
    fn a_forged_entry_with_a_recomputed_hash_changes_nothing() {
        // The review's attack: flip the default verdict and recompute the only integrity check the
        // old format had (a plain sha256 of the payload). Without the key the MAC fails.
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let (fresh, _) = cache.load(POLICY).unwrap();
        let path = cache.path_for(POLICY).unwrap();
        edit_body(&path, "\"block\"", "\"allow\"");
        resign(&path, b"a key the forger guessed");
        let (p, o) = cache.load(POLICY).unwrap();
        assert_eq!(o, CacheOutcome::Miss);
        assert_eq!(p, fresh);
        assert_eq!(p.policy.default_verdict, policy::Verdict::Block);
        // The entry was rewritten honestly: the next load is a hit with the real policy.
        let (p, o) = cache.load(POLICY).unwrap();
        assert_eq!((p, o), (fresh, CacheOutcome::Hit));
    }

    #[test]
    fn an_entry_edited_without_the_key_is_refused_even_with_a_new_mac_under_another_key() {
        // The MAC key is the trust boundary: rules edited and re-signed under any other key miss.
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let (fresh, _) = cache.load(POLICY).unwrap();
        let path = cache.path_for(POLICY).unwrap();
        edit_body(&path, "\"block\"", "\"allow\"");
        resign(&path, &[9; 32]);
        let (p, o) = cache.load(POLICY).unwrap();
        assert_eq!((p, o), (fresh, CacheOutcome::Miss));
    }

    #[test]
    fn entries_from_another_key_build_or_source_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let (fresh, _) = cache(&a).load(POLICY).unwrap();
        // Copied into another user's cache (another key): a miss, then rewritten.
        let b_cache = PolicyCache::new(&b).with_new_key([9; 32]);
        b_cache.load(b"default_verdict: allow\n").unwrap();
        let entry = cache(&a).path_for(POLICY).unwrap();
        fs::copy(&entry, b_cache.path_for(POLICY).unwrap()).unwrap();
        assert_eq!(
            b_cache.load(POLICY).unwrap(),
            (fresh.clone(), CacheOutcome::Miss)
        );
        // Another build id (a rebuild with changed sources): a miss.
        edit_body(&entry, BUILD_ID, &"0".repeat(64));
        resign(&entry, &[7; 32]);
        assert_eq!(cache(&a).load(POLICY).unwrap().1, CacheOutcome::Miss);
        // An entry filed under another policy's hash: a miss for that policy.
        let other: &[u8] = b"default_verdict: allow\n";
        let (other_fresh, _) = cache(&a).load(other).unwrap();
        fs::copy(&entry, cache(&a).path_for(other).unwrap()).unwrap();
        assert_eq!(
            cache(&a).load(other).unwrap(),
            (other_fresh, CacheOutcome::Miss)
        );
    }

    #[cfg(unix)]
    #[test]
    fn untrusted_directory_or_key_is_bypassed_without_writing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let (fresh, _) = cache.load(POLICY).unwrap();
        let entry = cache.path_for(POLICY).unwrap();
        // A group-writable cache directory: anyone in the group could plant entries.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o770)).unwrap();
        fs::remove_file(&entry).unwrap();
        assert_eq!(
            cache.load(POLICY).unwrap(),
            (fresh.clone(), CacheOutcome::Untrusted)
        );
        assert!(!entry.exists());
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        // A key others can read.
        let key = dir.path().join(KEY_FILE);
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            cache.load(POLICY).unwrap(),
            (fresh.clone(), CacheOutcome::Untrusted)
        );
        assert!(!entry.exists());
        // A key that is a symlink to some other file.
        fs::remove_file(&key).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, hex::encode([7u8; 32])).unwrap();
        fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &key).unwrap();
        assert_eq!(
            cache.load(POLICY).unwrap(),
            (fresh, CacheOutcome::Untrusted)
        );
        assert!(!entry.exists());
    }

    #[test]
    fn read_only_cache_uses_entries_but_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        let ro = PolicyCache::new(&cache_dir)
            .with_new_key([7; 32])
            .read_only();
        assert_eq!(ro.load(POLICY).unwrap().1, CacheOutcome::Miss);
        assert!(
            !cache_dir.exists(),
            "a read-only cache created its directory"
        );
        cache(&cache_dir).load(POLICY).unwrap();
        assert_eq!(ro.load(POLICY).unwrap().1, CacheOutcome::Hit);
        // Without key material no key (and so no entry) is created.
        let other = dir.path().join("other");
        assert_eq!(
            PolicyCache::new(&other).load(POLICY).unwrap().1,
            CacheOutcome::Miss
        );
        assert!(!other.exists());
    }

    #[test]
    fn the_cache_keeps_at_most_max_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let policies: Vec<String> = (0..MAX_ENTRIES + 5)
            .map(|i| format!("default_verdict: block\nrules:\n  - name: r{i}\n    effect: allow\n    match:\n      tool_names: [tool.read]\n"))
            .collect();
        for p in &policies {
            cache.load(p.as_bytes()).unwrap();
        }
        let entries = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".json")
            })
            .count();
        assert_eq!(entries, MAX_ENTRIES);
        // The newest entry survived.
        let last = policies.last().unwrap().as_bytes();
        assert!(cache.path_for(last).unwrap().exists());
    }

    #[test]
    fn invalid_policies_are_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        assert!(cache.load(b"surprise: 1\n").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn build_id_is_a_sha256() {
        assert!(crate::text::is_sha256_hex(BUILD_ID), "{BUILD_ID}");
    }
}
