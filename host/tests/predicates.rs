//! Policy predicates through the host: install a Rhai predicate, bind a policy to it, evaluate.
//! Expectations follow gate/src/predicate.rs: the identity joins the digest only when a rule names
//! a predicate; a failing predicate blocks the rule it guards, whatever that rule's effect.

mod support;

use gait_gate::cache::{CacheOutcome, PolicyCache};
use gait_gate::policy::{self, LoadedPolicy};
use gait_gate::predicate::{PredicateHandle, Predicates};
use gait_registry::authoring::Template;
use support::{Home, now};

const BLOCK_BIG: &str = "default_verdict: allow\nrules:\n  - name: big-payments\n    effect: block\n    match:\n      tool_names: [pay]\n      predicate: big-amount\n    reason_codes: [payment_too_large]\n";

fn intent(amount: &str) -> Vec<u8> {
    format!(
        r#"{{"tool_name":"pay","args":{{"amount":{amount}}},"targets":[{{"kind":"host","value":"bank.example","operation":"write"}}],"context":{{"identity":"agent","workspace":"/w","risk_class":"high"}}}}"#
    )
    .into_bytes()
}

fn handle(home: &Home) -> PredicateHandle {
    PredicateHandle::new(home.host().predicates())
}

fn load(home: &Home, yaml: &str) -> LoadedPolicy {
    policy::load_with(yaml.as_bytes(), &handle(home)).unwrap()
}

fn verdict(policy: &LoadedPolicy, amount: &str) -> (String, Vec<String>) {
    let r = gait_gate::policytest::run(policy, &intent(amount), now()).unwrap();
    (r.verdict, r.reason_codes)
}

#[test]
fn scaffolded_predicate_binds_into_the_digest_and_decides() {
    let home = Home::new();
    let packed = home.publish(Template::RhaiPredicate, "big-amount", "0.1.0", None);
    home.install("big-amount");

    let predicates = home.host().predicates();
    let id = predicates.resolve("big-amount").unwrap();
    assert_eq!(id.version, "0.1.0");
    assert_eq!(id.manifest_digest, packed.digest);
    let script = std::fs::read(home.path("src/big-amount-0.1.0/predicate.rhai")).unwrap();
    assert_eq!(id.script_sha256, gait_engine::canon::sha256_hex(&script));

    let bound = load(&home, BLOCK_BIG);
    assert_eq!(bound.predicates, vec![id]);
    // Without the predicate line the policy is a plain reference policy: its digest is the
    // reference's, with or without a resolver, and differs from the bound one.
    let plain_yaml = BLOCK_BIG.replace("      predicate: big-amount\n", "");
    let plain = load(&home, &plain_yaml);
    assert!(plain.predicates.is_empty());
    assert_eq!(
        plain.digest,
        policy::load(plain_yaml.as_bytes()).unwrap().digest
    );
    assert_ne!(bound.digest, plain.digest);

    // The scaffold answers true above 1000 for numbers, false otherwise.
    assert_eq!(
        verdict(&bound, "5000"),
        ("block".into(), vec!["payment_too_large".into()])
    );
    assert_eq!(verdict(&bound, "1000.5").0, "block");
    assert_eq!(
        verdict(&bound, "10"),
        ("allow".into(), vec!["default_allow".into()])
    );
    assert_eq!(verdict(&bound, "\"lots\"").0, "allow");
    assert_eq!(verdict(&bound, "null").0, "allow");
}

