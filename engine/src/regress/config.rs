//! `gait.yaml` (the fixture set) and `fixtures/<name>/fixture.json` (one fixture's expectations).
//!
//! Both are JSON (CONTRACTS §3.7: `gait.yaml` holds JSON content despite its name), parsed with the
//! strict canonical parser — a duplicate key is an error naming its path — and then into typed
//! structs that refuse unknown fields, so a misspelt expectation (`expected_tool_sequense`) is an
//! error instead of a silently skipped check.
//!
//! gait adds one field to each: `graders`, the script and plugin graders to run (on every fixture
//! from `gait.yaml`, on one fixture from `fixture.json`). Files without it are exactly the
//! reference's.

use crate::canon::{self, ParseOptions};
use crate::error::GaitError;
use serde::{Deserialize, Deserializer, Serialize};

pub const CONFIG_SCHEMA_ID: &str = "gait.regress.config";
pub const FIXTURE_SCHEMA_ID: &str = "gait.regress.fixture";
pub const SCHEMA_VERSION: &str = "1.0.0";
pub const DEFAULT_FIXTURE_SET: &str = "default";
/// The fixture's runpack file name inside its directory.
pub const FIXTURE_RUNPACK: &str = "runpack.zip";
/// Upper bound for `gait.yaml` and `fixture.json`.
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// `gait.yaml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub schema_id: String,
    pub schema_version: String,
    #[serde(default = "default_fixture_set")]
    pub fixture_set: String,
    #[serde(default)]
    pub fixtures: Vec<ConfigFixture>,
    /// Script graders run on every fixture (gait extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub graders: Vec<ScriptGraderSpec>,
}

fn default_fixture_set() -> String {
    DEFAULT_FIXTURE_SET.to_string()
}

/// One fixture entry of `gait.yaml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFixture {
    pub name: String,
    pub run_id: String,
    /// `fixtures/<name>/runpack.zip`, relative to the directory of `gait.yaml`.
    pub runpack: String,
}

/// A grader named in `gait.yaml` or `fixture.json`: a script file, or an installed grader plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptGraderSpec {
    /// The grader's name; its results are named `<fixture>/<name>`. Defaults to `plugin`.
    #[serde(default)]
    pub name: String,
    /// The script file, relative to the file that names it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub script: String,
    /// `rhai` or `lua`; by default taken from the file extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// An installed grader plugin (Rhai, Lua or native), verified and loaded by the plugin host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plugin: String,
}

/// `fixtures/<name>/fixture.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureSpec {
    pub schema_id: String,
    pub schema_version: String,
    pub name: String,
    pub run_id: String,
    /// The fixture runpack, relative to the fixture directory (`runpack.zip`).
    pub runpack: String,
    #[serde(default)]
    pub expected_replay_exit_code: i32,
    /// Tool names in intent order; empty means "not checked".
    #[serde(default)]
    pub expected_tool_sequence: Vec<String>,
    /// Result statuses in intent order; empty means "not checked".
    #[serde(default)]
    pub expected_verdict_sequence: Vec<String>,
    /// A runpack of the new behaviour to compare with the fixture, relative to the fixture directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub candidate_runpack: String,
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "bool_or_mode"
    )]
    pub context_conformance: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_context_runtime_drift: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expected_context_set_digest: String,
    /// Runpack files allowed to differ between the fixture and its candidate (`intents.jsonl`,
    /// `results.jsonl`, `refs.json`, `manifest.json`, `run.json`).
    #[serde(default)]
    pub diff_allow_changed_files: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_chain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_index: Option<i64>,
    /// Script graders for this fixture only (gait extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub graders: Vec<ScriptGraderSpec>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `context_conformance` as a boolean; a mode string is accepted too (`""`, `"none"`, `"off"` and
/// `"false"` mean off, anything else on), since its reference type is not recorded.
fn bool_or_mode<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrMode {
        Bool(bool),
        Mode(String),
    }
    Ok(match BoolOrMode::deserialize(d)? {
        BoolOrMode::Bool(b) => b,
        BoolOrMode::Mode(m) => !matches!(m.trim(), "" | "none" | "off" | "false"),
    })
}

