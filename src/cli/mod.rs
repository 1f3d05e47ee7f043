//! The command-line shell around the engine: dispatch, flags, output, exit codes, event logs.
//!
//! This is the only code that touches stdout/stderr, environment variables, the clock, randomness
//! and the gait home directory. Commands (`crate::commands`) parse nothing by hand: the dispatcher
//! parses each command's flag table and hands the command a [`flags::Parsed`].

// Flag kinds (int, duration) and run-id resolution serve command groups that land on other
// branches; until they do, the binary alone does not use them all.
#[allow(dead_code)]
pub mod flags;
mod logs;
#[allow(dead_code)]
pub mod paths;

use gait_engine::error::{Envelope, GaitError, exit};
use gait_engine::{GoTime, PRODUCER_VERSION, gojson};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

pub use flags::{Flag, Order, Parsed};

/// What a command returns: its exit code, its JSON object and its human text.
pub struct Response {
    pub exit: i32,
    pub json: serde_json::Value,
    pub text: String,
    /// Warnings printed on stderr in human mode (they are part of `json` for `--json`).
    pub warnings: Vec<String>,
}

impl Response {
    /// A response from any serializable output object (it must serialize to a JSON object).
    pub fn new<T: Serialize>(
        exit: i32,
        value: &T,
        text: impl Into<String>,
    ) -> Result<Self, GaitError> {
        let json = serde_json::to_value(value).map_err(|e| {
            GaitError::internal(format!("failed to encode output: {e}")).with_code("encode_failed")
        })?;
        Ok(Response {
            exit,
            json,
            text: text.into(),
            warnings: Vec::new(),
        })
    }

    pub fn ok<T: Serialize>(value: &T, text: impl Into<String>) -> Result<Self, GaitError> {
        Self::new(exit::OK, value, text)
    }

    pub fn with_warnings(mut self, warnings: &[String]) -> Self {
        self.warnings.extend(warnings.iter().cloned());
        self
    }
}

pub type CmdResult = Result<Response, GaitError>;

/// A command: its words, flags, documentation and handler. One table entry per command.
pub struct Command {
    /// Space-separated words after `gait` (`"gate eval"`).
    pub path: &'static str,
    /// Positional arguments for the usage line (`"<run_id|path>"`).
    pub synopsis: &'static str,
    pub summary: &'static str,
    /// The fixed one-sentence `--explain` text.
    pub explain: &'static str,
    pub flags: &'static [Flag],
    pub order: Order,
    /// The handler treats `--explain` itself (only `gate eval`, whose `--explain --json` is structured).
    pub custom_explain: bool,
    pub run: fn(&mut Ctx, Parsed) -> CmdResult,
}

/// Per-invocation context handed to commands.
pub struct Ctx {
    pub argv: Vec<String>,
    /// The command words (`"gate eval"`), for messages.
    pub command: String,
    pub correlation_id: String,
    pub json: bool,
    started: Instant,
}

impl Ctx {
    /// An environment variable, or `None` when unset or not valid UTF-8.
    pub fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    /// The environment variables whose names start with `prefix` (UTF-8 ones only).
    pub fn env_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with(prefix))
            .collect()
    }

    /// The wall clock, for the values the engine is given (it never reads the clock itself).
    pub fn now(&self) -> GoTime {
        GoTime::from_utc(chrono::Utc::now())
    }

    pub fn elapsed_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    /// 32 random bytes from the OS (dev-mode ephemeral keys).
    pub fn random_seed(&self) -> Result<[u8; 32], GaitError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| GaitError::internal(format!("read OS randomness: {e}")))?;
        Ok(seed)
    }

    /// The gait home directory: `GAIT_HOME`, else `~/.gait`.
    pub fn gait_home(&self) -> PathBuf {
        paths::gait_home(self.env("GAIT_HOME"))
    }

    /// A key source from a path flag and an env-var-name flag (the variable is read here).
    pub fn key_source(
        &self,
        parsed: &Parsed,
        path_flag: &str,
        env_flag: &str,
    ) -> Result<gait_engine::crypto::KeySource, GaitError> {
        let path = parsed.opt(path_flag).map(|p| PathBuf::from(p.trim()));
        let env = match parsed.opt(env_flag) {
            Some(name) => {
                let name = name.trim().to_string();
                match self.env(&name) {
                    Some(v) if !v.trim().is_empty() => Some((name, v)),
                    _ => {
                        return Err(GaitError::invalid(format!(
                            "environment variable {name} is empty or not set"
                        )));
                    }
                }
            }
            None => None,
        };
        Ok(gait_engine::crypto::KeySource { path, env })
    }
}

/// hex(sha256(argv joined by 0x1f, each trimmed))[:24] — the reference's correlation id.
pub fn correlation_id(argv: &[String]) -> String {
    if argv.is_empty() {
        return "0".repeat(24);
    }
    let joined = argv
        .iter()
        .map(|a| a.trim())
        .collect::<Vec<_>>()
        .join("\u{1f}");
    gait_engine::canon::sha256_hex(joined.as_bytes())[..24].to_string()
}

