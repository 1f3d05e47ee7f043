//! Installed plugins in use, through the binary: builtins listed and replaced by a newer install,
//! a Rhai predicate deciding `gait gate eval` / `gait policy test`, pack templates for
//! `gait policy init --pack`, and a Rhai credential broker. Each refusal at use (changed file,
//! revoked or removed key, not installed) is a clear error with nothing loaded or written.
//!
//! Expectations: docs/plugins.md and gate/src/predicate.rs (a predicate's identity joins the policy
//! digest only when a rule names one; a failing predicate blocks its rule), CONTRACTS §1.2 exit codes
//! (3 block, 2 verification, 6 invalid input).

use crate::plugins::{
    demo_fixture, grader, index, installed, json, listed, ok, publisher, refused, regress,
    use_graders,
};
use crate::support::Sandbox;
use serde_json::{Value, json};

/// Scaffolds `template` as `name`@`version`, replaces its entry script with `script` (when given),
/// packs and signs it into `reg/`.
fn publish_script(
    sb: &Sandbox,
    template: &str,
    name: &str,
    version: &str,
    key: &str,
    script: Option<&str>,
) -> Value {
    let src = format!("src/{name}-{version}");
    ok(
        sb,
        &["plugin", "new", name, "--template", template, "--out", &src],
    );
    let path = sb.join(&format!("{src}/gait-plugin.json"));
    let mut source: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    source["version"] = version.into();
    let entry = source["entry"].as_str().unwrap().to_string();
    std::fs::write(&path, serde_json::to_vec_pretty(&source).unwrap()).unwrap();
    if let Some(text) = script {
        sb.write(&format!("{src}/{entry}"), text);
    }
    let out = format!("reg/{name}-{version}");
    let packed = ok(sb, &["plugin", "pack", &src, "--out", &out]);
    ok(sb, &["plugin", "sign", &out, "--private-key", key]);
    packed
}

/// A trusted publisher `acme`; returns (private key path, public key path, key id).
fn trusted_publisher(sb: &Sandbox) -> (String, String, String) {
    let (private, public) = publisher(sb, "acme");
    let added = ok(sb, &["plugin", "trust", "add", &public, "--name", "acme"]);
    let id = added["key"]["key_id"].as_str().unwrap().to_string();
    (private, public, id)
}

fn install(sb: &Sandbox, key: &str, spec: &str) -> Value {
    index(sb, key);
    ok(sb, &["plugin", "install", spec, "--registry", "reg"])
}

