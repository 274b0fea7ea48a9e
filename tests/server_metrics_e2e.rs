//! The whole path with the real aiperf: the mock speaks vLLM's metric names, aiperf scrapes its
//! `/metrics` during every run, sweeper reads the export back beside the client figures,
//! explains the knee of a ladder and prices every point.

use serde_json::Value;

mod common;
use common::config::MockSweep;
use common::*;

fn row(s: &Value, kv: u64, c: u64) -> &Value {
    s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["params"]["server.kv_cache_tokens"].as_str() == Some(&*kv.to_string())
                && r["params"]["concurrency"].as_str() == Some(&*c.to_string())
        })
        .unwrap_or_else(|| panic!("no row kv={kv} c={c}"))
}

fn fig(r: &Value, key: &str) -> f64 {
    r["server"]["figures"][key]["mean"].as_f64().unwrap_or_else(|| panic!("{key} in {r}"))
}

/// Two servers of 4 slots, one with a KV cache too small for 4 sequences: the queue appears
/// exactly above concurrency 4 on the roomy one (admission-bound), the small one fills its KV
/// cache (memory-bound); the ladder's stop reason and the Max load section say so, and every
/// point's cost is the hand computation from its throughput.
///
/// Decode steps of 40 ms: a request that waits for a slot waits ~420 ms, one served at once
/// 20 ms plus the machine's noise (up to ~105 ms seen on a VM whose hypervisor took a third of
/// the CPU time), and the SLO (250 ms) sits between. With 20 ms steps and a 120 ms SLO on that
/// VM, aiperf itself, starved, kept too few of the 8 requests in flight for the queue's average
/// to pass 1.
#[test]
fn server_figures_explain_the_knee_and_every_point_is_priced() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let f = MockSweep::new("why")
        .output(&tmp.path().join("out"))
        .server("max_num_seqs: 4, prefill_base_ms: 20, decode_base_ms: 40")
        .base(&["request_count: 32", "isl: 32", "osl: 10"])
        .server_metrics()
        .rest(concat!(
            "sweeps:\n  server.kv_cache_tokens: [1048576, 120]\n  concurrency: [2, 4, 8, 16]\n",
            "stop_when:\n  dimension: concurrency\n  slo: {ttft_p99_ms: 250}\n",
            "cost: {usd_per_gpu_hour: 2.5, gpus: 2}\n",
        ))
        .write(tmp.path(), "why.yaml");
    let out = sweeper().arg("-c").arg(&f).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let batch = batch_dir(&tmp.path().join("out"), "why");
    let s = read_json(&batch.join("summary.json"));
    // The roomy server: no queue at 2 or 4 slots' worth of load, a queue at 8.
    for c in [2, 4] {
        let r = row(&s, 1_048_576, c);
        assert_eq!(r["server"]["servers"], serde_json::json!(["vllm"]), "{r}");
        assert_eq!(fig(r, "waiting_max"), 0.0, "c={c}: {}", r["server"]);
        assert!(fig(r, "running_max") <= c as f64, "{}", r["server"]);
        // Every request's 10 tokens, counted by the server over the profiling window (from
        // aiperf's first scrape in it: at most one scrape interval's worth may precede it).
        let generated = fig(r, "generation_tokens");
        let per_scrape = r["metrics"]["output_tok_s"].as_f64().unwrap() * 0.4;
        assert!(generated <= 320.0 && generated >= 320.0 - per_scrape, "{}", r["server"]);
        assert_eq!(fig(r, "preemptions"), 0.0);
    }
    let r8 = row(&s, 1_048_576, 8);
    assert!(fig(r8, "waiting_avg") > 1.0, "{}", r8["server"]);
    assert_eq!(fig(r8, "running_max"), 4.0, "{}", r8["server"]);
    assert!(fig(r8, "kv_cache_max_pct") < 1.0, "{}", r8["server"]);
    // The small KV cache is full when it breaks.
    let small: Vec<&Value> = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["params"]["server.kv_cache_tokens"] == "120" && r["server"].is_object())
        .collect();
    assert!(small.iter().any(|r| fig(r, "kv_cache_max_pct") >= 90.0), "{small:?}");
    // The stop reasons and the Max load section explain the knees.
    let manifest = read_json(&batch.join("batch_manifest.json"));
    let reasons: Vec<&str> = manifest["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skipped")
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|w| w.contains("at concurrency 8; the server showed queue")
            && w.contains("admission-bound")),
        "{reasons:?}"
    );
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains("## Server") && md.contains("| Queue avg (requests) |"), "{md}");
    assert!(
        md.contains("Why `server.kv_cache_tokens=1048576` breaks at 8: the server showed queue"),
        "{md}"
    );
    assert!(
        md.contains("Why `server.kv_cache_tokens=120` breaks at") && md.contains("memory-bound"),
        "{md}"
    );
    // Cost: $5/hour (2 GPUs at $2.50) over the measured output tokens/s.
    for r in s["rows"].as_array().unwrap().iter().filter(|r| r["metrics"].is_object()) {
        let tok_s = r["metrics"]["output_tok_s"].as_f64().unwrap();
        let c = &r["cost"];
        assert_eq!(c["usd_per_hour"], 5.0);
        let want = 5.0 / (tok_s * 3600.0) * 1e6;
        let got = c["usd_per_1m_output"]["value"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-9 * want, "{got} != {want}");
        let per_gpu = c["output_tok_s_per_gpu"]["value"].as_f64().unwrap();
        assert!((per_gpu - tok_s / 2.0).abs() <= 1e-9 * tok_s);
    }
    let best = s["max_load"]["rows"].as_array().unwrap()[0].clone();
    let want = 5.0 / (best["output_tok_s"].as_f64().unwrap() * 3600.0) * 1e6;
    assert!((best["usd_per_1m_output"].as_f64().unwrap() - want).abs() <= 1e-9 * want, "{best}");
    assert!(md.contains("1M output tokens cost **$"), "{md}");
    let csv = std::fs::read_to_string(batch.join("summary.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for col in ["server_waiting_avg", "server_kv_cache_max_pct", "usd_per_1m_output"] {
        assert!(header.split(',').any(|h| h == col), "{col}: {header}");
    }
    let html = std::fs::read_to_string(batch.join("report.html")).unwrap();
    for id in
        ["chart-server-queue", "chart-server-kv", "chart-cost", "id=\"server\"", "id=\"cost\""]
    {
        assert!(html.contains(id), "{id} missing from report.html");
    }
}

