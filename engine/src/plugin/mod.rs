//! The plugin seams: types every plugin kind shares. Each trait lands with its first real
//! implementation; regress brought [`Grader`] (see ARCHITECTURE.md "Plugin seams").

mod grader;

pub use grader::{
    FixtureCache, FixtureView, GradeOptions, GradeOutcome, Grader, LoadedRunpack, RunpackView,
};

use std::fmt;

/// Semver of the plugin API. Manifests declare a requirement (e.g. `^1.0`); a plugin whose
/// requirement does not match is refused before it is loaded.
pub const PLUGIN_API_VERSION: &str = "1.0.0";

/// What a plugin does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PluginKind {
    Grader,
    Adapter,
    CredentialBroker,
    Pack,
    Extension,
}

/// How a plugin is provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PluginForm {
    Builtin,
    Rhai,
    Lua,
    Native,
}

impl PluginForm {
    pub fn as_str(self) -> &'static str {
        match self {
            PluginForm::Builtin => "builtin",
            PluginForm::Rhai => "rhai",
            PluginForm::Lua => "lua",
            PluginForm::Native => "native",
        }
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
