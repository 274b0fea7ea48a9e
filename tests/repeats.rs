//! Repeats: aiperf's own `--num-profile-runs` layout (a real fixture: 3 runs of the real aiperf
//! 0.13.0 against the mock server, `tests/fixtures/aiperf/chat-npr3/cmd.txt`) and interleaved
//! `repeat_<k>/` runs; sweeper's statistics across them agree with aiperf's; reports show the
//! intervals and the noisy points; compare judges changes with Welch's test.

mod common;

use std::path::Path;

use common::batch::{Batch, FIXTURES, Run, fixture, make_batch};
use common::*;
use serde_json::json;
use sweeper::model::metrics::{METRICS, Metric, Stat};
use sweeper::records::{RepeatOrder, RunStatus};
use sweeper::results::{self, Artifacts, multirun};

/// A one-point batch whose run holds aiperf's `--num-profile-runs 3` output.
fn npr_batch(root: &Path) -> std::path::PathBuf {
    // As in the fixture's cmd.txt.
    let b = vec![
        ("model", json!("mock-model")),
        ("isl", json!(32)),
        ("osl", json!(8)),
        ("request_count", json!(12)),
        ("concurrency", json!(2)),
        ("num_profile_runs", json!(3)),
        ("confidence_level", json!(0.95)),
    ];
    let runs = [Run::ok("chat-npr3", vec![("concurrency", json!(2))])];
    Batch::new("npr").base(b).repeats(3, RepeatOrder::BackToBack).write(root, &runs)
}

fn rel_close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Regression (issue 15): with `--num-profile-runs 3` aiperf exits 0 and writes no top-level
/// export and no ready marker, and the run was reported as failed. The layout is recognised:
/// the run succeeded, its three profile runs are its repeats, `metrics` are their means, and
/// every statistic sweeper computes across them (mean, sample std, CV, SE, Student-t interval,
/// min, max) agrees with aiperf's own aggregate to 1e-9 relative.
#[test]
fn num_profile_runs_layout_is_a_success_and_its_statistics_agree_with_aiperf() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = npr_batch(tmp.path());
    let run_dir = batch.join("concurrency2");
    assert!(multirun::is_multi_run(&run_dir));
    assert_eq!(results::check_artifacts(&run_dir, Some(3)), Artifacts::Complete { errors: 0 });
    let r = results::collect(&batch).unwrap();
    let run = &r.runs[0];
    assert_eq!(run.status, RunStatus::Succeeded, "{:?} {:?}", run.reason, run.problems);
    assert!(run.problems.is_empty(), "{:?}", run.problems);
    assert_eq!(run.repeats.len(), 3);
    assert_eq!(run.repeats[1].dir, "concurrency2/profile_runs/run_0002");
    let spread = run.spread.as_ref().unwrap();
    assert_eq!(spread.n, 3);
    let agg = multirun::read_aggregate(&run_dir).unwrap();
    let mut checked = 0;
    for d in METRICS {
        let Some(tag) = d.aiperf else { continue };
        for st in Stat::ALL {
            let Some((a, unit)) = agg.get(tag, st.name()) else { continue };
            let Some(s) = spread.get(d.metric, st) else {
                if d.shape == sweeper::model::metrics::Shape::Scalar && st != Stat::Avg {
                    continue;
                }
                panic!("no spread of {tag}_{}", st.name());
            };
            // aiperf's aggregate keeps each metric's own unit; sweeper's table is in ms.
            let f = if unit == "ns" { 1e-6 } else { 1.0 };
            let want = |x: Option<f64>| x.unwrap() * f;
            for (what, ours, theirs) in [
                ("mean", s.mean, want(a.mean)),
                ("std", s.std, want(a.std)),
                ("se", s.se, want(a.se)),
                ("ci_low", s.ci_low, want(a.ci_low)),
                ("ci_high", s.ci_high, want(a.ci_high)),
                ("min", s.min, want(a.min)),
                ("max", s.max, want(a.max)),
                ("t_critical", s.t_critical, a.t_critical.unwrap()),
            ] {
                assert!(
                    rel_close(ours, theirs),
                    "{tag}_{} {what}: {ours} vs aiperf {theirs}",
                    st.name()
                );
            }
            if let (Some(c), Some(t)) = (s.cv, a.cv) {
                assert!(rel_close(c, t), "{tag}_{} cv: {c} vs {t}", st.name());
            }
            let m = run.metrics.as_ref().unwrap().get(d.metric, st).unwrap();
            assert!(rel_close(m, want(a.mean)), "{tag}_{} mean in metrics", st.name());
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} statistics compared");

    // The tt standardized JSON holds the means.
    sweeper::report::render_batch(&batch, None).unwrap();
    let tt = std::fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("aiperf_benchmark_"))
        .expect("a tt file");
    let v = read_json(&tt.path());
    let mean_ttft = agg.get("time_to_first_token", "avg").unwrap().0.mean.unwrap();
    assert!(rel_close(v["mean_ttft_ms"].as_f64().unwrap(), mean_ttft));
    assert_eq!(v["num_prompts"], 12, "{v}");
    // compare reads the layout too: against itself, 3 repeats a side, nothing significant.
    let out = sweeper()
        .args(["compare", "--fail-on-regression"])
        .arg(&batch)
        .arg(&batch)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(t.matches("(n=3)").count(), 2 * 8, "{t}");
    assert_eq!(t.matches("| within noise |").count(), 8, "{t}");
    // Reports: the Uncertainty section, 3 repeats.
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains("## Uncertainty"), "{md}");
    assert!(md.contains("| 0 | concurrency=2 | 3 | "), "{md}");
}

