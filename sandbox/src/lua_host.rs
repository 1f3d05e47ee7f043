//! The Lua 5.4 sandbox (mlua, vendored): a fresh state per execution with only the base, string,
//! table, math and utf8 libraries, a memory limit, an instruction budget, and determinism fixes.
//!
//! Removed: `dofile`, `loadfile`, `load`, `require`, `collectgarbage`, `warn` (writes to stderr),
//! `math.random`/`randomseed` (seeded from the clock), `string.dump`. `io`, `os`, `debug`, `package`
//! and `coroutine` are never loaded.
//!
//! Replaced, because the stock versions escape the limits or the determinism guarantee:
//! - `print` — captured into the grader's output, never written to stdout;
//! - `tostring`, `string.format("%s")` — no memory addresses (`table: 0x…`); `%p` is refused;
//! - `pairs`, `next` — keys in a fixed order (numbers, then strings, then booleans): Lua seeds its
//!   string hash from the clock and ASLR, so stock iteration order changes between runs;
//! - `table.sort` — a stable merge sort (the stock quicksort picks pivots from the clock);
//! - `string.find/match/gmatch/gsub` — the step-counted matcher of [`crate::lua_pattern`];
//! - `table.move`, `string.rep` — native loops that could run for hours are charged to the budget;
//! - `pcall`, `xpcall` — cannot catch a limit error, so a limit always ends the script;
//! - `setmetatable` — refuses `__gc`: finalizers run with hooks disabled and could never be stopped.
//!
//! A fresh state per execution also means one fixture's script cannot leave globals behind for the
//! next: every execution starts from the same state.

use crate::limits::{Capture, CompileError, ErrorKind, Limit, Limits, Output, ScriptError};
use crate::lua_pattern::{self, Cap, Matcher, PatError};
use crate::view::{NodeKind, ViewNode, ViewValue};
use mlua::chunk::ChunkMode;
use mlua::{
    Function, HookTriggers, Lua, LuaOptions, LuaString, MetaMethod, MultiValue, StdLib, Table,
    UserData, UserDataMethods, Value, VmState,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// A compiled chunk: Lua bytecode of the script (with line information, for error positions).
pub(crate) struct LuaChunk {
    bytecode: Vec<u8>,
}

fn new_state() -> mlua::Result<Lua> {
    let libs = StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::UTF8;
    Lua::new_with(libs, LuaOptions::new())
}

pub(crate) fn compile(name: &str, source: &str) -> Result<LuaChunk, CompileError> {
    let internal = |message: String| CompileError {
        script: name.to_string(),
        line: 0,
        column: 0,
        message,
    };
    let lua = new_state().map_err(|e| internal(format!("cannot create a Lua state: {e}")))?;
    let f = lua
        .load(source)
        .set_name(format!("={name}"))
        .set_mode(ChunkMode::Text)
        .into_function()
        .map_err(|e| syntax_error(name, source, &e))?;
    Ok(LuaChunk {
        bytecode: f.dump(false),
    })
}

/// Lua reports `name:LINE: message near 'token'`; the column is where that token sits on the line.
fn syntax_error(name: &str, source: &str, e: &mlua::Error) -> CompileError {
    // Lua reports some compile errors (C stack overflow on deep nesting) as runtime errors; their
    // text has the same `name:LINE: message` shape, without mlua's "runtime error: " prefix.
    let text = match e {
        mlua::Error::SyntaxError { message, .. } | mlua::Error::RuntimeError(message) => {
            message.clone()
        }
        other => other.to_string(),
    };
    let (line, message) = split_position(name, &text);
    if line.is_none() && message.contains("C stack overflow") {
        // Raised from C while parsing, where Lua knows no position: it concerns the whole script.
        return CompileError {
            script: name.to_string(),
            line: 1,
            column: 1,
            message: "the script nests expressions or blocks too deeply for the Lua parser (C stack overflow)".to_string(),
        };
    }
    let line = line.unwrap_or(0);
    let column = column_of(source, line, &message);
    CompileError {
        script: name.to_string(),
        line,
        column,
        message,
    }
}

/// Splits `name:LINE: message` into the line and the message.
fn split_position(name: &str, text: &str) -> (Option<u32>, String) {
    let rest = text.strip_prefix(name).and_then(|r| r.strip_prefix(':'));
    if let Some(rest) = rest
        && let Some((num, msg)) = rest.split_once(": ")
        && let Ok(line) = num.parse::<u32>()
    {
        return (Some(line), msg.to_string());
    }
    (None, text.to_string())
}

fn column_of(source: &str, line: u32, message: &str) -> u32 {
    let Some(text) = source.lines().nth(line.saturating_sub(1) as usize) else {
        return 1;
    };
    if message.ends_with("near <eof>") {
        return text.chars().count() as u32 + 1;
    }
    let token = message
        .rsplit_once("near '")
        .and_then(|(_, t)| t.strip_suffix('\''));
    match token.and_then(|t| text.find(t)) {
        Some(byte) => text[..byte].chars().count() as u32 + 1,
        None => 1,
    }
}

/// Raised (as an external error) when a budget runs out.
#[derive(Debug)]
struct LimitError(Limit);

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sandbox limit exceeded: {}", self.0)
    }
}

impl std::error::Error for LimitError {}

fn limit_err(l: Limit) -> mlua::Error {
    mlua::Error::external(LimitError(l))
}

struct RunState {
    capture: RefCell<Capture>,
    tripped: Cell<Option<Limit>>,
    /// Instructions executed plus native work charged, against `max`.
    used: Cell<u64>,
    max: u64,
    max_depth: usize,
    max_pattern_steps: u64,
    max_memory: usize,
    /// Bytes read or written by native string and table functions, against `max_work`.
    work: Cell<u64>,
    max_work: u64,
    deadline: Option<Instant>,
}

