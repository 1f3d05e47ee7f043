//! `gait migrate`: rewrite a runpack in the current schema generation (v1).
//!
//! The source is verified first (a runpack that does not verify is not migrated: exit 2). Its records
//! are then re-recorded through the current pipeline, which fills what older writers left empty
//! (schema ids and versions, record defaults, receipt normalization, context fields) and recomputes
//! the manifest. For a runpack already written by the current format the content is unchanged and
//! `changed` is false. Source signatures cannot carry over (the manifest is rewritten); the copy is
//! signed only when a key is given.

use super::read::{self, RunpackFiles};
use super::rebuild::{Rebuild, rerecord};
use super::record::Recorded;
use crate::crypto::PrivateKey;
use crate::error::GaitError;

pub const TARGET_V1: &str = "v1";

pub struct Migrated {
    pub recorded: Recorded,
    pub source_manifest_digest: String,
    /// True when any entry's content differs from the source.
    pub changed: bool,
    pub source_was_signed: bool,
}

pub fn check_target(target: &str) -> Result<(), GaitError> {
    match target.trim() {
        "" | TARGET_V1 => Ok(()),
        other => Err(GaitError::invalid(format!(
            "unsupported migration target {}",
            crate::canon::go_quote(other)
        ))
        .with_hint("the only target is v1")),
    }
}

/// Re-records verified runpack content. The caller verifies the source first.
pub fn migrate(
    files: &RunpackFiles,
    key: Option<&PrivateKey>,
    producer_version: &str,
) -> Result<Migrated, GaitError> {
    let rp = files.parse()?;
    let intent_lines = read::lines(&files.intents);
    let result_lines = read::lines(&files.results);
    let recorded = rerecord(&Rebuild {
        run: &rp.run,
        intent_lines: &intent_lines,
        result_lines: &result_lines,
        refs: &rp.refs,
        capture_mode: &rp.manifest.capture_mode,
        run_id: None,
        signing_key: key,
        producer_version,
    })?;
    let new_files = read::read_files(&read::open_archive(recorded.zip.clone())?)?;
    let changed = new_files.run != files.run
        || new_files.intents != files.intents
        || new_files.results != files.results
        || new_files.refs != files.refs;
    Ok(Migrated {
        source_manifest_digest: rp.manifest.manifest_digest.clone(),
        source_was_signed: !rp.manifest.signatures.is_empty(),
        changed,
        recorded,
    })
}
