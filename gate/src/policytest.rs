//! `gait policy test`: one pure evaluation of an intent fixture (CONTRACTS §1.2). No state, no trace,
//! no tokens, no broker; the reported `intent_digest` is the raw normalized intent's, while the
//! evaluation sees the prepared intent (unverified context claims stripped), as in the reference.

use crate::eval::{Env, evaluate};
use crate::policy::{LoadedPolicy, Verdict};
use gait_engine::{GaitError, GoTime};
use serde::Serialize;

pub const SCHEMA_ID: &str = "gait.policytest.result";
pub const SCHEMA_VERSION: &str = "1.0.0";
const SUMMARY_LIMIT: usize = 240;

#[derive(Clone, Debug, Serialize)]
pub struct PolicyTestResult {
    pub ok: bool,
    pub schema_id: &'static str,
    pub schema_version: &'static str,
    pub created_at: GoTime,
    pub policy_digest: String,
    pub intent_digest: String,
    pub verdict: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub matched_rule: String,
    pub summary: String,
    /// Why predicates that blocked could not answer (gait extension; absent otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub verdict_kind: Verdict,
}

/// `policy test verdict=V reasons=a,b|none violations=…|none`, capped at 240 bytes with `...(+N)`.
pub fn summary(verdict: &str, reasons: &[String], violations: &[String]) -> String {
    let join = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(",")
        }
    };
    let s = format!(
        "policy test verdict={verdict} reasons={} violations={}",
        join(reasons),
        join(violations)
    );
    if s.len() <= SUMMARY_LIMIT {
        return s;
    }
    let mut cut = SUMMARY_LIMIT;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...(+{})", &s[..cut], s.len() - cut)
}

/// Evaluates `intent_bytes` against a loaded policy at `now`.
pub fn run(
    policy: &LoadedPolicy,
    intent_bytes: &[u8],
    now: GoTime,
) -> Result<PolicyTestResult, GaitError> {
    let intent = crate::intent::load(intent_bytes)?;
    let raw_digest = intent.digest();
    let mut prepared = intent.clone();
    crate::prepare::strip_context_claims(&mut prepared);
    let ev = evaluate(
        &policy.policy,
        &prepared,
        &Env {
            now,
            wrkr: None,
            predicates: policy.predicates(),
        },
    );
    let verdict = ev.verdict.as_str().to_string();
    Ok(PolicyTestResult {
        ok: true,
        schema_id: SCHEMA_ID,
        schema_version: SCHEMA_VERSION,
        created_at: intent.created_at,
        policy_digest: policy.digest.clone(),
        intent_digest: raw_digest,
        summary: summary(&verdict, &ev.reason_codes, &ev.violations),
        verdict,
        matched_rule: ev.matched_rule(),
        reason_codes: ev.reason_codes,
        violations: ev.violations,
        warnings: ev.predicate_failures,
        verdict_kind: ev.verdict,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_capped() {
        let reasons: Vec<String> = (0..40).map(|i| format!("reason_code_{i:02}")).collect();
        let s = summary("block", &reasons, &[]);
        assert!(s.len() <= 240 + 12, "{}", s.len());
        assert!(s.contains("...(+"), "{s}");
        assert_eq!(
            summary("allow", &["default_allow".into()], &[]),
            "policy test verdict=allow reasons=default_allow violations=none"
        );
    }
}
