//! Strict decoding of the JSON files this crate owns (manifests, index, pins, trust, lockfile).
//!
//! Everything is parsed twice: first by `canon::parse` (duplicate keys anywhere, integers beyond
//! 2^53 and excessive depth are errors — a signed file must not mean two things to two parsers), then
//! into the typed struct, whose `deny_unknown_fields` refuses anything a signature would not cover.

use gait_engine::GaitError;
use gait_engine::canon::{self, ParseOptions};
use serde::de::DeserializeOwned;

/// Decodes `bytes` as `T`, naming `what` in errors. Errors are invalid input with `code`.
pub fn strict<T: DeserializeOwned>(bytes: &[u8], what: &str, code: &str) -> Result<T, GaitError> {
    canon::parse(
        bytes,
        ParseOptions {
            max_depth: 64,
            ..ParseOptions::default()
        },
    )
    .map_err(|e| {
        let at = if e.path.is_empty() {
            String::new()
        } else {
            format!(" at {}", e.path)
        };
        crate::codes::invalid(code, format!("decode {what}: {}{at}", e.message))
    })?;
    serde_json::from_slice(bytes)
        .map_err(|e| crate::codes::invalid(code, format!("decode {what}: {e}")))
}

/// Go-style indented artifact bytes (two spaces, trailing newline) of one of our files.
pub fn indented<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, GaitError> {
    gait_engine::gojson::to_indented(value)
        .map_err(|e| GaitError::internal(format!("encode JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u32,
    }

    #[test]
    fn refuses_duplicates_unknown_fields_and_big_ints() {
        assert!(strict::<T>(br#"{"a":1}"#, "t", "c").is_ok());
        let e = strict::<T>(br#"{"a":1,"a":2}"#, "t", "c").unwrap_err();
        assert!(e.message.contains("duplicate"), "{}", e.message);
        assert_eq!(e.error_code(), "c");
        assert!(strict::<T>(br#"{"a":1,"b":2}"#, "t", "c").is_err());
        assert!(strict::<T>(br#"{"a":9007199254740993}"#, "t", "c").is_err());
        assert!(strict::<T>(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "t", "c").is_err());
    }
}