/// aiperf's `--num-profile-runs` (back-to-back repeats) writes a server-metrics export per
/// profile run: each is a repeat of the point's server figures, with an interval.
#[test]
fn each_profile_runs_export_is_a_repeat_of_the_server_figures() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let f = MockSweep::new("npr")
        .output(&tmp.path().join("out"))
        .server("max_num_seqs: 4, prefill_base_ms: 20, decode_base_ms: 20")
        .base(&["request_count: 16", "isl: 32", "osl: 10", "concurrency: 8"])
        .server_metrics()
        .rest("repeats: {count: 2, order: back_to_back}\n")
        .write(tmp.path(), "npr.yaml");
    let out = sweeper().arg("-c").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let batch = batch_dir(&tmp.path().join("out"), "npr");
    for k in ["run_0001", "run_0002"] {
        assert!(batch.join("profile_runs").join(k).join("server_metrics_export.json").is_file());
    }
    let s = read_json(&batch.join("summary.json"));
    let server = &s["rows"][0]["server"];
    assert_eq!(server["runs"], 2, "{server}");
    let w = &server["figures"]["waiting_max"];
    assert_eq!(w["n"], 2, "{server}");
    assert!(w["mean"].as_f64().unwrap() >= 1.0, "8 requests on 4 slots queue: {server}");
    assert!(w["ci_low"].is_number() && w["ci_high"].is_number(), "{server}");
    assert_eq!(server["figures"]["running_max"]["mean"], 4.0, "{server}");
}