/// A `--num-profile-runs` run with fewer than 2 good profile runs has no aggregate (aiperf then
/// exits 1): not a success, and the reason says why; `--resume` runs it again (the same
/// judgement). Also aiperf's plain multi-run folder, read without sweeper's records.
#[test]
fn num_profile_runs_without_an_aggregate_is_not_a_success() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = npr_batch(tmp.path());
    let run_dir = batch.join("concurrency2");
    std::fs::remove_dir_all(run_dir.join("aggregate")).unwrap();
    for k in [2, 3] {
        std::fs::remove_file(
            run_dir.join(format!("profile_runs/run_000{k}/.aiperf_results_ready.json")),
        )
        .unwrap();
    }
    let Artifacts::Incomplete(why) = results::check_artifacts(&run_dir, Some(3)) else { panic!() };
    assert!(why.contains("1 of its 3 profile runs succeeded, at least 2 are needed"), "{why}");
    let run = &results::collect(&batch).unwrap().runs[0];
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.reason.as_deref().unwrap().contains("1 of its 3 profile runs"), "{:?}", run.reason);

    // aiperf's own folder, no sweeper records: found as one run with 3 repeats.
    let plain = tmp.path().join("plain");
    copy_dir(&Path::new(FIXTURES).join("chat-npr3"), &plain.join("c2"));
    let r = results::collect(&plain).unwrap();
    assert_eq!(r.runs.len(), 1, "{:?}", r.runs.iter().map(|x| &x.dir).collect::<Vec<_>>());
    assert_eq!(r.runs[0].status, RunStatus::Succeeded);
    assert_eq!(r.runs[0].repeats.len(), 3);
}

