//! Script graders: a Rhai or Lua script judges a fixture through a read-only view of it.
//!
//! A script returns `true`/`false`, or a map:
//! `{pass: bool, reason_codes: [snake_case…], message: "…", details: {…}}` (only `pass` is required).
//! A script that raises an error, returns anything else, or breaks a sandbox limit fails its grader
//! with `grader_error` or `script_limit_exceeded`; the other graders of the run are unaffected.

use gait_engine::plugin::{
    FixtureView, GradeOutcome, Grader, PluginError, PluginErrorKind, PluginForm, PluginInfo,
    PluginKind,
};
use gait_engine::regress::GradeStatus;
use gait_sandbox::{Compiled, ErrorKind, Language, Outcome, Sandbox, ScriptError, ViewValue};
use serde_json::Value;
use std::sync::Arc;

pub const GRADER_ERROR: &str = "grader_error";
pub const SCRIPT_LIMIT_EXCEEDED: &str = "script_limit_exceeded";

const MAX_REASON_CODES: usize = 32;
const MAX_REASON_CODE_LEN: usize = 64;
const MAX_MESSAGE_LEN: usize = 4096;
const RESULT_KEYS: [&str; 4] = ["pass", "reason_codes", "message", "details"];

/// A compiled script judging fixtures.
pub struct ScriptGrader {
    info: PluginInfo,
    /// The script path as the configuration names it.
    script: String,
    compiled: Arc<Compiled>,
    sandbox: Arc<Sandbox>,
    /// Facts added to every result (an installed plugin's identity).
    extra: std::collections::BTreeMap<String, Value>,
}

impl ScriptGrader {
    pub fn new(name: &str, script: &str, compiled: Arc<Compiled>, sandbox: Arc<Sandbox>) -> Self {
        let form = match compiled.language() {
            Language::Rhai => PluginForm::Rhai,
            Language::Lua => PluginForm::Lua,
        };
        ScriptGrader {
            info: PluginInfo::v1(name, PluginKind::Grader, form),
            script: script.to_string(),
            compiled,
            sandbox,
            extra: Default::default(),
        }
    }

    /// The grader is an installed plugin: it reports under its configured name with the plugin's
    /// version, and `details` (plugin, version, manifest digest) join every result.
    pub fn with_plugin(
        mut self,
        plugin: PluginInfo,
        details: std::collections::BTreeMap<String, Value>,
    ) -> Self {
        self.info.version = plugin.version;
        self.extra = details;
        self
    }
}

/// The key under which a fixture's script view is shared by its script graders.
const VIEW_KEY: &str = "gait-graders/script-view";

impl Grader for ScriptGrader {
    fn info(&self) -> &PluginInfo {
        &self.info
    }

    fn grade(&self, fixture: &FixtureView<'_>) -> Result<GradeOutcome, PluginError> {
        let view = fixture
            .cache
            .get_or_insert(VIEW_KEY, || crate::view::fixture_view(fixture))
            .ok_or_else(|| {
                PluginError::new(
                    PluginErrorKind::Failed,
                    GRADER_ERROR,
                    "the fixture's script view has an unexpected type",
                )
            })?;
        let view: ViewValue = (*view).clone();
        let mut outcome = interpret(self.sandbox.run(&self.compiled, &[("fixture", view)]));
        for (k, v) in [
            ("grader", self.info.name.as_str()),
            ("language", self.compiled.language().as_str()),
            ("script", self.script.as_str()),
            ("script_sha256", self.compiled.digest()),
        ] {
            outcome
                .details
                .insert(k.to_string(), Value::String(v.to_string()));
        }
        for (k, v) in &self.extra {
            outcome.details.insert(k.clone(), v.clone());
        }
        Ok(outcome)
    }
}

