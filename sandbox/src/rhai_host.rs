//! The Rhai sandbox: a raw engine with only pure packages, every limit set, no modules, no `eval`,
//! and `print`/`debug` captured per execution.
//!
//! Packages: arithmetic, logic, bit fields, strings, arrays, maps, iterators, math and function
//! pointers. Left out on purpose: `LanguageCorePackage` (it has `sleep`, `exit`, `parse_json`,
//! metadata reflection) and `BasicTimePackage` (`timestamp()` reads the clock). Rhai itself has no
//! file, network or randomness functions; calling one is "function not found". Imports compile (so
//! the script fails as a grader rather than as invalid input) and fail at run time: the engine has
//! no module resolver and a module limit of zero.

use crate::limits::{Capture, ErrorKind, Limit, Limits, Output, ScriptError};
use crate::rhai_guard;
use crate::view::{NodeKind, ViewNode, ViewValue};
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage,
    BasicMathPackage, BasicStringPackage, BitFieldPackage, LogicPackage, MoreStringPackage,
    Package,
};
use rhai::{AST, Array, Dynamic, Engine, EvalAltResult, INT, ImmutableString, Position, Scope};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Instant;

thread_local! {
    /// The capture of the execution running on this thread. Rhai's print callback has no context
    /// argument, and one engine serves every thread, so the buffer is per thread.
    static CAPTURE: RefCell<Option<Capture>> = const { RefCell::new(None) };
    /// Live bytes of this thread when the running execution started (see [`crate::meter`]).
    static MEM_START: Cell<Option<isize>> = const { Cell::new(None) };
}

fn capture_line(line: &str) {
    CAPTURE.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            c.line(line);
        }
    });
}

/// Installs a fresh capture, memory baseline and work budget for one execution; restores the
/// previous ones when dropped.
struct CaptureScope {
    previous: Option<Capture>,
    previous_mem: Option<isize>,
    previous_budget: Option<rhai_guard::Budget>,
}

impl CaptureScope {
    fn install(limits: &Limits) -> Self {
        let previous = CAPTURE.with(|c| {
            c.borrow_mut()
                .replace(Capture::new(limits.max_output_bytes))
        });
        let previous_mem = MEM_START.with(|m| m.replace(crate::meter::thread_live_bytes()));
        let previous_budget =
            rhai_guard::install(Some(rhai_guard::Budget::new(limits, Instant::now())));
        CaptureScope {
            previous,
            previous_mem,
            previous_budget,
        }
    }

    fn take(&mut self) -> Output {
        CAPTURE
            .with(|c| c.borrow_mut().take())
            .map(Capture::finish)
            .unwrap_or_default()
    }
}

impl Drop for CaptureScope {
    fn drop(&mut self) {
        let prev = self.previous.take();
        CAPTURE.with(|c| *c.borrow_mut() = prev);
        MEM_START.with(|m| m.set(self.previous_mem));
        rhai_guard::install(self.previous_budget);
    }
}

/// A view as a Rhai value (type name `view`).
#[derive(Clone)]
pub(crate) struct RView(Arc<dyn ViewNode>);

pub(crate) fn to_dynamic(v: &ViewValue) -> Dynamic {
    match v {
        ViewValue::Null => Dynamic::UNIT,
        ViewValue::Bool(b) => Dynamic::from_bool(*b),
        ViewValue::Int(i) => Dynamic::from_int(*i),
        ViewValue::Float(x) => Dynamic::from_float(*x),
        ViewValue::Str(s) => Dynamic::from(ImmutableString::from(&**s)),
        ViewValue::Node(n) => Dynamic::from(RView(n.clone())),
    }
}

/// Iterates a view: list elements, or map keys (sorted).
pub(crate) struct RViewIter {
    node: Arc<dyn ViewNode>,
    next: usize,
    keys: Option<Vec<Arc<str>>>,
}

impl Iterator for RViewIter {
    type Item = Dynamic;

    fn next(&mut self) -> Option<Dynamic> {
        let i = self.next;
        self.next += 1;
        match &self.keys {
            Some(keys) => keys
                .get(i)
                .map(|k| Dynamic::from(ImmutableString::from(&**k))),
            None => self.node.at(i).map(|v| to_dynamic(&v)),
        }
    }
}

impl IntoIterator for RView {
    type Item = Dynamic;
    type IntoIter = RViewIter;

