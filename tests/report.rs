//! Reports rendered from small batch directories built out of real aiperf 0.13.0 artifacts.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use sweeper::records::{RunStatus, TargetCheck};
use sweeper::report::{ExtraTargets, compare, render_batch};

mod common;
use common::batch::{Batch, FIXTURES, Run, fixture, make_batch};
use common::{all_files, copy_dir, read_json, root, sweeper, tt_files};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn target(metric: &str, value: f64, tol: f64) -> TargetCheck {
    TargetCheck { metric: metric.into(), target: value, tolerance: tol, source: "config".into() }
}

#[test]
fn report_md_has_the_tt_table_with_values_from_the_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = make_batch(
        tmp.path(),
        "b",
        &[Run::ok(
            "chat-stream",
            vec![("concurrency", json!(2)), ("endpoint_type", json!("chat"))],
        )],
    );
    let out = render_batch(&batch, None).unwrap();
    for f in ["report.md", "summary.csv", "summary.json", "report.html"] {
        assert!(
            out.files_written.contains(&batch.join(f)),
            "{f} not written: {:?}",
            out.files_written
        );
    }
    let md = read(&batch.join("report.md"));
    assert!(md.contains(
        "| ISL | OSL | Concur | N | endpoint_type | TTFT Avg (ms) | TTFT P50 (ms) | TTFT P99 (ms) | TPOT Avg (ms)"
    ), "{md}");
    // chat-stream: TTFT avg 21.7085, p50 21.2944, p99 27.5274; TPOT (inter_token_latency) avg
    // 5.0179; ITL (inter_chunk_latency) p99 8.348; E2EL avg 96.977; 321.17 output tok/s.
    assert!(
        md.contains("| 64 | 16 | 2 | 20 | chat | 21.7 | 21.3 | 27.5 | 5.0 | 5.0 | 5.3 | 5.0 | 8.3 | 97.0 | 96.4 | 101.1 | 321.17 | 1605.85 | 20.07 | succeeded |"),
        "{md}"
    );
    assert!(md.contains("## Failures\n\nNone."), "{md}");
    assert_eq!(out.target_fails, 0);
}

#[test]
fn failed_and_pending_runs_are_reported_with_their_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = make_batch(
        tmp.path(),
        "b",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2))]),
            Run::ok("fail-noserver", vec![("concurrency", json!(4))]).with_status(
                RunStatus::Failed,
                Some("aiperf exited with code 1: All 10 inference request(s) failed"),
            ),
            Run::ok("chat-partial-errors", vec![("concurrency", json!(8))])
                .with_status(RunStatus::Partial, Some("5 of 20 requests failed")),
            Run::pending(vec![("concurrency", json!(16))]),
        ],
    );
    let out = render_batch(&batch, None).unwrap();
    assert_eq!(out.combinations, 4);
    assert_eq!(out.failed_runs, 1);
    let md = read(&batch.join("report.md"));
    let failures = md.split("## Failures").nth(1).unwrap();
    assert!(
        failures.contains(
            "- **#1** `concurrency4` (failed): aiperf exited with code 1: All 10 inference request(s) failed"
        ),
        "{failures}"
    );
    // From the JSONL, since a failed run has no aggregate: the 10 refused connections.
    assert!(failures.contains("requests failed: ClientConnectorError: 10"), "{failures}");
    // Partial run: aiperf's error_summary.
    assert!(failures.contains("requests failed: Internal Server Error (500): 5"), "{failures}");
    assert!(
        md.contains("| - | - | - | - | - | - | - | - | - | - | - | - | - | - | pending |"),
        "{md}"
    );
    assert!(md.contains("1 failed, 1 not run (**in progress or stopped**)"), "{md}");
    // No standardized JSON for the failed or pending runs; one for each run with results.
    let std_files: Vec<_> = out
        .files_written
        .iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("aiperf_benchmark_"))
        .collect();
    assert_eq!(std_files.len(), 2, "{std_files:?}");
}

#[test]
fn targets_pass_and_fail_with_ratio_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = Run::ok("chat-stream", vec![("concurrency", json!(2))]);
    // TTFT avg 21.7085 vs 25 -> PASS, ratio 0.868; tput_user = 1000 / 5.01787 = 199.29 vs
    // 250 with 10% tolerance -> FAIL (needs >= 225), ratio 0.797.
    run.targets = vec![target("ttft_ms", 25.0, 0.0), target("tput_user", 250.0, 0.1)];
    let batch = make_batch(tmp.path(), "b", &[run]);
    let out = render_batch(&batch, None).unwrap();
    assert_eq!((out.target_passes, out.target_fails), (1, 1));
    let md = read(&batch.join("report.md"));
    assert!(md.contains("| ttft_ms | config | 21.71 | 25.00 | 0.868 | 0% | PASS ✅ |"), "{md}");
    assert!(
        md.contains("| tput_user | config | 199.29 | 250.00 | 0.797 | 10% | FAIL ⛔ |"),
        "{md}"
    );
    let html = read(&batch.join("report.html"));
    assert!(html.contains("FAIL ⛔") && html.contains("PASS ✅"));
    let json = read_json(&batch.join("summary.json"));
    assert_eq!(json["target_fails"], 1);
    assert_eq!(json["rows"][0]["targets"][1]["verdict"], "FAIL");
    let code = |args: &[&str]| {
        sweeper()
            .arg("report")
            .args(args)
            .arg(&batch)
            .output()
            .expect("run sweeper report")
            .status
            .code()
    };
    assert_eq!(code(&["--fail-on-target"]), Some(1));
    assert_eq!(code(&[]), Some(0));
}

