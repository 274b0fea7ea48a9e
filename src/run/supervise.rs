//! The supervisor that makes every server and every aiperf die with sweeper, however sweeper
//! dies: `sweeper __supervise --parent PID --grace-s G [--on-exit CMD] -- PROGRAM ARGS...`,
//! and the batch's [`Guardian`] (`--guard`), which does it for aiperf runs.
//!
//! sweeper starts each server through one of these, as the leader of a new process group (and
//! each aiperf when the guardian could not start). The
//! supervisor asks the kernel for SIGUSR1 when sweeper dies (`PR_SET_PDEATHSIG`, which reaches
//! direct children only), starts the program in its own group, and waits. When sweeper dies --
//! even by `kill -9` -- it stops the whole group (SIGTERM, the grace period, SIGKILL), which
//! reaches the grandchildren that `PR_SET_PDEATHSIG` alone misses (aiperf's services, a shell's
//! background jobs), runs `--on-exit` (e.g. `docker stop NAME`) and exits. When the program ends
//! on its own, what it left in the group is stopped the same way, and the supervisor exits as
//! the program did (same code, or the same signal), so sweeper sees the program's own status.
//!
//! Why a process and not a cgroup: moving processes into a cgroup needs write access to the
//! cgroup hierarchy (root, or systemd's delegation), which neither ordinary users nor many
//! containers have; a supervisor needs nothing but `fork`. Processes that leave the group
//! (`setsid`) escape it; every child is also marked with `SWEEPER_BATCH_DIR`, so a later
//! `--resume` finds and stops any that survived.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The environment variable naming the batch directory, set on every child sweeper starts.
pub const BATCH_ENV: &str = "SWEEPER_BATCH_DIR";
/// The hidden subcommand.
pub const SUBCOMMAND: &str = "__supervise";

static PARENT_DIED: AtomicBool = AtomicBool::new(false);
/// Write end of a pipe the death handler writes to, so the wait below wakes at once.
static WAKE_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_parent_death(_: libc::c_int) {
    PARENT_DIED.store(true, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; one byte from a static buffer.
        unsafe {
            libc::write(fd, b"x".as_ptr().cast(), 1);
        }
    }
}

/// Waits until the child `pid` may have exited or sweeper died (a pidfd and the wake pipe in one
/// poll: no latency, no busy loop); falls back to a 20 ms sleep where pidfds are missing.
struct Waiter {
    pidfd: i32,
    wake: i32,
}

