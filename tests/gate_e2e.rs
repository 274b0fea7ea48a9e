//! The regression gate end to end, with the real aiperf 0.13.0 against the built-in mock server:
//! two batches of the same config are within noise (exit 0), a server 30% slower per token is a
//! regression on TPOT and ITL (exit 1 with `--fail-on-regression`); interleaved repeats resume
//! one repeat at a time; aiperf's own `--num-profile-runs` (back to back) end to end.
//!
//! The mock's latencies are long (prefill 300 ms, 60 ms per token) so that a busy machine's
//! scheduling delays (a few ms) stay far below the 5% threshold. The two tests take turns: each
//! runs a real aiperf, and two at once on 2 CPUs made each other's noise (on a CI VM the slower
//! server's TPOT spread over 3 repeats was +-28%, too wide to call its real +30% a regression).
//! OSL 10: a TPOT is the mean of 9 decode steps, so one late first token (the client's read
//! delayed, the next tokens read at once) moves it by a ninth of the delay, not a quarter.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::config::MockSweep;
use common::*;

/// One real aiperf at a time in this binary.
static TURN: Mutex<()> = Mutex::new(());

/// `<dir>/<name>.yaml`: 3 repeats of 8 requests (OSL 10) at concurrency 2 against the mock with
/// a prefill of 300 ms and a decode step of `decode_ms`, output in `<dir>/out`.
fn config(dir: &Path, name: &str, decode_ms: u32) -> PathBuf {
    MockSweep::new(name)
        .output(&dir.join("out"))
        .server(&format!("prefill_base_ms: 300, decode_base_ms: {decode_ms}"))
        .base(&["request_count: 8", "concurrency: 2", "isl: 32", "osl: 10", "random_seed: 5"])
        .rest("repeats: 3\n")
        .write(dir, &format!("{name}.yaml"))
}

#[test]
fn gate_passes_the_same_server_and_fails_a_slower_one() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let a_cfg = config(tmp.path(), "a", 60);
    let out = sweeper().arg("-c").arg(&a_cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let a = batch_dir(&tmp.path().join("out"), "a");
    // Three interleaved repeats of the one point, merged in the reports.
    for k in 1..=3 {
        assert!(a.join(format!("repeat_{k}/profile_export_aiperf.json")).is_file());
    }
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    assert!(md.contains("## Uncertainty") && md.contains("| 0 | - | 3 |"), "{md}");
    let prov = read_json(&a.join("provenance.json"));
    assert_eq!(prov["aiperf_version"], "0.13.0");
    assert_eq!(prov["servers"]["server-0"]["kind"], "mock");
    assert_eq!(prov["servers"]["server-0"]["served_models"][0], "mock-model", "{prov}");
    assert!(prov["hosts"][0]["cpus"].as_u64().unwrap() >= 1);

    // The same config again: within noise, exit 0; compare.md and compare.csv in the new batch.
    let b_cfg = config(tmp.path(), "b", 60);
    let out = sweeper()
        .arg("-c")
        .arg(&b_cfg)
        .arg("--baseline")
        .arg(&a)
        .arg("--fail-on-regression")
        .output()
        .unwrap();
    let b = batch_dir(&tmp.path().join("out"), "b");
    let cmp = std::fs::read_to_string(b.join("compare.md")).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{}\n{cmp}", text(&out));
    assert!(cmp.contains("**0 regressions"), "{cmp}");
    assert!(b.join("compare.csv").is_file());

    // 30% slower per token: TPOT and ITL regress, the gate fails.
    let c_cfg = config(tmp.path(), "c", 78);
    let out = sweeper()
        .arg("-c")
        .arg(&c_cfg)
        .arg("--baseline")
        .arg(&a)
        .arg("--fail-on-regression")
        .output()
        .unwrap();
    let c = batch_dir(&tmp.path().join("out"), "c");
    let cmp = std::fs::read_to_string(c.join("compare.md")).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}\n{cmp}", text(&out));
    for m in ["TPOT avg (ms)", "ITL avg (ms)"] {
        let row = cmp.lines().find(|l| l.starts_with(&format!("| - | {m} |"))).unwrap();
        assert!(row.ends_with("| **regression** |"), "{row}");
    }
    assert!(text(&out).contains("error: "), "{}", text(&out));
    // The server launch differs: shown first.
    assert!(cmp.contains("## Not like for like") && cmp.contains("server-0 launch"), "{cmp}");

    // Resume knows which repeats are done: lose one repeat's record, only it runs again.
    std::fs::remove_file(a.join("repeat_2/process_result.json")).unwrap();
    let out = sweeper().arg("-c").arg(&a_cfg).arg("--resume").arg(&a).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("skipped   : 2") && log.contains("completed : 1"), "{log}");
    assert!(log.contains("(repeat 2)"), "{log}");
}

/// `repeats: {count: 2, order: back_to_back}`: one aiperf call with `--num-profile-runs 2`; the
/// run succeeds (aiperf writes no top-level export then), its two profile runs are the repeats,
/// and a resume finds nothing to do.
#[test]
fn back_to_back_repeats_with_the_real_aiperf() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let f = MockSweep::new("b2b")
        .base(&["request_count: 6", "concurrency: 2", "isl: 16", "osl: 4"])
        .rest("repeats: {count: 2, order: back_to_back}\n")
        .write(tmp.path(), "b2b.yaml");
    let out = sweeper().arg("-c").arg(&f).current_dir(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let batch = batch_dir(&tmp.path().join("aiperf_results"), "b2b");
    assert!(!batch.join("profile_export_aiperf.json").exists());
    assert!(batch.join("aggregate/profile_export_aiperf_aggregate.json").is_file());
    let pr = read_json(&batch.join("process_result.json"));
    assert_eq!(pr["status"], "succeeded", "{pr}");
    assert!(pr["args"].as_array().unwrap().iter().any(|a| a == "--num-profile-runs"));
    let s = read_json(&batch.join("summary.json"));
    assert_eq!(s["rows"][0]["repeats"], 2, "{}", s["rows"][0]);
    assert!(s["rows"][0]["spread"]["ttft_avg_ms"]["ci_high"].is_number());
    let out = sweeper()
        .arg("-c")
        .arg(&f)
        .arg("--resume")
        .arg(&batch)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("skipped   : 1"), "{}", text(&out));
}
