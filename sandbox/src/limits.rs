//! The limits every script runs under, and the errors a script run can end with.

use std::fmt;
use std::time::Duration;

/// Resource limits for one script execution. Every limit is always set: there is no "unlimited".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rhai: engine operations (each expression, statement, loop iteration and call counts).
    pub max_operations: u64,
    /// Lua: virtual-machine instructions (counted in blocks of [`Limits::LUA_HOOK_EVERY`]).
    pub max_instructions: u64,
    /// Nested function calls (Rhai call levels; Lua stack frames).
    pub max_call_depth: usize,
    /// Rhai: nesting of expressions at the top level and inside functions.
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    /// Rhai: the largest string, in bytes (including strings nested in arrays and maps).
    pub max_string_bytes: usize,
    /// Rhai: the most elements in an array (including nested arrays).
    pub max_array_len: usize,
    /// Rhai: the most entries in a map (including nested maps).
    pub max_map_len: usize,
    /// Rhai: variables in scope at once.
    pub max_variables: usize,
    /// Rhai: functions a script may define.
    pub max_functions: usize,
    /// Lua: bytes the whole Lua state may allocate (strings, tables, stack, everything).
    /// Rhai: bytes the executing thread may allocate beyond what it held at the start, when the
    /// binary installed [`crate::MeteredAlloc`].
    pub max_memory_bytes: usize,
    /// Lua: work steps of one pattern-matching call (`string.find/match/gmatch/gsub`), which run
    /// in native code where the instruction counter cannot see them.
    pub max_pattern_steps: u64,
    /// Captured `print`/`debug` output kept per execution; the rest is counted, not kept.
    pub max_output_bytes: usize,
    /// The returned value: at most this many values, nested at most this deep.
    pub max_result_values: usize,
    pub max_result_depth: usize,
    /// Script source size.
    pub max_source_bytes: usize,
    /// Bytes that native builtins read or write on the script's behalf (string search, replace,
    /// pad, case mapping, split, `string.rep`, `table.concat`, …), summed over one execution. One
    /// such call counts as a single operation or instruction, so without this budget a loop of
    /// them could run for hours inside the other limits. Deterministic, like every other limit.
    pub max_work_bytes: u64,
    /// Wall-clock time of one execution: a backstop for work no other limit sees. It is the only
    /// limit that depends on the machine; only pathological scripts reach it.
    pub max_wall_time: Duration,
}

impl Limits {
    /// How often (in VM instructions) the Lua hook counts and checks.
    pub const LUA_HOOK_EVERY: u32 = 1000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_instructions: 50_000_000,
            max_call_depth: 64,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_bytes: 1 << 20,
            max_array_len: 100_000,
            max_map_len: 100_000,
            max_variables: 1_000,
            max_functions: 256,
            max_memory_bytes: 64 << 20,
            max_pattern_steps: 10_000_000,
            max_output_bytes: 16 << 10,
            max_result_values: 10_000,
            max_result_depth: 32,
            max_source_bytes: 256 << 10,
            max_work_bytes: 256 << 20,
            max_wall_time: Duration::from_secs(10),
        }
    }
}

/// Which limit stopped a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Operations,
    Instructions,
    CallDepth,
    StringSize,
    ArraySize,
    MapSize,
    Variables,
    Functions,
    Memory,
    PatternSteps,
    ResultSize,
    Work,
    Time,
}

impl Limit {
    /// The stable name reported in grader details (`limit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Operations => "operations",
            Limit::Instructions => "instructions",
            Limit::CallDepth => "call_depth",
            Limit::StringSize => "string_size",
            Limit::ArraySize => "array_size",
            Limit::MapSize => "map_size",
            Limit::Variables => "variables",
            Limit::Functions => "functions",
            Limit::Memory => "memory",
            Limit::PatternSteps => "pattern_steps",
            Limit::ResultSize => "result_size",
            Limit::Work => "work",
            Limit::Time => "time",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a script printed with `print`/`debug`, capped at [`Limits::max_output_bytes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The kept lines, each ending in `\n`.
    pub text: String,
    /// Bytes printed beyond the cap (not kept).
    pub dropped_bytes: usize,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.dropped_bytes == 0
    }
}

/// Collects printed lines up to a byte cap.
#[derive(Debug)]
pub(crate) struct Capture {
    out: Output,
    cap: usize,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Self {
        Capture {
            out: Output::default(),
            cap,
        }
    }

    pub(crate) fn line(&mut self, line: &str) {
        let need = line.len() + 1;
        if self.out.dropped_bytes == 0 && self.out.text.len() + need <= self.cap {
            self.out.text.push_str(line);
            self.out.text.push('\n');
        } else {
            // Once something is dropped, later lines are dropped too, so the kept text is a prefix.
            self.out.dropped_bytes = self.out.dropped_bytes.saturating_add(need);
        }
    }

    pub(crate) fn finish(self) -> Output {
        self.out
    }
}

/// How a script execution failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A sandbox limit stopped the script.
    Limit(Limit),
    /// The script raised an error or called something that does not exist (files, modules, clock…).
    Runtime,
    /// The script finished but returned something that is not plain data.
    BadResult,
}

/// A failed execution: what happened, where, and what the script printed before it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    pub kind: ErrorKind,
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub output: Output,
}

impl ScriptError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ScriptError {
            kind,
            message: message.into(),
            line: None,
            column: None,
            output: Output::default(),
        }
    }

    pub(crate) fn limit(limit: Limit, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Limit(limit), message)
    }

    pub(crate) fn at(mut self, line: Option<u32>, column: Option<u32>) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    pub fn limit_hit(&self) -> Option<Limit> {
        match self.kind {
            ErrorKind::Limit(l) => Some(l),
            _ => None,
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            (Some(l), None) => write!(f, "line {l}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ScriptError {}

/// A script that does not compile: invalid input, reported with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// The script's name as given (usually its path).
    pub script: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.script, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for CompileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_a_prefix_and_counts_the_rest() {
        let mut c = Capture::new(10);
        c.line("abcd"); // 5 bytes
        c.line("efgh"); // 10 bytes
        c.line("i"); // dropped: 2
        c.line(""); // dropped too, even though it would fit: 1
        let out = c.finish();
        assert_eq!(out.text, "abcd\nefgh\n");
        assert_eq!(out.dropped_bytes, 3);
    }

    #[test]
    fn every_limit_has_a_distinct_name() {
        let all = [
            Limit::Operations,
            Limit::Instructions,
            Limit::CallDepth,
            Limit::StringSize,
            Limit::ArraySize,
            Limit::MapSize,
            Limit::Variables,
            Limit::Functions,
            Limit::Memory,
            Limit::PatternSteps,
            Limit::ResultSize,
            Limit::Work,
            Limit::Time,
        ];
        let names: std::collections::BTreeSet<_> = all.iter().map(|l| l.as_str()).collect();
        assert_eq!(names.len(), all.len());
    }
}
