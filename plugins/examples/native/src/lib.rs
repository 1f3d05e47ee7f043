//! An example native gait plugin (form `native`, kind `grader`, plus one CLI command).
//!
//! - Grader `example-native`: fails a fixture whose view lists more `intents` than
//!   `spec.max_intents` (default 3), with reason code `intent_count_exceeded`; passes otherwise with
//!   `intent_count_within_limit`.
//! - Command `gait example-native hello [NAME]`: answers with a greeting, as JSON or text.
//!
//! The tests build this crate with the workspace, pack and sign it with a test key, publish it to a
//! temporary registry, install it and run both parts through gait.

use gait_plugin_api::{
    CommandOutput, CommandRequest, CommandSpec, GradeOutcome, GradeStatus, Plugin,
    PluginDescription, PluginFailure,
};
use serde_json::{Value, json};

const DEFAULT_MAX_INTENTS: u64 = 3;

pub struct ExampleNative;

impl Plugin for ExampleNative {
    fn describe() -> PluginDescription {
        PluginDescription {
            name: "example-native".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn grade(fixture: &Value) -> Result<GradeOutcome, PluginFailure> {
        let intents = match fixture.get("intents") {
            None | Some(Value::Null) => 0,
            Some(Value::Array(items)) => items.len() as u64,
            Some(_) => {
                return Err(PluginFailure::invalid_input(
                    "fixture view field `intents` must be an array",
                ));
            }
        };
        let max = match fixture.pointer("/spec/max_intents") {
            None | Some(Value::Null) => DEFAULT_MAX_INTENTS,
            Some(v) => v.as_u64().ok_or_else(|| {
                PluginFailure::invalid_input("spec.max_intents must be a non-negative integer")
            })?,
        };
        let (status, code) = if intents > max {
            (GradeStatus::Fail, "intent_count_exceeded")
        } else {
            (GradeStatus::Pass, "intent_count_within_limit")
        };
        let mut details = std::collections::BTreeMap::new();
        details.insert("intents".to_string(), json!(intents));
        details.insert("max_intents".to_string(), json!(max));
        Ok(GradeOutcome {
            status,
            reason_codes: vec![code.to_string()],
            message: format!("{intents} intents recorded, at most {max} allowed"),
            details,
        })
    }

    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            words: "example-native hello".into(),
            summary: "Greet someone from a signed native plugin.".into(),
        }]
    }

    fn run_command(request: &CommandRequest) -> Result<CommandOutput, PluginFailure> {
        if request.words != "example-native hello" {
            return Err(PluginFailure::new(
                "unknown_command",
                format!("unknown command {:?}", request.words),
            ));
        }
        let names: Vec<&str> = request
            .args
            .iter()
            .map(String::as_str)
            .filter(|a| !a.starts_with('-'))
            .collect();
        if names.len() > 1 {
            return Err(PluginFailure::invalid_input(
                "usage: gait example-native hello [NAME]",
            ));
        }
        let name = names.first().copied().unwrap_or("world");
        let greeting = format!("hello, {name}");
        let mut out = serde_json::Map::new();
        out.insert("ok".into(), json!(true));
        out.insert("greeting".into(), json!(greeting));
        out.insert("plugin".into(), json!("example-native"));
        Ok(CommandOutput {
            exit_code: 0,
            json: out,
            text: greeting,
        })
    }
}

gait_plugin_api::export_plugin!(ExampleNative);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_by_intent_count() {
        let pass = ExampleNative::grade(&json!({"intents": [1, 2, 3]})).unwrap();
        assert_eq!(pass.status, GradeStatus::Pass);
        assert_eq!(pass.reason_codes, vec!["intent_count_within_limit"]);
        let fail =
            ExampleNative::grade(&json!({"intents": [1, 2], "spec": {"max_intents": 1}})).unwrap();
        assert_eq!(fail.status, GradeStatus::Fail);
        assert_eq!(fail.reason_codes, vec!["intent_count_exceeded"]);
        assert!(ExampleNative::grade(&json!({"intents": "x"})).is_err());
        assert!(ExampleNative::grade(&json!({"spec": {"max_intents": -1}})).is_err());
    }

    #[test]
    fn hello_command() {
        let out = ExampleNative::run_command(&CommandRequest {
            words: "example-native hello".into(),
            args: vec!["ada".into()],
            json: false,
        })
        .unwrap();
        assert_eq!(out.text, "hello, ada");
        assert_eq!(out.json["greeting"], "hello, ada");
        assert!(
            ExampleNative::run_command(&CommandRequest {
                words: "example-native bye".into(),
                args: vec![],
                json: false,
            })
            .is_err()
        );
    }
}
