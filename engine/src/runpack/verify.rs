//! `gait verify`: file hashes, manifest digest, signatures (CONTRACTS §1.2, §3.2; FIELDS §2.9).
//!
//! - every file the manifest declares is hashed (inflated and hashed in one pass, in parallel) and
//!   compared; declared files absent from the zip, and required files the manifest does not declare,
//!   are `missing_files`;
//! - `manifest_digest` is recomputed from the manifest struct (unknown keys dropped, times re-rendered);
//!   a mismatch is reported as a hash mismatch of `manifest.json`;
//! - signatures are checked over the JCS digest of the *raw* manifest JSON minus `signatures`, so an
//!   extra key breaks the signature but not the digest, exactly as in the reference;
//! - gait difference (DEVIATIONS #3): an entry the manifest does not declare fails verification and is
//!   named in `undeclared_files`.

use super::build::manifest_digest;
use super::model::*;
use super::read::{parse_manifest, zip_error};
use crate::canon::{self, Node, ParseOptions};
use crate::crypto::PublicKey;
use crate::error::GaitError;
use crate::zipx::Archive;
use serde::Serialize;

pub const NOTE_UNSIGNED: &str = "unsigned local/dev artifacts are expected by default; use --require-signature for strict verification";
pub const NOTE_SKIPPED: &str = "signature checks were skipped because no verify key was provided";
pub const NOTE_REQUIRED_UNSIGNED: &str = "a verified signature is required (--require-signature or --profile strict) but the runpack is unsigned";
pub const NOTE_REQUIRED_SKIPPED: &str = "a verified signature is required (--require-signature or --profile strict); pass --public-key or --public-key-env";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    Missing,
    Skipped,
    Verified,
    Failed,
}

