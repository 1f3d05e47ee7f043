//! Extension commands contributed by installed native plugins (`gait <words> …`).

use crate::{PluginHost, to_plugin_error};
use gait_engine::GaitError;
use gait_engine::plugin::{
    Extension, ExtensionCommand, ExtensionOutput, PluginError, PluginForm, PluginInfo, PluginKind,
};
use gait_registry::codes;
use gait_registry::loader::NativePlugin;
use std::sync::Arc;

/// A verified, loaded native plugin's commands behind the engine's `Extension` trait.
pub struct NativeExtension {
    info: PluginInfo,
    plugin: Arc<NativePlugin>,
}

impl NativeExtension {
    pub fn new(plugin: Arc<NativePlugin>) -> Result<NativeExtension, GaitError> {
        let pin = &plugin.installed.pin;
        let version = semver::Version::parse(&pin.version).map_err(|e| {
            codes::invalid(
                codes::MANIFEST_INVALID,
                format!("plugin {}: version is not semver: {e}", pin.name),
            )
        })?;
        Ok(NativeExtension {
            info: PluginInfo {
                name: pin.name.clone(),
                version,
                kind: PluginKind::Extension,
                form: PluginForm::Native,
            },
            plugin,
        })
    }
}

impl Extension for NativeExtension {
    fn info(&self) -> &PluginInfo {
        &self.info
    }

    fn commands(&self) -> Result<Vec<ExtensionCommand>, PluginError> {
        Ok(self
            .plugin
            .commands()
            .map_err(to_plugin_error)?
            .into_iter()
            .map(|c| ExtensionCommand {
                words: c.words,
                summary: c.summary,
            })
            .collect())
    }

    fn run(
        &self,
        words: &str,
        args: &[String],
        json: bool,
    ) -> Result<ExtensionOutput, PluginError> {
        let out = self
            .plugin
            .run_command(words, args, json)
            .map_err(to_plugin_error)?;
        Ok(ExtensionOutput {
            exit_code: out.exit_code,
            json: out.json,
            text: out.text,
        })
    }
}

impl PluginHost {
    /// The installed native plugin `name` as an extension (verified and loaded now).
    pub fn extension(&self, name: &str) -> Result<NativeExtension, GaitError> {
        NativeExtension::new(self.native(name)?)
    }
}
