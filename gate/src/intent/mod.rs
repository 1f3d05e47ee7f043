//! Gate intents: strict parsing, Go-compatible binding ([`raw`]), normalization and the intent digest
//! (CONTRACTS §2.5, §2.9).
//!
//! [`parse`] turns intent bytes into an [`raw::IntentRequest`]; [`normalize`] turns that into an
//! [`Intent`], whose fields are exactly the reference's normalized intent. [`Intent::digest`] hashes
//! the JCS form of the digest payload straight into sha256 through `gait_engine::canon`.

pub mod infer;
pub mod raw;
pub mod secrets;

use crate::text::{go_lower, is_sha256_hex, lower_trim};
use crate::vocab;
use gait_engine::canon::{self, JsonErrorKind, Node, Number, ParseOptions};
use gait_engine::{GaitError, GoTime};
use raw::Value;
use std::borrow::Cow;

/// Intent files larger than this are refused before parsing.
pub const MAX_INTENT_BYTES: u64 = 16 * 1024 * 1024;
/// The hard limit on script steps.
pub const MAX_SCRIPT_STEPS: usize = 64;

/// Parses intent JSON (strict: duplicate keys and unsafe integers are errors naming the JSON path)
/// and binds it with Go semantics. Messages carry the reference's `parse intent json: ` prefix.
pub fn parse(bytes: &[u8]) -> Result<raw::IntentRequest, GaitError> {
    let parsed = canon::parse(bytes, ParseOptions::default()).map_err(|e| {
        let message = match e.kind {
            JsonErrorKind::NumberOutOfRange => out_of_range_message(&e.path, &e.message),
            _ => e.message.clone(),
        };
        let err = GaitError::invalid(format!("parse intent json: {message}"));
        match e.kind {
            JsonErrorKind::UnsafeInteger => err.with_hint(
                "integers beyond ±(2^53-1) cannot be hashed exactly; pass such values as strings",
            ),
            JsonErrorKind::DuplicateKey => {
                err.with_hint("remove the duplicate key: tools and gait must read the same value")
            }
            _ => err,
        }
    })?;
    raw::bind(&parsed.node).map_err(|e| {
        let err = GaitError::invalid(format!("parse intent json: {}", e.message));
        if e.deviation {
            err.with_hint("spell intent field names exactly as documented (lowercase snake_case)")
        } else {
            err
        }
    })
}

/// Go's message for a number that overflows float64 (a type error in Go, a parse error here).
fn out_of_range_message(path: &str, fallback: &str) -> String {
    let literal = fallback
        .strip_prefix("number ")
        .and_then(|s| s.split(' ').next())
        .unwrap_or("");
    let plain: String = {
        let mut out = String::new();
        let mut depth = 0;
        for c in path.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    let (strukt, field) = if plain == "args" || plain.starts_with("args.") {
        ("IntentRequest", "args".to_string())
    } else if plain.starts_with("context.auth_context") {
        ("IntentContext", "context.auth_context".to_string())
    } else if plain.starts_with("script.steps.args") {
        ("IntentScriptStep", "script.steps.args".to_string())
    } else {
        ("IntentRequest", plain)
    };
    format!(
        "json: cannot unmarshal number {literal} into Go struct field {strukt}.{field} of type float64"
    )
}

// ---------------------------------------------------------------------------------------------
// The normalized intent
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq)]
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

