//! Read-only, lazily resolved values that scripts see.
//!
//! A script's input is a [`ViewValue`]: scalars are plain values, maps and lists are [`ViewNode`]s that
//! resolve a member only when the script touches it. Nothing is copied into the script engine up
//! front: a grader reading `fixture.intents[3].tool_name` of a fixture with 100,000 intents converts
//! one record, not 100,000. Views have no setters — scripts cannot change what they were given, and
//! several scripts can share one view.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A value as a script sees it.
#[derive(Clone)]
pub enum ViewValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Node(Arc<dyn ViewNode>),
}

/// Whether a node is a map (string keys) or a list (0-based in Rhai, 1-based in Lua).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Map,
    List,
}

/// A map or list whose members are produced on access.
pub trait ViewNode: Send + Sync {
    fn kind(&self) -> NodeKind;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A map member; `None` when absent (and always for lists).
    fn get(&self, key: &str) -> Option<ViewValue>;
    /// A list element; `None` when out of range (and always for maps).
    fn at(&self, index: usize) -> Option<ViewValue>;
    /// Map keys in byte order (empty for lists). Sorted so that iteration is deterministic.
    fn keys(&self) -> Vec<Arc<str>>;
}

impl fmt::Debug for ViewValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViewValue::Null => f.write_str("Null"),
            ViewValue::Bool(b) => write!(f, "Bool({b})"),
            ViewValue::Int(i) => write!(f, "Int({i})"),
            ViewValue::Float(x) => write!(f, "Float({x})"),
            ViewValue::Str(s) => write!(f, "Str({s:?})"),
            ViewValue::Node(n) => write!(f, "Node({:?}, len {})", n.kind(), n.len()),
        }
    }
}

impl From<&str> for ViewValue {
    fn from(s: &str) -> Self {
        ViewValue::Str(Arc::from(s))
    }
}

impl From<String> for ViewValue {
    fn from(s: String) -> Self {
        ViewValue::Str(Arc::from(s))
    }
}

impl From<bool> for ViewValue {
    fn from(b: bool) -> Self {
        ViewValue::Bool(b)
    }
}

impl From<i64> for ViewValue {
    fn from(i: i64) -> Self {
        ViewValue::Int(i)
    }
}

impl ViewValue {
    /// A view of a JSON document (shared, never copied).
    pub fn json(root: Arc<Value>) -> ViewValue {
        JsonNode::value_at(&root, &root)
    }

    /// A view of a serializable value: converted to JSON once, now.
    pub fn serialize<T: Serialize + ?Sized>(value: &T) -> ViewValue {
        ViewValue::json(Arc::new(to_json(value)))
    }

