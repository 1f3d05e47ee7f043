//! ed25519 keys and the signature envelope, exactly as the reference (CONTRACTS §3.1).
//!
//! - Key files: one line of standard base64 (with padding) and `\n`; private = 64 bytes seed‖public,
//!   public = 32 bytes. Surrounding whitespace is ignored when reading.
//! - `key_id` = hex(sha256(public key bytes)).
//! - Envelope `{alg, key_id, sig, signed_digest}`: `sig` is ed25519 over the raw 32 bytes of the
//!   sha256 digest (not over the canonical JSON), base64 with padding.
//!
//! The engine never generates randomness: dev-mode keys come from a seed the caller passes in.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const ALG_ED25519: &str = "ed25519";
/// The reference's warning for ephemeral signing keys.
pub const DEV_KEY_WARNING: &str =
    "dev mode: ephemeral keypair generated; signatures will not verify across machines";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("decode key: {0}")]
    Decode(String),
    /// The reference's wording (a 64-byte seed‖public key is expected).
    #[error("invalid private key length: {0}")]
    PrivateLength(usize),
    /// The reference's wording (a 32-byte key is expected).
    #[error("invalid public key length: {0}")]
    PublicLength(usize),
    #[error("private key is inconsistent: its public half does not match its seed")]
    Inconsistent,
    #[error("read key {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(
        "private key file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Permissions { path: String, mode: u32 },
    #[error("key source conflict: set either a key path or a key env var, not both")]
    Ambiguous,
    #[error("public key not configured")]
    NoPublicKey,
    #[error("private key not configured")]
    NoPrivateKey,
    #[error("unsupported key mode: {}", crate::canon::go_quote(.0))]
    Mode(String),
    #[error("dev mode does not accept explicit key sources")]
    DevWithExplicitKey,
    #[error("prod mode requires a private key source")]
    ProdWithoutKey,
}

/// An ed25519 signing key.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

/// An ed25519 verification key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "PrivateKey(key_id={})", self.public().key_id())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey(key_id={})", self.key_id())
    }
}

