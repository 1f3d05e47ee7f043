//! `gait gate eval`, `gait trace verify` and the policy commands through the built binary: the
//! issue's "must show" behaviours and the CLI plumbing the vector runner does not reach.

use crate::support::Sandbox;
use serde_json::Value;

const WRITE_INTENT: &str = r#"{"tool_name":"tool.write","args":{"path":"/srv/a.txt"},
 "targets":[{"kind":"path","value":"/srv/a.txt","operation":"write"}],
 "arg_provenance":[{"arg_path":"$.path","source":"user"}],
 "context":{"identity":"agent.e2e","workspace":"/srv","risk_class":"medium"}}"#;

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

#[test]
fn misspelt_policy_key_exits_6_naming_it() {
    // CONTRACTS §2.1: unknown keys are errors (exit 6) with goccy's [line:col] position.
    let sb = Sandbox::new();
    sb.write(
        "p.yaml",
        "default_verdict: allow\nrules:\n  - name: r\n    efect: block\n",
    );
    sb.write("i.json", WRITE_INTENT);
    for args in [
        vec!["policy", "test", "p.yaml", "i.json", "--json"],
        vec![
            "gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json",
        ],
        vec!["policy", "validate", "p.yaml", "--json"],
    ] {
        let (code, json) = sb.run_json(&args);
        assert_eq!(code, 6, "{args:?}: {json}");
        assert_eq!(
            json["error"], "parse policy yaml: [4:5] unknown field \"efect\"",
            "{args:?}"
        );
        assert_eq!(json["error_code"], "invalid_input");
    }
    // No trace is written for an invalid policy.
    assert!(!std::fs::read_dir(sb.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("trace_")
    }));
}

#[test]
fn malformed_intents_exit_6() {
    let sb = Sandbox::new();
    sb.write("p.yaml", "default_verdict: allow\n");
    for (name, text, want) in [
        (
            "trunc.json",
            "{\"tool_name\":",
            "parse intent json: unexpected end of JSON input",
        ),
        (
            "dup.json",
            r#"{"tool_name":"t","tool_name":"u","context":{}}"#,
            "parse intent json: duplicate key \"tool_name\"",
        ),
        (
            "big.json",
            r#"{"tool_name":"t","args":{"n":9007199254740993},"context":{"identity":"a","workspace":"/w","risk_class":"low"}}"#,
            "parse intent json: integer 9007199254740993 at args.n",
        ),
        (
            "noctx.json",
            r#"{"tool_name":"t"}"#,
            "normalize intent: context.identity is required",
        ),
    ] {
        sb.write(name, text);
        let (code, json) = sb.run_json(&[
            "gate", "eval", "--policy", "p.yaml", "--intent", name, "--json",
        ]);
        assert_eq!(code, 6, "{name}: {json}");
        assert!(
            json["error"].as_str().unwrap().starts_with(want),
            "{name}: {json}"
        );
    }
}

#[test]
fn fail_closed_high_risk_missing_field_blocks() {
    // CONTRACTS §2.4 step 2: fail_closed covers high; a missing required field blocks (3), even
    // though the only rule allows everything.
    let sb = Sandbox::new();
    sb.write(
        "p.yaml",
        "default_verdict: allow\nfail_closed:\n  enabled: true\n  required_fields: [arg_provenance]\nrules:\n  - name: allow-all\n    effect: allow\n",
    );
    sb.write(
        "i.json",
        r#"{"tool_name":"tool.write","args":{},"targets":[{"kind":"path","value":"/a","operation":"write"}],
            "context":{"identity":"a","workspace":"/w","risk_class":"high"}}"#,
    );
    let (code, json) = sb.run_json(&[
        "gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json",
    ]);
    assert_eq!(code, 3, "{json}");
    assert_eq!(json["verdict"], "block");
    assert_eq!(
        strings(&json["reason_codes"]),
        ["fail_closed_missing_arg_provenance"]
    );
    assert_eq!(strings(&json["violations"]), ["missing_arg_provenance"]);
    let (code, json) = sb.run_json(&["policy", "test", "p.yaml", "i.json", "--json"]);
    assert_eq!((code, json["verdict"].as_str()), (3, Some("block")));
}

