//! `gait regress init|add|bootstrap|run`: incidents become CI tests (CONTRACTS §1.2, §3.7).
//!
//! Progress: `regress run` draws a progress bar on stderr only in human mode, only when stderr is a
//! terminal (CI logs stay clean), and only for sets of at least [`PROGRESS_MIN_FIXTURES`] fixtures.
//! With `--json` nothing is written to stderr.

use super::runpack_io::{check_output_path, from_or_positional};
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response, paths};
use gait_engine::GaitError;
use gait_engine::error::exit;
use gait_engine::plugin::GradeOptions;
use gait_engine::regress::init::{InitReport, InitRequest, init_fixture};
use gait_engine::regress::run::{self as regress_run, Prepared, RunSettings};
use gait_engine::regress::{GradeStatus, RegressResult};
use gait_graders::Graders;
use gait_sandbox::Limits;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Fixture sets at least this large get a progress bar (in human mode, on a terminal).
pub const PROGRESS_MIN_FIXTURES: usize = 20;

const INIT_FLAGS: &[Flag] = &[
    Flag::string("from", "", "run id or runpack path to turn into a fixture"),
    Flag::string(
        "name",
        "",
        "fixture name (default: the run id, sanitized to ^[a-z0-9][a-z0-9._-]*$)",
    ),
];

const RUN_FLAGS: &[Flag] = &[
    Flag::string("config", "gait.yaml", "the fixture set"),
    Flag::string("output", "regress_result.json", "where to write the result"),
    Flag::string("junit", "", "also write a JUnit XML report to this path"),
    Flag::bool(
        "allow-nondeterministic",
        "let the diff grader accept refs.json changes that are only retrieval times moving",
    ),
    Flag::bool(
        "context-conformance",
        "run the context_conformance grader on every fixture",
    ),
    Flag::bool(
        "allow-context-runtime-drift",
        "let context_conformance accept runtime-only context drift",
    ),
    Flag::int(
        "workers",
        "0",
        "fixtures graded in parallel (0: one per CPU)",
    ),
];

const BOOTSTRAP_FLAGS: &[Flag] = &[
    Flag::string("from", "", "run id or runpack path to turn into a fixture"),
    Flag::string(
        "name",
        "",
        "fixture name (default: the run id, sanitized to ^[a-z0-9][a-z0-9._-]*$)",
    ),
    Flag::string("output", "regress_result.json", "where to write the result"),
    Flag::string("junit", "", "also write a JUnit XML report to this path"),
    Flag::bool(
        "allow-nondeterministic",
        "let the diff grader accept refs.json changes that are only retrieval times moving",
    ),
    Flag::bool(
        "context-conformance",
        "run the context_conformance grader on every fixture",
    ),
    Flag::bool(
        "allow-context-runtime-drift",
        "let context_conformance accept runtime-only context drift",
    ),
    Flag::int(
        "workers",
        "0",
        "fixtures graded in parallel (0: one per CPU)",
    ),
];

pub static INIT: Command = Command {
    path: "regress init",
    synopsis: "--from <run_id|path> [--name NAME]",
    summary: "Turn a runpack into a regress fixture (fixtures/<name>/) and register it in gait.yaml.",
    explain: "Verifies a runpack, copies it to fixtures/<name>/runpack.zip with a fixture.json of expectations, and registers the fixture in gait.yaml.",
    flags: INIT_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_init,
};

pub static ADD: Command = Command {
    path: "regress add",
    synopsis: "--from <run_id|path> [--name NAME]",
    summary: "Add another runpack to the fixture set (refuses to replace an existing fixture).",
    explain: "Adds a verified runpack to the regress fixture set as a new fixture, refusing to overwrite a fixture of the same name.",
    flags: INIT_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_add,
};

pub static RUN: Command = Command {
    path: "regress run",
    synopsis: "[--config gait.yaml] [--output regress_result.json] [--junit PATH]",
    summary: "Grade every fixture; exit 0 when all pass, 5 when any fails.",
    explain: "Runs the deterministic graders (and any script or installed plugin graders) over every fixture in gait.yaml, writes regress_result.json and optionally JUnit, and exits 5 on any failure.",
    flags: RUN_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_run,
};

