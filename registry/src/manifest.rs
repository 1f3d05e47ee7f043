//! The plugin manifest (`manifest.json`, schema `schemas/v1/plugin/manifest.schema.json`).
//!
//! A manifest names a plugin (name, semver version, kind, form), its entry file, the plugin-API
//! semver requirement, every file with its sha256, and signatures. The digest is
//! sha256(JCS(manifest without `signatures`)); each signature is the CONTRACTS §3.1 envelope over
//! that digest. Decoding is strict (see `json`), so every byte that reaches the digest was read
//! exactly one way, and nothing unsigned rides along.

use crate::codes::{self, MANIFEST_INVALID};
use crate::model::{PluginForm, PluginKind, form_allows};
use crate::relpath;
use gait_engine::GaitError;
use gait_engine::canon;
use gait_engine::crypto::Signature;
use serde::{Deserialize, Serialize};

pub const SCHEMA_ID: &str = "gait.plugin.manifest";
pub const SCHEMA_VERSION: &str = "1.0.0";
/// Manifests are small; anything bigger is not one.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
pub const MAX_FILES: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginManifest {
    pub schema_id: String,
    pub schema_version: String,
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub form: PluginForm,
    /// The file gait runs: the script, or the native library.
    pub entry: String,
    /// Semver requirement on the plugin API (`gait_plugin_api::PLUGIN_API_VERSION`).
    pub plugin_api: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Native only: `<arch>-<os>` the library was built for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Credential brokers only: the environment variables the broker may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Native only: CLI commands the plugin contributes (it is then also an Extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandDecl>,
    /// Packs only: policy templates (`gait policy init --pack NAME TEMPLATE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<TemplateDecl>,
    pub files: Vec<FileEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandDecl {
    /// Space-separated command words (`example-native hello`).
    pub words: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDecl {
    pub name: String,
    /// A file of the pack holding the policy YAML.
    pub file: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A decoded, validated manifest with its digest.
#[derive(Clone, Debug)]
pub struct Verified {
    pub manifest: PluginManifest,
    pub digest: String,
    pub version: semver::Version,
    pub plugin_api: semver::VersionReq,
}

/// `^[a-z0-9][a-z0-9_-]{0,63}$`: plugin names are file names, map keys and CLI arguments.
pub fn name_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 64 {
        return Some("must be 1 to 64 characters");
    }
    if !(bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit()) {
        return Some("must start with a lowercase letter or digit");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
    {
        return Some("may only contain a-z, 0-9, `_` and `-`");
    }
    None
}

/// Names no plugin may take, whatever its kind: `off` is the `--credential-broker` setting that
/// means "no broker" (and the gate's default), so a plugin of that name could never be selected
/// and would only confuse. The builtin brokers' names (`stub`, `env`, `command`) are not reserved:
/// an installed newer credential broker of one of those names replaces the builtin by design.
pub const RESERVED_NAMES: &[&str] = &["off"];

/// [`name_problem`], plus the reserved names: the rule for a plugin's own name (scaffold, pack,
/// sign, index, install, verify). Index entries and pins are read with the syntactic rule only, so
/// a registry that lists a reserved name stays usable for its other plugins.
pub fn plugin_name_problem(name: &str) -> Option<&'static str> {
    if RESERVED_NAMES.contains(&name) {
        return Some(
            "is reserved: `--credential-broker off` means no broker, so no plugin can take that name",
        );
    }
    name_problem(name)
}

fn word_ok(w: &str) -> bool {
    !w.is_empty()
        && w.len() <= 32
        && w.as_bytes()[0].is_ascii_lowercase()
        && w.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn env_name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.as_bytes()[0].is_ascii_digit()
        && n.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn bad(msg: impl Into<String>) -> GaitError {
    codes::invalid(MANIFEST_INVALID, msg)
}

impl PluginManifest {
    /// The digest that signatures cover: sha256(JCS(manifest without `signatures`)).
    pub fn digest(&self) -> Result<String, GaitError> {
        let mut body = self.clone();
        body.signatures.clear();
        canon::digest_of(&body).map_err(|e| GaitError::internal(format!("digest manifest: {e}")))
    }

    /// The sha256 the manifest declares for `path`.
    pub fn file_sha256(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.sha256.as_str())
    }

    /// Checks every rule the schema states and those it cannot (file references, form/kind pairs).
    pub fn validate(&self) -> Result<(semver::Version, semver::VersionReq), GaitError> {
        if self.schema_id != SCHEMA_ID || self.schema_version != SCHEMA_VERSION {
            return Err(bad(format!(
                "unsupported manifest schema {:?} {:?}; expected {SCHEMA_ID} {SCHEMA_VERSION}",
                self.schema_id, self.schema_version
            )));
        }
        if let Some(p) = plugin_name_problem(&self.name) {
            return Err(bad(format!("plugin name {:?} {p}", self.name)));
        }
        let version = semver::Version::parse(&self.version).map_err(|e| {
            bad(format!(
                "plugin version {:?} is not semver: {e}",
                self.version
            ))
        })?;
        let plugin_api = semver::VersionReq::parse(&self.plugin_api).map_err(|e| {
            bad(format!(
                "plugin_api {:?} is not a semver requirement: {e}",
                self.plugin_api
            ))
        })?;
        if self.kind == PluginKind::Adapter {
            return Err(bad(
                "adapter plugins are not installable yet (the MCP adapter seam is not open)",
            ));
        }
        if !form_allows(self.form, self.kind) {
            return Err(bad(format!(
                "a {} plugin cannot be of kind {} (native: grader, extension; rhai/lua: grader, predicate, credential_broker; data: pack)",
                self.form, self.kind
            )));
        }
        if self.description.chars().count() > 1024 {
            return Err(bad("description is longer than 1024 characters"));
        }
        self.validate_files()?;
        if self.file_sha256(&self.entry).is_none() {
            return Err(bad(format!(
                "entry {:?} is not one of the manifest's files",
                self.entry
            )));
        }
        match (self.form == PluginForm::Native, self.target.is_empty()) {
            (true, true) => return Err(bad("a native plugin must declare its target")),
            (false, false) => return Err(bad("only native plugins declare a target")),
            _ => {}
        }
        if !self.env.is_empty() && self.kind != PluginKind::CredentialBroker {
            return Err(bad("only credential brokers declare env"));
        }
        for (i, n) in self.env.iter().enumerate() {
            if !env_name_ok(n) || self.env[..i].contains(n) {
                return Err(bad(format!(
                    "env entry {n:?} must be a unique variable name of A-Z, 0-9 and `_`"
                )));
            }
        }
        if !self.commands.is_empty() && self.form != PluginForm::Native {
            return Err(bad("only native plugins contribute commands"));
        }
        if self.kind == PluginKind::Extension && self.commands.is_empty() {
            return Err(bad("an extension must declare at least one command"));
        }
        for (i, c) in self.commands.iter().enumerate() {
            let words: Vec<&str> = c.words.split(' ').collect();
            if words.len() > 4 || !words.iter().all(|w| word_ok(w)) {
                return Err(bad(format!(
                    "command {:?} must be 1 to 4 lowercase words separated by single spaces",
                    c.words
                )));
            }
            if self.commands[..i].iter().any(|o| o.words == c.words) {
                return Err(bad(format!("command {:?} is declared twice", c.words)));
            }
        }
        if !self.templates.is_empty() && self.kind != PluginKind::Pack {
            return Err(bad("only packs declare templates"));
        }
        if self.kind == PluginKind::Pack && self.templates.is_empty() {
            return Err(bad("a pack must declare at least one template"));
        }
        for (i, t) in self.templates.iter().enumerate() {
            if name_problem(&t.name).is_some()
                || t.aliases.iter().any(|a| name_problem(a).is_some())
            {
                return Err(bad(format!(
                    "template name or alias of {:?} must be a plain lowercase name",
                    t.name
                )));
            }
            if self.file_sha256(&t.file).is_none() {
                return Err(bad(format!(
                    "template {:?} names file {:?}, which is not one of the manifest's files",
                    t.name, t.file
                )));
            }
            if self.templates[..i].iter().any(|o| o.name == t.name) {
                return Err(bad(format!("template {:?} is declared twice", t.name)));
            }
        }
        Ok((version, plugin_api))
    }

    fn validate_files(&self) -> Result<(), GaitError> {
        if self.files.is_empty() || self.files.len() > MAX_FILES {
            return Err(bad(format!(
                "a manifest lists 1 to {MAX_FILES} files, this one lists {}",
                self.files.len()
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.files {
            if let Some(p) = relpath::problem(&f.path) {
                return Err(bad(format!("file path {:?} {p}", f.path)));
            }
            if f.path == "manifest.json" {
                return Err(bad("a plugin file may not be called manifest.json"));
            }
            // Case-insensitive file systems would merge `A` and `a`.
            if !seen.insert(f.path.to_ascii_lowercase()) {
                return Err(bad(format!(
                    "file path {:?} is listed twice (ignoring case)",
                    f.path
                )));
            }
            if f.sha256.len() != 64
                || !f
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(bad(format!(
                    "sha256 of {:?} must be 64 lowercase hex characters",
                    f.path
                )));
            }
        }
        Ok(())
    }
}

/// Decodes and validates manifest bytes.
pub fn decode(bytes: &[u8]) -> Result<Verified, GaitError> {
    let manifest: PluginManifest = crate::json::strict(bytes, "plugin manifest", MANIFEST_INVALID)?;
    let (version, plugin_api) = manifest.validate()?;
    let digest = manifest.digest()?;
    Ok(Verified {
        manifest,
        digest,
        version,
        plugin_api,
    })
}

/// Refuses a plugin whose plugin-API requirement the host does not meet.
pub fn check_api(name: &str, req: &semver::VersionReq, host_api: &str) -> Result<(), GaitError> {
    let host = semver::Version::parse(host_api)
        .map_err(|e| GaitError::internal(format!("host plugin API {host_api:?}: {e}")))?;
    if req.matches(&host) {
        return Ok(());
    }
    Err(codes::refuse(
        codes::API_INCOMPATIBLE,
        format!(
            "plugin {name} requires plugin API {req}, but this gait provides {host_api}; nothing was loaded"
        ),
    )
    .with_hint("install a version of the plugin built for this gait's plugin API, or upgrade gait"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> PluginManifest {
        PluginManifest {
            schema_id: SCHEMA_ID.into(),
            schema_version: SCHEMA_VERSION.into(),
            name: "max-intents".into(),
            version: "1.2.0".into(),
            kind: PluginKind::Grader,
            form: PluginForm::Rhai,
            entry: "grader.rhai".into(),
            plugin_api: "^1.0".into(),
            description: String::new(),
            target: String::new(),
            env: vec![],
            commands: vec![],
            templates: vec![],
            files: vec![FileEntry {
                path: "grader.rhai".into(),
                sha256: canon::sha256_hex(b"fn grade(f) { true }"),
            }],
            signatures: vec![],
        }
    }

    fn refused(m: &PluginManifest) -> String {
        m.validate().unwrap_err().message
    }

    #[test]
    fn sample_round_trips_and_digest_ignores_signatures() {
        let m = sample();
        let bytes = serde_json::to_vec(&m).unwrap();
        let v = decode(&bytes).unwrap();
        assert_eq!(v.manifest, m);
        assert_eq!(v.version, semver::Version::new(1, 2, 0));
        let mut signed = m.clone();
        signed.signatures.push(Signature {
            alg: "ed25519".into(),
            key_id: "k".into(),
            sig: "s".into(),
            signed_digest: v.digest.clone(),
        });
        assert_eq!(signed.digest().unwrap(), v.digest);
        // The digest is JCS of the body: an independent computation agrees.
        let body = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v.digest,
            canon::sha256_hex(serde_jcs_like(&body).as_bytes())
        );
        let mut other = m.clone();
        other.version = "1.2.1".into();
        assert_ne!(other.digest().unwrap(), v.digest);
    }

    /// Sorted-key compact JSON: for this ASCII-only, number-free body it equals RFC 8785.
    fn serde_jcs_like(v: &serde_json::Value) -> String {
        serde_json::to_string(v).unwrap()
    }

    #[test]
    fn strict_decoding() {
        let m = sample();
        let mut value = serde_json::to_value(&m).unwrap();
        value["unsigned_extra"] = "x".into();
        let e = decode(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert_eq!(e.error_code(), MANIFEST_INVALID);
        let text = String::from_utf8(serde_json::to_vec(&m).unwrap()).unwrap();
        let dup = text.replacen("\"name\":", "\"name\":\"x\",\"name\":", 1);
        assert!(
            decode(dup.as_bytes())
                .unwrap_err()
                .message
                .contains("duplicate")
        );
    }

    #[test]
    fn validation_rules() {
        let mut m = sample();
        m.name = "Bad Name".into();
        assert!(refused(&m).contains("plugin name"));
        let mut m = sample();
        m.name = "off".into();
        assert!(refused(&m).contains("reserved"));
        let mut m = sample();
        m.version = "1.2".into();
        assert!(refused(&m).contains("not semver"));
        let mut m = sample();
        m.plugin_api = "one".into();
        assert!(refused(&m).contains("semver requirement"));
        let mut m = sample();
        m.entry = "other.rhai".into();
        assert!(refused(&m).contains("entry"));
        let mut m = sample();
        m.files[0].path = "../grader.rhai".into();
        m.entry = m.files[0].path.clone();
        assert!(refused(&m).contains("file path"));
        let mut m = sample();
        m.files.push(m.files[0].clone());
        m.files[1].path = "GRADER.rhai".into();
        assert!(refused(&m).contains("twice"));
        let mut m = sample();
        m.files[0].sha256 = m.files[0].sha256.to_uppercase();
        assert!(refused(&m).contains("lowercase hex"));
        let mut m = sample();
        m.form = PluginForm::Native;
        assert!(refused(&m).contains("target"));
        m.target = "x86_64-linux".into();
        assert!(m.validate().is_ok());
        let mut m = sample();
        m.kind = PluginKind::Extension;
        assert!(refused(&m).contains("cannot be of kind"));
        let mut m = sample();
        m.env = vec!["TOKEN".into()];
        assert!(refused(&m).contains("env"));
        m.kind = PluginKind::CredentialBroker;
        assert!(m.validate().is_ok());
        m.env.push("TOKEN".into());
        assert!(refused(&m).contains("unique"));
        let mut m = sample();
        m.form = PluginForm::Native;
        m.target = "x86_64-linux".into();
        m.commands = vec![CommandDecl {
            words: "Bad Words".into(),
            summary: String::new(),
        }];
        assert!(refused(&m).contains("lowercase words"));
        m.commands[0].words = "example hello".into();
        assert!(m.validate().is_ok());
        let mut m = sample();
        m.kind = PluginKind::Pack;
        m.form = PluginForm::Data;
        assert!(refused(&m).contains("template"));
        m.templates = vec![TemplateDecl {
            name: "baseline".into(),
            file: "missing.yaml".into(),
            aliases: vec![],
            description: String::new(),
        }];
        assert!(refused(&m).contains("not one of the manifest's files"));
        m.templates[0].file = "grader.rhai".into();
        assert!(m.validate().is_ok());
        let mut m = sample();
        m.kind = PluginKind::Adapter;
        assert!(refused(&m).contains("adapter"));
    }

    #[test]
    fn api_requirement() {
        let req = semver::VersionReq::parse("^1.0").unwrap();
        assert!(check_api("p", &req, "1.0.0").is_ok());
        let req2 = semver::VersionReq::parse("^2").unwrap();
        let e = check_api("p", &req2, "1.0.0").unwrap_err();
        assert_eq!(e.error_code(), codes::API_INCOMPATIBLE);
        assert_eq!(e.exit_code(), 2);
    }
}
