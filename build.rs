//! Link settings for the `gait` binary on Linux/glibc, where every command is one short process and
//! start-up is most of its wall time (measured in ARCHITECTURE.md, "Start-up").
//!
//! - `-no-pie`: a position-independent executable makes the dynamic loader apply ~20,000 relative
//!   relocations at every start and copy-on-write every page of `.data.rel.ro` they touch (~90
//!   pages): 0.19 ms of the 1.1 ms `gait version` took. A fixed-address executable needs none. The
//!   reference's Go binary is not PIE either; shared libraries, heap, stack and native plugins stay
//!   randomised. `GAIT_BUILD_PIE=1` keeps PIE for packagers whose policy requires it.
//! - libgcc's unwinder linked statically (`libgcc_eh.a`) instead of loading `libgcc_s.so`: one
//!   shared object fewer to map, relocate and initialise (its constructor runs `cpuid`, which traps
//!   to the hypervisor on virtual machines). rustc always asks for `-lgcc_s`; a directory searched
//!   first that holds `libgcc_eh.a` under that name answers it. Skipped when the C compiler cannot
//!   name `libgcc_eh.a`, so a toolchain without it still builds (with the shared unwinder).
//!
//! Native plugins are unaffected: they are separate shared objects loaded with `dlopen` and bring
//! their own dependencies.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GAIT_BUILD_PIE");
    println!("cargo:rerun-if-env-changed=CC");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" || target_env != "gnu" {
        return;
    }
    if env::var_os("GAIT_BUILD_PIE").is_none_or(|v| v != "1") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    if let Some(dir) = static_unwinder_dir() {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}

/// A directory holding a copy of the C compiler's `libgcc_eh.a` named `libgcc_s.a`.
fn static_unwinder_dir() -> Option<PathBuf> {
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // The compiler echoes the bare name back when it does not have the file.
    if !path.is_absolute() || !path.is_file() {
        return None;
    }
    println!("cargo:rerun-if-changed={}", path.display());
    let dir = Path::new(&env::var_os("OUT_DIR")?).join("static-unwinder");
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::copy(&path, dir.join("libgcc_s.a")).ok()?;
    Some(dir)
}
