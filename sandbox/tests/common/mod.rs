//! Helpers shared by the sandbox tests.

#![allow(dead_code)]

use gait_sandbox::{Language, Limits, Outcome, Sandbox, Script, ScriptError, ViewValue};
use std::sync::Arc;
use std::time::Duration;

/// Runs `f` on its own thread and fails the test if it has not finished after a generous minute.
/// This is a watchdog against hangs, not a timing assertion: every case ends through a limit long
/// before it.
pub fn watchdog<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("script did not finish: the sandbox failed to stop it")
}

pub fn fixture() -> ViewValue {
    ViewValue::json(Arc::new(serde_json::json!({
        "name": "run_demo",
        "run_id": "run_demo",
        "intents": [
            {"intent_id": "intent_1", "tool_name": "tool.search", "args": {"url": "https://api.example.com/a"}},
            {"intent_id": "intent_2", "tool_name": "tool.fetch", "args": {"url": "https://evil.example.net/x"}},
            {"intent_id": "intent_3", "tool_name": "tool.summarize"}
        ],
        "results": [
            {"intent_id": "intent_1", "status": "ok"},
            {"intent_id": "intent_2", "status": "error"}
        ],
        "count": 3,
        "ratio": 0.5,
        "flag": true,
        "nothing": null
    })))
}

pub fn run_with(limits: Limits, lang: Language, src: &str) -> Result<Outcome, ScriptError> {
    let sandbox = Sandbox::new(limits);
    let script = Script {
        language: lang,
        name: format!("test.{}", lang.as_str()),
        source: Arc::from(src),
        inputs: vec!["fixture".into()],
    };
    let compiled = sandbox
        .compile(&script)
        .unwrap_or_else(|e| panic!("compile: {e}"));
    sandbox.run(&compiled, &[("fixture", fixture())])
}

/// The default limits, except the wall-clock backstop: these tests check which deterministic
/// limit ends a script, and a slow, busy test machine must not turn that into the time limit
/// (which has its own tests). The watchdog stays above it.
pub fn test_limits() -> Limits {
    Limits {
        max_wall_time: Duration::from_secs(100),
        ..Limits::default()
    }
}

pub fn run(lang: Language, src: &str) -> Result<Outcome, ScriptError> {
    run_with(test_limits(), lang, src)
}

/// Runs under the watchdog with default limits.
pub fn run_guarded(lang: Language, src: &'static str) -> Result<Outcome, ScriptError> {
    watchdog(move || run(lang, src))
}
