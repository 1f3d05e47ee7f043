//! Grader plugins for `gait regress run`: installed Rhai/Lua graders (their verified script text,
//! compiled by gait-graders in the run's sandbox) and native graders (verified, loaded, and adapted
//! to the engine's `Grader` trait by serializing the fixture view to JSON).

use crate::{PluginHost, Source, to_plugin_error};
use gait_engine::GaitError;
use gait_engine::plugin::{
    FixtureView, GradeOutcome, Grader, PluginError, PluginErrorKind, PluginForm, PluginInfo,
    PluginKind,
};
use gait_engine::regress::GradeStatus;
use gait_graders::script::{GRADER_ERROR, valid_reason_code};
use gait_graders::{GraderPlugins, ResolvedGrader};
use gait_registry::codes;
use gait_registry::loader::NativePlugin;
use gait_registry::store::Pin;
use gait_sandbox::Language;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most JSON values a native grader's fixture view may hold (a runpack of about a million
/// records); larger fixtures fail that grader with `grader_error` instead of exhausting memory.
pub const NATIVE_VIEW_BUDGET: usize = 16_000_000;
const NATIVE_VIEW_DEPTH: usize = 256;
const NATIVE_VIEW_KEY: &str = "gait-host/native-view";

fn identity(pin: &Pin, form: PluginForm) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("plugin".to_string(), Value::from(pin.name.clone())),
        (
            "plugin_version".to_string(),
            Value::from(pin.version.clone()),
        ),
        ("plugin_form".to_string(), Value::from(form.as_str())),
        (
            "plugin_manifest_digest".to_string(),
            Value::from(pin.manifest_digest.clone()),
        ),
    ])
}

fn version(name: &str, v: &str) -> Result<semver::Version, GaitError> {
    semver::Version::parse(v).map_err(|e| {
        codes::invalid(
            codes::MANIFEST_INVALID,
            format!("plugin {name}: version {v:?} is not semver: {e}"),
        )
    })
}

impl PluginHost {
    /// Verifies and loads the installed grader `pin`, to run under the name `as_name`.
    fn installed_grader(&self, pin: &Pin, as_name: &str) -> Result<ResolvedGrader, GaitError> {
        match pin.form {
            PluginForm::Rhai | PluginForm::Lua => {
                let s = self.script(&pin.name, PluginKind::Grader)?;
                let language = if s.form == PluginForm::Lua {
                    Language::Lua
                } else {
                    Language::Rhai
                };
                let mut details = identity(pin, s.form);
                details.insert(
                    "plugin_manifest_digest".into(),
                    Value::from(s.manifest_digest.clone()),
                );
                Ok(ResolvedGrader::Script {
                    info: PluginInfo {
                        version: version(&s.name, &s.version)?,
                        name: s.name.clone(),
                        kind: PluginKind::Grader,
                        form: s.form,
                    },
                    language,
                    label: format!("plugin {}@{} ({})", s.name, s.version, s.entry),
                    source: Arc::from(s.source),
                    details,
                })
            }
            PluginForm::Native => {
                let plugin = self.native(&pin.name)?;
                Ok(ResolvedGrader::Grader(Arc::new(NativeGrader::new(
                    as_name, plugin,
                )?)))
            }
            other => Err(codes::invalid(
                codes::MANIFEST_INVALID,
                format!("plugin {}: a {other} plugin cannot be a grader", pin.name),
            )),
        }
    }
}

impl GraderPlugins for PluginHost {
    fn grader(&self, plugin: &str, as_name: &str) -> Result<ResolvedGrader, GaitError> {
        match self.resolve(plugin, PluginKind::Grader)? {
            Some(Source::Installed(pin)) => self.installed_grader(&pin, as_name),
            Some(Source::Builtin(b)) => Err(GaitError::invalid(format!(
                "grader plugin {plugin:?} is the builtin grader {}, which runs on every fixture already",
                b.name
            ))
            .with_hint("name an installed grader plugin; an installed newer version of a builtin replaces it by itself")),
            None => Err(codes::invalid(
                codes::NOT_INSTALLED,
                format!("grader plugin {plugin} is not installed"),
            )
            .with_hint(format!(
                "install it with `gait plugin install {plugin} --registry DIR|URL`, or fix the name in the grader list"
            ))),
        }
    }

