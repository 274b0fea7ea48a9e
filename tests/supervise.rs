//! The supervisor (`sweeper __supervise`, and the same code as the small program
//! `sweeper-supervise` that sweeper starts when it lies next to it): what a program leaves behind
//! when it exits is stopped (adopted orphans included, the scan-free path when nothing is left),
//! and it exits as the program did; a supervisor started ahead of its run (`--program-on-stdin`)
//! runs what it is sent, where and with the `TMPDIR` it is sent, and exits at once when it is
//! not needed.

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

/// A supervisor started ahead of its run: `(dir, tmp, argv)` as NUL-terminated fields on stdin.
fn warm(small: bool, message: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = supervisor(small)
        .process_group(0)
        .args(["--parent", &std::process::id().to_string(), "--grace-s", "2"])
        .arg("--program-on-stdin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It is up (and has waited) before it learns what to run.
    std::thread::sleep(Duration::from_millis(200));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(message).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn fields(parts: &[&str]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.bytes().chain([0])).collect()
}

#[test]
fn a_warm_supervisor_runs_what_it_is_sent_where_it_is_told() {
    for small in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run dir");
        let private = tmp.path().join("tmp");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::create_dir_all(&private).unwrap();
        let pidfile = run.join("pid");
        let script = "pwd; echo \"$TMPDIR\"; echo \"$1\"; read x && echo \"stdin: $x\"; sleep 300 & echo $! > pid; exit 3";
        let msg = fields(&[
            run.to_str().unwrap(),
            private.to_str().unwrap(),
            "sh",
            "-c",
            script,
            "sh",
            "an argument with spaces",
        ]);
        let out = warm(small, &msg);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            stdout.lines().collect::<Vec<_>>(),
            [run.to_str().unwrap(), private.to_str().unwrap(), "an argument with spaces"],
            "the program reads no stdin (none is given), and runs in its dir with its TMPDIR"
        );
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        assert!(
            wait_for(Duration::from_secs(30), || !pid_alive(pid)),
            "what the program left ({pid}) survived"
        );
    }
}

#[test]
fn a_warm_supervisor_that_is_not_needed_exits_at_once_and_runs_nothing() {
    for small in [true, false] {
        for message in [&b""[..], b"/tmp\0/tmp\0", b"/tmp\0/tmp\0sh\0-c\0touch /tmp/never"] {
            let start = std::time::Instant::now();
            let out = warm(small, message);
            assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(out.stdout.is_empty() && out.stderr.is_empty());
            assert!(start.elapsed() < Duration::from_secs(20));
        }
        assert!(!std::path::Path::new("/tmp/never").exists());
    }
}
