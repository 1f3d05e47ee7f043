//! The vocabulary shared by manifests, the index, pins and `gait plugin list`. The kinds and forms
//! are the engine's ([`gait_engine::plugin`]), the one definition every crate uses; this module adds
//! the registry's rules about them.

pub use gait_engine::plugin::{PluginForm, PluginKind};

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

    #[test]
    fn one_plugin_api_version() {
        // The engine's seams and the native ABI crate describe the same plugin API.
        assert_eq!(
            gait_plugin_api::PLUGIN_API_VERSION,
            gait_engine::plugin::PLUGIN_API_VERSION
        );
    }
}
