//! Policy predicates: a rule may name a predicate plugin (`match: {predicate: NAME}`), the escape
//! hatch for conditions the declarative match cannot express (regular expressions over nested
//! args, arithmetic on amounts). The predicate gets the normalized intent as a read-only view and
//! answers true or false.
//!
//! This crate only knows the seam ([`Predicates`]); the plugin host resolves names to installed,
//! verified Rhai/Lua plugins and runs them in the sandbox. The caller binds a policy to its
//! predicates when it is loaded ([`crate::policy::load_with`]): each predicate's identity (name,
//! version, manifest digest, script sha256) joins the policy digest — only when a rule names one,
//! so every policy without predicates keeps the reference's digest.
//!
//! Failing closed: a predicate that errors, breaks a sandbox limit or returns anything but a
//! boolean never silently decides. The rule it guards is taken as matched with the effect `block`
//! (reason code `predicate_error` or `predicate_limit_exceeded`, violation `predicate_failed`).
//! Treating the failure as "no match" would be wrong for a block rule (the call would fall through
//! to a more permissive rule or the default), and treating it as "match" with the rule's own effect
//! would be wrong for an allow rule. Blocking is right for both, and since rules are combined
//! most-restrictive-first, the decision of that priority group is then `block`.

use crate::eval::View;
use crate::intent::{context_node, provenance_node, targets_node};
use gait_engine::GaitError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Reason code of a predicate that raised an error or returned something other than a boolean.
pub const PREDICATE_ERROR: &str = "predicate_error";
/// Reason code of a predicate stopped by a sandbox limit.
pub const PREDICATE_LIMIT_EXCEEDED: &str = "predicate_limit_exceeded";
/// Reason code when a policy names a predicate but the evaluation has no predicates to ask.
pub const PREDICATE_UNAVAILABLE: &str = "predicate_unavailable";
/// The violation every predicate failure records.
pub const PREDICATE_FAILED: &str = "predicate_failed";

/// Which plugin a predicate name was bound to when the policy was loaded.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PredicateIdentity {
    pub name: String,
    pub version: String,
    /// The installed plugin's manifest digest (what its signatures cover).
    pub manifest_digest: String,
    /// sha256 of the script text that runs.
    pub script_sha256: String,
}

/// Why a predicate could not answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PredicateFailure {
    /// [`PREDICATE_ERROR`], [`PREDICATE_LIMIT_EXCEEDED`] or [`PREDICATE_UNAVAILABLE`].
    pub reason_code: &'static str,
    pub message: String,
}

impl PredicateFailure {
    pub fn error(message: impl Into<String>) -> Self {
        PredicateFailure {
            reason_code: PREDICATE_ERROR,
            message: message.into(),
        }
    }
}

/// Resolves and runs predicates. Implementations compile each predicate once per process and must
/// be deterministic: the same intent gives the same answer.
pub trait Predicates: Send + Sync {
    /// Resolves (and verifies) the predicate `name`: the identity that joins the policy digest.
    fn resolve(&self, name: &str) -> Result<PredicateIdentity, GaitError>;
    /// Runs the predicate `name` on an intent view ([`input`]).
    fn evaluate(&self, name: &str, intent: &Arc<Value>) -> Result<bool, PredicateFailure>;
}

/// The predicates a loaded policy is bound to (none for policies without predicates). Not part of
/// the policy's value: two loads of the same bytes compare equal whatever evaluates their
/// predicates; the identities in [`crate::policy::LoadedPolicy::predicates`] say which plugins.
#[derive(Clone, Default)]
pub struct PredicateHandle(Option<Arc<dyn Predicates>>);

impl PredicateHandle {
    pub fn new(predicates: Arc<dyn Predicates>) -> Self {
        PredicateHandle(Some(predicates))
    }

    pub fn none() -> Self {
        PredicateHandle(None)
    }

    pub fn get(&self) -> Option<&dyn Predicates> {
        self.0.as_deref()
    }
}

impl std::fmt::Debug for PredicateHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "PredicateHandle(bound)"
        } else {
            "PredicateHandle(none)"
        })
    }
}

