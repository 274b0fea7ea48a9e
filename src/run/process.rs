//! Child processes in their own process group: spawn, and stop the whole group with SIGTERM,
//! a grace period, then SIGKILL. aiperf starts a dozen Python service processes and servers
//! fork workers: signalling only the leader would orphan them, so we always signal the group.

use std::time::Duration;

use tokio::process::Child;

/// Sends `sig` to the process group `pgid`. Returns false when the group no longer exists.
pub fn signal_group(pgid: i32, sig: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: killpg only sends a signal; a stale pgid yields ESRCH, which we report as false.
    unsafe { libc::killpg(pgid, sig) == 0 }
}

/// True while any process of the group is alive (zombies included until reaped).
pub fn group_alive(pgid: i32) -> bool {
    signal_group(pgid, 0)
}

/// Stops a child and its whole process group: SIGTERM, wait up to `grace`, SIGKILL.
/// Returns once the leader is reaped and no member of the group is left (or after a bound).
pub async fn stop_group(child: &mut Child, pgid: i32, grace: Duration) {
    let exited = child.try_wait().ok().flatten().is_some();
    // The usual end: the leader exited and took its group with it.
    if exited && !group_alive(pgid) {
        return;
    }
    signal_group(pgid, libc::SIGTERM);
    let _ = tokio::time::timeout(grace, child.wait()).await;
    // Members that outlive the leader (or ignore SIGTERM) get SIGKILL.
    let deadline = tokio::time::Instant::now() + grace;
    while group_alive(pgid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if group_alive(pgid) {
        signal_group(pgid, libc::SIGKILL);
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    // Give the kernel a moment to reap killed members (they are children of init now).
    for _ in 0..40 {
        if !group_alive(pgid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Kills the group at once (second Ctrl-C).
pub fn kill_group_now(pgid: i32) {
    signal_group(pgid, libc::SIGKILL);
}

/// "exit code 3" / "signal 9 (SIGKILL)" for messages.
pub fn describe_status(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    }
}

/// The last `n` lines of a log file, for error messages.
pub fn tail(path: &std::path::Path, n: usize) -> String {
    let text =
        std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Asks the kernel to SIGTERM the child when sweeper dies (even by `kill -9`), so a killed
/// sweeper does not leave aiperf or a server running unattended (Linux `PR_SET_PDEATHSIG`).
pub fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// Processes (other than this one) whose environment marks them as children of the batch at
/// `batch_dir` ([`super::supervise::BATCH_ENV`]): left behind by an earlier session.
pub fn leftovers(batch_dir: &std::path::Path) -> Vec<i32> {
    let want = format!("{}={}", super::supervise::BATCH_ENV, batch_dir.display());
    let me = std::process::id().cast_signed();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) && !is_zombie(pid) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

/// Stops leftover processes of an earlier session (see [`leftovers`]): SIGTERM, up to `grace`,
/// SIGKILL. Returns (the pids found, those still running afterwards: not ours to kill).
pub fn stop_leftovers(batch_dir: &std::path::Path, grace: Duration) -> (Vec<i32>, Vec<i32>) {
    let found = leftovers(batch_dir);
    if found.is_empty() {
        return (found, Vec::new());
    }
    let signal_all = |sig: i32| {
        for &pid in &found {
            // SAFETY: kill(2) with a pid we just read; ESRCH/EPERM are reported by re-scanning.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    };
    signal_all(libc::SIGTERM);
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline && !leftovers(batch_dir).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal_all(libc::SIGKILL);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline && !leftovers(batch_dir).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let alive = leftovers(batch_dir);
    (found, alive)
}
