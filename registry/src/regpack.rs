//! The reference's registry packs: `gait registry install|list|verify` (CONTRACTS §1.2, §3.9;
//! FIELDS §1, §2.9), kept byte-compatible.
//!
//! A registry pack is a signed JSON manifest `gait.registry.pack`. It is decoded the way Go's
//! `encoding/json` decodes the reference's struct (unknown keys ignored, key case ignored, null
//! leaves a zero value), normalized (pack_type, publisher, source trimmed and lowercased), and its
//! digest is sha256(JCS(struct without signatures)). A signature is accepted when its
//! `signed_digest` equals that digest ignoring case and the ed25519 signature over the hex-decoded
//! `signed_digest` verifies with the configured public key. Install writes
//! `<cache>/<pack_name>/<pack_version>/<digest>/registry_pack.json` (JCS of the normalized struct,
//! no newline) and `<cache>/pins/<pack_name>.pin` (`sha256:<digest>\n`).

use crate::relpath;
use crate::source::{FetchSettings, HttpClient, RegistrySource, RemoteUrl};
use gait_engine::canon::{self, sha256_hex};
use gait_engine::crypto::{PublicKey, Signature};
use gait_engine::{GaitError, GoTime, fsx};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub const SCHEMA_ID: &str = "gait.registry.pack";
pub const REPORT_SCHEMA_ID: &str = "gait.registry.verification_report";
pub const REPORT_SCHEMA_VERSION: &str = "1.0.0";
pub const METADATA_FILE: &str = "registry_pack.json";
pub const MAX_PACK_BYTES: u64 = 4 * 1024 * 1024;

/// The reference's `RegistryPack`, field for field in Go declaration order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegistryPack {
    pub schema_id: String,
    pub schema_version: String,
    pub created_at: GoTime,
    pub producer_version: String,
    pub pack_name: String,
    pub pack_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pack_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub publisher: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub risk_class: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub use_case: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compatibility: Vec<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub provenance: Map<String, Value>,
    /// Not omitempty in Go: `null` when the input had none or null, `[]` when it had `[]`.
    pub artifacts: Option<Vec<PackArtifact>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackArtifact {
    pub path: String,
    pub sha256: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub media_type: String,
}

fn type_error(field: &str, v: &Value, go_type: &str) -> GaitError {
    let kind = match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    GaitError::invalid(format!(
        "json: cannot unmarshal {kind} into Go struct field {field} of type {go_type}"
    ))
}

/// Members of a JSON object matched to Go field names: exact match first, else ASCII
/// case-insensitive (Go's `EqualFold` for these ASCII names), the last occurrence winning.
struct GoFields<'a> {
    members: Vec<(&'a str, &'a Value)>,
}

impl<'a> GoFields<'a> {
    fn new(obj: &'a Map<String, Value>) -> Self {
        GoFields {
            members: obj.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| *k == field)
            .or_else(|| {
                self.members
                    .iter()
                    .rev()
                    .find(|(k, _)| k.eq_ignore_ascii_case(field))
            })
            .map(|(_, v)| *v)
    }

    fn string(&self, field: &str, owner: &str) -> Result<String, GaitError> {
        match self.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(type_error(&format!("{owner}.{field}"), v, "string")),
        }
    }
}

/// Go's float64 view of numbers inside `provenance` (`map[string]any`).
fn as_go_any(v: &Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().map(canon::number_value).unwrap_or(Value::Null),
        Value::Array(items) => Value::Array(items.iter().map(as_go_any).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), as_go_any(v))).collect())
        }
        other => other.clone(),
    }
}

fn decode_signature(v: &Value) -> Result<Signature, GaitError> {
    let Value::Object(obj) = v else {
        if v.is_null() {
            return Ok(Signature::default());
        }
        return Err(type_error("RegistryPack.signatures", v, "sign.Signature"));
    };
    let f = GoFields::new(obj);
    Ok(Signature {
        alg: f.string("alg", "Signature")?,
        key_id: f.string("key_id", "Signature")?,
        sig: f.string("sig", "Signature")?,
        signed_digest: f.string("signed_digest", "Signature")?,
    })
}

fn decode_artifact(v: &Value) -> Result<PackArtifact, GaitError> {
    let Value::Object(obj) = v else {
        if v.is_null() {
            return Ok(PackArtifact {
                path: String::new(),
                sha256: String::new(),
                media_type: String::new(),
            });
        }
        return Err(type_error(
            "RegistryPack.artifacts",
            v,
            "schemaregistry.PackArtifact",
        ));
    };
    let f = GoFields::new(obj);
    Ok(PackArtifact {
        path: f.string("path", "PackArtifact")?,
        sha256: f.string("sha256", "PackArtifact")?,
        media_type: f.string("media_type", "PackArtifact")?,
    })
}