/// Runs gait with `argv` (including argv[0]) and returns the process exit code.
pub fn main(argv: Vec<String>) -> i32 {
    let mut ctx = Ctx {
        correlation_id: correlation_id(&argv),
        argv,
        command: String::new(),
        json: false,
        started: Instant::now(),
    };
    let started_at = ctx.now();
    logs::operational_start(&ctx, &started_at);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(&mut ctx)));
    let (code, category) = match outcome {
        Ok(result) => result,
        Err(_) => {
            // A panic is a bug; still answer with the stable internal-failure contract, never 101.
            let err = GaitError::internal("internal error: unexpected failure; please report it");
            emit_error(&ctx, &err);
            (exit::INTERNAL, Some(err.category))
        }
    };
    logs::operational_end(&ctx, code, category);
    logs::adoption(&ctx, code);
    code
}

fn wants_json(args: &[String]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json" || a == "-json" || a == "--json=true" || a == "-json=true")
}

fn has_flag(args: &[String], names: &[&str]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| names.contains(&a.as_str()))
}

fn dispatch(ctx: &mut Ctx) -> (i32, Option<gait_engine::Category>) {
    let args: Vec<String> = ctx.argv.iter().skip(1).cloned().collect();
    let Some(first) = args.first() else {
        write_stdout(format!("gait {PRODUCER_VERSION}\n").as_bytes());
        return (exit::OK, None);
    };
    match first.as_str() {
        "--help" | "-h" | "help" | "-help" => {
            // Installed plugins' commands are read from their pins only here, when help is asked.
            let usage = format!(
                "{}{}",
                crate::commands::usage(),
                crate::commands::plugin::installed_commands_usage(ctx)
            );
            write_stdout(usage.as_bytes());
            return (exit::OK, None);
        }
        "--explain" | "-explain" => {
            write_stdout(b"gait is the execution boundary for AI agents: it gates tool-call intents with policy, signs every decision, and packs runs into verifiable, replayable runpacks.\n");
            return (exit::OK, None);
        }
        "version" | "--version" | "-v" | "-version" => {
            ctx.command = "version".into();
            ctx.json = wants_json(&args);
            let resp = Response {
                exit: exit::OK,
                json: serde_json::json!({"ok": true, "version": PRODUCER_VERSION}),
                text: format!("gait {PRODUCER_VERSION}"),
                warnings: Vec::new(),
            };
            emit_response(ctx, &resp);
            return (exit::OK, None);
        }
        _ => {}
    }
    let Some((cmd, consumed)) = crate::commands::find(&args) else {
        if let Some((group, consumed)) = crate::commands::group(&args) {
            return group_usage(ctx, &group, &args[consumed..]);
        }
        // Commands contributed by installed native plugins; looked up only for unknown words.
        if let Some(result) = crate::commands::plugin::extension(ctx, &args) {
            return match result {
                Ok(resp) => {
                    emit_response(ctx, &resp);
                    (resp.exit, None)
                }
                Err(err) => {
                    emit_error(ctx, &err);
                    (err.exit_code(), Some(err.category))
                }
            };
        }
        if let Some((group, usage, consumed)) = crate::commands::plugin::extension_group(ctx, &args)
        {
            return show_group(ctx, &group, usage, &args[consumed..]);
        }
        ctx.json = wants_json(&args);
        ctx.command = String::new();
        // Like the reference's dispatch switch: the first argument is the command word.
        let word = args.first().map(String::as_str).unwrap_or_default();
        let err = GaitError::invalid(format!("unknown command: {word}"))
            .with_hint("run `gait --help` to list commands");
        if ctx.json {
            emit_error(ctx, &err);
        } else {
            write_stdout(
                format!("error: {}\n{}", err.message, crate::commands::usage()).as_bytes(),
            );
        }
        return (exit::INVALID_INPUT, Some(err.category));
    };
    ctx.command = cmd.path.to_string();
    let rest = &args[consumed..];
    if !cmd.custom_explain
        && has_flag(
            rest,
            &["--explain", "-explain", "--explain=true", "-explain=true"],
        )
    {
        ctx.json = wants_json(rest);
        let resp = Response {
            exit: exit::OK,
            json: serde_json::json!({"ok": true, "command": format!("gait {}", cmd.path), "explain": cmd.explain}),
            text: cmd.explain.to_string(),
            warnings: Vec::new(),
        };
        emit_response(ctx, &resp);
        return (exit::OK, None);
    }
    let parsed = match flags::parse(cmd.flags, rest, cmd.order) {
        Ok(p) => p,
        Err(e) => {
            ctx.json = e.partial.bool("json");
            let err = GaitError::invalid(e.message);
            emit_error(ctx, &err);
            return (err.exit_code(), Some(err.category));
        }
    };
    ctx.json = parsed.bool("json");
    if parsed.help {
        let text = flags::usage(cmd.path, cmd.synopsis, cmd.summary, cmd.flags);
        let resp = Response {
            exit: exit::OK,
            json: serde_json::json!({"ok": true, "command": format!("gait {}", cmd.path), "usage": text}),
            text,
            warnings: Vec::new(),
        };
        emit_response(ctx, &resp);
        return (exit::OK, None);
    }
    match (cmd.run)(ctx, parsed) {
        Ok(resp) => {
            emit_response(ctx, &resp);
            (resp.exit, None)
        }
        Err(err) => {
            emit_error(ctx, &err);
            (err.exit_code(), Some(err.category))
        }
    }
}