pub static BOOTSTRAP: Command = Command {
    path: "regress bootstrap",
    synopsis: "--from <run_id|path> [--name NAME] [--junit PATH]",
    summary: "regress init, then regress run, in one step.",
    explain: "Turns a runpack into a regress fixture and immediately runs the fixture set, writing regress_result.json and optionally JUnit.",
    flags: BOOTSTRAP_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_bootstrap,
};

#[derive(Serialize)]
struct InitOut {
    ok: bool,
    #[serde(flatten)]
    report: InitReport,
    next_commands: Vec<String>,
}

fn init(ctx: &Ctx, p: &Parsed, replace: bool) -> Result<InitReport, GaitError> {
    let from = from_or_positional(p, "runpack (--from <run_id|path>)")?;
    let source = paths::resolve_runpack(&from, &ctx.gait_home());
    init_fixture(&InitRequest {
        source: &source,
        name: p.opt("name").as_deref(),
        base_dir: Path::new("."),
        replace,
    })
}

fn init_response(report: InitReport, verb: &str) -> CmdResult {
    let text = format!(
        "regress {verb} ok: fixture={} run_id={} dir={} config={}\nnext=gait regress run",
        report.fixture_name, report.run_id, report.fixture_dir, report.config_path
    );
    Response::ok(
        &InitOut {
            ok: true,
            report,
            next_commands: vec!["gait regress run --json".to_string()],
        },
        text,
    )
}

fn run_init(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    init_response(init(ctx, &p, true)?, "init")
}

fn run_add(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    init_response(init(ctx, &p, false)?, "add")
}

#[derive(Serialize)]
struct Failure {
    name: String,
    reason_codes: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
}

#[derive(Serialize)]
struct RunOut {
    ok: bool,
    status: GradeStatus,
    fixture_set: String,
    fixtures: usize,
    graders: usize,
    failed: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    top_failure_reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failures: Vec<Failure>,
    #[serde(skip_serializing_if = "String::is_empty")]
    next_command: String,
    artifact_paths: Vec<String>,
    output: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    junit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixture: Option<InitReport>,
}

fn output_path(p: &Parsed, flag: &str) -> Result<Option<PathBuf>, GaitError> {
    match p.opt(flag) {
        None => Ok(None),
        Some(v) => {
            let path = PathBuf::from(v.trim());
            check_output_path(&path, &format!("--{flag}"))?;
            gait_engine::regress::run::check_report_dir(&path, &format!("--{flag}"))?;
            Ok(Some(path))
        }
    }
}

fn workers(p: &Parsed) -> Result<usize, GaitError> {
    match p.int("workers") {
        0 => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        n if n > 0 => Ok(n as usize),
        n => Err(
            GaitError::invalid(format!("--workers {n} must not be negative"))
                .with_hint("pass 0 for one worker per CPU"),
        ),
    }
}

/// The suggested next command: a diff against the candidate, or a verify of the fixture runpack.
fn next_command(prepared: &Prepared, result: &RegressResult) -> String {
    let Some(failed) = result.failed().next() else {
        return String::new();
    };
    let Some(entry) = prepared
        .fixtures
        .iter()
        .find(|f| f.name == failed.fixture())
    else {
        return String::new();
    };
    let baseline = entry.runpack.display().to_string();
    if entry.spec.candidate_runpack.is_empty() {
        format!("gait verify {baseline} --json")
    } else {
        let candidate = entry.dir.join(&entry.spec.candidate_runpack);
        format!("gait run diff {baseline} {} --json", candidate.display())
    }
}

