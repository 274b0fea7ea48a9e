//! Bench: sweeper against a reference runner loop, paired, on the same stub aiperf.
//!
//! The reference is what the NeMo runner does per combination, written here in Python (no NeMo
//! code): spawn the stub, write `run_metadata.json` before and `process_result.json` after.
//! The stub copies a real aiperf export (`.aiperf_results_ready.json` included) into
//! `--artifact-dir` and exits: both sides pay its cost per combination. A real HTTP server on loopback answers
//! the health check. Each size runs sweeper and the reference back to back, alternating which
//! goes first, `BENCH_ROUNDS` times (default 2); the medians are compared. Every round writes
//! into directories of its own, all removed at the end, not before the next round: on ext4
//! without a journal (this VM's) each deleted inode is skipped by every file creation for some
//! 30 s (ext4's `recently_deleted`), so deleting a round's ~8,000 files slowed the rounds after
//! it, whichever side ran them, the side creating more files the most.
//!
//! Prints, at 1, 100 and 1,000 combinations: wall time of each, their ratio, the time per
//! combination `(T(n) - T(1)) / (n - 1)` (from the medians, from each side's fastest round, and
//! paired: the median of each round's own ratio, and their geometric mean with a 95% confidence
//! interval), start-up (T(1)), and peak RSS (of sweeper
//! itself; of the Python loop); then `sweeper report`'s peak RSS on the 100 and 1,000 batches.
//! Run as root, each side's own time per combination too (wall minus its stubs' lives, from
//! the kernel's process events) and the stubs' mean lives; read it at 1,000 combinations: at
//! 100 the noise of T(1) is divided by only 99. `BENCH_SWEEPER` measures another build.
//! Targets (issue 25): per combination <= the reference's; start-up <= 1/3 of the reference's;
//! peak RSS at 1,000 <= 1.5x that at 100, for a run and for `sweeper report`.
//!
//!     cargo bench --bench vs_runner
//!     BENCH_SIZES=1,100 BENCH_ROUNDS=1 cargo bench --bench vs_runner

