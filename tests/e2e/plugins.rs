//! `gait plugin …` and `gait registry index` end to end: new → pack → sign → index → install from
//! a file registry (and over https on loopback) → list → use (a grader in `gait regress run`, the
//! native plugin's command) → verify → remove, for a Rhai plugin and for the native example; and
//! the refusals, each leaving nothing installed or loaded. Predicates, packs, brokers and builtin
//! replacement are in `plugin_use.rs`.
//!
//! Expectations come from the "Must show" list and the install order written in
//! registry/src/install.rs: verification refusals exit 2, unsafe transport requests exit 8, bad
//! input exits 6, network failures exit 1; `error_code` names the refusal.

use crate::support::Sandbox;
use crate::tls_server::TestServer;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

/// Runs gait with `--json` appended; returns (exit code, JSON).
pub(crate) fn json(sb: &Sandbox, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.push("--json");
    sb.run_json(&all)
}

/// Runs gait with `--json` and requires exit 0.
pub(crate) fn ok(sb: &Sandbox, args: &[&str]) -> Value {
    let (code, v) = json(sb, args);
    assert_eq!(code, 0, "gait {args:?} failed: {v}");
    assert_eq!(v["ok"], true);
    v
}

/// Runs gait with `--json` and requires a refusal with `exit` and `error_code`.
pub(crate) fn refused(sb: &Sandbox, args: &[&str], exit: i32, error_code: &str) -> Value {
    let (code, v) = json(sb, args);
    assert_eq!(
        (code, v["error_code"].as_str().unwrap_or_default()),
        (exit, error_code),
        "gait {args:?}: {v}"
    );
    assert_eq!(v["ok"], false);
    assert!(!v["hint"].as_str().unwrap_or_default().is_empty());
    v
}

pub(crate) fn installed(sb: &Sandbox) -> Vec<String> {
    ok(sb, &["plugin", "list"])["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["form"] != "builtin")
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// The rows of `gait plugin list` named `name` (builtin first).
pub(crate) fn listed(sb: &Sandbox, name: &str) -> Vec<Value> {
    ok(sb, &["plugin", "list"])["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .cloned()
        .collect()
}

/// `gait demo` and a fixture set with its runpack (`run_demo`).
pub(crate) fn demo_fixture(sb: &Sandbox) {
    ok(sb, &["demo"]);
    ok(sb, &["regress", "init", "--from", "run_demo"]);
}

/// Records a raw-capture runpack with `n` intents (all `tool.read`, all ok); returns its path.
pub(crate) fn record_intents(sb: &Sandbox, run_id: &str, n: usize) -> String {
    let ids: Vec<String> = (1..=n).map(|i| format!("intent_{i}")).collect();
    let input = json!({
        "run": {
            "run_id": run_id,
            "created_at": "2031-02-03T04:05:06Z",
            "env": {"os": "linux", "arch": "amd64", "runtime": "python"},
            "timeline": [{"event": "run_started", "ts": "2031-02-03T04:05:06Z"}],
        },
        "intents": ids.iter().map(|id| json!({"intent_id": id, "tool_name": "tool.read", "args": {"n": 1}})).collect::<Vec<_>>(),
        "results": ids.iter().map(|id| json!({"intent_id": id, "status": "ok", "result": {"status": "ok"}})).collect::<Vec<_>>(),
        "refs": {"receipts": []},
        "capture_mode": "raw",
    });
    let file = format!("{run_id}.input.json");
    sb.write(&file, serde_json::to_vec(&input).unwrap());
    ok(
        sb,
        &["run", "record", "--input", &file, "--out-dir", "recorded"],
    );
    format!("recorded/runpack_{run_id}.zip")
}

/// Sets `gait.yaml`'s grader list.
pub(crate) fn use_graders(sb: &Sandbox, graders: &[Value]) {
    let mut c: Value = serde_json::from_slice(&sb.read("gait.yaml")).unwrap();
    c["graders"] = Value::Array(graders.to_vec());
    sb.write("gait.yaml", serde_json::to_vec_pretty(&c).unwrap());
}

/// `gait regress run --json`; returns its exit code and regress_result.json.
pub(crate) fn regress(sb: &Sandbox) -> (i32, Value) {
    let (code, out) = json(sb, &["regress", "run"]);
    assert!(matches!(code, 0 | 5), "regress run: {out}");
    (
        code,
        serde_json::from_slice(&sb.read("regress_result.json")).unwrap(),
    )
}

/// `gait regress run` that passes; returns regress_result.json.
pub(crate) fn regress_ok(sb: &Sandbox) -> Value {
    let (code, result) = regress(sb);
    assert_eq!(code, 0, "{result}");
    result
}

/// A grader result of regress_result.json by `<fixture>/<grader>` name.
pub(crate) fn grader<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["graders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no grader {name} in {result}"))
}

/// A publisher key pair at `publisher/{publisher_private,publisher_public}.key`.
pub(crate) fn publisher(sb: &Sandbox, prefix: &str) -> (String, String) {
    ok(
        sb,
        &["keys", "init", "--out-dir", "publisher", "--prefix", prefix],
    );
    (
        format!("publisher/{prefix}_private.key"),
        format!("publisher/{prefix}_public.key"),
    )
}

/// Scaffolds, packs (as `version`) and signs a Rhai grader into `reg/<name>-<version>`.
pub(crate) fn publish_rhai(sb: &Sandbox, name: &str, version: &str, key: &str) -> Value {
    let src = format!("src/{name}-{version}");
    if !sb.join(&src).exists() {
        ok(sb, &["plugin", "new", name, "--out", &src]);
        let path = sb.join(&format!("{src}/gait-plugin.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace(
                "\"version\": \"0.1.0\"",
                &format!("\"version\": \"{version}\""),
            ),
        )
        .unwrap();
    }
    let out = format!("reg/{name}-{version}");
    let packed = ok(sb, &["plugin", "pack", &src, "--out", &out]);
    ok(sb, &["plugin", "sign", &out, "--private-key", key]);
    packed
}

pub(crate) fn index(sb: &Sandbox, key: &str) -> Value {
    ok(sb, &["registry", "index", "reg", "--private-key", key])
}

/// The example native plugin built with the workspace (same profile and target dir as gait).
pub(crate) fn example_library() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let bin = crate::support::gait_bin();
        let profile_dir = bin.parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "gait-example-native",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(crate::support::repo_root());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo build");
        assert!(
            out.status.success(),
            "building the example plugin failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir.join(format!(
            "{}gait_example_native{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ))
    })
    .clone()
}

