//! aiperf's server-metrics export read back: a real aiperf 0.13.0 export under vLLM's names
//! (`tests/fixtures/aiperf/server-metrics-vllm-names`), the other servers' names, unknown
//! servers, the per-phase copy, and a point's figures over its repeats.

use std::path::Path;

use serde_json::{Value, json};
use sweeper::records::RepeatOrder;
use sweeper::results;
use sweeper::server_metrics::export::{self, Export};
use sweeper::server_metrics::{Bound, ServerFigures, explain};

mod common;
use common::batch::{Batch, Run, base, fixture};
use common::read_json;

const VLLM: &str = "server-metrics-vllm-names";

fn close(a: Option<f64>, b: f64) {
    let a = a.unwrap_or_else(|| panic!("missing, want {b}"));
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

fn figures_of(v: &Value) -> ServerFigures {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(export::EXPORT_FILE), v.to_string()).unwrap();
    ServerFigures::of(&export::read(dir.path()).unwrap().unwrap())
}

#[test]
fn a_real_export_under_vllm_names_gives_every_canonical_figure_of_the_profiling_window() {
    let e = export::parse_top(&fixture(VLLM, export::EXPORT_FILE)).unwrap();
    assert_eq!(e.endpoints, ["http://127.0.0.1:8765/metrics"]);
    let f = ServerFigures::of(&e);
    assert_eq!(f.servers, ["vllm"]);
    assert!(f.raw.is_empty());
    close(f.get("running_avg"), 6.0);
    close(f.get("running_max"), 8.0);
    close(f.get("waiting_avg"), 4.444444444444445);
    close(f.get("waiting_max"), 6.0);
    close(f.get("kv_cache_avg_pct"), 60.00000000000001);
    close(f.get("kv_cache_max_pct"), 80.0);
    close(f.get("preemptions"), 86.0);
    // Hits / queries over the window: 9600 / 38400.
    close(f.get("prefix_hit_pct"), 25.0);
    // The profiling window's 9600 tokens, not the warmup's 128.
    close(f.get("generation_tokens"), 9600.0);
    close(f.get("prompt_tokens"), 38400.0);
    // sum / count of the histogram, in ms: 18.2294... s over 600.
    close(f.get("ttft_avg_ms"), 18.229471683502197 / 600.0 * 1000.0);
    close(f.get("ttft_p99_ms"), 35.48059949767002);
    assert_eq!(f.get("queue_time_avg_ms"), None);
    // The per-phase copy of the same window gives the same figures.
    let phase = export::parse_phase(&fixture(VLLM, export::PROFILING_PHASE_FILE)).unwrap();
    assert_eq!(ServerFigures::of(&phase).values, f.values);
    let e = explain(&sweeper::server_metrics::ServerSummary::of(&[f], 0.95).unwrap()).unwrap();
    assert_eq!(e.facts, "queue 4.4 avg (max 6), running 6 avg, KV cache 80% max, 86 preemptions");
    assert_eq!(e.bound, Some(Bound::MemoryBound));
}

/// The fixture's export with every `vllm:` name renamed by `rename`.
fn renamed(rename: &dyn Fn(&str) -> Option<String>) -> Value {
    let mut v = read_json(&fixture(VLLM, export::EXPORT_FILE));
    let metrics = v["metrics"].as_object().unwrap().clone();
    v["metrics"] =
        Value::Object(metrics.into_iter().filter_map(|(k, m)| Some((rename(&k)?, m))).collect());
    v
}

#[test]
fn other_servers_names_map_to_the_same_figures_and_hit_rates_come_from_counters() {
    let sglang = figures_of(&renamed(&|k| {
        Some(
            match k {
                "vllm:num_requests_running" => "sglang:num_running_reqs",
                "vllm:num_requests_waiting" => "sglang:num_queue_reqs",
                "vllm:kv_cache_usage_perc" => "sglang:token_usage",
                "vllm:prefix_cache_hits" => "sglang:cached_tokens",
                "vllm:prompt_tokens" => "sglang:prompt_tokens",
                "vllm:generation_tokens" => "sglang:generation_tokens",
                "vllm:time_to_first_token_seconds" => "sglang:time_to_first_token_seconds",
                _ => return None,
            }
            .to_owned(),
        )
    }));
    assert_eq!(sglang.servers, ["sglang"]);
    close(sglang.get("waiting_avg"), 4.444444444444445);
    close(sglang.get("kv_cache_max_pct"), 80.0);
    close(sglang.get("prefix_hit_pct"), 25.0);
    assert_eq!(sglang.get("preemptions"), None);
    let llama = figures_of(&renamed(&|k| {
        Some(
            match k {
                "vllm:num_requests_running" => "llamacpp:requests_processing",
                "vllm:num_requests_waiting" => "llamacpp:requests_deferred",
                "vllm:generation_tokens" => "llamacpp:tokens_predicted",
                _ => return None,
            }
            .to_owned(),
        )
    }));
    assert_eq!(llama.servers, ["llama.cpp"]);
    close(llama.get("running_max"), 8.0);
    close(llama.get("generation_tokens"), 9600.0);
    // vLLM's older KV-cache name when the current one is absent.
    let old = figures_of(&renamed(&|k| {
        Some(if k == "vllm:kv_cache_usage_perc" {
            "vllm:gpu_cache_usage_perc".into()
        } else {
            k.into()
        })
    }));
    close(old.get("kv_cache_avg_pct"), 60.00000000000001);
}

