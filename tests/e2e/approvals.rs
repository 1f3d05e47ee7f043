//! Approval tokens and delegation chains through the built binary (CONTRACTS §2.10, §3.5): the
//! README's approval flow, every approval failure the issue names, three-link delegation chains
//! and each kind of broken link, `delegate verify`, and keys from `gait keys init` in every command
//! that takes one. Expected codes come from CONTRACTS §2.10 and the recorded token vectors.

use crate::support::Sandbox;
use serde_json::Value;

const POLICY: &str = "default_verdict: allow\nrules:\n  - name: needs-approval\n    effect: require_approval\n    match:\n      tool_names: [tool.write]\n";

const TWO_APPROVERS: &str = "default_verdict: allow\nrules:\n  - name: two-approvals\n    effect: require_approval\n    min_approvals: 2\n    match:\n      tool_names: [tool.write]\n";

const INTENT: &str = r#"{"tool_name":"tool.write","args":{"path":"/srv/app/out.txt"},
 "targets":[{"kind":"path","value":"/srv/app/out.txt","operation":"write"}],
 "context":{"identity":"agent.app","workspace":"/srv/app","risk_class":"medium"}}"#;

const OTHER_INTENT: &str = r#"{"tool_name":"tool.write","args":{"path":"/srv/app/other.txt"},
 "targets":[{"kind":"path","value":"/srv/app/other.txt","operation":"write"}],
 "context":{"identity":"agent.app","workspace":"/srv/app","risk_class":"medium"}}"#;

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// A sandbox with a key pair from `gait keys init` (keys/ops_private.key, keys/ops_public.key).
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
    sb
}

fn gate(sb: &Sandbox, policy: &str, intent: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "gate",
        "eval",
        "--policy",
        policy,
        "--intent",
        intent,
        "--key-mode",
        "prod",
        "--private-key",
        "keys/ops_private.key",
    ];
    args.extend_from_slice(extra);
    args.push("--json");
    sb.run_json(&args)
}

fn digests(out: &Value) -> (String, String) {
    (
        out["intent_digest"].as_str().unwrap().to_string(),
        out["policy_digest"].as_str().unwrap().to_string(),
    )
}

fn approve(sb: &Sandbox, out: &str, intent: &str, policy: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "approve",
        "--intent-digest",
        intent,
        "--policy-digest",
        policy,
        "--reason-code",
        "change_ticket_123",
        "--out",
        out,
        "--key-mode",
        "prod",
        "--private-key",
        "keys/ops_private.key",
    ];
    if !extra.contains(&"--ttl") {
        args.extend_from_slice(&["--ttl", "1h"]);
    }
    if !extra.contains(&"--approver") {
        args.extend_from_slice(&["--approver", "you@company"]);
    }
    if !extra.contains(&"--scope") {
        args.extend_from_slice(&["--scope", "tool:tool.write"]);
    }
    args.extend_from_slice(extra);
    args.push("--json");
    let (code, json) = sb.run_json(&args);
    assert_eq!(code, 0, "{json}");
    json
}

