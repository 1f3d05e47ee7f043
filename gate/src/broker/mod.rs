//! Credential brokers (CONTRACTS §2.7): when an allowed call's rule requires a broker credential,
//! the gate asks a broker for a credential *reference* (never a secret) bound to the request.
//!
//! This is the seam the gate-depth issue plugs the `env` and `command` brokers into; `stub` is
//! deterministic and needs nothing.

use gait_engine::{GoTime, canon};
use serde::Serialize;

/// What the gate asks for; its JCS digest is the `request_digest` (FIELDS §2.7: Go field names,
/// empty strings written, `Scope` always an array).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialRequest {
    pub tool_name: String,
    pub identity: String,
    pub workspace: String,
    #[serde(rename = "SessionID")]
    pub session_id: String,
    #[serde(rename = "RequestID")]
    pub request_id: String,
    #[serde(rename = "RunID")]
    pub run_id: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub reference: String,
    pub scope: Vec<String>,
    pub target_binding: String,
}

impl CredentialRequest {
    pub fn digest(&self) -> String {
        canon::digest_of(self).unwrap_or_default()
    }
}

/// A credential reference issued by a broker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssuedCredential {
    pub issued_by: String,
    pub credential_ref: String,
    pub source: String,
    pub access_type: String,
    pub issuer: String,
    pub subject: String,
    pub owner: String,
    pub target_binding: String,
    pub run_binding: String,
    pub job_binding: String,
    pub issued_at: Option<GoTime>,
    pub expires_at: Option<GoTime>,
    pub ttl_seconds: i64,
}

/// A credential broker. Implementations must never return secret values.
pub trait CredentialBroker {
    /// The broker's name as flags and records spell it (`stub`, `env`, `command`).
    fn name(&self) -> &str;
    fn issue(&self, request: &CredentialRequest) -> Result<IssuedCredential, String>;
}

/// The deterministic stub broker: `stub:<hex24>` derived from the request.
pub struct StubBroker;

impl CredentialBroker for StubBroker {
    fn name(&self) -> &str {
        "stub"
    }

    fn issue(&self, r: &CredentialRequest) -> Result<IssuedCredential, String> {
        let seed = [
            r.tool_name.as_str(),
            &r.identity,
            &r.workspace,
            &r.session_id,
            &r.request_id,
            &r.reference,
            &r.scope.join(","),
        ]
        .join("|");
        Ok(IssuedCredential {
            issued_by: "stub".into(),
            credential_ref: format!("stub:{}", &canon::sha256_hex(seed.as_bytes())[..24]),
            source: "stub".into(),
            access_type: "jit".into(),
            issuer: "stub".into(),
            ttl_seconds: 300,
            ..IssuedCredential::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_reference_and_request_digest_match_the_reference() {
        // gate.jsonl `rule-broker-stub`.
        let req = CredentialRequest {
            tool_name: "tool.write".into(),
            identity: "agent.vec".into(),
            workspace: "/srv/vec".into(),
            reference: "vec-ref".into(),
            scope: vec!["write".into()],
            target_binding: "64c3447c649a710c8ea812d6b1434b08ee5261c010bbf2740f20890395e4282a"
                .into(),
            ..CredentialRequest::default()
        };
        assert_eq!(
            req.digest(),
            "734d3ee35447ff566190c01467b8fafe349477cf18c7fed2c4071d8b965ae558"
        );
        assert_eq!(
            StubBroker.issue(&req).unwrap().credential_ref,
            "stub:c1b78c375c6a2bff5f589914"
        );
    }
}
