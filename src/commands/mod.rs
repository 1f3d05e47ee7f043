//! The command table: every `gait` command, one entry each, grouped by module.
//!
//! Commands hold no domain logic: they turn parsed flags into engine calls and engine results into a
//! [`Response`](crate::cli::Response).

use crate::cli::Command;

mod gate;
mod keys;
// Gate depth: approvals, delegation, approved scripts, kill switch.
mod approve;
mod delegate;
mod killswitch;
pub mod plugin;
mod registry;

// Runpacks: demo, verify, run record|replay|diff|reduce|inspect|receipt, migrate.
mod demo;
mod diff;
mod migrate;
mod policy;
mod replay;
mod run;
mod runpack_io;
mod trace;
mod verify;

// Regress: init, add, bootstrap, run.
mod regress;

/// Every command, in the order `gait --help` lists them.
pub fn all() -> &'static [&'static Command] {
    static ALL: &[&Command] = &[
        &keys::INIT,
        &keys::ROTATE,
        &keys::VERIFY,
        // Runpacks.
        &demo::DEMO,
        &verify::VERIFY,
        &run::RECORD,
        &replay::REPLAY,
        &diff::DIFF,
        &run::REDUCE,
        &run::INSPECT,
        &run::RECEIPT,
        &migrate::MIGRATE,
        // Plugins and registries (gait-registry).
        &plugin::NEW,
        &plugin::PACK,
        &plugin::SIGN,
        &plugin::INSTALL,
        &plugin::LIST,
        &plugin::VERIFY,
        &plugin::UPDATE,
        &plugin::REMOVE,
        &plugin::TRUST_ADD,
        &plugin::TRUST_LIST,
        &plugin::TRUST_REMOVE,
        &plugin::TRUST_REVOKE,
        &registry::INSTALL,
        &registry::LIST,
        &registry::VERIFY,
        &registry::INDEX,
        &gate::EVAL,
        &policy::TEST,
        &policy::VALIDATE,
        &policy::FMT,
        &policy::INIT,
        &policy::SIMULATE,
        &trace::VERIFY,
        // Regress.
        &regress::INIT,
        &regress::ADD,
        &regress::BOOTSTRAP,
        &regress::RUN,
        // Gate depth.
        &approve::APPROVE,
        &delegate::MINT,
        &delegate::VERIFY,
        &approve::APPROVE_SCRIPT,
        &approve::LIST_SCRIPTS,
        &killswitch::ADD,
        &killswitch::LIST,
        &killswitch::DISABLE,
        &killswitch::EXPIRE,
    ];
    ALL
}

/// Finds the command whose words are the longest prefix of `args`; returns it and how many words it used.
pub fn find(args: &[String]) -> Option<(&'static Command, usize)> {
    let mut best: Option<(&'static Command, usize)> = None;
    for cmd in all() {
        let words: Vec<&str> = cmd.path.split(' ').collect();
        if args.len() >= words.len()
            && words.iter().zip(args).all(|(w, a)| w == a)
            && best.is_none_or(|(_, n)| words.len() > n)
        {
            best = Some((cmd, words.len()));
        }
    }
    best
}

/// Top-level usage: every command with its summary.
pub fn usage() -> String {
    let mut out = String::from(
        "gait: the execution boundary for AI agents.\n\nUsage: gait <command> [flags] [args]\n\nCommands:\n",
    );
    let width = all().iter().map(|c| c.path.len()).max().unwrap_or(0);
    for cmd in all() {
        out.push_str(&format!("  {:<width$}  {}\n", cmd.path, cmd.summary));
    }
    out.push_str(
        "\nEvery command accepts --json (one JSON object on stdout), --explain and --help.\n\
         Exit codes: 0 ok, 1 internal, 2 verification failed, 3 blocked, 4 approval required,\n\
         5 regress failed, 6 invalid input, 7 missing dependency, 8 unsafe operation refused.\n",
    );
    out
}
