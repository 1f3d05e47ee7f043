//! gait-engine: the deterministic core of gait.
//!
//! The engine never touches the terminal, environment variables or the home directory, and never reads
//! the clock or a random source except through values passed in (see ARCHITECTURE.md).

pub mod canon;
pub mod crypto;
pub mod error;
pub mod fsx;
pub mod gojson;
pub mod gotime;
pub mod procx;
pub mod runpack;
pub mod schema;
pub mod zipx;
// regress: plugin seams (the Grader trait) and the regress artifacts
pub mod plugin;
pub mod regress;

pub use error::{Category, GaitError};
pub use gotime::GoTime;

/// The version written into artifacts as `producer_version`.
///
/// The reference's unstamped build writes `0.0.0-dev`; artifacts are compared byte for byte with it, so
/// ours does too unless a release build stamps `GAIT_VERSION`.
pub const PRODUCER_VERSION: &str = match option_env!("GAIT_VERSION") {
    Some(v) => v,
    None => "0.0.0-dev",
};