impl PartialEq for PredicateHandle {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// What a predicate sees: the normalized intent as its digest payload has it (CONTRACTS §2.9:
/// `tool_name`, `args`, `targets`, `arg_provenance`, `skill_provenance`, `delegation`, `context`, and
/// `script`/`script_hash` for scripts), with the context the rule is matched against (Wrkr-enriched
/// for script steps when an inventory is loaded). For a script step the step is the call:
/// `tool_name`, `args`, `targets` and `arg_provenance` are the step's, `script_step_index` its
/// 0-based position, and `script` is left out.
pub fn input(view: &View<'_>) -> Value {
    let intent = view.intent;
    let mut root = match intent.payload().to_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    root.insert("context".into(), context_node(view.context).to_value());
    if let Some((index, step)) = view.step {
        root.remove("script");
        root.insert("tool_name".into(), Value::String(step.tool_name.clone()));
        root.insert("args".into(), step.args.to_value());
        root.insert("targets".into(), targets_node(&step.targets).to_value());
        if step.arg_provenance.is_empty() {
            root.remove("arg_provenance");
        } else {
            root.insert(
                "arg_provenance".into(),
                Value::Array(
                    step.arg_provenance
                        .iter()
                        .map(|p| provenance_node(p).to_value())
                        .collect(),
                ),
            );
        }
        root.insert("script_step_index".into(), Value::from(index as u64));
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Env, evaluate};
    use crate::policy::{LoadedPolicy, Verdict};
    use gait_engine::GoTime;
    use std::sync::Mutex;

    /// Answers from a fixed table and records what it was shown.
    struct Table {
        answers: Vec<(&'static str, Result<bool, PredicateFailure>)>,
        seen: Mutex<Vec<Value>>,
    }

    impl Predicates for Table {
        fn resolve(&self, name: &str) -> Result<PredicateIdentity, GaitError> {
            if !self.answers.iter().any(|(n, _)| *n == name) {
                return Err(GaitError::invalid(format!("unknown predicate {name}")));
            }
            Ok(PredicateIdentity {
                name: name.into(),
                version: "1.2.3".into(),
                manifest_digest: "ab".repeat(32),
                script_sha256: "cd".repeat(32),
            })
        }

        fn evaluate(&self, name: &str, intent: &Arc<Value>) -> Result<bool, PredicateFailure> {
            self.seen.lock().unwrap().push((**intent).clone());
            self.answers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, a)| a.clone())
                .unwrap_or_else(|| Err(PredicateFailure::error("unknown")))
        }
    }

