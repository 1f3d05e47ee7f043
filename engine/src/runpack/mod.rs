//! Runpacks: record, read, verify, replay, diff, reduce, inspect and migrate (CONTRACTS §3.2, §3.3, §3.8).
//!
//! A runpack is a deterministic zip of five entries — `manifest.json`, `run.json`, `intents.jsonl`,
//! `results.jsonl`, `refs.json` — each canonical JSON (JCS); the manifest lists the sha256 of the other
//! four and carries its own digest and optional signatures.

pub mod build;
pub mod context;
pub mod demo;
pub mod diff;
pub mod fields;
pub mod inspect;
pub mod migrate;
pub mod model;
pub mod read;
pub mod rebuild;
pub mod record;
pub mod reduce;
pub mod replay;
pub mod split;
pub mod verify;

pub use model::*;
pub use record::{CaptureMode, RecordOptions, Recorded, record};
pub use verify::{SignatureStatus, VerifyOptions, VerifyReport, verify_archive, verify_bytes};
