//! `gait run record`: a run record → `runpack_<run_id>.zip` (CONTRACTS §1.2, §3.3).

use super::runpack_io::{self, signing_key};
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::runpack::{self, Platform, RecordOptions, ticket_footer};
use gait_engine::{GaitError, PRODUCER_VERSION, fsx};
use serde::Serialize;

/// Run-record inputs above this size are refused (the 100,000-record benchmark input is ~254 MB).
const MAX_INPUT_BYTES: u64 = 1024 * 1024 * 1024;
const MAX_ENVELOPE_BYTES: u64 = 16 * 1024 * 1024;

const KEY_FLAGS: [Flag; 3] = [
    Flag::string(
        "key-mode",
        "dev",
        "dev (unsigned unless a key is given) or prod (key required)",
    ),
    Flag::string(
        "private-key",
        "",
        "sign the manifest with this ed25519 private key file",
    ),
    Flag::string(
        "private-key-env",
        "",
        "environment variable holding the base64 private key",
    ),
];

const RECORD_FLAGS: &[Flag] = &[
    Flag::string(
        "input",
        "",
        "run record JSON ({run, intents, results, refs, capture_mode})",
    ),
    Flag::string(
        "out-dir",
        "./gait-out",
        "directory for runpack_<run_id>.zip",
    ),
    Flag::string(
        "run-id",
        "",
        "override the run id of the run and every record",
    ),
    Flag::string(
        "capture-mode",
        "",
        "reference (default: payloads digested then stripped) or raw (payloads kept)",
    ),
    KEY_FLAGS[0],
    KEY_FLAGS[1],
    KEY_FLAGS[2],
    Flag::string(
        "context-envelope",
        "",
        "gait.context.envelope file whose records become context receipts",
    ),
    Flag::string(
        "context-evidence-mode",
        "best_effort",
        "best_effort or required (required needs a context_set_digest)",
    ),
    Flag::bool(
        "unsafe-context-raw",
        "allow receipts with redaction_mode=raw (sensitive)",
    ),
];

pub static RECORD: Command = Command {
    path: "run record",
    synopsis: "<run_record.json> | --input <run_record.json> [flags]",
    summary: "Record a run record as a deterministic, verifiable runpack zip.",
    explain: "Records a run (intents, results, reference receipts) as a deterministic runpack zip whose manifest digest is the receipt you paste into tickets.",
    flags: RECORD_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_record,
};

#[derive(Serialize)]
struct RecordOut {
    ok: bool,
    run_id: String,
    bundle: String,
    manifest_digest: String,
    signature_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_key_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    ticket_footer: String,
}

fn input_path(p: &Parsed) -> Result<String, GaitError> {
    match (p.opt("input"), p.positionals.as_slice()) {
        (Some(input), []) => Ok(input),
        (None, [one]) => Ok(one.clone()),
        (Some(input), [one]) if input.trim() == one.trim() => Ok(input),
        (None, []) => Err(GaitError::invalid("missing required --input")
            .with_hint("gait run record <run_record.json> or --input <run_record.json>")),
        _ => Err(GaitError::invalid("expected one run record input")
            .with_hint("pass the run record once, as an argument or with --input")),
    }
}

fn run_record(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let input_path = input_path(&p)?;
    let key = signing_key(ctx, &p)?;
    let input = fsx::read_bounded(std::path::Path::new(input_path.trim()), MAX_INPUT_BYTES)?;
    let envelope = match p.opt("context-envelope") {
        Some(path) => Some(fsx::read_bounded(
            std::path::Path::new(path.trim()),
            MAX_ENVELOPE_BYTES,
        )?),
        None => None,
    };
    let platform = Platform::current();
    let capture = p.opt("capture-mode");
    let run_id = p.opt("run-id");
    let mode = p
        .is_set("context-evidence-mode")
        .then(|| p.str("context-evidence-mode"));
    let recorded = runpack::record(
        &input,
        &RecordOptions {
            run_id: run_id.as_deref(),
            capture_mode: capture.as_deref(),
            context_envelope: envelope.as_deref(),
            context_evidence_mode: mode.as_deref(),
            unsafe_context_raw: p.bool("unsafe-context-raw"),
            signing_key: key.as_ref(),
            now: ctx.now().utc(),
            platform: &platform,
            producer_version: PRODUCER_VERSION,
        },
    )?;
    drop(input);
    let bundle = runpack_io::write_runpack(&p.str("out-dir"), &recorded.run_id, &recorded.zip)?;
    let footer = ticket_footer(&recorded.run_id, &recorded.manifest_digest);
    let out = RecordOut {
        ok: true,
        run_id: recorded.run_id.clone(),
        bundle: bundle.clone(),
        manifest_digest: recorded.manifest_digest.clone(),
        signature_status: if recorded.signature_key_id.is_some() {
            "signed"
        } else {
            "missing"
        },
        signature_key_id: recorded.signature_key_id.clone(),
        warnings: recorded.warnings.clone(),
        ticket_footer: footer.clone(),
    };
    let mut text = format!(
        "run_id={}\nbundle={bundle}\nmanifest_digest={}\nsignature_status={}\n",
        out.run_id, out.manifest_digest, out.signature_status
    );
    if let Some(k) = &out.signature_key_id {
        text.push_str(&format!("signature_key_id={k}\n"));
    }
    text.push_str(&format!("ticket_footer={footer}"));
    Ok(Response::ok(&out, text)?.with_warnings(&recorded.warnings))
}
