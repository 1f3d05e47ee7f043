//! Shared by the engine-level and the CLI-level runners of the recorded gate vectors and of our own
//! decision corpus: writing a case's files, reading its trace, and comparing a result with the
//! recorded (or reasoned) expectation, including the deliberate deviations.

#![allow(dead_code)]

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub mod tokens;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/vectors/gate.jsonl").exists())
        .expect("repository root")
        .to_path_buf()
}

pub fn vector_records(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join("tests/vectors").join(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))` keeping key order is what the
/// generator wrote; any serializer that keeps numeric values gives the same digest. Our
/// `serde_json` (no `preserve_order`) sorts keys, which only matters for duplicate keys — and those
/// cases carry `intent_raw`.
pub fn intent_text(r: &Value) -> String {
    match r.get("intent_raw").and_then(Value::as_str) {
        Some(raw) => raw.to_string(),
        None => serde_json::to_string(&r["intent"]).unwrap(),
    }
}

/// Writes policy.yaml, intent.json and every `files` entry of a case into `dir`.
pub fn write_case_files(dir: &Path, r: &Value) {
    std::fs::write(dir.join("policy.yaml"), r["policy_yaml"].as_str().unwrap()).unwrap();
    std::fs::write(dir.join("intent.json"), intent_text(r)).unwrap();
    if let Some(Value::Object(files)) = r.get("files") {
        for (name, content) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content.as_str().unwrap()).unwrap();
            #[cfg(unix)]
            if name.ends_with("_private.key") {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
    }
}

const TRACE_VOLATILE: &[&str] = &[
    "observed_at",
    "event_id",
    "signature",
    "latency_ms",
    "correlation_id",
];

/// Reads the trace named by the output (`trace_path`, else `trace_<trace_id>.json`) relative to
/// `dir`, minus the clock- and key-dependent fields.
pub fn read_trace(dir: &Path, output: &Value) -> Option<Value> {
    let path = output
        .get("trace_path")
        .and_then(Value::as_str)
        .map(PathBuf::from)
        .or_else(|| {
            output
                .get("trace_id")
                .and_then(Value::as_str)
                .map(|id| PathBuf::from(format!("trace_{id}.json")))
        })?;
    let text = std::fs::read_to_string(dir.join(path)).ok()?;
    let mut v: Value = serde_json::from_str(&text).ok()?;
    let obj = v.as_object_mut()?;
    for k in TRACE_VOLATILE {
        obj.remove(*k);
    }
    Some(v)
}

/// Removes what the generator removed from outputs: correlation_id, trace_path, dev-key warnings.
pub fn sanitize(output: &Value) -> Value {
    let mut out: Map<String, Value> = output.as_object().cloned().unwrap_or_default();
    out.remove("correlation_id");
    out.remove("trace_path");
    if let Some(Value::Array(ws)) = out.get("warnings").cloned() {
        let kept: Vec<Value> = ws
            .into_iter()
            .filter(|w| {
                !w.as_str()
                    .unwrap_or("")
                    .starts_with("dev mode: ephemeral keypair generated")
            })
            .collect();
        if kept.is_empty() {
            out.remove("warnings");
        } else {
            out.insert("warnings".into(), Value::Array(kept));
        }
    }
    Value::Object(out)
}

/// DEVIATIONS.md: where gait deliberately differs from the recorded reference behaviour, the case
/// asserts gait's behaviour instead. Each entry: (case id, why, check).
pub fn deviation(id: &str) -> Option<&'static str> {
    match id {
        // #1: the reference fails (exit 1) when .gait-out/ does not exist yet; gait creates it and
        // behaves exactly like the `-state-dir` sibling case, which has the directory.
        "rule-rate-limit-first-call" => Some("rule-rate-limit-state-dir"),
        "rule-destructive-budget-first" => Some("rule-destructive-budget-state-dir"),
        // #2: integers beyond ±(2^53-1) are invalid input naming the JSON path.
        "num-2^53" | "num-2^53+1" | "num-u64-max" | "num-big-int" | "cred-raw-non-string" => {
            Some("unsafe-integer")
        }
        // #6: duplicate keys are invalid input naming the JSON path.
        "nested-duplicate-keys" => Some("duplicate-key"),
        // #7: keys that differ from a field only by case are invalid input.
        "intent-case-keys" => Some("case-key"),
        _ => None,
    }
}

fn diff(what: &str, got: &Value, want: &Value) -> Option<String> {
    if got == want {
        return None;
    }
    Some(format!("{what} differs\n    got:  {got}\n    want: {want}"))
}

/// Compares one result with a recorded case. `records` lets a deviation point at a sibling case.
pub fn compare_case(
    r: &Value,
    records: &[Value],
    code: i32,
    output: &Value,
    trace: Option<&Value>,
) -> Option<String> {
    let id = r["id"].as_str().unwrap_or("");
    if let Some(kind) = deviation(id) {
        let err = output["error"].as_str().unwrap_or("");
        return match kind {
            "unsafe-integer" => {
                let ok = code == 6
                    && err.starts_with("parse intent json: integer ")
                    && err.contains("beyond ±(2^53-1)")
                    && (err.contains(" at args.n ") || err.contains(" at args.token "))
                    && output["hint"]
                        .as_str()
                        .is_some_and(|h| h.contains("as strings"));
                (!ok).then(|| {
                    format!("deviation #2 expected exit 6 naming the path, got {code}: {output}")
                })
            }
            "duplicate-key" => {
                let ok = code == 6 && err.contains("duplicate key \"a\"") && err.contains("args.a");
                (!ok).then(|| {
                    format!("deviation #6 expected exit 6 naming args.a, got {code}: {output}")
                })
            }
            "case-key" => {
                let ok = code == 6 && err.contains("\"TOOL_NAME\"");
                (!ok).then(|| {
                    format!("deviation #7 expected exit 6 naming TOOL_NAME, got {code}: {output}")
                })
            }
            sibling => {
                let s = records.iter().find(|x| x["id"] == sibling)?;
                compare_expected(s, code, output, trace)
            }
        };
    }
    compare_expected(r, code, output, trace)
}

fn compare_expected(r: &Value, code: i32, output: &Value, trace: Option<&Value>) -> Option<String> {
    let expect = &r["expect"];
    if Some(code as i64) != expect["exit_code"].as_i64() {
        return Some(format!(
            "exit code {code}, want {}; output {output}",
            expect["exit_code"]
        ));
    }
    let got = sanitize(output);
    if let Some(want) = r.get("output").filter(|v| !v.is_null())
        && let Some(d) = diff("output", &got, want)
    {
        return Some(d);
    }
    if let Some(want_trace) = r.get("trace") {
        match trace {
            None => return Some("no trace written".into()),
            Some(t) => {
                if let Some(d) = diff("trace", t, want_trace) {
                    return Some(d);
                }
            }
        }
    }
    None
}

// ------------------------------------------------------------------------------------------------
// Our own corpus (tests/corpus/gate/cases.yaml)
// ------------------------------------------------------------------------------------------------

use serde::Deserialize;
use std::collections::BTreeMap;

pub const CORPUS_TIME: &str = "2031-05-14T10:30:00Z";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    #[serde(rename = "x-intents", default)]
    pub intents: BTreeMap<String, String>,
    pub cases: Vec<CorpusCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusCase {
    pub id: String,
    pub derivation: String,
    #[serde(default)]
    pub command: Option<String>,
    pub policy: String,
    pub intent: String,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    pub expect: CorpusExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusExpect {
    pub exit_code: i64,
    #[serde(default)]
    pub verdict: Option<String>,
    #[serde(default)]
    pub reason_codes: Option<Vec<String>>,
    #[serde(default)]
    pub violations: Option<Vec<String>>,
    #[serde(default)]
    pub matched_rule: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub output: Option<Value>,
}

impl CorpusCase {
    pub fn is_policy_test(&self) -> bool {
        self.command.as_deref() == Some("policy test")
    }

    /// The argv the case runs (without the binary name).
    pub fn argv(&self) -> Vec<String> {
        let mut v: Vec<String> = if self.is_policy_test() {
            ["policy", "test", "policy.yaml", "intent.json"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            let mut v: Vec<String> = [
                "gate",
                "eval",
                "--policy",
                "policy.yaml",
                "--intent",
                "intent.json",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if !self.flags.iter().any(|f| f.contains("evaluation-time")) {
                v.push("--evaluation-time".into());
                v.push(CORPUS_TIME.into());
            }
            v
        };
        v.extend(self.flags.iter().cloned());
        v.push("--json".into());
        v
    }

    pub fn write_files(&self, dir: &Path) {
        std::fs::write(dir.join("policy.yaml"), &self.policy).unwrap();
        std::fs::write(dir.join("intent.json"), &self.intent).unwrap();
        for (name, text) in &self.files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }
}

/// Loads the corpus with gait's own strict YAML decoder (unknown keys in a case are errors).
pub fn corpus() -> Corpus {
    let text = std::fs::read_to_string(repo_root().join("tests/corpus/gate/cases.yaml")).unwrap();
    gait_gate::yaml::decode::<Corpus>(&text, "Corpus").unwrap_or_else(|e| panic!("corpus: {e}"))
}

/// `expected` ⊆ `actual`; YAML scalars arrive as text, so a string matches a number or a bool
/// with the same spelling.
fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| subset(v, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| subset(x, y))
        }
        (Value::String(e), Value::String(a)) => e == a,
        (Value::String(e), other @ (Value::Number(_) | Value::Bool(_))) => {
            serde_json::from_str::<Value>(e).ok().as_ref() == Some(other)
        }
        (e, a) => e == a,
    }
}

/// Compares a result with a corpus case's expectation.
pub fn compare_corpus(case: &CorpusCase, code: i32, output: &Value) -> Option<String> {
    let e = &case.expect;
    let mut problems = Vec::new();
    if code as i64 != e.exit_code {
        problems.push(format!("exit code {code}, want {}", e.exit_code));
    }
    let strs = |v: &Value| -> Vec<String> { serde_json::from_value(v.clone()).unwrap_or_default() };
    if let Some(v) = &e.verdict
        && output["verdict"].as_str() != Some(v)
    {
        problems.push(format!("verdict {}, want {v}", output["verdict"]));
    }
    if let Some(r) = &e.reason_codes
        && &strs(&output["reason_codes"]) != r
    {
        problems.push(format!(
            "reason_codes {}, want {r:?}",
            output["reason_codes"]
        ));
    }
    if let Some(r) = &e.violations
        && &strs(&output["violations"]) != r
    {
        problems.push(format!("violations {}, want {r:?}", output["violations"]));
    }
    if let Some(m) = &e.matched_rule
        && output["matched_rule"].as_str().unwrap_or("") != m
    {
        problems.push(format!(
            "matched_rule {}, want {m:?}",
            output["matched_rule"]
        ));
    }
    if let Some(err) = &e.error
        && !output["error"]
            .as_str()
            .unwrap_or("")
            .contains(err.as_str())
    {
        problems.push(format!(
            "error {}, want it to contain {err:?}",
            output["error"]
        ));
    }
    if let Some(sub) = &e.output
        && !subset(sub, output)
    {
        problems.push(format!("output does not contain {sub}"));
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "{}\n    derivation: {}\n    output: {output}",
            problems.join("; "),
            case.derivation
        ))
    }
}