impl Config {
    pub fn new(fixture_set: &str) -> Self {
        Config {
            schema_id: CONFIG_SCHEMA_ID.to_string(),
            schema_version: SCHEMA_VERSION.to_string(),
            fixture_set: fixture_set.to_string(),
            fixtures: Vec::new(),
            graders: Vec::new(),
        }
    }

    /// Parses `gait.yaml` text; `what` names the file in messages.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Config, GaitError> {
        let mut config: Config = parse_strict(bytes, what)?;
        default_grader_names(&mut config.graders);
        if config.schema_id != CONFIG_SCHEMA_ID {
            return Err(GaitError::invalid(format!(
                "{what}: schema_id is {:?}, expected {CONFIG_SCHEMA_ID:?}",
                config.schema_id
            ))
            .with_hint(
                "gait.yaml is written by `gait regress init`; re-create it or fix schema_id",
            ));
        }
        for f in &config.fixtures {
            check_name(&f.name, what)?;
        }
        check_duplicates(
            config.fixtures.iter().map(|f| f.name.as_str()),
            "fixture",
            what,
        )?;
        check_grader_specs(&config.graders, what)?;
        Ok(config)
    }

    /// The file text: two-space indented JSON and a trailing newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GaitError> {
        crate::gojson::to_indented(self)
            .map_err(|e| GaitError::internal(format!("encode gait.yaml: {e}")))
    }

    /// Adds or replaces (by name) a fixture entry, keeping entries sorted by name.
    pub fn upsert(&mut self, fixture: ConfigFixture) {
        self.fixtures.retain(|f| f.name != fixture.name);
        self.fixtures.push(fixture);
        self.fixtures.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

impl FixtureSpec {
    /// The expectations `gait regress init` writes for a runpack: replay must succeed; no
    /// trajectory or candidate yet.
    pub fn new(name: &str, run_id: &str) -> Self {
        FixtureSpec {
            schema_id: FIXTURE_SCHEMA_ID.to_string(),
            schema_version: SCHEMA_VERSION.to_string(),
            name: name.to_string(),
            run_id: run_id.to_string(),
            runpack: FIXTURE_RUNPACK.to_string(),
            expected_replay_exit_code: 0,
            expected_tool_sequence: Vec::new(),
            expected_verdict_sequence: Vec::new(),
            candidate_runpack: String::new(),
            context_conformance: false,
            allow_context_runtime_drift: false,
            expected_context_set_digest: String::new(),
            diff_allow_changed_files: Vec::new(),
            session_chain: String::new(),
            checkpoint_index: None,
            graders: Vec::new(),
        }
    }

    pub fn parse(bytes: &[u8], what: &str) -> Result<FixtureSpec, GaitError> {
        let mut spec: FixtureSpec = parse_strict(bytes, what)?;
        default_grader_names(&mut spec.graders);
        if spec.schema_id != FIXTURE_SCHEMA_ID {
            return Err(GaitError::invalid(format!(
                "{what}: schema_id is {:?}, expected {FIXTURE_SCHEMA_ID:?}",
                spec.schema_id
            )));
        }
        check_name(&spec.name, what)?;
        for f in &spec.diff_allow_changed_files {
            if !DIFF_FILES.contains(&f.as_str()) {
                return Err(GaitError::invalid(format!(
                    "{what}: diff_allow_changed_files names {f:?}; allowed: {}",
                    DIFF_FILES.join(", ")
                )));
            }
        }
        check_grader_specs(&spec.graders, what)?;
        Ok(spec)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, GaitError> {
        crate::gojson::to_indented(self)
            .map_err(|e| GaitError::internal(format!("encode fixture.json: {e}")))
    }
}

/// The runpack files a diff can name as changed.
pub const DIFF_FILES: [&str; 5] = [
    "intents.jsonl",
    "manifest.json",
    "refs.json",
    "results.jsonl",
    "run.json",
];

fn parse_strict<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, GaitError> {
    let parsed = canon::parse(bytes, ParseOptions::default()).map_err(|e| {
        GaitError::invalid(format!("{what}: {e}")).with_hint(
            "the file must be JSON (gait.yaml holds JSON content, as the reference writes it)",
        )
    })?;
    serde_json::from_value(parsed.node.to_value())
        .map_err(|e| GaitError::invalid(format!("{what}: {e}")))
}

/// Fixture and grader names: `^[a-z0-9][a-z0-9._-]*$` (CONTRACTS §1.2).
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        && name != "."
        && !name.contains("..")
}

fn check_name(name: &str, what: &str) -> Result<(), GaitError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(GaitError::invalid(format!(
            "{what}: invalid name {name:?}: names match ^[a-z0-9][a-z0-9._-]*$"
        )))
    }
}

