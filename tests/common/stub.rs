//! Stand-ins for programs sweeper runs: the fake aiperf (`tests/fixtures/bin/fake-aiperf`, for the
//! failure modes a real one cannot produce on demand), wrappers around it, a stand-in Python, and
//! the config and command that run a sweep with the fake aiperf against a command server.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{root, sweeper};

/// The fake aiperf script.
pub fn fake_aiperf() -> PathBuf {
    root().join("tests/fixtures/bin/fake-aiperf")
}

/// The artifacts the fake aiperf copies into its artifact dir (`FAKE_AIPERF_ARTIFACTS`).
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

/// Writes a stub aiperf at `path`: a shell script that runs `before` (shell lines), then execs
/// the fake aiperf with its arguments.
pub fn stub_aiperf(path: &Path, before: &str) {
    write_executable(
        path,
        &format!("#!/bin/sh\n{before}\nexec {} \"$@\"\n", fake_aiperf().display()),
    );
}

/// The `server.argv` of a real HTTP server (python's http.server) on 127.0.0.1:`port`.
pub fn http_server(port: u16) -> String {
    format!("[python3, -m, http.server, \"{port}\", --bind, 127.0.0.1]")
}

/// Writes `<dir>/cfg.yaml`: batch `t` under `<dir>/out`, a command server (`server_cmd`, an argv
/// in YAML) on `port`, the fake aiperf with a `timeout_s` per run, concurrency 1, 2, 4; `extra`
/// is appended to the YAML.
pub fn fake_config(
    dir: &Path,
    server_cmd: &str,
    port: u16,
    timeout_s: u32,
    extra: &str,
) -> PathBuf {
    let out = dir.join("out");
    let yaml = format!(
        "batch_name: t\noutput_base_dir: {out}\nserver:\n  kind: command\n  argv: {server_cmd}\n  url: http://127.0.0.1:{port}\n  health_path: /\n  startup_timeout_s: 60\n  stop_grace_s: 2\naiperf:\n  executable: {fake}\n  run_timeout_s: {timeout_s}\nbase_config:\n  model: m\nsweeps:\n  concurrency: [1, 2, 4]\n{extra}",
        out = out.display(),
        fake = fake_aiperf().display(),
    );
    super::config::write(dir, "cfg.yaml", &yaml)
}

/// `sweeper -c cfg` with the fake aiperf's environment: fixture artifacts, an invocation counter
/// (for `FAKE_AIPERF_MODE_<n>`) and a file collecting the pids it starts (`<tmp>/pids`).
pub fn fake_sweep(cfg: &Path, tmp: &Path) -> Command {
    let mut c = sweeper();
    c.arg("-c")
        .arg(cfg)
        .env("FAKE_AIPERF_ARTIFACTS", fake_artifacts())
        .env("FAKE_AIPERF_COUNTER", tmp.join("n"))
        .env("FAKE_AIPERF_PIDS", tmp.join("pids"));
    c
}

/// Writes a fake `python3` into `dir`: reports `version`, and `-m venv D` creates `D/bin/pip`,
/// whose `install aiperf==V` creates `D/bin/aiperf` printing V (or fails when `pip_fails`).
/// Each pip call is logged to `<dir>/pip.log`.
pub fn stub_python(dir: &Path, version: &str, pip_fails: bool) -> PathBuf {
    let log = dir.join("pip.log");
    let py = dir.join("python3");
    let fail = if pip_fails {
        "echo 'ERROR: Could not find a version that satisfies the requirement (from versions: none)' >&2; exit 1"
    } else {
        ":"
    };
    let script = format!(
        r#"#!/usr/bin/env bash
if [ "$1" = "-c" ]; then echo "{version}"; exit 0; fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  d="$3"; mkdir -p "$d/bin"; ln -sf "{py}" "$d/bin/python"
  cat > "$d/bin/pip" <<PIP
#!/usr/bin/env bash
echo "\$@" >> "{log}"
sleep 0.3
{fail}
for a in "\$@"; do case "\$a" in aiperf==*) v="\${{a#aiperf==}}";; esac; done
printf '#!/bin/sh\necho %s\n' "\$v" > "$d/bin/aiperf"; chmod +x "$d/bin/aiperf"
PIP
  chmod +x "$d/bin/pip"; exit 0
fi
exit 2
"#,
        py = dir.join("python3").display(),
        log = log.display(),
    );
    write_executable(&py, &script);
    py
}
