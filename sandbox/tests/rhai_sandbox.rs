//! The Rhai sandbox: what scripts can do, and every attack ending through its limit.

mod common;

#[global_allocator]
static ALLOC: gait_sandbox::MeteredAlloc = gait_sandbox::MeteredAlloc;

use common::{run, run_guarded, run_with};
use gait_sandbox::{ErrorKind, Language::Rhai, Limit, Limits, Sandbox, Script};
use serde_json::json;
use std::sync::Arc;

#[test]
fn reads_the_view_and_returns_data() {
    let out = run(
        Rhai,
        r#"
        let tools = [];
        for i in fixture.intents { tools.push(i.tool_name); }
        #{
            tools: tools,
            first: fixture.intents[0].intent_id,
            last: fixture["intents"][-1].tool_name,
            n: fixture.intents.len(),
            missing: fixture.nope,
            has_results: "results" in fixture,
            has_nope: "nope" in fixture,
            url: fixture.intents[1].args.url,
            count: fixture.count + 1,
            ratio: fixture.ratio,
            flag: fixture.flag,
            nothing: fixture.nothing,
            keys: fixture.results[0].keys(),
        }
        "#,
    )
    .unwrap();
    assert_eq!(
        out.value,
        json!({
            "tools": ["tool.search", "tool.fetch", "tool.summarize"],
            "first": "intent_1",
            "last": "tool.summarize",
            "n": 3,
            "missing": null,
            "has_results": true,
            "has_nope": false,
            "url": "https://evil.example.net/x",
            "count": 4,
            "ratio": 0.5,
            "flag": true,
            "nothing": null,
            "keys": ["intent_id", "status"],
        })
    );
    assert!(out.output.is_empty());
}

#[test]
fn print_and_debug_are_captured_in_order() {
    let out = run(
        Rhai,
        r#"print("hello"); debug(42); print(fixture.results[1]); 7"#,
    )
    .unwrap();
    assert_eq!(out.value, json!(7));
    assert_eq!(
        out.output.text,
        // `debug` starts at column 17 of line 1.
        "hello\n[debug 1:17] 42\n{\"intent_id\":\"intent_2\",\"status\":\"error\"}\n"
    );
}

#[test]
fn captured_output_is_capped() {
    let limits = Limits {
        max_output_bytes: 100,
        ..Limits::default()
    };
    let out = run_with(
        limits,
        Rhai,
        r#"for i in 0..100 { print("line " + i); } true"#,
    )
    .unwrap();
    assert!(out.output.text.len() <= 100);
    assert!(out.output.text.starts_with("line 0\nline 1\n"));
    // 100 lines of 7-8 bytes: everything past the first ~13 lines is counted, not kept.
    let total: usize = (0..100).map(|i| format!("line {i}\n").len()).sum();
    assert_eq!(out.output.text.len() + out.output.dropped_bytes, total);
}

#[test]
fn views_are_read_only() {
    let err = run(Rhai, r#"fixture.intents[0].tool_name = "x"; 1"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime, "{err}");
    let err = run(Rhai, r#"fixture.intents[7]"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime);
    assert!(err.message.contains("out of bounds"), "{}", err.message);
}

#[test]
fn compile_errors_carry_line_and_column() {
    let sandbox = Sandbox::new(Limits::default());
    let script = |src: &str| Script {
        language: Rhai,
        name: "graders/bad.rhai".into(),
        source: Arc::from(src),
        inputs: vec!["fixture".into()],
    };
    let err = sandbox
        .compile(&script("let x = 1;\nlet y = ;\n"))
        .err()
        .unwrap();
    assert_eq!(
        (err.script.as_str(), err.line, err.column),
        ("graders/bad.rhai", 2, 9)
    );
    // A misspelt input is caught at compile time (strict variables).
    let err = sandbox
        .compile(&script("let n = 1;\n  fixtur.intents"))
        .err()
        .unwrap();
    assert_eq!((err.line, err.column), (2, 3), "{err}");
    assert!(err.message.contains("fixtur"), "{err}");
}

#[test]
fn infinite_loop_ends_at_the_operation_limit() {
    let err = run_guarded(Rhai, "let i = 0; loop { i += 1; }").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::Operations), "{err}");
}

#[test]
fn unbounded_recursion_ends_at_the_call_depth_limit() {
    let err = run_guarded(Rhai, "fn f(n) { f(n + 1) } f(0)").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::CallDepth), "{err}");
}