/// Decodes manifest bytes as Go does and normalizes the fields the reference normalizes.
pub fn decode(bytes: &[u8]) -> Result<RegistryPack, GaitError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| GaitError::invalid(format!("parse registry manifest: {e}")))?;
    let Value::Object(obj) = &value else {
        return Err(type_error("", &value, "schemaregistry.RegistryPack")
            .context("parse registry manifest"));
    };
    let f = GoFields::new(obj);
    let o = "RegistryPack";
    let created_at = match f.get("created_at") {
        None | Some(Value::Null) => GoTime::zero(),
        Some(Value::String(s)) => GoTime::parse(s)
            .map_err(|e| GaitError::invalid(format!("parse registry manifest: {e}")))?,
        Some(v) => return Err(type_error("RegistryPack.created_at", v, "time.Time")),
    };
    let compatibility = match f.get("compatibility") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Ok(String::new()),
                other => Err(type_error("RegistryPack.compatibility", other, "string")),
            })
            .collect::<Result<_, _>>()?,
        Some(v) => return Err(type_error("RegistryPack.compatibility", v, "[]string")),
    };
    let provenance = match f.get("provenance") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), as_go_any(v))).collect(),
        Some(v) => {
            return Err(type_error(
                "RegistryPack.provenance",
                v,
                "map[string]interface {}",
            ));
        }
    };
    let artifacts = match f.get("artifacts") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(decode_artifact)
                .collect::<Result<_, _>>()?,
        ),
        Some(v) => {
            return Err(type_error(
                "RegistryPack.artifacts",
                v,
                "[]schemaregistry.PackArtifact",
            ));
        }
    };
    let signatures = match f.get("signatures") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(decode_signature)
            .collect::<Result<_, _>>()?,
        Some(v) => return Err(type_error("RegistryPack.signatures", v, "[]sign.Signature")),
    };
    let norm = |s: String| s.trim().to_lowercase();
    Ok(RegistryPack {
        schema_id: f.string("schema_id", o)?,
        schema_version: f.string("schema_version", o)?,
        created_at,
        producer_version: f.string("producer_version", o)?,
        pack_name: f.string("pack_name", o)?,
        pack_version: f.string("pack_version", o)?,
        pack_type: norm(f.string("pack_type", o)?),
        publisher: norm(f.string("publisher", o)?),
        source: norm(f.string("source", o)?),
        risk_class: f.string("risk_class", o)?,
        use_case: f.string("use_case", o)?,
        compatibility,
        provenance,
        artifacts,
        signatures,
    })
}

impl RegistryPack {
    /// sha256(JCS(normalized struct with signatures nil)).
    pub fn digest(&self) -> Result<String, GaitError> {
        let mut body = self.clone();
        body.signatures.clear();
        canon::digest_of(&body)
            .map_err(|e| GaitError::internal(format!("digest registry pack: {e}")))
    }

    /// The `registry_pack.json` bytes: JCS of the normalized struct, signatures included.
    pub fn metadata_bytes(&self) -> Result<Vec<u8>, GaitError> {
        canon::jcs_of(self).map_err(|e| GaitError::internal(format!("encode registry pack: {e}")))
    }

    fn validate(&self) -> Result<(), GaitError> {
        if self.schema_id != SCHEMA_ID {
            return Err(GaitError::verification(format!(
                "unsupported registry manifest schema_id: {}",
                self.schema_id
            )));
        }
        for (field, v) in [
            ("pack_name", &self.pack_name),
            ("pack_version", &self.pack_version),
        ] {
            if v.trim().is_empty() {
                return Err(GaitError::verification(format!(
                    "registry manifest {field} is required"
                )));
            }
            if v.contains('/') || relpath::problem(v).is_some() {
                return Err(GaitError::verification(format!(
                    "registry manifest {field} {v:?} is not a safe path segment"
                )));
            }
        }
        Ok(())
    }

