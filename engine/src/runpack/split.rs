//! Splitting a run-record document into raw member and element slices, fast and without a tree.
//!
//! `gait run record` inputs can be hundreds of megabytes, almost all of it inside the `intents` and
//! `results` arrays. This scanner finds the top-level members and the array elements by structure
//! only — string bodies are skipped eight bytes at a time — so the expensive strict parse of each element can
//! run in parallel afterwards. It checks the framing it walks (object, keys, colons, commas, array
//! brackets, nothing after the document); everything inside a value is validated by the strict
//! canonical parser that each value is handed to, so a malformed value never slips through.

use crate::canon::{self, Node, ParseOptions, quote_char};
use std::collections::HashSet;

/// A structural error, worded like Go's `encoding/json` where it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError(pub String);

fn invalid_char(src: &[u8], i: usize, context: &str) -> SplitError {
    SplitError(format!(
        "invalid character {} {context}",
        quote_char(char::from(src[i]))
    ))
}

fn eof() -> SplitError {
    SplitError("unexpected end of JSON input".into())
}

fn skip_ws(src: &[u8], mut i: usize) -> usize {
    while matches!(src.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// True when any of the 8 bytes is `"` or `\\` (exact SWAR byte test).
#[inline]
fn has_quote_or_backslash(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let q = word ^ (ONES * u64::from(b'"'));
    let b = word ^ (ONES * u64::from(b'\\'));
    (q.wrapping_sub(ONES) & !q | b.wrapping_sub(ONES) & !b) & HIGH != 0
}

/// From an opening quote to just past the closing one. Strings are most of a run record's bytes:
/// eight bytes are skipped at a time while none of them can end the string.
fn skip_string(src: &[u8], start: usize) -> Result<usize, SplitError> {
    let mut i = start + 1;
    loop {
        while i + 8 <= src.len() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&src[i..i + 8]);
            if has_quote_or_backslash(u64::from_le_bytes(word)) {
                break;
            }
            i += 8;
        }
        match src.get(i) {
            None => return Err(eof()),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => i += 2, // a backslash and the byte it escapes
            Some(_) => i += 1,
        }
    }
}

/// Bit masks of one 64-byte block: which bytes are `"`, `\\`, an opening or a closing bracket.
#[cfg(target_arch = "x86_64")]
#[inline]
fn block_masks(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    use std::arch::x86_64::*;
    let (mut quote, mut backslash, mut open, mut close) = (0u64, 0u64, 0u64, 0u64);
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are always available; every
    // load reads 16 bytes at offset 0, 16, 32 or 48 of the 64-byte array (unaligned loads).
    unsafe {
        let splat = |b: u8| _mm_set1_epi8(b as i8);
        let (q, bs) = (splat(b'"'), splat(b'\\'));
        let (ob, os, cb, cs) = (splat(b'{'), splat(b'['), splat(b'}'), splat(b']'));
        for k in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
            let mask = |m: __m128i| u64::from(_mm_movemask_epi8(m) as u16) << (16 * k);
            quote |= mask(_mm_cmpeq_epi8(v, q));
            backslash |= mask(_mm_cmpeq_epi8(v, bs));
            open |= mask(_mm_or_si128(_mm_cmpeq_epi8(v, ob), _mm_cmpeq_epi8(v, os)));
            close |= mask(_mm_or_si128(_mm_cmpeq_epi8(v, cb), _mm_cmpeq_epi8(v, cs)));
        }
    }
    (quote, backslash, open, close)
}

/// Bit masks of one 64-byte block (portable version).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_masks(block: &[u8; 64]) -> (u64, u64, u64, u64) {
    let (mut quote, mut backslash, mut open, mut close) = (0u64, 0u64, 0u64, 0u64);
    for (j, &b) in block.iter().enumerate() {
        let bit = 1u64 << j;
        quote |= u64::from(b == b'"') * bit;
        backslash |= u64::from(b == b'\\') * bit;
        open |= u64::from(b == b'{' || b == b'[') * bit;
        close |= u64::from(b == b'}' || b == b']') * bit;
    }
    (quote, backslash, open, close)
}

