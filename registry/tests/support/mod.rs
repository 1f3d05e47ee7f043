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
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

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

/// A loopback https (or plain http) file server over a directory, with a fresh CA.
pub struct TestServer {
    pub port: u16,
    pub ca_pem: String,
    /// Requests received.
    pub hits: Arc<AtomicUsize>,
    /// Requests still to answer with 503 before serving files.
    pub fail_next: Arc<AtomicUsize>,
}

impl TestServer {
    pub fn https(root: &Path) -> TestServer {
        Self::start(root, true)
    }

    pub fn http(root: &Path) -> TestServer {
        Self::start(root, false)
    }

    fn start(root: &Path, tls: bool) -> TestServer {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![leaf.der().clone()],
                    rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
                )
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let fail_next = Arc::new(AtomicUsize::new(0));
        let (h, f, root) = (hits.clone(), fail_next.clone(), root.to_path_buf());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (h, f, root, config) = (h.clone(), f.clone(), root.clone(), config.clone());
                std::thread::spawn(move || {
                    if tls {
                        let Ok(conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(conn, stream), &root, &h, &f);
                    } else {
                        serve(stream, &root, &h, &f);
                    }
                });
            }
        });
        TestServer {
            port,
            ca_pem: ca_cert.pem(),
            hits,
            fail_next,
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

fn serve<S: std::io::Read + Write>(
    stream: S,
    root: &Path,
    hits: &AtomicUsize,
    fail_next: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return; // e.g. a TLS handshake the client refused
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let failing = fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let file = root.join(path.trim_start_matches('/'));
    let (status, body) = if failing {
        ("503 Service Unavailable", b"busy".to_vec())
    } else {
        match std::fs::read(&file) {
            Ok(b) if !path.contains("..") => ("200 OK", b),
            _ => ("404 Not Found", b"not found".to_vec()),
        }
    };
    let stream = reader.get_mut();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}
