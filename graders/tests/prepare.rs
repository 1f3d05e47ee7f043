//! Preparing a run's graders: scripts compile once per run, whichever files name them, and bad
//! scripts are invalid input naming their position.

#[global_allocator]
static ALLOC: gait_sandbox::MeteredAlloc = gait_sandbox::MeteredAlloc;

use gait_engine::plugin::GradeOptions;
use gait_engine::regress::run::{GraderSet, prepare};
use gait_graders::Graders;
use gait_sandbox::Limits;
use serde_json::json;
use std::path::Path;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn fixture_json(name: &str, graders: serde_json::Value) -> String {
    json!({
        "schema_id": "gait.regress.fixture", "schema_version": "1.0.0",
        "name": name, "run_id": name, "runpack": "runpack.zip", "graders": graders,
    })
    .to_string()
}

fn set_up(dir: &Path, shared_script: &str) {
    write(
        dir,
        "gait.yaml",
        &json!({
            "schema_id": "gait.regress.config", "schema_version": "1.0.0", "fixture_set": "default",
            "fixtures": [
                {"name": "a", "run_id": "a", "runpack": "fixtures/a/runpack.zip"},
                {"name": "b", "run_id": "b", "runpack": "fixtures/b/runpack.zip"},
            ],
            "graders": [{"name": "shared", "script": "graders/shared.rhai"}],
        })
        .to_string(),
    );
    write(dir, "graders/shared.rhai", shared_script);
    // The same file through two different relative paths, plus a copy under another name.
    write(
        dir,
        "fixtures/a/fixture.json",
        &fixture_json(
            "a",
            json!([{"name": "local", "script": "../../graders/shared.rhai"}]),
        ),
    );
    write(
        dir,
        "fixtures/b/fixture.json",
        &fixture_json("b", json!([{"name": "local", "script": "copy.rhai"}])),
    );
    write(dir, "fixtures/b/copy.rhai", shared_script);
}

#[test]
fn a_script_compiles_once_per_run_however_many_times_it_is_named() {
    let dir = tempfile::tempdir().unwrap();
    set_up(dir.path(), "true");
    let prepared = prepare(&dir.path().join("gait.yaml")).unwrap();
    let graders = Graders::prepare(&prepared, Limits::default()).unwrap();
    assert_eq!(
        graders.compiled_scripts(),
        1,
        "three references, one source, one compile"
    );
    let opts = GradeOptions::default();
    let names = |i: usize| -> Vec<String> {
        graders
            .graders_for(&prepared.fixtures[i], &opts)
            .iter()
            .map(|g| g.info().name.clone())
            .collect()
    };
    let want = [
        "schema_validation",
        "expected_exit_code",
        "trajectory",
        "diff",
        "shared",
        "local",
    ];
    assert_eq!(names(0), want);
    assert_eq!(names(1), want);
    let with_context = GradeOptions {
        context_conformance: true,
        ..GradeOptions::default()
    };
    assert!(
        graders
            .graders_for(&prepared.fixtures[0], &with_context)
            .iter()
            .any(|g| g.info().name == "context_conformance")
    );
}

#[test]
fn a_script_that_does_not_compile_names_its_position() {
    let dir = tempfile::tempdir().unwrap();
    set_up(dir.path(), "let x = ;");
    let prepared = prepare(&dir.path().join("gait.yaml")).unwrap();
    let err = Graders::prepare(&prepared, Limits::default())
        .err()
        .unwrap();
    assert_eq!(err.exit_code(), 6);
    // `;` at line 1, column 9 is where Rhai stops; the message is Rhai's.
    assert!(
        err.message.contains("graders/shared.rhai:1:9: "),
        "{}",
        err.message
    );
    assert!(err.message.len() > "graders/shared.rhai:1:9: ".len());
}

#[test]
fn duplicate_grader_names_across_files_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    set_up(dir.path(), "true");
    write(
        dir.path(),
        "fixtures/b/fixture.json",
        &fixture_json("b", json!([{"name": "shared", "script": "copy.rhai"}])),
    );
    let prepared = prepare(&dir.path().join("gait.yaml")).unwrap();
    let err = Graders::prepare(&prepared, Limits::default())
        .err()
        .unwrap();
    assert_eq!(err.exit_code(), 6);
    assert!(err.message.contains("\"shared\""), "{}", err.message);
}
