//! The run stage's failure modes: each leaves correct records, the other combinations still run,
//! and no process is left behind. A fake aiperf is used only where a real one cannot be made to
//! misbehave on demand (hang, crash, exit 0 without artifacts); the server is a real HTTP server.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::config::edit;
use common::stub::{
    fake_aiperf, fake_artifacts, fake_config, fake_sweep, http_server, stub_aiperf,
};
use common::*;

/// True when some `prefix` in `text` is followed by an `H:MM:SS` clock.
fn has_clock_after(text: &str, prefix: &str) -> bool {
    text.match_indices(prefix).any(|(i, _)| {
        let rest = &text[i + prefix.len()..];
        let clock: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == ':').collect();
        let parts: Vec<&str> = clock.split(':').collect();
        parts.len() == 3
            && !parts[0].is_empty()
            && parts[1..].iter().all(|p| p.len() == 2)
            && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn statuses(batch: &Path) -> Vec<String> {
    let m = read_json(&batch.join("batch_manifest.json"));
    m["runs"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap().to_owned()).collect()
}

fn process_result(batch: &Path, dir: &str) -> serde_json::Value {
    read_json(&batch.join(dir).join("process_result.json"))
}

#[test]
fn aiperf_failures_are_recorded_and_the_sweep_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 5, "");
    let pids = tmp.path().join("pids");
    let out = fake_sweep(&cfg, tmp.path())
        .env("FAKE_AIPERF_MODE_1", "fail")
        .env("FAKE_AIPERF_MODE_2", "hang")
        .env("FAKE_AIPERF_MODE_3", "noartifacts")
        .output()
        .unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "some runs failed -> exit 1\n{log}");
    let batch = batch_dir(&tmp.path().join("out"), "t");
    assert_eq!(statuses(&batch), ["failed", "timed_out", "failed"], "{log}");

    let fail = process_result(&batch, "concurrency1");
    assert_eq!(fail["returncode"], 1);
    assert!(
        fail["reason"].as_str().unwrap().contains("All 10 inference request(s) failed"),
        "{fail}"
    );
    assert!(fail["log_tail"].as_str().unwrap().contains("Reason:"));

    let hang = process_result(&batch, "concurrency2");
    assert_eq!(hang["status"], "timed_out");
    assert!(hang["reason"].as_str().unwrap().contains("per-run timeout of 5s"));
    assert!(hang["duration_s"].as_f64().unwrap() >= 5.0);

    let empty = process_result(&batch, "concurrency4");
    assert_eq!(empty["returncode"], 0);
    assert!(empty["reason"].as_str().unwrap().contains("results are incomplete"), "{empty}");

    // run_metadata.json exists for every run, written before it started.
    for d in ["concurrency1", "concurrency2", "concurrency4"] {
        let m = read_json(&batch.join(d).join("run_metadata.json"));
        assert_eq!(
            m["sweep_params"]["concurrency"].as_u64().unwrap().to_string(),
            d.trim_start_matches("concurrency")
        );
        assert!(m["command"].as_str().unwrap().contains("--artifact-dir"));
    }
    // The hung fake aiperf and its background child were stopped; so was the server.
    let pids = pids_in(&pids);
    assert!(pids.len() >= 4, "pids recorded: {pids:?}");
    for p in pids {
        assert!(wait_for(Duration::from_secs(30), || !pid_alive(p)), "process {p} was orphaned");
    }
    assert!(wait_for(Duration::from_secs(30), || !listening(port)), "server still up");
    assert!(log.contains("SUMMARY") && log.contains("failed    : 3"), "{log}");
}

