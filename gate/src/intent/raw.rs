//! The intent request as written (`gait.gate.intent_request`, CONTRACTS §2.5), bound from a strictly
//! parsed JSON tree with Go `encoding/json` semantics and messages:
//!
//! - unknown keys are ignored; a key that differs from a known field only by case is an error
//!   (DEVIATIONS #7: Go would bind it case-insensitively);
//! - `null` leaves a field at its zero value;
//! - a value of the wrong JSON type is `json: cannot unmarshal number into Go struct field
//!   IntentRequest.tool_name of type string`; like Go, the first such error is kept and binding
//!   continues, while a malformed time aborts at once with Go's `parsing time …` message.

use gait_engine::GoTime;
use gait_engine::canon::Node;

/// Owned JSON value (args, auth_context, relationship): a canon node that outlives the input text.
pub type Value = Node<'static>;

#[derive(Clone, Debug, Default)]
pub struct IntentRequest {
    pub schema_id: String,
    pub schema_version: String,
    pub created_at: Option<GoTime>,
    pub producer_version: String,
    pub tool_name: String,
    pub args: Option<Value>,
    pub script: Option<Script>,
    pub targets: Vec<Target>,
    pub arg_provenance: Vec<ArgProvenance>,
    pub skill_provenance: Option<SkillProvenance>,
    pub delegation: Option<Delegation>,
    pub relationship: Option<Value>,
    pub context: Context,
}

#[derive(Clone, Debug, Default)]
pub struct Script {
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, Default)]
pub struct Step {
    pub tool_name: String,
    pub args: Option<Value>,
    pub targets: Vec<Target>,
    pub arg_provenance: Vec<ArgProvenance>,
}

