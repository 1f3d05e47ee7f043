//! gait-graders: the graders of `gait regress run`, behind the engine's [`Grader`] seam.
//!
//! - [`builtin`]: the five builtin graders of CONTRACTS §3.7;
//! - [`script`]: Rhai and Lua script graders, run in `gait-sandbox`;
//! - [`view`]: the lazy, read-only view of a fixture that scripts see;
//! - [`Graders`]: the grader set of a run — builtins, plus every script or plugin grader named in
//!   `gait.yaml` (all fixtures) or in a `fixture.json` (that fixture), compiled and loaded once
//!   before any fixture is graded. Installed plugins come through [`GraderPlugins`], which the
//!   plugin host implements; this crate never touches the registry.

pub mod builtin;
pub mod script;
pub mod view;

use gait_engine::GaitError;
use gait_engine::fsx::{self, FsError};
use gait_engine::plugin::{GradeOptions, Grader, PluginInfo};
use gait_engine::regress::ScriptGraderSpec;
use gait_engine::regress::run::{FixtureEntry, GraderSet, Prepared};
use gait_sandbox::{CompileCache, Language, Limits, Sandbox, Script};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// A grader plugin the host resolved.
pub enum ResolvedGrader {
    /// A script plugin: its verified source, compiled here in the run's sandbox.
    Script {
        /// The plugin's identity (the result keeps the name the configuration gives it).
        info: PluginInfo,
        language: Language,
        /// For messages: `plugin NAME@VERSION (ENTRY)`.
        label: String,
        source: Arc<str>,
        /// Added to every result's details (the plugin, its version and manifest digest).
        details: BTreeMap<String, serde_json::Value>,
    },
    /// A ready grader (a native plugin behind the `Grader` trait).
    Grader(Arc<dyn Grader>),
}

/// Where installed grader plugins come from (the plugin host).
pub trait GraderPlugins: Sync {
    /// The grader plugin `plugin`, run under the name `as_name`.
    fn grader(&self, plugin: &str, as_name: &str) -> Result<ResolvedGrader, GaitError>;
    /// An installed grader of a higher version than the builtin `builtin`, which then replaces it.
    fn replacement(&self, builtin: &PluginInfo) -> Result<Option<ResolvedGrader>, GaitError>;
}

/// No installed plugins: builtins and script files only.
pub struct NoPlugins;

impl GraderPlugins for NoPlugins {
    fn grader(&self, plugin: &str, _as_name: &str) -> Result<ResolvedGrader, GaitError> {
        Err(GaitError::invalid(format!(
            "grader plugin {plugin:?} cannot be loaded here: no plugin host"
        )))
    }

    fn replacement(&self, _builtin: &PluginInfo) -> Result<Option<ResolvedGrader>, GaitError> {
        Ok(None)
    }
}

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
        Self::prepare_with(prepared, limits, &NoPlugins)
    }

    /// [`Graders::prepare`] with installed grader plugins: named ones, and newer versions of
    /// builtins, which replace them. A plugin that cannot be verified or loaded fails the run
    /// before any fixture is graded.
    pub fn prepare_with(
        prepared: &Prepared,
        limits: Limits,
        plugins: &dyn GraderPlugins,
    ) -> Result<Graders, GaitError> {
        let sandbox = Arc::new(Sandbox::new(limits));
        let cache = CompileCache::new();
        let load = |base: &Path, spec: &ScriptGraderSpec| {
            if spec.plugin.is_empty() {
                load_script(&sandbox, &cache, &prepared.config_dir, base, spec)
            } else {
                let resolved = plugins.grader(spec.plugin.trim(), &spec.name)?;
                build(&sandbox, &cache, &spec.name, resolved)
            }
        };
        let mut shared = Vec::new();
        for spec in &prepared.config.graders {
            shared.push(load(&prepared.config_dir, spec)?);
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
                list.push(load(&f.dir, spec)?);
            }
            if !list.is_empty() {
                per_fixture.insert(f.name.clone(), list);
            }
        }
        let builtin = |g: Arc<dyn Grader>| -> Result<Arc<dyn Grader>, GaitError> {
            match plugins.replacement(g.info())? {
                None => Ok(g),
                Some(r) => build(&sandbox, &cache, &g.info().name, r),
            }
        };
        Ok(Graders {
            builtins: vec![
                builtin(Arc::new(builtin::SchemaValidation::default()))?,
                builtin(Arc::new(builtin::ExpectedExitCode::default()))?,
                builtin(Arc::new(builtin::Trajectory::default()))?,
                builtin(Arc::new(builtin::Diff::default()))?,
            ],
            context: builtin(Arc::new(builtin::ContextConformance::default()))?,
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

/// The identities of the builtin graders, in the order they run (the plugin host lists them).
pub fn builtin_graders() -> Vec<PluginInfo> {
    vec![
        builtin::SchemaValidation::default().info().clone(),
        builtin::ExpectedExitCode::default().info().clone(),
        builtin::Trajectory::default().info().clone(),
        builtin::Diff::default().info().clone(),
        builtin::ContextConformance::default().info().clone(),
    ]
}

/// A resolved plugin grader as a `Grader` named `name`: scripts are compiled here (once per
/// distinct source, shared with file scripts), ready graders are used as they are.
fn build(
    sandbox: &Arc<Sandbox>,
    cache: &CompileCache,
    name: &str,
    resolved: ResolvedGrader,
) -> Result<Arc<dyn Grader>, GaitError> {
    match resolved {
        ResolvedGrader::Grader(g) => Ok(g),
        ResolvedGrader::Script {
            info,
            language,
            label,
            source,
            details,
        } => {
            let script = Script {
                language,
                name: label.clone(),
                source,
                inputs: vec!["fixture".to_string()],
            };
            let compiled = cache.get_or_compile(sandbox, &script).map_err(|e| {
                GaitError::invalid(e.to_string())
                    .with_code("grader_script_invalid")
                    .with_hint("the installed plugin's script does not compile in this gait; update or remove it")
            })?;
            Ok(Arc::new(
                script::ScriptGrader::new(name, &label, compiled, sandbox.clone())
                    .with_plugin(info, details),
            ))
        }
    }
}

fn load_script(
    sandbox: &Arc<Sandbox>,
    cache: &CompileCache,
    project: &Path,
    base: &Path,
    spec: &ScriptGraderSpec,
) -> Result<Arc<dyn Grader>, GaitError> {
    let path = gait_engine::regress::run::confined_join(
        project,
        base,
        &spec.script,
        &format!("script grader {:?}: script", spec.name),
    )?;
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
