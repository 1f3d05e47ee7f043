//! `gait run replay|diff|reduce|inspect|receipt` and `gait migrate` through the CLI
//! (CONTRACTS §1.2, §3.8).

use crate::support::Sandbox;
use serde_json::{Value, json};

/// A run record with the given tools; intents listed in `missing` get no result, `statuses` override
/// the result status per intent id.
fn run_record(
    run_id: &str,
    tools: &[(&str, &str, Value)],
    missing: &[&str],
    statuses: &[(&str, &str)],
    raw: bool,
) -> String {
    let mut intents = Vec::new();
    let mut results = Vec::new();
    for (id, tool, args) in tools {
        intents.push(json!({"intent_id": id, "tool_name": tool, "args": args}));
        if !missing.contains(id) {
            let status = statuses
                .iter()
                .find(|(i, _)| i == id)
                .map(|(_, s)| *s)
                .unwrap_or("ok");
            results.push(json!({"intent_id": id, "status": status, "result": {"ok": status == "ok", "for": id}}));
        }
    }
    json!({
        "run": {"run_id": run_id, "created_at": "2031-02-03T04:05:06Z",
                "env": {"os": "linux", "arch": "amd64", "runtime": "python"},
                "timeline": [{"event": "run_started", "ts": "2031-02-03T04:05:06Z"}]},
        "intents": intents,
        "results": results,
        "refs": {"receipts": []},
        "capture_mode": if raw { "raw" } else { "reference" },
    })
    .to_string()
}

fn record(sb: &Sandbox, file: &str, text: &str) -> Value {
    sb.write(file, text);
    let (code, json) = sb.run_json(&["run", "record", file, "--json"]);
    assert_eq!(code, 0, "{json}");
    json
}

#[test]
fn stub_replay_is_deterministic_and_reports_missing_results() {
    let sb = Sandbox::new();
    sb.run_json(&["demo", "--json"]);
    let (code, first) = sb.run_json(&["run", "replay", "run_demo", "--json"]);
    let (code2, second) = sb.run_json(&["run", "replay", "run_demo", "--json"]);
    assert_eq!((code, code2), (0, 0));
    assert_eq!(first, second, "replay twice, identical JSON");
    assert_eq!(first["mode"], "stub");
    assert_eq!(first["steps"].as_array().unwrap().len(), 3);
    assert!(
        first["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["execution"] == "recorded")
    );

    // intent_2 (tool.fetch → http stub) and intent_3 (tool.search: no stub type) lack results.
    let text = run_record(
        "run_gaps",
        &[
            ("intent_1", "tool.search", json!({"q": 1})),
            ("intent_2", "tool.fetch", json!({"url": "https://x"})),
            ("intent_3", "tool.search", json!({"q": 2})),
        ],
        &["intent_2", "intent_3"],
        &[],
        false,
    );
    let recorded = record(&sb, "gaps.json", &text);
    let (code, a) = sb.run_json(&["run", "replay", "run_gaps", "--json"]);
    let (_, mut b) = sb.run_json(&["run", "replay", "--json", "run_gaps"]);
    assert_eq!(code, 2, "a missing result fails the replay");
    // Flags after the positional: same report (the correlation id hashes argv, so it differs).
    b["correlation_id"] = a["correlation_id"].clone();
    assert_eq!(a, b);
    assert_eq!(a["ok"], false);
    assert_eq!(a["missing_results"], json!(["intent_3"]));
    let step2 = &a["steps"][1];
    assert_eq!(step2["execution"], "stubbed");
    assert_eq!(step2["stub_type"], "http");
    // CONTRACTS §1.2: stub digest = sha256(run_id:intent_id:lower(tool):lower(args_digest):stub_type).
    let args_digest = gait_engine::canon::digest_of(&json!({"url": "https://x"})).unwrap();
    let want = gait_engine::canon::sha256_hex(
        format!("run_gaps:intent_2:tool.fetch:{args_digest}:http").as_bytes(),
    );
    assert_eq!(step2["result_digest"], want);
    assert_eq!(a["steps"][2]["execution"], "missing");
    assert!(recorded["ok"] == true);
}

fn raw_tools_runpack(sb: &Sandbox) {
    let text = run_record(
        "run_tools",
        &[
            ("intent_1", "tool.echo", json!({"say": "hi"})),
            (
                "intent_2",
                "file.write",
                json!({"path": "out/note.txt", "content": "written by replay"}),
            ),
            (
                "intent_3",
                "shell.exec",
                json!({"command": "printf shell-ran"}),
            ),
            ("intent_4", "tool.search", json!({"q": "not allowlisted"})),
        ],
        &[],
        &[],
        true,
    );
    record(sb, "tools.json", &text);
}

const REAL: [&str; 7] = [
    "run",
    "replay",
    "run_tools",
    "--real-tools",
    "--unsafe-real-tools",
    "--allow-tools",
    "tool.echo,file.write,shell.exec",
];

#[test]
fn unsafe_replay_missing_any_guard_exits_8() {
    let sb = Sandbox::new();
    raw_tools_runpack(&sb);
    let run = |args: &[&str], interlock: Option<&str>| {
        let mut cmd = sb.gait();
        cmd.args(args).arg("--json");
        if let Some(v) = interlock {
            cmd.env("GAIT_ALLOW_REAL_REPLAY", v);
        }
        let out = cmd.output().unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code().unwrap(), json)
    };
    let without = |flag: &str| -> Vec<&str> {
        REAL.iter()
            .copied()
            .filter(|a| *a != flag && !(flag == "--allow-tools" && a.contains(',')))
            .collect()
    };
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            without("--real-tools"),
            Some("1"),
            "only apply with --real-tools",
        ),
        (
            without("--unsafe-real-tools"),
            Some("1"),
            "--unsafe-real-tools",
        ),
        (without("--allow-tools"), Some("1"), "--allow-tools"),
        (REAL.to_vec(), None, "GAIT_ALLOW_REAL_REPLAY=1"),
        (REAL.to_vec(), Some("0"), "GAIT_ALLOW_REAL_REPLAY=1"),
        (REAL.to_vec(), Some("yes"), "GAIT_ALLOW_REAL_REPLAY=1"),
    ];
    for (args, interlock, mention) in cases {
        let (code, json) = run(&args, interlock);
        assert_eq!(code, 8, "{args:?} {interlock:?}: {json}");
        assert_eq!(json["error_code"], "unsafe_operation");
        assert!(json["error"].as_str().unwrap().contains(mention), "{json}");
    }
    assert!(
        !sb.join("gait-out/replay").exists(),
        "nothing ran, nothing was written"
    );
    // A custom interlock variable name is honoured.
    let mut args = REAL.to_vec();
    args.extend(["--unsafe-real-tools-env", "MY_INTERLOCK"]);
    let (code, _) = run(&args, Some("1"));
    assert_eq!(code, 8, "GAIT_ALLOW_REAL_REPLAY no longer counts");
}

