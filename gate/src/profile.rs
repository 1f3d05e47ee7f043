//! Gate profiles: `standard` (default) and `oss-prod`, the production profile that refuses what is
//! unsafe in production (CONTRACTS §2.4): simulation, ephemeral keys, default-allow policies,
//! unbrokered high-risk rules, implicit verify keys; it also makes unreadable side inputs
//! (kill switch, Wrkr inventory) fail closed.

use crate::policy::{Policy, Verdict};
use gait_engine::GaitError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    #[default]
    Standard,
    OssProd,
}

impl Profile {
    pub fn parse(s: &str) -> Result<Profile, GaitError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "standard" => Ok(Profile::Standard),
            "oss-prod" => Ok(Profile::OssProd),
            _ => Err(GaitError::invalid(format!(
                "unsupported --profile value {} (expected standard or oss-prod)",
                gait_engine::canon::go_quote(s)
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::OssProd => "oss-prod",
        }
    }
}

/// The request facts the oss-prod profile checks before any policy is read.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestFacts {
    pub simulate: bool,
    pub prod_key_mode: bool,
    pub private_key_configured: bool,
    pub broker_configured: bool,
    pub approval_key_explicit: bool,
    pub delegation_key_explicit: bool,
}

fn refuse(msg: &str) -> GaitError {
    // The reference's envelope carries the default invalid-input hint here; the message says what to do.
    GaitError::invalid(msg)
}

/// Checks that need only the flags.
pub fn check_request(profile: Profile, f: &RequestFacts) -> Result<(), GaitError> {
    if profile != Profile::OssProd {
        return Ok(());
    }
    if f.simulate {
        return Err(refuse("oss-prod profile does not allow --simulate"));
    }
    if !f.prod_key_mode {
        return Err(refuse("oss-prod profile requires --key-mode prod"));
    }
    if !f.private_key_configured {
        return Err(refuse(
            "oss-prod profile requires --private-key or --private-key-env",
        ));
    }
    Ok(())
}

fn high_risk(rule: &crate::policy::Rule) -> bool {
    rule.matcher
        .risk_classes
        .iter()
        .any(|c| c == "high" || c == "critical")
}

/// Checks that need the policy.
pub fn check_policy(profile: Profile, policy: &Policy, f: &RequestFacts) -> Result<(), GaitError> {
    if profile != Profile::OssProd {
        return Ok(());
    }
    if policy.default_verdict == Verdict::Allow {
        return Err(refuse(
            "oss-prod profile rejects policy default_verdict=allow; use default_verdict: block or require_approval",
        ));
    }
    let risky: Vec<&crate::policy::Rule> = policy
        .rules
        .iter()
        .filter(|r| high_risk(r) && r.effect != Verdict::Block)
        .collect();
    if risky.iter().any(|r| !r.require_broker_credential) {
        return Err(refuse(
            "oss-prod profile requires high-risk allow/approval rules to set require_broker_credential: true",
        ));
    }
    if !risky.is_empty() && !f.broker_configured {
        return Err(refuse(
            "oss-prod profile requires --credential-broker for high-risk policies",
        ));
    }
    let approvals_possible = policy.default_verdict == Verdict::RequireApproval
        || policy
            .rules
            .iter()
            .any(|r| r.effect == Verdict::RequireApproval || r.min_approvals > 0);
    if approvals_possible && !f.approval_key_explicit {
        return Err(refuse(
            "oss-prod profile requires explicit approval verify key (--approval-public-key/--approval-public-key-env or approval private key source)",
        ));
    }
    if policy.rules.iter().any(|r| r.matcher.require_delegation) && !f.delegation_key_explicit {
        return Err(refuse(
            "oss-prod profile requires explicit delegation verify key (--delegation-public-key/--delegation-public-key-env or private key source)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RequestFacts {
        RequestFacts {
            prod_key_mode: true,
            private_key_configured: true,
            broker_configured: true,
            approval_key_explicit: true,
            delegation_key_explicit: true,
            simulate: false,
        }
    }

    fn policy(src: &str) -> Policy {
        crate::policy::load(src.as_bytes()).unwrap().policy
    }

    #[test]
    fn standard_allows_everything_oss_prod_refuses_in_order() {
        assert!(check_request(Profile::Standard, &RequestFacts::default()).is_ok());
        let e = check_request(
            Profile::OssProd,
            &RequestFacts {
                simulate: true,
                ..facts()
            },
        )
        .unwrap_err();
        assert!(e.message.contains("--simulate"));
        let e = check_request(
            Profile::OssProd,
            &RequestFacts {
                prod_key_mode: false,
                ..facts()
            },
        )
        .unwrap_err();
        assert!(e.message.contains("--key-mode prod"));
        assert!(check_request(Profile::OssProd, &facts()).is_ok());
    }

    #[test]
    fn oss_prod_policy_checks() {
        let p = policy("default_verdict: allow\n");
        assert!(
            check_policy(Profile::OssProd, &p, &facts())
                .unwrap_err()
                .message
                .contains("default_verdict=allow")
        );
        let p = policy(
            "default_verdict: block\nrules:\n  - name: hi\n    effect: allow\n    match: {risk_classes: [critical]}\n",
        );
        assert!(
            check_policy(Profile::OssProd, &p, &facts())
                .unwrap_err()
                .message
                .contains("require_broker_credential")
        );
        let p = policy(
            "default_verdict: block\nrules:\n  - name: hi\n    effect: block\n    match: {risk_classes: [critical]}\n",
        );
        assert!(
            check_policy(Profile::OssProd, &p, &facts()).is_ok(),
            "high-risk block rules need no broker"
        );
        let p = policy("default_verdict: require_approval\n");
        let f = RequestFacts {
            approval_key_explicit: false,
            ..facts()
        };
        assert!(
            check_policy(Profile::OssProd, &p, &f)
                .unwrap_err()
                .message
                .contains("approval verify key")
        );
        assert!(check_policy(Profile::Standard, &p, &f).is_ok());
    }

    #[test]
    fn profile_names() {
        assert_eq!(Profile::parse("OSS-PROD").unwrap(), Profile::OssProd);
        assert_eq!(Profile::parse("").unwrap(), Profile::Standard);
        assert!(Profile::parse("prod").is_err());
    }
}
