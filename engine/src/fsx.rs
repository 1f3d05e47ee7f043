//! File-system primitives: bounded reads, atomic writes and the reference's lock-file protocol.
//!
//! - Nothing is half-written: [`write_atomic`] writes a temp file in the target directory, sets its
//!   mode, syncs it, then renames it over the target; [`write_atomic_all`] does so for several files
//!   with their syncs overlapped.
//! - Shared state (rate limits, kill switch) is updated under `<state>.lock`, created exclusively;
//!   a waiter retries for up to 3 s and breaks a lock older than 15 s, like the reference, so gait and
//!   the reference can share one state directory.
//!
//! This module measures time only to bound waits; nothing it returns depends on the clock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("open {path}: no such file or directory")]
    NotFound { path: String },
    #[error("{op} {path}: {reason}")]
    Io {
        op: &'static str,
        path: String,
        reason: String,
    },
    #[error("{path} is larger than the {limit}-byte limit for this input")]
    TooLarge { path: String, limit: u64 },
    #[error(
        "timed out after {waited_ms} ms waiting for lock {path}; another gait process holds it"
    )]
    LockTimeout { path: String, waited_ms: u128 },
}

/// An io::Error as Go prints the errno part (`no such file or directory`).
pub fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

fn io_err(op: &'static str, path: &Path, e: &io::Error) -> FsError {
    if e.kind() == io::ErrorKind::NotFound && op == "open" {
        return FsError::NotFound {
            path: path.display().to_string(),
        };
    }
    FsError::Io {
        op,
        path: path.display().to_string(),
        reason: io_reason(e),
    }
}

/// Reads a whole file, refusing files larger than `limit` bytes (checked while reading, not only by
/// metadata, so a growing file or a device cannot exceed it).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FsError> {
    let file = File::open(path).map_err(|e| io_err("open", path, &e))?;
    let meta = file.metadata().ok();
    if meta.as_ref().is_some_and(|m| m.is_dir()) {
        return Err(FsError::Io {
            op: "read",
            path: path.display().to_string(),
            reason: "is a directory".into(),
        });
    }
    // Size the buffer from the metadata (capped by the limit) so a small file is read in one call.
    let hint = meta.map_or(0, |m| m.len()).min(limit) as usize;
    let mut buf = Vec::with_capacity(hint + 1);
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| io_err("read", path, &e))?;
    if buf.len() as u64 > limit {
        return Err(FsError::TooLarge {
            path: path.display().to_string(),
            limit,
        });
    }
    Ok(buf)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates `dir` and its parents with mode 0750 (unix).
pub fn create_dir_all(dir: &Path) -> Result<(), FsError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o750);
    }
    builder.create(dir).map_err(|e| io_err("mkdir", dir, &e))
}

/// Writes `bytes` to `path` atomically with the given unix mode (0600 for keys, tokens and traces).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    write_atomic_all(&[AtomicFile { path, bytes, mode }])
}

/// One file of a [`write_atomic_all`] batch.
#[derive(Clone, Copy, Debug)]
pub struct AtomicFile<'a> {
    pub path: &'a Path,
    pub bytes: &'a [u8],
    pub mode: u32,
}

