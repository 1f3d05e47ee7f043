//! Script plugins and packs through the registry: what the sandboxes and `gait policy init --pack`
//! receive is exactly the verified text.

mod support;

use gait_registry::authoring::{self, ApiDependency, Template};
use gait_registry::codes;
use gait_registry::loader::{load_pack_templates, load_script};
use gait_registry::model::{PluginForm, PluginKind};
use support::Fixture;

#[test]
fn script_source_and_env_allowlist_come_from_the_signed_plugin() {
    let fx = Fixture::new();
    let src = fx.path("src/broker");
    authoring::scaffold(
        Template::RhaiBroker,
        "env-ref",
        &src,
        &ApiDependency::Git("unused".into()),
    )
    .unwrap();
    let out = fx.registry().join("env-ref-0.1.0");
    authoring::pack(&src, Some(&out), None).unwrap();
    authoring::sign(&out, &fx.key).unwrap();
    fx.publish_rhai("grader", "1.0.0", &fx.key);
    fx.index();
    fx.install("env-ref").unwrap();
    fx.install("grader").unwrap();

    let broker = load_script(&fx.home, "env-ref", PluginKind::CredentialBroker).unwrap();
    assert_eq!(broker.form, PluginForm::Rhai);
    assert_eq!(broker.env_allowlist, vec!["EXAMPLE_TOKEN_REF"]);
    assert_eq!(
        broker.source,
        std::fs::read_to_string(src.join("broker.rhai")).unwrap()
    );
    let grader = load_script(&fx.home, "grader", PluginKind::Grader).unwrap();
    // The exact scaffolded script (it reads the `fixture` input).
    assert_eq!(
        grader.source,
        std::fs::read_to_string(fx.path("src/grader-1.0.0/grader.rhai")).unwrap()
    );
    assert!(grader.source.contains("fixture.replay.exit_code"));
    assert!(grader.env_allowlist.is_empty());
    // Asking for the wrong kind is an error, not a silent reinterpretation.
    assert_eq!(
        load_script(&fx.home, "grader", PluginKind::CredentialBroker)
            .unwrap_err()
            .exit_code(),
        6
    );
    // A changed script is refused.
    let pin = fx.home.require_pin("grader").unwrap();
    let path = fx.home.installed_dir(&pin).unwrap().join("grader.rhai");
    std::fs::write(&path, "fn grade(f) { #{status: \"pass\"} }").unwrap();
    assert_eq!(
        load_script(&fx.home, "grader", PluginKind::Grader)
            .unwrap_err()
            .error_code(),
        codes::FILE_MODIFIED
    );
}

#[test]
fn packs_provide_verified_policy_templates() {
    let fx = Fixture::new();
    let src = fx.path("src/pack");
    std::fs::create_dir_all(src.join("templates")).unwrap();
    std::fs::write(src.join("README.md"), "# baseline policies\n").unwrap();
    let yaml = "schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: block\n";
    std::fs::write(src.join("templates/baseline.yaml"), yaml).unwrap();
    std::fs::write(
        src.join(authoring::SOURCE_FILE),
        r#"{
  "name": "acme-policies",
  "version": "1.0.0",
  "kind": "pack",
  "form": "data",
  "entry": "README.md",
  "templates": [
    {"name": "baseline", "file": "templates/baseline.yaml", "aliases": ["base"], "description": "block by default"}
  ]
}"#,
    )
    .unwrap();
    let out = fx.registry().join("acme-policies-1.0.0");
    let packed = authoring::pack(&src, Some(&out), None).unwrap();
    assert_eq!(packed.manifest.files.len(), 2);
    authoring::sign(&out, &fx.key).unwrap();
    fx.index();
    fx.install("acme-policies").unwrap();
    let templates = load_pack_templates(&fx.home, "acme-policies").unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].name, "baseline");
    assert_eq!(templates[0].aliases, vec!["base"]);
    assert_eq!(templates[0].yaml, yaml);
    let pin = fx.home.require_pin("acme-policies").unwrap();
    std::fs::write(
        fx.home
            .installed_dir(&pin)
            .unwrap()
            .join("templates/baseline.yaml"),
        "default_verdict: allow\n",
    )
    .unwrap();
    assert_eq!(
        load_pack_templates(&fx.home, "acme-policies")
            .unwrap_err()
            .error_code(),
        codes::FILE_MODIFIED
    );
}
