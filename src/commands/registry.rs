//! `gait registry install|list|verify` (the reference's registry packs, CONTRACTS §1.2) and
//! `gait registry index` (the signed index of a plugin registry). Logic lives in gait-registry.

use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::error::exit;
use gait_engine::{GaitError, fsx};
use gait_registry::authoring::{self, IndexOptions};
use gait_registry::regpack;
use gait_registry::source::FetchSettings;
use serde::Serialize;
use std::path::PathBuf;

fn cache_dir(ctx: &Ctx, p: &Parsed) -> PathBuf {
    match p.opt("cache-dir") {
        Some(d) => PathBuf::from(d.trim()),
        None => ctx.gait_home().join("registry"),
    }
}

/// The verify key from `--public-key` / `--public-key-env`, if configured.
fn public_key(ctx: &Ctx, p: &Parsed) -> Result<Option<gait_engine::crypto::PublicKey>, GaitError> {
    let source = ctx.key_source(p, "public-key", "public-key-env")?;
    if !source.is_set() {
        return Ok(None);
    }
    Ok(Some(source.load_public()?))
}

const INSTALL_FLAGS: &[Flag] = &[
    Flag::string(
        "source",
        "",
        "registry manifest: a local path or an https:// URL",
    ),
    Flag::string(
        "allow-host",
        "",
        "comma-separated hosts allowed for a remote source (required for remote)",
    ),
    Flag::string(
        "publisher-allowlist",
        "",
        "comma-separated publishers to accept",
    ),
    Flag::string("pin", "", "expected manifest digest: sha256:<hex>"),
    Flag::string(
        "public-key",
        "",
        "path to the publisher's ed25519 public key",
    ),
    Flag::string(
        "public-key-env",
        "",
        "environment variable holding the base64 public key",
    ),
    Flag::int(
        "retry-max-attempts",
        "3",
        "download attempts on transient failures",
    ),
    Flag::duration(
        "retry-base-delay",
        "200ms",
        "delay before the first retry; doubles with each attempt",
    ),
    Flag::bool("allow-insecure-http", "allow a plain http:// source"),
    Flag::bool(
        "allow-cached-fallback",
        "use the last cached copy when the remote source is unreachable",
    ),
    Flag::string(
        "cache-dir",
        "",
        "registry cache directory (default: ~/.gait/registry)",
    ),
];

pub static INSTALL: Command = Command {
    path: "registry install",
    synopsis: "--source PATH|URL --public-key FILE [--allow-host HOSTS] [--pin sha256:HEX]",
    summary: "Install a signed registry pack into the local cache and pin its digest.",
    explain: "Installs a signed registry pack manifest into the local cache after host allowlist, signature, publisher and pin checks, and records its digest as a pin.",
    flags: INSTALL_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_install,
};

fn as_verification(e: GaitError) -> GaitError {
    // The reference exits 2 for every install failure (CONTRACTS §8.13).
    GaitError {
        category: gait_engine::Category::VerificationFailed,
        exit: None,
        ..e
    }
}

#[derive(Serialize)]
struct InstallOutput {
    ok: bool,
    #[serde(flatten)]
    result: regpack::InstallResult,
}

fn run_install(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let source = p.opt("source").ok_or_else(|| {
        GaitError::invalid("missing required --source")
            .with_hint("pass --source PATH or --source https://HOST/pack.json")
    })?;
    let public_key = public_key(ctx, &p).map_err(as_verification)?;
    let attempts = p.int("retry-max-attempts").clamp(1, 10) as u32;
    let (ca_files, ca_dirs) = super::plugin::ca_from_env(ctx);
    let delay = p.duration("retry-base-delay").clamp(0, 60_000_000_000) as u64;
    let opts = regpack::InstallOptions {
        source: source.trim().to_string(),
        cache_dir: cache_dir(ctx, &p),
        public_key,
        publisher_allowlist: p.csv("publisher-allowlist"),
        pin: p.opt("pin"),
        allow_cached_fallback: p.bool("allow-cached-fallback"),
        fetch: FetchSettings {
            allow_hosts: p.csv("allow-host"),
            allow_insecure_http: p.bool("allow-insecure-http"),
            ca_files,
            ca_dirs,
            retry_max_attempts: attempts,
            retry_base_delay: std::time::Duration::from_nanos(delay),
            ..FetchSettings::default()
        },
    };
    let result = regpack::install(&opts).map_err(as_verification)?;
    let text = format!(
        "registry install ok: {}@{}\ndigest=sha256:{}\nmetadata={}\npin={}",
        result.pack_name, result.pack_version, result.digest, result.metadata_path, result.pin_path
    );
    let warnings = if result.cached_fallback {
        vec![format!(
            "{} was unreachable; installed the last cached copy (verified again)",
            result.source
        )]
    } else {
        Vec::new()
    };
    Ok(Response::ok(&InstallOutput { ok: true, result }, text)?.with_warnings(&warnings))
}

const LIST_FLAGS: &[Flag] = &[Flag::string(
    "cache-dir",
    "",
    "registry cache directory (default: ~/.gait/registry)",
)];

pub static LIST: Command = Command {
    path: "registry list",
    synopsis: "[--cache-dir DIR]",
    summary: "List registry packs in the local cache with their pins.",
    explain: "Lists the registry packs cached locally with their versions, digests and whether each is the pinned one.",
    flags: LIST_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_list,
};

#[derive(Serialize)]
struct ListOutput {
    ok: bool,
    cache_dir: String,
    packs: Vec<regpack::CachedPack>,
}