#[test]
fn unbounded_string_growth_ends_at_the_string_limit() {
    let err = run_guarded(Rhai, r#"let s = "x"; loop { s += s; }"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::StringSize), "{err}");
    let err = run_guarded(Rhai, r#""x".pad(1_000_000_000, 'y')"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::StringSize), "{err}");
}

#[test]
fn unbounded_array_and_map_growth_end_at_their_limits() {
    let err = run_guarded(Rhai, "let a = []; loop { a.push(1); }").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::ArraySize), "{err}");
    let err = run_guarded(Rhai, "let a = [[1]]; loop { a += a; }").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::ArraySize), "{err}");
    // Rhai checks map sizes when maps are combined (`mixin`, `+=`), not on `m[k] = v`: that path
    // is bounded by the operation limit (small keys) or the memory meter (large keys, below).
    let src = "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }";
    let err = common::watchdog(move || run(Rhai, src)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::Operations), "{err}");
    let small = Limits {
        max_map_len: 1_000,
        ..Limits::default()
    };
    let src = "let m = #{}; let i = 0; loop { let n = #{}; n[`k${i}`] = i; m += n; i += 1; }";
    let err = common::watchdog(move || run_with(small, Rhai, src)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::MapSize), "{err}");
}

#[test]
fn map_growth_with_large_keys_ends_at_the_memory_limit() {
    // Rhai never size-checks `m[k] = v`; with 500 KB keys only the memory meter stops this loop
    // before the machine runs out of memory (5M operations would allow ~1M keys: ~500 GB).
    let err = run_guarded(
        Rhai,
        r#"let big = "x"; big.pad(500000, 'y'); let m = #{}; let i = 0; loop { m[big + i] = i; i += 1; }"#,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::Memory), "{err}");
}

#[test]
fn file_clock_and_randomness_functions_do_not_exist() {
    for src in [
        r#"read_file("/etc/passwd")"#,
        r#"open_file("/etc/passwd")"#,
        "timestamp()",
        "sleep(100)",
        "rand()",
        r#"exit(0)"#,
    ] {
        let err = run_guarded(Rhai, src).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Runtime, "{src}: {err}");
        assert!(
            err.message.starts_with("function not found"),
            "{src}: {err}"
        );
        assert!(
            err.message.contains("no file, network, clock"),
            "{src}: {err}"
        );
    }
}

#[test]
fn module_imports_fail_at_run_time() {
    let err = run_guarded(Rhai, r#"import "std" as s; 1"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime, "{err}");
    assert!(
        err.message.contains("module imports are not allowed"),
        "{err}"
    );
    assert_eq!(err.line, Some(1));
}

#[test]
fn eval_is_not_available() {
    let sandbox = Sandbox::new(Limits::default());
    let script = Script {
        language: Rhai,
        name: "e.rhai".into(),
        source: Arc::from(r#"eval("1 + 1")"#),
        inputs: vec![],
    };
    assert!(
        sandbox.compile(&script).is_err(),
        "eval is a disabled symbol"
    );
}

#[test]
fn results_must_be_plain_data() {
    let err = run(Rhai, "|x| x + 1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadResult, "{err}");
    let err = run(Rhai, "1.0 / 0.0").unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadResult, "{err}");
    // Returning a view copies it (bounded).
    let out = run(Rhai, "fixture.results").unwrap();
    assert_eq!(out.value[1]["status"], json!("error"));
}

#[test]
fn output_before_a_failure_is_kept() {
    let err = run_guarded(Rhai, r#"print("about to loop"); loop {}"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit(Limit::Operations));
    assert_eq!(err.output.text, "about to loop\n");
}

#[test]
fn thrown_errors_report_their_value_and_position() {
    let err = run(Rhai, "let x = 1;\nthrow \"bad input\";").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Runtime);
    assert_eq!(err.message, "script error: bad input");
    assert_eq!(err.line, Some(2));
}

#[test]
fn one_compiled_script_runs_on_many_threads_with_separate_output() {
    let sandbox = Arc::new(Sandbox::new(Limits::default()));
    let script = Script {
        language: Rhai,
        name: "t.rhai".into(),
        source: Arc::from("print(n); n * 2"),
        inputs: vec!["n".into()],
    };
    let compiled = Arc::new(sandbox.compile(&script).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (sandbox, compiled) = (sandbox.clone(), compiled.clone());
            std::thread::spawn(move || {
                for i in 0..200 {
                    let n = t * 1000 + i;
                    let out = sandbox
                        .run(&compiled, &[("n", gait_sandbox::ViewValue::Int(n))])
                        .unwrap();
                    assert_eq!(out.value, json!(n * 2));
                    assert_eq!(out.output.text, format!("{n}\n"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