#[test]
fn targets_file_entries_match_by_isl_osl_and_concurrency() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = make_batch(
        tmp.path(),
        "b",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2))]),
            Run::ok("chat-goodput", vec![("concurrency", json!(4))]),
        ],
    );
    let tf = tmp.path().join("model_performance_reference.json");
    std::fs::write(
        &tf,
        json!({"mock-model": {"n300": [
            {"isl": 64, "osl": 16, "max_concurrency": 2, "num_prompts": 20,
             "targets": {"theoretical": {"ttft_ms": 20, "tput_user": 150, "tolerance": 0.1},
                         "functional": {"ttft_ms": 200}}},
            {"isl": 64, "osl": 16, "max_concurrency": 32,
             "targets": {"theoretical": {"ttft_ms": 1}}},
            {"isl": 64, "osl": 16, "max_concurrency": 2, "task_type": "vlm",
             "targets": {"theoretical": {"ttft_ms": 1}}}
        ]}})
        .to_string(),
    )
    .unwrap();
    let extra = ExtraTargets {
        reference: sweeper::tt::reference::load(&tf, None, None).unwrap(),
        tolerance: sweeper::tt::reference::DEFAULT_TOLERANCE,
    };
    let out = render_batch(&batch, Some(&extra)).unwrap();
    // Only the c=2 run matches: ttft 21.71 <= 20 x 1.1 PASS, tput_user 199.3 >= 150 x 0.9 PASS,
    // functional ttft 200 PASS (default tolerance 5%). The c=32 and vlm entries never apply.
    assert_eq!((out.target_passes, out.target_fails), (3, 0));
    let md = read(&batch.join("report.md"));
    assert!(
        md.contains("| ttft_ms | theoretical | 21.71 | 20.00 | 1.085 | 10% | PASS ✅ |"),
        "{md}"
    );
    assert!(
        md.contains("| ttft_ms | functional | 21.71 | 200.00 | 0.109 | 5% | PASS ✅ |"),
        "{md}"
    );
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"x\": [1,").unwrap();
    let e = sweeper::tt::reference::load(&bad, None, None).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "failed to parse targets reference file `{}` at line 1",
            bad.display()
        )),
        "{e}"
    );
}

#[test]
fn summary_csv_and_json_have_one_row_per_combination() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = make_batch(
        tmp.path(),
        "b",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2)), ("isl", json!(64))]),
            Run::ok("chat-goodput", vec![("concurrency", json!(4)), ("isl", json!(64))]),
        ],
    );
    render_batch(&batch, None).unwrap();
    let mut rdr = csv::Reader::from_path(batch.join("summary.csv")).unwrap();
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..6], ["index", "dir", "status", "concurrency", "param.isl", "isl"]);
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("ttft_avg_ms")], "21.708520749999998");
    assert_eq!(&rows[1][col("concurrency")], "4");
    assert_eq!(&rows[0][col("total_input_tokens")], "1280");
    let j = read_json(&batch.join("summary.json"));
    assert_eq!(j["format_version"], 1);
    assert_eq!(j["rows"].as_array().unwrap().len(), 2);
    assert_eq!(j["rows"][1]["metrics"]["completed"], 40.0);
    assert_eq!(j["param_keys"], json!(["concurrency", "isl"]));
}

#[test]
fn a_corrupt_run_is_named_with_file_and_line_and_the_others_still_report() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = make_batch(
        tmp.path(),
        "b",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2))]),
            Run::ok("chat-goodput", vec![("concurrency", json!(4))]),
        ],
    );
    let agg = batch.join("concurrency4/profile_export_aiperf.json");
    let text = read(&agg);
    std::fs::write(&agg, &text[..text.len() / 2]).unwrap();
    let out = render_batch(&batch, None).unwrap();
    let md = read(&batch.join("report.md"));
    assert!(md.contains("| 64 | 16 | 2 | 20 | 21.7 |"), "{md}");
    // The broken run's numbers come from aiperf's CSV instead (2 decimals): chat-goodput's
    // TTFT avg 22.93 ms, 619.49 output tok/s.
    assert!(md.contains("| 64 | 16 | 4 | 20 | 22.9 |"), "{md}");
    assert!(md.contains("| 619.49 |"), "{md}");
    // With the CSV broken too, both files are named, and the latencies are recomputed from the
    // JSONL (which has no run-level throughput).
    let csv_path = batch.join("concurrency4/profile_export_aiperf.csv");
    let text = read(&csv_path);
    let mut lines: Vec<&str> = text.split("\r\n").collect();
    lines[1] = "Active Decode Throughput (tokens/sec),1.2.3";
    std::fs::write(&csv_path, lines.join("\r\n")).unwrap();
    render_batch(&batch, None).unwrap();
    let md = read(&batch.join("report.md"));
    assert!(md.contains("| 64 | 16 | 4 | 20 | 22.9 | 22.0 | 35.5 |"), "{md}");
    // Success means the results parse (issue 11): the same judgement as the run stage's and
    // --resume's, so this run is failed, with its numbers still shown from the fallbacks.
    assert!(md.contains("| 111.0 | - | - | - | failed |"), "{md}");
    assert!(md.contains("recomputed from `profile_export.jsonl`"), "{md}");
    assert!(
        md.contains(&format!("unreadable: failed to parse `{}:2`", csv_path.display())),
        "{md}"
    );
    assert!(
        md.contains("- **#1** `concurrency4` (failed): recorded as succeeded, but its results are unusable: profile_export_aiperf.json unreadable"),
        "{md}"
    );
    assert!(md.contains(&format!("unreadable: failed to parse `{}:", agg.display())), "{md}");
    assert!(out.warnings.iter().any(|w| w.contains("profile_export_aiperf.json:")));
}

