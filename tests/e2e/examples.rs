//! The examples' READMEs are executable documentation: every `gait …` command they show is run here
//! exactly as written (from a copy of the repository's `examples/` directory), and the expected
//! results they state are asserted. A command added to a README without a check here fails
//! `every_readme_command_is_checked`.

use crate::support::{Sandbox, repo_root};
use serde_json::Value;
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A sandbox whose working directory has `examples/` like the repository root.
fn examples_sandbox() -> Sandbox {
    let sb = Sandbox::new();
    copy_dir(&repo_root().join("examples"), &sb.join("examples"));
    sb
}

/// The `gait …` lines of a README's bash blocks.
fn readme_commands(readme: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join(readme)).unwrap();
    let mut out = Vec::new();
    let mut in_bash = false;
    for line in text.lines() {
        if line.starts_with("```bash") {
            in_bash = true;
        } else if line.starts_with("```") {
            in_bash = false;
        } else if in_bash && line.starts_with("gait ") {
            out.push(line.trim().to_string());
        }
    }
    out
}

fn run_line(sb: &Sandbox, line: &str) -> (i32, Value) {
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    if args.contains(&"--json") {
        sb.run_json(&args)
    } else {
        let (code, out, _) = sb.run(&args);
        (code, Value::String(out))
    }
}

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// Expectations stated in the READMEs, by command.
fn check(line: &str, code: i32, out: &Value) {
    let verdict = out["verdict"].as_str().unwrap_or("");
    let reasons = strings(&out["reason_codes"]);
    match line {
        l if l.contains("policy-test/allow.yaml") => {
            assert_eq!((code, verdict), (0, "allow"), "{l}: {out}");
            assert_eq!(reasons, ["matched_rule_allow_report_writes"]);
            assert_eq!(
                out["intent_digest"],
                "0d3960743e21d5555ff61a87daf45498ff0186db1babb1a6eb533becaefdb94c"
            );
        }
        l if l.contains("policy test examples/policy-test/block.yaml") => {
            assert_eq!((code, verdict), (3, "block"), "{l}: {out}");
            assert_eq!(reasons, ["writes_blocked_by_policy"]);
            assert_eq!(strings(&out["violations"]), ["unapproved_write"]);
        }
        l if l.contains("policy-test/require_approval.yaml") => {
            assert_eq!((code, verdict), (4, "require_approval"), "{l}: {out}");
            assert_eq!(reasons, ["matched_rule_approve_writes"]);
        }
        l if l.contains("--simulate") => {
            assert_eq!((code, verdict), (0, "allow"), "{l}: {out}");
            assert_eq!(out["simulate_mode"], true);
            assert_eq!(out["simulated_verdict"], "block");
            assert_eq!(out["would_have_blocked"], true);
            assert_eq!(
                reasons,
                [
                    "simulate_mode_non_enforcing",
                    "simulated_block",
                    "writes_blocked_by_policy"
                ]
            );
        }
        l if l.contains("intent_injected.json") => {
            assert_eq!((code, verdict), (3, "block"), "{l}: {out}");
            assert_eq!(
                reasons,
                ["blocked_prompt_injection", "matched_rule_guard_egress"]
            );
            assert_eq!(strings(&out["violations"]), ["prompt_injection_egress"]);
        }
        l if l.contains("intent_clean.json") => {
            assert_eq!((code, verdict), (0, "allow"), "{l}: {out}");
            assert_eq!(reasons, ["matched_rule_guard_egress"]);
        }
        l if l.starts_with("gait policy init") => {
            assert_eq!(code, 0, "{l}: {out}");
        }
        l if l.contains("fixtures/post_injected_data.json") => {
            assert_eq!((code, verdict), (3, "block"), "{l}: {out}");
            assert!(reasons.contains(&"blocked_prompt_injection".to_string()));
        }
        other => panic!("README command without a check: {other}"),
    }
}

const READMES: &[&str] = &[
    "examples/policy-test/README.md",
    "examples/prompt-injection/README.md",
    "examples/policy/README.md",
];

