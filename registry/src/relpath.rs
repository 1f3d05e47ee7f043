//! Relative paths that come from manifests and indexes (untrusted until verified).
//!
//! A path is accepted only in a narrow, portable form: `/`-separated segments of `[A-Za-z0-9._-]`,
//! no empty, `.` or `..` segment, not absolute, at most 255 bytes. Such a path can only name a file
//! below the directory it is joined to, on every platform, and means the same as a URL path.

use std::path::{Path, PathBuf};

pub const MAX_LEN: usize = 255;

/// Why a relative path was refused, or `None` when it is acceptable.
pub fn problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.len() > MAX_LEN {
        return Some("is longer than 255 bytes");
    }
    if path.starts_with('/') {
        return Some("is absolute");
    }
    for seg in path.split('/') {
        if seg.is_empty() {
            return Some("has an empty segment");
        }
        if seg == "." || seg == ".." {
            return Some("has a `.` or `..` segment");
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Some("has characters outside [A-Za-z0-9._-/]");
        }
    }
    None
}

/// Joins an accepted relative path below `base`.
pub fn join(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for seg in rel.split('/') {
        out.push(seg);
    }
    out
}

/// The parent of a relative path (`a/b/c.json` → `a/b`), empty for a top-level name.
pub fn parent(rel: &str) -> &str {
    match rel.rfind('/') {
        Some(i) => &rel[..i],
        None => "",
    }
}

/// `dir/name`, or `name` when `dir` is empty.
pub fn child(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        for ok in ["a", "grader.rhai", "lib/x-1_2.so", "a/b/c.json"] {
            assert_eq!(problem(ok), None, "{ok}");
        }
    }

    #[test]
    fn refuses_escapes_and_odd_forms() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/",
            "a\\b",
            "C:x",
            "a b",
            "é",
            "a/%2e%2e/b",
        ] {
            assert!(problem(bad).is_some(), "{bad:?} must be refused");
        }
        assert!(problem(&"a".repeat(256)).is_some());
    }

    #[test]
    fn join_and_parent() {
        assert_eq!(join(Path::new("/r"), "a/b"), Path::new("/r/a/b"));
        assert_eq!(parent("a/b/c.json"), "a/b");
        assert_eq!(parent("c.json"), "");
        assert_eq!(child("", "x"), "x");
        assert_eq!(child("a", "x"), "a/x");
    }
}