/// Interleaved repeats: `<point>/repeat_<k>/` runs merged into one point per set of parameters,
/// its figures the means, its spread computed over the repeats, a repeat with failed requests
/// makes the point partial, and a pending repeat keeps it in progress.
#[test]
fn interleaved_repeats_are_merged_into_their_point() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = ["chat-stream", "chat-goodput", "chat-partial-errors"];
    let mut runs = Vec::new();
    for (k, f) in fx.iter().enumerate() {
        let mut run = Run::ok(f, vec![("concurrency", json!(2))]).repeat(k as u32 + 1);
        if *f == "chat-partial-errors" {
            // As the run stage records a run with failed requests.
            run.status = RunStatus::Partial;
        }
        runs.push(run);
    }
    for k in 1..=3 {
        runs.push(Run::ok("chat-stream", vec![("concurrency", json!(4))]).repeat(k));
    }
    let batch = Batch::new("il").repeats(3, RepeatOrder::Interleaved).write(tmp.path(), &runs);
    assert!(batch.join("concurrency2/repeat_3/profile_export_aiperf.json").is_file());
    let r = results::collect(&batch).unwrap();
    assert_eq!(r.runs.len(), 2);
    let p = &r.runs[0];
    assert_eq!((p.index, p.dir.as_str()), (0, "concurrency2"));
    assert_eq!(p.repeats.iter().map(|x| x.k).collect::<Vec<_>>(), [1, 2, 3]);
    let ttft: Vec<f64> = fx
        .iter()
        .map(|f| {
            read_json(&fixture(f, "profile_export_aiperf.json"))["time_to_first_token"]["avg"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let mean = ttft.iter().sum::<f64>() / 3.0;
    let sd = (ttft.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!(rel_close(p.metrics.as_ref().unwrap().get(Metric::Ttft, Stat::Avg).unwrap(), mean));
    let s = p.spread.as_ref().unwrap().get(Metric::Ttft, Stat::Avg).unwrap();
    assert!(rel_close(s.std, sd));
    // scipy.stats.t.ppf(0.975, 2)
    assert!(rel_close(s.ci_high - s.mean, 4.302652729749462 * sd / 3f64.sqrt()));
    // chat-partial-errors has failed requests: the point is partial.
    assert_eq!(p.status, RunStatus::Partial);
    assert_eq!(p.reason.as_deref(), Some("requests failed in 1 of 3 repeats"));
    // Identical repeats: a spread of 0, never noisy.
    let q = &r.runs[1];
    assert_eq!(q.status, RunStatus::Succeeded);
    assert_eq!(q.spread.as_ref().unwrap().get(Metric::Ttft, Stat::Avg).unwrap().std, 0.0);
    assert!(q.noisy.is_empty());
    // run_of maps a repeat's index to its point.
    assert_eq!(r.run_of(5).unwrap().dir, "concurrency4");

    // A repeat not run yet: the point is in progress, with the figures of the others.
    let mut runs2: Vec<Run> = (1..=2)
        .map(|k| Run::ok("chat-stream", vec![("concurrency", json!(2))]).repeat(k))
        .collect();
    runs2.push(Run::pending(vec![("concurrency", json!(2))]).repeat(3));
    let b2 = Batch::new("il2").repeats(3, RepeatOrder::Interleaved).write(tmp.path(), &runs2);
    let p2 = &results::collect(&b2).unwrap().runs[0];
    assert_eq!(p2.status, RunStatus::Running);
    assert_eq!(p2.spread.as_ref().unwrap().n, 2);
}

/// Reports with repeats: the Uncertainty table (mean ± half-width), the Noise section for a
/// point above `noise_cv_max`, CSV interval columns, summary.json spreads, HTML error bars. A
/// batch without repeats renders as before: none of these.
#[test]
fn reports_show_intervals_noise_and_error_bars() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = ["chat-stream", "chat-goodput", "chat-partial-errors"];
    let mut runs = Vec::new();
    for c in [2, 4] {
        for (k, f) in fx.iter().enumerate() {
            runs.push(Run::ok(f, vec![("concurrency", json!(c))]).repeat(k as u32 + 1));
        }
    }
    let batch = Batch::new("rep").repeats(3, RepeatOrder::Interleaved).write(tmp.path(), &runs);
    sweeper::report::render_batch(&batch, None).unwrap();
    let r = results::collect(&batch).unwrap();
    let s = r.runs[0].spread.as_ref().unwrap().get(Metric::Ttft, Stat::Avg).unwrap();
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    let cell = format!("{:.2} ± {:.2}", s.mean, s.ci_high - s.mean);
    assert!(md.contains(&format!("| 0 | concurrency=2 | 3 | {cell}")), "{cell}\n{md}");
    assert!(md.contains("95% confidence intervals"), "{md}");
    // These three fixtures differ by more than 5% in throughput: noisy, with the hint.
    let noisy = &r.runs[0].noisy;
    assert!(!noisy.is_empty());
    assert!(md.contains("## Noise") && md.contains("**#0** `concurrency=2`"), "{md}");
    assert!(md.contains(&format!("{} varies", noisy[0].label)), "{md}");
    assert!(md.contains("Hint: more requests per point"), "{md}");

    let mut rd = csv::Reader::from_path(batch.join("summary.csv")).unwrap();
    let header = rd.headers().unwrap().clone();
    let col =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name}"));
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][col("repeats")], "3");
    assert!(rel_close(rows[0][col("ttft_avg_ci_low_ms")].parse().unwrap(), s.ci_low));
    assert!(rel_close(rows[0][col("ttft_avg_ci_high_ms")].parse().unwrap(), s.ci_high));
    assert!(rows[0][col("output_tok_s_ci_low")].parse::<f64>().is_ok());
    assert!(!rows[0][col("noisy")].is_empty());

    let sj = read_json(&batch.join("summary.json"));
    let j = &sj["rows"][0]["spread"]["ttft_avg_ms"];
    assert!(rel_close(j["ci_low"].as_f64().unwrap(), s.ci_low), "{j}");
    assert_eq!(sj["rows"][0]["repeats"], 3);
    assert_eq!(sj["noise"][0]["index"], 0);

    let html = std::fs::read_to_string(batch.join("report.html")).unwrap();
    // Throughput (2 points), TTFT p50+p99 (4), ITL p50+p99 (4), Pareto x and y (2 x 2).
    assert_eq!(html.matches("class=\"errbar\"").count(), 2 + 4 + 4 + 4, "error bars");
    assert!(html.contains("<h2>Uncertainty</h2>") && html.contains("<h2>Noise</h2>"));

    // One run per point: the reports are as they were.
    let plain =
        make_batch(tmp.path(), "plain", &[Run::ok("chat-stream", vec![("concurrency", json!(2))])]);
    sweeper::report::render_batch(&plain, None).unwrap();
    let md = std::fs::read_to_string(plain.join("report.md")).unwrap();
    assert!(!md.contains("Uncertainty") && !md.contains("## Noise"), "{md}");
    let csv_text = std::fs::read_to_string(plain.join("summary.csv")).unwrap();
    assert!(!csv_text.contains("repeats") && !csv_text.contains("_ci_low"), "{csv_text}");
    let html = std::fs::read_to_string(plain.join("report.html")).unwrap();
    assert!(!html.contains("errbar") && !html.contains("Uncertainty"));
}

