//! Runpack integrity through the CLI: demo, verify, tampering, hostile archives, signatures
//! (CONTRACTS §1.2, §3.2; DEVIATIONS #3).

use crate::support::Sandbox;
use gait_engine::zipx::{self, Archive, Entry, ZipLimits};
use serde_json::Value;
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

const DEMO_ZIP: &str = "gait-out/runpack_run_demo.zip";
const ENTRIES: [&str; 5] = [
    "intents.jsonl",
    "manifest.json",
    "refs.json",
    "results.jsonl",
    "run.json",
];

fn demo(sb: &Sandbox) -> Vec<u8> {
    let (code, out) = sb.run_json(&["demo", "--json"]);
    assert_eq!(code, 0, "{out}");
    sb.read(DEMO_ZIP)
}

/// The entries of a runpack zip, in archive order.
fn entries_of(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let archive = Archive::open(zip.to_vec(), ZipLimits::default()).unwrap();
    archive
        .entries()
        .iter()
        .map(|e| (e.name.clone(), archive.read(&e.name).unwrap().unwrap()))
        .collect()
}

/// A well-formed zip of the given entries (our deterministic writer).
fn rezip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    zipx::write_deterministic(
        entries
            .iter()
            .map(|(n, d)| Entry {
                name: n.clone(),
                data: d,
                executable: false,
            })
            .collect(),
        &ZipLimits::default(),
    )
    .unwrap()
}

