//! `gait approve` (approval tokens), `gait approve-script` and `gait list-scripts` (the approved-script
//! registry): flags → `gait_gate::tokens` / `gait_gate::approved_scripts`.

use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::crypto::{KeyMode, PrivateKey, resolve_signing_key};
use gait_engine::{GaitError, PRODUCER_VERSION, fsx};
use gait_gate::approved_scripts::{self, NewEntry, Registry};
use gait_gate::tokens::approval::{MintApproval, mint};
use serde::Serialize;
use std::path::{Path, PathBuf};

const KEY_FLAGS: [Flag; 3] = [
    Flag::string(
        "key-mode",
        "dev",
        "signing key mode: dev (ephemeral key; refuses key flags) or prod (--private-key required)",
    ),
    Flag::string("private-key", "", "signing key file (0600)"),
    Flag::string(
        "private-key-env",
        "",
        "environment variable holding the signing key",
    ),
];

const APPROVE_FLAGS: &[Flag] = &[
    Flag::string(
        "intent-digest",
        "",
        "intent digest the token approves (gate eval's intent_digest)",
    ),
    Flag::string(
        "policy-digest",
        "",
        "policy digest the token is bound to (gate eval's policy_digest)",
    ),
    Flag::string(
        "delegation-binding-digest",
        "",
        "digest of the intent's delegation block the token is bound to",
    ),
    Flag::string("ttl", "", "how long the token is valid, e.g. 1h"),
    Flag::string(
        "scope",
        "",
        "comma-separated scopes, e.g. tool:tool.write,phase:apply (a bare tool name means tool:<name>)",
    ),
    Flag::string("approver", "", "who approves"),
    Flag::string("reason-code", "", "why, e.g. a change ticket"),
    Flag::int(
        "max-targets",
        "0",
        "largest number of targets the token covers (0 = any)",
    ),
    Flag::int(
        "max-ops",
        "0",
        "largest number of operations the token covers (0 = any)",
    ),
    Flag::string("out", "", "token file (default ./approval_<token_id>.json)"),
    KEY_FLAGS[0],
    KEY_FLAGS[1],
    KEY_FLAGS[2],
];

pub static APPROVE: Command = Command {
    path: "approve",
    synopsis: "--intent-digest <sha256> --policy-digest <sha256> --ttl 1h --scope tool:<name> --approver <id> --reason-code <code>",
    summary: "Mint a signed approval token bound to an intent and a policy.",
    explain: "Mints a signed approval token bound to an intent digest and a policy digest, scoped and time-limited, that turns gate eval's require_approval into allow.",
    flags: APPROVE_FLAGS,
    order: Order::FlagsFirst,
    custom_explain: false,
    run: run_approve,
};

/// `--ttl` as the reference reads it: a positive Go duration (surrounding spaces allowed).
pub fn parse_ttl(text: &str) -> Result<i128, GaitError> {
    match gait_engine::gotime::parse_go_duration(text.trim()) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(GaitError::invalid(
            "invalid --ttl, expected positive duration",
        )),
    }
}

/// The signing key for a minting command, resolved by `--key-mode` like the reference.
pub fn signing_key(ctx: &Ctx, p: &Parsed) -> Result<(PrivateKey, Vec<String>), GaitError> {
    let mode = KeyMode::parse(&p.str("key-mode"))?;
    let source = ctx.key_source(p, "private-key", "private-key-env")?;
    let choice = resolve_signing_key(mode, &source, ctx.random_seed()?)
        .map_err(|e| GaitError::invalid(e.to_string()))?;
    Ok((
        choice.key,
        choice.warning.map(str::to_string).into_iter().collect(),
    ))
}

pub fn no_positionals(p: &Parsed) -> Result<(), GaitError> {
    if p.positionals.is_empty() {
        Ok(())
    } else {
        Err(GaitError::invalid("unexpected positional arguments"))
    }
}

/// Writes a token file (0600, atomically).
pub fn write_token(path: &Path, bytes: &[u8]) -> Result<(), GaitError> {
    fsx::write_atomic(path, bytes, 0o600).map_err(|e| GaitError::io(format!("write token: {e}")))
}

