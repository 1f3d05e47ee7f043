//! Where gait keeps things: the gait home directory and run-id resolution (CONTRACTS §1.2).

use std::path::{Path, PathBuf};

/// `GAIT_HOME` when set, else `~/.gait` (or `./.gait` when no home directory is known).
pub fn gait_home(gait_home_env: Option<String>) -> PathBuf {
    match gait_home_env {
        Some(v) if !v.trim().is_empty() => PathBuf::from(v.trim()),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(home_dir_fallback)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".gait"),
    }
}

#[cfg(windows)]
fn home_dir_fallback() -> Option<PathBuf> {
    std::env::var_os("USERPROFILE").map(PathBuf::from)
}

#[cfg(not(windows))]
fn home_dir_fallback() -> Option<PathBuf> {
    None
}

/// True when an argument names a file rather than a run id: it contains a path separator or ends `.zip`.
#[allow(dead_code)] // for the run-id commands (verify, run …), which land with the runpack work
pub fn looks_like_path(arg: &str) -> bool {
    arg.contains('/') || arg.contains('\\') || arg.ends_with(".zip")
}

/// Resolves a run id or path to a runpack: `./gait-out/runpack_<id>.zip`, then
/// `<gait home>/runpacks/runpack_<id>.zip`. Returns the first candidate when neither exists, so the
/// error names the path the user most likely meant.
#[allow(dead_code)] // for the run-id commands (verify, run …), which land with the runpack work
pub fn resolve_runpack(arg: &str, gait_home: &Path) -> PathBuf {
    if looks_like_path(arg) {
        return PathBuf::from(arg);
    }
    let local = PathBuf::from("./gait-out").join(format!("runpack_{arg}.zip"));
    if local.exists() {
        return local;
    }
    let home = gait_home
        .join("runpacks")
        .join(format!("runpack_{arg}.zip"));
    if home.exists() {
        return home;
    }
    local
}
