//! The supervisor (`sweeper __supervise`, and the same code as the small program
//! `sweeper-supervise` that sweeper starts when it lies next to it): what a program leaves behind
//! when it exits is stopped (adopted orphans included, the scan-free path when nothing is left),
//! and it exits as the program did; the batch's guardian (`--guard`) stops the aiperf groups it
//! was told of when sweeper dies, and nothing when the batch ends.

mod common;
use common::{pid_alive, sweeper, wait_for};
use std::os::unix::process::CommandExt;
use std::time::Duration;

/// `sweeper __supervise ARGS`, or `sweeper-supervise ARGS` when `small`.
fn supervisor(small: bool) -> std::process::Command {
    if small {
        std::process::Command::new(env!("CARGO_BIN_EXE_sweeper-supervise"))
    } else {
        let mut c = sweeper();
        c.arg("__supervise");
        c
    }
}

#[test]
fn an_orphaned_background_job_is_stopped_and_the_exit_code_is_the_programs() {
    orphan_stopped_exit_code_kept(false);
}

#[test]
fn the_small_supervisor_program_does_the_same() {
    orphan_stopped_exit_code_kept(true);
}

fn orphan_stopped_exit_code_kept(small: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("pid");
    // As sweeper starts it: the leader of a group of its own (it signals its whole group).
    let out = supervisor(small)
        .process_group(0)
        .args(["--parent", &std::process::id().to_string(), "--grace-s", "2", "--"])
        .args(["sh", "-c", &format!("sleep 300 & echo $! > {}; exit 3", pidfile.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || !pid_alive(pid)),
        "the orphaned sleep {pid} survived"
    );
    // Nothing left behind: the fast path, same exit code.
    let out = supervisor(small)
        .process_group(0)
        .args(["--parent", &std::process::id().to_string(), "--grace-s", "2", "--"])
        .args(["sh", "-c", "exit 0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// The batch's guardian (`--guard`), its stdin piped: what sweeper writes to it.
fn guardian(small: bool) -> std::process::Child {
    supervisor(small)
        .process_group(0)
        .args(["--parent", &std::process::id().to_string(), "--grace-s", "2", "--guard"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A `sleep 300` leading a process group of its own, with a background child in the same
/// group: (leader pid = pgid, the child's pid).
fn group(tmp: &std::path::Path, name: &str) -> (i32, i32) {
    let pidfile = tmp.join(name);
    let leader = std::process::Command::new("sh")
        .args(["-c", &format!("sleep 300 & echo $! > {}; exec sleep 300", pidfile.display())])
        .process_group(0)
        .spawn()
        .unwrap();
    assert!(wait_for(Duration::from_secs(30), || std::fs::read_to_string(&pidfile)
        .is_ok_and(|s| s.ends_with('\n'))));
    let child = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    // Reaped by a thread when it dies: a zombie would count as alive.
    let pid = leader.id() as i32;
    std::thread::spawn(move || {
        let mut leader = leader;
        let _ = leader.wait();
    });
    (pid, child)
}

/// sweeper died (its end of the pipe closed without `end`): every group it was told of and not
/// told is gone is stopped, members and all, lines written just before the death included; a
/// group it was told is gone is left alone.
#[test]
fn a_guardian_stops_the_groups_it_was_told_of_when_sweeper_dies() {
    use std::io::Write;
    for small in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let (a, a_child) = group(tmp.path(), "a");
        let (b, b_child) = group(tmp.path(), "b");
        let (c, c_child) = group(tmp.path(), "c");
        let mut g = guardian(small);
        let mut stdin = g.stdin.take().unwrap();
        write!(stdin, "+{a}\n+{b}\n+{c}\n-{b}\n").unwrap();
        drop(stdin); // as the kernel closes it when sweeper is killed
        let out = g.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        for p in [a, a_child, c, c_child] {
            assert!(wait_for(Duration::from_secs(30), || !pid_alive(p)), "{p} survived");
        }
        for p in [b, b_child] {
            assert!(pid_alive(p), "{p} was stopped though sweeper said its group was gone");
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
}

/// The batch ended (`end`, then the pipe closes): the guardian stops nothing and exits at once.
#[test]
fn a_dismissed_guardian_stops_nothing_and_exits_at_once() {
    use std::io::Write;
    for small in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let (a, a_child) = group(tmp.path(), "a");
        let start = std::time::Instant::now();
        let mut g = guardian(small);
        let mut stdin = g.stdin.take().unwrap();
        write!(stdin, "+{a}\nend\n").unwrap();
        drop(stdin);
        let out = g.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
        assert!(start.elapsed() < Duration::from_secs(20));
        for p in [a, a_child] {
            assert!(pid_alive(p), "{p} was stopped by a dismissed guardian");
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
}
