//! The supervisor (`sweeper __supervise`): what a program leaves behind when it exits is
//! stopped (adopted orphans included, the scan-free path when nothing is left), and it exits as
//! the program did.

mod common;
use common::{pid_alive, sweeper, wait_for};
use std::os::unix::process::CommandExt;
use std::time::Duration;

#[test]
fn an_orphaned_background_job_is_stopped_and_the_exit_code_is_the_programs() {
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("pid");
    // As sweeper starts it: the leader of a group of its own (it signals its whole group).
    let out = sweeper()
        .process_group(0)
        .args(["__supervise", "--parent", &std::process::id().to_string(), "--grace-s", "2", "--"])
        .args(["sh", "-c", &format!("sleep 300 & echo $! > {}; exit 3", pidfile.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || !pid_alive(pid)),
        "the orphaned sleep {pid} survived"
    );
    // Nothing left behind: the fast path, same exit code.
    // As sweeper starts it: the leader of a group of its own (it signals its whole group).
    let out = sweeper()
        .process_group(0)
        .args(["__supervise", "--parent", &std::process::id().to_string(), "--grace-s", "2", "--"])
        .args(["sh", "-c", "exit 0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}