impl RunState {
    /// Charges `bytes` of native work (see [`Limits::max_work_bytes`]); also the place where
    /// native calls look at the clock.
    fn charge_bytes(&self, bytes: usize) -> mlua::Result<()> {
        if let Some(l) = self.tripped.get() {
            return Err(limit_err(l));
        }
        let used = self.work.get().saturating_add(bytes as u64);
        self.work.set(used);
        if used > self.max_work {
            return Err(self.trip(Limit::Work));
        }
        self.check_time()
    }

    fn check_time(&self) -> mlua::Result<()> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(self.trip(Limit::Time));
        }
        Ok(())
    }

    fn trip(&self, l: Limit) -> mlua::Error {
        if self.tripped.get().is_none() {
            self.tripped.set(Some(l));
        }
        limit_err(self.tripped.get().unwrap_or(l))
    }

    /// Charges `n` units of work; fails once the budget is spent (and on every call after).
    fn charge(&self, n: u64) -> mlua::Result<()> {
        if let Some(l) = self.tripped.get() {
            return Err(limit_err(l));
        }
        let used = self.used.get().saturating_add(n);
        self.used.set(used);
        if used > self.max {
            return Err(self.trip(Limit::Instructions));
        }
        Ok(())
    }

    /// Whether an error value (or the state) means a limit was hit; marks memory exhaustion.
    fn is_limit(&self, v: &Value) -> bool {
        if self.tripped.get().is_some() {
            return true;
        }
        let limit = match v {
            Value::String(s) if s.as_bytes().as_ref() == b"not enough memory" => {
                Some(Limit::Memory)
            }
            Value::Error(e) => limit_of(e),
            _ => None,
        };
        if let Some(l) = limit {
            self.tripped.set(Some(l));
        }
        limit.is_some()
    }
}

fn root_cause(e: &mlua::Error) -> &mlua::Error {
    match e {
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            root_cause(cause)
        }
        other => other,
    }
}

fn limit_of(e: &mlua::Error) -> Option<Limit> {
    match root_cause(e) {
        mlua::Error::MemoryError(_) => Some(Limit::Memory),
        mlua::Error::ExternalError(x) => x.downcast_ref::<LimitError>().map(|l| l.0),
        mlua::Error::RuntimeError(m)
            if m.ends_with("stack overflow") || m.contains("C stack overflow") =>
        {
            Some(Limit::CallDepth)
        }
        _ => None,
    }
}

/// A view as Lua userdata: `v.field`, `v[1]` (lists are 1-based), `#v`, `pairs(v)`, `tostring(v)`.
struct LView(Arc<dyn ViewNode>);

impl UserData for LView {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::Index, |lua, this, key: Value| {
            view_index(lua, &this.0, &key)
        });
        methods.add_meta_method(MetaMethod::Len, |_, this, ()| Ok(this.0.len()));
        methods.add_meta_method(MetaMethod::Pairs, |lua, this, ()| {
            view_pairs(lua, this.0.clone())
        });
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| Ok(view_text(&this.0)));
        methods.add_meta_method(MetaMethod::NewIndex, |_, _, (_k, _v): (Value, Value)| {
            Err::<(), _>(mlua::Error::runtime("views are read-only"))
        });
    }
}

fn view_text(node: &Arc<dyn ViewNode>) -> String {
    let mut budget = 2_000;
    let text = ViewValue::Node(node.clone())
        .to_json_bounded(16, &mut budget)
        .map(|j| j.to_string());
    match text {
        Some(t) if t.len() <= 4096 => t,
        _ => format!(
            "<{} view of {} entries>",
            if node.kind() == NodeKind::Map {
                "map"
            } else {
                "list"
            },
            node.len()
        ),
    }
}

fn to_lua(lua: &Lua, v: &ViewValue) -> mlua::Result<Value> {
    Ok(match v {
        ViewValue::Null => Value::Nil,
        ViewValue::Bool(b) => Value::Boolean(*b),
        ViewValue::Int(i) => Value::Integer(*i),
        ViewValue::Float(x) => Value::Number(*x),
        ViewValue::Str(s) => Value::String(lua.create_string(&**s)?),
        ViewValue::Node(n) => Value::UserData(lua.create_userdata(LView(n.clone()))?),
    })
}

