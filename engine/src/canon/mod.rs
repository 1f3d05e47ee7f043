//! The one canonical form: strict JSON parsing, RFC 8785 (JCS) bytes and sha256 digests.
//!
//! Every digest and signature in gait is computed from bytes produced here and nowhere else.
//! Two entry points cover all callers:
//! - [`jcs_bytes`] / [`digest_json_bytes`] take JSON text (run-record payloads, files read back),
//! - [`jcs_of`] / [`digest_of`] take any `Serialize` value (our own artifacts and payload structs).
//!
//! Both go through the same strict parser and the same writer, so a struct and its file agree.

mod parse;

pub use parse::{
    BigIntPolicy, JsonError, JsonErrorKind, MAX_SAFE_INTEGER, Node, Number, ParseOptions, Parsed,
    go_quote, number_value, parse, quote_char,
};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Where canonical bytes go: a buffer, or straight into a hasher.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// Writes the JCS form of `node` into `sink`.
pub fn write_jcs<S: Sink>(node: &Node<'_>, sink: &mut S) {
    match node {
        Node::Null => sink.put(b"null"),
        Node::Bool(true) => sink.put(b"true"),
        Node::Bool(false) => sink.put(b"false"),
        Node::Num(n) => sink.put(es6_number(n.value).as_bytes()),
        Node::Str(s) => write_jcs_string(s, sink),
        Node::Arr(items) => {
            sink.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    sink.put(b",");
                }
                write_jcs(item, sink);
            }
            sink.put(b"]");
        }
        Node::Obj(members) => {
            let mut order: Vec<&(std::borrow::Cow<'_, str>, Node<'_>)> = members.iter().collect();
            order.sort_by(|a, b| utf16_cmp(&a.0, &b.0));
            sink.put(b"{");
            for (i, (k, v)) in order.into_iter().enumerate() {
                if i > 0 {
                    sink.put(b",");
                }
                write_jcs_string(k, sink);
                sink.put(b":");
                write_jcs(v, sink);
            }
            sink.put(b"}");
        }
    }
}

/// Orders strings by their UTF-16 code units, as RFC 8785 requires for object keys.
pub fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// True for the bytes JCS escapes: `"`, `\\` and controls.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The index of the next byte at or after `from` that needs escaping. Scans eight bytes at a time
/// (a word test for "any byte below 0x20, equal to `\"` or to `\\`") and finishes byte by byte.
#[inline]
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        if below_space
            | has_zero(w ^ (ONES * u64::from(b'"')))
            | has_zero(w ^ (ONES * u64::from(b'\\')))
            != 0
        {
            break;
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| needs_escape(b))
        .map(|p| p + i)
}

/// RFC 8785 string form: only `"`, `\`, and controls are escaped; everything else is raw UTF-8.
pub fn write_jcs_string<S: Sink>(s: &str, sink: &mut S) {
    sink.put(b"\"");
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(i) = next_escape(bytes, start) {
        sink.put(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => sink.put(b"\\\""),
            b'\\' => sink.put(b"\\\\"),
            0x08 => sink.put(b"\\b"),
            0x0c => sink.put(b"\\f"),
            b'\n' => sink.put(b"\\n"),
            b'\r' => sink.put(b"\\r"),
            b'\t' => sink.put(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                sink.put(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]);
            }
        }
        start = i + 1;
    }
    sink.put(&bytes[start..]);
    sink.put(b"\"");
}

/// ECMAScript `Number.prototype.toString` of a finite double (what JCS prints); `-0` prints `0`.
pub fn es6_number(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let mut buf = ryu_js::Buffer::new();
    buf.format_finite(v).to_string()
}

/// Canonical bytes of JSON text, with the warnings the parse produced.
pub fn jcs_bytes(src: &[u8], opts: ParseOptions) -> Result<(Vec<u8>, Vec<String>), JsonError> {
    let parsed = parse(src, opts)?;
    let mut out = Vec::with_capacity(src.len());
    write_jcs(&parsed.node, &mut out);
    Ok((out, parsed.warnings))
}

/// sha256 hex of the canonical form of JSON text.
pub fn digest_json_bytes(src: &[u8], opts: ParseOptions) -> Result<String, JsonError> {
    let parsed = parse(src, opts)?;
    Ok(digest_node(&parsed.node))
}

/// sha256 hex of the canonical form of a parsed node, hashed as it is written.
pub fn digest_node(node: &Node<'_>) -> String {
    // Buffering first and hashing once is several times cheaper than feeding the hasher the
    // many small pieces JCS writes.
    let mut buf = Vec::with_capacity(1024);
    write_jcs(node, &mut buf);
    sha256_hex(&buf)
}

/// Errors turning a value into canonical bytes.
#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    #[error("serialize to JSON: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("canonicalize JSON: {0}")]
    Json(#[from] JsonError),
}

/// Canonical bytes of any serializable value (serialized with serde_json, then canonicalized).
///
/// Integers beyond 2^53 round exactly as the reference's float64 round trip does.
pub fn jcs_of<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonError> {
    let text = serde_json::to_vec(value)?;
    Ok(jcs_bytes(
        &text,
        ParseOptions {
            big_ints: BigIntPolicy::RoundWithWarning,
            max_depth: 4096,
        },
    )?
    .0)
}