fn check_duplicates<'a>(
    names: impl Iterator<Item = &'a str>,
    kind: &str,
    what: &str,
) -> Result<(), GaitError> {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(GaitError::invalid(format!(
                "{what}: duplicate {kind} name {n:?}"
            )));
        }
    }
    Ok(())
}

/// A plugin grader's name defaults to the plugin's.
fn default_grader_names(specs: &mut [ScriptGraderSpec]) {
    for s in specs {
        if s.name.is_empty() {
            s.name = s.plugin.trim().to_string();
        }
    }
}

fn check_grader_specs(specs: &[ScriptGraderSpec], what: &str) -> Result<(), GaitError> {
    for s in specs {
        check_name(&s.name, what)?;
        if super::BUILTIN_GRADERS.contains(&s.name.as_str()) {
            let hint = if s.plugin.is_empty() {
                "give the script grader its own name"
            } else {
                "builtin graders run on every fixture already, and an installed newer version of one replaces it by itself; give this grader its own name"
            };
            return Err(GaitError::invalid(format!(
                "{what}: grader name {:?} is the name of a builtin grader",
                s.name
            ))
            .with_hint(hint));
        }
        match (s.script.trim().is_empty(), s.plugin.trim().is_empty()) {
            (true, true) => {
                return Err(GaitError::invalid(format!(
                    "{what}: grader {:?} names no script and no plugin",
                    s.name
                ))
                .with_hint("set \"script\": \"FILE.rhai\" or \"plugin\": \"INSTALLED_PLUGIN\""));
            }
            (false, false) => {
                return Err(GaitError::invalid(format!(
                    "{what}: grader {:?} names both a script and a plugin",
                    s.name
                ))
                .with_hint("a grader is either a script file or an installed plugin"));
            }
            (true, false) if s.language.is_some() => {
                return Err(GaitError::invalid(format!(
                    "{what}: plugin grader {:?} cannot set a language (the plugin's manifest does)",
                    s.name
                )));
            }
            _ => {}
        }
        if let Some(lang) = &s.language
            && !matches!(lang.as_str(), "rhai" | "lua")
        {
            return Err(GaitError::invalid(format!(
                "{what}: script grader {:?}: language {lang:?} is not rhai or lua",
                s.name
            )));
        }
    }
    check_duplicates(specs.iter().map(|s| s.name.as_str()), "grader", what)
}