fn regress(ctx: &Ctx, p: &Parsed, config: &Path, fixture: Option<InitReport>) -> CmdResult {
    let output = output_path(p, "output")?.unwrap_or_else(|| PathBuf::from("regress_result.json"));
    let junit = output_path(p, "junit")?;
    let workers = workers(p)?;
    let prepared = regress_run::prepare(config)?;
    // Installed grader plugins (named in gait.yaml / fixture.json, or newer builtins) are verified
    // and loaded here, before any fixture is graded.
    let host = super::plugin::host(ctx);
    let graders = Graders::prepare_with(&prepared, Limits::default(), &host)?;

    let total = prepared.fixtures.len();
    let bar = (!ctx.json && total >= PROGRESS_MIN_FIXTURES && std::io::stderr().is_terminal())
        .then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("grading {pos}/{len} fixtures {wide_bar}")
            {
                bar.set_style(style);
            }
            bar
        });
    let tick = |done: usize, _total: usize| {
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
        }
    };
    let settings = RunSettings {
        options: GradeOptions {
            allow_nondeterministic: p.bool("allow-nondeterministic"),
            context_conformance: p.bool("context-conformance"),
            allow_context_runtime_drift: p.bool("allow-context-runtime-drift"),
        },
        workers,
        progress: Some(&tick),
    };
    let result = regress_run::run(&prepared, &graders, &settings)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    regress_run::write_reports(&result, &output, junit.as_deref())?;

    let failures: Vec<Failure> = result
        .failed()
        .map(|g| Failure {
            name: g.name.clone(),
            reason_codes: g.reason_codes.clone(),
            message: g
                .details
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("")
                .to_string(),
        })
        .collect();
    let output_shown = output.display().to_string();
    let junit_shown = junit
        .as_ref()
        .map(|j| j.display().to_string())
        .unwrap_or_default();
    let mut artifact_paths = vec![output_shown.clone()];
    if !junit_shown.is_empty() {
        artifact_paths.push(junit_shown.clone());
    }
    let out = RunOut {
        ok: result.status == GradeStatus::Pass,
        status: result.status,
        fixture_set: result.fixture_set.clone(),
        fixtures: total,
        graders: result.graders.len(),
        failed: failures.len(),
        top_failure_reason: result
            .failed()
            .next()
            .map(|g| g.failure_text())
            .unwrap_or_default(),
        next_command: next_command(&prepared, &result),
        failures,
        artifact_paths,
        output: output_shown,
        junit: junit_shown,
        fixture,
    };

    let mut text = format!(
        "regress run {}: fixture_set={} fixtures={} graders={} failed={}",
        out.status.as_str(),
        out.fixture_set,
        out.fixtures,
        out.graders,
        out.failed
    );
    for f in &out.failures {
        // As the JUnit failure message: a grader that failed without reason codes "failed".
        let why = if f.reason_codes.is_empty() {
            "failed".to_string()
        } else {
            f.reason_codes.join(",")
        };
        text.push_str(&format!("\nFAIL {}: {why}", f.name));
        if !f.message.is_empty() {
            text.push_str(&format!(" ({})", f.message));
        }
    }
    text.push_str(&format!("\noutput={}", out.output));
    if !out.junit.is_empty() {
        text.push_str(&format!("\njunit={}", out.junit));
    }
    if !out.next_command.is_empty() {
        text.push_str(&format!("\nnext={}", out.next_command));
    }
    let code = if out.ok {
        exit::OK
    } else {
        exit::REGRESS_FAILED
    };
    Response::new(code, &out, text)
}

fn run_run(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    if !p.positionals.is_empty() {
        return Err(GaitError::invalid(format!(
            "unexpected positional arguments: {}",
            p.positionals.join(" ")
        ))
        .with_hint("pass the fixture set with --config"));
    }
    let config = PathBuf::from(p.str("config").trim());
    regress(ctx, &p, &config, None)
}

fn run_bootstrap(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    // Report paths are checked before the fixture is created, not after.
    output_path(&p, "output")?;
    output_path(&p, "junit")?;
    let report = init(ctx, &p, true)?;
    let config = PathBuf::from(&report.config_path);
    regress(ctx, &p, &config, Some(report))
}
