//! The delegation step of `gate eval` (CONTRACTS §2.10): presented delegation tokens against the
//! intent's delegation chain.
//!
//! Each link of the chain (or, without a chain, one link "someone delegated to the requester") must
//! be satisfied by its own token. Links are taken in chain order; for each, the unused tokens are
//! tried in the order their paths sort and the first valid one is used. A token that fails keeps the
//! code of its first failure (tokens.jsonl `gate-delegation-scope-mismatch`, `-intent-bound`). The
//! chain is granted when every link is satisfied; otherwise each unsatisfied link reports
//! `delegation_token_missing`, each failed token its code, and the chain
//! `delegation_chain_insufficient`.

use crate::audit::DelegationAuditEntry;
use crate::intent::Intent;
use crate::tokens::delegation::{DelegationExpectation, DelegationToken, validate};
use gait_engine::GoTime;
use gait_engine::crypto::PublicKey;

/// One link a token must cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// Empty for the synthetic link of an intent without a chain (any delegator).
    pub delegator: String,
    pub delegate: String,
    pub scope_class: String,
    pub token_ref: String,
}

/// The links of an intent's delegation: its chain, or one synthetic link to the requester.
pub fn links(intent: &Intent) -> Vec<Link> {
    match &intent.delegation {
        Some(d) if !d.chain.is_empty() => d
            .chain
            .iter()
            .map(|l| Link {
                delegator: l.delegator_identity.clone(),
                delegate: l.delegate_identity.clone(),
                scope_class: l.scope_class.clone(),
                token_ref: l.token_ref.clone(),
            })
            .collect(),
        Some(d) => vec![Link {
            delegator: String::new(),
            delegate: d.requester_identity.clone(),
            scope_class: d.scope_class.clone(),
            token_ref: String::new(),
        }],
        None => vec![Link {
            delegate: intent.context.identity.clone(),
            ..Link::default()
        }],
    }
}

/// What the step concluded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DelegationOutcome {
    pub granted: bool,
    /// Links satisfied.
    pub valid: i64,
    /// Codes to add to the decision's reasons (sorted).
    pub reason_codes: Vec<String>,
    /// Sorted by delegator, delegate, token id.
    pub entries: Vec<DelegationAuditEntry>,
    /// The ids of the tokens that satisfied links, sorted, joined by `,` (set when granted).
    pub delegation_ref: String,
}

/// What the tokens must match besides the links.
#[derive(Clone, Debug, Default)]
pub struct DelegationContext<'a> {
    /// The deciding rules' `delegation_scopes`; when empty, each link's scope class is required.
    pub required_scopes: &'a [String],
    pub intent_digest: &'a str,
    pub policy_digest: &'a str,
    pub now: GoTime,
}