    fn replacement(&self, builtin: &PluginInfo) -> Result<Option<ResolvedGrader>, GaitError> {
        match self.resolve(&builtin.name, PluginKind::Grader)? {
            Some(Source::Installed(pin)) => self.installed_grader(&pin, &builtin.name).map(Some),
            _ => Ok(None),
        }
    }
}

/// A verified, loaded native grader behind the engine's `Grader` trait. It may be called from
/// several grading threads at once: the plugin API is JSON in, JSON out, without shared state.
pub struct NativeGrader {
    info: PluginInfo,
    plugin: Arc<NativePlugin>,
    details: BTreeMap<String, Value>,
}

impl NativeGrader {
    /// Adapts a loaded native plugin; results are named `<fixture>/<name>`.
    pub fn new(name: &str, plugin: Arc<NativePlugin>) -> Result<NativeGrader, GaitError> {
        let pin = &plugin.installed.pin;
        let details = identity(pin, PluginForm::Native);
        Ok(NativeGrader {
            info: PluginInfo {
                name: name.to_string(),
                version: version(&pin.name, &pin.version)?,
                kind: PluginKind::Grader,
                form: PluginForm::Native,
            },
            plugin,
            details,
        })
    }
}

/// The fixture as a native grader receives it: the same members a script grader's view has
/// (docs/graders.md, "What a script sees"), fully serialized. `None` when it exceeds
/// [`NATIVE_VIEW_BUDGET`] values.
pub fn native_fixture_json(fixture: &FixtureView<'_>) -> Option<Value> {
    let mut budget = NATIVE_VIEW_BUDGET;
    gait_graders::view::fixture_view(fixture).to_json_bounded(NATIVE_VIEW_DEPTH, &mut budget)
}

fn grader_error(message: String) -> GradeOutcome {
    GradeOutcome::fail(&[GRADER_ERROR])
        .with_message(message.clone())
        .with_detail("error", message)
}

/// The plugin's outcome, held to the rules every grader's results follow.
fn outcome(out: gait_plugin_api::GradeOutcome) -> GradeOutcome {
    if let Some(bad) = out.reason_codes.iter().find(|c| !valid_reason_code(c)) {
        return grader_error(format!(
            "the plugin returned reason code {bad:?}, which is not snake_case text (^[a-z][a-z0-9_]*$, at most 64 bytes)"
        ));
    }
    let status = match out.status {
        gait_plugin_api::GradeStatus::Pass => GradeStatus::Pass,
        gait_plugin_api::GradeStatus::Fail => GradeStatus::Fail,
    };
    let mut o = GradeOutcome::new(status, out.reason_codes).with_message(out.message);
    if !out.details.is_empty() {
        o.details.insert(
            "data".into(),
            Value::Object(out.details.into_iter().collect()),
        );
    }
    o
}

impl Grader for NativeGrader {
    fn info(&self) -> &PluginInfo {
        &self.info
    }

    fn grade(&self, fixture: &FixtureView<'_>) -> Result<GradeOutcome, PluginError> {
        let view = fixture
            .cache
            .get_or_insert(NATIVE_VIEW_KEY, || native_fixture_json(fixture))
            .ok_or_else(|| {
                PluginError::new(
                    PluginErrorKind::Failed,
                    GRADER_ERROR,
                    "the fixture's native view has an unexpected type",
                )
            })?;
        let mut result = match view.as_ref() {
            Some(json) => match self.plugin.grade(json) {
                Ok(out) => outcome(out),
                Err(e) => {
                    let e = to_plugin_error(e);
                    GradeOutcome::fail(&[e.reason_code.as_str()])
                        .with_message(e.message.clone())
                        .with_detail("error", e.message)
                }
            },
            None => grader_error(format!(
                "the fixture is too large to hand to a native grader (more than {NATIVE_VIEW_BUDGET} values)"
            )),
        };
        for (k, v) in &self.details {
            result.details.insert(k.clone(), v.clone());
        }
        Ok(result)
    }
}