fn view_index(lua: &Lua, node: &Arc<dyn ViewNode>, key: &Value) -> mlua::Result<Value> {
    let found = match (node.kind(), key) {
        (NodeKind::List, Value::Integer(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| node.at(i)),
        (NodeKind::List, Value::Number(x)) if x.fract() == 0.0 && *x >= 1.0 => {
            node.at(*x as usize - 1)
        }
        (NodeKind::Map, Value::String(s)) => match s.to_str() {
            Ok(k) => node.get(&k),
            Err(_) => None,
        },
        _ => None,
    };
    match found {
        Some(v) => to_lua(lua, &v),
        None => Ok(Value::Nil),
    }
}

fn view_pairs(lua: &Lua, node: Arc<dyn ViewNode>) -> mlua::Result<(Function, Value, Value)> {
    let keys = (node.kind() == NodeKind::Map).then(|| node.keys());
    let next = Cell::new(0usize);
    let f = lua.create_function(move |lua, _: MultiValue| {
        let i = next.get();
        next.set(i + 1);
        let pair = match &keys {
            Some(keys) => match keys.get(i) {
                Some(k) => match node.get(k) {
                    Some(v) => Some((Value::String(lua.create_string(&**k)?), v)),
                    None => None,
                },
                None => None,
            },
            None => node.at(i).map(|v| (Value::Integer(i as i64 + 1), v)),
        };
        match pair {
            Some((k, v)) => Ok((k, to_lua(lua, &v)?)),
            None => Ok((Value::Nil, Value::Nil)),
        }
    })?;
    Ok((f, Value::Nil, Value::Nil))
}

/// The prelude: `pcall`/`xpcall` that rethrow limit errors, and a `setmetatable` that refuses `__gc`.
/// It keeps the raw functions in upvalues, out of the script's reach (there is no `debug` library).
const PRELUDE: &str = r#"
local raw_pcall, raw_xpcall, raw_error, raw_setmetatable, rawget, type, tripped = ...
local LIMIT = "sandbox limit exceeded"
local function rethrow(ok, ...)
  if not ok and tripped((...)) then raw_error((...), 0) end
  return ok, ...
end
pcall = function(f, ...)
  if tripped() then raw_error(LIMIT, 0) end
  return rethrow(raw_pcall(f, ...))
end
xpcall = function(f, handler, ...)
  if tripped() then raw_error(LIMIT, 0) end
  return rethrow(raw_xpcall(f, function(e)
    if tripped(e) then return e end
    return handler(e)
  end, ...))
end
setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    raw_error("__gc metamethods are not allowed in the sandbox", 2)
  end
  return raw_setmetatable(t, mt)
end
return function(a, b) return a < b end
"#;

fn prelude_bytecode() -> mlua::Result<&'static [u8]> {
    static CODE: OnceLock<Vec<u8>> = OnceLock::new();
    if let Some(c) = CODE.get() {
        return Ok(c);
    }
    let lua = new_state()?;
    let f = lua
        .load(PRELUDE)
        .set_name("=gait-prelude")
        .into_function()?;
    Ok(CODE.get_or_init(|| f.dump(true)))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

fn bad_arg(n: usize, fname: &str, expected: &str, got: &Value) -> mlua::Error {
    mlua::Error::runtime(format!(
        "bad argument #{n} to '{fname}' ({expected} expected, got {})",
        if matches!(got, Value::Nil) {
            "no value"
        } else {
            type_name(got)
        }
    ))
}

fn arg(args: &MultiValue, i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Nil)
}

fn check_string(lua: &Lua, args: &MultiValue, i: usize, fname: &str) -> mlua::Result<LuaString> {
    let v = arg(args, i);
    match lua.coerce_string(v.clone())? {
        Some(s) => Ok(s),
        None => Err(bad_arg(i + 1, fname, "string", &v)),
    }
}

fn opt_integer(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    fname: &str,
    default: i64,
) -> mlua::Result<i64> {
    let v = arg(args, i);
    if v.is_nil() {
        return Ok(default);
    }
    match lua.coerce_integer(v.clone())? {
        Some(n) => Ok(n),
        None => Err(bad_arg(i + 1, fname, "number", &v)),
    }
}

fn pat_error(st: &RunState, e: PatError) -> mlua::Error {
    match e {
        PatError::Msg(m) => mlua::Error::runtime(m),
        PatError::Steps => st.trip(Limit::PatternSteps),
    }
}

