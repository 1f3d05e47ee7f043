//! Preparing a normalized intent for evaluation (CONTRACTS §2.4 step 1).
//!
//! An intent may *claim* context evidence (`context_set_digest`, `context_evidence_mode`,
//! `context_refs`, `auth_context.context_age_seconds`), but only a verified context envelope may
//! supply it: without one the claims are stripped; with one they must agree with it and are then
//! set from it. Wrkr enrichment adds `auth_context["wrkr.*"]`. The prepared intent's digest is what
//! `gate eval` reports and signs; `policy test` reports the raw digest but evaluates the prepared
//! intent too.

use crate::envelope::ContextEnvelope;
use crate::intent::Intent;
use crate::wrkr::Inventory;
use gait_engine::canon::{Node, Number};
use gait_engine::{GaitError, GoTime};
use std::borrow::Cow;

/// What preparation did, for the output's `context_*` fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// `context_envelope` when an envelope supplied the evidence, the inventory path when Wrkr
    /// enriched the intent (both joined by `,` when both did).
    pub context_source: String,
    pub context_ref_count: usize,
}

fn remove_auth_key(intent: &mut Intent, key: &str) {
    if let Some(Node::Obj(members)) = &mut intent.context.auth_context {
        members.retain(|(k, _)| k != key);
        if members.is_empty() {
            intent.context.auth_context = None;
        }
    }
}

/// Strips unverified context-evidence claims.
pub fn strip_context_claims(intent: &mut Intent) {
    intent.context.context_set_digest.clear();
    intent.context.context_evidence_mode.clear();
    intent.context.context_refs.clear();
    remove_auth_key(intent, "context_age_seconds");
}

/// Binds a verified envelope: claims must match it, then its values replace them.
pub fn bind_envelope(
    intent: &mut Intent,
    envelope: &ContextEnvelope,
    now: GoTime,
) -> Result<(), GaitError> {
    let ctx = &intent.context;
    if !ctx.context_set_digest.is_empty() && ctx.context_set_digest != envelope.context_set_digest {
        return Err(GaitError::invalid(
            "normalize intent: context envelope digest does not match context.context_set_digest",
        ));
    }
    if !ctx.context_evidence_mode.is_empty() && ctx.context_evidence_mode != envelope.evidence_mode
    {
        return Err(GaitError::invalid(
            "normalize intent: context envelope evidence mode does not match context.context_evidence_mode",
        ));
    }
    intent.context.context_set_digest = envelope.context_set_digest.clone();
    intent.context.context_evidence_mode = envelope.evidence_mode.clone();
    intent.context.context_refs = envelope.ref_ids();
    let age = envelope.max_age_seconds(now);
    remove_auth_key(intent, "context_age_seconds");
    let mut members = match intent.context.auth_context.take() {
        Some(Node::Obj(m)) => m,
        _ => Vec::new(),
    };
    members.push((
        Cow::Borrowed("context_age_seconds"),
        Node::Num(Number {
            value: age as f64,
            raw: "",
        }),
    ));
    intent.context.auth_context = Some(Node::Obj(members));
    Ok(())
}

/// Enriches the intent from a Wrkr inventory; returns true when the tool was listed.
pub fn enrich(intent: &mut Intent, inventory: &Inventory) -> bool {
    let (ctx, listed) = inventory.enrich(&intent.context, &intent.tool_name);
    if listed {
        intent.context = ctx;
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(ctx_extra: &str) -> Intent {
        crate::intent::load(format!(r#"{{"tool_name":"t","args":{{}},"context":{{"identity":"a","workspace":"/w","risk_class":"low"{ctx_extra}}}}}"#).as_bytes()).unwrap()
    }

    #[test]
    fn claims_are_stripped_without_an_envelope() {
        let digest = "a".repeat(64);
        let mut i = intent(&format!(
            r#","context_set_digest":"{digest}","context_evidence_mode":"required","context_refs":["r"],"auth_context":{{"context_age_seconds":1}}"#
        ));
        strip_context_claims(&mut i);
        assert!(i.context.context_set_digest.is_empty() && i.context.context_refs.is_empty());
        assert!(
            i.context.auth_context.is_none(),
            "an emptied auth_context disappears"
        );
        assert_eq!(i.digest(), intent("").digest());
    }

    #[test]
    fn envelope_binds_and_must_agree_with_claims() {
        let env = ContextEnvelope::parse(br#"{"evidence_mode":"required","records":[{"ref_id":"r1","query_digest":"1111111111111111111111111111111111111111111111111111111111111111","content_digest":"2222222222222222222222222222222222222222222222222222222222222222","retrieved_at":"2031-01-01T00:00:00Z"}]}"#).unwrap();
        let now = GoTime::parse("2031-01-01T00:10:00Z").unwrap();
        let mut i = intent("");
        bind_envelope(&mut i, &env, now).unwrap();
        assert_eq!(i.context.context_set_digest, env.context_set_digest);
        assert_eq!(i.context.context_refs, ["r1"]);
        assert_eq!(i.context.auth_number("context_age_seconds"), Some(600.0));
        let mut wrong = intent(&format!(r#","context_set_digest":"{}""#, "b".repeat(64)));
        assert!(
            bind_envelope(&mut wrong, &env, now)
                .unwrap_err()
                .message
                .contains("digest does not match")
        );
        let mut mode = intent(r#","context_evidence_mode":"best_effort""#);
        assert!(
            bind_envelope(&mut mode, &env, now)
                .unwrap_err()
                .message
                .contains("evidence mode")
        );
    }
}