/// Which bytes are escaped by a preceding odd run of backslashes (simdjson's branchless method).
/// `carry` says whether the previous block ended in an unfinished escape.
#[inline]
fn escaped_bytes(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN_BITS: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*carry;
    let follows_escape = (backslash << 1) | *carry;
    let odd_sequence_starts = backslash & !EVEN_BITS & !follows_escape;
    let (sequences_starting_on_even_bits, overflow) =
        odd_sequence_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    let invert_mask = sequences_starting_on_even_bits << 1;
    (EVEN_BITS ^ invert_mask) & follows_escape
}

/// Bit i set when byte i is inside a string, given the unescaped quote bits.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// From an opening bracket to just past its matching close, 64 bytes per step: the bytes inside
/// strings are masked out with bit arithmetic instead of being walked one by one.
fn skip_container(src: &[u8], start: usize) -> Result<usize, SplitError> {
    let mut depth: i64 = 0;
    let mut in_string: u64 = 0; // all ones when the previous block ended inside a string
    let mut escape_carry: u64 = 0;
    let mut at = start;
    let mut tail = [b' '; 64];
    while at < src.len() {
        // Full blocks are read in place; only the last, partial one is copied and padded.
        let block: &[u8; 64] = match src.get(at..at + 64).map(<&[u8; 64]>::try_from) {
            Some(Ok(full)) => full,
            _ => {
                let n = src.len() - at;
                tail[..n].copy_from_slice(&src[at..]);
                &tail
            }
        };
        let (quote, backslash, open, close) = block_masks(block);
        let escaped = escaped_bytes(backslash, &mut escape_carry);
        let strings = prefix_xor(quote & !escaped) ^ in_string;
        in_string = ((strings as i64) >> 63) as u64;
        let mut structural = (open | close) & !strings;
        while structural != 0 {
            let bit = structural.trailing_zeros();
            structural &= structural - 1;
            if open >> bit & 1 == 1 {
                depth += 1;
            } else {
                depth -= 1;
                if depth == 0 {
                    return Ok(at + bit as usize + 1);
                }
            }
        }
        at += 64;
    }
    Err(eof())
}

/// From the first byte of a value to just past its end. Nested containers are only balanced here;
/// their content is validated by the caller's strict parse.
fn skip_value(src: &[u8], start: usize) -> Result<usize, SplitError> {
    let Some(&first) = src.get(start) else {
        return Err(eof());
    };
    match first {
        b'"' => skip_string(src, start),
        b'{' | b'[' => skip_container(src, start),
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let mut i = start;
            while let Some(&b) = src.get(i) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            Ok(i)
        }
        _ => Err(invalid_char(src, start, "looking for beginning of value")),
    }
}

/// One top-level member: its decoded key, its raw value and, for the keys asked for, the array's
/// elements (found in the same pass that finds the value's end).
#[derive(Debug)]
pub struct Member<'a> {
    pub key: String,
    pub raw: &'a [u8],
    pub elements: Option<Vec<&'a [u8]>>,
}

