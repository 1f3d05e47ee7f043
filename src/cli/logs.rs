//! Opt-in local event logs, appended as JSONL for every command:
//! - `GAIT_OPERATIONAL_LOG`: a start and an end event per invocation (`gait.scout.operational_event`),
//! - `GAIT_ADOPTION_LOG`: one event per invocation (`gait.scout.adoption_event`), with the optional
//!   `GAIT_ADOPTION_WORKFLOW` label.
//!
//! Logging never changes a command's outcome. A log that cannot be written produces a warning on
//! stderr in human mode (silenced by `GAIT_TELEMETRY_WARN=off`) and nothing in `--json` mode, whose
//! stderr stays empty.

use super::Ctx;
use gait_engine::{Category, GoTime, PRODUCER_VERSION};
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct OperationalEvent<'a> {
    schema_id: &'static str,
    schema_version: &'static str,
    created_at: GoTime,
    producer_version: &'static str,
    correlation_id: &'a str,
    command: &'a str,
    phase: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_category: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retryable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed_ms: Option<f64>,
}

#[derive(Serialize)]
struct AdoptionEvent<'a> {
    schema_id: &'static str,
    schema_version: &'static str,
    created_at: GoTime,
    producer_version: &'static str,
    correlation_id: &'a str,
    command: &'a str,
    success: bool,
    exit_code: i32,
    elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow: Option<String>,
}

fn command_name(ctx: &Ctx) -> String {
    if ctx.command.is_empty() {
        ctx.argv.get(1).cloned().unwrap_or_default()
    } else {
        ctx.command.clone()
    }
}

fn append(ctx: &Ctx, var: &str, line: Result<Vec<u8>, serde_json::Error>) {
    let Some(path) = ctx.env(var).filter(|p| !p.trim().is_empty()) else {
        return;
    };
    let result = line.map_err(|e| e.to_string()).and_then(|mut bytes| {
        bytes.push(b'\n');
        let path = std::path::Path::new(path.trim());
        if let Some(dir) = path.parent() {
            gait_engine::fsx::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        // One write of the whole line: appends of this size are not interleaved between processes.
        opts.open(path)
            .and_then(|mut f| f.write_all(&bytes))
            .map_err(|e| gait_engine::fsx::io_reason(&e))
    });
    if let Err(e) = result
        && !ctx.json
        && ctx.env("GAIT_TELEMETRY_WARN").as_deref() != Some("off")
    {
        eprintln!("warning: could not append to {var}: {e}");
    }
}

pub fn operational_start(ctx: &Ctx, now: &GoTime) {
    if ctx.env("GAIT_OPERATIONAL_LOG").is_none() {
        return;
    }
    // The same name the end event will carry: the resolved command path (never its positionals,
    // which may be file paths), a group name, or the first word.
    let args = ctx.argv.get(1..).unwrap_or_default();
    let command = match crate::commands::find(args) {
        Some((cmd, _)) => cmd.path.to_string(),
        None => crate::commands::group(args)
            .map(|(g, _)| g)
            .unwrap_or_else(|| command_name(ctx)),
    };
    let event = OperationalEvent {
        schema_id: "gait.scout.operational_event",
        schema_version: "1.0.0",
        created_at: *now,
        producer_version: PRODUCER_VERSION,
        correlation_id: &ctx.correlation_id,
        command: &command,
        phase: "start",
        exit_code: None,
        error_category: None,
        retryable: None,
        elapsed_ms: None,
    };
    append(
        ctx,
        "GAIT_OPERATIONAL_LOG",
        gait_engine::gojson::to_compact(&event),
    );
}

pub fn operational_end(ctx: &Ctx, code: i32, category: Option<Category>) {
    if ctx.env("GAIT_OPERATIONAL_LOG").is_none() {
        return;
    }
    let category = category.or((code != 0).then(|| Category::for_exit(code)));
    let command = command_name(ctx);
    let event = OperationalEvent {
        schema_id: "gait.scout.operational_event",
        schema_version: "1.0.0",
        created_at: ctx.now(),
        producer_version: PRODUCER_VERSION,
        correlation_id: &ctx.correlation_id,
        command: &command,
        phase: "end",
        exit_code: Some(code),
        error_category: category.map(Category::as_str),
        retryable: Some(category.is_some_and(Category::retryable)),
        elapsed_ms: Some(ctx.elapsed_ms()),
    };
    append(
        ctx,
        "GAIT_OPERATIONAL_LOG",
        gait_engine::gojson::to_compact(&event),
    );
}

pub fn adoption(ctx: &Ctx, code: i32) {
    if ctx.env("GAIT_ADOPTION_LOG").is_none() {
        return;
    }
    let command = command_name(ctx);
    let event = AdoptionEvent {
        schema_id: "gait.scout.adoption_event",
        schema_version: "1.0.0",
        created_at: ctx.now(),
        producer_version: PRODUCER_VERSION,
        correlation_id: &ctx.correlation_id,
        command: &command,
        success: code == 0,
        exit_code: code,
        elapsed_ms: ctx.elapsed_ms(),
        workflow: ctx
            .env("GAIT_ADOPTION_WORKFLOW")
            .filter(|w| !w.trim().is_empty()),
    };
    append(
        ctx,
        "GAIT_ADOPTION_LOG",
        gait_engine::gojson::to_compact(&event),
    );
}