#[test]
fn success_records_and_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    let out = fake_sweep(&cfg, tmp.path())
        .env("FAKE_AIPERF_MODE_2", "crash")
        .env("FAKE_AIPERF_LEAVE_TMP_1", "1")
        .env("FAKE_AIPERF_TMPDIRS", tmp.path().join("tmpdirs"))
        .output()
        .unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "t");
    assert_eq!(statuses(&batch), ["succeeded", "failed", "succeeded"], "{log}");
    let ok = process_result(&batch, "concurrency1");
    assert_eq!(ok["returncode"], 0);
    assert_eq!(ok["error_count"], 0);
    assert!(ok["reason"].is_null());
    let crash = process_result(&batch, "concurrency2");
    assert_eq!(crash["signal"], 11, "{crash}");
    assert!(crash["returncode"].is_null());
    // Layout: config copy, plan, manifest, server log, artifacts in each combination dir.
    for f in ["config.yaml", "plan.json", "batch_manifest.json", "server-0.log"] {
        assert!(batch.join(f).is_file(), "{f} missing");
    }
    assert!(batch.join("concurrency4/profile_export_aiperf.json").is_file());
    // Each run had a short private TMPDIR (aiperf's IPC socket paths must fit 107 bytes):
    // regression (issue 11), no longer a predictable name trusted if it existed, but a
    // directory with a random name and mode 0700 (mkdtemp), removed after the batch. A run
    // that leaves something in it (run 1, as aiperf leaves `aiperf_mmap_*`) hands the next run
    // a new one; a run that leaves it empty (run 2) hands it on (issue 25: no directory made
    // and deleted per run).
    let tmpdirs = std::fs::read_to_string(tmp.path().join("tmpdirs")).unwrap();
    let dirs: Vec<(&str, &str)> =
        tmpdirs.lines().map(|l| l.split_once(' ').unwrap_or((l, ""))).collect();
    assert_eq!(dirs.len(), 3, "{tmpdirs}");
    assert_ne!(dirs[0].0, dirs[1].0, "a used TMPDIR was handed on: {tmpdirs}");
    assert_eq!(dirs[1].0, dirs[2].0, "an empty TMPDIR was not handed on: {tmpdirs}");
    for (d, mode) in &dirs {
        assert!(d.len() < 40 && d.contains("/swp"), "TMPDIR `{d}`");
        assert_eq!(*mode, "700", "TMPDIR `{d}` is not private");
        assert!(!std::path::Path::new(d).exists(), "TMPDIR `{d}` left behind");
    }
    // Temp dirs a killed session left for this batch are removed by --resume.
    let prefix = dirs[0].0.rsplit_once('.').unwrap().0;
    let stale = std::path::PathBuf::from(format!("{prefix}.leftover"));
    std::fs::create_dir_all(stale.join("aiperf_mmap_x")).unwrap();
    // The config gains a `tt` section before the resume: the batch's files follow it.
    let names = |dir: &str| tt_files(&batch.join(dir));
    assert!(
        names("concurrency1")[0].starts_with("aiperf_benchmark_m_"),
        "{:?}",
        names("concurrency1")
    );
    edit(&cfg, |yaml| yaml + "tt: {impl: tt-transformers, device: n150}\n");
    let out = fake_sweep(&cfg, tmp.path()).arg("--resume").arg(&batch).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!stale.exists(), "a leftover temp dir of the batch survived --resume");
    let plan = read_json(&batch.join("plan.json"));
    assert_eq!(plan["combinations"].as_array().unwrap().len(), 3);
    assert_eq!(plan["tt_model_id"], "id_tt-transformers_m_n150");
    for dir in ["concurrency1", "concurrency2", "concurrency4"] {
        let n = names(dir);
        assert_eq!(n.len(), 1, "{dir}: {n:?}");
        assert!(n[0].starts_with("aiperf_benchmark_id_tt-transformers_m_n150_"), "{dir}: {n:?}");
    }
}

#[test]
fn server_never_ready_fails_its_combinations_without_orphans() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    // A process that never listens: the health check can never pass.
    let cfg = fake_config(tmp.path(), "[sleep, \"1000.25\"]", port, 30, "");
    edit(&cfg, |yaml| yaml.replace("startup_timeout_s: 60", "startup_timeout_s: 2"));
    let out = fake_sweep(&cfg, tmp.path()).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "t");
    assert_eq!(statuses(&batch), ["failed", "failed", "failed"]);
    let pr = process_result(&batch, "concurrency2");
    assert!(pr["reason"].as_str().unwrap().contains("did not answer 2xx within 2s"), "{pr}");
    // The server was started once, not once per combination.
    assert_eq!(log.matches("starting command server").count(), 1, "{log}");
    let left =
        std::process::Command::new("pgrep").args(["-f", "^sleep 1000.25$"]).output().unwrap();
    assert!(
        !left.status.success(),
        "the never-ready server was orphaned: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn server_that_dies_while_starting_is_reported_at_once_with_its_log() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(
        tmp.path(),
        "[sh, -c, \"echo model weights missing >&2; exit 3\"]",
        port,
        30,
        "",
    );
    let out = sweeper().arg("-c").arg(&cfg).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1));
    // Reported by the exit watch (this message), not by the start-up timeout ("not ready").
    assert!(log.contains("server exited while starting (exit code 3)"), "{log}");
    assert!(!log.contains("server not ready"), "{log}");
    assert!(log.contains("model weights missing"), "{log}");
}

#[test]
fn server_dying_mid_sweep_fails_that_run_and_is_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let pidfile = tmp.path().join("server.pid");
    let server = format!(
        "[sh, -c, \"echo $$ > {} && echo model weights loaded && exec python3 -m http.server {port} --bind 127.0.0.1\"]",
        pidfile.display()
    );
    let cfg = fake_config(tmp.path(), &server, port, 60, "");
    // Run 2 kills the server and then hangs like an aiperf waiting on a dead server.
    let killer = tmp.path().join("killer.sh");
    stub_aiperf(&killer, &format!("kill -9 $(cat {})", pidfile.display()));
    edit(&cfg, |yaml| {
        yaml.replace(&fake_aiperf().display().to_string(), &killer.display().to_string())
    });
    let out = fake_sweep(&cfg, tmp.path()).env("FAKE_AIPERF_MODE", "hang").output().unwrap();
    let log = text(&out);
    let batch = batch_dir(&tmp.path().join("out"), "t");
    let st = statuses(&batch);
    assert!(st.iter().all(|s| s == "failed"), "{st:?}\n{log}");
    let pr = process_result(&batch, "concurrency1");
    let reason = pr["reason"].as_str().unwrap();
    assert!(reason.contains("the server died during the run"), "{pr}");
    // Regression (issue 11): the reason ended with `last lines of server-0.log:` and nothing.
    assert!(reason.contains("last lines of server-0.log: model weights loaded"), "{pr}");
    // Restarted for each following combination.
    assert_eq!(log.matches("starting command server").count(), 3, "{log}");
    // Regression (issue 11): each start recreated server-0.log, erasing the earlier output.
    let server_log = std::fs::read_to_string(batch.join("server-0.log")).unwrap();
    assert_eq!(server_log.matches("--- sweeper: server-0 started").count(), 3, "{server_log}");
    assert_eq!(server_log.matches("model weights loaded").count(), 3, "{server_log}");
}

