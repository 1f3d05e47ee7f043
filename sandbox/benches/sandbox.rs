//! Cost of running a precompiled script over a demo-sized fixture view (3 intents, 3 results,
//! 3 refs): the per-fixture cost of a script grader, without the grader's own bookkeeping.

use criterion::{Criterion, criterion_group, criterion_main};
use gait_sandbox::{Language, Limits, Sandbox, Script, ViewValue};
use std::hint::black_box;
use std::sync::Arc;

#[global_allocator]
static ALLOC: gait_sandbox::MeteredAlloc = gait_sandbox::MeteredAlloc;

fn demo_fixture() -> Arc<serde_json::Value> {
    let intents: Vec<_> = ["tool.search", "tool.fetch", "tool.summarize"]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({
                "schema_id": "gait.runpack.intent", "schema_version": "1.0.0",
                "run_id": "run_demo", "intent_id": format!("intent_{}", i + 1), "tool_name": t,
                "args_digest": "0".repeat(64),
            })
        })
        .collect();
    let results: Vec<_> = (1..=3)
        .map(|i| {
            serde_json::json!({
                "run_id": "run_demo", "intent_id": format!("intent_{i}"), "status": "ok",
                "result_digest": "1".repeat(64),
            })
        })
        .collect();
    Arc::new(serde_json::json!({
        "name": "run_demo", "run_id": "run_demo",
        "intents": intents, "results": results,
        "refs": {"receipts": [{"ref_id": "ref_1"}, {"ref_id": "ref_2"}, {"ref_id": "ref_3"}]},
    }))
}

const RHAI: &str = r#"
let missing = [];
let seen = #{};
for r in fixture.results { seen[r.intent_id] = true; }
for i in fixture.intents { if !(i.intent_id in seen) { missing.push(i.intent_id); } }
if missing.is_empty() { #{ pass: true } } else { #{ pass: false, reason_codes: ["missing_result"] } }
"#;

const LUA: &str = r#"
local seen, missing = {}, {}
for _, r in ipairs(fixture.results) do seen[r.intent_id] = true end
for _, i in ipairs(fixture.intents) do if not seen[i.intent_id] then missing[#missing + 1] = i.intent_id end end
if #missing == 0 then return {pass = true} end
return {pass = false, reason_codes = {"missing_result"}}
"#;

fn bench(c: &mut Criterion) {
    let sandbox = Sandbox::new(Limits::default());
    // The fixture data is loaded once per fixture and shared by every grader; a grader's cost is
    // making its view of that data and running the script.
    let data = demo_fixture();
    for (lang, src) in [(Language::Rhai, RHAI), (Language::Lua, LUA)] {
        let script = Script {
            language: lang,
            name: format!("every_intent_has_a_result.{}", lang.as_str()),
            source: Arc::from(src),
            inputs: vec!["fixture".into()],
        };
        let compiled = sandbox.compile(&script).expect("compiles");
        c.bench_function(
            &format!("{}_precompiled_run_demo_fixture", lang.as_str()),
            |b| {
                b.iter(|| {
                    let view = ViewValue::json(data.clone());
                    let out = sandbox.run(&compiled, &[("fixture", view)]).expect("runs");
                    black_box(out)
                })
            },
        );
        c.bench_function(&format!("{}_compile", lang.as_str()), |b| {
            b.iter(|| black_box(sandbox.compile(&script).expect("compiles")))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
