//! The approved-script registry through the built binary (CONTRACTS §2.6): `approve-script` adds a
//! signed entry, `list-scripts` shows it, and `gate eval --approved-script-registry` lets exactly
//! that script through (`approved_script_match`, pre_approved, pattern_id); a registry that does not
//! verify fails closed (exit 3) at high risk and is skipped with a warning otherwise; the Wrkr
//! inventory fails closed at high risk when it cannot be read.

use crate::support::Sandbox;
use serde_json::Value;

/// Script steps of medium risk that the rules send to approval.
const POLICY: &str = "default_verdict: require_approval\nrules:\n  - name: reads\n    effect: allow\n    match:\n      tool_names: [tool.read]\n";

fn script_intent(risk: &str, second_path: &str) -> String {
    format!(
        r#"{{"tool_name":"script","args":{{}},
 "script":{{"steps":[
   {{"tool_name":"tool.read","args":{{"path":"/srv/app/a"}},"targets":[{{"kind":"path","value":"/srv/app/a","operation":"read"}}]}},
   {{"tool_name":"tool.write","args":{{"path":"{second_path}"}},"targets":[{{"kind":"path","value":"{second_path}","operation":"write"}}]}}]}},
 "context":{{"identity":"agent.app","workspace":"/srv/app","risk_class":"{risk}"}}}}"#
    )
}

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    let (code, out) = sb.run_json(&[
        "keys",
        "init",
        "--out-dir",
        "keys",
        "--prefix",
        "ops",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    sb.write("policy.yaml", POLICY);
    sb.write("script.json", script_intent("medium", "/srv/app/b"));
    sb.write("high.json", script_intent("high", "/srv/app/b"));
    sb.write("changed.json", script_intent("medium", "/srv/app/c"));
    sb
}

fn approve_script(sb: &Sandbox, intent: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "approve-script",
        "--policy",
        "policy.yaml",
        "--intent",
        intent,
        "--registry",
        "registry.json",
        "--approver",
        "alice",
        "--key-mode",
        "prod",
        "--private-key",
        "keys/ops_private.key",
    ];
    args.extend_from_slice(extra);
    args.push("--json");
    let (code, out) = sb.run_json(&args);
    assert_eq!(code, 0, "{out}");
    out
}

fn eval(sb: &Sandbox, intent: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        intent,
        "--approved-script-registry",
        "registry.json",
    ];
    args.extend_from_slice(extra);
    args.push("--json");
    sb.run_json(&args)
}

const KEY: [&str; 2] = ["--approved-script-public-key", "keys/ops_public.key"];

#[test]
fn an_approved_script_takes_the_fast_path_and_only_that_script() {
    let sb = sandbox();
    // Without the registry the script needs approval.
    let (code, out) = sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "script.json",
        "--json",
    ]);
    assert_eq!(code, 4, "{out}");
    let added = approve_script(
        &sb,
        "script.json",
        &[
            "--pattern-id",
            "deploy-readme",
            "--scope",
            "risk:medium,workspace_prefix:/srv",
        ],
    );
    assert_eq!(added["pattern_id"], "deploy-readme");
    assert_eq!(
        strings(&added["tool_sequence"]),
        ["tool.read", "tool.write"]
    );
    assert_eq!(added["script_hash"], out["script_hash"]);
    assert_eq!(added["policy_digest"], out["policy_digest"]);
    let (code, out) = eval(&sb, "script.json", &KEY);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["verdict"], "allow");
    assert_eq!(strings(&out["reason_codes"]), ["approved_script_match"]);
    assert_eq!(out["pre_approved"], true);
    assert_eq!(out["pattern_id"], "deploy-readme");
    assert_eq!(out["registry_reason"], "approved_script_match");
    let trace: Value =
        serde_json::from_slice(&sb.read(out["trace_path"].as_str().unwrap())).unwrap();
    assert_eq!(trace["pre_approved"], true);
    assert_eq!(trace["pattern_id"], "deploy-readme");
    // Another script (one argument changed) is not covered.
    let (code, out) = eval(&sb, "changed.json", &KEY);
    assert_eq!(code, 4, "{out}");
    assert_eq!(out["registry_reason"], "approved_script_not_found");
    assert!(out.get("pre_approved").is_none());
    // The entry's scope limits the risk class.
    let (code, out) = eval(&sb, "high.json", &KEY);
    assert_eq!(code, 4, "{out}");
    assert_eq!(out["registry_reason"], "approved_script_not_found");
    // The verify key falls back to the approval verify key.
    let (code, out) = eval(
        &sb,
        "script.json",
        &["--approval-public-key", "keys/ops_public.key"],
    );
    assert_eq!(code, 0, "{out}");
    // list-scripts shows the entry as active.
    let (code, listed) = sb.run_json(&["list-scripts", "--registry", "registry.json", "--json"]);
    assert_eq!(code, 0, "{listed}");
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["entries"][0]["status"], "active");
    assert_eq!(listed["entries"][0]["pattern_id"], "deploy-readme");
    // Approving it again under the same pattern id appends a second entry (CONTRACTS §1.2
    // "appended to registry"); the fast path still matches and reports the pattern id.
    let again = approve_script(&sb, "script.json", &["--pattern-id", "deploy-readme"]);
    assert_eq!(again["entries"], 2);
    let (code, listed) = sb.run_json(&["list-scripts", "--registry", "registry.json", "--json"]);
    assert_eq!(code, 0, "{listed}");
    assert_eq!(listed["count"], 2);
    let (code, out) = eval(&sb, "script.json", &KEY);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["pattern_id"], "deploy-readme");
}

