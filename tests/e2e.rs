//! End to end: the quickstart config runs a 3-point concurrency sweep with the REAL aiperf 0.13.0
//! from sweeper's managed venv against `sweeper mock-server` on 127.0.0.1, and every point's
//! artifacts, records and reports are checked.

mod common;

use common::config::MockSweep;
use common::mock::MockProcess;
use common::*;

#[test]
fn quickstart_sweep_with_real_aiperf_against_the_mock_server() {
    let _ = managed_aiperf(); // build the venv first (once), so its time is not in the run
    let tmp = tempfile::tempdir().unwrap();
    // The quickstart config exactly as shipped (relative output_base_dir), run from a fresh dir,
    // as the README's first command does. The dir is deep on purpose: aiperf's IPC sockets live
    // in TMPDIR and must stay under 107 bytes whatever the batch path (a regression).
    let work = tmp.path().join("a-deliberately-long-directory-name-for-the-batch-path-0123456789");
    std::fs::create_dir_all(&work).unwrap();
    let cfg = root().join("aiperf_configs/quickstart.yaml");
    let out = sweeper().arg("--config-file").arg(&cfg).current_dir(&work).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("completed : 3") && log.contains("failed    : 0"), "{log}");
    let batch = batch_dir(&work.join("aiperf_results"), "quickstart");

    for (c, dir) in [(1, "concurrency1"), (2, "concurrency2"), (4, "concurrency4")] {
        let d = batch.join(dir);
        for f in [
            "run_metadata.json",
            "process_result.json",
            "aiperf.log",
            ".aiperf_results_ready.json",
            "profile_export_aiperf.json",
            "profile_export_aiperf.csv",
            "profile_export.jsonl",
            "inputs.json",
        ] {
            assert!(d.join(f).is_file(), "{dir}/{f} missing");
        }
        let pr = read_json(&d.join("process_result.json"));
        assert_eq!(pr["status"], "succeeded", "{pr}");
        assert_eq!(pr["returncode"], 0);
        assert_eq!(pr["error_count"], 0);
        assert_eq!(pr["aiperf_version"], "0.13.0");
        let meta = read_json(&d.join("run_metadata.json"));
        assert_eq!(meta["sweep_params"]["concurrency"], c);
        assert!(meta["command"].as_str().unwrap().contains(&format!("--concurrency {c}")));

        let export = read_json(&d.join("profile_export_aiperf.json"));
        assert_eq!(export["aiperf_version"], "0.13.0");
        assert_eq!(
            export["request_count"]["avg"].as_f64(),
            Some(24.0),
            "24 measured requests (warmup excluded)"
        );
        // The mock server honours max_completion_tokens exactly; the offline tokenizer counts them.
        for st in ["avg", "min", "max"] {
            assert_eq!(export["output_sequence_length"][st].as_f64(), Some(16.0), "osl {st}");
        }
        let isl = export["input_sequence_length"]["avg"].as_f64().unwrap();
        assert!((isl - 64.0).abs() < 1.0, "isl {isl}");
        // Measured from aiperf's clock: a loaded machine can only make it slower than the
        // mock's model (defaults: prefill >= 10 ms, decode step >= 5.05 ms), never faster.
        let m = sweeper::mockserver::MockParams::default();
        let ttft = export["time_to_first_token"]["avg"].as_f64().unwrap();
        assert!(ttft >= m.prefill_base_ms, "ttft {ttft} ms");
        let tput = export["output_token_throughput"]["avg"].as_f64().unwrap();
        let fastest_request_s =
            (m.prefill_base_ms + 15.0 * (m.decode_base_ms + m.decode_per_seq_ms)) / 1000.0;
        let most = f64::from(c) * 16.0 / fastest_request_s;
        assert!(tput > 0.0 && tput <= most, "{tput} tok/s at concurrency {c}, model max {most}");
        // The per-run tt-inference-server style JSON.
        let std_json = tt_files(&d)
            .into_iter()
            .find(|n| n.contains(&format!("_maxcon-{c}_")))
            .unwrap_or_else(|| panic!("no standardized JSON in {dir}"));
        let s = read_json(&d.join(&std_json));
        assert_eq!(s["max_concurrency"], c);
        assert_eq!(s["completed"], 24);
    }

    let manifest = read_json(&batch.join("batch_manifest.json"));
    assert_eq!(manifest["finished"], true);
    assert!(manifest["runs"].as_array().unwrap().iter().all(|r| r["status"] == "succeeded"));
    assert!(
        std::fs::read_to_string(batch.join("server-0.log"))
            .unwrap()
            .contains("listening on http://127.0.0.1:")
    );
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    for c in ["| 1 |", "| 2 |", "| 4 |"] {
        assert!(md.contains(c), "report.md lacks the concurrency {c} row:\n{md}");
    }
    let csv = std::fs::read_to_string(batch.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(batch.join("report.html").is_file() && batch.join("summary.json").is_file());
    // aiperf scraped the mock's `/metrics` (vLLM's names). The server's count of generated tokens
    // over the profiling window is a counter's change between aiperf's first and last scrape in
    // it: at most the 24 measured requests' 16 tokens each (the 2 warmup requests' excluded), at
    // least that less what one scrape interval (0.333 s) can generate before the first scrape.
    // Never more running than the concurrency, and no queue below the mock's 64 slots.
    assert!(md.contains("## Server"), "{md}");
    let s = read_json(&batch.join("summary.json"));
    for r in s["rows"].as_array().unwrap() {
        let f = &r["server"]["figures"];
        assert_eq!(r["server"]["servers"], serde_json::json!(["vllm"]), "{r}");
        let generated = f["generation_tokens"]["mean"].as_f64().unwrap();
        let per_scrape = r["metrics"]["output_tok_s"].as_f64().unwrap() * 0.4;
        assert!(generated <= 384.0 && generated >= 384.0 - per_scrape, "{generated}: {r}");
        let c: f64 = r["params"]["concurrency"].as_str().unwrap().parse().unwrap();
        assert!(f["running_max"]["mean"].as_f64().unwrap() <= c, "{r}");
        assert_eq!(f["waiting_max"]["mean"], 0.0, "{r}");
    }
}

