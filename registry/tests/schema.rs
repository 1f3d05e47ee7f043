//! The JSON Schemas under schemas/v1/plugin/ agree with the decoder: what gait writes validates,
//! and documents the schema rejects are rejected by gait too.

mod support;

use gait_registry::lockfile::Lockfile;
use serde_json::{Value, json};
use support::Fixture;

fn schema(name: &str) -> Value {
    let path = support::repo_root().join("schemas/v1/plugin").join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Resolves the schemas' relative references between each other, nothing else (no network).
struct Local;

impl jsonschema::Retrieve for Local {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        match name.as_str() {
            "manifest.schema.json" | "index.schema.json" | "lock.schema.json" => Ok(schema(&name)),
            _ => Err(format!("unknown schema {}", uri.as_str()).into()),
        }
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::options()
        .with_retriever(Local)
        .build(&schema(name))
        .unwrap()
}

#[test]
fn written_artifacts_validate() {
    let fx = Fixture::new();
    let packed = fx.publish_rhai("max-intents", "1.0.0", &fx.key);
    let idx = fx.index();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(packed.dir.join("manifest.json")).unwrap()).unwrap();
    let m = validator("manifest.schema.json");
    assert!(
        m.is_valid(&manifest),
        "{:?}",
        m.iter_errors(&manifest)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    let index: Value = serde_json::to_value(&idx).unwrap();
    let i = validator("index.schema.json");
    assert!(
        i.is_valid(&index),
        "{:?}",
        i.iter_errors(&index)
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    );
    let got = fx.install("max-intents").unwrap();
    let mut lock = Lockfile::default();
    lock.upsert(got.lock_entry());
    let l = validator("lock.schema.json");
    assert!(l.is_valid(&serde_json::to_value(&lock).unwrap()));
}

#[test]
fn schema_and_decoder_reject_the_same_bad_manifests() {
    let fx = Fixture::new();
    let packed = fx.publish_rhai("max-intents", "1.0.0", &fx.key);
    let good: Value =
        serde_json::from_slice(&std::fs::read(packed.dir.join("manifest.json")).unwrap()).unwrap();
    let m = validator("manifest.schema.json");
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("unknown field", Box::new(|v| v["extra"] = json!(1))),
        ("bad name", Box::new(|v| v["name"] = json!("Max Intents"))),
        ("bad version", Box::new(|v| v["version"] = json!("1.0"))),
        ("leading zero", Box::new(|v| v["version"] = json!("01.0.0"))),
        ("bad kind", Box::new(|v| v["kind"] = json!("adapter"))),
        ("bad form", Box::new(|v| v["form"] = json!("python"))),
        (
            "traversal",
            Box::new(|v| v["files"][0]["path"] = json!("../x")),
        ),
        (
            "dot segment",
            Box::new(|v| v["files"][0]["path"] = json!("a/./x")),
        ),
        (
            "absolute",
            Box::new(|v| v["files"][0]["path"] = json!("/x")),
        ),
        (
            "upper hex",
            Box::new(|v| v["files"][0]["sha256"] = json!("A".repeat(64))),
        ),
        ("no files", Box::new(|v| v["files"] = json!([]))),
        (
            "manifest.json file",
            Box::new(|v| v["files"][0]["path"] = json!("manifest.json")),
        ),
        (
            "missing entry",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("entry");
            }),
        ),
        ("bad env name", Box::new(|v| v["env"] = json!(["lower"]))),
        (
            "bad command",
            Box::new(|v| v["commands"] = json!([{"words": "Two  Spaces"}])),
        ),
    ];
    for (what, edit) in cases {
        let mut bad = good.clone();
        edit(&mut bad);
        assert!(!m.is_valid(&bad), "schema accepted: {what}");
        assert!(
            gait_registry::manifest::decode(&serde_json::to_vec(&bad).unwrap()).is_err(),
            "decoder accepted: {what}"
        );
    }
}
