//! Approval tokens (`gait.gate.approval_token` 1.0.0): minted by `gait approve`, presented to
//! `gait gate eval` to turn `require_approval` into `allow` (CONTRACTS §2.10, §3.5; FIELDS §2.3).

use super::{normalize_digest, normalize_scope, scope_csv, short_id};
use crate::trace::{string_or_null, time_or_null, vec_or_null};
use gait_engine::crypto::{PrivateKey, PublicKey, Signature};
use gait_engine::{GaitError, GoTime};
use serde::{Deserialize, Serialize};

pub const APPROVAL_TOKEN_SCHEMA_ID: &str = "gait.gate.approval_token";
pub const TOKEN_SCHEMA_VERSION: &str = "1.0.0";

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// The token in the reference's field order and `omitempty` rules (FIELDS §2.3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApprovalToken {
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
    pub approver_identity: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub reason_code: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub intent_digest: String,
    #[serde(default, deserialize_with = "string_or_null")]
    pub policy_digest: String,
    #[serde(
        default,
        deserialize_with = "string_or_null",
        skip_serializing_if = "String::is_empty"
    )]
    pub delegation_binding_digest: String,
    #[serde(default, deserialize_with = "vec_or_null")]
    pub scope: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_targets: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ops: i64,
    #[serde(default, deserialize_with = "time_or_null")]
    pub expires_at: GoTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// What `gait approve` mints from.
#[derive(Clone, Debug, Default)]
pub struct MintApproval<'a> {
    pub intent_digest: &'a str,
    pub policy_digest: &'a str,
    pub delegation_binding_digest: &'a str,
    pub approver: &'a str,
    pub reason_code: &'a str,
    /// As given (`--scope` split on commas); see [`approve_scope`].
    pub scope: &'a [String],
    pub max_targets: i64,
    pub max_ops: i64,
    pub ttl_nanos: i128,
    /// The mint time (the CLI's clock); converted to UTC.
    pub now: GoTime,
    pub producer_version: &'a str,
}

/// `gait approve --scope` entries as written into the token: a bare tool name (no `kind:` prefix and
/// not the `*` wildcard) becomes `tool:<name>` — the seed README's `--scope tool.write` then yields a
/// token the gate accepts (DEVIATIONS #5; the reference writes it literally and later rejects it).
pub fn approve_scope(raw: &[String]) -> Vec<String> {
    let expanded: Vec<String> = raw
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s == "*" || s.contains(':') {
                s.to_string()
            } else {
                format!("tool:{s}")
            }
        })
        .collect();
    normalize_scope(&expanded)
}

/// `token_id` = hex(sha256(intent:policy:approver:reason:scopeCSV:max_targets:max_ops:expires))[:24]
/// over normalized values, `expires` as RFC3339Nano in UTC (CONTRACTS §3.5).
pub fn approval_token_id(t: &ApprovalToken) -> String {
    short_id(&format!(
        "{}:{}:{}:{}:{}:{}:{}:{}",
        t.intent_digest,
        t.policy_digest,
        t.approver_identity,
        t.reason_code,
        scope_csv(&t.scope),
        t.max_targets,
        t.max_ops,
        t.expires_at.utc().rfc3339_nano()
    ))
}