/// A plain `std::process::Command` with the sandbox's environment, for spawning without waiting.
fn std_command(sb: &Sandbox) -> std::process::Command {
    let mut cmd = std::process::Command::new(crate::support::gait_bin());
    cmd.current_dir(sb.path());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GAIT_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("HOME", sb.join("home"))
        .env("GAIT_HOME", sb.join("home/.gait"))
        .env("TZ", "UTC");
    cmd
}

#[test]
fn twenty_concurrent_evals_against_ten_per_minute() {
    // Fresh directory: no .gait-out yet (the reference fails here; DEVIATIONS #1). The evaluation
    // time is fixed so every process counts in the same one-minute bucket.
    let sb = Sandbox::new();
    sb.write(
        "p.yaml",
        "default_verdict: block\nrules:\n  - name: limited\n    effect: allow\n    rate_limit:\n      requests: 10\n      window: minute\n      scope: tool\n",
    );
    sb.write("i.json", WRITE_INTENT);
    let children: Vec<std::process::Child> = (0..20)
        .map(|_| {
            let mut cmd = std_command(&sb);
            cmd.args([
                "gate",
                "eval",
                "--policy",
                "p.yaml",
                "--intent",
                "i.json",
                "--evaluation-time",
                "2031-05-14T10:30:00Z",
                "--json",
            ]);
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn gait")
        })
        .collect();
    let mut allowed = 0;
    let mut limited = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        match (out.status.code(), json["verdict"].as_str()) {
            (Some(0), Some("allow")) => allowed += 1,
            (Some(3), Some("block")) => {
                assert_eq!(
                    strings(&json["reason_codes"]),
                    ["matched_rule_limited", "rate_limit_exceeded"]
                );
                assert_eq!(json["rate_limit_used"], 10);
                limited += 1;
            }
            other => panic!("unexpected result {other:?}: {json}"),
        }
    }
    assert_eq!((allowed, limited), (10, 10));
    let state: Value =
        serde_json::from_slice(&sb.read(".gait-out/gate_rate_limits.json")).expect("valid state");
    assert_eq!(state["schema_id"], "gait.gate.rate_limit_state");
    let counters = state["counters"].as_array().unwrap();
    assert_eq!(counters.len(), 1, "{state}");
    assert_eq!(
        counters[0]["key"],
        "minute|tool|2031-05-14T10:30:00Z|tool.write"
    );
    assert_eq!(counters[0]["count"], 10);
    assert!(!sb.join(".gait-out/gate_rate_limits.json.lock").exists());
}

fn signed_trace(sb: &Sandbox) -> (String, Value) {
    sb.vector_keys();
    sb.write("p.yaml", "default_verdict: block\nrules:\n  - name: w\n    effect: allow\n    match:\n      tool_names: [tool.write]\n");
    sb.write("i.json", WRITE_INTENT);
    let (code, json) = sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "p.yaml",
        "--intent",
        "i.json",
        "--key-mode",
        "prod",
        "--private-key",
        "keys/vectors_private.key",
        "--json",
    ]);
    assert_eq!(code, 0, "{json}");
    assert!(
        json.get("warnings").is_none(),
        "prod keys carry no dev warning: {json}"
    );
    (json["trace_path"].as_str().unwrap().to_string(), json)
}