    fn into_iter(self) -> RViewIter {
        let keys = (self.0.kind() == NodeKind::Map).then(|| self.0.keys());
        RViewIter {
            node: self.0,
            next: 0,
            keys,
        }
    }
}

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn view_get(v: &mut RView, key: ImmutableString) -> RhaiResult<Dynamic> {
    match v.0.kind() {
        NodeKind::Map => Ok(v.0.get(&key).map_or(Dynamic::UNIT, |x| to_dynamic(&x))),
        NodeKind::List => {
            Err(format!("a list is indexed by position (a number), not by the name {key:?}").into())
        }
    }
}

fn view_at(v: &mut RView, index: INT) -> RhaiResult<Dynamic> {
    if v.0.kind() == NodeKind::Map {
        return Err(
            format!("a map is indexed by name (a string), not by the number {index}").into(),
        );
    }
    let len = v.0.len();
    // Negative positions count from the end, as for Rhai arrays.
    let pos = if index < 0 {
        usize::try_from(index.unsigned_abs())
            .ok()
            .and_then(|back| len.checked_sub(back))
    } else {
        usize::try_from(index).ok().filter(|&i| i < len)
    };
    match pos.and_then(|i| v.0.at(i)) {
        Some(x) => Ok(to_dynamic(&x)),
        None => Err(EvalAltResult::ErrorArrayBounds(len, index, Position::NONE).into()),
    }
}

fn view_contains(v: &mut RView, needle: Dynamic) -> bool {
    match v.0.kind() {
        NodeKind::Map => needle
            .read_lock::<ImmutableString>()
            .is_some_and(|k| v.0.get(&k).is_some()),
        NodeKind::List => (0..v.0.len()).any(|i| match (v.0.at(i), &needle) {
            (Some(ViewValue::Str(s)), n) => n
                .read_lock::<ImmutableString>()
                .is_some_and(|k| k.as_str() == &*s),
            (Some(ViewValue::Int(a)), n) => n.as_int().is_ok_and(|b| a == b),
            (Some(ViewValue::Bool(a)), n) => n.as_bool().is_ok_and(|b| a == b),
            (Some(ViewValue::Float(a)), n) => n.as_float().is_ok_and(|b| a == b),
            (Some(ViewValue::Null), n) => n.is_unit(),
            _ => false,
        }),
    }
}

const VIEW_TEXT_CAP: usize = 4096;

/// Compact JSON for printing a view, cut at a fixed size.
fn view_text(v: &mut RView) -> String {
    let mut budget = 2_000;
    let text = ViewValue::Node(v.0.clone())
        .to_json_bounded(16, &mut budget)
        .map_or_else(
            || format!("<{} view of {} entries>", kind_name(v.0.kind()), v.0.len()),
            |j| j.to_string(),
        );
    if text.len() > VIEW_TEXT_CAP {
        let mut end = VIEW_TEXT_CAP;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    } else {
        text
    }
}

fn kind_name(k: NodeKind) -> &'static str {
    match k {
        NodeKind::Map => "map",
        NodeKind::List => "list",
    }
}

fn register_view(engine: &mut Engine) {
    engine
        .register_type_with_name::<RView>("view")
        .register_indexer_get(view_get)
        .register_indexer_get(view_at)
        .register_iterator::<RView>()
        .register_fn("len", |v: &mut RView| v.0.len() as INT)
        .register_fn("is_empty", |v: &mut RView| v.0.is_empty())
        .register_fn("is_map", |v: &mut RView| v.0.kind() == NodeKind::Map)
        .register_fn("is_list", |v: &mut RView| v.0.kind() == NodeKind::List)
        .register_fn("contains", view_contains)
        .register_fn("keys", |v: &mut RView| -> Array {
            v.0.keys()
                .iter()
                .map(|k| Dynamic::from(ImmutableString::from(&**k)))
                .collect()
        })
        .register_fn("values", |v: &mut RView| -> Array { view_values(&v.0) })
        .register_fn("to_array", |v: &mut RView| -> Array { view_values(&v.0) })
        .register_fn("to_string", view_text)
        .register_fn("to_debug", view_text);
}

/// The elements of a list, or the values of a map in key order. Composite members stay views.
fn view_values(node: &Arc<dyn ViewNode>) -> Array {
    match node.kind() {
        NodeKind::List => (0..node.len())
            .filter_map(|i| node.at(i))
            .map(|v| to_dynamic(&v))
            .collect(),
        NodeKind::Map => node
            .keys()
            .iter()
            .filter_map(|k| node.get(k))
            .map(|v| to_dynamic(&v))
            .collect(),
    }
}