#[test]
fn api_key_never_touches_disk_or_output() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    edit(&cfg, |yaml| {
        yaml.replace("  model: m\n", "  model: m\n  api_key_env_var: SWEEPER_TEST_KEY\n")
    });
    let key = "sk-test-9f8e7d6c5b4a";
    let out = sweeper()
        .args(["-c"])
        .arg(&cfg)
        .arg("--verbose")
        .env("SWEEPER_TEST_KEY", key)
        .env("FAKE_AIPERF_ARTIFACTS", fake_artifacts())
        .env("FAKE_AIPERF_COUNTER", tmp.path().join("n"))
        .env("FAKE_AIPERF_MODE_2", "fail")
        .output()
        .unwrap();
    let log = text(&out);
    assert!(!log.contains(key), "key printed:\n{log}");
    let batch = batch_dir(&tmp.path().join("out"), "t");
    let files = all_files(&batch);
    assert!(files.len() > 10);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(key), "key written to {}", f.display());
    }
    // The fake aiperf echoes its argv: no key there, only the config file that names the
    // variable (aiperf substitutes it from its environment).
    assert!(log.contains("  | fake aiperf run"), "--verbose streams aiperf's output live:\n{log}");
    let alog = std::fs::read_to_string(batch.join("concurrency1/aiperf.log")).unwrap();
    assert!(!alog.contains("--api-key") && alog.contains("sweeper_api_key.yaml"), "{alog}");
    let kc = std::fs::read_to_string(batch.join("concurrency1/sweeper_api_key.yaml")).unwrap();
    assert!(kc.contains("${SWEEPER_TEST_KEY}"), "{kc}");
    let meta = std::fs::read_to_string(batch.join("concurrency1/run_metadata.json")).unwrap();
    assert!(meta.contains("--config") && !meta.contains("--api-key"), "{meta}");
    // The dry run does not need (or show) the key either.
    let dry = sweeper()
        .arg("-c")
        .arg(&cfg)
        .arg("--dry-run")
        .env("SWEEPER_TEST_KEY", key)
        .output()
        .unwrap();
    assert!(!text(&dry).contains(key));
    // Without the variable the run refuses to start: exit 2, nothing written.
    let out2 = sweeper().arg("-c").arg(&cfg).env_remove("SWEEPER_TEST_KEY").output().unwrap();
    assert_eq!(out2.status.code(), Some(2), "{}", text(&out2));
    assert!(text(&out2).contains("`SWEEPER_TEST_KEY` (named by `api_key_env_var`) is not set"));
    // Regression (issue 11): an empty variable was reported as "is not set".
    let out3 = sweeper().arg("-c").arg(&cfg).env("SWEEPER_TEST_KEY", "").output().unwrap();
    assert_eq!(out3.status.code(), Some(2), "{}", text(&out3));
    assert!(text(&out3).contains("`SWEEPER_TEST_KEY` (named by `api_key_env_var`) is empty"));
}

#[test]
fn ctrl_c_stops_cleanly_records_interrupted_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 600, "");
    let pids = tmp.path().join("pids");
    let child = fake_sweep(&cfg, tmp.path())
        .env("FAKE_AIPERF_MODE_2", "hang")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the second run (the hanging one) is running.
    assert!(
        wait_for(Duration::from_secs(30), || pids_in(&pids).len() >= 3),
        "the hanging run never started"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(130), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "t");
    assert_eq!(statuses(&batch), ["succeeded", "interrupted", "skipped"], "{log}");
    let m = read_json(&batch.join("batch_manifest.json"));
    assert_eq!(m["interrupted"], true);
    assert_eq!(m["finished"], true);
    assert!(log.contains("SUMMARY"));
    for p in pids_in(&pids) {
        assert!(wait_for(Duration::from_secs(30), || !pid_alive(p)), "process {p} orphaned");
    }
    assert!(!listening(port), "server left running");
}

