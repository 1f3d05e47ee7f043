//! `gait policy test|validate|fmt|init|simulate`: authoring and checking policies offline.

use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::{GaitError, fsx};
use gait_gate::policy::{LoadedPolicy, MAX_POLICY_BYTES};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub static TEST: Command = Command {
    path: "policy test",
    synopsis: "<policy.yaml> <intent_fixture.json>",
    summary: "Evaluate an intent fixture against a policy (pure: no trace, no state).",
    explain: "Evaluates an intent fixture against a policy offline, with no trace, state, tokens or broker, and exits 0 for allow or dry_run, 3 for block and 4 for require_approval.",
    flags: &[],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_test,
};

pub static VALIDATE: Command = Command {
    path: "policy validate",
    synopsis: "<policy.yaml>",
    summary: "Strictly parse and normalize a policy; print its digest.",
    explain: "Strictly parses and normalizes a policy file, rejecting unknown, duplicate and legacy keys, and prints its digest, default verdict and rule count.",
    flags: &[],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_validate,
};

pub static FMT: Command = Command {
    path: "policy fmt",
    synopsis: "<policy.yaml> [--write]",
    summary: "Print (or --write) the normalized policy as YAML; the digest is unchanged.",
    explain: "Re-writes a policy in its normalized YAML form (defaults explicit, rules in evaluation order) without changing its digest; --write replaces the file atomically.",
    flags: &[Flag::bool("write", "replace the file instead of printing")],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_fmt,
};

pub static INIT: Command = Command {
    path: "policy init",
    synopsis: "<baseline-lowrisk|baseline-mediumrisk|baseline-highrisk> [--out FILE] [--force] | --pack NAME TEMPLATE",
    summary: "Write a commented baseline policy template, or a template from a policy pack.",
    explain: "Writes one of the built-in baseline policy templates (low, medium or high risk), each commented with why its rules are there, or a template from a pack (--pack: an installed, signed pack plugin, or the builtin `baseline`).",
    flags: &[
        Flag::string("out", "gait.policy.yaml", "where to write the policy"),
        Flag::bool("force", "overwrite an existing file"),
        Flag::string(
            "pack",
            "",
            "take TEMPLATE from this pack: an installed pack plugin (verified) or `baseline`",
        ),
    ],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_init,
};

pub static SIMULATE: Command = Command {
    path: "policy simulate",
    synopsis: "--policy <candidate.yaml> --baseline <baseline.yaml> --fixtures <files|dirs,...>",
    summary: "Compare a candidate policy with a baseline over intent fixtures; recommend a rollout step.",
    explain: "Evaluates intent fixtures against a candidate and a baseline policy, reports every changed verdict and recommends enforce, observe or require_approval for the rollout.",
    flags: &[
        Flag::string("policy", "", "candidate policy"),
        Flag::string("baseline", "", "baseline policy"),
        Flag::string(
            "fixtures",
            "",
            "intent fixtures: comma-separated files or directories of *.json",
        ),
    ],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_simulate,
};

fn read(path: &str, what: &str, limit: u64) -> Result<Vec<u8>, GaitError> {
    fsx::read_bounded(Path::new(path), limit)
        .map_err(|e| GaitError::invalid(format!("read {what}: {e}")))
}

fn load_policy(ctx: &Ctx, path: &str) -> Result<LoadedPolicy, GaitError> {
    let bytes = read(path, "policy", MAX_POLICY_BYTES)?;
    Ok(super::gate::policy_cache_read_only(ctx).load(&bytes)?.0)
}

fn run_test(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    if p.positionals.len() != 2 {
        return Err(GaitError::invalid(
            "expected <policy.yaml> <intent_fixture.json>",
        ));
    }
    let policy = load_policy(ctx, &p.positionals[0])?;
    let intent = read(
        &p.positionals[1],
        "intent",
        gait_gate::intent::MAX_INTENT_BYTES,
    )?;
    let result = gait_gate::policytest::run(&policy, &intent, ctx.now())?;
    let code = gait_gate::cli_exit(result.verdict_kind);
    let mut text = result.summary.clone();
    if !result.matched_rule.is_empty() {
        text.push_str(&format!("\nmatched_rule={}", result.matched_rule));
    }
    text.push_str(&format!(
        "\npolicy_digest={}\nintent_digest={}",
        result.policy_digest, result.intent_digest
    ));
    let warnings = result.warnings.clone();
    Ok(Response::new(code, &result, text)?.with_warnings(&warnings))
}

