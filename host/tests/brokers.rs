//! Rhai credential brokers through the host: the script sees only the variables its manifest
//! declares, returns a reference, and nothing it reads leaks through gait's messages.

mod support;

use gait_engine::procx::{ProcessSpawner, SpawnOutcome, SpawnRequest};
use gait_gate::broker::{BrokerCapabilities, CredentialBroker, CredentialRequest, EnvSnapshot};
use gait_registry::authoring::{self, ApiDependency, Template};
use std::path::Path;
use support::Home;

const SECRET: &str = "s3cr3t-VALUE-do-not-leak";

struct NoSpawn;

impl ProcessSpawner for NoSpawn {
    fn run(&self, _req: &SpawnRequest<'_>) -> std::io::Result<SpawnOutcome> {
        Err(std::io::Error::other("script brokers never spawn"))
    }
}

fn request() -> CredentialRequest {
    CredentialRequest {
        tool_name: "tool.write".into(),
        identity: "agent.vec".into(),
        reference: "vec-ref".into(),
        scope: vec!["write".into()],
        target_binding: "ab".repeat(32),
        ..CredentialRequest::default()
    }
}

/// The environment a gait process might have: the declared variable and an undeclared one.
fn env() -> EnvSnapshot {
    EnvSnapshot::new([
        ("EXAMPLE_TOKEN_REF".to_string(), "vault-path".to_string()),
        ("OTHER_SECRET".to_string(), SECRET.to_string()),
    ])
}

fn issue(
    broker: &dyn CredentialBroker,
    env: &EnvSnapshot,
) -> Result<gait_gate::broker::IssuedCredential, gait_gate::broker::BrokerError> {
    broker.issue(
        &request(),
        &BrokerCapabilities {
            env,
            spawner: &NoSpawn,
            cwd: Path::new("."),
        },
    )
}

#[test]
fn the_scaffolded_broker_issues_a_reference() {
    let home = Home::new();
    home.publish(Template::RhaiBroker, "demo-broker", "0.1.0", None);
    home.install("demo-broker");
    let broker = home.host().broker("demo-broker").unwrap().unwrap();
    assert_eq!(broker.env_names(), ["EXAMPLE_TOKEN_REF"]);
    let cred = issue(&broker, &env()).unwrap();
    assert_eq!(cred.issued_by, "demo-broker");
    assert_eq!(cred.credential_ref, "env:vault-path");
    assert_eq!(
        (
            cred.source.as_str(),
            cred.access_type.as_str(),
            cred.ttl_seconds
        ),
        ("env", "jit", 300)
    );
    assert_eq!(cred.subject, "agent.vec");
    assert_eq!(cred.target_binding, "ab".repeat(32));
    // It binds the target, so it must name the request it answers (gate/src/broker/receipt.rs
    // refuses a binding receipt without request_digest).
    assert_eq!(cred.request_digest, request().digest());
    // Unset: the script refuses; gait reports that it failed, not the script's text.
    let e = issue(&broker, &EnvSnapshot::default()).unwrap_err();
    assert_eq!(e.reason_code, "broker_credential_missing");
    assert_eq!(
        e.message,
        "broker plugin demo-broker: script failed (runtime error)"
    );
}

#[test]
fn a_broker_sees_only_its_declared_variables() {
    let home = Home::new();
    let script = r#"let k = ""; for key in env.keys() { k += key + ","; }
#{ credential_ref: `keys:${k}`, request_digest: request.request_digest }"#;
    home.publish(Template::RhaiBroker, "peek", "0.1.0", Some(script));
    home.install("peek");
    let broker = home.host().broker("peek").unwrap().unwrap();
    let cred = issue(&broker, &env()).unwrap();
    assert_eq!(cred.credential_ref, "keys:EXAMPLE_TOKEN_REF,");
    assert_eq!(cred.request_digest, request().digest());
}

#[test]
fn secrets_never_reach_messages() {
    // The broker may read the secret (declared); it prints it, throws it, returns it under an
    // unknown key, returns a malformed result, or runs into a limit with it.
    let env = EnvSnapshot::new([("EXAMPLE_TOKEN_REF".to_string(), SECRET.to_string())]);
    for (i, script) in [
        r#"print(env.EXAMPLE_TOKEN_REF); throw `bad token ${env.EXAMPLE_TOKEN_REF}`;"#,
        r#"#{ credential_ref: "x", secret: env.EXAMPLE_TOKEN_REF }"#,
        r#"#{ credential_ref: 5 }"#,
        r#"let s = env.EXAMPLE_TOKEN_REF; loop { s += s; }"#,
        // Transformed secrets: no literal replacement of the value finds these.
        r#"throw `token tail ${env.EXAMPLE_TOKEN_REF.sub_string(1)}`;"#,
        r#"let s = env.EXAMPLE_TOKEN_REF; throw s.to_upper();"#,
        r#"let s = env.EXAMPLE_TOKEN_REF; let r = ""; for c in s.chars() { r = c.to_string() + r; } throw r;"#,
    ]
    .iter()
    .enumerate()
    {
        let home = Home::new();
        let name = format!("leaky{i}");
        home.publish(Template::RhaiBroker, &name, "0.1.0", Some(script));
        home.install(&name);
        let broker = home.host().broker(&name).unwrap().unwrap();
        let e = issue(&broker, &env).unwrap_err();
        assert_eq!(e.reason_code, "broker_credential_missing", "{script}");
        let upper = SECRET.to_uppercase();
        let reversed: String = SECRET.chars().rev().collect();
        for leak in [SECRET, &SECRET[1..], &upper, &reversed] {
            assert!(!e.message.contains(leak), "{script}: {}", e.message);
        }
        assert!(
            e.message.starts_with(&format!("broker plugin {name}: ")),
            "{}",
            e.message
        );
    }
}

#[test]
fn builtin_names_stay_builtin_unless_replaced_and_off_is_never_a_plugin() {
    let home = Home::new();
    // Not installed: the gate's builtins (or its own error) decide.
    assert!(home.host().broker("stub").unwrap().is_none());
    assert!(home.host().broker("vault").unwrap().is_none());
    // An installed `stub` broker at 0.9.0 does not replace the builtin 1.0.0; at 1.1.0 it does.
    home.publish(Template::RhaiBroker, "stub", "0.9.0", None);
    home.install("stub");
    assert!(home.host().broker("stub").unwrap().is_none());
    home.publish(Template::RhaiBroker, "stub", "1.1.0", None);
    home.install("stub@1.1.0");
    assert_eq!(
        home.host().broker("stub").unwrap().unwrap().version(),
        "1.1.0"
    );
    // `off` cannot be taken by a plugin: not scaffolded, not installed, never resolved.
    let e = authoring::scaffold(
        Template::RhaiBroker,
        "off",
        &home.path("src/off"),
        &ApiDependency::Git("unused".into()),
    )
    .unwrap_err();
    assert!(e.message.contains("reserved"), "{}", e.message);
    assert!(gait_registry::resolve::parse_wanted("off").is_err());
    assert!(home.host().broker("off").unwrap().is_none());
}

#[test]
fn a_revoked_broker_is_refused_at_load() {
    let home = Home::new();
    home.publish(Template::RhaiBroker, "demo-broker", "0.1.0", None);
    home.install("demo-broker");
    home.revoke();
    let e = match home.host().broker("demo-broker") {
        Err(e) => e,
        Ok(_) => panic!("a revoked broker loaded"),
    };
    assert_eq!(e.error_code(), "plugin_key_revoked");
}
