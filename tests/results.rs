//! Parsing aiperf 0.13.0 artifacts: aggregate JSON, CSV, streamed JSONL, batch collection and the
//! tt-inference-server standardized JSON.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sweeper::model::metrics::{Metric, Stat};
use sweeper::records::{self, PlanRecord, RunStatus};
use sweeper::results::{self, aggregate_json, csv, jsonl};
use sweeper::stats::samples as stats;
use sweeper::tt::standard;

mod common;
use common::batch::{fixture, plan_only};
use common::{read_json, tt_files};

const WITH_AGGREGATE: [&str; 5] = [
    "chat-stream",
    "chat-partial-errors",
    "chat-rate-constant-warmup",
    "completions-nostream",
    "chat-goodput",
];

#[test]
fn aggregate_json_keeps_every_metric_with_units_and_optional_stats() {
    let a = aggregate_json::read(&fixture("chat-stream", "profile_export_aiperf.json")).unwrap();
    assert_eq!(a.schema_version.as_deref(), Some("1.4"));
    assert_eq!(a.aiperf_version.as_deref(), Some("0.13.0"));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    let ttft = &a.metrics["time_to_first_token"];
    assert_eq!(ttft.unit, "ms");
    assert_eq!(ttft.get("avg"), Some(21.708520749999998));
    assert_eq!(ttft.get("p99"), Some(27.527390129999997));
    assert_eq!(ttft.get("count"), Some(20.0));
    // avg-only aggregate, time-weighted metric without p1/count, and a metric sweeper does not
    // use: all kept as they are.
    assert_eq!(a.metrics["request_throughput"].stats.len(), 1);
    assert_eq!(a.metrics["request_throughput"].unit, "requests/sec");
    assert_eq!(a.metrics["effective_concurrency"].get("p1"), None);
    assert_eq!(a.metrics["effective_concurrency"].get("p99"), Some(2.0));
    assert_eq!(a.metrics["credit_to_start_latency"].unit, "ms");
    assert_eq!(a.metrics["benchmark_duration"].unit, "sec");
    assert_eq!(a.is_complete, Some(true));

    let p = fixture("chat-partial-errors", "profile_export_aiperf.json");
    let a = aggregate_json::read(&p).unwrap();
    assert_eq!(a.avg("error_request_count"), Some(5.0));
    assert_eq!(a.error_summary[0]["count"], 5);
    // `adj_*` metrics: p1..p75, min, count only.
    let adj = a.metrics.iter().find(|(k, _)| k.starts_with("adj_")).expect("adj_ metric");
    assert_eq!(adj.1.get("avg"), None);
}

#[test]
fn unknown_schema_version_is_a_warning_not_an_error() {
    let mut v = read_json(&fixture("chat-stream", "profile_export_aiperf.json"));
    v["schema_version"] = json!("9.0");
    v["brand_new_metric"] = json!({"unit": "widgets", "avg": 3.0, "p42": 1.5});
    let a = aggregate_json::parse_str(&v.to_string(), Path::new("x/profile_export_aiperf.json"))
        .unwrap();
    assert_eq!(a.warnings.len(), 1);
    assert!(a.warnings[0].contains("schema_version 9.0"), "{}", a.warnings[0]);
    assert_eq!(a.metrics["brand_new_metric"].get("p42"), Some(1.5));
    assert_eq!(a.metrics["time_to_first_token"].get("avg"), Some(21.708520749999998));
}

#[test]
fn truncated_aggregate_json_is_an_error_naming_file_and_line() {
    let text =
        std::fs::read_to_string(fixture("chat-stream", "profile_export_aiperf.json")).unwrap();
    let cut = &text[..text.len() / 3];
    let lines = cut.lines().count();
    let e = aggregate_json::parse_str(cut, Path::new("run/profile_export_aiperf.json"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("failed to parse `run/profile_export_aiperf.json:{lines}`")),
        "{e}"
    );
    assert!(e.contains("hint:"), "{e}");
    let e = aggregate_json::parse_str("[1, 2]", Path::new("p.json")).unwrap_err().to_string();
    assert!(e.contains("expected a JSON object"), "{e}");
}

