//! The kill-switch journal (CONTRACTS §1.2 `gate eval`: "kill-switch journal when a kill switch
//! fires"): one `gait.gate.kill_switch_event` JSON line per gate eval an active kill-switch entry
//! blocked, appended to `kill_switch_journal.jsonl` beside the state file.
//!
//! Nothing recorded from the reference fixes the journal's shape, so the shape is ours
//! (`schemas/v1/gate/kill_switch_event.schema.json`). Appends happen under `<journal>.lock` (the
//! state's lock protocol), each line in one write to a 0600 file, and a line never exceeds
//! [`MAX_LINE_BYTES`]: entry ids are left out (and `entry_ids_truncated` set) until it fits.
//! A journal that cannot be written never changes the decision: the caller keeps the block and
//! reports a warning.

use gait_engine::{GoTime, PRODUCER_VERSION, fsx};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const EVENT_SCHEMA_ID: &str = "gait.gate.kill_switch_event";
pub const EVENT_SCHEMA_VERSION: &str = "1.0.0";
/// The journal's file name, in the directory of the kill-switch state file.
pub const JOURNAL_FILE_NAME: &str = "kill_switch_journal.jsonl";
/// The largest line (newline included) the journal takes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The journal beside a kill-switch state file.
pub fn journal_path(state_path: &Path) -> PathBuf {
    match state_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(JOURNAL_FILE_NAME),
        _ => PathBuf::from(JOURNAL_FILE_NAME),
    }
}

/// One firing of the kill switch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KillSwitchEvent {
    pub schema_id: String,
    pub schema_version: String,
    /// The evaluation time of the blocked call.
    pub created_at: GoTime,
    pub producer_version: String,
    pub trace_id: String,
    pub intent_digest: String,
    pub policy_digest: String,
    pub tool_name: String,
    /// The entries that fired, sorted.
    pub entry_ids: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub entry_ids_truncated: bool,
    /// The kill switch's reason codes, sorted.
    pub reason_codes: Vec<String>,
}

impl KillSwitchEvent {
    pub fn new(
        created_at: GoTime,
        trace_id: &str,
        intent_digest: &str,
        policy_digest: &str,
        tool_name: &str,
        entry_ids: &[String],
        reason_codes: &[String],
    ) -> KillSwitchEvent {
        KillSwitchEvent {
            schema_id: EVENT_SCHEMA_ID.into(),
            schema_version: EVENT_SCHEMA_VERSION.into(),
            created_at: created_at.utc(),
            producer_version: PRODUCER_VERSION.into(),
            trace_id: trace_id.into(),
            intent_digest: intent_digest.into(),
            policy_digest: policy_digest.into(),
            tool_name: tool_name.into(),
            entry_ids: entry_ids.to_vec(),
            entry_ids_truncated: false,
            reason_codes: reason_codes.to_vec(),
        }
    }

