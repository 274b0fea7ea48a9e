//! The managed Python venv that holds the pinned aiperf: found, or built once, then reused.
//!
//! Location: `aiperf.venv_dir`, else `$SWEEPER_VENV_DIR`, else
//! `<cache>/sweeper/venvs/aiperf-<version>-py<X.Y>` (`<cache>` = `$XDG_CACHE_HOME` or
//! `~/.cache`). A venv counts as built only when its marker file exists, which is written last,
//! after `aiperf --version` printed the pinned version; anything else is half-built and rebuilt.
//! A lock file keeps two sweeper processes from building the same venv at once.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::AiperfSettings;

/// Marker written last into a complete venv.
const MARKER: &str = ".sweeper-venv.json";
/// Where the offline tokenizer is built inside the venv.
const OFFLINE_TOKENIZER_DIR: &str = "sweeper-offline-tokenizer";
const TOKENIZER_SCRIPT: &str = include_str!("assets/make_offline_tokenizer.py");

/// A usable aiperf.
#[derive(Debug, Clone)]
pub struct Aiperf {
    pub exe: PathBuf,
    pub version: String,
    /// The venv, `None` when `aiperf.executable` points at an existing aiperf.
    pub venv: Option<PathBuf>,
}

/// Why aiperf could not be provided (exit code 2): what failed, and what to try.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SetupError {
    pub message: String,
    pub hint: String,
}

fn err(message: impl Into<String>, hint: impl Into<String>) -> SetupError {
    SetupError { message: message.into(), hint: hint.into() }
}

/// The Python interpreter to build the venv with.
fn python_of(settings: &AiperfSettings) -> String {
    settings.python.clone().unwrap_or_else(|| "python3".to_owned())
}

/// `X.Y` of a Python interpreter; checks it is in aiperf's supported range (3.11 to 3.13).
pub fn python_version(python: &str) -> Result<String, SetupError> {
    let out = capture(duct::cmd!(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"))
        .map_err(|e| {
            err(
                format!("failed to run Python `{python}`: {e}"),
                "install Python 3.11-3.13 (e.g. `apt-get install python3 python3-venv`) or set `aiperf.python` to an interpreter",
            )
        })?;
    if !out.status.success() {
        return Err(err(
            format!("`{python}` failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
            "set `aiperf.python` to a working Python 3.11-3.13",
        ));
    }
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let minor: u32 = v.strip_prefix("3.").and_then(|m| m.parse().ok()).unwrap_or(0);
    if !(11..=13).contains(&minor) {
        return Err(err(
            format!("`{python}` is Python {v}, but aiperf 0.13 needs Python 3.11 to 3.13"),
            "install a supported Python and set `aiperf.python: python3.12` (for example)",
        ));
    }
    Ok(v)
}

/// The venv directory for these settings.
pub fn venv_dir(settings: &AiperfSettings, py_version: &str) -> PathBuf {
    if let Some(d) = &settings.venv_dir {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("SWEEPER_VENV_DIR") {
        return PathBuf::from(d);
    }
    cache_dir()
        .join("sweeper")
        .join("venvs")
        .join(format!("aiperf-{}-py{py_version}", settings.version))
}

fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache"),
        None => std::env::temp_dir(),
    }
}

/// Returns a usable aiperf: the configured executable, or the managed venv (built if needed).
/// `log` receives progress lines.
pub fn ensure(settings: &AiperfSettings, log: &mut dyn FnMut(&str)) -> Result<Aiperf, SetupError> {
    if let Some(exe) = &settings.executable {
        if !exe.exists() {
            return Err(err(
                format!("`aiperf.executable` `{}` does not exist", exe.display()),
                "point it at an aiperf executable, or remove it to let sweeper manage a venv",
            ));
        }
        return Ok(Aiperf { exe: exe.clone(), version: settings.version.clone(), venv: None });
    }
    let python = python_of(settings);
    // Warm path, no process spawned: a complete venv built from this interpreter name.
    if let Some(a) = find_warm(settings, &python) {
        return Ok(a);
    }
    let py = python_version(&python)?;
    let dir = venv_dir(settings, &py);
    if let Some(a) = check_built(&dir, &settings.version) {
        return Ok(a);
    }
    if let Some(parent) = dir.parent() {
        fs_err::create_dir_all(parent)
            .map_err(|e| err(e.to_string(), "set SWEEPER_VENV_DIR to a writable directory"))?;
    }
    // One builder at a time: the others wait, then find the finished venv.
    let lock_path = PathBuf::from(format!("{}.lock", dir.display()));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            err(format!("failed to open lock `{}`: {e}", lock_path.display()), "check permissions")
        })?;
    if lock.try_lock().is_err() {
        log(&format!(
            "another sweeper is building this venv; waiting for `{}`",
            lock_path.display()
        ));
        lock.lock().map_err(|e| {
            err(format!("failed to lock `{}`: {e}", lock_path.display()), "check permissions")
        })?;
    }
    if let Some(a) = check_built(&dir, &settings.version) {
        return Ok(a);
    }
    if dir.exists() {
        log(&format!("removing the incomplete venv `{}`", dir.display()));
        fs_err::remove_dir_all(&dir).map_err(|e| {
            err(format!("failed to remove the broken venv: {e}"), "delete it by hand")
        })?;
    }
    let start = Instant::now();
    log(&format!(
        "creating the aiperf {} venv in `{}` (once; about a minute)",
        settings.version,
        dir.display()
    ));
    build(&python, &dir, &settings.version)?;
    let a = verify(&dir, &settings.version)?;
    let marker = serde_json::json!({
        "aiperf_version": settings.version,
        "python": python,
        "python_version": py,
        "built_at": chrono::Local::now().to_rfc3339(),
    });
    crate::records::write_json_atomic(&dir.join(MARKER), &marker)
        .map_err(|e| err(format!("failed to write the venv marker: {e}"), "check disk space"))?;
    log(&format!("venv ready in {:.1}s", start.elapsed().as_secs_f64()));
    drop(lock);
    Ok(a)
}