#[test]
fn every_readme_command_is_checked() {
    for readme in READMES {
        let commands = readme_commands(readme);
        assert!(!commands.is_empty(), "{readme} shows no commands");
        let sb = examples_sandbox();
        for line in commands {
            let (code, out) = run_line(&sb, &line);
            check(&line, code, &out);
            if line.contains("gait gate eval") {
                // "A signed trace trace_<trace_id>.json is written to the working directory."
                let id = out["trace_id"].as_str().unwrap();
                assert!(sb.join(&format!("trace_{id}.json")).exists(), "{line}");
            }
        }
    }
}

#[test]
fn policy_init_writes_the_example_templates_byte_for_byte() {
    let sb = Sandbox::new();
    for (template, aliases) in [
        ("baseline-lowrisk", ["low", "baseline_low_risk"]),
        ("baseline-mediumrisk", ["medium", "baseline_medium_risk"]),
        ("baseline-highrisk", ["high", "baseline-high-risk"]),
    ] {
        let want =
            std::fs::read(repo_root().join(format!("examples/policy/{template}.yaml"))).unwrap();
        for name in std::iter::once(template).chain(aliases) {
            let out = format!("{name}.yaml");
            let (code, json) = sb.run_json(&["policy", "init", name, "--out", &out, "--json"]);
            assert_eq!(code, 0, "{json}");
            assert_eq!(json["template"], template);
            assert_eq!(sb.read(&out), want, "{name}");
        }
    }
    // An existing file is not overwritten without --force.
    let (code, json) = sb.run_json(&["policy", "init", "low", "--out", "low.yaml", "--json"]);
    assert_eq!(code, 6, "{json}");
    let (code, _) = sb.run_json(&[
        "policy", "init", "low", "--out", "low.yaml", "--force", "--json",
    ]);
    assert_eq!(code, 0);
    let (code, json) = sb.run_json(&["policy", "init", "extreme", "--json"]);
    assert_eq!(code, 6);
    assert!(json["hint"].as_str().unwrap().contains("baseline-highrisk"));
}

/// The README's fixture table: every fixture × template, verdict and exit code as documented.
#[test]
fn baseline_fixture_verdicts_match_the_readme_table() {
    let text = std::fs::read_to_string(repo_root().join("examples/policy/README.md")).unwrap();
    let sb = examples_sandbox();
    let mut rows = 0;
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let fixture = cells[0].trim_matches('`');
        for (cell, level) in cells[1..].iter().zip(["lowrisk", "mediumrisk", "highrisk"]) {
            let (verdict, code) = cell.split_once(" (").unwrap();
            let code: i32 = code.trim_end_matches(')').parse().unwrap();
            let policy = format!("examples/policy/baseline-{level}.yaml");
            let intent = format!("examples/policy/fixtures/{fixture}");
            let (got, out) = sb.run_json(&["policy", "test", &policy, &intent, "--json"]);
            assert_eq!(
                (got, out["verdict"].as_str().unwrap()),
                (code, verdict),
                "{fixture} under {level}: {out}"
            );
        }
        rows += 1;
    }
    let fixtures = std::fs::read_dir(repo_root().join("examples/policy/fixtures"))
        .unwrap()
        .count();
    assert_eq!(
        rows, fixtures,
        "every fixture has a row in the README table"
    );
}

/// The gate workflow of the repository README: every runnable command (lines with a `<...>` slot to fill in are skipped), in
/// order, with the exit code its `# exit N` comment states.
#[test]
fn readme_gate_workflow_runs() {
    let text = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = text
        .split("### Gate: policies, intents and signed decisions")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .and_then(|s| s.split("\n### ").next())
        .expect("README gate section");
    let sb = examples_sandbox();
    let mut ran = 0;
    let mut in_bash = false;
    for line in section.lines() {
        if line.starts_with("```bash") {
            in_bash = true;
            continue;
        }
        if line.starts_with("```") {
            in_bash = false;
            continue;
        }
        if !in_bash || !line.starts_with("gait ") || line.contains('<') {
            continue;
        }
        let (cmd, comment) = line.split_once('#').unwrap_or((line, ""));
        let want: i32 = comment
            .trim()
            .strip_prefix("exit ")
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("README command without `# exit N`: {line}"));
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let (code, out, _) = sb.run(&args);
        assert_eq!(code, want, "{cmd}\n{out}");
        ran += 1;
    }
    assert!(ran >= 9, "ran {ran} README commands");
}
