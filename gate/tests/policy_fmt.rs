//! `policy fmt` over every policy the recorded vectors hold: the formatted text loads to the same
//! digest, and formatting it again changes nothing.

mod common;

#[test]
fn fmt_keeps_digests_and_is_idempotent_for_every_vector_policy() {
    let mut checked = 0;
    for r in common::vector_records("gate.jsonl") {
        let Ok(loaded) = gait_gate::policy::load(r["policy_yaml"].as_str().unwrap().as_bytes())
        else {
            continue;
        };
        let once = gait_gate::policy::fmt::format(&loaded.policy);
        let reloaded = gait_gate::policy::load(once.as_bytes())
            .unwrap_or_else(|e| panic!("{}: formatted policy does not load: {e}\n{once}", r["id"]));
        assert_eq!(
            reloaded.digest, loaded.digest,
            "{}: digest changed\n{once}",
            r["id"]
        );
        assert_eq!(
            gait_gate::policy::fmt::format(&reloaded.policy),
            once,
            "{}",
            r["id"]
        );
        checked += 1;
    }
    assert!(checked > 600, "checked {checked}");
    for (name, text) in gait_gate::templates::TEMPLATES {
        let loaded = gait_gate::policy::load(text.as_bytes()).unwrap();
        let once = gait_gate::policy::fmt::format(&loaded.policy);
        assert_eq!(
            gait_gate::policy::load(once.as_bytes()).unwrap().digest,
            loaded.digest,
            "{name}"
        );
    }
}
