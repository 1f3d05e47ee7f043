//! Install, verify, update and remove plugins from a signed registry.
//!
//! Install order (every check before anything is placed; see docs/plugins.md):
//! 1. the registry is reachable under the caller's transport rules (allowlist, https, caps);
//! 2. `index.json` is signed by a trusted, unrevoked key, not expired, not older than the newest
//!    index seen from this registry, and not a different index under the same version;
//! 3. the versions matching the requirement are tried newest first (under `--locked`, exactly the
//!    lockfile's): a manifest whose digest equals the index entry's but whose plugin-API
//!    requirement or platform excludes this gait is passed over for the next older version;
//! 4. the chosen manifest's digest equals the index entry's (and the lockfile's), it is signed by
//!    a trusted key (the lockfile's key, under `--locked`), its plugin-API requirement matches
//!    this gait and a native library was built for this platform;
//! 5. every file's sha256 matches the manifest;
//! 6. the files are written to a staging directory, renamed into the store, and the pin is
//!    replaced atomically — under the plugin home's lock. A refusal at any step leaves nothing
//!    installed and the previous version untouched.

use crate::codes;
use crate::index::{self, IndexEntry, RegistryIndex};
use crate::lockfile::LockEntry;
use crate::manifest::{self, Verified};
use crate::model::{PluginForm, host_target};
use crate::relpath;
use crate::resolve::{self, Wanted};
use crate::source::{self, FetchSettings, Fetcher, RegistrySource};
use crate::store::{self, PIN_SCHEMA_ID, Pin, PluginHome};
use crate::trust::TrustStore;
use gait_engine::canon::sha256_hex;
use gait_engine::{GaitError, GoTime, fsx};
use gait_plugin_api::PLUGIN_API_VERSION;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Installed files are read back with this cap (a native library can be large; nothing else is).
pub const MAX_INSTALLED_FILE: u64 = 512 * 1024 * 1024;
/// The most a single plugin may download in total.
pub const MAX_TOTAL_BYTES: u64 = 1024 * 1024 * 1024;

/// What to install and from where.
#[derive(Clone, Debug)]
pub struct InstallRequest {
    /// The registry as the user named it (directory or https URL).
    pub registry: String,
    pub wanted: Wanted,
    /// Under `--locked`: the lockfile entry to install exactly.
    pub locked: Option<LockEntry>,
    pub settings: FetchSettings,
}

/// The result of an install.
#[derive(Clone, Debug)]
pub struct Installed {
    pub pin: Pin,
    pub previous: Option<Pin>,
    /// The registry as the user named it (the pin keeps its canonical form): what a project's
    /// lockfile records, so that relative directories stay portable.
    pub registry_as_given: String,
    /// The same manifest was already installed and intact; nothing was written.
    pub unchanged: bool,
    pub index_version: u64,
}

impl Installed {
    /// The lockfile entry for what was installed.
    pub fn lock_entry(&self) -> LockEntry {
        LockEntry {
            name: self.pin.name.clone(),
            version: self.pin.version.clone(),
            registry: self.registry_as_given.clone(),
            manifest_digest: self.pin.manifest_digest.clone(),
            key_id: self.pin.key_ids.first().cloned().unwrap_or_default(),
            requirement: self.pin.requirement.clone(),
        }
    }
}

/// A fetched, verified index.
struct OpenIndex {
    index: RegistryIndex,
    digest: String,
    registry_id: String,
}

fn fetch_index(
    home: &PluginHome,
    trust: &TrustStore,
    source: &RegistrySource,
    fetcher: &dyn Fetcher,
    settings: &FetchSettings,
    now: GoTime,
) -> Result<OpenIndex, GaitError> {
    let bytes = fetcher.fetch(
        index::FILE_NAME,
        settings.max_bytes.min(index::MAX_INDEX_BYTES),
    )?;
    let (idx, digest) = index::decode(&bytes)?;
    trust.require("the registry index", &idx.signatures, &digest)?;
    index::check_fresh(&idx, now)?;
    let registry_id = source.id();
    home.check_index(&registry_id, &idx, &digest, now, false)?;
    Ok(OpenIndex {
        index: idx,
        digest,
        registry_id,
    })
}

