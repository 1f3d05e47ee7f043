//! Project defaults from `.gait/config.yaml` (CONTRACTS §1.1): the `gate:` section supplies values
//! for `gate eval` flags that were not given (flags always win). The file is decoded as strictly as a
//! policy: unknown keys, duplicate keys and wrong types are errors naming the key and its position.

use serde::Deserialize;

/// The default location, relative to the working directory.
pub const DEFAULT_PATH: &str = ".gait/config.yaml";
/// Config files larger than this are refused.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectConfig {
    pub gate: GateDefaults,
    pub mcp_serve: McpServeDefaults,
    pub retention: RetentionDefaults,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GateDefaults {
    pub policy: String,
    pub profile: String,
    pub key_mode: String,
    pub private_key: String,
    pub private_key_env: String,
    pub approval_public_key: String,
    pub approval_public_key_env: String,
    pub approval_private_key: String,
    pub approval_private_key_env: String,
    pub kill_switch_state: String,
    pub rate_limit_state: String,
    pub credential_broker: String,
    pub credential_env_prefix: String,
    pub credential_ref: String,
    pub credential_scopes: Vec<String>,
    pub credential_command: String,
    pub credential_command_args: Vec<String>,
    pub credential_evidence_path: String,
    pub trace_path: String,
    pub wrkr_inventory_path: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct McpServeDefaults {
    pub enabled: bool,
    pub listen: String,
    pub auth_mode: String,
    pub auth_token_env: String,
    pub max_request_bytes: i64,
    pub http_verdict_status: String,
    pub allow_client_artifact_paths: bool,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionDefaults {
    pub trace_ttl: String,
    pub session_ttl: String,
    pub export_ttl: String,
}

/// Parses config YAML.
pub fn parse(text: &str) -> Result<ProjectConfig, String> {
    crate::yaml::decode::<ProjectConfig>(text, "ProjectConfig")
        .map_err(|e| format!("parse project config: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gate_defaults_and_rejects_unknown_keys() {
        let c =
            parse("gate:\n  policy: p.yaml\n  profile: oss-prod\n  credential_scopes: [a, b]\n")
                .unwrap();
        assert_eq!(c.gate.policy, "p.yaml");
        assert_eq!(c.gate.credential_scopes, vec!["a", "b"]);
        assert_eq!(
            parse("gate:\n  polcy: p.yaml\n").unwrap_err(),
            "parse project config: [2:3] unknown field \"polcy\""
        );
        assert!(parse("").unwrap().gate.policy.is_empty());
    }
}
