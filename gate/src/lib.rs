//! gait-gate: the gate of gait — policies, intents, deterministic evaluation and signed traces.
//!
//! The crate is deterministic: it reads no clock, no environment and no randomness. Time, key
//! material, state paths and loaded side inputs (kill-switch state, inventories, envelopes) are
//! passed in by the caller (the CLI).

pub mod approvals;
pub mod approved_scripts;
pub mod audit;
pub mod broker;
pub mod cache;
pub mod config;
pub mod delegations;
pub mod envelope;
pub mod eval;
pub mod explain;
pub mod gate_eval;
pub mod intent;
pub mod killswitch;
pub mod killswitch_journal;
pub mod pipeline;
pub mod policy;
pub mod policytest;
pub mod predicate;
pub mod prepare;
pub mod profile;
pub mod ratelimit;
pub mod relationship;
pub mod simulate;
pub mod templates;
pub mod text;
pub mod tokens;
pub mod trace;
pub mod tz;
pub mod vocab;
pub mod wrkr;
pub mod yaml;

pub use eval::{Env, Evaluation, evaluate};
pub use intent::Intent;
pub use policy::{LoadedPolicy, Policy, Verdict};

/// The stable exit code of a verdict: 0 allow/dry_run, 3 block, 4 require_approval.
pub fn cli_exit(verdict: Verdict) -> i32 {
    use gait_engine::error::exit;
    match verdict {
        Verdict::Block => exit::BLOCKED,
        Verdict::RequireApproval => exit::APPROVAL_REQUIRED,
        Verdict::Allow | Verdict::DryRun => exit::OK,
    }
}
