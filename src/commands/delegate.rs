//! `gait delegate mint|verify`: delegation tokens → `gait_gate::tokens::delegation`.

use super::approve::{no_positionals, parse_ttl, signing_key, write_token};
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::error::exit;
use gait_engine::{GaitError, PRODUCER_VERSION};
use gait_gate::tokens::delegation::{
    DelegationExpectation, DelegationToken, MintDelegation, mint, validate,
};
use gait_gate::tokens::{normalize_scope, read_token_bytes};
use serde::Serialize;
use std::path::{Path, PathBuf};

const MINT_FLAGS: &[Flag] = &[
    Flag::string("delegator", "", "who delegates"),
    Flag::string("delegate", "", "who receives the delegation"),
    Flag::string(
        "scope",
        "",
        "comma-separated scopes the delegate may act in",
    ),
    Flag::string(
        "scope-class",
        "",
        "the delegation's scope class, e.g. write",
    ),
    Flag::string("ttl", "", "how long the token is valid, e.g. 1h"),
    Flag::string(
        "intent-digest",
        "",
        "bind the token to one intent digest (optional)",
    ),
    Flag::string(
        "policy-digest",
        "",
        "bind the token to one policy digest (optional)",
    ),
    Flag::string(
        "out",
        "",
        "token file (default ./delegation_<token_id>.json)",
    ),
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

pub static MINT: Command = Command {
    path: "delegate mint",
    synopsis: "--delegator <id> --delegate <id> --scope <csv> --ttl 1h [--scope-class C]",
    summary: "Mint a signed delegation token: one link of a delegation chain.",
    explain: "Mints a signed delegation token stating that a delegator lets a delegate act within a scope until it expires; gate eval checks one token per link of an intent's delegation chain.",
    flags: MINT_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_mint,
};

#[derive(Serialize)]
struct MintOutput {
    ok: bool,
    description: &'static str,
    token_id: String,
    token_path: String,
    delegator_identity: String,
    delegate_identity: String,
    scope: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope_class: String,
    expires_at: String,
    key_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

fn run_mint(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let ttl = parse_ttl(&p.str("ttl"))?;
    let (key, warnings) = signing_key(ctx, &p)?;
    let scope = p.csv("scope");
    let token = mint(
        &MintDelegation {
            delegator: &p.str("delegator"),
            delegate: &p.str("delegate"),
            scope: &scope,
            scope_class: &p.str("scope-class"),
            intent_digest: &p.str("intent-digest"),
            policy_digest: &p.str("policy-digest"),
            ttl_nanos: ttl,
            now: ctx.now(),
            producer_version: PRODUCER_VERSION,
        },
        &key,
    )?;
    let path = match p.opt("out") {
        Some(out) => PathBuf::from(out.trim()),
        None => PathBuf::from(format!("delegation_{}.json", token.token_id)),
    };
    write_token(&path, &token.to_file_bytes()?)?;
    let out = MintOutput {
        ok: true,
        description: "signed delegation token created",
        token_id: token.token_id.clone(),
        token_path: path.display().to_string(),
        delegator_identity: token.delegator_identity.clone(),
        delegate_identity: token.delegate_identity.clone(),
        scope: token.scope.clone(),
        scope_class: token.scope_class.clone(),
        expires_at: token.expires_at.utc().rfc3339(),
        key_id: key.public().key_id(),
        warnings: warnings.clone(),
    };
    let text = format!(
        "delegate mint ok: token_id={}\ntoken_path={}\n{} -> {} scope={}\nexpires_at={}",
        out.token_id,
        out.token_path,
        out.delegator_identity,
        out.delegate_identity,
        out.scope.join(","),
        out.expires_at
    );
    Ok(Response::ok(&out, text)?.with_warnings(&warnings))
}

const VERIFY_FLAGS: &[Flag] = &[
    Flag::string("token", "", "delegation token file"),
    Flag::string("delegator", "", "expected delegator (optional)"),
    Flag::string("delegate", "", "expected delegate (optional)"),
    Flag::string(
        "scope",
        "",
        "required scopes, comma-separated: the token must carry one of them (optional)",
    ),
    Flag::string(
        "intent-digest",
        "",
        "intent digest a bound token must match (optional)",
    ),
    Flag::string(
        "policy-digest",
        "",
        "policy digest a bound token must match (optional)",
    ),
    Flag::string("public-key", "", "verify key file"),
    Flag::string(
        "public-key-env",
        "",
        "environment variable holding the verify key",
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
];

pub static VERIFY: Command = Command {
    path: "delegate verify",
    synopsis: "--token <delegation.json> --public-key FILE [expected bindings]",
    summary: "Verify a delegation token's signature, expiry and bindings (exit 2 when it fails).",
    explain: "Verifies a delegation token offline: its signature, its expiry and, when given, the expected delegator, delegate, scope and digest bindings; exits 2 when any check fails.",
    flags: VERIFY_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_verify,
};

#[derive(Serialize)]
struct VerifyOutput {
    ok: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'static str,
    token_path: String,
    token_id: String,
    delegator_identity: String,
    delegate_identity: String,
    scope: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope_class: String,
    expires_at: String,
    key_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    reason_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

fn run_verify(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let Some(token_path) = p.opt("token") else {
        return Err(GaitError::invalid("--token is required")
            .with_hint("gait delegate verify --token delegation.json --public-key FILE"));
    };
    let public = ctx.key_source(&p, "public-key", "public-key-env")?;
    let private = ctx.key_source(&p, "private-key", "private-key-env")?;
    if !public.is_set() && !private.is_set() {
        return Err(GaitError::invalid("public key not configured")
            .with_hint("pass --public-key FILE (or --public-key-env VAR)"));
    }
    let key = gait_engine::crypto::load_verify_key(&public, &private)?;
    let bytes = read_token_bytes(Path::new(token_path.trim()), "delegation token")?;
    let token = DelegationToken::parse(&bytes)?;
    let scopes = normalize_scope(&p.csv("scope"));
    let intent = p.str("intent-digest").trim().to_ascii_lowercase();
    let policy = p.str("policy-digest").trim().to_ascii_lowercase();
    let (delegator, delegate) = (p.str("delegator"), p.str("delegate"));
    let exp = DelegationExpectation {
        delegator: delegator.trim(),
        delegate: delegate.trim(),
        required_scopes: &scopes,
        intent_digest: &intent,
        policy_digest: &policy,
        token_ref: "",
        now: ctx.now().utc(),
    };
    let result = validate(&token, Some(&key), &exp);
    let shown = match &result {
        Ok(t) => t.clone(),
        Err(_) => token.normalized().unwrap_or(token),
    };
    let mut out = VerifyOutput {
        ok: result.is_ok(),
        description: "",
        token_path: token_path.trim().to_string(),
        token_id: shown.token_id.trim().to_string(),
        delegator_identity: shown.delegator_identity.trim().to_string(),
        delegate_identity: shown.delegate_identity.trim().to_string(),
        scope: shown.scope.clone(),
        scope_class: shown.scope_class.clone(),
        expires_at: shown.expires_at.utc().rfc3339(),
        key_id: key.key_id(),
        reason_code: String::new(),
        error: String::new(),
    };
    match result {
        Ok(_) => {
            out.description = "delegation token verified";
            let text = format!(
                "delegate verify ok: token_id={}\n{} -> {} scope={}\nexpires_at={}",
                out.token_id,
                out.delegator_identity,
                out.delegate_identity,
                out.scope.join(","),
                out.expires_at
            );
            Response::ok(&out, text)
        }
        Err(code) => {
            out.reason_code = code.to_string();
            out.error = format!("delegation token verification failed: {code}");
            let text = format!("delegate verify failed: {}", out.error);
            Response::new(exit::VERIFY_FAILED, &out, text)
        }
    }
}