#[test]
fn kill_9_then_resume_runs_only_what_did_not_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 600, "");
    let pids = tmp.path().join("pids");
    let mut child = fake_sweep(&cfg, tmp.path())
        .env("FAKE_AIPERF_MODE_2", "hang")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || pids_in(&pids).len() >= 3),
        "the hanging run never started"
    );
    // The manifest follows once due (`Batch::settle_while_running`: at most ~2% of the time
    // goes to it, and never more than 5 s apart); run 1's outcome is in its process_result.json
    // at once.
    let batch = batch_dir(&tmp.path().join("out"), "t");
    assert!(
        wait_for(Duration::from_secs(30), || statuses(&batch)
            == ["succeeded", "running", "pending"]),
        "{:?}",
        statuses(&batch)
    );
    child.kill().unwrap(); // SIGKILL: no cleanup code in sweeper runs
    child.wait().unwrap();
    // Its children die with it (PR_SET_PDEATHSIG): the aiperf leader and the server.
    let leader = pids_in(&pids)[1];
    assert!(
        wait_for(Duration::from_secs(30), || !pid_alive(leader)),
        "aiperf outlived a killed sweeper"
    );
    assert!(wait_for(Duration::from_secs(30), || !listening(port)));
    for p in pids_in(&pids) {
        unsafe { libc::kill(p, libc::SIGKILL) }; // the fake's own background child, if any
    }
    assert_eq!(statuses(&batch), ["succeeded", "running", "pending"]);
    let first = std::fs::read_to_string(batch.join("concurrency1/process_result.json")).unwrap();
    // The next run's directory, made ahead while run 2 ran (`records::reserve`), stays behind a
    // `kill -9` (empty, named as a temp file); `--resume` removes it.
    let temps = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp."))
            .collect()
    };
    assert!(wait_for(Duration::from_secs(10), || temps(&batch).len() == 1), "{:?}", temps(&batch));

    let out = sweeper()
        .arg("-c")
        .arg(&cfg)
        .arg("--resume")
        .arg(&batch)
        .env("FAKE_AIPERF_ARTIFACTS", fake_artifacts())
        .output()
        .unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert_eq!(statuses(&batch), ["succeeded", "succeeded", "succeeded"]);
    assert!(log.contains("already succeeded"), "{log}");
    assert_eq!(temps(&batch), Vec::<String>::new());
    assert_eq!(
        first,
        std::fs::read_to_string(batch.join("concurrency1/process_result.json")).unwrap(),
        "a finished run is not touched"
    );
    // Still one batch dir: resume writes into the given one.
    assert_eq!(std::fs::read_dir(tmp.path().join("out/t")).unwrap().count(), 1);
    // Without the config, the error says which one to give (the batch keeps a copy).
    let out = sweeper().arg("--resume").arg(&batch).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains(&batch.join("config.yaml").display().to_string()),
        "{}",
        text(&out)
    );
    // A different config cannot resume it.
    edit(&cfg, |yaml| yaml.replace("[1, 2, 4]", "[1, 2, 8]"));
    let out = sweeper().arg("-c").arg(&cfg).arg("--resume").arg(&batch).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("plans different combinations"));
}

#[test]
fn second_ctrl_c_kills_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 600, "");
    // aiperf ignores SIGTERM and its grace period is 10 minutes: only the second Ctrl-C's
    // immediate kill can end this run in less.
    edit(&cfg, |yaml| {
        yaml.replace("  run_timeout_s: 600\n", "  run_timeout_s: 600\n  stop_grace_s: 600\n")
    });
    let pids = tmp.path().join("pids");
    // The runs' private temp dirs go in the test's own temp dir, where they are looked for.
    let child = fake_sweep(&cfg, tmp.path())
        .env("TMPDIR", tmp.path())
        .env("FAKE_AIPERF_MODE", "hang-ignore-term")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || !pids_in(&pids).is_empty()),
        "the run never started"
    );
    let pid = child.id() as i32;
    unsafe { libc::kill(pid, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(100));
    unsafe { libc::kill(pid, libc::SIGINT) };
    let start = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        start.elapsed() < Duration::from_secs(300),
        "the second Ctrl-C must not wait for the 600 s grace period"
    );
    assert!(text(&out).contains("killing everything now"));
    // Regression (issue 11): the manifest said `running` with `interrupted: false`.
    let batch = batch_dir(&tmp.path().join("out"), "t");
    let m = read_json(&batch.join("batch_manifest.json"));
    assert_eq!(m["interrupted"], true, "{m}");
    assert_eq!(m["finished"], true, "{m}");
    assert_eq!(statuses(&batch), ["interrupted", "skipped", "skipped"]);
    for p in pids_in(&pids) {
        assert!(wait_for(Duration::from_secs(30), || !pid_alive(p)), "process {p} orphaned");
    }
    assert!(wait_for(Duration::from_secs(30), || !listening(port)));
    // A sweeper killed at once cannot remove its runs' private temp dirs: its guardian does.
    assert!(
        wait_for(Duration::from_secs(30), || temp_dirs_of_runs(tmp.path()).is_empty()),
        "left: {:?}",
        temp_dirs_of_runs(tmp.path())
    );
}

/// The runs' private temp dirs (`swp<batch>.<random>`) in `dir`.
fn temp_dirs_of_runs(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("swp"))
        .collect()
}

#[test]
fn progress_on_a_terminal_shows_run_params_elapsed_and_eta() {
    // `script` gives sweeper a pseudo-terminal, as a person's shell would.
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 600, "");
    let slow = tmp.path().join("slow-aiperf.sh");
    stub_aiperf(&slow, "sleep 1.5");
    edit(&cfg, |yaml| {
        yaml.replace(&fake_aiperf().display().to_string(), &slow.display().to_string())
    });
    let cmd = format!("{} -c {}", env!("CARGO_BIN_EXE_sweeper"), cfg.display());
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("FAKE_AIPERF_ARTIFACTS", fake_artifacts())
        .output()
        .expect("`script` (util-linux) is needed for this test");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // The figures depend on the machine's load; their form does not.
    assert!(has_clock_after(&t, "[1/3] concurrency=1  elapsed "), "{t}");
    assert!(has_clock_after(&t, "[3/3] concurrency=4  elapsed "), "{t}");
    assert!(has_clock_after(&t, "ETA "), "an ETA once a run has finished: {t}");
    // Without a terminal: plain lines, no carriage returns.
    let plain = fake_sweep(&cfg, tmp.path()).output().unwrap();
    let p = text(&plain);
    assert!(!p.contains('\r'), "{p}");
    assert!(has_clock_after(&p, "run 2/3 (#1): concurrency=2, ETA "), "{p}");
}

