//! Authoring: scaffold a plugin, pack it (manifest + digests), sign manifests and indexes, and build
//! a registry's signed index from a folder of packed plugins.
//!
//! A plugin's source directory holds `gait-plugin.json` (name, version, kind, form, entry or
//! library, plugin_api, and the kind's extras); `pack` turns it into a directory with
//! `manifest.json` and the files it lists, ready to sign and publish.

use crate::codes;
use crate::index::{self, IndexEntry, RegistryIndex};
use crate::manifest::{
    self, CommandDecl, FileEntry, MAX_MANIFEST_BYTES, PluginManifest, TemplateDecl,
};
use crate::model::{PluginForm, PluginKind, host_target};
use crate::relpath;
use crate::store;
use gait_engine::canon::sha256_hex;
use gait_engine::crypto::{PrivateKey, Signature};
use gait_engine::{GaitError, GoTime, fsx};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SOURCE_FILE: &str = "gait-plugin.json";
const MAX_SOURCE_FILE: u64 = 512 * 1024 * 1024;

/// `gait-plugin.json`: what the author writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSource {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub form: PluginForm,
    #[serde(default = "default_api")]
    pub plugin_api: String,
    /// Script or data forms: the entry file, relative to the source directory.
    #[serde(default)]
    pub entry: String,
    /// Native form: the library's base name (the crate name with `_`), found under `target/`.
    #[serde(default)]
    pub library: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub commands: Vec<CommandDecl>,
    #[serde(default)]
    pub templates: Vec<TemplateDecl>,
    /// More files to ship, relative to the source directory.
    #[serde(default)]
    pub include: Vec<String>,
}

fn default_api() -> String {
    format!("^{}", gait_plugin_api::PLUGIN_API_VERSION)
}

/// A packed plugin.
#[derive(Clone, Debug)]
pub struct Packed {
    pub dir: PathBuf,
    pub manifest: PluginManifest,
    pub digest: String,
}

fn read_source_file(src: &Path, rel: &str) -> Result<Vec<u8>, GaitError> {
    if let Some(p) = relpath::problem(rel) {
        return Err(GaitError::invalid(format!("file {rel:?} {p}")));
    }
    Ok(fsx::read_bounded(
        &relpath::join(src, rel),
        MAX_SOURCE_FILE,
    )?)
}