#[test]
fn builtins_are_listed_and_a_newer_install_replaces_one() {
    let sb = Sandbox::new();
    let rows = ok(&sb, &["plugin", "list"])["plugins"].clone();
    let builtins: Vec<(&str, &str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(
                (&r["form"], &r["origin"], &r["version"], &r["active"]),
                (
                    &json!("builtin"),
                    &json!("builtin"),
                    &json!("1.0.0"),
                    &json!(true)
                ),
                "{r}"
            );
            assert!(r.get("pin").is_none(), "{r}");
            (
                r["name"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
                r["summary"].as_str().unwrap(),
            )
        })
        .map(|(n, k, s)| {
            assert!(!s.is_empty(), "{n} has no summary");
            (n, k, "")
        })
        .collect();
    assert_eq!(
        builtins,
        [
            ("baseline", "pack", ""),
            ("command", "credential_broker", ""),
            ("context_conformance", "grader", ""),
            ("diff", "grader", ""),
            ("env", "credential_broker", ""),
            ("expected_exit_code", "grader", ""),
            ("schema_validation", "grader", ""),
            ("stub", "credential_broker", ""),
            ("trajectory", "grader", ""),
        ]
    );

    // An installed `trajectory` grader at 1.1.0 replaces the builtin 1.0.0 in listings and runs.
    let (key, _, _) = trusted_publisher(&sb);
    let always_fail = "#{ pass: false, reason_codes: [\"replaced_trajectory\"] }";
    publish_script(
        &sb,
        "rhai-grader",
        "trajectory",
        "1.1.0",
        &key,
        Some(always_fail),
    );
    install(&sb, &key, "trajectory");
    let rows = listed(&sb, "trajectory");
    assert_eq!(
        rows.iter()
            .map(|r| (r["form"].as_str().unwrap(), r["active"].as_bool().unwrap()))
            .collect::<Vec<_>>(),
        [("builtin", false), ("rhai", true)]
    );
    demo_fixture(&sb);
    let (code, result) = regress(&sb);
    assert_eq!(code, 5, "{result}");
    let t = grader(&result, "run_demo/trajectory");
    assert_eq!(t["reason_codes"], json!(["replaced_trajectory"]));
    assert_eq!(t["details"]["plugin_version"], "1.1.0");

    // An older installed version does not replace it.
    publish_script(
        &sb,
        "rhai-grader",
        "trajectory",
        "0.9.0",
        &key,
        Some(always_fail),
    );
    install(&sb, &key, "trajectory@=0.9.0");
    let rows = listed(&sb, "trajectory");
    assert_eq!(
        rows.iter()
            .map(|r| (
                r["version"].as_str().unwrap(),
                r["active"].as_bool().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("1.0.0", true), ("0.9.0", false)]
    );
    let (code, result) = regress(&sb);
    assert_eq!(code, 0, "{result}");
    let t = grader(&result, "run_demo/trajectory");
    assert_eq!(t["reason_codes"], json!(["trajectory_not_required"]));
    assert!(t["details"].get("plugin").is_none(), "{t}");
}

const POLICY: &str = "default_verdict: allow\nrules:\n  - name: block-big-payments\n    effect: block\n    match:\n      tool_names: [tool.pay]\n      predicate: big-amount\n    reason_codes: [payment_too_large]\n    violations: [payment_limit]\n";

fn payment(amount: u64) -> String {
    format!(
        r#"{{"tool_name":"tool.pay","args":{{"amount":{amount},"to":"acct-1"}},"targets":[{{"kind":"host","value":"bank.example","operation":"write","endpoint_class":"net.http"}}],"context":{{"identity":"agent.pay","workspace":"/srv/pay","risk_class":"high"}}}}"#
    )
}

fn gate_eval(sb: &Sandbox, intent: &str, trace: &str) -> (i32, Value) {
    json(
        sb,
        &[
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            intent,
            "--trace-out",
            trace,
        ],
    )
}

#[test]
fn predicate_plugin_decides_gate_eval_policy_test_and_validate() {
    let sb = Sandbox::new();
    let (key, public, key_id) = trusted_publisher(&sb);
    let packed = publish_script(&sb, "rhai-predicate", "big-amount", "0.1.0", &key, None);
    assert_eq!(packed["kind"], "predicate");
    sb.write("policy.yaml", POLICY);
    sb.write(
        "plain.yaml",
        POLICY.replace("      predicate: big-amount\n", ""),
    );
    sb.write("big.json", payment(5000));
    sb.write("small.json", payment(10));

    // Not installed yet: every policy command refuses the policy, nothing is evaluated.
    let v = refused(
        &sb,
        &["policy", "validate", "policy.yaml"],
        6,
        "plugin_not_installed",
    );
    assert!(v["error"].as_str().unwrap().contains("big-amount"), "{v}");
    refused(
        &sb,
        &[
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            "big.json",
            "--trace-out",
            "t0.json",
        ],
        6,
        "plugin_not_installed",
    );
    assert!(!sb.join("t0.json").exists());

    install(&sb, &key, "big-amount");
    assert_eq!(listed(&sb, "big-amount")[0]["kind"], "predicate");
    let bound = ok(&sb, &["policy", "validate", "policy.yaml"]);
    let plain = ok(&sb, &["policy", "validate", "plain.yaml"]);
    assert_ne!(bound["policy_digest"], plain["policy_digest"]);

    // policy test: pure evaluation.
    let (code, t) = json(&sb, &["policy", "test", "policy.yaml", "big.json"]);
    assert_eq!((code, &t["verdict"]), (3, &json!("block")), "{t}");
    assert_eq!(t["reason_codes"], json!(["payment_too_large"]));
    assert_eq!(t["policy_digest"], bound["policy_digest"]);
    let (code, t) = json(&sb, &["policy", "test", "policy.yaml", "small.json"]);
    assert_eq!((code, &t["verdict"]), (0, &json!("allow")), "{t}");

    // gate eval: the decision and its signed trace carry the bound digest.
    let (code, out) = gate_eval(&sb, "big.json", "t1.json");
    assert_eq!((code, &out["verdict"]), (3, &json!("block")), "{out}");
    assert_eq!(out["matched_rule"], "block-big-payments");
    assert_eq!(out["policy_digest"], bound["policy_digest"]);
    let trace: Value = serde_json::from_slice(&sb.read("t1.json")).unwrap();
    assert_eq!(trace["policy_digest"], bound["policy_digest"]);
    let (code, out) = gate_eval(&sb, "small.json", "t2.json");
    assert_eq!((code, &out["verdict"]), (0, &json!("allow")), "{out}");
    // Again, now through the compiled-policy cache: same answers.
    let (code, out) = gate_eval(&sb, "big.json", "t3.json");
    assert_eq!((code, &out["policy_digest"]), (3, &bound["policy_digest"]));

    // approve-script binds the same digest (its approvals are checked against gate eval's).
    sb.write(
        "script.json",
        r#"{"tool_name":"script","args":{},"script":{"steps":[{"tool_name":"tool.pay","args":{"amount":5},"targets":[{"kind":"host","value":"bank.example","operation":"write","endpoint_class":"net.http"}]}]},"context":{"identity":"agent.pay","workspace":"/srv/pay","risk_class":"high"}}"#,
    );
    let a = ok(
        &sb,
        &[
            "approve-script",
            "--policy",
            "policy.yaml",
            "--intent",
            "script.json",
            "--registry",
            "approved.json",
            "--approver",
            "alice",
        ],
    );
    assert_eq!(a["policy_digest"], bound["policy_digest"]);
    ok(&sb, &["plugin", "verify", "big-amount"]);

    // fmt keeps the predicate and the digest.
    let f = ok(&sb, &["policy", "fmt", "policy.yaml"]);
    assert!(
        f["formatted"]
            .as_str()
            .unwrap()
            .contains("predicate: \"big-amount\"")
    );
    assert_eq!(f["policy_digest"], bound["policy_digest"]);

    // Revoked: refused with a clear error, no trace written — also past the cached policy.
    ok(
        &sb,
        &["plugin", "trust", "revoke", &key_id, "--reason", "leaked"],
    );
    let v = refused(
        &sb,
        &[
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            "small.json",
            "--trace-out",
            "t4.json",
        ],
        2,
        "plugin_key_revoked",
    );
    assert!(v["error"].as_str().unwrap().contains("revoked"), "{v}");
    assert!(!sb.join("t4.json").exists());
    refused(
        &sb,
        &["policy", "test", "policy.yaml", "small.json"],
        2,
        "plugin_key_revoked",
    );
    // Removed key: unknown signer.
    ok(&sb, &["plugin", "trust", "remove", &key_id]);
    refused(
        &sb,
        &["policy", "validate", "policy.yaml"],
        2,
        "plugin_key_untrusted",
    );
    // A policy without predicates never needs the plugin.
    ok(&sb, &["policy", "validate", "plain.yaml"]);
    ok(&sb, &["plugin", "trust", "add", &public]).to_string();
    // (re-adding a removed key is allowed; the plugin verifies again)
    ok(&sb, &["policy", "validate", "policy.yaml"]);

    // Changed after install: refused.
    let pin: Value =
        serde_json::from_slice(&sb.read("home/.gait/plugins/pins/big-amount.json")).unwrap();
    let file = format!(
        "home/.gait/plugins/{}/predicate.rhai",
        pin["dir"].as_str().unwrap()
    );
    let original = sb.read(&file);
    sb.write(&file, "true");
    refused(
        &sb,
        &[
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            "small.json",
            "--trace-out",
            "t5.json",
        ],
        2,
        "plugin_file_modified",
    );
    assert!(!sb.join("t5.json").exists());
    sb.write(&file, original);

    ok(&sb, &["plugin", "remove", "big-amount"]);
    assert!(installed(&sb).is_empty());
    refused(
        &sb,
        &["policy", "test", "policy.yaml", "big.json"],
        6,
        "plugin_not_installed",
    );
}

#[test]
fn a_failing_predicate_blocks_even_an_allow_rule() {
    let sb = Sandbox::new();
    let (key, _, _) = trusted_publisher(&sb);
    publish_script(
        &sb,
        "rhai-predicate",
        "broken",
        "1.0.0",
        &key,
        Some("throw \"no\";"),
    );
    install(&sb, &key, "broken");
    sb.write(
        "policy.yaml",
        "default_verdict: allow\nrules:\n  - name: allow-pay\n    effect: allow\n    match:\n      tool_names: [tool.pay]\n      predicate: broken\n",
    );
    sb.write("big.json", payment(5000));
    let (code, out) = gate_eval(&sb, "big.json", "t.json");
    assert_eq!((code, &out["verdict"]), (3, &json!("block")), "{out}");
    assert_eq!(out["reason_codes"], json!(["predicate_error"]));
    assert_eq!(out["violations"], json!(["predicate_failed"]));
    // The warning says why (the script's own error), on stdout JSON only; stderr stays empty.
    // (The other warning is the dev-mode signing key's.)
    let why = "predicate broken: line 1, column 1: script error: no";
    assert!(
        out["warnings"].as_array().unwrap().contains(&json!(why)),
        "{out}"
    );
    let (code, t) = json(&sb, &["policy", "test", "policy.yaml", "big.json"]);
    assert_eq!(
        (code, &t["reason_codes"]),
        (3, &json!(["predicate_error"])),
        "{t}"
    );
    assert_eq!(t["warnings"], json!([why]));
    // In text mode the warning goes to stderr.
    let (code, _, err) = sb.run(&["policy", "test", "policy.yaml", "big.json"]);
    assert_eq!(code, 3);
    assert!(err.starts_with("warning: predicate broken"), "{err}");
    // The decision is traced like any other.
    let trace: Value = serde_json::from_slice(&sb.read("t.json")).unwrap();
    assert_eq!(trace["verdict"], "block", "{trace}");
}

/// A pack's source: two templates and a README entry.
fn write_pack(sb: &Sandbox, version: &str) {
    let src = format!("src/acme-policies-{version}");
    sb.write(
        &format!("{src}/gait-plugin.json"),
        format!(
            r#"{{
  "name": "acme-policies",
  "version": "{version}",
  "kind": "pack",
  "form": "data",
  "entry": "README.md",
  "description": "ACME's policy templates.",
  "templates": [
    {{"name": "strict-writes", "file": "templates/strict.yaml", "aliases": ["strict"], "description": "writes need approval"}},
    {{"name": "open", "file": "templates/open.yaml"}}
  ]
}}
"#
        ),
    );
    sb.write(&format!("{src}/README.md"), "# ACME policies\n");
    sb.write(
        &format!("{src}/templates/strict.yaml"),
        "# ACME: every write needs approval.\ndefault_verdict: allow\nrules:\n  - name: approve-writes\n    effect: require_approval\n    match:\n      tool_names: [tool.write]\n",
    );
    sb.write(
        &format!("{src}/templates/open.yaml"),
        "default_verdict: allow\n",
    );
}