#[test]
fn csv_sections_parse_and_agree_with_the_json() {
    let path = fixture("chat-stream", "profile_export_aiperf.csv");
    assert!(std::fs::read_to_string(&path).unwrap().contains("\r\n"), "fixture is CRLF");
    let c = csv::read(&path).unwrap();
    let ttft = c.stat("Time to First Token").unwrap();
    assert_eq!(ttft.unit.as_deref(), Some("ms"));
    assert_eq!(ttft.stats["avg"], 21.71);
    assert_eq!(ttft.stats["p99"], 27.53);
    // Time-weighted metrics leave p1..p25 and sum empty.
    let tif = c.stat("Tokens In Flight").unwrap();
    assert!(!tif.stats.contains_key("p1") && tif.stats.contains_key("p50"));
    assert_eq!(c.stat("Effective Latency (CO-aware)").unwrap().unit.as_deref(), Some("ms"));
    assert_eq!(c.scalar("Request Throughput"), Some(20.07));
    assert_eq!(c.scalar("Request Count"), Some(20.0));
    assert_eq!(c.scalar("Total Output Tokens"), Some(320.0));
    // The (empty) GPU telemetry section is kept.
    assert!(
        c.other_sections.iter().any(|(h, _)| h.first().map(String::as_str) == Some("Endpoint"))
    );
    // Every stat agrees with the JSON to the CSV's 2 decimals.
    let a = aggregate_json::read(&fixture("chat-stream", "profile_export_aiperf.json")).unwrap();
    for (row, tag) in [
        ("Time to First Token", "time_to_first_token"),
        ("Inter Token Latency", "inter_token_latency"),
        ("Inter Chunk Latency", "inter_chunk_latency"),
        ("Request Latency", "request_latency"),
    ] {
        for (stat, v) in &c.stat(row).unwrap().stats {
            let j = a.metrics[tag].get(stat).unwrap();
            assert!((j - v).abs() <= 0.005 + 1e-9, "{row} {stat}: csv {v} json {j}");
        }
    }
}

#[test]
fn corrupt_csv_cell_is_an_error_naming_file_and_line() {
    let text =
        std::fs::read_to_string(fixture("chat-stream", "profile_export_aiperf.csv")).unwrap();
    let bad = text.replacen("21.71,19.63", "21.71,abc", 1);
    let e = csv::parse_str(&bad, Path::new("r/profile_export_aiperf.csv")).unwrap_err().to_string();
    let line = bad.lines().position(|l| l.contains(",abc")).unwrap() + 1;
    assert!(
        e.starts_with(&format!("failed to parse `r/profile_export_aiperf.csv:{line}`: `abc`")),
        "{e}"
    );
}