#[test]
fn the_readme_approval_flow_turns_require_approval_into_allow() {
    let sb = sandbox();
    sb.write("policy.yaml", POLICY);
    sb.write("intent.json", INTENT);
    let (code, first) = gate(&sb, "policy.yaml", "intent.json", &[]);
    assert_eq!(code, 4, "{first}");
    assert_eq!(
        strings(&first["reason_codes"]),
        ["approval_token_missing", "matched_rule_needs_approval"]
    );
    let (intent, policy) = digests(&first);
    // The README's `--scope tool.write` (DEVIATIONS #5): written as tool:tool.write.
    let minted = approve(
        &sb,
        "token.json",
        &intent,
        &policy,
        &["--scope", "tool.write"],
    );
    assert_eq!(strings(&minted["scope"]), ["tool:tool.write"]);
    let token_id = minted["token_id"].as_str().unwrap();
    let (code, out) = gate(
        &sb,
        "policy.yaml",
        "intent.json",
        &[
            "--approval-token",
            "token.json",
            "--approval-public-key",
            "keys/ops_public.key",
            "--trace-out",
            "trace.json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["verdict"], "allow");
    assert_eq!(
        strings(&out["reason_codes"]),
        ["approval_granted", "matched_rule_needs_approval"]
    );
    assert_eq!(out["approval_ref"], token_id);
    assert_eq!(out["valid_approvals"], 1);
    // The approval audit records the valid token; the signed trace carries the token id.
    let audit: Value =
        serde_json::from_slice(&sb.read(out["approval_audit_path"].as_str().unwrap())).unwrap();
    assert_eq!(audit["approved"], true);
    assert_eq!(audit["approvers"], serde_json::json!(["you@company"]));
    assert_eq!(audit["entries"][0]["token_id"], token_id);
    assert_eq!(audit["entries"][0]["valid"], true);
    let trace: Value = serde_json::from_slice(&sb.read("trace.json")).unwrap();
    assert_eq!(trace["approval_token_ref"], token_id);
    let (code, verified) = sb.run_json(&[
        "trace",
        "verify",
        "trace.json",
        "--public-key",
        "keys/ops_public.key",
        "--json",
    ]);
    assert_eq!(
        (code, &verified["signature_status"]),
        (0, &Value::from("verified"))
    );
}

fn expect_refused(sb: &Sandbox, extra: &[&str], code_wanted: &str) {
    let mut args = vec!["--approval-public-key", "keys/ops_public.key"];
    args.extend_from_slice(extra);
    let (code, out) = gate(sb, "policy.yaml", "intent.json", &args);
    assert_eq!(code, 4, "{out}");
    assert_eq!(out["verdict"], "require_approval");
    assert_eq!(
        strings(&out["reason_codes"]),
        [
            "approval_chain_insufficient",
            code_wanted,
            "matched_rule_needs_approval"
        ],
        "{out}"
    );
    assert_eq!(strings(&out["violations"]), ["approval_not_granted"]);
    let audit: Value =
        serde_json::from_slice(&sb.read(out["approval_audit_path"].as_str().unwrap())).unwrap();
    assert_eq!(audit["entries"][0]["error_code"], code_wanted);
    assert_eq!(audit["approved"], false);
}

#[test]
fn expired_foreign_and_edited_tokens_are_refused_with_their_codes() {
    let sb = sandbox();
    sb.write("policy.yaml", POLICY);
    sb.write("intent.json", INTENT);
    sb.write("other.json", OTHER_INTENT);
    let (_, first) = gate(&sb, "policy.yaml", "intent.json", &[]);
    let (intent, policy) = digests(&first);
    let (_, other) = gate(&sb, "policy.yaml", "other.json", &[]);
    let (other_intent, _) = digests(&other);
    assert_ne!(intent, other_intent);

    approve(&sb, "expired.json", &intent, &policy, &["--ttl", "1ns"]);
    expect_refused(
        &sb,
        &["--approval-token", "expired.json"],
        "approval_token_expired",
    );

    approve(&sb, "foreign.json", &other_intent, &policy, &[]);
    expect_refused(
        &sb,
        &["--approval-token", "foreign.json"],
        "approval_token_intent_mismatch",
    );

    approve(&sb, "edited.json", &intent, &policy, &[]);
    let text = String::from_utf8(sb.read("edited.json")).unwrap();
    sb.write(
        "edited.json",
        text.replace("\"you@company\"", "\"mallory@company\""),
    );
    expect_refused(
        &sb,
        &["--approval-token", "edited.json"],
        "approval_token_signature_invalid",
    );

    // Another key pair's token: the signature does not verify with ours.
    let (code, _) = sb.run_json(&[
        "keys",
        "init",
        "--out-dir",
        "keys",
        "--prefix",
        "rogue",
        "--json",
    ]);
    assert_eq!(code, 0);
    let (code, _) = sb.run_json(&[
        "approve",
        "--intent-digest",
        &intent,
        "--policy-digest",
        &policy,
        "--ttl",
        "1h",
        "--scope",
        "tool:tool.write",
        "--approver",
        "rogue",
        "--reason-code",
        "x",
        "--out",
        "rogue.json",
        "--key-mode",
        "prod",
        "--private-key",
        "keys/rogue_private.key",
        "--json",
    ]);
    assert_eq!(code, 0);
    expect_refused(
        &sb,
        &["--approval-token", "rogue.json"],
        "approval_token_signature_invalid",
    );

    // Scope for another tool.
    approve(
        &sb,
        "scope.json",
        &intent,
        &policy,
        &["--scope", "tool:tool.read"],
    );
    expect_refused(
        &sb,
        &["--approval-token", "scope.json"],
        "approval_token_scope_mismatch",
    );
}

#[test]
fn distinct_approvers_are_required_when_min_approvals_is_two() {
    let sb = sandbox();
    sb.write("policy.yaml", TWO_APPROVERS);
    sb.write("intent.json", INTENT);
    let (code, first) = gate(&sb, "policy.yaml", "intent.json", &[]);
    assert_eq!((code, &first["required_approvals"]), (4, &Value::from(2)));
    let (intent, policy) = digests(&first);
    approve(&sb, "a1.json", &intent, &policy, &["--approver", "alice"]);
    approve(
        &sb,
        "a2.json",
        &intent,
        &policy,
        &["--approver", "alice", "--scope", "*"],
    );
    approve(&sb, "b.json", &intent, &policy, &["--approver", "bob"]);
    let args = |chain: &'static str| {
        [
            "--approval-token-chain",
            chain,
            "--approval-public-key",
            "keys/ops_public.key",
        ]
    };
    let (code, out) = gate(&sb, "policy.yaml", "intent.json", &args("a1.json,a2.json"));
    assert_eq!(code, 4, "{out}");
    assert_eq!(out["valid_approvals"], 2);
    assert_eq!(
        strings(&out["reason_codes"]),
        [
            "approval_distinct_approvers_required",
            "matched_rule_two_approvals"
        ]
    );
    let (code, out) = gate(&sb, "policy.yaml", "intent.json", &args("a1.json"));
    assert_eq!(code, 4);
    assert_eq!(
        strings(&out["reason_codes"]),
        [
            "approval_chain_insufficient",
            "approval_distinct_approvers_required",
            "matched_rule_two_approvals"
        ]
    );
    let (code, out) = gate(&sb, "policy.yaml", "intent.json", &args("a1.json,b.json"));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        strings(&out["reason_codes"]),
        ["approval_granted", "matched_rule_two_approvals"]
    );
    let refs: Vec<&str> = out["approval_ref"].as_str().unwrap().split(',').collect();
    assert_eq!(refs.len(), 2);
    assert!(refs.windows(2).all(|w| w[0] < w[1]), "sorted token ids");
}