fn one_positional(p: &Parsed, usage: &str) -> Result<String, GaitError> {
    match p.positionals.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(GaitError::invalid(format!("expected {usage}"))),
    }
}

/// The reference's field set (CONTRACTS §1.2).
#[derive(Serialize)]
struct ValidateOutput {
    ok: bool,
    policy_digest: String,
    default_verdict: String,
    rule_count: usize,
}

fn run_validate(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let path = one_positional(&p, "<policy.yaml>")?;
    let loaded = load_policy(ctx, &path)?;
    let out = ValidateOutput {
        ok: true,
        policy_digest: loaded.digest.clone(),
        default_verdict: loaded.policy.default_verdict.as_str().into(),
        rule_count: loaded.policy.rules.len(),
    };
    let text = format!(
        "policy validate ok: {path}\npolicy_digest={}\ndefault_verdict={}\nrule_count={}",
        out.policy_digest, out.default_verdict, out.rule_count
    );
    Response::ok(&out, text)
}

#[derive(Serialize)]
struct FmtOutput {
    ok: bool,
    path: String,
    policy_digest: String,
    changed: bool,
    written: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    formatted: String,
}

/// The permission bits of an existing file (0644 when they cannot be read).
fn file_mode(path: &str) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            return meta.permissions().mode() & 0o7777;
        }
    }
    let _ = path;
    0o644
}

fn run_fmt(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let path = one_positional(&p, "<policy.yaml>")?;
    let original = read(&path, "policy", MAX_POLICY_BYTES)?;
    let cache = super::gate::policy_cache_read_only(ctx);
    let loaded = cache.load(&original)?.0;
    let formatted = gait_gate::policy::fmt::format(&loaded.policy);
    let changed = formatted.as_bytes() != original.as_slice();
    let write = p.bool("write");
    if write && changed {
        // Formatting must never change the policy: check before replacing the file.
        let again = cache.load_fresh(formatted.as_bytes())?;
        if again.digest != loaded.digest {
            return Err(GaitError::internal(
                "policy fmt would change the policy digest; the file was left unchanged",
            ));
        }
        // Keep the file's mode: formatting must not widen (or narrow) who may read the policy.
        fsx::write_atomic(Path::new(&path), formatted.as_bytes(), file_mode(&path))
            .map_err(|e| GaitError::io(format!("write policy: {e}")))?;
    }
    let out = FmtOutput {
        ok: true,
        path: path.clone(),
        policy_digest: loaded.digest.clone(),
        changed,
        written: write && changed,
        formatted: if write {
            String::new()
        } else {
            formatted.clone()
        },
    };
    let text = if write {
        format!(
            "policy fmt ok: {path} {}",
            if changed { "rewritten" } else { "unchanged" }
        )
    } else {
        formatted.trim_end_matches('\n').to_string()
    };
    Response::ok(&out, text)
}

#[derive(Serialize)]
struct InitOutput {
    ok: bool,
    template: String,
    path: String,
    policy_digest: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pack: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pack_version: String,
}

/// The template `name` of the pack `pack` (verified when installed): (canonical name, YAML).
fn pack_template(ctx: &Ctx, pack: &str, name: &str) -> Result<(String, String, String), GaitError> {
    let pack = super::plugin::host(ctx).pack(pack)?;
    let found = pack.find(name).map_err(gait_host::plugin_error)?;
    let Some(template) = found else {
        let names: Vec<String> = pack
            .policy_templates()
            .map_err(gait_host::plugin_error)?
            .into_iter()
            .map(|t| t.name)
            .collect();
        return Err(GaitError::invalid(format!(
            "pack {} has no policy template {name}",
            pack.info().label()
        ))
        .with_hint(if names.is_empty() {
            "the pack ships no policy templates".to_string()
        } else {
            format!("choose one of: {}", names.join(", "))
        }));
    };
    Ok((
        template.name,
        template.yaml,
        pack.info().version.to_string(),
    ))
}

