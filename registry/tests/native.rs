//! The example native plugin end to end through the library: built with the workspace, packed,
//! signed, published to a file registry, installed, verified, loaded (sealed memory file and private
//! copy), graded, its command run; and the loader's refusals.

mod support;

use gait_registry::codes;
use gait_registry::install;
use gait_registry::loader::{LoadOptions, LoadedFrom, load_native};
use gait_registry::model::{PluginForm, PluginKind, host_target};
use serde_json::json;
use support::{Fixture, now};

fn installed_native() -> Fixture {
    let fx = Fixture::new();
    fx.publish_native(&fx.key);
    fx.index();
    let got = fx.install("example-native@^0.1").unwrap();
    assert_eq!(got.pin.form, PluginForm::Native);
    assert_eq!(got.pin.kind, PluginKind::Grader);
    assert_eq!(got.pin.commands[0].words, "example-native hello");
    fx
}

#[test]
fn loads_grades_and_runs_its_command() {
    let fx = installed_native();
    let verified = install::verify_installed(&fx.home, "example-native").unwrap();
    assert_eq!(verified.manifest.manifest.target, host_target());

    for prefer_sealed_memory in [true, false] {
        let plugin = load_native(
            &fx.home,
            "example-native",
            LoadOptions {
                prefer_sealed_memory,
            },
        )
        .unwrap();
        match (
            &plugin.loaded_from,
            prefer_sealed_memory && cfg!(target_os = "linux"),
        ) {
            (LoadedFrom::SealedMemoryFile, true) => {}
            (LoadedFrom::PrivateCopy(p), false) => {
                // The copy lived in the plugin home's private load directory and is gone again.
                assert!(p.starts_with(fx.home.load_dir()));
                assert!(!p.exists() || cfg!(windows));
            }
            (other, _) => panic!("unexpected load path {other:?}"),
        }
        // The example grader fails above spec.max_intents (default 3) and passes otherwise.
        let pass = plugin.grade(&json!({"intents": [1, 2]})).unwrap();
        assert_eq!(pass.status, gait_plugin_api::GradeStatus::Pass);
        assert_eq!(pass.reason_codes, vec!["intent_count_within_limit"]);
        let fail = plugin
            .grade(&json!({"intents": [1, 2], "spec": {"max_intents": 1}}))
            .unwrap();
        assert_eq!(fail.status, gait_plugin_api::GradeStatus::Fail);
        assert_eq!(fail.reason_codes, vec!["intent_count_exceeded"]);
        // Bad input is the caller's error (exit 6), reported by the plugin, not a crash.
        let bad = plugin.grade(&json!({"intents": "x"})).unwrap_err();
        assert_eq!(bad.exit_code(), 6);

        let out = plugin
            .run_command("example-native hello", &["ada".into()], true)
            .unwrap();
        assert_eq!(out.exit_code, 0);
        assert_eq!(out.json["greeting"], "hello, ada");
        assert_eq!(out.text, "hello, ada");
        assert!(
            plugin
                .run_command("example-native other", &[], false)
                .is_err()
        );
    }
}

#[test]
fn a_changed_library_is_not_loaded() {
    let fx = installed_native();
    let pin = fx.home.require_pin("example-native").unwrap();
    let dir = fx.home.installed_dir(&pin).unwrap();
    let lib = dir.join(
        support::example_library()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
    );
    let mut bytes = std::fs::read(&lib).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&lib, &bytes).unwrap();
    let e = load_native(&fx.home, "example-native", LoadOptions::default()).unwrap_err();
    assert_eq!(e.error_code(), codes::FILE_MODIFIED);
}

#[test]
fn a_revoked_or_removed_key_stops_loading() {
    let fx = installed_native();
    let mut store = fx.trust_store();
    store
        .revoke(&fx.key.public().key_id(), "compromised", now())
        .unwrap();
    store.save(&fx.home.trust_path()).unwrap();
    let e = load_native(&fx.home, "example-native", LoadOptions::default()).unwrap_err();
    assert_eq!(e.error_code(), codes::KEY_REVOKED);
    assert!(
        e.message.contains("revoked"),
        "the error must say why: {}",
        e.message
    );
    let mut store = fx.trust_store();
    store.remove(&fx.key.public().key_id()).unwrap();
    store.save(&fx.home.trust_path()).unwrap();
    let e = load_native(&fx.home, "example-native", LoadOptions::default()).unwrap_err();
    assert_eq!(e.error_code(), codes::KEY_UNTRUSTED);
}

#[test]
fn an_incompatible_api_requirement_is_refused_before_loading() {
    let fx = installed_native();
    // Re-sign the installed manifest with a requirement this gait does not meet and re-pin it, as
    // if such a plugin had been installed by an older gait: the loader refuses before dlopen.
    let mut pin = fx.home.require_pin("example-native").unwrap();
    let dir = fx.home.installed_dir(&pin).unwrap();
    let path = dir.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["plugin_api"] = "^2".into();
    v["signatures"] = json!([]);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let signed = gait_registry::authoring::sign(&dir, &fx.key).unwrap();
    pin.manifest_digest = signed.digest;
    fx.home.write_pin(&pin).unwrap();
    let e = load_native(&fx.home, "example-native", LoadOptions::default()).unwrap_err();
    assert_eq!(e.error_code(), codes::API_INCOMPATIBLE);
}

#[test]
fn a_script_plugin_is_not_loaded_as_native() {
    let fx = Fixture::new();
    fx.publish_rhai("g", "1.0.0", &fx.key);
    fx.index();
    fx.install("g").unwrap();
    let e = load_native(&fx.home, "g", LoadOptions::default()).unwrap_err();
    assert_eq!(e.exit_code(), 6);
}