#[test]
fn a_policy_with_a_predicate_needs_it_installed_and_trusted() {
    let home = Home::new();
    // No resolver at all.
    let err = policy::load(BLOCK_BIG.as_bytes()).unwrap_err();
    assert_eq!(err.exit_code(), 6, "{}", err.message);
    // Not installed.
    let err = policy::load_with(BLOCK_BIG.as_bytes(), &handle(&home)).unwrap_err();
    assert_eq!(err.error_code(), "plugin_not_installed", "{}", err.message);
    assert!(err.message.contains("big-payments"), "{}", err.message);
    // Installed under that name, but a grader.
    home.publish(Template::RhaiGrader, "big-amount", "0.1.0", None);
    home.install("big-amount");
    let err = policy::load_with(BLOCK_BIG.as_bytes(), &handle(&home)).unwrap_err();
    assert!(err.message.contains("not a predicate"), "{}", err.message);
    // A malformed predicate name is a policy error before any lookup.
    let bad = BLOCK_BIG.replace("predicate: big-amount", "predicate: \"Big Amount\"");
    let err = policy::load_with(bad.as_bytes(), &handle(&home)).unwrap_err();
    assert!(err.message.contains("match.predicate"), "{}", err.message);
}

#[test]
fn a_revoked_publisher_key_refuses_the_predicate() {
    let home = Home::new();
    home.publish(Template::RhaiPredicate, "big-amount", "0.1.0", None);
    home.install("big-amount");
    load(&home, BLOCK_BIG);
    home.revoke();
    let err = policy::load_with(BLOCK_BIG.as_bytes(), &handle(&home)).unwrap_err();
    assert_eq!(err.error_code(), "plugin_key_revoked", "{}", err.message);
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn a_changed_script_is_refused_at_load() {
    let home = Home::new();
    home.publish(Template::RhaiPredicate, "big-amount", "0.1.0", None);
    let installed = home.install("big-amount");
    let dir = home.host().home().installed_dir(&installed.pin).unwrap();
    std::fs::write(dir.join("predicate.rhai"), "true").unwrap();
    let err = policy::load_with(BLOCK_BIG.as_bytes(), &handle(&home)).unwrap_err();
    assert_eq!(err.error_code(), "plugin_file_modified", "{}", err.message);
}

/// Every way a predicate can fail, on a block rule and on an allow rule: the call is blocked.
#[test]
fn failing_predicates_block_whatever_the_rule_effect() {
    let cases = [
        ("throw \"boom\";", "predicate_error"),
        ("42", "predicate_error"),
        ("intent.args.amount.no_such_method()", "predicate_error"),
        ("loop { }", "predicate_limit_exceeded"),
        (
            "let s = \"x\"; loop { s += s; }",
            "predicate_limit_exceeded",
        ),
    ];
    for (i, (script, code)) in cases.iter().enumerate() {
        let home = Home::new();
        let name = format!("p{i}");
        home.publish(Template::RhaiPredicate, &name, "0.1.0", Some(script));
        home.install(&name);
        for (effect, default) in [("block", "allow"), ("allow", "allow"), ("allow", "block")] {
            let yaml = format!(
                "default_verdict: {default}\nrules:\n  - name: guarded\n    effect: {effect}\n    match:\n      tool_names: [pay]\n      predicate: {name}\n"
            );
            let bound = load(&home, &yaml);
            let r = gait_gate::policytest::run(&bound, &intent("5"), now()).unwrap();
            assert_eq!(
                (
                    r.verdict.as_str(),
                    r.reason_codes.clone(),
                    r.violations.clone()
                ),
                (
                    "block",
                    vec![code.to_string()],
                    vec!["predicate_failed".to_string()]
                ),
                "{script} under effect {effect}"
            );
            assert_eq!(r.matched_rule, "guarded");
        }
    }
}

#[test]
fn predicates_are_skipped_when_the_declarative_match_fails() {
    // The predicate throws, but the rule never matches tool `other`: it is never run.
    let home = Home::new();
    home.publish(
        Template::RhaiPredicate,
        "boom",
        "0.1.0",
        Some("throw \"x\";"),
    );
    home.install("boom");
    let bound = load(
        &home,
        "default_verdict: allow\nrules:\n  - name: r\n    effect: block\n    match:\n      tool_names: [other]\n      predicate: boom\n",
    );
    assert_eq!(verdict(&bound, "5").0, "allow");
}

#[test]
fn script_steps_are_judged_one_by_one() {
    let home = Home::new();
    home.publish(Template::RhaiPredicate, "big-amount", "0.1.0", None);
    home.install("big-amount");
    let bound = load(&home, BLOCK_BIG);
    let script = br#"{"tool_name":"script","args":{},"script":{"steps":[
        {"tool_name":"pay","args":{"amount":5},"targets":[{"kind":"host","value":"bank.example","operation":"write"}]},
        {"tool_name":"pay","args":{"amount":5000},"targets":[{"kind":"host","value":"bank.example","operation":"write"}]}]},
        "context":{"identity":"agent","workspace":"/w","risk_class":"high"}}"#;
    let r = gait_gate::policytest::run(&bound, script, now()).unwrap();
    // Step 0 (5) falls to the default, step 1 (5000) is blocked by the predicate; a script's
    // reasons are every step's (CONTRACTS §2.6).
    assert_eq!(r.verdict, "block", "{r:?}");
    assert_eq!(r.reason_codes, ["default_allow", "payment_too_large"]);
}

