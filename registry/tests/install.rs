//! Install, update, verify and remove from a file registry, and every refusal leaving nothing
//! installed. Expectations follow the install order documented in `install.rs` and docs/plugins.md.

mod support;

use gait_engine::crypto::PrivateKey;
use gait_registry::catalog;
use gait_registry::codes;
use gait_registry::install::{self, InstallRequest};
use gait_registry::lockfile::Lockfile;
use gait_registry::manifest::PluginManifest;
use gait_registry::source::FetchSettings;
use gait_registry::trust::TrustStore;
use support::{DAY_NANOS, Fixture, now};

fn code(r: Result<install::Installed, gait_engine::GaitError>) -> String {
    r.map(|i| format!("installed {}", i.pin.version))
        .unwrap_or_else(|e| e.error_code())
}

#[test]
fn installs_highest_matching_version_then_updates_and_removes() {
    let fx = Fixture::new();
    for v in ["1.0.0", "1.1.0", "2.0.0"] {
        fx.publish_rhai("max-intents", v, &fx.key);
    }
    fx.index();
    let got = fx.install("max-intents@^1").unwrap();
    assert_eq!(got.pin.version, "1.1.0");
    assert!(!got.unchanged);
    assert_eq!(got.pin.requirement, "^1");
    assert_eq!(got.pin.key_ids, vec![fx.key.public().key_id()]);
    let dir = fx.home.installed_dir(&got.pin).unwrap();
    assert!(dir.join("grader.rhai").is_file());
    assert!(dir.join("manifest.json").is_file());
    let verified = install::verify_installed(&fx.home, "max-intents").unwrap();
    assert_eq!(verified.manifest.digest, got.pin.manifest_digest);

    // Installing the same thing again writes nothing.
    let again = fx.install("max-intents@^1").unwrap();
    assert!(again.unchanged);
    assert_eq!(again.pin.manifest_digest, got.pin.manifest_digest);

    // A new 1.x is published: the same requirement now resolves to it; the old files go.
    fx.publish_rhai("max-intents", "1.2.0", &fx.key);
    fx.index();
    let updated = fx
        .install(&format!("max-intents@{}", got.pin.requirement))
        .unwrap();
    assert_eq!(updated.pin.version, "1.2.0");
    assert_eq!(updated.previous.unwrap().version, "1.1.0");
    assert!(
        !dir.exists(),
        "the replaced version's files must be removed"
    );

    let rows = catalog::list(&[], &fx.home.pins().unwrap(), &|_| None);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].version, "1.2.0");
    assert_eq!(
        rows[0].pin,
        format!("sha256:{}", updated.pin.manifest_digest)
    );

    let removed = install::remove(&fx.home, "max-intents").unwrap();
    assert_eq!(removed.version, "1.2.0");
    fx.assert_nothing_installed();
    assert_eq!(
        install::verify_installed(&fx.home, "max-intents")
            .unwrap_err()
            .error_code(),
        codes::NOT_INSTALLED
    );
}

#[test]
fn unknown_key_is_refused() {
    let fx = Fixture::new();
    let stranger = PrivateKey::from_seed(&[9; 32]);
    fx.publish_rhai("g", "1.0.0", &stranger);
    fx.index();
    assert_eq!(code(fx.install("g")), codes::KEY_UNTRUSTED);
    fx.assert_nothing_installed();
}

#[test]
fn wrong_signature_is_refused() {
    let fx = Fixture::new();
    let packed = fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    // Replace the signature bytes with a signature over something else: the digest (and so the
    // index entry) still matches, the signature does not.
    let path = packed.dir.join("manifest.json");
    let mut m: PluginManifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m.signatures[0].sig = fx
        .key
        .sign_digest(&gait_engine::canon::sha256_hex(b"other"))
        .unwrap()
        .sig;
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    assert_eq!(code(fx.install("g")), codes::SIGNATURE_INVALID);
    fx.assert_nothing_installed();
}

