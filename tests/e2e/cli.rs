//! Global CLI conventions (CONTRACTS §1.1): version, help, unknown commands and flags, exit codes,
//! the error envelope, correlation ids, key files and the event logs.

use crate::support::Sandbox;

#[test]
fn bare_gait_prints_version() {
    let sb = Sandbox::new();
    let (code, out, err) = sb.run(&[]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "gait 0.0.0-dev\n", "")
    );
    for spelling in ["version", "--version", "-v"] {
        assert_eq!(sb.run(&[spelling]).1, "gait 0.0.0-dev\n");
    }
}

#[test]
fn version_json_is_one_sorted_object() {
    let sb = Sandbox::new();
    let (code, stdout, stderr) = sb.run(&["version", "--json"]);
    assert_eq!(code, 0);
    assert!(stderr.is_empty());
    // CONTRACTS §1.1: {"ok":true,"version":...} plus correlation_id, keys sorted.
    let re = regex_lite(&stdout);
    assert_eq!(
        re,
        "{\"correlation_id\":\"[CID]\",\"ok\":true,\"version\":\"0.0.0-dev\"}\n"
    );
}

fn regex_lite(s: &str) -> String {
    let mut out = s.to_string();
    if let Some(start) = out.find("\"correlation_id\":\"") {
        let from = start + "\"correlation_id\":\"".len();
        out.replace_range(from..from + 24, "[CID]");
    }
    out
}

#[test]
fn correlation_id_is_sha256_of_argv() {
    // CONTRACTS §1.1: hex(sha256(join(trimmed argv incl. argv[0], "\x1f")))[:24].
    let sb = Sandbox::new();
    let bin = crate::support::gait_bin();
    let (_, json) = sb.run_json(&["version", "--json"]);
    let pre = format!("{}\u{1f}version\u{1f}--json", bin.display());
    let want = &gait_engine::canon::sha256_hex(pre.as_bytes())[..24];
    assert_eq!(json["correlation_id"], want);
}

#[test]
fn unknown_command_exits_6_with_envelope() {
    let sb = Sandbox::new();
    let (code, json) = sb.run_json(&["frobnicate", "--json"]);
    assert_eq!(code, 6);
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"], "unknown command: frobnicate");
    assert_eq!(json["error_category"], "invalid_input");
    assert_eq!(json["error_code"], "invalid_input");
    assert_eq!(json["retryable"], false);
    let (code, out, _) = sb.run(&["frobnicate"]);
    assert_eq!(code, 6);
    assert!(
        out.starts_with("error: unknown command: frobnicate\n"),
        "{out}"
    );
    // The reference dispatches on the first argument alone: later words and flags are not named.
    let (code, json) = sb.run_json(&["frobnicate", "run_demo", "--json"]);
    assert_eq!(code, 6);
    assert_eq!(json["error"], "unknown command: frobnicate");
    let (_, json) = sb.run_json(&["--bogus", "--json"]);
    assert_eq!(json["error"], "unknown command: --bogus");
}

/// Vector `cli-bad-key-mode` records `unsupported key mode: "hsm"`; every command that takes a key
/// mode words it the same way.
#[test]
fn bad_key_mode_is_quoted_like_the_reference_everywhere() {
    let sb = Sandbox::new();
    sb.write("r.json", "{}");
    for args in [
        &[
            "run",
            "record",
            "--input",
            "r.json",
            "--key-mode",
            "hsm",
            "--json",
        ][..],
        &[
            "approve",
            "--intent-digest",
            &"a".repeat(64),
            "--policy-digest",
            &"b".repeat(64),
            "--ttl",
            "1h",
            "--scope",
            "tool:x",
            "--approver",
            "me",
            "--reason-code",
            "ok",
            "--key-mode",
            "hsm",
            "--json",
        ][..],
    ] {
        let (code, json) = sb.run_json(args);
        assert_eq!(code, 6, "{args:?}: {json}");
        assert_eq!(json["error"], "unsupported key mode: \"hsm\"", "{args:?}");
    }
}

#[test]
fn unknown_flag_follows_go_flag_rules() {
    let sb = Sandbox::new();
    // Before --json is parsed the error is plain text; after it, the envelope (reference behaviour).
    let (code, out, _) = sb.run(&["keys", "init", "--bogus", "--json"]);
    assert_eq!(
        (code, out.as_str()),
        (
            6,
            "keys init error: flag provided but not defined: -bogus\n"
        )
    );
    let (code, json) = sb.run_json(&["keys", "init", "--json", "-bogus"]);
    assert_eq!(code, 6);
    assert_eq!(json["error"], "flag provided but not defined: -bogus");
}

