//! `gait run replay`: deterministic stub replay, and guarded real replay (CONTRACTS §1.2, §3.8).
//!
//! Stub replay (default) never runs anything: a recorded result is reused (`recorded`); an intent
//! without a result gets a stub when its tool name says what kind of tool it is (`stubbed`, digest
//! sha256(`run_id:intent_id:lower(tool):lower(args_digest):stub_type`)); otherwise it is `missing` and
//! the replay fails (exit 2).
//!
//! Real replay runs only allowlisted tools of a raw-capture runpack, and only when every guard holds:
//! `--real-tools`, `--unsafe-real-tools`, a non-empty `--allow-tools`, and the interlock environment
//! variable set to `1` (the CLI reads it and passes the value in). A missing guard is exit 8. Tools:
//! - `echo` / `tool.echo`: the result echoes the args;
//! - `file.write` / `fs.write` / `write_file`: writes `args.content` to `args.path` below the replay root
//!   (absolute paths, `..` and symlinked directories that escape the root are refused, exit 8);
//! - `shell.exec` / `exec` / `command.run`: `sh -lc <args.command>` through the [`ProcessSpawner`] the
//!   CLI lends: own process group, 5 s timeout (the whole group is killed), 64 KiB output cap per stream.
//!
//! Allowlisted tools without a real implementation, and tools not allowlisted, replay as stubs.

use super::fields::RecordFields;
use super::read::Runpack;
use crate::canon::{self, Node};
use crate::error::GaitError;
use crate::fsx;
use crate::procx::{ProcessSpawner, SpawnRequest};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_INTERLOCK_ENV: &str = "GAIT_ALLOW_REAL_REPLAY";
pub const SHELL_TIMEOUT: Duration = Duration::from_secs(5);
pub const SHELL_OUTPUT_CAP: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Execution {
    Recorded,
    Stubbed,
    Missing,
    Executed,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayStep {
    pub intent_id: String,
    pub tool_name: String,
    pub status: String,
    pub execution: Execution,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stub_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub result_digest: String,
    /// What a real tool returned (real replay only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayReport {
    pub ok: bool,
    pub run_id: String,
    /// `stub` or `real`.
    pub mode: &'static str,
    pub steps: Vec<ReplayStep>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_results: Vec<String>,
}

/// The stub type a tool name implies (substring match on the lowercased name), if any.
pub fn stub_type(tool_name: &str) -> Option<&'static str> {
    let t = tool_name.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if any(&["http", "fetch", "url"]) {
        Some("http")
    } else if any(&["file", "path", "fs", "write"]) {
        Some("file")
    } else if any(&["db", "sql", "query", "table"]) {
        Some("db")
    } else if any(&["queue", "topic", "publish", "kafka"]) {
        Some("queue")
    } else {
        None
    }
}

/// The digest a stubbed step reports.
pub fn stub_digest(
    run_id: &str,
    intent_id: &str,
    tool: &str,
    args_digest: &str,
    stub: &str,
) -> String {
    canon::sha256_hex(
        format!(
            "{run_id}:{intent_id}:{}:{}:{stub}",
            tool.to_lowercase(),
            args_digest.to_lowercase()
        )
        .as_bytes(),
    )
}

fn stub_step(
    run_id: &str,
    intent: &RecordFields<'_>,
    result: Option<&&RecordFields<'_>>,
) -> ReplayStep {
    let mut step = ReplayStep {
        intent_id: intent.intent_id.to_string(),
        tool_name: intent.label.to_string(),
        status: String::new(),
        execution: Execution::Missing,
        stub_type: String::new(),
        result_digest: String::new(),
        result: None,
    };
    if let Some(r) = result {
        step.execution = Execution::Recorded;
        step.status = r.label.to_string();
        step.result_digest = r.digest.to_string();
    } else if let Some(stub) = stub_type(&intent.label) {
        step.execution = Execution::Stubbed;
        step.status = "ok".into();
        step.stub_type = stub.into();
        step.result_digest = stub_digest(
            run_id,
            &intent.intent_id,
            &intent.label,
            &intent.digest,
            stub,
        );
    } else {
        step.status = "missing".into();
    }
    step
}

