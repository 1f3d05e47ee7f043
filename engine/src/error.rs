//! Error categories, stable exit codes and the JSON error envelope (CONTRACTS §1.1, §4).
//!
//! Libraries return typed errors that convert into [`GaitError`]; the CLI renders a `GaitError` as text
//! or as the envelope `{ok:false, error, error_code, error_category, retryable, hint, correlation_id}`.

use serde::Serialize;
use std::fmt;

/// Stable exit codes: the public API of every command.
pub mod exit {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const VERIFY_FAILED: i32 = 2;
    pub const BLOCKED: i32 = 3;
    pub const APPROVAL_REQUIRED: i32 = 4;
    pub const REGRESS_FAILED: i32 = 5;
    pub const INVALID_INPUT: i32 = 6;
    pub const DEPENDENCY_MISSING: i32 = 7;
    pub const UNSAFE_REFUSED: i32 = 8;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    InvalidInput,
    VerificationFailed,
    PolicyBlocked,
    ApprovalRequired,
    DependencyMissing,
    IoFailure,
    StateContention,
    NetworkTransient,
    NetworkPermanent,
    InternalFailure,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::InvalidInput => "invalid_input",
            Category::VerificationFailed => "verification_failed",
            Category::PolicyBlocked => "policy_blocked",
            Category::ApprovalRequired => "approval_required",
            Category::DependencyMissing => "dependency_missing",
            Category::IoFailure => "io_failure",
            Category::StateContention => "state_contention",
            Category::NetworkTransient => "network_transient",
            Category::NetworkPermanent => "network_permanent",
            Category::InternalFailure => "internal_failure",
        }
    }

    /// The reference's `exitCodeForError` mapping.
    pub fn exit_code(self) -> i32 {
        match self {
            Category::InvalidInput => exit::INVALID_INPUT,
            Category::VerificationFailed => exit::VERIFY_FAILED,
            Category::PolicyBlocked => exit::BLOCKED,
            Category::ApprovalRequired => exit::APPROVAL_REQUIRED,
            Category::DependencyMissing => exit::DEPENDENCY_MISSING,
            Category::IoFailure
            | Category::StateContention
            | Category::NetworkTransient
            | Category::NetworkPermanent
            | Category::InternalFailure => exit::INTERNAL,
        }
    }

    /// The category the envelope reports for an exit code when the error carries none.
    pub fn for_exit(code: i32) -> Category {
        match code {
            exit::INVALID_INPUT | exit::UNSAFE_REFUSED => Category::InvalidInput,
            exit::VERIFY_FAILED => Category::VerificationFailed,
            exit::BLOCKED => Category::PolicyBlocked,
            exit::APPROVAL_REQUIRED => Category::ApprovalRequired,
            exit::DEPENDENCY_MISSING => Category::DependencyMissing,
            _ => Category::InternalFailure,
        }
    }

    pub fn retryable(self) -> bool {
        matches!(self, Category::NetworkTransient | Category::StateContention)
    }
}

/// The envelope's default `error_code` for an exit code.
pub fn default_error_code(exit_code: i32) -> &'static str {
    match exit_code {
        exit::INVALID_INPUT => "invalid_input",
        exit::VERIFY_FAILED => "verification_failed",
        exit::BLOCKED => "policy_blocked",
        exit::APPROVAL_REQUIRED => "approval_required",
        exit::DEPENDENCY_MISSING => "dependency_missing",
        exit::UNSAFE_REFUSED => "unsafe_operation",
        exit::REGRESS_FAILED => "regress_failed",
        _ => "internal_failure",
    }
}

/// The envelope's default `hint` for an exit code.
pub fn default_hint(exit_code: i32) -> &'static str {
    match exit_code {
        exit::INVALID_INPUT => "check command usage and input schema",
        exit::VERIFY_FAILED => "re-run verify after checking artifact integrity",
        exit::BLOCKED => "inspect reason_codes and adjust policy or intent",
        exit::APPROVAL_REQUIRED => "provide a valid approval token and retry",
        exit::DEPENDENCY_MISSING => "install or configure the missing dependency and retry",
        exit::UNSAFE_REFUSED => "pass explicit unsafe flags only for approved replay paths",
        _ => "retry after checking local environment and logs",
    }
}

/// A failure as the user sees it: message, category, optional specific code and hint, exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaitError {
    pub category: Category,
    pub message: String,
    /// A specific `error_code` (e.g. `runpack_duplicate_entries`); the exit code's default otherwise.
    pub code: Option<String>,
    pub hint: Option<String>,
    /// Overrides the category's exit code (e.g. fail-closed load errors exit 3, unsafe replay exits 8).
    pub exit: Option<i32>,
    /// Migration guidance for deprecated commands, flags or policy fields (the envelope's `migration`).
    pub migration: Option<serde_json::Value>,
}