/// `repeats:` in the config: the short and full forms, the plan they give (interleaved runs in
/// `repeat_<k>/`, repeat-major run order; back to back: aiperf's flags), and the conflicts.
#[test]
fn repeats_config_and_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |body: &str| {
        common::config::write(
            tmp.path(),
            "c.yaml",
            &format!(
                "batch_name: r\nbase_config:\n  model: m\n  url: http://127.0.0.1:1\nsweeps:\n  concurrency: [1, 2]\n{body}"
            ),
        )
    };
    let dry = |body: &str| {
        let out = sweeper().arg("-c").arg(write(body)).arg("--dry-run").output().unwrap();
        (out.status.code(), text(&out))
    };
    let (code, t) = dry("repeats: 3\n");
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("repeats: 3 per point (interleaved"), "{t}");
    assert!(t.contains("2 points x 3 = 6 aiperf runs"), "{t}");
    // Run order: repeat 1 of both points, then repeat 2...
    let order: Vec<&str> = t.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(order.len(), 6);
    for (line, dir) in order.iter().zip([
        "concurrency1/repeat_1",
        "concurrency2/repeat_1",
        "concurrency1/repeat_2",
        "concurrency2/repeat_2",
        "concurrency1/repeat_3",
        "concurrency2/repeat_3",
    ]) {
        assert!(line.contains(&format!("/{dir}'")), "{line} vs {dir}");
    }
    let (code, t) = dry("repeats: {count: 4, order: back_to_back, confidence: 0.9}\n");
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(t.lines().filter(|l| l.starts_with('[')).count(), 2);
    assert!(t.contains("--num-profile-runs 4 --confidence-level 0.9"), "{t}");
    let (code, t) = dry("repeats: 1\n");
    assert_eq!(code, Some(0), "{t}");
    assert!(!t.contains("repeats:") && !t.contains("repeat_1"), "{t}");
    // aiperf's own option alone: back to back, recognised as repeats.
    let f = common::config::write(
        tmp.path(),
        "n.yaml",
        "base_config:\n  model: m\n  url: http://127.0.0.1:1\n  concurrency: 1\n  num_profile_runs: 3\n",
    );
    let out = sweeper().arg("-c").arg(&f).arg("--dry-run").output().unwrap();
    assert!(text(&out).contains("repeats: 3 per point (back to back"), "{}", text(&out));
    // Both at once: an error at the key, exit 2.
    let (code, t) = dry("repeats: 3\nscenarios:\n  - {num_profile_runs: 2}\n");
    assert_eq!(code, Some(2), "{t}");
    assert!(
        t.contains("c.yaml:9:6") && t.contains("`num_profile_runs` and the `repeats` section both"),
        "{t}"
    );
    for (body, says) in [
        ("repeats: 0\n", "repeats"),
        ("repeats: {count: 3, order: sideways}\n", "repeats"),
        ("repeats: {count: 3, confidence: 1.5}\n", "repeats"),
        ("repeats: {count: 3, noise_cv: 0.1}\n", "noise_cv"),
    ] {
        let (code, t) = dry(body);
        assert_eq!(code, Some(2), "{body}: {t}");
        assert!(t.contains(says) && t.contains("c.yaml:7:"), "{body}: {t}");
    }
}