/// Writes several files atomically and durably as one step: every temp file is written and its
/// writeback started before any is waited for, so the files' I/O overlaps instead of queueing
/// (one fsync after another cost ~0.1 ms more per file on ext4 here); then each is synced and,
/// only when all are, renamed over its target in order. On error no temp file is left behind;
/// targets renamed before the error keep their new content.
///
/// A target that already is a regular file of ours with exactly these bytes and mode is synced in
/// place instead of rewritten (gate artifacts such as approval audits are often byte-identical on a
/// repeated call, and replacing a file costs far more than confirming it).
pub fn write_atomic_all(files: &[AtomicFile<'_>]) -> Result<(), FsError> {
    let mut pending: Vec<(PathBuf, File, &AtomicFile<'_>)> = Vec::with_capacity(files.len());
    let result = (|| {
        for file in files {
            if sync_if_identical(file.path, file.bytes, file.mode) {
                continue;
            }
            let (tmp, handle) = write_temp(file.path, file.bytes, file.mode)?;
            pending.push((tmp, handle, file));
            start_writeback(&pending[pending.len() - 1].1);
        }
        for (tmp, handle, _) in &pending {
            handle.sync_all().map_err(|e| io_err("sync", tmp, &e))?;
        }
        while !pending.is_empty() {
            let (tmp, handle, file) = pending.remove(0);
            drop(handle);
            if let Err(e) = fs::rename(&tmp, file.path) {
                let _ = fs::remove_file(&tmp);
                return Err(io_err("rename", file.path, &e));
            }
        }
        Ok(())
    })();
    for (tmp, _, _) in pending {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// [`write_atomic`] without the fsync. Readers, and a crash of gait itself, still never see a partial
/// file (temp file + rename); only a power loss right after the write may lose it. For artifacts that
/// are re-derived from their inputs (runpacks, reports), whose writes must stay fast: an fsync costs
/// several milliseconds, more than all of `gait demo`.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    let (tmp, handle) = write_temp(path, bytes, mode)?;
    drop(handle);
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("rename", path, &e)
    })
}

/// [`write_atomic_unsynced`] for deterministic artifacts: when `path` is already a regular file of
/// ours (not a symlink) with exactly these bytes and this mode, it is left untouched. Rewriting
/// identical bytes would only cost time — on ext4 a rename over an existing file also forces a flush
/// — and move the file's mtime for no change. Returns whether the file was written.
pub fn write_atomic_if_changed(path: &Path, bytes: &[u8], mode: u32) -> Result<bool, FsError> {
    if open_if_identical(path, bytes, mode).is_some() {
        return Ok(false);
    }
    write_atomic_unsynced(path, bytes, mode)?;
    Ok(true)
}

/// Writes `bytes` to a new temp file beside `path` (created exclusively, mode set on the open file so
/// that the umask cannot loosen or tighten it). The caller syncs, renames or removes it.
fn write_temp(path: &Path, bytes: &[u8], mode: u32) -> Result<(PathBuf, File), FsError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut handle = opts.open(&tmp).map_err(|e| io_err("create", &tmp, &e))?;
    let written = handle
        .write_all(bytes)
        .map_err(|e| io_err("write", &tmp, &e))
        .and_then(|()| set_mode(&handle, &tmp, mode));
    if let Err(e) = written {
        drop(handle);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok((tmp, handle))
}

/// Starts writing `file`'s dirty pages to disk without waiting, so that several files' I/O overlaps
/// (Linux `sync_file_range`; elsewhere the sync that follows does all the work). Durability still
/// comes from the fsync afterwards; this only changes when the I/O begins.
fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; the call only schedules writeback and its failure is
        // harmless (the fsync that follows reports any real I/O error).
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// The existing target when it is a regular file owned by this user, with exactly `bytes` and
/// `mode`. Ownership matters: a file planted by someone else with the right bytes would stay theirs,
/// and theirs to change, if gait kept it instead of replacing it.
fn open_if_identical(path: &Path, bytes: &[u8], mode: u32) -> Option<File> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() || meta.len() != bytes.len() as u64 {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        if meta.permissions().mode() & 0o7777 != mode || meta.uid() != euid || meta.nlink() != 1 {
            return None;
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .ok()?;
        let same = file.metadata().ok()?.ino() == meta.ino() && same_bytes(&file, bytes);
        same.then_some(file)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        let file = File::open(path).ok()?;
        same_bytes(&file, bytes).then_some(file)
    }
}

fn same_bytes(file: &File, bytes: &[u8]) -> bool {
    let mut existing = Vec::with_capacity(bytes.len());
    match file.take(bytes.len() as u64 + 1).read_to_end(&mut existing) {
        Ok(_) => existing == bytes,
        Err(_) => false,
    }
}

/// Confirms an identical target durably (see [`write_atomic_all`]). Unix only: elsewhere a file
/// opened for reading cannot be flushed, so it is rewritten.
fn sync_if_identical(path: &Path, bytes: &[u8], mode: u32) -> bool {
    if !cfg!(unix) {
        return false;
    }
    open_if_identical(path, bytes, mode).is_some_and(|file| file.sync_all().is_ok())
}

#[cfg(unix)]
fn set_mode(file: &File, path: &Path, mode: u32) -> Result<(), FsError> {
    use std::os::unix::fs::PermissionsExt;
    // Exact mode regardless of umask, as the reference's chmod does.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| io_err("chmod", path, &e))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _path: &Path, _mode: u32) -> Result<(), FsError> {
    Ok(())
}

/// Lock-protocol timings. The defaults are the reference's.
#[derive(Clone, Copy, Debug)]
pub struct LockSettings {
    pub timeout: Duration,
    pub stale_after: Duration,
    pub retry: Duration,
}

impl Default for LockSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            stale_after: Duration::from_secs(15),
            retry: Duration::from_millis(5),
        }
    }
}

/// A held `<state>.lock`; released (deleted) on drop.
#[derive(Debug)]
pub struct LockGuard {
    path: PathBuf,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The lock file guarding `state_path`.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Acquires `<state_path>.lock`, creating the state directory when it does not exist yet
/// (the reference fails there; DEVIATIONS #1).
pub fn acquire_lock(state_path: &Path, settings: LockSettings) -> Result<LockGuard, FsError> {
    if let Some(dir) = state_path.parent() {
        create_dir_all(dir)?;
    }
    let path = lock_path(state_path);
    let start = Instant::now();
    loop {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&path) {
            Ok(mut f) => {
                let _ = writeln!(f, "pid={}", std::process::id());
                return Ok(LockGuard { path });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if is_stale(&path, settings.stale_after) {
                    let _ = fs::remove_file(&path);
                    continue;
                }
                if start.elapsed() >= settings.timeout {
                    return Err(FsError::LockTimeout {
                        path: path.display().to_string(),
                        waited_ms: start.elapsed().as_millis(),
                    });
                }
                std::thread::sleep(settings.retry);
            }
            Err(e) => return Err(io_err("open", &path, &e)),
        }
    }
}

fn is_stale(path: &Path, stale_after: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > stale_after)
}

