//! A serde `Deserializer` over [`YNode`] that behaves like the reference's strict goccy/go-yaml decode:
//!
//! - unknown keys are errors at the key's position (`[2:1] unknown field "extra_setting"`);
//! - a container of the wrong kind is `[6:23] string was used where sequence is expected`;
//! - scalars convert like goccy: numbers and booleans become strings where a string is expected,
//!   `"3"` becomes an int, `1.5` truncates to `1` in an int field, `yes` is not a boolean;
//! - a scalar that does not convert is `[3:15] cannot unmarshal string into Go struct field
//!   Policy.Rules of type int` (goccy names the root struct and the top-level field).

use super::tree::{Kind, Pos, YNode};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A decode error; `pos` is filled in by the innermost node that knows where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeError {
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{p} {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            pos: None,
            message: msg.to_string(),
        }
    }
}

/// Decodes `node` into `T`; `root` is the Go name of the root struct used in type errors.
pub fn from_node<'de, T: de::Deserialize<'de>>(
    node: &'de YNode,
    root: &'static str,
) -> Result<T, DeError> {
    T::deserialize(YDe {
        node,
        root,
        top: None,
    })
}

/// `snake_case` → the Go field name the reference's structs use (`fail_closed` → `FailClosed`,
/// `schema_id` → `SchemaID`, `mcp_trust` → `MCPTrust`).
pub fn go_field_name(key: &str) -> String {
    key.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "id" | "ids" | "mcp" | "ttl" | "jit" | "url" | "api" => w.to_ascii_uppercase(),
            _ => {
                let mut cs = w.chars();
                match cs.next() {
                    Some(c) => c.to_uppercase().collect::<String>() + cs.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect()
}

#[derive(Clone, Copy)]
struct YDe<'de> {
    node: &'de YNode,
    root: &'static str,
    /// Go name of the top-level field this node sits under (goccy reports `Root.TopField`).
    top: Option<&'de str>,
}

impl<'de> YDe<'de> {
    fn at(&self, message: String) -> DeError {
        DeError {
            pos: Some(self.node.pos),
            message,
        }
    }

    fn field_path(&self) -> String {
        match self.top {
            Some(top) => format!("{}.{}", self.root, go_field_name(top)),
            None => self.root.to_string(),
        }
    }

    fn type_error(&self, go_type: &str) -> DeError {
        let what = match &self.node.kind {
            Kind::Str { .. } => "string",
            Kind::Seq(_) => "sequence",
            Kind::Map(_) => "mapping",
            Kind::Null => "null",
        };
        self.at(format!(
            "cannot unmarshal {what} into Go struct field {} of type {go_type}",
            self.field_path()
        ))
    }

    fn used_where(&self, expected: &str) -> DeError {
        self.at(format!(
            "{} was used where {expected} is expected",
            self.node.kind_name()
        ))
    }

    fn scalar(&self) -> Option<(&'de str, bool)> {
        match &self.node.kind {
            Kind::Str { text, plain } => Some((text.as_str(), *plain)),
            _ => None,
        }
    }

    fn child(&self, node: &'de YNode) -> YDe<'de> {
        YDe {
            node,
            root: self.root,
            top: self.top,
        }
    }
}

/// YAML 1.2 core-schema booleans for plain scalars; Go's `strconv.ParseBool` for quoted ones.
fn parse_bool(text: &str, plain: bool) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        "1" | "t" | "T" if !plain => Some(true),
        "0" | "f" | "F" if !plain => Some(false),
        _ => None,
    }
}

/// An integer the way goccy converts a scalar: decimal (or 0x/0o) integers, and floats truncated.
fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let radix = if let Some(h) = body.strip_prefix("0x") {
        Some((16, h))
    } else {
        body.strip_prefix("0o").map(|o| (8, o))
    };
    if let Some((radix, digits)) = radix {
        let v = i64::from_str_radix(digits, radix).ok()?;
        return Some(if neg { -v } else { v });
    }
    let f: f64 = t.parse().ok()?;
    if f.is_finite() && f.abs() < 9.2e18 {
        return Some(f.trunc() as i64);
    }
    None
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    text.trim().parse().ok()
}

