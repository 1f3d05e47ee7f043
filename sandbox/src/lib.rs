//! gait-sandbox: runs user-written Rhai and Lua scripts with limits, on read-only input, capturing
//! what they print.
//!
//! The API is deliberately generic — "run this compiled script with these limits and this read-only
//! input, capture prints" — so that graders, policy predicates and credential brokers share one
//! sandbox. A script sees named inputs ([`ViewValue`]s, resolved lazily), computes, and returns plain
//! data (converted to JSON). It has no file system, network, clock, randomness or module imports, so
//! the same script on the same input gives the same result, byte for byte.
//!
//! Failures are typed: a script that does not compile is a [`CompileError`] (with line and column);
//! a script that hits a limit or raises an error is a [`ScriptError`] whose [`ErrorKind`] says which.
//! A script never hangs, exhausts memory, or writes to the terminal.
//!
//! This crate depends on nothing else of gait, so the engine itself could use it later (e.g. for
//! Rhai policy predicates) without a dependency cycle.

mod limits;
mod lua_host;
mod lua_pattern;
mod meter;
mod rhai_guard;
mod rhai_host;
pub mod view;

pub use limits::{CompileError, ErrorKind, Limit, Limits, Output, ScriptError};
pub use meter::{MeteredAlloc, thread_live_bytes};
pub use view::{NodeKind, ObjectBuilder, ViewNode, ViewValue};

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// The scripting languages the sandbox runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    Rhai,
    Lua,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rhai => "rhai",
            Language::Lua => "lua",
        }
    }

    /// The language a file extension names (`.rhai`, `.lua`).
    pub fn from_path(path: &Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "rhai" => Some(Language::Rhai),
            "lua" => Some(Language::Lua),
            _ => None,
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "rhai" => Some(Language::Rhai),
            "lua" => Some(Language::Lua),
            _ => None,
        }
    }
}

/// A script to compile: its language, a name for messages (usually its path), its source, and the
/// names of the inputs it will be given (Rhai checks variable names at compile time).
#[derive(Clone, Debug)]
pub struct Script {
    pub language: Language,
    pub name: String,
    pub source: Arc<str>,
    pub inputs: Vec<String>,
}

/// A compiled script, ready to run any number of times (also from several threads).
pub struct Compiled {
    language: Language,
    name: String,
    digest: String,
    body: Body,
}

enum Body {
    Rhai(rhai::AST),
    Lua(lua_host::LuaChunk),
}

impl Compiled {
    pub fn language(&self) -> Language {
        self.language
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// sha256 of the source text, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// What a successful run returned, and what the script printed.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub value: serde_json::Value,
    pub output: Output,
}

/// Script execution with fixed limits. Engines are created on first use: a command that runs no
/// script pays nothing.
pub struct Sandbox {
    limits: Limits,
    rhai: OnceLock<rhai::Engine>,
}

/// Below this much free stack, a run moves to a fresh stack segment. Rhai evaluates recursively;
/// its call-depth and expression-depth limits bound the recursion, and this makes sure the stack
/// they need is there on any thread (test threads have 2 MiB).
const STACK_RED_ZONE: usize = 4 << 20;
const STACK_SEGMENT: usize = 16 << 20;

impl Sandbox {
    pub fn new(limits: Limits) -> Self {
        Sandbox {
            limits,
            rhai: OnceLock::new(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn rhai(&self) -> &rhai::Engine {
        self.rhai
            .get_or_init(|| rhai_host::build_engine(&self.limits))
    }

    pub fn compile(&self, script: &Script) -> Result<Compiled, CompileError> {
        if script.source.len() > self.limits.max_source_bytes {
            return Err(CompileError {
                script: script.name.clone(),
                line: 1,
                column: 1,
                message: format!(
                    "the script is {} bytes; the sandbox accepts at most {}",
                    script.source.len(),
                    self.limits.max_source_bytes
                ),
            });
        }
        let body = stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || match script.language {
            Language::Rhai => {
                rhai_host::compile(self.rhai(), &script.name, &script.source, &script.inputs)
                    .map(Body::Rhai)
            }
            Language::Lua => lua_host::compile(&script.name, &script.source).map(Body::Lua),
        })?;
        Ok(Compiled {
            language: script.language,
            name: script.name.clone(),
            digest: hex::encode(Sha256::digest(script.source.as_bytes())),
            body,
        })
    }

    /// Runs a compiled script with named inputs. Never panics on script behaviour; a panic inside a
    /// script engine (a bug there) becomes a runtime error rather than taking gait down.
    pub fn run(
        &self,
        compiled: &Compiled,
        inputs: &[(&str, ViewValue)],
    ) -> Result<Outcome, ScriptError> {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || match &compiled.body {
                Body::Rhai(ast) => rhai_host::run(self.rhai(), ast, inputs, &self.limits),
                Body::Lua(chunk) => lua_host::run(chunk, &compiled.name, inputs, &self.limits),
            })
        }));
        match result {
            Ok(r) => r.map(|(value, output)| Outcome { value, output }),
            Err(_) => Err(ScriptError::new(
                ErrorKind::Runtime,
                "the script engine failed unexpectedly; please report this script",
            )),
        }
    }
}

/// Compiled scripts of one run, keyed by language, source digest and input names: a script compiles
/// once however many fixtures (or paths) name it. Compile errors are cached too. A cached script
/// keeps the name it was first compiled under (the name only labels messages).
#[derive(Default)]
pub struct CompileCache {
    entries: Mutex<CacheMap>,
}

type CacheKey = (Language, String, Vec<String>);
type CacheMap = HashMap<CacheKey, Result<Arc<Compiled>, CompileError>>;

impl CompileCache {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get_or_compile(
        &self,
        sandbox: &Sandbox,
        script: &Script,
    ) -> Result<Arc<Compiled>, CompileError> {
        let key = (
            script.language,
            hex::encode(Sha256::digest(script.source.as_bytes())),
            script.inputs.clone(),
        );
        if let Some(hit) = self.lock().get(&key) {
            return hit.clone();
        }
        // Compile outside the lock; a concurrent duplicate compile is harmless.
        let compiled = sandbox.compile(script).map(Arc::new);
        self.lock().entry(key).or_insert(compiled).clone()
    }

    /// How many distinct scripts were compiled (or failed to compile).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheMap> {
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
