//! `gait regress run`: load the fixture set, grade every fixture, assemble the result.
//!
//! Each fixture is loaded once — its runpack read, verified and parsed, the candidate likewise, the
//! runpack under test replayed (stub), baseline and candidate diffed — and every grader judges that
//! one [`FixtureView`]. Fixtures are graded in parallel on a pool whose threads have stacks large
//! enough for script engines; results are sorted by name, so the output does not depend on
//! scheduling. Which graders run is the caller's choice ([`GraderSet`]): the engine knows the seam,
//! not the graders.

use super::config::{Config, FixtureSpec, MAX_CONFIG_BYTES};
use super::result::{GradeStatus, GraderResult, RegressResult};
use crate::GoTime;
use crate::error::GaitError;
use crate::fsx::{self, FsError};
use crate::plugin::{
    FixtureCache, FixtureView, GradeOptions, GradeOutcome, Grader, LoadedRunpack, RunpackView,
};
use crate::runpack::diff::{self, Privacy};
use crate::runpack::read::{Runpack, open_archive, read_files};
use crate::runpack::record::runpack_limits;
use crate::runpack::replay::replay_stub;
use crate::runpack::verify::{VerifyOptions, verify_archive};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Reason code of a grader that failed unexpectedly (an error or a contained panic).
pub const GRADER_ERROR: &str = "grader_error";

/// One fixture of the set, with its expectations read.
#[derive(Clone, Debug)]
pub struct FixtureEntry {
    pub name: String,
    pub run_id: String,
    /// The fixture directory (where `fixture.json` lives).
    pub dir: PathBuf,
    /// The fixture runpack and the path as `gait.yaml` writes it.
    pub runpack: PathBuf,
    pub runpack_display: String,
    pub spec: Arc<FixtureSpec>,
}

/// A fixture set read from `gait.yaml`, every `fixture.json` parsed.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub config_path: PathBuf,
    /// The directory of `gait.yaml`; fixture paths are relative to it.
    pub config_dir: PathBuf,
    pub config: Config,
    pub fixtures: Vec<FixtureEntry>,
}

fn read_input(path: &Path, what: &str, hint: &str) -> Result<Vec<u8>, GaitError> {
    fsx::read_bounded(path, MAX_CONFIG_BYTES).map_err(|e| {
        let not_found = matches!(e, FsError::NotFound { .. });
        let err = GaitError::from(e).context(&format!("read {what}"));
        if not_found {
            GaitError::invalid(err.message).with_hint(hint)
        } else {
            err
        }
    })
}

/// Joins `rel` (a path read from `gait.yaml` or a `fixture.json`) to `base` (the directory of
/// the file that names it) and checks that the result stays inside `project` (the directory of
/// `gait.yaml`), by its components: no absolute path, no `..` climbing out. A fixture set is
/// often someone else's (a pull request, a shared repository); without this, `"runpack":
/// "../../../etc/passwd"` made gait read files outside it and echo their bytes in messages.
/// `what` names the field in the message. Candidate runpacks are not confined: the reference reads
/// them wherever they are, and a path that is not a runpack fails its grader.
pub fn confined_join(
    project: &Path,
    base: &Path,
    rel: &str,
    what: &str,
) -> Result<PathBuf, GaitError> {
    use std::path::Component;
    let refuse = |why: &str| {
        GaitError::invalid(format!(
            "{what} {rel:?} {why}: paths in a fixture set stay inside its directory ({})",
            if project.as_os_str().is_empty() {
                ".".to_string()
            } else {
                project.display().to_string()
            }
        ))
        .with_hint(
            "use a path relative to the file that names it, inside the fixture set's directory",
        )
    };
    let path = Path::new(rel);
    if path.has_root()
        || path
            .components()
            .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
    {
        return Err(refuse("is absolute"));
    }
    let joined = base.join(path);
    let inner = joined
        .strip_prefix(project)
        .map_err(|_| refuse("is outside the fixture set"))?;
    let mut depth = 0usize;
    for c in inner.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| refuse("climbs out of the fixture set"))?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(refuse("is absolute")),
        }
    }
    Ok(joined)
}

