//! Credential brokers from plugins: an installed Rhai (or Lua) broker behind the gate's
//! `CredentialBroker` trait, selected with `--credential-broker NAME`.
//!
//! A broker script gets two read-only inputs: `request`, the credential request (with its
//! `request_digest`), and `env`, holding only the environment variables its signed manifest
//! declares — the CLI builds that snapshot and nothing else reaches the script. It returns a
//! *reference* to a credential. What it prints is dropped, and so is the text of an error it raises
//! at run time: gait reports only that the script failed and how (`runtime error`, `bad result`,
//! or the sandbox limit it hit). Redacting the environment's values from that text would not be
//! enough — a script that transforms a secret (slices, encodes, concatenates it) can put it in its
//! own error text in a form no literal replacement finds — so a secret the script read cannot reach
//! an output, a trace or an evidence file through gait. Compile errors, found when the broker is
//! loaded and before it sees any value, keep their text.

use crate::{PluginHost, Source};
use gait_engine::GaitError;
use gait_engine::GoTime;
use gait_engine::plugin::{PluginForm, PluginKind};
use gait_gate::broker::{
    BrokerCapabilities, BrokerError, CredentialBroker, CredentialRequest, IssuedCredential,
    check_credential_ref,
};
use gait_registry::codes;
use gait_sandbox::{Compiled, ErrorKind, Language, Sandbox, Script, ViewValue};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The inputs broker scripts read.
pub const REQUEST_INPUT: &str = "request";
pub const ENV_INPUT: &str = "env";

/// Longest message a broker failure reports.
const MAX_MESSAGE: usize = 512;

const RESULT_KEYS: [&str; 15] = [
    "credential_ref",
    "source",
    "access_type",
    "issuer",
    "subject",
    "owner",
    "target_binding",
    "run_binding",
    "job_binding",
    "issued_at",
    "expires_at",
    "ttl_seconds",
    "scope",
    "reference",
    "request_digest",
];

/// An installed, verified script broker.
pub struct ScriptBroker {
    name: String,
    version: String,
    manifest_digest: String,
    env: Vec<String>,
    compiled: Arc<Compiled>,
    sandbox: Arc<Sandbox>,
}

impl ScriptBroker {
    /// The environment variables the broker may read (its manifest's `env`).
    pub fn env_names(&self) -> &[String] {
        &self.env
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn manifest_digest(&self) -> &str {
        &self.manifest_digest
    }
}

impl PluginHost {
    /// The installed broker plugin `--credential-broker NAME` selects: an installed
    /// credential_broker named NAME, when no builtin of that name is active (an installed newer
    /// version replaces a builtin). `None` leaves the choice to the gate (its builtins, or its
    /// "unsupported credential broker" error). `off` is the absence of a broker, never a plugin.
    pub fn broker(&self, name: &str) -> Result<Option<ScriptBroker>, GaitError> {
        let name = name.trim();
        if name.is_empty() || name == "off" || self.home().read_pin(name).ok().flatten().is_none() {
            return Ok(None);
        }
        let pin = match self.resolve(name, PluginKind::CredentialBroker)? {
            Some(Source::Installed(pin)) => pin,
            _ => return Ok(None),
        };
        let s = self.script(&pin.name, PluginKind::CredentialBroker)?;
        let language = match s.form {
            PluginForm::Lua => Language::Lua,
            _ => Language::Rhai,
        };
        let script = Script {
            language,
            name: format!("plugin {}@{} ({})", s.name, s.version, s.entry),
            source: Arc::from(s.source.as_str()),
            inputs: vec![REQUEST_INPUT.to_string(), ENV_INPUT.to_string()],
        };
        let compiled = self.sandbox().compile(&script).map_err(|e| {
            codes::invalid("broker_script_invalid", e.to_string()).with_hint(
                "the installed broker does not compile in this gait; update or remove it",
            )
        })?;
        Ok(Some(ScriptBroker {
            name: s.name,
            version: s.version,
            manifest_digest: s.manifest_digest,
            env: s.env_allowlist,
            compiled: Arc::new(compiled),
            sandbox: self.sandbox().clone(),
        }))
    }
}

fn failure(name: &str, message: String) -> BrokerError {
    let mut message = format!("broker plugin {name}: {message}");
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    BrokerError::missing(message)
}

/// What a failed broker script is reported as: the kind of failure, never the script's text.
fn script_failed(kind: &ErrorKind) -> String {
    let what = match kind {
        ErrorKind::Limit(l) => format!("{} limit", l.as_str()),
        ErrorKind::Runtime => "runtime error".to_string(),
        ErrorKind::BadResult => "bad result".to_string(),
    };
    format!("script failed ({what})")
}

/// `text` with every non-empty value of `secrets` replaced (longest first).
fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    let mut sorted: Vec<&&str> = secrets.iter().filter(|s| !s.is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in sorted {
        out = out.replace(*s, "[redacted]");
    }
    out
}

fn request_view(r: &CredentialRequest) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("tool_name", &r.tool_name),
        ("identity", &r.identity),
        ("workspace", &r.workspace),
        ("session_id", &r.session_id),
        ("request_id", &r.request_id),
        ("run_id", &r.run_id),
        ("job_id", &r.job_id),
        ("reference", &r.reference),
        ("target_binding", &r.target_binding),
    ] {
        m.insert(k.to_string(), Value::String(v.clone()));
    }
    m.insert(
        "scope".into(),
        Value::Array(r.scope.iter().cloned().map(Value::String).collect()),
    );
    m.insert("request_digest".into(), Value::String(r.digest()));
    Value::Object(m)
}