fn run_list(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let dir = cache_dir(ctx, &p);
    let packs = regpack::list(&dir);
    let text = if packs.is_empty() {
        format!("registry list ok: no packs in {}", dir.display())
    } else {
        packs
            .iter()
            .map(|k| {
                format!(
                    "{}@{} sha256:{}{}",
                    k.pack_name,
                    k.pack_version,
                    k.digest,
                    if k.pinned { " (pinned)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Response::ok(
        &ListOutput {
            ok: true,
            cache_dir: dir.display().to_string(),
            packs,
        },
        text,
    )
}

const VERIFY_FLAGS: &[Flag] = &[
    Flag::string("path", "", "path to a cached registry_pack.json"),
    Flag::string(
        "cache-dir",
        "",
        "registry cache directory holding the pins (default: ~/.gait/registry)",
    ),
    Flag::string(
        "publisher-allowlist",
        "",
        "comma-separated publishers to accept",
    ),
    Flag::string(
        "report-out",
        "",
        "also write the verification report to this file",
    ),
    Flag::string(
        "public-key",
        "",
        "path to the publisher's ed25519 public key",
    ),
    Flag::string(
        "public-key-env",
        "",
        "environment variable holding the base64 public key",
    ),
];

pub static VERIFY: Command = Command {
    path: "registry verify",
    synopsis: "--path registry_pack.json --public-key FILE [--report-out FILE]",
    summary: "Verify a cached registry pack's signature and pin offline.",
    explain: "Verifies a cached registry pack offline: its signature with the publisher key, its digest against the local pin, and the publisher allowlist.",
    flags: VERIFY_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_verify,
};

#[derive(Serialize)]
struct VerifyOutput {
    /// Carries `ok` and the report's fields.
    #[serde(flatten)]
    report: regpack::VerificationReport,
    #[serde(skip_serializing_if = "String::is_empty")]
    report_path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

fn run_verify(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let path = p
        .opt("path")
        .ok_or_else(|| GaitError::invalid("missing required --path"))?;
    let key = public_key(ctx, &p)?;
    let report = regpack::verify(
        &PathBuf::from(path.trim()),
        &cache_dir(ctx, &p),
        key.as_ref(),
        &p.csv("publisher-allowlist"),
        ctx.now(),
    )?;
    let report_path = match p.opt("report-out") {
        Some(out) => {
            let out = PathBuf::from(out.trim());
            fsx::write_atomic(
                &out,
                &gait_engine::gojson::to_indented(&report)
                    .map_err(|e| GaitError::internal(e.to_string()))?,
                0o600,
            )?;
            out.display().to_string()
        }
        None => String::new(),
    };
    let ok = report.ok;
    let error = if ok {
        String::new()
    } else {
        format!(
            "registry verification failed: {}",
            report.reason_codes.join(",")
        )
    };
    let text = if ok {
        format!(
            "registry verify ok: {}@{} digest=sha256:{}",
            report.pack_name, report.pack_version, report.digest
        )
    } else {
        format!(
            "registry verify failed: {}@{} reasons={}",
            report.pack_name,
            report.pack_version,
            report.reason_codes.join(",")
        )
    };
    Response::new(
        if ok { exit::OK } else { exit::VERIFY_FAILED },
        &VerifyOutput {
            report,
            report_path,
            error,
        },
        text,
    )
}

const INDEX_FLAGS: &[Flag] = &[
    Flag::string(
        "private-key",
        "",
        "path to the ed25519 private key that signs the index",
    ),
    Flag::string(
        "private-key-env",
        "",
        "environment variable holding the base64 private key",
    ),
    Flag::int(
        "version",
        "0",
        "index version (default: the current index version + 1)",
    ),
    Flag::duration(
        "ttl",
        "720h",
        "how long the index stays valid; clients refuse it afterwards",
    ),
    Flag::string("name", "", "a human name for the registry"),
];

pub static INDEX: Command = Command {
    path: "registry index",
    synopsis: "DIR --private-key FILE [--ttl 720h] [--version N]",
    summary: "Build and sign index.json for a folder of packed, signed plugins.",
    explain: "Scans a folder of packed and signed plugins, checks each against its manifest, and writes a signed index.json whose version grows with every publication and which expires after --ttl.",
    flags: INDEX_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_index,
};

#[derive(Serialize)]
struct IndexOutput {
    ok: bool,
    path: String,
    version: u64,
    entries: usize,
    generated_at: gait_engine::GoTime,
    expires_at: gait_engine::GoTime,
    key_id: String,
}

fn run_index(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let folder = match p.positionals.as_slice() {
        [one] => PathBuf::from(one.trim()),
        [] => return Err(GaitError::invalid("missing registry DIR")),
        more => {
            return Err(GaitError::invalid(format!(
                "unexpected arguments: {}",
                more[1..].join(" ")
            )));
        }
    };
    let key = ctx
        .key_source(&p, "private-key", "private-key-env")?
        .load_private()?;
    let version = if p.is_set("version") {
        match p.int("version") {
            v if v > 0 => Some(v as u64),
            _ => return Err(GaitError::invalid("--version must be positive")),
        }
    } else {
        None
    };
    let ttl = p.duration("ttl");
    if ttl <= 0 {
        return Err(GaitError::invalid("--ttl must be positive"));
    }
    let (idx, path) = authoring::build_index(
        &folder,
        &key,
        &IndexOptions {
            version,
            ttl_nanos: ttl,
            registry_name: p.str("name"),
            now: ctx.now(),
        },
    )?;
    let text = format!(
        "registry index ok: {} version={} entries={} expires_at={}",
        path.display(),
        idx.version,
        idx.entries.len(),
        idx.expires_at
    );
    Response::ok(
        &IndexOutput {
            ok: true,
            path: path.display().to_string(),
            version: idx.version,
            entries: idx.entries.len(),
            generated_at: idx.generated_at,
            expires_at: idx.expires_at,
            key_id: key.public().key_id(),
        },
        text,
    )
}
