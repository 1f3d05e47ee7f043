//! Every plugin gait knows: builtins (compiled in) and installed ones (pinned), as
//! `gait plugin list` shows them, and which one of a name is active.
//!
//! Builtins register through [`BuiltinPlugin`] descriptors (the plugin host, gait-host, lists every
//! area's: regress graders, credential brokers, policy packs, extensions). An installed plugin
//! replaces a builtin of the same name and kind only when its version is higher.

use crate::model::{PluginForm, PluginKind};
use crate::store::Pin;
use serde::Serialize;

/// A compiled-in plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinPlugin {
    pub name: &'static str,
    /// Semver.
    pub version: &'static str,
    pub kind: PluginKind,
    pub summary: &'static str,
}

/// One row of `gait plugin list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedPlugin {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub form: PluginForm,
    /// `builtin`, or the registry the plugin was installed from.
    pub origin: String,
    /// `sha256:<manifest digest>` for installed plugins.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pin: String,
    /// Commands the plugin contributes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// False when another plugin of the same name takes precedence.
    pub active: bool,
    /// Whether the plugin would load now. Builtins are compiled in and always do; an installed
    /// plugin is verified for the listing exactly as at load (pin, signature by a key trusted now,
    /// API, platform, every file's sha256). An active plugin that does not verify is refused when a
    /// command needs it — the builtin of its name does not step in.
    pub verified: bool,
    /// Why an installed plugin does not verify: its refusal's code and message.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// True when the installed version is a higher semver than the builtin's.
pub fn newer(installed: &str, builtin: &str) -> bool {
    match (
        semver::Version::parse(installed),
        semver::Version::parse(builtin),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => false,
    }
}

/// Builtins and installed plugins, sorted by name (builtin first within a name). `verify` checks an
/// installed plugin as its loader would (`None`: it verifies).
pub fn list(
    builtins: &[BuiltinPlugin],
    pins: &[Pin],
    verify: &dyn Fn(&Pin) -> Option<gait_engine::GaitError>,
) -> Vec<ListedPlugin> {
    let mut out = Vec::new();
    for b in builtins {
        let replaced = pins
            .iter()
            .any(|p| p.name == b.name && p.kind == b.kind && newer(&p.version, b.version));
        out.push(ListedPlugin {
            name: b.name.to_string(),
            version: b.version.to_string(),
            kind: b.kind,
            form: PluginForm::Builtin,
            origin: "builtin".into(),
            pin: String::new(),
            commands: Vec::new(),
            summary: b.summary.to_string(),
            active: !replaced,
            verified: true,
            error_code: String::new(),
            error: String::new(),
        });
    }
    for p in pins {
        let shadowed = builtins
            .iter()
            .any(|b| b.name == p.name && b.kind == p.kind && !newer(&p.version, b.version));
        let refusal = verify(p);
        out.push(ListedPlugin {
            name: p.name.clone(),
            version: p.version.clone(),
            kind: p.kind,
            form: p.form,
            origin: p.registry.clone(),
            pin: format!("sha256:{}", p.manifest_digest),
            commands: p.commands.iter().map(|c| c.words.clone()).collect(),
            summary: String::new(),
            active: !shadowed,
            verified: refusal.is_none(),
            error_code: refusal.as_ref().map(|e| e.error_code()).unwrap_or_default(),
            error: refusal.map(|e| e.message).unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| (a.form != PluginForm::Builtin).cmp(&(b.form != PluginForm::Builtin)))
    });
    out
}

/// The installed plugin (if any) that contributes the command spelled by the leading `args`,
/// with the number of words it used. The longest declared match wins; builtin commands are matched
/// by the CLI before this is asked.
pub fn find_command<'a>(pins: &'a [Pin], args: &[String]) -> Option<(&'a Pin, String, usize)> {
    let mut best: Option<(&Pin, String, usize)> = None;
    for p in pins {
        for c in &p.commands {
            let words: Vec<&str> = c.words.split(' ').collect();
            if args.len() >= words.len()
                && words.iter().zip(args).all(|(w, a)| w == a)
                && best.as_ref().is_none_or(|(_, _, n)| words.len() > *n)
            {
                best = Some((p, c.words.clone(), words.len()));
            }
        }
    }
    best
}

/// A command an installed plugin contributes, with the plugin it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContributedCommand {
    pub words: String,
    pub summary: String,
    pub plugin: String,
    pub version: String,
}

