//! Signed approval and delegation tokens (CONTRACTS §3.5, FIELDS §2.3–2.4), byte-compatible with
//! the reference: the same flags mint the same fields and token id, the same field values sign to
//! the same digest and signature, and tokens from either implementation verify in the other.
//!
//! A token is verified the way the reference verifies it: decode into the struct (unknown keys
//! ignored, zero-valued optional fields dropped, times re-rendered with their offsets), normalize,
//! re-marshal without the signature, JCS, sha256 — then the ed25519 signature over those 32 bytes.
//! Duplicate keys in a token file are refused before that (a signed artifact with two values for one
//! field is tampering).

pub mod approval;
pub mod delegation;

use crate::text;
use gait_engine::crypto::{PrivateKey, Signature};
use gait_engine::{GaitError, canon, fsx};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Token files larger than this are refused.
pub const MAX_TOKEN_BYTES: u64 = 1024 * 1024;

/// `scope` as tokens keep it: trimmed, lowercased, deduplicated, sorted.
pub fn normalize_scope(items: &[String]) -> Vec<String> {
    text::norm_lower_list(items)
}

/// A sha256 hex digest trimmed and lowercased; `None` unless it is 64 hex digits.
pub fn normalize_digest(s: &str) -> Option<String> {
    let d = s.trim().to_ascii_lowercase();
    text::is_sha256_hex(&d).then_some(d)
}

/// The token-id preimage's scope part: the normalized scope joined by `,`.
pub(crate) fn scope_csv(scope: &[String]) -> String {
    scope.join(",")
}

/// `hex(sha256(preimage))[:24]`, the token-id rule of both token kinds.
pub(crate) fn short_id(preimage: &str) -> String {
    canon::sha256_hex(preimage.as_bytes())[..24].to_string()
}

/// Reads a token file (bounded) and checks it is strict JSON (no duplicate keys).
pub fn read_token_bytes(path: &Path, what: &str) -> Result<Vec<u8>, GaitError> {
    let bytes = fsx::read_bounded(path, MAX_TOKEN_BYTES)
        .map_err(|e| GaitError::invalid(format!("read {what}: {e}")))?;
    canon::parse(&bytes, canon::ParseOptions::recorded_payload())
        .map_err(|e| GaitError::invalid(format!("parse {what}: {e}")))?;
    Ok(bytes)
}

/// Decodes a token of either kind (`kind` words the errors): strict JSON first, so duplicate keys
/// are refused, then the struct as Go decodes it.
pub(crate) fn parse_token<T: DeserializeOwned>(bytes: &[u8], kind: &str) -> Result<T, GaitError> {
    let invalid = |e: String| GaitError::invalid(format!("parse {kind} token: {e}"));
    canon::parse(bytes, canon::ParseOptions::recorded_payload())
        .map_err(|e| invalid(e.to_string()))?;
    serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))
}

/// sha256 of the JCS form of a token whose signature has been cleared.
pub(crate) fn unsigned_digest<T: Serialize>(unsigned: &T, kind: &str) -> Result<String, GaitError> {
    canon::digest_of(unsigned).map_err(|e| GaitError::internal(format!("digest {kind} token: {e}")))
}

/// The ed25519 envelope over a token's signable digest.
pub(crate) fn sign_token(
    key: &PrivateKey,
    digest: &str,
    kind: &str,
) -> Result<Signature, GaitError> {
    key.sign_digest(digest)
        .map_err(|e| GaitError::internal(format!("sign {kind} token: {e}")))
}

/// Token file bytes: two-space indent, Go escaping, trailing newline.
pub(crate) fn token_file_bytes<T: Serialize>(token: &T, kind: &str) -> Result<Vec<u8>, GaitError> {
    gait_engine::gojson::to_indented(token)
        .map_err(|e| GaitError::internal(format!("encode {kind} token: {e}")))
}

/// The sorted, deduplicated union of a single-token flag and a comma-separated chain flag
/// (CONTRACTS §2.10 "token paths").
pub fn token_paths(single: &str, chain: &[String]) -> Vec<String> {
    let mut out: Vec<String> = std::iter::once(single)
        .chain(chain.iter().map(String::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_paths_are_a_sorted_union() {
        assert_eq!(
            token_paths(" b.json ", &["a.json".into(), "b.json".into(), "".into()]),
            ["a.json", "b.json"]
        );
        assert!(token_paths("", &[]).is_empty());
    }

    #[test]
    fn digests_and_scopes_normalize() {
        assert_eq!(
            normalize_digest(&format!(" {} ", "AB".repeat(32))),
            Some("ab".repeat(32))
        );
        assert_eq!(normalize_digest("abc"), None);
        assert_eq!(
            normalize_scope(&[" Tool:A ".into(), "tool:a".into(), "".into(), "b".into()]),
            ["b", "tool:a"]
        );
    }
}
