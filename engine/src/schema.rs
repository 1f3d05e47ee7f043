//! JSON Schemas (draft 2020-12) of the artifacts gait writes, embedded at build time.
//!
//! The schema files live in `schemas/v1/` at the repository root; `include_str!` puts them in the
//! binary, so validation needs no files and no network (`jsonschema` is built without remote `$ref`
//! resolution). A schema is compiled the first time it is used and cached for the process: commands
//! that never validate (`gait version`, `gait verify`) never pay for compilation.

use crate::runpack::read::{RunpackFiles, lines};
use serde_json::Value;
use std::sync::OnceLock;

/// Every embedded schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Schema {
    RunpackManifest,
    RunpackRun,
    RunpackIntent,
    RunpackResult,
    RunpackRefs,
    RunpackDiff,
    ReduceReport,
    ErrorEnvelope,
    KillSwitchEvent,
}

impl Schema {
    pub const ALL: [Schema; 9] = [
        Schema::RunpackManifest,
        Schema::RunpackRun,
        Schema::RunpackIntent,
        Schema::RunpackResult,
        Schema::RunpackRefs,
        Schema::RunpackDiff,
        Schema::ReduceReport,
        Schema::ErrorEnvelope,
        Schema::KillSwitchEvent,
    ];

    /// Path below `schemas/v1/`.
    pub fn path(self) -> &'static str {
        match self {
            Schema::RunpackManifest => "runpack/manifest.schema.json",
            Schema::RunpackRun => "runpack/run.schema.json",
            Schema::RunpackIntent => "runpack/intent.schema.json",
            Schema::RunpackResult => "runpack/result.schema.json",
            Schema::RunpackRefs => "runpack/refs.schema.json",
            Schema::RunpackDiff => "runpack/diff.schema.json",
            Schema::ReduceReport => "runpack/reduce_report.schema.json",
            Schema::ErrorEnvelope => "cli/error_envelope.schema.json",
            Schema::KillSwitchEvent => "gate/kill_switch_event.schema.json",
        }
    }

    /// The schema document as embedded.
    pub fn source(self) -> &'static str {
        match self {
            Schema::RunpackManifest => {
                include_str!("../../schemas/v1/runpack/manifest.schema.json")
            }
            Schema::RunpackRun => include_str!("../../schemas/v1/runpack/run.schema.json"),
            Schema::RunpackIntent => include_str!("../../schemas/v1/runpack/intent.schema.json"),
            Schema::RunpackResult => include_str!("../../schemas/v1/runpack/result.schema.json"),
            Schema::RunpackRefs => include_str!("../../schemas/v1/runpack/refs.schema.json"),
            Schema::RunpackDiff => include_str!("../../schemas/v1/runpack/diff.schema.json"),
            Schema::ReduceReport => {
                include_str!("../../schemas/v1/runpack/reduce_report.schema.json")
            }
            Schema::ErrorEnvelope => {
                include_str!("../../schemas/v1/cli/error_envelope.schema.json")
            }
            Schema::KillSwitchEvent => {
                include_str!("../../schemas/v1/gate/kill_switch_event.schema.json")
            }
        }
    }

    fn slot(self) -> &'static OnceLock<Result<jsonschema::Validator, String>> {
        static SLOTS: [OnceLock<Result<jsonschema::Validator, String>>; Schema::ALL.len()] =
            [const { OnceLock::new() }; Schema::ALL.len()];
        &SLOTS[Schema::ALL.iter().position(|s| *s == self).unwrap_or(0)]
    }

    fn validator(self) -> Result<&'static jsonschema::Validator, String> {
        self.slot()
            .get_or_init(|| {
                let doc: Value = serde_json::from_str(self.source())
                    .map_err(|e| format!("schema {} is not JSON: {e}", self.path()))?;
                jsonschema::draft202012::options()
                    .should_validate_formats(true)
                    .build(&doc)
                    .map_err(|e| format!("schema {} does not compile: {e}", self.path()))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Validates a value; the error lists every violation as `<instance path>: <message>`.
    pub fn validate(self, instance: &Value) -> Result<(), Vec<String>> {
        let validator = self.validator().map_err(|e| vec![e])?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| {
                let path = e.instance_path().to_string();
                format!("{}: {e}", if path.is_empty() { "/" } else { &path })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Validates JSON text (parsed strictly through the canonical parser first).
    pub fn validate_bytes(self, bytes: &[u8]) -> Result<(), Vec<String>> {
        let parsed = crate::canon::parse(bytes, crate::canon::ParseOptions::recorded_payload())
            .map_err(|e| vec![format!("not valid JSON: {e}")])?;
        self.validate(&parsed.node.to_value())
    }
}

/// One schema failure inside a runpack: which entry (and line), and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryViolation {
    /// `manifest.json`, `run.json`, `refs.json`, `intents.jsonl:3`, ...
    pub entry: String,
    pub schema: Schema,
    pub errors: Vec<String>,
}

/// Validates every entry of a runpack against its schema.
pub fn validate_runpack(files: &RunpackFiles) -> Vec<EntryViolation> {
    let mut out = Vec::new();
    let mut check = |entry: String, schema: Schema, bytes: &[u8]| {
        if let Err(errors) = schema.validate_bytes(bytes) {
            out.push(EntryViolation {
                entry,
                schema,
                errors,
            });
        }
    };
    check(
        "manifest.json".into(),
        Schema::RunpackManifest,
        &files.manifest,
    );
    check("run.json".into(), Schema::RunpackRun, &files.run);
    check("refs.json".into(), Schema::RunpackRefs, &files.refs);
    for (i, line) in lines(&files.intents).into_iter().enumerate() {
        check(
            format!("intents.jsonl:{}", i + 1),
            Schema::RunpackIntent,
            line,
        );
    }
    for (i, line) in lines(&files.results).into_iter().enumerate() {
        check(
            format!("results.jsonl:{}", i + 1),
            Schema::RunpackResult,
            line,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_schema_compiles() {
        for s in Schema::ALL {
            assert!(s.validator().is_ok(), "{:?}: {:?}", s, s.validator().err());
        }
    }

    #[test]
    fn violations_name_the_place() {
        let errors = Schema::RunpackManifest
            .validate(&json!({"schema_id": "gait.runpack.manifest"}))
            .unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("manifest_digest")),
            "{errors:?}"
        );
        let errors = Schema::RunpackRefs
            .validate(
                &json!({"schema_id": "gait.runpack.refs", "schema_version": "1.0.0",
                "created_at": "2031-02-03T04:05:06Z", "producer_version": "x", "run_id": "r",
                "receipts": [{"ref_id": "a"}]}),
            )
            .unwrap_err();
        assert!(
            errors.iter().any(|e| e.starts_with("/receipts/0")),
            "{errors:?}"
        );
    }
}
