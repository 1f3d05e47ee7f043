//! `gait kill-switch add|list|disable|expire` and its effect on `gate eval` (CONTRACTS §2.4 step 8):
//! an active matching entry blocks with `kill_switch_active`; disabled, expired and non-matching
//! entries do not; an unreadable state fails closed at high risk and is an input error otherwise.

use crate::support::Sandbox;
use serde_json::Value;

const POLICY: &str = "default_verdict: allow\n";
const INTENT: &str = r#"{"tool_name":"tool.write","args":{"path":"/srv/app/out.txt"},
 "targets":[{"kind":"path","value":"/srv/app/out.txt","operation":"write"}],
 "context":{"identity":"agent.app","workspace":"/srv/app","risk_class":"medium","environment":"prod"}}"#;
const HIGH_RISK: &str = r#"{"tool_name":"tool.write","args":{},
 "context":{"identity":"agent.app","workspace":"/srv/app","risk_class":"high"}}"#;

const STATE: &str = ".gait-out/kill_switch_state.json";

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("policy.yaml", POLICY);
    sb.write("intent.json", INTENT);
    sb.write("high.json", HIGH_RISK);
    sb
}

fn eval(sb: &Sandbox, intent: &str, at: &str) -> (i32, Value) {
    sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        intent,
        "--kill-switch-state",
        STATE,
        "--evaluation-time",
        at,
        "--json",
    ])
}

fn ks(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["kill-switch"];
    all.extend_from_slice(args);
    all.push("--json");
    let (code, out) = sb.run_json(&all);
    assert_eq!(code, 0, "{args:?}: {out}");
    out
}

#[test]
fn an_active_matching_entry_blocks_and_a_disabled_one_does_not() {
    let sb = sandbox();
    let now = "2031-01-01T00:00:00Z";
    let (code, _) = eval(&sb, "intent.json", now);
    // No state file yet: unreadable at medium risk is an input error.
    assert_eq!(code, 6);
    let added = ks(
        &sb,
        &[
            "add",
            "--tool-name",
            "Tool.Write",
            "--environment",
            "prod",
            "--reason",
            "incident 42",
            "--actor",
            "oncall",
        ],
    );
    assert_eq!(added["status"], "active");
    let id = added["entry"]["entry_id"].as_str().unwrap().to_string();
    let (code, out) = eval(&sb, "intent.json", "2099-01-01T00:00:00Z");
    assert_eq!(code, 3, "{out}");
    assert_eq!(out["verdict"], "block");
    assert_eq!(
        strings(&out["reason_codes"]),
        [
            "default_allow",
            "kill_switch_active",
            "kill_switch_environment_active",
            "kill_switch_tool_name_active"
        ]
    );
    assert_eq!(strings(&out["violations"]), ["kill_switch_active"]);
    assert_eq!(out["kill_switch"]["status"], "active");
    assert_eq!(
        strings(&out["kill_switch"]["matched_entry_ids"]),
        std::slice::from_ref(&id)
    );
    // A selector that does not match leaves the call alone.
    ks(
        &sb,
        &[
            "add",
            "--entry-id",
            "other-tool",
            "--tool-name",
            "tool.read",
        ],
    );
    let listed = ks(&sb, &["list"]);
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["active"], 2);
    ks(&sb, &["disable", "--entry-id", &id]);
    let (code, out) = eval(&sb, "intent.json", "2099-01-01T00:00:00Z");
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["kill_switch"]["status"], "inactive");
    let listed = ks(&sb, &["list"]);
    let statuses: Vec<(String, String)> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["entry_id"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(statuses.contains(&(id, "disabled".to_string())));
    // Unknown ids are input errors.
    let (code, out) = sb.run_json(&["kill-switch", "disable", "--entry-id", "nope", "--json"]);
    assert_eq!(code, 6, "{out}");
}

