#[test]
fn probe_intent_digests() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/gate.jsonl"
    ))
    .unwrap();
    let mut bad = 0;
    let mut total = 0;
    for line in text.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r["command"] != "policy test" {
            continue;
        }
        let raw = match r.get("intent_raw").and_then(|v| v.as_str()) {
            Some(s) => s.to_string(),
            None => python_dump(&r["intent"]),
        };
        let exp = &r["expect"];
        total += 1;
        let res = gait_gate::intent::load(raw.as_bytes());
        match (res, exp.get("intent_digest")) {
            (Ok(i), Some(d)) => {
                if i.digest() != d.as_str().unwrap() {
                    bad += 1;
                    println!("DIGEST {} ", r["id"]);
                }
            }
            (Ok(_), None) => {
                let e = exp["error"].as_str().unwrap_or("");
                if e.contains("intent") {
                    bad += 1;
                    println!("EXPECTED ERR {} {}", r["id"], e);
                }
            }
            (Err(e), Some(_)) => {
                bad += 1;
                println!("UNEXPECTED ERR {} {}", r["id"], e.message);
            }
            (Err(e), None) => {
                let want = exp.get("error").and_then(|v| v.as_str()).unwrap_or("");
                if want != e.message && want.contains("intent") {
                    bad += 1;
                    println!("MSG {} got {:?} want {:?}", r["id"], e.message, want);
                }
            }
        }
    }
    println!("{bad}/{total}");
}
fn python_dump(v: &serde_json::Value) -> String {
    // json.dumps(..., ensure_ascii=False, separators=(", ", ": ")) in key order; serde_json (no
    // preserve_order) sorts keys, which does not matter for the digest except duplicates.
    serde_json::to_string(v).unwrap()
}