impl<'de> de::Deserializer<'de> for YDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Str { text, .. } => visitor.visit_str(text),
            Kind::Seq(_) => self.deserialize_seq(visitor),
            Kind::Map(_) => self.deserialize_map(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            None if matches!(self.node.kind, Kind::Null) => visitor.visit_bool(false),
            Some((text, plain)) => match parse_bool(text, plain) {
                Some(b) => visitor.visit_bool(b),
                None => Err(self.type_error("bool")),
            },
            None => Err(self.type_error("bool")),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            None if matches!(self.node.kind, Kind::Null) => visitor.visit_i64(0),
            Some((text, _)) => match parse_int(text) {
                Some(v) => visitor.visit_i64(v),
                None => Err(self.type_error("int")),
            },
            None => Err(self.type_error("int")),
        }
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            None if matches!(self.node.kind, Kind::Null) => visitor.visit_f64(0.0),
            Some((text, _)) => match parse_float(text) {
                Some(v) => visitor.visit_f64(v),
                None => Err(self.type_error("float64")),
            },
            None => Err(self.type_error("float64")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Null => visitor.visit_str(""),
            Kind::Str { text, .. } => visitor.visit_str(text),
            _ => Err(self.used_where("string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            Kind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Null => visitor.visit_seq(Seq {
                de: self,
                items: [].iter(),
            }),
            Kind::Seq(items) => visitor.visit_seq(Seq {
                de: self,
                items: items.iter(),
            }),
            _ => Err(self.used_where("sequence")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Null => visitor.visit_map(Map {
                de: self,
                entries: [].iter(),
                value: None,
                at_root: false,
            }),
            Kind::Map(entries) => visitor.visit_map(Map {
                de: self,
                entries: entries.iter(),
                value: None,
                at_root: false,
            }),
            _ => Err(self.used_where("mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Null => visitor.visit_map(Map {
                de: self,
                entries: [].iter(),
                value: None,
                at_root: self.top.is_none(),
            }),
            Kind::Map(entries) => {
                if let Some((key, _)) = entries.iter().find(|(k, _)| !fields.contains(&&*k.text)) {
                    return Err(DeError {
                        pos: Some(key.pos),
                        // goccy quotes the key verbatim (a BOM stays a raw BOM).
                        message: format!("unknown field \"{}\"", key.text),
                    });
                }
                visitor.visit_map(Map {
                    de: self,
                    entries: entries.iter(),
                    value: None,
                    at_root: self.top.is_none(),
                })
            }
            _ => Err(self.used_where("mapping")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u8 u16 u32 u128 f32 char bytes byte_buf unit_struct tuple tuple_struct enum
    }
}

struct Seq<'de> {
    de: YDe<'de>,
    items: std::slice::Iter<'de, YNode>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(self.de.child(node))
                .map(Some)
                .map_err(|e| with_pos(e, node.pos)),
            None => Ok(None),
        }
    }
}

struct Map<'de> {
    de: YDe<'de>,
    entries: std::slice::Iter<'de, (super::tree::Key, YNode)>,
    value: Option<(&'de str, &'de YNode)>,
    /// True while decoding the root struct: its keys name the `Root.TopField` of type errors below.
    at_root: bool,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some((key.text.as_str(), value));
                seed.deserialize(key.text.as_str().into_deserializer())
                    .map(Some)
                    .map_err(|e: DeError| with_pos(e, key.pos))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, node)) = self.value.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        let mut child = self.de.child(node);
        if self.at_root {
            child.top = Some(key);
        }
        seed.deserialize(child).map_err(|e| with_pos(e, node.pos))
    }
}

fn with_pos(mut e: DeError, pos: Pos) -> DeError {
    if e.pos.is_none() {
        e.pos = Some(pos);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        enabled: bool,
        priority: i64,
        names: Vec<String>,
    }

    #[derive(Deserialize, Debug, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Root {
        fail_closed: Option<Inner>,
        rules: Vec<Inner>,
        name: String,
    }

    fn decode(src: &str) -> Result<Root, String> {
        let tree = super::super::tree::parse(src).map_err(|e| e.to_string())?;
        from_node::<Root>(&tree, "Policy").map_err(|e| e.to_string())
    }

    #[test]
    fn errors_read_like_goccy() {
        assert_eq!(
            decode("name: x\nextra_setting: true\n").unwrap_err(),
            "[2:1] unknown field \"extra_setting\""
        );
        assert_eq!(
            decode("rules:\n  - priority: high\n").unwrap_err(),
            "[2:15] cannot unmarshal string into Go struct field Policy.Rules of type int"
        );
        assert_eq!(
            decode("fail_closed:\n  enabled: 'yes'\n").unwrap_err(),
            "[2:12] cannot unmarshal string into Go struct field Policy.FailClosed of type bool"
        );
        assert_eq!(
            decode("rules:\n  - names: \"a\"\n").unwrap_err(),
            "[2:12] string was used where sequence is expected"
        );
        assert_eq!(
            decode("rules:\n  name: r\n").unwrap_err(),
            "[2:7] mapping was used where sequence is expected"
        );
        assert_eq!(
            decode("- a\n").unwrap_err(),
            "[1:1] sequence was used where mapping is expected"
        );
        assert_eq!(
            decode("allow\n").unwrap_err(),
            "[1:1] string was used where mapping is expected"
        );
    }

    #[test]
    fn scalars_convert_like_goccy() {
        let r = decode("name: 12\nrules:\n  - priority: 1.5\n    names: [1, 4.5, true]\n  - priority: \"3\"\n    enabled: true\n").unwrap();
        assert_eq!(r.name, "12");
        assert_eq!(r.rules[0].priority, 1);
        assert_eq!(r.rules[0].names, vec!["1", "4.5", "true"]);
        assert_eq!(r.rules[1].priority, 3);
        assert!(r.rules[1].enabled);
        assert!(
            decode("fail_closed: null\nrules: ~\n")
                .unwrap()
                .rules
                .is_empty()
        );
    }

    #[test]
    fn go_field_names() {
        assert_eq!(go_field_name("fail_closed"), "FailClosed");
        assert_eq!(go_field_name("schema_id"), "SchemaID");
        assert_eq!(go_field_name("mcp_trust"), "MCPTrust");
        assert_eq!(go_field_name("rules"), "Rules");
    }
}
