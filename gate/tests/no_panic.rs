//! Hostile input never panics: random bytes, random JSON-like text and mutated valid documents go
//! through the intent and policy loaders and either load or fail with an error.

use proptest::prelude::*;

const POLICY: &str = "default_verdict: block\nfail_closed:\n  enabled: true\nrules:\n  - name: r\n    priority: 1\n    effect: allow\n    match: {tool_names: [tool.write], risk_classes: [low]}\n    endpoint: {path_denylist: ['/etc/**']}\n    freeze_window: {timezone: UTC, windows: [{start: '2031-01-01T00:00:00', end: '2031-01-02T00:00:00'}]}\n";
const INTENT: &str = r#"{"tool_name":"tool.write","args":{"a":[1,{"b":"c"}]},"targets":[{"kind":"path","value":"/a","operation":"write"}],"arg_provenance":[{"arg_path":"$.a","source":"user"}],"context":{"identity":"i","workspace":"/w","risk_class":"low","agent_identity":{"issued_at":"2030-01-01T00:00:00Z"}}}"#;

fn mutate(base: &str, pos: usize, byte: u8, cut: bool) -> Vec<u8> {
    let mut b = base.as_bytes().to_vec();
    let pos = pos % b.len();
    if cut {
        b.truncate(pos);
    } else {
        b[pos] = byte;
    }
    b
}

fn exercise(policy: &[u8], intent: &[u8]) {
    let now = gait_engine::GoTime::parse("2031-01-01T12:00:00Z").unwrap();
    if let Ok(p) = gait_gate::policy::load(policy) {
        let _ = gait_gate::policy::fmt::format(&p.policy);
        let _ = gait_gate::policytest::run(&p, intent, now);
    }
    let _ = gait_gate::intent::load(intent);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_bytes(policy in proptest::collection::vec(any::<u8>(), 0..200), intent in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise(&policy, &intent);
    }

    #[test]
    fn mutated_documents(pos in 0usize..4096, byte in any::<u8>(), cut in any::<bool>(), which in any::<bool>()) {
        if which {
            exercise(&mutate(POLICY, pos, byte, cut), INTENT.as_bytes());
        } else {
            let p = POLICY.as_bytes();
            exercise(p, &mutate(INTENT, pos, byte, cut));
        }
    }

    #[test]
    fn yaml_like_text(text in "[ a-z:{}\\[\\],'\"&*!|>\\-#\\n\\t0-9.]{0,120}") {
        exercise(text.as_bytes(), INTENT.as_bytes());
    }
}

// Signed artifacts and side inputs of the gate-depth steps: tokens, registries, kill-switch state
// and broker receipts, parsed and (when they parse) normalized and validated.
const APPROVAL: &str = include_str!("../../tests/vectors/fields_examples/approval_token.json");
const REGISTRY: &str = r#"{"entries":[{"pattern_id":"p","policy_digest":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","script_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","tool_sequence":["a"],"scope":["risk:high"],"approver_identity":"x","created_at":"2030-01-01T00:00:00Z","expires_at":"2031-01-01T00:00:00Z","signature":{"alg":"ed25519","key_id":"","sig":"AA==","signed_digest":"00"}}]}"#;
const KILL_SWITCH: &str = r#"{"schema_id":"gait.gate.kill_switch_state","entries":[{"entry_id":"e","enabled":true,"tool_name":"tool.write","path_prefixes":["/a"],"expires_at":"2031-01-01T00:00:00Z"}]}"#;

fn exercise_artifacts(bytes: &[u8]) {
    use gait_gate::tokens::{approval, delegation};
    let now = gait_engine::GoTime::parse("2030-06-01T00:00:00Z").unwrap();
    let key = gait_engine::crypto::PrivateKey::from_seed(&[1; 32]).public();
    if let Ok(t) = approval::ApprovalToken::parse(bytes) {
        let _ = approval::approval_token_id(&t);
        let _ = approval::validate(
            &t,
            Some(&key),
            &approval::ApprovalExpectation {
                now,
                ..Default::default()
            },
        );
    }
    if let Ok(t) = delegation::DelegationToken::parse(bytes) {
        let _ = delegation::validate(
            &t,
            Some(&key),
            &delegation::DelegationExpectation {
                now,
                ..Default::default()
            },
        );
    }
    if let Ok(r) = gait_gate::approved_scripts::Registry::parse(bytes) {
        let _ = r.verify(&key, now);
    }
    if let Ok(s) = gait_gate::killswitch::KillSwitchState::parse(bytes) {
        let intent = gait_gate::intent::load(INTENT.as_bytes()).unwrap();
        let _ = gait_gate::killswitch::evaluate(&s, &intent, now);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(800))]

    #[test]
    fn artifacts_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise_artifacts(&bytes);
    }

    #[test]
    fn artifacts_mutated(pos in 0usize..4096, byte in any::<u8>(), cut in any::<bool>(), which in 0u8..3) {
        let base = match which { 0 => APPROVAL, 1 => REGISTRY, _ => KILL_SWITCH };
        exercise_artifacts(&mutate(base, pos, byte, cut));
    }
}