#[test]
fn render_batch_works_on_a_batch_that_is_still_running() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = make_batch(
        tmp.path(),
        "b",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(1))])
                .with_status(RunStatus::Running, None),
            Run::pending(vec![("concurrency", json!(2))]),
        ],
    );
    // Remove the artifacts of the running run: aiperf is still writing them.
    for f in [
        ".aiperf_results_ready.json",
        "profile_export_aiperf.json",
        "profile_export_aiperf.csv",
        "profile_export.jsonl",
    ] {
        std::fs::remove_file(batch.join("concurrency1").join(f)).unwrap();
    }
    let out = render_batch(&batch, None).unwrap();
    assert_eq!(out.failed_runs, 0);
    let md = read(&batch.join("report.md"));
    assert!(md.contains("| running |") && md.contains("| pending |"), "{md}");
    let html = read(&batch.join("report.html"));
    assert!(html.contains("no data yet"));
}

#[test]
fn compare_shows_absolute_and_percent_change_and_unmatched_combinations() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make_batch(
        tmp.path(),
        "a",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2))]),
            Run::ok("chat-stream", vec![("concurrency", json!(8))]),
        ],
    );
    let b = make_batch(
        tmp.path(),
        "b",
        &[
            // Same combination, `isl` spelled as an alias in one: still matched.
            Run::ok("chat-goodput", vec![("concurrency", json!(2))]),
            Run::ok("chat-goodput", vec![("concurrency", json!(16))]),
        ],
    );
    let ra = sweeper::results::collect(&a).unwrap();
    let rb = sweeper::results::collect(&b).unwrap();
    let c = compare::compare(&ra, &rb, &Default::default()).unwrap();
    let ja = read_json(&fixture("chat-stream", "profile_export_aiperf.json"));
    let jb = read_json(&fixture("chat-goodput", "profile_export_aiperf.json"));
    let (ta, tb) = (
        ja["time_to_first_token"]["avg"].as_f64().unwrap(),
        jb["time_to_first_token"]["avg"].as_f64().unwrap(),
    );
    let row = c.rows.iter().find(|r| r.metric == "TTFT avg (ms)").unwrap();
    assert_eq!(row.combination, "concurrency=2");
    assert!((row.change.unwrap() - (tb - ta)).abs() < 1e-9);
    assert!((row.change_pct.unwrap() - (tb - ta) / ta * 100.0).abs() < 1e-9);
    let md = compare::render_markdown(&c).unwrap();
    let expected = format!(
        "| concurrency=2 | TTFT avg (ms) | {ta:.2} | {tb:.2} | {:+.2} | {:+.1}% |",
        tb - ta,
        (tb - ta) / ta * 100.0
    );
    assert!(md.contains(&expected), "{expected}\n{md}");
    assert!(
        md.contains("- only in A: concurrency=8") && md.contains("- only in B: concurrency=16"),
        "{md}"
    );
    assert_eq!(c.rows.len(), compare::COMPARED.len());
    let out = tmp.path().join("cmp");
    let status = sweeper()
        .arg("compare")
        .args([&a, &b])
        .arg("--output")
        .arg(&out)
        .output()
        .expect("run sweeper compare")
        .status;
    assert_eq!(status.code(), Some(0));
    assert_eq!(read(&out.join("compare.md")), md);
    let csv_text = read(&out.join("compare.csv"));
    assert!(csv_text.starts_with(
        "combination,metric,a,b,n_a,n_b,change,change_pct,diff_ci_low,diff_ci_high,p_value,p_adjusted,verdict\n"
    ));
    assert_eq!(csv_text.lines().count(), 1 + compare::COMPARED.len());
}

/// A batch over concurrency 1..8 for two ISLs, from four fixtures, plus a failed and a pending
/// combination at concurrency 16.
fn chart_batch(root: &Path) -> PathBuf {
    let fx = ["chat-stream", "chat-goodput", "chat-partial-errors", "chat-rate-constant-warmup"];
    let mut runs = Vec::new();
    for (j, isl) in [64, 128].iter().enumerate() {
        for (i, c) in [1, 2, 4, 8].iter().enumerate() {
            runs.push(Run::ok(
                fx[(i + j) % 4],
                vec![("concurrency", json!(c)), ("isl", json!(isl))],
            ));
        }
    }
    // A target PASS and FAIL, a failed and a pending combination, so that every section shows.
    runs[0].targets = vec![target("ttft_ms", 25.0, 0.0), target("tput_user", 250.0, 0.1)];
    runs.push(
        Run::ok("fail-noserver", vec![("concurrency", json!(16)), ("isl", json!(64))]).with_status(
            RunStatus::Failed,
            Some("aiperf exited with code 1: All 10 inference request(s) failed"),
        ),
    );
    runs.push(Run::pending(vec![("concurrency", json!(16)), ("isl", json!(128))]));
    make_batch(root, "charts", &runs)
}

