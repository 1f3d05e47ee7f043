//! Every case of the reference's recorded token vectors (`tests/vectors/tokens.jsonl`) through the
//! engine API:
//! - each recorded token: its id and signed digest recompute, its signature verifies with the
//!   vector public key, re-signing its digest with the vector private key reproduces `sig` byte for
//!   byte, and our writer reproduces `token_file_text` exactly;
//! - minting from the recorded flags at the recorded `created_at` reproduces the whole token,
//!   signature included; the error cases fail with the reference's message;
//! - each `gate_eval_with_tokens` case: fresh tokens minted from `mints[].flags`, `tamper` applied,
//!   `gate eval` run, compared with `expect`, `output` and the audits (clock fields aside).
//!
//! The same cases run through the built binary in `tests/e2e/token_vectors.rs`. This binary holds
//! one test per area; the gate test changes the working directory, so it is the only one that does.

use gait_engine::crypto::{KeyMode, KeySource, PrivateKey, PublicKey, resolve_signing_key};
use gait_engine::gotime::parse_go_duration;
use gait_engine::{GaitError, GoTime, PRODUCER_VERSION};
use gait_gate::cache::PolicyCache;
use gait_gate::gate_eval::gate_eval;
use gait_gate::pipeline::FixedClock;
use gait_gate::tokens::approval::{self, ApprovalToken, MintApproval};
use gait_gate::tokens::delegation::{self, DelegationToken, MintDelegation};
use std::path::Path;

mod common;
use common::tokens::{apply_tamper, compare_gate_with_tokens, flag, flag_pairs, read_audits};
use common::*;
#[path = "common/engine.rs"]
mod engine;

fn key_text(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/vectors/keys").join(name)).unwrap()
}

fn private() -> PrivateKey {
    PrivateKey::from_text(&key_text("vectors_private.key")).unwrap()
}

fn public() -> PublicKey {
    PublicKey::from_text(&key_text("vectors_public.key")).unwrap()
}

fn wall_clock() -> GoTime {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    GoTime::from_unix(d.as_secs() as i64, d.subsec_nanos())
}

fn ttl(pairs: &[(String, String)]) -> Result<i128, GaitError> {
    match parse_go_duration(flag(pairs, "ttl").trim()) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(GaitError::invalid(
            "invalid --ttl, expected positive duration",
        )),
    }
}

