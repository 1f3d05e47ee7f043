//! Delegation tokens (`gait.gate.delegation_token` 1.0.0): one signed link "delegator lets delegate
//! act within scope", minted by `gait delegate mint` and checked link by link against an intent's
//! delegation chain (CONTRACTS §2.10, §3.5; FIELDS §2.4).

use super::approval::{TOKEN_SCHEMA_VERSION, default_if_empty};
use super::{normalize_digest, normalize_scope, scope_csv, short_id};
use crate::trace::{string_or_null, time_or_null, vec_or_null};
use gait_engine::crypto::{PrivateKey, PublicKey, Signature};
use gait_engine::{GaitError, GoTime};
use serde::{Deserialize, Serialize};

pub const DELEGATION_TOKEN_SCHEMA_ID: &str = "gait.gate.delegation_token";

/// The token in the reference's field order and `omitempty` rules (FIELDS §2.4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DelegationToken {
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub schema_version: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub created_at: GoTime,
    #[serde(default, deserialize_with = "string_or_null")]
    pub producer_version: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub token_id: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub delegator_identity: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub delegate_identity: String,
    #[serde(default, deserialize_with = "vec_or_null")]
    pub scope: Vec<String>,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub scope_class: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub intent_digest: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_digest: String,
    #[serde(default, deserialize_with = "time_or_null")]
    pub expires_at: GoTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// What `gait delegate mint` mints from.
#[derive(Clone, Debug, Default)]
pub struct MintDelegation<'a> {
    pub delegator: &'a str,
    pub delegate: &'a str,
    pub scope: &'a [String],
    pub scope_class: &'a str,
    pub intent_digest: &'a str,
    pub policy_digest: &'a str,
    pub ttl_nanos: i128,
    pub now: GoTime,
    pub producer_version: &'a str,
}

/// `token_id` = hex(sha256(delegator:delegate:scopeCSV:scope_class:intent:policy:expires))[:24].
pub fn delegation_token_id(t: &DelegationToken) -> String {
    short_id(&format!(
        "{}:{}:{}:{}:{}:{}:{}",
        t.delegator_identity,
        t.delegate_identity,
        scope_csv(&t.scope),
        t.scope_class,
        t.intent_digest,
        t.policy_digest,
        t.expires_at.utc().rfc3339_nano()
    ))
}

fn optional_digest(s: &str, field: &str) -> Result<String, String> {
    match s.trim() {
        "" => Ok(String::new()),
        d => normalize_digest(d).ok_or_else(|| format!("{field} must be sha256 hex when set")),
    }
}

/// Mints and signs a token. Messages are the reference's.
pub fn mint(opts: &MintDelegation<'_>, key: &PrivateKey) -> Result<DelegationToken, GaitError> {
    let delegator = opts.delegator.trim();
    let delegate = opts.delegate.trim();
    if delegator.is_empty() || delegate.is_empty() {
        return Err(GaitError::invalid(
            "delegator and delegate identities are required",
        ));
    }
    let scope = normalize_scope(opts.scope);
    if scope.is_empty() {
        return Err(GaitError::invalid("scope is required"));
    }
    let intent_digest =
        optional_digest(opts.intent_digest, "intent_digest").map_err(GaitError::invalid)?;
    let policy_digest =
        optional_digest(opts.policy_digest, "policy_digest").map_err(GaitError::invalid)?;
    if opts.ttl_nanos <= 0 {
        return Err(GaitError::invalid(
            "invalid --ttl, expected positive duration",
        ));
    }
    let created_at = opts.now.utc();
    let mut token = DelegationToken {
        schema_id: DELEGATION_TOKEN_SCHEMA_ID.into(),
        schema_version: TOKEN_SCHEMA_VERSION.into(),
        created_at,
        producer_version: opts.producer_version.into(),
        token_id: String::new(),
        delegator_identity: delegator.into(),
        delegate_identity: delegate.into(),
        scope,
        scope_class: crate::text::lower_trim(opts.scope_class),
        intent_digest,
        policy_digest,
        expires_at: created_at.add_nanos(opts.ttl_nanos),
        signature: None,
    };
    token.token_id = delegation_token_id(&token);
    token.sign(key)?;
    Ok(token)
}

impl DelegationToken {
    /// Decodes token JSON (strict: duplicate keys are refused).
    pub fn parse(bytes: &[u8]) -> Result<DelegationToken, GaitError> {
        super::parse_token(bytes, "delegation")
    }

