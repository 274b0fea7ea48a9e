//! Bench: what the real aiperf measures against the mock server, next to what the mock's
//! documented serving model says, as ratios from one run (`cargo bench --bench aiperf_model`).
//!
//! The tests (`tests/mock_server.rs`) only assert what a loaded machine cannot break: aiperf
//! never measures anything faster than the model allows. How close the figures come is a matter
//! of the machine, so it is measured here and compared, not asserted: on an idle 2-core machine
//! every ratio is within a few percent of 1; with other work on the cores, latencies grow.

use std::path::Path;

use serde_json::Value;
use sweeper::mockserver::model::estimate_tokens;
use sweeper::mockserver::{MockParams, serve};
use tokio::net::TcpListener;

/// The model of the aiperf tests.
fn params(max_num_seqs: u32) -> MockParams {
    MockParams {
        max_num_seqs,
        prefill_base_ms: 30.0,
        prefill_per_token_ms: 0.2,
        decode_base_ms: 12.0,
        decode_per_seq_ms: 1.5,
        ..MockParams::default()
    }
}

/// (label, aiperf metric, statistic, model value from (params, mean prompt tokens)).
type Check = (&'static str, &'static str, &'static str, fn(&MockParams, f64) -> f64);

struct Case {
    name: &'static str,
    max_num_seqs: u32,
    args: &'static [&'static str],
    checks: &'static [Check],
}

fn prefill(p: &MockParams, tokens: f64) -> f64 {
    p.prefill_base_ms + p.prefill_per_token_ms * tokens
}

const CASES: &[Case] = &[
    Case {
        name: "chat, streaming, concurrency 2",
        max_num_seqs: 64,
        args: &[
            "--endpoint-type",
            "chat",
            "--streaming",
            "--concurrency",
            "2",
            "--request-count",
            "10",
            "--isl",
            "64",
            "--osl",
            "16",
        ],
        checks: &[
            ("TTFT avg (ms)", "time_to_first_token", "avg", prefill),
            // Two sequences run at once almost all the time.
            ("TPOT avg (ms)", "inter_token_latency", "avg", |p, _| {
                p.decode_base_ms + 2.0 * p.decode_per_seq_ms
            }),
        ],
    },
    Case {
        name: "completions, non-streaming, concurrency 2",
        max_num_seqs: 64,
        args: &[
            "--endpoint-type",
            "completions",
            "--concurrency",
            "2",
            "--request-count",
            "10",
            "--isl",
            "64",
            "--osl",
            "12",
        ],
        checks: &[("request latency avg (ms)", "request_latency", "avg", |p, t| {
            prefill(p, t) + 11.0 * (p.decode_base_ms + 2.0 * p.decode_per_seq_ms)
        })],
    },
    Case {
        name: "chat, streaming, constant 5 requests/s",
        max_num_seqs: 4,
        args: &[
            "--endpoint-type",
            "chat",
            "--streaming",
            "--request-rate",
            "5",
            "--arrival-pattern",
            "constant",
            "--request-count",
            "8",
            "--isl",
            "64",
            "--osl",
            "8",
        ],
        checks: &[
            ("TTFT avg (ms)", "time_to_first_token", "avg", prefill),
            ("TPOT avg (ms)", "inter_token_latency", "avg", |p, _| {
                p.decode_base_ms + p.decode_per_seq_ms
            }),
            ("requests/s", "request_throughput", "avg", |_, _| 5.0),
        ],
    },
];

fn mean_prompt_tokens(inputs: &Value) -> f64 {
    let sessions = inputs["data"].as_array().cloned().unwrap_or_default();
    let counts: Vec<f64> = sessions
        .iter()
        .filter_map(|s| {
            let p = &s["payloads"][0];
            let text = p["messages"][0]["content"].as_str().or(p["prompt"].as_str())?;
            Some(f64::from(estimate_tokens(text)))
        })
        .collect();
    counts.iter().sum::<f64>() / counts.len().max(1) as f64
}

fn read(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("aiperf output");
    serde_json::from_str(&text).expect("aiperf JSON")
}

fn main() {
    let settings = sweeper::config::AiperfSettings::default();
    let mut log = |l: &str| eprintln!("venv: {l}");
    let aiperf = sweeper::run::venv::ensure(&settings, &mut log).expect("managed aiperf venv");
    let tokenizer =
        sweeper::run::venv::offline_tokenizer(&aiperf, &mut log).expect("offline tokenizer");
    println!("aiperf {} against the mock server; ratio = measured / model", aiperf.version);
    println!("{:<44} {:<26} {:>10} {:>10} {:>7}", "case", "figure", "model", "measured", "ratio");
    for case in CASES {
        let p = params(case.max_num_seqs);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server_params = p.clone();
        let server = std::thread::spawn(move || {
            let rt = sweeper::mockserver::runtime().expect("server runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(listener.local_addr().expect("addr")).expect("send addr");
                serve(listener, server_params, async move {
                    let _ = stop_rx.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().expect("server address");
        let dir = tempfile::tempdir().expect("temp dir");
        let out = std::process::Command::new(&aiperf.exe)
            .args(["profile", "--model", "mock-model", "--url", &format!("http://{addr}")])
            .args(["--ui", "none", "--no-server-metrics", "--no-gpu-telemetry"])
            .arg("--tokenizer")
            .arg(&tokenizer)
            .arg("--artifact-dir")
            .arg(dir.path())
            .args(case.args)
            .output()
            .expect("run aiperf");
        let _ = stop_tx.send(());
        let _ = server.join();
        if !out.status.success() {
            eprintln!("{}: aiperf failed:\n{}", case.name, String::from_utf8_lossy(&out.stdout));
            std::process::exit(1);
        }
        let export = read(dir.path(), "profile_export_aiperf.json");
        let tokens = mean_prompt_tokens(&read(dir.path(), "inputs.json"));
        for (label, metric, stat, model) in case.checks {
            let want = model(&p, tokens);
            let got = export[metric][stat].as_f64().unwrap_or(f64::NAN);
            println!(
                "{:<44} {:<26} {:>10.2} {:>10.2} {:>7.3}",
                case.name,
                label,
                want,
                got,
                got / want
            );
        }
    }
}