/// A fixture name from a run id: lower-cased, characters outside `[a-z0-9._-]` replaced by `_`,
/// leading characters that may not start a name dropped; `fixture` if nothing is left.
pub fn fixture_name_for(run_id: &str) -> String {
    let mapped: String = run_id
        .trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let name = trimmed.replace("..", "_");
    if name.is_empty() {
        "fixture".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_in_the_reference_layout() {
        let mut c = Config::new("default");
        c.upsert(ConfigFixture {
            name: "run_demo".into(),
            run_id: "run_demo".into(),
            runpack: "fixtures/run_demo/runpack.zip".into(),
        });
        let text = String::from_utf8(c.to_bytes().unwrap()).unwrap();
        // CONTRACTS §3.7 field order; `graders` is absent when empty.
        assert_eq!(
            text,
            "{\n  \"schema_id\": \"gait.regress.config\",\n  \"schema_version\": \"1.0.0\",\n  \"fixture_set\": \"default\",\n  \"fixtures\": [\n    {\n      \"name\": \"run_demo\",\n      \"run_id\": \"run_demo\",\n      \"runpack\": \"fixtures/run_demo/runpack.zip\"\n    }\n  ]\n}\n"
        );
        assert_eq!(Config::parse(text.as_bytes(), "gait.yaml").unwrap(), c);
    }

    #[test]
    fn config_rejects_bad_input() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"schema_id":"gait.regress.config","schema_version":"1.0.0","fixtures":[],"fixtures":[]}"#,
                "duplicate",
            ),
            (
                r#"{"schema_id":"gait.regress.config","schema_version":"1.0.0","fixture":[]}"#,
                "unknown field `fixture`",
            ),
            (
                r#"{"schema_id":"other","schema_version":"1.0.0"}"#,
                "schema_id",
            ),
            (
                r#"{"schema_id":"gait.regress.config","schema_version":"1.0.0","fixtures":[{"name":"Bad Name","run_id":"r","runpack":"x"}]}"#,
                "invalid name",
            ),
            (
                r#"{"schema_id":"gait.regress.config","schema_version":"1.0.0","fixtures":[{"name":"a","run_id":"r","runpack":"x"},{"name":"a","run_id":"r","runpack":"y"}]}"#,
                "duplicate fixture",
            ),
            (
                r#"{"schema_id":"gait.regress.config","schema_version":"1.0.0","graders":[{"name":"diff","script":"d.rhai"}]}"#,
                "builtin",
            ),
            (
                r#"{"schema_id":"gait.regress.config","schema_version":"1.0.0","graders":[{"name":"g","script":"d.py","language":"python"}]}"#,
                "not rhai or lua",
            ),
            ("schema_id: gait.regress.config", "invalid character"),
        ];
        for (text, needle) in cases {
            let err = Config::parse(text.as_bytes(), "gait.yaml").unwrap_err();
            assert!(err.message.contains(needle), "{text}: {}", err.message);
            assert_eq!(err.exit_code(), 6);
        }
    }

    #[test]
    fn fixture_spec_defaults_and_strictness() {
        let spec = FixtureSpec::parse(
            br#"{"schema_id":"gait.regress.fixture","schema_version":"1.0.0","name":"f","run_id":"r","runpack":"runpack.zip","context_conformance":"required"}"#,
            "fixture.json",
        )
        .unwrap();
        assert_eq!(spec.expected_replay_exit_code, 0);
        assert!(spec.expected_tool_sequence.is_empty());
        assert!(spec.context_conformance);
        let err = FixtureSpec::parse(
            br#"{"schema_id":"gait.regress.fixture","schema_version":"1.0.0","name":"f","run_id":"r","runpack":"runpack.zip","expected_tool_sequense":[]}"#,
            "fixture.json",
        )
        .unwrap_err();
        assert!(
            err.message.contains("expected_tool_sequense"),
            "{}",
            err.message
        );
        let err = FixtureSpec::parse(
            br#"{"schema_id":"gait.regress.fixture","schema_version":"1.0.0","name":"f","run_id":"r","runpack":"runpack.zip","diff_allow_changed_files":["notes.txt"]}"#,
            "fixture.json",
        )
        .unwrap_err();
        assert!(err.message.contains("notes.txt"), "{}", err.message);
        let text = String::from_utf8(FixtureSpec::new("run_demo", "run_demo").to_bytes().unwrap())
            .unwrap();
        assert_eq!(
            text,
            "{\n  \"schema_id\": \"gait.regress.fixture\",\n  \"schema_version\": \"1.0.0\",\n  \"name\": \"run_demo\",\n  \"run_id\": \"run_demo\",\n  \"runpack\": \"runpack.zip\",\n  \"expected_replay_exit_code\": 0,\n  \"expected_tool_sequence\": [],\n  \"expected_verdict_sequence\": [],\n  \"diff_allow_changed_files\": []\n}\n"
        );
    }

    #[test]
    fn names_follow_the_contract_pattern() {
        for ok in ["run_demo", "a", "0x", "a.b-c_d"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "_a", "A", "a b", "a/b", "..", "a..b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(fixture_name_for("run_demo"), "run_demo");
        assert_eq!(fixture_name_for("Run Demo/2"), "run_demo_2");
        assert_eq!(fixture_name_for("__x"), "x");
        assert_eq!(fixture_name_for("../../etc"), "etc");
        assert_eq!(fixture_name_for("!!!"), "fixture");
        for id in ["run_demo", "Run Demo/2", "__x", "../../etc", "!!!", "a..b"] {
            assert!(valid_name(&fixture_name_for(id)), "{id}");
        }
    }
}