#[test]
fn real_aiperf_with_failing_requests_is_recorded_as_partial_with_the_error_count() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = MockSweep::new("errors")
        .output(tmp.path())
        .server("error_rate: 0.25, seed: 3")
        .base(&[
            "request_count: 20",
            "prompt_input_tokens_mean: 32",
            "prompt_output_tokens_mean: 8",
            "concurrency: 2",
        ])
        .write(tmp.path(), "errors.yaml");
    let out = sweeper().arg("-c").arg(&cfg).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "a partial run is a completed run\n{log}");
    let batch = batch_dir(tmp.path(), "errors");
    // No sweep: the run's files are in the batch dir itself (NeMo layout).
    let pr = read_json(&batch.join("process_result.json"));
    assert_eq!(pr["status"], "partial", "{pr}");
    let errors = pr["error_count"].as_u64().unwrap();
    let export = read_json(&batch.join("profile_export_aiperf.json"));
    assert_eq!(errors as f64, export["error_request_count"]["avg"].as_f64().unwrap());
    assert!((1..=12).contains(&errors), "about a quarter of 20 requests fail: {errors}");
    assert!(pr["reason"].as_str().unwrap().contains("request(s) failed"));
    assert!(log.contains("with failed requests"), "{log}");
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains("Internal Server Error"), "the failures section names the errors:\n{md}");
}