#[test]
fn html_report_is_self_contained() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = chart_batch(tmp.path());
    render_batch(&batch, None).unwrap();
    let html = read(&batch.join("report.html"));
    let stripped = html.replace("http://www.w3.org/2000/svg", "");
    for bad in ["http://", "https://", "<script", "<link", " src="] {
        assert!(!stripped.contains(bad), "report.html contains `{bad}`");
    }
    assert_eq!(html.matches("<svg ").count(), 4);
    assert!(html.contains("id=\"chart-pareto\"") && html.contains("data-name=\"Pareto front\""));
}

fn chromium() -> String {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {c}"))
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_owned();
        }
    }
    panic!(
        "chromium is not installed: this test renders report.html in a headless browser\n\
         hint: install the Debian package `chromium` (apt-get install -y chromium)"
    );
}

fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,2000",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// The x-axis tick labels of the chart `id` in a DOM chromium dumped.
fn x_tick_labels(dom: &str, id: &str) -> Vec<String> {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no chart {id}"));
    let chart = &dom[start..start + dom[start..].find("</svg>").unwrap()];
    chart
        .split("class=\"xtick\"")
        .skip(1)
        .map(|t| t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()].to_owned())
        .collect()
}

#[test]
fn html_charts_render_in_headless_chromium() {
    let browser = chromium();
    let tmp = tempfile::tempdir().unwrap();
    let batch = chart_batch(tmp.path());
    render_batch(&batch, None).unwrap();
    let url = format!("file://{}", batch.join("report.html").display());

    let profile = tempfile::tempdir().unwrap();
    let dom = Command::new(&browser)
        .args(chromium_args(profile.path()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(dom.status.success(), "chromium failed: {}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    // After parsing and layout, the four charts are SVG elements with their series and points.
    for id in ["chart-throughput", "chart-ttft", "chart-itl", "chart-pareto"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "chart {id} missing from the DOM");
    }
    assert_eq!(dom.matches("<svg").count(), 4);
    // 2 groups: 2 throughput lines, 4 TTFT, 4 ITL (p50 + p99), and the Pareto front.
    assert_eq!(dom.matches("<polyline").count(), 11, "lines missing");
    assert!(dom.matches("class=\"point\"").count() >= 8 * 4, "points missing");
    // Concurrency 1..16 is drawn on a log2 axis: ticks at powers of two, all integers.
    let ticks = x_tick_labels(&dom, "chart-throughput");
    assert_eq!(ticks, ["1", "2", "4", "8"], "log2 axis ticks");

    // Regression (issue 13): concurrency 1, 2, 4 (a linear axis) had ticks 1, 1.5, 2, 2.5...
    let runs: Vec<Run> =
        [1, 2, 4].iter().map(|c| Run::ok("chat-stream", vec![("concurrency", json!(c))])).collect();
    let linear = make_batch(tmp.path(), "linear", &runs);
    render_batch(&linear, None).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(&browser)
        .args(chromium_args(profile.path()))
        .arg("--dump-dom")
        .arg(format!("file://{}", linear.join("report.html").display()))
        .output()
        .expect("run chromium");
    let linear_dom = String::from_utf8_lossy(&out.stdout);
    for chart in ["chart-throughput", "chart-ttft", "chart-itl"] {
        assert_eq!(x_tick_labels(&linear_dom, chart), ["1", "2", "3", "4"], "{chart}");
    }

    // Repeats: every chart draws the confidence intervals as error bars.
    let fx = ["chat-stream", "chat-goodput", "chat-partial-errors"];
    let mut runs = Vec::new();
    for c in [1, 2, 4] {
        for (k, f) in fx.iter().enumerate() {
            runs.push(Run::ok(f, vec![("concurrency", json!(c))]).repeat(k as u32 + 1));
        }
    }
    let rep = Batch::new("repeats")
        .repeats(3, sweeper::records::RepeatOrder::Interleaved)
        .write(tmp.path(), &runs);
    render_batch(&rep, None).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(&browser)
        .args(chromium_args(profile.path()))
        .arg("--dump-dom")
        .arg(format!("file://{}", rep.join("report.html").display()))
        .output()
        .expect("run chromium");
    let rep_dom = String::from_utf8_lossy(&out.stdout);
    for (chart, bars) in
        [("chart-throughput", 3), ("chart-ttft", 6), ("chart-itl", 6), ("chart-pareto", 6)]
    {
        let start = rep_dom.find(&format!("id=\"{chart}\"")).unwrap();
        let svg = &rep_dom[start..start + rep_dom[start..].find("</svg>").unwrap()];
        assert_eq!(svg.matches("class=\"errbar\"").count(), bars, "{chart}");
    }

    let artifacts = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("report-html.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(&browser)
        .args(chromium_args(profile.path()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot too small: {}",
        png.len()
    );
    std::fs::copy(batch.join("report.html"), artifacts.join("report.html")).unwrap();
    std::fs::copy(batch.join("report.md"), artifacts.join("report.md")).unwrap();
}

#[test]
fn cli_report_and_compare_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = Run::ok("chat-stream", vec![("concurrency", json!(2))]);
    run.targets = vec![target("ttft_ms", 10.0, 0.0)];
    let batch = make_batch(tmp.path(), "b", &[run]);
    let out = sweeper().arg("report").arg(&batch).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(&format!("wrote {}", batch.join("report.md").display())), "{stdout}");
    assert!(stdout.contains("wrote 1 per-run standardized JSON file(s)"), "{stdout}");
    assert!(stdout.contains("1 combinations, 0 failed; targets: 0 passed, 1 failed"), "{stdout}");

    let out = sweeper().args(["report", "--fail-on-target"]).arg(&batch).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: 1 target check(s) failed"));

    let out = sweeper().arg("report").arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("error: failed to read batch `{}`", tmp.path().display())),
        "{stderr}"
    );

    let out = sweeper().arg("compare").arg(&batch).arg(&batch).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "| concurrency=2 | TTFT avg (ms) | 21.71 | 21.71 | +0.00 | +0.0% | - | - | - | no repeats |"
        ),
        "{stdout}"
    );
}