#[test]
fn a_second_run_never_writes_into_the_first_batch_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    edit(&cfg, |yaml| yaml.replace("[1, 2, 4]", "[1]"));
    for _ in 0..2 {
        let out = fake_sweep(&cfg, tmp.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let dirs: Vec<_> = std::fs::read_dir(tmp.path().join("out/t")).unwrap().flatten().collect();
    assert_eq!(dirs.len(), 2, "two runs, two batch dirs (even within one second)");
    for d in dirs {
        assert_eq!(statuses(&d.path()), ["succeeded"]);
    }
}

#[test]
fn fail_on_target_turns_a_target_fail_into_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    // The fixture's TTFT is about 21.7 ms: 5 ms cannot pass, 100 ms does.
    let targets = "targets:\n  tolerance: 0.1\n  points:\n    - match: {concurrency: 1}\n      ttft_ms: 5\n    - match: {concurrency: 2}\n      ttft_ms: 100\n";
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, targets);
    let run = |extra: &[&str]| {
        sweeper()
            .arg("-c")
            .arg(&cfg)
            .args(extra)
            .env("FAKE_AIPERF_ARTIFACTS", fake_artifacts())
            .output()
            .unwrap()
    };
    let plain = run(&[]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain));
    assert!(text(&plain).contains("targets   : 1 FAIL"), "{}", text(&plain));
    let strict = run(&["--fail-on-target"]);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict));
}

#[test]
fn resume_refuses_a_manifest_that_does_not_match_its_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    let out = fake_sweep(&cfg, tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let batch = batch_dir(&tmp.path().join("out"), "t");
    let manifest_path = batch.join("batch_manifest.json");
    let original = read_json(&manifest_path);
    type Edit = fn(&mut Vec<serde_json::Value>);
    let edits: [(&str, Edit, &str); 3] = [
        ("fewer", |runs| drop(runs.pop()), "it lists 2 runs, the plan has 3 combinations"),
        (
            "more",
            |runs| {
                let extra = runs[0].clone();
                runs.push(extra);
            },
            "it lists 4 runs, the plan has 3 combinations",
        ),
        ("reordered", |runs| runs.swap(0, 1), "entry 0 is run #1, the plan's combination 0 is #0"),
    ];
    for (what, edit, message) in edits {
        let mut m = original.clone();
        edit(m["runs"].as_array_mut().unwrap());
        std::fs::write(&manifest_path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
        let out = fake_sweep(&cfg, tmp.path()).arg("--resume").arg(&batch).output().unwrap();
        let log = text(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {log}");
        assert!(log.contains("its manifest does not match its plan"), "{what}: {log}");
        assert!(log.contains(message), "{what}: {log}");
        assert!(log.contains("hint:") && !log.contains("panicked"), "{what}: {log}");
    }
}

/// `sweeper ... 2>&1 | head -3`: stderr closes after three lines. The sweep goes on, writes every
/// record and exits as it would have (no panic on EPIPE). The same for a closed stdout.
#[test]
fn closed_stderr_or_stdout_never_stops_or_corrupts_a_sweep() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    let mut child =
        fake_sweep(&cfg, tmp.path()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    {
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for _ in 0..3 {
            lines.next();
        }
        // The reader (the pipe's only read end) is dropped here: every later write fails.
    }
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a closed stderr changed the outcome: {status:?}");
    let batch = batch_dir(&tmp.path().join("out"), "t");
    assert_eq!(statuses(&batch), ["succeeded", "succeeded", "succeeded"]);
    let m = read_json(&batch.join("batch_manifest.json"));
    assert_eq!(m["finished"], true);
    assert!(batch.join("report.md").is_file());
    // A closed stdout under --dry-run (`sweeper --dry-run ... | head -1`).
    let mut dry = sweeper()
        .args(["--dry-run", "-c"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(dry.stdout.take());
    let out = dry.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// `kill -9` of sweeper: PR_SET_PDEATHSIG reaches only direct children, so a server that forks
/// (`bash -c "sleep & exec server"`) and an aiperf that forks (the fake's hang mode) used to
/// leave grandchildren behind. Every child runs under a supervisor that stops its whole group.
#[test]
fn kill_9_leaves_no_process_of_the_batch_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let server =
        format!("[bash, -c, \"sleep 4321 & exec python3 -m http.server {port} --bind 127.0.0.1\"]");
    let cfg = fake_config(tmp.path(), &server, port, 600, "");
    let pids = tmp.path().join("pids");
    // The runs' private temp dirs go in the test's own temp dir, where they are looked for.
    let mut child = fake_sweep(&cfg, tmp.path())
        .env("TMPDIR", tmp.path())
        .env("FAKE_AIPERF_MODE", "hang")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(60), || pids_in(&pids).len() >= 2),
        "the hanging run never started"
    );
    let batch = batch_dir(&tmp.path().join("out"), "t").display().to_string();
    let marked = pids_with_env("SWEEPER_BATCH_DIR", &batch);
    // Supervisors, the server's bash/python and its sleep, the fake aiperf and its sleeps.
    assert!(marked.len() >= 6, "processes of the batch: {marked:?}");
    child.kill().unwrap(); // SIGKILL: no cleanup code in sweeper runs
    child.wait().unwrap();
    assert!(
        wait_for(Duration::from_secs(60), || pids_with_env("SWEEPER_BATCH_DIR", &batch).is_empty()),
        "left behind after kill -9: {:?}",
        pids_with_env("SWEEPER_BATCH_DIR", &batch)
    );
    // A process can lose its marker (its memory goes early in its exit) before it is gone:
    // each gets a moment more. One that survives stays alive through it.
    for p in marked.into_iter().chain(pids_in(&pids)) {
        assert!(
            wait_for(Duration::from_secs(10), || !pid_alive(p)),
            "process {p} outlived sweeper"
        );
    }
    assert!(!listening(port), "server left running");
    // Nor its runs' private temp dirs: the guardian removes them once it has stopped aiperf.
    assert!(
        wait_for(Duration::from_secs(30), || temp_dirs_of_runs(tmp.path()).is_empty()),
        "left: {:?}",
        temp_dirs_of_runs(tmp.path())
    );
}

/// A process an earlier session left running (one that escaped its group, say) is found by its
/// batch marker on `--resume` and stopped, and the output says so.
#[test]
fn resume_stops_what_an_earlier_session_left_running() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    let out = fake_sweep(&cfg, tmp.path()).env("FAKE_AIPERF_MODE_3", "fail").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let batch = batch_dir(&tmp.path().join("out"), "t");
    use std::os::unix::process::CommandExt;
    let mut orphan = std::process::Command::new("sleep")
        .arg("4444")
        .env("SWEEPER_BATCH_DIR", &batch)
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = orphan.id() as i32;
    let reaper = std::thread::spawn(move || orphan.wait());
    let out = fake_sweep(&cfg, tmp.path()).arg("--resume").arg(&batch).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("left running by an earlier session of this batch")
            && log.contains(&pid.to_string()),
        "{log}"
    );
    reaper.join().unwrap().unwrap();
    assert!(!pid_alive(pid), "the leftover still runs");
}