/// A hosted-style endpoint that wants a key on every /v1 path, health check included.
#[test]
fn external_endpoint_with_an_api_key_from_the_environment() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let key = "sk-e2e-0123456789abcdef";
    let server = MockProcess::start(
        &["--port", &port.to_string(), "--api-key-env", "MOCK_EXPECTED_KEY"],
        &[("MOCK_EXPECTED_KEY", key)],
    );
    let cfg = common::config::write(
        tmp.path(),
        "hosted.yaml",
        &format!(
            "batch_name: hosted\noutput_base_dir: {}\nserver: {{kind: external, startup_timeout_s: 30}}\nbase_config:\n  model: mock-model\n  url: http://127.0.0.1:{port}\n  api_key_env_var: HOSTED_KEY\n  tokenizer: '@offline'\n  streaming: true\n  request_count: 4\n  prompt_input_tokens_mean: 16\n  prompt_output_tokens_mean: 4\n  no_server_metrics: true\n  no_gpu_telemetry: true\n",
            tmp.path().display()
        ),
    );
    // While it runs, no command line of any process (what `ps` shows every local user) holds
    // the key: aiperf reads it from its environment through a config file.
    let mut run = sweeper()
        .arg("-c")
        .arg(&cfg)
        .env("HOSTED_KEY", key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut samples = 0;
    let mut aiperf_seen = false;
    while run.try_wait().unwrap().is_none() {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            assert!(!cmd.contains(key), "the key is in a command line: {cmd}");
            aiperf_seen |= cmd.contains("aiperf profile");
        }
        samples += 1;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ok = run.wait_with_output().unwrap();
    assert!(aiperf_seen && samples > 10, "aiperf never seen running ({samples} samples)");
    let wrong = sweeper().arg("-c").arg(&cfg).env("HOSTED_KEY", "sk-wrong-key").output().unwrap();
    drop(server);
    let log = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{log}");
    assert!(!log.contains(key));
    // Wrong key: the health check (GET /v1/models with the key) says why it never got ready.
    let w = text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{w}");
    assert!(
        w.contains("the server refuses the API key: GET /v1/models answered HTTP 401")
            && w.contains("check the API key"),
        "{w}"
    );
    assert!(!w.contains("sk-wrong-key"), "{w}");
    for f in all_files(&tmp.path().join("hosted")) {
        let t = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!t.contains(key) && !t.contains("sk-wrong-key"), "key written to {}", f.display());
    }
    // The config file changes nothing aiperf measures: the same run without a key (against a
    // server that wants none) gets the same dataset and phases.
    let open_server = MockProcess::start(&["--port", &port.to_string()], &[]);
    let plain = common::config::write(
        tmp.path(),
        "plain.yaml",
        &std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("batch_name: hosted", "batch_name: plain")
            .replace("  api_key_env_var: HOSTED_KEY\n", ""),
    );
    let p = sweeper().arg("-c").arg(&plain).output().unwrap();
    drop(open_server);
    assert_eq!(p.status.code(), Some(0), "{}", text(&p));
    let dir_of = |out: &std::process::Output| {
        let t = text(out);
        let line = t.lines().find_map(|l| l.strip_prefix("sweeper: batch directory: ")).unwrap();
        std::path::PathBuf::from(line.trim())
    };
    let cfg_of = |dir: std::path::PathBuf| {
        let mut c = read_json(&dir.join("profile_export_aiperf.json"))["input_config"].clone();
        for d in c["datasets"].as_array_mut().unwrap() {
            d.as_object_mut().unwrap().remove("name"); // `default` with a config file, else `main`
        }
        (c["datasets"].clone(), c["phases"].clone())
    };
    let (keyed, open) = (cfg_of(dir_of(&ok)), cfg_of(dir_of(&p)));
    assert_eq!(keyed, open, "a run with the key's config file measures something else");
}

/// A relative `input_file` (a `single_turn` JSONL, as four of the NeMo Guardrails configs use)
/// resolves against the directory sweeper was started from, as the NeMo runner does, and
/// reaches aiperf as an absolute path: aiperf runs inside each combination's directory.
#[test]
fn relative_input_file_resolves_where_sweeper_was_started() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("data")).unwrap();
    let prompts =
        ["What is the capital of France?", "Name three colors.", "How many legs has a spider?"];
    let jsonl: String =
        prompts.iter().map(|p| format!("{}\n", serde_json::json!({ "text": p }))).collect();
    std::fs::write(tmp.path().join("data/prompts.jsonl"), jsonl).unwrap();
    MockSweep::new("rel")
        .base(&[
            "endpoint_type: chat",
            "input_file: data/prompts.jsonl",
            "custom_dataset_type: single_turn",
            "request_count: 6",
            "osl: 4",
        ])
        .rest("sweeps:\n  concurrency: [1, 2]\n")
        .write(tmp.path(), "c.yaml");
    let out = sweeper().arg("-c").arg("c.yaml").current_dir(tmp.path()).output().unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let batch = batch_dir(&tmp.path().join("aiperf_results"), "rel");
    let abs = tmp.path().join("data/prompts.jsonl").display().to_string();
    let plan = read_json(&batch.join("plan.json"));
    for c in plan["combinations"].as_array().unwrap() {
        assert_eq!(c["merged"]["input_file"], abs.as_str());
        assert!(c["argv"].as_array().unwrap().iter().any(|a| a == abs.as_str()), "{c}");
        // The directory names stay the NeMo runner's (parameters as written).
        assert!(c["dir"].as_str().unwrap().starts_with("concurrency"));
    }
    // aiperf sent the file's prompts.
    let inputs = std::fs::read_to_string(batch.join("concurrency1/inputs.json")).unwrap();
    for p in prompts {
        assert!(inputs.contains(p), "{p} not sent: {inputs}");
    }
    // A missing file is a config error naming the key and the resolved path, before anything.
    std::fs::remove_file(tmp.path().join("data/prompts.jsonl")).unwrap();
    let out = sweeper().arg("-c").arg("c.yaml").current_dir(tmp.path()).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("`base_config.input_file`") && t.contains(&abs), "{t}");
}

