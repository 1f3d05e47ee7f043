//! Computes `GAIT_GATE_BUILD_ID`: a sha256 over the sources that decide what a compiled policy
//! means — this crate's sources and manifest, the engine's sources (canon, time parsing) and the
//! workspace lockfile (serde and friends). The compiled-policy cache binds every entry to it, so a
//! rebuild with changed sources never reuses entries written by another build, even when the
//! crate version did not change.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut files = Vec::new();
    let mut dirs = vec![root.join("src")];
    let engine = root.join("../engine/src");
    if engine.is_dir() {
        dirs.push(engine);
    }
    for dir in &dirs {
        collect(dir, &mut files);
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    for extra in [
        "Cargo.toml",
        "build.rs",
        "../engine/Cargo.toml",
        "../Cargo.lock",
    ] {
        let path = root.join(extra);
        if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
            files.push(path);
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    hasher.update(std::env::var("CARGO_PKG_VERSION").unwrap_or_default());
    hasher.update([0]);
    hasher.update(std::env::var("TARGET").unwrap_or_default());
    hasher.update([0]);
    for path in &files {
        let rel = path.strip_prefix(&root).unwrap_or(path);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        let bytes = std::fs::read(path).unwrap_or_default();
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    println!(
        "cargo:rustc-env=GAIT_GATE_BUILD_ID={}",
        hex::encode(hasher.finalize())
    );
}
