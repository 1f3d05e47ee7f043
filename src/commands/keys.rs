//! `gait keys init|rotate|verify`: ed25519 key files in the reference's format (CONTRACTS §3.1).

use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::crypto::PrivateKey;
use gait_engine::{GaitError, fsx};
use serde::Serialize;
use std::path::{Path, PathBuf};

const INIT_FLAGS: &[Flag] = &[
    Flag::string("out-dir", "gait-out/keys", "directory for the key files"),
    Flag::string(
        "prefix",
        "gait",
        "file name prefix: <prefix>_private.key, <prefix>_public.key",
    ),
    Flag::bool("force", "overwrite existing key files"),
];

pub static INIT: Command = Command {
    path: "keys init",
    synopsis: "[--out-dir DIR] [--prefix NAME] [--force]",
    summary: "Create an ed25519 signing key pair (private key written 0600).",
    explain: "Creates an ed25519 key pair for signing traces, tokens and runpacks, as base64 key files the reference implementation also reads.",
    flags: INIT_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_init,
};

pub static ROTATE: Command = Command {
    path: "keys rotate",
    synopsis: "[--out-dir DIR] [--prefix NAME]",
    summary: "Create a new key pair named <prefix>_<UTC timestamp> beside the current one.",
    explain: "Creates a fresh ed25519 key pair whose file names carry the UTC rotation time, leaving existing keys untouched.",
    flags: INIT_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_rotate,
};

const VERIFY_FLAGS: &[Flag] = &[
    Flag::string("private-key", "", "path to the private key file"),
    Flag::string(
        "private-key-env",
        "",
        "environment variable holding the base64 private key",
    ),
    Flag::string("public-key", "", "path to the public key file"),
    Flag::string(
        "public-key-env",
        "",
        "environment variable holding the base64 public key",
    ),
];

pub static VERIFY: Command = Command {
    path: "keys verify",
    synopsis: "--private-key FILE [--public-key FILE]",
    summary: "Check that key files decode and that the public key matches the private key.",
    explain: "Checks that a private key (and optionally a public key) decode as ed25519 keys and belong together.",
    flags: VERIFY_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_verify,
};

#[derive(Serialize)]
struct KeysOutput {
    ok: bool,
    key_id: String,
    private_key_path: String,
    public_key_path: String,
}

fn write_pair(ctx: &Ctx, dir: &Path, prefix: &str, force: bool) -> CmdResult {
    if prefix.trim().is_empty() || prefix.contains(['/', '\\']) || prefix.contains("..") {
        return Err(GaitError::invalid(format!("invalid key prefix {prefix:?}"))
            .with_hint("use a plain file-name prefix such as `gait`"));
    }
    let private_path = dir.join(format!("{prefix}_private.key"));
    let public_path = dir.join(format!("{prefix}_public.key"));
    if !force {
        for p in [&private_path, &public_path] {
            if p.exists() {
                return Err(GaitError::invalid(format!(
                    "key file already exists: {}",
                    p.display()
                ))
                .with_hint("pass --force to overwrite, or choose another --prefix"));
            }
        }
    }
    let key = PrivateKey::from_seed(&ctx.random_seed()?);
    fsx::write_atomic(&private_path, key.to_text().as_bytes(), 0o600)?;
    fsx::write_atomic(&public_path, key.public().to_text().as_bytes(), 0o600)?;
    let out = KeysOutput {
        ok: true,
        key_id: key.public().key_id(),
        private_key_path: private_path.display().to_string(),
        public_key_path: public_path.display().to_string(),
    };
    let text = format!(
        "keys ok: key_id={}\nprivate_key={}\npublic_key={}",
        out.key_id, out.private_key_path, out.public_key_path
    );
    Response::ok(&out, text)
}

fn run_init(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    write_pair(
        ctx,
        &PathBuf::from(p.str("out-dir")),
        &p.str("prefix"),
        p.bool("force"),
    )
}

fn run_rotate(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let stamp = ctx
        .now()
        .utc()
        .datetime()
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let prefix = format!("{}_{stamp}", p.str("prefix"));
    write_pair(
        ctx,
        &PathBuf::from(p.str("out-dir")),
        &prefix,
        p.bool("force"),
    )
}

#[derive(Serialize)]
struct VerifyOutput {
    ok: bool,
    key_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    public_key_id: String,
}

fn run_verify(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let private = ctx.key_source(&p, "private-key", "private-key-env")?;
    let public = ctx.key_source(&p, "public-key", "public-key-env")?;
    if !private.is_set() {
        return Err(GaitError::invalid("private key not configured")
            .with_hint("pass --private-key FILE or --private-key-env VAR"));
    }
    let key = private.load_private()?;
    let key_id = key.public().key_id();
    if public.is_set() {
        let pubkey = public.load_public()?;
        if pubkey != key.public() {
            return Err(GaitError::verification(format!(
                "public key {} does not match private key {key_id}",
                pubkey.key_id()
            ))
            .with_hint(
                "pair the private key with the public key written beside it by `gait keys init`",
            ));
        }
    }
    // A signature round trip proves the private key actually signs what the public key verifies.
    let probe = gait_engine::canon::sha256_hex(b"gait keys verify");
    let sig = key
        .sign_digest(&probe)
        .map_err(|e| GaitError::internal(e.to_string()))?;
    key.public()
        .verify(&sig, &probe)
        .map_err(|e| GaitError::verification(e.to_string()))?;
    let out = VerifyOutput {
        ok: true,
        key_id: key_id.clone(),
        public_key_id: if public.is_set() {
            key_id.clone()
        } else {
            String::new()
        },
    };
    Response::ok(&out, format!("keys verify ok: key_id={key_id}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_text_round_trip() {
        let key = gait_engine::crypto::PrivateKey::from_seed(&[1; 32]);
        let back = gait_engine::crypto::PrivateKey::from_text(&key.to_text()).unwrap();
        assert_eq!(back.public(), key.public());
    }
}