fn csv(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `gait approve` from recorded flags, as the CLI maps them, signing with `key` at `now`.
fn mint_approval(
    pairs: &[(String, String)],
    key: &PrivateKey,
    now: GoTime,
) -> Result<ApprovalToken, GaitError> {
    let ttl = ttl(pairs)?;
    let int = |n: &str| flag(pairs, n).parse::<i64>().unwrap_or(0);
    approval::mint(
        &MintApproval {
            intent_digest: flag(pairs, "intent-digest"),
            policy_digest: flag(pairs, "policy-digest"),
            delegation_binding_digest: flag(pairs, "delegation-binding-digest"),
            approver: flag(pairs, "approver"),
            reason_code: flag(pairs, "reason-code"),
            scope: &csv(flag(pairs, "scope")),
            max_targets: int("max-targets"),
            max_ops: int("max-ops"),
            ttl_nanos: ttl,
            now,
            producer_version: PRODUCER_VERSION,
        },
        key,
    )
}

/// `gait delegate mint` from recorded flags.
fn mint_delegation(
    pairs: &[(String, String)],
    key: &PrivateKey,
    now: GoTime,
) -> Result<DelegationToken, GaitError> {
    let ttl = ttl(pairs)?;
    delegation::mint(
        &MintDelegation {
            delegator: flag(pairs, "delegator"),
            delegate: flag(pairs, "delegate"),
            scope: &csv(flag(pairs, "scope")),
            scope_class: flag(pairs, "scope-class"),
            intent_digest: flag(pairs, "intent-digest"),
            policy_digest: flag(pairs, "policy-digest"),
            ttl_nanos: ttl,
            now,
            producer_version: PRODUCER_VERSION,
        },
        key,
    )
}

#[test]
fn recorded_tokens_recompute_verify_and_re_sign_byte_for_byte() {
    let mut checked = 0;
    for r in vector_records("tokens.jsonl") {
        let kind = r["kind"].as_str().unwrap();
        if !(kind == "approval" || kind == "delegation") || r["expect"]["exit_code"] != 0 {
            continue;
        }
        let id = r["id"].as_str().unwrap();
        let text = r["token_file_text"].as_str().unwrap();
        let sig = &r["token"]["signature"];
        let (token_id, digest, file, reminted) = if kind == "approval" {
            let t = ApprovalToken::parse(text.as_bytes()).unwrap();
            let again = mint_approval(&flag_pairs(&r["flags"]), &private(), t.created_at)
                .unwrap()
                .to_file_bytes()
                .unwrap();
            (
                approval::approval_token_id(&t),
                t.signable_digest().unwrap(),
                t.to_file_bytes().unwrap(),
                again,
            )
        } else {
            let t = DelegationToken::parse(text.as_bytes()).unwrap();
            let again = mint_delegation(&flag_pairs(&r["flags"]), &private(), t.created_at)
                .unwrap()
                .to_file_bytes()
                .unwrap();
            (
                delegation::delegation_token_id(&t),
                t.signable_digest().unwrap(),
                t.to_file_bytes().unwrap(),
                again,
            )
        };
        assert_eq!(token_id, r["token"]["token_id"], "{id}: token id");
        assert_eq!(digest, sig["signed_digest"], "{id}: signed digest");
        let resigned = private().sign_digest(&digest).unwrap();
        assert_eq!(resigned.sig, sig["sig"], "{id}: signature bytes");
        public()
            .verify(&resigned, &digest)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(String::from_utf8(file).unwrap(), text, "{id}: file bytes");
        assert_eq!(
            String::from_utf8(reminted).unwrap(),
            text,
            "{id}: minting from the flags at the recorded time"
        );
        checked += 1;
    }
    assert_eq!(checked, 49, "32 approval + 17 delegation mints");
}

#[test]
fn recorded_mint_errors_fail_with_the_reference_messages() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("vectors_private.key");
    std::fs::write(&key_path, key_text("vectors_private.key")).unwrap();
    let pub_path = dir.path().join("vectors_public.key");
    std::fs::write(&pub_path, key_text("vectors_public.key")).unwrap();
    #[cfg(unix)]
    for p in [&key_path, &pub_path] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut checked = 0;
    for r in vector_records("tokens.jsonl") {
        let kind = r["kind"].as_str().unwrap();
        let Some(want) = r["expect"]["error"].as_str() else {
            continue; // successes, and flag-parser errors (CLI only)
        };
        let id = r["id"].as_str().unwrap();
        let pairs = flag_pairs(&r["flags"]);
        // Key flags given in the record, resolved as the CLI does (prod with the vector key otherwise).
        let mode = match flag(&pairs, "key-mode") {
            "" => KeyMode::Prod,
            m => KeyMode::parse(m).unwrap(),
        };
        let source = match flag(&pairs, "private-key") {
            "" if flag(&pairs, "key-mode").is_empty() => KeySource {
                path: Some(key_path.clone()),
                env: None,
            },
            "" => KeySource::default(),
            p => KeySource {
                path: Some(dir.path().join(Path::new(p).file_name().unwrap())),
                env: None,
            },
        };
        let now = GoTime::parse("2030-01-01T00:00:00Z").unwrap();
        let got = ttl(&pairs)
            .and_then(|_| {
                resolve_signing_key(mode, &source, [1; 32])
                    .map_err(|e| GaitError::invalid(e.to_string()))
            })
            .and_then(|choice| {
                if kind == "approval" {
                    mint_approval(&pairs, &choice.key, now).map(|_| ())
                } else {
                    mint_delegation(&pairs, &choice.key, now).map(|_| ())
                }
            });
        let err = got.expect_err(id);
        assert_eq!(err.message, want, "{id}");
        assert_eq!(err.exit_code(), 6, "{id}");
        checked += 1;
    }
    assert_eq!(checked, 18);
}

#[test]
fn gate_eval_with_fresh_tokens_matches_the_recorded_decisions() {
    let origin = std::env::current_dir().unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for r in vector_records("tokens.jsonl") {
        if r["kind"] != "gate_eval_with_tokens" {
            continue;
        }
        let id = r["id"].as_str().unwrap().to_string();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("policy.yaml"),
            r["policy_yaml"].as_str().unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("intent.json"),
            serde_json::to_vec(&r["intent"]).unwrap(),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        std::fs::write(
            dir.path().join("keys/vectors_public.key"),
            key_text("vectors_public.key"),
        )
        .unwrap();
        let now = wall_clock();
        for m in r["mints"].as_array().unwrap() {
            let pairs = flag_pairs(&m["flags"]);
            let bytes = if m["kind"] == "approval" {
                mint_approval(&pairs, &private(), now)
                    .unwrap()
                    .to_file_bytes()
                    .unwrap()
            } else {
                mint_delegation(&pairs, &private(), now)
                    .unwrap()
                    .to_file_bytes()
                    .unwrap()
            };
            std::fs::write(dir.path().join(m["file"].as_str().unwrap()), bytes).unwrap();
        }
        apply_tamper(dir.path(), &r["tamper"]);
        let argv: Vec<String> = serde_json::from_value(r["argv"].clone()).unwrap();
        let opts = engine::options(&argv).unwrap_or_else(|e| panic!("{id}: {e}"));
        std::env::set_current_dir(dir.path()).unwrap();
        // The wall clock, as the reference ran: tokens minted "now" with a 1 ns TTL are expired.
        let result = gate_eval(
            &opts,
            &PolicyCache::disabled(),
            &FixedClock(wall_clock()),
            &gait_engine::procx::SystemSpawner,
        );
        std::env::set_current_dir(&origin).unwrap();
        let (code, output) = match result {
            Ok(res) => (res.exit_code, serde_json::to_value(&res.output).unwrap()),
            Err(e) => {
                failures.push(format!("{id}: error {}", e.message));
                continue;
            }
        };
        let audits = read_audits(dir.path(), &output);
        ran += 1;
        if let Some(why) = compare_gate_with_tokens(&r, code, &output, &audits) {
            failures.push(format!("{id}: {why}"));
        }
    }
    assert_eq!(ran, 20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