#[test]
fn traces_verify_with_the_matching_key_and_fail_after_any_edit() {
    let sb = Sandbox::new();
    let (path, out) = signed_trace(&sb);
    let (code, json) = sb.run_json(&[
        "trace",
        "verify",
        &path,
        "--public-key",
        "keys/vectors_public.key",
        "--json",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["signature_status"], "verified");
    assert_eq!(json["trace_id"], out["trace_id"]);
    assert_eq!(
        json["key_id"],
        "066b0de74072ae762d11550336e773ad0da69ec10eb2ff550c27b7218695ae44"
    );
    // The private key verifies too (its public half).
    let (code, _) = sb.run_json(&[
        "trace",
        "verify",
        &path,
        "--private-key",
        "keys/vectors_private.key",
        "--json",
    ]);
    assert_eq!(code, 0);
    let original = String::from_utf8(sb.read(&path)).unwrap();
    for (from, to) in [
        ("\"verdict\": \"allow\"", "\"verdict\": \"block\""),
        (
            "\"tool_name\": \"tool.write\"",
            "\"tool_name\": \"tool.read\"",
        ),
        (
            "\"schema_version\": \"1.0.0\"",
            "\"schema_version\": \"1.0.1\"",
        ),
    ] {
        assert!(original.contains(from), "{from}");
        sb.write("edited.json", original.replacen(from, to, 1));
        let (code, json) = sb.run_json(&[
            "trace",
            "verify",
            "edited.json",
            "--public-key",
            "keys/vectors_public.key",
            "--json",
        ]);
        assert_eq!(code, 2, "edit {from}: {json}");
        assert_eq!(json["signature_status"], "failed");
        assert_eq!(json["ok"], false);
        assert_eq!(json["error_category"], "verification_failed");
    }
    // Added keys: a duplicate, a case variant Go would decode, an unknown field. The reference
    // exits 6 for the first and 0 for the others; gait calls each an edit (exit 2) naming the key.
    for (added, named) in [
        ("\"verdict\": \"block\"", "\\\"verdict\\\""),
        ("\"Verdict\": \"block\"", "\\\"Verdict\\\""),
        ("\"surprise\": 1", "\\\"surprise\\\""),
    ] {
        sb.write(
            "added.json",
            original.replacen("{\n", &format!("{{\n  {added},\n"), 1),
        );
        let (code, json) = sb.run_json(&[
            "trace",
            "verify",
            "added.json",
            "--public-key",
            "keys/vectors_public.key",
            "--json",
        ]);
        assert_eq!(code, 2, "added {added}: {json}");
        assert_eq!(json["signature_status"], "failed");
        assert!(json.to_string().contains(named), "added {added}: {json}");
    }
    // Truncated or foreign-key traces fail too; a missing key is invalid input.
    sb.write("trunc.json", &original[..original.len() / 2]);
    let (code, _) = sb.run_json(&[
        "trace",
        "verify",
        "trunc.json",
        "--public-key",
        "keys/vectors_public.key",
        "--json",
    ]);
    assert_eq!(code, 6);
    sb.write(
        "other_public.key",
        "sJ9TelRwnKinkx/LTpFF320wUMJiqf3OVEnMhMYF3PE=\n",
    );
    let (code, _) = sb.run_json(&[
        "trace",
        "verify",
        &path,
        "--public-key",
        "other_public.key",
        "--json",
    ]);
    assert_eq!(code, 2);
    let (code, json) = sb.run_json(&["trace", "verify", &path, "--json"]);
    assert_eq!(
        (code, json["error"].as_str()),
        (6, Some("public key not configured"))
    );
}

#[test]
fn reference_signed_trace_verifies() {
    // FIELDS §6.1: the reference's own trace and test key pair.
    let sb = Sandbox::new();
    let dir = crate::support::vectors_dir().join("fields_examples");
    sb.write(
        "trace_allow.json",
        std::fs::read(dir.join("trace_allow.json")).unwrap(),
    );
    sb.write(
        "test_public.key",
        std::fs::read(dir.join("test_public.key")).unwrap(),
    );
    let (code, json) = sb.run_json(&[
        "trace",
        "verify",
        "trace_allow.json",
        "--public-key",
        "test_public.key",
        "--json",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["trace_id"], "696d191cbfc0ba0a6bec1420");
    assert_eq!(json["verdict"], "allow");
}

#[test]
fn project_config_supplies_defaults_and_flags_win() {
    let sb = Sandbox::new();
    sb.write("block.yaml", "default_verdict: block\n");
    sb.write("allow.yaml", "default_verdict: allow\n");
    sb.write("i.json", WRITE_INTENT);
    sb.write(
        ".gait/config.yaml",
        "gate:\n  policy: block.yaml\n  trace_path: traces/last.json\n",
    );
    let (code, json) = sb.run_json(&["gate", "eval", "--intent", "i.json", "--json"]);
    assert_eq!(
        (code, json["verdict"].as_str()),
        (3, Some("block")),
        "{json}"
    );
    assert!(sb.join("traces/last.json").exists());
    let (code, _) = sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "allow.yaml",
        "--intent",
        "i.json",
        "--json",
    ]);
    assert_eq!(code, 0, "the --policy flag wins over the config");
    let (code, json) = sb.run_json(&[
        "gate",
        "eval",
        "--no-config",
        "--intent",
        "i.json",
        "--json",
    ]);
    assert_eq!(
        (code, json["error"].as_str()),
        (6, Some("both --policy and --intent are required"))
    );
    sb.write("other.yaml", "gate:\n  policy: allow.yaml\n");
    let (code, _) = sb.run_json(&[
        "gate",
        "eval",
        "--config",
        "other.yaml",
        "--intent",
        "i.json",
        "--json",
    ]);
    assert_eq!(code, 0, "--config picks another file");
    sb.write(".gait/config.yaml", "gate:\n  polcy: block.yaml\n");
    let (code, json) = sb.run_json(&["gate", "eval", "--intent", "i.json", "--json"]);
    assert_eq!(code, 6);
    assert_eq!(
        json["error"],
        "parse project config: [2:3] unknown field \"polcy\""
    );
}

