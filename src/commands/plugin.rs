//! `gait plugin …`: author, sign, install, list, verify, update and remove plugins; manage trusted
//! keys; and run commands contributed by installed native plugins. All logic is in gait-registry.

use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::GaitError;
use gait_engine::error::exit;
use gait_engine::plugin::Extension;
use gait_host::PluginHost;
use gait_registry::authoring::{self, ApiDependency, Template};
use gait_registry::catalog;
use gait_registry::install::Installed;
use gait_registry::ops::{self, InstallPlan};
use gait_registry::source::FetchSettings;
use gait_registry::store::PluginHome;
use serde::Serialize;
use std::path::PathBuf;

fn home(ctx: &Ctx) -> PluginHome {
    PluginHome::new(&ctx.gait_home())
}

/// The plugin host over the gait home: builtins and installed plugins (nothing is read until a
/// plugin is asked for).
pub fn host(ctx: &Ctx) -> PluginHost {
    PluginHost::new(&ctx.gait_home())
}

// ---------------------------------------------------------------------------------------------
// Fetch settings shared by install and update.

macro_rules! fetch_flags {
    ($($extra:expr),* $(,)?) => {
        &[
            Flag::string("registry", "", "registry to install from: a directory or an https:// base URL (default: the lockfile's or the pin's)"),
            Flag::string("allow-host", "", "comma-separated hosts (host or host:port) a remote registry may be fetched from"),
            Flag::bool("allow-insecure-http", "allow a plain http:// registry (trusted networks only)"),
            Flag::string("registry-ca", "", "PEM file of CA certificates to trust for the registry (default: SSL_CERT_FILE / SSL_CERT_DIR, else built-in roots)"),
            Flag::int("retry-max-attempts", "3", "download attempts on transient failures (1-10)"),
            Flag::duration("retry-base-delay", "200ms", "delay before the first retry; doubles with each attempt"),
            Flag::int("max-bytes", "67108864", "largest single download, in bytes"),
            Flag::string("lockfile", gait_registry::lockfile::DEFAULT_PATH, "project lockfile to read and update (empty: none)"),
            $($extra),*
        ]
    };
}

