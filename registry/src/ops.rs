//! The operations behind `gait plugin …`: installs with the project lockfile, updates, removals,
//! verification of everything installed, and trust-store changes — each one call for the CLI.

use crate::catalog;
use crate::install::{self, InstallRequest, Installed};
use crate::lockfile::{LockEntry, Lockfile};
use crate::resolve::{self, Wanted};
use crate::source::{FetchSettings, RegistrySource};
use crate::store::{Pin, PluginHome};
use crate::trust::{TrustStore, TrustedKey};
use gait_engine::crypto::PublicKey;
use gait_engine::{GaitError, GoTime};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `gait plugin install` / `update` settings.
#[derive(Clone, Debug)]
pub struct InstallPlan {
    /// `--registry`; otherwise the lockfile's (or, for update, the pin's) registry.
    pub registry: Option<String>,
    /// `NAME[@REQ]` specs; with `locked` and none given, every lockfile entry.
    pub specs: Vec<String>,
    pub locked: bool,
    /// The project lockfile; `None` leaves no lockfile behind.
    pub lockfile: Option<PathBuf>,
    pub settings: FetchSettings,
}

fn no_registry(name: &str) -> GaitError {
    GaitError::invalid(format!("no registry to install {name} from"))
        .with_hint("pass --registry DIR or --registry https://HOST/PATH")
}

fn record(lockfile: &Option<PathBuf>, mut entry: LockEntry) -> Result<(), GaitError> {
    if let Some(path) = lockfile {
        let mut lock = Lockfile::read(path)?.unwrap_or_default();
        let previous = lock.get(&entry.name).map(|e| e.registry.clone());
        entry.registry = registry_for_lock(path, previous.as_deref(), &entry.registry);
        lock.upsert(entry);
        lock.write(path)?;
    }
    Ok(())
}

/// The directory a lockfile's relative registry paths are relative to.
fn lock_dir(lockfile: &Path) -> &Path {
    match lockfile.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A registry named in `lockfile`, as this process reaches it: a relative directory is relative to
/// the lockfile's directory (so `--lockfile proj/gait.lock` works from anywhere); URLs and absolute
/// directories are used as written.
pub fn registry_from_lock(lockfile: &Path, registry: &str) -> String {
    match RegistrySource::parse(registry) {
        Ok(RegistrySource::Dir(dir))
            if dir.is_relative() && lock_dir(lockfile) != Path::new(".") =>
        {
            lock_dir(lockfile).join(dir).display().to_string()
        }
        _ => registry.trim().to_string(),
    }
}

/// How `lockfile` records a registry this process reached as `used` (relative to the working
/// directory, as the user typed it): a relative directory is rewritten relative to the lockfile's
/// directory, `/`-separated; URLs and absolute directories stay as typed. An entry that already
/// names the same registry keeps its spelling, so `update` does not churn the lockfile.
fn registry_for_lock(lockfile: &Path, previous: Option<&str>, used: &str) -> String {
    let used = used.trim();
    let Ok(source) = RegistrySource::parse(used) else {
        return used.to_string();
    };
    if let Some(prev) = previous
        && let Ok(old) = RegistrySource::parse(&registry_from_lock(lockfile, prev))
        && old.id() == source.id()
    {
        return prev.to_string();
    }
    let RegistrySource::Dir(dir) = source else {
        return used.to_string();
    };
    let base = lock_dir(lockfile);
    if dir.is_absolute() || base == Path::new(".") {
        return used.to_string();
    }
    match (std::fs::canonicalize(base), std::fs::canonicalize(&dir)) {
        (Ok(base), Ok(dir)) => {
            relative_path(&base, &dir).unwrap_or_else(|| dir.display().to_string())
        }
        // Unreachable after a successful install; keep something that still names the place.
        _ => std::path::absolute(&dir)
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| used.to_string()),
    }
}