/// Mints and signs a token. Messages are the reference's.
pub fn mint(opts: &MintApproval<'_>, key: &PrivateKey) -> Result<ApprovalToken, GaitError> {
    let approver = opts.approver.trim();
    if approver.is_empty() {
        return Err(GaitError::invalid("approver identity is required"));
    }
    let reason = opts.reason_code.trim();
    if reason.is_empty() {
        return Err(GaitError::invalid("reason code is required"));
    }
    let intent_digest = normalize_digest(opts.intent_digest)
        .ok_or_else(|| GaitError::invalid("intent_digest must be sha256 hex"))?;
    let policy_digest = normalize_digest(opts.policy_digest)
        .ok_or_else(|| GaitError::invalid("policy_digest must be sha256 hex"))?;
    let binding = match opts.delegation_binding_digest.trim() {
        "" => String::new(),
        d => normalize_digest(d).ok_or_else(|| {
            GaitError::invalid("delegation_binding_digest must be sha256 hex when set")
        })?,
    };
    let scope = approve_scope(opts.scope);
    if scope.is_empty() {
        return Err(GaitError::invalid("scope is required"));
    }
    if opts.max_targets < 0 {
        return Err(GaitError::invalid("max_targets must be >= 0"));
    }
    if opts.max_ops < 0 {
        return Err(GaitError::invalid("max_ops must be >= 0"));
    }
    if opts.ttl_nanos <= 0 {
        return Err(GaitError::invalid(
            "invalid --ttl, expected positive duration",
        ));
    }
    let created_at = opts.now.utc();
    let mut token = ApprovalToken {
        schema_id: APPROVAL_TOKEN_SCHEMA_ID.into(),
        schema_version: TOKEN_SCHEMA_VERSION.into(),
        created_at,
        producer_version: opts.producer_version.into(),
        token_id: String::new(),
        approver_identity: approver.into(),
        reason_code: reason.into(),
        intent_digest,
        policy_digest,
        delegation_binding_digest: binding,
        scope,
        max_targets: opts.max_targets,
        max_ops: opts.max_ops,
        expires_at: created_at.add_nanos(opts.ttl_nanos),
        signature: None,
    };
    token.token_id = approval_token_id(&token);
    token.sign(key)?;
    Ok(token)
}

impl ApprovalToken {
    /// Decodes token JSON (strict: duplicate keys are refused).
    pub fn parse(bytes: &[u8]) -> Result<ApprovalToken, GaitError> {
        super::parse_token(bytes, "approval")
    }

    /// sha256 of the JCS form without the signature.
    pub fn signable_digest(&self) -> Result<String, GaitError> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        super::unsigned_digest(&unsigned, "approval")
    }

    /// Signs in place (over the current field values).
    pub fn sign(&mut self, key: &PrivateKey) -> Result<(), GaitError> {
        self.signature = Some(super::sign_token(
            key,
            &self.signable_digest()?,
            "approval",
        )?);
        Ok(())
    }

    /// File bytes: two-space indent, Go escaping, trailing newline.
    pub fn to_file_bytes(&self) -> Result<Vec<u8>, GaitError> {
        super::token_file_bytes(self, "approval")
    }

    /// The reference's normalization before re-marshalling (FIELDS §1): defaults for empty schema
    /// fields, trimmed ids, lowercased digests, normalized scope; times untouched. Errors are the
    /// token being invalid.
    pub fn normalized(&self) -> Result<ApprovalToken, String> {
        let mut t = self.clone();
        t.schema_id = default_if_empty(&t.schema_id, APPROVAL_TOKEN_SCHEMA_ID);
        if t.schema_id != APPROVAL_TOKEN_SCHEMA_ID {
            return Err(format!("unsupported schema_id {}", t.schema_id));
        }
        t.schema_version = default_if_empty(&t.schema_version, TOKEN_SCHEMA_VERSION);
        if t.schema_version != TOKEN_SCHEMA_VERSION {
            return Err(format!("unsupported schema_version {}", t.schema_version));
        }
        t.token_id = t.token_id.trim().into();
        t.approver_identity = t.approver_identity.trim().into();
        t.reason_code = t.reason_code.trim().into();
        if t.token_id.is_empty() {
            return Err("token_id is required".into());
        }
        if t.approver_identity.is_empty() {
            return Err("approver identity is required".into());
        }
        if t.reason_code.is_empty() {
            return Err("reason code is required".into());
        }
        t.intent_digest =
            normalize_digest(&t.intent_digest).ok_or("intent_digest must be sha256 hex")?;
        t.policy_digest =
            normalize_digest(&t.policy_digest).ok_or("policy_digest must be sha256 hex")?;
        if !t.delegation_binding_digest.trim().is_empty() {
            t.delegation_binding_digest = normalize_digest(&t.delegation_binding_digest)
                .ok_or("delegation_binding_digest must be sha256 hex when set")?;
        } else {
            t.delegation_binding_digest.clear();
        }
        t.scope = normalize_scope(&t.scope);
        if t.scope.is_empty() {
            return Err("scope is required".into());
        }
        if t.max_targets < 0 || t.max_ops < 0 {
            return Err("max_targets and max_ops must be >= 0".into());
        }
        if t.expires_at.is_zero() {
            return Err("expires_at is required".into());
        }
        Ok(t)
    }
}

