//! Credential brokers (CONTRACTS §2.7): when an allowed call's rule requires a broker credential,
//! the gate asks a broker for a credential *reference* (never a secret) bound to the request, checks
//! the broker's receipt against the request and the deciding rules ([`receipt`]), and records it as
//! credential evidence.
//!
//! A broker sees only what the host lends it ([`BrokerCapabilities`]): a snapshot of the environment
//! variables it may read and a process spawner (own process group, timeout, output cap). The
//! builtins are [`StubBroker`] (deterministic, needs nothing), [`EnvBroker`]
//! (`GAIT_BROKER_TOKEN_<REF>` and its companion variables) and [`CommandBroker`] (an allowlisted
//! executable that prints a JSON receipt). A broker error message never contains a credential value
//! or the broker's output: it is safe to show.

mod command;
mod env;
pub mod receipt;

pub use command::{CommandBroker, DEFAULT_OUTPUT_CAP, DEFAULT_TIMEOUT};
pub use env::{DEFAULT_ENV_PREFIX, EnvBroker};

use gait_engine::procx::ProcessSpawner;
use gait_engine::{GoTime, canon};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

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

/// A credential reference issued by a broker, with the receipt claims it made about it. Receipt
/// claims left empty were not made (and are not checked).
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
    /// Receipt: the digest of the request the broker answered.
    pub request_digest: String,
    /// Receipt: the scopes the credential carries.
    pub scope: Vec<String>,
    /// Receipt: the reference the broker resolved.
    pub reference: String,
}

/// Environment variables a broker may read, chosen by the host (the CLI).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvSnapshot(BTreeMap<String, String>);

impl EnvSnapshot {
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        EnvSnapshot(vars.into_iter().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// What the host lends a broker for one call. Brokers get nothing else.
pub struct BrokerCapabilities<'a> {
    pub env: &'a EnvSnapshot,
    pub spawner: &'a dyn ProcessSpawner,
    /// The working directory for broker processes.
    pub cwd: &'a Path,
}

/// A broker failure: a stable reason code and a message that is safe to show (no credential values,
/// no broker output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerError {
    pub reason_code: &'static str,
    pub message: String,
}

impl BrokerError {
    pub fn missing(message: impl Into<String>) -> Self {
        BrokerError {
            reason_code: "broker_credential_missing",
            message: message.into(),
        }
    }
}

impl std::fmt::Display for BrokerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A broker the caller supplies besides the builtins (the plugin host's script brokers), chosen
/// when `--credential-broker` names it.
#[derive(Clone, Default)]
pub struct BrokerHandle(Option<std::sync::Arc<dyn CredentialBroker>>);

impl BrokerHandle {
    pub fn new(broker: std::sync::Arc<dyn CredentialBroker>) -> Self {
        BrokerHandle(Some(broker))
    }

    /// The supplied broker, when it is the one named `name`.
    pub fn named(&self, name: &str) -> Option<std::sync::Arc<dyn CredentialBroker>> {
        self.0.as_ref().filter(|b| b.name() == name).cloned()
    }
}

impl std::fmt::Debug for BrokerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(b) => write!(f, "BrokerHandle({})", b.name()),
            None => f.write_str("BrokerHandle(none)"),
        }
    }
}

/// A shared broker behind a box.
struct Shared(std::sync::Arc<dyn CredentialBroker>);

impl CredentialBroker for Shared {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn issue(
        &self,
        request: &CredentialRequest,
        caps: &BrokerCapabilities<'_>,
    ) -> Result<IssuedCredential, BrokerError> {
        self.0.issue(request, caps)
    }
}

impl BrokerHandle {
    /// The supplied broker named `name`, boxed like the builtins.
    pub fn boxed(&self, name: &str) -> Option<Box<dyn CredentialBroker>> {
        self.named(name)
            .map(|b| Box::new(Shared(b)) as Box<dyn CredentialBroker>)
    }
}

/// A credential broker. Implementations must never return or report secret values.
pub trait CredentialBroker: Send + Sync {
    /// The broker's name as flags and records spell it (`stub`, `env`, `command`).
    fn name(&self) -> &str;
    fn issue(
        &self,
        request: &CredentialRequest,
        caps: &BrokerCapabilities<'_>,
    ) -> Result<IssuedCredential, BrokerError>;
}

/// The deterministic stub broker: `stub:<hex24>` derived from the request.
pub struct StubBroker;

impl CredentialBroker for StubBroker {
    fn name(&self) -> &str {
        "stub"
    }

    fn issue(
        &self,
        r: &CredentialRequest,
        _caps: &BrokerCapabilities<'_>,
    ) -> Result<IssuedCredential, BrokerError> {
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

/// The reference's check of a broker-issued reference: non-empty, at most 256 bytes, no whitespace.
pub fn check_credential_ref(r: &str) -> Result<(), BrokerError> {
    if r.is_empty() {
        return Err(BrokerError::missing("broker returned no credential_ref"));
    }
    if r.len() > 256 {
        return Err(BrokerError::missing(
            "broker credential_ref exceeds 256 bytes",
        ));
    }
    if r.chars().any(char::is_whitespace) {
        return Err(BrokerError::missing(
            "broker credential_ref must not contain whitespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gait_engine::procx::{SpawnOutcome, SpawnRequest};

    /// A spawner for brokers that must not spawn anything.
    pub struct NoSpawn;

    impl ProcessSpawner for NoSpawn {
        fn run(&self, _req: &SpawnRequest<'_>) -> std::io::Result<SpawnOutcome> {
            Err(std::io::Error::other("spawning is not allowed here"))
        }
    }

    pub fn caps<'a>(
        env: &'a EnvSnapshot,
        spawner: &'a dyn ProcessSpawner,
    ) -> BrokerCapabilities<'a> {
        BrokerCapabilities {
            env,
            spawner,
            cwd: Path::new("."),
        }
    }

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
        let env = EnvSnapshot::default();
        assert_eq!(
            StubBroker
                .issue(&req, &caps(&env, &NoSpawn))
                .unwrap()
                .credential_ref,
            "stub:c1b78c375c6a2bff5f589914"
        );
    }

    #[test]
    fn credential_refs_are_bounded_and_whitespace_free() {
        assert!(check_credential_ref("cmd:abc").is_ok());
        assert!(check_credential_ref("").is_err());
        assert!(check_credential_ref("a b").is_err());
        assert!(check_credential_ref(&"x".repeat(257)).is_err());
        assert!(check_credential_ref(&"x".repeat(256)).is_ok());
    }
}
