//! gait-graders: the graders of `gait regress run`, as implementations of the engine's grader seam.
//!
//! - [`script`]: Rhai and Lua script graders, run in `gait-sandbox`.

pub mod script;
