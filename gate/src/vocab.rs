//! The closed vocabularies of the gate (CONTRACTS §2.1–2.5): every enum value a policy or intent may
//! use, in one place.

pub const TARGET_KINDS: &[&str] = &[
    "path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other",
];

pub const ENDPOINT_CLASSES: &[&str] = &[
    "fs.read",
    "fs.write",
    "fs.delete",
    "proc.exec",
    "net.http",
    "net.dns",
    "ui.click",
    "ui.type",
    "ui.navigate",
    "other",
];

pub const DISCOVERY_METHODS: &[&str] = &[
    "webmcp",
    "dynamic_mcp",
    "a2a",
    "mcp",
    "static_mcp",
    "manual",
    "unknown",
];

pub const PROVENANCE_SOURCES: &[&str] = &["user", "tool_output", "external", "system"];

pub const CREDENTIAL_SOURCES: &[&str] = &[
    "aws_iam_user",
    "aws_sts",
    "azure_federated",
    "command",
    "env",
    "gcp_sts",
    "github_oidc",
    "github_pat",
    "kubernetes_service_account",
    "stub",
    "unknown",
    "vault_dynamic",
];

pub const CREDENTIAL_ACCESS_TYPES: &[&str] = &[
    "cloud_admin",
    "inherited",
    "jit",
    "standing",
    "static",
    "unknown",
];

pub const NETWORK_MODES: &[&str] = &["disabled", "egress_allowlist", "full"];
pub const ENV_EXPOSURE_MODES: &[&str] = &["allowlist", "full", "none"];
pub const FILESYSTEM_ISOLATIONS: &[&str] = &["container", "none", "workspace"];
pub const USER_MODES: &[&str] = &["default", "root", "unprivileged"];

pub const FAIL_CLOSED_FIELDS: &[&str] = &[
    "targets",
    "arg_provenance",
    "endpoint_class",
    "delegation",
    "context_evidence",
];

pub const FAIL_CLOSED_HIGH_RISK_FIELDS: &[&str] = &[
    "agent_id",
    "agent_identity",
    "run_id",
    "workflow_id",
    "repo",
    "environment",
    "credential_ref",
    "credential_source",
    "credential_access_type",
    "credential_issuer",
    "credential_ttl_seconds",
    "approval_ref",
    "wrkr_inventory_ref",
    "agent_action_bom_ref",
];

/// Discovery methods are lowercased with `-` and spaces turned into `_` (so `WEB-MCP` is `web_mcp`,
/// which is not a valid method; only `webmcp` is).
pub fn normalize_discovery_method(s: &str) -> String {
    crate::text::lower_trim(s)
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect()
}
