//! `gait verify <run_id|path>`: integrity and signatures of a runpack (CONTRACTS §1.2).

use super::runpack_io;
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::crypto::load_verify_key;
use gait_engine::error::exit;
use gait_engine::runpack::{self, VerifyOptions, VerifyReport};
use gait_engine::{GaitError, canon};
use serde::Serialize;

const FLAGS: &[Flag] = &[
    Flag::string(
        "profile",
        "standard",
        "standard, or strict (a verified signature is required)",
    ),
    Flag::bool(
        "require-signature",
        "fail unless a signature verifies with the given key",
    ),
    Flag::string(
        "public-key",
        "",
        "ed25519 public key file to verify signatures with",
    ),
    Flag::string(
        "public-key-env",
        "",
        "environment variable holding the base64 public key",
    ),
    Flag::string(
        "private-key",
        "",
        "derive the verify key from this private key file",
    ),
    Flag::string(
        "private-key-env",
        "",
        "environment variable holding the base64 private key",
    ),
];

pub static VERIFY: Command = Command {
    path: "verify",
    synopsis: "<run_id|path> [flags]",
    summary: "Verify a runpack offline: file hashes, manifest digest, signatures.",
    explain: "Verifies a runpack offline: every file hash, the manifest digest and, given a key, the manifest signatures.",
    flags: FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_verify,
};

#[derive(Serialize)]
struct VerifyOut<'a> {
    #[serde(flatten)]
    report: &'a VerifyReport,
    path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    next_commands: Vec<String>,
}

/// What the reference suggests after a successful verify (vectors: `verify.output.next_commands`).
pub fn next_commands(run_id: &str) -> Vec<String> {
    vec![
        format!("gait regress bootstrap --from {run_id} --json --junit ./gait-out/junit.xml"),
        "gait demo --durable".to_string(),
        "gait demo --policy".to_string(),
    ]
}

/// Human text for a verify report.
pub fn report_text(report: &VerifyReport, path: &str) -> String {
    let mut text = format!(
        "verify {}: run_id={} path={path}\nmanifest=sha256:{}\nfiles_checked={}\nsignature_status={}",
        if report.ok { "ok" } else { "failed" },
        report.run_id,
        report.manifest_digest,
        report.files_checked,
        report.signature_status.as_str(),
    );
    for m in &report.missing_files {
        text.push_str(&format!("\nmissing_file={m}"));
    }
    for h in &report.hash_mismatches {
        text.push_str(&format!(
            "\nhash_mismatch={} expected={} actual={}",
            h.path, h.expected, h.actual
        ));
    }
    for u in &report.undeclared_files {
        text.push_str(&format!("\nundeclared_file={}", canon::go_quote(u)));
    }
    for e in &report.signature_errors {
        text.push_str(&format!("\nsignature_error={e}"));
    }
    if !report.signature_note.is_empty() {
        text.push_str(&format!("\nsignature_note={}", report.signature_note));
    }
    text
}

pub fn verify_options(ctx: &Ctx, p: &Parsed) -> Result<VerifyOptions, GaitError> {
    let strict = match p.str("profile").trim().to_ascii_lowercase().as_str() {
        "" | "standard" => false,
        "strict" => true,
        other => {
            return Err(GaitError::invalid(format!(
                "unsupported --profile {}",
                canon::go_quote(other)
            ))
            .with_hint("use --profile standard or --profile strict"));
        }
    };
    let public = ctx.key_source(p, "public-key", "public-key-env")?;
    let private = ctx.key_source(p, "private-key", "private-key-env")?;
    let verify_key = if public.is_set() || private.is_set() {
        Some(load_verify_key(&public, &private)?)
    } else {
        None
    };
    Ok(VerifyOptions {
        require_signature: strict || p.bool("require-signature"),
        verify_key,
    })
}

fn run_verify(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let arg = runpack_io::one_positional(&p, "run id or runpack path")?;
    let opts = verify_options(ctx, &p)?;
    let loaded = runpack_io::load(ctx, &arg)?;
    let report = runpack::verify_archive(&loaded.archive, &opts)?;
    let out = VerifyOut {
        report: &report,
        path: loaded.path.clone(),
        next_commands: if report.ok {
            next_commands(&report.run_id)
        } else {
            Vec::new()
        },
    };
    let code = if report.ok {
        exit::OK
    } else {
        exit::VERIFY_FAILED
    };
    Response::new(code, &out, report_text(&report, &loaded.path))
}
