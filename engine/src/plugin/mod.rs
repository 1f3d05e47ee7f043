//! The plugin seams: types every plugin kind shares. Each trait lands with its first real
//! implementation; regress brought [`Grader`], the plugin host [`Pack`] and [`Extension`] (see
//! ARCHITECTURE.md "Plugin seams"). Policy predicates and credential brokers are gate seams
//! (`gait_gate::predicate`, `gait_gate::broker`), since only the gate calls them.

mod extension;
mod grader;
mod pack;

pub use extension::{Extension, ExtensionCommand, ExtensionOutput};
pub use grader::{
    FixtureCache, FixtureView, GradeOptions, GradeOutcome, Grader, LoadedRunpack, RunpackView,
};
pub use pack::{Pack, PolicyTemplate, template_key};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Semver of the plugin API. Manifests declare a requirement (e.g. `^1.0`); a plugin whose
/// requirement does not match is refused before it is loaded.
pub const PLUGIN_API_VERSION: &str = "1.0.0";

/// What a plugin does (ARCHITECTURE.md "Plugin seams"). `Predicate` is a policy-rule predicate
/// (`match: {predicate: NAME}`); `Adapter` is reserved for the MCP work and not installable yet.
/// One definition for the whole workspace: manifests, the registry index, pins, `gait plugin list`
/// and the plugin host all use this type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    Grader,
    Predicate,
    CredentialBroker,
    Pack,
    Extension,
    Adapter,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Grader => "grader",
            PluginKind::Predicate => "predicate",
            PluginKind::CredentialBroker => "credential_broker",
            PluginKind::Pack => "pack",
            PluginKind::Extension => "extension",
            PluginKind::Adapter => "adapter",
        }
    }
}

/// How a plugin is provided. `Data` is a pack of files (policy templates) with no code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginForm {
    Builtin,
    Rhai,
    Lua,
    Native,
    Data,
}

impl PluginForm {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginForm::Builtin => "builtin",
            PluginForm::Rhai => "rhai",
            PluginForm::Lua => "lua",
            PluginForm::Native => "native",
            PluginForm::Data => "data",
        }
    }

    /// True for sandboxed script forms.
    pub fn is_script(self) -> bool {
        matches!(self, PluginForm::Rhai | PluginForm::Lua)
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PluginForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plugin's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub version: semver::Version,
    pub kind: PluginKind,
    pub form: PluginForm,
}

impl PluginInfo {
    /// A plugin at version 1.0.0 (builtins, and scripts, which carry no version of their own).
    pub fn v1(name: &str, kind: PluginKind, form: PluginForm) -> Self {
        PluginInfo {
            name: name.to_string(),
            version: semver::Version::new(1, 0, 0),
            kind,
            form,
        }
    }

    /// A builtin plugin of this gait build.
    pub fn builtin(name: &str, kind: PluginKind) -> Self {
        Self::v1(name, kind, PluginForm::Builtin)
    }

    /// `name@version`, as messages and result details name a plugin.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Why a plugin call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginErrorKind {
    /// Bad input or a bad script (does not compile, returns malformed data).
    Invalid,
    /// A sandbox limit stopped the plugin.
    Limit,
    /// A capability the plugin asked for was refused.
    Denied,
    /// The plugin's own failure.
    Failed,
    /// The plugin (or what it returned) failed gait's verification: refused, not run.
    Refused,
}

/// The error every plugin call returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    pub kind: PluginErrorKind,
    /// Stable snake_case code, e.g. `script_limit_exceeded`, `grader_error`.
    pub reason_code: String,
    /// Human text; never contains credential values.
    pub message: String,
}

impl PluginError {
    pub fn new(kind: PluginErrorKind, reason_code: &str, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            reason_code: reason_code.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason_code, self.message)
    }
}

impl std::error::Error for PluginError {}