fn text(map: &Map<String, Value>, key: &str) -> Result<String, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(_) => Err(format!("`{key}` must be text")),
    }
}

fn time(map: &Map<String, Value>, key: &str) -> Result<Option<GoTime>, String> {
    match text(map, key)?.as_str() {
        "" => Ok(None),
        t => GoTime::parse(t)
            .map(|g| Some(g.utc()))
            .map_err(|_| format!("`{key}` must be an RFC 3339 time")),
    }
}

/// The script's result as an issued credential; messages name keys and types, never values.
fn credential(name: &str, value: Value) -> Result<IssuedCredential, String> {
    let Value::Object(map) = value else {
        return Err("the script must return a map with `credential_ref`".into());
    };
    if let Some(unknown) = map.keys().find(|k| !RESULT_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "the result has an unknown key `{unknown}`; allowed: {}",
            RESULT_KEYS.join(", ")
        ));
    }
    let credential_ref = text(&map, "credential_ref")?;
    let ttl_seconds = match map.get("ttl_seconds") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .filter(|n| *n >= 0)
            .ok_or("`ttl_seconds` must be a non-negative integer")?,
    };
    let scope = match map.get("scope") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut scope = Vec::with_capacity(items.len());
            for i in items {
                match i {
                    Value::String(s) => scope.push(s.clone()),
                    _ => return Err("`scope` must be a list of text".into()),
                }
            }
            gait_gate::text::norm_lower_list(&scope)
        }
        Some(_) => return Err("`scope` must be a list of text".into()),
    };
    Ok(IssuedCredential {
        issued_by: name.to_string(),
        credential_ref,
        source: text(&map, "source")?,
        access_type: text(&map, "access_type")?,
        issuer: text(&map, "issuer")?,
        subject: text(&map, "subject")?,
        owner: text(&map, "owner")?,
        target_binding: text(&map, "target_binding")?,
        run_binding: text(&map, "run_binding")?,
        job_binding: text(&map, "job_binding")?,
        issued_at: time(&map, "issued_at")?,
        expires_at: time(&map, "expires_at")?,
        ttl_seconds,
        request_digest: text(&map, "request_digest")?,
        scope,
        reference: text(&map, "reference")?,
    })
}

impl CredentialBroker for ScriptBroker {
    fn name(&self) -> &str {
        &self.name
    }

    fn issue(
        &self,
        request: &CredentialRequest,
        caps: &BrokerCapabilities<'_>,
    ) -> Result<IssuedCredential, BrokerError> {
        // Only the declared variables, and only those that are set.
        let mut env = Map::new();
        for n in &self.env {
            if let Some(v) = caps.env.get(n) {
                env.insert(n.clone(), Value::String(v.to_string()));
            }
        }
        let secrets: Vec<&str> = self.env.iter().filter_map(|n| caps.env.get(n)).collect();
        let inputs = [
            (
                REQUEST_INPUT,
                ViewValue::json(Arc::new(request_view(request))),
            ),
            (ENV_INPUT, ViewValue::json(Arc::new(Value::Object(env)))),
        ];
        let out = match self.sandbox.run(&self.compiled, &inputs) {
            Ok(out) => out,
            // Never the error's text (see the module comment): only the kind of failure.
            Err(e) => return Err(failure(&self.name, script_failed(&e.kind))),
        };
        // These messages are gait's own and name keys and types, never values; the one thing in
        // them the script chose (an unknown key's name) is redacted like the environment's values.
        let cred = credential(&self.name, out.value)
            .map_err(|m| failure(&self.name, redact(&m, &secrets)))?;
        check_credential_ref(&cred.credential_ref).map_err(|e| failure(&self.name, e.message))?;
        Ok(cred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_become_credentials_or_key_named_errors() {
        let c = credential(
            "b",
            json!({"credential_ref": "vault:x", "ttl_seconds": 60, "scope": ["Write", "read"], "issued_at": "2026-01-01T00:00:00+02:00"}),
        )
        .unwrap();
        assert_eq!(c.issued_by, "b");
        assert_eq!(c.credential_ref, "vault:x");
        assert_eq!(c.ttl_seconds, 60);
        assert_eq!(c.scope, ["read", "write"]);
        assert_eq!(c.issued_at.unwrap().rfc3339(), "2025-12-31T22:00:00Z");
        for (bad, needle) in [
            (json!("x"), "must return a map"),
            (
                json!({"credential_ref": "x", "secret": "s"}),
                "unknown key `secret`",
            ),
            (
                json!({"credential_ref": 5}),
                "`credential_ref` must be text",
            ),
            (
                json!({"credential_ref": "x", "ttl_seconds": -1}),
                "ttl_seconds",
            ),
            (json!({"credential_ref": "x", "scope": [1]}), "scope"),
            (
                json!({"credential_ref": "x", "expires_at": "soon"}),
                "RFC 3339",
            ),
        ] {
            let e = credential("b", bad.clone()).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn redaction_hides_every_secret() {
        assert_eq!(
            redact("token abc-secret and abc", &["abc-secret", "abc", ""]),
            "token [redacted] and [redacted]"
        );
        let long = failure("b", "x".repeat(2000));
        assert!(long.message.len() <= MAX_MESSAGE + 3);
    }

    #[test]
    fn script_failures_report_only_their_kind() {
        assert_eq!(
            script_failed(&ErrorKind::Runtime),
            "script failed (runtime error)"
        );
        assert_eq!(
            script_failed(&ErrorKind::BadResult),
            "script failed (bad result)"
        );
        assert_eq!(
            script_failed(&ErrorKind::Limit(gait_sandbox::Limit::Operations)),
            "script failed (operations limit)"
        );
    }
}
