//! `gait migrate <run_id|path>`: rewrite a runpack in the current schema generation (CONTRACTS §1.2).

use super::runpack_io::{self, signing_key};
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::runpack::migrate::{TARGET_V1, check_target, migrate};
use gait_engine::runpack::{self, VerifyOptions, ticket_footer};
use gait_engine::{GaitError, PRODUCER_VERSION};
use serde::Serialize;

const FLAGS: &[Flag] = &[
    Flag::string(
        "out",
        "",
        "output path (default: the source path with _migrated before .zip)",
    ),
    Flag::string("target", TARGET_V1, "schema generation to migrate to (v1)"),
    Flag::string(
        "key-mode",
        "dev",
        "dev (unsigned unless a key is given) or prod (key required)",
    ),
    Flag::string(
        "private-key",
        "",
        "sign the migrated manifest with this private key file",
    ),
    Flag::string(
        "private-key-env",
        "",
        "environment variable holding the base64 private key",
    ),
];

pub static MIGRATE: Command = Command {
    path: "migrate",
    synopsis: "<run_id|path> [--out FILE] [--target v1]",
    summary: "Rewrite a verified runpack in the current schema generation.",
    explain: "Verifies a runpack and rewrites it in the current (v1) schema generation next to the original.",
    flags: FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_migrate,
};

#[derive(Serialize)]
struct MigrateOut<'a> {
    ok: bool,
    source: &'a str,
    output: &'a str,
    target: &'static str,
    run_id: &'a str,
    source_manifest_digest: &'a str,
    manifest_digest: &'a str,
    changed: bool,
    ticket_footer: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

fn default_out(source: &str) -> String {
    match source.strip_suffix(".zip") {
        Some(stem) => format!("{stem}_migrated.zip"),
        None => format!("{source}_migrated.zip"),
    }
}

fn run_migrate(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let arg = runpack_io::one_positional(&p, "run id or runpack path")?;
    check_target(&p.str("target"))?;
    let key = signing_key(ctx, &p)?;
    let loaded = runpack_io::load(ctx, &arg)?;
    let report = runpack::verify_archive(&loaded.archive, &VerifyOptions::default())?;
    if !report.ok {
        return Err(GaitError::verification(format!(
            "runpack {} failed verification; refusing to migrate it",
            loaded.path
        ))
        .with_hint(format!("run `gait verify {}` for details", loaded.path)));
    }
    let files = runpack::read::read_files(&loaded.archive)?;
    let migrated = migrate(&files, key.as_ref(), PRODUCER_VERSION)?;
    let out_path = p.opt("out").unwrap_or_else(|| default_out(&loaded.path));
    let output = runpack_io::write_output(&out_path, &migrated.recorded.zip, "--out")?;
    let mut warnings = Vec::new();
    if migrated.source_was_signed && key.is_none() {
        warnings.push(
            "the source was signed; the migrated manifest is new and unsigned (pass --private-key to sign it)"
                .to_string(),
        );
    }
    let out = MigrateOut {
        ok: true,
        source: &loaded.path,
        output: &output,
        target: TARGET_V1,
        run_id: &migrated.recorded.run_id,
        source_manifest_digest: &migrated.source_manifest_digest,
        manifest_digest: &migrated.recorded.manifest_digest,
        changed: migrated.changed,
        ticket_footer: ticket_footer(
            &migrated.recorded.run_id,
            &migrated.recorded.manifest_digest,
        ),
        warnings: warnings.clone(),
    };
    let text = format!(
        "migrate ok: {} -> {output}\ntarget={TARGET_V1} changed={}\nticket_footer={}",
        out.source, out.changed, out.ticket_footer
    );
    Ok(Response::ok(&out, text)?.with_warnings(&warnings))
}