    /// sha256 of the JCS form without the signature.
    pub fn signable_digest(&self) -> Result<String, GaitError> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        super::unsigned_digest(&unsigned, "delegation")
    }

    /// Signs in place (over the current field values).
    pub fn sign(&mut self, key: &PrivateKey) -> Result<(), GaitError> {
        self.signature = Some(super::sign_token(
            key,
            &self.signable_digest()?,
            "delegation",
        )?);
        Ok(())
    }

    /// File bytes: two-space indent, Go escaping, trailing newline.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>, GaitError> {
        super::token_file_bytes(self, "delegation")
    }

    /// The reference's normalization before re-marshalling (FIELDS §1): as the approval token's,
    /// identities trimmed (case kept), `scope_class` trimmed and lowercased.
    pub fn normalized(&self) -> Result<DelegationToken, String> {
        let mut t = self.clone();
        t.schema_id = default_if_empty(&t.schema_id, DELEGATION_TOKEN_SCHEMA_ID);
        if t.schema_id != DELEGATION_TOKEN_SCHEMA_ID {
            return Err(format!("unsupported schema_id {}", t.schema_id));
        }
        t.schema_version = default_if_empty(&t.schema_version, TOKEN_SCHEMA_VERSION);
        if t.schema_version != TOKEN_SCHEMA_VERSION {
            return Err(format!("unsupported schema_version {}", t.schema_version));
        }
        t.token_id = t.token_id.trim().into();
        t.delegator_identity = t.delegator_identity.trim().into();
        t.delegate_identity = t.delegate_identity.trim().into();
        if t.token_id.is_empty() {
            return Err("token_id is required".into());
        }
        if t.delegator_identity.is_empty() || t.delegate_identity.is_empty() {
            return Err("delegator and delegate identities are required".into());
        }
        t.scope = normalize_scope(&t.scope);
        if t.scope.is_empty() {
            return Err("scope is required".into());
        }
        t.scope_class = crate::text::lower_trim(&t.scope_class);
        t.intent_digest = optional_digest(&t.intent_digest, "intent_digest")?;
        t.policy_digest = optional_digest(&t.policy_digest, "policy_digest")?;
        if t.expires_at.is_zero() {
            return Err("expires_at is required".into());
        }
        Ok(t)
    }
}

/// What a token must match to satisfy one delegation link. Empty strings and lists are not checked.
#[derive(Clone, Debug, Default)]
pub struct DelegationExpectation<'a> {
    pub delegator: &'a str,
    pub delegate: &'a str,
    /// Any one of these must be in the token's scope or be its scope class (or the scope holds `*`).
    pub required_scopes: &'a [String],
    /// Checked only when the token is bound to an intent / a policy.
    pub intent_digest: &'a str,
    pub policy_digest: &'a str,
    /// The link's `token_ref`, when the intent names the token it expects.
    pub token_ref: &'a str,
    pub now: GoTime,
}

/// Validates a token against one link; `Ok` holds the normalized token, `Err` the reason code
/// (`delegation_token_*`). Order: invalid, signature, expiry, delegator, delegate, scope, intent,
/// policy, chain reference.
pub fn validate(
    token: &DelegationToken,
    key: Option<&PublicKey>,
    exp: &DelegationExpectation<'_>,
) -> Result<DelegationToken, &'static str> {
    let t = token.normalized().map_err(|_| "delegation_token_invalid")?;
    let Some(key) = key else {
        return Err("delegation_token_signature_invalid");
    };
    let Some(sig) = &t.signature else {
        return Err("delegation_token_signature_missing");
    };
    let digest = t
        .signable_digest()
        .map_err(|_| "delegation_token_signature_invalid")?;
    key.verify(sig, &digest)
        .map_err(|_| "delegation_token_signature_invalid")?;
    if exp.now >= t.expires_at {
        return Err("delegation_token_expired");
    }
    if !exp.delegator.is_empty() && t.delegator_identity != exp.delegator {
        return Err("delegation_token_delegator_mismatch");
    }
    if !exp.delegate.is_empty() && t.delegate_identity != exp.delegate {
        return Err("delegation_token_delegate_mismatch");
    }
    if !exp.required_scopes.is_empty() && !scope_covers(&t, exp.required_scopes) {
        return Err("delegation_token_scope_mismatch");
    }
    if !t.intent_digest.is_empty() && t.intent_digest != exp.intent_digest {
        return Err("delegation_token_intent_mismatch");
    }
    if !t.policy_digest.is_empty() && t.policy_digest != exp.policy_digest {
        return Err("delegation_token_policy_mismatch");
    }
    if !exp.token_ref.is_empty() && t.token_id != exp.token_ref {
        return Err("delegation_token_chain_mismatch");
    }
    Ok(t)
}

