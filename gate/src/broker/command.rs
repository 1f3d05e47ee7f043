//! The `command` broker: an allowlisted executable (from `GAIT_CREDENTIAL_COMMAND_ALLOWLIST`, full
//! path or basename) run without a shell, with the request JSON on stdin, that prints a JSON receipt
//! on stdout: `{"issued_by": …, "credential_ref": …}` plus optional `source`, `access_type`,
//! `issuer`, `subject`, `owner`, `issued_at`, `expires_at`, `ttl_seconds`, `target_binding`,
//! `run_binding`, `job_binding`, `request_digest`, `scope`, `reference`.
//!
//! It runs in its own process group (a Job Object on Windows) through the host's spawner: at the
//! 5 s timeout, or as soon as its output passes 16 KiB, the whole group is killed and the call fails
//! (DEVIATIONS #4: the reference waited for a broker script's lingering children). Its output and
//! stderr are never repeated in an error.

use super::{
    BrokerCapabilities, BrokerError, CredentialBroker, CredentialRequest, IssuedCredential,
    check_credential_ref,
};
use gait_engine::GoTime;
use gait_engine::canon::{self, Node, ParseOptions};
use gait_engine::procx::SpawnRequest;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_OUTPUT_CAP: usize = 16 * 1024;

pub struct CommandBroker {
    command: String,
    args: Vec<String>,
    allowlist: Vec<String>,
    timeout: Duration,
    output_cap: usize,
}

impl CommandBroker {
    /// `allowlist` is `GAIT_CREDENTIAL_COMMAND_ALLOWLIST` split on commas (the host reads it).
    pub fn new(command: &str, args: Vec<String>, allowlist: Vec<String>) -> Self {
        CommandBroker {
            command: command.trim().to_string(),
            args,
            allowlist: allowlist
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            timeout: DEFAULT_TIMEOUT,
            output_cap: DEFAULT_OUTPUT_CAP,
        }
    }

    /// A different timeout (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether the allowlist admits the command: an entry with a path separator must equal it; a bare
    /// entry must equal its file name.
    pub fn allowed(&self) -> bool {
        let base = basename(&self.command);
        self.allowlist.iter().any(|entry| {
            if entry.contains(['/', '\\']) {
                *entry == self.command
            } else {
                entry == base
            }
        })
    }

    fn check_command(&self) -> Result<(), BrokerError> {
        if self.command.is_empty() {
            return Err(BrokerError::missing("credential command is not configured"));
        }
        if self.command.chars().any(char::is_whitespace) {
            return Err(BrokerError::missing(
                "credential command must not contain whitespace",
            ));
        }
        if self.allowlist.is_empty() {
            return Err(BrokerError::missing(
                "credential command refused: GAIT_CREDENTIAL_COMMAND_ALLOWLIST is empty",
            ));
        }
        if !self.allowed() {
            return Err(BrokerError::missing(format!(
                "credential command {} is not in GAIT_CREDENTIAL_COMMAND_ALLOWLIST",
                canon::go_quote(&self.command)
            )));
        }
        Ok(())
    }
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

impl CredentialBroker for CommandBroker {
    fn name(&self) -> &str {
        "command"
    }