/// Unmounts a tmpfs when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// A tmpfs of `size` (e.g. `1536k`) at `dir`: a real small disk that fills up.
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(st.success(), "this test mounts a small tmpfs and needs root (as CI runs)");
        Tmpfs(dir.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let st = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Regression (issue 11): with a full disk, failed writes of the manifest, process_result.json
/// and the reports were only warnings, and the sweep exited 0 saying `completed: 20`. Now a
/// write that fails fails its run and the exit code; a full disk stops the batch with the last
/// good manifest kept and no temp file left; after freeing space `--resume` finishes it.
#[test]
fn a_full_disk_stops_the_batch_cleanly_and_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let disk = Tmpfs::mount(&tmp.path().join("disk"), "1536k");
    let yaml = std::fs::read_to_string(fake_config(tmp.path(), &http_server(port), port, 30, ""))
        .unwrap()
        .replace(&tmp.path().join("out").display().to_string(), &disk.0.join("out").display().to_string())
        .replace("concurrency: [1, 2, 4]", "concurrency: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]");
    let cfg = common::config::write(tmp.path(), "full.yaml", &yaml);
    let out = fake_sweep(&cfg, tmp.path()).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("the batch stopped early: the disk is full"), "{log}");
    let batch = batch_dir(&disk.0.join("out"), "t");
    // The manifest on disk is whole, and what it calls succeeded really is.
    let m = read_json(&batch.join("batch_manifest.json"));
    let runs = m["runs"].as_array().unwrap();
    let done: Vec<&serde_json::Value> =
        runs.iter().filter(|r| r["status"] == "succeeded").collect();
    assert!(!done.is_empty() && done.len() < 30, "{m}");
    for r in &done {
        let pr = read_json(&batch.join(r["dir"].as_str().unwrap()).join("process_result.json"));
        assert_eq!(pr["status"], "succeeded");
    }
    let temp_files = |dir: &Path| -> Vec<std::path::PathBuf> {
        all_files(dir)
            .into_iter()
            .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp."))
            .collect()
    };
    assert_eq!(temp_files(&batch), Vec::<std::path::PathBuf>::new());
    // Free space; --resume runs what did not succeed.
    disk.resize("64m");
    let out = fake_sweep(&cfg, tmp.path()).arg("--resume").arg(&batch).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(statuses(&batch).iter().all(|s| s == "succeeded"), "{:?}", statuses(&batch));
    assert_eq!(temp_files(&batch), Vec::<std::path::PathBuf>::new());
}