    fn table(answers: Vec<(&'static str, Result<bool, PredicateFailure>)>) -> Arc<Table> {
        Arc::new(Table {
            answers,
            seen: Mutex::new(Vec::new()),
        })
    }

    const POLICY: &str = "default_verdict: allow\nrules:\n  - name: guarded\n    effect: block\n    match:\n      tool_names: [tool.pay]\n      predicate: p\n  - name: plain\n    priority: 5\n    effect: require_approval\n    match:\n      tool_names: [tool.pay]\n";
    const INTENT: &[u8] = br#"{"tool_name":"tool.pay","args":{"amount":7},"targets":[{"kind":"host","value":"bank","operation":"write"}],"context":{"identity":"a","workspace":"/w","risk_class":"high"}}"#;

    fn run(policy: &LoadedPolicy, intent: &[u8]) -> crate::eval::Evaluation {
        let intent = crate::intent::load(intent).unwrap();
        evaluate(
            &policy.policy,
            &intent,
            &Env {
                now: GoTime::epoch_1980(),
                wrkr: None,
                predicates: policy.predicates(),
            },
        )
    }

    #[test]
    fn the_predicate_sees_the_normalized_intent() {
        let t = table(vec![("p", Ok(true))]);
        let policy =
            crate::policy::load_with(POLICY.as_bytes(), &PredicateHandle::new(t.clone())).unwrap();
        let ev = run(&policy, INTENT);
        assert_eq!(ev.verdict, Verdict::Block);
        let seen = t.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let expected = crate::intent::load(INTENT).unwrap().payload().to_value();
        assert_eq!(seen[0], expected);
        assert_eq!(seen[0]["args"]["amount"], 7.0);
        assert_eq!(seen[0]["context"]["identity"], "a");
    }

    #[test]
    fn false_skips_the_rule_and_the_next_group_decides() {
        let t = table(vec![("p", Ok(false))]);
        let policy = crate::policy::load_with(POLICY.as_bytes(), &PredicateHandle::new(t)).unwrap();
        let ev = run(&policy, INTENT);
        assert_eq!(ev.verdict, Verdict::RequireApproval);
        assert_eq!(ev.matched_rules, ["plain"]);
    }

    #[test]
    fn failures_block_and_say_why() {
        for (failure, code) in [
            (PredicateFailure::error("x"), PREDICATE_ERROR),
            (
                PredicateFailure {
                    reason_code: PREDICATE_LIMIT_EXCEEDED,
                    message: "x".into(),
                },
                PREDICATE_LIMIT_EXCEEDED,
            ),
        ] {
            let t = table(vec![("p", Err(failure))]);
            let policy =
                crate::policy::load_with(POLICY.as_bytes(), &PredicateHandle::new(t)).unwrap();
            let ev = run(&policy, INTENT);
            assert_eq!(ev.verdict, Verdict::Block);
            assert_eq!(ev.reason_codes, [code]);
            assert_eq!(ev.violations, [PREDICATE_FAILED]);
        }
        // A policy evaluated without its predicates (a caller bug) blocks too.
        let t = table(vec![("p", Ok(false))]);
        let mut policy =
            crate::policy::load_with(POLICY.as_bytes(), &PredicateHandle::new(t)).unwrap();
        policy.evaluator = PredicateHandle::none();
        let ev = run(&policy, INTENT);
        assert_eq!(
            (ev.verdict, ev.reason_codes),
            (Verdict::Block, vec![PREDICATE_UNAVAILABLE.to_string()])
        );
    }

    #[test]
    fn script_steps_show_the_step_as_the_call() {
        let t = table(vec![("p", Ok(false))]);
        let policy =
            crate::policy::load_with(POLICY.as_bytes(), &PredicateHandle::new(t.clone())).unwrap();
        let script = br#"{"tool_name":"script","args":{},"script":{"steps":[
            {"tool_name":"tool.read","args":{"path":"/a"}},
            {"tool_name":"tool.pay","args":{"amount":9},"targets":[{"kind":"host","value":"bank","operation":"write"}],"arg_provenance":[{"arg_path":"$.amount","source":"user"}]}]},
            "context":{"identity":"a","workspace":"/w","risk_class":"high"}}"#;
        run(&policy, script);
        let seen = t.seen.lock().unwrap();
        // Only the second step matches tool.pay declaratively.
        assert_eq!(seen.len(), 1);
        let v = &seen[0];
        assert_eq!(v["tool_name"], "tool.pay");
        assert_eq!(v["args"]["amount"], 9.0);
        assert_eq!(v["script_step_index"], 1);
        assert_eq!(v["targets"][0]["value"], "bank");
        assert_eq!(v["arg_provenance"][0]["source"], "user");
        assert!(v.get("script").is_none());
        assert!(v.get("script_hash").is_some());
    }

    #[test]
    fn the_digest_changes_only_with_a_predicate() {
        let t = table(vec![("p", Ok(true))]);
        let handle = PredicateHandle::new(t);
        let bound = crate::policy::load_with(POLICY.as_bytes(), &handle).unwrap();
        assert_eq!(bound.predicates.len(), 1);
        let payload = crate::policy::digest::payload_bound(&bound.policy, &bound.predicates);
        assert_eq!(
            payload["Rules"][0]["Match"]["Predicate"],
            serde_json::json!({"Name": "p", "Version": "1.2.3", "ManifestDigest": "ab".repeat(32), "ScriptSHA256": "cd".repeat(32)})
        );
        assert!(payload["Rules"][1]["Match"].get("Predicate").is_none());
        // Same policy without the predicate: the reference digest, whatever the handle.
        let plain = POLICY.replace("      predicate: p\n", "");
        assert_eq!(
            crate::policy::load_with(plain.as_bytes(), &handle)
                .unwrap()
                .digest,
            crate::policy::load(plain.as_bytes()).unwrap().digest
        );
        assert_ne!(
            bound.digest,
            crate::policy::load(plain.as_bytes()).unwrap().digest
        );
        // fmt keeps the predicate, so the formatted policy binds to the same digest.
        let formatted = crate::policy::fmt::format(&bound.policy);
        assert!(formatted.contains("predicate: \"p\""), "{formatted}");
        assert_eq!(
            crate::policy::load_with(formatted.as_bytes(), &handle)
                .unwrap()
                .digest,
            bound.digest
        );
    }
}
