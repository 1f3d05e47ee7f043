//! Broker receipt validation: what a broker claims about the credential it issued must agree with
//! the request the gate made and with the credential posture of the rules that decided the call.
//!
//! Each claim is checked only when the broker makes it (the stub broker makes none beyond its fixed
//! posture; `{"issued_by","credential_ref"}` is a complete receipt). A receipt that binds the
//! credential (scope, target/run/job binding) must also say which request it answered
//! (`request_digest`), otherwise the bindings could have been copied from another request. The
//! in-process env broker answers the gate's request directly and stamps its digest; out-of-process
//! brokers (command, plugin) must echo it.

use super::{CredentialRequest, IssuedCredential};
use crate::policy::Rule;
use serde::Serialize;

/// A deciding rule's credential posture, applied to the brokered credential.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CredentialPosture {
    pub block_standing_credentials: bool,
    pub require_jit_credential: bool,
    pub allowed_credential_sources: Vec<String>,
    pub allowed_credential_issuers: Vec<String>,
    pub allowed_credential_access_types: Vec<String>,
    pub max_credential_ttl_seconds: i64,
}

impl CredentialPosture {
    /// The rule's posture, or `None` when it sets none.
    pub fn of(rule: &Rule) -> Option<CredentialPosture> {
        let p = CredentialPosture {
            block_standing_credentials: rule.block_standing_credentials,
            require_jit_credential: rule.require_jit_credential,
            allowed_credential_sources: rule.allowed_credential_sources.clone(),
            allowed_credential_issuers: rule.allowed_credential_issuers.clone(),
            allowed_credential_access_types: rule.allowed_credential_access_types.clone(),
            max_credential_ttl_seconds: rule.max_credential_ttl_seconds,
        };
        (p != CredentialPosture::default()).then_some(p)
    }
}

/// The lifetime the receipt claims, in seconds: `ttl_seconds`, else `expires_at - issued_at`.
fn claimed_ttl(c: &IssuedCredential) -> Option<i64> {
    if c.ttl_seconds > 0 {
        return Some(c.ttl_seconds);
    }
    match (c.issued_at, c.expires_at) {
        (Some(i), Some(e)) => {
            let nanos = e.unix_nanos() - i.unix_nanos();
            Some(((nanos + 999_999_999) / 1_000_000_000) as i64)
        }
        _ => None,
    }
}

