//! Constraint decisions reported in `--json` output and traces (FIELDS §2.2d), in Go field order.

use gait_engine::GoTime;
use serde::{Deserialize, Serialize};

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FreezeWindowDecision {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub effect: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timezone: String,
    #[serde(default)]
    pub evaluated_at: GoTime,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub window_name: String,
    #[serde(default)]
    pub window_start: GoTime,
    #[serde(default)]
    pub window_end: GoTime,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason_code: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SandboxDecision {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub env_exposure_mode: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub timeout_seconds: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filesystem_isolation: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence_ref: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub evidence_digest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KillSwitchDecision {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason_code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_entry_ids: Vec<String>,
    #[serde(default)]
    pub evaluated_at: GoTime,
}