#[test]
fn an_unknown_server_lists_its_raw_metrics_and_series_add_up() {
    let unknown = figures_of(&renamed(&|k| Some(k.replace("vllm:", "acme_"))));
    assert!(unknown.servers.is_empty());
    assert!(unknown.values.iter().all(Option::is_none));
    let names: Vec<&str> = unknown.raw.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"acme_num_requests_waiting"), "{names:?}");
    let w = unknown.raw.iter().find(|r| r.name == "acme_num_requests_waiting").unwrap();
    close(w.avg, 4.444444444444445);
    close(w.max, 6.0);
    let c = unknown.raw.iter().find(|r| r.name == "acme_generation_tokens").unwrap();
    close(c.total, 9600.0);
    // Two engines: running requests add up, the KV cache's use is their mean and the fullest.
    let mut v = read_json(&fixture(VLLM, export::EXPORT_FILE));
    for name in ["vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:generation_tokens"]
    {
        let series = v["metrics"][name]["series"].as_array_mut().unwrap();
        let mut second = series[0].clone();
        second["labels"]["engine"] = json!("1");
        for (_, x) in second["stats"].as_object_mut().unwrap().iter_mut() {
            *x = json!(x.as_f64().unwrap() / 2.0);
        }
        series.push(second);
    }
    let two = figures_of(&v);
    close(two.get("running_avg"), 9.0);
    close(two.get("kv_cache_avg_pct"), 45.00000000000001);
    close(two.get("kv_cache_max_pct"), 80.0);
    close(two.get("generation_tokens"), 14400.0);
}

#[test]
fn a_warmup_window_or_a_broken_file_is_refused_and_a_run_without_one_has_none() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(export::read(dir.path()).unwrap(), None::<Export>);
    let mut v = read_json(&fixture(VLLM, export::EXPORT_FILE));
    v["metrics_phase"] = json!("warmup");
    std::fs::write(dir.path().join(export::EXPORT_FILE), v.to_string()).unwrap();
    let e = export::read(dir.path()).unwrap_err().to_string();
    assert!(e.contains("warmup window"), "{e}");
    std::fs::write(dir.path().join(export::EXPORT_FILE), "{\"metrics\": [").unwrap();
    let e = export::read(dir.path()).unwrap_err().to_string();
    assert!(e.contains("failed to parse"), "{e}");
}

/// Writes the fixture's export into `dir` with the queue's mean set to `waiting`.
fn with_queue(dir: &Path, waiting: f64) {
    let mut v = read_json(&fixture(VLLM, export::EXPORT_FILE));
    v["metrics"]["vllm:num_requests_waiting"]["series"][0]["stats"]["avg"] = json!(waiting);
    std::fs::write(dir.join(export::EXPORT_FILE), v.to_string()).unwrap();
}

#[test]
fn a_points_server_figures_are_the_means_of_its_repeats_with_intervals_in_every_report() {
    let root = tempfile::tempdir().unwrap();
    let runs: Vec<Run> = (1..=3)
        .map(|k| Run::ok("chat-stream", vec![("concurrency", json!(8))]).repeat(k))
        .collect();
    let batch = Batch::new("srv")
        .base(base())
        .repeats(3, RepeatOrder::Interleaved)
        .write(root.path(), &runs);
    let r = results::collect(&batch).unwrap();
    for (k, q) in [(1, 3.0), (2, 4.0), (3, 5.0)] {
        with_queue(&batch.join(&r.runs[0].repeats[k - 1].dir), q);
    }
    // A broken export in one more repeat would be a warning, not a failure: see above.
    let r = results::collect(&batch).unwrap();
    let s = r.runs[0].server.as_ref().unwrap();
    assert_eq!(s.runs, 3);
    let w = &s.figures["waiting_avg"];
    assert_eq!((w.mean, w.n), (4.0, 3));
    // t(0.975, 2) = 4.302652729911275, se = 1 / sqrt(3).
    let half = 4.302652729911275 / 3f64.sqrt();
    assert!((w.ci_high.unwrap() - (4.0 + half)).abs() < 1e-9, "{w:?}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sweeper"))
        .args(["report", batch.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains("## Server"), "{md}");
    assert!(md.contains("| 4.0 ± 2.48 |"), "{md}");
    let csv = std::fs::read_to_string(batch.join("summary.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for col in ["server_waiting_avg", "server_waiting_avg_ci_low", "server_kv_cache_max_pct"] {
        assert!(header.split(',').any(|c| c == col), "{col} not in {header}");
    }
    let json = read_json(&batch.join("summary.json"));
    assert_eq!(json["rows"][0]["server"]["figures"]["waiting_avg"]["mean"], json!(4.0));
    assert_eq!(json["rows"][0]["server"]["servers"], json!(["vllm"]));
}

/// The README lists every canonical figure and every name of the mapping table.
#[test]
fn the_readme_lists_the_mapping_table() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    for f in sweeper::server_metrics::names::FIGURES {
        assert!(readme.contains(&format!("| `{}` |", f.key)), "README lacks figure {}", f.key);
    }
    for m in sweeper::server_metrics::names::MAPPINGS {
        assert!(readme.contains(&format!("`{}`", m.name)), "README lacks {}", m.name);
    }
}
