//! Stable `error_code`s of registry and plugin refusals (public API, like reason codes), and the
//! constructors that pair each with its category and so its exit code.
//!
//! Verification refusals (bad signature, untrusted or revoked key, digest mismatch, rollback,
//! expiry, incompatible API, modified files) exit 2; unsafe transport requests (host not on the
//! allowlist, plain http) exit 8; bad input exits 6; network failures exit 1.

use gait_engine::GaitError;
use gait_engine::error::Category;

pub const UNSIGNED: &str = "plugin_unsigned";
pub const SIGNATURE_INVALID: &str = "plugin_signature_invalid";
pub const KEY_UNTRUSTED: &str = "plugin_key_untrusted";
pub const KEY_REVOKED: &str = "plugin_key_revoked";
pub const DIGEST_MISMATCH: &str = "plugin_digest_mismatch";
pub const FILE_MODIFIED: &str = "plugin_file_modified";
pub const API_INCOMPATIBLE: &str = "plugin_api_incompatible";
pub const TARGET_MISMATCH: &str = "plugin_target_mismatch";
pub const MANIFEST_INVALID: &str = "plugin_manifest_invalid";
pub const NOT_INSTALLED: &str = "plugin_not_installed";
pub const NO_MATCHING_VERSION: &str = "plugin_version_not_found";
pub const LOAD_FAILED: &str = "plugin_load_failed";
pub const CALL_FAILED: &str = "plugin_call_failed";
pub const INDEX_INVALID: &str = "registry_index_invalid";
pub const INDEX_ROLLBACK: &str = "registry_index_rollback";
pub const INDEX_EXPIRED: &str = "registry_index_expired";
pub const HOST_NOT_ALLOWED: &str = "registry_host_not_allowed";
pub const INSECURE_HTTP: &str = "registry_insecure_http";
pub const TOO_LARGE: &str = "registry_download_too_large";
pub const FETCH_FAILED: &str = "registry_fetch_failed";
pub const LOCK_MISMATCH: &str = "lockfile_mismatch";
pub const LOCK_MISSING: &str = "lockfile_entry_missing";

/// A verification refusal (exit 2).
pub fn refuse(code: &str, message: impl Into<String>) -> GaitError {
    GaitError::verification(message).with_code(code)
}

/// Invalid input (exit 6) with a specific code.
pub fn invalid(code: &str, message: impl Into<String>) -> GaitError {
    GaitError::invalid(message).with_code(code)
}

/// An unsafe request refused (exit 8).
pub fn unsafe_refused(code: &str, message: impl Into<String>) -> GaitError {
    GaitError::unsafe_refused(message).with_code(code)
}

/// A network failure (exit 1); `transient` ones are worth retrying later.
pub fn network(transient: bool, message: impl Into<String>) -> GaitError {
    let category = if transient {
        Category::NetworkTransient
    } else {
        Category::NetworkPermanent
    };
    GaitError::new(category, message).with_code(FETCH_FAILED)
}
