//! Shared by the engine-level and the CLI-level runners of `tests/vectors/tokens.jsonl`: tampering a
//! minted token as a case says, and comparing a `gate eval` result and its audit files with the
//! recorded ones, leaving out what depends on the wall clock (token ids, expiry times, and the
//! `approval_ref`/`delegation_ref` and audit entry order they imply — vectors README).

#![allow(dead_code)]

use serde_json::{Map, Value};
use std::path::Path;

/// The flags of a mint as `(name, value)` pairs (every token flag takes a value).
pub fn flag_pairs(flags: &Value) -> Vec<(String, String)> {
    let list: Vec<String> = serde_json::from_value(flags.clone()).unwrap_or_default();
    list.chunks(2)
        .map(|c| {
            (
                c[0].trim_start_matches('-').to_string(),
                c.get(1).cloned().unwrap_or_default(),
            )
        })
        .collect()
}

pub fn flag<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Applies a case's `tamper` (`[file, field, new value]`) after signing.
pub fn apply_tamper(dir: &Path, tamper: &Value) {
    let Some([file, field, value]) = tamper.as_array().map(Vec::as_slice) else {
        return;
    };
    let path = dir.join(file.as_str().unwrap());
    let mut token: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    token[field.as_str().unwrap()] = value.clone();
    std::fs::write(&path, serde_json::to_vec_pretty(&token).unwrap()).unwrap();
}

/// Output keys that embed token ids.
const CLOCK_OUTPUT_KEYS: &[&str] = &["approval_ref", "delegation_ref"];

fn without(v: &Value, keys: &[&str]) -> Value {
    let mut m: Map<String, Value> = v.as_object().cloned().unwrap_or_default();
    for k in keys {
        m.remove(*k);
    }
    Value::Object(m)
}

/// An audit with the clock-dependent parts removed: token ids and expiry in entries (the entries
/// then sorted canonically, since their recorded order follows token ids) and the joined refs.
pub fn audit_without_clock(audit: &Value) -> Value {
    let mut a = without(audit, &["delegation_ref"]);
    if let Some(Value::Array(entries)) = a.get("entries").cloned() {
        let mut cleaned: Vec<Value> = entries
            .iter()
            .map(|e| without(e, &["token_id", "expires_at"]))
            .collect();
        cleaned.sort_by_key(|e| e.to_string());
        a["entries"] = Value::Array(cleaned);
    }
    a
}

/// Compares a `gate eval` run of a `gate_eval_with_tokens` case with its record.
/// `audits` maps `approval_audit` / `delegation_audit` to the files the run wrote.
pub fn compare_gate_with_tokens(
    r: &Value,
    code: i32,
    output: &Value,
    audits: &[(String, Value)],
) -> Option<String> {
    let expect = &r["expect"];
    let mut problems = Vec::new();
    if Some(code as i64) != expect["exit_code"].as_i64() {
        problems.push(format!("exit code {code}, want {}", expect["exit_code"]));
    }
    let defaults: [(&str, Value); 9] = [
        ("verdict", Value::from("")),
        ("reason_codes", Value::Array(vec![])),
        ("violations", Value::Array(vec![])),
        ("intent_digest", Value::from("")),
        ("policy_digest", Value::from("")),
        ("matched_rule", Value::from("")),
        ("trace_id", Value::from("")),
        ("required_approvals", Value::from(0)),
        ("valid_approvals", Value::from(0)),
    ];
    for (key, default) in defaults.into_iter().chain([
        ("delegation_required", Value::from(false)),
        ("valid_delegations", Value::from(0)),
    ]) {
        if let Some(want) = expect.get(key) {
            let got = output.get(key).cloned().unwrap_or(default);
            if &got != want {
                problems.push(format!("{key} {got}, want {want}"));
            }
        }
    }
    let got = without(&super::sanitize(output), CLOCK_OUTPUT_KEYS);
    let want = without(&r["output"], CLOCK_OUTPUT_KEYS);
    if got != want {
        problems.push(format!("output\n    got:  {got}\n    want: {want}"));
    }
    for key in CLOCK_OUTPUT_KEYS {
        if r["output"].get(*key).is_some() != output.get(*key).is_some() {
            problems.push(format!("{key} presence differs"));
        }
    }
    let recorded: Map<String, Value> = r["audits"].as_object().cloned().unwrap_or_default();
    for (name, want) in &recorded {
        match audits.iter().find(|(n, _)| n == name) {
            None => problems.push(format!("no {name} written")),
            Some((_, got)) => {
                let (g, w) = (audit_without_clock(got), audit_without_clock(want));
                if g != w {
                    problems.push(format!("{name}\n    got:  {g}\n    want: {w}"));
                }
                if got.get("delegation_ref").is_some() != want.get("delegation_ref").is_some() {
                    problems.push(format!("{name} delegation_ref presence differs"));
                }
            }
        }
    }
    if audits.len() != recorded.len() {
        problems.push(format!(
            "wrote audits {:?}, recorded {:?}",
            audits.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            recorded.keys().collect::<Vec<_>>()
        ));
    }
    (!problems.is_empty()).then(|| problems.join("\n  "))
}

/// The audits a run wrote, read from the paths its output names.
pub fn read_audits(dir: &Path, output: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (name, key) in [
        ("approval_audit", "approval_audit_path"),
        ("delegation_audit", "delegation_audit_path"),
    ] {
        if let Some(p) = output.get(key).and_then(Value::as_str) {
            let v: Value = serde_json::from_slice(&std::fs::read(dir.join(p)).unwrap()).unwrap();
            out.push((name.to_string(), v));
        }
    }
    out
}
