//! `gait kill-switch add|list|disable|expire`: the emergency stop `gate eval --kill-switch-state`
//! reads → `gait_gate::killswitch`.

use super::approve::no_positionals;
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::{GaitError, GoTime};
use gait_gate::killswitch::{self, DEFAULT_STATE_PATH, KillSwitchEntry, ListedEntry, NewEntry};
use serde::Serialize;
use std::path::PathBuf;

const STATE: Flag = Flag::string("state", DEFAULT_STATE_PATH, "kill-switch state file");

const ADD_FLAGS: &[Flag] = &[
    STATE,
    Flag::string("entry-id", "", "entry id (default: derived from the entry)"),
    Flag::string("agent-id", "", "stop calls from this agent id"),
    Flag::string("identity", "", "stop calls from this identity"),
    Flag::string("tool-name", "", "stop calls of this tool"),
    Flag::string("target-kind", "", "stop calls with a target of this kind"),
    Flag::string("target-value", "", "stop calls with a target of this value"),
    Flag::string("environment", "", "stop calls in this environment"),
    Flag::string(
        "path-prefixes",
        "",
        "stop calls with a target under one of these prefixes (comma-separated)",
    ),
    Flag::string(
        "workspace-prefixes",
        "",
        "stop calls from a workspace under one of these prefixes (comma-separated)",
    ),
    Flag::string("reason", "", "why (recorded)"),
    Flag::string("actor", "", "who (recorded)"),
    Flag::string(
        "expires-at",
        "",
        "RFC3339 time the entry stops applying (default: never)",
    ),
];

pub static ADD: Command = Command {
    path: "kill-switch add",
    synopsis: "[--tool-name T] [--agent-id A] [--identity I] [... selectors] --reason R",
    summary: "Add a kill-switch entry: matching calls are blocked until it is disabled or expires.",
    explain: "Adds an enabled kill-switch entry whose selectors (all must match; none matches every call) make gate eval block matching calls with kill_switch_active.",
    flags: ADD_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_add,
};

pub static LIST: Command = Command {
    path: "kill-switch list",
    synopsis: "[--state FILE]",
    summary: "List kill-switch entries with their status (active, disabled, expired).",
    explain: "Lists the entries of a kill-switch state file with whether each is active, disabled or expired now.",
    flags: &[STATE],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_list,
};

const ID_FLAGS: &[Flag] = &[STATE, Flag::string("entry-id", "", "the entry to change")];

const EXPIRE_FLAGS: &[Flag] = &[
    STATE,
    Flag::string("entry-id", "", "the entry to change"),
    Flag::string(
        "expires-at",
        "",
        "RFC3339 time the entry stops applying (default: now)",
    ),
];

pub static DISABLE: Command = Command {
    path: "kill-switch disable",
    synopsis: "--entry-id ID [--state FILE]",
    summary: "Disable a kill-switch entry (kept in the file for the record).",
    explain: "Disables a kill-switch entry so it no longer blocks calls; the entry stays in the state file for the record.",
    flags: ID_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_disable,
};

pub static EXPIRE: Command = Command {
    path: "kill-switch expire",
    synopsis: "--entry-id ID [--expires-at RFC3339] [--state FILE]",
    summary: "Expire a kill-switch entry now, or at a given time (kept in the file for the record).",
    explain: "Sets a kill-switch entry's expiry to now, or to --expires-at, so it stops blocking calls from then on; the entry stays in the state file for the record.",
    flags: EXPIRE_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_expire,
};

#[derive(Serialize)]
struct EntryOutput {
    ok: bool,
    state: String,
    status: &'static str,
    entry: KillSwitchEntry,
}

#[derive(Serialize)]
struct ListOutput {
    ok: bool,
    state: String,
    count: usize,
    active: usize,
    entries: Vec<ListedEntry>,
}

fn state_path(p: &Parsed) -> PathBuf {
    match p.str("state").trim() {
        "" => PathBuf::from(DEFAULT_STATE_PATH),
        s => PathBuf::from(s),
    }
}

fn entry_response(command: &str, p: &Parsed, entry: KillSwitchEntry, now: GoTime) -> CmdResult {
    let status = killswitch::status(&entry, now);
    let path = state_path(p).display().to_string();
    let text = format!(
        "kill-switch {command} ok: entry_id={}\nstatus={status}\nstate={path}",
        entry.entry_id
    );
    Response::ok(
        &EntryOutput {
            ok: true,
            state: path,
            status,
            entry,
        },
        text,
    )
}

/// `--expires-at`, when given: an RFC3339 time, else an input error (exit 6).
fn expires_at(p: &Parsed) -> Result<Option<GoTime>, GaitError> {
    match p.str("expires-at").trim() {
        "" => Ok(None),
        t => GoTime::parse(t).map(Some).map_err(|e| {
            GaitError::invalid(format!("invalid --expires-at: {e}"))
                .with_hint("use an RFC3339 time such as 2031-05-14T10:30:00Z")
        }),
    }
}

fn run_add(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let expires_at = expires_at(&p)?;
    let now = ctx.now().utc();
    let entry = killswitch::add(
        &state_path(&p),
        NewEntry {
            entry_id: p.str("entry-id"),
            agent_id: p.str("agent-id"),
            identity: p.str("identity"),
            tool_name: p.str("tool-name"),
            target_kind: p.str("target-kind"),
            target_value: p.str("target-value"),
            environment: p.str("environment"),
            path_prefixes: p.csv("path-prefixes"),
            workspace_prefixes: p.csv("workspace-prefixes"),
            reason: p.str("reason"),
            actor: p.str("actor"),
            expires_at,
        },
        now,
    )?;
    entry_response("add", &p, entry, now)
}

fn run_list(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let now = ctx.now().utc();
    let path = state_path(&p);
    let entries = killswitch::list(&path, now)?;
    let active = entries.iter().filter(|e| e.status == "active").count();
    let mut text = format!(
        "kill-switch list ok: {} entries ({active} active)",
        entries.len()
    );
    for e in &entries {
        text.push_str(&format!("\n{} {}", e.entry.entry_id, e.status));
        if !e.entry.reason.is_empty() {
            text.push_str(&format!(" reason={}", e.entry.reason));
        }
    }
    Response::ok(
        &ListOutput {
            ok: true,
            state: path.display().to_string(),
            count: entries.len(),
            active,
            entries,
        },
        text,
    )
}

fn run_disable(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let now = ctx.now().utc();
    let entry = killswitch::disable(&state_path(&p), &p.str("entry-id"), now)?;
    entry_response("disable", &p, entry, now)
}

fn run_expire(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let at = expires_at(&p)?;
    let now = ctx.now().utc();
    let entry = killswitch::expire(&state_path(&p), &p.str("entry-id"), at, now)?;
    entry_response("expire", &p, entry, now)
}
