//! `gait`: the command-line interface. All logic lives in gait-engine; this binary parses, renders
//! and exits with the stable codes.

mod cli;
mod commands;

/// Meters allocations per thread: the memory limit of Rhai grader scripts (see gait-sandbox).
#[global_allocator]
static ALLOC: gait_sandbox::MeteredAlloc = gait_sandbox::MeteredAlloc;

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = cli::main(argv);
    std::process::exit(code);
}
