//! Cost per million tokens: the formula checked by hand on a real aiperf export, intervals with
//! repeats, `cost.*` sweeps that never reach aiperf, and `compare`'s cost changes.

use serde_json::json;
use sweeper::cost::figures::{CostFigures, usd_per_million};
use sweeper::cost::spec::Basis;
use sweeper::model::metrics::{Metric, Stat, Values};
use sweeper::records::RepeatOrder;

mod common;
use common::batch::{Batch, Run, base};
use common::{read_json, sweeper};

fn throughput(output: f64, total: f64) -> Values {
    let mut v = Values::default();
    v.set(Metric::OutputTokS, Stat::Avg, Some(output));
    v.set(Metric::TotalTokS, Stat::Avg, Some(total));
    v
}

#[test]
fn the_formula_by_hand() {
    // $4/hour at 1000 output tokens/s: 3.6M tokens an hour, so $1.111... per million.
    assert!((usd_per_million(4.0, 1000.0).unwrap() - 1.111_111_111_111_111).abs() < 1e-12);
    assert_eq!(usd_per_million(4.0, 0.0), None);
    let b = Basis { usd_per_hour: 20.0, gpus: Some(8.0) };
    let f = CostFigures::of(b, &throughput(2000.0, 10000.0), &[], 0.95);
    // Output: 20 / (2000 x 3600) x 1e6 = 2.777...; input (8000 tok/s) 0.694...; total 0.555...
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} != {b}");
    close(f.usd_per_1m_output.unwrap().value, 20.0 / 7200.0 * 1000.0);
    close(f.usd_per_1m_input.unwrap().value, 20.0 / (8000.0 * 3600.0) * 1e6);
    close(f.usd_per_1m_total.unwrap().value, 20.0 / (10000.0 * 3600.0) * 1e6);
    close(f.output_tok_s_per_gpu.unwrap().value, 250.0);
    assert_eq!(f.usd_per_1m_output.unwrap().ci_low, None);
}

#[test]
fn with_repeats_the_throughput_interval_is_carried_through() {
    let runs = [throughput(100.0, 200.0), throughput(110.0, 220.0), throughput(120.0, 240.0)];
    let refs: Vec<&Values> = runs.iter().collect();
    let b = Basis { usd_per_hour: 3.6, gpus: None };
    let f = CostFigures::of(b, &throughput(110.0, 220.0), &refs, 0.95);
    // Output tok/s: mean 110, sd 10, t(0.975, 2) = 4.302652729911275: [85.16, 134.84].
    let half = 4.302652729911275 * 10.0 / 3f64.sqrt();
    let o = f.usd_per_1m_output.unwrap();
    assert!((o.value - 1000.0 / 110.0).abs() < 1e-12);
    // $3.6/hour is $1000 per million at 1 token/s: cost = 1000 / tok_s, so the ends swap.
    assert!((o.ci_low.unwrap() - 1000.0 / (110.0 + half)).abs() < 1e-9, "{o:?}");
    assert!((o.ci_high.unwrap() - 1000.0 / (110.0 - half)).abs() < 1e-9, "{o:?}");
    assert!(f.output_tok_s_per_gpu.is_none());
}

#[test]
fn a_batch_is_priced_per_point_and_compare_shows_the_change() {
    let root = tempfile::tempdir().unwrap();
    let runs = [Run::ok("chat-stream", vec![("concurrency", json!(2))])];
    let a =
        Batch::new("a").base(base()).cost(json!({"usd_per_hour": 3.6})).write(root.path(), &runs);
    let b =
        Batch::new("b").base(base()).cost(json!({"usd_per_hour": 7.2})).write(root.path(), &runs);
    for dir in [&a, &b] {
        let out = sweeper().args(["report", dir.to_str().unwrap()]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let s = read_json(&a.join("summary.json"));
    let tok_s = s["rows"][0]["metrics"]["output_tok_s"].as_f64().unwrap();
    // The real export's output tokens/s (chat-stream: 321.17 tok/s), priced by hand.
    assert!((tok_s - 321.17).abs() < 0.01, "{tok_s}");
    let got = s["rows"][0]["cost"]["usd_per_1m_output"]["value"].as_f64().unwrap();
    assert!((got - 1000.0 / tok_s).abs() < 1e-9, "{got}");
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    assert!(md.contains("## Cost") && md.contains("busy 100% of the time"), "{md}");
    assert!(md.contains(&format!("| {:.3} |", 1000.0 / tok_s)), "{md}");
    let out =
        sweeper().args(["compare", a.to_str().unwrap(), b.to_str().unwrap()]).output().unwrap();
    let md = std::fs::read_to_string(b.join("compare.md"))
        .or_else(|_| std::fs::read_to_string(a.join("compare.md")))
        .unwrap_or_else(|_| String::from_utf8_lossy(&out.stdout).into_owned());
    assert!(md.contains("## Cost"), "{md}");
    assert!(md.contains("| +100.0% |"), "{md}");
}

#[test]
fn cost_sweeps_stay_out_of_aiperfs_command_line() {
    let plan = common::config::plan(
        "base_config:\n  model: m\n  url: http://127.0.0.1:8000\ncost: {gpus: 4}\nsweeps:\n  cost.usd_per_gpu_hour: [2.5, 4.1]\n",
    );
    assert_eq!(plan.combinations.len(), 2);
    for c in &plan.combinations {
        assert!(c.params.contains_key("cost.usd_per_gpu_hour"));
        assert!(!c.merged.contains_key("cost.usd_per_gpu_hour"));
        let text = format!("{:?}", c.args);
        assert!(!text.contains("cost") && !text.contains("usd"), "{text}");
    }
    assert_eq!(plan.cost.as_ref().unwrap()["gpus"], json!(4.0));
}

#[test]
fn repeats_keep_one_price_per_point() {
    let root = tempfile::tempdir().unwrap();
    let runs: Vec<Run> = (1..=2)
        .map(|k| Run::ok("chat-stream", vec![("concurrency", json!(2))]).repeat(k))
        .collect();
    let batch = Batch::new("r")
        .base(base())
        .repeats(2, RepeatOrder::Interleaved)
        .cost(json!({"usd_per_gpu_hour": 1.8, "gpus": 2}))
        .write(root.path(), &runs);
    let r = sweeper::results::collect(&batch).unwrap();
    let report = sweeper::report::Report::build(&r, None);
    let c = report.rows[0].cost.as_ref().unwrap();
    assert_eq!(c.usd_per_hour, 3.6);
    // Two identical repeats: a zero-width interval at the point's own figure.
    let o = c.usd_per_1m_output.unwrap();
    assert_eq!(o.ci_low, Some(o.value));
}