/// The JSONL fallback in bounded memory (issue 25): with a cap of a few values per metric the
/// percentiles come from selection passes over the file, and every figure is the same, to the
/// bit, as from keeping and sorting every value (the fixtures have warmup and error records).
#[test]
fn jsonl_percentiles_past_the_sample_cap_are_the_exact_ones() {
    let mut runs: Vec<&str> = WITH_AGGREGATE.to_vec();
    runs.push("fail-noserver");
    for run in runs {
        let path = fixture(run, "profile_export.jsonl");
        let all = jsonl::summarize(
            &path,
            jsonl::JsonlOptions { keep_samples: true, ..Default::default() },
        )
        .unwrap();
        for cap in [1, 3, 7] {
            let capped = jsonl::summarize(
                &path,
                jsonl::JsonlOptions { keep_samples: true, sample_cap: Some(cap) },
            )
            .unwrap();
            for (a, b, what) in [
                (&all.ttft, &capped.ttft, "ttft"),
                (&all.tpot, &capped.tpot, "tpot"),
                (&all.itl, &capped.itl, "itl"),
                (&all.e2el, &capped.e2el, "e2el"),
            ] {
                assert_eq!(a, b, "{run} {what} cap {cap}");
            }
        }
        if all.itl.count > 7 {
            assert!(all.itl.p99.is_some(), "{run}: percentiles computed");
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    // Relative 1e-9: both sides are the same doubles summed/interpolated in a different order.
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn jsonl_percentiles_and_token_totals_match_aiperf_json() {
    for run in WITH_AGGREGATE {
        let s = jsonl::summarize(
            &fixture(run, "profile_export.jsonl"),
            jsonl::JsonlOptions { keep_samples: true, ..Default::default() },
        )
        .unwrap();
        let a = aggregate_json::read(&fixture(run, "profile_export_aiperf.json")).unwrap();
        assert_eq!(Some(s.succeeded as f64), a.avg("request_count"), "{run}");
        assert_eq!(s.errors as f64, a.avg("error_request_count").unwrap_or(0.0), "{run}");
        assert_eq!(Some(s.total_input_tokens), a.avg("total_isl"), "{run}");
        assert_eq!(Some(s.total_output_tokens), a.avg("total_osl"), "{run}");
        let mut checked = 0;
        for (summary, tag) in [
            (&s.ttft, "time_to_first_token"),
            (&s.tpot, "inter_token_latency"),
            (&s.itl, "inter_chunk_latency"),
            (&s.e2el, "request_latency"),
        ] {
            let Some(m) = a.metrics.get(tag) else {
                assert_eq!(summary.count, 0, "{run} {tag}");
                continue;
            };
            assert_eq!(Some(summary.count as f64), m.get("count"), "{run} {tag}");
            for (stat, ours) in [
                ("avg", summary.avg),
                ("std", summary.std),
                ("min", summary.min),
                ("max", summary.max),
                ("p50", summary.p50),
                ("p90", summary.p90),
                ("p95", summary.p95),
                ("p99", summary.p99),
            ] {
                let (ours, theirs) = (ours.unwrap(), m.get(stat).unwrap());
                assert!(close(ours, theirs), "{run} {tag} {stat}: jsonl {ours} vs aiperf {theirs}");
                checked += 1;
            }
        }
        assert!(checked >= 8, "{run}: {checked}");
    }
}

#[test]
fn jsonl_excludes_warmup_and_counts_errors() {
    let s = jsonl::summarize(
        &fixture("chat-rate-constant-warmup", "profile_export.jsonl"),
        Default::default(),
    )
    .unwrap();
    assert_eq!((s.lines, s.warmup, s.succeeded, s.errors), (34, 4, 30, 0));
    // Without kept samples: running stats only.
    assert!(s.ttft.avg.is_some() && s.ttft.p50.is_none());

    let s = jsonl::summarize(
        &fixture("chat-partial-errors", "profile_export.jsonl"),
        Default::default(),
    )
    .unwrap();
    assert_eq!((s.succeeded, s.errors), (15, 5));
    assert_eq!(s.error_kinds["Internal Server Error (500)"], 5);

    let s = jsonl::summarize(&fixture("fail-noserver", "profile_export.jsonl"), Default::default())
        .unwrap();
    assert_eq!((s.succeeded, s.errors), (0, 10));
    assert_eq!(s.error_kinds["ClientConnectorError"], 10);
}

#[test]
fn truncated_jsonl_skips_the_cut_line_and_all_bad_lines_are_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("chat-stream", "profile_export.jsonl")).unwrap();
    let p = tmp.path().join("profile_export.jsonl");
    // Cut in the middle of line 20, as a killed writer would leave it: the 19 whole lines count.
    std::fs::write(&p, &text[..text.len() - 500]).unwrap();
    let s = jsonl::summarize(&p, Default::default()).unwrap();
    assert_eq!((s.lines, s.bad_lines, s.first_bad_line, s.succeeded), (20, 1, Some(20), 19));
    let why = s.first_bad_error.unwrap();
    assert!(why.starts_with("column ") && !why.contains("at line"), "{why}");
    // Nothing but garbage (and a blank line): an error naming the first bad line.
    std::fs::write(&p, "\n{not json\n[1, 2]\n").unwrap();
    let e = jsonl::summarize(&p, Default::default()).unwrap_err().to_string();
    assert!(e.starts_with(&format!("failed to parse `{}:2` (column 2: ", p.display())), "{e}");
    assert!(e.contains("none of its 2 non-empty lines is a JSON record"), "{e}");
    assert!(e.contains("hint:"), "{e}");
    // An empty file is no records, not an error.
    std::fs::write(&p, "").unwrap();
    let s = jsonl::summarize(&p, Default::default()).unwrap();
    assert_eq!((s.lines, s.bad_lines, s.succeeded), (0, 0, 0));
    // Unreadable I/O (a directory) stays an error.
    assert!(jsonl::summarize(tmp.path(), Default::default()).is_err());
}

#[test]
fn percentile_is_numpy_linear() {
    let v: Vec<f64> = (1..=20).map(f64::from).collect();
    // numpy.percentile(range(1, 21), [50, 90, 99]) == [10.5, 18.1, 19.81]
    assert!(close(stats::percentile_linear(&v, 50.0).unwrap(), 10.5));
    assert!(close(stats::percentile_linear(&v, 90.0).unwrap(), 18.1));
    assert!(close(stats::percentile_linear(&v, 99.0).unwrap(), 19.81));
}

#[test]
fn collect_finds_the_load_point_through_option_aliases() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = plan_only(
        tmp.path(),
        "chat-stream",
        json!({"isl": 64, "num_requests": 20}),
        json!({"model": "mock-model", "synthetic_input_tokens_mean": 64, "osl": 16, "concurrency": 2}),
    );
    let r = results::collect(&batch).unwrap();
    let run = &r.runs[0];
    // No run records at all, but aiperf's ready marker: it finished.
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.load.isl, Some(64.0));
    assert_eq!(run.load.osl, Some(16.0));
    assert_eq!(run.load.concurrency, Some(2.0));
    assert_eq!(run.load.num_prompts, Some(20.0));
    assert_eq!(run.model_id.as_deref(), Some("mock-model"));
    let m = run.metrics.as_ref().unwrap();
    assert_eq!(m.get(Metric::Ttft, Stat::Avg), Some(21.708520749999998));
    assert_eq!(m.value(Metric::Completed), Some(20.0));
    assert_eq!(m.value(Metric::Errors), Some(0.0));
    assert_eq!(m.value(Metric::DurationS), Some(0.992422656));
}

