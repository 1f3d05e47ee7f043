//! Endpoint-class and endpoint-domain inference for targets (CONTRACTS §2.9).
//!
//! Tool-name hints are substring matches on the last `/` segment of the (lowercased) tool name, which
//! is why `tool.form` reads as a delete ("rm") and `tool.truncate` as an exec ("run") — the
//! reference's behaviour, kept on purpose.

const READ_OPS: &[&str] = &[
    "read", "get", "list", "open", "cat", "head", "download", "stat",
];
const WRITE_OPS: &[&str] = &[
    "write", "append", "put", "create", "update", "save", "copy", "move", "rename",
];
const DELETE_OPS: &[&str] = &[
    "delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate",
];
const READ_HINTS: &[&str] = &["read", "list", "fetch", "search"];
const WRITE_HINTS: &[&str] = &["write", "update", "save", "create"];
const DELETE_HINTS: &[&str] = &["delete", "remove", "rm", "drop"];
const DNS_OPS: &[&str] = &["dns", "resolve", "lookup"];
const EXEC_HINTS: &[&str] = &["exec", "spawn", "run", "shell", "command"];
/// Operations that make a target destructive by themselves.
pub const DESTRUCTIVE_OPS: &[&str] = &[
    "delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate", "exec", "spawn",
];

fn tool_base(tool: &str) -> &str {
    tool.rsplit('/').next().unwrap_or(tool)
}

fn has_hint(tool: &str, hints: &[&str]) -> bool {
    let base = tool_base(tool);
    hints.iter().any(|h| base.contains(h))
}

/// Infers the endpoint class of a target with lowercased `kind` and `operation`; `tool` is the
/// lowercased tool name.
pub fn endpoint_class(kind: &str, operation: &str, tool: &str) -> &'static str {
    match kind {
        "path" => {
            if READ_OPS.contains(&operation) {
                "fs.read"
            } else if WRITE_OPS.contains(&operation) {
                "fs.write"
            } else if DELETE_OPS.contains(&operation) {
                "fs.delete"
            } else if has_hint(tool, READ_HINTS) {
                "fs.read"
            } else if has_hint(tool, WRITE_HINTS) {
                "fs.write"
            } else if has_hint(tool, DELETE_HINTS) {
                "fs.delete"
            } else {
                "other"
            }
        }
        "host" | "url" => {
            if DNS_OPS.contains(&operation) {
                "net.dns"
            } else {
                "net.http"
            }
        }
        "other" if EXEC_HINTS.contains(&operation) || has_hint(tool, EXEC_HINTS) => "proc.exec",
        _ => "other",
    }
}

/// Infers the endpoint domain of a host or url target (lowercased hostname), else `""`.
pub fn endpoint_domain(kind: &str, value: &str) -> String {
    match kind {
        "host" => host_domain(value),
        "url" => url_hostname(value),
        _ => String::new(),
    }
}

/// A host value: strip an optional scheme, path, userinfo and port.
fn host_domain(value: &str) -> String {
    let mut v = value.trim();
    if let Some(i) = v.find("://") {
        v = &v[i + 3..];
    }
    if let Some(i) = v.find(['/', '?', '#']) {
        v = &v[..i];
    }
    if let Some(i) = v.rfind('@') {
        v = &v[i + 1..];
    }
    crate::text::go_lower(strip_port(v))
}

/// Go's `url.URL.Hostname()` of `url.Parse(value)`, or `""` when parsing fails.
fn url_hostname(value: &str) -> String {
    let v = value.trim();
    match parse_authority(v) {
        Some(host) => crate::text::go_lower(strip_port(host)),
        None => String::new(),
    }
}

/// The authority's host:port part of a URL, following the checks of Go's `url.Parse` that matter
/// here: a scheme must be followed by `//` to have a host; bad `%` escapes and spaces in the host
/// fail the parse.
fn parse_authority(v: &str) -> Option<&str> {
    if v.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    if has_bad_escape(v) {
        return None;
    }
    let scheme_end = v.find(':')?;
    let scheme = &v[..scheme_end];
    let valid_scheme = !scheme.is_empty()
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme {
        return None;
    }
    let rest = &v[scheme_end + 1..];
    let rest = rest.strip_prefix("//")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = match authority.rfind('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    if host.contains(' ') {
        return None;
    }
    Some(host)
}

fn has_bad_escape(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit() => i += 3,
                _ => return true,
            }
        } else {
            i += 1;
        }
    }
    false
}

/// Drops a `:port` suffix; IPv6 literals lose their brackets (`[::1]:8080` → `::1`).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.find(']') {
            Some(i) => &rest[..i],
            None => rest,
        };
    }
    match host.rfind(':') {
        Some(i) if host[..i].find(':').is_none() => &host[..i],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(endpoint_class("path", "read", "tool.x"), "fs.read");
        assert_eq!(endpoint_class("path", "touch", "tool.form"), "fs.delete");
        assert_eq!(endpoint_class("path", "touch", "vec/readonly"), "fs.read");
        assert_eq!(endpoint_class("other", "do", "tool.truncate"), "proc.exec");
        assert_eq!(endpoint_class("other", "launch", "tool.x"), "other");
        assert_eq!(endpoint_class("url", "lookup", "tool.x"), "net.dns");
        assert_eq!(endpoint_class("bucket", "delete", "tool.x"), "other");
    }

    #[test]
    fn domains() {
        assert_eq!(
            endpoint_domain("host", "https://Mixed.Example.ORG:443/path"),
            "mixed.example.org"
        );
        assert_eq!(endpoint_domain("host", "10.0.0.1:22"), "10.0.0.1");
        assert_eq!(endpoint_domain("url", "http://[::1]:8080/x"), "::1");
        assert_eq!(
            endpoint_domain("url", "https://User@API.Example.com:8443/p?q=1#f"),
            "api.example.com"
        );
        assert_eq!(endpoint_domain("url", "mailto:ops@example.com"), "");
        assert_eq!(endpoint_domain("url", "%zz"), "");
        assert_eq!(endpoint_domain("url", "not a url with spaces"), "");
    }
}