#[test]
fn a_single_unswept_run_reports_from_the_batch_dir_itself() {
    let tmp = tempfile::tempdir().unwrap();
    // No parameters: the run's files are in the batch dir (combination dir "").
    let batch = make_batch(tmp.path(), "single", &[Run::ok("chat-stream", vec![])]);
    assert!(batch.join("profile_export_aiperf.json").exists());
    let out = render_batch(&batch, None).unwrap();
    let md = read(&batch.join("report.md"));
    assert!(md.contains("| 64 | 16 | 2 | 20 | 21.7 | 21.3 | 27.5 |"), "{md}");
    let std_file = batch
        .join("aiperf_benchmark_mock-model_2026-11-22_14-00-47_isl-64_osl-16_maxcon-2_n-20.json");
    assert!(out.files_written.contains(&std_file), "{:?}", out.files_written);
}

/// A reference file named in the config (`targets.reference_file`, resolved at plan time) and
/// the same file given to `sweeper report --targets-file` give the same verdicts: one reader,
/// one matching rule, one default tolerance.
#[test]
fn reference_file_via_config_and_via_targets_file_gives_identical_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("model_performance_reference.json");
    std::fs::write(
        &reference,
        json!({"Mock-Model": {"n300": [
            {"isl": 64, "osl": 16, "max_concurrency": 2, "num_prompts": 20,
             "targets": {"theoretical": {"ttft_ms": 21, "tput_user": 150, "rtr": 3},
                         "functional": {"ttft_ms": 200, "tolerance": 0.5}}},
            {"isl": 64, "osl": 16, "max_concurrency": 4,
             "targets": {"theoretical": {"ttft_ms": 1, "req_tput": 19}}},
            {"isl": 64, "osl": 16, "max_concurrency": 2, "task_type": "vlm",
             "targets": {"theoretical": {"ttft_ms": 1}}}
        ], "t3k": [{"isl": 64, "osl": 16, "max_concurrency": 2, "targets": {"theoretical": {"ttft_ms": 1}}}]}})
        .to_string(),
    )
    .unwrap();
    let yaml = format!(
        "base_config:\n  model: m\n  url: http://127.0.0.1:1\n  isl: 64\n  osl: 16\n  request_count: 20\nsweeps:\n  concurrency: [2, 4]\ntargets:\n  reference_file: {}\n  device: n300\n",
        reference.display()
    );
    let plan = common::config::plan(&yaml);
    // Via the config: the plan carries the checks (as plan.json does).
    let mut with_config = Vec::new();
    for (c, fixture) in plan.combinations.iter().zip(["chat-stream", "chat-goodput"]) {
        let mut run = Run::ok(fixture, vec![("concurrency", c.params["concurrency"].clone())]);
        run.targets = c.targets.clone();
        with_config.push(run);
    }
    let a = make_batch(tmp.path(), "via-config", &with_config);
    let out_a = render_batch(&a, None).unwrap();
    // Via --targets-file: a batch without planned targets, the file given at report time.
    let b = make_batch(
        tmp.path(),
        "via-file",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2))]),
            Run::ok("chat-goodput", vec![("concurrency", json!(4))]),
        ],
    );
    let extra = ExtraTargets {
        reference: sweeper::tt::reference::load(&reference, None, Some("n300")).unwrap(),
        tolerance: sweeper::tt::reference::DEFAULT_TOLERANCE,
    };
    let out_b = render_batch(&b, Some(&extra)).unwrap();
    let verdicts = |dir: &Path| -> Vec<(String, String, String, f64, String)> {
        let j = read_json(&dir.join("summary.json"));
        j["rows"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                let c = r["params"]["concurrency"].as_str().unwrap_or_default().to_owned();
                r["targets"].as_array().unwrap().iter().map(move |t| {
                    (
                        c.clone(),
                        t["metric"].as_str().unwrap().to_owned(),
                        t["source"].as_str().unwrap().to_owned(),
                        t["tolerance"].as_f64().unwrap(),
                        t["verdict"].as_str().unwrap().to_owned(),
                    )
                })
            })
            .collect()
    };
    let (va, vb) = (verdicts(&a), verdicts(&b));
    assert_eq!(va, vb);
    // The rule, spelled out: c=2 gets both tiers (rtr ignored, tolerance 5% unless the tier has
    // one), c=4 its own entry; the vlm entry and the other device never count.
    assert_eq!(
        va,
        [
            ("2".into(), "ttft_ms".into(), "theoretical".into(), 0.05, "PASS".into()),
            ("2".into(), "tput_user".into(), "theoretical".into(), 0.05, "PASS".into()),
            ("2".into(), "ttft_ms".into(), "functional".into(), 0.5, "PASS".into()),
            ("4".into(), "ttft_ms".into(), "theoretical".into(), 0.05, "FAIL".into()),
            ("4".into(), "req_tput".into(), "theoretical".into(), 0.05, "PASS".into()),
        ]
    );
    assert_eq!(
        (out_a.target_passes, out_a.target_fails),
        (out_b.target_passes, out_b.target_fails)
    );
}

