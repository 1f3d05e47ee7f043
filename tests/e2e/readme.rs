//! The repository README's command blocks for regress and keys run as written, in order, in one
//! sandbox (the runpack and gate sections have their own runners in `runpack_examples` and `examples`).

use crate::support::{Sandbox, repo_root};

/// The `gait ...` lines of the fenced bash blocks under `heading`, up to the next `##`/`###` heading.
fn section_commands(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut lines = readme.lines().skip_while(|l| l.trim() != heading);
    assert!(lines.next().is_some(), "README has no `{heading}` heading");
    let mut in_bash = false;
    let mut out = Vec::new();
    for line in lines.take_while(|l| !(l.starts_with("## ") || l.starts_with("### "))) {
        if line.starts_with("```") {
            in_bash = line.starts_with("```bash");
            continue;
        }
        if let Some(cmd) = line.trim().strip_prefix("gait ").filter(|_| in_bash) {
            out.push(cmd.split('#').next().unwrap().trim().to_string());
        }
    }
    out
}

fn run_all(sb: &Sandbox, cmds: &[String]) {
    for cmd in cmds {
        // `a && b` chains in the README run as two commands.
        for part in cmd.split("&&") {
            let args: Vec<&str> = part.split_whitespace().filter(|a| *a != "gait").collect();
            let (code, out, err) = sb.run(&args);
            assert_eq!(code, 0, "gait {part}\nstdout: {out}\nstderr: {err}");
        }
    }
}

#[test]
fn readme_regress_workflow_runs() {
    let cmds = section_commands("### Regress: incidents become CI tests");
    assert!(cmds.len() >= 6, "{cmds:?}");
    let sb = Sandbox::new();
    run_all(&sb, &cmds);
    // The last command reports both fixtures, every grader passing.
    let (code, json) = sb.run_json(&["regress", "run", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json["status"], "pass", "{json}");
    let junit = std::fs::read_to_string(sb.path().join("junit.xml")).unwrap();
    assert!(junit.contains("run_demo"), "{junit}");
    for fixture in [
        "fixtures/run_demo/runpack.zip",
        "fixtures/other/fixture.json",
    ] {
        assert!(sb.path().join(fixture).is_file(), "{fixture} missing");
    }
}

#[test]
fn readme_keys_workflow_runs() {
    let cmds = section_commands("### Keys");
    assert_eq!(cmds.len(), 3, "{cmds:?}");
    let sb = Sandbox::new();
    run_all(&sb, &cmds);
    let keys: Vec<String> = std::fs::read_dir(sb.path().join("gait-out/keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // init's pair plus rotate's timestamped pair.
    assert_eq!(keys.len(), 4, "{keys:?}");
}