fn find_library(src: &Path, base: &str) -> Result<PathBuf, GaitError> {
    let file = format!(
        "{}{base}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    for profile in ["release", "debug"] {
        let p = src.join("target").join(profile).join(&file);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(GaitError::invalid(format!(
        "cannot find the built library {file} under {}/target/{{release,debug}}",
        src.display()
    ))
    .with_hint("build it with `cargo build --release`, or pass --library PATH"))
}

/// Packs the plugin in `src` into `out` (default `<src>/dist/<name>-<version>`; replaced if it
/// exists). `library` overrides where a native plugin's built library is taken from.
pub fn pack(src: &Path, out: Option<&Path>, library: Option<&Path>) -> Result<Packed, GaitError> {
    let bytes = fsx::read_bounded(&src.join(SOURCE_FILE), MAX_MANIFEST_BYTES)?;
    let source: PluginSource = crate::json::strict(&bytes, SOURCE_FILE, "plugin_source_invalid")?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |rel: String, bytes: Vec<u8>| {
        if !files.iter().any(|(p, _)| *p == rel) {
            files.push((rel, bytes));
        }
    };
    let (entry, target) = if source.form == PluginForm::Native {
        let lib = match library {
            Some(p) => p.to_path_buf(),
            None if !source.library.is_empty() => find_library(src, &source.library)?,
            None => {
                return Err(GaitError::invalid(
                    "a native plugin's gait-plugin.json must name its `library`, or pass --library PATH",
                ));
            }
        };
        let name = lib
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        add(name.clone(), fsx::read_bounded(&lib, MAX_SOURCE_FILE)?);
        (name, host_target())
    } else {
        if !source.library.is_empty() {
            return Err(GaitError::invalid("only native plugins name a `library`"));
        }
        add(source.entry.clone(), read_source_file(src, &source.entry)?);
        (source.entry.clone(), String::new())
    };
    let extra: Vec<String> = source
        .include
        .iter()
        .cloned()
        .chain(source.templates.iter().map(|t| t.file.clone()))
        .collect();
    for rel in extra {
        let bytes = read_source_file(src, &rel)?;
        add(rel, bytes);
    }
    let mut manifest = PluginManifest {
        schema_id: manifest::SCHEMA_ID.into(),
        schema_version: manifest::SCHEMA_VERSION.into(),
        name: source.name,
        version: source.version,
        kind: source.kind,
        form: source.form,
        entry,
        plugin_api: source.plugin_api,
        description: source.description,
        target,
        env: source.env,
        commands: source.commands,
        templates: source.templates,
        files: files
            .iter()
            .map(|(path, bytes)| FileEntry {
                path: path.clone(),
                sha256: sha256_hex(bytes),
            })
            .collect(),
        signatures: Vec::new(),
    };
    manifest.files.sort();
    manifest.validate()?;
    let digest = manifest.digest()?;
    let default_out;
    let out = match out {
        Some(o) => o,
        None => {
            default_out = src
                .join("dist")
                .join(format!("{}-{}", manifest.name, manifest.version));
            &default_out
        }
    };

    // Write beside the target, then swap, so `out` is never half-written.
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fsx::create_dir_all(&parent)?;
    let tmp = parent.join(format!(
        ".{}.pack-{}",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    store::remove_tree(&tmp)?;
    fsx::create_dir_all(&tmp)?;
    let result = (|| {
        for (rel, bytes) in &files {
            fsx::write_atomic(&relpath::join(&tmp, rel), bytes, 0o644)?;
        }
        fsx::write_atomic(
            &tmp.join("manifest.json"),
            &crate::json::indented(&manifest)?,
            0o644,
        )?;
        store::remove_tree(out)?;
        std::fs::rename(&tmp, out)
            .map_err(|e| GaitError::io(format!("move {}: {}", out.display(), fsx::io_reason(&e))))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result?;
    Ok(Packed {
        dir: out.to_path_buf(),
        manifest,
        digest,
    })
}

/// Checks that every file a manifest lists sits beside it with the declared sha256.
pub fn check_files(dir: &Path, m: &PluginManifest) -> Result<(), GaitError> {
    for f in &m.files {
        let bytes = fsx::read_bounded(&relpath::join(dir, &f.path), MAX_SOURCE_FILE)?;
        if sha256_hex(&bytes) != f.sha256 {
            return Err(codes::refuse(
                codes::DIGEST_MISMATCH,
                format!(
                    "file {} in {} does not match its manifest; pack again",
                    f.path,
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}

fn add_signature(signatures: &mut Vec<Signature>, sig: Signature) {
    signatures.retain(|s| s.key_id != sig.key_id);
    signatures.push(sig);
    signatures.sort_by(|a, b| a.key_id.cmp(&b.key_id));
}

/// What `sign` signed.
#[derive(Clone, Debug)]
pub struct Signed {
    pub path: PathBuf,
    pub kind: &'static str,
    pub digest: String,
    pub key_id: String,
    pub signatures: usize,
}

/// Adds (or replaces) `key`'s signature on a manifest or an index. `target` is the file or the
/// directory holding `manifest.json` or `index.json`. A manifest is signed only after its files
/// were checked against it: a signature vouches for bytes the signer has seen.
pub fn sign(target: &Path, key: &PrivateKey) -> Result<Signed, GaitError> {
    let path = if target.is_dir() {
        let m = target.join("manifest.json");
        if m.is_file() {
            m
        } else {
            target.join(index::FILE_NAME)
        }
    } else {
        target.to_path_buf()
    };
    let bytes = fsx::read_bounded(&path, index::MAX_INDEX_BYTES)?;
    let probe: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| GaitError::invalid(format!("{}: not JSON: {e}", path.display())))?;
    match probe.get("schema_id").and_then(|v| v.as_str()) {
        Some(manifest::SCHEMA_ID) => {
            let v = manifest::decode(&bytes)?;
            let dir = path.parent().unwrap_or(Path::new("."));
            check_files(dir, &v.manifest)?;
            let mut m = v.manifest;
            let sig = key
                .sign_digest(&v.digest)
                .map_err(|e| GaitError::internal(e.to_string()))?;
            let key_id = sig.key_id.clone();
            add_signature(&mut m.signatures, sig);
            fsx::write_atomic(&path, &crate::json::indented(&m)?, 0o644)?;
            Ok(Signed {
                path,
                kind: "manifest",
                digest: v.digest,
                key_id,
                signatures: m.signatures.len(),
            })
        }
        Some(index::SCHEMA_ID) => {
            let (mut idx, digest) = index::decode(&bytes)?;
            let sig = key
                .sign_digest(&digest)
                .map_err(|e| GaitError::internal(e.to_string()))?;
            let key_id = sig.key_id.clone();
            add_signature(&mut idx.signatures, sig);
            fsx::write_atomic(&path, &crate::json::indented(&idx)?, 0o644)?;
            Ok(Signed {
                path,
                kind: "index",
                digest,
                key_id,
                signatures: idx.signatures.len(),
            })
        }
        _ => Err(GaitError::invalid(format!(
            "{} is neither a plugin manifest nor a registry index",
            path.display()
        ))
        .with_hint(
            "pass a packed plugin directory, its manifest.json, or a registry's index.json",
        )),
    }
}

/// Options for `build_index`.
#[derive(Clone, Debug)]
pub struct IndexOptions {
    /// The new index version; default: the current index's version + 1 (or 1).
    pub version: Option<u64>,
    /// How long the index stays valid, in nanoseconds.
    pub ttl_nanos: i128,
    pub registry_name: String,
    pub now: GoTime,
}

fn find_manifests(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<String>,
) -> Result<(), GaitError> {
    if depth > 6 {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| GaitError::io(format!("read {}: {}", dir.display(), fsx::io_reason(&e))))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            find_manifests(root, &path, depth + 1, out)?;
        } else if ft.is_file() && name == "manifest.json" && depth > 0 {
            let rel = path
                .strip_prefix(root)
                .map(|r| {
                    r.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default();
            out.push(rel);
        }
    }
    Ok(())
}

/// Builds, signs and writes `<folder>/index.json` from every packed, signed plugin below `folder`.
pub fn build_index(
    folder: &Path,
    key: &PrivateKey,
    opts: &IndexOptions,
) -> Result<(RegistryIndex, PathBuf), GaitError> {
    let index_path = folder.join(index::FILE_NAME);
    let previous = if index_path.is_file() {
        let bytes = fsx::read_bounded(&index_path, index::MAX_INDEX_BYTES)?;
        index::decode(&bytes).ok().map(|(i, _)| i.version)
    } else {
        None
    };
    let version = match (opts.version, previous) {
        (Some(v), Some(p)) if v <= p => {
            return Err(GaitError::invalid(format!(
                "index version {v} must be greater than the current index version {p}"
            ))
            .with_hint("clients refuse an index older than one they have seen; omit --version to use the next one"));
        }
        (Some(v), _) => v,
        (None, Some(p)) => p + 1,
        (None, None) => 1,
    };
    let mut rels = Vec::new();
    find_manifests(folder, folder, 0, &mut rels)?;
    let mut entries = Vec::new();
    for rel in rels {
        if let Some(p) = relpath::problem(&rel) {
            return Err(GaitError::invalid(format!(
                "manifest path {rel:?} {p}; rename the directory"
            )));
        }
        let path = relpath::join(folder, &rel);
        let bytes = fsx::read_bounded(&path, MAX_MANIFEST_BYTES)?;
        let v = manifest::decode(&bytes).map_err(|e| e.context(&rel))?;
        if v.manifest.signatures.is_empty() {
            return Err(codes::refuse(
                codes::UNSIGNED,
                format!("{rel} is not signed; sign it before indexing"),
            )
            .with_hint("gait plugin sign DIR --private-key KEY"));
        }
        check_files(path.parent().unwrap_or(folder), &v.manifest)?;
        entries.push(IndexEntry {
            name: v.manifest.name,
            version: v.manifest.version,
            kind: v.manifest.kind,
            form: v.manifest.form,
            manifest: rel,
            manifest_digest: v.digest,
        });
    }
    let generated_at = opts.now.utc();
    let mut idx = RegistryIndex {
        schema_id: index::SCHEMA_ID.into(),
        schema_version: index::SCHEMA_VERSION.into(),
        registry: opts.registry_name.trim().to_string(),
        version,
        generated_at,
        expires_at: generated_at.add_nanos(opts.ttl_nanos),
        entries,
        signatures: Vec::new(),
    };
    idx.sort_entries();
    idx.validate()?;
    let digest = idx.digest()?;
    idx.signatures = vec![
        key.sign_digest(&digest)
            .map_err(|e| GaitError::internal(e.to_string()))?,
    ];
    fsx::write_atomic(&index_path, &crate::json::indented(&idx)?, 0o644)?;
    Ok((idx, index_path))
}

/// What `gait plugin new` can scaffold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    RhaiGrader,
    RhaiBroker,
    RhaiPredicate,
    Native,
}

impl Template {
    pub const NAMES: &'static str = "rhai-grader, rhai-broker, rhai-predicate, native";

    pub fn parse(s: &str) -> Result<Template, GaitError> {
        match s.trim() {
            "rhai-grader" => Ok(Template::RhaiGrader),
            "rhai-broker" => Ok(Template::RhaiBroker),
            "rhai-predicate" => Ok(Template::RhaiPredicate),
            "native" => Ok(Template::Native),
            other => Err(GaitError::invalid(format!(
                "unknown plugin template {other:?}; choose one of {}",
                Template::NAMES
            ))),
        }
    }
}

/// Where scaffolded native crates get `gait-plugin-api` unless told otherwise.
pub const DEFAULT_API_GIT: &str = "https://github.com/gait-rs/gait";

/// Where a scaffolded native crate finds `gait-plugin-api`.
#[derive(Clone, Debug)]
pub enum ApiDependency {
    Path(PathBuf),
    Git(String),
}

/// Writes a new plugin source directory `out` (which must not exist or be empty).
pub fn scaffold(
    template: Template,
    name: &str,
    out: &Path,
    api: &ApiDependency,
) -> Result<Vec<PathBuf>, GaitError> {
    if let Some(p) = manifest::plugin_name_problem(name) {
        return Err(GaitError::invalid(format!("plugin name {name:?} {p}")).with_hint(
            "a plugin name is 1 to 64 characters of a-z, 0-9, `_` and `-`, starting with a letter or digit; `off` is reserved",
        ));
    }
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(GaitError::invalid(format!(
            "{} already exists and is not empty",
            out.display()
        ))
        .with_hint("choose another --out directory"));
    }
    let api_req = default_api();
    let mut files: Vec<(&str, String)> = Vec::new();
    match template {
        Template::RhaiGrader => {
            files.push((
                SOURCE_FILE,
                source_json(
                    name,
                    "grader",
                    "rhai",
                    "\"entry\": \"grader.rhai\"",
                    &api_req,
                    "A Rhai grader: fails a fixture whose replay exited non-zero.",
                ),
            ));
            files.push(("grader.rhai", RHAI_GRADER.to_string()));
        }
        Template::RhaiBroker => {
            files.push((
                SOURCE_FILE,
                source_json(
                    name,
                    "credential_broker",
                    "rhai",
                    "\"entry\": \"broker.rhai\",\n  \"env\": [\"EXAMPLE_TOKEN_REF\"]",
                    &api_req,
                    "A Rhai credential broker: issues a reference named by EXAMPLE_TOKEN_REF.",
                ),
            ));
            files.push(("broker.rhai", RHAI_BROKER.to_string()));
        }
        Template::RhaiPredicate => {
            files.push((
                SOURCE_FILE,
                source_json(
                    name,
                    "predicate",
                    "rhai",
                    "\"entry\": \"predicate.rhai\"",
                    &api_req,
                    "A Rhai policy predicate: true when args.amount is above 1000.",
                ),
            ));
            files.push(("predicate.rhai", RHAI_PREDICATE.to_string()));
        }
        Template::Native => {
            let lib = name.replace('-', "_");
            let dep = match api {
                ApiDependency::Path(p) => format!("{{ path = {:?} }}", p.display().to_string()),
                ApiDependency::Git(url) => {
                    format!("{{ git = {url:?}, package = \"gait-plugin-api\" }}")
                }
            };
            files.push((SOURCE_FILE, source_json(name, "grader", "native", &format!("\"library\": \"{lib}\",\n  \"commands\": [\n    {{\"words\": \"{name} hello\", \"summary\": \"Say hello from {name}.\"}}\n  ]"), &api_req, "A native grader that also contributes a command.")));
            files.push((
                "Cargo.toml",
                NATIVE_CARGO.replace("{name}", name).replace("{dep}", &dep),
            ));
            files.push(("src/lib.rs", NATIVE_LIB.replace("{name}", name)));
        }
    }
    files.push(("README.md", README.replace("{name}", name)));
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = relpath::join(out, rel);
        fsx::write_atomic(&path, text.as_bytes(), 0o644)?;
        written.push(path);
    }
    Ok(written)
}

fn source_json(
    name: &str,
    kind: &str,
    form: &str,
    extra: &str,
    api: &str,
    description: &str,
) -> String {
    format!(
        "{{\n  \"name\": \"{name}\",\n  \"version\": \"0.1.0\",\n  \"kind\": \"{kind}\",\n  \"form\": \"{form}\",\n  \"plugin_api\": \"{api}\",\n  \"description\": \"{description}\",\n  {extra}\n}}\n"
    )
}

const RHAI_GRADER: &str = r#"// A gait grader plugin. gait runs this script once per regress fixture with `fixture`, a
// read-only view of it (name, run_id, spec, manifest, run, intents, results, refs, replay, diff;
// see docs/graders.md), and expects true/false or a map back:
//   #{ pass: true | false, reason_codes: [..], message: "..", details: #{..} }
// Scripts run sandboxed: no files, network, clock or randomness.

let code = fixture.replay.exit_code;
if code == 0 {
    #{ pass: true, reason_codes: ["replay_ok"], message: "replay exited 0" }
} else {
    #{ pass: false, reason_codes: ["replay_failed"], message: `replay exited ${code}` }
}
"#;

const RHAI_BROKER: &str = r#"// A gait credential broker plugin. For an allowed call whose rule requires a broker credential,
// gait runs this script with `request` (tool_name, identity, workspace, session_id, request_id,
// run_id, job_id, reference, scope, target_binding, request_digest) and `env`, which holds only
// the environment variables this plugin's manifest declares. Return a *reference* to a
// credential, never the secret itself:
//   #{ credential_ref: "..", source, access_type, issuer, subject, owner, ttl_seconds, .. }
// A receipt that binds the credential (target_binding, run_binding, job_binding, scope) must
// also name the request it answers (request_digest), or the gate refuses it.
// Throwing an error refuses the credential, and the call is blocked (gait reports only that the
// script failed, never its error text, which could hold a value the script read).

let name = env.EXAMPLE_TOKEN_REF;
if name == () || name == "" {
    throw "EXAMPLE_TOKEN_REF is not set";
}
#{
    credential_ref: `env:${name}`,
    source: "env",
    access_type: "jit",
    issuer: "example",
    subject: request.identity,
    target_binding: request.target_binding,
    request_digest: request.request_digest,
    ttl_seconds: 300
}
"#;

const RHAI_PREDICATE: &str = r#"// A gait policy predicate plugin. A rule names it with `match: { predicate: NAME }`; once the
// rule's other match conditions hold, gait runs this script with `intent`, the normalized intent
// (tool_name, args, targets, arg_provenance, context, ..), and expects true or false. An error, a
// sandbox limit or any other result blocks the call (fail closed).

let amount = intent.args?.amount;
switch type_of(amount) {
    "i64" | "f64" => amount > 1000,
    _ => false
}
"#;

const NATIVE_CARGO: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# A standalone crate, not part of any enclosing workspace.
[workspace]

[lib]
crate-type = ["cdylib"]

[dependencies]
gait-plugin-api = {dep}
serde_json = "1"
"#;

const NATIVE_LIB: &str = r#"//! {name}: a native gait plugin (a grader plus one command).

use gait_plugin_api::{
    CommandOutput, CommandRequest, CommandSpec, GradeOutcome, GradeStatus, Plugin,
    PluginDescription, PluginFailure,
};
use serde_json::{json, Value};

pub struct ThisPlugin;

impl Plugin for ThisPlugin {
    fn describe() -> PluginDescription {
        PluginDescription {
            name: "{name}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn grade(fixture: &Value) -> Result<GradeOutcome, PluginFailure> {
        let intents = fixture.get("intents").and_then(Value::as_array).map_or(0, Vec::len);
        let status = if intents > 0 { GradeStatus::Pass } else { GradeStatus::Fail };
        Ok(GradeOutcome {
            status,
            reason_codes: vec![if intents > 0 { "intents_present" } else { "no_intents" }.into()],
            message: format!("{intents} intents"),
            details: Default::default(),
        })
    }

    fn commands() -> Vec<CommandSpec> {
        vec![CommandSpec {
            words: "{name} hello".into(),
            summary: "Say hello from {name}.".into(),
        }]
    }

    fn run_command(request: &CommandRequest) -> Result<CommandOutput, PluginFailure> {
        let mut out = serde_json::Map::new();
        out.insert("ok".into(), json!(true));
        out.insert("args".into(), json!(request.args));
        Ok(CommandOutput {
            exit_code: 0,
            json: out,
            text: "hello from {name}".into(),
        })
    }
}

gait_plugin_api::export_plugin!(ThisPlugin);
"#;

const README: &str = r#"# {name}

A gait plugin. Edit `gait-plugin.json` and the entry file, then:

```bash
gait plugin pack . --out dist/{name}            # manifest.json with every file's sha256
gait plugin sign dist/{name} --private-key KEY  # ed25519 over the manifest digest
cp -r dist/{name} REGISTRY/{name}-0.1.0          # publish next to other packed plugins
gait registry index REGISTRY --private-key KEY  # signed index.json
gait plugin install {name} --registry REGISTRY  # after `gait plugin trust add PUBLIC_KEY`
```

Native plugins: `cargo build --release` first; `gait plugin pack` takes the library from
`target/release` (or `--library PATH`). See docs/plugins.md in the gait repository.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaffolds_pack_into_valid_manifests() {
        let dir = tempfile::tempdir().unwrap();
        for (t, kind) in [
            (Template::RhaiGrader, PluginKind::Grader),
            (Template::RhaiBroker, PluginKind::CredentialBroker),
            (Template::RhaiPredicate, PluginKind::Predicate),
        ] {
            let src = dir.path().join(format!("{t:?}"));
            scaffold(t, "demo-plugin", &src, &ApiDependency::Git("x".into())).unwrap();
            let out = dir.path().join(format!("{t:?}-out"));
            let packed = pack(&src, Some(&out), None).unwrap();
            assert_eq!(packed.manifest.kind, kind);
            assert_eq!(packed.manifest.form, PluginForm::Rhai);
            assert_eq!(packed.manifest.plugin_api, default_api());
            // The packed manifest decodes to the same digest.
            let bytes = std::fs::read(out.join("manifest.json")).unwrap();
            assert_eq!(manifest::decode(&bytes).unwrap().digest, packed.digest);
            check_files(&out, &packed.manifest).unwrap();
            // Packing again is deterministic.
            assert_eq!(pack(&src, Some(&out), None).unwrap().digest, packed.digest);
        }
        // The directory must be new.
        let src = dir.path().join("RhaiGrader");
        assert!(
            scaffold(
                Template::RhaiGrader,
                "x",
                &src,
                &ApiDependency::Git("x".into())
            )
            .is_err()
        );
        assert!(Template::parse("lua-grader").is_err());
    }

    #[test]
    fn native_scaffold_names_its_library() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("n");
        scaffold(
            Template::Native,
            "my-native",
            &src,
            &ApiDependency::Path("/api".into()),
        )
        .unwrap();
        let cargo = std::fs::read_to_string(src.join("Cargo.toml")).unwrap();
        assert!(
            cargo.contains("gait-plugin-api = { path = \"/api\" }"),
            "{cargo}"
        );
        let e = pack(&src, Some(&dir.path().join("o")), None).unwrap_err();
        assert!(
            e.message.contains("libmy_native") || e.message.contains("my_native"),
            "{}",
            e.message
        );
        let fake = dir.path().join("libmy_native.so");
        std::fs::write(&fake, b"\x7fELF not really").unwrap();
        let packed = pack(&src, Some(&dir.path().join("o")), Some(&fake)).unwrap();
        assert_eq!(packed.manifest.entry, "libmy_native.so");
        assert_eq!(packed.manifest.target, host_target());
        assert_eq!(packed.manifest.commands[0].words, "my-native hello");
    }

    #[test]
    fn sign_checks_files_and_replaces_own_signature() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s");
        scaffold(
            Template::RhaiGrader,
            "g",
            &src,
            &ApiDependency::Git("x".into()),
        )
        .unwrap();
        let out = dir.path().join("reg/g-0.1.0");
        let packed = pack(&src, Some(&out), None).unwrap();
        let a = PrivateKey::from_seed(&[1; 32]);
        let b = PrivateKey::from_seed(&[2; 32]);
        assert_eq!(sign(&out, &a).unwrap().signatures, 1);
        assert_eq!(sign(&out, &a).unwrap().signatures, 1);
        let s = sign(&out.join("manifest.json"), &b).unwrap();
        assert_eq!(s.signatures, 2);
        assert_eq!(s.digest, packed.digest);
        // Build an index over the folder, then co-sign it.
        let opts = IndexOptions {
            version: None,
            ttl_nanos: 3_600_000_000_000,
            registry_name: "test".into(),
            now: GoTime::parse("2026-01-01T00:00:00Z").unwrap(),
        };
        let (idx, path) = build_index(&dir.path().join("reg"), &a, &opts).unwrap();
        assert_eq!(idx.version, 1);
        assert_eq!(idx.entries.len(), 1);
        assert_eq!(idx.entries[0].manifest, "g-0.1.0/manifest.json");
        assert_eq!(idx.entries[0].manifest_digest, packed.digest);
        assert_eq!(sign(&path, &b).unwrap().signatures, 2);
        let (idx2, _) = build_index(&dir.path().join("reg"), &a, &opts).unwrap();
        assert_eq!(idx2.version, 2);
        let stale = IndexOptions {
            version: Some(2),
            ..opts.clone()
        };
        assert!(build_index(&dir.path().join("reg"), &a, &stale).is_err());
        // A changed file cannot be signed or indexed.
        std::fs::write(
            out.join("grader.rhai"),
            b"fn grade(f) { #{status: \"pass\"} }",
        )
        .unwrap();
        assert_eq!(
            sign(&out, &a).unwrap_err().error_code(),
            codes::DIGEST_MISMATCH
        );
        assert!(build_index(&dir.path().join("reg"), &a, &opts).is_err());
    }

    #[test]
    fn unsigned_manifests_are_not_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s");
        scaffold(
            Template::RhaiGrader,
            "g",
            &src,
            &ApiDependency::Git("x".into()),
        )
        .unwrap();
        pack(&src, Some(&dir.path().join("reg/g")), None).unwrap();
        let opts = IndexOptions {
            version: None,
            ttl_nanos: 1,
            registry_name: String::new(),
            now: GoTime::parse("2026-01-01T00:00:00Z").unwrap(),
        };
        let e = build_index(
            &dir.path().join("reg"),
            &PrivateKey::from_seed(&[1; 32]),
            &opts,
        )
        .unwrap_err();
        assert_eq!(e.error_code(), codes::UNSIGNED);
    }
}