impl SignatureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureStatus::Missing => "missing",
            SignatureStatus::Skipped => "skipped",
            SignatureStatus::Verified => "verified",
            SignatureStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// `--require-signature` or `--profile strict`: only a verified signature passes.
    pub require_signature: bool,
    /// The key to check signatures with; `None` skips signature checks.
    pub verify_key: Option<PublicKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HashMismatch {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

/// What verification found. Serialized fields follow the reference's `--json` output.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub run_id: String,
    pub manifest_digest: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub files_checked: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_files: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hash_mismatches: Vec<HashMismatch>,
    /// gait addition (DEVIATIONS #3): entries present in the zip that the manifest does not declare.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undeclared_files: Vec<String>,
    pub signature_status: SignatureStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signature_errors: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub signatures_total: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub signatures_valid: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub signature_note: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn manifest_problem(msg: &str) -> GaitError {
    GaitError::verification(format!("manifest.json: {msg}"))
        .with_code("runpack_manifest_invalid")
        .with_hint(
            "the manifest must carry schema_id, schema_version and run_id; re-record the runpack",
        )
}

/// The digest a manifest signature covers: JCS of the raw manifest object without `signatures`.
pub fn signable_digest(manifest_bytes: &[u8]) -> Result<String, GaitError> {
    let parsed = canon::parse(manifest_bytes, ParseOptions::recorded_payload())
        .map_err(|e| manifest_problem(&e.to_string()))?;
    let Node::Obj(members) = parsed.node else {
        return Err(manifest_problem("expected a JSON object"));
    };
    let kept: Vec<_> = members
        .into_iter()
        .filter(|(k, _)| k != "signatures")
        .collect();
    Ok(canon::digest_node(&Node::Obj(kept)))
}

/// Verifies an opened runpack archive.
pub fn verify_archive(archive: &Archive, opts: &VerifyOptions) -> Result<VerifyReport, GaitError> {
    let manifest_bytes = archive.read(FILE_MANIFEST).map_err(zip_error)?.ok_or_else(|| {
        GaitError::verification("runpack is missing manifest.json")
            .with_code("runpack_missing_files")
            .with_hint("a runpack holds manifest.json, run.json, intents.jsonl, results.jsonl and refs.json")
    })?;
    let manifest = parse_manifest(&manifest_bytes)?;
    for (field, value) in [
        ("schema_id", &manifest.schema_id),
        ("schema_version", &manifest.schema_version),
        ("run_id", &manifest.run_id),
    ] {
        if value.trim().is_empty() {
            return Err(manifest_problem(&format!("{field} is required")));
        }
    }
    let declared: Vec<&ManifestFile> = manifest.files.iter().flatten().collect();
    let mut missing_files = Vec::new();
    let mut present: Vec<&ManifestFile> = Vec::new();
    for f in &declared {
        if archive.contains(&f.path) {
            present.push(f);
        } else {
            missing_files.push(f.path.clone());
        }
    }
    for required in REQUIRED_FILES {
        if !declared.iter().any(|f| f.path == required)
            && !missing_files.iter().any(|m| m == required)
        {
            missing_files.push(required.to_string());
        }
    }
    let names: Vec<&str> = present.iter().map(|f| f.path.as_str()).collect();
    let mut hash_mismatches = Vec::new();
    for (f, res) in present.iter().zip(archive.sha256_many(&names)) {
        let actual = res.map_err(zip_error)?.unwrap_or_default();
        if !actual.eq_ignore_ascii_case(f.sha256.trim()) {
            hash_mismatches.push(HashMismatch {
                path: f.path.clone(),
                expected: f.sha256.clone(),
                actual,
            });
        }
    }
    let recomputed = manifest_digest(&manifest)?;
    if recomputed != manifest.manifest_digest {
        hash_mismatches.push(HashMismatch {
            path: FILE_MANIFEST.to_string(),
            expected: manifest.manifest_digest.clone(),
            actual: recomputed,
        });
    }
    let undeclared_files: Vec<String> = archive
        .entries()
        .iter()
        .map(|e| e.name.clone())
        .filter(|n| n != FILE_MANIFEST && !declared.iter().any(|f| &f.path == n))
        .collect();

    let signatures_total = manifest.signatures.len();
    let mut signature_errors = Vec::new();
    let mut signatures_valid = 0;
    let mut signature_note = String::new();
    let signature_status = if signatures_total == 0 {
        signature_note = if opts.require_signature {
            NOTE_REQUIRED_UNSIGNED
        } else {
            NOTE_UNSIGNED
        }
        .to_string();
        SignatureStatus::Missing
    } else if let Some(key) = &opts.verify_key {
        let digest = signable_digest(&manifest_bytes)?;
        for (i, sig) in manifest.signatures.iter().enumerate() {
            match key.verify(sig, &digest) {
                Ok(()) => signatures_valid += 1,
                Err(e) => signature_errors.push(if signatures_total == 1 {
                    e.to_string()
                } else {
                    format!("signature {}: {e}", i + 1)
                }),
            }
        }
        if signatures_valid > 0 {
            SignatureStatus::Verified
        } else {
            SignatureStatus::Failed
        }
    } else {
        signature_errors.push("public key not configured".to_string());
        signature_note = if opts.require_signature {
            NOTE_REQUIRED_SKIPPED
        } else {
            NOTE_SKIPPED
        }
        .to_string();
        SignatureStatus::Skipped
    };
    let signature_ok = match signature_status {
        SignatureStatus::Verified => true,
        SignatureStatus::Failed => false,
        SignatureStatus::Missing | SignatureStatus::Skipped => !opts.require_signature,
    };
    let ok = missing_files.is_empty()
        && hash_mismatches.is_empty()
        && undeclared_files.is_empty()
        && signature_ok;
    Ok(VerifyReport {
        ok,
        run_id: manifest.run_id.clone(),
        manifest_digest: manifest.manifest_digest.clone(),
        files_checked: present.len(),
        missing_files,
        hash_mismatches,
        undeclared_files,
        signature_status,
        signature_errors,
        signatures_total,
        signatures_valid,
        signature_note,
    })
}

/// Opens and verifies runpack bytes.
pub fn verify_bytes(bytes: Vec<u8>, opts: &VerifyOptions) -> Result<VerifyReport, GaitError> {
    let archive = super::read::open_archive(bytes)?;
    verify_archive(&archive, opts)
}
