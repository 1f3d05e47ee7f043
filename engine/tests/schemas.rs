//! The embedded JSON Schemas accept every artifact gait produces (including every reference vector
//! re-recorded by gait) and reject broken ones.

use gait_engine::GoTime;
use gait_engine::crypto::PrivateKey;
use gait_engine::error::{Envelope, GaitError};
use gait_engine::runpack::{self, Platform, RecordOptions, read};
use gait_engine::schema::{Schema, validate_runpack};
use serde_json::{Value, json};

fn platform() -> Platform {
    Platform {
        os: "linux".into(),
        arch: "amd64".into(),
        runtime: "go".into(),
    }
}

fn record(input: &str, capture: Option<&str>, key: Option<&PrivateKey>) -> Vec<u8> {
    let p = platform();
    runpack::record(
        input.as_bytes().to_vec(),
        &RecordOptions {
            run_id: None,
            capture_mode: capture,
            context_envelope: None,
            context_evidence_mode: None,
            unsafe_context_raw: true,
            signing_key: key,
            now: GoTime::parse("2031-01-01T00:00:00Z").unwrap(),
            platform: &p,
            producer_version: "0.0.0-dev",
        },
    )
    .unwrap()
    .zip
}

fn files(zip: Vec<u8>) -> read::RunpackFiles {
    read::read_files(&read::open_archive(zip).unwrap()).unwrap()
}

