//! `gait regress init` / `add`: a verified runpack becomes a fixture.
//!
//! The source runpack is verified (a runpack that fails verification never becomes a fixture:
//! exit 2), copied byte for byte to `fixtures/<name>/runpack.zip`, given a `fixture.json` with the
//! default expectations, and registered in `gait.yaml` (created if absent; its other fixtures,
//! fixture set name and script graders are kept). Files are written atomically, `gait.yaml` last.

use super::config::{
    Config, ConfigFixture, DEFAULT_FIXTURE_SET, FIXTURE_RUNPACK, FixtureSpec, MAX_CONFIG_BYTES,
    fixture_name_for, valid_name,
};
use crate::error::GaitError;
use crate::fsx::{self, FsError};
use crate::runpack::read::open_archive;
use crate::runpack::record::runpack_limits;
use crate::runpack::verify::{VerifyOptions, verify_archive};
use serde::Serialize;
use std::path::Path;

/// What to turn into a fixture, and where.
pub struct InitRequest<'a> {
    /// The source runpack (already resolved from a run id or path).
    pub source: &'a Path,
    /// `--name`; by default the sanitized run id.
    pub name: Option<&'a str>,
    /// The directory holding `gait.yaml` and `fixtures/`.
    pub base_dir: &'a Path,
    /// Replace a fixture of the same name (`init`), or refuse to (`add`).
    pub replace: bool,
}

/// What was written. Paths are relative to the base directory, as `gait.yaml` records them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InitReport {
    pub fixture_name: String,
    pub run_id: String,
    pub fixture_dir: String,
    pub runpack: String,
    pub fixture_path: String,
    pub config_path: String,
    /// Whether an existing fixture of that name was replaced.
    pub replaced: bool,
}

pub const CONFIG_FILE: &str = "gait.yaml";
pub const FIXTURES_DIR: &str = "fixtures";

pub fn init_fixture(req: &InitRequest<'_>) -> Result<InitReport, GaitError> {
    let shown = req.source.display().to_string();
    let bytes = fsx::read_bounded(req.source, runpack_limits().max_archive_bytes).map_err(|e| {
        let missing = matches!(e, FsError::NotFound { .. });
        let err = GaitError::from(e);
        if missing {
            err.with_hint(
                "pass a run id (./gait-out/runpack_<id>.zip, then <gait home>/runpacks/) or a runpack path; `gait demo` writes run_demo",
            )
        } else {
            err
        }
    })?;
    let archive = open_archive(bytes.clone())?;
    let report = verify_archive(&archive, &VerifyOptions::default())?;
    if !report.ok {
        let mut problems = Vec::new();
        if !report.missing_files.is_empty() {
            problems.push(format!("missing files {}", report.missing_files.join(", ")));
        }
        if !report.hash_mismatches.is_empty() {
            let names: Vec<&str> = report
                .hash_mismatches
                .iter()
                .map(|m| m.path.as_str())
                .collect();
            problems.push(format!("hash mismatches in {}", names.join(", ")));
        }
        if !report.undeclared_files.is_empty() {
            problems.push(format!(
                "undeclared entries {}",
                report.undeclared_files.join(", ")
            ));
        }
        if !report.signature_errors.is_empty() {
            problems.push(report.signature_errors.join("; "));
        }
        return Err(GaitError::verification(format!(
            "runpack {shown} failed verification: {}",
            problems.join("; ")
        ))
        .with_hint(format!(
            "run `gait verify {shown}` for details; only intact runpacks become fixtures"
        )));
    }
    let run_id = report.run_id.clone();
    let name = match req.name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if valid_name(n) => n.to_string(),
        Some(n) => {
            return Err(GaitError::invalid(format!(
                "invalid fixture name {n:?}: names match ^[a-z0-9][a-z0-9._-]*$"
            ))
            .with_hint("e.g. --name incident_42"));
        }
        None => fixture_name_for(&run_id),
    };

    let rel_dir = format!("{FIXTURES_DIR}/{name}");
    let dir = req.base_dir.join(&rel_dir);
    let config_path = req.base_dir.join(CONFIG_FILE);
    // gait.yaml is read, changed and written back: concurrent `regress add`s (parallel CI jobs)
    // would each write their own fixture list and lose the others'. The reference's lock
    // protocol (`gait.yaml.lock`) makes the read-modify-write, and the existence check, atomic.
    let _lock = fsx::acquire_lock(&config_path, fsx::LockSettings::default())?;
    let fixture_path = dir.join("fixture.json");
    let existed = fixture_path.exists() || dir.join(FIXTURE_RUNPACK).exists();
    if existed && !req.replace {
        return Err(
            GaitError::invalid(format!("fixture {name:?} already exists in {rel_dir}")).with_hint(
                "pass --name to add it under another name, or `gait regress init` to replace it",
            ),
        );
    }

    let mut config = match fsx::read_bounded(&config_path, MAX_CONFIG_BYTES) {
        Ok(text) => Config::parse(&text, CONFIG_FILE)?,
        Err(FsError::NotFound { .. }) => Config::new(DEFAULT_FIXTURE_SET),
        Err(e) => return Err(e.into()),
    };

    fsx::write_atomic(&dir.join(FIXTURE_RUNPACK), &bytes, 0o644)?;
    fsx::write_atomic(
        &fixture_path,
        &FixtureSpec::new(&name, &run_id).to_bytes()?,
        0o644,
    )?;
    let runpack_rel = format!("{rel_dir}/{FIXTURE_RUNPACK}");
    config.upsert(ConfigFixture {
        name: name.clone(),
        run_id: run_id.clone(),
        runpack: runpack_rel.clone(),
    });
    fsx::write_atomic(&config_path, &config.to_bytes()?, 0o644)?;
    Ok(InitReport {
        fixture_name: name,
        run_id,
        fixture_dir: rel_dir.clone(),
        runpack: runpack_rel,
        fixture_path: format!("{rel_dir}/fixture.json"),
        config_path: CONFIG_FILE.to_string(),
        replaced: existed,
    })
}
