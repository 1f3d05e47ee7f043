//! Every case of the reference's recorded gate vectors (`tests/vectors/gate.jsonl`), run through the
//! built binary exactly as `tests/vectors/README.md` prescribes: a fresh directory with an empty
//! HOME, the case's files written, `argv` run, then the exit code, `expect`, the full sanitised
//! `output` and the trace body compared. Deviations (DEVIATIONS.md) are asserted as gait's own
//! behaviour by the shared comparison (`gate/tests/common`).

use crate::gate_common as common;
use crate::support::Sandbox;
use serde_json::Value;

fn run_record(r: &Value, records: &[Value]) -> Option<String> {
    let sb = Sandbox::new();
    common::write_case_files(sb.path(), r);
    let argv: Vec<String> = serde_json::from_value(r["argv"].clone()).unwrap();
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = sb.run(&args);
    let expect = &r["expect"];
    if let Some(want) = expect.get("stdout").and_then(Value::as_str) {
        if code as i64 != expect["exit_code"].as_i64().unwrap_or(-1) || stdout != want {
            return Some(format!(
                "plain-text case: got ({code}, {stdout:?}), want ({}, {want:?})",
                expect["exit_code"]
            ));
        }
        return None;
    }
    if !stderr.is_empty() {
        return Some(format!(
            "stderr must stay empty with --json, got {stderr:?}"
        ));
    }
    if !stdout.ends_with('\n') || stdout.matches('\n').count() != 1 {
        return Some(format!("expected exactly one JSON line, got {stdout:?}"));
    }
    let output: Value = match serde_json::from_str(&stdout) {
        Ok(v) => v,
        Err(e) => return Some(format!("stdout is not JSON ({e}): {stdout}")),
    };
    if output["correlation_id"].as_str().map(str::len) != Some(24) {
        return Some(format!("missing correlation_id: {stdout}"));
    }
    let trace = common::read_trace(sb.path(), &output);
    common::compare_case(r, records, code, &output, trace.as_ref())
}

#[test]
fn every_gate_vector_through_the_cli() {
    let records = common::vector_records("gate.jsonl");
    assert_eq!(records.len(), 746);
    let mut failures = Vec::new();
    for r in &records {
        if let Some(why) = run_record(r, &records) {
            failures.push(format!("{}: {why}", r["id"].as_str().unwrap_or("?")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        records.len(),
        failures.join("\n")
    );
}