#[test]
fn real_replay_runs_allowlisted_tools_below_the_root() {
    let sb = Sandbox::new();
    raw_tools_runpack(&sb);
    let out = sb
        .gait()
        .args(REAL)
        .arg("--json")
        .env("GAIT_ALLOW_REAL_REPLAY", "1")
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json}");
    assert_eq!(json["mode"], "real");
    let steps = json["steps"].as_array().unwrap();
    assert_eq!(steps[0]["execution"], "executed");
    assert_eq!(steps[0]["result"]["echo"], json!({"say": "hi"}));
    assert_eq!(steps[1]["execution"], "executed");
    assert_eq!(
        std::fs::read_to_string(sb.join("gait-out/replay/run_tools/out/note.txt")).unwrap(),
        "written by replay"
    );
    assert_eq!(steps[2]["execution"], "executed");
    assert_eq!(steps[2]["result"]["stdout"], "shell-ran");
    assert_eq!(steps[2]["result"]["exit_code"], 0);
    assert_eq!(
        steps[3]["execution"], "recorded",
        "not allowlisted: replayed from the record"
    );

    // Reference-mode runpacks hold no arguments: real replay refuses them.
    sb.run_json(&["demo", "--json"]);
    let out = sb
        .gait()
        .args([
            "run",
            "replay",
            "run_demo",
            "--real-tools",
            "--unsafe-real-tools",
            "--allow-tools",
            "tool.search",
            "--json",
        ])
        .env("GAIT_ALLOW_REAL_REPLAY", "1")
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(6), "{json}");
    assert!(json["error"].as_str().unwrap().contains("raw-capture"));
}

