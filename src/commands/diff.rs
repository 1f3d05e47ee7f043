//! `gait run diff <left> <right>`: deterministic runpack comparison (CONTRACTS §1.2, §3.8).

use super::runpack_io;
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::error::exit;
use gait_engine::runpack::diff::{DiffReport, Privacy, diff};
use gait_engine::{GaitError, gojson, runpack};
use serde::Serialize;

const FLAGS: &[Flag] = &[
    Flag::string(
        "privacy",
        "full",
        "full (compare payloads) or metadata (digests and counts only)",
    ),
    Flag::string("output", "", "also write the diff as JSON to this file"),
];

pub static DIFF: Command = Command {
    path: "run diff",
    synopsis: "<left run_id|path> <right run_id|path> [--privacy full|metadata] [--output FILE]",
    summary: "Diff two runpacks deterministically (exit 2 when they differ).",
    explain: "Compares two runpacks intent by intent and result by result, ignoring run ids and times, and exits 2 when they differ.",
    flags: FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_diff,
};

#[derive(Serialize)]
struct DiffOut<'a> {
    ok: bool,
    #[serde(flatten)]
    report: &'a DiffReport,
    #[serde(skip_serializing_if = "String::is_empty")]
    output: String,
}

fn run_diff(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let [left, right] = p.positionals.as_slice() else {
        return Err(GaitError::invalid(format!(
            "expected two runpacks to compare, got {}",
            p.positionals.len()
        ))
        .with_hint("gait run diff <left run_id|path> <right run_id|path>"));
    };
    let privacy = Privacy::parse(&p.str("privacy"))?;
    let left = runpack_io::load(ctx, left)?;
    let right = runpack_io::load(ctx, right)?;
    let lf = runpack::read::read_files(&left.archive)?;
    let rf = runpack::read::read_files(&right.archive)?;
    let report = diff(&lf.parse()?, &rf.parse()?, privacy)?;
    let output = match p.opt("output") {
        Some(path) => {
            let bytes = gojson::to_indented(&report)
                .map_err(|e| GaitError::internal(format!("encode diff: {e}")))?;
            runpack_io::write_output(&path, &bytes, "--output")?
        }
        None => String::new(),
    };
    let same = report.same();
    let s = &report.summary;
    let mut text = format!(
        "diff {}: left={} right={}\nmanifest_changed={} intents_changed={} results_changed={} refs_changed={}\ncontext_drift={}",
        if same { "same" } else { "differs" },
        s.run_id_left,
        s.run_id_right,
        s.manifest_changed,
        s.intents_changed,
        s.results_changed,
        s.refs_changed,
        s.context_drift_classification
    );
    for (label, ids) in [
        ("changed_intents", &s.changed_intents),
        ("changed_results", &s.changed_results),
        ("left_only_intents", &s.left_only_intents),
        ("right_only_intents", &s.right_only_intents),
        ("left_only_results", &s.left_only_results),
        ("right_only_results", &s.right_only_results),
    ] {
        if !ids.is_empty() {
            text.push_str(&format!("\n{label}={}", ids.join(",")));
        }
    }
    if !output.is_empty() {
        text.push_str(&format!("\noutput={output}"));
    }
    let out = DiffOut {
        ok: same,
        report: &report,
        output,
    };
    Response::new(
        if same { exit::OK } else { exit::VERIFY_FAILED },
        &out,
        text,
    )
}
