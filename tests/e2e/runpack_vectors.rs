//! Every case of `tests/vectors/runpacks.jsonl` through the built binary: `gait run record` with the
//! recorded argv, then the exit code, the `--json` output, every entry's exact text, and the output of
//! `gait verify <zip> --json` compared with what the reference printed.

use crate::support::{Sandbox, vector_records};
use gait_engine::zipx::{Archive, ZipLimits};
use serde_json::Value;

fn without_cid(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.remove("correlation_id");
    }
    v
}

/// DEVIATIONS #2: gait appends rounding warnings after the reference's warnings; the reference's come
/// first and unchanged.
fn check_warnings(id: &str, got: &mut Value, want: &Value) {
    let want_list = want.get("warnings").and_then(Value::as_array).cloned();
    let got_list = got.get("warnings").and_then(Value::as_array).cloned();
    match (want_list, got_list) {
        (None, None) => {}
        (Some(w), Some(g)) => {
            assert!(g.len() >= w.len(), "{id}: warnings {g:?} vs {w:?}");
            assert_eq!(&g[..w.len()], &w[..], "{id}: warnings");
            for extra in &g[w.len()..] {
                assert!(
                    extra.as_str().unwrap().contains("was rounded"),
                    "{id}: unexpected extra warning {extra}"
                );
            }
            got["warnings"] = Value::Array(w);
        }
        (w, g) => panic!("{id}: warnings differ: got {g:?}, want {w:?}"),
    }
}

#[test]
fn every_runpack_vector_through_the_cli() {
    let records = vector_records("runpacks.jsonl");
    assert_eq!(records.len(), 37, "28 successes and 9 input errors");
    let mut successes = 0;
    for case in &records {
        let id = case["id"].as_str().unwrap();
        let sb = Sandbox::new();
        sb.write("run_record.json", case["input_file_text"].as_str().unwrap());
        if let Some(files) = case["files"].as_object() {
            for (name, text) in files {
                sb.write(name, text.as_str().unwrap());
            }
        }
        if case["uses_fixed_key"] == true {
            sb.vector_keys();
        }
        let argv: Vec<&str> = case["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let (code, out) = sb.run_json(&argv);
        let expect = &case["expect"];
        assert_eq!(
            Value::from(code),
            expect["exit_code"],
            "{id}: exit code, output {out}"
        );
        let mut got = without_cid(out);
        let want = &case["output"];
        check_warnings(id, &mut got, want);
        assert_eq!(&got, want, "{id}: --json output");
        if code != 0 {
            continue;
        }
        successes += 1;
        let bundle = want["bundle"].as_str().unwrap();
        let archive = Archive::open(sb.read(bundle), ZipLimits::default()).unwrap();
        let names: Vec<&str> = archive.entries().iter().map(|e| e.name.as_str()).collect();
        let entries = case["entries"].as_array().unwrap();
        let want_names: Vec<&str> = entries
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, want_names, "{id}: entries in archive order");
        for entry in entries {
            let name = entry["name"].as_str().unwrap();
            let text = archive.read(name).unwrap().unwrap();
            assert_eq!(
                std::str::from_utf8(&text).unwrap(),
                entry["text"].as_str().unwrap(),
                "{id}: {name} text"
            );
            assert_eq!(
                archive
                    .entries()
                    .iter()
                    .find(|e| e.name == name)
                    .unwrap()
                    .unix_mode,
                Some(0o100644),
                "{id}: {name} mode"
            );
        }
        let (vcode, vout) = sb.run_json(&["verify", bundle, "--json"]);
        assert_eq!(
            Value::from(vcode),
            case["verify"]["exit_code"],
            "{id}: verify exit"
        );
        assert_eq!(
            without_cid(vout),
            case["verify"]["output"],
            "{id}: verify output"
        );
    }
    assert_eq!(successes, 28);
}