impl PrivateKey {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        PrivateKey(SigningKey::from_bytes(seed))
    }

    /// Decodes the 64-byte Go form (seed‖public); rejects a public half that does not match.
    pub fn from_keypair_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeyError::PrivateLength(bytes.len()))?;
        SigningKey::from_keypair_bytes(&arr)
            .map(PrivateKey)
            .map_err(|_| KeyError::Inconsistent)
    }

    /// Decodes key-file text (base64 of 64 bytes).
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|e| KeyError::Decode(e.to_string()))?;
        Self::from_keypair_bytes(&bytes)
    }

    /// Key-file text: base64 of seed‖public and a newline.
    pub fn to_text(&self) -> String {
        format!("{}\n", B64.encode(self.0.to_keypair_bytes()))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs a sha256 hex digest: ed25519 over its 32 raw bytes.
    pub fn sign_digest(&self, digest_hex: &str) -> Result<Signature, SignatureError> {
        let raw = hex::decode(digest_hex).map_err(|_| SignatureError::DigestNotHex)?;
        if raw.len() != 32 {
            return Err(SignatureError::DigestNotHex);
        }
        let sig = self.0.sign(&raw);
        Ok(Signature {
            alg: ALG_ED25519.to_string(),
            key_id: self.public().key_id(),
            sig: B64.encode(sig.to_bytes()),
            signed_digest: digest_hex.to_string(),
        })
    }
}

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::PublicLength(bytes.len()))?;
        VerifyingKey::from_bytes(&arr)
            .map(PublicKey)
            .map_err(|e| KeyError::Decode(e.to_string()))
    }

    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|e| KeyError::Decode(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    pub fn to_text(&self) -> String {
        format!("{}\n", B64.encode(self.0.as_bytes()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// hex(sha256(public key bytes)).
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Checks an envelope against `digest_hex`, the digest recomputed from the artifact.
    pub fn verify(&self, sig: &Signature, digest_hex: &str) -> Result<(), SignatureError> {
        if sig.alg != ALG_ED25519 {
            return Err(SignatureError::Algorithm(sig.alg.clone()));
        }
        if sig.signed_digest != digest_hex {
            return Err(SignatureError::DigestMismatch);
        }
        if !sig.key_id.is_empty() && sig.key_id != self.key_id() {
            return Err(SignatureError::KeyIdMismatch);
        }
        let raw_digest = hex::decode(digest_hex).map_err(|_| SignatureError::DigestNotHex)?;
        let sig_bytes = B64
            .decode(sig.sig.trim())
            .map_err(|_| SignatureError::Encoding)?;
        let sig_arr: [u8; 64] = sig_bytes
            .as_slice()
            .try_into()
            .map_err(|_| SignatureError::Encoding)?;
        let signature = ed25519_dalek::Signature::from_bytes(&sig_arr);
        // verify_strict: reject malleable encodings and small-order keys on untrusted input.
        self.0
            .verify_strict(&raw_digest, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// The signature envelope carried by traces, tokens, manifests and packs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Signature {
    #[serde(default)]
    pub alg: String,
    #[serde(default)]
    pub key_id: String,
    #[serde(default)]
    pub sig: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signed_digest: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("unsupported signature algorithm {0:?}")]
    Algorithm(String),
    #[error("signed_digest mismatch")]
    DigestMismatch,
    #[error("key_id mismatch")]
    KeyIdMismatch,
    #[error("signature is not valid base64 of 64 bytes")]
    Encoding,
    #[error("digest is not sha256 hex")]
    DigestNotHex,
    #[error("signature verification failed")]
    Invalid,
}

/// Reads a private key file; refuses one that group or others can read (unix). A file that does not
/// hold a private key at all (e.g. a public key passed by mistake) is reported as such first, with
/// the reference's decoding error.
pub fn load_private_key_file(path: &Path) -> Result<PrivateKey, KeyError> {
    let text = read_key_text(path)?;
    let key = PrivateKey::from_text(&text)?;
    check_private_permissions(path)?;
    Ok(key)
}

pub fn load_public_key_file(path: &Path) -> Result<PublicKey, KeyError> {
    PublicKey::from_text(&read_key_text(path)?)
}

fn read_key_text(path: &Path) -> Result<String, KeyError> {
    // Key files are one short line; anything larger is not a key.
    let bytes = crate::fsx::read_bounded(path, 64 * 1024).map_err(|e| KeyError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| KeyError::Decode("key file is not UTF-8 text".into()))
}

#[cfg(unix)]
fn check_private_permissions(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| KeyError::Read {
        path: path.display().to_string(),
        reason: crate::fsx::io_reason(&e),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_permissions(_path: &Path) -> Result<(), KeyError> {
    Ok(())
}

/// Where a key comes from: a file, or the text of an environment variable (read by the CLI).
#[derive(Clone, Debug, Default)]
pub struct KeySource {
    pub path: Option<std::path::PathBuf>,
    /// `(variable name, value)`; the name is kept for messages.
    pub env: Option<(String, String)>,
}

impl KeySource {
    pub fn is_set(&self) -> bool {
        self.path.is_some() || self.env.is_some()
    }

    pub fn load_private(&self) -> Result<PrivateKey, KeyError> {
        match (&self.path, &self.env) {
            (Some(_), Some(_)) => Err(KeyError::Ambiguous),
            (Some(path), None) => load_private_key_file(path),
            (None, Some((_, value))) => PrivateKey::from_text(value),
            (None, None) => Err(KeyError::NoPrivateKey),
        }
    }

    pub fn load_public(&self) -> Result<PublicKey, KeyError> {
        match (&self.path, &self.env) {
            (Some(_), Some(_)) => Err(KeyError::Ambiguous),
            (Some(path), None) => load_public_key_file(path),
            (None, Some((_, value))) => PublicKey::from_text(value),
            (None, None) => Err(KeyError::NoPublicKey),
        }
    }
}

/// The reference's `LoadVerifyKey`: the public source if set, else derived from the private source.
pub fn load_verify_key(public: &KeySource, private: &KeySource) -> Result<PublicKey, KeyError> {
    if public.is_set() {
        return public.load_public();
    }
    if private.is_set() {
        return Ok(private.load_private()?.public());
    }
    Err(KeyError::NoPublicKey)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMode {
    /// An ephemeral key pair per process, with [`DEV_KEY_WARNING`].
    Dev,
    /// A configured private key is required.
    Prod,
}

impl KeyMode {
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dev" => Ok(KeyMode::Dev),
            "prod" => Ok(KeyMode::Prod),
            _ => Err(KeyError::Mode(s.to_string())),
        }
    }
}

/// A signing key chosen by mode, with the warning to report when it is ephemeral.
pub struct SigningChoice {
    pub key: PrivateKey,
    pub warning: Option<&'static str>,
}

/// Resolves a signing key by mode, as the reference's `LoadSigningKey` does for `gate eval`,
/// `approve`, `delegate mint` and `approve-script`: prod loads the configured private key (and
/// requires one); dev uses an ephemeral key from `dev_seed` and refuses explicit key sources, so a
/// key flag without `--key-mode prod` is an error rather than silently ignored (tokens.jsonl
/// `approval-err-dev-with-key`, `approval-err-prod-no-key`). `gait run record` has its own rule (a key
/// flag alone signs), see the runpack writers.
pub fn resolve_signing_key(
    mode: KeyMode,
    source: &KeySource,
    dev_seed: [u8; 32],
) -> Result<SigningChoice, KeyError> {
    match mode {
        KeyMode::Prod => {
            if !source.is_set() {
                return Err(KeyError::ProdWithoutKey);
            }
            Ok(SigningChoice {
                key: source.load_private()?,
                warning: None,
            })
        }
        KeyMode::Dev => {
            if source.is_set() {
                return Err(KeyError::DevWithExplicitKey);
            }
            Ok(SigningChoice {
                key: PrivateKey::from_seed(&dev_seed),
                warning: Some(DEV_KEY_WARNING),
            })
        }
    }
}

/// Signs any serializable artifact: digest = sha256(JCS(value)), envelope over the digest bytes.
pub fn sign_value<T: Serialize + ?Sized>(
    key: &PrivateKey,
    value: &T,
) -> Result<Signature, SignatureError> {
    let digest = crate::canon::digest_of(value).map_err(|_| SignatureError::DigestNotHex)?;
    key.sign_digest(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VEC_PRIV: &str =
        "DWf9mDnRfb7FXftlA7WRfJbzwe/OaYbDJd8Vqo0Uk9FYBQCU55HtdWmk1PjwANgLaMbL27ERQUHXbvbhrAPrfw==";
    const VEC_PUB: &str = "WAUAlOeR7XVppNT48ADYC2jGy9uxEUFB12724awD638=";

    #[test]
    fn vector_keys_and_key_id() {
        let key = PrivateKey::from_text(VEC_PRIV).unwrap();
        assert_eq!(key.public(), PublicKey::from_text(VEC_PUB).unwrap());
        assert_eq!(
            key.public().key_id(),
            "066b0de74072ae762d11550336e773ad0da69ec10eb2ff550c27b7218695ae44"
        );
        assert_eq!(key.to_text(), format!("{VEC_PRIV}\n"));
    }

    #[test]
    fn signs_digest_bytes_like_the_reference() {
        // runpacks.jsonl `runpack-signed`: the manifest signature by the vector key.
        let key = PrivateKey::from_text(VEC_PRIV).unwrap();
        let sig = key
            .sign_digest("835f6c57006feab6a3630d761f96e047045851696f574d5560805908d534c169")
            .unwrap();
        assert_eq!(
            sig.sig,
            "I/6BWocGZM4ky49YqwFMzdiPGsSQ6DYxm4p0uOStpMH4HGSOkCUzRpSJzpItS6dR4dHbj8oZO1ZBWpnm0VLSBA=="
        );
        key.public().verify(&sig, &sig.signed_digest).unwrap();
    }

    #[test]
    fn tampering_is_detected() {
        let key = PrivateKey::from_seed(&[7; 32]);
        let other = PrivateKey::from_seed(&[8; 32]);
        let digest = crate::canon::sha256_hex(b"x");
        let sig = key.sign_digest(&digest).unwrap();
        assert_eq!(
            other.public().verify(&sig, &digest),
            Err(SignatureError::KeyIdMismatch)
        );
        let mut anon = sig.clone();
        anon.key_id.clear();
        assert_eq!(
            other.public().verify(&anon, &digest),
            Err(SignatureError::Invalid)
        );
        let other_digest = crate::canon::sha256_hex(b"y");
        assert_eq!(
            key.public().verify(&sig, &other_digest),
            Err(SignatureError::DigestMismatch)
        );
        let mut bad = sig.clone();
        bad.sig = "AAAA".into();
        assert_eq!(
            key.public().verify(&bad, &digest),
            Err(SignatureError::Encoding)
        );
    }

    #[test]
    fn rejects_malformed_keys() {
        assert!(matches!(
            PrivateKey::from_text(VEC_PUB),
            Err(KeyError::PrivateLength(32))
        ));
        assert!(matches!(
            PublicKey::from_text(VEC_PRIV),
            Err(KeyError::PublicLength(64))
        ));
        assert!(matches!(
            PrivateKey::from_text("not base64!"),
            Err(KeyError::Decode(_))
        ));
        let mut pair = B64.decode(VEC_PRIV).unwrap();
        pair[40] ^= 1;
        assert_eq!(
            PrivateKey::from_keypair_bytes(&pair).unwrap_err(),
            KeyError::Inconsistent
        );
    }

    #[test]
    fn key_modes_resolve_like_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, VEC_PRIV).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let explicit = KeySource {
            path: Some(path),
            env: None,
        };
        let none = KeySource::default();
        let seed = [3u8; 32];
        let prod = resolve_signing_key(KeyMode::Prod, &explicit, seed).unwrap();
        assert_eq!(prod.key.public(), PublicKey::from_text(VEC_PUB).unwrap());
        assert!(prod.warning.is_none());
        assert_eq!(
            resolve_signing_key(KeyMode::Prod, &none, seed)
                .err()
                .map(|e| e.to_string()),
            Some("prod mode requires a private key source".to_string())
        );
        assert_eq!(
            resolve_signing_key(KeyMode::Dev, &explicit, seed)
                .err()
                .map(|e| e.to_string()),
            Some("dev mode does not accept explicit key sources".to_string())
        );
        let dev = resolve_signing_key(KeyMode::Dev, &none, seed).unwrap();
        assert_eq!(dev.key.public(), PrivateKey::from_seed(&seed).public());
        assert_eq!(dev.warning, Some(DEV_KEY_WARNING));
        // tokens.jsonl `approval-err-public-as-private`: the reference's length message.
        assert_eq!(
            PrivateKey::from_text(VEC_PUB).err().map(|e| e.to_string()),
            Some("invalid private key length: 32".to_string())
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_group_readable_private_keys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, VEC_PRIV).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            load_private_key_file(&path),
            Err(KeyError::Permissions { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_private_key_file(&path).is_ok());
        // A world-readable public key passed as the private key: the length error, as the reference.
        let public = dir.path().join("pub");
        std::fs::write(&public, VEC_PUB).unwrap();
        std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            load_private_key_file(&public).err(),
            Some(KeyError::PrivateLength(32))
        );
    }
}