fn scope_covers(t: &DelegationToken, required: &[String]) -> bool {
    t.scope.iter().any(|s| s == "*")
        || required
            .iter()
            .any(|r| t.scope.contains(r) || (!t.scope_class.is_empty() && t.scope_class == *r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> PrivateKey {
        PrivateKey::from_seed(&[4; 32])
    }

    fn now() -> GoTime {
        GoTime::parse("2030-01-01T00:00:00Z").unwrap()
    }

    fn token(delegator: &str, delegate: &str, scope: &str) -> DelegationToken {
        mint(
            &MintDelegation {
                delegator,
                delegate,
                scope: &[scope.to_string()],
                scope_class: scope,
                ttl_nanos: 3_600_000_000_000,
                now: now(),
                producer_version: "0.0.0-dev",
                ..MintDelegation::default()
            },
            &signer(),
        )
        .unwrap()
    }

    #[test]
    fn every_broken_link_has_its_code() {
        let t = token("human.owner", "agent.lead", "write");
        let key = signer().public();
        let write = ["write".to_string()];
        let base = DelegationExpectation {
            delegator: "human.owner",
            delegate: "agent.lead",
            required_scopes: &write,
            now: now(),
            ..DelegationExpectation::default()
        };
        assert!(validate(&t, Some(&key), &base).is_ok());
        let read = ["read".to_string()];
        let cases: Vec<(DelegationExpectation<'_>, &str)> = vec![
            (
                DelegationExpectation {
                    now: now().add_nanos(3_600_000_000_000),
                    delegator: "x",
                    ..base.clone()
                },
                "delegation_token_expired",
            ),
            (
                DelegationExpectation {
                    delegator: "agent.lead",
                    delegate: "x",
                    ..base.clone()
                },
                "delegation_token_delegator_mismatch",
            ),
            (
                DelegationExpectation {
                    delegate: "agent.worker",
                    required_scopes: &read,
                    ..base.clone()
                },
                "delegation_token_delegate_mismatch",
            ),
            (
                DelegationExpectation {
                    required_scopes: &read,
                    ..base.clone()
                },
                "delegation_token_scope_mismatch",
            ),
            (
                DelegationExpectation {
                    token_ref: "not-this-token",
                    ..base.clone()
                },
                "delegation_token_chain_mismatch",
            ),
        ];
        for (exp, code) in cases {
            assert_eq!(validate(&t, Some(&key), &exp).err(), Some(code));
        }
        let stranger = PrivateKey::from_seed(&[8; 32]).public();
        assert_eq!(
            validate(&t, Some(&stranger), &base).err(),
            Some("delegation_token_signature_invalid")
        );
        let mut unsigned = t.clone();
        unsigned.signature = None;
        assert_eq!(
            validate(&unsigned, Some(&key), &base).err(),
            Some("delegation_token_signature_missing")
        );
        let mut tampered = t.clone();
        tampered.delegate_identity = "mallory".into();
        assert_eq!(
            validate(
                &tampered,
                Some(&key),
                &DelegationExpectation {
                    delegate: "mallory",
                    ..base.clone()
                }
            )
            .err(),
            Some("delegation_token_signature_invalid")
        );
        let mut broken = t.clone();
        broken.scope.clear();
        assert_eq!(
            validate(&broken, Some(&key), &base).err(),
            Some("delegation_token_invalid")
        );
    }

    #[test]
    fn digest_bindings_apply_only_when_the_token_has_them() {
        let key = signer().public();
        let a = "a".repeat(64);
        let bound = mint(
            &MintDelegation {
                delegator: "h",
                delegate: "d",
                scope: &["*".to_string()],
                intent_digest: &a,
                policy_digest: &a,
                ttl_nanos: 10,
                now: now(),
                ..MintDelegation::default()
            },
            &signer(),
        )
        .unwrap();
        let b = "b".repeat(64);
        let scopes = ["anything".to_string()];
        let exp = DelegationExpectation {
            required_scopes: &scopes,
            intent_digest: &a,
            policy_digest: &a,
            now: now(),
            ..DelegationExpectation::default()
        };
        assert!(
            validate(&bound, Some(&key), &exp).is_ok(),
            "`*` covers any scope"
        );
        assert_eq!(
            validate(
                &bound,
                Some(&key),
                &DelegationExpectation {
                    intent_digest: &b,
                    ..exp.clone()
                }
            )
            .err(),
            Some("delegation_token_intent_mismatch")
        );
        assert_eq!(
            validate(
                &bound,
                Some(&key),
                &DelegationExpectation {
                    policy_digest: &b,
                    ..exp.clone()
                }
            )
            .err(),
            Some("delegation_token_policy_mismatch")
        );
        let unbound = token("h", "d", "write");
        assert!(
            validate(
                &unbound,
                Some(&key),
                &DelegationExpectation {
                    intent_digest: &b,
                    policy_digest: &b,
                    ..DelegationExpectation {
                        now: now(),
                        ..DelegationExpectation::default()
                    }
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn mint_messages_are_the_reference_ones() {
        let key = signer();
        for (opts, msg) in [
            (
                MintDelegation {
                    delegate: "b",
                    scope: &["w".to_string()],
                    ttl_nanos: 1,
                    ..MintDelegation::default()
                },
                "delegator and delegate identities are required",
            ),
            (
                MintDelegation {
                    delegator: "a",
                    delegate: "b",
                    ttl_nanos: 1,
                    ..MintDelegation::default()
                },
                "scope is required",
            ),
            (
                MintDelegation {
                    delegator: "a",
                    delegate: "b",
                    scope: &["w".to_string()],
                    intent_digest: "abc",
                    ttl_nanos: 1,
                    ..MintDelegation::default()
                },
                "intent_digest must be sha256 hex when set",
            ),
        ] {
            assert_eq!(mint(&opts, &key).unwrap_err().message, msg);
        }
    }
}