impl Waiter {
    fn new(pid: u32) -> Self {
        let mut fds = [-1i32; 2];
        // SAFETY: pipe2 fills a two-int array; pidfd_open takes a pid and flags only.
        let pidfd = unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) == 0 {
                WAKE_FD.store(fds[1], Ordering::SeqCst);
            }
            i32::try_from(libc::syscall(libc::SYS_pidfd_open, pid, 0)).unwrap_or(-1)
        };
        Waiter { pidfd, wake: fds[0] }
    }

    fn wait(&self) {
        if self.pidfd < 0 || self.wake < 0 {
            std::thread::sleep(Duration::from_millis(20));
            return;
        }
        let mut fds = [
            libc::pollfd { fd: self.pidfd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.wake, events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: poll on two valid descriptors; a 1 s timeout re-checks the flags anyway.
        unsafe {
            libc::poll(fds.as_mut_ptr(), 2, 1000);
        }
    }
}

extern "C" fn on_stop_request(_: libc::c_int) {
    // The group is being stopped by sweeper: the program got the same signal. The supervisor
    // stays until the program is gone, so it can still clean up if sweeper dies meanwhile.
}

/// How sweeper starts its children: under a supervisor (sweeper's own executable), each marked
/// with the batch directory.
#[derive(Debug, Clone)]
pub struct Supervision {
    /// sweeper's own executable.
    pub exe: std::path::PathBuf,
    /// The batch directory (absolute), set as [`BATCH_ENV`] on every child.
    pub batch_dir: std::path::PathBuf,
}

impl Supervision {
    /// A command that runs `program` under a supervisor, as the leader of a new process group,
    /// with stdin closed and the batch marker in its environment. `on_exit` runs if sweeper
    /// dies (e.g. `docker stop NAME`).
    pub fn command(
        &self,
        program: &[String],
        grace: Duration,
        on_exit: Option<&[String]>,
    ) -> tokio::process::Command {
        let argv = wrap(&self.exe, grace, on_exit, program);
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env(BATCH_ENV, &self.batch_dir)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        cmd
    }
}

/// The batch's guardian: one process, started with the batch's first aiperf run, that stops
/// every aiperf process group sweeper tells it of when sweeper dies (`kill -9` included).
///
/// aiperf runs are started by sweeper itself, not through a supervisor each: a supervisor sat
/// between aiperf's exit and sweeper (its own exit and SIGCHLD) and between sweeper and the next
/// run's start (a wake-up and a fork), each a wake-up of another CPU, ~0.5 ms a run on a VM;
/// and it cost an exec per run. sweeper writes `+PGID` when a run starts and `-PGID` once its
/// group is gone; `end` before it closes the pipe on its way out. When the pipe closes without
/// `end` (sweeper died: the kernel closed it), the guardian has read every line written before
/// (they stay in the pipe), and stops the groups still listed: SIGTERM, the grace period,
/// SIGKILL; then it removes the batch's private temp dirs, which only sweeper's own end (or a
/// later `--resume`) would have. What a run's processes leave behind is stopped by the run stage itself
/// ([`super::process::stop_group`]); what leaves the group (`setsid`) is found by its
/// [`BATCH_ENV`] marker on `--resume`.
pub struct Guardian {
    stdin: tokio::process::ChildStdin,
    child: tokio::process::Child,
    /// Groups gone whose `-PGID` goes out with the next line: one write (one wake-up of the
    /// guardian) per run, not two.
    gone: String,
}

impl Supervision {
    /// Starts the batch's guardian (`--guard`), in a process group of its own so that the
    /// terminal's Ctrl-C does not reach it.
    pub fn guardian(&self, grace: Duration) -> std::io::Result<Guardian> {
        let mut argv = wrap(&self.exe, grace, None, &[]);
        argv.pop(); // "--": a guardian runs no program.
        argv.push(GUARD.to_owned());
        let mut child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env(BATCH_ENV, &self.batch_dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(false)
            .spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
        Ok(Guardian { stdin, child, gone: String::new() })
    }

    /// A command that runs `program` directly (no supervisor: the batch's [`Guardian`] is told
    /// its group), as the leader of a new process group, with stdin closed and the batch marker
    /// in its environment.
    pub fn guarded(&self, program: &[String]) -> tokio::process::Command {
        // An empty program fails to start (the caller refuses one first).
        let (exe, args) = program.split_first().map_or(("", &[][..]), |(e, a)| (e.as_str(), a));
        let mut cmd = tokio::process::Command::new(exe);
        cmd.args(args)
            .env(BATCH_ENV, &self.batch_dir)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        cmd
    }
}

impl Guardian {
    /// Tells it of a group to stop if sweeper dies (and of the groups gone since the last
    /// call). An error: the guardian is gone.
    pub async fn track(&mut self, pgid: i32) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let lines = format!("{}+{pgid}\n", std::mem::take(&mut self.gone));
        self.stdin.write_all(lines.as_bytes()).await
    }

    /// Notes that a group is gone (stopped by the run stage): the guardian is told with the
    /// next [`Guardian::track`], or [`Guardian::tell_gone`] before a long wait. Should sweeper
    /// die before, stopping a group that is gone signals nothing (its id is not reused within
    /// the moment between two runs).
    pub fn untrack(&mut self, pgid: i32) {
        self.gone.push_str(&format!("-{pgid}\n"));
    }

    /// Tells it of the groups gone now, before a wait that may be long (a server's start): a
    /// group id may be reused by then, and it must not stop that group should sweeper die.
    pub async fn tell_gone(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        if self.gone.is_empty() {
            return Ok(());
        }
        let lines = std::mem::take(&mut self.gone);
        self.stdin.write_all(lines.as_bytes()).await
    }

    /// Ends it when the batch ends (`end`, then the pipe closes): it stops nothing and exits
    /// at once; waited for, so that nothing of the batch is left.
    pub async fn dismiss(mut self) {
        use tokio::io::AsyncWriteExt;
        let _ = self.stdin.write_all(b"end\n").await;
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

/// The option that makes the supervisor a [`Guardian`].
pub const GUARD: &str = "--guard";

/// Runs a guardian (see [`Guardian`]): reads `+PGID`, `-PGID` and `end` lines from stdin until
/// it closes; stops the groups still listed unless `end` came first.
fn guard(grace: Duration) -> u8 {
    use std::io::BufRead;
    let mut groups = std::collections::BTreeSet::new();
    let mut ended = false;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim();
        if line == "end" {
            ended = true;
        } else if let Some(g) = line.strip_prefix('+').and_then(|g| g.parse::<i32>().ok()) {
            groups.insert(g);
        } else if let Some(g) = line.strip_prefix('-').and_then(|g| g.parse::<i32>().ok()) {
            groups.remove(&g);
        }
    }
    if !ended {
        stop_groups(&groups, grace);
        // sweeper died without removing its runs' private temp dirs (in use, and the spare);
        // the guardian has the same TMPDIR and batch directory.
        if let Some(dir) = std::env::var_os(BATCH_ENV) {
            super::aiperf::remove_stale_tmp_dirs(std::path::Path::new(&dir));
        }
    }
    0
}

/// SIGTERM to each group, up to `grace` for them all to go, then SIGKILL to those left.
fn stop_groups(groups: &std::collections::BTreeSet<i32>, grace: Duration) {
    let alive = |g: i32| super::process::group_alive(g);
    for &g in groups {
        super::process::signal_group(g, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && groups.iter().any(|&g| alive(g)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &g in groups.iter().filter(|&&g| alive(g)) {
        super::process::signal_group(g, libc::SIGKILL);
    }
}

/// The file name of the supervisor as a program of its own (`src/bin/sweeper-supervise.rs`).
pub const SMALL_SUPERVISOR: &str = "sweeper-supervise";

/// `sweeper-supervise` next to sweeper's executable `exe`, when it is there (`cargo build` and
/// `cargo install` put it there). It does what `sweeper __supervise` does with ~1 ms less CPU
/// per start (713 relocations to the full binary's 30,000). Without it (only `sweeper` copied
/// somewhere), `sweeper __supervise` is used.
fn small_supervisor(exe: &std::path::Path) -> Option<std::path::PathBuf> {
    let small = exe.with_file_name(SMALL_SUPERVISOR);
    small.is_file().then_some(small)
}

/// The argv that runs `program` under a supervisor (`exe` is sweeper's own executable).
pub fn wrap(
    exe: &std::path::Path,
    grace: Duration,
    on_exit: Option<&[String]>,
    program: &[String],
) -> Vec<String> {
    let mut v = match small_supervisor(exe) {
        Some(small) => vec![small.display().to_string()],
        None => vec![exe.display().to_string(), SUBCOMMAND.to_owned()],
    };
    v.extend([
        "--parent".to_owned(),
        std::process::id().to_string(),
        "--grace-s".to_owned(),
        format!("{}", grace.as_secs_f64()),
    ]);
    if let Some(cmd) = on_exit {
        v.push("--on-exit".to_owned());
        v.push(shell_words::join(cmd));
    }
    v.push("--".to_owned());
    v.extend(program.iter().cloned());
    v
}

/// Options of the supervisor, parsed by hand (it is not a user-facing command).
struct Args {
    parent: i32,
    grace: Duration,
    on_exit: Option<Vec<String>>,
    program: Vec<String>,
    /// `--guard`: the batch's [`Guardian`], which runs no program.
    guard: bool,
}

/// Why the supervisor's arguments are wrong (sweeper wrote them: a bug if it happens).
#[derive(Debug, thiserror::Error)]
enum ArgsError {
    #[error("bad --grace-s")]
    Grace,
    #[error("--on-exit needs a command")]
    OnExit,
    #[error("--on-exit: {0}")]
    OnExitWords(#[from] shell_words::ParseError),
    #[error("unknown option `{0}`")]
    Unknown(String),
    #[error("no program to supervise (or one after --guard)")]
    NoProgram,
    #[error("--parent PID is required")]
    NoParent,
}

fn parse(args: &[String]) -> Result<Args, ArgsError> {
    let mut parent = None;
    let mut grace = Duration::from_secs(10);
    let mut on_exit = None;
    let mut guard = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--parent" => parent = it.next().and_then(|v| v.parse().ok()),
            "--grace-s" => {
                let s: f64 = it.next().and_then(|v| v.parse().ok()).ok_or(ArgsError::Grace)?;
                grace = crate::run::aiperf::secs(s);
            }
            "--on-exit" => {
                let cmd = it.next().ok_or(ArgsError::OnExit)?;
                on_exit = Some(shell_words::split(cmd)?);
            }
            GUARD => guard = true,
            "--" => break,
            other => return Err(ArgsError::Unknown(other.into())),
        }
    }
    let program: Vec<String> = it.cloned().collect();
    if program.is_empty() != guard {
        return Err(ArgsError::NoProgram);
    }
    Ok(Args { parent: parent.ok_or(ArgsError::NoParent)?, grace, on_exit, program, guard })
}

fn install(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: sigaction with a zeroed struct and a handler that only stores an atomic bool.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// Runs the supervisor; returns only on an error before the program started.
pub fn main(args: &[String]) -> u8 {
    let a = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            crate::util::term::err_line(&format!("error: sweeper {SUBCOMMAND}: {e}"));
            return 2;
        }
    };
    if a.guard {
        return guard(a.grace);
    }
    install(libc::SIGUSR1, on_parent_death);
    install(libc::SIGTERM, on_stop_request);
    install(libc::SIGINT, on_stop_request);
    // SAFETY: prctl and getppid have no memory arguments.
    unsafe {
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGUSR1);
        // What the program orphans is re-parented to us, not to init: when the program has
        // ended and we have no child left, nothing it started is alive (see `no_child_left`).
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
        if libc::getppid() != a.parent {
            // sweeper died before we could ask to be told.
            return 0;
        }
    }
    let program = &a.program;
    let mut cmd = std::process::Command::new(&program[0]);
    cmd.args(&program[1..]).stdin(std::process::Stdio::null());
    crate::run::process::die_with_parent(&mut cmd);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            crate::util::term::err_line(&format!("error: failed to start `{}`: {e}", program[0]));
            return 127;
        }
    };
    let waiter = Waiter::new(child.id());
    let status = loop {
        if PARENT_DIED.load(Ordering::SeqCst) {
            stop_group(a.grace, Some(&mut child));
            if let Some(cmd) = &a.on_exit {
                let _ = std::process::Command::new(&cmd[0]).args(&cmd[1..]).status();
            }
            std::process::exit(1);
        }
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => waiter.wait(),
            Err(_) => break std::process::ExitStatus::default(),
        }
    };
    // The program is gone: nothing it started may outlive it. Without a child left there is
    // nothing to stop, and no need to scan every process of the machine for our group.
    if !no_child_left() {
        stop_group(a.grace, None);
    }
    exit_like(status)
}