#[test]
fn load_point_falls_back_on_aiperfs_input_config() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = plan_only(tmp.path(), "chat-rate-constant-warmup", json!({}), json!({}));
    let run = &results::collect(&batch).unwrap().runs[0];
    assert_eq!(run.load.isl, Some(64.0));
    assert_eq!(run.load.osl, Some(16.0));
    assert_eq!(run.load.request_rate, Some(20.0));
    assert_eq!(run.load.num_prompts, Some(30.0));
    assert_eq!(run.model_id.as_deref(), Some("tokenizer/bpe4k"));
}

#[test]
fn standardized_json_has_tt_keys_and_tpot_itl_from_the_right_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = plan_only(
        tmp.path(),
        "chat-stream",
        json!({"concurrency": 2}),
        json!({"model": "org/Some-Model", "tokenizer": "tokenizer/bpe4k", "isl": 64, "osl": 16, "request_count": 20, "concurrency": 2}),
    );
    records::write_json_atomic(
        &batch.join("run0").join(records::RUN_METADATA_FILE),
        &json!({"format_version": 1, "run_index": 0, "timestamp": "2026-11-22T14:00:47.532821",
                "config_file": "c", "sweep_params": null, "base_config": {}, "command": "",
                "batch_name": "b", "combination_dir": "run0", "server_id": "s",
                "sweeper_version": "0", "aiperf_version": "0.13.0"}),
    )
    .unwrap();
    let r = results::collect(&batch).unwrap();
    let run = &r.runs[0];
    assert_eq!(
        standard::file_name(run, None).unwrap(),
        "aiperf_benchmark_org_Some-Model_2026-11-22_14-00-47_isl-64_osl-16_maxcon-2_n-20.json"
    );
    let path = standard::write(run, &batch, None).unwrap().unwrap();
    // A second render finds the same bytes and leaves the file alone.
    assert_eq!(standard::write(run, &batch, None).unwrap(), None);
    let v = read_json(&path);
    let a = read_json(&fixture("chat-stream", "profile_export_aiperf.json"));
    for key in [
        "date",
        "backend",
        "model_id",
        "tokenizer_id",
        "num_prompts",
        "max_concurrency",
        "mean_ttft_ms",
        "median_ttft_ms",
        "p99_ttft_ms",
        "std_ttft_ms",
        "mean_tpot_ms",
        "median_tpot_ms",
        "p99_tpot_ms",
        "std_tpot_ms",
        "mean_itl_ms",
        "median_itl_ms",
        "p99_itl_ms",
        "std_itl_ms",
        "mean_e2el_ms",
        "median_e2el_ms",
        "p99_e2el_ms",
        "std_e2el_ms",
        "output_token_throughput",
        "total_token_throughput",
        "request_throughput",
        "completed",
        "total_input_tokens",
        "total_output_tokens",
    ] {
        assert!(v.get(key).is_some_and(|x| !x.is_null()), "missing {key}: {v}");
    }
    assert_eq!(v["date"], "20261122-140047");
    assert_eq!(v["backend"], "aiperf");
    assert_eq!(v["model_id"], "org/Some-Model");
    assert_eq!(v["tokenizer_id"], "tokenizer/bpe4k");
    assert_eq!(v["num_prompts"], 20);
    assert_eq!(v["max_concurrency"], 2);
    assert_eq!(v["mean_ttft_ms"], a["time_to_first_token"]["avg"]);
    assert_eq!(v["median_ttft_ms"], a["time_to_first_token"]["p50"]);
    // TPOT: per-request inter_token_latency; ITL: per-chunk inter_chunk_latency. They differ.
    assert_eq!(v["mean_tpot_ms"], a["inter_token_latency"]["avg"]);
    assert_eq!(v["p99_tpot_ms"], a["inter_token_latency"]["p99"]);
    assert_eq!(v["p99_itl_ms"], a["inter_chunk_latency"]["p99"]);
    assert_eq!(v["std_itl_ms"], a["inter_chunk_latency"]["std"]);
    assert_ne!(v["p99_itl_ms"], v["p99_tpot_ms"]);
    assert_eq!(v["mean_e2el_ms"], a["request_latency"]["avg"]);
    assert_eq!(v["completed"], 20);
    assert_eq!(v["total_input_tokens"], 1280);
    assert_eq!(v["total_output_tokens"], 320);
    assert_eq!(v["output_token_throughput"], a["output_token_throughput"]["avg"]);
}

