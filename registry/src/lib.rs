//! gait-registry: signed plugin registries, installation, trust, and the verified native loader.
//!
//! - [`manifest`]: the plugin manifest, its digest and validation; [`index`]: the signed registry
//!   index with its growing version and expiry; [`resolve`]: `NAME[@REQ]` and semver resolution.
//! - [`source`]: local directory or https registries (allowlist, caps, retries, CA files).
//! - [`trust`]: trusted publisher keys, revocation, and the signature rule.
//! - [`install`]: install / verify / remove with pins in the plugin home ([`store`]) and the
//!   project lockfile ([`lockfile`]); [`loader`]: verify-then-load for native plugins.
//! - [`authoring`]: scaffold, pack, sign, index; [`catalog`]: builtin + installed listing;
//!   [`ops`]: the `gait plugin …` operations (lockfile handling, update, trust changes).
//! - [`regpack`]: the reference's `gait registry install|list|verify` packs, byte-compatible.
//!
//! Like the engine, this crate reads no environment variables and no clock: the CLI passes the
//! gait home, the time, CA file paths and transport settings in.

pub mod authoring;
pub mod catalog;
pub mod codes;
pub mod index;
pub mod install;
mod json;
pub mod loader;
pub mod lockfile;
pub mod manifest;
pub mod model;
pub mod ops;
pub mod regpack;
pub mod relpath;
pub mod resolve;
pub mod source;
pub mod store;
pub mod trust;

pub use gait_plugin_api::PLUGIN_API_VERSION;
pub use model::{PluginForm, PluginKind};
