//! Wrkr inventory enrichment (CONTRACTS §2.6): a local inventory of tools with their data class,
//! endpoint class and autonomy level. A listed tool's intent gets `auth_context["wrkr.*"]` set from
//! the inventory (replacing any values the intent claimed), so policies can match on them.

use crate::intent::Context;
use gait_engine::canon::{self, Node, ParseOptions};
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    pub tool_name: String,
    pub data_class: String,
    pub endpoint_class: String,
    pub autonomy_level: String,
}

/// Items by lowercased tool name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub items: BTreeMap<String, Item>,
}

/// Inventory files larger than this are refused.
pub const MAX_INVENTORY_BYTES: u64 = 16 * 1024 * 1024;

impl Inventory {
    /// Parses `{"items":[…]}` or a bare array of items.
    pub fn parse(bytes: &[u8]) -> Result<Inventory, String> {
        let parsed = canon::parse(bytes, ParseOptions::recorded_payload())
            .map_err(|e| format!("parse wrkr inventory: {e}"))?;
        let items = match &parsed.node {
            Node::Arr(items) => items,
            Node::Obj(_) => match parsed.node.get("items") {
                Some(Node::Arr(items)) => items,
                Some(Node::Null) | None => return Ok(Inventory::default()),
                Some(_) => {
                    return Err("parse wrkr inventory: items must be an array".into());
                }
            },
            _ => return Err("parse wrkr inventory: expected an object or an array".into()),
        };
        let mut out = Inventory::default();
        for item in items {
            let field = |k: &str| -> Result<String, String> {
                match item.get(k) {
                    None | Some(Node::Null) => Ok(String::new()),
                    Some(Node::Str(s)) => Ok(s.trim().to_string()),
                    Some(_) => Err(format!("parse wrkr inventory: {k} must be a string")),
                }
            };
            if !matches!(item, Node::Obj(_)) {
                return Err("parse wrkr inventory: items must be objects".into());
            }
            let it = Item {
                tool_name: crate::text::go_lower(&field("tool_name")?),
                data_class: crate::text::go_lower(&field("data_class")?),
                endpoint_class: crate::text::go_lower(&field("endpoint_class")?),
                autonomy_level: crate::text::go_lower(&field("autonomy_level")?),
            };
            if !it.tool_name.is_empty() {
                out.items.insert(it.tool_name.clone(), it);
            }
        }
        Ok(out)
    }

    /// The context enriched for `tool`, and whether the inventory listed the tool.
    pub fn enrich(&self, ctx: &Context, tool: &str) -> (Context, bool) {
        let Some(item) = self.items.get(tool) else {
            return (ctx.clone(), false);
        };
        let mut out = ctx.clone();
        let mut members = match out.auth_context.take() {
            Some(Node::Obj(m)) => m,
            _ => Vec::new(),
        };
        for (key, value) in [
            ("wrkr.tool_name", &item.tool_name),
            ("wrkr.data_class", &item.data_class),
            ("wrkr.endpoint_class", &item.endpoint_class),
            ("wrkr.autonomy_level", &item.autonomy_level),
        ] {
            if value.is_empty() {
                continue;
            }
            members.retain(|(k, _)| k != key);
            members.push((
                Cow::Owned(key.to_string()),
                Node::Str(Cow::Owned(value.clone())),
            ));
        }
        out.auth_context = Some(Node::Obj(members));
        (out, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_shapes_and_enriches_listed_tools() {
        let inv = Inventory::parse(br#"{"items":[{"tool_name":" Tool.Write ","data_class":"PII","autonomy_level":"Autonomous"}]}"#).unwrap();
        assert_eq!(
            inv,
            Inventory::parse(
                br#"[{"tool_name":"tool.write","data_class":"pii","autonomy_level":"autonomous"}]"#
            )
            .unwrap()
        );
        let intent = crate::intent::load(br#"{"tool_name":"tool.write","args":{},"context":{"identity":"a","workspace":"/w","risk_class":"low","auth_context":{"wrkr.data_class":"public","tenant":"t"}}}"#).unwrap();
        let (ctx, listed) = inv.enrich(&intent.context, "tool.write");
        assert!(listed);
        assert_eq!(ctx.auth_string("wrkr.data_class"), Some("pii"));
        assert_eq!(ctx.auth_string("wrkr.autonomy_level"), Some("autonomous"));
        assert_eq!(ctx.auth_string("tenant"), Some("t"));
        assert!(!inv.enrich(&intent.context, "tool.read").1);
    }

    #[test]
    fn malformed_inventories_are_errors() {
        assert!(Inventory::parse(br#"{"items":{}}"#).is_err());
        assert!(Inventory::parse(br#"{"items":[{"tool_name":1}]}"#).is_err());
        assert!(Inventory::parse(b"not json").is_err());
    }
}