/// `gait <group>` without a (known) subcommand: the group's commands with `--help` (exit 0), else an
/// invalid-input error that lists them.
fn group_usage(
    ctx: &mut Ctx,
    group: &str,
    rest: &[String],
) -> (i32, Option<gait_engine::Category>) {
    show_group(ctx, group, crate::commands::group_usage(group), rest)
}

/// A command group's usage with `--help` / `--explain` (exit 0), else the invalid-input error
/// "missing subcommand" / "unknown <group> subcommand" that lists it: builtin groups and groups of
/// commands contributed by installed plugins alike.
fn show_group(
    ctx: &mut Ctx,
    group: &str,
    usage: String,
    rest: &[String],
) -> (i32, Option<gait_engine::Category>) {
    ctx.command = group.to_string();
    ctx.json = wants_json(rest);
    if has_flag(rest, &["--help", "-help", "-h", "--explain", "-explain"]) {
        let resp = Response {
            exit: exit::OK,
            json: serde_json::json!({"ok": true, "command": format!("gait {group}"), "usage": usage}),
            text: usage,
            warnings: Vec::new(),
        };
        emit_response(ctx, &resp);
        return (exit::OK, None);
    }
    let message = match rest.iter().find(|a| !a.starts_with('-')) {
        Some(word) => format!("unknown {group} subcommand: {word}"),
        None => format!("missing subcommand: gait {group} <subcommand>"),
    };
    let err = GaitError::invalid(message)
        .with_hint(format!("run `gait {group} --help` to list its commands"));
    if ctx.json {
        emit_error(ctx, &err);
    } else {
        write_stdout(format!("{group} error: {}\n{usage}", err.message).as_bytes());
    }
    (err.exit_code(), Some(err.category))
}

fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

/// Adds the fields every `--json` object carries: `correlation_id`, and the envelope when `error` is set.
fn finish_json(ctx: &Ctx, exit_code: i32, mut json: serde_json::Value) -> serde_json::Value {
    if let serde_json::Value::Object(map) = &mut json {
        let missing = map
            .get("correlation_id")
            .and_then(|v| v.as_str())
            .is_none_or(str::is_empty);
        if missing {
            map.insert("correlation_id".into(), ctx.correlation_id.clone().into());
        }
        let has_error = map
            .get("error")
            .and_then(|v| v.as_str())
            .is_some_and(|s| !s.is_empty());
        if has_error {
            let category = gait_engine::Category::for_exit(exit_code);
            map.entry("error_code")
                .or_insert_with(|| gait_engine::error::default_error_code(exit_code).into());
            map.entry("error_category")
                .or_insert_with(|| category.as_str().into());
            map.entry("retryable")
                .or_insert_with(|| category.retryable().into());
            map.entry("hint")
                .or_insert_with(|| gait_engine::error::default_hint(exit_code).into());
        }
        map.entry("ok")
            .or_insert(serde_json::Value::Bool(exit_code == exit::OK));
    }
    json
}

fn emit_response(ctx: &Ctx, resp: &Response) {
    if ctx.json {
        let json = finish_json(ctx, resp.exit, resp.json.clone());
        match gojson::to_line(&json) {
            Ok(bytes) => write_stdout(&bytes),
            Err(_) => write_stdout(b"{\"ok\":false,\"error\":\"failed to encode output\",\"error_code\":\"encode_failed\",\"error_category\":\"internal_failure\",\"retryable\":false}\n"),
        }
    } else {
        for w in &resp.warnings {
            write_stderr(&format!("warning: {w}\n"));
        }
        if !resp.text.is_empty() {
            let mut text = resp.text.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            write_stdout(text.as_bytes());
        }
    }
}

/// Prints an error: the envelope with `--json`, else `<command> error: <message>` on stdout (as the
/// reference does) and the hint on stderr.
pub fn emit_error(ctx: &Ctx, err: &GaitError) {
    if ctx.json {
        let envelope = Envelope::from_error(err, &ctx.correlation_id);
        if let Ok(bytes) = gojson::to_line(&envelope) {
            write_stdout(&bytes);
        }
    } else {
        let prefix = if ctx.command.is_empty() {
            "error".to_string()
        } else {
            format!("{} error", ctx.command)
        };
        write_stdout(format!("{prefix}: {}\n", err.message).as_bytes());
        if let Some(hint) = &err.hint {
            write_stderr(&format!("hint: {hint}\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_id_of_empty_argv() {
        assert_eq!(correlation_id(&[]), "000000000000000000000000");
        assert_eq!(correlation_id(&["gait".into()]).len(), 24);
        assert_eq!(
            correlation_id(&[" gait ".into(), "demo".into()]),
            correlation_id(&["gait".into(), "demo".into()])
        );
    }
}
