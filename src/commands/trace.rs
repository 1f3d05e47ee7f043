//! `gait trace verify`: check a gate trace's signature offline.

use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::error::exit;
use gait_engine::{GaitError, fsx};
use serde::Serialize;
use std::path::Path;

pub static VERIFY: Command = Command {
    path: "trace verify",
    synopsis: "<trace.json> --public-key FILE",
    summary: "Verify a gate trace's signature offline (exit 2 when it does not verify).",
    explain: "Verifies the ed25519 signature of a gate trace record against a public key, offline, and exits 2 when the trace was altered or signed by another key.",
    flags: &[
        Flag::string("public-key", "", "public key file"),
        Flag::string(
            "public-key-env",
            "",
            "environment variable holding the public key",
        ),
        Flag::string(
            "private-key",
            "",
            "private key file (its public half verifies)",
        ),
        Flag::string(
            "private-key-env",
            "",
            "environment variable holding the private key",
        ),
    ],
    order: Order::Interspersed,
    custom_explain: false,
    run,
};

#[derive(Serialize)]
struct Output {
    ok: bool,
    path: String,
    trace_id: String,
    verdict: String,
    signature_status: String,
    key_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

fn run(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let [path] = p.positionals.as_slice() else {
        return Err(GaitError::invalid("expected <trace.json>")
            .with_hint("gait trace verify <trace.json> --public-key FILE"));
    };
    let public = ctx.key_source(&p, "public-key", "public-key-env")?;
    let private = ctx.key_source(&p, "private-key", "private-key-env")?;
    if !public.is_set() && !private.is_set() {
        return Err(GaitError::invalid("public key not configured")
            .with_hint("pass --public-key FILE (or --public-key-env VAR)"));
    }
    let key = gait_engine::crypto::load_verify_key(&public, &private)?;
    let bytes = fsx::read_bounded(Path::new(path), gait_gate::trace::MAX_TRACE_BYTES)
        .map_err(|e| GaitError::invalid(format!("read trace: {e}")))?;
    let v = gait_gate::trace::verify(&bytes, &key)?;
    let out = Output {
        ok: v.verified,
        path: path.clone(),
        trace_id: v.record.trace_id.clone(),
        verdict: v.record.verdict.clone(),
        signature_status: if v.verified { "verified" } else { "failed" }.into(),
        key_id: v.key_id.clone(),
        error: if v.verified {
            String::new()
        } else {
            format!("trace signature verification failed: {}", v.error)
        },
    };
    if v.verified {
        let text = format!(
            "trace verify ok: {path}\ntrace_id={}\nverdict={}\nsignature_status=verified\nkey_id={}",
            out.trace_id, out.verdict, out.key_id
        );
        Response::ok(&out, text)
    } else {
        let text = format!("trace verify failed: {path}: {}", v.error);
        Response::new(exit::VERIFY_FAILED, &out, text)
    }
}
