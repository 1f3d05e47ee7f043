//! Credential brokers through the built binary (CONTRACTS §2.7, DEVIATIONS #4): the env broker and
//! its fingerprinted reference, the command broker's allowlist, receipt, timeout and output cap —
//! with the broker's whole process group gone afterwards — and, in every case, no secret value in
//! any output, trace, audit or evidence file.
//!
//! Timeouts are not asserted: each run has a generous watchdog (far below the broker children's own
//! lifetime), and the tests check the mechanism — the verdict, the reason, and that no process of
//! the broker's group survives.

#![cfg(unix)]

use crate::support::Sandbox;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SECRET: &str = "sk-live-7f3c9a1be5d24c6f8a0b";

const POLICY: &str = "default_verdict: block\nrules:\n  - name: brokered-write\n    effect: allow\n    match:\n      tool_names: [tool.write]\n    require_broker_credential: true\n    broker_reference: vault\n    broker_scopes: [write]\n";

const INTENT: &str = r#"{"tool_name":"tool.write","args":{"path":"/srv/app/out.txt"},
 "targets":[{"kind":"path","value":"/srv/app/out.txt","operation":"write"}],
 "context":{"identity":"agent.app","workspace":"/srv/app","risk_class":"medium","run_id":"run-1"}}"#;

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("policy.yaml", POLICY);
    sb.write("intent.json", INTENT);
    sb
}

/// Writes an executable broker script.
fn script(sb: &Sandbox, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = sb.write(name, format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs gait with a watchdog: a run still going after `watchdog` is killed (by its id) and fails the
/// test. Returns (exit code, stdout, stderr).
fn run_guarded(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    // The sandbox's environment (see `Sandbox::gait`), on a plain std command we can spawn.
    let mut cmd = std::process::Command::new(crate::support::gait_bin());
    cmd.current_dir(sb.path());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GAIT_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("HOME", sb.join("home"))
        .env("GAIT_HOME", sb.join("home/.gait"))
        .env("TZ", "UTC")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let watchdog = Duration::from_secs(120);
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > watchdog {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gait still running after the {watchdog:?} watchdog: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn eval(sb: &Sandbox, extra: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    let mut args = vec![
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
    ];
    args.extend_from_slice(extra);
    args.push("--json");
    let (code, stdout, stderr) = run_guarded(sb, &args, env);
    assert!(stderr.is_empty(), "stderr: {stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (code, json, stdout)
}

/// Every file under `dir` (outputs, traces, audits, evidence, state) and the process output.
fn assert_no_secret(dir: &Path, outputs: &[&str]) {
    for o in outputs {
        assert!(!o.contains(SECRET), "secret in process output: {o}");
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(SECRET),
                    "secret found in {}",
                    path.display()
                );
            }
        }
    }
}

/// The pids whose process group is `pgid` (Linux /proc; zombies included — they are gone once
/// reaped, which init does promptly for orphans).
#[cfg(target_os = "linux")]
fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|f| f.parse::<i32>().ok()) == Some(pgid) && fields[0] != "Z" {
            out.push(pid);
        }
    }
    out
}