    /// The reference's rule: some signature's `signed_digest` equals `digest` ignoring case and
    /// verifies over the hex-decoded `signed_digest`. Returns the accepting signature's key id.
    pub fn verify_signatures(&self, digest: &str, key: &PublicKey) -> Result<String, GaitError> {
        if self.signatures.is_empty() {
            return Err(GaitError::verification(
                "registry manifest has no signatures",
            ));
        }
        for sig in &self.signatures {
            if !sig.signed_digest.eq_ignore_ascii_case(digest) {
                continue;
            }
            // The digest compared ignoring case, the signature checked over its bytes.
            let envelope = Signature {
                alg: "ed25519".into(),
                key_id: String::new(),
                sig: sig.sig.clone(),
                signed_digest: digest.to_string(),
            };
            let alg_ok = sig.alg.is_empty() || sig.alg.eq_ignore_ascii_case("ed25519");
            if alg_ok && key.verify(&envelope, digest).is_ok() {
                return Ok(key.key_id());
            }
        }
        Err(GaitError::verification(
            "registry manifest signature verification failed",
        ))
    }
}

/// Options of `gait registry install`.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    pub source: String,
    pub cache_dir: PathBuf,
    pub public_key: Option<PublicKey>,
    pub publisher_allowlist: Vec<String>,
    /// `sha256:<hex>` or `<hex>`.
    pub pin: Option<String>,
    pub allow_cached_fallback: bool,
    pub fetch: FetchSettings,
}

/// The result of `gait registry install`.
#[derive(Clone, Debug, Serialize)]
pub struct InstallResult {
    pub source: String,
    pub pack_name: String,
    pub pack_version: String,
    pub digest: String,
    pub metadata_path: String,
    pub pin_path: String,
    pub signature_key_id: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cached_fallback: bool,
}

fn parse_pin(pin: &str) -> Result<String, GaitError> {
    let hex = pin.trim();
    let hex = hex
        .strip_prefix("sha256:")
        .unwrap_or(hex)
        .to_ascii_lowercase();
    if !canon::is_sha256_hex(&hex) {
        return Err(GaitError::verification(format!(
            "invalid pin {pin:?}: expected sha256:<64 hex>"
        )));
    }
    Ok(hex)
}

fn fallback_path(cache_dir: &Path, url: &str) -> PathBuf {
    cache_dir
        .join("sources")
        .join(format!("{}.json", sha256_hex(url.as_bytes())))
}

