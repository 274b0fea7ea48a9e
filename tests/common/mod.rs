//! Helpers shared by the integration tests: the sweeper binary, files, JSON, processes, pids;
//! batches, configs, stubs and mock servers in their own modules.
#![allow(dead_code)]

pub mod batch;
pub mod config;
pub mod mock;
pub mod stub;
pub mod tt_rules;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The sweeper binary under test.
pub fn sweeper() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sweeper"))
}

/// The crate's root directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A process's stdout then stderr, as text.
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

/// The JSON in file `p`; panics naming the file when it cannot be read or parsed.
pub fn read_json(p: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

/// Whether `pid` is a running (not zombie) process.
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

/// Every file under `dir`, recursively, sorted.
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
    out.sort();
    out
}

/// Copies a directory with its subdirectories (a fixture, aiperf's `profile_runs/`...).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        if f.file_type().unwrap().is_dir() {
            copy_dir(&f.path(), &to.join(f.file_name()));
        } else {
            std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
        }
    }
}

/// The names of the tt-style result files (`aiperf_benchmark_*`) in `dir`, sorted.
pub fn tt_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("aiperf_benchmark_"))
        .collect();
    v.sort();
    v
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
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

/// The Python of sweeper's managed venv (built on first use), without the offline tokenizer.
pub fn venv_python() -> PathBuf {
    let settings = sweeper::config::AiperfSettings::default();
    let a = sweeper::run::venv::ensure(&settings, &mut |_| {}).expect("the managed venv");
    a.exe.parent().unwrap().join("python")
}

/// The managed venv's Python and a folder `target/<folder>` for its `PYTHONPATH` holding
/// `package` (pip-installed there when `import` fails), so that a check's Python packages never
/// change the environment aiperf runs in.
pub fn python_with(import: &str, package: &str, folder: &str) -> (PathBuf, PathBuf) {
    let python = venv_python();
    let site = root().join("target").join(folder);
    let has = Command::new(&python)
        .args(["-c", &format!("import {import}")])
        .env("PYTHONPATH", &site)
        .status()
        .unwrap();
    if !has.success() {
        let st = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
            .arg(&site)
            .arg(package)
            .status()
            .expect("run pip");
        assert!(st.success(), "could not install {package} into {}", site.display());
    }
    (python, site)
}

/// The datasets the NeMo Guardrails configs (`tests/fixtures/nemo-configs/`) name, one prompt
/// each, under `<dir>/datasets/`.
pub fn nemo_datasets(dir: &Path) {
    std::fs::create_dir_all(dir.join("datasets")).unwrap();
    for d in ["agent", "code_gen", "dialog", "rag"] {
        std::fs::write(dir.join(format!("datasets/{d}.jsonl")), "{\"text\": \"hi\"}\n").unwrap();
    }
}

/// The `.yaml` and `.yml` files in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    v.sort();
    v
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

/// `n` CPU burners (`sha256sum /dev/zero`), the busy machine of the tests that need one;
/// stopped when dropped.
pub struct Burners(Vec<std::process::Child>);

impl Burners {
    pub fn start(n: usize) -> Burners {
        Burners(
            (0..n)
                .map(|_| {
                    std::process::Command::new("sha256sum")
                        .arg("/dev/zero")
                        .stdout(std::process::Stdio::null())
                        .spawn()
                        .expect("start `sha256sum /dev/zero` (coreutils)")
                })
                .collect(),
        )
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        for b in &mut self.0 {
            let _ = b.kill();
            let _ = b.wait();
        }
    }
}
