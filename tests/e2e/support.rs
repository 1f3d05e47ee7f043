//! Shared harness: an isolated working directory per test and helpers to run gait in it.

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// A scratch directory that is the working directory, HOME and GAIT_HOME parent of every gait run.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating parent directories).
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Copies the fixed vector key pair into `keys/` with a private-key mode gait accepts.
    pub fn vector_keys(&self) -> (PathBuf, PathBuf) {
        let src = vectors_dir().join("keys");
        let private = self.write(
            "keys/vectors_private.key",
            std::fs::read(src.join("vectors_private.key")).unwrap(),
        );
        let public = self.write(
            "keys/vectors_public.key",
            std::fs::read(src.join("vectors_public.key")).unwrap(),
        );
        set_private_mode(&private);
        (private, public)
    }

    /// A gait command in this sandbox with a clean environment.
    pub fn gait(&self) -> Command {
        Command::from_std(self.std_gait())
    }

    /// [`Sandbox::gait`] as a plain `std::process::Command`, for spawning with custom descriptors.
    pub fn std_gait(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(gait_bin());
        cmd.current_dir(self.path());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GAIT_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("HOME", self.join("home"));
        cmd.env("GAIT_HOME", self.join("home/.gait"));
        cmd.env("TZ", "UTC");
        cmd
    }

    /// Runs gait with `args`; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.gait().args(args).output().expect("run gait");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs gait with `--json`-style args and parses stdout as exactly one JSON object.
    pub fn run_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let (code, stdout, stderr) = self.run(args);
        assert!(
            stderr.is_empty(),
            "stderr must stay empty with --json, got: {stderr}"
        );
        assert!(
            stdout.ends_with('\n') && stdout.matches('\n').count() == 1,
            "expected one JSON line, got: {stdout}"
        );
        let value: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"));
        assert!(value.is_object(), "stdout JSON must be an object: {stdout}");
        (code, value)
    }
}

pub fn gait_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin!("gait").to_path_buf()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn vectors_dir() -> PathBuf {
    repo_root().join("tests/vectors")
}

/// Reads a vectors JSONL file into records.
pub fn vector_records(name: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(vectors_dir().join(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn set_private_mode(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// insta filters that normalise what legitimately varies between runs.
pub fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            r#""correlation_id":"[0-9a-f]{24}""#,
            r#""correlation_id":"[CID]""#,
        ),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]"),
        (
            r#""(duration_ms|elapsed_ms|latency_ms)":[0-9.e-]+"#,
            r#""$1":[MS]"#,
        ),
    ]
}