impl Target {
    fn sort_key(&self) -> impl Ord + '_ {
        (
            (
                &self.kind,
                &self.value,
                &self.operation,
                &self.sensitivity,
                &self.endpoint_class,
                &self.endpoint_domain,
            ),
            self.destructive,
            &self.discovery_method,
            (
                self.read_only_hint,
                self.destructive_hint,
                self.idempotent_hint,
                self.open_world_hint,
            ),
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArgProvenance {
    pub arg_path: String,
    pub source: String,
    pub source_ref: String,
    pub integrity_digest: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SkillProvenance {
    pub skill_name: String,
    pub skill_version: String,
    pub source: String,
    pub publisher: String,
    pub digest: String,
    pub signature_key_id: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delegation {
    pub requester_identity: String,
    pub scope_class: String,
    pub token_refs: Vec<String>,
    pub chain: Vec<DelegationLink>,
    pub issued_at: GoTime,
    pub expires_at: GoTime,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DelegationLink {
    pub delegator_identity: String,
    pub delegate_identity: String,
    pub scope_class: String,
    pub token_ref: String,
    pub issued_at: GoTime,
    pub expires_at: GoTime,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentIdentity {
    pub lifecycle_states: Vec<String>,
    pub owner: String,
    pub manifest_digest: String,
    pub publisher: String,
    pub source: String,
    pub issued_at: GoTime,
    pub approved_at: GoTime,
    pub expires_at: GoTime,
    pub revoked: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
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

impl Sandbox {
    fn is_empty(&self) -> bool {
        *self == Sandbox::default()
    }
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
    /// Omitted from the digest when empty.
    pub auth_context: Option<Value>,
    pub sandbox: Option<Sandbox>,
    pub credential_scopes: Vec<String>,
    pub environment_fingerprint: String,
    pub context_set_digest: String,
    pub context_evidence_mode: String,
    pub context_refs: Vec<String>,
}

impl Context {
    /// `auth_context[key]` when it is a string.
    pub fn auth_string(&self, key: &str) -> Option<&str> {
        match &self.auth_context {
            Some(Node::Obj(members)) => members
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    /// `auth_context[key]` when it is a number.
    pub fn auth_number(&self, key: &str) -> Option<f64> {
        match &self.auth_context {
            Some(Node::Obj(members)) => {
                members
                    .iter()
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| match v {
                        Node::Num(n) => Some(n.value),
                        _ => None,
                    })
            }
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub tool_name: String,
    pub args: Value,
    pub targets: Vec<Target>,
    pub arg_provenance: Vec<ArgProvenance>,
}

/// A normalized intent. Fields mirror the reference's normalized intent; `created_at` (UTC, or
/// 1980-01-01 when absent) and `relationship` are carried but not digested.
#[derive(Clone, Debug)]
pub struct Intent {
    pub tool_name: String,
    pub args: Value,
    pub script: Option<Vec<Step>>,
    pub script_hash: String,
    pub targets: Vec<Target>,
    pub arg_provenance: Vec<ArgProvenance>,
    pub skill_provenance: Option<SkillProvenance>,
    pub delegation: Option<Delegation>,
    pub context: Context,
    pub created_at: GoTime,
    pub relationship: Option<Value>,
}

fn nerr(msg: impl Into<String>) -> GaitError {
    GaitError::invalid(format!("normalize intent: {}", msg.into()))
}

/// Normalizes a bound intent request (`normalize intent: …` errors, exit 6).
pub fn normalize(req: &raw::IntentRequest) -> Result<Intent, GaitError> {
    let (tool_name, script) = match &req.script {
        Some(script) => {
            if script.steps.is_empty() {
                return Err(nerr("script.steps must not be empty"));
            }
            if script.steps.len() > MAX_SCRIPT_STEPS {
                return Err(nerr(format!(
                    "script.steps exceeds max supported steps ({MAX_SCRIPT_STEPS})"
                )));
            }
            let mut steps = Vec::with_capacity(script.steps.len());
            for (i, step) in script.steps.iter().enumerate() {
                let tool = lower_trim(&step.tool_name);
                if tool.is_empty() {
                    return Err(nerr(format!("script.steps[{i}].tool_name is required")));
                }
                let args = normalize_args(
                    step.args.as_ref(),
                    &format!("script.steps[{i}].args"),
                    &format!("normalize script.steps[{i}].args"),
                )?;
                let targets = normalize_targets(&step.targets, &tool)
                    .map_err(|e| nerr(format!("normalize script.steps[{i}].targets: {e}")))?;
                let arg_provenance = normalize_provenance(&step.arg_provenance).map_err(|e| {
                    nerr(format!("normalize script.steps[{i}].arg_provenance: {e}"))
                })?;
                steps.push(Step {
                    tool_name: tool,
                    args,
                    targets,
                    arg_provenance,
                });
            }
            ("script".to_string(), Some(steps))
        }
        None => {
            let tool = lower_trim(&req.tool_name);
            if tool.is_empty() {
                return Err(nerr("tool_name is required"));
            }
            (tool, None)
        }
    };

    let args = normalize_args(req.args.as_ref(), "args", "normalize args")?;

    let mut targets = normalize_targets(&req.targets, &tool_name).map_err(nerr)?;
    let mut arg_provenance = normalize_provenance(&req.arg_provenance).map_err(nerr)?;
    if let Some(steps) = &script {
        if targets.is_empty() {
            let all: Vec<Target> = steps.iter().flat_map(|s| s.targets.clone()).collect();
            targets = dedup_sort_targets(all);
        }
        if arg_provenance.is_empty() {
            let mut all: Vec<ArgProvenance> = steps
                .iter()
                .flat_map(|s| s.arg_provenance.clone())
                .collect();
            all.sort();
            all.dedup();
            arg_provenance = all;
        }
    }

    let skill_provenance = match &req.skill_provenance {
        None => None,
        Some(s) => {
            let out = SkillProvenance {
                skill_name: s.skill_name.trim().to_string(),
                skill_version: s.skill_version.trim().to_string(),
                source: lower_trim(&s.source),
                publisher: s.publisher.trim().to_string(),
                digest: lower_trim(&s.digest),
                signature_key_id: s.signature_key_id.trim().to_string(),
            };
            if out.skill_name.is_empty() || out.source.is_empty() || out.publisher.is_empty() {
                return Err(nerr(
                    "skill provenance requires skill_name, source, and publisher",
                ));
            }
            Some(out)
        }
    };

    let delegation = match &req.delegation {
        None => None,
        Some(d) => Some(normalize_delegation(d)?),
    };

    let context = normalize_context(&req.context)?;

    let mut intent = Intent {
        tool_name,
        args,
        script,
        script_hash: String::new(),
        targets,
        arg_provenance,
        skill_provenance,
        delegation,
        context,
        created_at: match req.created_at {
            Some(t) if !t.is_zero() => t.utc(),
            _ => GoTime::epoch_1980(),
        },
        relationship: req.relationship.clone(),
    };
    if intent.script.is_some() {
        intent.script_hash = intent.compute_script_hash();
    }
    Ok(intent)
}

/// Trims strings and keys recursively, then rejects raw credential values. `context` prefixes
/// shape errors (`normalize args: …`); credential errors name the value's path without it, as the
/// reference words them.
fn normalize_args(args: Option<&Value>, label: &str, context: &str) -> Result<Value, GaitError> {
    let normalized = match args {
        None => Node::Obj(Vec::new()),
        Some(v) => trim_value(v, label).map_err(|e| nerr(format!("{context}: {e}")))?,
    };
    if let Some(path) = secrets::find_raw_credential(&normalized, label) {
        return Err(nerr(format!(
            "{path} must not contain raw credential material; use credential references or digests instead"
        )));
    }
    Ok(normalized)
}

fn trim_value(v: &Value, label: &str) -> Result<Value, String> {
    Ok(match v {
        Node::Str(s) => Node::Str(Cow::Owned(s.trim().to_string())),
        Node::Arr(items) => Node::Arr(
            items
                .iter()
                .map(|i| trim_value(i, label))
                .collect::<Result<_, _>>()?,
        ),
        Node::Obj(members) => {
            let mut out: Vec<(Cow<'static, str>, Value)> = Vec::with_capacity(members.len());
            for (k, val) in members {
                let key = k.trim();
                if key.is_empty() {
                    return Err(format!("{label} contains empty key"));
                }
                if out.iter().any(|(existing, _)| existing == key) {
                    // Go keeps whichever key its map iteration meets last; refuse the ambiguity.
                    return Err(format!(
                        "{label} contains keys that collide after trimming: {}",
                        gait_engine::canon::go_quote(key)
                    ));
                }
                out.push((Cow::Owned(key.to_string()), trim_value(val, label)?));
            }
            Node::Obj(out)
        }
        other => other.clone(),
    })
}

fn normalize_targets(targets: &[raw::Target], tool: &str) -> Result<Vec<Target>, String> {
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let kind = lower_trim(&t.kind);
        let value = t.value.trim().to_string();
        if kind.is_empty() || value.is_empty() {
            return Err("targets require kind and value".into());
        }
        if !vocab::TARGET_KINDS.contains(&kind.as_str()) {
            return Err(format!("unsupported target kind: {kind}"));
        }
        let operation = lower_trim(&t.operation);
        let mut endpoint_class = lower_trim(&t.endpoint_class);
        if endpoint_class.is_empty() {
            endpoint_class = infer::endpoint_class(&kind, &operation, tool).to_string();
        } else if !vocab::ENDPOINT_CLASSES.contains(&endpoint_class.as_str()) {
            return Err(format!("unsupported endpoint class: {endpoint_class}"));
        }
        let mut endpoint_domain = lower_trim(&t.endpoint_domain);
        if endpoint_domain.is_empty() {
            endpoint_domain = infer::endpoint_domain(&kind, &value);
        }
        let mut discovery_method = vocab::normalize_discovery_method(&t.discovery_method);
        if discovery_method.is_empty() {
            discovery_method = "unknown".into();
        } else if !vocab::DISCOVERY_METHODS.contains(&discovery_method.as_str()) {
            return Err(format!("unsupported discovery method: {discovery_method}"));
        }
        let destructive = t.destructive
            || t.destructive_hint
            || endpoint_class == "fs.delete"
            || endpoint_class == "proc.exec"
            || infer::DESTRUCTIVE_OPS.contains(&operation.as_str());
        out.push(Target {
            kind,
            value,
            operation,
            sensitivity: lower_trim(&t.sensitivity),
            endpoint_class,
            endpoint_domain,
            destructive,
            discovery_method,
            read_only_hint: t.read_only_hint,
            destructive_hint: t.destructive_hint,
            idempotent_hint: t.idempotent_hint,
            open_world_hint: t.open_world_hint,
        });
    }
    Ok(dedup_sort_targets(out))
}

fn dedup_sort_targets(mut targets: Vec<Target>) -> Vec<Target> {
    targets.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    targets.dedup();
    targets
}

fn normalize_provenance(items: &[raw::ArgProvenance]) -> Result<Vec<ArgProvenance>, String> {
    let mut out = Vec::with_capacity(items.len());
    for p in items {
        let arg_path = p.arg_path.trim().to_string();
        let source = lower_trim(&p.source);
        if arg_path.is_empty() || source.is_empty() {
            return Err("arg provenance requires arg_path and source".into());
        }
        if !vocab::PROVENANCE_SOURCES.contains(&source.as_str()) {
            return Err(format!("unsupported provenance source: {source}"));
        }
        let integrity_digest = lower_trim(&p.integrity_digest);
        if !integrity_digest.is_empty() && !is_sha256_hex(&integrity_digest) {
            return Err(format!(
                "invalid provenance integrity_digest: {integrity_digest}"
            ));
        }
        out.push(ArgProvenance {
            arg_path,
            source,
            source_ref: p.source_ref.trim().to_string(),
            integrity_digest,
        });
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn utc_or_zero(t: Option<GoTime>) -> GoTime {
    match t {
        Some(t) if !t.is_zero() => t.utc(),
        _ => GoTime::zero(),
    }
}

fn normalize_delegation(d: &raw::Delegation) -> Result<Delegation, GaitError> {
    let requester_identity = d.requester_identity.trim().to_string();
    if requester_identity.is_empty() {
        return Err(nerr("delegation.requester_identity is required"));
    }
    let mut chain = Vec::with_capacity(d.chain.len());
    for (i, l) in d.chain.iter().enumerate() {
        let link = DelegationLink {
            delegator_identity: l.delegator_identity.trim().to_string(),
            delegate_identity: l.delegate_identity.trim().to_string(),
            scope_class: lower_trim(&l.scope_class),
            token_ref: l.token_ref.trim().to_string(),
            issued_at: utc_or_zero(l.issued_at),
            expires_at: utc_or_zero(l.expires_at),
        };
        if link.delegator_identity.is_empty() || link.delegate_identity.is_empty() {
            return Err(nerr(format!(
                "delegation.chain[{i}] requires delegator_identity and delegate_identity"
            )));
        }
        chain.push(link);
    }
    for i in 1..chain.len() {
        if chain[i].delegator_identity != chain[i - 1].delegate_identity {
            return Err(nerr(format!(
                "delegation.chain[{i}] delegator_identity must match delegation.chain[{}].delegate_identity",
                i - 1
            )));
        }
    }
    if let Some(last) = chain.last()
        && last.delegate_identity != requester_identity
    {
        return Err(nerr(
            "delegation.chain last delegate_identity must match delegation.requester_identity",
        ));
    }
    Ok(Delegation {
        requester_identity,
        scope_class: lower_trim(&d.scope_class),
        token_refs: crate::text::norm_list(&d.token_refs),
        chain,
        issued_at: utc_or_zero(d.issued_at),
        expires_at: utc_or_zero(d.expires_at),
    })
}

fn normalize_context(c: &raw::Context) -> Result<Context, GaitError> {
    let identity = c.identity.trim().to_string();
    if identity.is_empty() {
        return Err(nerr("context.identity is required"));
    }
    let workspace = c.workspace.trim().replace('\\', "/");
    if workspace.is_empty() {
        return Err(nerr("context.workspace is required"));
    }
    let risk_class = lower_trim(&c.risk_class);
    if risk_class.is_empty() {
        return Err(nerr("context.risk_class is required"));
    }
    let phase = match lower_trim(&c.phase).as_str() {
        "" | "apply" => "apply".to_string(),
        "plan" => "plan".to_string(),
        _ => return Err(nerr("context.phase must be plan or apply")),
    };
    let credential_source = lower_trim(&c.credential_source);
    if !credential_source.is_empty()
        && !vocab::CREDENTIAL_SOURCES.contains(&credential_source.as_str())
    {
        return Err(nerr(format!(
            "context.credential_source is unsupported: {credential_source}"
        )));
    }
    let credential_access_type = lower_trim(&c.credential_access_type);
    if !credential_access_type.is_empty()
        && !vocab::CREDENTIAL_ACCESS_TYPES.contains(&credential_access_type.as_str())
    {
        return Err(nerr(format!(
            "context.credential_access_type is unsupported: {credential_access_type}"
        )));
    }
    if c.credential_ttl_seconds < 0 {
        return Err(nerr("context.credential_ttl_seconds must be >= 0"));
    }
    let agent_identity = match &c.agent_identity {
        None => None,
        Some(a) => {
            let out = AgentIdentity {
                lifecycle_states: crate::text::norm_list(&a.lifecycle_states),
                owner: a.owner.trim().to_string(),
                manifest_digest: lower_trim(&a.manifest_digest),
                publisher: a.publisher.trim().to_string(),
                source: lower_trim(&a.source),
                issued_at: utc_or_zero(a.issued_at),
                approved_at: utc_or_zero(a.approved_at),
                expires_at: utc_or_zero(a.expires_at),
                revoked: a.revoked,
            };
            if !out.issued_at.is_zero()
                && !out.expires_at.is_zero()
                && out.expires_at <= out.issued_at
            {
                return Err(nerr(
                    "context.agent_identity.expires_at must be after issued_at",
                ));
            }
            Some(out)
        }
    };
    let auth_context = match &c.auth_context {
        None => None,
        Some(v) => {
            let trimmed = trim_value(v, "auth_context")
                .map_err(|e| nerr(format!("normalize auth_context: {e}")))?;
            if let Some(path) = secrets::find_raw_credential(&trimmed, "context.auth_context") {
                return Err(nerr(format!(
                    "{path} must not contain raw credential material; use credential references or digests instead"
                )));
            }
            match &trimmed {
                Node::Obj(m) if m.is_empty() => None,
                _ => Some(trimmed),
            }
        }
    };
    let sandbox = match &c.sandbox {
        None => None,
        Some(s) => {
            let check = |field: &str, value: String, allowed: &[&str]| {
                if value.is_empty() || allowed.contains(&value.as_str()) {
                    Ok(value)
                } else {
                    Err(nerr(format!(
                        "context.sandbox.{field} is unsupported: {value}"
                    )))
                }
            };
            if s.timeout_seconds < 0 {
                return Err(nerr("context.sandbox.timeout_seconds must be >= 0"));
            }
            let out = Sandbox {
                network_mode: check(
                    "network_mode",
                    lower_trim(&s.network_mode),
                    vocab::NETWORK_MODES,
                )?,
                writable_paths: crate::text::norm_list(&s.writable_paths),
                read_only_roots: crate::text::norm_list(&s.read_only_roots),
                env_exposure_mode: check(
                    "env_exposure_mode",
                    lower_trim(&s.env_exposure_mode),
                    vocab::ENV_EXPOSURE_MODES,
                )?,
                timeout_seconds: s.timeout_seconds,
                filesystem_isolation: check(
                    "filesystem_isolation",
                    lower_trim(&s.filesystem_isolation),
                    vocab::FILESYSTEM_ISOLATIONS,
                )?,
                user_mode: check("user_mode", lower_trim(&s.user_mode), vocab::USER_MODES)?,
                evidence_ref: s.evidence_ref.trim().to_string(),
                evidence_digest: lower_trim(&s.evidence_digest),
            };
            if out.is_empty() { None } else { Some(out) }
        }
    };
    let context_set_digest = lower_trim(&c.context_set_digest);
    if !context_set_digest.is_empty() && !is_sha256_hex(&context_set_digest) {
        return Err(nerr("context.context_set_digest must be sha256 hex"));
    }
    let context_evidence_mode = lower_trim(&c.context_evidence_mode);
    if !context_evidence_mode.is_empty()
        && context_evidence_mode != "best_effort"
        && context_evidence_mode != "required"
    {
        return Err(nerr(
            "context.context_evidence_mode must be best_effort or required",
        ));
    }
    Ok(Context {
        identity,
        workspace,
        risk_class,
        phase,
        agent_id: c.agent_id.trim().to_string(),
        agent_identity,
        run_id: c.run_id.trim().to_string(),
        workflow_id: c.workflow_id.trim().to_string(),
        repo: c.repo.trim().to_string(),
        environment: c.environment.trim().to_string(),
        job_id: c.job_id.trim().to_string(),
        session_id: c.session_id.trim().to_string(),
        request_id: c.request_id.trim().to_string(),
        credential_ref: c.credential_ref.trim().to_string(),
        credential_source,
        credential_access_type,
        credential_issuer: c.credential_issuer.trim().to_string(),
        credential_subject: c.credential_subject.trim().to_string(),
        credential_owner: c.credential_owner.trim().to_string(),
        credential_target_binding: lower_trim(&c.credential_target_binding),
        credential_run_binding: c.credential_run_binding.trim().to_string(),
        credential_job_binding: c.credential_job_binding.trim().to_string(),
        credential_ttl_seconds: c.credential_ttl_seconds,
        approval_ref: c.approval_ref.trim().to_string(),
        wrkr_inventory_ref: c.wrkr_inventory_ref.trim().to_string(),
        agent_action_bom_ref: c.agent_action_bom_ref.trim().to_string(),
        auth_context,
        sandbox,
        credential_scopes: crate::text::norm_list(&c.credential_scopes),
        environment_fingerprint: c.environment_fingerprint.trim().to_string(),
        context_set_digest,
        context_evidence_mode,
        context_refs: crate::text::norm_list(&c.context_refs),
    })
}

// ---------------------------------------------------------------------------------------------
// Digest payloads: canon nodes borrowing from the intent, hashed by the one JCS writer.
// ---------------------------------------------------------------------------------------------

type N<'a> = Node<'a>;

fn s(v: &str) -> N<'_> {
    Node::Str(Cow::Borrowed(v))
}

/// A view of an owned value whose strings borrow from it (cheaper than a deep clone).
fn borrowed<'a>(v: &'a Node<'_>) -> N<'a> {
    match v {
        Node::Null => Node::Null,
        Node::Bool(b) => Node::Bool(*b),
        Node::Num(n) => Node::Num(Number {
            value: n.value,
            raw: n.raw,
        }),
        Node::Str(x) => s(x),
        Node::Arr(items) => Node::Arr(items.iter().map(borrowed).collect()),
        Node::Obj(members) => Node::Obj(
            members
                .iter()
                .map(|(k, v)| (Cow::Borrowed(&**k), borrowed(v)))
                .collect(),
        ),
    }
}

fn num(v: f64) -> N<'static> {
    Node::Num(Number { value: v, raw: "" })
}

fn strs(v: &[String]) -> N<'_> {
    Node::Arr(v.iter().map(|x| s(x)).collect())
}

fn time(t: &GoTime) -> N<'static> {
    Node::Str(Cow::Owned(t.rfc3339_nano()))
}

/// An object under construction; `omitempty` members are pushed conditionally.
struct Obj<'a>(Vec<(Cow<'a, str>, N<'a>)>);

impl<'a> Obj<'a> {
    fn new() -> Self {
        Obj(Vec::with_capacity(12))
    }
    fn put(&mut self, k: &'static str, v: N<'a>) {
        self.0.push((Cow::Borrowed(k), v));
    }
    fn str(&mut self, k: &'static str, v: &'a str) {
        self.put(k, s(v));
    }
    fn opt_str(&mut self, k: &'static str, v: &'a str) {
        if !v.is_empty() {
            self.put(k, s(v));
        }
    }
    fn opt_strs(&mut self, k: &'static str, v: &'a [String]) {
        if !v.is_empty() {
            self.put(k, strs(v));
        }
    }
    fn opt_bool(&mut self, k: &'static str, v: bool) {
        if v {
            self.put(k, Node::Bool(true));
        }
    }
    fn opt_int(&mut self, k: &'static str, v: i64) {
        if v != 0 {
            self.put(k, num(v as f64));
        }
    }
    fn done(self) -> N<'a> {
        Node::Obj(self.0)
    }
}

pub fn target_node(t: &Target) -> N<'_> {
    let mut o = Obj::new();
    o.str("kind", &t.kind);
    o.str("value", &t.value);
    o.opt_str("operation", &t.operation);
    o.opt_str("sensitivity", &t.sensitivity);
    o.opt_str("endpoint_class", &t.endpoint_class);
    o.opt_str("endpoint_domain", &t.endpoint_domain);
    o.opt_bool("destructive", t.destructive);
    o.opt_str("discovery_method", &t.discovery_method);
    o.opt_bool("read_only_hint", t.read_only_hint);
    o.opt_bool("destructive_hint", t.destructive_hint);
    o.opt_bool("idempotent_hint", t.idempotent_hint);
    o.opt_bool("open_world_hint", t.open_world_hint);
    o.done()
}

pub fn targets_node(ts: &[Target]) -> N<'_> {
    Node::Arr(ts.iter().map(target_node).collect())
}

pub fn provenance_node(p: &ArgProvenance) -> N<'_> {
    let mut o = Obj::new();
    o.str("arg_path", &p.arg_path);
    o.str("source", &p.source);
    o.opt_str("source_ref", &p.source_ref);
    o.opt_str("integrity_digest", &p.integrity_digest);
    o.done()
}

pub fn delegation_node(d: &Delegation) -> N<'_> {
    let mut o = Obj::new();
    o.str("requester_identity", &d.requester_identity);
    o.opt_str("scope_class", &d.scope_class);
    o.opt_strs("token_refs", &d.token_refs);
    if !d.chain.is_empty() {
        o.put(
            "chain",
            Node::Arr(
                d.chain
                    .iter()
                    .map(|l| {
                        let mut lo = Obj::new();
                        lo.str("delegator_identity", &l.delegator_identity);
                        lo.str("delegate_identity", &l.delegate_identity);
                        lo.opt_str("scope_class", &l.scope_class);
                        lo.opt_str("token_ref", &l.token_ref);
                        lo.put("issued_at", time(&l.issued_at));
                        lo.put("expires_at", time(&l.expires_at));
                        lo.done()
                    })
                    .collect(),
            ),
        );
    }
    o.put("issued_at", time(&d.issued_at));
    o.put("expires_at", time(&d.expires_at));
    o.done()
}

pub fn context_node(c: &Context) -> N<'_> {
    let mut o = Obj::new();
    o.str("identity", &c.identity);
    o.str("workspace", &c.workspace);
    o.str("risk_class", &c.risk_class);
    o.opt_str("phase", &c.phase);
    o.opt_str("agent_id", &c.agent_id);
    if let Some(a) = &c.agent_identity {
        let mut ao = Obj::new();
        ao.opt_strs("lifecycle_states", &a.lifecycle_states);
        ao.opt_str("owner", &a.owner);
        ao.opt_str("manifest_digest", &a.manifest_digest);
        ao.opt_str("publisher", &a.publisher);
        ao.opt_str("source", &a.source);
        ao.put("issued_at", time(&a.issued_at));
        ao.put("approved_at", time(&a.approved_at));
        ao.put("expires_at", time(&a.expires_at));
        ao.opt_bool("revoked", a.revoked);
        o.put("agent_identity", ao.done());
    }
    o.opt_str("run_id", &c.run_id);
    o.opt_str("workflow_id", &c.workflow_id);
    o.opt_str("repo", &c.repo);
    o.opt_str("environment", &c.environment);
    o.opt_str("job_id", &c.job_id);
    o.opt_str("session_id", &c.session_id);
    o.opt_str("request_id", &c.request_id);
    o.opt_str("credential_ref", &c.credential_ref);
    o.opt_str("credential_source", &c.credential_source);
    o.opt_str("credential_access_type", &c.credential_access_type);
    o.opt_str("credential_issuer", &c.credential_issuer);
    o.opt_str("credential_subject", &c.credential_subject);
    o.opt_str("credential_owner", &c.credential_owner);
    o.opt_str("credential_target_binding", &c.credential_target_binding);
    o.opt_str("credential_run_binding", &c.credential_run_binding);
    o.opt_str("credential_job_binding", &c.credential_job_binding);
    o.opt_int("credential_ttl_seconds", c.credential_ttl_seconds);
    o.opt_str("approval_ref", &c.approval_ref);
    o.opt_str("wrkr_inventory_ref", &c.wrkr_inventory_ref);
    o.opt_str("agent_action_bom_ref", &c.agent_action_bom_ref);
    if let Some(ac) = &c.auth_context {
        o.put("auth_context", borrowed(ac));
    }
    if let Some(sb) = &c.sandbox {
        let mut so = Obj::new();
        so.opt_str("network_mode", &sb.network_mode);
        so.opt_strs("writable_paths", &sb.writable_paths);
        so.opt_strs("read_only_roots", &sb.read_only_roots);
        so.opt_str("env_exposure_mode", &sb.env_exposure_mode);
        so.opt_int("timeout_seconds", sb.timeout_seconds);
        so.opt_str("filesystem_isolation", &sb.filesystem_isolation);
        so.opt_str("user_mode", &sb.user_mode);
        so.opt_str("evidence_ref", &sb.evidence_ref);
        so.opt_str("evidence_digest", &sb.evidence_digest);
        o.put("sandbox", so.done());
    }
    o.opt_strs("credential_scopes", &c.credential_scopes);
    o.opt_str("environment_fingerprint", &c.environment_fingerprint);
    o.opt_str("context_set_digest", &c.context_set_digest);
    o.opt_str("context_evidence_mode", &c.context_evidence_mode);
    o.opt_strs("context_refs", &c.context_refs);
    o.done()
}

fn step_node(st: &Step) -> N<'_> {
    let mut o = Obj::new();
    o.str("tool_name", &st.tool_name);
    o.put("args", borrowed(&st.args));
    if !st.targets.is_empty() {
        o.put("targets", targets_node(&st.targets));
    }
    if !st.arg_provenance.is_empty() {
        o.put(
            "arg_provenance",
            Node::Arr(st.arg_provenance.iter().map(provenance_node).collect()),
        );
    }
    o.done()
}

fn script_node(steps: &[Step]) -> N<'_> {
    let mut o = Obj::new();
    o.put("steps", Node::Arr(steps.iter().map(step_node).collect()));
    o.done()
}