/// Regression (issue 13): a re-render whose file name changed (then: the aggregate export
/// became unreadable and `_n-20` became `_n-na`; now: the batch is resumed with a `tt` section,
/// or its start time changed) left both files in the run dir, and tt's dashboards glob and
/// ingest both. The run dir keeps one, the old file goes when the run has no metrics any more,
/// and a file tt itself wrote stays.
#[test]
fn rerendering_replaces_the_standardized_json_whatever_its_new_name() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = plan_only(
        tmp.path(),
        "chat-stream",
        json!({"concurrency": 2}),
        json!({"model": "org/M", "isl": 64, "osl": 16, "concurrency": 2}),
    );
    let run_dir = batch.join("run0");
    // A file tt-inference-server wrote (no `tpot_source`): not ours to remove.
    let tt_own =
        "aiperf_benchmark_id_tt_M_n150_2026-01-01_00-00-00_isl-64_osl-16_maxcon-2_n-20.json";
    std::fs::write(run_dir.join(tt_own), r#"{"backend": "aiperf", "mean_ttft_ms": 1.0}"#).unwrap();

    sweeper::report::render_batch(&batch, None).unwrap();
    let first = tt_files(&run_dir);
    assert_eq!(first.len(), 2, "{first:?}");
    let ours = first.iter().find(|n| n.as_str() != tt_own).unwrap().clone();
    assert!(ours.starts_with("aiperf_benchmark_org_M_") && ours.ends_with("_n-20.json"), "{ours}");

    // The plan now names tt's model id (a `tt` section added on --resume): a new name.
    let plan_path = batch.join(records::PLAN_FILE);
    let mut plan: PlanRecord = records::read_json(&plan_path).unwrap();
    plan.tt_model_id = Some("id_tt-transformers_M_n150".into());
    records::write_json_atomic(&plan_path, &plan).unwrap();
    let r = results::collect(&batch).unwrap();
    let renamed = standard::file_name(&r.runs[0], r.tt_model_id.as_deref()).unwrap();
    assert_ne!(renamed, ours, "the reproduction needs the name to change");
    sweeper::report::render_batch(&batch, None).unwrap();
    let mut want = vec![renamed, tt_own.to_owned()];
    want.sort();
    assert_eq!(tt_files(&run_dir), want);

    // No metrics at all any more: no standardized file of ours either.
    for f in ["profile_export_aiperf.json", "profile_export_aiperf.csv", "profile_export.jsonl"] {
        std::fs::remove_file(run_dir.join(f)).unwrap();
    }
    sweeper::report::render_batch(&batch, None).unwrap();
    assert_eq!(tt_files(&run_dir), [tt_own]);
}