#[test]
fn pack_templates_for_policy_init() {
    let sb = Sandbox::new();
    let (key, _, _) = trusted_publisher(&sb);
    write_pack(&sb, "1.0.0");
    let packed = ok(
        &sb,
        &[
            "plugin",
            "pack",
            "src/acme-policies-1.0.0",
            "--out",
            "reg/acme-policies-1.0.0",
        ],
    );
    assert_eq!(
        (&packed["kind"], &packed["form"]),
        (&json!("pack"), &json!("data"))
    );
    ok(
        &sb,
        &[
            "plugin",
            "sign",
            "reg/acme-policies-1.0.0",
            "--private-key",
            &key,
        ],
    );
    install(&sb, &key, "acme-policies");
    assert_eq!(listed(&sb, "acme-policies")[0]["kind"], "pack");

    // By alias; the written file is exactly the signed template.
    let out = ok(
        &sb,
        &[
            "policy",
            "init",
            "strict",
            "--pack",
            "acme-policies",
            "--out",
            "p.yaml",
        ],
    );
    assert_eq!(
        (&out["template"], &out["pack"], &out["pack_version"]),
        (
            &json!("strict-writes"),
            &json!("acme-policies"),
            &json!("1.0.0")
        )
    );
    assert_eq!(
        sb.read("p.yaml"),
        sb.read("src/acme-policies-1.0.0/templates/strict.yaml")
    );
    let v = ok(&sb, &["policy", "validate", "p.yaml"]);
    assert_eq!(v["policy_digest"], out["policy_digest"]);

    // An unknown template names the pack's templates.
    let (code, v) = json(
        &sb,
        &[
            "policy",
            "init",
            "nope",
            "--pack",
            "acme-policies",
            "--out",
            "n.yaml",
        ],
    );
    assert_eq!(code, 6, "{v}");
    assert!(
        v["hint"].as_str().unwrap().contains("strict-writes, open"),
        "{v}"
    );
    assert!(!sb.join("n.yaml").exists());

    // The builtin pack gives the builtin templates, by the same aliases as plain `policy init`.
    let out = ok(
        &sb,
        &[
            "policy", "init", "low", "--pack", "baseline", "--out", "b.yaml",
        ],
    );
    assert_eq!(
        (&out["template"], &out["pack_version"]),
        (&json!("baseline-lowrisk"), &json!("1.0.0"))
    );
    assert_eq!(
        sb.read("b.yaml"),
        std::fs::read(crate::support::repo_root().join("examples/policy/baseline-lowrisk.yaml"))
            .unwrap()
    );
    // Without --pack: the reference's output, no pack fields.
    let out = ok(&sb, &["policy", "init", "low", "--out", "c.yaml"]);
    assert!(out.get("pack").is_none(), "{out}");

    refused(
        &sb,
        &[
            "policy",
            "init",
            "x",
            "--pack",
            "missing-pack",
            "--out",
            "m.yaml",
        ],
        6,
        "plugin_not_installed",
    );

    // A template changed after install: refused, nothing written.
    let pin: Value =
        serde_json::from_slice(&sb.read("home/.gait/plugins/pins/acme-policies.json")).unwrap();
    let file = format!(
        "home/.gait/plugins/{}/templates/strict.yaml",
        pin["dir"].as_str().unwrap()
    );
    sb.write(&file, "default_verdict: allow\n");
    refused(
        &sb,
        &[
            "policy",
            "init",
            "strict",
            "--pack",
            "acme-policies",
            "--out",
            "q.yaml",
        ],
        2,
        "plugin_file_modified",
    );
    assert!(!sb.join("q.yaml").exists());
}