#[test]
fn tokens_presented_without_being_required_are_audited_and_decide_nothing() {
    // CONTRACTS §1.2: the audits are written when approvals/delegation are "required/presented".
    let sb = sandbox();
    sb.write("policy.yaml", POLICY);
    sb.write("intent.json", INTENT);
    let (_, first) = gate(&sb, "policy.yaml", "intent.json", &[]);
    let (intent, policy) = digests(&first);
    approve(&sb, "token.json", &intent, &policy, &[]);
    sb.write("allow.yaml", "default_verdict: allow\n");
    let (code, out) = gate(
        &sb,
        "allow.yaml",
        "intent.json",
        &[
            "--approval-token",
            "token.json",
            "--approval-public-key",
            "keys/ops_public.key",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(strings(&out["reason_codes"]), ["default_allow"]);
    assert!(out.get("required_approvals").is_none());
    let audit: Value =
        serde_json::from_slice(&sb.read(out["approval_audit_path"].as_str().unwrap())).unwrap();
    assert_eq!(audit["required_approvals"], 0);
    // The token was made for another policy digest: listed, and invalid for this decision.
    assert_eq!(
        audit["entries"][0]["error_code"],
        "approval_token_policy_mismatch"
    );
}

#[test]
fn unreadable_or_malformed_token_files_are_invalid_input() {
    let sb = sandbox();
    sb.write("policy.yaml", POLICY);
    sb.write("intent.json", INTENT);
    sb.write(
        "dup.json",
        r#"{"token_id":"a","token_id":"b","scope":["*"]}"#,
    );
    sb.write("text.json", "not json");
    for (file, needle) in [
        ("missing.json", "read approval token"),
        ("dup.json", "duplicate key"),
        ("text.json", "parse approval token"),
    ] {
        let (code, out) = gate(
            &sb,
            "policy.yaml",
            "intent.json",
            &["--approval-token", file],
        );
        assert_eq!(code, 6, "{file}: {out}");
        assert!(
            out["error"].as_str().unwrap().contains(needle),
            "{file}: {out}"
        );
    }
    // The approve command refuses what the reference refuses, with its messages.
    let (code, out) = sb.run_json(&[
        "approve",
        "--intent-digest",
        "xyz",
        "--policy-digest",
        &"c".repeat(64),
        "--ttl",
        "1h",
        "--scope",
        "tool:x",
        "--approver",
        "a",
        "--reason-code",
        "r",
        "--json",
    ]);
    assert_eq!(
        (code, out["error"].as_str()),
        (6, Some("intent_digest must be sha256 hex"))
    );
    let (code, out) = sb.run_json(&[
        "approve",
        "--intent-digest",
        &"a".repeat(64),
        "--policy-digest",
        &"c".repeat(64),
        "--ttl",
        "1h",
        "--scope",
        "tool:x",
        "--approver",
        "a",
        "--reason-code",
        "r",
        "--private-key",
        "keys/ops_private.key",
        "--json",
    ]);
    assert_eq!(
        (code, out["error"].as_str()),
        (6, Some("dev mode does not accept explicit key sources")),
        "a key flag needs --key-mode prod"
    );
    // approve takes flags only (no reordering, like the reference): a positional is refused.
    let (code, out) = sb.run_json(&["approve", "--json", "stray"]);
    assert_eq!(
        (code, out["error"].as_str()),
        (6, Some("unexpected positional arguments"))
    );
}

// ------------------------------------------------------------------------------------------------
// Delegation chains
// ------------------------------------------------------------------------------------------------

const DELEGATION_POLICY: &str = "default_verdict: block\nrules:\n  - name: delegated-write\n    effect: allow\n    match:\n      require_delegation: true\n      delegation_scopes: [write]\n";

/// A call by agent.c, delegated human.a → agent.a → agent.b → agent.c. `ref1` names the token the
/// second link expects (empty: none).
fn delegated_intent(ref1: &str) -> String {
    let token_ref = if ref1.is_empty() {
        String::new()
    } else {
        format!(r#","token_ref":"{ref1}""#)
    };
    format!(
        r#"{{"tool_name":"tool.write","args":{{"path":"/srv/app/out.txt"}},
 "targets":[{{"kind":"path","value":"/srv/app/out.txt","operation":"write"}}],
 "context":{{"identity":"agent.c","workspace":"/srv/app","risk_class":"medium"}},
 "delegation":{{"requester_identity":"agent.c","scope_class":"write","chain":[
   {{"delegator_identity":"human.a","delegate_identity":"agent.a","scope_class":"write"}},
   {{"delegator_identity":"agent.a","delegate_identity":"agent.b","scope_class":"write"{token_ref}}},
   {{"delegator_identity":"agent.b","delegate_identity":"agent.c","scope_class":"write"}}]}}}}"#
    )
}

fn delegate(sb: &Sandbox, out: &str, from: &str, to: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "delegate",
        "mint",
        "--delegator",
        from,
        "--delegate",
        to,
        "--scope-class",
        "write",
        "--out",
        out,
        "--key-mode",
        "prod",
    ];
    if !extra.contains(&"--private-key") {
        args.extend_from_slice(&["--private-key", "keys/ops_private.key"]);
    }
    if !extra.contains(&"--scope") {
        args.extend_from_slice(&["--scope", "write"]);
    }
    if !extra.contains(&"--ttl") {
        args.extend_from_slice(&["--ttl", "1h"]);
    }
    args.extend_from_slice(extra);
    args.push("--json");
    let (code, json) = sb.run_json(&args);
    assert_eq!(code, 0, "{json}");
    json
}