pub(crate) fn publish_native(sb: &Sandbox, key: &str) -> Value {
    let src = crate::support::repo_root().join("plugins/examples/native");
    let lib = example_library();
    let packed = ok(
        sb,
        &[
            "plugin",
            "pack",
            src.to_str().unwrap(),
            "--library",
            lib.to_str().unwrap(),
            "--out",
            "reg/example-native-0.1.0",
        ],
    );
    ok(
        sb,
        &[
            "plugin",
            "sign",
            "reg/example-native-0.1.0",
            "--private-key",
            key,
        ],
    );
    packed
}

#[test]
fn rhai_plugin_new_pack_sign_index_install_list_verify_remove() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    let packed = publish_rhai(&sb, "max-intents", "0.1.0", &private);
    assert_eq!(packed["kind"], "grader");
    assert_eq!(packed["form"], "rhai");
    let digest = packed["manifest_digest"].as_str().unwrap().to_string();
    let idx = index(&sb, &private);
    assert_eq!(
        (idx["version"].as_u64(), idx["entries"].as_u64()),
        (Some(1), Some(1))
    );

    // Not trusted yet: refused, nothing installed.
    refused(
        &sb,
        &["plugin", "install", "max-intents", "--registry", "reg"],
        2,
        "plugin_key_untrusted",
    );
    assert!(installed(&sb).is_empty());

    let trusted = ok(&sb, &["plugin", "trust", "add", &public, "--name", "acme"]);
    assert_eq!(trusted["added"], true);
    let got = ok(
        &sb,
        &["plugin", "install", "max-intents@^0.1", "--registry", "reg"],
    );
    let row = &got["plugins"][0];
    assert_eq!(row["version"], "0.1.0");
    assert_eq!(row["manifest_digest"], digest.as_str());
    assert_eq!(row["key_ids"][0], trusted["key"]["key_id"]);
    assert_eq!(got["lockfile"], "gait.lock");

    // The origin is the registry's canonical location (the lockfile keeps it as given, below).
    let origin = std::fs::canonicalize(sb.join("reg"))
        .unwrap()
        .display()
        .to_string();
    let p = &listed(&sb, "max-intents")[0];
    assert_eq!(
        (
            p["name"].as_str(),
            p["version"].as_str(),
            p["kind"].as_str(),
            p["form"].as_str(),
            p["origin"].as_str()
        ),
        (
            Some("max-intents"),
            Some("0.1.0"),
            Some("grader"),
            Some("rhai"),
            Some(origin.as_str())
        )
    );
    assert_eq!(p["pin"], format!("sha256:{digest}"));
    // The text form is a table with the same facts.
    let (code, text, _) = sb.run(&["plugin", "list"]);
    assert_eq!(code, 0);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.contains("max-intents") && text.contains("rhai"),
        "{text}"
    );

    let lock: Value = serde_json::from_slice(&sb.read("gait.lock")).unwrap();
    assert_eq!(lock["schema_id"], "gait.plugin.lock");
    assert_eq!(lock["plugins"][0]["manifest_digest"], digest.as_str());
    assert_eq!(lock["plugins"][0]["registry"], "reg");

    // Use: the grader in `gait regress run`, named in gait.yaml. The scaffold passes a fixture whose
    // replay exits 0 (the demo's does) with `replay_ok`; results carry the plugin's identity.
    demo_fixture(&sb);
    use_graders(&sb, &[json!({"plugin": "max-intents"})]);
    let result = regress_ok(&sb);
    let g = grader(&result, "run_demo/max-intents");
    assert_eq!(
        (&g["status"], &g["reason_codes"]),
        (&json!("pass"), &json!(["replay_ok"]))
    );
    assert_eq!(g["details"]["plugin"], "max-intents");
    assert_eq!(g["details"]["plugin_version"], "0.1.0");
    assert_eq!(g["details"]["plugin_manifest_digest"], digest.as_str());

    // The installed script is exactly the published one.
    let pin = "home/.gait/plugins/pins/max-intents.json";
    let pin: Value = serde_json::from_slice(&sb.read(pin)).unwrap();
    let dir = sb.join(&format!(
        "home/.gait/plugins/{}",
        pin["dir"].as_str().unwrap()
    ));
    assert_eq!(
        std::fs::read(dir.join("grader.rhai")).unwrap(),
        sb.read("src/max-intents-0.1.0/grader.rhai")
    );

    let verified = ok(&sb, &["plugin", "verify"]);
    assert_eq!(verified["plugins"][0]["ok"], true);
    assert_eq!(listed(&sb, "max-intents")[0]["verified"], true);

    // An installed file changed after install: verify fails (exit 2) and names the file. The top
    // level carries the plugin's own code and hint (docs/plugins.md "Errors"), not the generic
    // verification_failed.
    std::fs::write(
        dir.join("grader.rhai"),
        b"fn grade(f) { #{status: \"pass\"} }",
    )
    .unwrap();
    let v = refused(&sb, &["plugin", "verify"], 2, "plugin_file_modified");
    assert_eq!(v["plugins"][0]["error_code"], "plugin_file_modified");
    assert!(v["error"].as_str().unwrap().contains("grader.rhai"));
    assert_eq!(v["hint"], v["plugins"][0]["hint"]);
    assert!(
        v["hint"]
            .as_str()
            .unwrap()
            .contains("gait plugin install max-intents"),
        "{v}"
    );
    // The text form names the plugin once.
    let (code, text, _) = sb.run(&["plugin", "verify"]);
    assert_eq!(code, 2);
    assert!(
        text.starts_with(
            "plugin verify error: installed plugin max-intents@0.1.0: file grader.rhai changed"
        ),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("(plugin_file_modified)"),
        "{text}"
    );
    // `plugin list` says so too: still the active max-intents (nothing else would step in), but
    // refused at load.
    let row = &listed(&sb, "max-intents")[0];
    assert_eq!(
        (&row["active"], &row["verified"], &row["error_code"]),
        (&json!(true), &json!(false), &json!("plugin_file_modified"))
    );
    let (code, text, _) = sb.run(&["plugin", "list"]);
    assert_eq!(code, 0);
    assert!(text.contains("refused (plugin_file_modified)"), "{text}");
    // …and regress run refuses to load it: no fixture is graded, no result is written.
    std::fs::remove_file(sb.join("regress_result.json")).unwrap();
    let v = refused(&sb, &["regress", "run"], 2, "plugin_file_modified");
    assert!(v["error"].as_str().unwrap().contains("grader.rhai"), "{v}");
    assert!(!sb.join("regress_result.json").exists());

    let removed = ok(&sb, &["plugin", "remove", "max-intents"]);
    assert_eq!(removed["lockfile_updated"], true);
    assert!(installed(&sb).is_empty());
    let v = refused(&sb, &["regress", "run"], 6, "plugin_not_installed");
    assert!(v["error"].as_str().unwrap().contains("max-intents"), "{v}");
    refused(
        &sb,
        &["plugin", "verify", "max-intents"],
        6,
        "plugin_not_installed",
    );
}

