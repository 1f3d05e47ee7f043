//! The `Grader` plugin seam: judges one regress fixture.
//!
//! Builtin graders and script graders implement the same trait and see the same [`FixtureView`]:
//! everything the runner loaded for the fixture once (the verified and parsed runpacks, the stub
//! replay, the diff against a candidate), shared by reference — no grader re-reads a runpack.

use crate::error::GaitError;
use crate::plugin::{PluginError, PluginInfo};
use crate::regress::config::FixtureSpec;
use crate::regress::result::{GradeStatus, normalize_codes};
use crate::runpack::diff::DiffReport;
use crate::runpack::read::{Runpack, RunpackFiles};
use crate::runpack::replay::ReplayReport;
use crate::runpack::verify::VerifyReport;
use std::any::Any;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A grader: a builtin one or a script.
pub trait Grader: Send + Sync {
    fn info(&self) -> &PluginInfo;
    /// Judges the fixture. An `Err` fails this grader only (with the error's reason code); the
    /// runner also contains panics, so one grader can never take the run down.
    fn grade(&self, fixture: &FixtureView<'_>) -> Result<GradeOutcome, PluginError>;
}

/// What a grader concluded about one fixture.
#[derive(Clone, Debug, PartialEq)]
pub struct GradeOutcome {
    pub status: GradeStatus,
    /// Sorted and deduplicated (see [`GradeOutcome::new`]).
    pub reason_codes: Vec<String>,
    /// One line for humans; reported as `details.message` when not empty.
    pub message: String,
    /// Grader-specific facts; script graders put their captured print/debug output here (capped).
    pub details: BTreeMap<String, serde_json::Value>,
    /// The context drift classification (`none`, `runtime_only`, `semantic`), for the
    /// context_conformance grader only.
    pub context_conformance: Option<String>,
}

impl GradeOutcome {
    pub fn new(status: GradeStatus, reason_codes: impl IntoIterator<Item = String>) -> Self {
        GradeOutcome {
            status,
            reason_codes: normalize_codes(reason_codes),
            message: String::new(),
            details: BTreeMap::new(),
            context_conformance: None,
        }
    }

    pub fn pass(reason_codes: &[&str]) -> Self {
        Self::new(
            GradeStatus::Pass,
            reason_codes.iter().map(|s| s.to_string()),
        )
    }

    pub fn fail(reason_codes: &[&str]) -> Self {
        Self::new(
            GradeStatus::Fail,
            reason_codes.iter().map(|s| s.to_string()),
        )
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }
}

/// Options of a regress run that change how fixtures are graded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GradeOptions {
    /// `--allow-nondeterministic`: the diff grader accepts `refs.json` changes that are only
    /// retrieval times moving (context drift `runtime_only`), which differ between any two runs.
    pub allow_nondeterministic: bool,
    /// `--context-conformance`: run the context_conformance grader on every fixture.
    pub context_conformance: bool,
    /// `--allow-context-runtime-drift`: context_conformance accepts `runtime_only` drift.
    pub allow_context_runtime_drift: bool,
}

/// A runpack a fixture refers to, as loaded once by the runner.
pub struct LoadedRunpack {
    /// Where it was read from.
    pub path: PathBuf,
    /// The path as the fixture names it (relative to the fixture directory), for reports.
    pub display: String,
    /// The five entries' bytes, when the zip could be opened and read.
    pub files: Result<Arc<RunpackFiles>, GaitError>,
    /// `gait verify` of the runpack (no signature key: unsigned runpacks verify).
    pub verify: Result<VerifyReport, GaitError>,
}

/// A loaded runpack and its parsed content.
#[derive(Clone, Copy)]
pub struct RunpackView<'a> {
    pub loaded: &'a LoadedRunpack,
    pub parsed: Result<&'a Runpack<'a>, &'a GaitError>,
}

/// Per-fixture memo for plugins: a grader may build something once per fixture (a script grader
/// builds the script's view of the fixture) and share it with the fixture's other graders.
#[derive(Default)]
pub struct FixtureCache {
    slots: std::sync::Mutex<BTreeMap<&'static str, Arc<dyn Any + Send + Sync>>>,
}

impl FixtureCache {
    /// The value under `key`, built by `make` on first use.
    pub fn get_or_insert<T: Any + Send + Sync>(
        &self,
        key: &'static str,
        make: impl FnOnce() -> T,
    ) -> Option<Arc<T>> {
        let existing = self.lock().get(key).cloned();
        let slot = match existing {
            Some(s) => s,
            None => {
                let made: Arc<dyn Any + Send + Sync> = Arc::new(make());
                self.lock().entry(key).or_insert(made).clone()
            }
        };
        slot.downcast::<T>().ok()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Arc<dyn Any + Send + Sync>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything a grader may look at for one fixture. Read-only.
pub struct FixtureView<'a> {
    pub name: &'a str,
    pub spec: &'a Arc<FixtureSpec>,
    pub options: &'a GradeOptions,
    /// The fixture's recorded runpack.
    pub baseline: RunpackView<'a>,
    /// The candidate runpack, when `fixture.json` names one.
    pub candidate: Option<RunpackView<'a>>,
    /// Stub replay of the runpack under test ([`FixtureView::subject`]), when it could be parsed.
    pub replay: Result<&'a Arc<ReplayReport>, &'a GaitError>,
    /// Baseline → candidate, when there is a candidate.
    pub diff: Option<Result<&'a Arc<DiffReport>, &'a GaitError>>,
    pub cache: &'a FixtureCache,
}

impl<'a> FixtureView<'a> {
    /// The runpack under test: the candidate when there is one, else the fixture's own.
    pub fn subject(&self) -> &RunpackView<'a> {
        self.candidate.as_ref().unwrap_or(&self.baseline)
    }

    /// The fixture's run id (from `fixture.json`).
    pub fn run_id(&self) -> &str {
        &self.spec.run_id
    }
}
