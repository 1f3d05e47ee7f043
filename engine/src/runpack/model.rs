//! The runpack's JSON shapes (CONTRACTS §3.2, FIELDS §2.9), with Go's field presence rules.
//!
//! Every struct here serializes exactly the reference's field set: fields marked `omitempty` in Go are
//! skipped when empty, every other field is always written (`""`, `0`, `null`, and the zero time
//! `0001-01-01T00:00:00Z`). Deserialization follows Go's `encoding/json` where it matters for digests:
//! unknown keys are ignored and `null` leaves the zero value. Entries are written as JCS bytes, so field
//! order here does not reach the files; presence does.

use crate::GoTime;
use crate::crypto::Signature;
use serde::{Deserialize, Deserializer, Serialize};

pub const SCHEMA_VERSION: &str = "1.0.0";
pub const MANIFEST_SCHEMA_ID: &str = "gait.runpack.manifest";
pub const RUN_SCHEMA_ID: &str = "gait.runpack.run";
pub const INTENT_SCHEMA_ID: &str = "gait.runpack.intent";
pub const RESULT_SCHEMA_ID: &str = "gait.runpack.result";
pub const REFS_SCHEMA_ID: &str = "gait.runpack.refs";

pub const FILE_MANIFEST: &str = "manifest.json";
pub const FILE_RUN: &str = "run.json";
pub const FILE_INTENTS: &str = "intents.jsonl";
pub const FILE_RESULTS: &str = "results.jsonl";
pub const FILE_REFS: &str = "refs.json";
/// The files every runpack manifest must declare, in manifest order (sorted by path).
pub const REQUIRED_FILES: [&str; 4] = [FILE_INTENTS, FILE_REFS, FILE_RESULTS, FILE_RUN];

/// `null` → the zero value, as Go's decoder leaves a field untouched on `null`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// `manifest.json` (`gait.runpack.manifest` 1.0.0).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default, deserialize_with = "nullable")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "nullable")]
    pub producer_version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub run_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub capture_mode: String,
    /// Not `omitempty` in Go: `null` when nil.
    #[serde(default)]
    pub files: Option<Vec<ManifestFile>>,
    #[serde(default, deserialize_with = "nullable")]
    pub manifest_digest: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signatures: Vec<Signature>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    #[serde(default, deserialize_with = "nullable")]
    pub path: String,
    #[serde(default, deserialize_with = "nullable")]
    pub sha256: String,
}

/// `run.json` (`gait.runpack.run`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    #[serde(default, deserialize_with = "nullable")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "nullable")]
    pub producer_version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub run_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub env: RunEnv,
    /// Not `omitempty`: a missing or `null` timeline is written as `null` (vector `runpack-null-timeline`).
    #[serde(default)]
    pub timeline: Option<Vec<TimelineEvent>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEnv {
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    #[serde(default, deserialize_with = "nullable")]
    pub arch: String,
    #[serde(default, deserialize_with = "nullable")]
    pub runtime: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    #[serde(default, deserialize_with = "nullable")]
    pub event: String,
    #[serde(default, deserialize_with = "nullable")]
    pub ts: GoTime,
    #[serde(
        rename = "ref",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<Relationship>,
}

/// The relationship envelope (FIELDS §2.10): envelope fields `omitempty`, nested ids always written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ref: Option<EntityRef>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub entity_refs: Vec<EntityRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_ref: Option<PolicyRef>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub agent_chain: Vec<AgentLink>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub edges: Vec<Edge>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub parent_record_id: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related_record_ids: Vec<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related_entity_ids: Vec<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub agent_lineage: Vec<AgentLineage>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRef {
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_id: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_version: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_digest: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub matched_rule_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLink {
    #[serde(default, deserialize_with = "nullable")]
    pub identity: String,
    #[serde(default, deserialize_with = "nullable")]
    pub role: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edge {
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub from: EntityRef,
    #[serde(default, deserialize_with = "nullable")]
    pub to: EntityRef,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLineage {
    #[serde(default, deserialize_with = "nullable")]
    pub agent_id: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub delegated_by: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub delegation_record_id: String,
}

/// `refs.json` (`gait.runpack.refs`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Refs {
    #[serde(default, deserialize_with = "nullable")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "nullable")]
    pub producer_version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub run_id: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub context_set_digest: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub context_evidence_mode: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub context_ref_count: i64,
    /// Always written; the recorder writes `[]` when there are none.
    #[serde(default, deserialize_with = "nullable")]
    pub receipts: Vec<Receipt>,
}

/// One reference receipt: what was retrieved, by digest (never the content itself).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(default, deserialize_with = "nullable")]
    pub ref_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub source_type: String,
    #[serde(default, deserialize_with = "nullable")]
    pub source_locator: String,
    #[serde(default, deserialize_with = "nullable")]
    pub query_digest: String,
    #[serde(default, deserialize_with = "nullable")]
    pub content_digest: String,
    #[serde(default, deserialize_with = "nullable")]
    pub retrieved_at: GoTime,
    #[serde(default, deserialize_with = "nullable")]
    pub redaction_mode: String,
    #[serde(default, deserialize_with = "nullable")]
    pub immutability: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero_i64"
    )]
    pub freshness_sla_seconds: i64,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub sensitivity_label: String,
    /// `map[string]any` in Go: `omitempty` drops it when nil or empty.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    pub retrieval_params: serde_json::Map<String, serde_json::Value>,
}

/// Go's `runtime.GOOS`/`GOARCH` names for a platform, which the reference writes into `run.env` when the
/// input omits it (vector `runpack-env-defaults`: `linux`/`amd64`/`go`). The CLI passes
/// [`Platform::current`]; the engine never looks at the machine itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub runtime: String,
}

impl Platform {
    /// This build's platform in Go's spelling (x86_64 → amd64, aarch64 → arm64, macos → darwin), and the
    /// runtime `go`: the reference's value, kept so digests agree across implementations.
    pub fn current() -> Self {
        Platform {
            os: go_os(std::env::consts::OS).to_string(),
            arch: go_arch(std::env::consts::ARCH).to_string(),
            runtime: "go".to_string(),
        }
    }
}

pub fn go_os(rust_os: &str) -> &str {
    match rust_os {
        "macos" => "darwin",
        other => other,
    }
}

pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The ticket footer (CONTRACTS §3.2): the receipt users paste into tickets.
pub fn ticket_footer(run_id: &str, manifest_digest: &str) -> String {
    format!(
        "GAIT run_id={run_id} manifest=sha256:{manifest_digest} verify=\"gait verify {run_id}\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_platform_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_os("macos"), "darwin");
        assert_eq!(go_os("linux"), "linux");
        assert_eq!(go_os("windows"), "windows");
        assert_eq!(Platform::current().runtime, "go");
    }

    #[test]
    fn manifest_keeps_go_presence_rules() {
        let m = Manifest::default();
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["files"], serde_json::Value::Null);
        assert_eq!(v["created_at"], "0001-01-01T00:00:00Z");
        assert!(v.get("signatures").is_none());
        let back: Manifest =
            serde_json::from_str(r#"{"signatures":null,"files":null,"run_id":null,"x":1}"#)
                .unwrap();
        assert_eq!(back, m);
    }
}