#[test]
fn structured_explain_names_rules_codes_and_proof() {
    let sb = Sandbox::new();
    sb.write(
        "p.yaml",
        "default_verdict: block\nrules:\n  - name: approve-writes\n    priority: 3\n    effect: require_approval\n    min_approvals: 2\n    match:\n      tool_names: [tool.write]\n",
    );
    sb.write("i.json", WRITE_INTENT);
    let (code, json) = sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "p.yaml",
        "--intent",
        "i.json",
        "--explain",
        "--json",
    ]);
    assert_eq!(code, 4, "{json}");
    assert_eq!(json["schema_id"], "gait.gate.policy_explain");
    assert_eq!(json["verdict"], "require_approval");
    assert_eq!(json["matched_rules"][0]["name"], "approve-writes");
    assert_eq!(json["matched_rules"][0]["priority"], 3);
    assert_eq!(json["required_approvals"], 2);
    assert_eq!(json["approval_required"], true);
    let trace = json["proof_refs"]["trace_path"].as_str().unwrap();
    assert!(sb.join(trace).exists());
    assert!(
        json["proof_refs"]["approval_audit_path"]
            .as_str()
            .unwrap()
            .starts_with("approval_audit_")
    );
    // Without --json, --explain prints the fixed sentence and evaluates nothing.
    let (code, out, _) = sb.run(&["gate", "eval", "--explain"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Evaluates a structured tool-call intent"),
        "{out}"
    );
}

