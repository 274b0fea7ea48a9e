//! Benchmarks of the results and report stages (a plain `main`, not timed unit tests).
//!
//! 1. Streams a generated ~500 MB `profile_export.jsonl` (200,000 records copied from a real
//!    aiperf fixture) and prints MB/s and peak RSS (VmHWM) before and after, first with running
//!    statistics only (constant memory), then with exact percentiles in bounded memory (values
//!    up to the sample cap, selection passes past it), then keeping every value; then times
//!    pandas `read_json(lines=True)` on the same file when a Python with pandas is found.
//! 2. Renders every report of a 1,000-combination batch and prints the time.
//!
//! Env: `SWEEPER_BENCH_RECORDS` (default 200000) shrinks the file for quick runs;
//! `SWEEPER_BENCH_PYTHON` (default: the managed aiperf venv's python, then `python3`);
//! `SWEEPER_BENCH_COMBINATIONS` (default 1000).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sweeper::records::{
    self, FORMAT_VERSION, ManifestEntry, PlanRecord, PlannedCombination, RunStatus,
};
use sweeper::results::jsonl::{JsonlOptions, summarize};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aiperf/chat-stream");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Peak resident set size of this process, in MiB (`VmHWM` in /proc/self/status).
fn vm_hwm_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn python_with_pandas() -> Option<String> {
    let mut candidates = vec![];
    if let Ok(p) = std::env::var("SWEEPER_BENCH_PYTHON") {
        candidates.push(p);
    }
    // aiperf depends on pandas: sweeper's managed venv has it.
    let settings = sweeper::config::AiperfSettings::default();
    if let Ok(a) = sweeper::run::venv::ensure(&settings, &mut |_| {})
        && let Some(v) = a.venv
    {
        candidates.push(v.join("bin/python").display().to_string());
    }
    candidates.push("python3".to_owned());
    candidates.into_iter().find(|py| {
        Command::new(py).args(["-c", "import pandas"]).output().is_ok_and(|o| o.status.success())
    })
}