/// The reason codes of every failed check, sorted (empty = the receipt holds).
pub fn check(
    request: &CredentialRequest,
    cred: &IssuedCredential,
    postures: &[CredentialPosture],
) -> Vec<&'static str> {
    let mut codes = Vec::new();
    let binds = !cred.scope.is_empty()
        || !cred.target_binding.is_empty()
        || !cred.run_binding.is_empty()
        || !cred.job_binding.is_empty();
    if cred.request_digest.is_empty() {
        if binds {
            codes.push("broker_request_digest_missing");
        }
    } else if cred.request_digest != request.digest() {
        codes.push("broker_request_digest_mismatch");
    }
    if !cred.scope.is_empty()
        && !cred.scope.iter().any(|s| s == "*")
        && !request.scope.iter().all(|s| cred.scope.contains(s))
    {
        codes.push("broker_scope_mismatch");
    }
    if !cred.reference.is_empty() && cred.reference != request.reference {
        codes.push("broker_credential_ref_mismatch");
    }
    if !cred.target_binding.is_empty() && cred.target_binding != request.target_binding {
        codes.push("broker_target_binding_mismatch");
    }
    if !cred.run_binding.is_empty() && cred.run_binding != request.run_id {
        codes.push("broker_run_binding_mismatch");
    }
    if !cred.job_binding.is_empty() && cred.job_binding != request.job_id {
        codes.push("broker_job_binding_mismatch");
    }
    let source = crate::text::lower_trim(&cred.source);
    let access = crate::text::lower_trim(&cred.access_type);
    let ttl = claimed_ttl(cred);
    for p in postures {
        if p.max_credential_ttl_seconds > 0 && ttl.is_none_or(|t| t > p.max_credential_ttl_seconds)
        {
            codes.push("broker_ttl_exceeded");
        }
        if p.require_jit_credential && access != "jit" {
            codes.push("credential_not_jit");
        }
        if p.block_standing_credentials && matches!(access.as_str(), "" | "standing" | "static") {
            codes.push("standing_credential_disallowed");
        }
        if !p.allowed_credential_sources.is_empty()
            && !p.allowed_credential_sources.contains(&source)
        {
            codes.push("credential_source_disallowed");
        }
        if !p.allowed_credential_issuers.is_empty()
            && !p.allowed_credential_issuers.contains(&cred.issuer)
        {
            codes.push("credential_issuer_disallowed");
        }
        if !p.allowed_credential_access_types.is_empty()
            && !p.allowed_credential_access_types.contains(&access)
        {
            codes.push("credential_access_type_disallowed");
        }
    }
    codes.sort_unstable();
    codes.dedup();
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CredentialRequest {
        CredentialRequest {
            tool_name: "tool.write".into(),
            identity: "agent".into(),
            reference: "vault".into(),
            scope: vec!["write".into()],
            target_binding: "t".repeat(64),
            run_id: "run-1".into(),
            ..CredentialRequest::default()
        }
    }

    fn cred() -> IssuedCredential {
        IssuedCredential {
            issued_by: "vault".into(),
            credential_ref: "vault:lease".into(),
            source: "vault_dynamic".into(),
            access_type: "jit".into(),
            issuer: "vault.example".into(),
            ttl_seconds: 300,
            ..IssuedCredential::default()
        }
    }

    #[test]
    fn a_minimal_receipt_holds() {
        assert!(check(&request(), &cred(), &[]).is_empty());
    }

    #[test]
    fn each_claim_that_disagrees_has_its_code() {
        let r = request();
        let bound = |f: &dyn Fn(&mut IssuedCredential)| {
            let mut c = cred();
            c.request_digest = r.digest();
            f(&mut c);
            check(&r, &c, &[])
        };
        assert!(bound(&|c| c.scope = vec!["write".into(), "read".into()]).is_empty());
        assert_eq!(
            bound(&|c| c.request_digest = "0".repeat(64)),
            ["broker_request_digest_mismatch"]
        );
        assert_eq!(
            bound(&|c| c.scope = vec!["read".into()]),
            ["broker_scope_mismatch"]
        );
        assert_eq!(
            bound(&|c| c.reference = "other".into()),
            ["broker_credential_ref_mismatch"]
        );
        assert_eq!(
            bound(&|c| c.target_binding = "x".into()),
            ["broker_target_binding_mismatch"]
        );
        assert_eq!(
            bound(&|c| c.run_binding = "run-2".into()),
            ["broker_run_binding_mismatch"]
        );
        assert_eq!(
            bound(&|c| c.job_binding = "job-9".into()),
            ["broker_job_binding_mismatch"]
        );
        // Bindings without the request digest are not trusted.
        let mut c = cred();
        c.run_binding = "run-1".into();
        assert_eq!(check(&r, &c, &[]), ["broker_request_digest_missing"]);
    }

    #[test]
    fn the_deciding_rules_posture_applies_to_the_brokered_credential() {
        let strict = CredentialPosture {
            require_jit_credential: true,
            block_standing_credentials: true,
            allowed_credential_sources: vec!["aws_sts".into()],
            allowed_credential_issuers: vec!["sts.amazonaws.com".into()],
            allowed_credential_access_types: vec!["jit".into()],
            max_credential_ttl_seconds: 60,
        };
        let mut c = cred();
        c.access_type = "static".into();
        assert_eq!(
            check(&request(), &c, &[strict]),
            [
                "broker_ttl_exceeded",
                "credential_access_type_disallowed",
                "credential_issuer_disallowed",
                "credential_not_jit",
                "credential_source_disallowed",
                "standing_credential_disallowed"
            ]
        );
        // A lifetime from issued_at/expires_at counts when ttl_seconds is absent.
        let mut c = cred();
        c.ttl_seconds = 0;
        c.issued_at = Some(gait_engine::GoTime::parse("2030-01-01T00:00:00Z").unwrap());
        c.expires_at = Some(gait_engine::GoTime::parse("2030-01-01T00:00:30Z").unwrap());
        let ttl = CredentialPosture {
            max_credential_ttl_seconds: 60,
            ..CredentialPosture::default()
        };
        assert!(check(&request(), &c, std::slice::from_ref(&ttl)).is_empty());
        c.issued_at = None;
        assert_eq!(check(&request(), &c, &[ttl]), ["broker_ttl_exceeded"]);
    }
}