/// The index entries to try, in order: every version matching the requirement, newest first
/// (the first whose manifest can run in this gait is installed), or exactly the lockfile's.
fn choose<'a>(
    idx: &'a RegistryIndex,
    req: &InstallRequest,
) -> Result<Vec<(&'a IndexEntry, semver::Version)>, GaitError> {
    let Some(lock) = &req.locked else {
        return resolve::candidates(idx, &req.wanted);
    };
    let version = semver::Version::parse(&lock.version)
        .map_err(|e| GaitError::invalid(format!("lockfile version {:?}: {e}", lock.version)))?;
    let entry = idx.entry(&lock.name, &version).ok_or_else(|| {
        codes::refuse(
            codes::LOCK_MISMATCH,
            format!(
                "the registry no longer lists {}@{} pinned in the lockfile",
                lock.name, lock.version
            ),
        )
    })?;
    if entry.manifest_digest != lock.manifest_digest {
        return Err(codes::refuse(
            codes::LOCK_MISMATCH,
            format!(
                "{}@{} in the registry has manifest digest {}, the lockfile pins {}: the published plugin changed",
                lock.name, lock.version, entry.manifest_digest, lock.manifest_digest
            ),
        )
        .with_hint("review the change; update the lockfile deliberately by installing without --locked"));
    }
    Ok(vec![(entry, version)])
}

/// Fetches an index entry's manifest and checks it is the very manifest the signed index names
/// (digest) and describes that entry. After this its content is as trustworthy as the index.
fn fetch_manifest(
    fetcher: &dyn Fetcher,
    entry: &IndexEntry,
    version: &semver::Version,
    settings: &FetchSettings,
) -> Result<(Vec<u8>, Verified), GaitError> {
    let manifest_bytes = fetcher.fetch(
        &entry.manifest,
        settings.max_bytes.min(manifest::MAX_MANIFEST_BYTES),
    )?;
    let verified = manifest::decode(&manifest_bytes)?;
    let m = &verified.manifest;
    if verified.digest != entry.manifest_digest {
        return Err(codes::refuse(
            codes::DIGEST_MISMATCH,
            format!(
                "manifest of {}@{} has digest {}, the signed index says {}",
                entry.name, entry.version, verified.digest, entry.manifest_digest
            ),
        )
        .with_hint("the registry's files were changed after the index was signed; do not use it"));
    }
    if m.name != entry.name
        || verified.version != *version
        || m.kind != entry.kind
        || m.form != entry.form
    {
        return Err(codes::refuse(
            codes::MANIFEST_INVALID,
            format!(
                "manifest {} describes {}@{} ({} {}), not the index entry {}@{}",
                entry.manifest, m.name, m.version, m.form, m.kind, entry.name, entry.version
            ),
        ));
    }
    Ok((manifest_bytes, verified))
}

/// The newest candidate whose manifest can run in this gait (plugin API, platform). Older
/// versions are considered only after a newer one's manifest — authenticated by the signed
/// index's digest, so a mirror cannot fake an incompatibility to force a downgrade — says it
/// cannot run here. Under `--locked` the one candidate is returned as it is (and refused later if
/// it cannot run). None compatible: the newest one's refusal.
fn pick_compatible(
    fetcher: &dyn Fetcher,
    candidates: Vec<(&IndexEntry, semver::Version)>,
    req: &InstallRequest,
) -> Result<(IndexEntry, Vec<u8>, Verified), GaitError> {
    let tried = candidates.len();
    let mut newest_refusal: Option<GaitError> = None;
    for (entry, version) in candidates {
        let (bytes, verified) = fetch_manifest(fetcher, entry, &version, &req.settings)?;
        if req.locked.is_none()
            && let Err(e) = check_compatible(&verified)
        {
            newest_refusal.get_or_insert(e);
            continue;
        }
        return Ok((entry.clone(), bytes, verified));
    }
    Err(match newest_refusal {
        Some(e) if tried > 1 => e.context(&format!(
            "none of the {tried} versions of {} matching {} can run in this gait; the newest",
            req.wanted.name, req.wanted.requirement_text
        )),
        Some(e) => e,
        None => GaitError::internal("no candidate version to install"),
    })
}

