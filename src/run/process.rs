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
    if child.try_wait().ok().flatten().is_none() || group_alive(pgid) {
        signal_group(pgid, libc::SIGTERM);
        let _ = tokio::time::timeout(grace, child.wait()).await;
    }
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