#[test]
fn real_file_writes_cannot_escape_the_root() {
    let sb = Sandbox::new();
    for (n, path) in [
        "../escape.txt",
        "/tmp/gait-escape-test.txt",
        "a/../../escape.txt",
    ]
    .iter()
    .enumerate()
    {
        let run_id = format!("run_escape{n}");
        let text = run_record(
            &run_id,
            &[(
                "intent_1",
                "file.write",
                json!({"path": path, "content": "x"}),
            )],
            &[],
            &[],
            true,
        );
        record(&sb, "escape.json", &text);
        let out = sb
            .gait()
            .args([
                "run",
                "replay",
                &run_id,
                "--real-tools",
                "--unsafe-real-tools",
                "--allow-tools",
                "file.write",
                "--json",
            ])
            .env("GAIT_ALLOW_REAL_REPLAY", "1")
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(8), "{path}: {json}");
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .contains("real replay refused"),
            "{json}"
        );
    }
    assert!(!sb.join("gait-out/replay/escape.txt").exists());
    assert!(!sb.join("escape.txt").exists());
    assert!(!std::path::Path::new("/tmp/gait-escape-test.txt").exists());
}

#[cfg(unix)]
#[test]
fn real_shell_timeout_kills_the_process_group() {
    // The contract's 5 s timeout applies; a background grandchild must die with the shell.
    let sb = Sandbox::new();
    let text = run_record(
        "run_slow",
        &[(
            "intent_1",
            "shell.exec",
            json!({"command": "sleep 600 >/dev/null 2>&1 & echo $! > bg.pid; sleep 600"}),
        )],
        &[],
        &[],
        true,
    );
    record(&sb, "slow.json", &text);
    let out = sb
        .gait()
        .args([
            "run",
            "replay",
            "run_slow",
            "--real-tools",
            "--unsafe-real-tools",
            "--allow-tools",
            "shell.exec",
            "--json",
        ])
        .env("GAIT_ALLOW_REAL_REPLAY", "1")
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json}");
    let step = &json["steps"][0];
    assert_eq!(step["status"], "error");
    assert_eq!(step["result"]["timed_out"], true);
    let pid = std::fs::read_to_string(sb.join("gait-out/replay/run_slow/bg.pid")).unwrap();
    let pid: i32 = pid.trim().parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let dead = stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'));
    assert!(dead, "background child {pid} outlived the timeout: {stat}");
}

#[test]
fn diff_same_and_one_changed_result() {
    let sb = Sandbox::new();
    let tools = [
        ("intent_1", "tool.search", json!({"q": 1})),
        ("intent_2", "tool.fetch", json!({"url": "u"})),
    ];
    record(&sb, "a.json", &run_record("run_a", &tools, &[], &[], false));
    record(&sb, "b.json", &run_record("run_b", &tools, &[], &[], false));
    let (code, json) = sb.run_json(&["run", "diff", "run_a", "run_b", "--json"]);
    assert_eq!(code, 0, "same behaviour, different run ids: {json}");
    assert_eq!(json["ok"], true);
    // One result differs: intent_2 fails in run_c.
    record(
        &sb,
        "c.json",
        &run_record("run_c", &tools, &[], &[("intent_2", "error")], false),
    );
    for privacy in ["full", "metadata"] {
        let (code, json) = sb.run_json(&[
            "run",
            "diff",
            "run_a",
            "run_c",
            "--privacy",
            privacy,
            "--output",
            "diff.json",
            "--json",
        ]);
        assert_eq!(code, 2, "{privacy}: {json}");
        assert_eq!(json["ok"], false);
        assert_eq!(json["privacy"], privacy);
        let s = &json["summary"];
        assert_eq!(s["results_changed"], true);
        assert_eq!(s["intents_changed"], false);
        assert_eq!(s["changed_results"], json!(["intent_2"]));
        let file: Value = serde_json::from_slice(&sb.read("diff.json")).unwrap();
        assert_eq!(file["summary"], *s);
        assert_eq!(file["privacy"], privacy);
    }
    let (code, text, _) = sb.run(&["run", "diff", "run_a", "run_c"]);
    assert_eq!(code, 2);
    assert!(text.contains("changed_results=intent_2"), "{text}");
    // A missing intent shows as one-sided.
    record(
        &sb,
        "d.json",
        &run_record("run_d", &tools[..1], &[], &[], false),
    );
    let (code, json) = sb.run_json(&["run", "diff", "run_a", "run_d", "--json"]);
    assert_eq!(code, 2);
    assert_eq!(json["summary"]["left_only_intents"], json!(["intent_2"]));
    assert_eq!(json["summary"]["left_only_results"], json!(["intent_2"]));
    let (code, json) = sb.run_json(&["run", "diff", "run_a", "--json"]);
    assert_eq!(code, 6, "{json}");
    let (code, json) = sb.run_json(&[
        "run",
        "diff",
        "run_a",
        "run_a",
        "--privacy",
        "secret",
        "--json",
    ]);
    assert_eq!(code, 6, "{json}");
}

