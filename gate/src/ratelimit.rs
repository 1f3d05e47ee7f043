//! Rate limits and destructive budgets: counters shared by every gate process in a state file
//! (`gait.gate.rate_limit_state`, default `.gait-out/gate_rate_limits.json`), updated under the
//! reference's `<state>.lock` protocol so concurrent processes — ours or the reference's — lose no
//! count.
//!
//! A counter's key is `window|scope|bucket|scope_key`; the bucket is the evaluation time truncated
//! to the window (RFC3339 seconds, UTC), so counts reset when the window rolls over. Counters of past
//! windows are dropped when the file is rewritten.

use gait_engine::error::Category;
use gait_engine::{GaitError, GoTime, fsx};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const RATE_LIMIT_SCHEMA_ID: &str = "gait.gate.rate_limit_state";
pub const RATE_LIMIT_SCHEMA_VERSION: &str = "1.0.0";
/// The default state file, relative to the working directory.
pub const DEFAULT_STATE_PATH: &str = ".gait-out/gate_rate_limits.json";
const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub count: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitState {
    #[serde(default)]
    pub schema_id: String,
    #[serde(default)]
    pub schema_version: String,
    #[serde(default)]
    pub counters: Vec<Counter>,
}

/// The result of consuming one unit of a limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumed {
    pub allowed: bool,
    /// Requests counted in this window, including this one when allowed.
    pub used: i64,
    pub remaining: i64,
}

/// Where counters live. The gate consumes through this seam so tests and future stores (a service,
/// a database) plug in without touching evaluation.
pub trait CounterStore {
    /// Counts one request against `limit` under `key` unless the limit is already reached.
    fn consume(
        &self,
        key: &str,
        limit: i64,
        window_secs: i64,
        now: GoTime,
    ) -> Result<Consumed, GaitError>;
}

/// The bucket start of `now` for a window: truncated to the minute or the hour, UTC.
pub fn bucket(now: GoTime, window: &str) -> (String, i64) {
    let secs = (now.unix_nanos().div_euclid(1_000_000_000)) as i64;
    let len = if window == "hour" { 3600 } else { 60 };
    let start = secs - secs.rem_euclid(len);
    (GoTime::from_unix(start, 0).rfc3339(), len)
}

/// The state-file key of a counter.
pub fn counter_key(window: &str, scope: &str, bucket: &str, scope_key: &str) -> String {
    format!("{window}|{scope}|{bucket}|{scope_key}")
}

/// The file-backed store.
pub struct FileCounterStore {
    pub path: PathBuf,
}

impl FileCounterStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCounterStore { path: path.into() }
    }

    fn read(path: &Path) -> Result<RateLimitState, GaitError> {
        match fsx::read_bounded(path, MAX_STATE_BYTES) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(RateLimitState::default()),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                GaitError::io(format!("parse rate limit state {}: {e}", path.display()))
                    .with_code("rate_limit_state_invalid")
                    .with_hint("the state file is corrupt; move it aside to reset the counters")
            }),
            Err(fsx::FsError::NotFound { .. }) => Ok(RateLimitState::default()),
            Err(e) => Err(GaitError::io(format!("read rate limit state: {e}"))),
        }
    }
}

/// True when a counter's bucket has ended before `now` (the key's third field is its bucket start).
fn expired(key: &str, now: GoTime) -> bool {
    let mut parts = key.splitn(4, '|');
    let window = parts.next().unwrap_or("");
    let _scope = parts.next();
    let Some(Ok(start)) = parts.next().map(GoTime::parse) else {
        return false;
    };
    let len: i128 = if window == "hour" { 3600 } else { 60 };
    start.unix_nanos() + len * 1_000_000_000 <= now.unix_nanos()
}

