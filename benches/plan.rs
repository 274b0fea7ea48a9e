//! Times load + validate + expand of a 10,000-combination config and of a 3-combination example,
//! and the largest config sweeper accepts (its plan memory budget's edge): wall and CPU time and
//! peak memory of `sweeper validate` on it (targets: < 2 s, < 500 MB).
//! `cargo bench --bench plan`. No harness: prints the median of several iterations.

use std::path::Path;
use std::time::{Duration, Instant};

use sweeper::config::{LoadOptions, load_str};
use sweeper::plan::expand;

/// 2 scenarios x 10 x 10 x 10 x `seeds` combinations.
fn config_with(seeds: usize) -> String {
    let list = |vals: Vec<String>| format!("[{}]", vals.join(", "));
    let ten = |base: u64, step: u64| list((0..10).map(|i| (base + i * step).to_string()).collect());
    format!(
        "batch_name: bench\n\
         max_combinations: 20000\n\
         base_config:\n  model: m\n  url: http://127.0.0.1:8000\n  endpoint_type: chat\n  streaming: true\n  concurrency: 0\n\
         scenarios:\n  - {{osl: 128}}\n  - {{osl: 1024}}\n\
         sweeps:\n  concurrency: {}\n  isl: {}\n  request_count: {}\n  random_seed: {}\n",
        ten(1, 1),
        ten(128, 128),
        ten(10, 10),
        list((0..seeds).map(|i| i.to_string()).collect()),
    )
    .replace("max_combinations: 20000", "max_combinations: 100000")
}

/// 2 scenarios x 10 x 10 x 10 x 5 = 10,000 combinations.
fn big_config() -> String {
    config_with(5)
}

/// The largest config of this shape that validates: the edge of the plan memory budget.
fn largest_accepted() -> (String, usize) {
    let path = Path::new("bench.yaml");
    for seeds in (1..=50).rev() {
        let text = config_with(seeds);
        if load_str(path, text.clone(), &LoadOptions::default()).is_ok() {
            return (text, 2000 * seeds);
        }
    }
    panic!("no size accepted");
}

/// `sweeper validate` on `text` in a child process: (wall, CPU, peak RSS bytes).
#[expect(clippy::zombie_processes, reason = "the child is reaped by wait4, which std cannot see")]
fn validate_cost(text: &str) -> (Duration, Duration, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("largest.yaml");
    std::fs::write(&f, text).expect("write config");
    let t = Instant::now();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sweeper"))
        .arg("validate")
        .arg(&f)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run sweeper validate");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 reaps our own child and fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = t.elapsed();
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "validate failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (wall, tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_maxrss as u64 * 1024)
}

fn time(text: &str, iters: usize, expect: usize) -> (Duration, Duration) {
    let path = Path::new("bench.yaml");
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        let cfg = load_str(path, text.to_owned(), &LoadOptions::default()).expect("valid config");
        let plan = expand(&cfg).expect("expands");
        samples.push(t.elapsed());
        assert_eq!(plan.combinations.len(), expect);
        std::hint::black_box(plan);
    }
    let first = samples[0];
    samples.sort();
    (first, samples[samples.len() / 2])
}

fn phases(text: &str) {
    let path = Path::new("bench.yaml");
    let t = Instant::now();
    let cfg = load_str(path, text.to_owned(), &LoadOptions::default()).expect("valid");
    let load = t.elapsed();
    let t = Instant::now();
    let plan = expand(&cfg).expect("expands");
    let exp = t.elapsed();
    println!(
        "  phases (warm): load+validate {load:?}, expand {exp:?} ({} combinations)",
        plan.combinations.len()
    );
}

fn main() {
    let small = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("aiperf_configs/sweep_concurrency.yaml"),
    )
    .expect("example config");
    let big = big_config();
    // The first call compiles the JSON Schema (once per process): shown separately.
    let (small_first, small_med) = time(&small, 31, 3);
    let (big_first, big_med) = time(&big, 7, 10_000);
    println!("plan bench (load + validate + expand):");
    println!(
        "  3 combinations      : median {small_med:?} (first call, incl. schema compile: {small_first:?})"
    );
    println!("  10,000 combinations : median {big_med:?} (first call: {big_first:?})");
    println!(
        "  ratio 10,000 / 3    : {:.1}x; per combination {:?}",
        big_med.as_secs_f64() / small_med.as_secs_f64(),
        big_med / 10_000
    );
    phases(&big);
    let (largest, n) = largest_accepted();
    let (wall, cpu, rss) = validate_cost(&largest);
    println!(
        "  largest accepted ({n} combinations, the plan budget's edge): `sweeper validate` wall {wall:?}, CPU {cpu:?}, peak memory {} MB (targets < 2 s, < 500 MB)",
        rss >> 20
    );
    // The bound holds for the optimised bench profile; a debug build on a loaded machine is
    // only reported.
    if cfg!(debug_assertions) {
        println!("  (debug build: the 1 s bound is only checked by `cargo bench`)");
    } else {
        assert!(big_med < Duration::from_secs(1), "10,000 combinations took {big_med:?}");
    }
}