/// A complete venv for these settings, found without running Python: the configured directory,
/// or a cached `aiperf-<version>-py*` whose marker names the same interpreter.
fn find_warm(settings: &AiperfSettings, python: &str) -> Option<Aiperf> {
    if settings.venv_dir.is_some() || std::env::var_os("SWEEPER_VENV_DIR").is_some() {
        return check_built(&venv_dir(settings, "unused"), &settings.version);
    }
    let root = cache_dir().join("sweeper").join("venvs");
    let prefix = format!("aiperf-{}-py", settings.version);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix))
        })
        .collect();
    dirs.sort();
    dirs.into_iter().find_map(|d| {
        let text = std::fs::read_to_string(d.join(MARKER)).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        (v.get("python")?.as_str()? == python).then_some(())?;
        check_built(&d, &settings.version)
    })
}

/// The venv is complete: marker present with the right version, executable present.
fn check_built(dir: &Path, version: &str) -> Option<Aiperf> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    if v.get("aiperf_version")?.as_str()? != version {
        return None;
    }
    let exe = dir.join("bin").join("aiperf");
    let py = dir.join("bin").join("python");
    (exe.is_file() && py.exists()).then(|| Aiperf {
        exe,
        version: version.to_owned(),
        venv: Some(dir.to_path_buf()),
    })
}

/// Runs a synchronous helper (venv creation, `aiperf --version`, the tokenizer build) with no
/// stdin, capturing its output without failing on a non-zero status (the caller judges it).
fn capture(e: duct::Expression) -> std::io::Result<std::process::Output> {
    e.stdin_null().stdout_capture().stderr_capture().unchecked().run()
}

