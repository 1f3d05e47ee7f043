#[test]
fn probe_policy_test() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/gate.jsonl"
    ))
    .unwrap();
    let now = gait_engine::GoTime::parse("2031-05-14T10:30:00Z").unwrap();
    let mut bad = 0;
    let mut total = 0;
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r["command"] != "policy test" {
            continue;
        }
        let exp = &r["expect"];
        if exp.get("verdict").is_none() {
            continue;
        }
        total += 1;
        let raw = match r.get("intent_raw").and_then(|v| v.as_str()) {
            Some(s) => s.to_string(),
            None => serde_json::to_string(&r["intent"]).unwrap(),
        };
        let pol = gait_gate::policy::load(r["policy_yaml"].as_str().unwrap().as_bytes()).unwrap();
        match gait_gate::policytest::run(&pol, raw.as_bytes(), now) {
            Ok(res) => {
                let got = (
                    res.verdict.clone(),
                    res.reason_codes.clone(),
                    res.violations.clone(),
                    res.matched_rule.clone(),
                );
                let want = (
                    exp["verdict"].as_str().unwrap().to_string(),
                    serde_json::from_value::<Vec<String>>(exp["reason_codes"].clone()).unwrap(),
                    serde_json::from_value::<Vec<String>>(exp["violations"].clone()).unwrap(),
                    exp["matched_rule"].as_str().unwrap().to_string(),
                );
                if got != want {
                    bad += 1;
                    println!(
                        "MISMATCH {}\n   got  {:?}\n   want {:?}",
                        r["id"], got, want
                    );
                } else if serde_json::to_value(&res).unwrap()["summary"] != r["output"]["summary"] {
                    bad += 1;
                    println!("SUMMARY {}", r["id"]);
                }
            }
            Err(e) => {
                bad += 1;
                println!("ERR {} {}", r["id"], e.message);
            }
        }
    }
    println!("{bad}/{total}");
}
