//! Bench: sweeper's own time per combination (everything but aiperf and the server), over sweeps
//! of 100 and 1,000 combinations with a stub aiperf that copies real aiperf artifacts and exits.
//! Targets: p95 under 50 ms; the overhead at 1,000 within 1.5x of that at 100 (reports are kept
//! current without re-reading every run after every run). Also times the managed venv's warm
//! check (target: well under 100 ms).
//!
//!     cargo bench --bench run_overhead                      # 100 and 1000
//!     BENCH_COMBINATIONS=200 cargo bench --bench run_overhead

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

fn parse_ts(s: &str) -> f64 {
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").expect("timestamp");
    t.and_utc().timestamp_micros() as f64 / 1e6
}

/// What one sweep of `n` combinations cost.
struct Measured {
    n: usize,
    p50: f64,
    p95: f64,
    /// (wall - time inside the aiperf stubs) / n, ms.
    own_per_combination: f64,
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_COMBINATIONS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 1000]);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // A real HTTP server on loopback that answers the health check.
    let port = common::health_server();
    let measured: Vec<Measured> = sizes.iter().map(|&n| sweep(n, port, &root)).collect();
    if let (Some(small), Some(large)) = (measured.first(), measured.last())
        && small.n != large.n
    {
        println!(
            "  overhead per combination at {} vs {}: own time {:.2}x, p50 {:.2}x, p95 {:.2}x (target <= 1.5x)",
            large.n,
            small.n,
            large.own_per_combination / small.own_per_combination,
            large.p50 / small.p50,
            large.p95 / small.p95
        );
    }
    // The warm venv check.
    let settings = sweeper::config::AiperfSettings::default();
    if sweeper::run::venv::ensure(&settings, &mut |_| {}).is_ok() {
        let mut times = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            sweeper::run::venv::ensure(&settings, &mut |_| {}).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  managed venv warm check: p50 {:.3} ms, max {:.3} ms (target well under 100 ms)",
            percentile(&times, 50.0),
            times[times.len() - 1]
        );
    } else {
        println!("  managed venv not built: run `sweeper setup` to time its warm check");
    }
}

fn sweep(n: usize, port: u16, root: &Path) -> Measured {
    let tmp = tempfile::tempdir().unwrap();
    let values: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    let cfg = tmp.path().join("bench.yaml");
    std::fs::write(
        &cfg,
        format!(
            "batch_name: bench\noutput_base_dir: {}\nmax_combinations: {n}\naiperf:\n  executable: {}\nbase_config:\n  model: m\n  url: http://127.0.0.1:{port}\n  health_check_endpoint: /health\nsweeps:\n  concurrency: [{}]\n",
            tmp.path().join("out").display(),
            root.join("tests/fixtures/bin/fake-aiperf").display(),
            values.join(", ")
        ),
    )
    .unwrap();
    let start = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sweeper"))
        .arg("--config-file")
        .arg(&cfg)
        .env("FAKE_AIPERF_ARTIFACTS", root.join("tests/fixtures/fake-aiperf/artifacts"))
        .output()
        .unwrap();
    let wall = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let batch =
        std::fs::read_dir(tmp.path().join("out/bench")).unwrap().next().unwrap().unwrap().path();

    let mut spans: Vec<(f64, f64, f64)> = Vec::new(); // start, end, aiperf duration
    for i in 1..=n {
        let t = std::fs::read_to_string(batch.join(format!("concurrency{i}/process_result.json")))
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        spans.push((
            parse_ts(v["started_at"].as_str().unwrap()),
            parse_ts(v["ended_at"].as_str().unwrap()),
            v["duration_s"].as_f64().unwrap(),
        ));
    }
    // Per combination: from the end of one run to the start of the next (records, manifest,
    // reports, the next run's metadata) -- sweeper's own work between two aiperf processes.
    let mut gaps: Vec<f64> = spans.windows(2).map(|w| (w[1].0 - w[0].1) * 1000.0).collect();
    gaps.sort_by(f64::total_cmp);
    let aiperf_total: f64 = spans.iter().map(|s| s.2).sum();
    println!("run overhead over {n} combinations (stub aiperf, real HTTP server on loopback)");
    println!("  wall {wall:.2} s, in aiperf stubs {aiperf_total:.2} s");
    println!(
        "  sweeper time between runs: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms (target p95 < 50 ms)",
        percentile(&gaps, 50.0),
        percentile(&gaps, 95.0),
        gaps.last().copied().unwrap_or(f64::NAN)
    );
    let own = (wall - aiperf_total) * 1000.0 / n as f64;
    println!("  all of sweeper's own time per combination: {own:.2} ms");
    Measured {
        n,
        p50: percentile(&gaps, 50.0),
        p95: percentile(&gaps, 95.0),
        own_per_combination: own,
    }
}