fn push_caps(lua: &Lua, caps: &[Cap<'_>], out: &mut Vec<Value>) -> mlua::Result<()> {
    for c in caps {
        out.push(match c {
            Cap::Str(s) => Value::String(lua.create_string(s)?),
            Cap::Pos(p) => Value::Integer(*p as i64),
        });
    }
    Ok(())
}

fn install_patterns(lua: &Lua, string: &Table, st: &Rc<RunState>) -> mlua::Result<()> {
    for (fname, find) in [("find", true), ("match", false)] {
        let st = st.clone();
        let f = lua.create_function(move |lua, args: MultiValue| {
            let s = check_string(lua, &args, 0, fname)?;
            let p = check_string(lua, &args, 1, fname)?;
            let init = opt_integer(lua, &args, 2, fname, 1)?;
            let plain = find && !matches!(arg(&args, 3), Value::Nil | Value::Boolean(false));
            let (sb, pb) = (s.as_bytes(), p.as_bytes());
            // A plain find is a native substring search: its cost is the bytes it scans.
            st.charge_bytes(sb.len())?;
            let (r, steps) =
                lua_pattern::find_aux(&sb, &pb, init, plain, find, st.max_pattern_steps);
            st.charge(steps)?;
            let mut out = Vec::new();
            match r.map_err(|e| pat_error(&st, e))? {
                None => out.push(Value::Nil),
                Some(found) => {
                    if find {
                        out.push(Value::Integer(found.start as i64 + 1));
                        out.push(Value::Integer(found.end as i64));
                    }
                    push_caps(lua, &found.caps, &mut out)?;
                }
            }
            Ok(MultiValue::from_iter(out))
        })?;
        string.raw_set(fname, f)?;
    }

    let st_g = st.clone();
    let gmatch = lua.create_function(move |lua, args: MultiValue| {
        let s = check_string(lua, &args, 0, "gmatch")?;
        let p = check_string(lua, &args, 1, "gmatch")?;
        let init = opt_integer(lua, &args, 2, "gmatch", 1)?;
        let len = s.as_bytes().len();
        let start = lua_pattern::start_offset(init, len).min(len + 1);
        let pos = Cell::new(start);
        let last: Cell<Option<usize>> = Cell::new(None);
        let st = st_g.clone();
        lua.create_function(move |lua, _: MultiValue| {
            let (sb, pb) = (s.as_bytes(), p.as_bytes());
            let mut m = Matcher::new(&sb, &pb, st.max_pattern_steps);
            let mut src = pos.get();
            let mut result = None;
            while src <= sb.len() {
                m.reset();
                match m.do_match(src, 0) {
                    Ok(Some(e)) if Some(e) != last.get() => {
                        pos.set(e);
                        last.set(Some(e));
                        result = Some(m.captures(Some((src, e))));
                        break;
                    }
                    Ok(_) => src += 1,
                    Err(e) => {
                        st.charge(m.steps())?;
                        return Err(pat_error(&st, e));
                    }
                }
            }
            st.charge(m.steps())?;
            let mut out = Vec::new();
            match result {
                None => {
                    pos.set(sb.len() + 1);
                    out.push(Value::Nil);
                }
                Some(caps) => push_caps(lua, &caps.map_err(|e| pat_error(&st, e))?, &mut out)?,
            }
            Ok(MultiValue::from_iter(out))
        })
    })?;
    string.raw_set("gmatch", gmatch)?;

    let st_s = st.clone();
    let gsub = lua.create_function(move |lua, args: MultiValue| gsub(lua, &st_s, args))?;
    string.raw_set("gsub", gsub)?;
    Ok(())
}

/// `string.gsub`, following `str_gsub`/`add_value`/`add_s` of lstrlib.c.
fn gsub(lua: &Lua, st: &RunState, args: MultiValue) -> mlua::Result<(Value, i64)> {
    let s = check_string(lua, &args, 0, "gsub")?;
    let p = check_string(lua, &args, 1, "gsub")?;
    let repl = arg(&args, 2);
    let sb = s.as_bytes();
    let max_n = opt_integer(lua, &args, 3, "gsub", sb.len() as i64 + 1)?;
    if !matches!(
        repl,
        Value::String(_)
            | Value::Integer(_)
            | Value::Number(_)
            | Value::Table(_)
            | Value::Function(_)
    ) {
        return Err(bad_arg(3, "gsub", "string/function/table", &repl));
    }
    let repl_text = match &repl {
        Value::Table(_) | Value::Function(_) => None,
        other => lua.coerce_string(other.clone())?,
    };
    let pb = p.as_bytes();
    let anchor = pb.first() == Some(&b'^');
    let pat: &[u8] = if anchor { &pb[1..] } else { &pb };
    let mut m = Matcher::new(&sb, pat, st.max_pattern_steps);
    let mut out: Vec<u8> = Vec::new();
    let mut src = 0usize;
    let mut last: Option<usize> = None;
    let mut n = 0i64;
    let mut changed = false;
    let too_big = |out: &Vec<u8>| out.len() > st.max_memory;
    while n < max_n {
        m.reset();
        let e = m.do_match(src, 0).map_err(|e| pat_error(st, e))?;
        match e {
            Some(e) if Some(e) != last => {
                n += 1;
                changed |= add_value(
                    lua,
                    st,
                    &m,
                    &mut out,
                    &repl,
                    repl_text.as_ref(),
                    src,
                    e,
                    &sb,
                )?;
                src = e;
                last = Some(e);
            }
            _ if src < sb.len() => {
                out.push(sb[src]);
                src += 1;
            }
            _ => break,
        }
        if too_big(&out) {
            return Err(st.trip(Limit::Memory));
        }
        if anchor {
            break;
        }
    }
    st.charge(m.steps() + out.len() as u64 / 64)?;
    st.charge_bytes(sb.len() + out.len())?;
    if !changed {
        return Ok((Value::String(s.clone()), n));
    }
    out.extend_from_slice(&sb[src..]);
    if too_big(&out) {
        return Err(st.trip(Limit::Memory));
    }
    Ok((Value::String(lua.create_string(&out)?), n))
}

#[allow(clippy::too_many_arguments)]
fn add_value(
    lua: &Lua,
    st: &RunState,
    m: &Matcher<'_>,
    out: &mut Vec<u8>,
    repl: &Value,
    repl_text: Option<&LuaString>,
    s: usize,
    e: usize,
    src: &[u8],
) -> mlua::Result<bool> {
    let value = match repl {
        Value::Function(f) => {
            let caps = m.captures(Some((s, e))).map_err(|x| pat_error(st, x))?;
            let mut args = Vec::new();
            push_caps(lua, &caps, &mut args)?;
            f.call::<Value>(MultiValue::from_iter(args))?
        }
        Value::Table(t) => {
            let first = m.capture(0, s, e).map_err(|x| pat_error(st, x))?;
            let mut key = Vec::new();
            push_caps(lua, &[first], &mut key)?;
            t.get::<Value>(key.pop().unwrap_or(Value::Nil))?
        }
        _ => {
            let text = repl_text.map(|t| t.as_bytes().to_vec()).unwrap_or_default();
            add_s(st, m, out, &text, src, s, e)?;
            return Ok(true);
        }
    };
    match value {
        Value::Nil | Value::Boolean(false) => {
            out.extend_from_slice(&src[s..e]);
            Ok(false)
        }
        v @ (Value::String(_) | Value::Integer(_) | Value::Number(_)) => {
            if let Some(text) = lua.coerce_string(v)? {
                out.extend_from_slice(&text.as_bytes());
            }
            Ok(true)
        }
        other => Err(mlua::Error::runtime(format!(
            "invalid replacement value (a {})",
            type_name(&other)
        ))),
    }
}

fn add_s(
    st: &RunState,
    m: &Matcher<'_>,
    out: &mut Vec<u8>,
    news: &[u8],
    src: &[u8],
    s: usize,
    e: usize,
) -> mlua::Result<()> {
    let mut i = 0;
    while i < news.len() {
        let c = news[i];
        i += 1;
        if c != b'%' {
            out.push(c);
            continue;
        }
        let d = news.get(i).copied().unwrap_or(0);
        i += 1;
        match d {
            b'%' => out.push(b'%'),
            b'0' => out.extend_from_slice(&src[s..e]),
            b'1'..=b'9' => match m
                .capture(usize::from(d - b'1'), s, e)
                .map_err(|x| pat_error(st, x))?
            {
                Cap::Str(t) => out.extend_from_slice(t),
                Cap::Pos(p) => out.extend_from_slice(p.to_string().as_bytes()),
            },
            _ => {
                return Err(mlua::Error::runtime(
                    "invalid use of '%' in replacement string",
                ));
            }
        }
    }
    Ok(())
}

fn key_rank(v: &Value) -> Option<u8> {
    match v {
        Value::Integer(_) | Value::Number(_) => Some(0),
        Value::String(_) => Some(1),
        Value::Boolean(_) => Some(2),
        _ => None,
    }
}

/// Compares an integer with a float exactly (no rounding through f64).
fn cmp_int_float(i: i64, x: f64) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if x >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    if x < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    let fl = x.floor();
    match i.cmp(&(fl as i64)) {
        Ordering::Equal if x > fl => Ordering::Less,
        o => o,
    }
}

