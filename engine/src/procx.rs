//! Running a child process as a capability: own process group, timeout, output cap.
//!
//! The engine never spawns processes on its own initiative: callers that may run commands (real
//! replay, the command credential broker) receive a [`ProcessSpawner`] from the CLI. [`SystemSpawner`]
//! runs the child in its own process group (a Job Object on Windows), and when the timeout passes —
//! or as soon as the child itself exits — kills the whole group, so no grandchild outlives the call
//! (DEVIATIONS #4 describes the reference's broker, whose timeout left children running). Output is
//! captured up to a cap per stream; the rest is drained and dropped so the child never blocks on a
//! full pipe — or, with [`SpawnRequest::kill_on_overflow`], the group is killed as soon as a stream
//! passes the cap.
//!
//! A process that escaped the group (e.g. with `setsid`) may keep a pipe open after the kill; the
//! readers are then given a short grace period and abandoned, so the call still returns on time.
//!
//! Timing is measured only to enforce the timeout; nothing returned depends on the clock except
//! whether the timeout fired.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct SpawnRequest<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub cwd: &'a Path,
    pub timeout: Duration,
    /// Bytes kept per stream (stdout and stderr each).
    pub output_cap: usize,
    /// Bytes written to the child's stdin (then closed); empty = stdin is `/dev/null`.
    pub stdin: &'a [u8],
    /// Kill the group as soon as a stream passes `output_cap` (instead of draining the rest).
    pub kill_on_overflow: bool,
}

