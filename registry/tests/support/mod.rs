//! Shared harness for the registry's integration tests: a plugin home with a trusted key, a file
//! registry to publish into, the example native plugin built with the workspace, and a loopback
//! https server with its own CA.

#![allow(dead_code)]

use gait_engine::GoTime;
use gait_engine::crypto::PrivateKey;
use gait_registry::authoring::{self, ApiDependency, IndexOptions, Packed, Template};
use gait_registry::index::RegistryIndex;
use gait_registry::install::{self, InstallRequest, Installed};
use gait_registry::resolve::parse_wanted;
use gait_registry::source::FetchSettings;
use gait_registry::store::PluginHome;
use gait_registry::trust::TrustStore;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The fixed "now" of these tests; indexes are built to expire 30 days later.
pub fn now() -> GoTime {
    GoTime::parse("2026-06-01T12:00:00Z").unwrap()
}

pub const DAY_NANOS: i128 = 86_400 * 1_000_000_000;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub home: PluginHome,
    pub key: PrivateKey,
}

impl Fixture {
    /// A plugin home that trusts `key` (seed 1) and an empty registry folder `reg/`.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let home = PluginHome::new(&dir.path().join("gait-home"));
        let key = PrivateKey::from_seed(&[1; 32]);
        let fx = Fixture { dir, home, key };
        fx.trust(&fx.key);
        std::fs::create_dir_all(fx.registry()).unwrap();
        fx
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn registry(&self) -> PathBuf {
        self.path("reg")
    }

    pub fn trust(&self, key: &PrivateKey) {
        let path = self.home.trust_path();
        let mut store = TrustStore::load(&path).unwrap();
        store.add(&key.public(), "test", now()).unwrap();
        store.save(&path).unwrap();
    }

    pub fn trust_store(&self) -> TrustStore {
        TrustStore::load(&self.home.trust_path()).unwrap()
    }

    /// Scaffolds, packs and signs a Rhai grader `name`@`version` into `reg/<name>-<version>`.
    pub fn publish_rhai(&self, name: &str, version: &str, signer: &PrivateKey) -> Packed {
        self.publish_rhai_with(name, version, signer, |_| {})
    }

    /// As `publish_rhai`, letting `edit` change the source `gait-plugin.json` first.
    pub fn publish_rhai_with(
        &self,
        name: &str,
        version: &str,
        signer: &PrivateKey,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> Packed {
        let src = self.path(&format!("src/{name}-{version}"));
        if !src.exists() {
            authoring::scaffold(
                Template::RhaiGrader,
                name,
                &src,
                &ApiDependency::Git("unused".into()),
            )
            .unwrap();
        }
        let source_path = src.join(authoring::SOURCE_FILE);
        let mut source: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&source_path).unwrap()).unwrap();
        source["version"] = version.into();
        edit(&mut source);
        std::fs::write(&source_path, serde_json::to_vec_pretty(&source).unwrap()).unwrap();
        let out = self.registry().join(format!("{name}-{version}"));
        let packed = authoring::pack(&src, Some(&out), None).unwrap();
        authoring::sign(&out, signer).unwrap();
        packed
    }

    /// Packs and signs the example native plugin into `reg/example-native-<version>`.
    pub fn publish_native(&self, signer: &PrivateKey) -> Packed {
        let src = repo_root().join("plugins/examples/native");
        let out = self.registry().join("example-native-0.1.0");
        let packed = authoring::pack(&src, Some(&out), Some(&example_library())).unwrap();
        authoring::sign(&out, signer).unwrap();
        packed
    }

    /// Builds and signs `reg/index.json` (next version, 30 days of validity from `now()`).
    pub fn index(&self) -> RegistryIndex {
        self.index_at(now(), 30 * DAY_NANOS)
    }

    pub fn index_at(&self, at: GoTime, ttl_nanos: i128) -> RegistryIndex {
        authoring::build_index(
            &self.registry(),
            &self.key,
            &IndexOptions {
                version: None,
                ttl_nanos,
                registry_name: "test".into(),
                now: at,
            },
        )
        .unwrap()
        .0
    }

    pub fn request(&self, spec: &str) -> InstallRequest {
        InstallRequest {
            registry: self.registry().display().to_string(),
            wanted: parse_wanted(spec).unwrap(),
            locked: None,
            settings: FetchSettings::default(),
        }
    }

    pub fn install(&self, spec: &str) -> Result<Installed, gait_engine::GaitError> {
        install::install(&self.home, &self.request(spec), now())
    }

    /// Nothing installed: no pins, nothing in the store, no staging leftovers.
    pub fn assert_nothing_installed(&self) {
        assert!(self.home.pins().unwrap().is_empty(), "a pin was written");
        for sub in ["store", ".staging"] {
            let d = self.home.root().join(sub);
            if let Ok(rd) = std::fs::read_dir(&d) {
                let left: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                assert!(left.is_empty(), "{sub} is not empty: {left:?}");
            }
        }
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds the example native plugin with the workspace (same profile and target directory as this
/// test binary) once per process and returns the library's path.
pub fn example_library() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // <target>/<profile>/deps/<test binary>
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
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
        .current_dir(repo_root());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo build");
        assert!(
            out.status.success(),
            "building the example plugin failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lib = profile_dir.join(format!(
            "{}gait_example_native{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ));
        assert!(lib.is_file(), "{} was not built", lib.display());
        lib
    })
    .clone()
}

/// The loopback https server, shared with the binary's end-to-end tests.
#[path = "../../../tests/e2e/tls_server.rs"]
mod tls_server;
#[allow(unused_imports)] // not every test crate serves https
pub use tls_server::TestServer;