/// `^[a-z][a-z0-9_]*$`, at most 64 bytes: the shape of every reason code gait reports.
pub fn valid_reason_code(code: &str) -> bool {
    let mut b = code.bytes();
    code.len() <= MAX_REASON_CODE_LEN
        && matches!(b.next(), Some(b'a'..=b'z'))
        && b.all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

fn grader_error(message: String) -> GradeOutcome {
    GradeOutcome::fail(&[GRADER_ERROR])
        .with_message(message.clone())
        .with_detail("error", message)
}

/// Turns a script run into a grader outcome.
pub fn interpret(run: Result<Outcome, ScriptError>) -> GradeOutcome {
    match run {
        Ok(out) => {
            let mut outcome = interpret_value(out.value);
            add_output(&mut outcome, &out.output);
            outcome
        }
        Err(err) => {
            let mut outcome = match err.kind {
                ErrorKind::Limit(limit) => GradeOutcome::fail(&[SCRIPT_LIMIT_EXCEEDED])
                    .with_message(err.to_string())
                    .with_detail("limit", limit.as_str())
                    .with_detail("error", err.message.clone()),
                ErrorKind::Runtime | ErrorKind::BadResult => {
                    grader_error(err.to_string()).with_detail("error", err.message.clone())
                }
            };
            if let Some(line) = err.line {
                outcome = outcome.with_detail("line", line);
            }
            if let Some(column) = err.column {
                outcome = outcome.with_detail("column", column);
            }
            add_output(&mut outcome, &err.output);
            outcome
        }
    }
}

fn add_output(outcome: &mut GradeOutcome, output: &gait_sandbox::Output) {
    if !output.text.is_empty() {
        outcome
            .details
            .insert("output".into(), Value::String(output.text.clone()));
    }
    if output.dropped_bytes > 0 {
        outcome.details.insert(
            "output_dropped_bytes".into(),
            Value::from(output.dropped_bytes),
        );
    }
}

/// The most bytes of script `details` (compact JSON) kept in a result. A script's details land in
/// regress_result.json and CI logs; without a cap a 30 MB string went there whole.
pub const MAX_DETAILS_BYTES: usize = 64 << 10;

/// Keeps `data` when its compact JSON fits [`MAX_DETAILS_BYTES`]; otherwise replaces it with the
/// first bytes of that JSON (cut at a character boundary) followed by a marker, and returns the
/// note `{"bytes": total, "kept": kept}` for `details_truncated`.
fn cap_details(data: Value) -> (Value, Option<Value>) {
    let text = data.to_string();
    if text.len() <= MAX_DETAILS_BYTES {
        return (data, None);
    }
    let mut end = MAX_DETAILS_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let kept = format!("{}…[truncated]", &text[..end]);
    let note = serde_json::json!({"bytes": text.len(), "kept": end});
    (Value::String(kept), Some(note))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn interpret_value(value: Value) -> GradeOutcome {
    let map = match value {
        Value::Bool(true) => return GradeOutcome::pass(&[]),
        Value::Bool(false) => return GradeOutcome::fail(&[]),
        Value::Object(map) => map,
        other => {
            return grader_error(format!(
                "the script returned {}; return true/false or a map with `pass`",
                type_name(&other)
            ));
        }
    };
    if let Some(unknown) = map.keys().find(|k| !RESULT_KEYS.contains(&k.as_str())) {
        return grader_error(format!(
            "the script's result has an unknown key `{unknown}`; allowed: {}",
            RESULT_KEYS.join(", ")
        ));
    }
    let status = match map.get("pass") {
        Some(Value::Bool(true)) => GradeStatus::Pass,
        Some(Value::Bool(false)) => GradeStatus::Fail,
        Some(other) => {
            return grader_error(format!(
                "`pass` must be true or false, not {}",
                type_name(other)
            ));
        }
        None => return grader_error("the script's result has no `pass`".into()),
    };
    let codes = match map.get("reason_codes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_REASON_CODES {
                return grader_error(format!(
                    "the script returned {} reason codes; at most {MAX_REASON_CODES} are kept",
                    items.len()
                ));
            }
            let mut codes = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) if valid_reason_code(s) => codes.push(s.clone()),
                    other => {
                        return grader_error(format!(
                            "reason code {other} is not snake_case text (^[a-z][a-z0-9_]*$, at most {MAX_REASON_CODE_LEN} bytes)"
                        ));
                    }
                }
            }
            codes
        }
        Some(other) => {
            return grader_error(format!(
                "`reason_codes` must be a list of strings, not {}",
                type_name(other)
            ));
        }
    };
    let message = match map.get("message") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.len() <= MAX_MESSAGE_LEN => s.clone(),
        Some(Value::String(s)) => {
            return grader_error(format!(
                "`message` is {} bytes; at most {MAX_MESSAGE_LEN}",
                s.len()
            ));
        }
        Some(other) => {
            return grader_error(format!("`message` must be text, not {}", type_name(other)));
        }
    };
    let mut outcome = GradeOutcome::new(status, codes).with_message(message);
    match map.get("details") {
        None | Some(Value::Null) => {}
        // An empty Lua table converts to an empty list.
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(Value::Object(d)) => {
            if !d.is_empty() {
                let (data, truncated) = cap_details(Value::Object(d.clone()));
                outcome.details.insert("data".into(), data);
                if let Some(note) = truncated {
                    outcome.details.insert("details_truncated".into(), note);
                }
            }
        }
        Some(other) => {
            return grader_error(format!("`details` must be a map, not {}", type_name(other)));
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use gait_sandbox::{Limit, Output};
    use serde_json::json;

    fn ok(v: Value) -> GradeOutcome {
        interpret(Ok(Outcome {
            value: v,
            output: Output::default(),
        }))
    }

    #[test]
    fn booleans_and_maps() {
        assert_eq!(ok(json!(true)).status, GradeStatus::Pass);
        let f = ok(json!(false));
        assert_eq!((f.status, f.reason_codes.len()), (GradeStatus::Fail, 0));
        let o = ok(
            json!({"pass": false, "reason_codes": ["b", "a", "b"], "message": "m", "details": {"x": 1}}),
        );
        assert_eq!(o.status, GradeStatus::Fail);
        assert_eq!(o.reason_codes, ["a", "b"], "sorted and deduplicated");
        assert_eq!(o.message, "m");
        assert_eq!(o.details["data"], json!({"x": 1}));
        let o = ok(json!({"pass": true, "details": []}));
        assert!(o.details.is_empty(), "empty Lua table as details");
    }

    #[test]
    fn malformed_results_are_grader_errors() {
        for v in [
            json!(1),
            json!("pass"),
            json!(null),
            json!({}),
            json!({"pass": "yes"}),
            json!({"pass": true, "reason_code": ["x"]}),
            json!({"pass": true, "reason_codes": "x"}),
            json!({"pass": true, "reason_codes": ["Not Snake"]}),
            json!({"pass": true, "reason_codes": [1]}),
            json!({"pass": true, "message": 3}),
            json!({"pass": true, "details": [1]}),
        ] {
            let o = ok(v.clone());
            assert_eq!(o.status, GradeStatus::Fail, "{v}");
            assert_eq!(o.reason_codes, [GRADER_ERROR], "{v}");
            assert!(
                o.details["error"].as_str().is_some_and(|s| !s.is_empty()),
                "{v}"
            );
        }
    }

    #[test]
    fn script_failures_map_to_stable_codes() {
        let limit = ScriptError {
            kind: ErrorKind::Limit(Limit::Operations),
            message: "ran out".into(),
            line: Some(3),
            column: Some(7),
            output: Output {
                text: "hi\n".into(),
                dropped_bytes: 5,
            },
        };
        let o = interpret(Err(limit));
        assert_eq!(o.reason_codes, [SCRIPT_LIMIT_EXCEEDED]);
        assert_eq!(o.details["limit"], json!("operations"));
        assert_eq!(o.details["line"], json!(3));
        assert_eq!(o.details["column"], json!(7));
        assert_eq!(o.details["output"], json!("hi\n"));
        assert_eq!(o.details["output_dropped_bytes"], json!(5));
        let rt = ScriptError {
            kind: ErrorKind::Runtime,
            message: "boom".into(),
            line: None,
            column: None,
            output: Output::default(),
        };
        let o = interpret(Err(rt));
        assert_eq!(o.reason_codes, [GRADER_ERROR]);
        assert_eq!(o.details["error"], json!("boom"));
        assert!(!o.details.contains_key("output"));
    }

    #[test]
    fn large_details_are_cut_with_a_marker_and_a_note() {
        // 30 MB of details (the review's case) keep 64 KiB of their JSON, marked as cut.
        let big = "é".repeat(15 << 20);
        let o = ok(json!({"pass": false, "details": {"blob": big}}));
        let data = o.details["data"].as_str().unwrap();
        assert!(data.starts_with("{\"blob\":\"éé"), "{}", &data[..20]);
        assert!(data.ends_with("…[truncated]"));
        assert!(data.len() <= MAX_DETAILS_BYTES + "…[truncated]".len());
        let note = &o.details["details_truncated"];
        assert_eq!(note["bytes"], json!(big.len() + "{\"blob\":\"\"}".len()));
        // 9 bytes of `{"blob":"`, then 2-byte characters: the cut lands on a boundary.
        assert_eq!(note["kept"], json!(MAX_DETAILS_BYTES - 1));
        // Details that fit are kept as they are, with no note.
        let o = ok(json!({"pass": true, "details": {"x": "y".repeat(1000)}}));
        assert_eq!(o.details["data"]["x"].as_str().unwrap().len(), 1000);
        assert!(!o.details.contains_key("details_truncated"));
    }

    #[test]
    fn reason_code_shape() {
        for good in ["a", "unexpected_diff", "x9_"] {
            assert!(valid_reason_code(good), "{good}");
        }
        for bad in ["", "_a", "A", "a-b", "a b", &"a".repeat(65)] {
            assert!(!valid_reason_code(bad), "{bad}");
        }
    }
}
