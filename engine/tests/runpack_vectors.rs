//! Every case of `tests/vectors/runpacks.jsonl` (recorded from the reference) through the engine:
//! same entry bytes, same manifest digest, same verify result; input errors with the same message.
//! The e2e suite runs the same cases through the built binary.

use gait_engine::GoTime;
use gait_engine::crypto::PrivateKey;
use gait_engine::runpack::{self, Platform, RecordOptions, VerifyOptions};
use serde_json::Value;
use std::path::PathBuf;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn records() -> Vec<Value> {
    std::fs::read_to_string(vectors_dir().join("runpacks.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn flag<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    argv.iter()
        .position(|a| a == name)
        .map(|i| argv[i + 1].as_str())
}

#[test]
fn every_runpack_vector_reproduces() {
    let key_text = std::fs::read_to_string(vectors_dir().join("keys/vectors_private.key")).unwrap();
    let key = PrivateKey::from_text(&key_text).unwrap();
    // The recorded platform (vector `runpack-env-defaults`): the reference ran on linux/amd64.
    let platform = Platform {
        os: "linux".into(),
        arch: "amd64".into(),
        runtime: "go".into(),
    };
    let all = records();
    assert_eq!(all.len(), 37);
    for case in all {
        let id = case["id"].as_str().unwrap();
        let argv: Vec<String> = case["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let envelope = flag(&argv, "--context-envelope")
            .map(|name| case["files"][name].as_str().unwrap().as_bytes().to_vec());
        let opts = RecordOptions {
            run_id: flag(&argv, "--run-id"),
            capture_mode: flag(&argv, "--capture-mode"),
            context_envelope: envelope.as_deref(),
            context_evidence_mode: flag(&argv, "--context-evidence-mode"),
            unsafe_context_raw: argv.iter().any(|a| a == "--unsafe-context-raw"),
            signing_key: flag(&argv, "--private-key").map(|_| &key),
            now: GoTime::parse("2000-01-01T00:00:00Z").unwrap(),
            platform: &platform,
            producer_version: "0.0.0-dev",
        };
        let input = case["input_file_text"].as_str().unwrap();
        let expect = &case["expect"];
        let result = runpack::record(input.as_bytes().to_vec(), &opts);
        if expect["exit_code"] != 0 {
            let err = result.expect_err(id);
            assert_eq!(err.message, expect["error"].as_str().unwrap(), "{id}");
            assert_eq!(
                Value::from(err.exit_code()),
                expect["exit_code"],
                "{id} exit code"
            );
            continue;
        }
        let rec = result.unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(rec.run_id, expect["run_id"].as_str().unwrap(), "{id}");
        assert_eq!(
            rec.manifest_digest,
            expect["manifest_digest"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(
            rec.signature_key_id.as_deref(),
            expect["signature_key_id"].as_str(),
            "{id}"
        );
        // DEVIATIONS #2: gait may add rounding warnings after the reference's warnings.
        let want: Vec<&str> = expect["warnings"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(&rec.warnings[..want.len()], &want[..], "{id} warnings");
        let archive = runpack::read::open_archive(rec.zip.clone()).unwrap();
        let names: Vec<&str> = archive.entries().iter().map(|e| e.name.as_str()).collect();
        let want_names: Vec<&str> = case["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, want_names, "{id} entry order");
        for entry in case["entries"].as_array().unwrap() {
            let name = entry["name"].as_str().unwrap();
            let got = archive.read(name).unwrap().unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                entry["text"].as_str().unwrap(),
                "{id} {name}"
            );
        }
        let report = runpack::verify_archive(&archive, &VerifyOptions::default()).unwrap();
        let mut got = serde_json::to_value(&report).unwrap();
        let want = &case["verify"]["output"];
        got["path"] = want["path"].clone();
        got["next_commands"] = want["next_commands"].clone();
        assert_eq!(&got, want, "{id} verify");
    }
}