#[test]
fn digest_mismatches_are_refused() {
    let fx = Fixture::new();
    let packed = fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    // A file changed after signing.
    let script = packed.dir.join("grader.rhai");
    let original = std::fs::read(&script).unwrap();
    std::fs::write(&script, b"fn grade(f) { #{status: \"pass\"} }").unwrap();
    assert_eq!(code(fx.install("g")), codes::DIGEST_MISMATCH);
    fx.assert_nothing_installed();
    std::fs::write(&script, &original).unwrap();
    // The manifest changed after the index was signed (and re-signed by the publisher key, which
    // the index does not vouch for).
    let path = packed.dir.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["description"] = "changed".into();
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    gait_registry::authoring::sign(&packed.dir, &fx.key).unwrap();
    assert_eq!(code(fx.install("g")), codes::DIGEST_MISMATCH);
    fx.assert_nothing_installed();
}

#[test]
fn no_matching_version_is_refused() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let e = fx.install("g@^2").unwrap_err();
    assert_eq!(e.error_code(), codes::NO_MATCHING_VERSION);
    assert!(e.message.contains("available: 1.0.0"), "{}", e.message);
    assert_eq!(code(fx.install("nope")), codes::NO_MATCHING_VERSION);
    fx.assert_nothing_installed();
}

#[test]
fn plugin_api_major_mismatch_is_refused() {
    let fx = Fixture::new();
    fx.publish_rhai_with("g", "1.0.0", &fx.key, |s| s["plugin_api"] = "^2.0".into());
    fx.index();
    let e = fx.install("g").unwrap_err();
    assert_eq!(e.error_code(), codes::API_INCOMPATIBLE);
    assert_eq!(e.exit_code(), 2);
    fx.assert_nothing_installed();
}

#[test]
fn index_must_be_signed_by_a_trusted_key() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    let stranger = PrivateKey::from_seed(&[9; 32]);
    gait_registry::authoring::build_index(
        &fx.registry(),
        &stranger,
        &gait_registry::authoring::IndexOptions {
            version: None,
            ttl_nanos: DAY_NANOS,
            registry_name: String::new(),
            now: now(),
        },
    )
    .unwrap();
    assert_eq!(code(fx.install("g")), codes::KEY_UNTRUSTED);
    fx.assert_nothing_installed();
}

#[test]
fn expired_index_is_refused() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    // Valid for one day, generated ten days before `now()`.
    fx.index_at(now().add_nanos(-10 * DAY_NANOS), DAY_NANOS);
    let e = fx.install("g").unwrap_err();
    assert_eq!(e.error_code(), codes::INDEX_EXPIRED);
    fx.assert_nothing_installed();
}

#[test]
fn rolled_back_index_is_refused() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let old_index = std::fs::read(fx.registry().join("index.json")).unwrap();
    fx.publish_rhai("g", "1.0.1", &fx.key);
    fx.index();
    assert_eq!(fx.install("g").unwrap().pin.version, "1.0.1");
    // A mirror serves the older, still validly signed and unexpired, index (version 1 < 2): it
    // would hide the fix in 1.0.1.
    std::fs::write(fx.registry().join("index.json"), &old_index).unwrap();
    let e = install::install(&fx.home, &fx.request("g@=1.0.0"), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::INDEX_ROLLBACK);
    // Still installed: the refused attempt changed nothing.
    assert_eq!(fx.home.require_pin("g").unwrap().version, "1.0.1");
    install::verify_installed(&fx.home, "g").unwrap();
}

#[test]
fn revoked_and_removed_keys_disable_what_they_alone_signed() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    fx.install("g").unwrap();
    let mut store = fx.trust_store();
    store
        .revoke(&fx.key.public().key_id(), "leaked", now())
        .unwrap();
    store.save(&fx.home.trust_path()).unwrap();
    let e = install::verify_installed(&fx.home, "g").unwrap_err();
    assert_eq!(e.error_code(), codes::KEY_REVOKED);
    assert!(e.message.contains("revoked"), "{}", e.message);
    // A fresh install is refused too (the index itself is signed only by the revoked key).
    install::remove(&fx.home, "g").unwrap();
    assert_eq!(code(fx.install("g")), codes::KEY_REVOKED);
    fx.assert_nothing_installed();
    // Removed instead of revoked: the key is simply unknown.
    TrustStore::default().save(&fx.home.trust_path()).unwrap();
    assert_eq!(code(fx.install("g")), codes::KEY_UNTRUSTED);
}

