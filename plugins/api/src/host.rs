//! The loading side: opens a library, checks its root module and calls it through JSON.
//!
//! This module does no verification of its own. gait's loader (gait-registry) verifies the pin, the
//! signature over the library's exact bytes and the declared plugin-API version first, then copies
//! the verified bytes somewhere private and hands that copy to [`load_library`].

use super::*;
use abi_stable::library::{LibraryError, lib_header_from_path};
use std::path::Path;

/// Why a library could not be loaded or answered badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    pub reason_code: &'static str,
    pub message: String,
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

fn load_error(e: LibraryError) -> HostError {
    let reason_code = match &e {
        LibraryError::OpenError { .. } => "plugin_library_open_failed",
        LibraryError::GetSymbolError { .. } => "plugin_root_module_missing",
        LibraryError::ParseVersionError(_) | LibraryError::IncompatibleVersionNumber { .. } => {
            "plugin_api_incompatible"
        }
        LibraryError::AbiInstability(_) | LibraryError::InvalidAbiHeader(_) => {
            "plugin_abi_incompatible"
        }
        _ => "plugin_load_failed",
    };
    HostError {
        reason_code,
        message: e.to_string(),
    }
}

/// A loaded native plugin. abi_stable never unloads libraries, so this stays valid for the process.
#[derive(Clone, Copy)]
pub struct LoadedPlugin {
    module: PluginModRef,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoadedPlugin")
    }
}

/// Loads the library at `path` and checks its root module (abi_stable version and layout).
///
/// # Safety
///
/// Loading runs the library's initialisers with the full rights of this process. The caller must
/// have verified that the file's bytes are trusted (signed, pinned) and that nothing can change
/// them between that check and this call.
pub unsafe fn load_library(path: &Path) -> Result<LoadedPlugin, HostError> {
    let header = lib_header_from_path(path).map_err(load_error)?;
    let module = header
        .init_root_module::<PluginModRef>()
        .map_err(load_error)?;
    Ok(LoadedPlugin { module })
}

fn bad_reply(call: &str, e: serde_json::Error) -> PluginFailure {
    PluginFailure::new(
        "plugin_reply_invalid",
        format!("the plugin's {call} reply is not valid: {e}"),
    )
}

fn decode_failure(call: &str, text: &str) -> PluginFailure {
    serde_json::from_str::<PluginFailure>(text).unwrap_or_else(|e| bad_reply(call, e))
}

impl LoadedPlugin {
    /// The plugin-API version the library says it was built against.
    pub fn api_version(&self) -> String {
        (self.module.api_version())().into_string()
    }

    pub fn describe(&self) -> Result<PluginDescription, PluginFailure> {
        let text = (self.module.describe())();
        serde_json::from_str(text.as_str()).map_err(|e| bad_reply("describe", e))
    }

    pub fn commands(&self) -> Result<Vec<CommandSpec>, PluginFailure> {
        let text = (self.module.commands())();
        serde_json::from_str(text.as_str()).map_err(|e| bad_reply("commands", e))
    }

    /// Grades one fixture view.
    pub fn grade(&self, fixture: &serde_json::Value) -> Result<GradeOutcome, PluginFailure> {
        let input = serde_json::to_string(fixture)
            .map_err(|e| PluginFailure::invalid_input(e.to_string()))?;
        match (self.module.grade())(RStr::from_str(&input)) {
            RResult::ROk(text) => {
                serde_json::from_str(text.as_str()).map_err(|e| bad_reply("grade", e))
            }
            RResult::RErr(text) => Err(decode_failure("grade", text.as_str())),
        }
    }

    pub fn run_command(&self, request: &CommandRequest) -> Result<CommandOutput, PluginFailure> {
        let input = serde_json::to_string(request)
            .map_err(|e| PluginFailure::invalid_input(e.to_string()))?;
        match (self.module.run_command())(RStr::from_str(&input)) {
            RResult::ROk(text) => {
                serde_json::from_str(text.as_str()).map_err(|e| bad_reply("run_command", e))
            }
            RResult::RErr(text) => Err(decode_failure("run_command", text.as_str())),
        }
    }
}
