//! The `env` broker: the credential is an environment variable the operator set for the gate,
//! `<prefix><REF>` where REF is the rule's broker reference (or the tool name) upper-cased with `.`
//! and `-` turned into `_`. The issued reference names the variable and an 8-hex fingerprint of its
//! value (`env:<KEY>:<hex8>`), never the value. Companion variables `<KEY>_SOURCE`, `_ACCESS_TYPE`,
//! `_ISSUER`, `_SUBJECT`, `_OWNER`, `_ISSUED_AT`, `_EXPIRES_AT`, `_TTL_SECONDS`, `_TARGET_BINDING`,
//! `_RUN_BINDING`, `_JOB_BINDING` and `_SCOPE` (comma-separated) describe it; they form the receipt.
//!
//! The broker runs inside the gate and answers exactly the request it is given, so its receipt
//! carries that request's digest: the bindings the operator set are then checked against the
//! request like any broker's (a `_TARGET_BINDING` for another target is
//! `broker_target_binding_mismatch`), and never refused for want of a digest no environment
//! variable could supply.

use super::{
    BrokerCapabilities, BrokerError, CredentialBroker, CredentialRequest, IssuedCredential,
    check_credential_ref,
};
use gait_engine::{GoTime, canon};

pub const DEFAULT_ENV_PREFIX: &str = "GAIT_BROKER_TOKEN_";

pub struct EnvBroker {
    prefix: String,
}

impl EnvBroker {
    pub fn new(prefix: &str) -> Self {
        EnvBroker {
            prefix: prefix.trim().to_string(),
        }
    }

    /// The variable holding the credential for `request`.
    pub fn key(&self, request: &CredentialRequest) -> String {
        let name = match request.reference.trim() {
            "" => request.tool_name.trim(),
            r => r,
        };
        let mut out = self.prefix.clone();
        for c in name.chars() {
            match c {
                '.' | '-' => out.push('_'),
                c => {
                    let mut up = c.to_uppercase();
                    match (up.next(), up.next()) {
                        (Some(u), None) => out.push(u),
                        _ => out.push(c),
                    }
                }
            }
        }
        out
    }
}

fn companion<'a>(caps: &'a BrokerCapabilities<'_>, key: &str, suffix: &str) -> &'a str {
    caps.env
        .get(&format!("{key}_{suffix}"))
        .map(str::trim)
        .unwrap_or("")
}

fn companion_time(
    caps: &BrokerCapabilities<'_>,
    key: &str,
    suffix: &str,
) -> Result<Option<GoTime>, BrokerError> {
    match companion(caps, key, suffix) {
        "" => Ok(None),
        v => GoTime::parse(v)
            .map(|t| Some(t.utc()))
            .map_err(|_| BrokerError::missing(format!("{key}_{suffix} is not an RFC3339 time"))),
    }
}

impl CredentialBroker for EnvBroker {
    fn name(&self) -> &str {
        "env"
    }

