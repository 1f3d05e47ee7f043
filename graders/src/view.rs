//! The fixture as a script sees it: a lazy, read-only view built from what the runner loaded.
//!
//! Nothing is converted until a script reads it. `manifest`, `run` and `refs` are parsed from the
//! runpack's entry bytes on first access; `intents` and `results` are split into lines on first
//! access, and a record's fields are read from its line only as they are asked for. Everything is shared through `Arc`s with
//! the runner, so building the view costs a handful of pointer copies. The view is built once per
//! fixture and shared by all its script graders.

use gait_engine::plugin::{FixtureView, LoadedRunpack};
use gait_engine::runpack::read::RunpackFiles;
use gait_sandbox::{NodeKind, ObjectBuilder, ViewNode, ViewValue};
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone, Copy)]
enum Entry {
    Manifest,
    Run,
    Refs,
    Intents,
    Results,
}

fn bytes(files: &RunpackFiles, entry: Entry) -> &[u8] {
    match entry {
        Entry::Manifest => &files.manifest,
        Entry::Run => &files.run,
        Entry::Refs => &files.refs,
        Entry::Intents => &files.intents,
        Entry::Results => &files.results,
    }
}

/// A JSON document from runpack bytes, for reading only (nothing here is hashed or signed, so the
/// canonical parser's extra checks buy nothing; serde_json is three times faster on records). A
/// document that does not parse reads as `null`; schema_validation reports it.
fn parse_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// The records of a JSONL entry. Splitting into lines happens when the list is first read; each
/// record is then read field by field from its bytes (see [`RecordNode`]).
struct JsonLines {
    files: Arc<RunpackFiles>,
    entry: Entry,
    spans: Vec<(usize, usize)>,
}

impl JsonLines {
    fn new(files: Arc<RunpackFiles>, entry: Entry) -> Self {
        let all = bytes(&files, entry);
        let mut spans = Vec::new();
        let mut start = 0;
        // The runpack reader's rule: lines split on `\n`, whitespace-only lines skipped.
        while start < all.len() {
            let end = all[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(all.len(), |p| start + p);
            if !all[start..end].iter().all(u8::is_ascii_whitespace) {
                spans.push((start, end));
            }
            start = end + 1;
        }
        JsonLines {
            files,
            entry,
            spans,
        }
    }
}

impl ViewNode for JsonLines {
    fn kind(&self) -> NodeKind {
        NodeKind::List
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, _key: &str) -> Option<ViewValue> {
        None
    }

    fn at(&self, index: usize) -> Option<ViewValue> {
        let (start, end) = *self.spans.get(index)?;
        Some(ViewValue::node(RecordNode {
            files: self.files.clone(),
            entry: self.entry,
            start,
            end,
        }))
    }

    fn keys(&self) -> Vec<Arc<str>> {
        Vec::new()
    }
}

/// One record, read straight from its canonical JSON line: `get` finds the member by scanning the
/// line and converts only that value. Scripts usually read one or two fields of a record, so
/// parsing whole records into trees (about 1 µs each) would dominate a grader's cost. A line that
/// is not a JSON object reads as an empty map (schema_validation reports it).
struct RecordNode {
    files: Arc<RunpackFiles>,
    entry: Entry,
    start: usize,
    end: usize,
}

impl RecordNode {
    fn line(&self) -> &[u8] {
        &bytes(&self.files, self.entry)[self.start..self.end]
    }
}

impl ViewNode for RecordNode {
    fn kind(&self) -> NodeKind {
        NodeKind::Map
    }

    fn len(&self) -> usize {
        json_scan::members(self.line()).count()
    }

    fn get(&self, key: &str) -> Option<ViewValue> {
        let line = self.line();
        json_scan::members(line)
            .find(|(k, _)| json_scan::key_is(line, *k, key))
            .map(|(_, v)| json_scan::value(line, v))
    }

    fn at(&self, _index: usize) -> Option<ViewValue> {
        None
    }

