//! gait-graders: the graders of `gait regress run`, behind the engine's [`Grader`] seam.
//!
//! - [`builtin`]: the five builtin graders of CONTRACTS §3.7;
//! - [`script`]: Rhai and Lua script graders, run in `gait-sandbox`;
//! - [`view`]: the lazy, read-only view of a fixture that scripts see;
//! - [`Graders`]: the grader set of a run — builtins, plus every script named in `gait.yaml` (all
//!   fixtures) or in a `fixture.json` (that fixture), compiled once before any fixture is graded.

pub mod builtin;
pub mod script;
pub mod view;

use gait_engine::GaitError;
use gait_engine::fsx::{self, FsError};
use gait_engine::plugin::{GradeOptions, Grader};
use gait_engine::regress::ScriptGraderSpec;
use gait_engine::regress::run::{FixtureEntry, GraderSet, Prepared};
use gait_sandbox::{CompileCache, Language, Limits, Sandbox, Script};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The grader set of one run.
pub struct Graders {
    builtins: Vec<Arc<dyn Grader>>,
    context: Arc<dyn Grader>,
    /// Scripts from `gait.yaml`, for every fixture.
    shared: Vec<Arc<dyn Grader>>,
    /// Scripts from each `fixture.json`, by fixture name.
    per_fixture: BTreeMap<String, Vec<Arc<dyn Grader>>>,
    cache: CompileCache,
}

impl Graders {
    /// The builtin graders and every script of the fixture set, compiled. A script that cannot be
    /// read or does not compile is invalid input, reported with its path, line and column.
    pub fn prepare(prepared: &Prepared, limits: Limits) -> Result<Graders, GaitError> {
        let sandbox = Arc::new(Sandbox::new(limits));
        let cache = CompileCache::new();
        let mut shared = Vec::new();
        for spec in &prepared.config.graders {
            shared.push(load_script(&sandbox, &cache, &prepared.config_dir, spec)?);
        }
        let mut per_fixture = BTreeMap::new();
        for f in &prepared.fixtures {
            let mut list = Vec::new();
            for spec in &f.spec.graders {
                if prepared.config.graders.iter().any(|g| g.name == spec.name) {
                    return Err(GaitError::invalid(format!(
                        "fixture {}: script grader {:?} is also named in {}",
                        f.name,
                        spec.name,
                        prepared.config_path.display()
                    ))
                    .with_hint("give the fixture's grader its own name"));
                }
                list.push(load_script(&sandbox, &cache, &f.dir, spec)?);
            }
            if !list.is_empty() {
                per_fixture.insert(f.name.clone(), list);
            }
        }
        Ok(Graders {
            builtins: vec![
                Arc::new(builtin::SchemaValidation::default()),
                Arc::new(builtin::ExpectedExitCode::default()),
                Arc::new(builtin::Trajectory::default()),
                Arc::new(builtin::Diff::default()),
            ],
            context: Arc::new(builtin::ContextConformance::default()),
            shared,
            per_fixture,
            cache,
        })
    }

    /// Distinct scripts compiled for this run.
    pub fn compiled_scripts(&self) -> usize {
        self.cache.len()
    }
}

impl GraderSet for Graders {
    fn graders_for(&self, fixture: &FixtureEntry, options: &GradeOptions) -> Vec<Arc<dyn Grader>> {
        let mut out = self.builtins.clone();
        if fixture.spec.context_conformance || options.context_conformance {
            out.push(self.context.clone());
        }
        out.extend(self.shared.iter().cloned());
        if let Some(list) = self.per_fixture.get(&fixture.name) {
            out.extend(list.iter().cloned());
        }
        out
    }
}

fn load_script(
    sandbox: &Arc<Sandbox>,
    cache: &CompileCache,
    base: &Path,
    spec: &ScriptGraderSpec,
) -> Result<Arc<dyn Grader>, GaitError> {
    let path = base.join(&spec.script);
    let shown = path.display().to_string();
    let language = match spec.language.as_deref() {
        Some(l) => Language::parse(l),
        None => Language::from_path(&path),
    }
    .ok_or_else(|| {
        GaitError::invalid(format!(
            "script grader {:?}: cannot tell the language of {shown}",
            spec.name
        ))
        .with_hint("name the file *.rhai or *.lua, or set \"language\": \"rhai\" or \"lua\"")
    })?;
    let limit = sandbox.limits().max_source_bytes as u64;
    let bytes = fsx::read_bounded(&path, limit).map_err(|e| {
        let hint = match e {
            FsError::NotFound { .. } => "the script path is relative to the file that names it",
            FsError::TooLarge { .. } => "split the script; grader scripts are at most 256 KiB",
            _ => "check the script file",
        };
        GaitError::invalid(format!("script grader {:?}: {e}", spec.name)).with_hint(hint)
    })?;
    let source = String::from_utf8(bytes).map_err(|_| {
        GaitError::invalid(format!(
            "script grader {:?}: {shown} is not UTF-8",
            spec.name
        ))
    })?;
    let script = Script {
        language,
        name: shown,
        source: Arc::from(source),
        inputs: vec!["fixture".to_string()],
    };
    let compiled = cache.get_or_compile(sandbox, &script).map_err(|e| {
        GaitError::invalid(e.to_string())
            .with_code("grader_script_invalid")
            .with_hint(
                "fix the script; docs/graders.md describes what a grader script sees and returns",
            )
    })?;
    Ok(Arc::new(script::ScriptGrader::new(
        &spec.name,
        &spec.script,
        compiled,
        sandbox.clone(),
    )))
}
