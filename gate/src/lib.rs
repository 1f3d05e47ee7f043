//! gait-gate: the gate of gait — policies, intents, deterministic evaluation and signed traces.
//!
//! The crate is deterministic: it reads no clock, no environment and no randomness. Time, key
//! material, state paths and loaded side inputs (kill-switch state, inventories, envelopes) are
//! passed in by the caller (the CLI).

pub mod policy;
pub mod text;
pub mod vocab;
pub mod yaml;

pub use policy::{LoadedPolicy, Policy, Verdict};