fn run_logged(cmd: duct::Expression, what: &str, hint: &str) -> Result<(), SetupError> {
    let out = capture(cmd).map_err(|e| err(format!("failed to start {what}: {e}"), hint))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let tail: Vec<&str> = text.lines().rev().take(12).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(err(format!("{what} failed ({}):\n    {}", out.status, tail.join("\n    ")), hint))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn build(python: &str, dir: &Path, version: &str) -> Result<(), SetupError> {
    let index_hint = "check that the package index (PyPI) is reachable, or set `aiperf.executable` to an installed aiperf";
    let spec = format!("aiperf=={version}");
    if on_path("uv") {
        run_logged(
            duct::cmd!("uv", "venv", "--quiet", "--python", python, dir),
            "`uv venv`",
            "check that uv works, or remove it from PATH to use python -m venv",
        )?;
        run_logged(
            duct::cmd!(
                "uv",
                "pip",
                "install",
                "--quiet",
                "--python",
                dir.join("bin/python"),
                &spec
            ),
            &format!("`uv pip install {spec}`"),
            index_hint,
        )?;
    } else {
        run_logged(
            duct::cmd!(python, "-m", "venv", dir),
            &format!("`{python} -m venv`"),
            "install the venv module (e.g. `apt-get install python3-venv`)",
        )?;
        run_logged(
            duct::cmd!(
                dir.join("bin/pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--retries",
                "2",
                "--timeout",
                "30",
                &spec
            ),
            &format!("`pip install {spec}`"),
            index_hint,
        )?;
    }
    Ok(())
}

fn verify(dir: &Path, version: &str) -> Result<Aiperf, SetupError> {
    let exe = dir.join("bin").join("aiperf");
    let out = capture(duct::cmd!(&exe, "--version")).map_err(|e| {
        err(
            format!("failed to run `{} --version`: {e}", exe.display()),
            "delete the venv and retry",
        )
    })?;
    let got = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || got != version {
        return Err(err(
            format!("`{} --version` printed `{got}`, expected `{version}`", exe.display()),
            "delete the venv directory and run again",
        ));
    }
    Ok(Aiperf { exe, version: version.to_owned(), venv: Some(dir.to_path_buf()) })
}

/// The offline tokenizer (a byte-level BPE trained on the Shakespeare text aiperf ships), built
/// once inside the venv. Loads with no model hub; do not set HF_HUB_OFFLINE with it.
pub fn offline_tokenizer(
    aiperf: &Aiperf,
    log: &mut dyn FnMut(&str),
) -> Result<PathBuf, SetupError> {
    let Some(venv) = &aiperf.venv else {
        return Err(err(
            "`tokenizer: \"@offline\"` needs the managed venv, but `aiperf.executable` is set",
            "remove `aiperf.executable`, or give `tokenizer` a local tokenizer directory",
        ));
    };
    let out = venv.join(OFFLINE_TOKENIZER_DIR);
    if out.join("tokenizer.json").is_file() {
        return Ok(out);
    }
    log("building the offline tokenizer (once)");
    let py = venv.join("bin").join("python");
    let corpus_cmd = "import aiperf,os;print(os.path.join(os.path.dirname(aiperf.__file__),'dataset/generator/assets/shakespeare.txt'))";
    let corpus = capture(duct::cmd!(&py, "-c", corpus_cmd)).map_err(|e| {
        err(format!("failed to run the venv's python: {e}"), "delete the venv and retry")
    })?;
    let corpus = String::from_utf8_lossy(&corpus.stdout).trim().to_owned();
    let script = venv.join("sweeper_make_offline_tokenizer.py");
    fs_err::write(&script, TOKENIZER_SCRIPT).map_err(|e| err(e.to_string(), "check disk space"))?;
    let tmp = venv.join(format!("{OFFLINE_TOKENIZER_DIR}.tmp-{}", std::process::id()));
    run_logged(
        duct::cmd!(&py, &script, &corpus, &tmp),
        "building the offline tokenizer",
        "delete the venv and retry",
    )?;
    fs_err::rename(&tmp, &out).map_err(|e| {
        err(format!("failed to move the tokenizer into place: {e}"), "delete the venv and retry")
    })?;
    Ok(out)
}
