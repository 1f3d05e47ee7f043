//! Per-fixture grading costs on the demo runpack (3 intents, 3 results, 3 refs):
//! - `rhai_script_grader_per_fixture`: a precompiled Rhai grader, including building the script's
//!   view of the fixture (the per-fixture cost a script grader adds to a run);
//! - `lua_script_grader_per_fixture`: the same script in Lua (a fresh Lua state per fixture);
//! - `builtin_graders_per_fixture`: the four builtin graders on a loaded fixture;
//! - `grade_fixture_builtins_plus_rhai`: everything for one fixture — read, verify, parse, replay,
//!   four builtins and the Rhai grader.

use criterion::{Criterion, criterion_group, criterion_main};
use gait_engine::PRODUCER_VERSION;
use gait_engine::plugin::{FixtureCache, FixtureView, GradeOptions, Grader, RunpackView};
use gait_engine::regress::FixtureSpec;
use gait_engine::regress::run::{FixtureEntry, GraderSet, grade_fixture, load_runpack};
use gait_engine::runpack::demo::record_demo;
use gait_engine::runpack::replay::replay_stub;
use gait_graders::builtin::{Diff, ExpectedExitCode, SchemaValidation, Trajectory};
use gait_graders::script::ScriptGrader;
use gait_sandbox::{Language, Limits, Sandbox, Script};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

#[global_allocator]
static ALLOC: gait_sandbox::MeteredAlloc = gait_sandbox::MeteredAlloc;

fn script_grader(sandbox: &Arc<Sandbox>, file: &str) -> Arc<dyn Grader> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/graders")
        .join(file);
    let script = Script {
        language: Language::from_path(&path).expect("extension"),
        name: file.to_string(),
        source: Arc::from(std::fs::read_to_string(&path).expect("example script")),
        inputs: vec!["fixture".into()],
    };
    let compiled = Arc::new(sandbox.compile(&script).expect("compiles"));
    Arc::new(ScriptGrader::new(
        "every_intent_has_a_result",
        file,
        compiled,
        sandbox.clone(),
    ))
}

struct Set(Vec<Arc<dyn Grader>>);

impl GraderSet for Set {
    fn graders_for(&self, _: &FixtureEntry, _: &GradeOptions) -> Vec<Arc<dyn Grader>> {
        self.0.clone()
    }
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("gait-graders-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let zip = dir.join("runpack.zip");
    std::fs::write(&zip, record_demo(PRODUCER_VERSION).expect("demo").zip).expect("write demo");

    let sandbox = Arc::new(Sandbox::new(Limits::default()));
    let rhai = script_grader(&sandbox, "every_intent_has_a_result.rhai");
    let lua = script_grader(&sandbox, "every_intent_has_a_result.lua");
    let builtins: Vec<Arc<dyn Grader>> = vec![
        Arc::new(SchemaValidation::default()),
        Arc::new(ExpectedExitCode::default()),
        Arc::new(Trajectory::default()),
        Arc::new(Diff::default()),
    ];

    let spec = Arc::new(FixtureSpec::new("run_demo", "run_demo"));
    let options = GradeOptions::default();
    let loaded = load_runpack(zip.clone(), "runpack.zip".into());
    let files = loaded.files.as_ref().expect("readable").clone();
    let parsed = files.parse();
    let replay = parsed
        .as_ref()
        .map(|rp| Arc::new(replay_stub(rp)))
        .map_err(Clone::clone);
    let view_with = |cache: &FixtureCache, f: &mut dyn FnMut(&FixtureView<'_>)| {
        let view = FixtureView {
            name: "run_demo",
            spec: &spec,
            options: &options,
            baseline: RunpackView {
                loaded: &loaded,
                parsed: parsed.as_ref(),
            },
            candidate: None,
            replay: replay.as_ref(),
            diff: None,
            cache,
        };
        f(&view)
    };

    for (name, grader) in [
        ("rhai_script_grader_per_fixture", &rhai),
        ("lua_script_grader_per_fixture", &lua),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                // A fresh cache per iteration: the script view is built as for a new fixture.
                let cache = FixtureCache::default();
                view_with(&cache, &mut |v| {
                    let o = grader.grade(v).expect("grades");
                    assert_eq!(o.reason_codes, ["every_intent_has_result"]);
                    black_box(o);
                });
            })
        });
    }

    c.bench_function("builtin_graders_per_fixture", |b| {
        b.iter(|| {
            let cache = FixtureCache::default();
            view_with(&cache, &mut |v| {
                for g in &builtins {
                    black_box(g.grade(v).expect("grades"));
                }
            });
        })
    });

    let mut all = builtins.clone();
    all.push(rhai.clone());
    let set = Set(all);
    let entry = FixtureEntry {
        name: "run_demo".into(),
        run_id: "run_demo".into(),
        dir: dir.clone(),
        runpack: zip.clone(),
        runpack_display: "runpack.zip".into(),
        spec: spec.clone(),
    };
    c.bench_function("grade_fixture_builtins_plus_rhai", |b| {
        b.iter(|| {
            let (results, _) = grade_fixture(&entry, &set, &options);
            assert_eq!(results.len(), 5);
            black_box(results)
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