fn eval_chain(sb: &Sandbox, intent: &str, chain: &str) -> (i32, Value) {
    gate(
        sb,
        "policy.yaml",
        intent,
        &[
            "--delegation-token-chain",
            chain,
            "--delegation-public-key",
            "keys/ops_public.key",
        ],
    )
}

#[test]
fn a_three_link_chain_is_granted_and_each_broken_link_has_its_code() {
    let sb = sandbox();
    sb.write("policy.yaml", DELEGATION_POLICY);
    sb.write("intent.json", delegated_intent(""));
    let (code, first) = gate(&sb, "policy.yaml", "intent.json", &[]);
    assert_eq!(code, 3, "{first}");
    assert_eq!(
        strings(&first["reason_codes"]),
        ["delegation_token_missing", "matched_rule_delegated_write"]
    );
    let (intent, policy) = digests(&first);
    let t1 = delegate(&sb, "t1.json", "human.a", "agent.a", &[]);
    let t2 = delegate(&sb, "t2.json", "agent.a", "agent.b", &[]);
    let t3 = delegate(
        &sb,
        "t3.json",
        "agent.b",
        "agent.c",
        &["--intent-digest", &intent, "--policy-digest", &policy],
    );
    let (code, out) = eval_chain(&sb, "intent.json", "t3.json,t1.json,t2.json");
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["verdict"], "allow");
    assert_eq!(
        strings(&out["reason_codes"]),
        ["delegation_granted", "matched_rule_delegated_write"]
    );
    assert_eq!(out["valid_delegations"], 3);
    let mut ids: Vec<&str> = [&t1, &t2, &t3]
        .iter()
        .map(|t| t["token_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(out["delegation_ref"], ids.join(","));
    let audit: Value =
        serde_json::from_slice(&sb.read(out["delegation_audit_path"].as_str().unwrap())).unwrap();
    assert_eq!(audit["delegated"], true);
    assert_eq!(audit["valid_delegations"], 3);
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["valid"] == true)
    );
    assert_eq!(
        audit["relationship"]["agent_chain"]
            .as_array()
            .unwrap()
            .len(),
        6
    );

    // Each kind of broken second link: the chain is blocked, the token carries its code. (It sorts
    // between t1 and t3, so it is first tried against its own link; a token tried against an
    // earlier link keeps that link's error, as the reference does.)
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
    let zero = "0".repeat(64);
    let broken: Vec<(&str, &str, &str, Vec<&str>)> = vec![
        (
            "agent.x",
            "agent.b",
            "delegation_token_delegator_mismatch",
            vec![],
        ),
        (
            "agent.a",
            "agent.x",
            "delegation_token_delegate_mismatch",
            vec![],
        ),
        (
            "agent.a",
            "agent.b",
            "delegation_token_scope_mismatch",
            vec!["--scope", "read", "--scope-class", "read"],
        ),
        (
            "agent.a",
            "agent.b",
            "delegation_token_expired",
            vec!["--ttl", "1ns"],
        ),
        (
            "agent.a",
            "agent.b",
            "delegation_token_intent_mismatch",
            vec!["--intent-digest", &zero],
        ),
        (
            "agent.a",
            "agent.b",
            "delegation_token_policy_mismatch",
            vec!["--policy-digest", &zero],
        ),
        (
            "agent.a",
            "agent.b",
            "delegation_token_signature_invalid",
            vec!["--private-key", "keys/rogue_private.key"],
        ),
    ];
    for (from, to, code_wanted, extra) in broken {
        delegate(&sb, "t2bad.json", from, to, &extra);
        let (code, out) = eval_chain(&sb, "intent.json", "t1.json,t2bad.json,t3.json");
        assert_eq!(code, 3, "{code_wanted}: {out}");
        assert_eq!(out["verdict"], "block");
        let mut want = vec![
            "delegation_chain_insufficient",
            code_wanted,
            "delegation_token_missing",
            "matched_rule_delegated_write",
        ];
        want.sort_unstable();
        assert_eq!(strings(&out["reason_codes"]), want, "{code_wanted}");
        assert_eq!(strings(&out["violations"]), ["delegation_not_granted"]);
        assert_eq!(out["valid_delegations"], 2, "{code_wanted}");
    }
    // A link without any token.
    let (code, out) = eval_chain(&sb, "intent.json", "t1.json,t3.json");
    assert_eq!(code, 3);
    assert_eq!(
        strings(&out["reason_codes"]),
        [
            "delegation_chain_insufficient",
            "delegation_token_missing",
            "matched_rule_delegated_write"
        ]
    );
    // An edited token.
    let text = String::from_utf8(sb.read("t2.json")).unwrap();
    sb.write("edited.json", text.replace("\"agent.b\"", "\"agent.z\""));
    let (_, out) = eval_chain(&sb, "intent.json", "t1.json,edited.json,t3.json");
    assert!(strings(&out["reason_codes"]).contains(&"delegation_token_signature_invalid".into()));
    // A link that names the token it expects: another token for the same pair does not fit it.
    sb.write("named.json", delegated_intent("not-this-token"));
    let (code, out) = eval_chain(&sb, "named.json", "t1.json,t2.json,t3.json");
    assert_eq!(code, 3);
    assert!(
        strings(&out["reason_codes"]).contains(&"delegation_token_chain_mismatch".into()),
        "{out}"
    );
}

