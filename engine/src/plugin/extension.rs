//! The `Extension` plugin seam: a plugin that contributes CLI commands (`gait <words> …`).
//!
//! Commands are declared in the plugin's signed manifest, so the CLI can route `gait <words>`
//! without loading anything; the loaded plugin must offer exactly the declared commands.

use crate::plugin::{PluginError, PluginInfo};

/// A command an extension contributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionCommand {
    /// Space-separated command words, e.g. `example-native hello`.
    pub words: String,
    pub summary: String,
}

/// What a contributed command produced: gait prints `json` under `--json`, else `text`, and exits
/// with `exit_code`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtensionOutput {
    pub exit_code: i32,
    pub json: serde_json::Map<String, serde_json::Value>,
    pub text: String,
}

/// A plugin contributing CLI commands.
pub trait Extension: Send + Sync {
    fn info(&self) -> &PluginInfo;
    fn commands(&self) -> Result<Vec<ExtensionCommand>, PluginError>;
    /// Runs the command `words` with the arguments after the command words (`--json` removed;
    /// `json` says whether it was given).
    fn run(&self, words: &str, args: &[String], json: bool)
    -> Result<ExtensionOutput, PluginError>;
}
