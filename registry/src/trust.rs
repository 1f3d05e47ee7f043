//! Trusted publisher keys (`<gait home>/plugins/trust.json`) and the signature rule.
//!
//! Several keys may be trusted at once. A key is removed (forgotten) or revoked (kept, marked, and
//! never accepted again until removed). A manifest or index is accepted when at least one of its
//! signatures is a valid ed25519 signature over its digest by a trusted key that is not revoked;
//! signatures by unknown or revoked keys are ignored but reported. This rule runs at install *and*
//! at every load, so removing or revoking a key disables what it alone signed.

use crate::codes;
use gait_engine::crypto::{PublicKey, Signature};
use gait_engine::{GaitError, GoTime, fsx};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const SCHEMA_ID: &str = "gait.plugin.trust";
pub const SCHEMA_VERSION: &str = "1.0.0";
const MAX_TRUST_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustStore {
    pub schema_id: String,
    pub schema_version: String,
    pub keys: Vec<TrustedKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub key_id: String,
    /// Base64 of the 32-byte ed25519 public key (the key-file text without its newline).
    pub public_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub added_at: GoTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<GoTime>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revoked_reason: String,
}

impl TrustedKey {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    fn public(&self) -> Result<PublicKey, GaitError> {
        PublicKey::from_text(&self.public_key).map_err(|e| {
            GaitError::invalid(format!(
                "trust store entry {} holds an invalid public key: {e}",
                self.key_id
            ))
        })
    }
}

impl Default for TrustStore {
    fn default() -> Self {
        TrustStore {
            schema_id: SCHEMA_ID.into(),
            schema_version: SCHEMA_VERSION.into(),
            keys: Vec::new(),
        }
    }
}

/// What the signatures on one digest amount to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignatureCheck {
    /// Trusted, unrevoked keys with a valid signature (sorted).
    pub accepted: Vec<String>,
    /// Revoked keys with a valid signature.
    pub revoked: Vec<String>,
    /// Key ids of signatures by keys not in the store.
    pub unknown: Vec<String>,
    /// Signatures that claim a trusted key but do not verify over this digest.
    pub invalid: Vec<String>,
}

impl TrustStore {
    /// Loads the store; a missing file is an empty store.
    pub fn load(path: &Path) -> Result<TrustStore, GaitError> {
        if !path.exists() {
            return Ok(TrustStore::default());
        }
        let bytes = fsx::read_bounded(path, MAX_TRUST_BYTES)?;
        let store: TrustStore = crate::json::strict(&bytes, "trust store", "trust_store_invalid")?;
        if store.schema_id != SCHEMA_ID {
            return Err(GaitError::invalid(format!(
                "{} is not a gait trust store",
                path.display()
            )));
        }
        for k in &store.keys {
            let key = k.public()?;
            if key.key_id() != k.key_id {
                return Err(GaitError::invalid(format!(
                    "trust store entry {} does not match its public key",
                    k.key_id
                )));
            }
        }
        Ok(store)
    }

    pub fn save(&self, path: &Path) -> Result<(), GaitError> {
        fsx::write_atomic(path, &crate::json::indented(self)?, 0o600)?;
        Ok(())
    }