/// A Rhai engine configured for untrusted, deterministic scripts.
pub(crate) fn build_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(ArithmeticPackage::new().as_shared_module());
    engine.register_global_module(LogicPackage::new().as_shared_module());
    engine.register_global_module(BitFieldPackage::new().as_shared_module());
    engine.register_global_module(BasicStringPackage::new().as_shared_module());
    engine.register_global_module(MoreStringPackage::new().as_shared_module());
    engine.register_global_module(BasicArrayPackage::new().as_shared_module());
    engine.register_global_module(BasicMapPackage::new().as_shared_module());
    engine.register_global_module(BasicIteratorPackage::new().as_shared_module());
    engine.register_global_module(BasicMathPackage::new().as_shared_module());
    engine.register_global_module(BasicFnPackage::new().as_shared_module());
    register_view(&mut engine);
    // After the packages, on the global namespace: these take precedence over the packages' own.
    rhai_guard::register(&mut engine, limits);

    engine.set_max_operations(limits.max_operations.max(1));
    engine.set_max_call_levels(limits.max_call_depth);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth);
    engine.set_max_string_size(limits.max_string_bytes.max(1));
    engine.set_max_array_size(limits.max_array_len.max(1));
    engine.set_max_map_size(limits.max_map_len.max(1));
    engine.set_max_variables(limits.max_variables.max(1));
    engine.set_max_functions(limits.max_functions);
    engine.set_max_modules(0);
    engine.set_strict_variables(true);
    engine.disable_symbol("eval");

    let max_memory = isize::try_from(limits.max_memory_bytes).unwrap_or(isize::MAX);
    engine.on_progress(move |ops| {
        // The clock is read every 256 operations: often enough for a backstop, rarely enough
        // to cost nothing measurable.
        if ops % 256 == 0 && rhai_guard::past_deadline() {
            return Some(Dynamic::from(Limit::Time.as_str()));
        }
        let start = MEM_START.with(Cell::get)?;
        let now = crate::meter::thread_live_bytes()?;
        (now.saturating_sub(start) > max_memory).then(|| Dynamic::from(Limit::Memory.as_str()))
    });
    engine.on_print(capture_line);
    engine.on_debug(|text, _source, pos| {
        if pos.is_none() {
            capture_line(&format!("[debug] {text}"));
        } else {
            capture_line(&format!(
                "[debug {}:{}] {text}",
                pos.line().unwrap_or(0),
                pos.position().unwrap_or(0)
            ));
        }
    });
    engine
}

/// Compiles with the input names declared, so that a misspelt variable is a compile error.
pub(crate) fn compile(
    engine: &Engine,
    name: &str,
    source: &str,
    inputs: &[String],
) -> Result<AST, crate::CompileError> {
    let mut scope = Scope::new();
    for input in inputs {
        scope.push(input.clone(), ());
    }
    engine.compile_with_scope(&scope, source).map_err(|e| {
        let pos = e.position();
        crate::CompileError {
            script: name.to_string(),
            line: pos.line().unwrap_or(0) as u32,
            column: pos.position().unwrap_or(0) as u32,
            message: e.err_type().to_string(),
        }
    })
}

pub(crate) fn run(
    engine: &Engine,
    ast: &AST,
    inputs: &[(&str, ViewValue)],
    limits: &Limits,
) -> Result<(Value, Output), ScriptError> {
    let mut scope = Scope::new();
    for (name, value) in inputs {
        scope.push(name.to_string(), to_dynamic(value));
    }
    let mut capture = CaptureScope::install(limits);
    let result = engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast);
    let output = capture.take();
    drop(capture);
    let attach = |mut e: ScriptError| {
        e.output = output.clone();
        e
    };
    match result {
        Ok(v) => {
            let mut budget = limits.max_result_values;
            match to_json(&v, limits.max_result_depth, &mut budget) {
                Ok(json) => Ok((json, output)),
                Err(e) => Err(attach(e)),
            }
        }
        Err(err) => Err(attach(map_error(&err, limits))),
    }
}

/// The innermost error (inside function calls) and its position.
fn innermost(err: &EvalAltResult) -> &EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => innermost(inner),
        other => other,
    }
}

