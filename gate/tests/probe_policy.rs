#[test]
fn probe_policy_digests() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/gate.jsonl"
    ))
    .unwrap();
    let mut bad = 0;
    let mut total = 0;
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let yaml = r["policy_yaml"].as_str().unwrap();
        let exp = &r["expect"];
        let res = gait_gate::policy::load(yaml.as_bytes());
        total += 1;
        match (res, exp.get("policy_digest")) {
            (Ok(p), Some(d)) => {
                if p.digest != d.as_str().unwrap() {
                    bad += 1;
                    println!("DIGEST {} ", r["id"]);
                }
            }
            (Ok(_), None) => {
                /* error elsewhere */
                if let Some(e) = exp.get("error") {
                    let e = e.as_str().unwrap();
                    if e.starts_with("parse policy")
                        || !e.contains("intent")
                            && !e.contains("--")
                            && !e.contains("read ")
                            && !e.contains("oss-prod")
                            && !e.contains("context")
                            && !e.contains("wrkr")
                            && !e.contains("kill")
                            && !e.contains("lock")
                    {
                        println!("EXPECTED ERR {} {}", r["id"], e);
                        bad += 1;
                    }
                }
            }
            (Err(e), Some(_)) => {
                bad += 1;
                println!("UNEXPECTED ERR {} {}", r["id"], e.message);
            }
            (Err(e), None) => {
                let want = exp.get("error").and_then(|v| v.as_str()).unwrap_or("");
                if want != e.message {
                    bad += 1;
                    println!("MSG {} got {:?} want {:?}", r["id"], e.message, want);
                }
            }
        }
    }
    println!("{bad}/{total}");
}
