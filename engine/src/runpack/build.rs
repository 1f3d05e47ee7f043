//! From the four content entries to a finished runpack: hashes, manifest, digest, signature, zip.
//!
//! - `manifest_digest` = sha256(JCS(manifest with `manifest_digest: ""` and no signatures)) — the
//!   reference's struct re-marshal (FIELDS §2.9);
//! - the signature is over the JCS digest of the manifest *with* its digest and without `signatures`,
//!   which for a manifest we wrote ourselves is the sha256 of the unsigned `manifest.json` bytes.

use super::model::*;
use crate::canon;
use crate::crypto::PrivateKey;
use crate::error::GaitError;
use crate::zipx::{self, ChunkedEntry, ZipxError};

/// The four content entries; the JSONL ones may be held in chunks.
pub struct Parts<'a> {
    pub run: &'a Run,
    pub capture_mode: &'a str,
    pub run_json: &'a [u8],
    pub intents_jsonl: Vec<&'a [u8]>,
    pub results_jsonl: Vec<&'a [u8]>,
    pub refs_json: &'a [u8],
}

pub struct Built {
    pub manifest: Manifest,
    pub manifest_digest: String,
    pub signature_key_id: Option<String>,
    pub zip: Vec<u8>,
}

/// The digest a manifest should carry: its JCS form with an empty digest and no signatures.
pub fn manifest_digest(manifest: &Manifest) -> Result<String, GaitError> {
    let mut m = manifest.clone();
    m.manifest_digest.clear();
    m.signatures.clear();
    canon::digest_of(&m).map_err(|e| GaitError::internal(format!("digest manifest: {e}")))
}

fn sha256_all(files: &[Vec<&[u8]>]) -> Vec<String> {
    let size: usize = files.iter().flatten().map(|c| c.len()).sum();
    if size >= 1024 * 1024 {
        use rayon::prelude::*;
        files
            .par_iter()
            .map(|f| canon::sha256_hex_parts(f))
            .collect()
    } else {
        files.iter().map(|f| canon::sha256_hex_parts(f)).collect()
    }
}

pub fn write_error(e: ZipxError) -> GaitError {
    match e {
        ZipxError::EntryTooLarge { name, limit } => GaitError::invalid(format!(
            "runpack entry {name} would be larger than {limit} bytes, the most a runpack reader accepts"
        ))
        .with_hint("record fewer intents per runpack, or use --capture-mode reference to keep payloads out"),
        ZipxError::TotalTooLarge { limit } => GaitError::invalid(format!(
            "runpack entries would total more than {limit} bytes, the most a runpack reader accepts"
        ))
        .with_hint("record fewer intents per runpack"),
        other => GaitError::internal(format!("write runpack zip: {other}")),
    }
}

pub fn build_runpack(parts: Parts<'_>, key: Option<&PrivateKey>) -> Result<Built, GaitError> {
    let files_in_order: [(&str, Vec<&[u8]>); 4] = [
        (FILE_INTENTS, parts.intents_jsonl),
        (FILE_REFS, vec![parts.refs_json]),
        (FILE_RESULTS, parts.results_jsonl),
        (FILE_RUN, vec![parts.run_json]),
    ];
    let hashes = sha256_all(
        &files_in_order
            .iter()
            .map(|(_, c)| c.clone())
            .collect::<Vec<_>>(),
    );
    let mut manifest = Manifest {
        schema_id: MANIFEST_SCHEMA_ID.to_string(),
        schema_version: SCHEMA_VERSION.to_string(),
        created_at: parts.run.created_at,
        producer_version: parts.run.producer_version.clone(),
        run_id: parts.run.run_id.clone(),
        capture_mode: parts.capture_mode.to_string(),
        files: Some(
            files_in_order
                .iter()
                .zip(hashes)
                .map(|((path, _), sha256)| ManifestFile {
                    path: path.to_string(),
                    sha256,
                })
                .collect(),
        ),
        manifest_digest: String::new(),
        signatures: Vec::new(),
    };
    manifest.manifest_digest = manifest_digest(&manifest)?;
    let encode = |m: &Manifest| {
        canon::jcs_of(m).map_err(|e| GaitError::internal(format!("encode manifest: {e}")))
    };
    let mut manifest_json = encode(&manifest)?;
    let mut signature_key_id = None;
    if let Some(key) = key {
        let sig = key
            .sign_digest(&canon::sha256_hex(&manifest_json))
            .map_err(|e| GaitError::internal(format!("sign manifest: {e}")))?;
        signature_key_id = Some(sig.key_id.clone());
        manifest.signatures = vec![sig];
        manifest_json = encode(&manifest)?;
    }
    let mut entries: Vec<ChunkedEntry<'_>> = files_in_order
        .into_iter()
        .map(|(name, chunks)| ChunkedEntry {
            name: name.to_string(),
            chunks,
            executable: false,
        })
        .collect();
    entries.push(ChunkedEntry {
        name: FILE_MANIFEST.to_string(),
        chunks: vec![&manifest_json],
        executable: false,
    });
    let zip = zipx::write_deterministic_chunked(entries, &super::record::runpack_limits())
        .map_err(write_error)?;
    Ok(Built {
        manifest_digest: manifest.manifest_digest.clone(),
        manifest,
        signature_key_id,
        zip,
    })
}