/// sha256 hex of the canonical bytes of a serializable value.
pub fn digest_of<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonError> {
    Ok(sha256_hex(&jcs_of(value)?))
}

/// sha256 hex of raw bytes (lowercase; a table lookup per byte — this runs on every digest).
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
    out
}

/// True when `s` is 64 lowercase-or-uppercase hex characters.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_lowercase_hex_of_the_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_hex(b"x"), hex::encode(Sha256::digest(b"x")));
    }

    #[test]
    fn the_word_scan_finds_every_escape_at_every_offset() {
        // Each byte that needs escaping, and its neighbours that do not (including UTF-8 lead and
        // continuation bytes), at every position of strings longer than two words.
        let specials: Vec<u8> = (0u8..0x20).chain([b'"', b'\\']).collect();
        let neighbours = [b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xbf, 0xc3, 0xff];
        for len in 0..20 {
            for fill in neighbours {
                let plain = vec![fill; len];
                assert_eq!(next_escape(&plain, 0), None);
                for pos in 0..len {
                    for &sp in &specials {
                        let mut v = plain.clone();
                        v[pos] = sp;
                        assert_eq!(next_escape(&v, 0), Some(pos), "{v:?}");
                        let naive = v.iter().position(|&b| needs_escape(b));
                        assert_eq!(next_escape(&v, 0), naive);
                    }
                }
            }
        }
        let mut out = Vec::new();
        write_jcs_string("a\"b\\c\u{1}d\ne\u{e9}\u{1f600}0123456789", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\u0001d\\ne\u{e9}\u{1f600}0123456789\""
        );
    }

    fn jcs(src: &str) -> String {
        String::from_utf8(
            jcs_bytes(src.as_bytes(), ParseOptions::default())
                .unwrap()
                .0,
        )
        .unwrap()
    }

    /// RFC 8785 §3.2.2/appendix examples and the number table of appendix B.
    #[test]
    fn rfc8785_examples() {
        assert_eq!(
            jcs(
                r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"#
            ),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        // UTF-16 key ordering example of RFC 8785 §3.2.3.
        assert_eq!(
            jcs(
                "{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\",\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}"
            ),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
        for (input, want) in [
            ("0", "0"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("1.0", "1"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("1.5E-7", "1.5e-7"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("0.30000000000000004", "0.30000000000000004"),
            ("123456789.123456789", "123456789.12345679"),
            ("100.000", "100"),
            ("1234.5678e2", "123456.78"),
            ("-1.5e-9", "-1.5e-9"),
            ("9007199254740991", "9007199254740991"),
            ("295147905179352830000", "295147905179352830000"),
        ] {
            let opts = ParseOptions::recorded_payload();
            let got = String::from_utf8(jcs_bytes(input.as_bytes(), opts).unwrap().0).unwrap();
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn contracts_policy_digest_vector() {
        // CONTRACTS §2.8: the normalized payload of `default_verdict: require_approval`.
        let payload = r#"{"DefaultVerdict":"require_approval","FailClosed":{"Enabled":false,"RequiredFields":[],"RiskClasses":[]},"Rules":[],"SchemaID":"gait.gate.policy","SchemaVersion":"1.0.0"}"#;
        assert_eq!(
            digest_json_bytes(payload.as_bytes(), ParseOptions::default()).unwrap(),
            "07a528a879e4f0e0cd5a0e2ca801924746b47dac624862207ef21d4ec266f8f9"
        );
    }

    #[test]
    fn contracts_intent_digest_vector() {
        // CONTRACTS §2.9: scenario approval-token-valid.
        let payload = r#"{"args":{"path":"/tmp/approve-valid.txt"},"arg_provenance":[{"arg_path":"$.path","source":"user"}],"context":{"identity":"agent.scenario","phase":"apply","risk_class":"high","session_id":"sess-tier11","workspace":"/repo/gait"},"targets":[{"discovery_method":"unknown","endpoint_class":"fs.write","kind":"path","operation":"write","value":"/tmp/approve-valid.txt"}],"tool_name":"tool.write"}"#;
        assert_eq!(
            digest_json_bytes(payload.as_bytes(), ParseOptions::default()).unwrap(),
            "4b53bb79e35105ac9170963ac6f84ed0ed15530c68f06a46fc1233c5ec766913"
        );
    }

    #[test]
    fn trace_id_vector() {
        // CONTRACTS §3.4 / FIELDS §6.1: trace_id = sha256(policy:intent:verdict)[:24].
        let pre = "eb54c7cddd736adf51ceef00b18478d4cbb8e691a686edb446a42e2767adf6dc:67bc2c5ad062d5b41cb054bf5b1be7cad790268a5cacb0863b1370552d37a5a0:allow";
        assert_eq!(
            &sha256_hex(pre.as_bytes())[..24],
            "696d191cbfc0ba0a6bec1420"
        );
    }

    #[test]
    fn struct_and_text_agree() {
        #[derive(Serialize)]
        struct S {
            b: f64,
            a: &'static str,
            c: Vec<i64>,
        }
        let s = S {
            b: 1.0,
            a: "<&>\u{2028}",
            c: vec![3, -1],
        };
        assert_eq!(
            String::from_utf8(jcs_of(&s).unwrap()).unwrap(),
            "{\"a\":\"<&>\u{2028}\",\"b\":1,\"c\":[3,-1]}"
        );
    }
}