/// Sets `metric.stat` of a run's `profile_export_aiperf.json` to `value` for each (metric, stat).
fn inject(run_dir: &Path, values: &[(&str, &str, f64)]) {
    let p = run_dir.join("profile_export_aiperf.json");
    let mut v = read_json(&p);
    for (metric, stat, x) in values {
        v[*metric][*stat] = json!(x);
    }
    std::fs::write(&p, v.to_string()).unwrap();
}

/// The longest run of consecutive ASCII digits in `s`.
fn longest_digits(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0)
}

/// A batch whose values are at the ends of what an f64 holds: a huge TTFT and throughput, a tiny
/// TTFT, and a huge concurrency (the load axis of the charts).
fn extreme_batch(root: &Path, name: &str, huge: f64) -> PathBuf {
    let mut big = Run::ok("chat-stream", vec![("concurrency", json!(2))]);
    big.targets = vec![target("ttft_ms", 1e308, 1e300)];
    let batch = make_batch(
        root,
        name,
        &[
            big,
            Run::ok("chat-goodput", vec![("concurrency", json!(4))]),
            Run::ok("chat-stream", vec![("concurrency", json!(1.7e308))]),
        ],
    );
    inject(
        &batch.join("concurrency2"),
        &[
            ("time_to_first_token", "avg", huge),
            ("time_to_first_token", "p99", huge),
            ("time_to_first_token", "p50", huge),
            ("output_token_throughput", "avg", huge),
        ],
    );
    inject(
        &batch.join("concurrency4"),
        &[("time_to_first_token", "avg", 1e-300), ("inter_chunk_latency", "p99", -huge)],
    );
    batch
}

#[test]
fn huge_and_tiny_values_print_in_scientific_notation() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = extreme_batch(tmp.path(), "x", 1.7e308);
    render_batch(&batch, None).unwrap();
    let md = read(&batch.join("report.md"));
    for line in md.lines() {
        assert!(line.len() < 400, "{} chars: {line}", line.len());
    }
    assert!(longest_digits(&md) < 20, "{md}");
    assert!(md.contains("| 64 | 16 | 2 | 20 | 1.70e308 | 1.70e308 | 1.70e308 | 5.0 |"), "{md}");
    // Ordinary values keep their fixed decimals.
    assert!(md.contains("| 64 | 16 | 4 | 20 | 1.00e-300 | 22.0 |"), "{md}");
    assert!(md.contains("| 64 | 16 | 1.70e308 | 20 | 21.7 |"), "{md}");
    // Targets: measured and target huge, ratio ordinary, tolerance 1e300 as a percentage.
    assert!(md.contains("| 1.70e308 | 1.00e308 | 1.700 | 1.00e302% |"), "{md}");

    // (`tt-inference-server` is a name, not a number.)
    let html = read(&batch.join("report.html")).replace("tt-inference-server", "tt");
    assert!(
        longest_digits(&html) < 20,
        "a number of {} digits in report.html",
        longest_digits(&html)
    );
    for bad in ["NaN", "\"inf", "inf\"", ">inf", "inf<", ",inf", "inf,", "-inf"] {
        assert!(!html.contains(bad), "report.html contains `{bad}`");
    }
    assert!(html.contains(">1.70e308<"), "the huge value is shown in the table");

    // summary.csv keeps full precision, in a form pandas (and Rust) parse back exactly.
    let csv_text = read(&batch.join("summary.csv"));
    assert!(longest_digits(&csv_text) < 30, "{csv_text}");
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let header = rd.headers().unwrap().clone();
    let col = header.iter().position(|h| h == "ttft_avg_ms").unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.len() == header.len()));
    assert_eq!(rows[0][col].parse::<f64>().unwrap(), 1.7e308);
    assert_eq!(rows[1][col].parse::<f64>().unwrap(), 1e-300);
}

/// Values no measurement gives (here 1.7e308 ms) are refused by compare (issue 21: a gate must
/// not judge them, nor call them `no repeats`), and the refusal lists them readably.
#[test]
fn compare_of_huge_values_is_refused_readably() {
    let tmp = tempfile::tempdir().unwrap();
    let a = extreme_batch(tmp.path(), "a", 1.7e308);
    let b = extreme_batch(tmp.path(), "b", 1.6e308);
    let e = compare::compare(
        &sweeper::results::collect(&a).unwrap(),
        &sweeper::results::collect(&b).unwrap(),
        &Default::default(),
    )
    .unwrap_err()
    .to_string();
    for line in e.lines() {
        assert!(line.len() < 400, "{} chars: {line}", line.len());
    }
    assert!(longest_digits(&e) < 20, "{e}");
    assert!(e.contains("A concurrency=2 TTFT avg (ms): 1.7e308 in `concurrency2`"), "{e}");
}

