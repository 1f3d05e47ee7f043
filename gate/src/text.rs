//! Go's string functions as the reference applies them, written once.
//!
//! - [`go_lower`]: `strings.ToLower`, i.e. Go's *simple* case mapping rune by rune. Rust's
//!   `str::to_lowercase` differs: `İ` becomes `i̇` (two chars) and a final `Σ` becomes `ς`; Go gives `i`
//!   and `σ`. Policies and intents are lowered by the same function, so matching stays consistent.
//! - [`trim`]: `strings.TrimSpace` trims Unicode White_Space, which is exactly Rust's `str::trim`.

/// Go `strings.ToLower`: simple lowercase mapping of each rune.
pub fn go_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_lower(&mut out, c);
    }
    out
}

/// Appends Go's `unicode.ToLower(c)`.
fn push_lower(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    // U+0130 is the only rune whose full lowercase mapping has more than one char; its simple
    // mapping (Go's) is plain `i`.
    if c == '\u{130}' {
        out.push('i');
        return;
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => out.push(l),
        _ => out.push(c),
    }
}

/// Go `strings.TrimSpace`.
pub fn trim(s: &str) -> &str {
    s.trim()
}

/// `strings.ToLower(strings.TrimSpace(s))`.
pub fn lower_trim(s: &str) -> String {
    go_lower(s.trim())
}

/// Trims every entry, drops empties, sorts and deduplicates (the reference's `normalizeStringList`).
pub fn norm_list(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Like [`norm_list`], lowercasing every entry.
pub fn norm_lower_list(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|s| lower_trim(s))
        .filter(|s| !s.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Sorts and deduplicates in place.
pub fn sort_dedup(items: &mut Vec<String>) {
    items.sort();
    items.dedup();
}

/// The reason code a matched rule contributes when it names none: `matched_rule_<name>` with the
/// name lowercased and spaces and dashes turned into underscores (other characters are kept).
pub fn matched_rule_code(name: &str) -> String {
    let mut out = String::from("matched_rule_");
    for c in go_lower(name.trim()).chars() {
        out.push(if c == ' ' || c == '-' { '_' } else { c });
    }
    out
}

/// True when `s` is 64 hex digits (either case).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_lower_is_simple_case_mapping() {
        // vectors/README quirk 9 and the unicode-* cases.
        assert_eq!(go_lower("TOOL.\u{130}NDEX"), "tool.index");
        assert_eq!(go_lower("TOOL.ΟΔΟΣ"), "tool.οδοσ");
        assert_eq!(go_lower("TOOL.\u{212a}ELVIN"), "tool.kelvin");
        assert_eq!(go_lower("TOOL.STRA\u{1e9e}E"), "tool.straße");
        assert_eq!(go_lower("ＴＯＯＬ.Ｘ"), "ｔｏｏｌ.ｘ");
        assert_eq!(go_lower("TOOL.ÉCRIRE"), "tool.écrire");
        assert_eq!(go_lower("ß"), "ß");
        assert_eq!(go_lower("plain.ascii"), "plain.ascii");
    }

    #[test]
    fn trim_is_unicode_white_space() {
        assert_eq!(trim("\u{a0}\u{3000} x \u{85}"), "x");
        // U+200B is not White_Space in Go or Rust.
        assert_eq!(trim("\u{200b} y \u{200b}"), "\u{200b} y \u{200b}");
    }

    #[test]
    fn rule_codes_sanitize_like_the_reference() {
        assert_eq!(
            matched_rule_code("  Block Writes - Prod  "),
            "matched_rule_block_writes___prod"
        );
        assert_eq!(
            matched_rule_code("ops/dev.team: Écriture #1"),
            "matched_rule_ops/dev.team:_écriture_#1"
        );
        assert_eq!(
            matched_rule_code("Règle Ünïcode – Ω"),
            "matched_rule_règle_ünïcode_–_ω"
        );
    }

    #[test]
    fn lists_normalize() {
        let v = vec![
            " b".to_string(),
            "a".into(),
            "B".into(),
            "".into(),
            "a ".into(),
        ];
        assert_eq!(norm_list(&v), vec!["B", "a", "b"]);
        assert_eq!(norm_lower_list(&v), vec!["a", "b"]);
    }
}