/// The fixed order of table keys: numbers ascending, then strings by bytes, then false, true.
fn key_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ra, rb) = (key_rank(a).unwrap_or(3), key_rank(b).unwrap_or(3));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Integer(x), Value::Number(y)) => cmp_int_float(*x, *y),
        (Value::Number(x), Value::Integer(y)) => cmp_int_float(*y, *x).reverse(),
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.as_bytes().as_ref().cmp(y.as_bytes().as_ref()),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// A stable merge sort over indices that never panics, whatever the comparator answers.
fn merge_sort<E>(
    idx: &mut [usize],
    less: &mut impl FnMut(usize, usize) -> Result<bool, E>,
) -> Result<(), E> {
    let n = idx.len();
    if n <= 1 {
        return Ok(());
    }
    let mid = n / 2;
    merge_sort(&mut idx[..mid], less)?;
    merge_sort(&mut idx[mid..], less)?;
    let left = idx[..mid].to_vec();
    let right = idx[mid..].to_vec();
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < left.len() && j < right.len() {
        if less(right[j], left[i])? {
            idx[k] = right[j];
            j += 1;
        } else {
            idx[k] = left[i];
            i += 1;
        }
        k += 1;
    }
    for &x in left[i..].iter().chain(&right[j..]) {
        idx[k] = x;
        k += 1;
    }
    Ok(())
}

fn log2_work(n: usize) -> u64 {
    (n as u64).saturating_mul(u64::from(usize::BITS - n.leading_zeros()) + 1)
}

fn sorted_keys(st: &RunState, t: &Table, fname: &str) -> mlua::Result<Vec<Value>> {
    let mut keys = Vec::new();
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        if key_rank(&k).is_none() {
            return Err(mlua::Error::runtime(format!(
                "{fname}: table keys of type {} have no deterministic order in the sandbox; use string or number keys",
                type_name(&k)
            )));
        }
        keys.push(k);
    }
    st.charge(log2_work(keys.len()))?;
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    merge_sort(&mut idx, &mut |a, b| {
        Ok::<_, mlua::Error>(key_cmp(&keys[a], &keys[b]) == std::cmp::Ordering::Less)
    })?;
    Ok(idx.into_iter().map(|i| keys[i].clone()).collect())
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Nil | Value::Boolean(false))
}

fn safe_tostring(lua: &Lua, raw: &Function, v: Value) -> mlua::Result<Value> {
    let has_tostring = |mt: Option<Table>| {
        mt.and_then(|mt| mt.raw_get::<Value>("__tostring").ok())
            .is_some_and(|f| !f.is_nil())
    };
    let name = match &v {
        Value::Table(t) if !has_tostring(t.metatable()) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        Value::LightUserData(_) => "userdata",
        Value::Error(e) => return Ok(Value::String(lua.create_string(e.to_string())?)),
        _ => return raw.call(v),
    };
    Ok(Value::String(lua.create_string(name)?))
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        other => type_name(other).to_string(),
    }
}

