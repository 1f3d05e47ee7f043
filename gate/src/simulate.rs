//! `gait policy simulate`: replay fixture intents against a candidate and a baseline policy and
//! recommend a rollout step (CONTRACTS §1.2): nothing changed → `enforce`; a call that was not
//! allowed becomes allowed (a relaxation) → `observe`; a call becomes blocked (a tightening) →
//! `require_approval`; any other change → `require_approval`.

use crate::policy::{LoadedPolicy, Verdict};
use gait_engine::{GaitError, GoTime};
use serde::Serialize;
use std::collections::BTreeMap;

pub const SCHEMA_ID: &str = "gait.policy.simulation";
pub const SCHEMA_VERSION: &str = "1.0.0";

#[derive(Clone, Debug, Serialize)]
pub struct FixtureResult {
    pub fixture: String,
    pub baseline_verdict: String,
    pub candidate_verdict: String,
    pub changed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub baseline_reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidate_reason_codes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Simulation {
    pub ok: bool,
    pub schema_id: &'static str,
    pub schema_version: &'static str,
    pub candidate_policy_digest: String,
    pub baseline_policy_digest: String,
    pub fixtures_total: usize,
    pub fixtures_changed: usize,
    pub baseline_verdict_counts: BTreeMap<String, usize>,
    pub candidate_verdict_counts: BTreeMap<String, usize>,
    pub recommendation: String,
    pub results: Vec<FixtureResult>,
}

/// Simulates `fixtures` (name, intent bytes) in the given order.
pub fn simulate(
    candidate: &LoadedPolicy,
    baseline: &LoadedPolicy,
    fixtures: &[(String, Vec<u8>)],
    now: GoTime,
) -> Result<Simulation, GaitError> {
    let mut results = Vec::with_capacity(fixtures.len());
    let mut base_counts = BTreeMap::new();
    let mut cand_counts = BTreeMap::new();
    let (mut relaxed, mut changed) = (false, 0);
    for (name, bytes) in fixtures {
        let b = crate::policytest::run(baseline, bytes, now)
            .map_err(|e| e.context(&format!("fixture {name}")))?;
        let c = crate::policytest::run(candidate, bytes, now)
            .map_err(|e| e.context(&format!("fixture {name}")))?;
        *base_counts.entry(b.verdict.clone()).or_insert(0) += 1;
        *cand_counts.entry(c.verdict.clone()).or_insert(0) += 1;
        let is_changed = b.verdict != c.verdict;
        if is_changed {
            changed += 1;
            if b.verdict_kind != Verdict::Allow && c.verdict_kind == Verdict::Allow {
                relaxed = true;
            }
        }
        results.push(FixtureResult {
            fixture: name.clone(),
            baseline_verdict: b.verdict,
            candidate_verdict: c.verdict,
            changed: is_changed,
            baseline_reason_codes: b.reason_codes,
            candidate_reason_codes: c.reason_codes,
        });
    }
    // A relaxation is the riskier change to roll out, so it wins over a tightening.
    let recommendation = if changed == 0 {
        "enforce"
    } else if relaxed {
        "observe"
    } else {
        "require_approval"
    };
    Ok(Simulation {
        ok: true,
        schema_id: SCHEMA_ID,
        schema_version: SCHEMA_VERSION,
        candidate_policy_digest: candidate.digest.clone(),
        baseline_policy_digest: baseline.digest.clone(),
        fixtures_total: fixtures.len(),
        fixtures_changed: changed,
        baseline_verdict_counts: base_counts,
        candidate_verdict_counts: cand_counts,
        recommendation: recommendation.into(),
        results,
    })
}
