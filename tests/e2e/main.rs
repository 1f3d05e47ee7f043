//! End-to-end tests of the built `gait` binary: one test binary, one module per area.
//!
//! Every test runs gait in a fresh temporary directory with its own HOME and GAIT_HOME and with no
//! inherited `GAIT_*` variables (see `support`). Expectations come from CONTRACTS.md, the recorded
//! vectors under `tests/vectors/`, or reasoning written next to the case — never from gait's output.

mod support;

/// The vector and corpus comparison shared with the engine-level runners of gait-gate.
#[path = "../../gate/tests/common/mod.rs"]
mod gate_common;

mod cli;
mod plugin_use;
mod plugins;
mod readme;
mod registry_packs;
mod tls_server;

// Runpacks.
mod examples;
mod gate;
mod gate_corpus;
mod gate_vectors;
mod runpack;
mod runpack_examples;
mod runpack_tools;
mod runpack_vectors;

// Regress: fixtures, graders, JUnit, script sandboxes.
mod regress;
// Gate depth: tokens, brokers, kill switch, approved scripts.
mod approvals;
mod approved_scripts;
mod brokers;
mod kill_switch;
mod token_vectors;

/// Every `.rs` file in this directory must be declared above, or its tests would silently never run.
#[test]
fn every_test_module_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().and_then(|e| e.to_str()) != Some("rs") || stem == "main" {
            continue;
        }
        assert!(
            main.contains(&format!("mod {stem};")),
            "tests/e2e/{stem}.rs is not declared in main.rs"
        );
    }
}
