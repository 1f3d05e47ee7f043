//! Every case of the reference's recorded gate vectors (`tests/vectors/gate.jsonl`), run through the
//! engine API: `policytest::run` for `policy test`, `gate_eval::gate_eval` for `gate eval`.
//! The same corpus runs through the built binary in `tests/e2e/gate_vectors.rs`.
//!
//! This binary holds one test: it changes the working directory per case (the gate writes traces
//! and reads inputs relative to it, as the CLI does), which must not race with other tests.

use gait_engine::GoTime;
use gait_gate::cache::PolicyCache;
use gait_gate::gate_eval::gate_eval;
use gait_gate::pipeline::FixedClock;
use serde_json::Value;

mod common;
use common::*;
#[path = "common/engine.rs"]
mod engine;
use engine::options;

#[test]
fn every_gate_vector_through_the_engine() {
    let records = vector_records("gate.jsonl");
    let origin = std::env::current_dir().unwrap();
    let now = GoTime::parse("2031-05-14T10:30:00Z").unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for r in &records {
        let id = r["id"].as_str().unwrap();
        let expect = &r["expect"];
        if expect.get("stdout").is_some() {
            continue; // flag-parser errors: CLI only (tests/e2e/gate_vectors.rs)
        }
        let dir = tempfile::tempdir().unwrap();
        write_case_files(dir.path(), r);
        std::env::set_current_dir(dir.path()).unwrap();
        let argv: Vec<String> = serde_json::from_value(r["argv"].clone()).unwrap();
        let outcome: Result<(i32, Value), gait_engine::GaitError> = if r["command"] == "policy test"
        {
            if argv.len() != 5 {
                std::env::set_current_dir(&origin).unwrap();
                continue; // positional-count errors are the CLI's
            }
            let policy = std::fs::read("policy.yaml").unwrap();
            gait_gate::policy::load(&policy).and_then(|p| {
                let intent = std::fs::read("intent.json").unwrap();
                gait_gate::policytest::run(&p, &intent, now).map(|res| {
                    (
                        gait_gate::cli_exit(res.verdict_kind),
                        serde_json::to_value(&res).unwrap(),
                    )
                })
            })
        } else {
            match options(&argv) {
                Err(_) => {
                    std::env::set_current_dir(&origin).unwrap();
                    continue;
                }
                Ok(opts) => gate_eval(
                    &opts,
                    &PolicyCache::disabled(),
                    &FixedClock(now),
                    &gait_engine::procx::SystemSpawner,
                )
                .map(|res| (res.exit_code, serde_json::to_value(&res.output).unwrap())),
            }
        };
        let (code, output) = match outcome {
            Ok(ok) => ok,
            Err(e) => {
                let env = gait_engine::error::Envelope::from_error(&e, "");
                let mut v = serde_json::to_value(&env).unwrap();
                v.as_object_mut().unwrap().remove("correlation_id");
                (e.exit_code(), v)
            }
        };
        let trace = read_trace(std::path::Path::new("."), &output);
        std::env::set_current_dir(&origin).unwrap();
        ran += 1;
        if let Some(why) = compare_case(r, &records, code, &output, trace.as_ref()) {
            failures.push(format!("{id}: {why}"));
        }
    }
    assert!(ran > 700, "ran only {ran} cases");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