impl CounterStore for FileCounterStore {
    fn consume(
        &self,
        key: &str,
        limit: i64,
        _window_secs: i64,
        now: GoTime,
    ) -> Result<Consumed, GaitError> {
        let _lock =
            fsx::acquire_lock(&self.path, fsx::LockSettings::default()).map_err(|e| match e {
                fsx::FsError::LockTimeout { .. } => GaitError::new(
                    Category::StateContention,
                    format!("acquire rate limit lock: {e}"),
                )
                .with_code("rate_limit_lock_timeout"),
                other => GaitError::io(format!("acquire rate limit lock: {other}"))
                    .with_code("rate_limit_lock_acquire_failed"),
            })?;
        let mut state = Self::read(&self.path)?;
        state.counters.retain(|c| !expired(&c.key, now));
        let current = state
            .counters
            .iter()
            .find(|c| c.key == key)
            .map_or(0, |c| c.count);
        let consumed = if current >= limit {
            Consumed {
                allowed: false,
                used: current,
                remaining: 0,
            }
        } else {
            let used = current + 1;
            match state.counters.iter_mut().find(|c| c.key == key) {
                Some(c) => c.count = used,
                None => state.counters.push(Counter {
                    key: key.to_string(),
                    count: used,
                }),
            }
            Consumed {
                allowed: true,
                used,
                remaining: limit - used,
            }
        };
        state.schema_id = RATE_LIMIT_SCHEMA_ID.into();
        state.schema_version = RATE_LIMIT_SCHEMA_VERSION.into();
        state.counters.sort_by(|a, b| a.key.cmp(&b.key));
        let bytes = gait_engine::gojson::to_indented(&state)
            .map_err(|e| GaitError::internal(format!("encode rate limit state: {e}")))?;
        fsx::write_atomic(&self.path, &bytes, 0o600).map_err(|e| {
            GaitError::io(format!("write rate limit state: {e}"))
                .with_code("rate_limit_lock_write_failed")
        })?;
        Ok(consumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_truncate_to_the_window() {
        let t = GoTime::parse("2031-05-14T10:30:45.5Z").unwrap();
        assert_eq!(bucket(t, "minute").0, "2031-05-14T10:30:00Z");
        assert_eq!(bucket(t, "hour").0, "2031-05-14T10:00:00Z");
    }

    #[test]
    fn counts_up_to_the_limit_in_a_fresh_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileCounterStore::new(dir.path().join("new/.gait-out/state.json"));
        let now = GoTime::parse("2031-05-14T10:30:00Z").unwrap();
        let key = counter_key("minute", "tool", &bucket(now, "minute").0, "tool.write");
        let a = store.consume(&key, 2, 60, now).unwrap();
        let b = store.consume(&key, 2, 60, now).unwrap();
        let c = store.consume(&key, 2, 60, now).unwrap();
        assert_eq!((a.allowed, a.used, a.remaining), (true, 1, 1));
        assert_eq!((b.allowed, b.used, b.remaining), (true, 2, 0));
        assert_eq!((c.allowed, c.used, c.remaining), (false, 2, 0));
        // The next window starts over, and the old counter is dropped from the file.
        let later = GoTime::parse("2031-05-14T10:31:00Z").unwrap();
        let key2 = counter_key("minute", "tool", &bucket(later, "minute").0, "tool.write");
        assert!(store.consume(&key2, 2, 60, later).unwrap().allowed);
        let state: RateLimitState =
            serde_json::from_slice(&std::fs::read(&store.path).unwrap()).unwrap();
        assert_eq!(state.counters.len(), 1);
        assert_eq!(state.schema_id, RATE_LIMIT_SCHEMA_ID);
    }

    #[test]
    fn corrupt_state_fails_closed_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{not json").unwrap();
        let store = FileCounterStore::new(&path);
        let now = GoTime::parse("2031-05-14T10:30:00Z").unwrap();
        let err = store.consume("k", 1, 60, now).unwrap_err();
        assert!(
            err.message.contains("parse rate limit state"),
            "{}",
            err.message
        );
    }
}