#[test]
fn delegate_verify_checks_signature_expiry_and_bindings() {
    let sb = sandbox();
    let t = delegate(
        &sb,
        "t.json",
        "human.a",
        "agent.a",
        &["--scope", "write,read"],
    );
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "delegate",
            "verify",
            "--token",
            "t.json",
            "--public-key",
            "keys/ops_public.key",
        ];
        args.extend_from_slice(extra);
        args.push("--json");
        sb.run_json(&args)
    };
    let (code, out) = verify(&[
        "--delegator",
        "human.a",
        "--delegate",
        "agent.a",
        "--scope",
        "read",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["token_id"], t["token_id"]);
    let (code, out) = verify(&["--delegate", "agent.b"]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(out["reason_code"], "delegation_token_delegate_mismatch");
    assert_eq!(out["error_code"], "verification_failed");
    let (code, out) = sb.run_json(&["delegate", "verify", "--token", "t.json", "--json"]);
    assert_eq!(
        (code, out["error"].as_str()),
        (6, Some("public key not configured"))
    );
}

#[test]
fn keys_from_keys_init_load_in_every_command_that_takes_one() {
    let sb = sandbox();
    sb.write("policy.yaml", POLICY);
    sb.write("intent.json", INTENT);
    let (_, first) = gate(
        &sb,
        "policy.yaml",
        "intent.json",
        &["--trace-out", "t0.json"],
    );
    let (intent, policy) = digests(&first);
    approve(&sb, "tok.json", &intent, &policy, &[]);
    delegate(&sb, "del.json", "human.a", "agent.a", &[]);
    // Env-var key sources carry the same text.
    let public = String::from_utf8(sb.read("keys/ops_public.key")).unwrap();
    let out = sb
        .gait()
        .env("OPS_PUBLIC", public.trim())
        .args([
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            "intent.json",
            "--approval-token",
            "tok.json",
            "--approval-public-key-env",
            "OPS_PUBLIC",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for args in [
        vec![
            "trace",
            "verify",
            "t0.json",
            "--public-key",
            "keys/ops_public.key",
            "--json",
        ],
        vec![
            "trace",
            "verify",
            "t0.json",
            "--private-key",
            "keys/ops_private.key",
            "--json",
        ],
        vec![
            "delegate",
            "verify",
            "--token",
            "del.json",
            "--public-key",
            "keys/ops_public.key",
            "--json",
        ],
        vec![
            "keys",
            "verify",
            "--private-key",
            "keys/ops_private.key",
            "--public-key",
            "keys/ops_public.key",
            "--json",
        ],
        vec![
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            "intent.json",
            "--approval-token",
            "tok.json",
            "--approval-private-key",
            "keys/ops_private.key",
            "--json",
        ],
    ] {
        let (code, out) = sb.run_json(&args);
        assert_eq!(code, 0, "{args:?}: {out}");
    }
}