/// Sets up the globals of a fresh state; see the module documentation.
fn setup(lua: &Lua, st: &Rc<RunState>) -> mlua::Result<()> {
    let g = lua.globals();
    let string: Table = g.raw_get("string")?;
    let table: Table = g.raw_get("table")?;
    let math: Table = g.raw_get("math")?;
    let utf8: Table = g.raw_get("utf8")?;
    let raw_tostring: Function = g.raw_get("tostring")?;
    let raw_format: Function = string.raw_get("format")?;
    let raw_rep: Function = string.raw_get("rep")?;
    let raw_move: Function = table.raw_get("move")?;

    let st_t = st.clone();
    let tripped = lua.create_function(move |_, v: Value| Ok(st_t.is_limit(&v)))?;
    let prelude = lua
        .load(prelude_bytecode()?)
        .set_mode(ChunkMode::Binary)
        .into_function()?;
    let default_less: Function = prelude.call((
        g.raw_get::<Value>("pcall")?,
        g.raw_get::<Value>("xpcall")?,
        g.raw_get::<Value>("error")?,
        g.raw_get::<Value>("setmetatable")?,
        g.raw_get::<Value>("rawget")?,
        g.raw_get::<Value>("type")?,
        tripped,
    ))?;

    for name in [
        "dofile",
        "loadfile",
        "load",
        "loadstring",
        "require",
        "collectgarbage",
        "warn",
        "module",
    ] {
        g.raw_set(name, Value::Nil)?;
    }
    math.raw_set("random", Value::Nil)?;
    math.raw_set("randomseed", Value::Nil)?;
    string.raw_set("dump", Value::Nil)?;

    let rt = raw_tostring.clone();
    g.raw_set(
        "tostring",
        lua.create_function(move |lua, v: Value| safe_tostring(lua, &rt, v))?,
    )?;

    let (rt, st_p) = (raw_tostring.clone(), st.clone());
    g.raw_set(
        "print",
        lua.create_function(move |lua, args: MultiValue| {
            let mut parts = Vec::with_capacity(args.len());
            for v in args {
                parts.push(display(&safe_tostring(lua, &rt, v)?));
            }
            st_p.capture.borrow_mut().line(&parts.join("\t"));
            Ok(())
        })?,
    )?;

    let rt = raw_tostring.clone();
    string.raw_set(
        "format",
        lua.create_function(move |lua, args: MultiValue| {
            let mut args: Vec<Value> = args.into_iter().collect();
            let fmt = match args.first() {
                Some(f) => lua.coerce_string(f.clone())?,
                None => None,
            };
            if let Some(fmt) = fmt {
                let b = fmt.as_bytes().to_vec();
                let (mut i, mut argi) = (0usize, 1usize);
                while i < b.len() {
                    if b[i] != b'%' {
                        i += 1;
                        continue;
                    }
                    i += 1;
                    if b.get(i) == Some(&b'%') {
                        i += 1;
                        continue;
                    }
                    while i < b.len() && b"-+ #0".contains(&b[i]) {
                        i += 1;
                    }
                    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                        i += 1;
                    }
                    let conv = b.get(i).copied().unwrap_or(0);
                    i += 1;
                    if conv == b'p' {
                        return Err(mlua::Error::runtime(format!(
                            "bad argument #{} to 'format' (%p is not available in the sandbox: memory addresses are not deterministic)",
                            argi + 1
                        )));
                    }
                    if conv == b's'
                        && let Some(a) = args.get_mut(argi)
                        && matches!(
                            a,
                            Value::Table(_) | Value::Function(_) | Value::Thread(_) | Value::LightUserData(_) | Value::Error(_)
                        )
                    {
                        *a = safe_tostring(lua, &rt, a.clone())?;
                    }
                    argi += 1;
                }
            }
            raw_format.call::<Value>(MultiValue::from_iter(args))
        })?,
    )?;

    let st_r = st.clone();
    string.raw_set(
        "rep",
        lua.create_function(move |lua, args: MultiValue| {
            let n = lua.coerce_integer(arg(&args, 1))?.unwrap_or(0);
            let len = |v: Value| -> mlua::Result<usize> {
                Ok(lua.coerce_string(v)?.map_or(0, |s| s.as_bytes().len()))
            };
            let (unit, sep) = (len(arg(&args, 0))?, len(arg(&args, 2))?);
            // An empty result repeated n times loops n times in C without allocating: skip it.
            if n > 0 && unit + sep == 0 {
                return Ok(Value::String(lua.create_string("")?));
            }
            if n > 0 {
                // The result size is known before the C code builds it.
                let n = u64::try_from(n).unwrap_or(u64::MAX);
                let bytes = n
                    .saturating_mul(unit as u64)
                    .saturating_add(n.saturating_sub(1).saturating_mul(sep as u64));
                if bytes > st_r.max_memory as u64 {
                    return Err(st_r.trip(Limit::Memory));
                }
                st_r.charge_bytes(bytes as usize)?;
            }
            raw_rep.call::<Value>(args)
        })?,
    )?;

    // Functions whose work is proportional to their first argument's length: charged before.
    for (lib, fname) in [
        (&string, "upper"),
        (&string, "lower"),
        (&string, "reverse"),
        (&string, "sub"),
        (&string, "byte"),
        (&utf8, "len"),
        (&utf8, "codepoint"),
        (&utf8, "offset"),
    ] {
        let raw: Function = lib.raw_get(fname)?;
        let st_w = st.clone();
        lib.raw_set(
            fname,
            lua.create_function(move |lua, args: MultiValue| {
                let n = match args.front() {
                    Some(v) => lua
                        .coerce_string(v.clone())?
                        .map_or(0, |s| s.as_bytes().len()),
                    None => 0,
                };
                st_w.charge_bytes(n)?;
                raw.call::<MultiValue>(args)
            })?,
        )?;
    }

    // Functions whose output can be much larger than their input: charged by what they produced
    // (each call is bounded by the memory limit; the budget bounds a loop of them).
    for (lib, fname) in [(&string, "format"), (&table, "concat")] {
        let wrapped: Function = lib.raw_get(fname)?;
        let st_w = st.clone();
        lib.raw_set(
            fname,
            lua.create_function(move |_, args: MultiValue| {
                let out = wrapped.call::<Value>(args)?;
                if let Value::String(s) = &out {
                    st_w.charge_bytes(s.as_bytes().len())?;
                }
                Ok(out)
            })?,
        )?;
    }

    let st_m = st.clone();
    table.raw_set(
        "move",
        lua.create_function(move |lua, args: MultiValue| {
            let f = lua.coerce_integer(arg(&args, 1))?;
            let e = lua.coerce_integer(arg(&args, 2))?;
            if let (Some(f), Some(e)) = (f, e)
                && e >= f
            {
                st_m.charge((e as i128 - f as i128 + 1).min(u64::MAX as i128) as u64)?;
            }
            raw_move.call::<MultiValue>(args)
        })?,
    )?;

    let st_s = st.clone();
    table.raw_set(
        "sort",
        lua.create_function(move |_, (t, comp): (Value, Value)| {
            let Value::Table(t) = t else {
                return Err(bad_arg(1, "sort", "table", &t));
            };
            let less = match comp {
                Value::Nil => default_less.clone(),
                Value::Function(f) => f,
                other => return Err(bad_arg(2, "sort", "function", &other)),
            };
            let n = t.raw_len();
            st_s.charge(log2_work(n))?;
            let items: Vec<Value> = (1..=n).map(|i| t.raw_get(i)).collect::<mlua::Result<_>>()?;
            let mut idx: Vec<usize> = (0..n).collect();
            merge_sort(&mut idx, &mut |a, b| {
                Ok::<_, mlua::Error>(truthy(
                    &less.call::<Value>((items[a].clone(), items[b].clone()))?,
                ))
            })?;
            for (pos, &i) in idx.iter().enumerate() {
                t.raw_set(pos + 1, items[i].clone())?;
            }
            Ok(())
        })?,
    )?;

    let st_pairs = st.clone();
    g.raw_set(
        "pairs",
        lua.create_function(
            move |lua, v: Value| -> mlua::Result<(Value, Value, Value)> {
                match &v {
                    Value::UserData(ud) if ud.is::<LView>() => {
                        let node = ud.borrow::<LView>()?.0.clone();
                        let (f, a, b) = view_pairs(lua, node)?;
                        Ok((Value::Function(f), a, b))
                    }
                    Value::Table(t) => {
                        if let Some(mt) = t.metatable()
                            && let Value::Function(pm) = mt.raw_get::<Value>("__pairs")?
                        {
                            return pm.call((v.clone(),));
                        }
                        let keys = sorted_keys(&st_pairs, t, "pairs")?;
                        let next = Cell::new(0usize);
                        let t2 = t.clone();
                        let iter = lua.create_function(move |_, _: MultiValue| {
                            loop {
                                let i = next.get();
                                let Some(k) = keys.get(i) else {
                                    return Ok((Value::Nil, Value::Nil));
                                };
                                next.set(i + 1);
                                let val: Value = t2.raw_get(k.clone())?;
                                if !val.is_nil() {
                                    return Ok((k.clone(), val));
                                }
                            }
                        })?;
                        Ok((Value::Function(iter), v.clone(), Value::Nil))
                    }
                    other => Err(bad_arg(1, "pairs", "table", other)),
                }
            },
        )?,
    )?;

    let st_next = st.clone();
    g.raw_set(
        "next",
        lua.create_function(move |_, (t, k): (Value, Value)| {
            let Value::Table(t) = t else {
                return Err(bad_arg(1, "next", "table", &t));
            };
            if !k.is_nil() && key_rank(&k).is_none() {
                return Err(mlua::Error::runtime(format!(
                    "next: table keys of type {} have no deterministic order in the sandbox",
                    type_name(&k)
                )));
            }
            let mut best: Option<(Value, Value)> = None;
            let mut count = 0u64;
            for pair in t.pairs::<Value, Value>() {
                let (key, val) = pair?;
                count += 1;
                if key_rank(&key).is_none() {
                    return Err(mlua::Error::runtime(format!(
                        "next: table keys of type {} have no deterministic order in the sandbox",
                        type_name(&key)
                    )));
                }
                if !k.is_nil() && key_cmp(&key, &k) != std::cmp::Ordering::Greater {
                    continue;
                }
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| key_cmp(&key, b) == std::cmp::Ordering::Less)
                {
                    best = Some((key, val));
                }
            }
            st_next.charge(count)?;
            Ok(best.unwrap_or((Value::Nil, Value::Nil)))
        })?,
    )?;

    install_patterns(lua, &string, st)?;
    Ok(())
}

