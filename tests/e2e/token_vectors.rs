//! Every case of the reference's recorded token vectors (`tests/vectors/tokens.jsonl`) through the
//! built binary, as `tests/vectors/README.md` prescribes:
//! - `gait approve` / `gait delegate mint` with each record's argv and the vector key pair: the same
//!   exit code and output, the same token fields and file bytes apart from the clock (created_at,
//!   expires_at and what derives from them: token_id, signed_digest, sig), an expiry of exactly the
//!   TTL, a token id recomputed from our fields, and a signature the vector public key verifies;
//! - each `gate_eval_with_tokens` case with tokens freshly minted by our binary, `tamper` applied.
//!
//! The engine-level runner (`gate/tests/token_vectors.rs`) additionally re-signs the recorded tokens
//! byte for byte.

use crate::gate_common as common;
use crate::support::Sandbox;
use common::tokens::{apply_tamper, compare_gate_with_tokens, flag, flag_pairs, read_audits};
use gait_engine::GoTime;
use gait_engine::crypto::PublicKey;
use gait_gate::tokens::approval::{ApprovalToken, approval_token_id};
use gait_gate::tokens::delegation::{DelegationToken, delegation_token_id};
use serde_json::{Map, Value};

const CLOCK_OUTPUT: &[&str] = &["correlation_id", "expires_at", "token_id"];

fn strip(v: &Value, keys: &[&str]) -> Value {
    let mut m: Map<String, Value> = v.as_object().cloned().unwrap_or_default();
    for k in keys {
        m.remove(*k);
    }
    Value::Object(m)
}

/// (created_at, expires_at, token_id, signed_digest, sig) of a token, and whether its id and
/// signature check out.
fn clock_fields(kind: &str, bytes: &[u8], key: &PublicKey) -> ([String; 5], bool) {
    if kind == "approval" {
        let t = ApprovalToken::parse(bytes).unwrap();
        let sig = t.signature.clone().unwrap();
        let ok = approval_token_id(&t) == t.token_id
            && key.verify(&sig, &t.signable_digest().unwrap()).is_ok();
        (
            [
                t.created_at.rfc3339_nano(),
                t.expires_at.rfc3339_nano(),
                t.token_id,
                sig.signed_digest,
                sig.sig,
            ],
            ok,
        )
    } else {
        let t = DelegationToken::parse(bytes).unwrap();
        let sig = t.signature.clone().unwrap();
        let ok = delegation_token_id(&t) == t.token_id
            && key.verify(&sig, &t.signable_digest().unwrap()).is_ok();
        (
            [
                t.created_at.rfc3339_nano(),
                t.expires_at.rfc3339_nano(),
                t.token_id,
                sig.signed_digest,
                sig.sig,
            ],
            ok,
        )
    }
}