#[derive(Serialize)]
struct ApproveOutput {
    ok: bool,
    description: &'static str,
    token_id: String,
    token_path: String,
    expires_at: String,
    reason_code: String,
    scope: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    max_targets: i64,
    #[serde(skip_serializing_if = "is_zero")]
    max_ops: i64,
    key_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn run_approve(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let ttl = parse_ttl(&p.str("ttl"))?;
    let (key, warnings) = signing_key(ctx, &p)?;
    let scope = p.csv("scope");
    let token = mint(
        &MintApproval {
            intent_digest: &p.str("intent-digest"),
            policy_digest: &p.str("policy-digest"),
            delegation_binding_digest: &p.str("delegation-binding-digest"),
            approver: &p.str("approver"),
            reason_code: &p.str("reason-code"),
            scope: &scope,
            max_targets: p.int("max-targets"),
            max_ops: p.int("max-ops"),
            ttl_nanos: ttl,
            now: ctx.now(),
            producer_version: PRODUCER_VERSION,
        },
        &key,
    )?;
    let path = match p.opt("out") {
        Some(out) => PathBuf::from(out.trim()),
        None => PathBuf::from(format!("approval_{}.json", token.token_id)),
    };
    write_token(&path, &token.to_file_bytes()?)?;
    let out = ApproveOutput {
        ok: true,
        description: "signed approval token created",
        token_id: token.token_id.clone(),
        token_path: path.display().to_string(),
        expires_at: token.expires_at.utc().rfc3339(),
        reason_code: token.reason_code.clone(),
        scope: token.scope.clone(),
        max_targets: token.max_targets,
        max_ops: token.max_ops,
        key_id: key.public().key_id(),
        warnings: warnings.clone(),
    };
    let text = format!(
        "approve ok: token_id={}\ntoken_path={}\nexpires_at={}\nscope={}",
        out.token_id,
        out.token_path,
        out.expires_at,
        out.scope.join(",")
    );
    Ok(Response::ok(&out, text)?.with_warnings(&warnings))
}

const APPROVE_SCRIPT_FLAGS: &[Flag] = &[
    Flag::string("policy", "", "policy YAML file the approval is bound to"),
    Flag::string("intent", "", "script intent JSON file (with script.steps)"),
    Flag::string(
        "registry",
        "",
        "approved-script registry file to add the entry to (created when missing)",
    ),
    Flag::string("approver", "", "who approves"),
    Flag::string(
        "pattern-id",
        "",
        "entry id (default pattern_<first 12 hex of the script hash>); the entry is appended even when the id is in use",
    ),
    Flag::string("ttl", "168h", "how long the approval holds"),
    Flag::string(
        "scope",
        "",
        "comma-separated limits: risk:<class>, tool:<name>, workspace_prefix:<path>, endpoint:<class>",
    ),
    KEY_FLAGS[0],
    KEY_FLAGS[1],
    KEY_FLAGS[2],
];

pub static APPROVE_SCRIPT: Command = Command {
    path: "approve-script",
    synopsis: "--policy <policy.yaml> --intent <script.json> --registry <registry.json> --approver <id>",
    summary: "Pre-approve a script intent in a signed approved-script registry.",
    explain: "Adds a signed entry to an approved-script registry so gate eval lets exactly this script, under exactly this policy, through until the entry expires.",
    flags: APPROVE_SCRIPT_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_approve_script,
};

#[derive(Serialize)]
struct ApproveScriptOutput {
    ok: bool,
    registry: String,
    pattern_id: String,
    policy_digest: String,
    script_hash: String,
    tool_sequence: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scope: Vec<String>,
    approver_identity: String,
    expires_at: String,
    key_id: String,
    entries: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

fn read_file(path: &str, what: &str, limit: u64) -> Result<Vec<u8>, GaitError> {
    fsx::read_bounded(Path::new(path.trim()), limit)
        .map_err(|e| GaitError::invalid(format!("read {what}: {e}")))
}

fn run_approve_script(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let (Some(policy), Some(intent), Some(registry)) =
        (p.opt("policy"), p.opt("intent"), p.opt("registry"))
    else {
        return Err(
            GaitError::invalid("--policy, --intent and --registry are required")
                .with_hint("gait approve-script --policy P --intent I --registry R --approver ID"),
        );
    };
    let ttl = parse_ttl(&p.str("ttl"))?;
    // Bound to its predicates like every policy load, so the digest is the one gate eval checks.
    let loaded = super::gate::policy_cache(ctx).load_fresh(&read_file(
        &policy,
        "policy",
        gait_gate::policy::MAX_POLICY_BYTES,
    )?)?;
    let intent = gait_gate::intent::load(&read_file(
        &intent,
        "intent",
        gait_gate::intent::MAX_INTENT_BYTES,
    )?)?;
    let (key, warnings) = signing_key(ctx, &p)?;
    let scope = p.csv("scope");
    let entry = approved_scripts::new_entry(
        &NewEntry {
            pattern_id: &p.str("pattern-id"),
            policy_digest: &loaded.digest,
            intent: Some(&intent),
            approver: &p.str("approver"),
            scope: &scope,
            ttl_nanos: ttl,
            now: ctx.now(),
            producer_version: PRODUCER_VERSION,
        },
        &key,
    )?;
    let path = PathBuf::from(registry.trim());
    let saved = approved_scripts::add(&path, entry.clone())?;
    let out = ApproveScriptOutput {
        ok: true,
        registry: path.display().to_string(),
        pattern_id: entry.pattern_id.clone(),
        policy_digest: entry.policy_digest.clone(),
        script_hash: entry.script_hash.clone(),
        tool_sequence: entry.tool_sequence.clone(),
        scope: entry.scope.clone(),
        approver_identity: entry.approver_identity.clone(),
        expires_at: entry.expires_at.utc().rfc3339_nano(),
        key_id: key.public().key_id(),
        entries: saved.entries.len(),
        warnings: warnings.clone(),
    };
    let text = format!(
        "approve-script ok: pattern_id={}\nregistry={}\nscript_hash={}\nexpires_at={}",
        out.pattern_id, out.registry, out.script_hash, out.expires_at
    );
    Ok(Response::ok(&out, text)?.with_warnings(&warnings))
}

pub static LIST_SCRIPTS: Command = Command {
    path: "list-scripts",
    synopsis: "--registry <registry.json>",
    summary: "List the entries of an approved-script registry with their expiry status.",
    explain: "Lists the pre-approved scripts of an approved-script registry, with each entry's expiry and whether it is still active.",
    flags: &[Flag::string(
        "registry",
        "",
        "approved-script registry file",
    )],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_list_scripts,
};

#[derive(Serialize)]
struct ListedScript {
    pattern_id: String,
    policy_digest: String,
    script_hash: String,
    tool_sequence: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scope: Vec<String>,
    approver_identity: String,
    created_at: String,
    expires_at: String,
    expired: bool,
    status: &'static str,
}

#[derive(Serialize)]
struct ListScriptsOutput {
    ok: bool,
    registry: String,
    count: usize,
    active: usize,
    entries: Vec<ListedScript>,
}

fn run_list_scripts(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let Some(registry) = p.opt("registry") else {
        return Err(GaitError::invalid("--registry is required")
            .with_hint("gait list-scripts --registry approved_scripts.json"));
    };
    let path = PathBuf::from(registry.trim());
    let reg = Registry::load(&path).map_err(GaitError::invalid)?;
    let now = ctx.now().utc();
    let entries: Vec<ListedScript> = reg
        .entries
        .iter()
        .map(|raw| {
            let e = raw.normalized().unwrap_or_else(|_| raw.clone());
            let expired = e.expires_at <= now;
            ListedScript {
                pattern_id: e.pattern_id.clone(),
                policy_digest: e.policy_digest.clone(),
                script_hash: e.script_hash.clone(),
                tool_sequence: e.tool_sequence.clone(),
                scope: e.scope.clone(),
                approver_identity: e.approver_identity.clone(),
                created_at: e.created_at.utc().rfc3339_nano(),
                expires_at: e.expires_at.utc().rfc3339_nano(),
                expired,
                status: if expired { "expired" } else { "active" },
            }
        })
        .collect();
    let active = entries.iter().filter(|e| !e.expired).count();
    let mut text = format!(
        "list-scripts ok: {} entries ({active} active)",
        entries.len()
    );
    for e in &entries {
        text.push_str(&format!(
            "\n{} {} expires_at={} tools={}",
            e.pattern_id,
            e.status,
            e.expires_at,
            e.tool_sequence.join(",")
        ));
    }
    Response::ok(
        &ListScriptsOutput {
            ok: true,
            registry: path.display().to_string(),
            count: entries.len(),
            active,
            entries,
        },
        text,
    )
}
