//! A plugin home with a trusted publisher key and a file registry, for the host's tests.

#![allow(dead_code)]

use gait_engine::GoTime;
use gait_engine::crypto::PrivateKey;
use gait_host::PluginHost;
use gait_registry::authoring::{self, ApiDependency, IndexOptions, Packed, Template};
use gait_registry::install::{self, InstallRequest, Installed};
use gait_registry::resolve::parse_wanted;
use gait_registry::source::FetchSettings;
use gait_registry::trust::TrustStore;
use std::path::{Path, PathBuf};

pub fn now() -> GoTime {
    GoTime::parse("2026-06-01T12:00:00Z").unwrap()
}

pub struct Home {
    pub dir: tempfile::TempDir,
    pub key: PrivateKey,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    /// A gait home trusting `key` (seed 7) and an empty registry `reg/`.
    pub fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            dir,
            key: PrivateKey::from_seed(&[7; 32]),
        };
        let path = home.host().home().trust_path();
        let mut store = TrustStore::load(&path).unwrap();
        store.add(&home.key.public(), "test", now()).unwrap();
        store.save(&path).unwrap();
        std::fs::create_dir_all(home.path("reg")).unwrap();
        home
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn gait_home(&self) -> PathBuf {
        self.path("gait-home")
    }

    /// A fresh host, as a new gait process would have.
    pub fn host(&self) -> PluginHost {
        PluginHost::new(&self.gait_home())
    }

    /// Scaffolds `template` as `name`@`version`, optionally replacing the entry script, packs and
    /// signs it into the registry.
    pub fn publish(
        &self,
        template: Template,
        name: &str,
        version: &str,
        script: Option<&str>,
    ) -> Packed {
        let src = self.path(&format!("src/{name}-{version}"));
        authoring::scaffold(template, name, &src, &ApiDependency::Git("unused".into())).unwrap();
        let source_path = src.join(authoring::SOURCE_FILE);
        let mut source: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&source_path).unwrap()).unwrap();
        source["version"] = version.into();
        let entry = source["entry"].as_str().unwrap().to_string();
        std::fs::write(&source_path, serde_json::to_vec_pretty(&source).unwrap()).unwrap();
        if let Some(text) = script {
            std::fs::write(src.join(&entry), text).unwrap();
        }
        self.pack_and_sign(&src, name, version)
    }

    /// Writes a source directory from files (`gait-plugin.json` included), packs and signs it.
    pub fn publish_files(&self, name: &str, version: &str, files: &[(&str, &str)]) -> Packed {
        let src = self.path(&format!("src/{name}-{version}"));
        for (rel, text) in files {
            let p = src.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        self.pack_and_sign(&src, name, version)
    }

    fn pack_and_sign(&self, src: &Path, name: &str, version: &str) -> Packed {
        let out = self.path(&format!("reg/{name}-{version}"));
        let packed = authoring::pack(src, Some(&out), None).unwrap();
        authoring::sign(&out, &self.key).unwrap();
        packed
    }

    /// Indexes the registry (next version) and installs `spec` from it.
    pub fn install(&self, spec: &str) -> Installed {
        self.try_install(spec).unwrap()
    }

    pub fn try_install(&self, spec: &str) -> Result<Installed, gait_engine::GaitError> {
        authoring::build_index(
            &self.path("reg"),
            &self.key,
            &IndexOptions {
                version: None,
                ttl_nanos: 30 * 86_400 * 1_000_000_000,
                registry_name: "test".into(),
                now: now(),
            },
        )
        .unwrap();
        install::install(
            self.host().home(),
            &InstallRequest {
                registry: self.path("reg").display().to_string(),
                wanted: parse_wanted(spec).unwrap(),
                locked: None,
                settings: FetchSettings::default(),
            },
            now(),
        )
    }

    /// Revokes the publisher key.
    pub fn revoke(&self) {
        let path = self.host().home().trust_path();
        let mut store = TrustStore::load(&path).unwrap();
        store
            .revoke(&self.key.public().key_id(), "test", now())
            .unwrap();
        store.save(&path).unwrap();
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds the example native plugin with the workspace (this test binary's profile and target
/// directory) once per process; returns the library's path.
pub fn example_library() -> PathBuf {
    static LIB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LIB.get_or_init(|| {
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

impl Home {
    /// Packs and signs the example native plugin into the registry.
    pub fn publish_native(&self) -> Packed {
        let out = self.path("reg/example-native-0.1.0");
        let packed = authoring::pack(
            &repo_root().join("plugins/examples/native"),
            Some(&out),
            Some(&example_library()),
        )
        .unwrap();
        authoring::sign(&out, &self.key).unwrap();
        packed
    }
}