#[test]
fn native_plugin_install_list_run_verify_remove() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    let packed = publish_native(&sb, &private);
    assert_eq!(packed["form"], "native");
    index(&sb, &private);
    ok(
        &sb,
        &["plugin", "install", "example-native", "--registry", "reg"],
    );
    let p = &listed(&sb, "example-native")[0];
    assert_eq!(p["form"], "native");
    assert_eq!(p["commands"][0], "example-native hello");

    // Use, 1: its grader in `gait regress run`, under the name gait.yaml gives it. It fails a
    // fixture above 3 intents (`intent_count_exceeded`) and passes the demo's 3.
    demo_fixture(&sb);
    let four = record_intents(&sb, "run_four", 4);
    let (code, out) = sb.run_json(&["regress", "add", "--from", &four, "--json"]);
    assert_eq!(code, 0, "{out}");
    use_graders(
        &sb,
        &[json!({"name": "intent-count", "plugin": "example-native"})],
    );
    let (code, result) = regress(&sb);
    assert_eq!(code, 5, "{result}");
    let pass = grader(&result, "run_demo/intent-count");
    assert_eq!(
        (&pass["status"], &pass["reason_codes"]),
        (&json!("pass"), &json!(["intent_count_within_limit"]))
    );
    assert_eq!(
        pass["details"]["data"],
        json!({"intents": 3, "max_intents": 3})
    );
    assert_eq!(pass["details"]["plugin_form"], "native");
    let fail = grader(&result, "run_four/intent-count");
    assert_eq!(
        (&fail["status"], &fail["reason_codes"]),
        (&json!("fail"), &json!(["intent_count_exceeded"]))
    );
    assert_eq!(
        fail["details"]["message"],
        "4 intents recorded, at most 3 allowed"
    );
    // Every other grader of the run is unaffected.
    assert_eq!(grader(&result, "run_four/trajectory")["status"], "pass");

    // Use: the command the plugin contributes, verified and loaded for this call.
    let out = ok(&sb, &["example-native", "hello", "ada"]);
    assert_eq!(out["greeting"], "hello, ada");
    assert_eq!(out["plugin"], "example-native");
    let (code, text, err) = sb.run(&["example-native", "hello"]);
    assert_eq!(
        (code, text.as_str(), err.as_str()),
        (0, "hello, world\n", "")
    );
    let (code, text, _) = sb.run(&["example-native", "hello", "--explain"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("contributed by plugin example-native@0.1.0"),
        "{text}"
    );
    // The plugin's own input error is invalid input.
    refused(
        &sb,
        &["example-native", "hello", "a", "b"],
        6,
        "plugin_input_invalid",
    );

    ok(&sb, &["plugin", "verify", "example-native"]);

    // Change one byte of the installed library: it is neither verified nor loaded.
    let pin: Value =
        serde_json::from_slice(&sb.read("home/.gait/plugins/pins/example-native.json")).unwrap();
    let dir = sb.join(&format!(
        "home/.gait/plugins/{}",
        pin["dir"].as_str().unwrap()
    ));
    let lib = dir.join(example_library().file_name().unwrap());
    let mut bytes = std::fs::read(&lib).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&lib, &bytes).unwrap();
    refused(&sb, &["example-native", "hello"], 2, "plugin_file_modified");
    refused(&sb, &["plugin", "verify"], 2, "plugin_file_modified");
    std::fs::remove_file(sb.join("regress_result.json")).unwrap();
    refused(&sb, &["regress", "run"], 2, "plugin_file_modified");
    assert!(!sb.join("regress_result.json").exists());

    ok(&sb, &["plugin", "remove", "example-native"]);
    assert!(installed(&sb).is_empty());
    let (code, v) = json(&sb, &["example-native", "hello"]);
    assert_eq!(code, 6);
    assert_eq!(v["error"], "unknown command: example-native");
}

