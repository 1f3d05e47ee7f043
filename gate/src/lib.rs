//! gait-gate: the gate of gait — policies, intents, deterministic evaluation and signed traces.
//!
//! The crate is deterministic: it reads no clock, no environment and no randomness. Time, key
//! material, state paths and loaded side inputs (kill-switch state, inventories, envelopes) are
//! passed in by the caller (the CLI).

pub mod envelope;
pub mod eval;
pub mod intent;
pub mod policy;
pub mod policytest;
pub mod prepare;
pub mod text;
pub mod tz;
pub mod vocab;
pub mod wrkr;
pub mod yaml;

pub use eval::{Env, Evaluation, evaluate};
pub use intent::Intent;
pub use policy::{LoadedPolicy, Policy, Verdict};
