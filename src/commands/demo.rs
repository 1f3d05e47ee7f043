//! `gait demo`: record the offline demo runpack and verify it (CONTRACTS §1.2, seed README "Start Here").

use super::runpack_io;
use crate::cli::{CmdResult, Command, Ctx, Flag, Order, Parsed, Response};
use gait_engine::error::exit;
use gait_engine::runpack::demo::{DEMO_RUN_ID, record_demo};
use gait_engine::runpack::{self, VerifyOptions, ticket_footer};
use gait_engine::{GaitError, PRODUCER_VERSION};
use serde::Serialize;

pub static DEMO: Command = Command {
    path: "demo",
    synopsis: "[--policy] [--json]",
    summary: "Record and verify the offline demo runpack (./gait-out/runpack_run_demo.zip); --policy shows a gate block.",
    explain: "Writes the offline demo runpack ./gait-out/runpack_run_demo.zip, verifies it, and prints its ticket footer; with --policy, writes a high-risk policy and a destructive intent and shows the gate blocking it.",
    flags: &[Flag::bool(
        "policy",
        "write ./gait-out/policy_demo_high_risk.yaml and intent_demo_delete.json and show the gate blocking the delete",
    )],
    order: Order::Interspersed,
    custom_explain: false,
    run: run_demo,
};

const METRICS_OPT_IN: &str = "export GAIT_ADOPTION_LOG=./gait-out/adoption.jsonl";

#[derive(Serialize)]
struct DemoOut {
    ok: bool,
    mode: &'static str,
    run_id: String,
    bundle: String,
    manifest_digest: String,
    ticket_footer: String,
    verify: &'static str,
    next_commands: Vec<String>,
    metrics_opt_in: &'static str,
    duration_ms: f64,
}

fn run_demo(ctx: &mut Ctx, p: Parsed) -> CmdResult {
    if !p.positionals.is_empty() {
        return Err(GaitError::invalid(format!(
            "unexpected positional arguments: {}",
            p.positionals.join(" ")
        ))
        .with_hint("gait demo takes no arguments"));
    }
    if p.bool("policy") {
        return run_policy_demo(ctx);
    }
    let recorded = record_demo(PRODUCER_VERSION)?;
    let report = runpack::verify_bytes(recorded.zip.clone(), &VerifyOptions::default())?;
    let bundle = runpack_io::write_runpack("./gait-out", &recorded.run_id, &recorded.zip)?;
    let footer = ticket_footer(DEMO_RUN_ID, &recorded.manifest_digest);
    let next_commands = vec![
        format!("gait verify {DEMO_RUN_ID} --json"),
        format!("gait run replay {DEMO_RUN_ID} --json"),
        format!("gait regress init --from {DEMO_RUN_ID} --json"),
    ];
    let verify = if report.ok { "ok" } else { "failed" };
    let text = format!(
        "mode=standard\nrun_id={DEMO_RUN_ID}\nbundle={bundle}\nticket_footer={footer}\nverify={verify}\nnext={}\nmetrics_opt_in={METRICS_OPT_IN}",
        next_commands.join(" ; ")
    );
    let out = DemoOut {
        ok: report.ok,
        mode: "standard",
        run_id: DEMO_RUN_ID.to_string(),
        bundle,
        manifest_digest: recorded.manifest_digest.clone(),
        ticket_footer: footer,
        verify,
        next_commands,
        metrics_opt_in: METRICS_OPT_IN,
        duration_ms: (ctx.elapsed_ms() * 1000.0).round() / 1000.0,
    };
    let code = if report.ok {
        exit::OK
    } else {
        exit::VERIFY_FAILED
    };
    Response::new(code, &out, text)
}

const POLICY_DEMO_POLICY: &str = "./gait-out/policy_demo_high_risk.yaml";
const POLICY_DEMO_INTENT: &str = "./gait-out/intent_demo_delete.json";

/// A destructive call an agent might attempt: deleting a production path at high risk.
const POLICY_DEMO_INTENT_JSON: &str = r#"{
  "tool_name": "tool.delete",
  "args": {"path": "/srv/prod/customers.db"},
  "targets": [
    {"kind": "path", "value": "/srv/prod/customers.db", "operation": "delete"}
  ],
  "context": {
    "identity": "agent.demo",
    "workspace": "/srv/prod",
    "risk_class": "high"
  },
  "arg_provenance": [
    {"arg_path": "$.path", "source": "user"}
  ]
}
"#;

#[derive(Serialize)]
struct PolicyDemoOut {
    ok: bool,
    mode: &'static str,
    policy: &'static str,
    intent: &'static str,
    verdict: String,
    expected_verdict: &'static str,
    reason_codes: Vec<String>,
    violations: Vec<String>,
    matched_rule: String,
    policy_digest: String,
    intent_digest: String,
    next_commands: Vec<String>,
    duration_ms: f64,
}

/// `gait demo --policy` (CONTRACTS §1.2): the high-risk baseline policy and a destructive intent,
/// evaluated purely (like `gait policy test`: no trace, no state). The demo succeeds when the gate
/// blocks the delete.
fn run_policy_demo(ctx: &mut Ctx) -> CmdResult {
    let (_, template) = gait_gate::templates::find("high")
        .ok_or_else(|| GaitError::internal("the high-risk baseline template is missing"))?;
    // The built-in template names no predicates: no plugin host, no cache, no write under the home.
    let policy = gait_gate::cache::PolicyCache::disabled().load_fresh(template.as_bytes())?;
    let result =
        gait_gate::policytest::run(&policy, POLICY_DEMO_INTENT_JSON.as_bytes(), ctx.now())?;
    for (path, bytes) in [
        (POLICY_DEMO_POLICY, template.as_bytes()),
        (POLICY_DEMO_INTENT, POLICY_DEMO_INTENT_JSON.as_bytes()),
    ] {
        gait_engine::fsx::write_atomic_unsynced(std::path::Path::new(path), bytes, 0o600)?;
    }
    let ok = result.verdict == "block";
    let next_commands = vec![
        format!("gait policy test {POLICY_DEMO_POLICY} {POLICY_DEMO_INTENT} --json"),
        format!(
            "gait gate eval --policy {POLICY_DEMO_POLICY} --intent {POLICY_DEMO_INTENT} --json"
        ),
    ];
    let text = format!(
        "mode=policy\npolicy={POLICY_DEMO_POLICY}\nintent={POLICY_DEMO_INTENT}\nverdict={}\nreason_codes={}\nmatched_rule={}\npolicy_digest={}\nintent_digest={}\nnext={}",
        result.verdict,
        result.reason_codes.join(","),
        result.matched_rule,
        result.policy_digest,
        result.intent_digest,
        next_commands.join(" ; ")
    );
    let out = PolicyDemoOut {
        ok,
        mode: "policy",
        policy: POLICY_DEMO_POLICY,
        intent: POLICY_DEMO_INTENT,
        verdict: result.verdict.clone(),
        expected_verdict: "block",
        reason_codes: result.reason_codes.clone(),
        violations: result.violations.clone(),
        matched_rule: result.matched_rule.clone(),
        policy_digest: result.policy_digest.clone(),
        intent_digest: result.intent_digest.clone(),
        next_commands,
        duration_ms: (ctx.elapsed_ms() * 1000.0).round() / 1000.0,
    };
    let code = if ok { exit::OK } else { exit::VERIFY_FAILED };
    Response::new(code, &out, text)
}