#[test]
fn update_works_from_another_directory() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    publish_rhai(&sb, "g", "1.0.0", &private);
    index(&sb, &private);
    ok(&sb, &["plugin", "install", "g@^1", "--registry", "reg"]);
    publish_rhai(&sb, "g", "1.0.1", &private);
    index(&sb, &private);
    // The pin remembers the registry's canonical location, not the relative `reg`.
    std::fs::create_dir_all(sb.join("elsewhere")).unwrap();
    let out = sb
        .gait()
        .current_dir(sb.join("elsewhere"))
        .args(["plugin", "update", "--lockfile=", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["plugins"][0]["to"], "1.0.1");
}

#[test]
fn revoked_key_is_refused_at_load_with_a_clear_error() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    let added = ok(&sb, &["plugin", "trust", "add", &public]);
    let key_id = added["key"]["key_id"].as_str().unwrap().to_string();
    publish_native(&sb, &private);
    index(&sb, &private);
    ok(
        &sb,
        &["plugin", "install", "example-native", "--registry", "reg"],
    );
    let revoked = ok(
        &sb,
        &[
            "plugin",
            "trust",
            "revoke",
            &key_id[..12],
            "--reason",
            "leaked",
        ],
    );
    assert_eq!(revoked["key"]["revoked"], true);
    let v = refused(&sb, &["example-native", "hello"], 2, "plugin_key_revoked");
    assert!(v["error"].as_str().unwrap().contains("revoked"), "{v}");
    let listed = ok(&sb, &["plugin", "trust", "list"]);
    assert_eq!(listed["keys"][0]["revoked_reason"], "leaked");
    // A revoked key cannot simply be trusted again.
    refused(
        &sb,
        &["plugin", "trust", "add", &public],
        2,
        "plugin_key_revoked",
    );
    // Removing it: the plugin is now signed by an unknown key, still refused.
    ok(&sb, &["plugin", "trust", "remove", &key_id]);
    refused(&sb, &["example-native", "hello"], 2, "plugin_key_untrusted");
}

#[test]
fn install_refusals_leave_nothing_installed() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    let (stranger, _) = publisher(&sb, "stranger");
    ok(&sb, &["plugin", "trust", "add", &public]);
    publish_rhai(&sb, "good", "1.0.0", &private);
    publish_rhai(&sb, "unknown-key", "1.0.0", &stranger);
    publish_rhai(&sb, "bad-sig", "1.0.0", &private);
    // bad-sig: a valid-looking signature over other content.
    let path = sb.join("reg/bad-sig-1.0.0/manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let good: Value = serde_json::from_slice(&sb.read("reg/good-1.0.0/manifest.json")).unwrap();
    m["signatures"][0]["sig"] = good["signatures"][0]["sig"].clone();
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    publish_rhai(&sb, "changed-file", "1.0.0", &private);
    // The next-API plugin declares a plugin-API major this gait does not provide.
    ok(&sb, &["plugin", "new", "next-api", "--out", "src/next-api"]);
    let src = sb.join("src/next-api/gait-plugin.json");
    let text = std::fs::read_to_string(&src).unwrap();
    std::fs::write(
        &src,
        text.replace("\"plugin_api\": \"^1.0.0\"", "\"plugin_api\": \"^2.0\""),
    )
    .unwrap();
    ok(
        &sb,
        &[
            "plugin",
            "pack",
            "src/next-api",
            "--out",
            "reg/next-api-0.1.0",
        ],
    );
    ok(
        &sb,
        &[
            "plugin",
            "sign",
            "reg/next-api-0.1.0",
            "--private-key",
            &private,
        ],
    );
    index(&sb, &private);
    std::fs::write(sb.join("reg/changed-file-1.0.0/grader.rhai"), b"// changed").unwrap();

    fn install(spec: &str) -> Vec<&str> {
        vec!["plugin", "install", spec, "--registry", "reg"]
    }
    refused(&sb, &install("unknown-key"), 2, "plugin_key_untrusted");
    refused(&sb, &install("bad-sig"), 2, "plugin_signature_invalid");
    refused(&sb, &install("changed-file"), 2, "plugin_digest_mismatch");
    refused(&sb, &install("next-api"), 2, "plugin_api_incompatible");
    let v = refused(&sb, &install("good@^2"), 6, "plugin_version_not_found");
    assert!(v["error"].as_str().unwrap().contains("available: 1.0.0"));
    let mut capped = install("good");
    capped.extend(["--max-bytes", "100"]);
    refused(&sb, &capped, 2, "registry_download_too_large");
    assert!(installed(&sb).is_empty());
    assert!(
        !sb.join("gait.lock").exists(),
        "no lockfile for failed installs"
    );
    let staging = sb.join("home/.gait/plugins/.staging");
    assert!(!staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none());
    ok(&sb, &install("good"));
    assert_eq!(installed(&sb), ["good"]);
}