#[test]
fn a_registry_that_does_not_verify_fails_closed_at_high_risk() {
    let sb = sandbox();
    approve_script(&sb, "high.json", &["--pattern-id", "p"]);
    // Verified with another key: exit 3 with the reference's message at high risk ...
    let (code, rogue) = sb.run_json(&[
        "keys",
        "init",
        "--out-dir",
        "keys",
        "--prefix",
        "rogue",
        "--json",
    ]);
    assert_eq!(code, 0, "{rogue}");
    let wrong = ["--approved-script-public-key", "keys/rogue_public.key"];
    let (code, out) = eval(&sb, "high.json", &wrong);
    assert_eq!(code, 3, "{out}");
    assert_eq!(out["ok"], false);
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .starts_with("approved script registry verification failed at entry 0: "),
        "{out}"
    );
    // ... and a warning with the fast path off otherwise.
    let (code, out) = eval(&sb, "script.json", &wrong);
    assert_eq!(code, 4, "{out}");
    assert!(
        strings(&out["warnings"])
            .iter()
            .any(|w| w.starts_with("approved script registry verification failed")),
        "{out}"
    );
    // An edited entry does not verify either.
    let text = String::from_utf8(sb.read("registry.json")).unwrap();
    sb.write("registry.json", text.replace("\"alice\"", "\"mallory\""));
    let (code, _) = eval(&sb, "high.json", &KEY);
    assert_eq!(code, 3);
    // A registry that cannot be parsed fails closed at high risk too.
    sb.write("registry.json", "{ nope");
    let (code, out) = eval(&sb, "high.json", &KEY);
    assert_eq!(code, 3, "{out}");
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .contains("approved script registry")
    );
    // approve-script takes script intents only.
    sb.write(
        "single.json",
        r#"{"tool_name":"tool.read","args":{},"context":{"identity":"a","workspace":"/w","risk_class":"low"}}"#,
    );
    let (code, out) = sb.run_json(&[
        "approve-script",
        "--policy",
        "policy.yaml",
        "--intent",
        "single.json",
        "--registry",
        "r2.json",
        "--approver",
        "a",
        "--json",
    ]);
    assert_eq!(code, 6, "{out}");
}

#[test]
fn a_missing_wrkr_inventory_fails_closed_at_high_risk() {
    let sb = sandbox();
    let (code, out) = sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "high.json",
        "--wrkr-inventory",
        "missing.json",
        "--json",
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out["error"]
            .as_str()
            .unwrap()
            .starts_with("wrkr inventory unavailable in fail-closed mode: "),
        "{out}"
    );
    let (code, out) = sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "script.json",
        "--wrkr-inventory",
        "missing.json",
        "--json",
    ]);
    assert_eq!(code, 4, "{out}");
    assert!(!strings(&out["warnings"]).is_empty());
}
