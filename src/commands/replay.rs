//! `gait run replay <run_id|path>`: stub replay by default; guarded real replay (CONTRACTS §1.2).

use super::runpack_io;
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::GaitError;
use gait_engine::error::exit;
use gait_engine::procx::SystemSpawner;
use gait_engine::runpack::replay::{
    self, DEFAULT_INTERLOCK_ENV, RealContext, RealGuards, SHELL_OUTPUT_CAP, SHELL_TIMEOUT,
};
use gait_engine::runpack::{self, VerifyOptions};
use std::path::PathBuf;

const FLAGS: &[Flag] = &[
    Flag::bool(
        "real-tools",
        "execute allowlisted tools instead of stubs (unsafe)",
    ),
    Flag::bool(
        "unsafe-real-tools",
        "confirm that real tools may change this machine",
    ),
    Flag::string(
        "allow-tools",
        "",
        "comma-separated tools real replay may execute",
    ),
    Flag::string(
        "unsafe-real-tools-env",
        DEFAULT_INTERLOCK_ENV,
        "environment variable that must be 1 for real replay",
    ),
    Flag::string(
        "replay-root",
        "",
        "directory real tools write into and run in (default ./gait-out/replay/<run_id>)",
    ),
];

pub static REPLAY: Command = Command {
    path: "run replay",
    synopsis: "<run_id|path> [--real-tools --unsafe-real-tools --allow-tools CSV]",
    summary: "Replay a runpack deterministically with stubs (real tools only behind explicit guards).",
    explain: "Replays a runpack's tool calls deterministically with recorded results and stubs; real tools run only with every unsafe guard set.",
    flags: FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_replay,
};

fn run_replay(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let arg = runpack_io::one_positional(&p, "run id or runpack path")?;
    let interlock_env = p
        .opt("unsafe-real-tools-env")
        .unwrap_or_else(|| DEFAULT_INTERLOCK_ENV.to_string())
        .trim()
        .to_string();
    let guards = RealGuards {
        real_tools: p.bool("real-tools"),
        unsafe_real_tools: p.bool("unsafe-real-tools"),
        allow_tools: p.csv("allow-tools"),
        interlock_value: ctx.env(&interlock_env),
        interlock_env,
    };
    if guards.requested() {
        // Refuse before touching anything.
        guards.check()?;
    }
    let loaded = runpack_io::load(ctx, &arg)?;
    let files = runpack::read::read_files(&loaded.archive)?;
    let rp = files.parse()?;
    let report = if guards.requested() {
        // Real tools act on what the runpack says: only an intact runpack may drive them.
        let verified = runpack::verify_archive(&loaded.archive, &VerifyOptions::default())?;
        if !verified.ok {
            return Err(GaitError::verification(format!(
                "runpack {} failed verification; refusing to replay it with real tools",
                loaded.path
            ))
            .with_hint(format!("run `gait verify {}` for details", loaded.path)));
        }
        let root = match p.opt("replay-root") {
            Some(r) => PathBuf::from(r.trim()),
            None => PathBuf::from("./gait-out/replay").join(&rp.manifest.run_id),
        };
        runpack_io::check_output_path(&root, "--replay-root")?;
        replay::replay_real(
            &rp,
            &guards,
            &RealContext {
                root: &root,
                spawner: &SystemSpawner,
                shell_timeout: SHELL_TIMEOUT,
                output_cap: SHELL_OUTPUT_CAP,
            },
        )?
    } else {
        replay::replay_stub(&rp)
    };
    let mut text = format!(
        "replay {}: run_id={} mode={} steps={}",
        if report.ok { "ok" } else { "failed" },
        report.run_id,
        report.mode,
        report.steps.len()
    );
    for s in &report.steps {
        let execution = serde_json::to_value(s.execution)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        text.push_str(&format!(
            "\n{} {} execution={execution} status={}",
            s.intent_id, s.tool_name, s.status
        ));
    }
    if !report.missing_results.is_empty() {
        text.push_str(&format!(
            "\nmissing_results={}",
            report.missing_results.join(",")
        ));
    }
    let code = if report.ok {
        exit::OK
    } else {
        exit::VERIFY_FAILED
    };
    Response::new(code, &report, text)
}