impl Intent {
    /// The digest payload (CONTRACTS §2.9).
    pub fn payload(&self) -> N<'_> {
        let mut o = Obj::new();
        o.str("tool_name", &self.tool_name);
        o.put("args", borrowed(&self.args));
        o.opt_str("script_hash", &self.script_hash);
        if let Some(steps) = &self.script {
            o.put("script", script_node(steps));
        }
        o.put("targets", targets_node(&self.targets));
        if !self.arg_provenance.is_empty() {
            o.put(
                "arg_provenance",
                Node::Arr(self.arg_provenance.iter().map(provenance_node).collect()),
            );
        }
        if let Some(sk) = &self.skill_provenance {
            let mut so = Obj::new();
            so.str("skill_name", &sk.skill_name);
            so.opt_str("skill_version", &sk.skill_version);
            so.str("source", &sk.source);
            so.str("publisher", &sk.publisher);
            so.opt_str("digest", &sk.digest);
            so.opt_str("signature_key_id", &sk.signature_key_id);
            o.put("skill_provenance", so.done());
        }
        if let Some(d) = &self.delegation {
            o.put("delegation", delegation_node(d));
        }
        o.put("context", context_node(&self.context));
        o.done()
    }

    /// sha256 hex of the JCS form of the digest payload.
    pub fn digest(&self) -> String {
        canon::digest_node(&self.payload())
    }

    /// sha256 of the normalized args.
    pub fn args_digest(&self) -> String {
        canon::digest_node(&self.args)
    }

    fn compute_script_hash(&self) -> String {
        match &self.script {
            Some(steps) => canon::digest_node(&script_node(steps)),
            None => String::new(),
        }
    }

    /// sha256 of the normalized targets (the credential target binding, CONTRACTS §2.7).
    pub fn targets_digest(&self) -> String {
        canon::digest_node(&targets_node(&self.targets))
    }

    /// sha256 of the normalized delegation block (its binding digest), when present.
    pub fn delegation_digest(&self) -> Option<String> {
        self.delegation
            .as_ref()
            .map(|d| canon::digest_node(&delegation_node(d)))
    }

    pub fn is_script(&self) -> bool {
        self.script.is_some()
    }

    /// True when any target is destructive.
    pub fn has_destructive_target(&self) -> bool {
        self.targets.iter().any(|t| t.destructive)
    }
}

/// Parses and normalizes in one step (policy test and tests).
pub fn load(bytes: &[u8]) -> Result<Intent, GaitError> {
    normalize(&parse(bytes)?)
}

/// The lowercased tool name the reference uses for matching (already normalized).
pub fn tool_key(tool: &str) -> String {
    go_lower(tool.trim())
}