    /// The journal line (`\n`-terminated), within [`MAX_LINE_BYTES`]: trailing entry ids are
    /// dropped until it fits. An event that does not fit even without ids is an error.
    pub fn to_line(&self) -> Result<Vec<u8>, String> {
        let encode = |e: &KillSwitchEvent| {
            gait_engine::gojson::to_compact(e)
                .map(|mut b| {
                    b.push(b'\n');
                    b
                })
                .map_err(|err| format!("encode kill switch event: {err}"))
        };
        let line = encode(self)?;
        if line.len() <= MAX_LINE_BYTES {
            return Ok(line);
        }
        // Find the most ids that fit (the line grows with the id count).
        let mut cut = self.clone();
        cut.entry_ids_truncated = true;
        let (mut lo, mut hi) = (0, self.entry_ids.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            cut.entry_ids = self.entry_ids[..mid].to_vec();
            if encode(&cut)?.len() <= MAX_LINE_BYTES {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        cut.entry_ids = self.entry_ids[..lo].to_vec();
        let line = encode(&cut)?;
        if line.len() > MAX_LINE_BYTES {
            return Err(format!(
                "kill switch event exceeds {MAX_LINE_BYTES} bytes even without entry ids"
            ));
        }
        Ok(line)
    }
}

/// Appends `event` to the journal at `path` under its lock (creating the directory and a 0600
/// file as needed). The error is a message for a warning.
pub fn append(path: &Path, event: &KillSwitchEvent) -> Result<(), String> {
    let line = event.to_line()?;
    let _lock = fsx::acquire_lock(path, fsx::LockSettings::default())
        .map_err(|e| format!("lock kill switch journal: {e}"))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let shown = path.display();
    let mut file = opts
        .open(path)
        .map_err(|e| format!("open kill switch journal {shown}: {}", fsx::io_reason(&e)))?;
    file.write_all(&line)
        .and_then(|()| file.sync_data())
        .map_err(|e| format!("write kill switch journal {shown}: {}", fsx::io_reason(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ids: Vec<String>) -> KillSwitchEvent {
        KillSwitchEvent::new(
            GoTime::parse("2031-01-01T02:00:00+02:00").unwrap(),
            "0123456789abcdef01234567",
            &"a".repeat(64),
            &"b".repeat(64),
            "tool.write",
            &ids,
            &[
                "kill_switch_active".into(),
                "kill_switch_tool_name_active".into(),
            ],
        )
    }

    #[test]
    fn the_journal_sits_beside_the_state() {
        assert_eq!(
            journal_path(Path::new(".gait-out/kill_switch_state.json")),
            Path::new(".gait-out/kill_switch_journal.jsonl")
        );
        assert_eq!(
            journal_path(Path::new("ks.json")),
            Path::new("kill_switch_journal.jsonl")
        );
    }

    #[test]
    fn a_line_is_the_event_in_field_order_and_utc() {
        let line = String::from_utf8(event(vec!["e1".into()]).to_line().unwrap()).unwrap();
        assert_eq!(
            line,
            format!(
                "{{\"schema_id\":\"gait.gate.kill_switch_event\",\"schema_version\":\"1.0.0\",\
                 \"created_at\":\"2031-01-01T00:00:00Z\",\"producer_version\":\"{PRODUCER_VERSION}\",\
                 \"trace_id\":\"0123456789abcdef01234567\",\"intent_digest\":\"{}\",\"policy_digest\":\"{}\",\
                 \"tool_name\":\"tool.write\",\"entry_ids\":[\"e1\"],\
                 \"reason_codes\":[\"kill_switch_active\",\"kill_switch_tool_name_active\"]}}\n",
                "a".repeat(64),
                "b".repeat(64)
            )
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        gait_engine::schema::Schema::KillSwitchEvent
            .validate(&value)
            .unwrap();
    }

    #[test]
    fn a_line_is_bounded_by_dropping_entry_ids() {
        // 10 000 ids of 40 bytes: ~420 KiB unbounded.
        let ids: Vec<String> = (0..10_000).map(|i| format!("{i:040}")).collect();
        let line = event(ids.clone()).to_line().unwrap();
        assert!(line.len() <= MAX_LINE_BYTES, "{}", line.len());
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["entry_ids_truncated"], true);
        let kept = value["entry_ids"].as_array().unwrap();
        assert!(!kept.is_empty() && kept.len() < ids.len());
        // The kept ids are the first ones, and one more would not have fitted.
        assert_eq!(kept[0], ids[0].as_str());
        let mut more = event(ids[..kept.len() + 1].to_vec());
        more.entry_ids_truncated = true;
        assert!(gait_engine::gojson::to_compact(&more).unwrap().len() + 1 > MAX_LINE_BYTES);
        gait_engine::schema::Schema::KillSwitchEvent
            .validate(&value)
            .unwrap();
        // A tool name alone beyond the limit cannot be journaled.
        let mut huge = event(vec![]);
        huge.tool_name = "t".repeat(MAX_LINE_BYTES);
        assert!(huge.to_line().is_err());
    }

    #[test]
    fn appends_one_line_per_event_to_a_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/kill_switch_journal.jsonl");
        append(&path, &event(vec!["e1".into()])).unwrap();
        append(&path, &event(vec!["e2".into()])).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["entry_ids"][0].to_string()
            })
            .collect();
        assert_eq!(ids, ["\"e1\"", "\"e2\""]);
        assert!(!fsx::lock_path(&path).exists(), "the lock is released");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // A directory where the journal should be: an error to report, not a panic.
        let blocked = dir.path().join("dir.jsonl");
        std::fs::create_dir(&blocked).unwrap();
        let err = append(&blocked, &event(vec![])).unwrap_err();
        assert!(err.contains("kill switch journal"), "{err}");
    }
}