/// A NeMo config with a request rate and no `request_rate_mode` measures what the NeMo runner
/// measures: sweeper applies the runner's `constant` (aiperf alone would send Poisson arrivals),
/// which aiperf records in its export and honours: the sends are evenly spaced.
#[test]
fn a_request_rate_without_a_mode_gets_the_nemo_runners_constant_arrivals() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    MockSweep::new("rate")
        .base(&["request_rate: 20", "request_count: 12", "osl: 4", "isl: 16"])
        .write(tmp.path(), "c.yaml");
    let out = sweeper().arg("-c").arg("c.yaml").current_dir(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let batch = batch_dir(&tmp.path().join("aiperf_results"), "rate");
    let export = read_json(&batch.join("profile_export_aiperf.json"));
    let phases = export["input_config"]["phases"].as_array().unwrap();
    let profiling = phases.iter().find(|p| p["exclude_from_results"] != true).unwrap();
    assert_eq!(profiling["type"], "constant", "{profiling}");
    // aiperf's schedule: credits 50 ms apart (the schedule, not the loaded client, so a busy
    // machine cannot change it).
    let credits: Vec<f64> = std::fs::read_to_string(batch.join("profile_export.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["metadata"]["credit_issued_ns"].as_f64())
        .collect();
    assert_eq!(credits.len(), 12);
    let mut sorted = credits.clone();
    sorted.sort_by(f64::total_cmp);
    let span_ms = (sorted[11] - sorted[0]) / 1e6;
    assert!(span_ms >= 11.0 * 50.0 * 0.9, "12 sends at 20/s span {span_ms:.1} ms");
}

/// A server that ignores `max_tokens` (the mock's `ignore_max_tokens` fault) measures another
/// output length than requested: the real aiperf counts 27 tokens for OSL 16, and the report
/// says so with a hint instead of tabulating a TPOT that is not comparable.
#[test]
fn a_server_ignoring_max_tokens_is_named_in_the_report() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    MockSweep::new("eos")
        .server("ignore_max_tokens: true, default_max_tokens: 27")
        .base(&["request_count: 6", "isl: 16", "osl: 16"])
        .write(tmp.path(), "c.yaml");
    let out = sweeper().arg("-c").arg("c.yaml").current_dir(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let batch = batch_dir(&tmp.path().join("aiperf_results"), "eos");
    let export = read_json(&batch.join("profile_export_aiperf.json"));
    assert_eq!(export["output_sequence_length"]["avg"], 27.0);
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains("requested output length 16, measured mean 27.0 (+69%)"), "{md}");
    assert!(md.contains("ignore_eos"), "{md}");
    let summary = read_json(&batch.join("summary.json"));
    assert_eq!(summary["length_warnings"][0]["which"], "output");
}

/// A config naming tt's model and device, run with the real aiperf: every run dir's file is
/// named as tt names it, the request-rate point gets none (and the report says so), the export
/// folder reads cleanly by tt's rules, and aiperf's own `profile_export_aiperf.json` (what tt's
/// newer code reads, by `rglob`) stays where aiperf wrote it, untouched by re-rendering.
#[test]
fn tt_named_results_from_real_aiperf_read_as_tts_own() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    MockSweep::new("ttnames")
        .model("meta-llama/Llama-3.3-70B-Instruct")
        .base(&["request_count: 8", "isl: 32", "osl: 8"])
        .rest("tt: {impl: tt-transformers, device: n300}\n")
        .rest("scenarios:\n  - {concurrency: 1}\n  - {concurrency: 2}\n  - {request_rate: 50}\n")
        .write(tmp.path(), "c.yaml");
    let out = sweeper().arg("-c").arg("c.yaml").current_dir(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let batch = batch_dir(&tmp.path().join("aiperf_results"), "ttnames");
    let id = "id_tt-transformers_Llama-3.3-70B-Instruct_n300";
    let mut hashes = Vec::new();
    for (dir, file) in [("concurrency1", true), ("concurrency2", true), ("request_rate50", false)] {
        let d = batch.join(dir);
        let names = common::tt_rules::glob(&d, id);
        assert_eq!(names.len(), usize::from(file), "{dir}: {names:?}");
        if file {
            common::tt_rules::read(&d, id, "n300").unwrap();
        }
        let export = d.join("profile_export_aiperf.json");
        let v = read_json(&export);
        assert_eq!(v["request_count"]["avg"].as_f64(), Some(8.0), "{dir}");
        assert!(v["time_to_first_token"]["avg"].as_f64().unwrap() > 0.0);
        hashes.push((export.clone(), std::fs::read(&export).unwrap()));
    }
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains("`request_rate=50`: no tt-inference-server file"), "{md}");

    let folder = tmp.path().join("workflow_logs/benchmarks_output");
    let out =
        sweeper().args(["export", "tt"]).arg(&batch).arg("--to").arg(&folder).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = common::tt_rules::read(&folder, id, "n300").unwrap();
    assert_eq!(
        rows.iter().map(|r| (r.isl, r.osl, r.max_con, r.n)).collect::<Vec<_>>(),
        [(32, 8, 1, 8), (32, 8, 2, 8)]
    );

    let out = sweeper().arg("report").arg(&batch).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (path, bytes) in hashes {
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{} changed", path.display());
    }
}