#[test]
fn the_policy_cache_keys_on_the_predicate_identity() {
    let home = Home::new();
    home.publish(Template::RhaiPredicate, "big-amount", "0.1.0", None);
    home.install("big-amount");
    let cache_dir = home.path("cache");
    let cache = |home: &Home| {
        PolicyCache::new(&cache_dir)
            .with_new_key([1; 32])
            .with_predicates(handle(home))
    };
    let (first, o1) = cache(&home).load(BLOCK_BIG.as_bytes()).unwrap();
    let (again, o2) = cache(&home).load(BLOCK_BIG.as_bytes()).unwrap();
    assert_eq!((o1, o2), (CacheOutcome::Miss, CacheOutcome::Hit));
    assert_eq!(first, again);
    // A cached entry evaluates like a fresh one (the hit carries the evaluator).
    assert_eq!(verdict(&again, "5000").0, "block");

    // A new version of the predicate: same policy bytes, a miss and another digest.
    home.publish(
        Template::RhaiPredicate,
        "big-amount",
        "0.2.0",
        Some("intent.args.amount > 10"),
    );
    home.install("big-amount@0.2.0");
    let (updated, o3) = cache(&home).load(BLOCK_BIG.as_bytes()).unwrap();
    assert_eq!(o3, CacheOutcome::Miss);
    assert_ne!(updated.digest, first.digest);
    assert_eq!(updated.predicates[0].version, "0.2.0");
    assert_eq!(verdict(&updated, "50").0, "block");

    // Revoked: no stale hit is served; the load fails.
    home.revoke();
    assert!(cache(&home).load(BLOCK_BIG.as_bytes()).is_err());
    // Policies without predicates never consult the resolver (and keep hitting).
    let plain = b"default_verdict: allow\n";
    cache(&home).load(plain).unwrap();
    assert_eq!(cache(&home).load(plain).unwrap().1, CacheOutcome::Hit);
}

#[test]
fn evaluation_is_deterministic_and_compiles_once() {
    let home = Home::new();
    home.publish(Template::RhaiPredicate, "big-amount", "0.1.0", None);
    home.install("big-amount");
    let host = home.host();
    let predicates = host.predicates();
    let a = predicates.resolve("big-amount").unwrap();
    // The host hands out one predicate set per process; resolving again is served from it.
    assert!(std::sync::Arc::ptr_eq(&predicates, &host.predicates()));
    assert_eq!(predicates.resolve("big-amount").unwrap(), a);
    let bound = policy::load_with(BLOCK_BIG.as_bytes(), &PredicateHandle::new(predicates)).unwrap();
    let first = verdict(&bound, "5000");
    for _ in 0..50 {
        assert_eq!(verdict(&bound, "5000"), first);
    }
}