/// Reaps the children that have exited (orphans we adopted as a subreaper); true when none is
/// left. Our group's members are our descendants (a process outside them cannot join a group
/// of our session), and as a subreaper every living descendant has a living ancestor among
/// our children: no child, no member.
fn no_child_left() -> bool {
    for _ in 0..100_000 {
        let mut status = 0;
        // SAFETY: waitpid on any child of ours, non-blocking, status into a local int.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        match r {
            0 => return false,
            -1 => return std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD),
            _ => {}
        }
    }
    false
}

/// Exits with the program's status: its exit code, or the signal that ended it.
fn exit_like(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        // SAFETY: plain libc calls on our own process; no core file for a re-raised crash.
        unsafe {
            let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        return 128u8.wrapping_add(u8::try_from(sig).unwrap_or(0));
    }
    u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)
}

/// The other members of our process group (the supervisor leads it).
fn members() -> Vec<i32> {
    // SAFETY: getpgrp and getpid have no arguments.
    let (pg, me) = unsafe { (libc::getpgrp(), libc::getpid()) };
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after the command name (which may hold spaces): state ppid pgrp ...
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.first() != Some(&"Z") && f.get(2).and_then(|p| p.parse::<i32>().ok()) == Some(pg) {
            out.push(pid);
        }
    }
    out
}