/// Every command installed plugins contribute, sorted by words.
pub fn contributed_commands(pins: &[Pin]) -> Vec<ContributedCommand> {
    let mut out: Vec<ContributedCommand> = pins
        .iter()
        .flat_map(|p| {
            p.commands.iter().map(|c| ContributedCommand {
                words: c.words.clone(),
                summary: c.summary.clone(),
                plugin: p.name.clone(),
                version: p.version.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.words.cmp(&b.words));
    out
}

/// When no contributed command matches `args` exactly, the longest run of leading words that
/// starts contributed commands (`gait example-native` for `example-native hello`): the group's
/// words, how many arguments they used, and its commands. `None` when the words start none.
pub fn find_group(
    pins: &[Pin],
    args: &[String],
) -> Option<(String, usize, Vec<ContributedCommand>)> {
    let words: Vec<&str> = args
        .iter()
        .take_while(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let all = contributed_commands(pins);
    (1..=words.len()).rev().find_map(|k| {
        let group = words[..k].join(" ");
        let lead = format!("{group} ");
        let members: Vec<ContributedCommand> = all
            .iter()
            .filter(|c| c.words.starts_with(&lead))
            .cloned()
            .collect();
        (!members.is_empty()).then_some((group, k, members))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::CommandDecl;
    use gait_engine::GoTime;

    fn pin(name: &str, version: &str) -> Pin {
        Pin {
            schema_id: crate::store::PIN_SCHEMA_ID.into(),
            schema_version: "1.0.0".into(),
            name: name.into(),
            version: version.into(),
            kind: PluginKind::Grader,
            form: PluginForm::Rhai,
            registry: "./reg".into(),
            requirement: "*".into(),
            manifest_digest: "ab".repeat(32),
            key_ids: vec![],
            dir: String::new(),
            commands: vec![],
            installed_at: GoTime::zero(),
        }
    }

    const B: BuiltinPlugin = BuiltinPlugin {
        name: "trajectory",
        version: "1.0.0",
        kind: PluginKind::Grader,
        summary: "tool and verdict sequences",
    };

    fn verifies(_: &Pin) -> Option<gait_engine::GaitError> {
        None
    }

    #[test]
    fn newer_installed_replaces_builtin() {
        let rows = list(
            &[B],
            &[pin("trajectory", "1.1.0"), pin("aaa", "0.1.0")],
            &verifies,
        );
        let names: Vec<(&str, bool)> = rows.iter().map(|r| (r.name.as_str(), r.active)).collect();
        assert_eq!(
            names,
            [("aaa", true), ("trajectory", false), ("trajectory", true)]
        );
        assert_eq!(rows[1].form, PluginForm::Builtin);
        assert_eq!(rows[2].pin, format!("sha256:{}", "ab".repeat(32)));
        // An older or equal installed version does not.
        let rows = list(&[B], &[pin("trajectory", "1.0.0")], &verifies);
        assert!(rows[0].active && !rows[1].active);
        assert!(rows.iter().all(|r| r.verified && r.error_code.is_empty()));
    }

    #[test]
    fn a_refused_plugin_stays_active_and_says_why() {
        let refuse = |p: &Pin| {
            Some(crate::codes::refuse(
                crate::codes::FILE_MODIFIED,
                format!("installed plugin {}@{}: file changed", p.name, p.version),
            ))
        };
        let rows = list(&[B], &[pin("trajectory", "1.1.0")], &refuse);
        // The builtin stays replaced: a refused installed plugin fails closed at load.
        assert_eq!(
            rows.iter()
                .map(|r| (r.form, r.active, r.verified))
                .collect::<Vec<_>>(),
            [
                (PluginForm::Builtin, false, true),
                (PluginForm::Rhai, true, false)
            ]
        );
        assert_eq!(rows[1].error_code, crate::codes::FILE_MODIFIED);
        assert!(rows[1].error.contains("file changed"));
    }

    #[test]
    fn finds_the_longest_command() {
        let mut a = pin("a", "1.0.0");
        a.commands = vec![
            CommandDecl {
                words: "ex".into(),
                summary: String::new(),
            },
            CommandDecl {
                words: "ex hello".into(),
                summary: String::new(),
            },
        ];
        let pins = vec![a];
        let args: Vec<String> = ["ex", "hello", "--json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (p, words, n) = find_command(&pins, &args).unwrap();
        assert_eq!((p.name.as_str(), words.as_str(), n), ("a", "ex hello", 2));
        assert!(find_command(&pins, &["nope".to_string()]).is_none());
    }

    #[test]
    fn groups_are_word_prefixes_of_contributed_commands() {
        let mut a = pin("a", "1.0.0");
        a.commands = vec![
            CommandDecl {
                words: "ex tools hello".into(),
                summary: "hi".into(),
            },
            CommandDecl {
                words: "ex bye".into(),
                summary: String::new(),
            },
        ];
        let pins = vec![a];
        let args = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let (group, n, members) = find_group(&pins, &args(&["ex", "--json"])).unwrap();
        assert_eq!((group.as_str(), n), ("ex", 1));
        assert_eq!(
            members.iter().map(|c| c.words.as_str()).collect::<Vec<_>>(),
            ["ex bye", "ex tools hello"]
        );
        let (group, n, members) = find_group(&pins, &args(&["ex", "tools", "nope"])).unwrap();
        assert_eq!((group.as_str(), n, members.len()), ("ex tools", 2, 1));
        assert_eq!(members[0].plugin, "a");
        // A full command is not a group of itself; unrelated words are no group.
        assert!(find_group(&pins, &args(&["ex", "bye"])).is_some_and(|(g, _, _)| g == "ex"));
        assert!(find_group(&pins, &args(&["other"])).is_none());
        assert!(find_group(&pins, &args(&["--help"])).is_none());
    }
}
