//! `NAME[@REQ]` parsing and semver resolution against an index.

use crate::codes;
use crate::index::{IndexEntry, RegistryIndex};
use crate::manifest::plugin_name_problem;
use gait_engine::GaitError;

/// A plugin the user asked for: a name and a semver requirement (`*` when none was given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    pub requirement: semver::VersionReq,
    /// The requirement as written (`*` when absent), kept in the pin for `update`.
    pub requirement_text: String,
}

/// Parses `NAME`, `NAME@REQ` (`REQ` is any semver requirement, e.g. `^1.2`, `=1.0.3`, `>=1, <2`).
/// A bare version (`NAME@1.2.3`) means that exact version.
pub fn parse_wanted(spec: &str) -> Result<Wanted, GaitError> {
    let spec = spec.trim();
    let (name, req) = match spec.split_once('@') {
        Some((n, r)) => (n.trim(), r.trim()),
        None => (spec, "*"),
    };
    if let Some(p) = plugin_name_problem(name) {
        return Err(GaitError::invalid(format!("plugin name {name:?} {p}"))
            .with_hint("write NAME or NAME@REQ, e.g. max-intents@^1.2"));
    }
    // A bare version is exact, as users expect from `name@1.2.3`; semver's default would be `^`.
    let req_text = if semver::Version::parse(req).is_ok() {
        format!("={req}")
    } else {
        req.to_string()
    };
    let requirement = semver::VersionReq::parse(&req_text).map_err(|e| {
        GaitError::invalid(format!(
            "version requirement {req:?} is not valid semver: {e}"
        ))
        .with_hint("use e.g. ^1.2, ~1.2.3, =1.0.0 or >=1.0, <2.0")
    })?;
    Ok(Wanted {
        name: name.to_string(),
        requirement,
        requirement_text: req_text,
    })
}

/// The highest version of `wanted.name` in `index` matching its requirement (pre-releases only when
/// the requirement names one, per semver).
pub fn resolve<'a>(
    index: &'a RegistryIndex,
    wanted: &Wanted,
) -> Result<(&'a IndexEntry, semver::Version), GaitError> {
    let mut all = candidates(index, wanted)?;
    Ok(all.swap_remove(0))
}

/// Every version of `wanted.name` in `index` matching its requirement, newest first (at least
/// one; otherwise `plugin_version_not_found` listing what the index has).
pub fn candidates<'a>(
    index: &'a RegistryIndex,
    wanted: &Wanted,
) -> Result<Vec<(&'a IndexEntry, semver::Version)>, GaitError> {
    let mut listed = Vec::new();
    let mut matching: Vec<(&IndexEntry, semver::Version)> = Vec::new();
    for e in index.entries.iter().filter(|e| e.name == wanted.name) {
        let Ok(v) = semver::Version::parse(&e.version) else {
            continue;
        };
        listed.push(e.version.clone());
        if wanted.requirement.matches(&v) {
            matching.push((e, v));
        }
    }
    if !matching.is_empty() {
        matching.sort_by(|a, b| b.1.cmp(&a.1));
        return Ok(matching);
    }
    Err(if listed.is_empty() {
        codes::invalid(
            codes::NO_MATCHING_VERSION,
            format!("the registry has no plugin named {}", wanted.name),
        )
    } else {
        codes::invalid(
            codes::NO_MATCHING_VERSION,
            format!(
                "no version of {} matches {} (available: {})",
                wanted.name,
                wanted.requirement_text,
                listed.join(", ")
            ),
        )
        .with_hint("widen the requirement or pick one of the available versions")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::sample;

    fn index_with(versions: &[&str]) -> RegistryIndex {
        let mut idx = sample();
        let proto = idx.entries[0].clone();
        idx.entries = versions
            .iter()
            .map(|v| IndexEntry {
                version: v.to_string(),
                ..proto.clone()
            })
            .collect();
        idx
    }

    fn pick(idx: &RegistryIndex, spec: &str) -> Result<String, GaitError> {
        let w = parse_wanted(spec)?;
        resolve(idx, &w).map(|(_, v)| v.to_string())
    }

    #[test]
    fn highest_matching_version() {
        let idx = index_with(&["1.0.0", "1.2.0", "1.10.1", "2.0.0", "2.1.0-beta.1"]);
        assert_eq!(pick(&idx, "max-intents").unwrap(), "2.0.0");
        assert_eq!(pick(&idx, "max-intents@^1").unwrap(), "1.10.1");
        assert_eq!(pick(&idx, "max-intents@~1.2").unwrap(), "1.2.0");
        assert_eq!(pick(&idx, "max-intents@1.0.0").unwrap(), "1.0.0");
        assert_eq!(pick(&idx, "max-intents@>=1.1, <1.5").unwrap(), "1.2.0");
        assert_eq!(
            pick(&idx, "max-intents@>=2.1.0-beta.1").unwrap(),
            "2.1.0-beta.1"
        );
        let all: Vec<String> = candidates(&idx, &parse_wanted("max-intents@^1").unwrap())
            .unwrap()
            .iter()
            .map(|(_, v)| v.to_string())
            .collect();
        assert_eq!(all, ["1.10.1", "1.2.0", "1.0.0"]);
        let e = pick(&idx, "max-intents@^3").unwrap_err();
        assert_eq!(e.error_code(), codes::NO_MATCHING_VERSION);
        assert!(e.message.contains("available: 1.0.0"), "{}", e.message);
        assert!(
            pick(&idx, "other")
                .unwrap_err()
                .message
                .contains("no plugin named other")
        );
    }

    #[test]
    fn bad_specs() {
        assert!(parse_wanted("Bad@1").is_err());
        assert!(parse_wanted("ok@not-a-req").is_err());
        assert!(parse_wanted("@1").is_err());
        assert!(
            parse_wanted("off")
                .unwrap_err()
                .message
                .contains("reserved")
        );
        assert_eq!(parse_wanted("ok").unwrap().requirement_text, "*");
        assert_eq!(parse_wanted("ok@1.2.3").unwrap().requirement_text, "=1.2.3");
    }
}