fn results_by_intent<'r, 'a>(rp: &'r Runpack<'a>) -> HashMap<&'r str, &'r RecordFields<'a>> {
    let mut map = HashMap::new();
    for r in &rp.results {
        map.entry(r.intent_id.as_ref()).or_insert(r);
    }
    map
}

fn finish(run_id: &str, mode: &'static str, steps: Vec<ReplayStep>) -> ReplayReport {
    let missing_results: Vec<String> = steps
        .iter()
        .filter(|s| s.execution == Execution::Missing)
        .map(|s| s.intent_id.clone())
        .collect();
    ReplayReport {
        ok: missing_results.is_empty(),
        run_id: run_id.to_string(),
        mode,
        steps,
        missing_results,
    }
}

/// Stub replay: deterministic, runs nothing.
pub fn replay_stub(rp: &Runpack<'_>) -> ReplayReport {
    let results = results_by_intent(rp);
    let run_id = &rp.manifest.run_id;
    let steps = rp
        .intents
        .iter()
        .map(|i| stub_step(run_id, i, results.get(i.intent_id.as_ref())))
        .collect();
    finish(run_id, "stub", steps)
}

/// The guards of a real replay, as the user gave them.
#[derive(Clone, Debug, Default)]
pub struct RealGuards {
    pub real_tools: bool,
    pub unsafe_real_tools: bool,
    pub allow_tools: Vec<String>,
    /// Name of the interlock variable (default `GAIT_ALLOW_REAL_REPLAY`).
    pub interlock_env: String,
    /// Its value, read by the CLI (`None` when unset).
    pub interlock_value: Option<String>,
}

impl RealGuards {
    /// True when the user asked for anything real.
    pub fn requested(&self) -> bool {
        self.real_tools || self.unsafe_real_tools || !self.allow_tools.is_empty()
    }

    /// Every guard must hold; otherwise exit 8 naming the missing one.
    pub fn check(&self) -> Result<(), GaitError> {
        let refuse = |msg: String| {
            Err(GaitError::unsafe_refused(msg).with_hint(
                "real replay needs --real-tools --unsafe-real-tools --allow-tools <csv> and the interlock variable set to 1",
            ))
        };
        if !self.real_tools {
            return refuse(
                "--unsafe-real-tools and --allow-tools only apply with --real-tools".into(),
            );
        }
        if !self.unsafe_real_tools {
            return refuse("real replay requires --unsafe-real-tools".into());
        }
        if self.allow_tools.is_empty() {
            return refuse("real replay requires a non-empty --allow-tools allowlist".into());
        }
        if self.interlock_value.as_deref().map(str::trim) != Some("1") {
            return refuse(format!(
                "real replay requires {}=1 in the environment",
                self.interlock_env
            ));
        }
        Ok(())
    }
}

/// What a real replay may touch.
pub struct RealContext<'a> {
    /// Directory real tools write into and run in.
    pub root: &'a Path,
    pub spawner: &'a dyn ProcessSpawner,
    pub shell_timeout: Duration,
    pub output_cap: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RealTool {
    Echo,
    FileWrite,
    Shell,
}

fn real_tool(name: &str) -> Option<RealTool> {
    match name.to_lowercase().as_str() {
        "echo" | "tool.echo" => Some(RealTool::Echo),
        "file.write" | "fs.write" | "write_file" => Some(RealTool::FileWrite),
        "shell.exec" | "exec" | "command.run" => Some(RealTool::Shell),
        _ => None,
    }
}

fn str_arg<'n>(args: Option<&'n Node<'_>>, key: &str) -> Option<&'n str> {
    args.and_then(|a| a.get(key)).and_then(Node::as_str)
}