    pub fn get(&self, key_id: &str) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.key_id == key_id)
    }

    /// Trusts `key` under `name`. Adding a key that is already trusted is a no-op (false); adding
    /// a revoked key is refused: revocation only ends by an explicit `remove`.
    pub fn add(&mut self, key: &PublicKey, name: &str, now: GoTime) -> Result<bool, GaitError> {
        let key_id = key.key_id();
        if let Some(existing) = self.get(&key_id) {
            if existing.is_revoked() {
                return Err(codes::refuse(
                    codes::KEY_REVOKED,
                    format!("key {key_id} is revoked and cannot be trusted again"),
                )
                .with_hint("if the revocation was a mistake, `gait plugin trust remove` it first, then add it"));
            }
            return Ok(false);
        }
        self.keys.push(TrustedKey {
            key_id,
            public_key: key.to_text().trim_end().to_string(),
            name: name.trim().to_string(),
            added_at: now.utc(),
            revoked_at: None,
            revoked_reason: String::new(),
        });
        self.keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        Ok(true)
    }

    /// Finds a key by full id or a unique prefix of at least 8 hex characters.
    pub fn find(&self, id: &str) -> Result<usize, GaitError> {
        let id = id.trim().to_ascii_lowercase();
        if id.len() < 8 {
            return Err(GaitError::invalid(format!(
                "key id {id:?} is too short; give at least 8 hex characters"
            )));
        }
        let hits: Vec<usize> = self
            .keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.key_id.starts_with(&id))
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [i] => Ok(*i),
            [] => Err(GaitError::invalid(format!("no trusted key matches {id:?}"))
                .with_hint("list keys with `gait plugin trust list`")),
            _ => Err(GaitError::invalid(format!(
                "key id prefix {id:?} matches several keys; give more characters"
            ))),
        }
    }

    pub fn remove(&mut self, id: &str) -> Result<TrustedKey, GaitError> {
        let i = self.find(id)?;
        Ok(self.keys.remove(i))
    }

    pub fn revoke(&mut self, id: &str, reason: &str, now: GoTime) -> Result<TrustedKey, GaitError> {
        let i = self.find(id)?;
        let k = &mut self.keys[i];
        if k.revoked_at.is_none() {
            k.revoked_at = Some(now.utc());
            k.revoked_reason = reason.trim().to_string();
        }
        Ok(k.clone())
    }

    /// Classifies every signature over `digest`.
    pub fn check(&self, signatures: &[Signature], digest: &str) -> SignatureCheck {
        let mut out = SignatureCheck::default();
        for sig in signatures {
            let candidates: Vec<&TrustedKey> = if sig.key_id.is_empty() {
                self.keys.iter().collect()
            } else {
                self.keys
                    .iter()
                    .filter(|k| k.key_id == sig.key_id)
                    .collect()
            };
            if candidates.is_empty() {
                out.unknown.push(sig.key_id.clone());
                continue;
            }
            let mut verified = None;
            for k in candidates {
                if let Ok(public) = k.public()
                    && public.verify(sig, digest).is_ok()
                {
                    verified = Some(k);
                    break;
                }
            }
            match verified {
                Some(k) if k.is_revoked() => out.revoked.push(k.key_id.clone()),
                Some(k) => out.accepted.push(k.key_id.clone()),
                None => out.invalid.push(sig.key_id.clone()),
            }
        }
        for list in [
            &mut out.accepted,
            &mut out.revoked,
            &mut out.unknown,
            &mut out.invalid,
        ] {
            list.sort();
            list.dedup();
        }
        out
    }

    /// The signature rule: at least one valid signature by a trusted, unrevoked key. Returns the
    /// accepted key ids; the refusal names the most telling problem.
    pub fn require(
        &self,
        what: &str,
        signatures: &[Signature],
        digest: &str,
    ) -> Result<Vec<String>, GaitError> {
        let check = self.check(signatures, digest);
        if !check.accepted.is_empty() {
            return Ok(check.accepted);
        }
        // Key ids of unknown signers come from untrusted input: shorten by characters, quoted.
        let short = |ids: &[String]| {
            ids.iter()
                .map(|k| {
                    let head: String = k.chars().take(16).collect();
                    if head.chars().all(|c| c.is_ascii_hexdigit()) && !head.is_empty() {
                        head
                    } else {
                        gait_engine::canon::go_quote(&head)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(if signatures.is_empty() {
            codes::refuse(codes::UNSIGNED, format!("{what} is not signed"))
                .with_hint("sign it with `gait plugin sign --private-key KEY`")
        } else if !check.invalid.is_empty() {
            codes::refuse(
                codes::SIGNATURE_INVALID,
                format!(
                    "{what} has a signature that does not verify (key {}): the content changed after signing or the signature is forged",
                    short(&check.invalid)
                ),
            )
            .with_hint("fetch the plugin again from its publisher; do not trust this copy")
        } else if !check.revoked.is_empty() {
            codes::refuse(
                codes::KEY_REVOKED,
                format!(
                    "{what} is signed only by revoked key {}",
                    short(&check.revoked)
                ),
            )
            .with_hint("ask the publisher for a release signed by a key you trust")
        } else {
            codes::refuse(
                codes::KEY_UNTRUSTED,
                format!(
                    "{what} is signed only by keys this gait does not trust ({})",
                    short(&check.unknown)
                ),
            )
            .with_hint("if you trust the publisher, add their public key with `gait plugin trust add KEYFILE`")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gait_engine::crypto::PrivateKey;

    fn now() -> GoTime {
        GoTime::parse("2026-01-02T03:04:05Z").unwrap()
    }

    #[test]
    fn rule_accepts_one_trusted_signature_among_many() {
        let a = PrivateKey::from_seed(&[1; 32]);
        let b = PrivateKey::from_seed(&[2; 32]);
        let stranger = PrivateKey::from_seed(&[3; 32]);
        let digest = gait_engine::canon::sha256_hex(b"m");
        let mut store = TrustStore::default();
        assert!(store.add(&a.public(), "a", now()).unwrap());
        assert!(!store.add(&a.public(), "a", now()).unwrap());
        store.add(&b.public(), "b", now()).unwrap();
        let sigs = vec![
            stranger.sign_digest(&digest).unwrap(),
            b.sign_digest(&digest).unwrap(),
        ];
        assert_eq!(
            store.require("m", &sigs, &digest).unwrap(),
            vec![b.public().key_id()]
        );
        let check = store.check(&sigs, &digest);
        assert_eq!(check.unknown, vec![stranger.public().key_id()]);
    }

    #[test]
    fn refusals_name_the_problem() {
        let a = PrivateKey::from_seed(&[1; 32]);
        let stranger = PrivateKey::from_seed(&[3; 32]);
        let digest = gait_engine::canon::sha256_hex(b"m");
        let other = gait_engine::canon::sha256_hex(b"n");
        let mut store = TrustStore::default();
        store.add(&a.public(), "a", now()).unwrap();
        let code = |sigs: &[Signature], store: &TrustStore| {
            store.require("m", sigs, &digest).unwrap_err().error_code()
        };
        assert_eq!(code(&[], &store), codes::UNSIGNED);
        assert_eq!(
            code(&[stranger.sign_digest(&digest).unwrap()], &store),
            codes::KEY_UNTRUSTED
        );
        // A trusted key's signature over another digest: the content was changed.
        assert_eq!(
            code(&[a.sign_digest(&other).unwrap()], &store),
            codes::SIGNATURE_INVALID
        );
        let mut forged = a.sign_digest(&digest).unwrap();
        forged.sig = stranger.sign_digest(&digest).unwrap().sig;
        assert_eq!(code(&[forged], &store), codes::SIGNATURE_INVALID);
        let good = [a.sign_digest(&digest).unwrap()];
        store.revoke(&a.public().key_id(), "leaked", now()).unwrap();
        assert_eq!(code(&good, &store), codes::KEY_REVOKED);
        // Revocation sticks: the key cannot simply be added again.
        assert_eq!(
            store.add(&a.public(), "a", now()).unwrap_err().error_code(),
            codes::KEY_REVOKED
        );
        store.remove(&a.public().key_id()[..12]).unwrap();
        assert_eq!(code(&good, &store), codes::KEY_UNTRUSTED);
    }

    #[test]
    fn store_round_trips_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.json");
        assert!(TrustStore::load(&path).unwrap().keys.is_empty());
        let a = PrivateKey::from_seed(&[1; 32]);
        let mut store = TrustStore::default();
        store.add(&a.public(), "alice", now()).unwrap();
        store.save(&path).unwrap();
        assert_eq!(TrustStore::load(&path).unwrap(), store);
        let text = std::fs::read_to_string(&path).unwrap();
        let other = PrivateKey::from_seed(&[9; 32]).public().to_text();
        std::fs::write(
            &path,
            text.replace(&store.keys[0].public_key, other.trim_end()),
        )
        .unwrap();
        assert!(TrustStore::load(&path).is_err());
    }

    #[test]
    fn hostile_key_ids_are_reported_without_panicking() {
        let store = TrustStore::default();
        let digest = gait_engine::canon::sha256_hex(b"m");
        let mut sig = PrivateKey::from_seed(&[3; 32])
            .sign_digest(&digest)
            .unwrap();
        sig.key_id = "ééééééééééééééééé\n".into();
        let e = store.require("m", &[sig], &digest).unwrap_err();
        assert_eq!(e.error_code(), codes::KEY_UNTRUSTED);
        assert!(e.message.contains("\"éééééééééééééééé\""), "{}", e.message);
    }

    #[test]
    fn find_by_prefix() {
        let mut store = TrustStore::default();
        store
            .add(&PrivateKey::from_seed(&[1; 32]).public(), "", now())
            .unwrap();
        assert!(store.find("abc").is_err());
        assert!(store.find("00000000").is_err());
        let id = store.keys[0].key_id.clone();
        assert_eq!(store.find(&id[..8].to_uppercase()).unwrap(), 0);
    }
}