impl<'a> SpawnRequest<'a> {
    /// A request with no stdin that drains output beyond the cap.
    pub fn new(
        program: &'a str,
        args: &'a [String],
        cwd: &'a Path,
        timeout: Duration,
        output_cap: usize,
    ) -> Self {
        SpawnRequest {
            program,
            args,
            cwd,
            timeout,
            output_cap,
            stdin: &[],
            kill_on_overflow: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpawnOutcome {
    /// `None` when the child was killed (timeout, overflow) or ended by a signal.
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// The group was killed because a stream passed the cap (`kill_on_overflow`).
    pub killed_on_overflow: bool,
}

/// Runs commands. Implementations decide isolation; [`SystemSpawner`] is the real one.
pub trait ProcessSpawner: Send + Sync {
    fn run(&self, req: &SpawnRequest<'_>) -> io::Result<SpawnOutcome>;
}

/// Spawns real OS processes, each in its own process group / job, killed with all its children at the
/// timeout.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemSpawner;

/// How long readers may take to see end-of-file after the group was killed.
const READER_GRACE: Duration = Duration::from_millis(500);

/// What a reader thread has captured so far (shared, so an abandoned reader's bytes are still
/// available).
#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    truncated: bool,
}

struct Reader {
    shared: Arc<Mutex<Captured>>,
    done: mpsc::Receiver<()>,
}

/// Reads a stream to its end, keeping at most `cap` bytes; raises `overflow` once the cap is passed.
fn capture(
    mut stream: impl Read + Send + 'static,
    cap: usize,
    overflow: Arc<AtomicBool>,
) -> Reader {
    let shared = Arc::new(Mutex::new(Captured::default()));
    let (tx, done) = mpsc::channel();
    let sink = Arc::clone(&shared);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let Ok(mut c) = sink.lock() else { break };
                    let room = cap.saturating_sub(c.kept.len());
                    if n > room {
                        c.truncated = true;
                        overflow.store(true, Ordering::SeqCst);
                    }
                    c.kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = tx.send(());
    });
    Reader { shared, done }
}

/// Waits for a reader until `deadline`, then takes what it captured (abandoning it if still blocked).
fn collect(reader: Option<Reader>, deadline: Instant) -> (Vec<u8>, bool) {
    let Some(r) = reader else {
        return (Vec::new(), false);
    };
    let _ = r
        .done
        .recv_timeout(deadline.saturating_duration_since(Instant::now()));
    match r.shared.lock() {
        Ok(mut c) => (std::mem::take(&mut c.kept), c.truncated),
        Err(_) => (Vec::new(), false),
    }
}

/// Feeds stdin from a thread (a child that never reads it must not block us); errors such as a
/// closed pipe are the child's business.
fn feed(stdin: Option<impl Write + Send + 'static>, bytes: &[u8]) {
    if let Some(mut pipe) = stdin {
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
}

/// Polls `exited` until it reports true, `overflow` is raised or the deadline passes; returns
/// whether it timed out.
fn wait_until(
    deadline: Instant,
    overflow: Option<&AtomicBool>,
    mut exited: impl FnMut() -> io::Result<bool>,
) -> io::Result<bool> {
    let mut pause = Duration::from_millis(1);
    loop {
        if exited()? || overflow.is_some_and(|o| o.load(Ordering::SeqCst)) {
            return Ok(false);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(true);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn stdin_mode(req: &SpawnRequest<'_>) -> std::process::Stdio {
    if req.stdin.is_empty() {
        std::process::Stdio::null()
    } else {
        std::process::Stdio::piped()
    }
}

#[cfg(unix)]
mod imp {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, Stdio};

    fn kill_group(pgid: i32) {
        // SAFETY: killpg only sends a signal; ESRCH (group already gone) is expected and ignored.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }

    /// True once the child has exited, without reaping it: while the leader is an unreaped zombie its
    /// pid (= the group id) cannot be reused, so killing the group afterwards cannot hit a stranger.
    #[cfg(target_os = "linux")]
    fn exited_unreaped(child: &mut std::process::Child) -> io::Result<bool> {
        // SAFETY: waitid writes into the zeroed siginfo we own; WNOWAIT leaves the child reapable.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let rc = libc::waitid(
                libc::P_PID,
                child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(info.si_pid() != 0)
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn exited_unreaped(child: &mut std::process::Child) -> io::Result<bool> {
        // Elsewhere the leader is reaped here; the group is killed right after.
        Ok(child.try_wait()?.is_some())
    }

    pub fn run(req: &SpawnRequest<'_>) -> io::Result<SpawnOutcome> {
        let mut child = Command::new(req.program)
            .args(req.args)
            .current_dir(req.cwd)
            .stdin(stdin_mode(req))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let pgid = child.id() as i32;
        let overflow = Arc::new(AtomicBool::new(false));
        feed(child.stdin.take(), req.stdin);
        let out = child
            .stdout
            .take()
            .map(|s| capture(s, req.output_cap, Arc::clone(&overflow)));
        let err = child
            .stderr
            .take()
            .map(|s| capture(s, req.output_cap, Arc::clone(&overflow)));
        let watch = req.kill_on_overflow.then_some(&*overflow);
        let waited = wait_until(Instant::now() + req.timeout, watch, || {
            exited_unreaped(&mut child)
        });
        // Timeout or not, nothing of the group may outlive the call.
        kill_group(pgid);
        let status = child.wait();
        let timed_out = waited?;
        let status = status?;
        let grace = Instant::now() + READER_GRACE;
        let (stdout, stdout_truncated) = collect(out, grace);
        let (stderr, stderr_truncated) = collect(err, grace);
        let killed_on_overflow =
            req.kill_on_overflow && !timed_out && (stdout_truncated || stderr_truncated);
        Ok(SpawnOutcome {
            exit_code: if timed_out || killed_on_overflow || status.signal().is_some() {
                None
            } else {
                status.code()
            },
            stdout,
            stderr,
            timed_out,
            stdout_truncated,
            stderr_truncated,
            killed_on_overflow,
        })
    }
}

#[cfg(windows)]
mod imp {
    use super::*;
    use process_wrap::std::{CommandWrap, JobObject};
    use std::process::Stdio;

    pub fn run(req: &SpawnRequest<'_>) -> io::Result<SpawnOutcome> {
        let stdin = stdin_mode(req);
        let mut cmd = CommandWrap::with_new(req.program, |c| {
            c.args(req.args)
                .current_dir(req.cwd)
                .stdin(stdin)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        });
        cmd.wrap(JobObject);
        let mut child = cmd.spawn()?;
        let overflow = Arc::new(AtomicBool::new(false));
        feed(child.stdin().take(), req.stdin);
        let out = child
            .stdout()
            .take()
            .map(|s| capture(s, req.output_cap, Arc::clone(&overflow)));
        let err = child
            .stderr()
            .take()
            .map(|s| capture(s, req.output_cap, Arc::clone(&overflow)));
        let watch = req.kill_on_overflow.then_some(&*overflow);
        let waited = wait_until(Instant::now() + req.timeout, watch, || {
            Ok(child.try_wait()?.is_some())
        });
        // Terminating the job ends every process in it, timeout or not.
        let _ = child.start_kill();
        let status = child.wait();
        let timed_out = waited?;
        let status = status?;
        let grace = Instant::now() + READER_GRACE;
        let (stdout, stdout_truncated) = collect(out, grace);
        let (stderr, stderr_truncated) = collect(err, grace);
        let killed_on_overflow =
            req.kill_on_overflow && !timed_out && (stdout_truncated || stderr_truncated);
        Ok(SpawnOutcome {
            exit_code: if timed_out || killed_on_overflow {
                None
            } else {
                status.code()
            },
            stdout,
            stderr,
            timed_out,
            stdout_truncated,
            stderr_truncated,
            killed_on_overflow,
        })
    }
}

impl ProcessSpawner for SystemSpawner {
    fn run(&self, req: &SpawnRequest<'_>) -> io::Result<SpawnOutcome> {
        imp::run(req)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str, timeout_ms: u64, cap: usize, cwd: &Path) -> SpawnOutcome {
        let args = vec!["-c".to_string(), script.to_string()];
        SystemSpawner
            .run(&SpawnRequest::new(
                "sh",
                &args,
                cwd,
                Duration::from_millis(timeout_ms),
                cap,
            ))
            .unwrap()
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[test]
    fn captures_output_and_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let out = sh(
            "echo hello; echo oops >&2; exit 3",
            10_000,
            1024,
            dir.path(),
        );
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.stdout, b"hello\n");
        assert_eq!(out.stderr, b"oops\n");
        assert!(!out.timed_out);
    }

    #[test]
    fn output_is_capped_and_the_child_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        // 1 MiB of output against a 100-byte cap: the rest is drained, the child finishes.
        let out = sh("head -c 1048576 /dev/zero", 10_000, 100, dir.path());
        assert_eq!(out.stdout.len(), 100);
        assert!(out.stdout_truncated);
        assert_eq!(out.exit_code, Some(0));
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        // A grandchild in the background (not holding our pipes) records its pid; both outlast the
        // timeout by far.
        let out = sh(
            "sleep 600 >/dev/null 2>&1 & echo $! > grandchild.pid; sleep 600",
            3_000,
            1024,
            dir.path(),
        );
        assert!(out.timed_out);
        assert_eq!(out.exit_code, None);
        let pid: i32 = std::fs::read_to_string(dir.path().join("grandchild.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The kill is synchronous (SIGKILL to the group); allow the kernel a moment to reap it.
        let gone = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !alive(pid) || is_zombie(pid)
        });
        assert!(gone, "grandchild {pid} survived the timeout");
    }

    #[test]
    fn background_children_do_not_outlive_a_finished_command() {
        let dir = tempfile::tempdir().unwrap();
        let out = sh(
            "sleep 600 >/dev/null 2>&1 & echo $! > bg.pid; echo done",
            10_000,
            1024,
            dir.path(),
        );
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.stdout, b"done\n");
        let pid: i32 = std::fs::read_to_string(dir.path().join("bg.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !alive(pid) || is_zombie(pid)
        });
        assert!(gone, "background child {pid} survived");
    }

    fn run_capped(script: &str, cap: usize, stdin: &[u8], cwd: &Path) -> SpawnOutcome {
        let args = vec!["-c".to_string(), script.to_string()];
        SystemSpawner
            .run(&SpawnRequest {
                stdin,
                kill_on_overflow: true,
                ..SpawnRequest::new("sh", &args, cwd, Duration::from_secs(120), cap)
            })
            .unwrap()
    }

    #[test]
    fn overflow_kills_the_group_instead_of_draining() {
        let dir = tempfile::tempdir().unwrap();
        // An endless writer would run until the (generous) timeout if output were only drained.
        let out = run_capped("yes 0123456789abcdef", 16 * 1024, b"", dir.path());
        assert!(out.killed_on_overflow);
        assert!(!out.timed_out);
        assert_eq!(out.exit_code, None);
        assert_eq!(out.stdout.len(), 16 * 1024);
        assert!(out.stdout_truncated);
    }

    #[test]
    fn stdin_reaches_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let out = run_capped("cat", 1024, b"{\"a\":1}", dir.path());
        assert_eq!(out.stdout, b"{\"a\":1}");
        assert_eq!(out.exit_code, Some(0));
        assert!(!out.killed_on_overflow);
    }

    #[test]
    fn a_process_that_left_the_group_cannot_hold_the_call() {
        let dir = tempfile::tempdir().unwrap();
        // `setsid` moves the sleeper into its own session (out of our group) while it keeps our stdout
        // pipe open; the readers are abandoned after the grace period and the call returns.
        let out = run_capped(
            "setsid sleep 600 & echo $! > escaped.pid; echo hi",
            1024,
            b"",
            dir.path(),
        );
        let pid: i32 = std::fs::read_to_string(dir.path().join("escaped.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The test started this process; end it by its id.
        // SAFETY: kill only sends a signal.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.stdout, b"hi\n");
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.split(") ")
                    .nth(1)
                    .is_some_and(|rest| rest.starts_with('Z'))
            })
            .unwrap_or(false)
    }
}