    fn issue(
        &self,
        request: &CredentialRequest,
        caps: &BrokerCapabilities<'_>,
    ) -> Result<IssuedCredential, BrokerError> {
        let key = self.key(request);
        let value = caps.env.get(&key).map(str::trim).unwrap_or("");
        if value.is_empty() {
            return Err(BrokerError::missing(format!(
                "credential environment variable {key} is not set"
            )));
        }
        let credential_ref = format!("env:{key}:{}", &canon::sha256_hex(value.as_bytes())[..8]);
        check_credential_ref(&credential_ref)?;
        let ttl_seconds = match companion(caps, &key, "TTL_SECONDS") {
            "" => 0,
            v => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                BrokerError::missing(format!("{key}_TTL_SECONDS is not a non-negative integer"))
            })?,
        };
        let or = |v: &str, default: &str| {
            if v.is_empty() {
                default.to_string()
            } else {
                v.to_string()
            }
        };
        Ok(IssuedCredential {
            issued_by: "env".into(),
            credential_ref,
            source: or(companion(caps, &key, "SOURCE"), "env"),
            access_type: or(companion(caps, &key, "ACCESS_TYPE"), "static"),
            issuer: or(companion(caps, &key, "ISSUER"), "env"),
            subject: companion(caps, &key, "SUBJECT").into(),
            owner: companion(caps, &key, "OWNER").into(),
            target_binding: companion(caps, &key, "TARGET_BINDING").into(),
            run_binding: companion(caps, &key, "RUN_BINDING").into(),
            job_binding: companion(caps, &key, "JOB_BINDING").into(),
            issued_at: companion_time(caps, &key, "ISSUED_AT")?,
            expires_at: companion_time(caps, &key, "EXPIRES_AT")?,
            ttl_seconds,
            // In-process: this is the request the broker answered (see the module comment).
            request_digest: request.digest(),
            scope: crate::text::norm_lower_list(
                &companion(caps, &key, "SCOPE")
                    .split(',')
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
            reference: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::EnvSnapshot;
    use super::super::tests::{NoSpawn, caps};
    use super::*;

    const SECRET: &str = "s3cr3t-VALUE-do-not-leak";

    fn request(reference: &str) -> CredentialRequest {
        CredentialRequest {
            tool_name: "tool.write".into(),
            reference: reference.into(),
            ..CredentialRequest::default()
        }
    }

    #[test]
    fn issues_a_fingerprinted_reference_never_the_value() {
        let env = EnvSnapshot::new([
            ("GAIT_BROKER_TOKEN_VEC_PROD".to_string(), SECRET.to_string()),
            (
                "GAIT_BROKER_TOKEN_VEC_PROD_ACCESS_TYPE".to_string(),
                "jit".to_string(),
            ),
            (
                "GAIT_BROKER_TOKEN_VEC_PROD_TTL_SECONDS".to_string(),
                "600".to_string(),
            ),
            (
                "GAIT_BROKER_TOKEN_VEC_PROD_SCOPE".to_string(),
                "Write, read".to_string(),
            ),
        ]);
        let broker = EnvBroker::new(DEFAULT_ENV_PREFIX);
        let cred = broker
            .issue(&request("vec-prod"), &caps(&env, &NoSpawn))
            .unwrap();
        let fp = &canon::sha256_hex(SECRET.as_bytes())[..8];
        assert_eq!(
            cred.credential_ref,
            format!("env:GAIT_BROKER_TOKEN_VEC_PROD:{fp}")
        );
        assert_eq!(
            (
                cred.source.as_str(),
                cred.access_type.as_str(),
                cred.ttl_seconds
            ),
            ("env", "jit", 600)
        );
        assert_eq!(cred.scope, ["read", "write"]);
        assert!(!format!("{cred:?}").contains(SECRET));
    }

    #[test]
    fn companion_bindings_are_checked_against_the_request_they_answer() {
        let mut req = request("vault");
        req.scope = vec!["write".into()];
        req.target_binding = "b".repeat(64);
        req.run_id = "run-1".into();
        let issue = |extra: &[(&str, &str)]| {
            let mut vars = vec![("GAIT_BROKER_TOKEN_VAULT".to_string(), SECRET.to_string())];
            vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let env = EnvSnapshot::new(vars);
            let cred = EnvBroker::new(DEFAULT_ENV_PREFIX)
                .issue(&req, &caps(&env, &NoSpawn))
                .unwrap();
            super::super::receipt::check(&req, &cred, &[])
        };
        let right = "b".repeat(64);
        assert!(issue(&[]).is_empty());
        assert!(
            issue(&[
                ("GAIT_BROKER_TOKEN_VAULT_SCOPE", "write"),
                ("GAIT_BROKER_TOKEN_VAULT_TARGET_BINDING", &right),
                ("GAIT_BROKER_TOKEN_VAULT_RUN_BINDING", "run-1"),
            ])
            .is_empty()
        );
        assert_eq!(
            issue(&[("GAIT_BROKER_TOKEN_VAULT_SCOPE", "read")]),
            ["broker_scope_mismatch"]
        );
        assert_eq!(
            issue(&[("GAIT_BROKER_TOKEN_VAULT_TARGET_BINDING", "x")]),
            ["broker_target_binding_mismatch"]
        );
        assert_eq!(
            issue(&[("GAIT_BROKER_TOKEN_VAULT_RUN_BINDING", "run-2")]),
            ["broker_run_binding_mismatch"]
        );
        assert_eq!(
            issue(&[("GAIT_BROKER_TOKEN_VAULT_JOB_BINDING", "job-1")]),
            ["broker_job_binding_mismatch"]
        );
    }

    #[test]
    fn the_tool_name_names_the_variable_without_a_reference() {
        let broker = EnvBroker::new("P_");
        assert_eq!(broker.key(&request("")), "P_TOOL_WRITE");
        assert_eq!(broker.key(&request(" a.b-c ")), "P_A_B_C");
    }

    #[test]
    fn missing_or_malformed_variables_fail_without_values() {
        let broker = EnvBroker::new(DEFAULT_ENV_PREFIX);
        let empty = EnvSnapshot::default();
        let e = broker
            .issue(&request("x"), &caps(&empty, &NoSpawn))
            .unwrap_err();
        assert_eq!(e.reason_code, "broker_credential_missing");
        assert!(e.message.contains("GAIT_BROKER_TOKEN_X"));
        let bad = EnvSnapshot::new([
            ("GAIT_BROKER_TOKEN_X".to_string(), SECRET.to_string()),
            (
                "GAIT_BROKER_TOKEN_X_TTL_SECONDS".to_string(),
                SECRET.to_string(),
            ),
        ]);
        let e = broker
            .issue(&request("x"), &caps(&bad, &NoSpawn))
            .unwrap_err();
        assert!(!e.message.contains(SECRET), "{}", e.message);
    }
}