/// Resolves `rel` below `root`, refusing absolute paths, `..`, and directories that are symlinks.
pub fn resolve_below(root: &Path, rel: &str) -> Result<PathBuf, GaitError> {
    let refuse = |why: &str| {
        Err(GaitError::unsafe_refused(format!(
            "real replay refused: path {} {why}",
            canon::go_quote(rel)
        ))
        .with_hint("real tools write only below the replay root (--replay-root)"))
    };
    let path = Path::new(rel);
    if rel.trim().is_empty() {
        return refuse("is empty");
    }
    let mut clean = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return refuse("contains '..'"),
            Component::RootDir | Component::Prefix(_) => return refuse("is absolute"),
        }
    }
    if clean.as_os_str().is_empty() {
        return refuse("names the root itself");
    }
    fsx::create_dir_all(root)?;
    let root_real = std::fs::canonicalize(root).map_err(|e| {
        GaitError::io(format!(
            "resolve replay root {}: {}",
            root.display(),
            fsx::io_reason(&e)
        ))
    })?;
    let target = root_real.join(&clean);
    if let Some(parent) = target.parent() {
        // Every existing directory on the way must be a real directory inside the root.
        let mut walk = root_real.clone();
        for part in clean.parent().into_iter().flat_map(Path::components) {
            walk.push(part);
            match std::fs::symlink_metadata(&walk) {
                Ok(m) if m.file_type().is_symlink() => return refuse("passes through a symlink"),
                Ok(m) if !m.is_dir() => return refuse("passes through a file"),
                _ => {}
            }
        }
        fsx::create_dir_all(parent)?;
        let parent_real =
            std::fs::canonicalize(parent).map_err(|e| GaitError::io(fsx::io_reason(&e)))?;
        if !parent_real.starts_with(&root_real) {
            return refuse("escapes the replay root");
        }
    }
    Ok(target)
}

fn run_real(
    tool: RealTool,
    intent: &RecordFields<'_>,
    ctx: &RealContext<'_>,
) -> Result<(bool, serde_json::Value), GaitError> {
    let args = intent.payload.as_ref();
    match tool {
        RealTool::Echo => Ok((
            true,
            serde_json::json!({"ok": true, "echo": args.map(Node::to_value).unwrap_or(serde_json::json!({}))}),
        )),
        RealTool::FileWrite => {
            let Some(rel) = str_arg(args, "path") else {
                return Ok((
                    false,
                    serde_json::json!({"ok": false, "error": "args.path (a string) is required"}),
                ));
            };
            let content = str_arg(args, "content").unwrap_or("");
            let target = resolve_below(ctx.root, rel)?;
            // write_atomic renames over the target: a symlink planted there is replaced, not followed.
            fsx::write_atomic(&target, content.as_bytes(), 0o600)?;
            Ok((
                true,
                serde_json::json!({"ok": true, "path": rel, "bytes": content.len()}),
            ))
        }
        RealTool::Shell => {
            let Some(command) = str_arg(args, "command").or_else(|| str_arg(args, "cmd")) else {
                return Ok((
                    false,
                    serde_json::json!({"ok": false, "error": "args.command (a string) is required"}),
                ));
            };
            fsx::create_dir_all(ctx.root)?;
            let sh_args = vec!["-lc".to_string(), command.to_string()];
            let outcome = ctx.spawner.run(&SpawnRequest::new(
                "sh",
                &sh_args,
                ctx.root,
                ctx.shell_timeout,
                ctx.output_cap,
            ));
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => {
                    return Ok((
                        false,
                        serde_json::json!({"ok": false, "error": format!("start sh: {}", fsx::io_reason(&e))}),
                    ));
                }
            };
            let ok = outcome.exit_code == Some(0) && !outcome.timed_out;
            Ok((
                ok,
                serde_json::json!({
                    "ok": ok,
                    "exit_code": outcome.exit_code,
                    "timed_out": outcome.timed_out,
                    "stdout": String::from_utf8_lossy(&outcome.stdout),
                    "stderr": String::from_utf8_lossy(&outcome.stderr),
                    "stdout_truncated": outcome.stdout_truncated,
                    "stderr_truncated": outcome.stderr_truncated,
                }),
            ))
        }
    }
}

