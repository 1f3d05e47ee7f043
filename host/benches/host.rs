//! Plugin-host benchmarks (numbers go in the report; nothing is asserted):
//! - `predicate_resolve_compile`: what a process pays the first time a policy names a predicate —
//!   read the pin, verify the manifest signature and every file's sha256, compile the script;
//! - `policy_load_bound`: a 1-rule policy with a predicate, parsed and bound (resolve included);
//! - `evaluate/{plain,predicate}`: one evaluation of the same rule without / with its predicate run;
//! - `grader_resolve_compile`: resolving an installed Rhai grader for `regress run` and compiling it;
//! - `builtin_replacement_check`: the five lookups `regress run` makes to see whether an installed
//!   newer version replaces a builtin grader (nothing installed under those names).

use criterion::{Criterion, criterion_group, criterion_main};
use gait_engine::GoTime;
use gait_engine::crypto::PrivateKey;
use gait_gate::eval::{Env, evaluate};
use gait_gate::policy;
use gait_gate::predicate::{PredicateHandle, Predicates};
use gait_graders::{GraderPlugins, ResolvedGrader};
use gait_host::PluginHost;
use gait_registry::authoring::{self, ApiDependency, IndexOptions, Template};
use gait_registry::install::{self, InstallRequest};
use gait_registry::resolve::parse_wanted;
use gait_registry::source::FetchSettings;
use gait_registry::trust::TrustStore;
use gait_sandbox::{Language, Script};
use std::path::{Path, PathBuf};

const POLICY: &str = "default_verdict: allow\nrules:\n  - name: big\n    effect: block\n    match:\n      tool_names: [tool.pay]\n      predicate: big-amount\n";
const INTENT: &[u8] = br#"{"tool_name":"tool.pay","args":{"amount":5000},"targets":[{"kind":"host","value":"bank","operation":"write"}],"context":{"identity":"a","workspace":"/w","risk_class":"high"}}"#;

fn now() -> GoTime {
    GoTime::parse("2026-06-01T12:00:00Z").unwrap()
}

fn publish(dir: &Path, key: &PrivateKey, template: Template, name: &str) {
    let src = dir.join("src").join(name);
    authoring::scaffold(template, name, &src, &ApiDependency::Git("x".into())).unwrap();
    let out = dir.join("reg").join(name);
    authoring::pack(&src, Some(&out), None).unwrap();
    authoring::sign(&out, key).unwrap();
}

/// A gait home with the scaffolded predicate `big-amount` and grader `g` installed.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let gait_home = dir.path().join("home");
    let host = PluginHost::new(&gait_home);
    let key = PrivateKey::from_seed(&[3; 32]);
    let trust = host.home().trust_path();
    let mut store = TrustStore::load(&trust).unwrap();
    store.add(&key.public(), "bench", now()).unwrap();
    store.save(&trust).unwrap();
    publish(dir.path(), &key, Template::RhaiPredicate, "big-amount");
    publish(dir.path(), &key, Template::RhaiGrader, "g");
    authoring::build_index(
        &dir.path().join("reg"),
        &key,
        &IndexOptions {
            version: None,
            ttl_nanos: 86_400_000_000_000,
            registry_name: "bench".into(),
            now: now(),
        },
    )
    .unwrap();
    for name in ["big-amount", "g"] {
        install::install(
            host.home(),
            &InstallRequest {
                registry: dir.path().join("reg").display().to_string(),
                wanted: parse_wanted(name).unwrap(),
                locked: None,
                settings: FetchSettings::default(),
            },
            now(),
        )
        .unwrap();
    }
    (dir, gait_home)
}

fn benches(c: &mut Criterion) {
    let (_dir, home) = setup();
    let mut g = c.benchmark_group("host");
    g.bench_function("predicate_resolve_compile", |b| {
        b.iter(|| {
            let host = PluginHost::new(&home);
            host.predicates().resolve("big-amount").unwrap()
        })
    });
    g.bench_function("policy_load_bound", |b| {
        b.iter(|| {
            let host = PluginHost::new(&home);
            policy::load_with(POLICY.as_bytes(), &PredicateHandle::new(host.predicates())).unwrap()
        })
    });
    let host = PluginHost::new(&home);
    let bound =
        policy::load_with(POLICY.as_bytes(), &PredicateHandle::new(host.predicates())).unwrap();
    let plain = policy::load(
        POLICY
            .replace("      predicate: big-amount\n", "")
            .as_bytes(),
    )
    .unwrap();
    let intent = gait_gate::intent::load(INTENT).unwrap();
    for (name, p) in [("evaluate/plain", &plain), ("evaluate/predicate", &bound)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                evaluate(
                    &p.policy,
                    &intent,
                    &Env {
                        now: now(),
                        wrkr: None,
                        predicates: p.predicates(),
                    },
                )
            })
        });
    }
    g.bench_function("grader_resolve_compile", |b| {
        b.iter(|| {
            let host = PluginHost::new(&home);
            let ResolvedGrader::Script {
                language, source, ..
            } = host.grader("g", "g").unwrap()
            else {
                unreachable!("a Rhai grader")
            };
            assert_eq!(language, Language::Rhai);
            host.sandbox()
                .compile(&Script {
                    language,
                    name: "g".into(),
                    source,
                    inputs: vec!["fixture".into()],
                })
                .unwrap()
        })
    });
    g.bench_function("builtin_replacement_check", |b| {
        b.iter(|| {
            let host = PluginHost::new(&home);
            for info in gait_graders::builtin_graders() {
                assert!(host.replacement(&info).unwrap().is_none());
            }
        })
    });
    g.finish();
}

criterion_group!(host, benches);
criterion_main!(host);
