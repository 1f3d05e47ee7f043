//! Reading runpacks back: the bounded zip, the five entries, and their records.

use super::fields::{self, RecordFields, RecordKind};
use super::model::*;
use crate::canon::{self, ParseOptions};
use crate::error::GaitError;
use crate::zipx::{Archive, ZipxError};
use rayon::prelude::*;

/// A zip-level failure as the user sees it: verification failed (exit 2) with a stable code.
pub fn zip_error(e: ZipxError) -> GaitError {
    let hint =
        "the runpack is damaged or was not written by gait; re-record it or obtain an intact copy";
    match e {
        ZipxError::Duplicate => GaitError::verification(
            "runpack contains duplicate zip entries; refusing an ambiguous archive",
        )
        .with_code("runpack_duplicate_entries")
        .with_hint(hint),
        other => GaitError::verification(format!("invalid runpack: {other}"))
            .with_code(other.code())
            .with_hint(hint),
    }
}

/// Opens runpack bytes with the runpack zip limits.
pub fn open_archive(bytes: Vec<u8>) -> Result<Archive, GaitError> {
    Archive::open(bytes, super::record::runpack_limits()).map_err(zip_error)
}

/// The raw bytes of a runpack's five entries.
#[derive(Clone, Debug)]
pub struct RunpackFiles {
    pub manifest: Vec<u8>,
    pub run: Vec<u8>,
    pub intents: Vec<u8>,
    pub results: Vec<u8>,
    pub refs: Vec<u8>,
}

/// A runpack's parsed content; records borrow from [`RunpackFiles`].
#[derive(Debug)]
pub struct Runpack<'a> {
    pub manifest: Manifest,
    pub run: Run,
    pub intents: Vec<RecordFields<'a>>,
    pub results: Vec<RecordFields<'a>>,
    pub refs: Refs,
}

fn entry_error(name: &str, msg: impl std::fmt::Display) -> GaitError {
    GaitError::verification(format!("runpack entry {name}: {msg}"))
        .with_code("runpack_parse_error")
        .with_hint("run `gait verify` on the runpack to see what is damaged")
}

/// Reads the five entries (in parallel for big runpacks).
pub fn read_files(archive: &Archive) -> Result<RunpackFiles, GaitError> {
    let names = [
        FILE_MANIFEST,
        FILE_RUN,
        FILE_INTENTS,
        FILE_RESULTS,
        FILE_REFS,
    ];
    let mut out = Vec::with_capacity(5);
    for (name, res) in names.iter().zip(archive.read_many(&names)) {
        match res.map_err(zip_error)? {
            Some(bytes) => out.push(bytes),
            None => {
                return Err(
                    GaitError::verification(format!("runpack is missing {name}"))
                        .with_code("runpack_missing_files")
                        .with_hint("run `gait verify` on the runpack for details"),
                );
            }
        }
    }
    let mut it = out.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(RunpackFiles {
        manifest: next(),
        run: next(),
        intents: next(),
        results: next(),
        refs: next(),
    })
}

/// Decodes `manifest.json` strictly (duplicate keys are refused) into the manifest struct.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, GaitError> {
    let parsed = canon::parse(bytes, ParseOptions::recorded_payload())
        .map_err(|e| entry_error(FILE_MANIFEST, e))?;
    if !matches!(parsed.node, canon::Node::Obj(_)) {
        return Err(entry_error(FILE_MANIFEST, "expected a JSON object"));
    }
    serde_json::from_value(parsed.node.to_value()).map_err(|e| entry_error(FILE_MANIFEST, e))
}

fn parse_object<T: serde::de::DeserializeOwned>(bytes: &[u8], name: &str) -> Result<T, GaitError> {
    let parsed =
        canon::parse(bytes, ParseOptions::recorded_payload()).map_err(|e| entry_error(name, e))?;
    if !matches!(parsed.node, canon::Node::Obj(_)) {
        return Err(entry_error(name, "expected a JSON object"));
    }
    serde_json::from_value(parsed.node.to_value()).map_err(|e| entry_error(name, e))
}

/// Splits a JSONL entry into its non-empty lines.
pub fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect()
}

/// Parses every line of a JSONL entry into records.
pub fn parse_records<'a>(
    bytes: &'a [u8],
    kind: RecordKind,
    name: &str,
) -> Result<Vec<RecordFields<'a>>, GaitError> {
    let lines = lines(bytes);
    let one = |(i, line): (usize, &&'a [u8])| {
        let parsed = canon::parse(line, ParseOptions::recorded_payload())
            .map_err(|e| entry_error(name, format!("line {}: {e}", i + 1)))?;
        fields::decode_record(parsed.node, kind, &format!("line {}", i + 1))
            .map_err(|e| entry_error(name, e))
    };
    let results: Vec<Result<RecordFields<'a>, GaitError>> = if lines.len() >= 256 {
        lines.par_iter().enumerate().map(one).collect()
    } else {
        lines.iter().enumerate().map(one).collect()
    };
    results.into_iter().collect()
}

impl RunpackFiles {
    pub fn parse(&self) -> Result<Runpack<'_>, GaitError> {
        Ok(Runpack {
            manifest: parse_manifest(&self.manifest)?,
            run: parse_object(&self.run, FILE_RUN)?,
            intents: parse_records(&self.intents, RecordKind::Intent, FILE_INTENTS)?,
            results: parse_records(&self.results, RecordKind::Result, FILE_RESULTS)?,
            refs: parse_object(&self.refs, FILE_REFS)?,
        })
    }
}