fn check_mint(r: &Value) -> Option<String> {
    let sb = Sandbox::new();
    sb.vector_keys();
    let argv: Vec<String> = serde_json::from_value(r["argv"].clone()).unwrap();
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = sb.run(&args);
    let expect = &r["expect"];
    if Some(code as i64) != expect["exit_code"].as_i64() {
        return Some(format!(
            "exit {code}, want {}: {stdout}",
            expect["exit_code"]
        ));
    }
    if let Some(want) = expect.get("stdout").and_then(Value::as_str) {
        return (stdout != want).then(|| format!("stdout {stdout:?}, want {want:?}"));
    }
    if !stderr.is_empty() {
        return Some(format!(
            "stderr must stay empty with --json, got {stderr:?}"
        ));
    }
    let output: Value = match serde_json::from_str(&stdout) {
        Ok(v) => v,
        Err(e) => return Some(format!("stdout is not JSON ({e}): {stdout}")),
    };
    let (got, want) = (
        strip(&output, CLOCK_OUTPUT),
        strip(&r["output"], CLOCK_OUTPUT),
    );
    if got != want {
        return Some(format!("output\n    got:  {got}\n    want: {want}"));
    }
    if expect["exit_code"] != 0 {
        return None;
    }
    let kind = r["kind"].as_str().unwrap();
    let key = PublicKey::from_text(&String::from_utf8(sb.read("keys/vectors_public.key")).unwrap())
        .unwrap();
    let ours = sb.read("token.json");
    let (mine, verified) = clock_fields(kind, &ours, &key);
    if !verified {
        return Some("token id or signature does not check out".into());
    }
    // The file bytes are the recorded ones once the clock-derived values are swapped in.
    let recorded = r["token_file_text"].as_str().unwrap();
    let (theirs, _) = clock_fields(kind, recorded.as_bytes(), &key);
    let mut expected = recorded.to_string();
    for (a, b) in theirs.iter().zip(&mine) {
        expected = expected.replace(a.as_str(), b);
    }
    if expected.as_bytes() != ours.as_slice() {
        return Some(format!(
            "token file\n    got:  {}\n    want: {expected}",
            String::from_utf8_lossy(&ours)
        ));
    }
    // Expiry is exactly the TTL after creation; the output shows it in RFC3339 seconds.
    let ttl = gait_engine::gotime::parse_go_duration(flag(&flag_pairs(&r["flags"]), "ttl").trim())
        .unwrap();
    let (created, expires) = (
        GoTime::parse(&mine[0]).unwrap(),
        GoTime::parse(&mine[1]).unwrap(),
    );
    if created.add_nanos(ttl) != expires {
        return Some(format!(
            "expires_at {expires} is not created_at {created} + {ttl}ns"
        ));
    }
    if output["expires_at"] != expires.utc().rfc3339() || output["token_id"] != mine[2] {
        return Some(format!(
            "output clock fields disagree with the token: {output}"
        ));
    }
    None
}

#[test]
fn every_recorded_mint_through_the_cli() {
    let records = common::vector_records("tokens.jsonl");
    assert_eq!(records.len(), 88);
    let mut failures = Vec::new();
    let mut ran = 0;
    for r in &records {
        if r["kind"] == "approval" || r["kind"] == "delegation" {
            ran += 1;
            if let Some(why) = check_mint(r) {
                failures.push(format!("{}: {why}", r["id"].as_str().unwrap()));
            }
        }
    }
    assert_eq!(ran, 68);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn run_gate_case(r: &Value) -> Option<String> {
    let sb = Sandbox::new();
    sb.vector_keys();
    sb.write("policy.yaml", r["policy_yaml"].as_str().unwrap());
    sb.write("intent.json", serde_json::to_vec(&r["intent"]).unwrap());
    for m in r["mints"].as_array().unwrap() {
        let mut args: Vec<String> = if m["kind"] == "approval" {
            vec!["approve".into()]
        } else {
            vec!["delegate".into(), "mint".into()]
        };
        args.extend(serde_json::from_value::<Vec<String>>(m["flags"].clone()).unwrap());
        for extra in [
            "--out",
            m["file"].as_str().unwrap(),
            "--key-mode",
            "prod",
            "--private-key",
            "keys/vectors_private.key",
            "--json",
        ] {
            args.push(extra.into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = sb.run_json(&args);
        if Some(code as i64) != m["exit_code"].as_i64() {
            return Some(format!("mint {} exit {code}: {out}", m["file"]));
        }
    }
    apply_tamper(sb.path(), &r["tamper"]);
    let argv: Vec<String> = serde_json::from_value(r["argv"].clone()).unwrap();
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (code, output) = sb.run_json(&args);
    let audits = read_audits(sb.path(), &output);
    compare_gate_with_tokens(r, code, &output, &audits)
}

#[test]
fn every_recorded_gate_decision_with_fresh_tokens_through_the_cli() {
    let records = common::vector_records("tokens.jsonl");
    let mut failures = Vec::new();
    let mut ran = 0;
    for r in &records {
        if r["kind"] == "gate_eval_with_tokens" {
            ran += 1;
            if let Some(why) = run_gate_case(r) {
                failures.push(format!("{}: {why}", r["id"].as_str().unwrap()));
            }
        }
    }
    assert_eq!(ran, 20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