    fn keys(&self) -> Vec<Arc<str>> {
        let line = self.line();
        let mut keys: Vec<Arc<str>> = json_scan::members(line)
            .filter_map(|(k, _)| json_scan::string(line, k))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// A minimal scanner over one JSON object's top level: member spans without building a tree.
mod json_scan {
    use gait_sandbox::ViewValue;
    use serde_json::Value;
    use std::sync::Arc;

    /// A byte range `[start, end)` of the line.
    pub type Span = (usize, usize);

    fn ws(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    /// `i` is at an opening quote; returns the index after the closing quote.
    fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'"' => return Some(i + 1),
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        None
    }

    /// The end of the value starting at `i`.
    fn value_end(b: &[u8], i: usize) -> Option<usize> {
        match *b.get(i)? {
            b'"' => string_end(b, i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                while j < b.len() {
                    match b[j] {
                        b'"' => {
                            j = string_end(b, j)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                None
            }
            _ => {
                let mut j = i;
                while j < b.len()
                    && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    j += 1;
                }
                (j > i).then_some(j)
            }
        }
    }

    /// The top-level members of the object in `b` as (key span, value span), quotes included.
    pub fn members(b: &[u8]) -> impl Iterator<Item = (Span, Span)> + '_ {
        let mut i = ws(b, 0);
        let mut ok = b.get(i) == Some(&b'{');
        i += 1;
        std::iter::from_fn(move || {
            if !ok {
                return None;
            }
            i = ws(b, i);
            if b.get(i) != Some(&b'"') {
                ok = false;
                return None;
            }
            let key = (i, string_end(b, i)?);
            i = ws(b, key.1);
            if b.get(i) != Some(&b':') {
                ok = false;
                return None;
            }
            i = ws(b, i + 1);
            let value = (i, value_end(b, i)?);
            i = ws(b, value.1);
            match b.get(i) {
                Some(b',') => i += 1,
                _ => ok = false,
            }
            Some((key, value))
        })
    }

    /// The text of a string span.
    pub fn string(b: &[u8], (s, e): Span) -> Option<Arc<str>> {
        let raw = b.get(s + 1..e.checked_sub(1)?)?;
        if raw.contains(&b'\\') {
            serde_json::from_slice::<String>(&b[s..e])
                .ok()
                .map(Arc::from)
        } else {
            std::str::from_utf8(raw).ok().map(Arc::from)
        }
    }

    pub fn key_is(b: &[u8], span: Span, key: &str) -> bool {
        let (s, e) = span;
        match b.get(s + 1..e.saturating_sub(1)) {
            Some(raw) if !raw.contains(&b'\\') => raw == key.as_bytes(),
            _ => string(b, span).is_some_and(|k| &*k == key),
        }
    }

    pub fn value(b: &[u8], (s, e): Span) -> ViewValue {
        let slice = &b[s..e];
        match slice.first() {
            Some(b'"') => string(b, (s, e)).map_or(ViewValue::Null, ViewValue::Str),
            Some(b't') if slice == b"true" => ViewValue::Bool(true),
            Some(b'f') if slice == b"false" => ViewValue::Bool(false),
            _ => match serde_json::from_slice::<Value>(slice) {
                Ok(Value::Number(n)) => match n.as_i64() {
                    Some(i) => ViewValue::Int(i),
                    None => ViewValue::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                Ok(v @ (Value::Object(_) | Value::Array(_))) => ViewValue::json(Arc::new(v)),
                Ok(Value::Bool(x)) => ViewValue::Bool(x),
                Ok(Value::String(x)) => ViewValue::from(x),
                Ok(Value::Null) | Err(_) => ViewValue::Null,
            },
        }
    }
}

fn empty_list() -> ViewValue {
    ViewValue::json(Arc::new(Value::Array(Vec::new())))
}

/// What a view needs of a loaded runpack, owned (views outlive the runner's borrows).
#[derive(Clone)]
struct RunpackSource {
    display: Arc<str>,
    files: Result<Arc<RunpackFiles>, Arc<str>>,
}

impl RunpackSource {
    fn of(loaded: &LoadedRunpack) -> Self {
        RunpackSource {
            display: Arc::from(loaded.display.as_str()),
            files: match &loaded.files {
                Ok(f) => Ok(f.clone()),
                Err(e) => Err(Arc::from(e.message.as_str())),
            },
        }
    }
}

/// The runpack's members (`manifest`, `run`, `intents`, `results`, `refs`; `error` if unreadable).
fn runpack_members(mut b: ObjectBuilder, src: &RunpackSource) -> ObjectBuilder {
    b = b.value("path", ViewValue::Str(src.display.clone()));
    match &src.files {
        Ok(files) => {
            for (name, entry) in [
                ("manifest", Entry::Manifest),
                ("run", Entry::Run),
                ("refs", Entry::Refs),
            ] {
                let f = files.clone();
                b = b.lazy(name, move || {
                    ViewValue::json(Arc::new(parse_json(bytes(&f, entry))))
                });
            }
            for (name, entry) in [("intents", Entry::Intents), ("results", Entry::Results)] {
                let f = files.clone();
                b = b.lazy(name, move || {
                    ViewValue::node(JsonLines::new(f.clone(), entry))
                });
            }
            b
        }
        Err(e) => b
            .value("error", ViewValue::Str(e.clone()))
            .value("manifest", ViewValue::Null)
            .value("run", ViewValue::Null)
            .value("refs", ViewValue::Null)
            .value("intents", empty_list())
            .value("results", empty_list()),
    }
}

/// Builds the view of a fixture (see docs/graders.md, "What a script sees").
pub fn fixture_view(v: &FixtureView<'_>) -> ViewValue {
    let mut b = ObjectBuilder::new()
        .value("name", v.name)
        .value("run_id", v.run_id())
        .value("has_candidate", v.candidate.is_some());
    let spec = v.spec.clone();
    b = b.lazy("spec", move || ViewValue::serialize(&*spec));
    b = runpack_members(b, &RunpackSource::of(v.subject().loaded));
    let baseline = RunpackSource::of(v.baseline.loaded);
    b = b.lazy("baseline", move || {
        runpack_members(ObjectBuilder::new(), &baseline).build()
    });
    b = match v.replay {
        Ok(r) => {
            let r = r.clone();
            b.lazy("replay", move || {
                let mut value = serde_json::to_value(&*r).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut value {
                    m.insert("exit_code".into(), Value::from(if r.ok { 0 } else { 2 }));
                }
                ViewValue::json(Arc::new(value))
            })
        }
        Err(e) => b.value(
            "replay",
            ObjectBuilder::new()
                .value("error", e.message.as_str())
                .build(),
        ),
    };
    b = match v.diff {
        None => b.value("diff", ViewValue::Null),
        Some(Ok(d)) => {
            let d = d.clone();
            b.lazy("diff", move || ViewValue::serialize(&d.summary))
        }
        Some(Err(e)) => b.value(
            "diff",
            ObjectBuilder::new()
                .value("error", e.message.as_str())
                .build(),
        ),
    };
    b.build()
}

#[cfg(test)]
mod tests {
    use super::json_scan;
    use gait_sandbox::ViewValue;
    use serde_json::json;

    fn get(line: &str, key: &str) -> Option<ViewValue> {
        let b = line.as_bytes();
        json_scan::members(b)
            .find(|(k, _)| json_scan::key_is(b, *k, key))
            .map(|(_, v)| json_scan::value(b, v))
    }

    fn to_json(v: Option<ViewValue>) -> serde_json::Value {
        let mut budget = 1000;
        v.and_then(|v| v.to_json_bounded(10, &mut budget))
            .unwrap_or(json!("<absent>"))
    }

    #[test]
    fn reads_members_without_a_tree() {
        let line = r#"{"a\"b":1,"args":{"url":"https://x/\"q","n":[1,{"z":"}"}]},"f":-2.5e3,"i":42,"n":null,"s":"plain","t":true,"u":"\u00e9\n"}"#;
        assert_eq!(to_json(get(line, "a\"b")), json!(1));
        assert_eq!(
            to_json(get(line, "args")),
            json!({"url": "https://x/\"q", "n": [1, {"z": "}"}]})
        );
        assert_eq!(to_json(get(line, "f")), json!(-2500.0));
        assert_eq!(to_json(get(line, "i")), json!(42));
        assert_eq!(to_json(get(line, "n")), json!(null));
        assert_eq!(to_json(get(line, "s")), json!("plain"));
        assert_eq!(to_json(get(line, "t")), json!(true));
        assert_eq!(to_json(get(line, "u")), json!("é\n"));
        assert_eq!(to_json(get(line, "missing")), json!("<absent>"));
        assert_eq!(json_scan::members(line.as_bytes()).count(), 8);
    }

    #[test]
    fn malformed_lines_read_as_empty_or_partial() {
        for bad in [
            "",
            "[]",
            "not json",
            "{\"a\"",
            "{\"a\":",
            "{\"a\" 1}",
            "{\"a\":\"unterminated}",
        ] {
            assert!(get(bad, "a").is_none(), "{bad}");
        }
        // Members before the damage are still readable; nothing panics.
        assert_eq!(to_json(get(r#"{"a":1,"b":"#, "a")), json!(1));
        assert_eq!(to_json(get(r#"{"a":1,"b":"#, "b")), json!("<absent>"));
    }
}