    /// A list of serializable records; each record is converted to JSON the first time it is read.
    pub fn lazy_list<T: Serialize + Send + Sync + 'static>(items: Arc<[T]>) -> ViewValue {
        let cache = (0..items.len()).map(|_| OnceLock::new()).collect();
        ViewValue::Node(Arc::new(SerializedList { items, cache }))
    }

    pub fn node(node: impl ViewNode + 'static) -> ViewValue {
        ViewValue::Node(Arc::new(node))
    }

    /// Copies the value into JSON (for results and printing). Bounded: at most `budget` values and
    /// `max_depth` levels; `None` when either is exceeded.
    pub fn to_json_bounded(&self, max_depth: usize, budget: &mut usize) -> Option<Value> {
        if *budget == 0 {
            return None;
        }
        *budget -= 1;
        Some(match self {
            ViewValue::Null => Value::Null,
            ViewValue::Bool(b) => Value::Bool(*b),
            ViewValue::Int(i) => Value::from(*i),
            ViewValue::Float(x) => {
                serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number)
            }
            ViewValue::Str(s) => Value::String(s.to_string()),
            ViewValue::Node(n) => {
                if max_depth == 0 {
                    return None;
                }
                match n.kind() {
                    NodeKind::List => {
                        let mut out = Vec::with_capacity(n.len().min(1024));
                        for i in 0..n.len() {
                            out.push(n.at(i)?.to_json_bounded(max_depth - 1, budget)?);
                        }
                        Value::Array(out)
                    }
                    NodeKind::Map => {
                        let mut out = serde_json::Map::new();
                        for k in n.keys() {
                            let v = n.get(&k)?.to_json_bounded(max_depth - 1, budget)?;
                            out.insert(k.to_string(), v);
                        }
                        Value::Object(out)
                    }
                }
            }
        })
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Value {
    // Host types serialize infallibly (string keys, finite numbers); a failure would be a host bug,
    // and the script then sees `null` rather than the host aborting.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn scalar(v: &Value) -> Option<ViewValue> {
    Some(match v {
        Value::Null => ViewValue::Null,
        Value::Bool(b) => ViewValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ViewValue::Int(i),
            None => ViewValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => ViewValue::Str(Arc::from(s.as_str())),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// A map or list inside a shared JSON document.
///
/// Holds the document's `Arc` and a pointer to the value inside it. The pointer stays valid because
/// the `Arc` keeps the document alive and nothing can mutate it (it is never handed out mutably);
/// this avoids re-walking a path from the root on every access, which dominated script run time.
struct JsonNode {
    root: Arc<Value>,
    target: *const Value,
}

// SAFETY: `target` points into `root`, an immutable `serde_json::Value` (Send + Sync) kept alive by
// the Arc held alongside it; the node only ever reads through the pointer.
unsafe impl Send for JsonNode {}
// SAFETY: as above; shared reads of an immutable value are thread-safe.
unsafe impl Sync for JsonNode {}

impl JsonNode {
    fn value_at(root: &Arc<Value>, target: &Value) -> ViewValue {
        match scalar(target) {
            Some(s) => s,
            None => ViewValue::Node(Arc::new(JsonNode {
                root: root.clone(),
                target: target as *const Value,
            })),
        }
    }

    fn target(&self) -> &Value {
        // SAFETY: see the type's comment; `self.root` outlives `self`, and the value never moves
        // because the Arc's contents are never replaced.
        unsafe { &*self.target }
    }
}

impl ViewNode for JsonNode {
    fn kind(&self) -> NodeKind {
        match self.target() {
            Value::Array(_) => NodeKind::List,
            _ => NodeKind::Map,
        }
    }

    fn len(&self) -> usize {
        match self.target() {
            Value::Array(a) => a.len(),
            Value::Object(m) => m.len(),
            _ => 0,
        }
    }

    fn get(&self, key: &str) -> Option<ViewValue> {
        match self.target() {
            Value::Object(m) => m.get(key).map(|v| JsonNode::value_at(&self.root, v)),
            _ => None,
        }
    }

    fn at(&self, index: usize) -> Option<ViewValue> {
        match self.target() {
            Value::Array(a) => a.get(index).map(|v| JsonNode::value_at(&self.root, v)),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<Arc<str>> {
        match self.target() {
            // serde_json's map is a BTreeMap here (preserve_order is never enabled): sorted keys.
            Value::Object(m) => m.keys().map(|k| Arc::from(k.as_str())).collect(),
            _ => Vec::new(),
        }
    }
}

/// Typed records converted to JSON one at a time, on first access, then cached.
struct SerializedList<T> {
    items: Arc<[T]>,
    cache: Box<[OnceLock<Arc<Value>>]>,
}

impl<T: Serialize + Send + Sync> ViewNode for SerializedList<T> {
    fn kind(&self) -> NodeKind {
        NodeKind::List
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn get(&self, _key: &str) -> Option<ViewValue> {
        None
    }

    fn at(&self, index: usize) -> Option<ViewValue> {
        let item = self.items.get(index)?;
        let root = self.cache[index].get_or_init(|| Arc::new(to_json(item)));
        Some(ViewValue::json(root.clone()))
    }

    fn keys(&self) -> Vec<Arc<str>> {
        Vec::new()
    }
}

type Producer = Box<dyn Fn() -> ViewValue + Send + Sync>;

enum Field {
    Ready(ViewValue),
    Lazy(OnceLock<ViewValue>, Producer),
}

/// A map with named fields, some of them computed only when first read.
pub struct ObjectNode {
    fields: BTreeMap<&'static str, Field>,
}

/// Builds an [`ObjectNode`]. Field names are static: they are the host's vocabulary.
#[derive(Default)]
pub struct ObjectBuilder {
    fields: BTreeMap<&'static str, Field>,
}

impl ObjectBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn value(mut self, name: &'static str, value: impl Into<ViewValue>) -> Self {
        self.fields.insert(name, Field::Ready(value.into()));
        self
    }

    /// A field produced by `f` the first time a script reads it (at most once).
    pub fn lazy(
        mut self,
        name: &'static str,
        f: impl Fn() -> ViewValue + Send + Sync + 'static,
    ) -> Self {
        self.fields
            .insert(name, Field::Lazy(OnceLock::new(), Box::new(f)));
        self
    }

    pub fn build(self) -> ViewValue {
        ViewValue::Node(Arc::new(ObjectNode {
            fields: self.fields,
        }))
    }
}

impl ViewNode for ObjectNode {
    fn kind(&self) -> NodeKind {
        NodeKind::Map
    }

    fn len(&self) -> usize {
        self.fields.len()
    }

    fn get(&self, key: &str) -> Option<ViewValue> {
        Some(match self.fields.get(key)? {
            Field::Ready(v) => v.clone(),
            Field::Lazy(cell, f) => cell.get_or_init(f).clone(),
        })
    }

    fn at(&self, _index: usize) -> Option<ViewValue> {
        None
    }

    fn keys(&self) -> Vec<Arc<str>> {
        self.fields.keys().map(|k| Arc::from(*k)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn json_views_resolve_paths_and_scalars() {
        let v = ViewValue::json(Arc::new(
            json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}}),
        ));
        let ViewValue::Node(root) = v else {
            panic!("root must be a node")
        };
        assert_eq!(root.kind(), NodeKind::Map);
        assert_eq!(
            root.keys().iter().map(|k| &**k).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let Some(ViewValue::Node(a)) = root.get("a") else {
            panic!("a must be a list")
        };
        assert_eq!(a.len(), 5);
        assert!(matches!(a.at(0), Some(ViewValue::Int(1))));
        assert!(matches!(a.at(1), Some(ViewValue::Float(x)) if x == 2.5));
        assert!(matches!(a.at(2), Some(ViewValue::Str(s)) if &*s == "x"));
        assert!(matches!(a.at(3), Some(ViewValue::Null)));
        assert!(matches!(a.at(4), Some(ViewValue::Bool(true))));
        assert!(a.at(5).is_none());
        assert!(a.get("0").is_none(), "lists have no string keys");
        assert!(root.get("missing").is_none());
        let Some(ViewValue::Node(b)) = root.get("b") else {
            panic!("b must be a map")
        };
        assert!(matches!(b.get("c"), Some(ViewValue::Int(-3))));
    }

    #[test]
    fn lazy_list_converts_only_touched_records() {
        static CONVERTED: AtomicUsize = AtomicUsize::new(0);
        struct Rec(u32);
        impl Serialize for Rec {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                CONVERTED.fetch_add(1, Ordering::SeqCst);
                json!({"n": self.0}).serialize(s)
            }
        }
        let items: Arc<[Rec]> = (0..10_000).map(Rec).collect::<Vec<_>>().into();
        let ViewValue::Node(list) = ViewValue::lazy_list(items) else {
            panic!("list")
        };
        assert_eq!(list.len(), 10_000);
        for _ in 0..3 {
            let Some(ViewValue::Node(rec)) = list.at(7) else {
                panic!("record")
            };
            assert!(matches!(rec.get("n"), Some(ViewValue::Int(7))));
        }
        assert_eq!(
            CONVERTED.load(Ordering::SeqCst),
            1,
            "one record, converted once"
        );
    }

    #[test]
    fn lazy_fields_are_produced_once_and_only_when_read() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let ViewValue::Node(obj) = ObjectBuilder::new()
            .value("name", "f1")
            .lazy("diff", move || {
                c.fetch_add(1, Ordering::SeqCst);
                ViewValue::Bool(true)
            })
            .build()
        else {
            panic!("object")
        };
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert!(matches!(obj.get("name"), Some(ViewValue::Str(s)) if &*s == "f1"));
        assert!(matches!(obj.get("diff"), Some(ViewValue::Bool(true))));
        assert!(matches!(obj.get("diff"), Some(ViewValue::Bool(true))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn bounded_copy_stops_at_limits() {
        let v = ViewValue::json(Arc::new(json!({"a": [[[[1]]]]})));
        let mut budget = 100;
        assert_eq!(
            v.to_json_bounded(10, &mut budget),
            Some(json!({"a": [[[[1]]]]}))
        );
        let mut budget = 100;
        assert_eq!(v.to_json_bounded(3, &mut budget), None, "depth");
        let mut budget = 3;
        assert_eq!(v.to_json_bounded(10, &mut budget), None, "value count");
    }
}