#[derive(Clone, Debug, Default)]
pub struct Target {
    pub kind: String,
    pub value: String,
    pub operation: String,
    pub sensitivity: String,
    pub endpoint_class: String,
    pub endpoint_domain: String,
    pub destructive: bool,
    pub discovery_method: String,
    pub read_only_hint: bool,
    pub destructive_hint: bool,
    pub idempotent_hint: bool,
    pub open_world_hint: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ArgProvenance {
    pub arg_path: String,
    pub source: String,
    pub source_ref: String,
    pub integrity_digest: String,
}

#[derive(Clone, Debug, Default)]
pub struct SkillProvenance {
    pub skill_name: String,
    pub skill_version: String,
    pub source: String,
    pub publisher: String,
    pub digest: String,
    pub signature_key_id: String,
}

#[derive(Clone, Debug, Default)]
pub struct Delegation {
    pub requester_identity: String,
    pub scope_class: String,
    pub token_refs: Vec<String>,
    pub chain: Vec<DelegationLink>,
    pub issued_at: Option<GoTime>,
    pub expires_at: Option<GoTime>,
}

#[derive(Clone, Debug, Default)]
pub struct DelegationLink {
    pub delegator_identity: String,
    pub delegate_identity: String,
    pub scope_class: String,
    pub token_ref: String,
    pub issued_at: Option<GoTime>,
    pub expires_at: Option<GoTime>,
}

#[derive(Clone, Debug, Default)]
pub struct Context {
    pub identity: String,
    pub workspace: String,
    pub risk_class: String,
    pub phase: String,
    pub agent_id: String,
    pub agent_identity: Option<AgentIdentity>,
    pub run_id: String,
    pub workflow_id: String,
    pub repo: String,
    pub environment: String,
    pub job_id: String,
    pub session_id: String,
    pub request_id: String,
    pub credential_ref: String,
    pub credential_source: String,
    pub credential_access_type: String,
    pub credential_issuer: String,
    pub credential_subject: String,
    pub credential_owner: String,
    pub credential_target_binding: String,
    pub credential_run_binding: String,
    pub credential_job_binding: String,
    pub credential_ttl_seconds: i64,
    pub approval_ref: String,
    pub wrkr_inventory_ref: String,
    pub agent_action_bom_ref: String,
    pub auth_context: Option<Value>,
    pub sandbox: Option<Sandbox>,
    pub credential_scopes: Vec<String>,
    pub environment_fingerprint: String,
    pub context_set_digest: String,
    pub context_evidence_mode: String,
    pub context_refs: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct AgentIdentity {
    pub lifecycle_states: Vec<String>,
    pub owner: String,
    pub manifest_digest: String,
    pub publisher: String,
    pub source: String,
    pub issued_at: Option<GoTime>,
    pub approved_at: Option<GoTime>,
    pub expires_at: Option<GoTime>,
    pub revoked: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Sandbox {
    pub network_mode: String,
    pub writable_paths: Vec<String>,
    pub read_only_roots: Vec<String>,
    pub env_exposure_mode: String,
    pub timeout_seconds: i64,
    pub filesystem_isolation: String,
    pub user_mode: String,
    pub evidence_ref: String,
    pub evidence_digest: String,
}

/// Why binding failed: the message is the reference's (without the `parse intent json: ` prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindError {
    pub message: String,
    /// True when the error is a deliberate difference from the reference (case-folded keys).
    pub deviation: bool,
}

/// Binds a parsed intent document.
pub fn bind(root: &Node<'_>) -> Result<IntentRequest, BindError> {
    let mut b = Binder::default();
    let mut req = IntentRequest::default();
    match root {
        Node::Null => {}
        Node::Obj(_) => b.intent(root, &mut req)?,
        other => {
            return Err(BindError {
                message: format!(
                    "json: cannot unmarshal {} into Go value of type gate.IntentRequest",
                    json_kind(other)
                ),
                deviation: false,
            });
        }
    }
    match b.saved {
        Some(e) => Err(e),
        None => Ok(req),
    }
}

/// Go's name for a JSON value's kind in `UnmarshalTypeError`.
fn json_kind(n: &Node<'_>) -> &'static str {
    match n {
        Node::Null => "null",
        Node::Bool(_) => "bool",
        Node::Num(_) => "number",
        Node::Str(_) => "string",
        Node::Arr(_) => "array",
        Node::Obj(_) => "object",
    }
}

/// Converts a borrowed node to an owned one.
pub fn to_owned(n: &Node<'_>) -> Value {
    use std::borrow::Cow;
    match n {
        Node::Null => Node::Null,
        Node::Bool(b) => Node::Bool(*b),
        Node::Num(num) => Node::Num(gait_engine::canon::Number {
            value: num.value,
            // The literal is only needed while parsing; hashing uses the value.
            raw: "",
        }),
        Node::Str(s) => Node::Str(Cow::Owned(s.to_string())),
        Node::Arr(items) => Node::Arr(items.iter().map(to_owned).collect()),
        Node::Obj(members) => Node::Obj(
            members
                .iter()
                .map(|(k, v)| (Cow::Owned(k.to_string()), to_owned(v)))
                .collect(),
        ),
    }
}

/// Go's `strings.EqualFold` for the ASCII/Latin keys we compare (simple folding).
fn equal_fold(a: &str, b: &str) -> bool {
    let fold = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '\u{17f}' => 's',
                '\u{212a}' => 'k',
                c => c.to_lowercase().next().unwrap_or(c),
            })
            .collect()
    };
    fold(a) == fold(b)
}