/// The members of the top-level object, in order. Duplicate keys are an error, as everywhere in
/// gait's JSON. Array values of `array_keys` are split into elements while being skipped.
pub fn split_object<'a>(src: &'a [u8], array_keys: &[&str]) -> Result<Vec<Member<'a>>, SplitError> {
    let mut i = skip_ws(src, 0);
    match src.get(i) {
        None => return Err(eof()),
        Some(b'{') => i += 1,
        Some(_) => {
            return Err(SplitError(
                "the run record must be a JSON object".to_string(),
            ));
        }
    }
    let mut members = Vec::new();
    let mut seen = HashSet::new();
    i = skip_ws(src, i);
    if src.get(i) == Some(&b'}') {
        return finish(src, i + 1, members);
    }
    loop {
        i = skip_ws(src, i);
        match src.get(i) {
            None => return Err(eof()),
            Some(b'"') => {}
            Some(_) => {
                return Err(invalid_char(
                    src,
                    i,
                    "looking for beginning of object key string",
                ));
            }
        }
        let key_end = skip_string(src, i)?;
        let key = match canon::parse(&src[i..key_end], ParseOptions::default()) {
            Ok(parsed) => match parsed.node {
                Node::Str(s) => s.into_owned(),
                _ => return Err(SplitError("object key is not a string".into())),
            },
            Err(e) => return Err(SplitError(e.message)),
        };
        if !seen.insert(key.clone()) {
            return Err(SplitError(format!(
                "duplicate key {} in JSON object at the top level",
                canon::go_quote(&key)
            )));
        }
        i = skip_ws(src, key_end);
        match src.get(i) {
            None => return Err(eof()),
            Some(b':') => i += 1,
            Some(_) => return Err(invalid_char(src, i, "after object key")),
        }
        i = skip_ws(src, i);
        let (end, elements) = if src.get(i) == Some(&b'[') && array_keys.contains(&key.as_str()) {
            let (elements, end) = split_array_at(src, i)?;
            (end, Some(elements))
        } else {
            (skip_value(src, i)?, None)
        };
        members.push(Member {
            key,
            raw: &src[i..end],
            elements,
        });
        i = skip_ws(src, end);
        match src.get(i) {
            None => return Err(eof()),
            Some(b',') => i += 1,
            Some(b'}') => return finish(src, i + 1, members),
            Some(_) => return Err(invalid_char(src, i, "after object key:value pair")),
        }
    }
}

fn finish<'a>(
    src: &[u8],
    end: usize,
    members: Vec<Member<'a>>,
) -> Result<Vec<Member<'a>>, SplitError> {
    let rest = skip_ws(src, end);
    if rest < src.len() {
        return Err(invalid_char(src, rest, "after top-level value"));
    }
    Ok(members)
}

/// The elements of an array value (`null` is an empty list).
pub fn split_array(src: &[u8]) -> Result<Vec<&[u8]>, SplitError> {
    if src == b"null" {
        return Ok(Vec::new());
    }
    if src.first() != Some(&b'[') {
        return Err(SplitError(format!(
            "expected an array, got {}",
            first_kind(src)
        )));
    }
    let (items, end) = split_array_at(src, 0)?;
    let rest = skip_ws(src, end);
    if rest < src.len() {
        return Err(invalid_char(src, rest, "after array"));
    }
    Ok(items)
}

/// Elements of the array whose `[` is at `start`, and the position just past its `]`.
fn split_array_at(src: &[u8], start: usize) -> Result<(Vec<&[u8]>, usize), SplitError> {
    let mut items = Vec::new();
    let mut i = skip_ws(src, start + 1);
    if src.get(i) == Some(&b']') {
        return Ok((items, i + 1));
    }
    loop {
        i = skip_ws(src, i);
        let end = skip_value(src, i)?;
        items.push(&src[i..end]);
        i = skip_ws(src, end);
        match src.get(i) {
            None => return Err(eof()),
            Some(b',') => i += 1,
            Some(b']') => return Ok((items, i + 1)),
            Some(_) => return Err(invalid_char(src, i, "after array element")),
        }
    }
}