#[test]
fn expired_and_rolled_back_indexes_are_refused() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    publish_rhai(&sb, "g", "1.0.0", &private);
    // Expired: valid for one nanosecond from when it was signed.
    ok(
        &sb,
        &[
            "registry",
            "index",
            "reg",
            "--private-key",
            &private,
            "--ttl",
            "1ns",
        ],
    );
    let install = ["plugin", "install", "g", "--registry", "reg"];
    refused(&sb, &install, 2, "registry_index_expired");
    assert!(installed(&sb).is_empty());

    // Version 2 (fresh), then version 3 after a new release; installing remembers version 3.
    index(&sb, &private);
    let v2 = sb.read("reg/index.json");
    publish_rhai(&sb, "g", "1.0.1", &private);
    assert_eq!(index(&sb, &private)["version"], 3);
    ok(&sb, &install);
    // A mirror serving the older index (still signed, not expired) is refused: rollback.
    std::fs::write(sb.join("reg/index.json"), &v2).unwrap();
    refused(&sb, &install, 2, "registry_index_rollback");
    // Publishing an older version number explicitly is refused at the source too.
    let (code, _) = json(
        &sb,
        &[
            "registry",
            "index",
            "reg",
            "--private-key",
            &private,
            "--version",
            "1",
        ],
    );
    assert_eq!(code, 6);
}

#[test]
fn locked_installs_exactly_the_lockfile_and_update_moves_it() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    let first = publish_rhai(&sb, "g", "1.0.0", &private);
    index(&sb, &private);
    ok(&sb, &["plugin", "install", "g@^1", "--registry", "reg"]);
    // CI: a fresh machine (plugin home) with the committed lockfile.
    ok(&sb, &["plugin", "remove", "g", "--lockfile="]);
    publish_rhai(&sb, "g", "1.1.0", &private);
    index(&sb, &private);
    let got = ok(&sb, &["plugin", "install", "--locked"]);
    assert_eq!(got["plugins"][0]["version"], "1.0.0");
    assert_eq!(
        got["plugins"][0]["manifest_digest"],
        first["manifest_digest"]
    );
    let lock_before = sb.read("gait.lock");

    // A lockfile that pins other bytes is refused, nothing changes.
    let mut lock: Value = serde_json::from_slice(&lock_before).unwrap();
    lock["plugins"][0]["manifest_digest"] = "0".repeat(64).into();
    sb.write("other.lock", serde_json::to_vec_pretty(&lock).unwrap());
    refused(
        &sb,
        &["plugin", "install", "--locked", "--lockfile", "other.lock"],
        2,
        "lockfile_mismatch",
    );
    refused(
        &sb,
        &[
            "plugin",
            "install",
            "--locked",
            "--lockfile",
            "missing.lock",
        ],
        6,
        "lockfile_entry_missing",
    );

    // update: the newest version matching the installed requirement (^1), recorded in the lock.
    let up = ok(&sb, &["plugin", "update"]);
    assert_eq!(
        (
            &up["plugins"][0]["from"],
            &up["plugins"][0]["to"],
            &up["plugins"][0]["updated"]
        ),
        (
            &Value::from("1.0.0"),
            &Value::from("1.1.0"),
            &Value::Bool(true)
        )
    );
    let lock: Value = serde_json::from_slice(&sb.read("gait.lock")).unwrap();
    assert_eq!(lock["plugins"][0]["version"], "1.1.0");
    let again = ok(&sb, &["plugin", "update", "g"]);
    assert_eq!(again["plugins"][0]["updated"], false);
}

fn write_ca(sb: &Sandbox, server: &TestServer) -> PathBuf {
    sb.write("ca.pem", &server.ca_pem)
}

