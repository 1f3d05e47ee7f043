//! `gait`: the command-line interface. All logic lives in gait-engine; this binary parses, renders
//! and exits with the stable codes.
//!
//! On Linux the C `main` is ours (`no_main`): Rust's start-up wrapper reads and parses
//! `/proc/self/maps` to place a stack guard the kernel already provides, which cost ~0.1 ms of every
//! command. What the wrapper does that matters is done here instead: closed standard descriptors
//! are reopened on `/dev/null` (so no file gait opens can become its stdout) and SIGPIPE is ignored
//! (a closed pipe is an error gait reports, not a silent death). `std::env::args` still works: glibc
//! hands the arguments to the standard library's initialiser.
#![cfg_attr(all(target_os = "linux", not(test)), no_main)]

mod cli;
mod commands;

/// Meters allocations per thread: the memory limit of Rhai grader scripts (see gait-sandbox).
#[global_allocator]
static ALLOC: gait_sandbox::MeteredAlloc = gait_sandbox::MeteredAlloc;

fn run() -> i32 {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    cli::main(argv)
}

#[cfg(all(target_os = "linux", not(test)))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    sanitize_process();
    let code = run();
    std::process::exit(code);
}

/// The parts of Rust's start-up that gait relies on (see the module comment).
#[cfg(all(target_os = "linux", not(test)))]
fn sanitize_process() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: `fds` is a valid array of three pollfd for the duration of the call.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    if polled > 0 {
        for pfd in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
            // SAFETY: a NUL-terminated path; open returns the lowest free descriptor, which is
            // `pfd.fd` because the lower ones are open (or were just reopened in this loop).
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
            if fd != pfd.fd {
                // Neither the descriptor nor /dev/null can be had: refuse to run with a closed
                // stdout rather than write evidence into whatever file takes its number.
                std::process::abort();
            }
        }
    }
    // SAFETY: installing SIG_IGN for SIGPIPE has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

#[cfg(not(all(target_os = "linux", not(test))))]
fn main() {
    std::process::exit(run());
}