pub(crate) fn default_if_empty(s: &str, default: &str) -> String {
    match s.trim() {
        "" => default.to_string(),
        v => v.to_string(),
    }
}

/// What a presented token must match (CONTRACTS §2.10).
#[derive(Clone, Debug, Default)]
pub struct ApprovalExpectation<'a> {
    pub intent_digest: &'a str,
    pub policy_digest: &'a str,
    /// The intent's delegation binding digest ("" when it has no delegation).
    pub delegation_binding_digest: &'a str,
    /// Every entry must be in the token's scope (or the scope holds `*`).
    pub required_scope: &'a [String],
    pub target_count: usize,
    pub operation_count: usize,
    pub now: GoTime,
}

/// Validates a token in the reference's order; `Ok` holds the normalized token, `Err` the reason
/// code (`approval_token_*`).
pub fn validate(
    token: &ApprovalToken,
    key: Option<&PublicKey>,
    exp: &ApprovalExpectation<'_>,
) -> Result<ApprovalToken, &'static str> {
    let t = token.normalized().map_err(|_| "approval_token_invalid")?;
    let Some(key) = key else {
        return Err("approval_token_signature_invalid");
    };
    let Some(sig) = &t.signature else {
        return Err("approval_token_signature_missing");
    };
    let digest = t
        .signable_digest()
        .map_err(|_| "approval_token_signature_invalid")?;
    key.verify(sig, &digest)
        .map_err(|_| "approval_token_signature_invalid")?;
    if t.intent_digest != exp.intent_digest {
        return Err("approval_token_intent_mismatch");
    }
    if t.policy_digest != exp.policy_digest {
        return Err("approval_token_policy_mismatch");
    }
    if !t.delegation_binding_digest.is_empty()
        && t.delegation_binding_digest != exp.delegation_binding_digest
    {
        return Err("approval_token_delegation_binding_mismatch");
    }
    if exp.now >= t.expires_at {
        return Err("approval_token_expired");
    }
    let wildcard = t.scope.iter().any(|s| s == "*");
    if !wildcard && !exp.required_scope.iter().all(|r| t.scope.contains(r)) {
        return Err("approval_token_scope_mismatch");
    }
    if t.max_targets > 0 && exp.target_count as i64 > t.max_targets {
        return Err("approval_token_max_targets_exceeded");
    }
    if t.max_ops > 0 && exp.operation_count as i64 > t.max_ops {
        return Err("approval_token_max_ops_exceeded");
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = include_str!("../../../tests/vectors/fields_examples/approval_token.json");
    const TEST_PUBLIC: &str =
        include_str!("../../../tests/vectors/fields_examples/test_public.key");

    fn key() -> PublicKey {
        PublicKey::from_text(TEST_PUBLIC).unwrap()
    }

    fn expectation(t: &ApprovalToken) -> ApprovalExpectation<'_> {
        ApprovalExpectation {
            intent_digest: &t.intent_digest,
            policy_digest: &t.policy_digest,
            delegation_binding_digest: "",
            required_scope: &[],
            target_count: 1,
            operation_count: 1,
            now: GoTime::parse("2026-11-21T06:00:00Z").unwrap(),
        }
    }

    #[test]
    fn reference_token_verifies_and_round_trips() {
        // FIELDS §6.2: the reference's token, its id and its exact file bytes.
        let t = ApprovalToken::parse(TOKEN.as_bytes()).unwrap();
        assert_eq!(approval_token_id(&t), "58b9fe9904fe176027d4c471");
        assert_eq!(
            t.signable_digest().unwrap(),
            "35a03c87de95ad28210625dc859c8800a9dfb5286ac28857dc85ef77dce1deed"
        );
        assert_eq!(
            String::from_utf8(t.to_file_bytes().unwrap()).unwrap(),
            TOKEN
        );
        assert!(validate(&t, Some(&key()), &expectation(&t)).is_ok());
    }

    #[test]
    fn mutations_behave_as_the_reference_records() {
        // FIELDS §7: what must still verify and what must not.
        let t = ApprovalToken::parse(TOKEN.as_bytes()).unwrap();
        let exp = expectation(&t);
        let check = |text: String| {
            let m = ApprovalToken::parse(text.as_bytes()).unwrap();
            validate(&m, Some(&key()), &exp).err()
        };
        let invalid = Some("approval_token_signature_invalid");
        assert_eq!(
            check(TOKEN.replace(
                "\"reason_code\": \"change_window_ok\"",
                "\"reason_code\": \"x\""
            )),
            invalid
        );
        assert_eq!(
            check(TOKEN.replace("\"max_targets\": 2", "\"max_targets\": 3")),
            invalid
        );
        // An extra key or an explicit zero optional field is ignored by the re-marshal: the digest
        // then differs only if the signer had signed them — here it had not, so these still verify.
        assert_eq!(
            check(TOKEN.replacen("{\n", "{\n  \"extra\": 1,\n", 1)),
            None
        );
        assert_eq!(
            check(TOKEN.replace(
                "\"max_targets\": 2,",
                "\"max_targets\": 2,\n  \"max_ops\": 0,"
            )),
            None
        );
        // Upper-case digests normalize back to what was signed.
        assert_eq!(
            check(TOKEN.replace(
                "67bc2c5ad062d5b41cb054bf5b1be7cad790268a5cacb0863b1370552d37a5a0",
                "67BC2C5AD062D5B41CB054BF5B1BE7CAD790268A5CACB0863B1370552D37A5A0"
            )),
            None
        );
        let mut unsigned = t.clone();
        unsigned.signature = None;
        assert_eq!(
            validate(&unsigned, Some(&key()), &exp).err(),
            Some("approval_token_signature_missing")
        );
        assert_eq!(
            validate(&t, None, &exp).err(),
            Some("approval_token_signature_invalid")
        );
        let mut bad = t.clone();
        bad.scope.clear();
        assert_eq!(
            validate(&bad, Some(&key()), &exp).err(),
            Some("approval_token_invalid")
        );
    }

    #[test]
    fn checks_run_in_the_reference_order() {
        let signer = PrivateKey::from_seed(&[5; 32]);
        let now = GoTime::parse("2030-01-01T00:00:00Z").unwrap();
        let scope = ["tool:tool.write".to_string()];
        let token = mint(
            &MintApproval {
                intent_digest: &"a".repeat(64),
                policy_digest: &"b".repeat(64),
                approver: "alice",
                reason_code: "chg",
                scope: &scope,
                max_targets: 1,
                max_ops: 2,
                ttl_nanos: 3_600_000_000_000,
                now,
                producer_version: "0.0.0-dev",
                ..MintApproval::default()
            },
            &signer,
        )
        .unwrap();
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let required = ["tool:tool.write".to_string()];
        let base = ApprovalExpectation {
            intent_digest: &a,
            policy_digest: &b,
            delegation_binding_digest: "",
            required_scope: &required,
            target_count: 1,
            operation_count: 1,
            now,
        };
        let pk = signer.public();
        assert!(validate(&token, Some(&pk), &base).is_ok());
        let other = "c".repeat(64);
        let delete = ["tool:tool.delete".to_string()];
        let cases: Vec<(ApprovalExpectation<'_>, &str)> = vec![
            (
                ApprovalExpectation {
                    intent_digest: &other,
                    now: now.add_nanos(7_200_000_000_000),
                    ..base.clone()
                },
                "approval_token_intent_mismatch",
            ),
            (
                ApprovalExpectation {
                    policy_digest: &other,
                    now: now.add_nanos(7_200_000_000_000),
                    ..base.clone()
                },
                "approval_token_policy_mismatch",
            ),
            (
                ApprovalExpectation {
                    now: now.add_nanos(3_600_000_000_000),
                    target_count: 9,
                    ..base.clone()
                },
                "approval_token_expired",
            ),
            (
                ApprovalExpectation {
                    required_scope: &delete,
                    target_count: 9,
                    ..base.clone()
                },
                "approval_token_scope_mismatch",
            ),
            (
                ApprovalExpectation {
                    target_count: 2,
                    operation_count: 3,
                    ..base.clone()
                },
                "approval_token_max_targets_exceeded",
            ),
            (
                ApprovalExpectation {
                    operation_count: 3,
                    ..base.clone()
                },
                "approval_token_max_ops_exceeded",
            ),
        ];
        for (exp, code) in cases {
            assert_eq!(validate(&token, Some(&pk), &exp).err(), Some(code));
        }
        // Another key: invalid signature before anything else.
        let stranger = PrivateKey::from_seed(&[6; 32]).public();
        assert_eq!(
            validate(&token, Some(&stranger), &base).err(),
            Some("approval_token_signature_invalid")
        );
    }

    #[test]
    fn bare_tool_scopes_get_the_tool_prefix() {
        let raw: Vec<String> = ["tool.write", " Tool:Tool.Write", "*", "phase:apply", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(approve_scope(&raw), ["*", "phase:apply", "tool:tool.write"]);
    }

    #[test]
    fn mint_refuses_bad_input_with_the_reference_messages() {
        let key = PrivateKey::from_seed(&[1; 32]);
        let scope = ["tool:x".to_string()];
        let ok = MintApproval {
            intent_digest: "3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f",
            policy_digest: "c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4",
            approver: "a",
            reason_code: "r",
            scope: &scope,
            ttl_nanos: 1,
            now: GoTime::epoch_1980(),
            ..MintApproval::default()
        };
        assert!(mint(&ok, &key).is_ok());
        // `--scope ' , '` reaches mint already split on commas.
        let empty: [String; 2] = [" ".to_string(), "".to_string()];
        for (opts, msg) in [
            (
                MintApproval {
                    approver: " ",
                    ..ok.clone()
                },
                "approver identity is required",
            ),
            (
                MintApproval {
                    reason_code: "",
                    ..ok.clone()
                },
                "reason code is required",
            ),
            (
                MintApproval {
                    intent_digest: "xyz",
                    ..ok.clone()
                },
                "intent_digest must be sha256 hex",
            ),
            (
                MintApproval {
                    policy_digest: "abcd",
                    ..ok.clone()
                },
                "policy_digest must be sha256 hex",
            ),
            (
                MintApproval {
                    delegation_binding_digest: "nothex",
                    ..ok.clone()
                },
                "delegation_binding_digest must be sha256 hex when set",
            ),
            (
                MintApproval {
                    scope: &[],
                    ..ok.clone()
                },
                "scope is required",
            ),
            (
                MintApproval {
                    scope: &empty,
                    max_targets: -1,
                    ..ok.clone()
                },
                "scope is required",
            ),
            (
                MintApproval {
                    max_targets: -1,
                    ..ok.clone()
                },
                "max_targets must be >= 0",
            ),
            (
                MintApproval {
                    max_ops: -1,
                    ..ok.clone()
                },
                "max_ops must be >= 0",
            ),
        ] {
            assert_eq!(mint(&opts, &key).unwrap_err().message, msg);
        }
    }
}
