//! Raw-credential rejection in `args` and `context.auth_context` (CONTRACTS §2.9): an intent must carry
//! credential *references* or digests, never secret values, because intents end up in traces, runpacks
//! and logs.

use super::raw::Value;
use gait_engine::canon::Node;

const KEY_WORDS: &[&str] = &[
    "token",
    "secret",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "password",
    "credential",
];

/// Key suffixes that name references to credentials rather than credentials.
const EXEMPT_SUFFIXES: &[&str] = &[
    "_ref",
    "_refs",
    "_digest",
    "_digests",
    "_hash",
    "_issuer",
    "_source",
    "_type",
    "_ttl",
    "_ttl_seconds",
    "_id",
    "_ids",
    "_name",
    "_names",
    "_scope",
    "_scopes",
];

const SECRET_PREFIXES: &[&str] = &["ghp_", "gho_", "github_pat_", "sk-", "AKIA", "ASIA"];
const REFERENCE_PREFIXES: &[&str] = &["env:", "stub:", "cmd:", "ref:", "sha256:"];

fn sensitive_key(key: &str) -> bool {
    let k = crate::text::go_lower(key);
    KEY_WORDS.iter().any(|w| k.contains(w)) && !EXEMPT_SUFFIXES.iter().any(|s| k.ends_with(s))
}

fn looks_secret(value: &str) -> bool {
    let v = value.trim();
    if REFERENCE_PREFIXES.iter().any(|p| v.starts_with(p)) || crate::text::is_sha256_hex(v) {
        return false;
    }
    if SECRET_PREFIXES.iter().any(|p| v.starts_with(p)) {
        return true;
    }
    v.chars().count() >= 16
        && !v.chars().any(char::is_whitespace)
        && v.chars().any(char::is_alphabetic)
        && v.chars().any(|c| c.is_ascii_digit())
}

/// Finds the first string value under a credential-like key; returns its dotted path. Objects are
/// walked in sorted key order (byte order, as Go sorts map keys), not document order: the
/// reference holds args as a Go map, so the order keys were written in is not something it sees,
/// and the sorted walk makes the reported path independent of it.
pub fn find_raw_credential(value: &Value, path: &str) -> Option<String> {
    match value {
        Node::Obj(members) => {
            let mut sorted: Vec<&(std::borrow::Cow<'_, str>, Value)> = members.iter().collect();
            sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            for (k, v) in sorted {
                match v {
                    Node::Str(s) if sensitive_key(k) && looks_secret(s) => {
                        return Some(format!("{path}.{k}"));
                    }
                    Node::Obj(_) | Node::Arr(_) => {
                        if let Some(found) = find_raw_credential(v, &format!("{path}.{k}")) {
                            return Some(found);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        Node::Arr(items) => items
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v, Node::Obj(_) | Node::Arr(_)))
            .find_map(|(i, v)| find_raw_credential(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values() {
        assert!(sensitive_key("Access-Key"));
        assert!(sensitive_key("github_token"));
        assert!(!sensitive_key("api_key_ref"));
        assert!(!sensitive_key("token_name"));
        assert!(!sensitive_key("authorization"));
        assert!(looks_secret("sk-live-abc"));
        assert!(looks_secret("CorrectHorse9Battery"));
        assert!(!looks_secret("hunter2"));
        assert!(!looks_secret("correct horse 9 battery staple"));
        assert!(!looks_secret("env:CLIENT_SECRET_VALUE_1"));
        assert!(!looks_secret(&"ab".repeat(32)));
    }

    #[test]
    fn two_secrets_report_the_first_in_sorted_key_order() {
        use gait_engine::canon::{ParseOptions, parse};
        let doc = parse(
            br#"{"z_token":"ghp_zzzzzzzz","nested":{"b_password":"Secret123456789x","a_secret":"sk-abc"},"a_api_key":"sk-first"}"#,
            ParseOptions::default(),
        )
        .unwrap();
        let node = crate::intent::raw::to_owned(&doc.node);
        assert_eq!(
            find_raw_credential(&node, "args").as_deref(),
            Some("args.a_api_key")
        );
        let inner = parse(
            br#"{"z":{"b_password":"Secret123456789x","a_secret":"sk-abc"},"y_token":"ghp_x"}"#,
            ParseOptions::default(),
        )
        .unwrap();
        let node = crate::intent::raw::to_owned(&inner.node);
        assert_eq!(
            find_raw_credential(&node, "args").as_deref(),
            Some("args.y_token")
        );
    }
}
