//! The approval step of `gate eval` (CONTRACTS §2.10): presented approval tokens against the
//! approvals the decision requires.
//!
//! Every token is validated on its own ([`validate`]); the valid ones count. The step grants when
//! there are at least `required` valid tokens and, when distinct approvers are required (implied by
//! `min_approvals > 1`), at least `required` distinct approvers among them. Otherwise the reasons are
//! each invalid token's code, `approval_chain_insufficient` when too few tokens are valid and
//! `approval_distinct_approvers_required` when too few approvers are distinct.

use crate::audit::ApprovalAuditEntry;
use crate::tokens::approval::{ApprovalExpectation, ApprovalToken, validate};
use gait_engine::crypto::PublicKey;

/// What the step concluded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApprovalOutcome {
    pub granted: bool,
    pub valid: i64,
    /// Codes to add to the decision's reasons (sorted).
    pub reason_codes: Vec<String>,
    /// `None` when no token was presented (the audit writes `null`).
    pub entries: Option<Vec<ApprovalAuditEntry>>,
    /// Approvers of the valid tokens, deduplicated and sorted.
    pub approvers: Vec<String>,
    /// The valid token ids, sorted, joined by `,`.
    pub approval_ref: String,
}

/// Checks `tokens` (in the order their paths sort) against the requirement.
pub fn check(
    tokens: &[ApprovalToken],
    key: Option<&PublicKey>,
    required: i64,
    distinct_required: bool,
    exp: &ApprovalExpectation<'_>,
) -> ApprovalOutcome {
    if tokens.is_empty() {
        return ApprovalOutcome {
            reason_codes: vec!["approval_token_missing".into()],
            ..ApprovalOutcome::default()
        };
    }
    let mut entries = Vec::with_capacity(tokens.len());
    let mut errors = Vec::new();
    let mut approvers = Vec::new();
    let mut ids = Vec::new();
    for token in tokens {
        let shown = token.normalized().unwrap_or_else(|_| token.clone());
        let mut entry = ApprovalAuditEntry {
            token_id: shown.token_id.trim().to_string(),
            approver_identity: shown.approver_identity.trim().to_string(),
            reason_code: shown.reason_code.trim().to_string(),
            scope: shown.scope.clone(),
            expires_at: shown.expires_at.utc(),
            valid: false,
            error_code: String::new(),
        };
        match validate(token, key, exp) {
            Ok(t) => {
                entry.valid = true;
                approvers.push(t.approver_identity.clone());
                ids.push(t.token_id.clone());
            }
            Err(code) => {
                entry.error_code = code.to_string();
                errors.push(code.to_string());
            }
        }
        entries.push(entry);
    }
    entries.sort_by(|a, b| {
        (
            &a.token_id,
            &a.approver_identity,
            &a.reason_code,
            a.expires_at,
            a.scope.join(","),
        )
            .cmp(&(
                &b.token_id,
                &b.approver_identity,
                &b.reason_code,
                b.expires_at,
                b.scope.join(","),
            ))
    });
    let valid = ids.len() as i64;
    crate::text::sort_dedup(&mut approvers);
    ids.sort();
    let enough = valid >= required;
    let distinct_ok = !(distinct_required && required > 1 && (approvers.len() as i64) < required);
    let granted = enough && distinct_ok;
    let mut reason_codes = Vec::new();
    if granted {
        reason_codes.push("approval_granted".to_string());
    } else {
        reason_codes.extend(errors);
        if !enough {
            reason_codes.push("approval_chain_insufficient".into());
        }
        if !distinct_ok {
            reason_codes.push("approval_distinct_approvers_required".into());
        }
        crate::text::sort_dedup(&mut reason_codes);
    }
    ApprovalOutcome {
        granted,
        valid,
        reason_codes,
        entries: Some(entries),
        approvers,
        approval_ref: ids.join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::approval::{MintApproval, mint};
    use gait_engine::GoTime;
    use gait_engine::crypto::PrivateKey;

    fn now() -> GoTime {
        GoTime::parse("2030-01-01T00:00:00Z").unwrap()
    }

    fn token(key: &PrivateKey, approver: &str, scope: &str) -> ApprovalToken {
        mint(
            &MintApproval {
                intent_digest: &"a".repeat(64),
                policy_digest: &"b".repeat(64),
                approver,
                reason_code: "chg",
                scope: &[scope.to_string()],
                ttl_nanos: 3_600_000_000_000,
                now: now(),
                ..MintApproval::default()
            },
            key,
        )
        .unwrap()
    }

    fn run(tokens: &[ApprovalToken], required: i64, distinct: bool) -> ApprovalOutcome {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let scope = ["tool:tool.write".to_string()];
        let key = PrivateKey::from_seed(&[2; 32]).public();
        check(
            tokens,
            Some(&key),
            required,
            distinct,
            &ApprovalExpectation {
                intent_digest: &a,
                policy_digest: &b,
                required_scope: &scope,
                target_count: 1,
                operation_count: 1,
                now: now(),
                ..ApprovalExpectation::default()
            },
        )
    }

    #[test]
    fn counts_valid_tokens_and_distinct_approvers() {
        // tokens.jsonl gate-approval-two-same-approver / -two-distinct / -one-of-two.
        let key = PrivateKey::from_seed(&[2; 32]);
        let alice = token(&key, "alice", "tool:tool.write");
        let alice2 = token(&key, "alice", "*");
        let bob = token(&key, "bob", "tool:tool.write");
        let same = run(&[alice.clone(), alice2], 2, true);
        assert!(!same.granted);
        assert_eq!(same.valid, 2);
        assert_eq!(same.reason_codes, ["approval_distinct_approvers_required"]);
        assert_eq!(same.approvers, ["alice"]);
        let two = run(&[bob.clone(), alice.clone()], 2, true);
        assert!(two.granted);
        assert_eq!(two.reason_codes, ["approval_granted"]);
        assert_eq!(two.approvers, ["alice", "bob"]);
        let mut ids = [alice.token_id.clone(), bob.token_id.clone()];
        ids.sort();
        assert_eq!(two.approval_ref, ids.join(","));
        let one = run(std::slice::from_ref(&alice), 2, true);
        assert_eq!(
            one.reason_codes,
            [
                "approval_chain_insufficient",
                "approval_distinct_approvers_required"
            ]
        );
    }

    #[test]
    fn invalid_tokens_contribute_their_codes_and_entries() {
        let key = PrivateKey::from_seed(&[2; 32]);
        let wrong_scope = token(&key, "alice", "tool:tool.read");
        let out = run(&[wrong_scope], 1, false);
        assert!(!out.granted);
        assert_eq!(
            out.reason_codes,
            [
                "approval_chain_insufficient",
                "approval_token_scope_mismatch"
            ]
        );
        let entries = out.entries.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].error_code, "approval_token_scope_mismatch");
        assert!(!entries[0].valid);
        let none = run(&[], 1, false);
        assert_eq!(none.reason_codes, ["approval_token_missing"]);
        assert!(none.entries.is_none());
    }
}