/// SIGTERM to the group, up to `grace` for it to empty, then SIGKILL to whatever is left.
fn stop_group(grace: Duration, child: Option<&mut std::process::Child>) {
    // SAFETY: signalling our own process group; our handler for SIGTERM only returns.
    unsafe {
        libc::killpg(libc::getpgrp(), libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    let mut child = child;
    while Instant::now() < deadline {
        if let Some(c) = child.as_mut() {
            let _ = c.try_wait();
        }
        if members().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in members() {
        // SAFETY: kill(2) on a member of our own group.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    if let Some(c) = child {
        let _ = c.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The small supervisor is used when it lies next to sweeper, `sweeper __supervise` when not.
    #[test]
    fn wrap_prefers_the_small_supervisor_next_to_sweeper() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = tmp.path().join("sweeper");
        let prog = ["aiperf".to_owned(), "profile".to_owned()];
        let g = Duration::from_secs(10);
        let argv = wrap(&exe, g, None, &prog);
        assert_eq!(argv[..2], [exe.display().to_string(), SUBCOMMAND.to_owned()]);
        assert_eq!(argv[argv.len() - 3..], ["--".to_owned(), prog[0].clone(), prog[1].clone()]);
        let small = tmp.path().join(SMALL_SUPERVISOR);
        std::fs::write(&small, "").unwrap();
        let argv = wrap(&exe, g, None, &prog);
        assert_eq!(argv[0], small.display().to_string());
        assert_eq!(argv[1], "--parent");
        assert_eq!(argv[argv.len() - 3..], ["--".to_owned(), prog[0].clone(), prog[1].clone()]);
    }
}