fn limit_message(l: Limit, limits: &Limits) -> String {
    match l {
        Limit::Instructions => format!(
            "the script ran out of instructions ({} allowed; endless loop?)",
            limits.max_instructions
        ),
        Limit::CallDepth => format!(
            "the script nested function calls too deeply ({} allowed; endless recursion?)",
            limits.max_call_depth
        ),
        Limit::Memory => format!(
            "the script used more memory than the sandbox allows ({} bytes)",
            limits.max_memory_bytes
        ),
        Limit::PatternSteps => format!(
            "a pattern match ran out of steps ({} allowed; the pattern backtracks too much for its subject)",
            limits.max_pattern_steps
        ),
        Limit::Work => format!(
            "the script made string and table functions read or write more than {} bytes (string.rep, upper, sub, gsub, table.concat …)",
            limits.max_work_bytes
        ),
        Limit::Time => format!(
            "the script ran longer than the sandbox's time limit of {} s",
            limits.max_wall_time.as_secs_f64()
        ),
        other => format!("the script exceeded the sandbox limit on {other}"),
    }
}

const UNAVAILABLE: [&str; 10] = [
    "'io'",
    "'os'",
    "'require'",
    "'load'",
    "'loadfile'",
    "'dofile'",
    "'debug'",
    "'package'",
    "'coroutine'",
    "'collectgarbage'",
];

fn runtime_message(e: &mlua::Error) -> String {
    let text = match root_cause(e) {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::ExternalError(x) => x.to_string(),
        other => other.to_string(),
    };
    // mlua appends a traceback; the position is reported apart, and the trace names only frames
    // the author already sees in the message.
    match text.split_once("\nstack traceback:") {
        Some((head, _)) => head.to_string(),
        None => text,
    }
}

