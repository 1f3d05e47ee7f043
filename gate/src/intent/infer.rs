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

/// Go's `url.URL.Hostname()` of `url.Parse(value)` (lowercased), or `""` when parsing fails.
fn url_hostname(value: &str) -> String {
    match go_url_host(value.trim()) {
        Some(host) => crate::text::go_lower(&go_string(&go_hostname(&host))),
        None => String::new(),
    }
}

/// The `Host` field of Go's `url.Parse(raw)` (unescaped bytes; empty when there is none), or
/// `None` where Go returns an error. Follows net/url's parse: fragment, control bytes, scheme,
/// query, the relative-path colon rule, `//authority`, then the path's escapes.
fn go_url_host(raw: &str) -> Option<Vec<u8>> {
    let (u, frag) = match raw.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (raw, None),
    };
    if frag.is_some_and(|f| unescape(f.as_bytes(), Mode::Other).is_none()) {
        return None;
    }
    if u.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    if u == "*" {
        return Some(Vec::new());
    }
    let (scheme, rest) = get_scheme(u)?;
    let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        rest.split_once('?').map_or(rest, |(r, _)| r)
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            // An opaque URL (`mailto:x@y`) has no host.
            return Some(Vec::new());
        }
        if rest.split('/').next().is_some_and(|seg| seg.contains(':')) {
            return None;
        }
    }
    let mut host = Vec::new();
    let mut path = rest;
    if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let authority = &rest[2..];
        let (authority, p) = match authority.find('/') {
            Some(i) => (&authority[..i], &authority[i..]),
            None => (authority, ""),
        };
        host = parse_authority(authority)?;
        path = p;
    }
    unescape(path.as_bytes(), Mode::Other)?;
    Some(host)
}

/// Go's `getScheme`: `("", raw)` when there is no valid scheme, an error for a leading `:`.
fn get_scheme(raw: &str) -> Option<(&str, &str)> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return None,
            b':' => return Some((&raw[..i], &raw[i + 1..])),
            _ => return Some(("", raw)),
        }
    }
    Some(("", raw))
}

/// Go's `parseAuthority`: the host (unescaped), after checking the userinfo.
fn parse_authority(authority: &str) -> Option<Vec<u8>> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let host = parse_host(host)?;
    if let Some(user) = userinfo {
        let valid = user.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b':'
                        | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b'%'
                        | b'@'
                )
        });
        if !valid || unescape(user.as_bytes(), Mode::Other).is_none() {
            return None;
        }
    }
    Some(host)
}

/// Go's `parseHost`: a bracketed IP literal with an optional zone, or a name with an optional
/// numeric port; the host characters and escapes are checked as Go's `unescape(…, encodeHost)`.
fn parse_host(host: &str) -> Option<Vec<u8>> {
    if host.starts_with('[') {
        let i = host.rfind(']')?;
        if !valid_optional_port(&host[i + 1..]) {
            return None;
        }
        if let Some(zone) = host[..i].find("%25") {
            let bytes = host.as_bytes();
            let mut out = unescape(&bytes[..zone], Mode::Host)?;
            out.extend(unescape(&bytes[zone..i], Mode::Zone)?);
            out.extend(unescape(&bytes[i..], Mode::Host)?);
            return Some(out);
        }
    } else if let Some(i) = host.rfind(':')
        && !valid_optional_port(&host[i..])
    {
        return None;
    }
    unescape(host.as_bytes(), Mode::Host)
}

fn valid_optional_port(port: &str) -> bool {
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Host,
    Zone,
    Other,
}

/// Go's `shouldEscape(c, encodeHost)` for ASCII: characters a host may not hold literally.
fn host_must_escape(c: u8) -> bool {
    !(c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_'
                | b'.'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        ))
}

/// Go's `unescape`: decodes `%XX`, or `None` where Go returns an error. In a host only escapes of
/// non-ASCII bytes (and `%25`) are allowed; `%41` or a literal `{` fail the parse.
fn unescape(s: &[u8], mode: Mode) -> Option<Vec<u8>> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = hex(*s.get(i + 1)?)?;
                let lo = hex(*s.get(i + 2)?)?;
                let is_25 = &s[i..i + 3] == b"%25";
                if mode == Mode::Host && hi < 8 && !is_25 {
                    return None;
                }
                let v = hi << 4 | lo;
                if mode == Mode::Zone && !is_25 && v != b' ' && v < 0x80 && host_must_escape(v) {
                    return None;
                }
                out.push(v);
                i += 3;
            }
            c => {
                if mode != Mode::Other && c < 0x80 && host_must_escape(c) {
                    return None;
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Go's `URL.Hostname()`: drop a trailing `:digits`, then the brackets of an IP literal.
fn go_hostname(host: &[u8]) -> Vec<u8> {
    let mut h = host;
    if let Some(i) = h.iter().rposition(|&b| b == b':')
        && std::str::from_utf8(&h[i..]).is_ok_and(valid_optional_port)
    {
        h = &h[..i];
    }
    if h.len() >= 2 && h[0] == b'[' && h[h.len() - 1] == b']' {
        h = &h[1..h.len() - 1];
    }
    h.to_vec()
}

/// Bytes as a Go string meets `strings.ToLower` and JSON: each invalid byte becomes U+FFFD.
fn go_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{FFFD}');
        }
    }
    out
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

    #[test]
    fn url_domains_follow_go_url_parse() {
        // Each expectation is what Go's url.Parse(v) then Hostname() gives (net/url source):
        // a non-numeric port fails parseHost → "".
        assert_eq!(endpoint_domain("url", "http://h:abc/"), "");
        // A scheme-relative reference still has an authority.
        assert_eq!(endpoint_domain("url", "//Host/x"), "host");
        assert_eq!(endpoint_domain("url", "///x"), "");
        // Escapes of ASCII and characters like `{` are not allowed in a host.
        assert_eq!(endpoint_domain("url", "http://%41.example/"), "");
        assert_eq!(endpoint_domain("url", "http://a{b.example/"), "");
        // Escaped non-ASCII bytes are decoded; an empty port is allowed.
        assert_eq!(
            endpoint_domain("url", "http://b%C3%BCcher.DE:/x"),
            "bücher.de"
        );
        // The query is not checked for escapes, the path and fragment are.
        assert_eq!(
            endpoint_domain("url", "http://h.example/?q=%zz"),
            "h.example"
        );
        assert_eq!(endpoint_domain("url", "http://h.example/%zz"), "");
        assert_eq!(endpoint_domain("url", "http://h.example/#%zz"), "");
        // Userinfo characters are checked.
        assert_eq!(endpoint_domain("url", "http://us{er@h.example/"), "");
        assert_eq!(
            endpoint_domain("url", "http://user:pw@h.example:8080"),
            "h.example"
        );
        // A colon in the first segment of a relative reference is an error; a leading colon too.
        assert_eq!(endpoint_domain("url", "1a:b//x"), "");
        assert_eq!(endpoint_domain("url", "://h.example"), "");
        // IPv6 literals with and without a port, and a zone.
        assert_eq!(endpoint_domain("url", "http://[::1]/"), "::1");
        assert_eq!(
            endpoint_domain("url", "http://[fe80::1%25en0]:80/"),
            "fe80::1%en0"
        );
        assert_eq!(endpoint_domain("url", "http://[::1]x/"), "");
    }
}