#[test]
fn integer_flag_values_fail_with_gos_wording() {
    // Go's flag package over strconv.ParseInt(s, 0, 64): syntax → `parse error`, overflow →
    // `value out of range`; decimal `1_000` is Go literal syntax and parses.
    let sb = Sandbox::new();
    for (value, why) in [
        ("two", "parse error"),
        ("1.5", "parse error"),
        ("9223372036854775808", "value out of range"),
        ("-9223372036854775809", "value out of range"),
    ] {
        let (code, json) = sb.run_json(&["approve", "--json", "--max-ops", value]);
        assert_eq!(code, 6, "{value}: {json}");
        assert_eq!(
            json["error"],
            format!("invalid value \"{value}\" for flag -max-ops: {why}")
        );
    }
    // A value that parses gets past the flag parser to the command's own checks.
    let (code, json) = sb.run_json(&["approve", "--json", "--max-ops", "1_000"]);
    assert_eq!(code, 6, "{json}");
    assert!(
        !json["error"].as_str().unwrap().contains("-max-ops"),
        "{json}"
    );
}

#[test]
fn help_and_explain_exit_zero() {
    let sb = Sandbox::new();
    let (code, out, _) = sb.run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("keys init"));
    let (code, out, _) = sb.run(&["keys", "init", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--out-dir string"), "{out}");
    let (code, out, _) = sb.run(&["keys", "init", "--explain"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1);
    assert!(
        !sb.join("gait-out").exists(),
        "--explain must not run the command"
    );
}

#[test]
fn keys_init_writes_reference_format_and_verifies() {
    let sb = Sandbox::new();
    let (code, json) = sb.run_json(&["keys", "init", "--json"]);
    assert_eq!(code, 0);
    let private = String::from_utf8(sb.read("gait-out/keys/gait_private.key")).unwrap();
    let public = String::from_utf8(sb.read("gait-out/keys/gait_public.key")).unwrap();
    // CONTRACTS §3.1: one line of standard base64 + \n; 64 and 32 bytes.
    assert!(
        private.ends_with('\n') && private.len() == 89,
        "{private:?}"
    );
    assert!(public.ends_with('\n') && public.len() == 45, "{public:?}");
    let key = gait_engine::crypto::PrivateKey::from_text(&private).unwrap();
    assert_eq!(json["key_id"], key.public().key_id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sb.join("gait-out/keys/gait_private.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (code, json) = sb.run_json(&[
        "keys",
        "verify",
        "--private-key",
        "gait-out/keys/gait_private.key",
        "--public-key",
        "gait-out/keys/gait_public.key",
        "--json",
    ]);
    assert_eq!(
        (code, json["ok"].clone()),
        (0, serde_json::Value::Bool(true))
    );
    // A second init refuses to overwrite.
    assert_eq!(sb.run(&["keys", "init"]).0, 6);
}

#[test]
fn keys_verify_rejects_mismatched_pair_and_loose_permissions() {
    let sb = Sandbox::new();
    sb.run(&["keys", "init", "--prefix", "a"]);
    sb.run(&["keys", "init", "--prefix", "b"]);
    let (code, json) = sb.run_json(&[
        "keys",
        "verify",
        "--private-key",
        "gait-out/keys/a_private.key",
        "--public-key",
        "gait-out/keys/b_public.key",
        "--json",
    ]);
    assert_eq!(code, 2);
    assert!(json["error"].as_str().unwrap().contains("does not match"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            sb.join("gait-out/keys/a_private.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let (code, json) = sb.run_json(&[
            "keys",
            "verify",
            "--private-key",
            "gait-out/keys/a_private.key",
            "--json",
        ]);
        assert_eq!(code, 6);
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .contains("readable by group or others")
        );
    }
}

#[test]
fn vector_key_pair_loads() {
    let sb = Sandbox::new();
    let (private, public) = sb.vector_keys();
    let (code, json) = sb.run_json(&[
        "keys",
        "verify",
        "--private-key",
        private.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        json["key_id"],
        "066b0de74072ae762d11550336e773ad0da69ec10eb2ff550c27b7218695ae44"
    );
}

#[test]
fn operational_and_adoption_logs_record_every_command() {
    let sb = Sandbox::new();
    let out = sb
        .gait()
        .args(["keys", "init", "--json"])
        .env("GAIT_OPERATIONAL_LOG", sb.join("logs/op.jsonl"))
        .env("GAIT_ADOPTION_LOG", sb.join("logs/adoption.jsonl"))
        .env("GAIT_ADOPTION_WORKFLOW", "onboarding")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
    let op = String::from_utf8(sb.read("logs/op.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = op
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["phase"], "start");
    assert_eq!(events[1]["phase"], "end");
    assert_eq!(events[1]["exit_code"], 0);
    assert_eq!(events[0]["correlation_id"], events[1]["correlation_id"]);
    // Both events name the command the same way, never with its positional arguments.
    assert_eq!(events[0]["command"], "keys init");
    assert_eq!(events[1]["command"], "keys init");
    let stdout: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(events[0]["correlation_id"], stdout["correlation_id"]);
    let adoption: serde_json::Value = serde_json::from_str(
        String::from_utf8(sb.read("logs/adoption.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(adoption["schema_id"], "gait.scout.adoption_event");
    assert_eq!(adoption["command"], "keys init");
    assert_eq!(adoption["workflow"], "onboarding");
    assert_eq!(adoption["success"], true);
}

#[test]
fn command_groups_list_their_subcommands() {
    let sb = Sandbox::new();
    // `--help` on a group lists its commands and succeeds.
    let (code, out, _) = sb.run(&["run", "--help"]);
    assert_eq!(code, 0);
    for sub in [
        "run record",
        "run replay",
        "run diff",
        "run reduce",
        "run inspect",
        "run receipt",
    ] {
        assert!(out.contains(sub), "{sub} missing from:\n{out}");
    }
    // A group alone is an incomplete command: exit 6, the list on stdout, the envelope with --json.
    let (code, out, _) = sb.run(&["kill-switch"]);
    assert_eq!(code, 6);
    assert!(
        out.starts_with("kill-switch error: missing subcommand"),
        "{out}"
    );
    assert!(out.contains("kill-switch add"));
    let (code, json) = sb.run_json(&["plugin", "trust", "bogus", "--json"]);
    assert_eq!(code, 6);
    assert_eq!(json["error"], "unknown plugin trust subcommand: bogus");
    assert_eq!(
        json["hint"],
        "run `gait plugin trust --help` to list its commands"
    );
    // A word that is no group stays an unknown command.
    assert_eq!(
        sb.run_json(&["nope", "--json"]).1["error"],
        "unknown command: nope"
    );
}

/// Started with stdout closed, gait still runs and its artifacts stay clean: descriptor 1 is
/// reopened on /dev/null at start-up, so no file gait opens can take its number and receive the
/// report (the start-up replaces Rust's, which did the same).
#[cfg(unix)]
#[test]
fn closed_stdout_never_lands_in_an_artifact() {
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new();
    let mut cmd = sb.std_gait();
    cmd.arg("demo");
    // SAFETY: close(2) is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let status = cmd.status().expect("run gait");
    assert_eq!(status.code(), Some(0));
    let (code, json) = sb.run_json(&["verify", "run_demo", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    let zip = sb.read("gait-out/runpack_run_demo.zip");
    assert!(zip.starts_with(b"PK\x03\x04"));
    assert!(!zip.windows(7).any(|w| w == b"run_id="));
}

/// A reader that goes away is an error gait survives and reports with an exit code, never a death
/// by SIGPIPE halfway through writing its artifacts.
#[cfg(unix)]
#[test]
fn a_closed_pipe_does_not_kill_gait() {
    use std::os::unix::process::ExitStatusExt;
    let sb = Sandbox::new();
    use std::os::unix::process::CommandExt;
    let mut cmd = sb.std_gait();
    cmd.arg("demo").stdout(std::process::Stdio::piped());
    // The test harness ignores SIGPIPE and children inherit that; a shell would not.
    // SAFETY: signal(2) is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("run gait");
    drop(child.stdout.take());
    let status = child.wait().expect("wait gait");
    assert_eq!(status.signal(), None, "killed by a signal: {status:?}");
    assert!(status.code().is_some());
    assert_eq!(sb.run_json(&["verify", "run_demo", "--json"]).0, 0);
}
