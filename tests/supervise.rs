//! The supervisor (`sweeper __supervise`, and the same code as the small program
//! `sweeper-supervise` that sweeper starts when it lies next to it): what a program leaves behind
//! when it exits is stopped (adopted orphans included, the scan-free path when nothing is left),
//! and it exits as the program did.

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
