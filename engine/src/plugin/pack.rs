//! The `Pack` plugin seam: a versioned bundle of policy templates (`gait policy init --pack NAME
//! TEMPLATE`). The builtin baseline templates are one pack; installed data packs from a signed
//! registry are others.

use crate::plugin::{PluginError, PluginInfo};

/// A policy template a pack provides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyTemplate {
    /// The canonical name `policy init` reports.
    pub name: String,
    /// Other names that select it.
    pub aliases: Vec<String>,
    pub description: String,
    /// The policy YAML.
    pub yaml: String,
}

impl PolicyTemplate {
    /// True when `wanted` names this template: its name or an alias, compared case-insensitively
    /// on ASCII letters and digits only (`baseline_low_risk` matches `baseline-lowrisk`).
    pub fn answers_to(&self, wanted: &str) -> bool {
        let key = template_key(wanted);
        !key.is_empty()
            && std::iter::once(&self.name)
                .chain(&self.aliases)
                .any(|n| template_key(n) == key)
    }
}

/// The comparison key of a template name: lowercase ASCII letters and digits.
pub fn template_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A pack of policy templates.
pub trait Pack: Send + Sync {
    fn info(&self) -> &PluginInfo;
    /// Every template of the pack, in the pack's order. Installed packs hand out exactly the
    /// signed, verified text.
    fn policy_templates(&self) -> Result<Vec<PolicyTemplate>, PluginError>;

    /// The template `wanted` names (see [`PolicyTemplate::answers_to`]).
    fn find(&self, wanted: &str) -> Result<Option<PolicyTemplate>, PluginError> {
        Ok(self
            .policy_templates()?
            .into_iter()
            .find(|t| t.answers_to(wanted)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_answer_to_names_and_aliases() {
        let t = PolicyTemplate {
            name: "baseline-lowrisk".into(),
            aliases: vec!["low".into()],
            description: String::new(),
            yaml: String::new(),
        };
        for yes in ["baseline-lowrisk", "Baseline_LowRisk", "low", " LOW "] {
            assert!(t.answers_to(yes), "{yes}");
        }
        for no in ["", "-", "lowrisk", "baseline-highrisk"] {
            assert!(!t.answers_to(no), "{no}");
        }
    }
}