/// `target` relative to `base` (both absolute and canonical), `/`-separated; `None` when they
/// share no root (another drive on Windows).
fn relative_path(base: &Path, target: &Path) -> Option<String> {
    use std::path::Component;
    let b: Vec<Component> = base.components().collect();
    let t: Vec<Component> = target.components().collect();
    if b.first() != t.first() {
        return None;
    }
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Installs every requested plugin in order, recording each in the lockfile as it succeeds
/// (`--locked`: installs exactly the lockfile's entries and never writes it).
pub fn install_plan(
    home: &PluginHome,
    plan: &InstallPlan,
    now: GoTime,
) -> Result<Vec<Installed>, GaitError> {
    let mut out = Vec::new();
    if plan.locked {
        let path = plan
            .lockfile
            .clone()
            .ok_or_else(|| GaitError::invalid("--locked needs a lockfile; pass --lockfile PATH"))?;
        let lock = Lockfile::require(&path)?;
        let names: Vec<String> = if plan.specs.is_empty() {
            lock.plugins.iter().map(|e| e.name.clone()).collect()
        } else {
            plan.specs
                .iter()
                .map(|s| {
                    if s.contains('@') {
                        Err(GaitError::invalid(format!(
                            "{s:?}: with --locked, name plugins without a version; the lockfile decides it"
                        )))
                    } else {
                        Ok(resolve::parse_wanted(s)?.name)
                    }
                })
                .collect::<Result<_, _>>()?
        };
        for name in names {
            let entry = lock.require_entry(&name, &path)?.clone();
            let req = InstallRequest {
                registry: plan
                    .registry
                    .clone()
                    .unwrap_or_else(|| registry_from_lock(&path, &entry.registry)),
                wanted: resolve::parse_wanted(&format!("{}@={}", entry.name, entry.version))?,
                locked: Some(entry),
                settings: plan.settings.clone(),
            };
            out.push(install::install(home, &req, now)?);
        }
        return Ok(out);
    }
    if plan.specs.is_empty() {
        return Err(GaitError::invalid("name at least one plugin to install")
            .with_hint("gait plugin install NAME[@REQ] --registry DIR|URL, or --locked to install the lockfile"));
    }
    let lock = match &plan.lockfile {
        Some(p) => Lockfile::read(p)?,
        None => None,
    };
    for spec in &plan.specs {
        let wanted = resolve::parse_wanted(spec)?;
        let registry = plan
            .registry
            .clone()
            .or_else(|| {
                let path = plan.lockfile.as_deref()?;
                lock.as_ref()
                    .and_then(|l| l.get(&wanted.name))
                    .map(|e| registry_from_lock(path, &e.registry))
            })
            .ok_or_else(|| no_registry(&wanted.name))?;
        let installed = install::install(
            home,
            &InstallRequest {
                registry,
                wanted,
                locked: None,
                settings: plan.settings.clone(),
            },
            now,
        )?;
        record(&plan.lockfile, installed.lock_entry())?;
        out.push(installed);
    }
    Ok(out)
}

/// One plugin's `update` result.
#[derive(Clone, Debug, Serialize)]
pub struct Updated {
    pub name: String,
    pub from: String,
    pub to: String,
    pub updated: bool,
    pub manifest_digest: String,
}

/// Re-resolves installed plugins (all, or the named ones) with the requirement they were installed
/// for and installs what changed.
pub fn update(
    home: &PluginHome,
    plan: &InstallPlan,
    now: GoTime,
) -> Result<Vec<Updated>, GaitError> {
    if plan.locked {
        return Err(GaitError::invalid(
            "--locked installs exactly the lockfile; it cannot be combined with update",
        ));
    }
    let pins: Vec<Pin> = if plan.specs.is_empty() {
        home.pins()?
    } else {
        plan.specs
            .iter()
            .map(|n| home.require_pin(n.trim()))
            .collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for pin in pins {
        let wanted = Wanted {
            requirement: semver::VersionReq::parse(&pin.requirement).map_err(|e| {
                GaitError::invalid(format!(
                    "pin of {} holds requirement {:?}: {e}",
                    pin.name, pin.requirement
                ))
            })?,
            name: pin.name.clone(),
            requirement_text: pin.requirement.clone(),
        };
        let installed = install::install(
            home,
            &InstallRequest {
                registry: plan
                    .registry
                    .clone()
                    .unwrap_or_else(|| pin.registry.clone()),
                wanted,
                locked: None,
                settings: plan.settings.clone(),
            },
            now,
        )?;
        record(&plan.lockfile, installed.lock_entry())?;
        out.push(Updated {
            name: pin.name.clone(),
            from: pin.version.clone(),
            to: installed.pin.version.clone(),
            updated: !installed.unchanged,
            manifest_digest: installed.pin.manifest_digest.clone(),
        });
    }
    Ok(out)
}

/// Removes installed plugins and their lockfile entries (when a lockfile is given and exists).
pub fn remove(
    home: &PluginHome,
    names: &[String],
    lockfile: &Option<PathBuf>,
) -> Result<(Vec<Pin>, bool), GaitError> {
    if names.is_empty() {
        return Err(GaitError::invalid("name at least one plugin to remove"));
    }
    let mut removed = Vec::new();
    let mut lock_changed = false;
    for name in names {
        removed.push(install::remove(home, name.trim())?);
        if let Some(path) = lockfile
            && let Some(mut lock) = Lockfile::read(path)?
            && lock.remove(name.trim())
        {
            lock.write(path)?;
            lock_changed = true;
        }
    }
    Ok((removed, lock_changed))
}

/// One plugin's `verify` result.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyRow {
    pub name: String,
    pub version: String,
    pub ok: bool,
    pub manifest_digest: String,
    pub key_ids: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    /// What to do about the refusal.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

/// Verifies installed plugins (all, or the named ones). A refusal's message names the plugin.
pub fn verify(home: &PluginHome, names: &[String]) -> Result<Vec<VerifyRow>, GaitError> {
    let pins: Vec<Pin> = if names.is_empty() {
        home.pins()?
    } else {
        names
            .iter()
            .map(|n| home.require_pin(n.trim()))
            .collect::<Result<_, _>>()?
    };
    let trust = TrustStore::load(&home.trust_path())?;
    Ok(pins
        .into_iter()
        .map(|pin| match install::verify_pin(home, &trust, &pin, false) {
            Ok(v) => VerifyRow {
                name: pin.name,
                version: pin.version,
                ok: true,
                manifest_digest: v.manifest.digest,
                key_ids: v.key_ids,
                error: String::new(),
                error_code: String::new(),
                hint: String::new(),
            },
            Err(e) => VerifyRow {
                name: pin.name,
                version: pin.version,
                ok: false,
                manifest_digest: pin.manifest_digest,
                key_ids: Vec::new(),
                error_code: e.error_code(),
                hint: e.hint.clone().unwrap_or_default(),
                error: e.message,
            },
        })
        .collect())
}

/// Changes the trust store under the plugin home's lock.
fn with_trust<T>(
    home: &PluginHome,
    f: impl FnOnce(&mut TrustStore) -> Result<T, GaitError>,
) -> Result<T, GaitError> {
    let _lock = home.lock()?;
    let path = home.trust_path();
    let mut store = TrustStore::load(&path)?;
    let out = f(&mut store)?;
    store.save(&path)?;
    Ok(out)
}

/// Trusts `key`; returns its entry and whether it was new.
pub fn trust_add(
    home: &PluginHome,
    key: &PublicKey,
    name: &str,
    now: GoTime,
) -> Result<(TrustedKey, bool), GaitError> {
    with_trust(home, |s| {
        let added = s.add(key, name, now)?;
        let entry = s
            .get(&key.key_id())
            .cloned()
            .ok_or_else(|| GaitError::internal("trusted key vanished"))?;
        Ok((entry, added))
    })
}

pub fn trust_remove(home: &PluginHome, id: &str) -> Result<TrustedKey, GaitError> {
    with_trust(home, |s| s.remove(id))
}

/// Revokes a key; returns its entry and whether it was revoked before (then its first
/// `revoked_at` and reason are kept: revoking again changes nothing).
pub fn trust_revoke(
    home: &PluginHome,
    id: &str,
    reason: &str,
    now: GoTime,
) -> Result<(TrustedKey, bool), GaitError> {
    with_trust(home, |s| {
        let already = s.keys[s.find(id)?].is_revoked();
        Ok((s.revoke(id, reason, now)?, already))
    })
}

pub fn trust_list(home: &PluginHome) -> Result<Vec<TrustedKey>, GaitError> {
    Ok(TrustStore::load(&home.trust_path())?.keys)
}

/// The installed plugin contributing the command that `args` start with.
pub fn find_extension(home: &PluginHome, args: &[String]) -> Option<(Pin, String, usize)> {
    let pins = extension_pins(home, args)?;
    catalog::find_command(&pins, args).map(|(p, w, n)| (p.clone(), w, n))
}

/// The group of contributed commands that `args` start with (see [`catalog::find_group`]).
pub fn find_extension_group(
    home: &PluginHome,
    args: &[String],
) -> Option<(String, usize, Vec<catalog::ContributedCommand>)> {
    catalog::find_group(&extension_pins(home, args)?, args)
}

/// Every command installed plugins contribute (for `gait --help`); unreadable pins are skipped.
pub fn contributed_commands(home: &PluginHome) -> Vec<catalog::ContributedCommand> {
    catalog::contributed_commands(&home.pins().unwrap_or_default())
}

fn extension_pins(home: &PluginHome, args: &[String]) -> Option<Vec<Pin>> {
    // Only plain words can be command words; a flag or path is never one.
    if args
        .first()
        .is_none_or(|a| a.starts_with('-') || a.contains(['/', '\\', '.']))
    {
        return None;
    }
    home.pins().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes;

    #[test]
    fn relative_paths_between_canonical_directories() {
        let rel = |a: &str, b: &str| relative_path(Path::new(a), Path::new(b));
        assert_eq!(rel("/a/b", "/a/c/d").as_deref(), Some("../c/d"));
        assert_eq!(rel("/a", "/a/reg").as_deref(), Some("reg"));
        assert_eq!(rel("/a/b", "/a/b").as_deref(), Some("."));
        assert_eq!(rel("/a/b/c", "/x").as_deref(), Some("../../../x"));
    }

    #[test]
    fn lockfile_registries_are_relative_to_the_lockfile() {
        let from = |lock: &str, reg: &str| registry_from_lock(Path::new(lock), reg);
        assert_eq!(from("gait.lock", "reg"), "reg");
        assert_eq!(from("./gait.lock", "reg"), "reg");
        assert_eq!(
            Path::new(&from("proj/gait.lock", "reg")),
            Path::new("proj").join("reg")
        );
        assert_eq!(
            Path::new(&from("proj/gait.lock", "../shared/reg")),
            Path::new("proj").join("../shared/reg")
        );
        assert_eq!(from("proj/gait.lock", "/abs/reg"), "/abs/reg");
        assert_eq!(
            from("proj/gait.lock", "https://plugins.example/r"),
            "https://plugins.example/r"
        );
        // Recording: URLs and absolute directories as typed; the same registry keeps its spelling.
        let dir = tempfile::tempdir().unwrap();
        let reg = dir.path().join("reg");
        std::fs::create_dir_all(&reg).unwrap();
        std::fs::create_dir_all(dir.path().join("proj")).unwrap();
        let lock = dir.path().join("proj/gait.lock");
        let abs = reg.display().to_string();
        assert_eq!(registry_for_lock(&lock, None, &abs), abs);
        assert_eq!(
            registry_for_lock(&lock, None, "https://plugins.example/r/"),
            "https://plugins.example/r/"
        );
        assert_eq!(registry_for_lock(&lock, Some("../reg"), &abs), "../reg");
        assert_eq!(registry_for_lock(&lock, Some("../other"), &abs), abs);
    }

    #[test]
    fn plans_need_something_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let home = PluginHome::new(dir.path());
        let plan = InstallPlan {
            registry: None,
            specs: vec![],
            locked: false,
            lockfile: None,
            settings: FetchSettings::default(),
        };
        let now = GoTime::parse("2026-01-01T00:00:00Z").unwrap();
        assert!(install_plan(&home, &plan, now).is_err());
        let e = install_plan(
            &home,
            &InstallPlan {
                specs: vec!["x".into()],
                ..plan.clone()
            },
            now,
        )
        .unwrap_err();
        assert!(e.message.contains("no registry"), "{}", e.message);
        let e = install_plan(
            &home,
            &InstallPlan {
                locked: true,
                lockfile: Some(dir.path().join("gait.lock")),
                ..plan.clone()
            },
            now,
        )
        .unwrap_err();
        assert_eq!(e.error_code(), codes::LOCK_MISSING);
        assert!(
            update(
                &home,
                &InstallPlan {
                    locked: true,
                    ..plan.clone()
                },
                now
            )
            .is_err()
        );
        assert!(remove(&home, &[], &None).is_err());
        assert!(verify(&home, &[]).unwrap().is_empty());
        assert!(find_extension(&home, &["x".into()]).is_none());
        assert!(find_extension(&home, &["--json".into()]).is_none());
    }
}
