//! The builtin plugins of this gait build, as `gait plugin list` shows them and as
//! [`crate::PluginHost::resolve`] finds them. Each has a name, a semver version and a kind; an
//! installed plugin of the same name and kind with a higher version replaces it.

use gait_engine::plugin::PluginKind;
use gait_graders::builtin as g;
use gait_registry::catalog::BuiltinPlugin;

/// The version every builtin of this build carries (`PluginInfo::builtin`).
pub const BUILTIN_VERSION: &str = "1.0.0";

/// The builtin policy-template pack (`gait policy init --pack baseline TEMPLATE`).
pub const BASELINE_PACK: &str = "baseline";

const fn builtin(name: &'static str, kind: PluginKind, summary: &'static str) -> BuiltinPlugin {
    BuiltinPlugin {
        name,
        version: BUILTIN_VERSION,
        kind,
        summary,
    }
}

/// Regress graders (gait-graders).
const GRADERS: &[BuiltinPlugin] = &[
    builtin(
        g::SCHEMA_VALIDATION,
        PluginKind::Grader,
        "runpack verification and schema checks",
    ),
    builtin(
        g::EXPECTED_EXIT_CODE,
        PluginKind::Grader,
        "stub replay exit code against the fixture's expectation",
    ),
    builtin(
        g::TRAJECTORY,
        PluginKind::Grader,
        "tool and verdict sequences against the fixture's expectations",
    ),
    builtin(
        g::DIFF,
        PluginKind::Grader,
        "baseline to candidate differences against the allowed changes",
    ),
    builtin(
        g::CONTEXT_CONFORMANCE,
        PluginKind::Grader,
        "context evidence and context drift",
    ),
];

/// Credential brokers (gait-gate).
/// `off` is not listed: it is the absence of a broker (a setting), and no plugin may take its name.
const BROKERS: &[BuiltinPlugin] = &[
    builtin(
        "stub",
        PluginKind::CredentialBroker,
        "deterministic stub:<hex> references derived from the request",
    ),
    builtin(
        "env",
        PluginKind::CredentialBroker,
        "fingerprinted references to credentials in GAIT_BROKER_TOKEN_<REF> variables",
    ),
    builtin(
        "command",
        PluginKind::CredentialBroker,
        "an allowlisted executable that prints a JSON receipt",
    ),
];

/// Policy-template packs (gait-gate templates).
const PACKS: &[BuiltinPlugin] = &[builtin(
    BASELINE_PACK,
    PluginKind::Pack,
    "baseline-lowrisk, baseline-mediumrisk and baseline-highrisk policy templates",
)];

/// Every builtin plugin, grouped by area.
pub fn builtin_plugins() -> Vec<BuiltinPlugin> {
    [GRADERS, BROKERS, PACKS].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_graders_are_the_graders_crate_ones() {
        let listed: Vec<(&str, &str)> = GRADERS.iter().map(|b| (b.name, b.version)).collect();
        let actual: Vec<(String, String)> = gait_graders::builtin_graders()
            .into_iter()
            .map(|info| (info.name, info.version.to_string()))
            .collect();
        assert_eq!(
            listed,
            actual
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            gait_engine::regress::BUILTIN_GRADERS.to_vec(),
            listed.iter().map(|(n, _)| *n).collect::<Vec<_>>()
        );
    }

    #[test]
    fn builtins_are_unique_and_semver() {
        let all = builtin_plugins();
        for (i, b) in all.iter().enumerate() {
            assert!(semver::Version::parse(b.version).is_ok(), "{}", b.name);
            assert!(
                gait_registry::manifest::name_problem(b.name).is_none(),
                "{}",
                b.name
            );
            assert!(
                !all[..i]
                    .iter()
                    .any(|o| o.name == b.name && o.kind == b.kind),
                "{} listed twice",
                b.name
            );
        }
    }
}