/// A point whose measured mean output (or input) length is more than 5% off the requested one
/// (a server that ignores `max_tokens`) is named in the Warnings section and in summary.json,
/// with a hint: its throughput and TPOT are not comparable with the other points.
#[test]
fn points_off_the_requested_length_are_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    // chat-stream measured OSL 16 and ISL 64; this batch asked for OSL 10 at concurrency 2.
    let batch = make_batch(
        tmp.path(),
        "b",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(2)), ("osl", json!(10))]),
            Run::ok("chat-goodput", vec![("concurrency", json!(4)), ("osl", json!(16))]),
        ],
    );
    render_batch(&batch, None).unwrap();
    let md = read(&batch.join("report.md"));
    assert!(
        md.contains(
            "- **#0** `concurrency=2 osl=10`: requested output length 10, measured mean 16.0 (+60%)"
        ),
        "{md}"
    );
    assert!(md.contains("extra_inputs: {ignore_eos: true}"), "{md}");
    assert!(!md.contains("**#1** `concurrency=4"), "the exact point is not flagged:\n{md}");
    let j = read_json(&batch.join("summary.json"));
    assert_eq!(j["length_warnings"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["length_warnings"][0]["which"], "output");
    assert_eq!(j["rows"][0]["length_mismatches"][0]["measured"], 16.0);
    assert!(j["rows"][1]["length_mismatches"].as_array().unwrap().is_empty());
}

/// A NeMo Guardrails runner batch (its layout, `run_metadata.json` with `sweep_params`, its
/// `process_result.json`, real aiperf 0.13 exports): `sweeper report` finds the runs and their
/// parameters and writes every report; with `--output` nothing is written into the batch.
#[test]
fn report_reads_a_nemo_runner_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = root().join("tests/fixtures/nemo-batch");
    let batch = tmp.path().join("my_benchmark/20261201_120000");
    copy_dir(&fixture.join("my_benchmark"), &tmp.path().join("my_benchmark"));
    let out = sweeper().arg("report").arg(&batch).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j = read_json(&batch.join("summary.json"));
    assert_eq!(j["batch_name"], "my_benchmark");
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{j}");
    for (row, c) in rows.iter().zip(["1", "2"]) {
        assert_eq!(row["params"]["concurrency"], c, "{row}");
        assert_eq!(row["status"], "succeeded", "{row}");
        assert!(row["metrics"]["ttft_ms"]["avg"].as_f64().unwrap() > 0.0);
        assert_eq!(row["load"]["concurrency"], c.parse::<f64>().unwrap());
    }
    assert!(j["failures"].as_array().unwrap().is_empty(), "{j}");
    assert!(batch.join("report.md").is_file() && batch.join("report.html").is_file());
    let tt = tt_files(&batch.join("concurrency2"))
        .iter()
        .any(|n| n.starts_with("aiperf_benchmark_mock-model_"));
    assert!(tt, "no tt-format JSON in the run dir");
    // --output: the batch directory is left exactly as it was.
    let before = all_files(&fixture);
    let elsewhere = tmp.path().join("reports");
    let out = sweeper()
        .arg("report")
        .arg(fixture.join("my_benchmark/20261201_120000"))
        .arg("--output")
        .arg(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(all_files(&fixture), before, "--output wrote into the batch directory");
    assert!(elsewhere.join("report.md").is_file() && elsewhere.join("summary.csv").is_file());
    assert!(elsewhere.join("concurrency1").is_dir());
}

/// Plain aiperf artifact directories (no runner's records at all): the runs are found by their
/// exports, their parameters are the load-point values aiperf recorded that differ.
#[test]
fn report_reads_plain_aiperf_artifact_directories() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, fx) in [("a", "chat-stream"), ("b", "chat-goodput")] {
        copy_dir(&Path::new(FIXTURES).join(fx), &tmp.path().join("runs").join(name));
    }
    let dir = tmp.path().join("runs");
    let out = sweeper().arg("report").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j = read_json(&dir.join("summary.json"));
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{j}");
    // chat-stream ran concurrency 2 with 20 requests, chat-goodput concurrency 4 with 40; both ISL 64.
    assert_eq!(rows[0]["params"]["concurrency"], "2", "{j}");
    assert_eq!(rows[1]["params"]["concurrency"], "4", "{j}");
    assert_eq!(rows[1]["params"]["request_count"], "40", "{j}");
    assert!(
        rows[0]["params"].get("prompt_input_tokens_mean").is_none(),
        "same in both: not a parameter"
    );
    assert!(
        j["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("what aiperf recorded"))
    );
}