fn fetch_manifest(opts: &InstallOptions) -> Result<(Vec<u8>, bool), GaitError> {
    match RegistrySource::parse(&opts.source)? {
        RegistrySource::Dir(path) => Ok((crate::source::read_local(&path, MAX_PACK_BYTES)?, false)),
        RegistrySource::Url(_) => {
            let url = RemoteUrl::parse(&opts.source)?;
            opts.fetch.check_url(&url)?;
            let full = opts.source.trim().to_string();
            let fetched = HttpClient::new(&opts.fetch).and_then(|c| c.get(&full, MAX_PACK_BYTES));
            match fetched {
                Ok(bytes) => {
                    // Kept only as a fallback copy; it is verified again whenever it is used.
                    let _ =
                        fsx::write_atomic(&fallback_path(&opts.cache_dir, &full), &bytes, 0o600);
                    Ok((bytes, false))
                }
                Err(e) if opts.allow_cached_fallback => {
                    let cached = fallback_path(&opts.cache_dir, &full);
                    match fsx::read_bounded(&cached, MAX_PACK_BYTES) {
                        Ok(bytes) => Ok((bytes, true)),
                        Err(_) => Err(e.context("no cached copy to fall back to")),
                    }
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// `gait registry install`: fetch, verify (signature, pin, publisher), cache and pin a pack.
/// Every failure is a verification failure (exit 2), as in the reference.
pub fn install(opts: &InstallOptions) -> Result<InstallResult, GaitError> {
    let as_verification = |e: GaitError| GaitError {
        category: gait_engine::Category::VerificationFailed,
        exit: None,
        ..e
    };
    let (bytes, cached_fallback) = fetch_manifest(opts).map_err(as_verification)?;
    let pack = decode(&bytes).map_err(as_verification)?;
    pack.validate()?;
    let digest = pack.digest()?;
    if let Some(pin) = &opts.pin {
        let want = parse_pin(pin)?;
        if want != digest {
            return Err(GaitError::verification(format!(
                "registry pin mismatch: expected sha256:{want}, got sha256:{digest}"
            )));
        }
    }
    check_publisher(&pack, &opts.publisher_allowlist)?;
    let key = opts.public_key.as_ref().ok_or_else(|| {
        GaitError::verification("public key not configured")
            .with_hint("pass --public-key FILE or --public-key-env VAR")
    })?;
    let key_id = pack.verify_signatures(&digest, key)?;
    let dir = opts
        .cache_dir
        .join(&pack.pack_name)
        .join(&pack.pack_version)
        .join(&digest);
    let metadata_path = dir.join(METADATA_FILE);
    fsx::write_atomic(&metadata_path, &pack.metadata_bytes()?, 0o600)
        .map_err(|e| as_verification(e.into()))?;
    let pin_path = opts
        .cache_dir
        .join("pins")
        .join(format!("{}.pin", pack.pack_name));
    fsx::write_atomic(&pin_path, format!("sha256:{digest}\n").as_bytes(), 0o600)
        .map_err(|e| as_verification(e.into()))?;
    Ok(InstallResult {
        source: opts.source.trim().to_string(),
        pack_name: pack.pack_name,
        pack_version: pack.pack_version,
        digest,
        metadata_path: metadata_path.display().to_string(),
        pin_path: pin_path.display().to_string(),
        signature_key_id: key_id,
        cached_fallback,
    })
}

fn publisher_allowed(pack: &RegistryPack, allowlist: &[String]) -> bool {
    allowlist.is_empty()
        || allowlist
            .iter()
            .any(|p| p.trim().to_lowercase() == pack.publisher)
}

fn check_publisher(pack: &RegistryPack, allowlist: &[String]) -> Result<(), GaitError> {
    if publisher_allowed(pack, allowlist) {
        return Ok(());
    }
    Err(GaitError::verification(format!(
        "registry publisher {:?} is not in the allowlist",
        pack.publisher
    )))
}

/// One cached pack, as `gait registry list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CachedPack {
    pub pack_name: String,
    pub pack_version: String,
    pub digest: String,
    pub metadata_path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pin_digest: String,
    pub pinned: bool,
}

fn read_pin_digest(cache_dir: &Path, pack_name: &str) -> Option<String> {
    let text = fsx::read_bounded(
        &cache_dir.join("pins").join(format!("{pack_name}.pin")),
        4096,
    )
    .ok()?;
    let text = String::from_utf8(text).ok()?;
    parse_pin(&text).ok()
}

fn subdirs(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `gait registry list`: every cached pack, sorted by name, version, digest.
pub fn list(cache_dir: &Path) -> Vec<CachedPack> {
    let mut out = Vec::new();
    for name in subdirs(cache_dir) {
        if name == "pins" || name == "sources" || name.starts_with('.') {
            continue;
        }
        let pin = read_pin_digest(cache_dir, &name);
        for version in subdirs(&cache_dir.join(&name)) {
            for digest in subdirs(&cache_dir.join(&name).join(&version)) {
                let path = cache_dir
                    .join(&name)
                    .join(&version)
                    .join(&digest)
                    .join(METADATA_FILE);
                if !path.is_file() {
                    continue;
                }
                out.push(CachedPack {
                    pinned: pin.as_deref() == Some(digest.as_str()),
                    pin_digest: pin
                        .clone()
                        .map(|d| format!("sha256:{d}"))
                        .unwrap_or_default(),
                    pack_name: name.clone(),
                    pack_version: version.clone(),
                    digest,
                    metadata_path: path.display().to_string(),
                });
            }
        }
    }
    out
}

/// `gait.registry.verification_report`.
#[derive(Clone, Debug, Serialize)]
pub struct VerificationReport {
    pub schema_id: String,
    pub schema_version: String,
    pub created_at: GoTime,
    pub producer_version: String,
    pub path: String,
    pub pack_name: String,
    pub pack_version: String,
    pub digest: String,
    pub signature_verified: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub signature_key_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub signature_error: String,
    pub pin_present: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pin_digest: String,
    pub pin_verified: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub publisher: String,
    pub publisher_allowed: bool,
    pub reason_codes: Vec<String>,
    pub ok: bool,
}

/// `gait registry verify`: re-checks a cached `registry_pack.json` offline — its signature, its pin
/// in `cache_dir`, and the publisher allowlist.
pub fn verify(
    path: &Path,
    cache_dir: &Path,
    public_key: Option<&PublicKey>,
    publisher_allowlist: &[String],
    now: GoTime,
) -> Result<VerificationReport, GaitError> {
    let bytes = fsx::read_bounded(path, MAX_PACK_BYTES)?;
    let pack = decode(&bytes)?;
    let digest = pack.digest()?;
    let mut reasons = Vec::new();
    let (signature_verified, signature_key_id, signature_error) = match public_key {
        None => {
            reasons.push("public_key_missing".to_string());
            (
                false,
                String::new(),
                "public key not configured".to_string(),
            )
        }
        Some(k) => match pack.verify_signatures(&digest, k) {
            Ok(id) => (true, id, String::new()),
            Err(e) => {
                reasons.push(if pack.signatures.is_empty() {
                    "signature_missing".to_string()
                } else {
                    "signature_invalid".to_string()
                });
                (false, String::new(), e.message)
            }
        },
    };
    let pin = read_pin_digest(cache_dir, &pack.pack_name);
    let pin_verified = pin.as_deref() == Some(digest.as_str());
    match &pin {
        None => reasons.push("pin_missing".into()),
        Some(_) if !pin_verified => reasons.push("pin_mismatch".into()),
        _ => {}
    }
    let allowed = publisher_allowed(&pack, publisher_allowlist);
    if !allowed {
        reasons.push("publisher_not_allowed".into());
    }
    if pack.schema_id != SCHEMA_ID {
        reasons.push("schema_invalid".into());
    }
    reasons.sort();
    Ok(VerificationReport {
        schema_id: REPORT_SCHEMA_ID.into(),
        schema_version: REPORT_SCHEMA_VERSION.into(),
        created_at: now.utc(),
        producer_version: gait_engine::PRODUCER_VERSION.into(),
        path: path.display().to_string(),
        ok: reasons.is_empty(),
        pack_name: pack.pack_name,
        pack_version: pack.pack_version,
        digest,
        signature_verified,
        signature_key_id,
        signature_error,
        pin_present: pin.is_some(),
        pin_digest: pin.map(|d| format!("sha256:{d}")).unwrap_or_default(),
        pin_verified,
        publisher: pack.publisher,
        publisher_allowed: allowed,
        reason_codes: reasons,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gait_engine::crypto::PrivateKey;

    pub fn signed_pack(key: &PrivateKey) -> Vec<u8> {
        let mut v = serde_json::json!({
            "schema_id": "gait.registry.pack",
            "schema_version": "1.0.0",
            "created_at": "2026-02-01T10:00:00+02:00",
            "producer_version": "0.0.0-dev",
            "pack_name": "baseline-highrisk",
            "pack_version": "1.0.0",
            "pack_type": " Policy ",
            "publisher": "Acme",
            "source": "Registry",
            "provenance": {"build": 9007199254740993u64, "ok": true},
            "artifacts": [{"path": "policy.yaml", "sha256": "ab"}],
            "unknown_field": "ignored"
        });
        let digest = decode(&serde_json::to_vec(&v).unwrap())
            .unwrap()
            .digest()
            .unwrap();
        let sig = key.sign_digest(&digest).unwrap();
        v["signatures"] = serde_json::json!([{
            "alg": sig.alg, "key_id": sig.key_id, "sig": sig.sig,
            "signed_digest": digest.to_uppercase()
        }]);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn decodes_like_go_and_digests_the_normalized_struct() {
        let key = PrivateKey::from_seed(&[4; 32]);
        let pack = decode(&signed_pack(&key)).unwrap();
        assert_eq!(pack.pack_type, "policy");
        assert_eq!(pack.publisher, "acme");
        assert_eq!(pack.source, "registry");
        // created_at re-rendered as Go does (offset kept); provenance numbers as float64.
        let jcs = String::from_utf8(pack.metadata_bytes().unwrap()).unwrap();
        assert!(
            jcs.contains("\"created_at\":\"2026-02-01T10:00:00+02:00\""),
            "{jcs}"
        );
        assert!(jcs.contains("\"build\":9007199254740992"), "{jcs}");
        assert!(!jcs.contains("unknown_field"));
        assert!(jcs.contains("\"artifacts\":[{\"path\":\"policy.yaml\",\"sha256\":\"ab\"}]"));
        // Upper-case signed_digest is accepted, as in the reference.
        let d = pack.digest().unwrap();
        assert_eq!(
            pack.verify_signatures(&d, &key.public()).unwrap(),
            key.public().key_id()
        );
        let other = PrivateKey::from_seed(&[5; 32]);
        assert!(pack.verify_signatures(&d, &other.public()).is_err());
    }

    #[test]
    fn go_decoding_details() {
        // Key case is ignored; null leaves zero values; missing artifacts is null.
        let p = decode(br#"{"Schema_ID":"gait.registry.pack","pack_name":"a","pack_version":null,"created_at":null}"#).unwrap();
        assert_eq!(p.schema_id, "gait.registry.pack");
        assert_eq!(p.pack_version, "");
        assert!(p.created_at.is_zero());
        let jcs = String::from_utf8(p.metadata_bytes().unwrap()).unwrap();
        assert!(jcs.contains("\"artifacts\":null"), "{jcs}");
        assert!(
            jcs.contains("\"created_at\":\"0001-01-01T00:00:00Z\""),
            "{jcs}"
        );
        let empty = decode(br#"{"artifacts":[]}"#).unwrap();
        assert!(
            String::from_utf8(empty.metadata_bytes().unwrap())
                .unwrap()
                .contains("\"artifacts\":[]")
        );
        let e = decode(br#"{"pack_name":5}"#).unwrap_err();
        assert!(
            e.message.contains("cannot unmarshal number"),
            "{}",
            e.message
        );
        assert!(decode(b"[]").is_err());
        assert!(decode(br#"{"created_at":"yesterday"}"#).is_err());
    }

    #[test]
    fn install_writes_cache_and_pin_then_verify_and_list() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::from_seed(&[4; 32]);
        let src = dir.path().join("pack.json");
        std::fs::write(&src, signed_pack(&key)).unwrap();
        let cache = dir.path().join("cache");
        let mut opts = InstallOptions {
            source: src.display().to_string(),
            cache_dir: cache.clone(),
            public_key: Some(key.public()),
            publisher_allowlist: vec![],
            pin: None,
            allow_cached_fallback: false,
            fetch: FetchSettings::default(),
        };
        let r = install(&opts).unwrap();
        let pin_text = std::fs::read_to_string(&r.pin_path).unwrap();
        assert_eq!(pin_text, format!("sha256:{}\n", r.digest));
        assert!(r.metadata_path.ends_with(&format!(
            "baseline-highrisk/1.0.0/{}/registry_pack.json",
            r.digest
        )));
        let bytes = std::fs::read(&r.metadata_path).unwrap();
        assert!(!bytes.ends_with(b"\n"));
        // The cached file is the JCS of the normalized struct and digests the same.
        assert_eq!(decode(&bytes).unwrap().digest().unwrap(), r.digest);
        let listed = list(&cache);
        assert_eq!(listed.len(), 1);
        assert!(listed[0].pinned);
        let now = GoTime::parse("2026-03-01T00:00:00Z").unwrap();
        let rep = verify(
            Path::new(&r.metadata_path),
            &cache,
            Some(&key.public()),
            &[],
            now,
        )
        .unwrap();
        assert!(rep.ok, "{rep:?}");
        let rep = verify(Path::new(&r.metadata_path), &cache, None, &[], now).unwrap();
        assert!(!rep.ok);
        assert_eq!(rep.reason_codes, vec!["public_key_missing"]);
        let rep = verify(
            Path::new(&r.metadata_path),
            &cache,
            Some(&key.public()),
            &["other".into()],
            now,
        )
        .unwrap();
        assert_eq!(rep.reason_codes, vec!["publisher_not_allowed"]);
        std::fs::write(&r.pin_path, format!("sha256:{}\n", "0".repeat(64))).unwrap();
        let rep = verify(
            Path::new(&r.metadata_path),
            &cache,
            Some(&key.public()),
            &[],
            now,
        )
        .unwrap();
        assert_eq!(rep.reason_codes, vec!["pin_mismatch"]);

        // Refusals, all exit 2.
        opts.pin = Some(format!("sha256:{}", "1".repeat(64)));
        assert_eq!(install(&opts).unwrap_err().exit_code(), 2);
        opts.pin = Some(format!("sha256:{}", r.digest.to_uppercase()));
        assert!(install(&opts).is_ok());
        opts.pin = None;
        opts.publisher_allowlist = vec!["someone-else".into()];
        assert_eq!(install(&opts).unwrap_err().exit_code(), 2);
        opts.publisher_allowlist = vec![" ACME ".into()];
        assert!(install(&opts).is_ok());
        opts.public_key = Some(PrivateKey::from_seed(&[6; 32]).public());
        assert_eq!(install(&opts).unwrap_err().exit_code(), 2);
        opts.public_key = None;
        assert_eq!(
            install(&opts).unwrap_err().message,
            "public key not configured"
        );
        opts.public_key = Some(key.public());
        opts.source = dir.path().join("missing.json").display().to_string();
        assert_eq!(install(&opts).unwrap_err().exit_code(), 2);
        opts.source = "https://registry.example.com/pack.json".into();
        assert_eq!(install(&opts).unwrap_err().exit_code(), 2);
    }
}