#[test]
fn a_grader_plugin_in_a_fixture_and_unknown_names() {
    let sb = Sandbox::new();
    let (key, _, _) = trusted_publisher(&sb);
    publish_script(
        &sb,
        "rhai-grader",
        "count-intents",
        "2.0.0",
        &key,
        Some(
            "#{ pass: fixture.intents.len() == 3, reason_codes: [`intents_${fixture.intents.len()}`] }",
        ),
    );
    install(&sb, &key, "count-intents");
    demo_fixture(&sb);
    // Named in the fixture (that fixture only), under its own result name.
    let rel = "fixtures/run_demo/fixture.json";
    let mut spec: Value = serde_json::from_slice(&sb.read(rel)).unwrap();
    spec["graders"] = json!([{"name": "three", "plugin": "count-intents"}]);
    sb.write(rel, serde_json::to_vec_pretty(&spec).unwrap());
    let (code, result) = regress(&sb);
    assert_eq!(code, 0, "{result}");
    let g = grader(&result, "run_demo/three");
    assert_eq!(g["reason_codes"], json!(["intents_3"]));
    assert_eq!(g["details"]["plugin"], "count-intents");

    // A Lua grader plugin, named in gait.yaml (every fixture), beside the fixture's Rhai one.
    sb.write(
        "src/lua-count/gait-plugin.json",
        r#"{"name": "lua-count", "version": "1.0.0", "kind": "grader", "form": "lua", "entry": "grader.lua"}"#,
    );
    sb.write(
        "src/lua-count/grader.lua",
        "return { pass = #fixture.intents == 3, reason_codes = { \"lua_intents_\" .. #fixture.intents } }\n",
    );
    ok(
        &sb,
        &[
            "plugin",
            "pack",
            "src/lua-count",
            "--out",
            "reg/lua-count-1.0.0",
        ],
    );
    ok(
        &sb,
        &[
            "plugin",
            "sign",
            "reg/lua-count-1.0.0",
            "--private-key",
            &key,
        ],
    );
    install(&sb, &key, "lua-count");
    use_graders(&sb, &[json!({"plugin": "lua-count"})]);
    let (code, result) = regress(&sb);
    assert_eq!(code, 0, "{result}");
    let g = grader(&result, "run_demo/lua-count");
    assert_eq!(g["reason_codes"], json!(["lua_intents_3"]));
    assert_eq!(
        (&g["details"]["plugin_form"], &g["details"]["language"]),
        (&json!("lua"), &json!("lua"))
    );
    assert_eq!(grader(&result, "run_demo/three")["status"], "pass");

    // Naming problems are invalid input, reported before anything is graded.
    for (graders, needle) in [
        (json!([{"plugin": "not-installed"}]), "not installed"),
        (
            json!([{"plugin": "count-intents", "script": "x.rhai"}]),
            "both a script and a plugin",
        ),
        (
            json!([{"name": "diff", "plugin": "count-intents"}]),
            "builtin",
        ),
        (
            json!([{"name": "x", "plugin": "trajectory"}]),
            "builtin grader",
        ),
        (
            json!([{"plugin": "count-intents", "language": "lua"}]),
            "language",
        ),
    ] {
        std::fs::remove_file(sb.join("regress_result.json")).ok();
        use_graders(&sb, graders.as_array().unwrap());
        let (code, v) = json(&sb, &["regress", "run"]);
        assert_eq!(code, 6, "{graders}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(needle),
            "{graders}: {v}"
        );
        assert!(!sb.join("regress_result.json").exists());
    }
}

