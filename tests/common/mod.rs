//! Helpers shared by the integration tests: the sweeper binary, temp dirs, fake aiperf, pids.
#![allow(dead_code)]

pub mod batch;
pub mod tt_rules;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub fn sweeper() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sweeper"))
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fake_aiperf() -> PathBuf {
    root().join("tests/fixtures/bin/fake-aiperf")
}

pub fn fake_artifacts() -> PathBuf {
    root().join("tests/fixtures/fake-aiperf/artifacts")
}

/// Writes an executable script without this process ever holding a write handle on it: a test
/// thread that forks (to spawn anything) while another holds such a handle passes it to the child,
/// and executing the script then fails with "Text file busy" (ETXTBSY) until that child execs.
/// A separate `sh` writes it, so no handle of ours can leak into a fork.
pub fn write_executable(path: &Path, text: &str) {
    use std::io::Write;
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "could not write {}", path.display());
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The only batch directory under `out/<batch>/`.
pub fn batch_dir(out: &Path, batch: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out.join(batch))
        .unwrap_or_else(|e| panic!("no batch dir under {}: {e}", out.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "expected one batch dir, found {dirs:?}");
    dirs[0].clone()
}

pub fn read_json(p: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie counts as dead: it is not running anything.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// Waits up to `t` for `f` to be true.
pub fn wait_for(t: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < t {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// Pids written one per line into a file by the fake aiperf.
pub fn pids_in(file: &Path) -> Vec<i32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Every file under `dir`, recursively.
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The real aiperf from sweeper's managed venv (built from PyPI on first use, as a user's first
/// run would) and the offline tokenizer built in it.
pub fn managed_aiperf() -> (PathBuf, PathBuf) {
    static ONCE: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let settings = sweeper::config::AiperfSettings::default();
        let mut log = |l: &str| eprintln!("managed venv: {l}");
        let a = sweeper::run::venv::ensure(&settings, &mut log)
            .unwrap_or_else(|e| panic!("the managed aiperf venv could not be provided: {e}"));
        let t = sweeper::run::venv::offline_tokenizer(&a, &mut log)
            .unwrap_or_else(|e| panic!("the offline tokenizer could not be built: {e}"));
        (a.exe, t)
    })
    .clone()
}

/// Live processes whose environment holds `key=value` (e.g. a batch's SWEEPER_BATCH_DIR).
pub fn pids_with_env(key: &str, value: &str) -> Vec<i32> {
    let want = format!("{key}={value}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()) && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}
