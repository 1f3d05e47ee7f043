//! The reference's `gait registry install|list|verify` with its registry-pack format
//! (CONTRACTS §1.2 "registry", §3.9, §8.13; FIELDS §1 and §2.9). Expected bytes are written out
//! by hand from FIELDS §2.9: the normalized struct (pack_type/publisher/source trimmed and
//! lowercased, unknown keys dropped, omitempty fields absent, `artifacts` kept), in JCS order.

use crate::support::Sandbox;
use gait_engine::crypto::PrivateKey;
use serde_json::Value;

const A64: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The pack as a publisher writes it (field order, case and spacing on purpose untidy).
fn raw_pack() -> String {
    format!(
        r#"{{"schema_id":"gait.registry.pack","schema_version":"1.0.0","created_at":"2026-02-01T00:00:00Z","producer_version":"0.0.0-dev","pack_name":"baseline","pack_version":"1.0.0","pack_type":" Policy ","publisher":"ACME","source":"Registry","risk_class":"high","artifacts":[{{"path":"policy.yaml","sha256":"{A64}"}}],"extra":"dropped"}}"#
    )
}

/// JCS of the normalized pack without signatures (FIELDS §2.9), written by hand.
fn expected_body() -> String {
    format!(
        r#"{{"artifacts":[{{"path":"policy.yaml","sha256":"{A64}"}}],"created_at":"2026-02-01T00:00:00Z","pack_name":"baseline","pack_type":"policy","pack_version":"1.0.0","producer_version":"0.0.0-dev","publisher":"acme","risk_class":"high","schema_id":"gait.registry.pack","schema_version":"1.0.0","source":"registry"}}"#
    )
}

fn vector_key(sb: &Sandbox) -> (PrivateKey, String) {
    let (private, public) = sb.vector_keys();
    let key = gait_engine::crypto::load_private_key_file(&private).unwrap();
    (key, public.display().to_string())
}

/// Writes `pack.json` signed by `key`; returns (digest, signature object).
fn write_signed(sb: &Sandbox, key: &PrivateKey) -> (String, Value) {
    let digest = gait_engine::canon::sha256_hex(expected_body().as_bytes());
    let sig = key.sign_digest(&digest).unwrap();
    let sig = serde_json::json!({"alg": sig.alg, "key_id": sig.key_id, "sig": sig.sig, "signed_digest": digest});
    let mut v: Value = serde_json::from_str(&raw_pack()).unwrap();
    v["signatures"] = Value::Array(vec![sig.clone()]);
    sb.write("pack.json", serde_json::to_vec(&v).unwrap());
    (digest, sig)
}

#[test]
fn install_writes_the_normalized_pack_and_pin() {
    let sb = Sandbox::new();
    let (key, public) = vector_key(&sb);
    let (digest, sig) = write_signed(&sb, &key);
    let (code, v) = sb.run_json(&[
        "registry",
        "install",
        "--source",
        "pack.json",
        "--public-key",
        &public,
        "--json",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["pack_name"], "baseline");
    assert_eq!(v["digest"], digest.as_str());
    let cache = "home/.gait/registry";
    // registry_pack.json = JCS of the normalized struct with its signatures, no newline.
    let sig_jcs = format!(
        r#"[{{"alg":"ed25519","key_id":"{}","sig":"{}","signed_digest":"{digest}"}}]"#,
        sig["key_id"].as_str().unwrap(),
        sig["sig"].as_str().unwrap()
    );
    let body = expected_body();
    let want = body.replace(
        r#","source":"registry"}"#,
        &format!(r#","signatures":{sig_jcs},"source":"registry"}}"#),
    );
    let got = sb.read(&format!(
        "{cache}/baseline/1.0.0/{digest}/registry_pack.json"
    ));
    assert_eq!(String::from_utf8(got).unwrap(), want);
    assert_eq!(
        String::from_utf8(sb.read(&format!("{cache}/pins/baseline.pin"))).unwrap(),
        format!("sha256:{digest}\n")
    );

    let (code, v) = sb.run_json(&["registry", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["packs"][0]["pack_name"], "baseline");
    assert_eq!(v["packs"][0]["pinned"], true);

    let path = sb
        .join(&format!(
            "{cache}/baseline/1.0.0/{digest}/registry_pack.json"
        ))
        .display()
        .to_string();
    let (code, v) = sb.run_json(&[
        "registry",
        "verify",
        "--path",
        &path,
        "--public-key",
        &public,
        "--report-out",
        "report.json",
        "--json",
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["signature_verified"], true);
    assert_eq!(v["pin_verified"], true);
    let report: Value = serde_json::from_slice(&sb.read("report.json")).unwrap();
    assert_eq!(report["schema_id"], "gait.registry.verification_report");

    // The cached file changed: the signature no longer verifies (exit 2).
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"risk_class\":\"high\"", "\"risk_class\":\"low\""),
    )
    .unwrap();
    let (code, v) = sb.run_json(&[
        "registry",
        "verify",
        "--path",
        &path,
        "--public-key",
        &public,
        "--json",
    ]);
    assert_eq!(code, 2);
    assert_eq!(v["ok"], false);
    let reasons: Vec<&str> = v["reason_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["pin_mismatch", "signature_invalid"]);
}

#[test]
fn install_failures_exit_2() {
    let sb = Sandbox::new();
    let (key, public) = vector_key(&sb);
    let (digest, _) = write_signed(&sb, &key);
    let run = |extra: &[&str]| {
        let mut args = vec!["registry", "install", "--source", "pack.json", "--json"];
        args.extend_from_slice(extra);
        sb.run_json(&args)
    };
    // CONTRACTS §8.13: every install failure is a verification failure.
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "public key not configured"),
        (
            vec![
                "--public-key",
                &public,
                "--pin",
                "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ],
            "pin mismatch",
        ),
        (
            vec!["--public-key", &public, "--publisher-allowlist", "other"],
            "allowlist",
        ),
    ];
    for (extra, needle) in cases {
        let (code, v) = run(&extra);
        assert_eq!(code, 2, "{extra:?}: {v}");
        assert!(v["error"].as_str().unwrap().contains(needle), "{v}");
    }
    let other = PrivateKey::from_seed(&[3; 32]);
    sb.write("other.pub", other.public().to_text());
    let (code, _) = run(&["--public-key", "other.pub"]);
    assert_eq!(code, 2);
    let (code, _) = sb.run_json(&[
        "registry",
        "install",
        "--source",
        "https://registry.example.com/pack.json",
        "--public-key",
        &public,
        "--json",
    ]);
    assert_eq!(code, 2, "a host not on --allow-host is refused");
    assert!(!sb.join("home/.gait/registry/pins").exists());
    // The right pin is accepted, with or without the sha256: prefix and in any case.
    let (code, v) = run(&["--public-key", &public, "--pin", &digest.to_uppercase()]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn explain_texts() {
    let sb = Sandbox::new();
    for cmd in [
        ["registry", "install"],
        ["registry", "list"],
        ["registry", "verify"],
        ["registry", "index"],
        ["plugin", "install"],
    ] {
        let (code, out, err) = sb.run(&[cmd[0], cmd[1], "--explain"]);
        assert_eq!((code, err.as_str()), (0, ""));
        assert!(out.ends_with(".\n") && out.lines().count() == 1, "{out}");
    }
}