#[test]
fn an_expired_entry_does_not_block() {
    let sb = sandbox();
    // An entry expiring in the future blocks before its expiry and not after it.
    ks(
        &sb,
        &[
            "add",
            "--entry-id",
            "temp",
            "--identity",
            "agent.app",
            "--expires-at",
            "2090-01-01T00:00:00Z",
        ],
    );
    let (code, out) = eval(&sb, "intent.json", "2089-12-31T23:59:59Z");
    assert_eq!(code, 3, "{out}");
    assert!(strings(&out["reason_codes"]).contains(&"kill_switch_identity_active".into()));
    let (code, out) = eval(&sb, "intent.json", "2090-01-01T00:00:00Z");
    assert_eq!(code, 0, "{out}");
    // `expire` ends it now.
    ks(&sb, &["add", "--entry-id", "blanket"]);
    let (code, _) = eval(&sb, "intent.json", "2095-01-01T00:00:00Z");
    assert_eq!(code, 3, "an entry without selectors stops every call");
    let expired = ks(&sb, &["expire", "--entry-id", "blanket"]);
    assert_eq!(expired["status"], "expired");
    let (code, out) = eval(&sb, "intent.json", "2095-01-01T00:00:00Z");
    assert_eq!(code, 0, "{out}");
    // An expiry in the past is refused when adding.
    let (code, out) = sb.run_json(&[
        "kill-switch",
        "add",
        "--expires-at",
        "2001-01-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(code, 6, "{out}");
    let (code, out) = sb.run_json(&["kill-switch", "add", "--expires-at", "soon", "--json"]);
    assert_eq!(code, 6, "{out}");
}

#[test]
fn an_unreadable_state_fails_closed_at_high_risk() {
    let sb = sandbox();
    sb.write(STATE, "{ not json");
    let (code, out) = eval(&sb, "high.json", "2031-01-01T00:00:00Z");
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        strings(&out["reason_codes"]),
        ["kill_switch_state_unavailable"]
    );
    assert_eq!(out["kill_switch"]["status"], "unavailable");
    let (code, out) = eval(&sb, "intent.json", "2031-01-01T00:00:00Z");
    assert_eq!(code, 6, "{out}");
    // The management commands refuse to overwrite a state they cannot read.
    let (code, out) = sb.run_json(&["kill-switch", "add", "--state", STATE, "--json"]);
    assert_eq!(code, 6, "{out}");
    assert_eq!(String::from_utf8(sb.read(STATE)).unwrap(), "{ not json");
}

#[test]
fn the_state_file_carries_the_producer_version_after_updated_at() {
    let sb = sandbox();
    ks(
        &sb,
        &["add", "--entry-id", "e1", "--tool-name", "tool.write"],
    );
    // The top-level field order of the gate.jsonl `ks.json` files: schema_id, schema_version,
    // created_at, updated_at, producer_version (the reference's unstamped 0.0.0-dev), entries.
    let text = String::from_utf8(sb.read(STATE)).unwrap();
    let at = |key: &str| {
        text.find(&format!("\n  \"{key}\": "))
            .unwrap_or_else(|| panic!("no top-level {key} in {text}"))
    };
    let order = [
        "schema_id",
        "schema_version",
        "created_at",
        "updated_at",
        "producer_version",
        "entries",
    ];
    for pair in order.windows(2) {
        assert!(at(pair[0]) < at(pair[1]), "{pair:?} out of order: {text}");
    }
    assert!(
        text.contains("\n  \"producer_version\": \"0.0.0-dev\",\n"),
        "{text}"
    );
}

#[test]
fn expire_with_a_time_ends_the_entry_then() {
    let sb = sandbox();
    ks(
        &sb,
        &["add", "--entry-id", "later", "--tool-name", "tool.write"],
    );
    // An offset time is stored in UTC, like `add --expires-at`.
    let out = ks(
        &sb,
        &[
            "expire",
            "--entry-id",
            "later",
            "--expires-at",
            "2090-06-01T02:00:00+02:00",
        ],
    );
    assert_eq!(out["entry"]["expires_at"], "2090-06-01T00:00:00Z");
    assert_eq!(out["status"], "active", "it ends in 2090, not now");
    let (code, out) = eval(&sb, "intent.json", "2090-05-31T23:59:59Z");
    assert_eq!(code, 3, "{out}");
    let (code, out) = eval(&sb, "intent.json", "2090-06-01T00:00:00Z");
    assert_eq!(code, 0, "{out}");
    // Not RFC3339: an input error, and the state is left as it was.
    let before = sb.read(STATE);
    for bad in ["soon", "2090-06-01", "2090-13-01T00:00:00Z"] {
        let (code, out) = sb.run_json(&[
            "kill-switch",
            "expire",
            "--entry-id",
            "later",
            "--expires-at",
            bad,
            "--json",
        ]);
        assert_eq!(code, 6, "{bad}: {out}");
        assert!(
            out["error"].as_str().unwrap().contains("--expires-at"),
            "{out}"
        );
    }
    assert_eq!(sb.read(STATE), before);
    // An unknown entry is still an input error with a valid time.
    let (code, out) = sb.run_json(&[
        "kill-switch",
        "expire",
        "--entry-id",
        "nope",
        "--expires-at",
        "2090-06-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(code, 6, "{out}");
}

fn journal(sb: &Sandbox) -> Vec<Value> {
    let path = sb.join(".gait-out/kill_switch_journal.jsonl");
    if !path.exists() {
        return Vec::new();
    }
    String::from_utf8(std::fs::read(path).unwrap())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_firing_kill_switch_is_journaled_beside_the_state() {
    let sb = sandbox();
    ks(
        &sb,
        &[
            "add",
            "--entry-id",
            "stop-write",
            "--tool-name",
            "tool.write",
        ],
    );
    ks(
        &sb,
        &["add", "--entry-id", "stop-read", "--tool-name", "tool.read"],
    );
    let (code, out) = eval(&sb, "intent.json", "2090-01-01T00:00:00Z");
    assert_eq!(code, 3, "{out}");
    let events = journal(&sb);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    // The fields README documents, tied to this call's decision.
    assert_eq!(e["schema_id"], "gait.gate.kill_switch_event");
    assert_eq!(e["schema_version"], "1.0.0");
    assert_eq!(
        e["created_at"], "2090-01-01T00:00:00Z",
        "the evaluation time"
    );
    assert_eq!(e["producer_version"], "0.0.0-dev");
    assert_eq!(e["trace_id"], out["trace_id"]);
    assert_eq!(e["intent_digest"], out["intent_digest"]);
    assert_eq!(e["policy_digest"], out["policy_digest"]);
    assert_eq!(e["tool_name"], "tool.write");
    assert_eq!(strings(&e["entry_ids"]), ["stop-write"]);
    assert_eq!(
        strings(&e["reason_codes"]),
        ["kill_switch_active", "kill_switch_tool_name_active"]
    );
    assert!(e.get("entry_ids_truncated").is_none());
    gait_engine::schema::Schema::KillSwitchEvent
        .validate(e)
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sb.join(".gait-out/kill_switch_journal.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Every firing appends one line.
    let (code, _) = eval(&sb, "intent.json", "2090-01-02T00:00:00Z");
    assert_eq!(code, 3);
    assert_eq!(journal(&sb).len(), 2);
    assert_eq!(journal(&sb)[1]["created_at"], "2090-01-02T00:00:00Z");
    // A simulated firing stops nothing and is not journaled.
    let (code, out) = sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
        "--kill-switch-state",
        STATE,
        "--evaluation-time",
        "2090-01-03T00:00:00Z",
        "--simulate",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["would_have_blocked"], true);
    assert_eq!(journal(&sb).len(), 2);
    // A call the kill switch lets through is not journaled.
    ks(&sb, &["disable", "--entry-id", "stop-write"]);
    let (code, _) = eval(&sb, "intent.json", "2090-01-04T00:00:00Z");
    assert_eq!(code, 0);
    assert_eq!(journal(&sb).len(), 2);
}

#[test]
fn a_journal_that_cannot_be_written_leaves_the_block_standing() {
    let sb = sandbox();
    let state = "ks/state.json";
    ks(
        &sb,
        &[
            "add",
            "--state",
            state,
            "--entry-id",
            "stop",
            "--tool-name",
            "tool.write",
        ],
    );
    // A directory where the journal file should be.
    std::fs::create_dir_all(sb.join("ks/kill_switch_journal.jsonl")).unwrap();
    let (code, out) = sb.run_json(&[
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
        "--kill-switch-state",
        state,
        "--json",
    ]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(out["verdict"], "block");
    assert!(strings(&out["reason_codes"]).contains(&"kill_switch_active".to_string()));
    let warnings = strings(&out["warnings"]);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("kill switch journal not written")),
        "{out}"
    );
}