/// Refuses a report path whose directory does not exist, as the reference's `os.WriteFile` does,
/// before any fixture is graded: a typo in `--junit` must not create a directory tree, nor be
/// found only after the whole run.
pub fn check_report_dir(path: &Path, flag: &str) -> Result<(), GaitError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(GaitError::invalid(format!(
                "{flag} {}: directory {} does not exist",
                path.display(),
                dir.display()
            ))
            .with_hint("create the directory first, or write the report into an existing one"))
        }
        _ => Ok(()),
    }
}

/// Reads `gait.yaml` and each fixture's `fixture.json`. Every problem here is invalid input.
pub fn prepare(config_path: &Path) -> Result<Prepared, GaitError> {
    let shown = config_path.display().to_string();
    let bytes = read_input(
        config_path,
        &shown,
        "create the fixture set with `gait regress init --from <run_id|path>` (e.g. after `gait demo`)",
    )?;
    let config = Config::parse(&bytes, &shown)?;
    if config.fixtures.is_empty() {
        return Err(GaitError::invalid(format!("{shown} lists no fixtures"))
            .with_hint("add one with `gait regress add --from <run_id|path>`"));
    }
    let config_dir = config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut fixtures = Vec::with_capacity(config.fixtures.len());
    for f in &config.fixtures {
        let runpack = confined_join(
            &config_dir,
            &config_dir,
            &f.runpack,
            &format!("{shown}: fixture {:?}: runpack", f.name),
        )?;
        let dir = runpack.parent().map(Path::to_path_buf).unwrap_or_default();
        let spec_path = dir.join("fixture.json");
        let spec_shown = spec_path.display().to_string();
        let spec = FixtureSpec::parse(
            &read_input(
                &spec_path,
                &spec_shown,
                &format!(
                    "re-create the fixture with `gait regress init --from {} --name {}`",
                    f.run_id, f.name
                ),
            )?,
            &spec_shown,
        )?;
        if spec.name != f.name {
            return Err(GaitError::invalid(format!(
                "{spec_shown}: fixture name {:?} does not match {:?} in {shown}",
                spec.name, f.name
            )));
        }
        fixtures.push(FixtureEntry {
            name: f.name.clone(),
            run_id: f.run_id.clone(),
            dir,
            runpack,
            runpack_display: f.runpack.clone(),
            spec: Arc::new(spec),
        });
    }
    Ok(Prepared {
        config_path: config_path.to_path_buf(),
        config_dir,
        config,
        fixtures,
    })
}

/// Chooses the graders of each fixture.
pub trait GraderSet: Sync {
    /// The graders for `fixture`, in the order they run.
    fn graders_for(&self, fixture: &FixtureEntry, options: &GradeOptions) -> Vec<Arc<dyn Grader>>;
}

/// Reads, opens and verifies a runpack; never fails — problems are recorded for the graders.
pub fn load_runpack(path: PathBuf, display: String) -> LoadedRunpack {
    let opened = fsx::read_bounded(&path, runpack_limits().max_archive_bytes)
        .map_err(|e| {
            let missing = matches!(e, FsError::NotFound { .. });
            let err = GaitError::from(e);
            if missing {
                err.with_code("runpack_not_found")
            } else {
                err
            }
        })
        .and_then(open_archive);
    match opened {
        Ok(archive) => LoadedRunpack {
            verify: verify_archive(&archive, &VerifyOptions::default()),
            files: read_files(&archive).map(Arc::new),
            path,
            display,
        },
        Err(e) => LoadedRunpack {
            verify: Err(e.clone()),
            files: Err(e),
            path,
            display,
        },
    }
}

fn parse(loaded: &LoadedRunpack) -> Result<Runpack<'_>, GaitError> {
    match &loaded.files {
        Ok(files) => files.parse(),
        Err(e) => Err(e.clone()),
    }
}

/// How a run executes.
pub struct RunSettings<'a> {
    pub options: GradeOptions,
    /// Worker threads (at least one).
    pub workers: usize,
    /// Called after each fixture with (fixtures done, fixtures in total).
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

/// Stack size of grading threads: script engines evaluate recursively (see gait-sandbox).
const WORKER_STACK: usize = 16 << 20;

