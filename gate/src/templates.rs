//! Baseline policy templates for `gait policy init` (built into the binary). The canonical files live
//! in `examples/policy/`, where each has fixture intents whose verdicts the tests check.

/// `(canonical name, YAML)`.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "baseline-lowrisk",
        include_str!("../../examples/policy/baseline-lowrisk.yaml"),
    ),
    (
        "baseline-mediumrisk",
        include_str!("../../examples/policy/baseline-mediumrisk.yaml"),
    ),
    (
        "baseline-highrisk",
        include_str!("../../examples/policy/baseline-highrisk.yaml"),
    ),
];

/// Resolves a template name or alias (`baseline_low_risk`, `low`, `lowrisk`, `baseline-low-risk`,
/// ...; case-insensitive) to its canonical name and text.
pub fn find(name: &str) -> Option<(&'static str, &'static str)> {
    let key: String = name
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let level = key
        .strip_prefix("baseline")
        .unwrap_or(&key)
        .trim_end_matches("risk");
    let canonical = match level {
        "low" => "baseline-lowrisk",
        "medium" | "med" => "baseline-mediumrisk",
        "high" => "baseline-highrisk",
        _ => return None,
    };
    TEMPLATES.iter().find(|(n, _)| *n == canonical).copied()
}

/// The names `policy init` accepts, for messages.
pub fn names() -> Vec<&'static str> {
    TEMPLATES.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve() {
        for alias in [
            "baseline-lowrisk",
            "baseline_low_risk",
            "low",
            "LowRisk",
            "baseline-low-risk",
        ] {
            assert_eq!(find(alias).unwrap().0, "baseline-lowrisk", "{alias}");
        }
        assert_eq!(find("high").unwrap().0, "baseline-highrisk");
        assert_eq!(
            find("baseline_medium_risk").unwrap().0,
            "baseline-mediumrisk"
        );
        assert!(find("extreme").is_none());
        assert!(find("").is_none());
    }

    #[test]
    fn every_template_is_a_valid_policy() {
        for (name, text) in TEMPLATES {
            crate::policy::load(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
