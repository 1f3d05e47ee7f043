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