/// A server that closes the connection after each response while advertising keep-alive (as
/// llama.cpp's does after streamed responses; the mock's `close_after_response_ms` fault, with a
/// window wide enough that aiperf's pooled connections always write into it): the failed
/// requests are recognised, the terminal and the report say what to set, and that setting
/// (`connection_reuse_strategy: never`) gives no error at all.
#[test]
fn closed_connections_are_recognised_and_the_suggested_setting_fixes_them() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, reuse: &str| {
        let f = MockSweep::new(name)
            .output(&tmp.path().join("out"))
            .server("close_after_response_ms: 20")
            .base(&["request_count: 40", "concurrency: 2", "osl: 8", reuse])
            .write(tmp.path(), &format!("{name}.yaml"));
        let out = sweeper().arg("-c").arg(&f).output().unwrap();
        (out.status.code(), text(&out), batch_dir(&tmp.path().join("out"), name))
    };
    let hint = "Set `connection_reuse_strategy: never` in base_config";
    let (_, log, batch) = run("pooled", "connection_reuse_strategy: pooled");
    assert!(log.contains("failed because the server closed the connection"), "{log}");
    assert!(log.contains(hint), "{log}");
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains(hint), "{md}");
    let pooled = read_json(&batch.join("profile_export_aiperf.json"));
    let errors: u64 = pooled["error_summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert!(errors >= 5, "{}", pooled["error_summary"]);
    // Every failed request was recognised as a closed connection (none left unexplained).
    assert!(log.contains(&format!("warning: {errors} request(s) failed because")), "{log}");

    let (code, log, batch) = run("never", "connection_reuse_strategy: never");
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(hint), "{log}");
    let never = read_json(&batch.join("profile_export_aiperf.json"));
    assert!(never["error_summary"].as_array().is_none_or(Vec::is_empty), "{never}");
    assert_eq!(never["request_count"]["avg"].as_f64(), Some(40.0));
}
