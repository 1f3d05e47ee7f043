//! Reading intent and result records out of parsed JSON objects, with Go's decoding rules.
//!
//! The hot path of `gait run record` parses each record once with the strict canonical parser and
//! pulls its fields out here (no `serde_json::Value` tree): unknown keys are ignored, `null` is the
//! zero value, a wrong JSON type is an error naming the field, and the payload (`args` / `result`) is
//! moved out as a borrowed [`Node`] ready to be canonicalized.

use crate::GoTime;
use crate::canon::Node;
use std::borrow::Cow;

/// Which record shape: intents carry `tool_name`/`args_digest`/`args`, results `status`/`result_digest`/`result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Intent,
    Result,
}

impl RecordKind {
    pub fn payload_key(self) -> &'static str {
        match self {
            RecordKind::Intent => "args",
            RecordKind::Result => "result",
        }
    }
    pub fn digest_key(self) -> &'static str {
        match self {
            RecordKind::Intent => "args_digest",
            RecordKind::Result => "result_digest",
        }
    }
    /// `tool_name` for intents, `status` for results.
    pub fn label_key(self) -> &'static str {
        match self {
            RecordKind::Intent => "tool_name",
            RecordKind::Result => "status",
        }
    }
}

/// One intent or result record as decoded.
#[derive(Clone, Debug, Default)]
pub struct RecordFields<'a> {
    pub schema_id: Cow<'a, str>,
    pub schema_version: Cow<'a, str>,
    pub created_at: GoTime,
    pub producer_version: Cow<'a, str>,
    pub run_id: Cow<'a, str>,
    pub intent_id: Cow<'a, str>,
    /// `tool_name` (intents) or `status` (results).
    pub label: Cow<'a, str>,
    /// `args_digest` or `result_digest`.
    pub digest: Cow<'a, str>,
    /// `args` or `result`: `None` when absent or `null` (a nil map in Go).
    pub payload: Option<Node<'a>>,
}

fn type_error(what: &str, key: &str, want: &str, got: &Node<'_>) -> String {
    format!("{what}.{key}: expected {want}, got {}", got.kind())
}

/// Decodes a record from its parsed object. `what` names it in errors (`intents[3]`).
pub fn decode_record<'a>(
    node: Node<'a>,
    kind: RecordKind,
    what: &str,
) -> Result<RecordFields<'a>, String> {
    let members = match node {
        Node::Obj(m) => m,
        Node::Null => return Ok(RecordFields::default()),
        other => return Err(format!("{what}: expected an object, got {}", other.kind())),
    };
    let mut rec = RecordFields::default();
    for (key, value) in members {
        let slot: &mut Cow<'a, str> = match key.as_ref() {
            "schema_id" => &mut rec.schema_id,
            "schema_version" => &mut rec.schema_version,
            "producer_version" => &mut rec.producer_version,
            "run_id" => &mut rec.run_id,
            "intent_id" => &mut rec.intent_id,
            "created_at" => {
                rec.created_at = match value {
                    Node::Null => GoTime::zero(),
                    Node::Str(s) => {
                        GoTime::parse(&s).map_err(|e| format!("{what}.created_at: {e}"))?
                    }
                    other => return Err(type_error(what, "created_at", "a time string", &other)),
                };
                continue;
            }
            k if k == kind.label_key() => &mut rec.label,
            k if k == kind.digest_key() => &mut rec.digest,
            k if k == kind.payload_key() => {
                rec.payload = match value {
                    Node::Null => None,
                    obj @ Node::Obj(_) => Some(obj),
                    other => return Err(type_error(what, &key, "an object", &other)),
                };
                continue;
            }
            _ => continue,
        };
        *slot = match value {
            Node::Null => Cow::Borrowed(""),
            Node::Str(s) => s,
            other => return Err(type_error(what, &key, "a string", &other)),
        };
    }
    Ok(rec)
}

