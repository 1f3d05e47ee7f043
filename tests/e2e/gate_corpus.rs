//! gait's own decision corpus (`tests/corpus/gate/cases.yaml`, each case with its expectation and
//! the derivation from CONTRACTS.md) through the built binary. The engine-level runner is
//! `gate/tests/corpus.rs`; both share `gate/tests/common`.

use crate::gate_common as common;
use crate::support::Sandbox;
use serde_json::Value;

#[test]
fn every_corpus_case_through_the_cli() {
    let corpus = common::corpus();
    assert!(corpus.cases.len() >= 80);
    let mut failures = Vec::new();
    for case in &corpus.cases {
        let sb = Sandbox::new();
        case.write_files(sb.path());
        let argv = case.argv();
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (code, output): (i32, Value) = sb.run_json(&args);
        if let Some(why) = common::compare_corpus(case, code, &output) {
            failures.push(format!("{}: {why}", case.id));
        }
        if output["ok"] == true && !case.is_policy_test() {
            // Every decision leaves a trace next to it.
            let path = output["trace_path"].as_str().unwrap_or("");
            assert!(sb.join(path).exists(), "{}: no trace at {path:?}", case.id);
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
