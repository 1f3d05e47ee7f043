//! The vocabulary shared by manifests, the index, pins and `gait plugin list`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a plugin does (ARCHITECTURE.md "Plugin seams"). `Predicate` is a policy-rule predicate
/// (`match: {predicate: NAME}`); `Adapter` is reserved for the MCP work and not installable yet.
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

/// Which kinds each installable form may provide. Native code runs with the full rights of gait, so
/// it is limited to graders and CLI extensions; credential brokers and predicates, which see live
/// intents and credentials, must be sandboxed scripts.
pub fn form_allows(form: PluginForm, kind: PluginKind) -> bool {
    match form {
        PluginForm::Rhai | PluginForm::Lua => matches!(
            kind,
            PluginKind::Grader | PluginKind::Predicate | PluginKind::CredentialBroker
        ),
        PluginForm::Native => matches!(kind, PluginKind::Grader | PluginKind::Extension),
        PluginForm::Data => kind == PluginKind::Pack,
        PluginForm::Builtin => false,
    }
}

/// The platform a native library must have been built for: `<arch>-<os>` of this gait binary.
pub fn host_target() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_kinds() {
        assert!(form_allows(PluginForm::Rhai, PluginKind::CredentialBroker));
        assert!(form_allows(PluginForm::Native, PluginKind::Extension));
        assert!(!form_allows(
            PluginForm::Native,
            PluginKind::CredentialBroker
        ));
        assert!(!form_allows(PluginForm::Rhai, PluginKind::Extension));
        assert!(!form_allows(PluginForm::Data, PluginKind::Grader));
        assert!(!form_allows(PluginForm::Builtin, PluginKind::Grader));
        assert!(!form_allows(PluginForm::Lua, PluginKind::Adapter));
        assert_eq!(
            serde_json::to_string(&PluginKind::CredentialBroker).unwrap(),
            "\"credential_broker\""
        );
        assert!(host_target().contains('-'));
    }
}