/// Checks that a verified manifest may run in this gait (API requirement, platform).
pub fn check_compatible(v: &Verified) -> Result<(), GaitError> {
    manifest::check_api(&v.manifest.name, &v.plugin_api, PLUGIN_API_VERSION)?;
    if v.manifest.form == PluginForm::Native && v.manifest.target != host_target() {
        return Err(codes::refuse(
            codes::TARGET_MISMATCH,
            format!(
                "plugin {} was built for {}, this gait runs on {}",
                v.manifest.name,
                v.manifest.target,
                host_target()
            ),
        ));
    }
    Ok(())
}

/// A staging directory that removes itself unless committed.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

static STAGE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates a private directory (0700 on unix).
pub fn create_private_dir(path: &Path) -> Result<(), GaitError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .map_err(|e| GaitError::io(format!("create {}: {}", path.display(), fsx::io_reason(&e))))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), GaitError> {
    if let Some(parent) = path.parent() {
        create_private_dir(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let io = |e: std::io::Error| {
        GaitError::io(format!("write {}: {}", path.display(), fsx::io_reason(&e)))
    };
    let mut f = opts.open(path).map_err(io)?;
    std::io::Write::write_all(&mut f, bytes).map_err(io)?;
    // No fsync per file: the pin, written atomically and synced, is the commit point, and every
    // load re-hashes these files, so a file lost in a crash fails closed instead of loading.
    Ok(())
}

/// Installs (or keeps) the plugin `req` asks for. See the module documentation for the order.
pub fn install(
    home: &PluginHome,
    req: &InstallRequest,
    now: GoTime,
) -> Result<Installed, GaitError> {
    let source = RegistrySource::parse(&req.registry)?;
    let fetcher = source::open(&source, &req.settings)?;
    let trust = TrustStore::load(&home.trust_path())?;
    let open = fetch_index(home, &trust, &source, fetcher.as_ref(), &req.settings, now)?;
    let (entry, manifest_bytes, verified) =
        pick_compatible(fetcher.as_ref(), choose(&open.index, req)?, req)?;
    let m = &verified.manifest;
    let what = format!("plugin {}@{}", m.name, m.version);
    let key_ids = trust.require(&what, &m.signatures, &verified.digest)?;
    if let Some(lock) = &req.locked
        && !key_ids.contains(&lock.key_id)
    {
        return Err(codes::refuse(
            codes::LOCK_MISMATCH,
            format!(
                "{what} is not signed by key {} pinned in the lockfile",
                lock.key_id
            ),
        ));
    }
    check_compatible(&verified)?;

    let previous = home.read_pin(&m.name)?;
    // The requirement `update` will resolve later: the one asked for, or under `--locked` the
    // lockfile's (the exact version is only how the lockfile is honoured now).
    let requirement = match &req.locked {
        Some(lock) if !lock.requirement.is_empty() => lock.requirement.clone(),
        Some(lock) => format!("^{}", lock.version),
        None => req.wanted.requirement_text.clone(),
    };
    let rel_dir = PluginHome::install_rel(&m.name, &m.version, &verified.digest);
    let pin = Pin {
        schema_id: PIN_SCHEMA_ID.into(),
        schema_version: store::SCHEMA_VERSION.into(),
        name: m.name.clone(),
        version: m.version.clone(),
        kind: m.kind,
        form: m.form,
        // Canonical (absolute directory or normalized URL), so `update` works from anywhere.
        registry: open.registry_id.clone(),
        requirement,
        manifest_digest: verified.digest.clone(),
        key_ids: key_ids.clone(),
        dir: rel_dir.clone(),
        commands: m.commands.clone(),
        installed_at: now.utc(),
    };
    if let Some(prev) = &previous
        && prev.manifest_digest == verified.digest
        && verify_pin(home, &trust, prev, false).is_ok()
    {
        // Same bytes, intact: record the index (it verified) and keep what is installed. The
        // requirement may differ; the pin keeps the one asked for last, for `update`.
        let _lock = home.lock()?;
        home.check_index(&open.registry_id, &open.index, &open.digest, now, true)?;
        let mut kept = prev.clone();
        kept.requirement = pin.requirement.clone();
        kept.registry = pin.registry.clone();
        kept.key_ids = key_ids;
        if kept != *prev {
            home.write_pin(&kept)?;
        }
        return Ok(Installed {
            pin: kept,
            previous,
            registry_as_given: req.registry.trim().to_string(),
            unchanged: true,
            index_version: open.index.version,
        });
    }

    // Fetch and check every file before writing anything.
    let base = relpath::parent(&entry.manifest);
    let mut files = Vec::with_capacity(m.files.len());
    let mut total = manifest_bytes.len() as u64;
    for f in &m.files {
        let bytes = fetcher.fetch(&relpath::child(base, &f.path), req.settings.max_bytes)?;
        total += bytes.len() as u64;
        if total > MAX_TOTAL_BYTES {
            return Err(codes::refuse(
                codes::TOO_LARGE,
                format!("{what} is larger than {MAX_TOTAL_BYTES} bytes in total"),
            ));
        }
        if sha256_hex(&bytes) != f.sha256 {
            return Err(codes::refuse(
                codes::DIGEST_MISMATCH,
                format!(
                    "file {} of {what} does not match the sha256 in its signed manifest",
                    f.path
                ),
            )
            .with_hint("the registry's copy was changed after signing; nothing was installed"));
        }
        files.push((f.path.clone(), bytes));
    }

    let staging_root = home.staging_dir();
    create_private_dir(&staging_root)?;
    let staging = Staging {
        path: staging_root.join(format!(
            "{}-{}-{}",
            m.name,
            std::process::id(),
            STAGE_COUNTER.fetch_add(1, Ordering::Relaxed)
        )),
        keep: false,
    };
    create_private_dir(&staging.path)?;
    write_file(&staging.path.join("manifest.json"), &manifest_bytes)?;
    for (path, bytes) in &files {
        write_file(&relpath::join(&staging.path, path), bytes)?;
    }

    let _lock = home.lock()?;
    // Re-check under the lock: another install may have seen a newer index meanwhile.
    home.check_index(&open.registry_id, &open.index, &open.digest, now, true)?;
    let final_dir = relpath::join(home.root(), &rel_dir);
    if let Some(parent) = final_dir.parent() {
        create_private_dir(parent)?;
    }
    store::remove_tree(&final_dir)?;
    std::fs::rename(&staging.path, &final_dir).map_err(|e| {
        GaitError::io(format!(
            "move {} into place: {}",
            final_dir.display(),
            fsx::io_reason(&e)
        ))
    })?;
    let mut staging = staging;
    staging.keep = true;
    home.write_pin(&pin)?;
    if let Some(prev) = &previous
        && prev.dir != pin.dir
        && let Ok(old) = home.installed_dir(prev)
    {
        store::remove_tree(&old)?;
    }
    Ok(Installed {
        pin,
        previous,
        registry_as_given: req.registry.trim().to_string(),
        unchanged: false,
        index_version: open.index.version,
    })
}

/// An installed plugin whose files verified against its pin, manifest and the trust store.
#[derive(Clone, Debug)]
pub struct InstalledPlugin {
    pub pin: Pin,
    pub manifest: Verified,
    pub dir: PathBuf,
    /// Trusted keys whose signatures verify now.
    pub key_ids: Vec<String>,
    /// The entry file's exact bytes, when asked for (the loader loads these, never the file again).
    pub entry_bytes: Option<Vec<u8>>,
}

/// Verifies an installed plugin: its manifest still has the pinned digest and a valid signature by
/// a key trusted (and not revoked) *now*, it is compatible with this gait, and every file still has
/// its signed sha256.
pub fn verify_pin(
    home: &PluginHome,
    trust: &TrustStore,
    pin: &Pin,
    keep_entry: bool,
) -> Result<InstalledPlugin, GaitError> {
    let what = format!("installed plugin {}@{}", pin.name, pin.version);
    // Every refusal names the plugin exactly once, at the start, whichever check made it.
    check_pin(home, trust, pin, keep_entry, &what).map_err(|e| {
        if e.message.starts_with(&what) {
            e
        } else {
            e.context(&what)
        }
    })
}

fn check_pin(
    home: &PluginHome,
    trust: &TrustStore,
    pin: &Pin,
    keep_entry: bool,
    what: &str,
) -> Result<InstalledPlugin, GaitError> {
    let dir = home.installed_dir(pin)?;
    let manifest_path = dir.join("manifest.json");
    let bytes = fsx::read_bounded(&manifest_path, manifest::MAX_MANIFEST_BYTES).map_err(|e| {
        codes::refuse(
            codes::FILE_MODIFIED,
            format!("{what}: manifest unreadable: {e}"),
        )
        .with_hint(format!("reinstall it: gait plugin install {}", pin.name))
    })?;
    let verified = manifest::decode(&bytes)?;
    if verified.digest != pin.manifest_digest
        || verified.manifest.name != pin.name
        || verified.manifest.version != pin.version
    {
        return Err(codes::refuse(
            codes::FILE_MODIFIED,
            format!(
                "{what}: manifest changed after install (digest {} instead of the pinned {})",
                verified.digest, pin.manifest_digest
            ),
        )
        .with_hint(format!("reinstall it: gait plugin install {}", pin.name)));
    }
    let key_ids = trust.require(what, &verified.manifest.signatures, &verified.digest)?;
    check_compatible(&verified)?;
    let mut entry_bytes = None;
    for f in &verified.manifest.files {
        let path = relpath::join(&dir, &f.path);
        let bytes = fsx::read_bounded(&path, MAX_INSTALLED_FILE).map_err(|e| {
            codes::refuse(
                codes::FILE_MODIFIED,
                format!("{what}: file {} unreadable: {e}", f.path),
            )
            .with_hint(format!("reinstall it: gait plugin install {}", pin.name))
        })?;
        if sha256_hex(&bytes) != f.sha256 {
            return Err(codes::refuse(
                codes::FILE_MODIFIED,
                format!(
                    "{what}: file {} changed after install; refusing to use it",
                    f.path
                ),
            )
            .with_hint(format!(
                "reinstall it from a trusted registry: gait plugin install {}",
                pin.name
            )));
        }
        if keep_entry && f.path == verified.manifest.entry {
            entry_bytes = Some(bytes);
        }
    }
    Ok(InstalledPlugin {
        pin: pin.clone(),
        manifest: verified,
        dir,
        key_ids,
        entry_bytes,
    })
}

/// Verifies the installed plugin `name`.
pub fn verify_installed(home: &PluginHome, name: &str) -> Result<InstalledPlugin, GaitError> {
    let pin = home.require_pin(name)?;
    let trust = TrustStore::load(&home.trust_path())?;
    verify_pin(home, &trust, &pin, false)
}

/// Removes the installed plugin `name` (pin first, then files). Returns its last pin.
pub fn remove(home: &PluginHome, name: &str) -> Result<Pin, GaitError> {
    let _lock = home.lock()?;
    let pin = home.require_pin(name)?;
    home.remove_pin(name)?;
    if let Ok(dir) = home.installed_dir(&pin) {
        store::remove_tree(&dir)?;
        if let Some(parent) = dir.parent() {
            // The per-name directory, when it is now empty.
            let _ = std::fs::remove_dir(parent);
        }
    }
    Ok(pin)
}
