//! Regress: runpacks become deterministic regression tests (CONTRACTS §3.7).
//!
//! - [`config`]: `gait.yaml` (the fixture set) and `fixture.json` (a fixture's expectations);
//! - [`result`]: `regress_result.json` and grader results;
//! - [`junit`]: the JUnit report;
//! - [`init`]: a verified runpack becomes a fixture (`regress init`/`add`);
//! - [`run`]: loading fixtures once and grading them through the [`crate::plugin::Grader`] seam.
//!
//! Grading goes through the engine's plugin seams ([`crate::plugin`]); the builtin graders and
//! script graders live in the `gait-graders` crate.

pub mod config;
pub mod init;
pub mod junit;
pub mod result;
pub mod run;

pub use config::{Config, ConfigFixture, FixtureSpec, ScriptGraderSpec};
pub use result::{GradeStatus, GraderResult, RegressResult};

/// The builtin graders, in the order the reference runs them (results are sorted by name after).
pub const BUILTIN_GRADERS: [&str; 5] = [
    "schema_validation",
    "expected_exit_code",
    "trajectory",
    "diff",
    "context_conformance",
];