/// Checks `tokens` (in the order their paths sort) against `links`.
pub fn check(
    tokens: &[DelegationToken],
    key: Option<&PublicKey>,
    links: &[Link],
    ctx: &DelegationContext<'_>,
) -> DelegationOutcome {
    if tokens.is_empty() {
        return DelegationOutcome {
            reason_codes: vec!["delegation_token_missing".into()],
            ..DelegationOutcome::default()
        };
    }
    let mut used = vec![false; tokens.len()];
    let mut first_error: Vec<Option<&'static str>> = vec![None; tokens.len()];
    let mut entries = Vec::new();
    let mut reasons = Vec::new();
    let mut satisfied = 0i64;
    for link in links {
        let own_scope = [link.scope_class.clone()];
        let required: &[String] = if !ctx.required_scopes.is_empty() {
            ctx.required_scopes
        } else if !link.scope_class.is_empty() {
            &own_scope
        } else {
            &[]
        };
        let exp = DelegationExpectation {
            delegator: &link.delegator,
            delegate: &link.delegate,
            required_scopes: required,
            intent_digest: ctx.intent_digest,
            policy_digest: ctx.policy_digest,
            token_ref: &link.token_ref,
            now: ctx.now,
        };
        let mut found = false;
        for (i, token) in tokens.iter().enumerate() {
            if used[i] {
                continue;
            }
            match validate(token, key, &exp) {
                Ok(_) => {
                    used[i] = true;
                    found = true;
                    break;
                }
                Err(code) => {
                    first_error[i].get_or_insert(code);
                }
            }
        }
        if found {
            satisfied += 1;
        } else {
            reasons.push("delegation_token_missing".to_string());
            entries.push(DelegationAuditEntry {
                delegator_identity: link.delegator.clone(),
                delegate_identity: link.delegate.clone(),
                error_code: "delegation_token_missing".into(),
                ..DelegationAuditEntry::default()
            });
        }
    }
    let mut ids = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let shown = token.normalized().unwrap_or_else(|_| token.clone());
        let mut entry = DelegationAuditEntry {
            token_id: shown.token_id.trim().to_string(),
            delegator_identity: shown.delegator_identity.trim().to_string(),
            delegate_identity: shown.delegate_identity.trim().to_string(),
            scope: shown.scope.clone(),
            expires_at: shown.expires_at.utc(),
            valid: used[i],
            error_code: String::new(),
        };
        if used[i] {
            ids.push(entry.token_id.clone());
        } else if let Some(code) = first_error[i] {
            entry.error_code = code.to_string();
            reasons.push(code.to_string());
        }
        entries.push(entry);
    }
    entries.sort_by(|a, b| {
        (&a.delegator_identity, &a.delegate_identity, &a.token_id).cmp(&(
            &b.delegator_identity,
            &b.delegate_identity,
            &b.token_id,
        ))
    });
    ids.sort();
    let granted = satisfied as usize == links.len();
    let reason_codes = if granted {
        vec!["delegation_granted".to_string()]
    } else {
        reasons.push("delegation_chain_insufficient".into());
        crate::text::sort_dedup(&mut reasons);
        reasons
    };
    DelegationOutcome {
        granted,
        valid: satisfied,
        reason_codes,
        entries,
        delegation_ref: if granted {
            ids.join(",")
        } else {
            String::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::delegation::{MintDelegation, mint};
    use gait_engine::crypto::PrivateKey;

    fn now() -> GoTime {
        GoTime::parse("2030-01-01T00:00:00Z").unwrap()
    }

    fn key() -> PrivateKey {
        PrivateKey::from_seed(&[3; 32])
    }

    fn token(from: &str, to: &str, scope: &str, intent: &str) -> DelegationToken {
        mint(
            &MintDelegation {
                delegator: from,
                delegate: to,
                scope: &[scope.to_string()],
                scope_class: scope,
                intent_digest: intent,
                ttl_nanos: 3_600_000_000_000,
                now: now(),
                ..MintDelegation::default()
            },
            &key(),
        )
        .unwrap()
    }

    fn chain() -> Vec<Link> {
        [
            ("human.owner", "agent.lead"),
            ("agent.lead", "agent.worker"),
        ]
        .iter()
        .map(|(a, b)| Link {
            delegator: a.to_string(),
            delegate: b.to_string(),
            scope_class: "write".into(),
            token_ref: String::new(),
        })
        .collect()
    }

    fn run(tokens: &[DelegationToken], links: &[Link]) -> DelegationOutcome {
        let write = ["write".to_string()];
        let intent = "1".repeat(64);
        check(
            tokens,
            Some(&key().public()),
            links,
            &DelegationContext {
                required_scopes: &write,
                intent_digest: &intent,
                policy_digest: &"2".repeat(64),
                now: now(),
            },
        )
    }

    #[test]
    fn a_covered_chain_is_granted() {
        let t1 = token("human.owner", "agent.lead", "write", "");
        let t2 = token("agent.lead", "agent.worker", "write", "");
        // Token order does not matter: each link finds its own token.
        let out = run(&[t2.clone(), t1.clone()], &chain());
        assert!(out.granted);
        assert_eq!(out.valid, 2);
        assert_eq!(out.reason_codes, ["delegation_granted"]);
        let mut ids = [t1.token_id, t2.token_id];
        ids.sort();
        assert_eq!(out.delegation_ref, ids.join(","));
    }

    #[test]
    fn broken_links_report_like_the_reference() {
        // tokens.jsonl gate-delegation-scope-mismatch: both tokens scoped `read`.
        let t1 = token("human.owner", "agent.lead", "read", "");
        let t2 = token("agent.lead", "agent.worker", "read", "");
        let out = run(&[t1, t2], &chain());
        assert!(!out.granted);
        assert_eq!(out.valid, 0);
        assert_eq!(
            out.reason_codes,
            [
                "delegation_chain_insufficient",
                "delegation_token_delegator_mismatch",
                "delegation_token_missing",
                "delegation_token_scope_mismatch"
            ]
        );
        let codes: Vec<(&str, &str, &str)> = out
            .entries
            .iter()
            .map(|e| {
                (
                    e.delegator_identity.as_str(),
                    e.delegate_identity.as_str(),
                    e.error_code.as_str(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            [
                ("agent.lead", "agent.worker", "delegation_token_missing"),
                (
                    "agent.lead",
                    "agent.worker",
                    "delegation_token_delegator_mismatch"
                ),
                ("human.owner", "agent.lead", "delegation_token_missing"),
                (
                    "human.owner",
                    "agent.lead",
                    "delegation_token_scope_mismatch"
                ),
            ]
        );
        // tokens.jsonl gate-delegation-intent-bound: the second token is bound to another intent.
        let t1 = token("human.owner", "agent.lead", "write", &"1".repeat(64));
        let t2 = token("agent.lead", "agent.worker", "write", &"0".repeat(64));
        let out = run(&[t1, t2], &chain());
        assert_eq!(out.valid, 1);
        assert_eq!(
            out.reason_codes,
            [
                "delegation_chain_insufficient",
                "delegation_token_intent_mismatch",
                "delegation_token_missing"
            ]
        );
        assert!(out.delegation_ref.is_empty());
    }

    #[test]
    fn no_tokens_is_missing_without_entries() {
        let out = run(&[], &chain());
        assert_eq!(out.reason_codes, ["delegation_token_missing"]);
        assert!(out.entries.is_empty());
        assert!(!out.granted);
    }
}
