//! The documented examples run as written: `examples/stub-replay/` and the README's runpack workflow.

use crate::support::{Sandbox, repo_root};
use serde_json::Value;

#[test]
fn stub_replay_example_matches_its_expected_output() {
    let dir = repo_root().join("examples/stub-replay");
    let sb = Sandbox::new();
    sb.write(
        "run_record.json",
        std::fs::read(dir.join("run_record.json")).unwrap(),
    );
    let (code, json) = sb.run_json(&["run", "record", "run_record.json", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(sb.run_json(&["verify", "run_stub_example", "--json"]).0, 0);
    let (code, mut replay) = sb.run_json(&["run", "replay", "run_stub_example", "--json"]);
    assert_eq!(code, 0, "{replay}");
    replay.as_object_mut().unwrap().remove("correlation_id");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected_replay.json")).unwrap()).unwrap();
    assert_eq!(replay, expected);
}

/// Every `gait ...` line of the README's "Runpacks" section runs and exits as the README says.
#[test]
fn readme_runpack_commands_run() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    // The section under a "## Runpacks" or "### Runpacks" heading, up to the next heading.
    let mut lines = readme
        .lines()
        .skip_while(|l| !(l.starts_with("##") && l.trim_start_matches('#').trim() == "Runpacks"));
    assert!(lines.next().is_some(), "README has a Runpacks section");
    let section: Vec<&str> = lines.take_while(|l| !l.starts_with("##")).collect();
    let sb = Sandbox::new();
    sb.write(
        "run_record.json",
        std::fs::read(repo_root().join("examples/stub-replay/run_record.json")).unwrap(),
    );
    let mut ran = 0;
    for line in section {
        let Some(cmd) = line.trim().strip_prefix("gait ") else {
            continue;
        };
        // `# exit N` after a command states its exit code; 0 otherwise.
        let (cmd, want) = match cmd.split_once("# exit ") {
            Some((c, code)) => (c, code.trim().parse::<i32>().unwrap()),
            None => (cmd.split('#').next().unwrap_or(cmd), 0),
        };
        let args: Vec<&str> = cmd.split_whitespace().collect();
        let (code, out, err) = sb.run(&args);
        assert_eq!(code, want, "gait {cmd}\nstdout: {out}\nstderr: {err}");
        ran += 1;
    }
    assert!(ran >= 9, "only {ran} README commands found");
}