/// Regression (issue 11): a run whose `profile_export_aiperf.json` does not parse was recorded
/// `succeeded`; the report listed it under Failures, but `--resume` skipped it as succeeded.
/// Success means aiperf exited 0 AND its results parse, for the run stage, the report and
/// `--resume` alike.
#[test]
fn unparsable_results_are_a_failure_for_the_run_the_report_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    // The run stage: aiperf exits 0 with an unparsable export.
    let out = fake_sweep(&cfg, tmp.path()).env("FAKE_AIPERF_MODE_2", "badjson").output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "t");
    assert_eq!(statuses(&batch), ["succeeded", "failed", "succeeded"]);
    let pr = process_result(&batch, "concurrency2");
    assert!(
        pr["reason"].as_str().unwrap().contains("profile_export_aiperf.json unreadable"),
        "{pr}"
    );
    // A run recorded as succeeded whose export is damaged afterwards: the report says failed,
    // and --resume runs it again.
    std::fs::write(batch.join("concurrency4/profile_export_aiperf.json"), "").unwrap();
    let rep = sweeper().arg("report").arg(&batch).output().unwrap();
    assert_eq!(rep.status.code(), Some(0), "{}", text(&rep));
    let summary = read_json(&batch.join("summary.json"));
    let status_of = |dir: &str| {
        summary["rows"].as_array().unwrap().iter().find(|r| r["dir"] == dir).unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of("concurrency4"), "failed", "{summary}");
    assert_eq!(status_of("concurrency1"), "succeeded");
    let out = fake_sweep(&cfg, tmp.path()).arg("--resume").arg(&batch).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("[skip] #0") && !log.contains("[skip] #2"), "{log}");
    assert_eq!(statuses(&batch), ["succeeded", "succeeded", "succeeded"]);
}

/// Regression (issue 11): records read back from disk are checked. Entries of the manifest
/// swapped made a failed run count as succeeded; a manifest `dir` of `../../x` made --resume
/// judge a file outside the batch; a plan.json `dir` of `../victim/...` made `sweeper report`
/// write outside the batch. Each is now exit 2 saying what is wrong, and nothing is touched.
#[test]
fn tampered_records_are_refused_and_nothing_outside_the_batch_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    let out = fake_sweep(&cfg, tmp.path()).env("FAKE_AIPERF_MODE_1", "fail").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let batch = batch_dir(&tmp.path().join("out"), "t");
    let manifest_path = batch.join("batch_manifest.json");
    let plan_path = batch.join("plan.json");
    let (manifest, plan) = (read_json(&manifest_path), read_json(&plan_path));
    let resume = || {
        let out = fake_sweep(&cfg, tmp.path()).arg("--resume").arg(&batch).output().unwrap();
        (out.status.code(), text(&out))
    };
    // Two manifest entries swapped: the failed #0 would have been skipped as succeeded.
    let mut m = manifest.clone();
    m["runs"].as_array_mut().unwrap().swap(0, 1);
    std::fs::write(&manifest_path, m.to_string()).unwrap();
    let (code, log) = resume();
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("entry 0 is run #1"), "{log}");
    // A manifest dir pointing outside the batch.
    let mut m = manifest.clone();
    m["runs"][0]["dir"] = serde_json::json!("../../base/concurrency1");
    std::fs::write(&manifest_path, m.to_string()).unwrap();
    let (code, log) = resume();
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("has directory `../../base/concurrency1`"), "{log}");
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    // A plan.json dir pointing outside the batch: report refuses, writes nothing there.
    let victim = tmp.path().join("out/t/victim");
    std::fs::create_dir_all(victim.join("concurrency2")).unwrap();
    let mut p = plan.clone();
    p["combinations"][1]["dir"] = serde_json::json!("../victim/concurrency2");
    std::fs::write(&plan_path, p.to_string()).unwrap();
    let out = sweeper().arg("report").arg(&batch).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not one name inside the batch directory"), "{}", text(&out));
    assert!(all_files(&victim).is_empty(), "written outside the batch: {:?}", all_files(&victim));
    let (code, log) = resume();
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("plans different combinations"), "{log}");
}

/// With no health path configured, sweeper probes `/v1/models`, `/health`, `/v1/rails/configs`:
/// a NeMo Guardrails server (only `/v1/rails/configs`) is ready at once; a server that serves
/// none of them (only `/v1/chat/completions`) is used with a warning naming what was tried and
/// what came back; an explicit path stays strict.
#[test]
fn health_probe_list_without_a_configured_path() {
    let script = root().join("tests/fixtures/bin/one-path-server.py");
    for (only, ready_quietly) in [("/v1/rails/configs", true), ("/v1/chat/completions", false)] {
        let tmp = tempfile::tempdir().unwrap();
        let port = free_port();
        let server = format!("[python3, {}, \"{port}\", \"{only}\"]", script.display());
        let yaml = std::fs::read_to_string(fake_config(tmp.path(), &server, port, 30, ""))
            .unwrap()
            .replace("  health_path: /\n", "");
        let cfg = common::config::write(tmp.path(), "probe.yaml", &yaml);
        let dry = sweeper().arg("-c").arg(&cfg).arg("--dry-run").output().unwrap();
        assert!(
            text(&dry).contains("the first 2xx of GET /v1/models, /health, /v1/rails/configs"),
            "{}",
            text(&dry)
        );
        let out = fake_sweep(&cfg, tmp.path()).output().unwrap();
        let log = text(&out);
        assert_eq!(out.status.code(), Some(0), "{only}: {log}");
        let warned = log.contains("none of the usual ones answered 2xx");
        assert_eq!(warned, !ready_quietly, "{only}: {log}");
        if warned {
            assert!(
                log.contains("GET /v1/models: HTTP 404, GET /health: HTTP 404, GET /v1/rails/configs: HTTP 404"),
                "{log}"
            );
        }
        // An explicit path is strict: a 404 there is never ready.
        let strict = yaml
            .replace("  stop_grace_s: 2\n", "  stop_grace_s: 2\n  health_path: /health\n")
            .replace("startup_timeout_s: 60", "startup_timeout_s: 2");
        common::config::write(tmp.path(), "probe.yaml", &strict);
        let out = fake_sweep(&cfg, tmp.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains("server not ready: GET /health did not answer 2xx"),
            "{}",
            text(&out)
        );
    }
}

