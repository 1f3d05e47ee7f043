//! Policy predicates (`match: {predicate: NAME}`): installed Rhai/Lua predicate plugins, verified
//! and compiled once per process, run in the sandbox on the normalized intent.

use gait_engine::GaitError;
use gait_engine::plugin::{PluginForm, PluginKind};
use gait_gate::predicate::{
    PREDICATE_ERROR, PREDICATE_LIMIT_EXCEEDED, PredicateFailure, PredicateIdentity, Predicates,
};
use gait_registry::codes;
use gait_registry::loader;
use gait_registry::store::PluginHome;
use gait_sandbox::{Compiled, ErrorKind, Language, Sandbox, Script, ViewValue};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The input name predicate scripts read the intent from.
pub const INPUT: &str = "intent";

struct Loaded {
    identity: PredicateIdentity,
    compiled: Arc<Compiled>,
}

/// Installed predicates, each resolved (verified and compiled) at most once per process.
pub struct HostPredicates {
    home: PluginHome,
    sandbox: Arc<Sandbox>,
    loaded: Mutex<BTreeMap<String, Result<Arc<Loaded>, GaitError>>>,
}

impl HostPredicates {
    pub fn new(home: PluginHome, sandbox: Arc<Sandbox>) -> Self {
        HostPredicates {
            home,
            sandbox,
            loaded: Mutex::new(BTreeMap::new()),
        }
    }

    fn get(&self, name: &str) -> Result<Arc<Loaded>, GaitError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        loaded
            .entry(name.to_string())
            .or_insert_with(|| self.load(name).map(Arc::new))
            .clone()
    }

    fn load(&self, name: &str) -> Result<Loaded, GaitError> {
        let pin = self.home.read_pin(name)?.ok_or_else(|| {
            codes::invalid(
                codes::NOT_INSTALLED,
                format!("predicate plugin {name} is not installed"),
            )
            .with_hint(format!(
                "install it with `gait plugin install {name} --registry DIR|URL`"
            ))
        })?;
        if pin.kind != PluginKind::Predicate {
            return Err(codes::invalid(
                codes::MANIFEST_INVALID,
                format!("plugin {name} is a {} plugin, not a predicate", pin.kind),
            ));
        }
        let s = loader::load_script(&self.home, name, PluginKind::Predicate)?;
        let language = match s.form {
            PluginForm::Lua => Language::Lua,
            _ => Language::Rhai,
        };
        let script = Script {
            language,
            name: format!("plugin {}@{} ({})", s.name, s.version, s.entry),
            source: Arc::from(s.source.as_str()),
            inputs: vec![INPUT.to_string()],
        };
        let compiled = self.sandbox.compile(&script).map_err(|e| {
            GaitError::invalid(e.to_string())
                .with_code("predicate_script_invalid")
                .with_hint(
                    "the installed predicate does not compile in this gait; update or remove it",
                )
        })?;
        Ok(Loaded {
            identity: PredicateIdentity {
                name: s.name,
                version: s.version,
                manifest_digest: s.manifest_digest,
                script_sha256: compiled.digest().to_string(),
            },
            compiled: Arc::new(compiled),
        })
    }
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

impl Predicates for HostPredicates {
    fn resolve(&self, name: &str) -> Result<PredicateIdentity, GaitError> {
        Ok(self.get(name)?.identity.clone())
    }

    fn evaluate(&self, name: &str, intent: &Arc<Value>) -> Result<bool, PredicateFailure> {
        let loaded = self
            .get(name)
            .map_err(|e| PredicateFailure::error(format!("predicate {name}: {}", e.message)))?;
        let input = ViewValue::json(intent.clone());
        match self.sandbox.run(&loaded.compiled, &[(INPUT, input)]) {
            Ok(out) => match out.value {
                Value::Bool(b) => Ok(b),
                other => Err(PredicateFailure::error(format!(
                    "predicate {name} returned {}, not true or false",
                    type_name(&other)
                ))),
            },
            Err(e) => Err(PredicateFailure {
                reason_code: match e.kind {
                    ErrorKind::Limit(_) => PREDICATE_LIMIT_EXCEEDED,
                    ErrorKind::Runtime | ErrorKind::BadResult => PREDICATE_ERROR,
                },
                message: format!("predicate {name}: {e}"),
            }),
        }
    }
}
