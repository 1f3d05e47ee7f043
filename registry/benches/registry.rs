//! Registry benchmarks (numbers in the report, not asserted anywhere):
//! - `plugin_install_local/{rhai,native}`: install from a directory registry (index + signature +
//!   manifest + files + staging + pin), then remove, so every iteration really installs;
//! - `registry_pack_install_local`: the reference's registry-pack install (its InstallLocalTypical);
//! - `native_verify`: verifying an installed native plugin (pin, signature, API, sha256 of the library);
//! - `native_load_verify`: the same plus copying into a sealed memory file and loading it. abi_stable
//!   never unloads, so each iteration maps one more copy: the sample is kept small on purpose.

use criterion::{Criterion, criterion_group, criterion_main};
use gait_engine::GoTime;
use gait_engine::crypto::PrivateKey;
use gait_registry::authoring::{self, ApiDependency, IndexOptions, Template};
use gait_registry::install::{self, InstallRequest};
use gait_registry::loader::{LoadOptions, load_native};
use gait_registry::regpack;
use gait_registry::resolve::parse_wanted;
use gait_registry::source::FetchSettings;
use gait_registry::store::PluginHome;
use gait_registry::trust::TrustStore;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn now() -> GoTime {
    GoTime::parse("2026-06-01T12:00:00Z").unwrap()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds the example plugin in this bench's profile and target directory.
fn example_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "gait-example-native",
        "--target-dir",
    ])
    .arg(profile_dir.parent().unwrap())
    .current_dir(repo_root());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    assert!(cmd.status().unwrap().success());
    profile_dir.join(format!(
        "{}gait_example_native{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

struct Setup {
    _dir: tempfile::TempDir,
    home: PluginHome,
    registry: PathBuf,
    root: PathBuf,
    key: PrivateKey,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let home = PluginHome::new(&root.join("home"));
    let key = PrivateKey::from_seed(&[1; 32]);
    let mut trust = TrustStore::default();
    trust.add(&key.public(), "bench", now()).unwrap();
    std::fs::create_dir_all(home.root()).unwrap();
    trust.save(&home.trust_path()).unwrap();
    let registry = root.join("reg");
    let src = root.join("src");
    authoring::scaffold(
        Template::RhaiGrader,
        "max-intents",
        &src,
        &ApiDependency::Git("x".into()),
    )
    .unwrap();
    let out = registry.join("max-intents-0.1.0");
    authoring::pack(&src, Some(&out), None).unwrap();
    authoring::sign(&out, &key).unwrap();
    let native = registry.join("example-native-0.1.0");
    authoring::pack(
        &repo_root().join("plugins/examples/native"),
        Some(&native),
        Some(&example_library()),
    )
    .unwrap();
    authoring::sign(&native, &key).unwrap();
    authoring::build_index(
        &registry,
        &key,
        &IndexOptions {
            version: None,
            ttl_nanos: 30 * 86_400 * 1_000_000_000,
            registry_name: "bench".into(),
            now: now(),
        },
    )
    .unwrap();
    Setup {
        _dir: dir,
        home,
        registry,
        root,
        key,
    }
}

fn request(s: &Setup, name: &str) -> InstallRequest {
    InstallRequest {
        registry: s.registry.display().to_string(),
        wanted: parse_wanted(name).unwrap(),
        locked: None,
        settings: FetchSettings::default(),
    }
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("plugin_install_local");
    for name in ["max-intents", "example-native"] {
        let req = request(&s, name);
        let label = if name == "max-intents" {
            "rhai"
        } else {
            "native"
        };
        group.bench_function(label, |b| {
            b.iter(|| {
                let got = install::install(&s.home, &req, now()).unwrap();
                assert!(!got.unchanged);
                install::remove(&s.home, name).unwrap();
            })
        });
    }
    group.finish();

    // The reference's registry pack, installed into a cache directory.
    let pack_dir = s.root.join("regpack");
    std::fs::create_dir_all(&pack_dir).unwrap();
    let body = serde_json::json!({
        "schema_id": "gait.registry.pack", "schema_version": "1.0.0",
        "created_at": "2026-02-01T00:00:00Z", "producer_version": "0.0.0-dev",
        "pack_name": "baseline", "pack_version": "1.0.0", "pack_type": "policy",
        "publisher": "acme", "source": "registry",
        "artifacts": [{"path": "policy.yaml", "sha256": "a".repeat(64)}]
    });
    let digest = regpack::decode(&serde_json::to_vec(&body).unwrap())
        .unwrap()
        .digest()
        .unwrap();
    let sig = s.key.sign_digest(&digest).unwrap();
    let mut signed = body.clone();
    signed["signatures"] = serde_json::json!([sig]);
    let pack_path = pack_dir.join("pack.json");
    std::fs::write(&pack_path, serde_json::to_vec(&signed).unwrap()).unwrap();
    let opts = regpack::InstallOptions {
        source: pack_path.display().to_string(),
        cache_dir: pack_dir.join("cache"),
        public_key: Some(s.key.public()),
        publisher_allowlist: vec![],
        pin: None,
        allow_cached_fallback: false,
        fetch: FetchSettings::default(),
    };
    c.bench_function("registry_pack_install_local", |b| {
        b.iter(|| regpack::install(&opts).unwrap())
    });

    install::install(&s.home, &request(&s, "example-native"), now()).unwrap();
    c.bench_function("native_verify", |b| {
        b.iter(|| {
            let trust = TrustStore::load(&s.home.trust_path()).unwrap();
            let pin = s.home.require_pin("example-native").unwrap();
            install::verify_pin(&s.home, &trust, &pin, true).unwrap()
        })
    });
    let mut small = c.benchmark_group("native_load");
    small
        .sample_size(10)
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(Duration::from_millis(300));
    small.bench_function("load_verify", |b| {
        b.iter(|| load_native(&s.home, "example-native", LoadOptions::default()).unwrap())
    });
    small.finish();
}

criterion_group!(registry, benches);
criterion_main!(registry);
