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