/// A Go type as `encoding/json` checks it, for values gait carries without interpreting.
enum Shape {
    Str,
    Strs,
    /// A slice: its Go type and element shape.
    List(&'static str, &'static Shape),
    /// A struct (or pointer to one): its Go type and fields.
    Struct(&'static str, &'static [(&'static str, Shape)]),
}

const REF: Shape = Shape::Struct(
    "schemagate.RelationshipRef",
    &[("kind", Shape::Str), ("id", Shape::Str)],
);

/// The reference's relationship envelope (FIELDS §2.10).
const RELATIONSHIP: Shape = Shape::Struct(
    "schemagate.RelationshipEnvelope",
    &[
        ("parent_ref", REF),
        (
            "entity_refs",
            Shape::List("[]schemagate.RelationshipRef", &REF),
        ),
        (
            "policy_ref",
            Shape::Struct(
                "schemagate.PolicyRef",
                &[
                    ("policy_id", Shape::Str),
                    ("policy_version", Shape::Str),
                    ("policy_digest", Shape::Str),
                    ("matched_rule_ids", Shape::Strs),
                ],
            ),
        ),
        (
            "agent_chain",
            Shape::List(
                "[]schemagate.AgentLink",
                &Shape::Struct(
                    "schemagate.AgentLink",
                    &[("identity", Shape::Str), ("role", Shape::Str)],
                ),
            ),
        ),
        (
            "edges",
            Shape::List(
                "[]schemagate.RelationshipEdge",
                &Shape::Struct(
                    "schemagate.RelationshipEdge",
                    &[("kind", Shape::Str), ("from", REF), ("to", REF)],
                ),
            ),
        ),
        ("parent_record_id", Shape::Str),
        ("related_record_ids", Shape::Strs),
        ("related_entity_ids", Shape::Strs),
        (
            "agent_lineage",
            Shape::List(
                "[]schemagate.AgentLineage",
                &Shape::Struct(
                    "schemagate.AgentLineage",
                    &[
                        ("agent_id", Shape::Str),
                        ("delegated_by", Shape::Str),
                        ("delegation_record_id", Shape::Str),
                    ],
                ),
            ),
        ),
    ],
);

#[derive(Default)]
struct Binder {
    /// The first type error, as Go's decoder keeps it while binding the rest.
    saved: Option<BindError>,
}

/// Where a value sits: the innermost Go struct and the dotted JSON path from the root.
#[derive(Clone, Copy)]
struct At<'p> {
    strukt: &'static str,
    path: &'p str,
}

impl Binder {
    fn type_error(&mut self, node: &Node<'_>, at: At<'_>, go_type: &str) {
        if self.saved.is_some() {
            return;
        }
        let what = match node {
            // Go reports the literal for numbers that do not fit an integer field.
            Node::Num(n) if go_type.starts_with("int") => format!("number {}", n.raw),
            other => json_kind(other).to_string(),
        };
        self.saved = Some(BindError {
            message: format!(
                "json: cannot unmarshal {what} into Go struct field {}.{} of type {go_type}",
                at.strukt, at.path
            ),
            deviation: false,
        });
    }

    fn string(&mut self, node: &Node<'_>, at: At<'_>) -> String {
        match node {
            Node::Str(s) => s.to_string(),
            Node::Null => String::new(),
            other => {
                self.type_error(other, at, "string");
                String::new()
            }
        }
    }

    fn boolean(&mut self, node: &Node<'_>, at: At<'_>) -> bool {
        match node {
            Node::Bool(b) => *b,
            Node::Null => false,
            other => {
                self.type_error(other, at, "bool");
                false
            }
        }
    }

    fn int64(&mut self, node: &Node<'_>, at: At<'_>) -> i64 {
        match node {
            Node::Num(n) => match n.raw.parse::<i64>() {
                Ok(v) => v,
                Err(_) => {
                    self.type_error(node, at, "int64");
                    0
                }
            },
            Node::Null => 0,
            other => {
                self.type_error(other, at, "int64");
                0
            }
        }
    }

    fn strings(&mut self, node: &Node<'_>, at: At<'_>) -> Vec<String> {
        match node {
            Node::Arr(items) => items.iter().map(|i| self.string(i, at)).collect(),
            Node::Null => Vec::new(),
            other => {
                self.type_error(other, at, "[]string");
                Vec::new()
            }
        }
    }

    fn time(&mut self, node: &Node<'_>) -> Result<Option<GoTime>, BindError> {
        match node {
            Node::Null => Ok(None),
            Node::Str(s) => GoTime::parse(s).map(Some).map_err(|e| BindError {
                message: e.to_string(),
                deviation: false,
            }),
            _ => Err(BindError {
                message: "Time.UnmarshalJSON: input is not a JSON string".into(),
                deviation: false,
            }),
        }
    }

    fn map_value(&mut self, node: &Node<'_>, at: At<'_>) -> Option<Value> {
        match node {
            Node::Obj(_) => Some(to_owned(node)),
            Node::Null => None,
            other => {
                self.type_error(other, at, "map[string]interface {}");
                None
            }
        }
    }

    /// Type-checks `node` against a Go type described by `shape` (the relationship envelope).
    fn shape(&mut self, node: &Node<'_>, at: At<'_>, shape: &Shape) -> Result<(), BindError> {
        match shape {
            Shape::Str => {
                self.string(node, at);
            }
            Shape::Strs => {
                self.strings(node, at);
            }
            Shape::List(go_type, elem) => match node {
                // Go names the slice field, not the index, in an element's type error.
                Node::Arr(items) => {
                    for item in items {
                        self.shape(item, at, elem)?;
                    }
                }
                Node::Null => {}
                other => self.type_error(other, at, go_type),
            },
            Shape::Struct(go_type, fields) => {
                let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                for (key, v) in self.members(node, at, go_type, &names)? {
                    let path = if at.path.is_empty() {
                        key.to_string()
                    } else {
                        format!("{}.{key}", at.path)
                    };
                    let strukt = go_type.rsplit('.').next().unwrap_or(go_type);
                    if let Some((_, field)) = fields.iter().find(|(n, _)| *n == key) {
                        self.shape(
                            v,
                            At {
                                strukt,
                                path: &path,
                            },
                            field,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Iterates an object's members that name one of `fields`, rejecting case-folded near misses.
    fn members<'n, 'a>(
        &mut self,
        node: &'n Node<'a>,
        at: At<'_>,
        go_type: &str,
        fields: &[&str],
    ) -> Result<Vec<(&'n str, &'n Node<'a>)>, BindError> {
        let members = match node {
            Node::Obj(m) => m,
            Node::Null => return Ok(Vec::new()),
            other => {
                self.type_error(other, at, go_type);
                return Ok(Vec::new());
            }
        };
        let mut out = Vec::with_capacity(members.len());
        for (k, v) in members {
            if fields.contains(&k.as_ref()) {
                out.push((k.as_ref(), v));
            } else if let Some(known) = fields.iter().find(|f| equal_fold(f, k)) {
                let at_path = if at.path.is_empty() {
                    "the top level".to_string()
                } else {
                    at.path.to_string()
                };
                return Err(BindError {
                    message: format!(
                        "json: field {} at {at_path} differs from the known field {} only by case; field names are case-sensitive",
                        gait_engine::canon::go_quote(k),
                        gait_engine::canon::go_quote(known)
                    ),
                    deviation: true,
                });
            }
        }
        Ok(out)
    }

    fn intent(&mut self, node: &Node<'_>, req: &mut IntentRequest) -> Result<(), BindError> {
        const F: &[&str] = &[
            "schema_id",
            "schema_version",
            "created_at",
            "producer_version",
            "tool_name",
            "args",
            "args_digest",
            "intent_digest",
            "script_hash",
            "script",
            "targets",
            "arg_provenance",
            "skill_provenance",
            "delegation",
            "relationship",
            "context",
        ];
        let top = At {
            strukt: "IntentRequest",
            path: "",
        };
        for (key, v) in self.members(node, top, "gate.IntentRequest", F)? {
            let at = At {
                strukt: "IntentRequest",
                path: key,
            };
            match key {
                "schema_id" => req.schema_id = self.string(v, at),
                "schema_version" => req.schema_version = self.string(v, at),
                "created_at" => req.created_at = self.time(v)?,
                "producer_version" => req.producer_version = self.string(v, at),
                "tool_name" => req.tool_name = self.string(v, at),
                "args" => req.args = self.map_value(v, at),
                "args_digest" | "intent_digest" | "script_hash" => {
                    self.string(v, at);
                }
                "script" => req.script = self.script(v, at)?,
                "targets" => req.targets = self.targets(v, "targets")?,
                "arg_provenance" => req.arg_provenance = self.provenance(v, "arg_provenance")?,
                "skill_provenance" => req.skill_provenance = self.skill(v)?,
                "delegation" => req.delegation = self.delegation(v)?,
                "relationship" => {
                    // Carried as written, but typed as Go decodes it: a wrong type anywhere inside
                    // is the same type error the reference reports.
                    self.shape(v, at, &RELATIONSHIP)?;
                    req.relationship = match v {
                        Node::Obj(_) => Some(to_owned(v)),
                        _ => None,
                    }
                }
                "context" => self.context(v, &mut req.context)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn script(&mut self, node: &Node<'_>, at: At<'_>) -> Result<Option<Script>, BindError> {
        if matches!(node, Node::Null) {
            return Ok(None);
        }
        let mut script = Script::default();
        let fields = self.members(node, at, "gate.IntentScript", &["steps"])?;
        if !matches!(node, Node::Obj(_)) {
            return Ok(None);
        }
        for (_, v) in fields {
            let at = At {
                strukt: "IntentScript",
                path: "script.steps",
            };
            match v {
                Node::Arr(items) => {
                    for item in items {
                        script.steps.push(self.step(item)?);
                    }
                }
                Node::Null => {}
                other => self.type_error(other, at, "[]gate.IntentScriptStep"),
            }
        }
        Ok(Some(script))
    }

    fn step(&mut self, node: &Node<'_>) -> Result<Step, BindError> {
        let at = At {
            strukt: "IntentScript",
            path: "script.steps",
        };
        let mut step = Step::default();
        let fields = ["tool_name", "args", "targets", "arg_provenance"];
        for (key, v) in self.members(node, at, "gate.IntentScriptStep", &fields)? {
            let path = format!("script.steps.{key}");
            let at = At {
                strukt: "IntentScriptStep",
                path: &path,
            };
            match key {
                "tool_name" => step.tool_name = self.string(v, at),
                "args" => step.args = self.map_value(v, at),
                "targets" => step.targets = self.targets(v, "script.steps.targets")?,
                "arg_provenance" => {
                    step.arg_provenance = self.provenance(v, "script.steps.arg_provenance")?
                }
                _ => {}
            }
        }
        Ok(step)
    }

    fn targets(&mut self, node: &Node<'_>, path: &str) -> Result<Vec<Target>, BindError> {
        let items = match node {
            Node::Arr(items) => items,
            Node::Null => return Ok(Vec::new()),
            other => {
                let strukt = if path.starts_with("script") {
                    "IntentScriptStep"
                } else {
                    "IntentRequest"
                };
                self.type_error(other, At { strukt, path }, "[]gate.IntentTarget");
                return Ok(Vec::new());
            }
        };
        const F: &[&str] = &[
            "kind",
            "value",
            "operation",
            "sensitivity",
            "endpoint_class",
            "endpoint_domain",
            "destructive",
            "discovery_method",
            "read_only_hint",
            "destructive_hint",
            "idempotent_hint",
            "open_world_hint",
        ];
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let mut t = Target::default();
            let at = At {
                strukt: "IntentTarget",
                path,
            };
            for (key, v) in self.members(item, at, "gate.IntentTarget", F)? {
                let p = format!("{path}.{key}");
                let at = At {
                    strukt: "IntentTarget",
                    path: &p,
                };
                match key {
                    "kind" => t.kind = self.string(v, at),
                    "value" => t.value = self.string(v, at),
                    "operation" => t.operation = self.string(v, at),
                    "sensitivity" => t.sensitivity = self.string(v, at),
                    "endpoint_class" => t.endpoint_class = self.string(v, at),
                    "endpoint_domain" => t.endpoint_domain = self.string(v, at),
                    "destructive" => t.destructive = self.boolean(v, at),
                    "discovery_method" => t.discovery_method = self.string(v, at),
                    "read_only_hint" => t.read_only_hint = self.boolean(v, at),
                    "destructive_hint" => t.destructive_hint = self.boolean(v, at),
                    "idempotent_hint" => t.idempotent_hint = self.boolean(v, at),
                    "open_world_hint" => t.open_world_hint = self.boolean(v, at),
                    _ => {}
                }
            }
            out.push(t);
        }
        Ok(out)
    }

    fn provenance(&mut self, node: &Node<'_>, path: &str) -> Result<Vec<ArgProvenance>, BindError> {
        let items = match node {
            Node::Arr(items) => items,
            Node::Null => return Ok(Vec::new()),
            other => {
                let strukt = if path.starts_with("script") {
                    "IntentScriptStep"
                } else {
                    "IntentRequest"
                };
                self.type_error(other, At { strukt, path }, "[]gate.IntentArgProvenance");
                return Ok(Vec::new());
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let mut p = ArgProvenance::default();
            let at = At {
                strukt: "IntentArgProvenance",
                path,
            };
            let fields = ["arg_path", "source", "source_ref", "integrity_digest"];
            for (key, v) in self.members(item, at, "gate.IntentArgProvenance", &fields)? {
                let fp = format!("{path}.{key}");
                let at = At {
                    strukt: "IntentArgProvenance",
                    path: &fp,
                };
                match key {
                    "arg_path" => p.arg_path = self.string(v, at),
                    "source" => p.source = self.string(v, at),
                    "source_ref" => p.source_ref = self.string(v, at),
                    "integrity_digest" => p.integrity_digest = self.string(v, at),
                    _ => {}
                }
            }
            out.push(p);
        }
        Ok(out)
    }

    fn skill(&mut self, node: &Node<'_>) -> Result<Option<SkillProvenance>, BindError> {
        let at = At {
            strukt: "IntentRequest",
            path: "skill_provenance",
        };
        if !matches!(node, Node::Obj(_)) {
            self.members(node, at, "gate.IntentSkillProvenance", &[])?;
            return Ok(None);
        }
        let fields = [
            "skill_name",
            "skill_version",
            "source",
            "publisher",
            "digest",
            "signature_key_id",
        ];
        let mut s = SkillProvenance::default();
        for (key, v) in self.members(node, at, "gate.IntentSkillProvenance", &fields)? {
            let p = format!("skill_provenance.{key}");
            let at = At {
                strukt: "IntentSkillProvenance",
                path: &p,
            };
            let text = self.string(v, at);
            match key {
                "skill_name" => s.skill_name = text,
                "skill_version" => s.skill_version = text,
                "source" => s.source = text,
                "publisher" => s.publisher = text,
                "digest" => s.digest = text,
                "signature_key_id" => s.signature_key_id = text,
                _ => {}
            }
        }
        Ok(Some(s))
    }

    fn delegation(&mut self, node: &Node<'_>) -> Result<Option<Delegation>, BindError> {
        let at = At {
            strukt: "IntentRequest",
            path: "delegation",
        };
        if !matches!(node, Node::Obj(_)) {
            self.members(node, at, "gate.IntentDelegation", &[])?;
            return Ok(None);
        }
        let fields = [
            "requester_identity",
            "scope_class",
            "token_refs",
            "chain",
            "issued_at",
            "expires_at",
        ];
        let mut d = Delegation::default();
        for (key, v) in self.members(node, at, "gate.IntentDelegation", &fields)? {
            let p = format!("delegation.{key}");
            let at = At {
                strukt: "IntentDelegation",
                path: &p,
            };
            match key {
                "requester_identity" => d.requester_identity = self.string(v, at),
                "scope_class" => d.scope_class = self.string(v, at),
                "token_refs" => d.token_refs = self.strings(v, at),
                "issued_at" => d.issued_at = self.time(v)?,
                "expires_at" => d.expires_at = self.time(v)?,
                "chain" => match v {
                    Node::Arr(items) => {
                        for item in items {
                            d.chain.push(self.link(item)?);
                        }
                    }
                    Node::Null => {}
                    other => self.type_error(other, at, "[]gate.IntentDelegationLink"),
                },
                _ => {}
            }
        }
        Ok(Some(d))
    }

    fn link(&mut self, node: &Node<'_>) -> Result<DelegationLink, BindError> {
        let at = At {
            strukt: "IntentDelegationLink",
            path: "delegation.chain",
        };
        let fields = [
            "delegator_identity",
            "delegate_identity",
            "scope_class",
            "token_ref",
            "issued_at",
            "expires_at",
        ];
        let mut l = DelegationLink::default();
        for (key, v) in self.members(node, at, "gate.IntentDelegationLink", &fields)? {
            let p = format!("delegation.chain.{key}");
            let at = At {
                strukt: "IntentDelegationLink",
                path: &p,
            };
            match key {
                "delegator_identity" => l.delegator_identity = self.string(v, at),
                "delegate_identity" => l.delegate_identity = self.string(v, at),
                "scope_class" => l.scope_class = self.string(v, at),
                "token_ref" => l.token_ref = self.string(v, at),
                "issued_at" => l.issued_at = self.time(v)?,
                "expires_at" => l.expires_at = self.time(v)?,
                _ => {}
            }
        }
        Ok(l)
    }

    fn context(&mut self, node: &Node<'_>, c: &mut Context) -> Result<(), BindError> {
        const F: &[&str] = &[
            "identity",
            "workspace",
            "risk_class",
            "phase",
            "agent_id",
            "agent_identity",
            "run_id",
            "workflow_id",
            "repo",
            "environment",
            "job_id",
            "session_id",
            "request_id",
            "credential_ref",
            "credential_source",
            "credential_access_type",
            "credential_issuer",
            "credential_subject",
            "credential_owner",
            "credential_target_binding",
            "credential_run_binding",
            "credential_job_binding",
            "credential_ttl_seconds",
            "approval_ref",
            "wrkr_inventory_ref",
            "agent_action_bom_ref",
            "auth_context",
            "sandbox",
            "credential_scopes",
            "environment_fingerprint",
            "context_set_digest",
            "context_evidence_mode",
            "context_refs",
        ];
        let at = At {
            strukt: "IntentRequest",
            path: "context",
        };
        for (key, v) in self.members(node, at, "gate.IntentContext", F)? {
            let p = format!("context.{key}");
            let at = At {
                strukt: "IntentContext",
                path: &p,
            };
            match key {
                "agent_identity" => c.agent_identity = self.agent_identity(v)?,
                "credential_ttl_seconds" => c.credential_ttl_seconds = self.int64(v, at),
                "auth_context" => c.auth_context = self.map_value(v, at),
                "sandbox" => c.sandbox = self.sandbox(v)?,
                "credential_scopes" => c.credential_scopes = self.strings(v, at),
                "context_refs" => c.context_refs = self.strings(v, at),
                _ => {
                    let text = self.string(v, at);
                    let slot = match key {
                        "identity" => &mut c.identity,
                        "workspace" => &mut c.workspace,
                        "risk_class" => &mut c.risk_class,
                        "phase" => &mut c.phase,
                        "agent_id" => &mut c.agent_id,
                        "run_id" => &mut c.run_id,
                        "workflow_id" => &mut c.workflow_id,
                        "repo" => &mut c.repo,
                        "environment" => &mut c.environment,
                        "job_id" => &mut c.job_id,
                        "session_id" => &mut c.session_id,
                        "request_id" => &mut c.request_id,
                        "credential_ref" => &mut c.credential_ref,
                        "credential_source" => &mut c.credential_source,
                        "credential_access_type" => &mut c.credential_access_type,
                        "credential_issuer" => &mut c.credential_issuer,
                        "credential_subject" => &mut c.credential_subject,
                        "credential_owner" => &mut c.credential_owner,
                        "credential_target_binding" => &mut c.credential_target_binding,
                        "credential_run_binding" => &mut c.credential_run_binding,
                        "credential_job_binding" => &mut c.credential_job_binding,
                        "approval_ref" => &mut c.approval_ref,
                        "wrkr_inventory_ref" => &mut c.wrkr_inventory_ref,
                        "agent_action_bom_ref" => &mut c.agent_action_bom_ref,
                        "environment_fingerprint" => &mut c.environment_fingerprint,
                        "context_set_digest" => &mut c.context_set_digest,
                        "context_evidence_mode" => &mut c.context_evidence_mode,
                        _ => continue,
                    };
                    *slot = text;
                }
            }
        }
        Ok(())
    }

    fn agent_identity(&mut self, node: &Node<'_>) -> Result<Option<AgentIdentity>, BindError> {
        let at = At {
            strukt: "IntentContext",
            path: "context.agent_identity",
        };
        if !matches!(node, Node::Obj(_)) {
            self.members(node, at, "gate.IntentAgentIdentity", &[])?;
            return Ok(None);
        }
        let fields = [
            "lifecycle_states",
            "owner",
            "manifest_digest",
            "publisher",
            "source",
            "issued_at",
            "approved_at",
            "expires_at",
            "revoked",
        ];
        let mut a = AgentIdentity::default();
        for (key, v) in self.members(node, at, "gate.IntentAgentIdentity", &fields)? {
            let p = format!("context.agent_identity.{key}");
            let at = At {
                strukt: "IntentAgentIdentity",
                path: &p,
            };
            match key {
                "lifecycle_states" => a.lifecycle_states = self.strings(v, at),
                "owner" => a.owner = self.string(v, at),
                "manifest_digest" => a.manifest_digest = self.string(v, at),
                "publisher" => a.publisher = self.string(v, at),
                "source" => a.source = self.string(v, at),
                "issued_at" => a.issued_at = self.time(v)?,
                "approved_at" => a.approved_at = self.time(v)?,
                "expires_at" => a.expires_at = self.time(v)?,
                "revoked" => a.revoked = self.boolean(v, at),
                _ => {}
            }
        }
        Ok(Some(a))
    }

    fn sandbox(&mut self, node: &Node<'_>) -> Result<Option<Sandbox>, BindError> {
        let at = At {
            strukt: "IntentContext",
            path: "context.sandbox",
        };
        if !matches!(node, Node::Obj(_)) {
            self.members(node, at, "gate.IntentSandbox", &[])?;
            return Ok(None);
        }
        let fields = [
            "network_mode",
            "writable_paths",
            "read_only_roots",
            "env_exposure_mode",
            "timeout_seconds",
            "filesystem_isolation",
            "user_mode",
            "evidence_ref",
            "evidence_digest",
        ];
        let mut s = Sandbox::default();
        for (key, v) in self.members(node, at, "gate.IntentSandbox", &fields)? {
            let p = format!("context.sandbox.{key}");
            let at = At {
                strukt: "IntentSandbox",
                path: &p,
            };
            match key {
                "network_mode" => s.network_mode = self.string(v, at),
                "writable_paths" => s.writable_paths = self.strings(v, at),
                "read_only_roots" => s.read_only_roots = self.strings(v, at),
                "env_exposure_mode" => s.env_exposure_mode = self.string(v, at),
                "timeout_seconds" => s.timeout_seconds = self.int64(v, at),
                "filesystem_isolation" => s.filesystem_isolation = self.string(v, at),
                "user_mode" => s.user_mode = self.string(v, at),
                "evidence_ref" => s.evidence_ref = self.string(v, at),
                "evidence_digest" => s.evidence_digest = self.string(v, at),
                _ => {}
            }
        }
        Ok(Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gait_engine::canon::{ParseOptions, parse};

    fn bind_text(s: &str) -> Result<IntentRequest, BindError> {
        let parsed = parse(s.as_bytes(), ParseOptions::default()).unwrap();
        bind(&parsed.node)
    }

    #[test]
    fn go_type_errors() {
        let cases = [
            (
                r#"{"tool_name":7}"#,
                "json: cannot unmarshal number into Go struct field IntentRequest.tool_name of type string",
            ),
            (
                r#"{"targets":{}}"#,
                "json: cannot unmarshal object into Go struct field IntentRequest.targets of type []gate.IntentTarget",
            ),
            (
                r#"{"targets":[{"kind":"path","value":"/a","destructive":"yes"}]}"#,
                "json: cannot unmarshal string into Go struct field IntentTarget.targets.destructive of type bool",
            ),
            (
                r#"{"context":{"credential_ttl_seconds":1.5}}"#,
                "json: cannot unmarshal number 1.5 into Go struct field IntentContext.context.credential_ttl_seconds of type int64",
            ),
            (
                r#"{"args":[1,2]}"#,
                "json: cannot unmarshal array into Go struct field IntentRequest.args of type map[string]interface {}",
            ),
            (
                "[]",
                "json: cannot unmarshal array into Go value of type gate.IntentRequest",
            ),
            // The relationship envelope is typed like every other field (the review found
            // `{"parent_ref":5}` accepted). Go names the struct that holds the field.
            (
                r#"{"relationship":{"parent_ref":5}}"#,
                "json: cannot unmarshal number into Go struct field RelationshipEnvelope.relationship.parent_ref of type schemagate.RelationshipRef",
            ),
            (
                r#"{"relationship":{"parent_ref":{"kind":"session","id":7}}}"#,
                "json: cannot unmarshal number into Go struct field RelationshipRef.relationship.parent_ref.id of type string",
            ),
            (
                r#"{"relationship":{"edges":[{"kind":"x","from":{"kind":true}}]}}"#,
                "json: cannot unmarshal bool into Go struct field RelationshipRef.relationship.edges.from.kind of type string",
            ),
            (
                r#"{"relationship":{"related_record_ids":"a"}}"#,
                "json: cannot unmarshal string into Go struct field RelationshipEnvelope.relationship.related_record_ids of type []string",
            ),
            (
                r#"{"relationship":{"agent_chain":{}}}"#,
                "json: cannot unmarshal object into Go struct field RelationshipEnvelope.relationship.agent_chain of type []schemagate.AgentLink",
            ),
            (
                r#"{"relationship":"x"}"#,
                "json: cannot unmarshal string into Go struct field IntentRequest.relationship of type schemagate.RelationshipEnvelope",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(bind_text(src).unwrap_err().message, want, "{src}");
        }
    }

    #[test]
    fn first_type_error_wins_but_time_errors_abort() {
        let e = bind_text(r#"{"tool_name":1,"context":{"identity":2}}"#).unwrap_err();
        assert!(
            e.message.contains("IntentRequest.tool_name"),
            "{}",
            e.message
        );
        let e = bind_text(r#"{"tool_name":1,"created_at":"yesterday"}"#).unwrap_err();
        assert_eq!(
            e.message,
            "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\""
        );
    }

    #[test]
    fn case_folded_keys_are_rejected_unknown_keys_ignored() {
        let e = bind_text(r#"{"TOOL_NAME":"x"}"#).unwrap_err();
        assert!(e.deviation);
        assert!(e.message.contains("\"TOOL_NAME\""), "{}", e.message);
        let ok = bind_text(r#"{"tool_name":"x","surprise":{"a":1}}"#).unwrap();
        assert_eq!(ok.tool_name, "x");
        let e = bind_text(r#"{"context":{"Identity":"x"}}"#).unwrap_err();
        assert!(e.message.contains("context"), "{}", e.message);
    }

    #[test]
    fn nulls_leave_zero_values() {
        let r =
            bind_text(r#"{"tool_name":null,"targets":null,"args":null,"context":null}"#).unwrap();
        assert!(r.tool_name.is_empty() && r.targets.is_empty() && r.args.is_none());
        assert!(bind_text("null").is_ok());
    }
}