fn first_kind(src: &[u8]) -> &'static str {
    match src.first() {
        Some(b'{') => "object",
        Some(b'"') => "string",
        Some(b't' | b'f') => "bool",
        Some(b'n') => "null",
        Some(b'[') => "array",
        _ => "number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_members_and_elements() {
        let doc = br#" {"run": {"a": "}]\"{"}, "intents" : [ {"x": [1, {"y": "]"}]}, 2 , "s\"" ], "n": null} "#;
        let members = split_object(doc, &["intents"]).unwrap();
        let keys: Vec<&str> = members.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["run", "intents", "n"]);
        assert_eq!(members[0].raw, br#"{"a": "}]\"{"}"#);
        assert!(members[0].elements.is_none());
        let items = split_array(members[1].raw).unwrap();
        assert_eq!(members[1].elements.as_deref(), Some(items.as_slice()));
        assert_eq!(
            items,
            [br#"{"x": [1, {"y": "]"}]}"#.as_slice(), b"2", br#""s\"""#]
        );
        assert_eq!(split_array(b"null").unwrap().len(), 0);
        assert_eq!(split_array(b"[]").unwrap().len(), 0);
        // Escaped keys decode like any JSON string.
        let members = split_object(br#"{"\u0069ntents": []}"#, &[]).unwrap();
        assert_eq!(members[0].key, "intents");
    }

    /// The byte-at-a-time reference the block scanner must agree with.
    fn skip_container_slowly(src: &[u8], start: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut i = start;
        let mut in_string = false;
        while let Some(&b) = src.get(i) {
            if in_string {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        None
    }

    #[test]
    fn block_scanner_agrees_with_a_byte_scanner() {
        // Deterministic pseudo-random documents full of the hard cases: escaped quotes, runs of
        // backslashes across 64-byte block edges, brackets inside strings.
        let pieces: [&[u8]; 12] = [
            b"{",
            b"}",
            b"[",
            b"]",
            b"\"a\"",
            b"\"\\\\\"",
            b"\"\\\"}\"",
            b"\"x{y]z\"",
            b",",
            b":",
            b"123",
            b"\"\\\\\\\"]\"",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut doc = b"{".to_vec();
            let len = (seed % 200) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                doc.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            doc.extend_from_slice(b"}}}}]]]]}}}}");
            let fast = skip_container(&doc, 0).ok();
            assert_eq!(
                fast,
                skip_container_slowly(&doc, 0),
                "{}",
                String::from_utf8_lossy(&doc)
            );
        }
        // A string that straddles a block edge with an escaped quote right at the boundary.
        let mut doc = b"{\"".to_vec();
        doc.extend(std::iter::repeat_n(b'a', 61));
        doc.extend_from_slice(b"\\\"}\"}");
        assert_eq!(skip_container(&doc, 0).ok(), skip_container_slowly(&doc, 0));
        assert_eq!(skip_container(&doc, 0).ok(), Some(doc.len()));
    }

    #[test]
    fn framing_errors_are_reported() {
        for (doc, want) in [
            (b"".as_slice(), "unexpected end of JSON input"),
            (b"[1]", "must be a JSON object"),
            (b"{\"a\":1", "unexpected end of JSON input"),
            (b"{\"a\":1,}", "looking for beginning of object key string"),
            (b"{\"a\" 1}", "after object key"),
            (b"{\"a\":1 \"b\":2}", "after object key:value pair"),
            (b"{\"a\":1} x", "after top-level value"),
            (b"{\"a\":1,\"a\":2}", "duplicate key \"a\""),
            (b"{\"a\":}", "looking for beginning of value"),
            (b"{\"a\":\"unterminated}", "unexpected end of JSON input"),
            (b"{\"a\":[1,2}", "after array element"),
            (b"{\"b\":[1,2}", "unexpected end of JSON input"),
        ] {
            let err = split_object(doc, &["a"]).unwrap_err();
            assert!(
                err.0.contains(want),
                "{:?}: {err:?}",
                String::from_utf8_lossy(doc)
            );
        }
        assert!(
            split_array(b"[1,]")
                .unwrap_err()
                .0
                .contains("beginning of value")
        );
        assert!(
            split_array(b"[1 2]")
                .unwrap_err()
                .0
                .contains("after array element")
        );
        assert!(
            split_array(b"{}")
                .unwrap_err()
                .0
                .contains("expected an array, got object")
        );
    }
}
