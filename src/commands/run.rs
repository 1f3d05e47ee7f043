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
        input,
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

const FROM_FLAG: Flag = Flag::string("from", "", "run id or runpack path");

pub static INSPECT: Command = Command {
    path: "run inspect",
    synopsis: "--from <run_id|path>",
    summary: "Show a runpack's intents and results as a deterministic timeline.",
    explain: "Prints a deterministic timeline of a runpack's intents and their results, by digest.",
    flags: &[FROM_FLAG],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_inspect,
};

fn run_inspect(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let arg = runpack_io::from_or_positional(&p, "runpack (--from <run_id|path>)")?;
    let loaded = runpack_io::load(ctx, &arg)?;
    let files = runpack::read::read_files(&loaded.archive)?;
    let rp = files.parse()?;
    let inspection = runpack::inspect::inspect(&rp);
    let mut text = format!(
        "run_id={} capture_mode={} intents={} results={} refs={}\nmanifest=sha256:{}",
        inspection.run_id,
        inspection.capture_mode,
        inspection.intent_count,
        inspection.result_count,
        inspection.ref_count,
        inspection.manifest_digest
    );
    for s in &inspection.steps {
        text.push_str(&format!(
            "\n{:>4} {} {} status={}",
            s.index, s.intent_id, s.tool_name, s.status
        ));
    }
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        path: &'a str,
        #[serde(flatten)]
        inspection: &'a runpack::inspect::Inspection,
    }
    Response::ok(
        &Out {
            ok: true,
            path: &loaded.path,
            inspection: &inspection,
        },
        text,
    )
}

pub static RECEIPT: Command = Command {
    path: "run receipt",
    synopsis: "--from <run_id|path>",
    summary: "Print the ticket footer of a runpack (after verifying it).",
    explain: "Verifies a runpack and prints its ticket footer, the one-line receipt to paste into incident tickets.",
    flags: &[FROM_FLAG],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_receipt,
};

fn run_receipt(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let arg = runpack_io::from_or_positional(&p, "runpack (--from <run_id|path>)")?;
    let loaded = runpack_io::load(ctx, &arg)?;
    let report = runpack::verify_archive(&loaded.archive, &runpack::VerifyOptions::default())?;
    if !report.ok {
        return Err(GaitError::verification(format!(
            "runpack {} failed verification; no receipt for it",
            loaded.path
        ))
        .with_hint(format!("run `gait verify {}` for details", loaded.path)));
    }
    let footer = ticket_footer(&report.run_id, &report.manifest_digest);
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        path: &'a str,
        run_id: &'a str,
        manifest_digest: &'a str,
        ticket_footer: &'a str,
    }
    Response::ok(
        &Out {
            ok: true,
            path: &loaded.path,
            run_id: &report.run_id,
            manifest_digest: &report.manifest_digest,
            ticket_footer: &footer,
        },
        footer.clone(),
    )
}

const REDUCE_FLAGS: &[Flag] = &[
    FROM_FLAG,
    Flag::string(
        "predicate",
        "missing_result",
        "missing_result or non_ok_status: the failure to keep",
    ),
    Flag::string(
        "out",
        "",
        "reduced runpack path (default <dir>/runpack_<run_id>_reduced_<predicate>.zip)",
    ),
    Flag::string(
        "report-out",
        "",
        "reduce report path (default <reduced runpack>.reduce_report.json)",
    ),
];

pub static REDUCE: Command = Command {
    path: "run reduce",
    synopsis: "--from <run_id|path> [--predicate missing_result|non_ok_status] [--out FILE]",
    summary: "Reduce a runpack to the smallest one that still shows a failure.",
    explain: "Writes the smallest runpack that still triggers the chosen failure predicate, plus a report of what was kept.",
    flags: REDUCE_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_reduce,
};

fn run_reduce(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    use runpack::reduce::{Predicate, reduce};
    let arg = runpack_io::from_or_positional(&p, "runpack (--from <run_id|path>)")?;
    let predicate = Predicate::parse(&p.str("predicate"))?;
    let loaded = runpack_io::load(ctx, &arg)?;
    let files = runpack::read::read_files(&loaded.archive)?;
    let (recorded, report) = reduce(&files, predicate, PRODUCER_VERSION)?;
    let out_path = match p.opt("out") {
        Some(out) => out.trim().to_string(),
        None => {
            let dir = std::path::Path::new(&loaded.path)
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            dir.join(format!(
                "runpack_{}_reduced_{}.zip",
                report.run_id,
                predicate.as_str()
            ))
            .display()
            .to_string()
        }
    };
    let report_path = p.opt("report-out").unwrap_or_else(|| {
        let stem = out_path.strip_suffix(".zip").unwrap_or(&out_path);
        format!("{stem}.reduce_report.json")
    });
    let output = runpack_io::write_output(&out_path, &recorded.zip, "--out")?;
    let report_bytes = gait_engine::gojson::to_indented(&report)
        .map_err(|e| GaitError::internal(format!("encode reduce report: {e}")))?;
    let report_out = runpack_io::write_output(&report_path, &report_bytes, "--report-out")?;
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        run_id: &'a str,
        reduced_run_id: &'a str,
        predicate: &'a str,
        selected_intent_id: &'a str,
        still_failing: bool,
        output: &'a str,
        report: &'a str,
        manifest_digest: &'a str,
        ticket_footer: String,
    }
    let out = Out {
        ok: true,
        run_id: &report.run_id,
        reduced_run_id: &report.reduced_run_id,
        predicate: predicate.as_str(),
        selected_intent_id: &report.selected_intent_id,
        still_failing: report.still_failing,
        output: &output,
        report: &report_out,
        manifest_digest: &recorded.manifest_digest,
        ticket_footer: ticket_footer(&report.reduced_run_id, &recorded.manifest_digest),
    };
    let text = format!(
        "run_id={}\nreduced_run_id={}\npredicate={}\nselected_intent_id={}\nstill_failing={}\nbundle={output}\nreport={report_out}",
        out.run_id, out.reduced_run_id, out.predicate, out.selected_intent_id, out.still_failing
    );
    Response::ok(&out, text)
}