#[test]
fn failed_run_without_aggregate_reads_errors_from_the_jsonl() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = plan_only(tmp.path(), "fail-noserver", json!({}), json!({}));
    let run = &results::collect(&batch).unwrap().runs[0];
    // No records and no ready marker: not finished as far as the disk says.
    assert_eq!(run.status, RunStatus::Pending);
    records::write_json_atomic(
        &batch.join("run0").join(records::PROCESS_RESULT_FILE),
        &json!({"format_version": 1, "args": ["aiperf"], "returncode": 1, "stdout": null,
                "stderr": null, "status": "failed", "signal": null,
                "reason": "aiperf exited with code 1", "error_count": null,
                "started_at": "", "ended_at": "", "duration_s": 7.2, "server_id": "s",
                "sweeper_version": "0", "aiperf_version": "0.13.0"}),
    )
    .unwrap();
    let run = &results::collect(&batch).unwrap().runs[0];
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.reason.as_deref(), Some("aiperf exited with code 1"));
    assert_eq!(run.error_lines, ["ClientConnectorError: 10"]);
    assert!(run.metrics.is_none() && run.problems.is_empty(), "{:?}", run.problems);
    assert!(standard::write(run, &batch, None).unwrap().is_none());
}

#[test]
fn a_directory_that_is_not_a_batch_is_an_error_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let e = results::collect(tmp.path()).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with(&format!("failed to read batch `{}`", tmp.path().display())), "{e}");
    assert!(e.hint().is_some_and(|h| h.contains("timestamped batch directory")), "{e}");
}

#[test]
fn jsonl_tolerates_value_shapes_it_does_not_use() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("profile_export.jsonl");
    let lines = [
        // A single-chunk request whose inter_chunk_latency is a bare number, a null TTFT.
        r#"{"metadata":{"benchmark_phase":"profiling"},"metrics":{"inter_chunk_latency":{"value":4.0,"unit":"ms"},"time_to_first_token":{"value":null},"request_latency":{"value":10,"unit":"ms"},"output_sequence_length":{"value":2}}}"#,
        // Nested lists and a string value are ignored, not fatal.
        r#"{"metadata":{},"metrics":{"inter_chunk_latency":{"value":[1.0,[2.0,"x"],3]},"request_latency":{"value":"n/a"}}}"#,
        // An error given as a plain string, and one with a code.
        r#"{"metadata":{"benchmark_phase":"profiling"},"metrics":{},"error":"boom"}"#,
        r#"{"metadata":{},"metrics":{},"error":{"code":503,"type":"Service Unavailable","extra":[1,{"a":2}]}}"#,
        "",
    ];
    std::fs::write(&p, lines.join("\n")).unwrap();
    let s = jsonl::summarize(&p, jsonl::JsonlOptions { keep_samples: true, ..Default::default() })
        .unwrap();
    assert_eq!((s.succeeded, s.errors), (2, 2));
    assert_eq!(s.itl.count, 4);
    assert_eq!(s.itl.avg, Some(2.5));
    assert_eq!(s.e2el.count, 1);
    assert_eq!(s.ttft.count, 0);
    assert_eq!(s.total_output_tokens, 2.0);
    assert_eq!(s.error_kinds["boom"], 1);
    assert_eq!(s.error_kinds["Service Unavailable (503)"], 1);
}