/// True when a payload is an object with at least one member (Go's `omitempty` keeps only those).
pub fn payload_is_nonempty(payload: &Option<Node<'_>>) -> bool {
    matches!(payload, Some(Node::Obj(m)) if !m.is_empty())
}

/// Builds the record's JSON object (the caller canonicalizes it). The payload is included only when
/// `keep_payload` and it is a non-empty object.
pub fn encode_record<'a>(rec: RecordFields<'a>, kind: RecordKind, keep_payload: bool) -> Node<'a> {
    let s = |v: Cow<'a, str>| Node::Str(v);
    let mut members: Vec<(Cow<'a, str>, Node<'a>)> = Vec::with_capacity(9);
    members.push((Cow::Borrowed("schema_id"), s(rec.schema_id)));
    members.push((Cow::Borrowed("schema_version"), s(rec.schema_version)));
    members.push((
        Cow::Borrowed("created_at"),
        Node::Str(Cow::Owned(rec.created_at.rfc3339_nano())),
    ));
    members.push((Cow::Borrowed("producer_version"), s(rec.producer_version)));
    members.push((Cow::Borrowed("run_id"), s(rec.run_id)));
    members.push((Cow::Borrowed("intent_id"), s(rec.intent_id)));
    members.push((Cow::Borrowed(kind.label_key()), s(rec.label)));
    members.push((Cow::Borrowed(kind.digest_key()), s(rec.digest)));
    if keep_payload
        && payload_is_nonempty(&rec.payload)
        && let Some(p) = rec.payload
    {
        members.push((Cow::Borrowed(kind.payload_key()), p));
    }
    Node::Obj(members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canon::{ParseOptions, parse, write_jcs};

    fn decode(src: &str, kind: RecordKind) -> Result<RecordFields<'_>, String> {
        decode_record(
            parse(src.as_bytes(), ParseOptions::recorded_payload())
                .unwrap()
                .node,
            kind,
            "intents[0]",
        )
    }

    #[test]
    fn decodes_like_go() {
        let rec = decode(
            r#"{"intent_id":"i1","tool_name":null,"extra":[1],"args":{"b":1,"a":2},"created_at":"2031-02-03T06:05:06.5+02:00"}"#,
            RecordKind::Intent,
        )
        .unwrap();
        assert_eq!(rec.intent_id, "i1");
        assert_eq!(rec.label, "");
        assert_eq!(rec.created_at.rfc3339_nano(), "2031-02-03T06:05:06.5+02:00");
        let mut out = Vec::new();
        write_jcs(&encode_record(rec, RecordKind::Intent, true), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"args":{"a":2,"b":1},"args_digest":"","created_at":"2031-02-03T06:05:06.5+02:00","intent_id":"i1","producer_version":"","run_id":"","schema_id":"","schema_version":"","tool_name":""}"#
        );
    }

    #[test]
    fn type_errors_name_the_field() {
        assert_eq!(
            decode(r#"{"tool_name":5}"#, RecordKind::Intent).unwrap_err(),
            "intents[0].tool_name: expected a string, got number"
        );
        assert_eq!(
            decode(r#"{"args":[1]}"#, RecordKind::Intent).unwrap_err(),
            "intents[0].args: expected an object, got array"
        );
        assert!(
            decode(r#"{"created_at":"yesterday"}"#, RecordKind::Result)
                .unwrap_err()
                .starts_with("intents[0].created_at: parsing time")
        );
        assert_eq!(
            decode("7", RecordKind::Result).unwrap_err(),
            "intents[0]: expected an object, got number"
        );
    }

    #[test]
    fn empty_payload_is_omitted_like_go_omitempty() {
        let rec = decode(r#"{"status":"ok","result":{}}"#, RecordKind::Result).unwrap();
        assert!(!payload_is_nonempty(&rec.payload));
        let mut out = Vec::new();
        write_jcs(&encode_record(rec, RecordKind::Result, true), &mut out);
        assert!(!String::from_utf8(out).unwrap().contains("\"result\""));
    }
}
