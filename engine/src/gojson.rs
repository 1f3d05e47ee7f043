//! Go's JSON output conventions, written once (DESIGN invariant 4).
//!
//! The reference writes JSON with Go's `encoding/json`. Byte equality with it needs:
//! - HTML escaping: `<` `>` `&` as `\u003c` `\u003e` `\u0026`, and U+2028/U+2029 escaped;
//! - floats printed like `strconv.FormatFloat(f, 'f'|'e', -1, 64)` (ES6-style, but `-0` stays `-0`);
//! - `--json` stdout: keys sorted at every depth, one line, trailing newline ([`to_line`]);
//! - artifact files: struct field order, two-space indent, trailing newline ([`to_indented`]).
//!
//! Field presence (`omitempty`) is decided by each artifact's serde attributes, following FIELDS.md.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};
use std::io::{self, Write};

/// A serde_json formatter that writes bytes the way Go's `json.Marshal`/`MarshalIndent` does.
pub struct GoFormatter {
    indent: Option<&'static [u8]>,
    level: usize,
    has_value: bool,
}

impl GoFormatter {
    pub fn compact() -> Self {
        Self {
            indent: None,
            level: 0,
            has_value: false,
        }
    }

    pub fn indented() -> Self {
        Self {
            indent: Some(b"  "),
            level: 0,
            has_value: false,
        }
    }

    fn newline<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        if let Some(ind) = self.indent {
            w.write_all(b"\n")?;
            for _ in 0..self.level {
                w.write_all(ind)?;
            }
        }
        Ok(())
    }
}

/// Go's float64 text: shortest round-trip digits, decimal notation for 1e-6 <= |x| < 1e21.
pub fn go_float(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    crate::canon::es6_number(v)
}

impl Formatter for GoFormatter {
    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(go_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        w.write_all(go_float(f64::from(value)).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let esc: Option<&[u8]> = match bytes[i] {
                b'<' => Some(b"\\u003c"),
                b'>' => Some(b"\\u003e"),
                b'&' => Some(b"\\u0026"),
                0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA8) => {
                    Some(b"\\u2028")
                }
                0xE2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xA9) => {
                    Some(b"\\u2029")
                }
                _ => None,
            };
            match esc {
                Some(e) => {
                    w.write_all(&bytes[start..i])?;
                    w.write_all(e)?;
                    i += if bytes[i] == 0xE2 { 3 } else { 1 };
                    start = i;
                }
                None => i += 1,
            }
        }
        w.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        // serde_json's escapes already match Go's (`\"`, `\\`, `\b \f \n \r \t`, `\u00xx` lowercase).
        serde_json::ser::CompactFormatter.write_char_escape(w, escape)
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.indent.is_some() { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

fn write_with<T: Serialize + ?Sized>(
    value: &T,
    fmt: GoFormatter,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    value.serialize(&mut ser)?;
    Ok(out)
}

/// Rewrites numbers the way Go's `map[string]any` round trip does: every number becomes a float64.
fn through_float64(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && n.as_i64().is_none_or(|i| i.unsigned_abs() > (1u64 << 53))
            {
                *v = crate::canon::number_value(f);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(through_float64),
        serde_json::Value::Object(map) => map.values_mut().for_each(through_float64),
        _ => {}
    }
}

/// The `--json` stdout form: keys sorted at every depth, one line, trailing newline.
pub fn to_line<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    // serde_json's map (without `preserve_order`) is a BTreeMap: keys come out sorted byte-wise, as Go sorts.
    let mut v = serde_json::to_value(value)?;
    through_float64(&mut v);
    let mut out = write_with(&v, GoFormatter::compact())?;
    out.push(b'\n');
    Ok(out)
}

/// The artifact-file form: struct field order, two-space indent, trailing newline (`MarshalIndent`).
pub fn to_indented<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = write_with(value, GoFormatter::indented())?;
    out.push(b'\n');
    Ok(out)
}

/// Compact `json.Marshal` bytes in struct field order, no trailing newline.
pub fn to_compact<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    write_with(value, GoFormatter::compact())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn line_sorts_and_escapes_like_go() {
        let v = json!({"z": 1, "a": "<b>&\u{2028}\u{2029}\u{7f}/", "m": {"y": [], "x": {}}, "f": 1.5, "n": null});
        assert_eq!(
            String::from_utf8(to_line(&v).unwrap()).unwrap(),
            "{\"a\":\"\\u003cb\\u003e\\u0026\\u2028\\u2029\u{7f}/\",\"f\":1.5,\"m\":{\"x\":{},\"y\":[]},\"n\":null,\"z\":1}\n"
        );
    }

    #[test]
    fn floats_print_like_go() {
        for (v, want) in [
            (1.0, "1"),
            (-0.0, "-0"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (0.104409, "0.104409"),
            (123456789012345680.0, "123456789012345680"),
        ] {
            assert_eq!(String::from_utf8(to_compact(&v).unwrap()).unwrap(), want);
        }
    }

    #[test]
    fn big_integers_round_through_float64_on_stdout() {
        let v = json!({"n": 9007199254740993u64});
        assert_eq!(
            String::from_utf8(to_line(&v).unwrap()).unwrap(),
            "{\"n\":9007199254740992}\n"
        );
    }

    #[test]
    fn indented_matches_marshal_indent() {
        #[derive(Serialize)]
        struct T {
            schema_id: &'static str,
            scope: Vec<&'static str>,
            empty: Vec<u8>,
            obj: serde_json::Value,
            none: Option<u8>,
        }
        let t = T {
            schema_id: "x",
            scope: vec!["a", "b"],
            empty: vec![],
            obj: json!({}),
            none: None,
        };
        assert_eq!(
            String::from_utf8(to_indented(&t).unwrap()).unwrap(),
            "{\n  \"schema_id\": \"x\",\n  \"scope\": [\n    \"a\",\n    \"b\"\n  ],\n  \"empty\": [],\n  \"obj\": {},\n  \"none\": null\n}\n"
        );
    }
}
