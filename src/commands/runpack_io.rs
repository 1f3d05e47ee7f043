//! Shared plumbing for runpack commands: resolving a run id or path, reading the zip, writing one.

use crate::cli::{Ctx, Parsed, paths};
use gait_engine::crypto::{KeyMode, PrivateKey};
use gait_engine::fsx::{self, FsError};
use gait_engine::runpack::record::runpack_limits;
use gait_engine::zipx::Archive;
use gait_engine::{GaitError, runpack};
use std::path::{Path, PathBuf};

/// A runpack read from disk: the path as the user sees it, and the checked archive.
pub struct Loaded {
    pub path: String,
    pub archive: Archive,
}

/// Resolves `arg` (run id or path; CONTRACTS §1.2) and opens the runpack with the reader caps.
pub fn load(ctx: &Ctx, arg: &str) -> Result<Loaded, GaitError> {
    let path = paths::resolve_runpack(arg, &ctx.gait_home());
    let display = path.display().to_string();
    if path.is_dir() {
        return Err(
            GaitError::invalid(format!("{display} is a directory, not a runpack zip"))
                .with_hint("pass a runpack_<run_id>.zip file or a run id"),
        );
    }
    let bytes = fsx::read_bounded(&path, runpack_limits().max_archive_bytes).map_err(|e| {
        let not_found = matches!(e, FsError::NotFound { .. });
        let err = GaitError::from(e);
        if not_found && !paths::looks_like_path(arg) {
            err.with_hint(format!(
                "run ids resolve to ./gait-out/runpack_{arg}.zip, then <gait home>/runpacks/runpack_{arg}.zip; run `gait demo` for run_demo, or pass a path"
            ))
        } else if not_found {
            err.with_hint("check the runpack path")
        } else {
            err
        }
    })?;
    Ok(Loaded {
        path: display,
        archive: runpack::read::open_archive(bytes)?,
    })
}

/// The single positional argument of a command, or a usage error.
pub fn one_positional(p: &Parsed, what: &str) -> Result<String, GaitError> {
    match p.positionals.as_slice() {
        [one] if !one.trim().is_empty() => Ok(one.clone()),
        [] => Err(GaitError::invalid(format!("missing required {what}"))
            .with_hint("pass a run id (e.g. run_demo) or a runpack path")),
        _ => Err(
            GaitError::invalid(format!("expected one {what}, got {}", p.positionals.len()))
                .with_hint("pass a single run id or runpack path"),
        ),
    }
}

/// `--from X`, or the single positional when `--from` is absent.
pub fn from_or_positional(p: &Parsed, what: &str) -> Result<String, GaitError> {
    match (p.opt("from"), p.positionals.as_slice()) {
        (Some(from), []) => Ok(from.trim().to_string()),
        (Some(_), _) => Err(GaitError::invalid(
            "pass the runpack either with --from or as an argument, not both",
        )
        .with_hint("e.g. --from run_demo")),
        (None, _) => one_positional(p, what).map_err(|e| e.with_hint("pass --from <run_id|path>")),
    }
}

/// Refuses relative output paths that climb out of the working directory (the reference's guard).
pub fn check_output_path(path: &Path, flag: &str) -> Result<(), GaitError> {
    if fsx::is_traversing(path) {
        return Err(
            GaitError::invalid(format!("{flag} {} must not contain '..'", path.display()))
                .with_hint("write artifacts below the working directory or pass an absolute path"),
        );
    }
    Ok(())
}

/// `<out_dir>/runpack_<run_id>.zip`, written atomically (0600; re-derivable, so not fsynced).
pub fn write_runpack(out_dir: &str, run_id: &str, zip: &[u8]) -> Result<String, GaitError> {
    let dir = PathBuf::from(out_dir.trim());
    check_output_path(&dir, "--out-dir")?;
    let path = dir.join(format!("runpack_{run_id}.zip"));
    // Runpacks are deterministic: the same run gives the same bytes, already on disk after a rerun.
    fsx::write_atomic_if_changed(&path, zip, 0o600)?;
    Ok(path.display().to_string())
}

/// Writes a derived artifact (runpack, diff, report) to a user-given path atomically.
pub fn write_output(path: &str, bytes: &[u8], flag: &str) -> Result<String, GaitError> {
    let p = PathBuf::from(path.trim());
    check_output_path(&p, flag)?;
    fsx::write_atomic_unsynced(&p, bytes, 0o600)?;
    Ok(p.display().to_string())
}

/// The signing key for runpack writers: unsigned unless a key is given; `--key-mode prod` requires one.
pub fn signing_key(ctx: &Ctx, p: &Parsed) -> Result<Option<PrivateKey>, GaitError> {
    let mode = KeyMode::parse(&p.str("key-mode"))?;
    let source = ctx.key_source(p, "private-key", "private-key-env")?;
    match (mode, source.is_set()) {
        (_, true) => Ok(Some(source.load_private()?)),
        (KeyMode::Prod, false) => Err(GaitError::invalid("private key not configured")
            .with_hint("--key-mode prod needs --private-key FILE or --private-key-env VAR")),
        (KeyMode::Dev, false) => Ok(None),
    }
}