/// chat-stream's JSONL with line 7 replaced by garbage, and the same file without that line.
fn jsonl_with_a_bad_line(dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(fixture("chat-stream", "profile_export.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 20, "fixture changed");
    let bad = dir.join("bad").join("profile_export.jsonl");
    let good = dir.join("good").join("profile_export.jsonl");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::create_dir_all(good.parent().unwrap()).unwrap();
    lines[6] = r#"{"metadata": {"benchmark_phase": "profiling"}, "metrics": {"time_to_first_token": {"val"#;
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    lines.remove(6);
    std::fs::write(&good, lines.join("\n") + "\n").unwrap();
    (bad, good)
}

/// A summary as JSON without the fields that describe the file rather than its records.
fn records_only(s: &jsonl::JsonlSummary) -> Value {
    let mut v = serde_json::to_value(s).unwrap();
    for k in ["lines", "bytes", "bad_lines", "first_bad_line", "first_bad_error"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[test]
fn a_bad_jsonl_line_is_skipped_and_the_rest_summarized() {
    let tmp = tempfile::tempdir().unwrap();
    let (bad, good) = jsonl_with_a_bad_line(tmp.path());
    let opts = jsonl::JsonlOptions { keep_samples: true, ..Default::default() };
    let s = jsonl::summarize(&bad, opts).expect("one bad line does not discard the file");
    let g = jsonl::summarize(&good, opts).unwrap();
    assert_eq!(g.succeeded, 19);
    // Counts, sums and percentiles are exactly those of the 19 good lines.
    assert_eq!(records_only(&s), records_only(&g));
    assert_eq!(s.ttft.p99, g.ttft.p99);
    assert_eq!((s.lines, s.bad_lines, s.first_bad_line), (20, 1, Some(7)));
    assert_eq!((g.bad_lines, g.first_bad_line), (0, None));
}

#[test]
fn collect_warns_about_skipped_jsonl_lines_and_keeps_the_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = plan_only(tmp.path(), "chat-stream", json!({}), json!({}));
    let run_dir = batch.join("run0");
    // No aggregate and no CSV: the JSONL is the only source.
    std::fs::remove_file(run_dir.join("profile_export_aiperf.json")).unwrap();
    std::fs::remove_file(run_dir.join("profile_export_aiperf.csv")).unwrap();
    let (bad, good) = jsonl_with_a_bad_line(tmp.path());
    std::fs::copy(&bad, run_dir.join("profile_export.jsonl")).unwrap();
    let run = &results::collect(&batch).unwrap().runs[0];
    let m = run.metrics.as_ref().expect("metrics recomputed from the good lines");
    let g =
        jsonl::summarize(&good, jsonl::JsonlOptions { keep_samples: true, ..Default::default() })
            .unwrap();
    assert_eq!(m.value(Metric::Completed), Some(19.0));
    assert_eq!(m.get(Metric::Ttft, Stat::P99), g.ttft.p99);
    assert_eq!(m.get(Metric::E2el, Stat::Avg), g.e2el.avg);
    let jl = run_dir.join("profile_export.jsonl");
    let want = format!("`{}`: 1 of 20 lines unreadable (first at line 7", jl.display());
    assert!(run.warnings.iter().any(|w| w.starts_with(&want)), "{want}\n{:?}", run.warnings);
    assert!(run.warnings.iter().any(|w| w.contains("skipped")), "{:?}", run.warnings);
    // The skipped line is a warning, not an unreadable file: only the missing aggregate is one.
    assert!(!run.problems.iter().any(|p| p.contains("profile_export.jsonl")), "{:?}", run.problems);
}

#[test]
fn numeric_schema_version_is_read_as_text() {
    let mut v = read_json(&fixture("chat-stream", "profile_export_aiperf.json"));
    let p = Path::new("x/profile_export_aiperf.json");
    v["schema_version"] = json!(99);
    let a = aggregate_json::parse_str(&v.to_string(), p).unwrap();
    assert_eq!(a.schema_version.as_deref(), Some("99"));
    assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
    assert!(a.warnings[0].contains("unknown schema_version 99"), "{}", a.warnings[0]);
    // A known version written as a number is known.
    v["schema_version"] = json!(1.4);
    let a = aggregate_json::parse_str(&v.to_string(), p).unwrap();
    assert_eq!(a.schema_version.as_deref(), Some("1.4"));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    // Neither a string nor a number: said so, not "has no schema_version".
    v["schema_version"] = json!([1, 4]);
    let a = aggregate_json::parse_str(&v.to_string(), p).unwrap();
    assert_eq!(a.schema_version, None);
    assert!(a.warnings[0].contains("schema_version `[1,4]`"), "{:?}", a.warnings);
}
