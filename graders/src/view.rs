//! The fixture as a script sees it: a lazy, read-only view built from what the runner loaded.
//!
//! Nothing is converted until a script reads it. `manifest`, `run` and `refs` are parsed from the
//! runpack's entry bytes on first access; `intents` and `results` are split into lines on first
//! access and each record is parsed when first indexed. Everything is shared through `Arc`s with
//! the runner, so building the view costs a handful of pointer copies. The view is built once per
//! fixture and shared by all its script graders.

use gait_engine::canon::{self, ParseOptions};
use gait_engine::plugin::{FixtureView, LoadedRunpack};
use gait_engine::runpack::read::{RunpackFiles, lines};
use gait_sandbox::{NodeKind, ObjectBuilder, ViewNode, ViewValue};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

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

/// A JSON document from runpack bytes; `null` if it does not parse (schema_validation reports it).
fn parse_json(bytes: &[u8]) -> Value {
    canon::parse(bytes, ParseOptions::recorded_payload())
        .map(|p| p.node.to_value())
        .unwrap_or(Value::Null)
}

/// The records of a JSONL entry, each parsed on first access.
struct JsonLines {
    files: Arc<RunpackFiles>,
    entry: Entry,
    spans: Vec<(usize, usize)>,
    cache: Box<[OnceLock<Arc<Value>>]>,
}

impl JsonLines {
    fn new(files: Arc<RunpackFiles>, entry: Entry) -> Self {
        let all = bytes(&files, entry);
        let base = all.as_ptr() as usize;
        let spans: Vec<(usize, usize)> = lines(all)
            .into_iter()
            .map(|l| {
                let start = l.as_ptr() as usize - base;
                (start, start + l.len())
            })
            .collect();
        let cache = (0..spans.len()).map(|_| OnceLock::new()).collect();
        JsonLines {
            files,
            entry,
            spans,
            cache,
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
        let value = self.cache[index]
            .get_or_init(|| Arc::new(parse_json(&bytes(&self.files, self.entry)[start..end])));
        Some(ViewValue::json(value.clone()))
    }

    fn keys(&self) -> Vec<Arc<str>> {
        Vec::new()
    }
}

fn empty_list() -> ViewValue {
    ViewValue::json(Arc::new(Value::Array(Vec::new())))
}

/// The runpack's members (`manifest`, `run`, `intents`, `results`, `refs`; `error` if unreadable).
fn runpack_members(mut b: ObjectBuilder, loaded: &LoadedRunpack) -> ObjectBuilder {
    b = b.value("path", loaded.display.as_str());
    match &loaded.files {
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
            .value("error", e.message.as_str())
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
    b = runpack_members(b, v.subject().loaded);
    let baseline = runpack_members(ObjectBuilder::new(), v.baseline.loaded).build();
    b = b.value("baseline", baseline);
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