const SECRET: &str = "s3cr3t-VALUE-do-not-leak";

/// A broker that reads the secret from its declared variable, prints it, and returns a reference
/// that never contains it.
const VAULT_BROKER: &str = r#"print(env.EXAMPLE_TOKEN_REF);
let t = env.EXAMPLE_TOKEN_REF;
if t == () { throw "EXAMPLE_TOKEN_REF is not set"; }
#{
    credential_ref: `vault:${request.reference}:len${t.len()}`,
    source: "vault",
    access_type: "jit",
    issuer: "vault",
    ttl_seconds: 120,
    request_digest: request.request_digest,
    scope: request.scope
}
"#;

const BROKER_POLICY: &str = "default_verdict: block\nrules:\n  - name: needs-broker\n    effect: allow\n    match:\n      tool_names: [tool.write]\n    require_broker_credential: true\n    broker_reference: vec-ref\n    broker_scopes: [write]\n";
const WRITE_INTENT: &str = r#"{"tool_name":"tool.write","args":{"path":"/srv/vec/out.txt","content":"hello"},"targets":[{"kind":"path","value":"/srv/vec/out.txt","operation":"write"}],"context":{"identity":"agent.vec","workspace":"/srv/vec","risk_class":"medium"}}"#;

/// gait gate eval with the secret in the environment (and another variable the broker may not
/// read); returns (exit, stdout, stderr).
fn eval_with_secret(sb: &Sandbox, broker: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "gate",
        "eval",
        "--policy",
        "p.yaml",
        "--intent",
        "i.json",
        "--credential-broker",
        broker,
    ];
    args.extend_from_slice(extra);
    let out = sb
        .gait()
        .env("EXAMPLE_TOKEN_REF", SECRET)
        .env("UNDECLARED_SECRET", SECRET)
        .args(&args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Every file below the sandbox that contains `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[test]
fn rhai_broker_issues_references_and_its_secret_never_leaks() {
    let sb = Sandbox::new();
    let (key, _, key_id) = trusted_publisher(&sb);
    let packed = publish_script(
        &sb,
        "rhai-broker",
        "vault-broker",
        "1.0.0",
        &key,
        Some(VAULT_BROKER),
    );
    assert_eq!(packed["kind"], "credential_broker");
    let leaky = "throw `bad token ${env.EXAMPLE_TOKEN_REF}`;";
    publish_script(
        &sb,
        "rhai-broker",
        "leaky-broker",
        "1.0.0",
        &key,
        Some(leaky),
    );
    index(&sb, &key);
    ok(
        &sb,
        &[
            "plugin",
            "install",
            "vault-broker",
            "leaky-broker",
            "--registry",
            "reg",
        ],
    );
    assert_eq!(listed(&sb, "vault-broker")[0]["kind"], "credential_broker");
    sb.write("p.yaml", BROKER_POLICY);
    sb.write("i.json", WRITE_INTENT);

    // Allowed with a credential reference from the script; the receipt claims it made hold.
    let (code, stdout, stderr) = eval_with_secret(
        &sb,
        "vault-broker",
        &[
            "--trace-out",
            "t1.json",
            "--credential-evidence-out",
            "e1.json",
            "--json",
        ],
    );
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["verdict"], "allow");
    assert!(
        out["reason_codes"]
            .as_array()
            .unwrap()
            .contains(&json!("broker_credential_present")),
        "{out}"
    );
    assert_eq!(
        out["credential_ref"],
        format!("vault:vec-ref:len{}", SECRET.len())
    );
    assert_eq!(out["credential_issuer"], "vault");
    let evidence: Value = serde_json::from_slice(&sb.read("e1.json")).unwrap();
    assert_eq!(evidence["credential_ref"], out["credential_ref"]);
    // Text mode too.
    let (code, _, stderr) = eval_with_secret(&sb, "vault-broker", &["--trace-out", "t2.json"]);
    assert_eq!(code, 0, "{stderr}");

    // A broker that throws the secret: blocked, and gait reports only that the script failed
    // (docs/plugins.md: a broker's run-time error text is never echoed).
    let (code, stdout, stderr) = eval_with_secret(&sb, "leaky-broker", &["--trace-out", "t3.json"]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stdout.contains("broker_error=broker plugin leaky-broker: script failed (runtime error)"),
        "{stdout}"
    );
    assert!(!stdout.contains("bad token"), "{stdout}");
    let (code, stdout, _) =
        eval_with_secret(&sb, "leaky-broker", &["--trace-out", "t4.json", "--json"]);
    assert_eq!(code, 3);
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        out["reason_codes"]
            .as_array()
            .unwrap()
            .contains(&json!("broker_credential_missing")),
        "{out}"
    );

    // The grep test: the secret is nowhere gait wrote or printed.
    for (code, stdout, stderr) in [
        eval_with_secret(&sb, "vault-broker", &["--trace-out", "t5.json", "--json"]),
        eval_with_secret(&sb, "leaky-broker", &["--trace-out", "t6.json"]),
    ] {
        assert!(matches!(code, 0 | 3));
        assert!(
            !stdout.contains(SECRET) && !stderr.contains(SECRET),
            "{stdout}{stderr}"
        );
    }
    assert_eq!(
        files_containing(sb.path(), SECRET.as_bytes()),
        Vec::<String>::new()
    );

    ok(&sb, &["plugin", "verify", "vault-broker", "leaky-broker"]);

    // Revoked publisher key: refused before anything is evaluated or written.
    ok(&sb, &["plugin", "trust", "revoke", &key_id]);
    let (code, stdout, _) =
        eval_with_secret(&sb, "vault-broker", &["--trace-out", "t7.json", "--json"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("plugin_key_revoked"), "{stdout}");
    assert!(!sb.join("t7.json").exists());
    // An unknown broker name keeps the reference's error.
    let (code, stdout, _) = eval_with_secret(&sb, "vault", &["--json"]);
    assert_eq!(code, 6);
    assert!(
        stdout.contains("unsupported credential broker: vault"),
        "{stdout}"
    );
    // Removed: the name is unknown again.
    ok(&sb, &["plugin", "remove", "vault-broker", "leaky-broker"]);
    assert!(installed(&sb).is_empty());
    let (code, stdout, _) = eval_with_secret(&sb, "vault-broker", &["--json"]);
    assert_eq!(code, 6);
    assert!(
        stdout.contains("unsupported credential broker: vault-broker"),
        "{stdout}"
    );
}

/// The scaffolded broker works as generated: scaffold → pack → sign → index → install →
/// `gate eval --credential-broker NAME` allows a call whose rule requires a broker credential. Its
/// receipt binds the target, so it must carry the request digest (gate/src/broker/receipt.rs
/// refuses a binding receipt without one: `broker_request_digest_missing`).
#[test]
fn the_scaffolded_broker_allows_a_brokered_call() {
    let sb = Sandbox::new();
    let (key, _, _) = trusted_publisher(&sb);
    ok(
        &sb,
        &[
            "plugin",
            "new",
            "scaffolded-broker",
            "--template",
            "rhai-broker",
            "--out",
            "src/scaffolded-broker",
        ],
    );
    ok(
        &sb,
        &[
            "plugin",
            "pack",
            "src/scaffolded-broker",
            "--out",
            "reg/scaffolded-broker-0.1.0",
        ],
    );
    ok(
        &sb,
        &[
            "plugin",
            "sign",
            "reg/scaffolded-broker-0.1.0",
            "--private-key",
            &key,
        ],
    );
    install(&sb, &key, "scaffolded-broker");
    sb.write("p.yaml", BROKER_POLICY);
    sb.write("i.json", WRITE_INTENT);
    let run = sb
        .gait()
        .env("EXAMPLE_TOKEN_REF", "vault/team-a/writer")
        .args([
            "gate",
            "eval",
            "--policy",
            "p.yaml",
            "--intent",
            "i.json",
            "--credential-broker",
            "scaffolded-broker",
            "--trace-out",
            "t.json",
            "--json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert_eq!(
        (run.status.code(), run.stderr.as_slice()),
        (Some(0), &b""[..]),
        "{stdout}"
    );
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["verdict"], "allow", "{out}");
    let reasons = out["reason_codes"].as_array().unwrap();
    assert!(
        reasons.contains(&json!("broker_credential_present")),
        "{out}"
    );
    assert!(
        !reasons.contains(&json!("broker_request_digest_missing")),
        "{out}"
    );
    // The scaffold's reference is built from the variable (which names the credential).
    assert_eq!(out["credential_ref"], "env:vault/team-a/writer");
}