impl GaitError {
    pub fn new(category: Category, message: impl Into<String>) -> Self {
        Self {
            category,
            message: message.into(),
            code: None,
            hint: None,
            exit: None,
            migration: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Category::InvalidInput, message)
    }

    pub fn verification(message: impl Into<String>) -> Self {
        Self::new(Category::VerificationFailed, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Category::InternalFailure, message)
    }

    pub fn io(message: impl Into<String>) -> Self {
        Self::new(Category::IoFailure, message)
    }

    pub fn unsafe_refused(message: impl Into<String>) -> Self {
        Self {
            exit: Some(exit::UNSAFE_REFUSED),
            ..Self::new(Category::InvalidInput, message)
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_exit(mut self, code: i32) -> Self {
        self.exit = Some(code);
        self
    }

    pub fn with_migration(mut self, migration: serde_json::Value) -> Self {
        self.migration = Some(migration);
        self
    }

    /// Prefixes the message with context, Go style (`read policy: open x: ...`).
    pub fn context(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.exit.unwrap_or_else(|| self.category.exit_code())
    }

    pub fn error_code(&self) -> String {
        self.code
            .clone()
            .unwrap_or_else(|| default_error_code(self.exit_code()).to_string())
    }

    pub fn hint_text(&self) -> String {
        self.hint
            .clone()
            .unwrap_or_else(|| default_hint(self.exit_code()).to_string())
    }
}

impl fmt::Display for GaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GaitError {}

impl From<crate::crypto::KeyError> for GaitError {
    fn from(e: crate::crypto::KeyError) -> Self {
        use crate::crypto::KeyError;
        let hint = match &e {
            KeyError::Permissions { path, .. } => format!("restrict the key file: chmod 600 {path}"),
            KeyError::Ambiguous => "pass either the key path flag or the key env flag, not both".to_string(),
            KeyError::NoPrivateKey => "pass --private-key FILE or --private-key-env VAR".to_string(),
            KeyError::NoPublicKey => "pass --public-key FILE or --public-key-env VAR".to_string(),
            // The reference answers a bad --key-mode with the default usage hint (cli-bad-key-mode).
            KeyError::Mode(_) => return GaitError::invalid(e.to_string()),
            _ => "key files hold one line of base64: 64 bytes (seed and public key) for a private key, 32 for a public key; `gait keys init` writes them".to_string(),
        };
        GaitError::invalid(e.to_string()).with_hint(hint)
    }
}

impl From<crate::fsx::FsError> for GaitError {
    fn from(e: crate::fsx::FsError) -> Self {
        match e {
            crate::fsx::FsError::TooLarge { .. } | crate::fsx::FsError::NotFound { .. } => {
                GaitError::invalid(e.to_string())
            }
            crate::fsx::FsError::LockTimeout { .. } => {
                GaitError::new(Category::StateContention, e.to_string())
                    .with_code("state_lock_timeout")
            }
            _ => GaitError::io(e.to_string()),
        }
    }
}

/// The error envelope as serialized on stdout (keys are sorted by the `--json` writer).
#[derive(Clone, Debug, Serialize)]
pub struct Envelope {
    pub ok: bool,
    pub error: String,
    pub error_code: String,
    pub error_category: &'static str,
    pub retryable: bool,
    pub hint: String,
    pub correlation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration: Option<serde_json::Value>,
}

impl Envelope {
    pub fn from_error(err: &GaitError, correlation_id: &str) -> Self {
        let category = if err.exit.is_some() && err.category == Category::InvalidInput {
            Category::for_exit(err.exit_code())
        } else {
            err.category
        };
        Envelope {
            ok: false,
            error: err.message.clone(),
            error_code: err.error_code(),
            error_category: category.as_str(),
            retryable: category.retryable(),
            hint: err.hint_text(),
            correlation_id: correlation_id.to_string(),
            migration: err.migration.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_invalid_input_envelope() {
        // cmd/gait/testdata/error_envelope_invalid_input.golden.json of the reference.
        let env = Envelope::from_error(
            &GaitError::invalid("missing required --policy"),
            "cid-golden-invalid",
        );
        assert_eq!(
            String::from_utf8(crate::gojson::to_line(&env).unwrap()).unwrap(),
            "{\"correlation_id\":\"cid-golden-invalid\",\"error\":\"missing required --policy\",\"error_category\":\"invalid_input\",\"error_code\":\"invalid_input\",\"hint\":\"check command usage and input schema\",\"ok\":false,\"retryable\":false}\n"
        );
    }

    #[test]
    fn exit_codes_follow_categories() {
        assert_eq!(GaitError::verification("x").exit_code(), 2);
        assert_eq!(GaitError::internal("x").exit_code(), 1);
        assert_eq!(GaitError::unsafe_refused("x").exit_code(), 8);
        assert_eq!(
            GaitError::unsafe_refused("x").error_code(),
            "unsafe_operation"
        );
        assert!(Category::StateContention.retryable());
        assert!(!Category::IoFailure.retryable());
    }
}
