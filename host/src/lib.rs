//! gait-host: the plugin host. It holds the builtin plugins and loads installed ones by name
//! through gait-registry's verified loaders, and it is what every consumer asks for a plugin:
//! `gait regress run` for graders, `gait gate eval` / `gait policy …` for predicates (and brokers),
//! `gait policy init --pack` for packs, the CLI for extension commands, `gait plugin list` for the
//! catalog.
//!
//! Resolution is one rule everywhere ([`PluginHost::resolve`]): an installed plugin replaces a
//! builtin of the same name and kind only when its version is higher; otherwise the builtin wins.
//! An installed plugin is verified every time it is loaded (pin, signature by a key trusted now,
//! API, every file's sha256) and only then handed to its consumer: script text to the sandbox,
//! native bytes to the loader. Nothing is loaded before a command needs it — constructing a host
//! reads nothing.
//!
//! Like the engine, the host reads no environment variables and no clock: the CLI passes the gait
//! home (and, for brokers, an environment snapshot).

pub mod brokers;
pub mod builtins;
mod extension;
mod graders;
mod packs;
mod predicates;

pub use brokers::ScriptBroker;
pub use builtins::builtin_plugins;
pub use extension::NativeExtension;
pub use graders::{NATIVE_VIEW_BUDGET, NativeGrader, native_fixture_json};
pub use packs::{BaselinePack, InstalledPack};
pub use predicates::HostPredicates;

use gait_engine::GaitError;
use gait_engine::plugin::{PluginError, PluginErrorKind, PluginKind};
use gait_registry::catalog::{self, BuiltinPlugin, ListedPlugin};
use gait_registry::codes;
use gait_registry::install;
use gait_registry::loader::{self, LoadOptions, NativePlugin, ScriptPlugin};
use gait_registry::store::{Pin, PluginHome};
use gait_registry::trust::TrustStore;
use gait_sandbox::{Limits, Sandbox};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// Where a plugin of a name and kind comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Builtin(BuiltinPlugin),
    Installed(Box<Pin>),
}

/// The plugin host of one gait process.
pub struct PluginHost {
    home: PluginHome,
    limits: Limits,
    sandbox: OnceLock<Arc<Sandbox>>,
    predicates: OnceLock<Arc<HostPredicates>>,
    /// Verified script plugins and loaded native plugins of this process, by name: a plugin named
    /// by a thousand fixtures is verified and loaded once (and a native library mapped once —
    /// abi_stable never unloads).
    scripts: Mutex<BTreeMap<(String, PluginKind), Result<ScriptPlugin, GaitError>>>,
    natives: Mutex<BTreeMap<String, Result<Arc<NativePlugin>, GaitError>>>,
}

impl PluginHost {
    /// A host over the plugins installed below `gait_home` (nothing is read yet).
    pub fn new(gait_home: &Path) -> PluginHost {
        Self::with_limits(gait_home, Limits::default())
    }

    /// A host whose script plugins run under `limits`.
    pub fn with_limits(gait_home: &Path, limits: Limits) -> PluginHost {
        PluginHost {
            home: PluginHome::new(gait_home),
            limits,
            sandbox: OnceLock::new(),
            predicates: OnceLock::new(),
            scripts: Mutex::new(BTreeMap::new()),
            natives: Mutex::new(BTreeMap::new()),
        }
    }

    /// The installed script plugin `name` of `kind`, verified once per process.
    pub fn script(&self, name: &str, kind: PluginKind) -> Result<ScriptPlugin, GaitError> {
        let mut scripts = self.scripts.lock().unwrap_or_else(|e| e.into_inner());
        scripts
            .entry((name.to_string(), kind))
            .or_insert_with(|| loader::load_script(&self.home, name, kind))
            .clone()
    }

    /// The installed native plugin `name`, verified and loaded once per process.
    pub fn native(&self, name: &str) -> Result<Arc<NativePlugin>, GaitError> {
        let mut natives = self.natives.lock().unwrap_or_else(|e| e.into_inner());
        natives
            .entry(name.to_string())
            .or_insert_with(|| {
                loader::load_native(&self.home, name, LoadOptions::default()).map(Arc::new)
            })
            .clone()
    }

    pub fn home(&self) -> &PluginHome {
        &self.home
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The sandbox script plugins run in (created on first use).
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        self.sandbox
            .get_or_init(|| Arc::new(Sandbox::new(self.limits.clone())))
    }

    /// Every plugin, builtin and installed, as `gait plugin list` shows them; each installed one
    /// verified as its loader would (so the listing says which would be refused).
    pub fn list(&self) -> Result<Vec<ListedPlugin>, GaitError> {
        let pins = self.home.pins()?;
        let trust = if pins.is_empty() {
            TrustStore::default()
        } else {
            TrustStore::load(&self.home.trust_path())?
        };
        let verify = |pin: &Pin| install::verify_pin(&self.home, &trust, pin, false).err();
        Ok(catalog::list(&builtin_plugins(), &pins, &verify))
    }

    /// Which plugin `name` of `kind` is active: the installed one when there is no builtin of that
    /// name and kind or it is newer, else the builtin. `None` when neither exists. An installed
    /// plugin of that name but another kind is an error that says so.
    pub fn resolve(&self, name: &str, kind: PluginKind) -> Result<Option<Source>, GaitError> {
        let builtin = builtin_plugins()
            .into_iter()
            .find(|b| b.name == name && b.kind == kind);
        let pin = self.home.read_pin(name)?;
        Ok(match (builtin, pin) {
            (Some(b), Some(p)) if p.kind == kind && catalog::newer(&p.version, b.version) => {
                Some(Source::Installed(Box::new(p)))
            }
            (Some(b), _) => Some(Source::Builtin(b)),
            (None, Some(p)) if p.kind == kind => Some(Source::Installed(Box::new(p))),
            (None, Some(p)) => {
                return Err(codes::invalid(
                    codes::MANIFEST_INVALID,
                    format!("plugin {name} is a {} plugin, not a {kind}", p.kind),
                )
                .with_hint("list installed plugins with `gait plugin list`"));
            }
            (None, None) => None,
        })
    }

    /// The predicates of this host (compiled once per process, shared by every policy load).
    pub fn predicates(&self) -> Arc<HostPredicates> {
        self.predicates
            .get_or_init(|| {
                Arc::new(HostPredicates::new(
                    self.home.clone(),
                    self.sandbox().clone(),
                ))
            })
            .clone()
    }
}

/// A plugin-call failure as a gait error: the plugin's own invalid-input report is the user's to
/// fix (exit 6); anything else is the plugin's failure (exit 1). The reason code is kept.
pub fn plugin_error(e: PluginError) -> GaitError {
    let err = match e.kind {
        PluginErrorKind::Invalid => GaitError::invalid(e.message),
        PluginErrorKind::Denied => GaitError::unsafe_refused(e.message),
        PluginErrorKind::Refused => GaitError::verification(e.message),
        PluginErrorKind::Limit | PluginErrorKind::Failed => GaitError::internal(e.message),
    };
    err.with_code(e.reason_code)
}

/// A gait error inside a plugin call, as the plugin seams report it.
pub(crate) fn to_plugin_error(e: GaitError) -> PluginError {
    use gait_engine::error::exit;
    let kind = match e.exit_code() {
        exit::INVALID_INPUT => PluginErrorKind::Invalid,
        exit::VERIFY_FAILED => PluginErrorKind::Refused,
        exit::UNSAFE_REFUSED => PluginErrorKind::Denied,
        _ => PluginErrorKind::Failed,
    };
    PluginError::new(kind, &e.error_code(), e.message)
}