fn map_error(err: &EvalAltResult, limits: &Limits) -> ScriptError {
    let inner = innermost(err);
    let pos = {
        let p = inner.position();
        if p.is_none() { err.position() } else { p }
    };
    let (line, column) = (
        pos.line().map(|l| l as u32),
        pos.position().map(|c| c as u32),
    );
    let e = match inner {
        EvalAltResult::ErrorTooManyOperations(_) => ScriptError::limit(
            Limit::Operations,
            "the script ran out of operations (endless loop?)",
        ),
        EvalAltResult::ErrorStackOverflow(_) => ScriptError::limit(
            Limit::CallDepth,
            "the script nested function calls too deeply (endless recursion?)",
        ),
        EvalAltResult::ErrorTerminated(token, _) => {
            let token = token.read_lock::<ImmutableString>();
            match token.as_deref().map(|t| t.as_str()) {
                Some("work") => ScriptError::limit(
                    Limit::Work,
                    format!(
                        "the script made builtins read or write more than {} bytes (string searches, replaces, pads, splits …)",
                        limits.max_work_bytes
                    ),
                ),
                Some("time") => ScriptError::limit(
                    Limit::Time,
                    format!(
                        "the script ran longer than the sandbox's time limit of {} s",
                        limits.max_wall_time.as_secs_f64()
                    ),
                ),
                _ => ScriptError::limit(
                    Limit::Memory,
                    format!(
                        "the script allocated more memory than the sandbox allows ({} bytes)",
                        limits.max_memory_bytes
                    ),
                ),
            }
        }
        EvalAltResult::ErrorTooManyVariables(_) => {
            ScriptError::limit(Limit::Variables, "the script declared too many variables")
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            let limit = if what.contains("string") {
                Limit::StringSize
            } else if what.contains("map") {
                Limit::MapSize
            } else {
                Limit::ArraySize
            };
            ScriptError::limit(limit, format!("{what} exceeds the sandbox limit"))
        }
        EvalAltResult::ErrorTooManyModules(_) | EvalAltResult::ErrorModuleNotFound(..) => {
            ScriptError::new(
                ErrorKind::Runtime,
                "module imports are not allowed: graders run without a module resolver",
            )
        }
        EvalAltResult::ErrorFunctionNotFound(sig, _) => ScriptError::new(
            ErrorKind::Runtime,
            format!(
                "function not found: {sig} (graders have no file, network, clock, randomness or module functions)"
            ),
        ),
        EvalAltResult::ErrorRuntime(value, _) => {
            ScriptError::new(ErrorKind::Runtime, format!("script error: {value}"))
        }
        other => {
            // Rhai's own text ends with " (line L, position C)"; the position is reported apart.
            let text = other.to_string();
            let text = match text.rfind(" (line ") {
                Some(i) if text.ends_with(')') => text[..i].to_string(),
                _ => text,
            };
            ScriptError::new(ErrorKind::Runtime, text)
        }
    };
    e.at(line, column)
}

fn bad_result(msg: String) -> ScriptError {
    ScriptError::new(ErrorKind::BadResult, msg)
}

/// Converts a script's result into JSON, bounded in size and depth.
fn to_json(v: &Dynamic, depth: usize, budget: &mut usize) -> Result<Value, ScriptError> {
    if *budget == 0 || depth == 0 {
        return Err(ScriptError::limit(
            Limit::ResultSize,
            "the returned value is too large or too deeply nested",
        ));
    }
    *budget -= 1;
    if v.is_shared() {
        return to_json(&v.flatten_clone(), depth, budget);
    }
    if v.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = v.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(x) = v.as_float() {
        return serde_json::Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| bad_result(format!("the returned number {x} is not finite")));
    }
    if let Ok(c) = v.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    if let Some(s) = v.read_lock::<ImmutableString>() {
        return Ok(Value::String(s.to_string()));
    }
    if let Some(arr) = v.read_lock::<Array>() {
        let mut out = Vec::with_capacity(arr.len().min(1024));
        for item in arr.iter() {
            out.push(to_json(item, depth - 1, budget)?);
        }
        return Ok(Value::Array(out));
    }
    if let Some(map) = v.read_lock::<rhai::Map>() {
        let mut out = serde_json::Map::new();
        for (k, item) in map.iter() {
            out.insert(k.to_string(), to_json(item, depth - 1, budget)?);
        }
        return Ok(Value::Object(out));
    }
    if let Some(view) = v.read_lock::<RView>() {
        return ViewValue::Node(view.0.clone())
            .to_json_bounded(depth, budget)
            .ok_or_else(|| {
                ScriptError::limit(
                    Limit::ResultSize,
                    "the returned view is too large or too deeply nested",
                )
            });
    }
    Err(bad_result(format!(
        "a value of type {} cannot be returned (return strings, numbers, booleans, arrays and maps)",
        v.type_name()
    )))
}
