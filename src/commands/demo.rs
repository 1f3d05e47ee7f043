//! `gait demo`: record the offline demo runpack and verify it (CONTRACTS §1.2, seed README "Start Here").

use super::runpack_io;
use crate::cli::{CmdResult, Command, Ctx, Order, Parsed, Response};
use gait_engine::error::exit;
use gait_engine::runpack::demo::{DEMO_RUN_ID, record_demo};
use gait_engine::runpack::{self, VerifyOptions, ticket_footer};
use gait_engine::{GaitError, PRODUCER_VERSION};
use serde::Serialize;

pub static DEMO: Command = Command {
    path: "demo",
    synopsis: "[--json]",
    summary: "Record and verify the offline demo runpack (./gait-out/runpack_run_demo.zip).",
    explain: "Writes the offline demo runpack ./gait-out/runpack_run_demo.zip, verifies it, and prints its ticket footer.",
    flags: &[],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_demo,
};

const METRICS_OPT_IN: &str = "export GAIT_ADOPTION_LOG=./gait-out/adoption.jsonl";

#[derive(Serialize)]
struct DemoOut {
    ok: bool,
    mode: &'static str,
    run_id: String,
    bundle: String,
    manifest_digest: String,
    ticket_footer: String,
    verify: &'static str,
    next_commands: Vec<String>,
    metrics_opt_in: &'static str,
    duration_ms: f64,
}

fn run_demo(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    if !p.positionals.is_empty() {
        return Err(GaitError::invalid(format!(
            "unexpected positional arguments: {}",
            p.positionals.join(" ")
        ))
        .with_hint("gait demo takes no arguments"));
    }
    let recorded = record_demo(PRODUCER_VERSION)?;
    let report = runpack::verify_bytes(recorded.zip.clone(), &VerifyOptions::default())?;
    let bundle = runpack_io::write_runpack("./gait-out", &recorded.run_id, &recorded.zip)?;
    let footer = ticket_footer(DEMO_RUN_ID, &recorded.manifest_digest);
    let next_commands = vec![
        format!("gait verify {DEMO_RUN_ID} --json"),
        format!("gait run replay {DEMO_RUN_ID} --json"),
        format!("gait regress init --from {DEMO_RUN_ID} --json"),
    ];
    let verify = if report.ok { "ok" } else { "failed" };
    let text = format!(
        "mode=standard\nrun_id={DEMO_RUN_ID}\nbundle={bundle}\nticket_footer={footer}\nverify={verify}\nnext={}\nmetrics_opt_in={METRICS_OPT_IN}",
        next_commands.join(" ; ")
    );
    let out = DemoOut {
        ok: report.ok,
        mode: "standard",
        run_id: DEMO_RUN_ID.to_string(),
        bundle,
        manifest_digest: recorded.manifest_digest.clone(),
        ticket_footer: footer,
        verify,
        next_commands,
        metrics_opt_in: METRICS_OPT_IN,
        duration_ms: (ctx.elapsed_ms() * 1000.0).round() / 1000.0,
    };
    let code = if report.ok {
        exit::OK
    } else {
        exit::VERIFY_FAILED
    };
    Response::new(code, &out, text)
}