#[test]
fn approval_audit_without_tokens_matches_the_reference_shape() {
    // FIELDS §2.5 and tokens.jsonl `gate-approval-missing`: entries null, valid 0, not approved.
    let sb = Sandbox::new();
    sb.write("p.yaml", "default_verdict: block\nrules:\n  - name: needs-approval\n    effect: require_approval\n    match:\n      tool_names: [tool.write]\n");
    sb.write("i.json", WRITE_INTENT);
    let (code, json) = sb.run_json(&[
        "gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json",
    ]);
    assert_eq!(code, 4);
    let audit: Value =
        serde_json::from_slice(&sb.read(json["approval_audit_path"].as_str().unwrap())).unwrap();
    assert_eq!(audit["schema_id"], "gait.gate.approval_audit_record");
    assert_eq!(audit["trace_id"], json["trace_id"]);
    assert_eq!(audit["required_approvals"], 1);
    assert_eq!(audit["valid_approvals"], 0);
    assert_eq!(audit["approved"], false);
    assert!(audit["entries"].is_null());
    assert_eq!(audit["relationship"]["parent_ref"]["kind"], "trace");
}

#[test]
fn policy_fmt_validate_and_simulate() {
    let sb = Sandbox::new();
    sb.write(
        "p.yaml",
        "rules:\n  - {name: B, effect: Block, match: {tool_name: tool.write}}\n  - name: a\n    action: allow\n    priority: -1\n    match: {risk_classes: [LOW]}\n",
    );
    let (code, v) = sb.run_json(&["policy", "validate", "p.yaml", "--json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (v["rule_count"].as_i64(), v["default_verdict"].as_str()),
        (Some(2), Some("require_approval"))
    );
    let (code, f) = sb.run_json(&["policy", "fmt", "p.yaml", "--json"]);
    assert_eq!((code, f["changed"].as_bool()), (0, Some(true)));
    assert_eq!(f["policy_digest"], v["policy_digest"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o640);
        std::fs::set_permissions(sb.join("p.yaml"), perms).unwrap();
    }
    let (code, w) = sb.run_json(&["policy", "fmt", "p.yaml", "--write", "--json"]);
    assert_eq!((code, w["written"].as_bool()), (0, Some(true)));
    // The rewrite keeps the file's mode (the review saw 0640 become 0644).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sb.join("p.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    // Idempotent, and the digest never changes.
    let (_, again) = sb.run_json(&["policy", "fmt", "p.yaml", "--json"]);
    assert_eq!(again["changed"], false);
    assert_eq!(again["policy_digest"], v["policy_digest"]);
    let text = String::from_utf8(sb.read("p.yaml")).unwrap();
    assert!(
        text.find("name: \"a\"").unwrap() < text.find("name: \"B\"").unwrap(),
        "rules in evaluation order:\n{text}"
    );

    sb.write("base.yaml", "default_verdict: allow\n");
    sb.write("cand.yaml", "default_verdict: allow\nrules:\n  - name: no-writes\n    effect: block\n    match:\n      tool_names: [tool.write]\n");
    sb.write("fx/write.json", WRITE_INTENT);
    sb.write(
        "fx/read.json",
        WRITE_INTENT.replace("tool.write", "tool.read"),
    );
    let (code, s) = sb.run_json(&[
        "policy",
        "simulate",
        "--policy",
        "cand.yaml",
        "--baseline",
        "base.yaml",
        "--fixtures",
        "fx",
        "--json",
    ]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        (s["fixtures_total"].as_i64(), s["fixtures_changed"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        s["recommendation"], "require_approval",
        "a tightening needs a reviewed rollout"
    );
    let (_, s) = sb.run_json(&[
        "policy",
        "simulate",
        "--policy",
        "base.yaml",
        "--baseline",
        "cand.yaml",
        "--fixtures",
        "fx/write.json",
        "--json",
    ]);
    assert_eq!(
        s["recommendation"], "observe",
        "a relaxation is observed first"
    );
    let (_, s) = sb.run_json(&[
        "policy",
        "simulate",
        "--policy",
        "base.yaml",
        "--baseline",
        "base.yaml",
        "--fixtures",
        "fx",
        "--json",
    ]);
    assert_eq!(s["recommendation"], "enforce");
}

#[test]
fn policy_cache_is_used_and_never_trusted_blindly() {
    let sb = Sandbox::new();
    sb.write("p.yaml", "default_verdict: block\nrules:\n  - name: w\n    effect: allow\n    match:\n      tool_names: [tool.write]\n");
    sb.write("i.json", WRITE_INTENT);
    let (code, first) = sb.run_json(&[
        "gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json",
    ]);
    assert_eq!(code, 0);
    let cache_dir = sb.join("home/.gait/cache/policies");
    let entries = cache_entries(&cache_dir);
    assert_eq!(entries.len(), 1);
    // A corrupt entry falls back to parsing with the same decision.
    std::fs::write(&entries[0], b"{\"format\":\"garbage\"").unwrap();
    let (code, second) = sb.run_json(&[
        "gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(first["policy_digest"], second["policy_digest"]);
    // Disabled by GAIT_POLICY_CACHE=off: still the same decision.
    let out = sb
        .gait()
        .env("GAIT_POLICY_CACHE", "off")
        .args([
            "gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

fn cache_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

#[test]
fn a_forged_cache_entry_never_changes_the_verdict() {
    // The review's attack: edit the cached compiled policy (block → allow) and repair every
    // plain hash in the entry. The verdict must stay block, with the real policy's digest.
    let sb = Sandbox::new();
    sb.write(
        "p.yaml",
        "default_verdict: allow\nrules:\n  - name: w\n    effect: block\n    match:\n      tool_names: [tool.write]\n",
    );
    sb.write("i.json", WRITE_INTENT);
    let eval = [
        "gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json",
    ];
    let (code, first) = sb.run_json(&eval);
    assert_eq!(
        (code, first["verdict"].as_str()),
        (3, Some("block")),
        "{first}"
    );
    let entries = cache_entries(&sb.join("home/.gait/cache/policies"));
    assert_eq!(entries.len(), 1);
    let text = String::from_utf8(std::fs::read(&entries[0]).unwrap()).unwrap();
    let forged = text.replacen("\"effect\":\"block\"", "\"effect\":\"allow\"", 1);
    assert_ne!(
        forged, text,
        "the entry does not hold the rule's effect as expected"
    );
    // Repair the header's payload hash wherever the format carries one (the old format did).
    let forged = match forged.split_once('\n') {
        Some((head, payload)) if head.contains("payload_sha256") => {
            let mut h: Value = serde_json::from_str(head).unwrap();
            h["payload_sha256"] = gait_engine::canon::sha256_hex(payload.as_bytes()).into();
            format!("{h}\n{payload}")
        }
        _ => forged,
    };
    std::fs::write(&entries[0], forged).unwrap();
    for _ in 0..2 {
        let (code, again) = sb.run_json(&eval);
        assert_eq!(
            (code, again["verdict"].as_str()),
            (3, Some("block")),
            "{again}"
        );
        assert_eq!(again["policy_digest"], first["policy_digest"]);
    }
    // policy test agrees and, being read-only, leaves the cache alone.
    let before = std::fs::read(&entries[0]).unwrap();
    let (code, t) = sb.run_json(&["policy", "test", "p.yaml", "i.json", "--json"]);
    assert_eq!((code, t["verdict"].as_str()), (3, Some("block")), "{t}");
    assert_eq!(std::fs::read(&entries[0]).unwrap(), before);
}

#[test]
fn policy_commands_write_nothing_under_the_gait_home() {
    let sb = Sandbox::new();
    sb.write("p.yaml", "default_verdict: block\nrules: []\n");
    sb.write("i.json", WRITE_INTENT);
    let (code, _) = sb.run_json(&["policy", "test", "p.yaml", "i.json", "--json"]);
    assert_eq!(code, 3);
    let (code, _) = sb.run_json(&["policy", "validate", "p.yaml", "--json"]);
    assert_eq!(code, 0);
    assert!(
        !sb.join("home/.gait/cache").exists(),
        "policy commands wrote a cache"
    );
}

#[test]
fn oversized_and_hostile_inputs_are_refused() {
    let sb = Sandbox::new();
    sb.write("i.json", WRITE_INTENT);
    // A policy beyond the 8 MiB bound is refused before parsing.
    let mut big = String::from("default_verdict: allow\nrules:\n");
    while big.len() <= 8 * 1024 * 1024 {
        big.push_str(
            "  - {name: padding-rule-with-a-long-name, effect: allow, match: {tool_names: [x]}}\n",
        );
    }
    sb.write("big.yaml", &big);
    let (code, json) = sb.run_json(&["policy", "test", "big.yaml", "i.json", "--json"]);
    assert_eq!(code, 6, "{json}");
    assert!(json["error"].as_str().unwrap().contains("limit"), "{json}");
    // A YAML alias bomb is bounded.
    let mut bomb = String::from("x-a: &a0 [z, z, z, z, z, z, z, z, z, z]\n");
    for i in 1..9 {
        let p = i - 1;
        bomb.push_str(&format!(
            "x-a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    sb.write("bomb.yaml", &bomb);
    let (code, json) = sb.run_json(&["policy", "validate", "bomb.yaml", "--json"]);
    assert_eq!(code, 6, "{json}");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("alias expansion is bounded"),
        "{json}"
    );
    // Deeply nested intent JSON is refused with a clear error, never a crash.
    let deep = format!(
        r#"{{"tool_name":"t","args":{{"d":{}{}}},"context":{{"identity":"a","workspace":"/w","risk_class":"low"}}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    sb.write("deep.json", deep);
    sb.write("p.yaml", "default_verdict: allow\n");
    let (code, json) = sb.run_json(&["policy", "test", "p.yaml", "deep.json", "--json"]);
    assert_eq!(code, 6, "{json}");
    assert!(json["error"].as_str().unwrap().contains("depth"), "{json}");
    // A directory is not a policy.
    std::fs::create_dir_all(sb.join("dir.yaml")).unwrap();
    let (code, _) = sb.run_json(&["policy", "validate", "dir.yaml", "--json"]);
    assert_eq!(code, 6);
}

#[test]
fn a_context_record_without_retrieved_at_is_stale() {
    // Go computes the age as now.Sub(zero time), which saturates to the largest duration: the
    // reference blocks on max_context_age_seconds at any evaluation time over 292 years after
    // year 1 (the review found gait allowing: it counted the age as 0).
    let sb = Sandbox::new();
    sb.write(
        "p.yaml",
        "default_verdict: allow\nrules:\n  - name: ctx\n    effect: allow\n    match: {}\n    require_context_evidence: true\n    max_context_age_seconds: 600\n",
    );
    sb.write("i.json", WRITE_INTENT);
    let digest = |c: char| c.to_string().repeat(64);
    sb.write(
        "env.json",
        format!(
            r#"{{"schema_id":"gait.context.envelope","schema_version":"1.0.0","evidence_mode":"required",
"records":[{{"ref_id":"doc-1","source_type":"kb","query_digest":"{}","content_digest":"{}"}}]}}"#,
            digest('1'),
            digest('2')
        ),
    );
    for at in ["2031-05-14T10:30:00Z", "1990-01-01T00:00:00Z"] {
        let (code, json) = sb.run_json(&[
            "gate",
            "eval",
            "--policy",
            "p.yaml",
            "--intent",
            "i.json",
            "--context-envelope",
            "env.json",
            "--evaluation-time",
            at,
            "--json",
        ]);
        assert_eq!(
            (code, json["verdict"].as_str()),
            (3, Some("block")),
            "{at}: {json}"
        );
        assert!(
            strings(&json["reason_codes"]).contains(&"context_freshness_exceeded".to_string()),
            "{at}: {json}"
        );
    }
}