fn run_init(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let name = one_positional(
        &p,
        "<template> (baseline-lowrisk, baseline-mediumrisk or baseline-highrisk)",
    )?;
    let pack = p
        .opt("pack")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let (canonical, text, pack_version) = if pack.is_empty() {
        let Some((canonical, text)) = gait_gate::templates::find(&name) else {
            return Err(
                GaitError::invalid(format!("unknown policy template: {name}")).with_hint(format!(
                    "choose one of: {}",
                    gait_gate::templates::names().join(", ")
                )),
            );
        };
        (canonical.to_string(), text.to_string(), String::new())
    } else {
        pack_template(ctx, &pack, &name)?
    };
    let out_path = PathBuf::from(p.str("out"));
    if fsx::is_traversing(&out_path) {
        return Err(GaitError::invalid(
            "relative output path must not traverse parent directories",
        ));
    }
    if out_path.exists() && !p.bool("force") {
        return Err(
            GaitError::invalid(format!("{} already exists", out_path.display()))
                .with_hint("pass --force to overwrite it, or choose another --out"),
        );
    }
    // A pack's template must be a valid policy (its predicates installed) before it is written.
    let loaded = super::gate::policy_cache_read_only(ctx)
        .load_fresh(text.as_bytes())
        .map_err(|e| e.context(&format!("template {canonical}")))?;
    fsx::write_atomic(&out_path, text.as_bytes(), 0o644)
        .map_err(|e| GaitError::io(format!("write policy: {e}")))?;
    let out = InitOutput {
        ok: true,
        template: canonical,
        path: out_path.display().to_string(),
        policy_digest: loaded.digest,
        pack,
        pack_version,
    };
    let text = format!(
        "policy init ok: {} -> {}\npolicy_digest={}",
        out.template, out.path, out.policy_digest
    );
    Response::ok(&out, text)
}

/// Expands `--fixtures`: files as given, directories to their `*.json` files (sorted).
fn fixture_files(csv: &[String]) -> Result<Vec<PathBuf>, GaitError> {
    let mut out = Vec::new();
    for item in csv {
        let path = PathBuf::from(item);
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| {
                    GaitError::invalid(format!(
                        "read fixtures {}: {}",
                        path.display(),
                        fsx::io_reason(&e)
                    ))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

fn run_simulate(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    let (Some(candidate), Some(baseline)) = (p.opt("policy"), p.opt("baseline")) else {
        return Err(GaitError::invalid(
            "both --policy and --baseline are required",
        ));
    };
    let files = fixture_files(&p.csv("fixtures"))?;
    if files.is_empty() {
        return Err(GaitError::invalid("--fixtures names no intent fixtures")
            .with_hint("pass comma-separated intent files or directories of *.json files"));
    }
    let cand = load_policy(ctx, &candidate)?;
    let base = load_policy(ctx, &baseline)?;
    let mut fixtures = Vec::with_capacity(files.len());
    for f in &files {
        let shown = f.display().to_string();
        fixtures.push((
            shown.clone(),
            read(&shown, "fixture", gait_gate::intent::MAX_INTENT_BYTES)?,
        ));
    }
    let sim = gait_gate::simulate::simulate(&cand, &base, &fixtures, ctx.now())?;
    let mut text = format!(
        "policy simulate: fixtures={} changed={} recommendation={}",
        sim.fixtures_total, sim.fixtures_changed, sim.recommendation
    );
    for r in sim.results.iter().filter(|r| r.changed) {
        text.push_str(&format!(
            "\nchanged {}: {} -> {}",
            r.fixture, r.baseline_verdict, r.candidate_verdict
        ));
    }
    Response::ok(&sim, text)
}
