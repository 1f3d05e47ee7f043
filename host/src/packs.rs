//! Policy-template packs: the builtin baseline templates, and installed data packs whose templates
//! are handed out exactly as signed and verified.

use crate::builtins::{BASELINE_PACK, BUILTIN_VERSION};
use crate::{PluginHost, Source};
use gait_engine::GaitError;
use gait_engine::plugin::{Pack, PluginError, PluginForm, PluginInfo, PluginKind, PolicyTemplate};
use gait_registry::codes;
use gait_registry::loader;
use gait_registry::store::Pin;

/// The builtin pack: `baseline-lowrisk`, `baseline-mediumrisk`, `baseline-highrisk`, selected by the
/// same names and aliases as `gait policy init TEMPLATE` (`low`, `baseline_low_risk`, …).
pub struct BaselinePack {
    info: PluginInfo,
}

impl Default for BaselinePack {
    fn default() -> Self {
        BaselinePack {
            info: PluginInfo {
                name: BASELINE_PACK.to_string(),
                version: semver::Version::parse(BUILTIN_VERSION)
                    .unwrap_or(semver::Version::new(1, 0, 0)),
                kind: PluginKind::Pack,
                form: PluginForm::Builtin,
            },
        }
    }
}

fn baseline(name: &str, yaml: &str) -> PolicyTemplate {
    let level = name
        .trim_start_matches("baseline-")
        .trim_end_matches("risk");
    PolicyTemplate {
        name: name.to_string(),
        aliases: vec![level.to_string(), format!("{level}risk")],
        description: format!("baseline {level}-risk policy"),
        yaml: yaml.to_string(),
    }
}

impl Pack for BaselinePack {
    fn info(&self) -> &PluginInfo {
        &self.info
    }

    fn policy_templates(&self) -> Result<Vec<PolicyTemplate>, PluginError> {
        Ok(gait_gate::templates::TEMPLATES
            .iter()
            .map(|(name, yaml)| baseline(name, yaml))
            .collect())
    }

    fn find(&self, wanted: &str) -> Result<Option<PolicyTemplate>, PluginError> {
        Ok(gait_gate::templates::find(wanted).map(|(name, yaml)| baseline(name, yaml)))
    }
}

/// An installed pack, verified when it was loaded (pin, signature by a key trusted now, every
/// file's sha256); its templates are the verified text.
pub struct InstalledPack {
    info: PluginInfo,
    templates: Vec<PolicyTemplate>,
    pub manifest_digest: String,
}

impl InstalledPack {
    pub fn load(host: &PluginHost, pin: &Pin) -> Result<InstalledPack, GaitError> {
        let templates = loader::load_pack_templates(host.home(), &pin.name)?;
        let version = semver::Version::parse(&pin.version).map_err(|e| {
            codes::invalid(
                codes::MANIFEST_INVALID,
                format!("plugin {}: version is not semver: {e}", pin.name),
            )
        })?;
        Ok(InstalledPack {
            info: PluginInfo {
                name: pin.name.clone(),
                version,
                kind: PluginKind::Pack,
                form: pin.form,
            },
            templates: templates
                .into_iter()
                .map(|t| PolicyTemplate {
                    name: t.name,
                    aliases: t.aliases,
                    description: t.description,
                    yaml: t.yaml,
                })
                .collect(),
            manifest_digest: pin.manifest_digest.clone(),
        })
    }
}

impl Pack for InstalledPack {
    fn info(&self) -> &PluginInfo {
        &self.info
    }

    fn policy_templates(&self) -> Result<Vec<PolicyTemplate>, PluginError> {
        Ok(self.templates.clone())
    }
}

impl PluginHost {
    /// The pack `name`: the builtin baseline pack, or an installed (verified) one.
    pub fn pack(&self, name: &str) -> Result<Box<dyn Pack>, GaitError> {
        match self.resolve(name, PluginKind::Pack)? {
            Some(Source::Builtin(_)) => Ok(Box::new(BaselinePack::default())),
            Some(Source::Installed(pin)) => Ok(Box::new(InstalledPack::load(self, &pin)?)),
            None => Err(codes::invalid(
                codes::NOT_INSTALLED,
                format!("pack {name} is not installed"),
            )
            .with_hint(format!(
                "install it with `gait plugin install {name} --registry DIR|URL`; the builtin pack is `{BASELINE_PACK}`"
            ))),
        }
    }
}