/// Rejects relative output paths that climb out of the working directory (`..`), as the reference does.
pub fn is_traversing(path: &Path) -> bool {
    path.is_relative()
        && path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_artifacts_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        assert!(write_atomic_if_changed(&path, b"abc", 0o600).unwrap());
        assert!(!write_atomic_if_changed(&path, b"abc", 0o600).unwrap());
        // Other bytes, another mode, or a symlink in its place: written.
        assert!(write_atomic_if_changed(&path, b"abd", 0o600).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"abd");
        assert!(write_atomic_if_changed(&path, b"abd", 0o644).unwrap());
        #[cfg(unix)]
        {
            let target = dir.path().join("elsewhere");
            fs::write(&target, b"xyz").unwrap();
            let link = dir.path().join("l.zip");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert!(write_atomic_if_changed(&link, b"xyz", 0o600).unwrap());
            assert!(fs::symlink_metadata(&link).unwrap().file_type().is_file());
            assert_eq!(fs::read(&target).unwrap(), b"xyz");
        }
    }

    #[cfg(unix)]
    fn inode(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(path).unwrap().ino()
    }

    #[cfg(unix)]
    #[test]
    fn synced_writes_keep_an_identical_file_of_ours_and_replace_anything_else() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.json");
        write_atomic(&path, b"same", 0o600).unwrap();
        let first = inode(&path);
        write_atomic(&path, b"same", 0o600).unwrap();
        assert_eq!(inode(&path), first, "identical bytes and mode: kept");
        write_atomic(&path, b"diff", 0o600).unwrap();
        assert_ne!(inode(&path), first, "other bytes: replaced");
        assert_eq!(fs::read(&path).unwrap(), b"diff");

        // Another mode, a second hard link, or another owner: replaced, never trusted.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let before = inode(&path);
        write_atomic(&path, b"diff", 0o600).unwrap();
        assert_ne!(inode(&path), before);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let other = dir.path().join("other-link");
        fs::hard_link(&path, &other).unwrap();
        let before = inode(&path);
        write_atomic(&path, b"diff", 0o600).unwrap();
        assert_ne!(inode(&path), before);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&path, Some(4242), None).unwrap();
            let before = inode(&path);
            write_atomic(&path, b"diff", 0o600).unwrap();
            assert_ne!(inode(&path), before, "a file of another user is replaced");
        }
    }

    #[test]
    fn a_batch_writes_every_file_or_renames_none_it_could_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("trace.json");
        let b = dir.path().join("sub/audit.json");
        write_atomic_all(&[
            AtomicFile {
                path: &a,
                bytes: b"A",
                mode: 0o600,
            },
            AtomicFile {
                path: &b,
                bytes: b"B",
                mode: 0o600,
            },
        ])
        .unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"A");
        assert_eq!(fs::read(&b).unwrap(), b"B");

        // The second file cannot be created (its parent is a file): the first is not renamed
        // into place either, and no temp file stays behind.
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, b"x").unwrap();
        let c = dir.path().join("new.json");
        let d = blocker.join("audit.json");
        let err = write_atomic_all(&[
            AtomicFile {
                path: &c,
                bytes: b"C",
                mode: 0o600,
            },
            AtomicFile {
                path: &d,
                bytes: b"D",
                mode: 0o600,
            },
        ])
        .unwrap_err();
        assert!(err.to_string().contains("blocker"), "{err}");
        assert!(!c.exists());
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.json");
        write_atomic(&path, b"one", 0o600).unwrap();
        write_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // No temp files left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn bounded_read_refuses_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        fs::write(&path, vec![b'x'; 100]).unwrap();
        assert!(matches!(
            read_bounded(&path, 99),
            Err(FsError::TooLarge { .. })
        ));
        assert_eq!(read_bounded(&path, 100).unwrap().len(), 100);
        let missing = dir.path().join("missing.json");
        let err = read_bounded(&missing, 10).unwrap_err().to_string();
        assert!(
            err.ends_with("missing.json: no such file or directory"),
            "{err}"
        );
    }

    #[test]
    fn lock_excludes_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("new/state.json");
        let guard = acquire_lock(&state, LockSettings::default()).unwrap();
        let fast = LockSettings {
            timeout: Duration::from_millis(50),
            ..LockSettings::default()
        };
        assert!(matches!(
            acquire_lock(&state, fast),
            Err(FsError::LockTimeout { .. })
        ));
        drop(guard);
        assert!(acquire_lock(&state, fast).is_ok());
    }

    #[test]
    fn stale_lock_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        fs::write(lock_path(&state), b"pid=1").unwrap();
        let settings = LockSettings {
            stale_after: Duration::ZERO,
            timeout: Duration::from_millis(200),
            ..LockSettings::default()
        };
        std::thread::sleep(Duration::from_millis(10));
        assert!(acquire_lock(&state, settings).is_ok());
    }

    #[test]
    fn traversal_detection() {
        assert!(is_traversing(Path::new("../escape.json")));
        assert!(is_traversing(Path::new("a/../../b")));
        assert!(!is_traversing(Path::new("custom/trace.json")));
    }
}