/// Like hyperfine, a sweep ends with a compact table of what it measured: one line per point,
/// swept parameters, status, TTFT p99, TPOT avg, output tok/s, req/s, targets; at most 100
/// columns; no color codes when stderr is not a terminal.
#[test]
fn a_sweep_ends_with_a_table_of_what_it_measured() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let targets = "targets:\n  points:\n    - match: {concurrency: 1}\n      ttft_ms: 1000\n";
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, targets);
    let out = fake_sweep(&cfg, tmp.path()).env("FAKE_AIPERF_MODE_3", "fail").output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let table: Vec<&str> =
        log.lines().skip_while(|l| !l.trim_start().starts_with("#  point")).collect();
    assert!(
        table[0].contains("status")
            && table[0].contains("TTFT p99")
            && table[0].contains("targets"),
        "{log}"
    );
    assert_eq!(table.len(), 4, "{log}");
    assert!(
        table[1].contains("concurrency=1")
            && table[1].contains("succeeded")
            && table[1].contains("1 PASS"),
        "{log}"
    );
    // The fake's fixture: TTFT p99 27.9 ms (chat-stream), TPOT 5.0 ms.
    assert!(table[1].contains(" ms"), "{log}");
    assert!(table[3].contains("concurrency=4") && table[3].contains("failed"), "{log}");
    for l in &table {
        assert!(l.chars().count() <= 100, "wider than 100 columns: {l}");
    }
    assert!(!log.contains('\x1b'), "color codes without a terminal");
}

/// The reports and tt files a sweep ends with, with the generation time blanked.
fn rendered_files(batch: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![batch.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                dirs.push(p);
            } else if ["report.md", "report.html", "summary.json", "summary.csv"]
                .contains(&name.as_str())
                || (name.starts_with("aiperf_benchmark_") && name.ends_with(".json"))
            {
                let mut text = std::fs::read_to_string(&p).unwrap();
                for marker in ["generated ", "\"generated_at\": \""] {
                    let mut from = 0;
                    while let Some(i) = text[from..].find(marker) {
                        let at = from + i + marker.len();
                        // 2026-12-04T22:29:57+00:00
                        text.replace_range(at..(at + 25).min(text.len()), "<time>");
                        from = at;
                    }
                }
                out.push((p.strip_prefix(batch).unwrap().display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

/// The final render uses the results the live reports kept when they are the whole batch
/// (every run read again after it ended), and reads the batch from disk otherwise (here: a
/// resumed batch, whose earlier runs were not read again): both give byte for byte the files
/// `sweeper report` renders from disk afterwards (the generation time aside).
#[test]
fn the_reports_a_sweep_ends_with_are_what_report_renders_from_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let targets = "targets:\n  points:\n    - match: {concurrency: 1}\n      ttft_ms: 1000\n";
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, targets);
    let sweep = fake_sweep(&cfg, tmp.path())
        .arg("--verbose")
        .env("FAKE_AIPERF_MODE_2", "fail")
        .output()
        .unwrap();
    let log = text(&sweep);
    assert_eq!(sweep.status.code(), Some(1), "{log}");
    assert!(log.contains("reports: rendered from the results kept during the run"), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "t");
    let report_again = |why: &str| {
        let at_end = rendered_files(&batch);
        assert!(at_end.len() >= 6, "{why}: {at_end:?}");
        let out = sweeper().arg("report").arg(&batch).output().unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
        assert_eq!(at_end, rendered_files(&batch), "{why}");
    };
    report_again("kept results");
    let resumed =
        fake_sweep(&cfg, tmp.path()).arg("--verbose").arg("--resume").arg(&batch).output().unwrap();
    let log = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{log}");
    assert!(log.contains("reports: reading the batch from disk"), "{log}");
    report_again("read from disk");
}

/// The live reports render while runs are left (the first render is due 2 s after the start:
/// here with the second or the first of three 1.2 s runs read), and when the batch ends they
/// read its last runs without rendering them: the final render follows at once. A live render
/// due at that moment was made in full and thrown away, and the batch's end waited for it (35
/// of the 75 ms after the last of 1,000 runs).
#[test]
fn live_reports_render_while_runs_are_left_and_the_end_once() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = fake_config(tmp.path(), &http_server(port), port, 30, "");
    let sweep = fake_sweep(&cfg, tmp.path())
        .arg("--verbose")
        .env("FAKE_AIPERF_SLEEP", "1.2")
        .output()
        .unwrap();
    let log = text(&sweep);
    assert_eq!(sweep.status.code(), Some(0), "{log}");
    assert!(log.contains("reports: rendered from the results kept during the run"), "{log}");
    let line = log.lines().find(|l| l.contains("while the batch ran")).expect("the renders line");
    // Here one render, with one or two runs read; a slow machine may make two (the runs' own
    // overhead past the 2 s spacing), never one after the last run: none with 3 runs read.
    assert!(line.contains("reports: rendered "), "rendered while runs were left: {line}");
    assert!(line.ends_with("with 1 run read") || line.ends_with("with 2 runs read"), "{line}");
    assert_eq!(statuses(&batch_dir(&tmp.path().join("out"), "t")), ["succeeded"; 3]);
}
