//! Every case of the reference's recorded gate vectors (`tests/vectors/gate.jsonl`), run through the
//! engine API: `policytest::run` for `policy test`, `gate_eval::gate_eval` for `gate eval`.
//! The same corpus runs through the built binary in `tests/e2e/gate_vectors.rs`.
//!
//! This binary holds one test: it changes the working directory per case (the gate writes traces
//! and reads inputs relative to it, as the CLI does), which must not race with other tests.

use gait_engine::GoTime;
use gait_engine::crypto::KeySource;
use gait_gate::cache::PolicyCache;
use gait_gate::gate_eval::{GateEvalOptions, gate_eval};
use gait_gate::pipeline::FixedClock;
use serde_json::Value;
use std::path::PathBuf;

mod common;
use common::*;

/// Maps a vector's CLI flags onto engine options (the CLI does the same from its flag table).
fn options(argv: &[String]) -> Result<GateEvalOptions, String> {
    let mut o = GateEvalOptions {
        dev_seed: [7; 32],
        ..GateEvalOptions::default()
    };
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i].trim_start_matches('-');
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.to_string(), None),
        };
        if !argv[i].starts_with('-') {
            return Err("positional".into());
        }
        let bools = ["json", "simulate"];
        let value = if bools.contains(&name.as_str()) {
            inline.unwrap_or_else(|| "true".into())
        } else {
            match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    argv.get(i).cloned().unwrap_or_default()
                }
            }
        };
        let path = |v: &str| KeySource {
            path: Some(PathBuf::from(v)),
            env: None,
        };
        match name.as_str() {
            "json" => {}
            "simulate" => o.simulate = value == "true",
            "policy" => o.policy = value,
            "intent" => o.intent = value,
            "profile" => o.profile = value,
            "key-mode" => o.key_mode = value,
            "private-key" => o.private_key = path(&value),
            "approval-public-key" => o.approval_public_key = path(&value),
            "evaluation-time" => o.evaluation_time = value,
            "context-envelope" => o.context_envelope = value,
            "kill-switch-state" => o.kill_switch_state = value,
            "wrkr-inventory" => o.wrkr_inventory = value,
            "credential-broker" => o.credential_broker = value,
            "approval-token-ref" => o.approval_token_ref = value,
            "trace-out" => o.trace_out = value,
            other => return Err(format!("flag {other}")),
        }
        i += 1;
    }
    Ok(o)
}

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
                Ok(opts) => gate_eval(&opts, &PolicyCache::disabled(), &FixedClock(now))
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
