//! The plugin home (`<gait home>/plugins/`): installed files, pins, trust keys, registry state.
//!
//! ```text
//! plugins/
//!   trust.json                      trusted publisher keys (trust.rs)
//!   registries.json                 highest index version seen per registry (rollback protection)
//!   pins/<name>.json                what is installed and was verified: the pin
//!   store/<name>/<version>-<digest16>/manifest.json + files
//!   .staging/                       installs in progress (renamed into store/ when complete)
//!   state.lock                      the reference's lock protocol around every change
//! ```
//!
//! The pin is the source of truth: a plugin is installed exactly when its pin exists, and loading
//! re-verifies everything the pin points to. Pins are replaced atomically, after the new files are
//! complete in place, so an interrupted install leaves the previous version installed.

use crate::codes;
use crate::index::RegistryIndex;
use crate::manifest::{self, CommandDecl};
use crate::model::{PluginForm, PluginKind};
use crate::relpath;
use gait_engine::fsx::{self, LockGuard, LockSettings};
use gait_engine::{GaitError, GoTime};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const PIN_SCHEMA_ID: &str = "gait.plugin.pin";
pub const STATE_SCHEMA_ID: &str = "gait.plugin.registry_state";
pub const SCHEMA_VERSION: &str = "1.0.0";
const MAX_SMALL_FILE: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub schema_id: String,
    pub schema_version: String,
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub form: PluginForm,
    /// The registry it came from: its canonical directory path or normalized base URL.
    pub registry: String,
    /// The requirement it was installed for (`update` resolves it again).
    pub requirement: String,
    pub manifest_digest: String,
    /// Trusted keys whose signatures were accepted at install.
    pub key_ids: Vec<String>,
    /// The installed directory, relative to the plugin home.
    pub dir: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandDecl>,
    pub installed_at: GoTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryState {
    pub schema_id: String,
    pub schema_version: String,
    pub registries: Vec<SeenIndex>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenIndex {
    pub registry: String,
    pub index_version: u64,
    pub index_digest: String,
    pub seen_at: GoTime,
}

/// The plugin home directory and its files.
#[derive(Clone, Debug)]
pub struct PluginHome {
    root: PathBuf,
}

impl PluginHome {
    /// The plugin home below a gait home directory.
    pub fn new(gait_home: &Path) -> PluginHome {
        PluginHome {
            root: gait_home.join("plugins"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn trust_path(&self) -> PathBuf {
        self.root.join("trust.json")
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join("registries.json")
    }

    pub fn pins_dir(&self) -> PathBuf {
        self.root.join("pins")
    }

    pub fn pin_path(&self, name: &str) -> PathBuf {
        self.pins_dir().join(format!("{name}.json"))
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.root.join(".staging")
    }

    /// Where native libraries are copied for loading when no sealed memory file is available.
    pub fn load_dir(&self) -> PathBuf {
        self.root.join(".load")
    }

    /// The relative directory a plugin version is installed to.
    pub fn install_rel(name: &str, version: &str, digest: &str) -> String {
        format!("store/{name}/{version}-{}", &digest[..16.min(digest.len())])
    }

    /// Takes the plugin home's lock (`state.lock`, the reference's protocol).
    pub fn lock(&self) -> Result<LockGuard, GaitError> {
        fsx::create_dir_all(&self.root)?;
        Ok(fsx::acquire_lock(
            &self.root.join("state"),
            LockSettings::default(),
        )?)
    }

    /// The installed directory of a pin, refusing a pin that points outside the store.
    pub fn installed_dir(&self, pin: &Pin) -> Result<PathBuf, GaitError> {
        if relpath::problem(&pin.dir).is_some() || !pin.dir.starts_with("store/") {
            return Err(codes::refuse(
                codes::FILE_MODIFIED,
                format!("pin of {} points outside the plugin store", pin.name),
            ));
        }
        Ok(relpath::join(&self.root, &pin.dir))
    }

    pub fn read_pin(&self, name: &str) -> Result<Option<Pin>, GaitError> {
        if manifest::name_problem(name).is_some() {
            return Err(GaitError::invalid(format!("{name:?} is not a plugin name")));
        }
        let path = self.pin_path(name);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = fsx::read_bounded(&path, MAX_SMALL_FILE)?;
        let pin: Pin = crate::json::strict(&bytes, "plugin pin", "plugin_pin_invalid")?;
        if pin.schema_id != PIN_SCHEMA_ID || pin.name != name {
            return Err(codes::refuse(
                codes::FILE_MODIFIED,
                format!("{} is not the pin of {name}", path.display()),
            ));
        }
        Ok(Some(pin))
    }

    /// The pin of an installed plugin, or a clear error.
    pub fn require_pin(&self, name: &str) -> Result<Pin, GaitError> {
        self.read_pin(name)?.ok_or_else(|| {
            codes::invalid(
                codes::NOT_INSTALLED,
                format!("plugin {name} is not installed"),
            )
            .with_hint("list installed plugins with `gait plugin list`")
        })
    }

    /// Every pin, sorted by name.
    pub fn pins(&self) -> Result<Vec<Pin>, GaitError> {
        let dir = self.pins_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json").map(str::to_string)
            })
            .filter(|n| manifest::name_problem(n).is_none())
            .collect();
        names.sort();
        let mut pins = Vec::new();
        for n in names {
            if let Some(p) = self.read_pin(&n)? {
                pins.push(p);
            }
        }
        Ok(pins)
    }

    pub fn write_pin(&self, pin: &Pin) -> Result<(), GaitError> {
        fsx::write_atomic(
            &self.pin_path(&pin.name),
            &crate::json::indented(pin)?,
            0o600,
        )?;
        Ok(())
    }

    pub fn remove_pin(&self, name: &str) -> Result<(), GaitError> {
        match std::fs::remove_file(self.pin_path(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(GaitError::io(format!(
                "remove pin of {name}: {}",
                fsx::io_reason(&e)
            ))),
        }
    }

    pub fn read_state(&self) -> Result<RegistryState, GaitError> {
        let path = self.state_path();
        if !path.exists() {
            return Ok(RegistryState {
                schema_id: STATE_SCHEMA_ID.into(),
                schema_version: SCHEMA_VERSION.into(),
                registries: Vec::new(),
            });
        }
        let bytes = fsx::read_bounded(&path, 16 * MAX_SMALL_FILE)?;
        crate::json::strict(&bytes, "registry state", "registry_state_invalid")
    }

    /// Refuses an index older than the newest one seen from this registry, or a different index
    /// under the same version. With `record`, remembers this one (the caller holds the lock).
    pub fn check_index(
        &self,
        registry_id: &str,
        index: &RegistryIndex,
        digest: &str,
        now: GoTime,
        record: bool,
    ) -> Result<(), GaitError> {
        let mut state = self.read_state()?;
        if let Some(seen) = state.registries.iter().find(|s| s.registry == registry_id) {
            if index.version < seen.index_version {
                return Err(codes::refuse(
                    codes::INDEX_ROLLBACK,
                    format!(
                        "registry index version {} is older than version {} already seen from {registry_id}: refusing a rollback",
                        index.version, seen.index_version
                    ),
                )
                .with_hint("the registry or a mirror serves a stale index; ask its operator to publish a newer one"));
            }
            if index.version == seen.index_version && digest != seen.index_digest {
                return Err(codes::refuse(
                    codes::INDEX_ROLLBACK,
                    format!(
                        "registry index version {} from {registry_id} differs from the index seen earlier under the same version",
                        index.version
                    ),
                )
                .with_hint("a registry must raise the index version with every change (`gait registry index` does)"));
            }
            if index.version == seen.index_version || !record {
                return Ok(());
            }
        } else if !record {
            return Ok(());
        }
        state.registries.retain(|s| s.registry != registry_id);
        state.registries.push(SeenIndex {
            registry: registry_id.to_string(),
            index_version: index.version,
            index_digest: digest.to_string(),
            seen_at: now.utc(),
        });
        state.registries.sort_by(|a, b| a.registry.cmp(&b.registry));
        fsx::write_atomic(&self.state_path(), &crate::json::indented(&state)?, 0o600)?;
        Ok(())
    }
}

/// Removes a directory tree, ignoring one that is already gone.
pub fn remove_tree(path: &Path) -> Result<(), GaitError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(GaitError::io(format!(
            "remove {}: {}",
            path.display(),
            fsx::io_reason(&e)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::sample;

    #[test]
    fn rollback_and_equivocation_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = PluginHome::new(dir.path());
        let now = GoTime::parse("2026-01-02T00:00:00Z").unwrap();
        let mut idx = sample();
        idx.version = 5;
        home.check_index("reg", &idx, "d5", now, true).unwrap();
        // The same index again is fine.
        home.check_index("reg", &idx, "d5", now, true).unwrap();
        idx.version = 4;
        let e = home.check_index("reg", &idx, "d4", now, true).unwrap_err();
        assert_eq!(e.error_code(), codes::INDEX_ROLLBACK);
        idx.version = 5;
        assert!(home.check_index("reg", &idx, "other", now, true).is_err());
        // Other registries are independent.
        idx.version = 1;
        home.check_index("other-reg", &idx, "d1", now, true)
            .unwrap();
        idx.version = 6;
        home.check_index("reg", &idx, "d6", now, false).unwrap();
        // Not recorded: version 5 is still the floor.
        idx.version = 5;
        home.check_index("reg", &idx, "d5", now, false).unwrap();
        idx.version = 6;
        home.check_index("reg", &idx, "d6", now, true).unwrap();
        idx.version = 5;
        assert!(home.check_index("reg", &idx, "d5", now, false).is_err());
    }

    #[test]
    fn pins_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let home = PluginHome::new(dir.path());
        assert!(home.read_pin("x").unwrap().is_none());
        assert_eq!(
            home.require_pin("x").unwrap_err().error_code(),
            codes::NOT_INSTALLED
        );
        assert!(home.read_pin("../x").is_err());
        let pin = Pin {
            schema_id: PIN_SCHEMA_ID.into(),
            schema_version: SCHEMA_VERSION.into(),
            name: "x".into(),
            version: "1.0.0".into(),
            kind: PluginKind::Grader,
            form: PluginForm::Rhai,
            registry: "r".into(),
            requirement: "*".into(),
            manifest_digest: "d".repeat(64),
            key_ids: vec![],
            dir: PluginHome::install_rel("x", "1.0.0", &"d".repeat(64)),
            commands: vec![],
            installed_at: GoTime::zero(),
        };
        home.write_pin(&pin).unwrap();
        assert_eq!(home.pins().unwrap(), vec![pin.clone()]);
        assert!(home.installed_dir(&pin).is_ok());
        let mut evil = pin.clone();
        evil.dir = "../../etc".into();
        assert!(home.installed_dir(&evil).is_err());
        evil.dir = "trust.json".into();
        assert!(home.installed_dir(&evil).is_err());
        // A pin file under another name is refused.
        std::fs::copy(home.pin_path("x"), home.pin_path("y")).unwrap();
        assert!(home.read_pin("y").is_err());
        home.remove_pin("x").unwrap();
        home.remove_pin("x").unwrap();
    }
}