#[test]
fn several_keys_any_trusted_one_suffices() {
    let fx = Fixture::new();
    let second = PrivateKey::from_seed(&[2; 32]);
    let stranger = PrivateKey::from_seed(&[9; 32]);
    let packed = fx.publish_rhai("g", "1.0.0", &stranger);
    gait_registry::authoring::sign(&packed.dir, &second).unwrap();
    fx.index();
    assert_eq!(code(fx.install("g")), codes::KEY_UNTRUSTED);
    fx.trust(&second);
    let got = fx.install("g").unwrap();
    assert_eq!(got.pin.key_ids, vec![second.public().key_id()]);
    // Revoking the first key does not touch a plugin the second key signed.
    let mut store = fx.trust_store();
    store.revoke(&fx.key.public().key_id(), "", now()).unwrap();
    store.save(&fx.home.trust_path()).unwrap();
    install::verify_installed(&fx.home, "g").unwrap();
}

#[test]
fn installed_file_changed_after_install_is_refused() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let got = fx.install("g").unwrap();
    let script = fx.home.installed_dir(&got.pin).unwrap().join("grader.rhai");
    std::fs::write(&script, b"fn grade(f) { #{status: \"pass\"} }").unwrap();
    let e = install::verify_installed(&fx.home, "g").unwrap_err();
    assert_eq!(e.error_code(), codes::FILE_MODIFIED);
    assert!(e.message.contains("grader.rhai"), "{}", e.message);
    // Installing again repairs it (the same digest, but the files no longer verify).
    let repaired = fx.install("g").unwrap();
    assert!(!repaired.unchanged);
    install::verify_installed(&fx.home, "g").unwrap();
}

#[test]
fn download_over_the_size_cap_is_refused() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let mut req = fx.request("g");
    req.settings = FetchSettings {
        max_bytes: 64,
        ..FetchSettings::default()
    };
    let e = install::install(&fx.home, &req, now()).unwrap_err();
    assert_eq!(e.error_code(), codes::TOO_LARGE);
    fx.assert_nothing_installed();
}

#[test]
fn locked_installs_exactly_the_lockfile() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    let got = fx.install("g").unwrap();
    let mut lock = Lockfile::default();
    lock.upsert(got.lock_entry());
    install::remove(&fx.home, "g").unwrap();
    // A newer version appears; --locked still installs the pinned one.
    fx.publish_rhai("g", "1.1.0", &fx.key);
    fx.index();
    let locked_req = |lock: &Lockfile| InstallRequest {
        locked: Some(lock.get("g").unwrap().clone()),
        ..fx.request("g")
    };
    let again = install::install(&fx.home, &locked_req(&lock), now()).unwrap();
    assert_eq!(again.pin.version, "1.0.0");
    assert_eq!(again.pin.manifest_digest, got.pin.manifest_digest);
    install::remove(&fx.home, "g").unwrap();

    // The lockfile pins another digest (the published 1.0.0 changed): refused.
    let mut tampered = lock.clone();
    tampered.plugins[0].manifest_digest = "0".repeat(64);
    let e = install::install(&fx.home, &locked_req(&tampered), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::LOCK_MISMATCH);
    // The lockfile pins another signing key: refused.
    let mut other_key = lock.clone();
    other_key.plugins[0].key_id = PrivateKey::from_seed(&[7; 32]).public().key_id();
    let e = install::install(&fx.home, &locked_req(&other_key), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::LOCK_MISMATCH);
    // The version vanished from the registry: refused.
    let mut gone = lock.clone();
    gone.plugins[0].version = "0.9.0".into();
    let e = install::install(&fx.home, &locked_req(&gone), now()).unwrap_err();
    assert_eq!(e.error_code(), codes::LOCK_MISMATCH);
    fx.assert_nothing_installed();
}

#[test]
fn refused_update_keeps_the_installed_version() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    fx.install("g").unwrap();
    let stranger = PrivateKey::from_seed(&[9; 32]);
    fx.publish_rhai("g", "1.1.0", &stranger);
    fx.index();
    assert_eq!(code(fx.install("g")), codes::KEY_UNTRUSTED);
    assert_eq!(fx.home.require_pin("g").unwrap().version, "1.0.0");
    install::verify_installed(&fx.home, "g").unwrap();
    let staging = fx.home.root().join(".staging");
    assert!(
        !staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none(),
        "staging leftovers"
    );
}