pub(crate) fn run(
    chunk: &LuaChunk,
    name: &str,
    inputs: &[(&str, ViewValue)],
    limits: &Limits,
) -> Result<(serde_json::Value, Output), ScriptError> {
    let st = Rc::new(RunState {
        capture: RefCell::new(Capture::new(limits.max_output_bytes)),
        tripped: Cell::new(None),
        used: Cell::new(0),
        max: limits.max_instructions,
        max_depth: limits.max_call_depth,
        max_pattern_steps: limits.max_pattern_steps,
        max_memory: limits.max_memory_bytes,
        work: Cell::new(0),
        max_work: limits.max_work_bytes,
        deadline: Instant::now().checked_add(limits.max_wall_time),
    });
    let outcome = execute(chunk, inputs, limits, &st);
    let output = std::mem::replace(&mut *st.capture.borrow_mut(), Capture::new(0)).finish();
    let attach = |mut e: ScriptError| {
        e.output = output.clone();
        e
    };
    match outcome {
        Ok(Ok(json)) => Ok((json, output)),
        Ok(Err(e)) => Err(attach(e)),
        Err(e) => {
            let err = match st.tripped.get().or_else(|| limit_of(&e)) {
                Some(l) => ScriptError::limit(l, limit_message(l, limits)),
                None => {
                    let text = runtime_message(&e);
                    let (line, mut message) = split_position(name, &text);
                    if UNAVAILABLE.iter().any(|n| message.contains(n)) {
                        message.push_str(
                            " (graders have no file, network, clock, randomness or module functions)",
                        );
                    }
                    ScriptError::new(ErrorKind::Runtime, message).at(line, None)
                }
            };
            Err(attach(err))
        }
    }
}

fn execute(
    chunk: &LuaChunk,
    inputs: &[(&str, ViewValue)],
    limits: &Limits,
    st: &Rc<RunState>,
) -> mlua::Result<Result<serde_json::Value, ScriptError>> {
    let lua = new_state()?;
    setup(&lua, st)?;
    let g = lua.globals();
    for (name, v) in inputs {
        g.raw_set(*name, to_lua(&lua, v)?)?;
    }
    lua.set_memory_limit(limits.max_memory_bytes.max(1))?;
    let st_h = st.clone();
    let every = Limits::LUA_HOOK_EVERY;
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(every),
        move |lua, _| {
            st_h.charge(u64::from(every))?;
            st_h.check_time()?;
            if lua.inspect_stack(st_h.max_depth, |_| ()).is_some() {
                return Err(st_h.trip(Limit::CallDepth));
            }
            Ok(VmState::Continue)
        },
    )?;
    let f = lua
        .load(&chunk.bytecode[..])
        .set_mode(ChunkMode::Binary)
        .into_function()?;
    let value = f.call::<Value>(());
    lua.remove_hook();
    lua.set_memory_limit(0)?;
    let value = value?;
    if let Some(l) = st.tripped.get() {
        // The script swallowed nothing (pcall rethrows), but be certain a tripped run never passes.
        return Ok(Err(ScriptError::limit(l, limit_message(l, limits))));
    }
    let mut budget = limits.max_result_values;
    Ok(lua_to_json(&value, limits.max_result_depth, &mut budget))
}

fn bad_result(msg: String) -> ScriptError {
    ScriptError::new(ErrorKind::BadResult, msg)
}

/// Converts the script's result to JSON: tables with keys 1..n become arrays (an empty table is
/// an empty array), other tables objects with string keys (integer keys written in decimal).
fn lua_to_json(
    v: &Value,
    depth: usize,
    budget: &mut usize,
) -> Result<serde_json::Value, ScriptError> {
    use serde_json::Value as J;
    if *budget == 0 || depth == 0 {
        return Err(ScriptError::limit(
            Limit::ResultSize,
            "the returned value is too large or too deeply nested",
        ));
    }
    *budget -= 1;
    let internal = |e: mlua::Error| bad_result(format!("cannot read the returned value: {e}"));
    match v {
        Value::Nil => Ok(J::Null),
        Value::Boolean(b) => Ok(J::Bool(*b)),
        Value::Integer(i) => Ok(J::from(*i)),
        Value::Number(x) => serde_json::Number::from_f64(*x)
            .map(J::Number)
            .ok_or_else(|| bad_result(format!("the returned number {x} is not finite"))),
        Value::String(s) => s
            .to_str()
            .map(|s| J::String(s.to_string()))
            .map_err(|_| bad_result("a returned string is not valid UTF-8".into())),
        Value::Table(t) => {
            let mut entries = Vec::new();
            for pair in t.pairs::<Value, Value>() {
                entries.push(pair.map_err(internal)?);
                if entries.len() > *budget {
                    return Err(ScriptError::limit(
                        Limit::ResultSize,
                        "the returned value is too large or too deeply nested",
                    ));
                }
            }
            let n = entries.len();
            let is_array = entries
                .iter()
                .all(|(k, _)| matches!(k, Value::Integer(i) if *i >= 1 && (*i as u64) <= n as u64));
            if is_array {
                entries.sort_by(|a, b| key_cmp(&a.0, &b.0));
                let mut out = Vec::with_capacity(n);
                for (_, item) in &entries {
                    out.push(lua_to_json(item, depth - 1, budget)?);
                }
                return Ok(J::Array(out));
            }
            entries.sort_by(|a, b| key_cmp(&a.0, &b.0));
            let mut out = serde_json::Map::new();
            for (k, item) in &entries {
                let key = match k {
                    Value::String(s) => s
                        .to_str()
                        .map(|s| s.to_string())
                        .map_err(|_| bad_result("a returned key is not valid UTF-8".into()))?,
                    Value::Integer(i) => i.to_string(),
                    other => {
                        return Err(bad_result(format!(
                            "a table key of type {} cannot be returned (use string keys)",
                            type_name(other)
                        )));
                    }
                };
                out.insert(key, lua_to_json(item, depth - 1, budget)?);
            }
            Ok(J::Object(out))
        }
        Value::UserData(ud) if ud.is::<LView>() => {
            let node = ud.borrow::<LView>().map_err(internal)?.0.clone();
            ViewValue::Node(node)
                .to_json_bounded(depth, budget)
                .ok_or_else(|| {
                    ScriptError::limit(
                        Limit::ResultSize,
                        "the returned view is too large or too deeply nested",
                    )
                })
        }
        other => Err(bad_result(format!(
            "a value of type {} cannot be returned (return strings, numbers, booleans and tables)",
            type_name(other)
        ))),
    }
}