mod common;
#[path = "common/proc_events.rs"]
mod proc_events;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The stub aiperf: `sh` and `cp` copying a real export into `--artifact-dir` (~5 ms a run on
/// the development VM; the issue's stub took ~11 ms). `BENCH_STUB=python` uses a Python script
/// instead (~45 ms a run here, most of it the interpreter's start and `import shutil`), which
/// makes T(1) mostly the stub's.
const SH_STUB: &str = include_str!("../tests/fixtures/bin/quick-aiperf");

/// The Python stub (`BENCH_STUB=python`); its first line (`#!` and the interpreter) is written
/// at run time.
const PY_STUB: &str = r#"
import os, shutil, sys
if "--version" in sys.argv:
    print("0.13.0"); sys.exit(0)
d = sys.argv[sys.argv.index("--artifact-dir") + 1]
os.makedirs(d, exist_ok=True)
src = os.environ["STUB_ARTIFACTS"]
for f in os.listdir(src):
    shutil.copy(os.path.join(src, f), os.path.join(d, f))
"#;

const RUNNER: &str = r#"
import datetime, json, os, subprocess, sys, urllib.request
stub, out, n, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
urllib.request.urlopen(f"http://127.0.0.1:{port}/health").read()
batch = os.path.join(out, datetime.datetime.now().strftime("%Y%m%d_%H%M%S"))
for i in range(1, n + 1):
    d = os.path.join(batch, f"concurrency{i}")
    os.makedirs(d, exist_ok=True)
    args = [stub, "profile", "--model", "m", "--url", f"http://127.0.0.1:{port}",
            "--concurrency", str(i), "--artifact-dir", d]
    with open(os.path.join(d, "run_metadata.json"), "w") as f:
        json.dump({"timestamp": datetime.datetime.now().isoformat(), "sweep_params": {"concurrency": i},
                   "command": " ".join(args)}, f, indent=2)
    r = subprocess.run(args, capture_output=True, text=True)
    with open(os.path.join(d, "process_result.json"), "w") as f:
        json.dump({"args": args, "returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr}, f, indent=2)
"#;

/// The sweeper to measure: this build's, or `BENCH_SWEEPER` (another build, to compare two).
fn sweeper_exe() -> PathBuf {
    std::env::var_os("BENCH_SWEEPER")
        .map_or_else(|| env!("CARGO_BIN_EXE_sweeper").into(), PathBuf::from)
}

/// What one measured command took: wall seconds, peak RSS (MiB, of the process itself, by
/// `wait4`), and the lives of its stub processes (seconds; `None` without process events, or
/// when the kernel dropped some).
struct Measured {
    wall: f64,
    rss: f64,
    stubs: Option<Vec<f64>>,
}

#[expect(clippy::zombie_processes, reason = "the child is reaped by wait4, which std cannot see")]
fn measure(cmd: &mut Command, events: Option<&proc_events::Listener>) -> Measured {
    if let Some(l) = events {
        l.take();
        l.lost.store(false, std::sync::atomic::Ordering::SeqCst);
    }
    let start = Instant::now();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = i32::try_from(child.id()).unwrap();
    let mut stderr = child.stderr.expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let wall = start.elapsed().as_secs_f64();
    let err = reader.join().unwrap();
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "failed: {err}");
    let stubs = events.and_then(|l| {
        l.settle(pid);
        let lives = proc_events::stub_lives(&l.take(), pid);
        (!l.lost.load(std::sync::atomic::Ordering::SeqCst)).then_some(lives)
    });
    Measured { wall, rss: usage.ru_maxrss as f64 / 1024.0, stubs }
}

/// Ratios pooled across rounds: their geometric mean and its 95% confidence interval (Student's
/// t over the log ratios, as the gate pools a batch's points), `None` under two rounds.
struct Paired {
    mean: f64,
    low: f64,
    high: f64,
    rounds: usize,
}

impl Paired {
    fn of(ratios: &[f64]) -> Option<Paired> {
        let p = sweeper::stats::gate::pooled(ratios, 0.95)?;
        let r = |pct: f64| 1.0 + pct / 100.0;
        Some(Paired {
            mean: r(p.change_pct),
            low: r(p.ci_low_pct),
            high: r(p.ci_high_pct),
            rounds: p.points,
        })
    }

    fn text(&self) -> String {
        format!("{:.3} [{:.3}, {:.3}]", self.mean, self.low, self.high)
    }

    /// Below 1 beyond the noise (the whole interval), or at least the estimate.
    fn verdict(&self) -> &'static str {
        if self.high < 1.0 {
            "below 1 beyond the noise"
        } else if self.mean <= 1.0 {
            "at or below 1, within the noise"
        } else {
            "above 1"
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A value per round of one size (`None` where it was not measured).
type PerRound = Vec<Option<f64>>;

struct Side {
    wall: f64,
    rss: f64,
    /// Wall time minus the lives of its stubs (the runner's own time), when known.
    own: Option<f64>,
    /// Its stubs' mean life, seconds.
    stub_life: Option<f64>,
}

impl Side {
    /// `m` of a run of `n` combinations; its own time only when every stub was seen.
    fn of(m: Measured, n: usize) -> Side {
        let stubs = m.stubs.filter(|s| s.len() == n);
        let sum = stubs.as_ref().map(|s| s.iter().sum::<f64>());
        Side {
            wall: m.wall,
            rss: m.rss,
            own: sum.map(|t| m.wall - t),
            stub_life: sum.map(|t| t / n as f64),
        }
    }
}

fn sweeper_run(
    (n, round): (usize, usize),
    tmp: &Path,
    stub: &Path,
    port: u16,
    art: &Path,
    events: Option<&proc_events::Listener>,
) -> (Side, PathBuf) {
    let values: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    let out = tmp.join(format!("sweeper-{n}-{round}"));
    let cfg = tmp.join(format!("bench-{n}.yaml"));
    std::fs::write(
        &cfg,
        format!(
            "batch_name: bench\noutput_base_dir: {}\nmax_combinations: {n}\naiperf:\n  executable: {}\nbase_config:\n  model: m\n  url: http://127.0.0.1:{port}\n  health_check_endpoint: /health\nsweeps:\n  concurrency: [{}]\n",
            out.display(),
            stub.display(),
            values.join(", ")
        ),
    )
    .unwrap();
    let m = measure(
        Command::new(sweeper_exe()).arg("--config-file").arg(&cfg).env("STUB_ARTIFACTS", art),
        events,
    );
    let batch = std::fs::read_dir(out.join("bench")).unwrap().next().unwrap().unwrap().path();
    (Side::of(m, n), batch)
}

fn reference_run(
    (n, round): (usize, usize),
    tmp: &Path,
    stub: &Path,
    port: u16,
    (art, python): (&Path, &str),
    events: Option<&proc_events::Listener>,
) -> Side {
    let out = tmp.join(format!("ref-{n}-{round}"));
    let m = measure(
        Command::new(python)
            .arg("-c")
            .arg(RUNNER)
            .arg(stub)
            .arg(&out)
            .arg(n.to_string())
            .arg(port.to_string())
            .env("STUB_ARTIFACTS", art),
        events,
    );
    Side::of(m, n)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 100, 1000]);
    let rounds: usize =
        std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let art = root.join("tests/fixtures/fake-aiperf/artifacts");
    let tmp = tempfile::tempdir().unwrap();
    // One interpreter, by its absolute path, for the stub and the reference loop: a `python3`
    // found on PATH may be a shim (pyenv's is a chain of bash scripts costing ~80 ms a start),
    // and which PATH each side's children see would then decide the result.
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3");
    let python = String::from_utf8(python.stdout).unwrap().trim().to_owned();
    let stub = tmp.path().join("stub-aiperf");
    let python_stub = std::env::var("BENCH_STUB").is_ok_and(|v| v == "python");
    if python_stub {
        std::fs::write(&stub, format!("#!{python}{PY_STUB}")).unwrap();
    } else {
        std::fs::write(&stub, SH_STUB).unwrap();
    }
    Command::new("chmod").arg("+x").arg(&stub).status().unwrap();
    let port = common::health_server();
    // The kernel's process events (root only): each stub's life, so that each side's own time
    // (its wall time minus its stubs' lives) can be compared without the stub's noise.
    let events = if python_stub { None } else { proc_events::Listener::start() };
    println!(
        "sweeper vs a reference runner loop (Python), the same {} stub aiperf, {rounds} paired rounds",
        if python_stub { "Python" } else { "sh" }
    );
    println!(
        "{:>6}  {:>10} {:>10} {:>6}  {:>10} {:>10}",
        "n", "sweeper s", "ref s", "ratio", "sweeper MiB", "ref MiB"
    );
    let mut rows: Vec<(usize, f64, f64, f64, f64)> = Vec::new();
    let mut batches: Vec<(usize, PathBuf)> = Vec::new();
    // Each side's fastest round per size: the machine's noise (a busy neighbour) only ever
    // slows a round down.
    let mut best: Vec<(usize, f64, f64)> = Vec::new();
    // Each size's rounds in the order run (sweeper, reference): round k of every size pairs.
    let mut by_round: Vec<(usize, Vec<f64>, Vec<f64>)> = Vec::new();
    // The same for each side's own time, and each side's stub lives (mean per run, per round).
    let mut own_by_round: Vec<(usize, PerRound, PerRound)> = Vec::new();
    let mut stub_life: Vec<(usize, PerRound, PerRound)> = Vec::new();
    for &n in &sizes {
        let (mut sw, mut rw, mut sr, mut rr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut so, mut ro, mut sl, mut rl) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let mut one = |first_sweeper: bool| {
                if first_sweeper {
                    let (s, b) =
                        sweeper_run((n, round), tmp.path(), &stub, port, &art, events.as_ref());
                    sw.push(s.wall);
                    sr.push(s.rss);
                    so.push(s.own);
                    sl.push(s.stub_life);
                    batches.retain(|(m, _)| *m != n);
                    batches.push((n, b));
                } else {
                    let r = reference_run(
                        (n, round),
                        tmp.path(),
                        &stub,
                        port,
                        (&art, &python),
                        events.as_ref(),
                    );
                    rw.push(r.wall);
                    rr.push(r.rss);
                    ro.push(r.own);
                    rl.push(r.stub_life);
                }
            };
            let sweeper_first = round % 2 == 0;
            one(sweeper_first);
            one(!sweeper_first);
        }
        let fastest = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        best.push((n, fastest(&sw), fastest(&rw)));
        by_round.push((n, sw.clone(), rw.clone()));
        own_by_round.push((n, so, ro));
        stub_life.push((n, sl, rl));
        let rounds_shown: Vec<String> =
            sw.iter().zip(&rw).map(|(s, r)| format!("{s:.3}/{r:.3}")).collect();
        let row = (n, median(&mut sw), median(&mut rw), median(&mut sr), median(&mut rr));
        println!(
            "{:>6}  {:>10.3} {:>10.3} {:>6.2}  {:>10.1} {:>10.1}",
            n,
            row.1,
            row.2,
            row.1 / row.2,
            row.3,
            row.4
        );
        if rounds > 1 {
            println!("        rounds (sweeper/reference s): {}", rounds_shown.join("  "));
        }
        rows.push(row);
    }
    if let (Some(one), Some(big)) =
        (rows.iter().find(|r| r.0 == 1), rows.iter().max_by_key(|r| r.0))
        && big.0 > 1
    {
        let per = |t1: f64, tn: f64| (tn - t1) / (big.0 - 1) as f64 * 1000.0;
        let (s, r) = (per(one.1, big.1), per(one.2, big.2));
        println!(
            "per combination (T({n}) - T(1)) / {m}: sweeper {s:.1} ms, reference {r:.1} ms, ratio {:.2} (target <= 1)",
            s / r,
            n = big.0,
            m = big.0 - 1
        );
        println!(
            "start-up T(1): sweeper {:.3} s, reference {:.3} s, ratio {:.2} (target <= 0.33)",
            one.1,
            one.2,
            one.1 / one.2
        );
        if let (Some(b1), Some(bn)) =
            (best.iter().find(|b| b.0 == 1), best.iter().find(|b| b.0 == big.0))
            && rounds > 1
        {
            let (s, r) = (per(b1.1, bn.1), per(b1.2, bn.2));
            println!(
                "  from each side's fastest round: sweeper {s:.1} ms, reference {r:.1} ms, ratio {:.2}; start-up {:.2}",
                s / r,
                b1.1 / b1.2
            );
        }
        // Paired: each round's own per-combination ratio (its T(1000) and T(1) minus the
        // reference's in the same round), then their median. The two sides of a round run
        // back to back, so a drift of the machine between rounds cancels out of each ratio.
        if let (Some((_, s1, r1)), Some((_, sn, rn))) =
            (by_round.iter().find(|b| b.0 == 1), by_round.iter().find(|b| b.0 == big.0))
            && rounds > 1
        {
            let mut ratios: Vec<f64> =
                (0..rounds).map(|k| per(s1[k], sn[k]) / per(r1[k], rn[k])).collect();
            let shown: Vec<String> = ratios.iter().map(|x| format!("{x:.3}")).collect();
            println!(
                "  paired, each round's own ratio: {}; median {:.3}",
                shown.join(" "),
                median(&mut ratios)
            );
            // Their geometric mean with a 95% confidence interval (Student's t over the rounds'
            // log ratios, as the gate pools a batch's points): the target is met beyond this
            // machine's noise when the whole interval is below 1.
            if let Some(p) = Paired::of(&ratios) {
                println!(
                    "  paired geometric mean, 95% CI: {} over {} rounds: {}",
                    p.text(),
                    p.rounds,
                    p.verdict()
                );
            }
        }
        // Each side's own time: its wall time minus its stubs' lives (exec to exit, from the
        // kernel's process events), per combination as above, paired by round. The stub's
        // noise (most of each round's time) is gone from it; the stubs' mean lives are shown
        // beside it, since a runner that slowed its stubs would hide that cost there.
        if let (Some((_, s1, r1)), Some((_, sn, rn))) =
            (own_by_round.iter().find(|b| b.0 == 1), own_by_round.iter().find(|b| b.0 == big.0))
        {
            let pairs: Vec<(f64, f64)> = (0..rounds)
                .filter_map(|k| Some((per(s1[k]?, sn[k]?), per(r1[k]?, rn[k]?))))
                .collect();
            if pairs.is_empty() {
                println!(
                    "  own time: not measured ({})",
                    if events.is_none() {
                        "the kernel's process events need root (CAP_NET_ADMIN) and the default sh stub: run the bench as root without BENCH_STUB"
                    } else {
                        "not every stub's exit was seen: the kernel dropped events, or the stub is not the default sh one"
                    }
                );
            } else {
                let (mut s_own, mut r_own): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
                let ratios: Vec<f64> = pairs.iter().map(|(s, r)| s / r).collect();
                let (sm, rm) = (median(&mut s_own), median(&mut r_own));
                println!(
                    "own time per combination (wall minus the stubs' lives, {} rounds): sweeper {sm:.3} ms, reference {rm:.3} ms, ratio {:.2} (target <= 1)",
                    pairs.len(),
                    sm / rm
                );
                // Whether sweeper's stubs lived longer than the reference's (a runner that slowed
                // its stubs would hide that cost from its own time): each round's ratio of the
                // two sides' mean stub life at the largest size, pooled the same way.
                let both: Vec<(f64, f64)> = stub_life
                    .iter()
                    .find(|b| b.0 == big.0)
                    .map(|(_, sl, rl)| {
                        sl.iter().zip(rl).filter_map(|(s, r)| Some(((*s)?, (*r)?))).collect()
                    })
                    .unwrap_or_default();
                let lives = Paired::of(&both.iter().map(|(s, r)| s / r).collect::<Vec<_>>());
                if !both.is_empty() {
                    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64 * 1000.0;
                    let (s_life, r_life) = (
                        mean(both.iter().map(|b| b.0).collect()),
                        mean(both.iter().map(|b| b.1).collect()),
                    );
                    println!(
                        "  a stub's life (exec to exit) at {}: sweeper's {s_life:.3} ms, the reference's {r_life:.3} ms, ratio {:.3}{}",
                        big.0,
                        s_life / r_life,
                        lives.as_ref().map_or(String::new(), |p| format!(", paired {}", p.text()))
                    );
                }
                if let Some(p) = Paired::of(&ratios) {
                    // Below 1 beyond the noise counts only with the stubs not slower (the
                    // interval of their lives' ratio reaching 1 or below).
                    let stubs_not_slower = lives.as_ref().is_some_and(|l| l.low <= 1.0);
                    let verdict = match (p.high < 1.0, stubs_not_slower) {
                        (true, true) => {
                            "below 1 beyond the noise, its stubs not slower (target met)"
                        }
                        (true, false) => "below 1, but its stubs lived longer: not met",
                        (false, _) => p.verdict(),
                    };
                    println!(
                        "  own time paired geometric mean, 95% CI: {} over {} rounds: {verdict}",
                        p.text(),
                        p.rounds
                    );
                }
            }
        }
        // T(1) includes one combination, i.e. one start of the stub (~50 ms of Python) on both
        // sides: what each side costs before and after its loop is T(1) minus that.
        let (fs, fr) = (one.1 * 1000.0 - s, one.2 * 1000.0 - r);
        println!(
            "fixed cost T(1) - one combination: sweeper {fs:.1} ms, reference {fr:.1} ms, ratio {:.2}",
            fs / fr
        );
    }
    let rss_at = |n: usize| rows.iter().find(|r| r.0 == n).map(|r| r.3);
    if let (Some(a), Some(b)) = (rss_at(100), rss_at(1000)) {
        println!("run peak RSS at 1,000 / at 100: {:.2} (target <= 1.5)", b / a);
    }
    let report_rss = |n: usize| {
        let (_, b) = batches.iter().find(|(m, _)| *m == n)?;
        let mut v: Vec<f64> = (0..rounds.max(1))
            .map(|_| measure(Command::new(sweeper_exe()).arg("report").arg(b), None).rss)
            .collect();
        Some(median(&mut v))
    };
    if let (Some(a), Some(b)) = (report_rss(100), report_rss(1000)) {
        println!(
            "`sweeper report` peak RSS: {a:.1} MiB at 100 runs, {b:.1} MiB at 1,000: {:.2} (target <= 1.5)",
            b / a
        );
    }
}