#[test]
fn every_recorded_vector_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let key = PrivateKey::from_text(
        &std::fs::read_to_string(dir.join("keys/vectors_private.key")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for line in std::fs::read_to_string(dir.join("runpacks.jsonl"))
        .unwrap()
        .lines()
    {
        let case: Value = serde_json::from_str(line).unwrap();
        if case["expect"]["exit_code"] != 0 {
            continue;
        }
        // The reference's own entry texts must validate too, not only gait's.
        for entry in case["entries"].as_array().unwrap() {
            let name = entry["name"].as_str().unwrap();
            let text = entry["text"].as_str().unwrap();
            let schema = match name {
                "manifest.json" => Schema::RunpackManifest,
                "run.json" => Schema::RunpackRun,
                "refs.json" => Schema::RunpackRefs,
                "intents.jsonl" => Schema::RunpackIntent,
                _ => Schema::RunpackResult,
            };
            for part in text.lines().filter(|l| !l.is_empty()) {
                schema
                    .validate_bytes(part.as_bytes())
                    .unwrap_or_else(|e| panic!("{} {name}: {e:?}", case["id"]));
            }
        }
        let signed = case["uses_fixed_key"] == true;
        let zip = record(
            case["input_file_text"].as_str().unwrap(),
            None,
            signed.then_some(&key),
        );
        let violations = validate_runpack(&files(zip));
        assert!(violations.is_empty(), "{}: {violations:?}", case["id"]);
        checked += 1;
    }
    assert_eq!(checked, 28);
}

#[test]
fn demo_diff_reduce_and_envelope_validate() {
    let demo = runpack::demo::record_demo("0.0.0-dev").unwrap();
    let demo_files = files(demo.zip);
    assert!(validate_runpack(&demo_files).is_empty());

    let input = json!({
        "run": {"run_id": "run_s", "created_at": "2031-02-03T04:05:06+02:00", "timeline": null},
        "intents": [
            {"intent_id": "i1", "tool_name": "tool.fetch", "args": {"url": "u"}},
            {"intent_id": "i2", "tool_name": "tool.search", "args": {"q": 1}}
        ],
        "results": [{"intent_id": "i1", "status": "error", "result": {"code": 504}}],
        "refs": {"receipts": [{"ref_id": "trace_i1", "source_type": "gait.trace", "source_locator": "t.json",
                               "redaction_mode": "hashes", "retrieval_params": {"k": [1, 2]}}]}
    })
    .to_string();
    let raw = files(record(&input, Some("raw"), None));
    assert!(
        validate_runpack(&raw).is_empty(),
        "{:?}",
        validate_runpack(&raw)
    );

    let report = runpack::diff::diff(
        &demo_files.parse().unwrap(),
        &raw.parse().unwrap(),
        runpack::diff::Privacy::Full,
    )
    .unwrap();
    Schema::RunpackDiff
        .validate(&serde_json::to_value(&report).unwrap())
        .unwrap();

    let (_, reduce_report) =
        runpack::reduce::reduce(&raw, runpack::reduce::Predicate::MissingResult, "0.0.0-dev")
            .unwrap();
    Schema::ReduceReport
        .validate(&serde_json::to_value(&reduce_report).unwrap())
        .unwrap();

    for err in [
        GaitError::invalid("missing required --policy"),
        GaitError::verification("x").with_code("runpack_duplicate_entries"),
        GaitError::unsafe_refused("real replay requires --unsafe-real-tools"),
    ] {
        let env = Envelope::from_error(&err, "0123456789abcdef01234567");
        Schema::ErrorEnvelope
            .validate(&serde_json::to_value(&env).unwrap())
            .unwrap();
    }
}

#[test]
fn broken_artifacts_are_rejected() {
    let demo = files(runpack::demo::record_demo("0.0.0-dev").unwrap().zip);
    let obj = |bytes: &[u8]| -> Value { serde_json::from_slice(bytes).unwrap() };
    let manifest = obj(&demo.manifest);
    let run = obj(&demo.run);
    let refs = obj(&demo.refs);
    let intent = obj(read::lines(&demo.intents)[0]);
    let result = obj(read::lines(&demo.results)[0]);
    let edit = |v: &Value, f: &dyn Fn(&mut Value)| {
        let mut v = v.clone();
        f(&mut v);
        v
    };
    let cases: Vec<(Schema, Value, &str)> = vec![
        (
            Schema::RunpackManifest,
            edit(&manifest, &|v| {
                v.as_object_mut().unwrap().remove("manifest_digest");
            }),
            "no manifest_digest",
        ),
        (
            Schema::RunpackManifest,
            edit(&manifest, &|v| v["schema_id"] = json!("gait.runpack.other")),
            "wrong schema_id",
        ),
        (
            Schema::RunpackManifest,
            edit(&manifest, &|v| v["capture_mode"] = json!("full")),
            "unknown capture mode",
        ),
        (
            Schema::RunpackManifest,
            edit(&manifest, &|v| v["files"][0]["sha256"] = json!("XYZ")),
            "sha256 not hex",
        ),
        (
            Schema::RunpackManifest,
            edit(&manifest, &|v| v["extra"] = json!(1)),
            "unknown key",
        ),
        (
            Schema::RunpackManifest,
            edit(&manifest, &|v| v["created_at"] = json!("yesterday")),
            "bad time",
        ),
        (
            Schema::RunpackManifest,
            edit(&manifest, &|v| {
                v["signatures"] = json!([{"alg": "rsa", "key_id": "", "sig": ""}])
            }),
            "bad signature",
        ),
        (
            Schema::RunpackRun,
            edit(&run, &|v| {
                v.as_object_mut().unwrap().remove("env");
            }),
            "no env",
        ),
        (
            Schema::RunpackRun,
            edit(&run, &|v| v["timeline"][0]["ts"] = json!(5)),
            "ts not a time",
        ),
        (
            Schema::RunpackIntent,
            edit(&intent, &|v| v["args"] = json!([1])),
            "args not an object",
        ),
        (
            Schema::RunpackIntent,
            edit(&intent, &|v| v["args_digest"] = json!("abc")),
            "short digest",
        ),
        (
            Schema::RunpackResult,
            edit(&result, &|v| {
                v.as_object_mut().unwrap().remove("status");
            }),
            "no status",
        ),
        (
            Schema::RunpackRefs,
            edit(&refs, &|v| {
                v["receipts"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("query_digest");
            }),
            "receipt without query digest",
        ),
        (
            Schema::RunpackRefs,
            edit(&refs, &|v| v["context_evidence_mode"] = json!("sometimes")),
            "bad evidence mode",
        ),
        (
            Schema::RunpackDiff,
            json!({"privacy": "full", "summary": {"run_id_left": "a", "run_id_right": "b", "manifest_changed": false, "intents_changed": false, "results_changed": false, "refs_changed": false, "context_drift_classification": "weird"}}),
            "bad classification",
        ),
        (
            Schema::ReduceReport,
            json!({"schema_id": "gait.runpack.reduce_report"}),
            "incomplete report",
        ),
        (
            Schema::ErrorEnvelope,
            json!({"ok": true, "error": "x", "error_code": "invalid_input", "error_category": "invalid_input", "retryable": false, "hint": "", "correlation_id": "0123456789abcdef01234567"}),
            "ok true",
        ),
        (
            Schema::ErrorEnvelope,
            json!({"ok": false, "error": "x", "error_code": "invalid_input", "error_category": "bogus", "retryable": false, "hint": "", "correlation_id": "0123456789abcdef01234567"}),
            "bad category",
        ),
    ];
    for (schema, value, why) in cases {
        assert!(
            schema.validate(&value).is_err(),
            "{schema:?} accepted: {why}"
        );
    }
    // Invalid JSON text never reaches the schema.
    assert!(
        Schema::RunpackRun
            .validate_bytes(b"{\"a\":1,\"a\":2}")
            .is_err()
    );
}