/// Asserts the broker's process group (its leader wrote `$$` to `pgid`) has no live member left.
fn assert_group_gone(sb: &Sandbox) {
    let pgid: i32 = String::from_utf8(sb.read("pgid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    #[cfg(target_os = "linux")]
    {
        // SIGKILL is delivered synchronously; give the kernel a moment to finish the exits.
        let mut left = group_members(pgid);
        for _ in 0..100 {
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            left = group_members(pgid);
        }
        assert!(
            left.is_empty(),
            "processes of the broker's group survived: {left:?}"
        );
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: signal 0 only tests for existence of the group.
        let alive = unsafe { libc_kill(-pgid, 0) } == 0;
        assert!(!alive, "the broker's process group survived");
    }
}

#[cfg(not(target_os = "linux"))]
unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn the_env_broker_issues_a_fingerprinted_reference_and_never_the_value() {
    let sb = sandbox();
    let env = [("GAIT_BROKER_TOKEN_VAULT", SECRET)];
    let (code, out, stdout) = eval(&sb, &["--credential-broker", "env"], &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        strings(&out["reason_codes"]),
        ["broker_credential_present", "matched_rule_brokered_write"]
    );
    // env:<KEY>:<first 8 hex of sha256(value)>: the value itself appears nowhere.
    let fingerprint = &gait_engine::canon::sha256_hex(SECRET.as_bytes())[..8];
    assert_eq!(
        out["credential_ref"],
        format!("env:GAIT_BROKER_TOKEN_VAULT:{fingerprint}")
    );
    let evidence: Value =
        serde_json::from_slice(&sb.read(out["credential_evidence_path"].as_str().unwrap()))
            .unwrap();
    assert_eq!(evidence["schema_id"], "gait.gate.broker_credential_record");
    assert_eq!(evidence["broker"], "env");
    assert_eq!(evidence["reference"], "vault");
    assert_eq!(evidence["scope"], serde_json::json!(["write"]));
    assert_no_secret(sb.path(), &[&stdout]);
    // Without the variable the call is blocked, naming no value.
    let (code, out, stdout) = eval(&sb, &["--credential-broker", "env"], &[]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        strings(&out["reason_codes"]),
        ["broker_credential_missing", "matched_rule_brokered_write"]
    );
    assert_eq!(strings(&out["violations"]), ["broker_credential_missing"]);
    assert_no_secret(sb.path(), &[&stdout]);
    // A custom prefix.
    let (code, out, _) = eval(
        &sb,
        &[
            "--credential-broker",
            "env",
            "--credential-env-prefix",
            "MY_",
        ],
        &[("MY_VAULT", SECRET)],
    );
    assert_eq!(code, 0, "{out}");
}

/// The env broker's companion variables form its receipt: each one the operator sets is recorded,
/// and a binding (scope, target, run, job) that disagrees with the request blocks with its code.
/// The env broker answers the gate's own request in-process, so a binding it reports needs no
/// request digest from outside (the review found every companion binding blocked with
/// `broker_request_digest_missing`).
#[test]
fn the_env_brokers_companion_variables_are_its_receipt() {
    let sb = sandbox();
    // The request's target binding, computed here from CONTRACTS §2.7/§2.9: sha256 of the JCS form
    // of the prepared intent's normalized targets.
    let binding = gait_engine::canon::sha256_hex(
        br#"[{"discovery_method":"unknown","endpoint_class":"fs.write","kind":"path","operation":"write","value":"/srv/app/out.txt"}]"#,
    );
    let run = |extra: &[(&str, &str)]| {
        let mut env = vec![("GAIT_BROKER_TOKEN_VAULT", SECRET)];
        env.extend_from_slice(extra);
        eval(&sb, &["--credential-broker", "env"], &env)
    };
    let evidence = |out: &Value| -> Value {
        serde_json::from_slice(&sb.read(out["credential_evidence_path"].as_str().unwrap())).unwrap()
    };
    let allowed = |extra: &[(&str, &str)]| {
        let (code, out, stdout) = run(extra);
        assert_eq!(code, 0, "{extra:?}: {out}");
        assert_eq!(
            strings(&out["reason_codes"]),
            ["broker_credential_present", "matched_rule_brokered_write"],
            "{extra:?}"
        );
        assert_no_secret(sb.path(), &[&stdout]);
        out
    };
    let blocked = |extra: &[(&str, &str)], code_wanted: &str| {
        let (code, out, stdout) = run(extra);
        assert_eq!(code, 3, "{extra:?}: {out}");
        assert_eq!(out["verdict"], "block");
        assert_eq!(
            strings(&out["reason_codes"]),
            [code_wanted, "matched_rule_brokered_write"],
            "{extra:?}"
        );
        assert_eq!(strings(&out["violations"]), ["broker_credential_missing"]);
        assert_no_secret(sb.path(), &[&stdout]);
    };

    // Scope: the credential must carry every requested scope (`write`), or `*`.
    let out = allowed(&[("GAIT_BROKER_TOKEN_VAULT_SCOPE", "write")]);
    assert_eq!(evidence(&out)["scope"], serde_json::json!(["write"]));
    allowed(&[("GAIT_BROKER_TOKEN_VAULT_SCOPE", "read, Write")]);
    allowed(&[("GAIT_BROKER_TOKEN_VAULT_SCOPE", "*")]);
    blocked(
        &[("GAIT_BROKER_TOKEN_VAULT_SCOPE", "read")],
        "broker_scope_mismatch",
    );

    // Target binding: the request's, or blocked.
    let out = allowed(&[("GAIT_BROKER_TOKEN_VAULT_TARGET_BINDING", binding.as_str())]);
    let record = evidence(&out);
    assert_eq!(record["target_binding"], binding.as_str());
    let trace: Value =
        serde_json::from_slice(&sb.read(out["trace_path"].as_str().unwrap())).unwrap();
    assert_eq!(trace["broker_target_binding"], binding.as_str());
    assert_eq!(trace["broker_request_digest"], record["request_digest"]);
    assert_eq!(record["request_digest"].as_str().map(str::len), Some(64));
    let zero = "0".repeat(64);
    blocked(
        &[("GAIT_BROKER_TOKEN_VAULT_TARGET_BINDING", zero.as_str())],
        "broker_target_binding_mismatch",
    );

    // Run and job bindings: the intent's run_id (`run-1`) and job_id (none).
    let out = allowed(&[("GAIT_BROKER_TOKEN_VAULT_RUN_BINDING", "run-1")]);
    assert_eq!(evidence(&out)["run_binding"], "run-1");
    blocked(
        &[("GAIT_BROKER_TOKEN_VAULT_RUN_BINDING", "run-2")],
        "broker_run_binding_mismatch",
    );
    blocked(
        &[("GAIT_BROKER_TOKEN_VAULT_JOB_BINDING", "job-9")],
        "broker_job_binding_mismatch",
    );

    // Descriptive companions are recorded as given (source and access type lowercased).
    let out = allowed(&[
        ("GAIT_BROKER_TOKEN_VAULT_SOURCE", "Vault_Dynamic"),
        ("GAIT_BROKER_TOKEN_VAULT_ACCESS_TYPE", "JIT"),
        ("GAIT_BROKER_TOKEN_VAULT_ISSUER", "vault.example"),
        ("GAIT_BROKER_TOKEN_VAULT_SUBJECT", "svc-writer"),
        ("GAIT_BROKER_TOKEN_VAULT_OWNER", "team-app"),
        ("GAIT_BROKER_TOKEN_VAULT_ISSUED_AT", "2031-01-01T00:00:00Z"),
        (
            "GAIT_BROKER_TOKEN_VAULT_EXPIRES_AT",
            "2031-01-01T02:05:00+02:00",
        ),
        ("GAIT_BROKER_TOKEN_VAULT_TTL_SECONDS", "300"),
        ("GAIT_BROKER_TOKEN_VAULT_SCOPE", "write"),
        ("GAIT_BROKER_TOKEN_VAULT_TARGET_BINDING", binding.as_str()),
        ("GAIT_BROKER_TOKEN_VAULT_RUN_BINDING", "run-1"),
    ]);
    assert_eq!(out["credential_source"], "vault_dynamic");
    assert_eq!(out["credential_access_type"], "jit");
    assert_eq!(out["credential_issuer"], "vault.example");
    assert_eq!(out["credential_ttl_seconds"], 300);
    let record = evidence(&out);
    assert_eq!(record["credential_subject"], "svc-writer");
    assert_eq!(record["credential_owner"], "team-app");
    assert_eq!(record["issued_at"], "2031-01-01T00:00:00Z");
    // Broker record times are UTC (FIELDS §2.7).
    assert_eq!(record["expires_at"], "2031-01-01T00:05:00Z");
    assert_eq!(record["ttl_seconds"], 300);

    // Malformed companions block without naming the value.
    blocked(
        &[("GAIT_BROKER_TOKEN_VAULT_ISSUED_AT", "yesterday")],
        "broker_credential_missing",
    );
    blocked(
        &[("GAIT_BROKER_TOKEN_VAULT_EXPIRES_AT", "2031-13-01T00:00:00Z")],
        "broker_credential_missing",
    );
    blocked(
        &[("GAIT_BROKER_TOKEN_VAULT_TTL_SECONDS", "-5")],
        "broker_credential_missing",
    );
}

#[test]
fn the_command_broker_answers_with_a_receipt_bound_to_the_request() {
    let sb = sandbox();
    // The broker digests the request it reads on stdin (the JCS bytes gait digests) and echoes it;
    // it has the secret in its environment and writes it to stderr, which gait must not repeat.
    script(
        &sb,
        "broker.sh",
        r#"digest=$(sha256sum | cut -d' ' -f1)
echo "$BROKER_SECRET" >&2
printf '{"issued_by":"test-broker","credential_ref":"cmd:lease-%s","access_type":"jit","source":"vault_dynamic","ttl_seconds":60,"request_digest":"%s","scope":["write"],"run_binding":"run-1"}' "$1" "$digest""#,
    );
    let env = [
        ("GAIT_CREDENTIAL_COMMAND_ALLOWLIST", "broker.sh"),
        ("BROKER_SECRET", SECRET),
    ];
    let args = [
        "--credential-broker",
        "command",
        "--credential-command",
        "./broker.sh",
        "--credential-command-args",
        "42",
    ];
    let (code, out, stdout) = eval(&sb, &args, &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["credential_ref"], "cmd:lease-42");
    assert_eq!(out["credential_access_type"], "jit");
    assert_eq!(out["credential_ttl_seconds"], 60);
    let evidence: Value =
        serde_json::from_slice(&sb.read(out["credential_evidence_path"].as_str().unwrap()))
            .unwrap();
    assert_eq!(evidence["broker"], "command");
    assert_eq!(evidence["credential_source"], "vault_dynamic");
    assert_eq!(evidence["run_binding"], "run-1");
    let trace: Value =
        serde_json::from_slice(&sb.read(out["trace_path"].as_str().unwrap())).unwrap();
    assert_eq!(trace["broker_request_digest"], evidence["request_digest"]);
    assert_no_secret(sb.path(), &[&stdout]);

    // A receipt for another scope, run or request is rejected with its code.
    let zero = "0".repeat(64);
    for (receipt, code_wanted) in [
        (
            r#"{"credential_ref":"cmd:x","request_digest":"%s","scope":["read"]}"#.to_string(),
            "broker_scope_mismatch",
        ),
        (
            r#"{"credential_ref":"cmd:x","request_digest":"%s","run_binding":"run-2"}"#.to_string(),
            "broker_run_binding_mismatch",
        ),
        (
            format!(r#"{{"credential_ref":"cmd:x","request_digest":"{zero}%s"}}"#),
            "broker_request_digest_mismatch",
        ),
        (
            r#"{"credential_ref":"cmd:x%s","scope":["write"]}"#.to_string(),
            "broker_request_digest_missing",
        ),
    ] {
        // `%s` is filled with the request digest, or with nothing where the receipt has none.
        let fill = if receipt.contains("request_digest\":\"%s") {
            "\"$digest\""
        } else {
            "\"\""
        };
        script(
            &sb,
            "broker.sh",
            &format!("digest=$(sha256sum | cut -d' ' -f1)\nprintf '{receipt}' {fill}"),
        );
        let (code, out, _) = eval(&sb, &args, &env);
        assert_eq!(code, 3, "{code_wanted}: {out}");
        assert!(
            strings(&out["reason_codes"]).contains(&code_wanted.to_string()),
            "{code_wanted}: {out}"
        );
        assert_eq!(strings(&out["violations"]), ["broker_credential_missing"]);
    }
}

#[test]
fn a_command_outside_the_allowlist_is_refused_without_running() {
    let sb = sandbox();
    script(
        &sb,
        "broker.sh",
        "touch ran\necho '{\"credential_ref\":\"cmd:x\"}'",
    );
    let args = [
        "--credential-broker",
        "command",
        "--credential-command",
        "./broker.sh",
    ];
    for allowlist in [None, Some("other-broker,/opt/broker.sh"), Some("")] {
        let env: Vec<(&str, &str)> = allowlist
            .map(|a| ("GAIT_CREDENTIAL_COMMAND_ALLOWLIST", a))
            .into_iter()
            .collect();
        let (code, out, _) = eval(&sb, &args, &env);
        assert_eq!(code, 3, "{allowlist:?}: {out}");
        assert_eq!(
            strings(&out["reason_codes"]),
            ["broker_credential_missing", "matched_rule_brokered_write"]
        );
        assert!(!sb.join("ran").exists(), "a refused command must not run");
    }
    // No shell: a command with arguments in its name is refused, not split.
    let (code, _, _) = eval(
        &sb,
        &[
            "--credential-broker",
            "command",
            "--credential-command",
            "./broker.sh; touch ran",
        ],
        &[("GAIT_CREDENTIAL_COMMAND_ALLOWLIST", "broker.sh; touch ran")],
    );
    assert_eq!(code, 3);
    assert!(!sb.join("ran").exists());
    // The command broker without a command is a usage error.
    let (code, out, _) = eval(&sb, &["--credential-broker", "command"], &[]);
    assert_eq!(code, 6, "{out}");
}

fn broker_env() -> [(&'static str, &'static str); 2] {
    [
        ("GAIT_CREDENTIAL_COMMAND_ALLOWLIST", "broker.sh"),
        ("BROKER_SECRET", SECRET),
    ]
}

const COMMAND: [&str; 4] = [
    "--credential-broker",
    "command",
    "--credential-command",
    "./broker.sh",
];

#[test]
fn a_broker_that_outlives_the_timeout_is_stopped_with_its_children() {
    let sb = sandbox();
    // The script and a background child both outlive the timeout by far, and the foreground child
    // holds the output pipe (the reference waited for such a child).
    script(
        &sb,
        "broker.sh",
        "echo $$ > pgid\nsleep 600 &\necho $! > child.pid\necho \"$BROKER_SECRET\"\nsleep 600",
    );
    let (code, out, stdout) = eval(&sb, &COMMAND, &broker_env());
    assert_eq!(code, 3, "{out}");
    assert_eq!(out["verdict"], "block");
    assert_eq!(
        strings(&out["reason_codes"]),
        ["broker_credential_missing", "matched_rule_brokered_write"]
    );
    assert_group_gone(&sb);
    assert_no_secret(sb.path(), &[&stdout]);
}

#[test]
fn a_broker_that_prints_a_mebibyte_is_stopped() {
    let sb = sandbox();
    // 1 MiB of output, then it would linger: stopped at the 16 KiB cap.
    script(
        &sb,
        "broker.sh",
        "echo $$ > pgid\nprintf '%s' \"$BROKER_SECRET\"\nhead -c 1048576 /dev/zero | tr '\\000' 'a'\nsleep 600",
    );
    let (code, out, stdout) = eval(&sb, &COMMAND, &broker_env());
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        strings(&out["reason_codes"]),
        ["broker_credential_missing", "matched_rule_brokered_write"]
    );
    assert_group_gone(&sb);
    assert_no_secret(sb.path(), &[&stdout]);
    // Plain text (with the secret) instead of JSON: refused without repeating it, in any mode.
    script(
        &sb,
        "broker.sh",
        "echo $$ > pgid\necho \"token=$BROKER_SECRET\"",
    );
    let (code, out, stdout) = eval(&sb, &COMMAND, &broker_env());
    assert_eq!(code, 3, "{out}");
    assert_no_secret(sb.path(), &[&stdout]);
    let mut args = vec![
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
    ];
    args.extend_from_slice(&COMMAND);
    let (code, text, stderr) = run_guarded(&sb, &args, &broker_env());
    assert_eq!(code, 3);
    assert!(text.contains("broker_error="), "{text}");
    assert_no_secret(sb.path(), &[&text, &stderr]);
}
