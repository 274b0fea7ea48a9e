//! The managed venv's logic (build once, reuse, rebuild when broken, lock, clear errors), driven
//! with a stand-in Python that creates a venv layout without the network. The real venv with the
//! real aiperf from PyPI is exercised by the end-to-end tests.

mod common;

use std::path::Path;

use common::stub::stub_python;
use sweeper::config::AiperfSettings;
use sweeper::run::venv;

fn settings(py: &Path, venv_dir: &Path) -> AiperfSettings {
    AiperfSettings {
        python: Some(py.display().to_string()),
        venv_dir: Some(venv_dir.to_path_buf()),
        ..AiperfSettings::default()
    }
}

fn pip_calls(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("pip.log")).unwrap_or_default().lines().count()
}

#[test]
fn builds_once_then_reuses() {
    let tmp = tempfile::tempdir().unwrap();
    let py = stub_python(tmp.path(), "3.12", false);
    let s = settings(&py, &tmp.path().join("venv"));
    let a = venv::ensure(&s, &mut |_| {}).unwrap();
    assert_eq!(a.version, "0.13.0");
    assert!(a.exe.ends_with("venv/bin/aiperf"));
    assert_eq!(pip_calls(tmp.path()), 1);
    let line = std::fs::read_to_string(tmp.path().join("pip.log")).unwrap();
    assert!(line.contains("aiperf==0.13.0"), "{line}");
    venv::ensure(&s, &mut |_| {}).unwrap();
    venv::ensure(&s, &mut |_| {}).unwrap();
    assert_eq!(pip_calls(tmp.path()), 1, "a complete venv is reused");
}

#[test]
fn half_built_or_other_version_venv_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let py = stub_python(tmp.path(), "3.11", false);
    let dir = tmp.path().join("venv");
    // Half built: the directory exists, aiperf even exists, but no completion marker.
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/aiperf"), "#!/bin/sh\necho 0.13.0\n").unwrap();
    std::fs::write(dir.join("junk"), "left by a killed pip").unwrap();
    let mut lines = Vec::new();
    venv::ensure(&settings(&py, &dir), &mut |l| lines.push(l.to_owned())).unwrap();
    assert_eq!(pip_calls(tmp.path()), 1);
    assert!(!dir.join("junk").exists(), "the broken venv was removed first");
    assert!(lines.iter().any(|l| l.contains("removing the incomplete venv")), "{lines:?}");
    // Another pinned version: rebuilt, not reused.
    let mut s = settings(&py, &dir);
    s.version = "0.14.0".into();
    let a = venv::ensure(&s, &mut |_| {}).unwrap();
    assert_eq!(a.version, "0.14.0");
    assert_eq!(pip_calls(tmp.path()), 2);
}

#[test]
fn two_builders_at_once_build_once() {
    let tmp = tempfile::tempdir().unwrap();
    let py = stub_python(tmp.path(), "3.12", false);
    let s = settings(&py, &tmp.path().join("venv"));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || venv::ensure(&s, &mut |_| {}).map(|a| a.exe))
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().is_ok());
    }
    assert_eq!(pip_calls(tmp.path()), 1, "the lock serialises builders; the rest reuse");
}

#[test]
fn unsupported_python_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let py = stub_python(tmp.path(), "3.9", false);
    let e = venv::ensure(&settings(&py, &tmp.path().join("v")), &mut |_| {}).unwrap_err();
    assert!(e.message.contains("Python 3.9") && e.message.contains("3.11 to 3.13"), "{e}");
    let e = venv::ensure(
        &settings(Path::new("/nonexistent/python3"), &tmp.path().join("v")),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.message.contains("failed to run Python"), "{e}");
    assert!(e.hint.contains("install Python"), "{e}");
}

#[test]
fn unreachable_index_is_a_clear_error_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let py = stub_python(tmp.path(), "3.12", true);
    let dir = tmp.path().join("v");
    let e = venv::ensure(&settings(&py, &dir), &mut |_| {}).unwrap_err();
    assert!(
        e.message.contains("pip install aiperf==0.13.0")
            && e.message.contains("Could not find a version"),
        "{e}"
    );
    assert!(e.hint.contains("package index"), "{e}");
    // Through the CLI: exit 2, and the next attempt starts clean (no marker was written).
    let cfg = common::config::write(
        tmp.path(),
        "c.yaml",
        &format!(
            "base_config: {{model: m, url: 'http://127.0.0.1:9'}}\naiperf: {{python: {}, venv_dir: {}}}\n",
            py.display(),
            dir.display()
        ),
    );
    let out = common::sweeper().args(["setup", "-c"]).arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(common::text(&out).contains("package index"));
    assert!(!dir.join(".sweeper-venv.json").exists());
}