/// Real replay of allowlisted tools. The caller has checked [`RealGuards::check`].
pub fn replay_real(
    rp: &Runpack<'_>,
    guards: &RealGuards,
    ctx: &RealContext<'_>,
) -> Result<ReplayReport, GaitError> {
    guards.check()?;
    if rp.manifest.capture_mode != "raw" {
        return Err(GaitError::invalid(format!(
            "real replay requires a raw-capture runpack; {} was recorded with capture mode {} and holds no tool arguments",
            rp.manifest.run_id,
            canon::go_quote(&rp.manifest.capture_mode)
        ))
        .with_hint("record the run with --capture-mode raw to replay real tools, or replay with stubs"));
    }
    let allowed: Vec<String> = guards
        .allow_tools
        .iter()
        .map(|t| t.trim().to_lowercase())
        .collect();
    let results = results_by_intent(rp);
    let run_id = &rp.manifest.run_id;
    let mut steps = Vec::with_capacity(rp.intents.len());
    for intent in &rp.intents {
        let name = intent.label.to_lowercase();
        let real = real_tool(&name).filter(|_| allowed.contains(&name));
        let Some(tool) = real else {
            steps.push(stub_step(
                run_id,
                intent,
                results.get(intent.intent_id.as_ref()),
            ));
            continue;
        };
        let (ok, result) = run_real(tool, intent, ctx)?;
        let result_digest =
            canon::digest_of(&result).map_err(|e| GaitError::internal(e.to_string()))?;
        steps.push(ReplayStep {
            intent_id: intent.intent_id.to_string(),
            tool_name: intent.label.to_string(),
            status: if ok { "ok" } else { "error" }.to_string(),
            execution: Execution::Executed,
            stub_type: String::new(),
            result_digest,
            result: Some(result),
        });
    }
    Ok(finish(run_id, "real", steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_types_follow_tool_name_substrings() {
        assert_eq!(stub_type("tool.fetch"), Some("http"));
        assert_eq!(stub_type("HTTP.get"), Some("http"));
        assert_eq!(stub_type("fs.write"), Some("file"));
        assert_eq!(stub_type("db.query"), Some("db"));
        assert_eq!(stub_type("kafka.send"), Some("queue"));
        assert_eq!(stub_type("tool.search"), None);
        assert_eq!(stub_type("tool.summarize"), None);
    }

    #[test]
    fn stub_digest_formula() {
        // sha256("run_x:i1:tool.fetch:abcd:http"), lowercasing tool and digest.
        assert_eq!(
            stub_digest("run_x", "i1", "Tool.Fetch", "ABCD", "http"),
            canon::sha256_hex(b"run_x:i1:tool.fetch:abcd:http")
        );
    }

    #[test]
    fn every_guard_is_required() {
        let all = RealGuards {
            real_tools: true,
            unsafe_real_tools: true,
            allow_tools: vec!["echo".into()],
            interlock_env: DEFAULT_INTERLOCK_ENV.into(),
            interlock_value: Some("1".into()),
        };
        assert!(all.check().is_ok());
        let variants = [
            RealGuards {
                real_tools: false,
                ..all.clone()
            },
            RealGuards {
                unsafe_real_tools: false,
                ..all.clone()
            },
            RealGuards {
                allow_tools: vec![],
                ..all.clone()
            },
            RealGuards {
                interlock_value: None,
                ..all.clone()
            },
            RealGuards {
                interlock_value: Some("true".into()),
                ..all.clone()
            },
        ];
        for g in variants {
            assert_eq!(g.check().unwrap_err().exit_code(), 8, "{g:?}");
        }
    }

    #[test]
    fn paths_stay_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        assert!(
            resolve_below(&root, "a/b.txt")
                .unwrap()
                .ends_with("a/b.txt")
        );
        for bad in ["../x", "/etc/passwd", "a/../../x", "", "."] {
            assert_eq!(
                resolve_below(&root, bad).unwrap_err().exit_code(),
                8,
                "{bad:?}"
            );
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path(), root.join("link")).unwrap();
            assert_eq!(
                resolve_below(&root, "link/x.txt").unwrap_err().exit_code(),
                8
            );
        }
    }
}
