//! In-process gate evaluation (criterion). Inputs: `benches/data/` (see its README).
//!
//! - `evaluate/*`: one decision for an already normalized intent against a loaded policy — the
//!   engine's evaluation proper (fail_closed, rule groups, constraints, combination).
//! - `normalize_evaluate/*`: from a bound intent request (what the reference's
//!   `EvaluatePolicyTypical` starts from): normalization, claim stripping, the intent digest and the
//!   evaluation.
//! - `decide/*`: a decision from intent bytes: strict parse, Go-compatible binding, normalization,
//!   claim stripping, the intent digest and the evaluation (what `policy test` does per intent).
//! - `load/*`: parsing and normalizing the policy YAML, and loading it from the compiled cache.

use criterion::{Criterion, criterion_group, criterion_main};
use gait_engine::GoTime;
use gait_gate::{Env, evaluate};
use std::hint::black_box;

const TYPICAL_POLICY: &str = include_str!("data/policy_typical.yaml");
const TYPICAL_INTENT: &str = include_str!("data/intent_typical.json");
const LARGE_POLICY: &str = include_str!("data/policy_large.yaml");
const LARGE_INTENT: &str = include_str!("data/intent_large.json");

fn bench(c: &mut Criterion) {
    let now = GoTime::parse("2026-01-15T09:00:00Z").unwrap();
    let env = Env {
        now,
        wrkr: None,
        predicates: None,
    };
    for (name, policy_text, intent_text, want) in [
        (
            "typical",
            TYPICAL_POLICY,
            TYPICAL_INTENT,
            "require_approval",
        ),
        ("large_200_rules", LARGE_POLICY, LARGE_INTENT, "allow"),
    ] {
        let policy = gait_gate::policy::load(policy_text.as_bytes()).unwrap();
        let mut intent = gait_gate::intent::load(intent_text.as_bytes()).unwrap();
        gait_gate::prepare::strip_context_claims(&mut intent);
        assert_eq!(
            evaluate(&policy.policy, &intent, &env).verdict.as_str(),
            want
        );

        c.bench_function(&format!("evaluate/{name}"), |b| {
            b.iter(|| evaluate(black_box(&policy.policy), black_box(&intent), &env))
        });
        let raw = gait_gate::intent::parse(intent_text.as_bytes()).unwrap();
        c.bench_function(&format!("normalize_evaluate/{name}"), |b| {
            b.iter(|| {
                let mut i = gait_gate::intent::normalize(black_box(&raw)).unwrap();
                gait_gate::prepare::strip_context_claims(&mut i);
                let digest = i.digest();
                (evaluate(&policy.policy, &i, &env), digest)
            })
        });
        c.bench_function(&format!("decide/{name}"), |b| {
            b.iter(|| {
                let mut i = gait_gate::intent::load(black_box(intent_text.as_bytes())).unwrap();
                gait_gate::prepare::strip_context_claims(&mut i);
                let digest = i.digest();
                (evaluate(&policy.policy, &i, &env), digest)
            })
        });
        c.bench_function(&format!("load/{name}/parse"), |b| {
            b.iter(|| gait_gate::policy::load(black_box(policy_text.as_bytes())).unwrap())
        });
        let dir = tempfile::tempdir().unwrap();
        let cache = gait_gate::cache::PolicyCache::new(dir.path()).with_new_key([1; 32]);
        cache.load(policy_text.as_bytes()).unwrap();
        c.bench_function(&format!("load/{name}/cached"), |b| {
            b.iter(|| cache.load(black_box(policy_text.as_bytes())).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