    fn issue(
        &self,
        request: &CredentialRequest,
        caps: &BrokerCapabilities<'_>,
    ) -> Result<IssuedCredential, BrokerError> {
        self.check_command()?;
        let stdin = canon::jcs_of(request)
            .map_err(|_| BrokerError::missing("encode credential request"))?;
        let outcome = caps
            .spawner
            .run(&SpawnRequest {
                stdin: &stdin,
                kill_on_overflow: true,
                ..SpawnRequest::new(
                    &self.command,
                    &self.args,
                    caps.cwd,
                    self.timeout,
                    self.output_cap,
                )
            })
            .map_err(|e| {
                BrokerError::missing(format!(
                    "start credential command: {}",
                    gait_engine::fsx::io_reason(&e)
                ))
            })?;
        if outcome.timed_out {
            return Err(BrokerError::missing(format!(
                "credential command timed out after {}s and was stopped with its process group",
                self.timeout.as_secs_f64()
            )));
        }
        if outcome.killed_on_overflow || outcome.stdout_truncated {
            return Err(BrokerError::missing(format!(
                "credential command output exceeded {} bytes and was stopped",
                self.output_cap
            )));
        }
        match outcome.exit_code {
            Some(0) => {}
            Some(code) => {
                return Err(BrokerError::missing(format!(
                    "credential command exited with status {code}"
                )));
            }
            None => {
                return Err(BrokerError::missing(
                    "credential command was ended by a signal",
                ));
            }
        }
        parse_receipt(&outcome.stdout)
    }
}

/// Parses the broker's stdout receipt. Errors name fields, never values.
pub(crate) fn parse_receipt(stdout: &[u8]) -> Result<IssuedCredential, BrokerError> {
    let not_json = || BrokerError::missing("credential command output is not a JSON object");
    let parsed = canon::parse(stdout, ParseOptions::recorded_payload()).map_err(|_| not_json())?;
    let obj = &parsed.node;
    if !matches!(obj, Node::Obj(_)) {
        return Err(not_json());
    }
    let text = |k: &str| -> Result<String, BrokerError> {
        match obj.get(k) {
            None | Some(Node::Null) => Ok(String::new()),
            Some(Node::Str(s)) => Ok(s.trim().to_string()),
            Some(_) => Err(BrokerError::missing(format!(
                "credential command output field {k} must be a string"
            ))),
        }
    };
    let time = |k: &str| -> Result<Option<GoTime>, BrokerError> {
        match text(k)?.as_str() {
            "" => Ok(None),
            v => GoTime::parse(v).map(|t| Some(t.utc())).map_err(|_| {
                BrokerError::missing(format!(
                    "credential command output field {k} is not an RFC3339 time"
                ))
            }),
        }
    };
    let ttl_seconds = match obj.get("ttl_seconds") {
        None | Some(Node::Null) => 0,
        Some(Node::Num(n))
            if n.value.fract() == 0.0 && n.value >= 0.0 && n.value <= 9_007_199_254_740_991.0 =>
        {
            n.value as i64
        }
        Some(_) => {
            return Err(BrokerError::missing(
                "credential command output field ttl_seconds must be a non-negative integer",
            ));
        }
    };
    let scope = match obj.get("scope") {
        None | Some(Node::Null) => Vec::new(),
        Some(Node::Arr(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Node::Str(s) => out.push(s.to_string()),
                    _ => {
                        return Err(BrokerError::missing(
                            "credential command output field scope must be a list of strings",
                        ));
                    }
                }
            }
            crate::text::norm_lower_list(&out)
        }
        Some(_) => {
            return Err(BrokerError::missing(
                "credential command output field scope must be a list of strings",
            ));
        }
    };
    let credential_ref = text("credential_ref")?;
    check_credential_ref(&credential_ref)?;
    let issued_by = match text("issued_by")? {
        s if s.is_empty() => "command".to_string(),
        s => s,
    };
    let source = match text("source")? {
        s if s.is_empty() => "command".to_string(),
        s => s,
    };
    Ok(IssuedCredential {
        issued_by,
        credential_ref,
        source,
        access_type: text("access_type")?,
        issuer: text("issuer")?,
        subject: text("subject")?,
        owner: text("owner")?,
        target_binding: text("target_binding")?,
        run_binding: text("run_binding")?,
        job_binding: text("job_binding")?,
        issued_at: time("issued_at")?,
        expires_at: time("expires_at")?,
        ttl_seconds,
        request_digest: text("request_digest")?.to_ascii_lowercase(),
        scope,
        reference: text("reference")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(command: &str, allow: &[&str]) -> CommandBroker {
        CommandBroker::new(
            command,
            Vec::new(),
            allow.iter().map(|s| s.to_string()).collect(),
        )
    }

    #[test]
    fn allowlist_matches_full_paths_exactly_and_basenames_by_name() {
        assert!(broker("/opt/b/broker", &["broker"]).allowed());
        assert!(broker("broker", &["broker"]).allowed());
        assert!(broker("/opt/b/broker", &["/opt/b/broker"]).allowed());
        assert!(!broker("/tmp/broker", &["/opt/b/broker"]).allowed());
        assert!(!broker("/opt/b/other", &["broker", " "]).allowed());
        assert!(broker("/opt/b/broker", &[]).check_command().is_err());
        let e = broker("a b", &["a b"]).check_command().unwrap_err();
        assert!(e.message.contains("whitespace"));
    }

    #[test]
    fn receipts_parse_strictly_and_never_echo_output() {
        let r = parse_receipt(
            br#"{"issued_by":"vault","credential_ref":"vault:lease/1","ttl_seconds":900,"scope":["Write"],"access_type":"jit","request_digest":"AB"}"#,
        )
        .unwrap();
        assert_eq!(r.credential_ref, "vault:lease/1");
        assert_eq!(r.ttl_seconds, 900);
        assert_eq!(r.scope, ["write"]);
        assert_eq!(r.request_digest, "ab");
        assert_eq!(r.source, "command");
        for bad in [
            &b"TOPSECRET plain text"[..],
            br#"{"credential_ref":"a","credential_ref":"b"}"#,
            br#"{"issued_by":"x"}"#,
            br#"{"credential_ref":"has space"}"#,
            br#"{"credential_ref":"x","ttl_seconds":1.5}"#,
            br#"["x"]"#,
        ] {
            let e = parse_receipt(bad).unwrap_err();
            assert!(!e.message.contains("TOPSECRET"), "{}", e.message);
            assert_eq!(e.reason_code, "broker_credential_missing");
        }
    }
}