#[test]
fn reduce_keeps_the_failure_and_inspect_shows_it() {
    let sb = Sandbox::new();
    let tools = [
        ("intent_1", "tool.search", json!({"q": 1})),
        ("intent_2", "tool.fetch", json!({"url": "u"})),
        ("intent_3", "tool.search", json!({"q": 3})),
    ];
    record(
        &sb,
        "r.json",
        &run_record(
            "run_r",
            &tools,
            &["intent_2"],
            &[("intent_3", "error")],
            false,
        ),
    );
    let (code, json) = sb.run_json(&["run", "inspect", "--from", "run_r", "--json"]);
    assert_eq!(code, 0, "{json}");
    let statuses: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ok", "missing", "error"]);

    let (code, json) = sb.run_json(&["run", "reduce", "--from", "run_r", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["reduced_run_id"], "run_r_reduced_missingresult");
    assert_eq!(json["selected_intent_id"], "intent_2");
    assert_eq!(json["still_failing"], true);
    let out = json["output"].as_str().unwrap();
    assert!(
        out.ends_with("runpack_run_r_reduced_missing_result.zip"),
        "{out}"
    );
    let (code, v) = sb.run_json(&["verify", out, "--json"]);
    assert_eq!(code, 0, "the reduced runpack verifies: {v}");
    assert_eq!(v["run_id"], "run_r_reduced_missingresult");
    let report: Value = serde_json::from_slice(&sb.read(json["report"].as_str().unwrap())).unwrap();
    assert_eq!(report["schema_id"], "gait.runpack.reduce_report");
    assert_eq!(report["original_intent_count"], 3);
    assert_eq!(report["reduced_intent_count"], 1);
    assert_eq!(report["reduced_result_count"], 0);
    assert_eq!(report["still_failing"], true);

    let (code, json) = sb.run_json(&[
        "run",
        "reduce",
        "run_r",
        "--predicate",
        "non_ok_status",
        "--out",
        "small.zip",
        "--json",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["selected_intent_id"], "intent_3");
    assert_eq!(json["reduced_run_id"], "run_r_reduced_nonokstatus");
    let (code, json) = sb.run_json(&["run", "inspect", "small.zip", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json["steps"].as_array().unwrap().len(), 1);
    assert_eq!(json["steps"][0]["status"], "error");

    sb.run_json(&["demo", "--json"]);
    let (code, json) = sb.run_json(&["run", "reduce", "--from", "run_demo", "--json"]);
    assert_eq!(code, 6, "nothing to reduce: {json}");
    let (code, _) = sb.run_json(&[
        "run",
        "reduce",
        "--from",
        "run_r",
        "--predicate",
        "bogus",
        "--json",
    ]);
    assert_eq!(code, 6);
}

#[test]
fn receipt_and_migrate() {
    let sb = Sandbox::new();
    let (_, demo) = sb.run_json(&["demo", "--json"]);
    let (code, out, _) = sb.run(&["run", "receipt", "--from", "run_demo"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim_end(), demo["ticket_footer"].as_str().unwrap());

    let (code, json) = sb.run_json(&["migrate", "run_demo", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["changed"], false, "the demo is already current");
    assert_eq!(json["manifest_digest"], demo["manifest_digest"]);
    let output = json["output"].as_str().unwrap();
    assert!(output.ends_with("runpack_run_demo_migrated.zip"));
    assert_eq!(sb.run_json(&["verify", output, "--json"]).0, 0);
    let (code, _) = sb.run_json(&["migrate", "run_demo", "--target", "v9", "--json"]);
    assert_eq!(code, 6);

    // A damaged runpack gets neither a receipt nor a migration.
    let zip = sb.read("gait-out/runpack_run_demo.zip");
    let entries = {
        let a =
            gait_engine::zipx::Archive::open(zip, gait_engine::zipx::ZipLimits::default()).unwrap();
        a.entries()
            .iter()
            .map(|e| {
                let mut d = a.read(&e.name).unwrap().unwrap();
                if e.name == "results.jsonl" {
                    d = String::from_utf8(d)
                        .unwrap()
                        .replace("\"ok\"", "\"no\"")
                        .into_bytes();
                }
                (e.name.clone(), d)
            })
            .collect::<Vec<_>>()
    };
    let bytes = gait_engine::zipx::write_deterministic(
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
    sb.write("bad.zip", bytes);
    let (code, json) = sb.run_json(&["run", "receipt", "--from", "bad.zip", "--json"]);
    assert_eq!(code, 2, "{json}");
    let (code, json) = sb.run_json(&["migrate", "bad.zip", "--json"]);
    assert_eq!(code, 2, "{json}");
}