/// The migration path: `sweeper compare OLD_NEMO_BATCH NEW_SWEEPER_BATCH` matches the runs by
/// their parameters.
#[test]
fn compare_a_nemo_batch_with_a_sweeper_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let nemo = tmp.path().join("my_benchmark/20261201_120000");
    copy_dir(
        &root().join("tests/fixtures/nemo-batch/my_benchmark"),
        &tmp.path().join("my_benchmark"),
    );
    let ours = make_batch(
        tmp.path(),
        "ours",
        &[
            Run::ok("chat-stream", vec![("concurrency", json!(1))]),
            Run::ok("chat-goodput", vec![("concurrency", json!(2))]),
        ],
    );
    let out = sweeper().arg("compare").arg(&nemo).arg(&ours).output().unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{md}{}", String::from_utf8_lossy(&out.stderr));
    assert!(md.contains("| concurrency=1 | TTFT avg (ms) |"), "{md}");
    assert!(md.contains("| concurrency=2 | TTFT avg (ms) |"), "{md}");
    assert!(!md.contains("only in A") && !md.contains("only in B"), "{md}");
}

#[test]
fn compare_by_splits_one_batch_by_a_swept_key_and_matches_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |fx: &'static str, image: &str, c: i64| {
        Run::ok(fx, vec![("server.image", json!(image)), ("concurrency", json!(c))])
    };
    let batch = make_batch(
        tmp.path(),
        "ab",
        &[
            run("chat-stream", "ucx", 2),
            run("chat-stream", "ucx", 4),
            run("chat-goodput", "libfabric", 2),
            run("chat-goodput", "libfabric", 4),
            run("chat-goodput", "tcp", 2),
        ],
    );
    let r = sweeper::results::collect(&batch).unwrap();
    let all =
        sweeper::report::compare_by::compare_by(&r, "server.image", &Default::default()).unwrap();
    assert_eq!(all.len(), 2, "A compared with each other value");
    let ab = all[0].ab.as_ref().unwrap();
    assert_eq!((ab.a.as_str(), ab.b.as_str()), ("server.image=ucx", "server.image=libfabric"));
    // Points matched without the key: concurrency 2 and 4 on both sides.
    let points: std::collections::BTreeSet<&str> =
        all[0].rows.iter().map(|r| r.combination.as_str()).collect();
    assert_eq!(points.into_iter().collect::<Vec<_>>(), ["concurrency=2", "concurrency=4"]);
    let ja = read_json(&fixture("chat-stream", "profile_export_aiperf.json"));
    let jb = read_json(&fixture("chat-goodput", "profile_export_aiperf.json"));
    let row = all[0].rows.iter().find(|r| r.metric == "TTFT avg (ms)").unwrap();
    let (ta, tb) = (
        ja["time_to_first_token"]["avg"].as_f64().unwrap(),
        jb["time_to_first_token"]["avg"].as_f64().unwrap(),
    );
    assert!((row.change.unwrap() - (tb - ta)).abs() < 1e-9);
    // One run per point: no claim either way.
    assert!(ab.verdict.starts_with("No significant difference"), "{}", ab.verdict);
    assert_eq!(all[1].ab.as_ref().unwrap().b, "server.image=tcp");
    assert_eq!(all[1].only_a, ["concurrency=4"]);

    // The CLI: three values write one file per comparison with A.
    let out_dir = tmp.path().join("cmp");
    let out = sweeper()
        .args(["compare", "--by", "server.image", "-o"])
        .arg(&out_dir)
        .arg(&batch)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("A (baseline): `server.image=ucx`"), "{stdout}");
    for f in ["compare_libfabric.md", "compare_libfabric.csv", "compare_tcp.md", "compare_tcp.csv"]
    {
        assert!(out_dir.join(f).is_file(), "{f}");
    }
    // A batch without `ab` and no `--by`: a usage error that says what to do.
    let out = sweeper().arg("compare").arg(&batch).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs a second batch") && err.contains("--by KEY"), "{err}");
}

#[test]
fn requests_failed_by_a_closed_connection_are_recognised_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = make_batch(
        tmp.path(),
        "closed",
        &[
            Run::ok("chat-partial-errors", vec![("concurrency", json!(4))])
                .with_status(RunStatus::Partial, None),
            Run::ok("chat-partial-errors", vec![("concurrency", json!(8))])
                .with_status(RunStatus::Partial, None),
        ],
    );
    // The second run's errors are aiohttp's, as aiperf reports them against llama-server.
    let p = batch.join("concurrency8/profile_export_aiperf.json");
    let mut j = read_json(&p);
    j["error_summary"] = json!([
        {"error_details": {"type": "ClientOSError", "message": "ClientOSError(None, 'Can not write request body for http://127.0.0.1:8080/v1/chat/completions')", "cause": "ClientConnectionResetError('Cannot write to closing transport')", "cause_chain": ["ClientOSError", "ClientConnectionResetError"]}, "count": 3},
        {"error_details": {"type": "ServerDisconnectedError", "message": "Server disconnected"}, "count": 2},
    ]);
    std::fs::write(&p, serde_json::to_string(&j).unwrap()).unwrap();

    let r = sweeper::results::collect(&batch).unwrap();
    let closed: Vec<usize> = r.runs.iter().map(|x| x.connection_closed).collect();
    assert_eq!(closed, [0, 5], "a 500 error is not a closed connection");
    let out = sweeper().arg("report").arg(&batch).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let hint = "Set `connection_reuse_strategy: never` in base_config";
    assert!(
        err.contains(
            "5 request(s) of `concurrency8` failed because the server closed the connection"
        ),
        "{err}"
    );
    assert!(err.contains(hint), "{err}");
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains(hint), "{md}");
    assert_eq!(md.matches(hint).count(), 1, "only the run with such errors: {md}");
}