/// Grades every fixture of a prepared set.
pub fn run(
    prepared: &Prepared,
    graders: &dyn GraderSet,
    settings: &RunSettings<'_>,
) -> Result<RegressResult, GaitError> {
    let total = prepared.fixtures.len();
    let done = AtomicUsize::new(0);
    let grade = |entry: &FixtureEntry| {
        let out = grade_fixture(entry, graders, &settings.options);
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(progress) = settings.progress {
            progress(n, total);
        }
        out
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.workers.max(1))
        .stack_size(WORKER_STACK)
        .thread_name(|i| format!("gait-regress-{i}"))
        .build()
        .map_err(|e| GaitError::internal(format!("start grading threads: {e}")))?;
    let per_fixture: Vec<(Vec<GraderResult>, Option<GoTime>)> =
        pool.install(|| prepared.fixtures.par_iter().map(grade).collect());
    let created_at = per_fixture
        .first()
        .and_then(|(_, t)| *t)
        .unwrap_or_else(GoTime::epoch_1980);
    let graders = per_fixture.into_iter().flat_map(|(g, _)| g).collect();
    Ok(RegressResult::new(
        &prepared.config.fixture_set,
        created_at,
        graders,
    ))
}

/// Loads one fixture and runs its graders; returns the results and the fixture run's `created_at`.
pub fn grade_fixture(
    entry: &FixtureEntry,
    graders: &dyn GraderSet,
    options: &GradeOptions,
) -> (Vec<GraderResult>, Option<GoTime>) {
    let spec = &entry.spec;
    let baseline = load_runpack(entry.runpack.clone(), entry.runpack_display.clone());
    let base_parsed = parse(&baseline);
    let candidate = (!spec.candidate_runpack.is_empty()).then(|| {
        load_runpack(
            entry.dir.join(&spec.candidate_runpack),
            spec.candidate_runpack.clone(),
        )
    });
    let cand_parsed = candidate.as_ref().map(parse);
    let subject = cand_parsed.as_ref().unwrap_or(&base_parsed);
    let replay = match subject {
        Ok(rp) => Ok(Arc::new(replay_stub(rp))),
        Err(e) => Err(e.clone()),
    };
    let diffed = match (&base_parsed, &cand_parsed) {
        (Ok(b), Some(Ok(c))) => Some(diff::diff(b, c, Privacy::Full).map(Arc::new)),
        (Err(e), Some(_)) | (_, Some(Err(e))) => Some(Err(e.clone())),
        (_, None) => None,
    };
    let cache = FixtureCache::default();
    let view = FixtureView {
        name: &entry.name,
        spec,
        options,
        baseline: RunpackView {
            loaded: &baseline,
            parsed: base_parsed.as_ref(),
        },
        candidate: candidate
            .as_ref()
            .zip(cand_parsed.as_ref())
            .map(|(l, p)| RunpackView {
                loaded: l,
                parsed: p.as_ref(),
            }),
        replay: replay.as_ref(),
        diff: diffed.as_ref().map(Result::as_ref),
        cache: &cache,
    };
    let results = graders
        .graders_for(entry, options)
        .iter()
        .map(|g| grade_one(g.as_ref(), &view))
        .collect();
    let created_at = base_parsed.as_ref().ok().map(|rp| rp.run.created_at);
    (results, created_at)
}

fn grade_one(grader: &dyn Grader, view: &FixtureView<'_>) -> GraderResult {
    let name = &grader.info().name;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grader.grade(view)));
    let outcome = match outcome {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => GradeOutcome::new(GradeStatus::Fail, [e.reason_code.clone()])
            .with_message(e.message.clone())
            .with_detail("error", e.message),
        Err(_) => {
            let msg = format!("grader {name} failed unexpectedly; please report this fixture");
            GradeOutcome::fail(&[GRADER_ERROR])
                .with_message(msg.clone())
                .with_detail("error", msg)
        }
    };
    let mut details = outcome.details;
    if !outcome.message.is_empty() {
        details.insert("message".into(), outcome.message.into());
    }
    details.insert("fixture".into(), view.name.into());
    details.insert("run_id".into(), view.run_id().into());
    GraderResult {
        name: format!("{}/{name}", view.name),
        status: outcome.status,
        reason_codes: outcome.reason_codes,
        context_conformance: outcome.context_conformance,
        details,
    }
}

/// Writes `regress_result.json` and, when asked, the JUnit report (atomically; readable by CI).
pub fn write_reports(
    result: &RegressResult,
    output: &Path,
    junit: Option<&Path>,
) -> Result<(), GaitError> {
    fsx::write_atomic(output, &result.to_bytes()?, 0o644)?;
    if let Some(path) = junit {
        fsx::write_atomic(path, super::junit::render(result).as_bytes(), 0o644)?;
    }
    Ok(())
}
