//! The relationship envelope of traces and audit records (FIELDS §2.10): who called what, governed by
//! which policy, through which delegation chain — sorted so the bytes are deterministic.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ref {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub id: String,
}

impl Ref {
    pub fn new(kind: &str, id: &str) -> Self {
        Ref {
            kind: kind.into(),
            id: id.into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy_digest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_rule_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AgentLink {
    #[serde(default)]
    pub identity: String,
    #[serde(default)]
    pub role: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Edge {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub from: Ref,
    #[serde(default)]
    pub to: Ref,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage {
    #[serde(default)]
    pub agent_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delegated_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delegation_record_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ref: Option<Ref>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entity_refs: Vec<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_ref: Option<PolicyRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_chain: Vec<AgentLink>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<Edge>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent_record_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_record_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_entity_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_lineage: Vec<Lineage>,
}

impl Relationship {
    /// Sorts every list and derives `related_entity_ids` from the entity refs.
    pub fn finish(mut self) -> Option<Relationship> {
        self.entity_refs.sort();
        self.entity_refs.dedup();
        self.agent_chain.sort_by(|a, b| {
            a.role
                .cmp(&b.role)
                .then_with(|| a.identity.cmp(&b.identity))
        });
        self.agent_chain.dedup();
        self.edges.sort();
        self.edges.dedup();
        let mut ids: Vec<String> = self.entity_refs.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids.dedup();
        self.related_entity_ids = ids;
        if self == Relationship::default() {
            None
        } else {
            Some(self)
        }
    }
}