fn bench_jsonl(dir: &Path) {
    let n = env_usize("SWEEPER_BENCH_RECORDS", 200_000);
    let text = std::fs::read_to_string(Path::new(FIXTURE).join("profile_export.jsonl"))
        .expect("read fixture");
    let lines: Vec<&str> = text.lines().collect();
    let path = dir.join("profile_export.jsonl");
    let t = Instant::now();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        for i in 0..n {
            writeln!(w, "{}", lines[i % lines.len()]).expect("write");
        }
    }
    let bytes = std::fs::metadata(&path).expect("stat").len();
    let mb = bytes as f64 / 1e6;
    println!("jsonl: generated {n} records, {mb:.1} MB, in {:.1} s", t.elapsed().as_secs_f64());
    // Warm the page cache (in 1 MiB chunks, not one 500 MB buffer) so that both parsers read
    // from memory, not disk.
    if let Ok(mut f) = std::fs::File::open(&path) {
        let mut buf = vec![0u8; 1 << 20];
        while std::io::Read::read(&mut f, &mut buf).is_ok_and(|n| n > 0) {}
    }

    // Bounded first: peak RSS (VmHWM) only grows, so each mode's increase shows only in order.
    let mut exact = Vec::new();
    for (label, keep, cap) in [
        ("running stats", false, None),
        ("exact percentiles, bounded (default sample cap, selection passes past it)", true, None),
        ("exact percentiles, every value kept", true, Some(usize::MAX)),
    ] {
        let before = vm_hwm_mib();
        let t = Instant::now();
        let s =
            summarize(&path, JsonlOptions { keep_samples: keep, sample_cap: cap }).expect("parse");
        let secs = t.elapsed().as_secs_f64();
        let after = vm_hwm_mib();
        println!(
            "jsonl [{label}]: {} records in {secs:.2} s = {:.0} MB/s (one core); peak RSS {before:.1} MiB before, {after:.1} MiB after (+{:.1}); ttft p99 {:?}, itl p99 {:?} of {} values",
            s.succeeded,
            mb / secs,
            after - before,
            s.ttft.p99,
            s.itl.p99,
            s.itl.count
        );
        if keep {
            exact.push([s.ttft, s.tpot, s.itl, s.e2el]);
        }
    }
    println!("jsonl: bounded and kept-every-value summaries identical: {}", exact[0] == exact[1]);

    match python_with_pandas() {
        Some(py) => {
            let script = format!(
                "import time, pandas as pd\nt = time.perf_counter()\ndf = pd.read_json({:?}, lines=True)\nprint(time.perf_counter() - t, len(df))",
                path.display().to_string()
            );
            let before = Instant::now();
            let out = Command::new(&py).args(["-c", &script]).output().expect("run python");
            if out.status.success() {
                let o = String::from_utf8_lossy(&out.stdout);
                let secs: f64 =
                    o.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
                let t = Instant::now();
                summarize(&path, JsonlOptions { keep_samples: true, ..Default::default() })
                    .expect("parse");
                let ours = t.elapsed().as_secs_f64();
                println!(
                    "pandas read_json(lines=True) [{py}]: {secs:.2} s = {:.0} MB/s (process {:.1} s); sweeper is {:.1}x faster",
                    mb / secs,
                    before.elapsed().as_secs_f64(),
                    secs / ours
                );
            } else {
                println!("pandas: failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            }
        }
        None => println!("pandas: no Python with pandas found (set SWEEPER_BENCH_PYTHON)"),
    }
    let _ = std::fs::remove_file(&path);
}

fn bench_render(dir: &Path) {
    let n = env_usize("SWEEPER_BENCH_COMBINATIONS", 1000);
    let batch = dir.join("batch");
    std::fs::create_dir_all(&batch).expect("mkdir");
    let agg =
        std::fs::read(Path::new(FIXTURE).join("profile_export_aiperf.json")).expect("fixture");
    let mut combos = Vec::new();
    let mut runs = Vec::new();
    for i in 0..n {
        let conc = 1u64 << (i % 10);
        let isl = 128 * (1 + (i / 10) % 10);
        let osl = 64 * (1 + i / 100);
        let params: records::Params = [
            ("concurrency".to_owned(), serde_json::json!(conc)),
            ("isl".to_owned(), serde_json::json!(isl)),
            ("osl".to_owned(), serde_json::json!(osl)),
        ]
        .into_iter()
        .collect();
        let d = format!("concurrency{conc}_isl{isl}_osl{osl}");
        std::fs::create_dir_all(batch.join(&d)).expect("mkdir");
        std::fs::write(batch.join(&d).join("profile_export_aiperf.json"), &agg).expect("write");
        let mut merged = serde_json::Map::new();
        merged.insert("model".into(), "org/model".into());
        merged.insert("request_count".into(), 100.into());
        combos.push(PlannedCombination {
            index: i,
            dir: d.clone(),
            params: params.clone(),
            merged,
            server_id: "s".into(),
            argv: vec![],
            targets: vec![records::TargetCheck {
                metric: "ttft_ms".into(),
                target: 25.0,
                tolerance: 0.05,
                source: "config".into(),
            }],
            repeat: None,
            point: None,
            probe: None,
        });
        runs.push(ManifestEntry {
            index: i,
            dir: d,
            params,
            status: RunStatus::Succeeded,
            reason: None,
            duration_s: Some(7.0),
        });
    }
    records::write_json_atomic(
        &batch.join(records::PLAN_FILE),
        &PlanRecord {
            format_version: FORMAT_VERSION,
            batch_name: "bench".into(),
            config_file: "c.yaml".into(),
            swept_keys: vec!["concurrency".into(), "isl".into(), "osl".into()],
            combinations: combos,
            tt_model_id: None,
            repeats: None,
            load_search: None,
            ab: None,
            cost: None,
            plan_hash: None,
            shard: None,
        },
    )
    .expect("plan");
    records::write_json_atomic(
        &batch.join(records::MANIFEST_FILE),
        &records::BatchManifest {
            format_version: FORMAT_VERSION,
            batch_name: "bench".into(),
            config_file: "c.yaml".into(),
            started_at: String::new(),
            updated_at: String::new(),
            finished: true,
            interrupted: false,
            sweeper_version: "0".into(),
            aiperf_version: "0.13.0".into(),
            runs,
        },
    )
    .expect("manifest");
    let size = |f: &str| std::fs::metadata(batch.join(f)).map(|m| m.len() / 1024).unwrap_or(0);
    // First render: also writes the 1,000 per-run standardized JSON files (each fsynced).
    // Then as the run stage calls it after each run: only the 4 reports change.
    for label in ["first render (writes every per-run file)", "re-render (after one more run)"] {
        let t = Instant::now();
        let out = sweeper::report::render_batch(&batch, None).expect("render");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "render_batch [{label}]: {n} combinations in {secs:.3} s, {} files written (report.md {} KiB, report.html {} KiB, summary.json {} KiB)",
            out.files_written.len(),
            size("report.md"),
            size("report.html"),
            size("summary.json")
        );
    }
    let t = Instant::now();
    let results = sweeper::results::collect(&batch).expect("collect");
    let collect = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = sweeper::report::Report::build(&results, None);
    let md = sweeper::report::markdown::render(&report).expect("md");
    let html = sweeper::report::html::render(&report).expect("html");
    let csv = sweeper::report::csv::render(&report).expect("csv");
    let json = sweeper::report::json::render(&report).expect("json");
    println!(
        "  of which: collect (read plan, manifest, 1,000 aggregate JSONs) {collect:.3} s; build + render 4 reports in memory {:.3} s ({} bytes)",
        t.elapsed().as_secs_f64(),
        md.len() + html.len() + csv.len() + json.len()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let dir = tempfile::tempdir().expect("tempdir");
    bench_jsonl(dir.path());
    bench_render(dir.path());
}
