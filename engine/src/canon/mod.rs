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
        Node::Num(n) => write_number(n.value, sink),
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
///
/// UTF-8 byte order is code-point order, which equals UTF-16 order except between a supplementary
/// character (4-byte UTF-8, lead byte 0xF0+) and U+E000..U+FFFF (lead bytes 0xEE, 0xEF): only when
/// the first differing bytes involve those is the UTF-16 comparison needed.
pub fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match x.iter().zip(y).position(|(p, q)| p != q) {
        None => x.len().cmp(&y.len()),
        Some(i) if x[i] < 0xEE && y[i] < 0xEE => x[i].cmp(&y[i]),
        Some(_) => a.encode_utf16().cmp(b.encode_utf16()),
    }
}

/// True when any of the 8 bytes is `"`, `\` or below 0x20 (exact: the classic SWAR byte tests).
#[inline]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let q = word ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let bs = word ^ (ONES * u64::from(b'\\'));
    let backslash = bs.wrapping_sub(ONES) & !bs & HIGH;
    below_space | quote | backslash != 0
}

/// RFC 8785 string form: only `"`, `\`, and controls are escaped; everything else is raw UTF-8.
pub fn write_jcs_string<S: Sink>(s: &str, sink: &mut S) {
    sink.put(b"\"");
    let bytes = s.as_bytes();
    // Skip eight bytes at a time while none needs escaping (most strings have no escapes at all).
    let mut clean = 0;
    while clean + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[clean..clean + 8]);
        if needs_escape(u64::from_le_bytes(word)) {
            break;
        }
        clean += 8;
    }
    if clean == bytes.len() {
        sink.put(bytes);
        sink.put(b"\"");
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                sink.put(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                sink.put(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        sink.put(&bytes[start..i]);
        sink.put(esc);
        start = i + 1;
    }
    sink.put(&bytes[start..]);
    sink.put(b"\"");
}

/// ECMAScript `Number.prototype.toString` of a finite double (what JCS prints); `-0` prints `0`.
pub fn es6_number(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_number(v, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes [`es6_number`] into a sink without allocating. Integral values below 2^53 (the common case
/// in tool payloads) print as plain decimals, which is exactly what ES6 prints for them.
pub fn write_number<S: Sink>(v: f64, sink: &mut S) {
    if v == 0.0 {
        sink.put(b"0");
        return;
    }
    if v.fract() == 0.0 && v.abs() <= MAX_SAFE_INTEGER {
        let mut digits = [0u8; 20];
        let mut n = v.abs() as u64;
        let mut i = digits.len();
        while n > 0 {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        if v < 0.0 {
            i -= 1;
            digits[i] = b'-';
        }
        sink.put(&digits[i..]);
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    sink.put(buf.format_finite(v).as_bytes());
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
    hex::encode(Sha256::digest(&buf))
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

/// sha256 hex of the concatenation of `parts` (a file held in chunks).
pub fn sha256_hex_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
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
    fn fast_paths_agree_with_the_reference_forms() {
        // Integers through the fast path and through ryu print the same.
        for v in [
            1.0,
            -1.0,
            42.0,
            9007199254740991.0,
            -9007199254740991.0,
            1e15,
            123456789.0,
        ] {
            let mut buf = ryu_js::Buffer::new();
            assert_eq!(es6_number(v), buf.format_finite(v), "{v}");
        }
        // UTF-16 order: U+FFFF sorts after U+10000 in UTF-8 byte order but before it in UTF-16.
        let pairs = [
            ("a", "b"),
            ("ab", "a"),
            ("\u{e000}", "\u{10000}"),
            ("\u{ffff}x", "\u{10000}"),
            ("é", "z"),
            ("same", "same"),
        ];
        for (a, b) in pairs {
            assert_eq!(
                utf16_cmp(a, b),
                a.encode_utf16().cmp(b.encode_utf16()),
                "{a} {b}"
            );
        }
        assert_eq!(
            utf16_cmp("\u{10000}", "\u{ffff}"),
            std::cmp::Ordering::Less,
            "supplementary characters sort before U+FFFF in UTF-16"
        );
        // The 8-byte scan finds escapes at every position and never flags safe bytes.
        for pos in 0..20 {
            for special in ['"', '\\', '\n', '\u{1}', '\u{1f}'] {
                let mut text: Vec<char> = "abcdefghijklmnopqrstuvwxyz".chars().collect();
                text[pos] = special;
                let text: String = text.into_iter().collect();
                let mut ours = Vec::new();
                write_jcs_string(&text, &mut ours);
                let theirs = serde_jcs::to_string(&text).unwrap();
                assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{text:?}");
            }
        }
        for safe in ["\u{20}", "~", "\u{7f}", "é", "\u{2028}", "😀"] {
            let text = safe.repeat(9);
            let mut ours = Vec::new();
            write_jcs_string(&text, &mut ours);
            assert_eq!(ours, format!("\"{text}\"").into_bytes(), "{safe:?}");
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
