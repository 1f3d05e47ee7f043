//! Running a child process as a capability: own process group, timeout, output cap.
//!
//! The engine never spawns processes on its own initiative: callers that may run commands (real
//! replay, the command credential broker) receive a [`ProcessSpawner`] from the CLI. [`SystemSpawner`]
//! runs the child in its own process group (a Job Object on Windows), and when the timeout passes —
//! or as soon as the child itself exits — kills the whole group, so no grandchild outlives the call
//! (DEVIATIONS #4 describes the reference's broker, whose timeout left children running). Output is
//! captured up to a cap per stream; the rest is drained and dropped so the child never blocks on a
//! full pipe.
//!
//! Timing is measured only to enforce the timeout; nothing returned depends on the clock except
//! whether the timeout fired.

use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct SpawnRequest<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub cwd: &'a Path,
    pub timeout: Duration,
    /// Bytes kept per stream (stdout and stderr each).
    pub output_cap: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpawnOutcome {
    /// `None` when the child was killed (timeout) or ended by a signal.
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

/// Runs commands. Implementations decide isolation; [`SystemSpawner`] is the real one.
pub trait ProcessSpawner: Send + Sync {
    fn run(&self, req: &SpawnRequest<'_>) -> io::Result<SpawnOutcome>;
}

/// Spawns real OS processes, each in its own process group / job, killed with all its children at the
/// timeout.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemSpawner;

/// Reads a stream to its end, keeping at most `cap` bytes.
fn capture(
    mut stream: impl Read + Send + 'static,
    cap: usize,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut truncated = false;
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    if n > room {
                        truncated = true;
                    }
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        (kept, truncated)
    })
}

fn join(handle: Option<std::thread::JoinHandle<(Vec<u8>, bool)>>) -> (Vec<u8>, bool) {
    handle
        .and_then(|h| h.join().ok())
        .unwrap_or((Vec::new(), false))
}

/// Polls `exited` until it reports true or the deadline passes; returns whether it timed out.
fn wait_until(deadline: Instant, mut exited: impl FnMut() -> io::Result<bool>) -> io::Result<bool> {
    let mut pause = Duration::from_millis(1);
    loop {
        if exited()? {
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
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let pgid = child.id() as i32;
        let out = child.stdout.take().map(|s| capture(s, req.output_cap));
        let err = child.stderr.take().map(|s| capture(s, req.output_cap));
        let waited = wait_until(Instant::now() + req.timeout, || exited_unreaped(&mut child));
        // Timeout or not, nothing of the group may outlive the call.
        kill_group(pgid);
        let status = child.wait();
        let timed_out = waited?;
        let status = status?;
        let (stdout, stdout_truncated) = join(out);
        let (stderr, stderr_truncated) = join(err);
        Ok(SpawnOutcome {
            exit_code: if timed_out || status.signal().is_some() {
                None
            } else {
                status.code()
            },
            stdout,
            stderr,
            timed_out,
            stdout_truncated,
            stderr_truncated,
        })
    }
}

#[cfg(windows)]
mod imp {
    use super::*;
    use process_wrap::std::{CommandWrap, JobObject};
    use std::process::Stdio;

    pub fn run(req: &SpawnRequest<'_>) -> io::Result<SpawnOutcome> {
        let mut cmd = CommandWrap::with_new(req.program, |c| {
            c.args(req.args)
                .current_dir(req.cwd)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        });
        cmd.wrap(JobObject);
        let mut child = cmd.spawn()?;
        let out = child.stdout().take().map(|s| capture(s, req.output_cap));
        let err = child.stderr().take().map(|s| capture(s, req.output_cap));
        let waited = wait_until(Instant::now() + req.timeout, || {
            Ok(child.try_wait()?.is_some())
        });
        // Terminating the job ends every process in it, timeout or not.
        let _ = child.start_kill();
        let status = child.wait();
        let timed_out = waited?;
        let status = status?;
        let (stdout, stdout_truncated) = join(out);
        let (stderr, stderr_truncated) = join(err);
        Ok(SpawnOutcome {
            exit_code: if timed_out { None } else { status.code() },
            stdout,
            stderr,
            timed_out,
            stdout_truncated,
            stderr_truncated,
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
            .run(&SpawnRequest {
                program: "sh",
                args: &args,
                cwd,
                timeout: Duration::from_millis(timeout_ms),
                output_cap: cap,
            })
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