/// Compare with repeats: Welch's test on the per-repeat values, verdicts and the gate's exit
/// code; and bad input: no common points, repeats on one side only, a partial batch,
/// provenance differences.
#[test]
fn compare_with_repeats_and_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let rep = |name: &str, fx: [&'static str; 3]| {
        let runs: Vec<Run> = fx
            .iter()
            .enumerate()
            .map(|(k, f)| Run::ok(f, vec![("concurrency", json!(2))]).repeat(k as u32 + 1))
            .collect();
        Batch::new(name).repeats(3, RepeatOrder::Interleaved).write(tmp.path(), &runs)
    };
    let a = rep("a", ["chat-stream", "chat-stream", "chat-goodput"]);
    let b = rep("b", ["chat-stream", "chat-goodput", "chat-goodput"]);
    let out = sweeper().args(["compare", "--fail-on-regression"]).arg(&a).arg(&b).output().unwrap();
    let t = text(&out);
    assert!(t.contains("| concurrency=2 | TTFT avg (ms) |"), "{t}");
    assert!(t.contains("(n=3)"), "{t}");
    assert!(!t.contains("no repeats |"), "{t}");
    let regressions = t.matches("**regression**").count();
    assert_eq!(out.status.code(), Some(if regressions > 0 { 1 } else { 0 }), "{t}");

    // Against itself: nothing significant.
    let out = sweeper().args(["compare", "--fail-on-regression"]).arg(&a).arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("**0 regressions, 0 improvements.**"));

    // Repeats on one side only: a note, every verdict `no repeats`.
    let single = make_batch(
        tmp.path(),
        "single",
        &[Run::ok("chat-goodput", vec![("concurrency", json!(2))])],
    );
    let out =
        sweeper().args(["compare", "--fail-on-regression"]).arg(&a).arg(&single).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("B has no repeats (one run per point)"), "{t}");
    assert_eq!(t.matches("| no repeats |").count(), 8, "{t}");

    // No point in common: exit 2, both sides listed.
    let other = make_batch(
        tmp.path(),
        "other",
        &[Run::ok("chat-stream", vec![("concurrency", json!(64))])],
    );
    let out = sweeper().arg("compare").arg(&a).arg(&other).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("no point of")
            && t.contains("A has: concurrency=2")
            && t.contains("B has: concurrency=64"),
        "{t}"
    );
    assert!(t.contains("hint: compare two batches of the same sweep"), "{t}");

    // A partial batch: compared where both have results, and said.
    let partial = make_batch(
        tmp.path(),
        "partial",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2))]),
            Run::pending(vec![("concurrency", json!(4))]),
        ],
    );
    let out = sweeper().arg("compare").arg(&single).arg(&partial).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("B is partial (1 of 2 points without results, not finished)"), "{t}");

    // Provenance: a different aiperf version and host are shown first.
    for (dir, aiperf, hostname) in [(&a, "0.13.0", "gpu-node-1"), (&b, "0.14.0", "gpu-node-2")] {
        let p = sweeper::records::Provenance {
            format_version: 1,
            sweeper_version: "0.1.0".into(),
            aiperf_version: aiperf.into(),
            hosts: vec![sweeper::records::Host {
                hostname: hostname.into(),
                cpus: 8,
                kernel: "6.1".into(),
                os: None,
                gpus: vec![],
            }],
            ..Default::default()
        };
        sweeper::records::write_json_atomic(&dir.join("provenance.json"), &p).unwrap();
    }
    let out = sweeper().arg("compare").arg(&a).arg(&b).output().unwrap();
    let t = text(&out);
    assert!(t.contains("## Not like for like"), "{t}");
    assert!(
        t.contains("| aiperf version | 0.13.0 | 0.14.0 |")
            && t.contains("| host | gpu-node-1 | gpu-node-2 |"),
        "{t}"
    );
    assert!(t.find("Not like for like").unwrap() < t.find("## Changes").unwrap());

    // Bad gate options.
    let out = sweeper().args(["compare", "--threshold", "-1"]).arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = sweeper().args(["compare", "--confidence", "1.5"]).arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A run whose `run_metadata.json` asked aiperf for 3 profile runs but whose directory holds a
/// single run's export is not a success for the reports either: what it measured is not what
/// was asked for (the judgement the run stage makes from its plan, made by the reader from the
/// record it has read once).
#[test]
fn a_single_run_export_where_profile_runs_were_asked_is_not_a_success() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = [Run::ok("chat-stream", vec![("concurrency", json!(2))])];
    let batch = Batch::new("asked")
        .base(vec![("model", json!("mock-model")), ("num_profile_runs", json!(3))])
        .write(tmp.path(), &runs);
    let run = &results::collect(&batch).unwrap().runs[0];
    assert_eq!(run.status, RunStatus::Failed);
    let reason = run.reason.as_deref().unwrap();
    assert!(reason.contains("aiperf was asked for 3 profile runs"), "{reason}");

    // Asked for one: the single run's export is what was asked for.
    let tmp = tempfile::tempdir().unwrap();
    let batch = Batch::new("asked")
        .base(vec![("model", json!("mock-model")), ("num_profile_runs", json!(1))])
        .write(tmp.path(), &runs);
    assert_eq!(results::collect(&batch).unwrap().runs[0].status, RunStatus::Succeeded);
}