/// A zip written by the zip crate directly, without gait's name checks (to craft hostile archives).
fn raw_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(*name, SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn replace_once(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = haystack
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = haystack[..at].to_vec();
    out.extend_from_slice(to);
    out.extend_from_slice(&haystack[at + from.len()..]);
    out
}

#[test]
fn demo_then_verify_and_two_demos_are_byte_identical() {
    let a = Sandbox::new();
    let b = Sandbox::new();
    let (code, out, err) = a.run(&["demo"]);
    assert_eq!((code, err.as_str()), (0, ""));
    // The seed README's lines, in order.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "mode=standard");
    assert_eq!(lines[1], "run_id=run_demo");
    assert_eq!(lines[2], "bundle=./gait-out/runpack_run_demo.zip");
    assert!(lines[3].starts_with("ticket_footer=GAIT run_id=run_demo manifest=sha256:"));
    assert!(lines[3].ends_with(" verify=\"gait verify run_demo\""));
    assert_eq!(lines[4], "verify=ok");
    assert!(lines[5].starts_with("next="));
    assert!(lines[6].starts_with("metrics_opt_in="));
    let (code, json) = a.run_json(&["verify", "run_demo", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["files_checked"], 4);
    assert_eq!(json["signature_status"], "missing");
    // Flags after or before the positional.
    assert_eq!(a.run_json(&["verify", "--json", "run_demo"]).0, 0);
    demo(&b);
    assert_eq!(
        a.read(DEMO_ZIP),
        b.read(DEMO_ZIP),
        "two fresh demos, same zip bytes"
    );
    let (_, demo_json) = b.run_json(&["demo", "--json"]);
    assert_eq!(demo_json["manifest_digest"], json["manifest_digest"]);
    assert_eq!(demo_json["verify"], "ok");
    assert_eq!(demo_json["mode"], "standard");
    assert!(demo_json["duration_ms"].is_number());
    assert_eq!(demo_json["next_commands"].as_array().unwrap().len(), 3);
}

#[test]
fn run_ids_resolve_to_gait_out_then_gait_home() {
    let sb = Sandbox::new();
    let zip = demo(&sb);
    std::fs::remove_file(sb.join(DEMO_ZIP)).unwrap();
    sb.write("home/.gait/runpacks/runpack_run_demo.zip", &zip);
    let (code, json) = sb.run_json(&["verify", "run_demo", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert!(
        json["path"]
            .as_str()
            .unwrap()
            .ends_with("home/.gait/runpacks/runpack_run_demo.zip")
    );
    // Unknown run id: invalid input naming the first candidate, never a panic.
    let (code, json) = sb.run_json(&["verify", "run_nope", "--json"]);
    assert_eq!(code, 6, "{json}");
    assert_eq!(
        json["error"],
        "open gait-out/runpack_run_nope.zip: no such file or directory"
            .replace("gait-out", "./gait-out")
    );
}

#[test]
fn changing_one_byte_of_any_entry_fails_verify_and_names_it() {
    let sb = Sandbox::new();
    let zip = demo(&sb);
    for target in ENTRIES {
        let tampered: Vec<(String, Vec<u8>)> = entries_of(&zip)
            .into_iter()
            .map(|(name, data)| {
                if name == target {
                    // Every entry carries "run_id":"run_demo"; flip one byte of it.
                    let d = replace_once(&data, b"\"run_demo\"", b"\"run_demO\"");
                    (name, d)
                } else {
                    (name, data)
                }
            })
            .collect();
        sb.write("tampered.zip", rezip(&tampered));
        let (code, json) = sb.run_json(&["verify", "tampered.zip", "--json"]);
        assert_eq!(code, 2, "{target}: {json}");
        assert_eq!(json["ok"], false);
        let named: Vec<&str> = json["hash_mismatches"]
            .as_array()
            .unwrap_or_else(|| panic!("{target}: no hash_mismatches in {json}"))
            .iter()
            .map(|m| m["path"].as_str().unwrap())
            .collect();
        assert_eq!(named, [target], "{target}");
        let (code, text, _) = sb.run(&["verify", "tampered.zip"]);
        assert_eq!(code, 2);
        assert!(text.contains(&format!("hash_mismatch={target}")), "{text}");
    }
}

fn assert_refused(sb: &Sandbox, file: &str, want_in_error: &str) -> Value {
    let (code, json) = sb.run_json(&["verify", file, "--json"]);
    assert!(code == 2 || code == 6, "{file}: exit {code}: {json}");
    assert_eq!(json["ok"], false);
    let error = json["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(want_in_error),
        "{file}: error {error:?} should mention {want_in_error:?}"
    );
    // Human mode: the message on stdout, exit code unchanged, never a panic.
    let (text_code, out, err) = sb.run(&["verify", file]);
    assert_eq!(text_code, code);
    assert!(out.starts_with("verify error: "), "{out}");
    assert!(!err.contains("panicked"), "{err}");
    json
}

#[test]
fn hostile_and_broken_archives_are_refused_cleanly() {
    let sb = Sandbox::new();
    let zip = demo(&sb);
    sb.write("truncated.zip", &zip[..zip.len() / 2]);
    assert_refused(&sb, "truncated.zip", "not a valid zip archive");
    sb.write("cut-tail.zip", &zip[..zip.len() - 5]);
    assert_refused(&sb, "cut-tail.zip", "not a valid zip archive");
    sb.write("notzip.zip", b"this is a text file, not a zip");
    assert_refused(&sb, "notzip.zip", "not a valid zip archive");
    sb.write("empty.zip", b"");
    assert_refused(&sb, "empty.zip", "not a valid zip archive");

    let mut with_escape: Vec<(String, Vec<u8>)> = entries_of(&zip);
    with_escape.push(("../escape.txt".into(), b"gotcha".to_vec()));
    let refs: Vec<(&str, &[u8])> = with_escape
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    sb.write("escape.zip", raw_zip(&refs));
    let json = assert_refused(&sb, "escape.zip", "../escape.txt");
    assert_eq!(json["error_code"], "zip_unsafe_entry");

    sb.write("absolute.zip", raw_zip(&[("/etc/passwd", b"x")]));
    assert_refused(&sb, "absolute.zip", "absolute path");

    // Duplicate names: two distinct names written, then one renamed in place to the other.
    let entries = entries_of(&zip);
    let mut list: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    list.push(("run.jsoo", b"{}"));
    let mut dup = raw_zip(&list);
    while let Some(at) = dup.windows(8).position(|w| w == b"run.jsoo") {
        dup[at..at + 8].copy_from_slice(b"run.json");
    }
    sb.write("dup.zip", dup);
    let json = assert_refused(&sb, "dup.zip", "duplicate");
    assert_eq!(json["error_code"], "runpack_duplicate_entries");
    assert_eq!(json["error_category"], "verification_failed");

    // A directory where a zip is expected.
    std::fs::create_dir_all(sb.join("adir.zip")).unwrap();
    let (code, json) = sb.run_json(&["verify", "adir.zip", "--json"]);
    assert_eq!(code, 6, "{json}");
    assert!(json["error"].as_str().unwrap().contains("is a directory"));

    // A zip without a manifest.
    sb.write("nomanifest.zip", raw_zip(&[("run.json", b"{}")]));
    assert_refused(&sb, "nomanifest.zip", "manifest.json");
    // A manifest that is not JSON, or has duplicate keys.
    let mut bad = entries_of(&zip);
    for (n, d) in bad.iter_mut() {
        if n == "manifest.json" {
            *d = replace_once(d, b"{\"capture_mode\"", b"{\"run_id\":\"x\",\"run_id\"");
        }
    }
    sb.write("dupkey.zip", rezip(&bad));
    assert_refused(&sb, "dupkey.zip", "duplicate key");
}

#[test]
fn undeclared_entries_fail_verification() {
    // DEVIATIONS #3: the reference accepts entries its manifest does not declare; gait does not.
    let sb = Sandbox::new();
    let zip = demo(&sb);
    let mut extra = entries_of(&zip);
    extra.push(("extra.txt".into(), b"smuggled".to_vec()));
    sb.write("extra.zip", rezip(&extra));
    let (code, json) = sb.run_json(&["verify", "extra.zip", "--json"]);
    assert_eq!(code, 2, "{json}");
    assert_eq!(json["ok"], false);
    assert_eq!(json["undeclared_files"], serde_json::json!(["extra.txt"]));
    assert!(json.get("hash_mismatches").is_none());
    // A missing declared file is named too.
    let fewer: Vec<_> = entries_of(&zip)
        .into_iter()
        .filter(|(n, _)| n != "refs.json")
        .collect();
    sb.write("fewer.zip", rezip(&fewer));
    let (code, json) = sb.run_json(&["verify", "fewer.zip", "--json"]);
    assert_eq!(code, 2);
    assert_eq!(json["missing_files"], serde_json::json!(["refs.json"]));
}

fn record_input(sb: &Sandbox) {
    sb.write(
        "run_record.json",
        r#"{"run":{"run_id":"run_sig","created_at":"2031-02-03T04:05:06Z","env":{"os":"linux","arch":"amd64","runtime":"python"},"timeline":[]},
            "intents":[{"intent_id":"intent_1","tool_name":"tool.search","args":{"q":"x"}}],
            "results":[{"intent_id":"intent_1","status":"ok","result":{"ok":true}}],
            "refs":{"receipts":[]}}"#,
    );
}

#[test]
fn signatures_require_the_right_key() {
    let sb = Sandbox::new();
    sb.vector_keys();
    record_input(&sb);
    let (code, json) = sb.run_json(&[
        "run",
        "record",
        "run_record.json",
        "--key-mode",
        "prod",
        "--private-key",
        "keys/vectors_private.key",
        "--json",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["signature_status"], "signed");
    let zip = "./gait-out/runpack_run_sig.zip";
    let (code, json) = sb.run_json(&[
        "verify",
        zip,
        "--public-key",
        "keys/vectors_public.key",
        "--require-signature",
        "--json",
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["signature_status"], "verified");
    assert_eq!(json["signatures_valid"], 1);
    let (code, json) = sb.run_json(&[
        "verify",
        zip,
        "--private-key",
        "keys/vectors_private.key",
        "--profile",
        "strict",
        "--json",
    ]);
    assert_eq!(
        (code, json["signature_status"].as_str()),
        (0, Some("verified"))
    );

    // Without a key the signature is skipped: fine by default, a failure when required.
    let (code, json) = sb.run_json(&["verify", zip, "--json"]);
    assert_eq!(
        (code, json["signature_status"].as_str()),
        (0, Some("skipped"))
    );
    let (code, json) = sb.run_json(&["verify", zip, "--require-signature", "--json"]);
    assert_eq!((code, json["ok"].as_bool()), (2, Some(false)));

    // The wrong public key fails.
    let (code, _) = sb.run_json(&["keys", "init", "--out-dir", "other", "--json"]);
    assert_eq!(code, 0);
    let (code, json) = sb.run_json(&[
        "verify",
        zip,
        "--public-key",
        "other/gait_public.key",
        "--json",
    ]);
    assert_eq!(code, 2, "{json}");
    assert_eq!(json["signature_status"], "failed");
    assert!(!json["signature_errors"].as_array().unwrap().is_empty());

    // An unsigned runpack with --require-signature fails; --profile strict likewise.
    let (code, _) = sb.run_json(&[
        "run",
        "record",
        "run_record.json",
        "--run-id",
        "run_unsigned",
        "--json",
    ]);
    assert_eq!(code, 0);
    for extra in [
        ["--require-signature", "--json"],
        ["--profile=strict", "--json"],
    ] {
        let mut args = vec![
            "verify",
            "run_unsigned",
            "--public-key",
            "keys/vectors_public.key",
        ];
        args.extend(extra);
        let (code, json) = sb.run_json(&args);
        assert_eq!(code, 2, "{json}");
        assert_eq!(json["signature_status"], "missing");
    }

    // FIELDS §7: an extra key in manifest.json breaks the signature (raw JSON is signed) but not the
    // manifest digest (struct re-marshal).
    let mut entries = entries_of(&sb.read(zip));
    for (n, d) in entries.iter_mut() {
        if n == "manifest.json" {
            *d = replace_once(d, b"{\"capture_mode\"", b"{\"aaa\":1,\"capture_mode\"");
        }
    }
    sb.write("extra-key.zip", rezip(&entries));
    let (code, json) = sb.run_json(&[
        "verify",
        "extra-key.zip",
        "--public-key",
        "keys/vectors_public.key",
        "--json",
    ]);
    assert_eq!(code, 2, "{json}");
    assert_eq!(json["signature_status"], "failed");
    assert_eq!(
        json["signature_errors"],
        serde_json::json!(["signed_digest mismatch"])
    );
    assert!(json.get("hash_mismatches").is_none(), "{json}");
}

#[test]
fn record_refuses_bad_inputs_cleanly() {
    let sb = Sandbox::new();
    let cases: &[(&str, &str)] = &[
        (
            "{\"run\":{\"run_id\":\"a\"},\"run\":{}}",
            "duplicate key \"run\"",
        ),
        (
            "{\"run\":{\"run_id\":\"a\",\"run_id\":\"b\"}}",
            "duplicate field",
        ),
        (
            "{\"run\":{\"run_id\":\"a\"},\"intents\":[{\"intent_id\":\"i\",\"args\":{\"k\":1,\"k\":2}}]}",
            "duplicate key \"k\"",
        ),
        ("{\"run\":{\"run_id\":\"../etc\"}}", "path separators"),
        (
            "{\"run\":{\"run_id\":\"a\"},\"intents\":[{\"intent_id\":\"i\",\"args\":[1]}]}",
            "expected an object",
        ),
        (
            "{\"run\":{\"run_id\":\"a\",\"created_at\":\"yesterday\"}}",
            "parsing time",
        ),
        ("[1,2]", "parse run record input"),
        ("{\"run\":", "parse run record input"),
        ("", "parse run record input"),
    ];
    for (input, want) in cases {
        sb.write("in.json", input);
        let (code, json) = sb.run_json(&["run", "record", "in.json", "--json"]);
        assert_eq!(code, 6, "{input}: {json}");
        let error = json["error"].as_str().unwrap();
        assert!(
            error.contains(want),
            "{input}: {error:?} should mention {want:?}"
        );
    }
    let (code, json) = sb.run_json(&["run", "record", "--json"]);
    assert_eq!(
        (code, json["error"].as_str()),
        (6, Some("missing required --input"))
    );
    let (code, json) = sb.run_json(&["run", "record", "missing.json", "--json"]);
    assert_eq!(code, 6, "{json}");
    let (code, json) = sb.run_json(&["run", "record", "in.json", "--key-mode", "prod", "--json"]);
    assert_eq!(
        (code, json["error"].as_str()),
        (6, Some("private key not configured"))
    );
    record_input(&sb);
    let (code, json) = sb.run_json(&[
        "run",
        "record",
        "run_record.json",
        "--out-dir",
        "../x",
        "--json",
    ]);
    assert_eq!(code, 6, "{json}");
}

#[test]
fn record_accepts_the_seed_and_reference_spellings() {
    let sb = Sandbox::new();
    record_input(&sb);
    // Seed README: positional; reference: --input; flags before or after.
    let (a, ja) = sb.run_json(&["run", "record", "run_record.json", "--json"]);
    let (b, jb) = sb.run_json(&["run", "record", "--json", "--input", "run_record.json"]);
    assert_eq!((a, b), (0, 0));
    assert_eq!(ja["manifest_digest"], jb["manifest_digest"]);
    assert_eq!(ja["bundle"], "./gait-out/runpack_run_sig.zip");
    // Raw capture keeps the payloads and says so.
    let (code, json) = sb.run_json(&[
        "run",
        "record",
        "run_record.json",
        "--capture-mode",
        "raw",
        "--out-dir",
        "raw-out",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(json["bundle"], "raw-out/runpack_run_sig.zip");
    let warnings = json["warnings"].as_array().unwrap();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("raw capture retains")
    );
    let entries = entries_of(&sb.read("raw-out/runpack_run_sig.zip"));
    let intents = &entries
        .iter()
        .find(|(n, _)| n == "intents.jsonl")
        .unwrap()
        .1;
    assert!(String::from_utf8_lossy(intents).contains("\"args\":{\"q\":\"x\"}"));
    // Human mode prints key=value lines and the warning on stderr.
    let (code, out, err) = sb.run(&["run", "record", "run_record.json"]);
    assert_eq!(code, 0);
    assert!(out.contains("run_id=run_sig\n"), "{out}");
    assert!(
        out.contains("ticket_footer=GAIT run_id=run_sig manifest=sha256:"),
        "{out}"
    );
    assert!(
        err.starts_with("warning: reference capture stripped"),
        "{err}"
    );
}

#[test]
fn every_runpack_command_has_help_explain_and_json_errors() {
    let sb = Sandbox::new();
    let commands: [&[&str]; 9] = [
        &["demo"],
        &["verify"],
        &["run", "record"],
        &["run", "replay"],
        &["run", "diff"],
        &["run", "reduce"],
        &["run", "inspect"],
        &["run", "receipt"],
        &["migrate"],
    ];
    let (_, top, _) = sb.run(&["--help"]);
    for words in commands {
        let name = words.join(" ");
        assert!(top.contains(&name), "gait --help lists {name}");
        let mut args = words.to_vec();
        args.push("--help");
        let (code, out, _) = sb.run(&args);
        assert_eq!(code, 0, "{name} --help");
        assert!(out.starts_with(&format!("Usage: gait {name}")), "{out}");
        let mut args = words.to_vec();
        args.push("--explain");
        let (code, out, _) = sb.run(&args);
        assert_eq!(
            (code, out.lines().count()),
            (0, 1),
            "{name} --explain: {out}"
        );
        args.push("--json");
        let (code, json) = sb.run_json(&args);
        assert_eq!(code, 0);
        assert!(!json["explain"].as_str().unwrap().is_empty());
        // A flag it does not have: Go's wording, the envelope once --json was seen.
        let mut args = words.to_vec();
        args.extend(["--json", "--no-such-flag"]);
        let (code, json) = sb.run_json(&args);
        assert_eq!(code, 6, "{name}: {json}");
        assert_eq!(
            json["error"],
            "flag provided but not defined: -no-such-flag"
        );
    }
    assert!(
        !sb.join("gait-out").exists(),
        "--help/--explain never run a command"
    );
}

/// `gait demo --policy` (CONTRACTS §1.2: writes policy_demo_high_risk.yaml + intent_demo_delete.json
/// and expects a block). Our high-risk baseline blocks deletes (examples/policy/README.md's table:
/// delete_file.json → block under high), so the demo's destructive intent must be blocked, and
/// `policy test` on the written files must agree (exit 3, same digests).
#[test]
fn demo_policy_shows_a_block_and_writes_its_inputs() {
    let sb = Sandbox::new();
    let (code, json) = sb.run_json(&["demo", "--policy", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["mode"], "policy");
    assert_eq!(json["verdict"], "block");
    let reasons = json["reason_codes"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r == "destructive_operation_blocked"),
        "{json}"
    );
    let (code, test) = sb.run_json(&[
        "policy",
        "test",
        "gait-out/policy_demo_high_risk.yaml",
        "gait-out/intent_demo_delete.json",
        "--json",
    ]);
    assert_eq!(code, 3, "{test}");
    assert_eq!(test["policy_digest"], json["policy_digest"]);
    assert_eq!(test["intent_digest"], json["intent_digest"]);
    // The policy written is the built-in high-risk baseline, byte for byte.
    let baseline =
        std::fs::read(crate::support::repo_root().join("examples/policy/baseline-highrisk.yaml"))
            .unwrap();
    assert_eq!(sb.read("gait-out/policy_demo_high_risk.yaml"), baseline);
    // Verify's next_commands advertise it: the command it names must exist.
    let (code, out, _) = sb.run(&["demo", "--policy"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("mode=policy\n"), "{out}");
}
