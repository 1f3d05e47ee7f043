//! gait's own decision corpus (`tests/corpus/gate/cases.yaml`) through the engine API. The same
//! corpus runs through the built binary in `tests/e2e/gate_corpus.rs`.
//!
//! One test in this binary: it changes the working directory per case.

mod common;
#[path = "common/engine.rs"]
mod engine;

use common::*;
use gait_engine::GoTime;
use gait_gate::cache::PolicyCache;
use gait_gate::gate_eval::gate_eval;
use gait_gate::pipeline::FixedClock;
use serde_json::Value;

#[test]
fn every_corpus_case_through_the_engine() {
    let corpus = corpus();
    assert!(
        corpus.cases.len() >= 80,
        "only {} cases",
        corpus.cases.len()
    );
    let origin = std::env::current_dir().unwrap();
    let now = GoTime::parse(CORPUS_TIME).unwrap();
    let mut failures = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for case in &corpus.cases {
        assert!(ids.insert(case.id.clone()), "duplicate case id {}", case.id);
        assert!(
            !case.derivation.trim().is_empty(),
            "{}: no derivation",
            case.id
        );
        let dir = tempfile::tempdir().unwrap();
        case.write_files(dir.path());
        std::env::set_current_dir(dir.path()).unwrap();
        let outcome = if case.is_policy_test() {
            gait_gate::policy::load(case.policy.as_bytes()).and_then(|p| {
                gait_gate::policytest::run(&p, case.intent.as_bytes(), now).map(|r| {
                    (
                        gait_gate::cli_exit(r.verdict_kind),
                        serde_json::to_value(&r).unwrap(),
                    )
                })
            })
        } else {
            let opts = engine::options(&case.argv()).unwrap();
            gate_eval(
                &opts,
                &PolicyCache::disabled(),
                &FixedClock(now),
                &gait_engine::procx::SystemSpawner,
            )
            .map(|r| (r.exit_code, serde_json::to_value(&r.output).unwrap()))
        };
        let (code, output): (i32, Value) = match outcome {
            Ok(ok) => ok,
            Err(e) => (
                e.exit_code(),
                serde_json::to_value(gait_engine::error::Envelope::from_error(&e, "")).unwrap(),
            ),
        };
        std::env::set_current_dir(&origin).unwrap();
        if let Some(why) = compare_corpus(case, code, &output) {
            failures.push(format!("{}: {why}", case.id));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases differ:\n{}",
        failures.len(),
        corpus.cases.len(),
        failures.join("\n")
    );
}
