//! A/B inside one batch (`ab:`), end to end with the real aiperf: two mock servers that differ
//! only in `decode_base_ms` (4 vs 6 ms per token), 4 repeats interleaved (A B, B A, A B, B A),
//! both servers up at once; halfway through, two `sha256sum /dev/zero` take the CPUs. The drift
//! hits both values alike, so `sweeper compare BATCH` names the slower value (decode-bound
//! figures regress) and no other figure (TTFT) moves. One test in its own binary, so the CPU
//! burners slow nothing else.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::config::MockSweep;
use common::*;

/// Runs aiperf that have finished in the batch under `out` (their `process_result.json`).
fn finished(out: &Path) -> usize {
    all_files(out).iter().filter(|p| p.ends_with("process_result.json")).count()
}

/// `sweeper compare ARGS`: (exit code, stdout, stderr).
fn compare(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = sweeper().arg("compare").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ab_batch_names_the_slower_server_while_hogs_start_halfway() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let f = MockSweep::new("ab")
        .output(&out)
        .server("prefill_base_ms: 20, decode_base_ms: 4")
        .base(&["request_count: 16", "isl: 32", "osl: 16", "concurrency: 2"])
        .rest("repeats: 4\nab: {by: server.decode_base_ms}\nsweeps:\n  server.decode_base_ms: [4, 6]\n")
        .write(tmp.path(), "ab.yaml");

    let dry = sweeper().arg("-c").arg(&f).arg("--dry-run").output().unwrap();
    let dry = text(&dry);
    assert!(
        dry.contains("ab: compares `server.decode_base_ms` inside this batch: A = 4, B = 6; servers: together")
            && dry.contains("2 server starts (no restart)"),
        "{dry}"
    );

    let log = tmp.path().join("sweeper.log");
    let mut child = sweeper()
        .arg("-c")
        .arg(&f)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Halfway (4 of 8 runs done: A B, B A | A B, B A), two CPU burners start and run to the end.
    assert!(
        wait_for(Duration::from_secs(600), || finished(&out) >= 4),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let _burners = Burners::start(2);
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    // Both servers stay up: each started once.
    assert_eq!(log.matches(": ready after ").count(), 2, "{log}");
    let batch = batch_dir(&out, "ab");

    // The burners took the CPUs during runs of both values: sweeper calls those runs busy (other
    // processes over 25% of the CPUs). Not half: on a VM whose hypervisor steals CPU time the
    // burners get only what is left (a run beside them measured under 50% here, 2026-12-06).
    for v in ["4", "6"] {
        let runs: Vec<_> = all_files(&batch)
            .into_iter()
            .filter(|p| {
                p.ends_with("process_result.json")
                    && p.to_string_lossy().contains(&format!("decode_base_ms{v}/"))
            })
            .collect();
        assert_eq!(runs.len(), 4, "{runs:?}");
        let busy = runs
            .iter()
            .map(|p| read_json(p)["conditions"]["other_cpu"].as_f64().unwrap_or(0.0))
            .filter(|o| *o > sweeper::records::conditions::BUSY_OTHER_CPU)
            .count();
        assert!(busy >= 1, "no run of decode_base_ms={v} ran beside the burners\n{log}");
    }

    // The run ends with the verdict, and keeps it in the batch.
    let verdict = "Slower: `server.decode_base_ms=6` (B). Worse than `server.decode_base_ms=4` in:";
    assert!(log.contains(verdict), "{log}");
    let kept = std::fs::read_to_string(batch.join("compare.md")).unwrap();
    assert!(kept.contains(verdict), "{kept}");

    let (code, md, err) = compare(&[batch.as_os_str()]);
    assert_eq!(code, Some(0), "{md}\n{err}");
    assert!(md.contains(verdict) && err.contains(verdict), "{md}\n{err}");
    for figure in ["ITL avg (ms)", "TPOT avg (ms)", "Output Tok/s"] {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| - | {figure} |")))
            .unwrap_or_else(|| panic!("no {figure} row:\n{md}"));
        assert!(row.ends_with("| **regression** |"), "{row}");
    }
    // TTFT does not depend on decode_base_ms: the drift, hitting both values, moves nothing.
    for figure in ["TTFT avg (ms)", "TTFT p99 (ms)"] {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| - | {figure} |")))
            .unwrap_or_else(|| panic!("no {figure} row:\n{md}"));
        assert!(row.ends_with("| within noise |"), "{row}\n{md}");
    }
    // The interleaving keeps A and B alike in conditions: nothing is "not like for like".
    assert!(!md.contains("## Not like for like"), "{md}");

    // The gate fails on the slower value; `--by` names the key explicitly.
    let (code, _, err) = compare(&[
        batch.as_os_str(),
        "--by".as_ref(),
        "server.decode_base_ms".as_ref(),
        "--fail-on-regression".as_ref(),
    ]);
    assert_eq!(code, Some(1), "{err}");

    // Usage errors exit 2 with a hint, and write nothing.
    for (args, fragment) in [
        (
            vec![batch.as_os_str(), "--by".as_ref(), "concurrency".as_ref()],
            "no point of this batch has `concurrency`",
        ),
        (
            vec![batch.as_os_str(), batch.as_os_str(), "--by".as_ref(), "x".as_ref()],
            "two batches were given",
        ),
    ] {
        let (code, md, err) = compare(&args);
        assert_eq!(code, Some(2), "{md}\n{err}");
        assert!(err.contains(fragment) && err.contains("hint: "), "{err}");
    }
}