#[test]
fn https_registry_installs_like_a_local_one() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    let packed = publish_rhai(&sb, "g", "1.0.0", &private);
    index(&sb, &private);
    let server = TestServer::https(&sb.join("reg"));
    let url = server.url("https");
    let ca = write_ca(&sb, &server);
    let ca = ca.to_str().unwrap();

    // Not allowlisted: refused before any connection.
    refused(
        &sb,
        &[
            "plugin",
            "install",
            "g",
            "--registry",
            &url,
            "--registry-ca",
            ca,
        ],
        8,
        "registry_host_not_allowed",
    );
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
    // The CA unknown to the built-in roots: a TLS failure (exit 1), nothing installed.
    let no_ca = gait_no_cert_env(&sb)
        .args([
            "plugin",
            "install",
            "g",
            "--registry",
            &url,
            "--allow-host",
            "127.0.0.1",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(no_ca.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&no_ca.stdout).unwrap();
    assert_eq!(v["error_code"], "registry_fetch_failed");
    assert!(installed(&sb).is_empty());

    let got = ok(
        &sb,
        &[
            "plugin",
            "install",
            "g",
            "--registry",
            &url,
            "--allow-host",
            "127.0.0.1",
            "--registry-ca",
            ca,
        ],
    );
    assert_eq!(
        got["plugins"][0]["manifest_digest"],
        packed["manifest_digest"]
    );
    assert_eq!(got["plugins"][0]["registry"], url.as_str());
    ok(&sb, &["plugin", "verify", "g"]);
    ok(&sb, &["plugin", "remove", "g"]);

    // The standard certificate variable works as well as the flag.
    let out = gait_no_cert_env(&sb)
        .env("SSL_CERT_FILE", ca)
        .args([
            "plugin",
            "install",
            "g",
            "--registry",
            &url,
            "--allow-host",
            "127.0.0.1",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(installed(&sb), ["g"]);

    // Plain http needs --allow-insecure-http.
    let plain = TestServer::http(&sb.join("reg"));
    refused(
        &sb,
        &[
            "plugin",
            "install",
            "g",
            "--registry",
            &plain.url("http"),
            "--allow-host",
            "127.0.0.1",
        ],
        8,
        "registry_insecure_http",
    );
}

/// A gait command without the machine's certificate variables (so only the flags decide).
fn gait_no_cert_env(sb: &Sandbox) -> assert_cmd::Command {
    let mut cmd = sb.gait();
    cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    cmd
}

#[test]
fn scaffolds_for_every_template_pack() {
    let sb = Sandbox::new();
    for t in ["rhai-grader", "rhai-broker", "rhai-predicate"] {
        let dir = format!("t-{t}");
        let made = ok(
            &sb,
            &["plugin", "new", "demo", "--template", t, "--out", &dir],
        );
        assert_eq!(made["template"], t);
        let packed = ok(&sb, &["plugin", "pack", &dir]);
        assert!(
            Path::new(packed["path"].as_str().unwrap()).ends_with("dist/demo-0.1.0"),
            "{packed}"
        );
    }
    let broker = ok(&sb, &["plugin", "pack", "t-rhai-broker"]);
    assert_eq!(broker["kind"], "credential_broker");
    let made = ok(
        &sb,
        &[
            "plugin",
            "new",
            "demo-native",
            "--template",
            "native",
            "--out",
            "n",
        ],
    );
    assert!(
        made["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().ends_with("Cargo.toml"))
    );
    let (code, _) = json(&sb, &["plugin", "new", "demo", "--template", "python"]);
    assert_eq!(code, 6);
    let (code, _) = json(&sb, &["plugin", "new", "Bad Name"]);
    assert_eq!(code, 6);
}

/// The native scaffold builds into a library that packs (slow: it compiles a crate; the workspace
/// target directory is shared so gait-plugin-api's dependencies are reused).
#[test]
fn native_scaffold_builds_and_packs() {
    let sb = Sandbox::new();
    let api = crate::support::repo_root().join("plugins/api");
    ok(
        &sb,
        &[
            "plugin",
            "new",
            "scaffolded",
            "--template",
            "native",
            "--out",
            "n",
            "--plugin-api-path",
            api.to_str().unwrap(),
        ],
    );
    let bin = crate::support::gait_bin();
    let target_dir = bin
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("scaffold-check");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--offline", "--target-dir"])
        .arg(&target_dir)
        .current_dir(sb.join("n"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = target_dir.join("debug").join(format!(
        "{}scaffolded{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    let packed = ok(
        &sb,
        &["plugin", "pack", "n", "--library", lib.to_str().unwrap()],
    );
    assert_eq!(packed["form"], "native");
    assert_eq!(packed["kind"], "grader");
}

/// Extension commands: `--help`/`-h` print the command's usage from its signed manifest (exit 0,
/// nothing run); the plugin's name alone lists its commands like a builtin group (exit 6
/// "missing subcommand"); `gait --help` lists installed plugins' commands; every argument but
/// gait's own flags reaches the plugin (docs/plugins.md "Sign, publish, install").
#[test]
fn extension_commands_have_usage_and_own_their_arguments() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    let (code, before, _) = sb.run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        !before.contains("Commands from installed plugins"),
        "{before}"
    );
    publish_native(&sb, &private);
    index(&sb, &private);
    ok(
        &sb,
        &["plugin", "install", "example-native", "--registry", "reg"],
    );
    let summary = "Greet someone from a signed native plugin.";

    for help in ["--help", "-h", "-help"] {
        let (code, text, err) = sb.run(&["example-native", "hello", help]);
        assert_eq!((code, err.as_str()), (0, ""), "{help}: {text}");
        assert!(
            text.starts_with("Usage: gait example-native hello"),
            "{help}: {text}"
        );
        assert!(text.contains(summary), "{text}");
        assert!(text.contains("example-native@0.1.0"), "{text}");
        assert!(
            !text.contains("hello, world"),
            "the command must not run: {text}"
        );
    }
    let v = ok(&sb, &["example-native", "hello", "ada", "--help"]);
    assert_eq!(v["command"], "gait example-native hello");
    assert!(v["usage"].as_str().unwrap().contains(summary));
    assert!(v.get("greeting").is_none(), "{v}");

    // The plugin's name alone: its commands, and the builtin groups' error.
    let (code, text, _) = sb.run(&["example-native"]);
    assert_eq!(code, 6);
    assert!(
        text.starts_with(
            "example-native error: missing subcommand: gait example-native <subcommand>"
        ),
        "{text}"
    );
    assert!(
        text.contains("example-native hello") && text.contains(summary),
        "{text}"
    );
    let (code, v) = json(&sb, &["example-native"]);
    assert_eq!(
        (code, v["error"].as_str(), v["error_code"].as_str()),
        (
            6,
            Some("missing subcommand: gait example-native <subcommand>"),
            Some("invalid_input")
        )
    );
    let (code, v) = json(&sb, &["example-native", "bogus"]);
    assert_eq!(code, 6);
    assert_eq!(v["error"], "unknown example-native subcommand: bogus");
    let v = ok(&sb, &["example-native", "--help"]);
    assert!(
        v["usage"]
            .as_str()
            .unwrap()
            .contains("example-native hello"),
        "{v}"
    );
    let (code, top, _) = sb.run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        top.contains("Commands from installed plugins:")
            && top.contains("example-native hello")
            && top.contains(summary),
        "{top}"
    );

    // Unknown flags are the plugin's (this one ignores dashed arguments), not a gait flag error.
    let v = ok(&sb, &["example-native", "hello", "ada", "--loud", "-n=2"]);
    assert_eq!(v["greeting"], "hello, ada");
    // After `--` nothing is gait's: this --json reaches the plugin, so the output is text.
    let (code, text, _) = sb.run(&["example-native", "hello", "--", "--json", "--help"]);
    assert_eq!((code, text.as_str()), (0, "hello, world\n"));
}

/// `plugin install NAME` takes the newest version that can run in this gait: a newer version whose
/// signed manifest requires another plugin API is passed over (docs/plugins.md, install step 3);
/// when no matching version can run, the refusal is plugin_api_incompatible.
#[test]
fn install_takes_the_newest_version_this_gait_can_run() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    publish_rhai(&sb, "g", "1.0.0", &private);
    // 1.1.0 is built for plugin API 2.
    ok(&sb, &["plugin", "new", "g", "--out", "src/g-1.1.0"]);
    let src = sb.join("src/g-1.1.0/gait-plugin.json");
    let text = std::fs::read_to_string(&src).unwrap();
    std::fs::write(
        &src,
        text.replace("\"plugin_api\": \"^1.0.0\"", "\"plugin_api\": \"^2.0\"")
            .replace("\"version\": \"0.1.0\"", "\"version\": \"1.1.0\""),
    )
    .unwrap();
    ok(
        &sb,
        &["plugin", "pack", "src/g-1.1.0", "--out", "reg/g-1.1.0"],
    );
    ok(
        &sb,
        &["plugin", "sign", "reg/g-1.1.0", "--private-key", &private],
    );
    index(&sb, &private);

    let got = ok(&sb, &["plugin", "install", "g", "--registry", "reg"]);
    assert_eq!(got["plugins"][0]["version"], "1.0.0");
    let v = refused(
        &sb,
        &["plugin", "install", "g@^1.1", "--registry", "reg"],
        2,
        "plugin_api_incompatible",
    );
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("g requires plugin API"),
        "{v}"
    );
    assert_eq!(installed(&sb), ["g"]);
    let up = ok(&sb, &["plugin", "update"]);
    assert_eq!(
        (&up["plugins"][0]["to"], &up["plugins"][0]["updated"]),
        (&json!("1.0.0"), &json!(false))
    );
}

/// A relative registry in gait.lock is relative to the lockfile's directory (docs/plugins.md), so a
/// project's lockfile installs from any working directory, and installs write it that way.
#[test]
fn a_relative_registry_in_a_lockfile_is_relative_to_the_lockfile() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    publish_rhai(&sb, "g", "1.0.0", &private);
    index(&sb, &private);
    // The project: proj/ with its registry proj/reg, installed from inside proj.
    std::fs::create_dir_all(sb.join("proj")).unwrap();
    std::fs::rename(sb.join("reg"), sb.join("proj/reg")).unwrap();
    let in_proj = |args: &[&str]| {
        let out = sb
            .gait()
            .current_dir(sb.join("proj"))
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code().unwrap(), v)
    };
    let (code, v) = in_proj(&["plugin", "install", "g", "--registry", "reg"]);
    assert_eq!(code, 0, "{v}");
    let lock: Value = serde_json::from_slice(&sb.read("proj/gait.lock")).unwrap();
    assert_eq!(lock["plugins"][0]["registry"], "reg");

    // CI from the repository root: a fresh plugin home, the project's lockfile.
    ok(&sb, &["plugin", "remove", "g", "--lockfile="]);
    let got = ok(
        &sb,
        &[
            "plugin",
            "install",
            "--locked",
            "--lockfile",
            "proj/gait.lock",
        ],
    );
    assert_eq!(got["plugins"][0]["version"], "1.0.0");
    // Without --locked too: the lockfile's registry is used when --registry is not given.
    ok(&sb, &["plugin", "remove", "g", "--lockfile="]);
    ok(
        &sb,
        &["plugin", "install", "g", "--lockfile", "proj/gait.lock"],
    );
    let lock: Value = serde_json::from_slice(&sb.read("proj/gait.lock")).unwrap();
    assert_eq!(lock["plugins"][0]["registry"], "reg", "spelling kept");

    // Installing from the root into the project's lockfile records the registry relative to it.
    ok(
        &sb,
        &["plugin", "remove", "g", "--lockfile", "proj/gait.lock"],
    );
    std::fs::create_dir_all(sb.join("shared")).unwrap();
    std::fs::rename(sb.join("proj/reg"), sb.join("shared/reg")).unwrap();
    ok(
        &sb,
        &[
            "plugin",
            "install",
            "g",
            "--registry",
            "shared/reg",
            "--lockfile",
            "proj/gait.lock",
        ],
    );
    let lock: Value = serde_json::from_slice(&sb.read("proj/gait.lock")).unwrap();
    assert_eq!(lock["plugins"][0]["registry"], "../shared/reg");
    // …which the project installs from inside proj/.
    ok(&sb, &["plugin", "remove", "g", "--lockfile="]);
    let (code, v) = in_proj(&["plugin", "install", "--locked"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(installed(&sb), ["g"]);
}

/// `off` is the `--credential-broker` setting for "no broker"; docs/plugins.md says no plugin can
/// take that name, so every step that names a plugin refuses it (exit 6, invalid input).
#[test]
fn no_plugin_can_be_named_off() {
    let sb = Sandbox::new();
    let (private, public) = publisher(&sb, "acme");
    ok(&sb, &["plugin", "trust", "add", &public]);
    let v = refused(
        &sb,
        &["plugin", "new", "off", "--template", "rhai-broker"],
        6,
        "invalid_input",
    );
    assert!(v["error"].as_str().unwrap().contains("reserved"), "{v}");
    assert!(!sb.join("off").exists());
    // A source written by hand does not pack.
    ok(
        &sb,
        &[
            "plugin",
            "new",
            "offish",
            "--template",
            "rhai-broker",
            "--out",
            "src/off",
        ],
    );
    let path = sb.join("src/off/gait-plugin.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"name\": \"offish\"", "\"name\": \"off\""),
    )
    .unwrap();
    let v = refused(
        &sb,
        &["plugin", "pack", "src/off", "--out", "reg/off-0.1.0"],
        6,
        "plugin_manifest_invalid",
    );
    assert!(v["error"].as_str().unwrap().contains("reserved"), "{v}");
    assert!(!sb.join("reg/off-0.1.0").exists());
    // Installing it by name is refused before any registry is read.
    publish_rhai(&sb, "g", "1.0.0", &private);
    index(&sb, &private);
    refused(
        &sb,
        &["plugin", "install", "off", "--registry", "reg"],
        6,
        "invalid_input",
    );
    assert!(installed(&sb).is_empty());
    // The builtin brokers' names stay available to plugins (a newer one replaces the builtin).
    ok(
        &sb,
        &[
            "plugin",
            "new",
            "stub",
            "--template",
            "rhai-broker",
            "--out",
            "src/stub",
        ],
    );
}

/// Small contracts: commands that take no arguments refuse stray ones (exit 6, like every command
/// with unexpected arguments); revoking a revoked key keeps the first revocation and says so.
#[test]
fn list_refuses_arguments_and_revoking_twice_keeps_the_first_revocation() {
    let sb = Sandbox::new();
    for args in [
        &["plugin", "list", "extra"][..],
        &["plugin", "trust", "list", "extra"][..],
    ] {
        let v = refused(&sb, args, 6, "invalid_input");
        assert_eq!(v["error"], "unexpected arguments: extra");
    }
    let (_, public) = publisher(&sb, "acme");
    let added = ok(&sb, &["plugin", "trust", "add", &public]);
    let id = added["key"]["key_id"].as_str().unwrap().to_string();
    let first = ok(
        &sb,
        &["plugin", "trust", "revoke", &id, "--reason", "leaked"],
    );
    assert_eq!(first["already_revoked"], false);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = ok(
        &sb,
        &["plugin", "trust", "revoke", &id, "--reason", "other"],
    );
    assert_eq!(again["already_revoked"], true);
    assert_eq!(again["key"]["revoked_at"], first["key"]["revoked_at"]);
    assert_eq!(again["key"]["revoked_reason"], "leaked");
    let (code, text, _) = sb.run(&["plugin", "trust", "revoke", &id]);
    assert_eq!(code, 0);
    assert!(text.contains("was already revoked at"), "{text}");
}