fn path_list(value: &str) -> Vec<PathBuf> {
    let sep = if cfg!(windows) { ';' } else { ':' };
    value
        .split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// CA certificates from the standard variables: `SSL_CERT_FILE` (if it exists) and the directories
/// of `SSL_CERT_DIR`.
pub fn ca_from_env(ctx: &Ctx) -> (Vec<PathBuf>, Vec<PathBuf>) {
    (
        ctx.env("SSL_CERT_FILE")
            .map(|f| PathBuf::from(f.trim()))
            .filter(|f| f.is_file())
            .into_iter()
            .collect(),
        ctx.env("SSL_CERT_DIR")
            .map(|d| path_list(&d))
            .unwrap_or_default(),
    )
}

/// Transport settings from flags; CA files from `--registry-ca`, else the standard variables.
pub fn fetch_settings(ctx: &Ctx, p: &Parsed) -> Result<FetchSettings, GaitError> {
    let attempts = p.int("retry-max-attempts");
    if !(1..=10).contains(&attempts) {
        return Err(GaitError::invalid(
            "--retry-max-attempts must be between 1 and 10",
        ));
    }
    let delay = p.duration("retry-base-delay");
    if !(0..=60_000_000_000).contains(&delay) {
        return Err(GaitError::invalid(
            "--retry-base-delay must be between 0 and 60s",
        ));
    }
    let max_bytes = p.int("max-bytes");
    if max_bytes <= 0 {
        return Err(GaitError::invalid("--max-bytes must be positive"));
    }
    let (ca_files, ca_dirs) = match p.opt("registry-ca") {
        Some(f) => (vec![PathBuf::from(f.trim())], Vec::new()),
        None => ca_from_env(ctx),
    };
    Ok(FetchSettings {
        allow_hosts: p.csv("allow-host"),
        allow_insecure_http: p.bool("allow-insecure-http"),
        ca_files,
        ca_dirs,
        retry_max_attempts: attempts as u32,
        retry_base_delay: std::time::Duration::from_nanos(delay as u64),
        max_bytes: max_bytes as u64,
        ..FetchSettings::default()
    })
}

fn plan(ctx: &Ctx, p: &Parsed) -> Result<InstallPlan, GaitError> {
    Ok(InstallPlan {
        registry: p.opt("registry").map(|r| r.trim().to_string()),
        specs: p.positionals.clone(),
        locked: p.bool("locked"),
        lockfile: p.opt("lockfile").map(|l| PathBuf::from(l.trim())),
        settings: fetch_settings(ctx, p)?,
    })
}

// ---------------------------------------------------------------------------------------------
// install / update / remove / verify / list

pub static INSTALL: Command = Command {
    path: "plugin install",
    synopsis: "NAME[@REQ]... --registry DIR|URL [--locked] [--allow-host HOSTS]",
    summary: "Install plugins from a signed registry: resolve, verify signature and digests, pin.",
    explain: "Resolves each plugin to the highest version matching its requirement in a signed registry index, verifies the index, the manifest signature against your trusted keys and every file digest, then installs and pins it and records it in gait.lock (--locked installs exactly the lockfile).",
    flags: fetch_flags!(Flag::bool(
        "locked",
        "install exactly the versions, digests and keys pinned in the lockfile"
    )),
    order: Order::Interspersed,
    custom_explain: false,
    run: run_install,
};

#[derive(Serialize)]
struct InstalledRow {
    name: String,
    version: String,
    kind: String,
    form: String,
    registry: String,
    requirement: String,
    manifest_digest: String,
    key_ids: Vec<String>,
    unchanged: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    previous_version: String,
    index_version: u64,
}

impl From<&Installed> for InstalledRow {
    fn from(i: &Installed) -> Self {
        InstalledRow {
            name: i.pin.name.clone(),
            version: i.pin.version.clone(),
            kind: i.pin.kind.to_string(),
            form: i.pin.form.to_string(),
            registry: i.pin.registry.clone(),
            requirement: i.pin.requirement.clone(),
            manifest_digest: i.pin.manifest_digest.clone(),
            key_ids: i.pin.key_ids.clone(),
            unchanged: i.unchanged,
            previous_version: i
                .previous
                .as_ref()
                .filter(|p| p.version != i.pin.version)
                .map(|p| p.version.clone())
                .unwrap_or_default(),
            index_version: i.index_version,
        }
    }
}

#[derive(Serialize)]
struct InstallOutput {
    ok: bool,
    plugins: Vec<InstalledRow>,
    #[serde(skip_serializing_if = "String::is_empty")]
    lockfile: String,
}

fn run_install(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let plan = plan(ctx, &p)?;
    let installed = ops::install_plan(&home(ctx), &plan, ctx.now())?;
    let rows: Vec<InstalledRow> = installed.iter().map(InstalledRow::from).collect();
    let mut text = String::new();
    for r in &rows {
        let what = if r.unchanged {
            "already installed"
        } else {
            "installed"
        };
        text.push_str(&format!(
            "plugin install ok: {}@{} {what} ({} {}) pin=sha256:{} from {}\n",
            r.name, r.version, r.form, r.kind, r.manifest_digest, r.registry
        ));
    }
    let lockfile = if plan.locked {
        String::new()
    } else {
        plan.lockfile
            .map(|l| l.display().to_string())
            .unwrap_or_default()
    };
    if !lockfile.is_empty() {
        text.push_str(&format!("lockfile={lockfile}\n"));
    }
    Response::ok(
        &InstallOutput {
            ok: true,
            plugins: rows,
            lockfile,
        },
        text,
    )
}

pub static UPDATE: Command = Command {
    path: "plugin update",
    synopsis: "[NAME...] [--registry DIR|URL]",
    summary: "Install the newest version matching each installed plugin's requirement.",
    explain: "Re-resolves installed plugins against their signed registry with the requirement they were installed for, verifies and installs newer versions, and updates gait.lock.",
    flags: fetch_flags!(Flag::bool(
        "locked",
        "refused: --locked never changes versions"
    )),
    order: Order::Interspersed,
    custom_explain: false,
    run: run_update,
};

#[derive(Serialize)]
struct UpdateOutput {
    ok: bool,
    plugins: Vec<ops::Updated>,
}

fn run_update(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let plan = plan(ctx, &p)?;
    let updated = ops::update(&home(ctx), &plan, ctx.now())?;
    let text = if updated.is_empty() {
        "plugin update ok: no plugins installed".to_string()
    } else {
        updated
            .iter()
            .map(|u| {
                if u.updated {
                    format!("plugin update ok: {} {} -> {}", u.name, u.from, u.to)
                } else {
                    format!("plugin update ok: {} {} is up to date", u.name, u.to)
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Response::ok(
        &UpdateOutput {
            ok: true,
            plugins: updated,
        },
        text,
    )
}

const REMOVE_FLAGS: &[Flag] = &[Flag::string(
    "lockfile",
    gait_registry::lockfile::DEFAULT_PATH,
    "project lockfile to drop the plugins from (empty: none)",
)];

pub static REMOVE: Command = Command {
    path: "plugin remove",
    synopsis: "NAME...",
    summary: "Remove installed plugins (pin and files) and their lockfile entries.",
    explain: "Removes installed plugins: deletes their pin first, so nothing can load them, then their files, and drops them from gait.lock.",
    flags: REMOVE_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_remove,
};

#[derive(Serialize)]
struct RemovedRow {
    name: String,
    version: String,
}

#[derive(Serialize)]
struct RemoveOutput {
    ok: bool,
    removed: Vec<RemovedRow>,
    lockfile_updated: bool,
}

fn run_remove(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let lockfile = p.opt("lockfile").map(|l| PathBuf::from(l.trim()));
    let (removed, lockfile_updated) = ops::remove(&home(ctx), &p.positionals, &lockfile)?;
    let text = removed
        .iter()
        .map(|r| format!("plugin remove ok: {}@{}", r.name, r.version))
        .collect::<Vec<_>>()
        .join("\n");
    Response::ok(
        &RemoveOutput {
            ok: true,
            removed: removed
                .into_iter()
                .map(|r| RemovedRow {
                    name: r.name,
                    version: r.version,
                })
                .collect(),
            lockfile_updated,
        },
        text,
    )
}

pub static VERIFY: Command = Command {
    path: "plugin verify",
    synopsis: "[NAME...]",
    summary: "Re-verify installed plugins: pin, signature by a trusted key, API, file digests.",
    explain: "Checks that each installed plugin still matches its pin, carries a valid signature by a key you trust now (not removed or revoked), fits this gait's plugin API, and that every file still has its signed sha256.",
    flags: &[],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_verify,
};

#[derive(Serialize)]
struct VerifyOutput {
    ok: bool,
    plugins: Vec<ops::VerifyRow>,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
    /// The first failing plugin's own code (`plugin_file_modified`, `plugin_key_revoked`, …), so a
    /// script can branch on the top level as for any other refusal.
    #[serde(skip_serializing_if = "String::is_empty")]
    error_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    hint: String,
}

fn run_verify(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let rows = ops::verify(&home(ctx), &p.positionals)?;
    let failed: Vec<&ops::VerifyRow> = rows.iter().filter(|r| !r.ok).collect();
    let mut text = String::new();
    for r in &rows {
        if r.ok {
            text.push_str(&format!(
                "plugin verify ok: {}@{} pin=sha256:{}\n",
                r.name, r.version, r.manifest_digest
            ));
        } else {
            // The error already names the plugin (`installed plugin NAME@VERSION: …`).
            text.push_str(&format!(
                "plugin verify error: {} ({})\n",
                r.error, r.error_code
            ));
        }
    }
    if rows.is_empty() {
        text.push_str("plugin verify ok: no plugins installed\n");
    }
    let (error, error_code, hint) = match failed.as_slice() {
        [] => (String::new(), String::new(), String::new()),
        [one] => (one.error.clone(), one.error_code.clone(), one.hint.clone()),
        [first, ..] => (
            format!(
                "{} installed plugins failed verification; the first: {}",
                failed.len(),
                first.error
            ),
            first.error_code.clone(),
            if first.hint.is_empty() {
                "each plugin's error and hint are under plugins[]".to_string()
            } else {
                format!(
                    "{} (each plugin's error and hint are under plugins[])",
                    first.hint
                )
            },
        ),
    };
    let code = if failed.is_empty() {
        exit::OK
    } else {
        exit::VERIFY_FAILED
    };
    Response::new(
        code,
        &VerifyOutput {
            ok: failed.is_empty(),
            plugins: rows,
            error,
            error_code,
            hint,
        },
        text,
    )
}

pub static LIST: Command = Command {
    path: "plugin list",
    synopsis: "",
    summary: "List builtin and installed plugins: name, version, kind, form, status, origin, pin.",
    explain: "Lists every plugin gait knows, builtin or installed, with its version, kind, form, origin and pin, marks which one of a name is active, and verifies each installed plugin as loading it would (status ok, or refused with the reason).",
    flags: &[],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_list,
};

#[derive(Serialize)]
struct ListOutput {
    ok: bool,
    plugins: Vec<catalog::ListedPlugin>,
}

fn run_list(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let rows = host(ctx).list()?;
    let mut text = String::new();
    if rows.is_empty() {
        text.push_str(
            "no plugins: install one with `gait plugin install NAME --registry DIR|URL`\n",
        );
    } else {
        let header = ["NAME", "VERSION", "KIND", "FORM", "STATUS", "ORIGIN", "PIN"];
        let cells: Vec<[String; 7]> = rows
            .iter()
            .map(|r| {
                [
                    if r.active {
                        r.name.clone()
                    } else {
                        format!("{} (inactive)", r.name)
                    },
                    r.version.clone(),
                    r.kind.to_string(),
                    r.form.to_string(),
                    if r.verified {
                        "ok".into()
                    } else {
                        format!("refused ({})", r.error_code)
                    },
                    r.origin.clone(),
                    if r.pin.is_empty() {
                        "-".into()
                    } else {
                        r.pin.chars().take(7 + 16).collect()
                    },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cols: Vec<&str>| {
            let mut s = String::new();
            for (i, c) in cols.iter().enumerate() {
                if i + 1 == cols.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                }
            }
            s.push('\n');
            s
        };
        text.push_str(&line(header.to_vec()));
        for row in &cells {
            text.push_str(&line(row.iter().map(String::as_str).collect()));
        }
    }
    Response::ok(
        &ListOutput {
            ok: true,
            plugins: rows,
        },
        text,
    )
}

// ---------------------------------------------------------------------------------------------
// Authoring: new / pack / sign

const NEW_FLAGS: &[Flag] = &[
    Flag::string(
        "template",
        "rhai-grader",
        "what to scaffold: rhai-grader, rhai-broker, rhai-predicate or native",
    ),
    Flag::string("out", "", "directory to create (default: ./NAME)"),
    Flag::string(
        "plugin-api-path",
        "",
        "native: path to gait's plugins/api crate (default: a git dependency on gait)",
    ),
];

pub static NEW: Command = Command {
    path: "plugin new",
    synopsis: "NAME [--template rhai-grader|rhai-broker|rhai-predicate|native] [--out DIR]",
    summary: "Scaffold a plugin: a Rhai grader, broker or predicate, or a native plugin crate.",
    explain: "Creates a plugin source directory with gait-plugin.json and a working entry (a Rhai script or a native cdylib crate) ready for `gait plugin pack`.",
    flags: NEW_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_new,
};

#[derive(Serialize)]
struct NewOutput {
    ok: bool,
    path: String,
    template: String,
    files: Vec<String>,
}

/// Commands that take no arguments refuse stray ones (a typo must not pass silently).
fn no_positionals(p: &Parsed) -> Result<(), GaitError> {
    if p.positionals.is_empty() {
        return Ok(());
    }
    Err(
        GaitError::invalid(format!("unexpected arguments: {}", p.positionals.join(" ")))
            .with_hint("this command takes no arguments; see --help"),
    )
}

fn one_positional(p: &Parsed, what: &str) -> Result<String, GaitError> {
    match p.positionals.as_slice() {
        [one] => Ok(one.trim().to_string()),
        [] => Err(GaitError::invalid(format!("missing {what}"))),
        _ => Err(GaitError::invalid(format!(
            "unexpected arguments: {}",
            p.positionals[1..].join(" ")
        ))),
    }
}

fn run_new(_ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let name = one_positional(&p, "plugin NAME")?;
    let template_text = p.str("template");
    let template = Template::parse(&template_text)?;
    let out = PathBuf::from(p.opt("out").unwrap_or_else(|| name.clone()).trim());
    let api = match p.opt("plugin-api-path") {
        Some(path) => {
            let path = PathBuf::from(path.trim());
            ApiDependency::Path(std::fs::canonicalize(&path).unwrap_or(path))
        }
        None => ApiDependency::Git(authoring::DEFAULT_API_GIT.into()),
    };
    let files = authoring::scaffold(template, &name, &out, &api)?;
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let text = format!(
        "plugin new ok: {name} ({}) in {}\nnext=gait plugin pack {}",
        template_text.trim(),
        out.display(),
        out.display()
    );
    Response::ok(
        &NewOutput {
            ok: true,
            path: out.display().to_string(),
            template: template_text.trim().to_string(),
            files,
        },
        text,
    )
}

const PACK_FLAGS: &[Flag] = &[
    Flag::string(
        "out",
        "",
        "output directory (default: DIR/dist/NAME-VERSION)",
    ),
    Flag::string(
        "library",
        "",
        "native: the built library to pack (default: DIR/target/{release,debug})",
    ),
];

pub static PACK: Command = Command {
    path: "plugin pack",
    synopsis: "[DIR] [--out DIR] [--library PATH]",
    summary: "Pack a plugin source directory: manifest.json with every file's sha256.",
    explain: "Reads gait-plugin.json, copies the entry and listed files, and writes manifest.json with each file's sha256 (and, for native plugins, the build target), ready to sign.",
    flags: PACK_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_pack,
};

#[derive(Serialize)]
struct PackOutput {
    ok: bool,
    path: String,
    name: String,
    version: String,
    kind: String,
    form: String,
    manifest_digest: String,
    files: Vec<gait_registry::manifest::FileEntry>,
}

fn run_pack(_ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let src = match p.positionals.as_slice() {
        [] => PathBuf::from("."),
        _ => PathBuf::from(one_positional(&p, "source DIR")?),
    };
    let out = p.opt("out").map(|o| PathBuf::from(o.trim()));
    let library = p.opt("library").map(|l| PathBuf::from(l.trim()));
    let packed = authoring::pack(&src, out.as_deref(), library.as_deref())?;
    let m = &packed.manifest;
    let text = format!(
        "plugin pack ok: {}@{} ({} {}) manifest={} digest=sha256:{}\nnext=gait plugin sign {} --private-key KEY",
        m.name,
        m.version,
        m.form,
        m.kind,
        packed.dir.join("manifest.json").display(),
        packed.digest,
        packed.dir.display()
    );
    Response::ok(
        &PackOutput {
            ok: true,
            path: packed.dir.display().to_string(),
            name: m.name.clone(),
            version: m.version.clone(),
            kind: m.kind.to_string(),
            form: m.form.to_string(),
            manifest_digest: packed.digest.clone(),
            files: m.files.clone(),
        },
        text,
    )
}

const SIGN_FLAGS: &[Flag] = &[
    Flag::string("private-key", "", "path to the ed25519 private key file"),
    Flag::string(
        "private-key-env",
        "",
        "environment variable holding the base64 private key",
    ),
];

pub static SIGN: Command = Command {
    path: "plugin sign",
    synopsis: "DIR|manifest.json|index.json --private-key FILE",
    summary: "Sign a packed plugin's manifest (or a registry index) with an ed25519 key.",
    explain: "Adds your ed25519 signature over the manifest's canonical digest (after checking every file against it), or over a registry index; signing again with the same key replaces its signature.",
    flags: SIGN_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_sign,
};

#[derive(Serialize)]
struct SignOutput {
    ok: bool,
    path: String,
    kind: String,
    digest: String,
    key_id: String,
    signatures: usize,
}

fn run_sign(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let target = PathBuf::from(one_positional(&p, "DIR or manifest to sign")?);
    let source = ctx.key_source(&p, "private-key", "private-key-env")?;
    let key = source.load_private()?;
    let signed = authoring::sign(&target, &key)?;
    let text = format!(
        "plugin sign ok: {} {} key_id={} signatures={}",
        signed.kind,
        signed.path.display(),
        signed.key_id,
        signed.signatures
    );
    Response::ok(
        &SignOutput {
            ok: true,
            path: signed.path.display().to_string(),
            kind: signed.kind.to_string(),
            digest: signed.digest,
            key_id: signed.key_id,
            signatures: signed.signatures,
        },
        text,
    )
}

// ---------------------------------------------------------------------------------------------
// Trust

const TRUST_ADD_FLAGS: &[Flag] = &[
    Flag::string("name", "", "a label for the key (e.g. the publisher)"),
    Flag::string(
        "public-key-env",
        "",
        "environment variable holding the base64 public key (instead of a file)",
    ),
];

pub static TRUST_ADD: Command = Command {
    path: "plugin trust add",
    synopsis: "PUBLIC_KEY_FILE [--name LABEL]",
    summary: "Trust a publisher's ed25519 public key for plugins and registry indexes.",
    explain: "Adds a publisher's ed25519 public key to the trusted keys in the gait home; plugins and registry indexes must carry a valid signature by a trusted, unrevoked key.",
    flags: TRUST_ADD_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_trust_add,
};

#[derive(Serialize)]
struct TrustKeyRow {
    key_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    added_at: gait_engine::GoTime,
    revoked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<gait_engine::GoTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    revoked_reason: String,
}

impl From<gait_registry::trust::TrustedKey> for TrustKeyRow {
    fn from(k: gait_registry::trust::TrustedKey) -> Self {
        TrustKeyRow {
            revoked: k.is_revoked(),
            key_id: k.key_id,
            name: k.name,
            added_at: k.added_at,
            revoked_at: k.revoked_at,
            revoked_reason: k.revoked_reason,
        }
    }
}

#[derive(Serialize)]
struct TrustAddOutput {
    ok: bool,
    added: bool,
    key: TrustKeyRow,
}

fn run_trust_add(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let mut source = ctx.key_source(&p, "", "public-key-env")?;
    match p.positionals.as_slice() {
        [] => {}
        [file] => source.path = Some(PathBuf::from(file.trim())),
        more => {
            return Err(GaitError::invalid(format!(
                "unexpected arguments: {}",
                more[1..].join(" ")
            )));
        }
    }
    if !source.is_set() {
        return Err(GaitError::invalid("missing PUBLIC_KEY_FILE")
            .with_hint("gait plugin trust add publisher_public.key --name publisher"));
    }
    let key = source.load_public()?;
    let (entry, added) = ops::trust_add(&home(ctx), &key, &p.str("name"), ctx.now())?;
    let text = if added {
        format!("plugin trust add ok: key_id={}", entry.key_id)
    } else {
        format!(
            "plugin trust add ok: key_id={} was already trusted",
            entry.key_id
        )
    };
    Response::ok(
        &TrustAddOutput {
            ok: true,
            added,
            key: entry.into(),
        },
        text,
    )
}

pub static TRUST_LIST: Command = Command {
    path: "plugin trust list",
    synopsis: "",
    summary: "List trusted publisher keys, with revocations.",
    explain: "Lists the publisher keys gait trusts for plugins and registry indexes, including revoked ones.",
    flags: &[],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_trust_list,
};

#[derive(Serialize)]
struct TrustListOutput {
    ok: bool,
    keys: Vec<TrustKeyRow>,
}

fn run_trust_list(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    no_positionals(&p)?;
    let keys: Vec<TrustKeyRow> = ops::trust_list(&home(ctx))?
        .into_iter()
        .map(TrustKeyRow::from)
        .collect();
    let text = if keys.is_empty() {
        "no trusted keys: add one with `gait plugin trust add PUBLIC_KEY_FILE`".to_string()
    } else {
        keys.iter()
            .map(|k| {
                let status = if k.revoked { "revoked" } else { "trusted" };
                format!("{} {status} {}", k.key_id, k.name)
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Response::ok(&TrustListOutput { ok: true, keys }, text)
}

pub static TRUST_REMOVE: Command = Command {
    path: "plugin trust remove",
    synopsis: "KEY_ID",
    summary: "Stop trusting a key (its id or a unique prefix of 8+ hex characters).",
    explain: "Removes a key from the trusted keys; plugins and indexes signed only by it are refused from then on, at install and at load.",
    flags: &[],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_trust_remove,
};

#[derive(Serialize)]
struct TrustChangeOutput {
    ok: bool,
    key: TrustKeyRow,
}

fn run_trust_remove(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let id = one_positional(&p, "KEY_ID")?;
    let key = ops::trust_remove(&home(ctx), &id)?;
    let text = format!("plugin trust remove ok: key_id={}", key.key_id);
    Response::ok(
        &TrustChangeOutput {
            ok: true,
            key: key.into(),
        },
        text,
    )
}

const REVOKE_FLAGS: &[Flag] = &[Flag::string("reason", "", "why the key is revoked")];

pub static TRUST_REVOKE: Command = Command {
    path: "plugin trust revoke",
    synopsis: "KEY_ID [--reason TEXT]",
    summary: "Revoke a key: refuse everything signed only by it, and refuse re-adding it.",
    explain: "Marks a trusted key as revoked: plugins and indexes signed only by it are refused at install and at load with a clear error, and the key cannot be added again until it is removed.",
    flags: REVOKE_FLAGS,
    order: Order::Interspersed,
    custom_explain: false,
    run: run_trust_revoke,
};

#[derive(Serialize)]
struct TrustRevokeOutput {
    ok: bool,
    /// The key was revoked before this call; its first `revoked_at` and reason are kept.
    already_revoked: bool,
    key: TrustKeyRow,
}

fn run_trust_revoke(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let id = one_positional(&p, "KEY_ID")?;
    let (key, already_revoked) = ops::trust_revoke(&home(ctx), &id, &p.str("reason"), ctx.now())?;
    let text = match (&key.revoked_at, already_revoked) {
        (Some(at), true) => format!(
            "plugin trust revoke ok: key_id={} was already revoked at {} (first revocation kept)",
            key.key_id,
            at.rfc3339()
        ),
        _ => format!("plugin trust revoke ok: key_id={}", key.key_id),
    };
    Response::ok(
        &TrustRevokeOutput {
            ok: true,
            already_revoked,
            key: key.into(),
        },
        text,
    )
}

// ---------------------------------------------------------------------------------------------
// Commands contributed by installed native plugins.

/// The flags gait itself reads on an extension command, before a `--`: `--json`, `--explain`,
/// `--help` / `-h` (one or two dashes, `=true` / `=false`). Everything else is the plugin's.
fn gait_flag(arg: &str) -> Option<(&'static str, bool)> {
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    let (name, value) = match body.split_once('=') {
        Some((n, "true")) => (n, true),
        Some((n, "false")) => (n, false),
        Some(_) => return None,
        None => (body, true),
    };
    match name {
        "json" => Some(("json", value)),
        "explain" => Some(("explain", value)),
        "help" | "h" => Some(("help", value)),
        _ => None,
    }
}

/// The last value each of gait's own flags is given before `--`, and the plugin's arguments:
/// everything else, in order (unknown flags, `--` and what follows included).
fn split_extension_args(rest: &[String]) -> (bool, bool, bool, Vec<String>) {
    let (mut json, mut explain, mut help) = (false, false, false);
    let mut args = Vec::new();
    let mut passthrough = false;
    for a in rest {
        if !passthrough && a == "--" {
            passthrough = true;
        }
        match gait_flag(a).filter(|_| !passthrough) {
            Some(("json", v)) => json = v,
            Some(("explain", v)) => explain = v,
            Some((_, v)) => help = v,
            None => args.push(a.clone()),
        }
    }
    (json, explain, help, args)
}

/// Runs `gait <words> ...` when an installed native plugin declares those words (checked only
/// after no builtin command matched). `None` when no plugin provides them.
pub fn extension(ctx: &mut Ctx, args: &[String]) -> Option<CmdResult> {
    // A builtin command group's namespace is never handed to a plugin (`gait plugin instal` stays
    // an unknown command, whatever a plugin declares).
    if builtin_namespace(args.first()?) {
        return None;
    }
    let home = home(ctx);
    let (pin, words, consumed) = ops::find_extension(&home, args)?;
    ctx.command = words.clone();
    let (json, explain, help, rest) = split_extension_args(&args[consumed..]);
    ctx.json = json;
    let summary = pin
        .commands
        .iter()
        .find(|c| c.words == words)
        .map(|c| c.summary.clone())
        .unwrap_or_default();
    if explain {
        let explain = format!(
            "{summary} (contributed by plugin {}@{})",
            pin.name, pin.version
        )
        .trim()
        .to_string();
        return Some(Response::ok(
            &serde_json::json!({"ok": true, "command": format!("gait {words}"), "explain": explain}),
            explain.clone(),
        ));
    }
    if help {
        // From the pin (the signed manifest's declared commands): nothing is loaded for help.
        let usage = extension_usage(&words, &summary, &pin.name, &pin.version);
        return Some(Response::ok(
            &serde_json::json!({"ok": true, "command": format!("gait {words}"), "usage": usage}),
            usage.clone(),
        ));
    }
    Some(run_extension(&host(ctx), &pin.name, &words, &rest, json))
}

fn extension_usage(words: &str, summary: &str, plugin: &str, version: &str) -> String {
    let mut out = format!("Usage: gait {words} [args] [--json]\n\n");
    if !summary.is_empty() {
        out.push_str(&format!("{summary}\n\n"));
    }
    out.push_str(&format!(
        "Contributed by plugin {plugin}@{version}. gait reads --json, --explain and --help (before a\n\
         `--`); every other argument, flags included, is passed to the plugin unchanged.\n"
    ));
    out
}

/// `gait <words>` when the words start commands of installed plugins but name none of them (as
/// `gait example-native`): the group's words, its usage, and how many arguments it used.
pub fn extension_group(ctx: &Ctx, args: &[String]) -> Option<(String, String, usize)> {
    if builtin_namespace(args.first()?) {
        return None;
    }
    let (group, consumed, members) = ops::find_extension_group(&home(ctx), args)?;
    let mut usage =
        format!("Usage: gait {group} <subcommand> [args]\n\nCommands (from installed plugins):\n");
    usage.push_str(&contributed_table(&members));
    usage.push_str("\nRun `gait <command> --help` for a command's usage.\n");
    Some((group, usage, consumed))
}

fn contributed_table(commands: &[gait_registry::catalog::ContributedCommand]) -> String {
    let width = commands.iter().map(|c| c.words.len()).max().unwrap_or(0);
    commands
        .iter()
        .map(|c| {
            let from = format!("[plugin {}@{}]", c.plugin, c.version);
            let about = if c.summary.is_empty() {
                from
            } else {
                format!("{} {from}", c.summary)
            };
            format!("  {:<width$}  {about}\n", c.words)
        })
        .collect()
}

/// The commands installed plugins contribute, for `gait --help` (read from the pins only when
/// help is asked; empty when none are installed).
pub fn installed_commands_usage(ctx: &Ctx) -> String {
    let commands = ops::contributed_commands(&home(ctx));
    if commands.is_empty() {
        return String::new();
    }
    format!(
        "\nCommands from installed plugins:\n{}",
        contributed_table(&commands)
    )
}

/// True when `word` starts a builtin command (`keys`, `plugin`, `registry`, …).
fn builtin_namespace(word: &str) -> bool {
    crate::commands::all()
        .iter()
        .any(|c| c.path.split(' ').next() == Some(word))
}

fn run_extension(
    host: &PluginHost,
    name: &str,
    words: &str,
    args: &[String],
    json: bool,
) -> CmdResult {
    let plugin = host.extension(name)?;
    let out = plugin
        .run(words, args, json)
        .map_err(gait_host::plugin_error)?;
    let mut object = out.json;
    object
        .entry("ok".to_string())
        .or_insert(serde_json::Value::Bool(out.exit_code == exit::OK));
    Response::new(out.exit_code, &serde_json::Value::Object(object), out.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_groups_are_not_extension_namespaces() {
        for word in ["plugin", "registry", "keys"] {
            assert!(builtin_namespace(word), "{word}");
        }
        assert!(!builtin_namespace("example-native"));
    }

    #[test]
    fn extension_args_keep_everything_but_gaits_own_flags() {
        let v = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let (json, explain, help, args) = split_extension_args(&v(&[
            "ada", "--json", "--loud", "-x=1", "--", "--json", "-h",
        ]));
        assert_eq!((json, explain, help), (true, false, false));
        assert_eq!(args, v(&["ada", "--loud", "-x=1", "--", "--json", "-h"]));
        let (json, _, help, args) = split_extension_args(&v(&["-json=true", "-json=false", "-h"]));
        assert_eq!((json, help, args.len()), (false, true, 0));
        let (_, explain, help, _) = split_extension_args(&v(&["--help=false", "-explain"]));
        assert_eq!((explain, help), (true, false));
        // Not gait's: other values, other names.
        assert_eq!(gait_flag("--json=yes"), None);
        assert_eq!(gait_flag("--helpme"), None);
        assert_eq!(gait_flag("json"), None);
    }

    #[test]
    fn path_lists_split_like_the_platform() {
        let sep = if cfg!(windows) { ";" } else { ":" };
        assert_eq!(
            path_list(&format!("/a{sep} {sep}/b")),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
    }
}
