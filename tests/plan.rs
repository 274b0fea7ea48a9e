//! The plan stage: expansion order, indices, directory names, exclude, argv, servers, targets,
//! and the `--dry-run` output of the real binary.

mod common;

use common::config::{load, plan};
use common::{nemo_datasets, root, sweeper, yaml_files};
use serde_json::{Value, json};
use sweeper::plan::{Arg, ArgContext, Plan, argv, expand};

const HEAD: &str = "base_config:\n  model: m\n  url: http://127.0.0.1:8000\n";

/// The rendered argv of combination `i`, program and placeholders as `--dry-run` shows them.
fn argv_of(p: &Plan, i: usize) -> Vec<String> {
    argv::render(&p.combinations[i].args, &ArgContext::default())
}

fn params(p: &Plan) -> Vec<Vec<(String, Value)>> {
    p.combinations
        .iter()
        .map(|c| c.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect()
}

#[test]
fn sweeps_expand_in_file_order_last_key_fastest() {
    // `b` before `a` in the file: file order, not alphabetical, decides the nesting.
    let p = plan(&format!("{HEAD}sweeps:\n  request_count: [1, 2]\n  tokenizer: [tx, ty]\n"));
    let got: Vec<(Value, Value)> = p
        .combinations
        .iter()
        .map(|c| (c.params["request_count"].clone(), c.params["tokenizer"].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (json!(1), json!("tx")),
            (json!(1), json!("ty")),
            (json!(2), json!("tx")),
            (json!(2), json!("ty"))
        ]
    );
    let p2 = plan(&format!("{HEAD}sweeps:\n  tokenizer: [tx, ty]\n  request_count: [1, 2]\n"));
    let got2: Vec<(Value, Value)> = p2
        .combinations
        .iter()
        .map(|c| (c.params["tokenizer"].clone(), c.params["request_count"].clone()))
        .collect();
    assert_eq!(
        got2,
        [
            (json!("tx"), json!(1)),
            (json!("tx"), json!(2)),
            (json!("ty"), json!(1)),
            (json!("ty"), json!(2))
        ]
    );
    // Indices are 0..N-1 in expansion order.
    assert_eq!(p.combinations.iter().map(|c| c.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(p.swept_keys, ["request_count", "tokenizer"]);
}

#[test]
fn scenarios_are_the_outermost_dimension() {
    let p = plan(&format!(
        "{HEAD}scenarios:\n  - {{isl: 128, osl: 128}}\n  - {{isl: 2048, osl: 64}}\nsweeps:\n  concurrency: [1, 8]\n"
    ));
    let got: Vec<(u64, u64, u64)> = p
        .combinations
        .iter()
        .map(|c| {
            let n = |k: &str| c.params[k].as_u64().unwrap();
            (n("isl"), n("osl"), n("concurrency"))
        })
        .collect();
    assert_eq!(got, [(128, 128, 1), (128, 128, 8), (2048, 64, 1), (2048, 64, 8)]);
}

#[test]
fn indices_are_stable_and_dense_after_exclude() {
    let text = format!(
        "{HEAD}sweeps:\n  concurrency: [1, 2, 4]\n  isl: [10, 20]\nexclude:\n  - {{concurrency: 2, isl: 20}}\n  - {{concurrency: 4}}\n"
    );
    let p = plan(&text);
    let got: Vec<(usize, u64, u64)> = p
        .combinations
        .iter()
        .map(|c| {
            (c.index, c.params["concurrency"].as_u64().unwrap(), c.params["isl"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(got, [(0, 1, 10), (1, 1, 20), (2, 2, 10)]);
    // Same input, same plan.
    let again = plan(&text);
    assert_eq!(params(&p), params(&again));
    assert_eq!(
        p.combinations.iter().map(|c| &c.dir).collect::<Vec<_>>(),
        again.combinations.iter().map(|c| &c.dir).collect::<Vec<_>>()
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn exclude_matching_nothing_is_a_warning() {
    let p =
        plan(&format!("{HEAD}sweeps:\n  concurrency: [1, 2]\nexclude:\n  - {{concurrency: 3}}\n"));
    assert_eq!(p.combinations.len(), 2);
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].message.contains("matches no combination"));
    assert_eq!(p.warnings[0].key_path(), "exclude[0]");
    assert!(p.warnings[0].pos.is_some());
}

#[test]
fn nemo_directory_names() {
    // Keys sorted, `{key}{value}` joined with `_`, as the NeMo runner names them.
    let p = plan(&format!(
        "{HEAD}  concurrency: 0\nsweeps:\n  prompt_input_tokens_mean: [100]\n  concurrency: [1, 2]\n"
    ));
    let dirs: Vec<&str> = p.combinations.iter().map(|c| c.dir.as_str()).collect();
    assert_eq!(
        dirs,
        ["concurrency1_prompt_input_tokens_mean100", "concurrency2_prompt_input_tokens_mean100"]
    );
    // Booleans as Python prints them; `/` in values sanitized.
    let p = plan(&format!("{HEAD}sweeps:\n  streaming: [true, false]\n  tokenizer: [org/tok]\n"));
    let dirs: Vec<&str> = p.combinations.iter().map(|c| c.dir.as_str()).collect();
    assert_eq!(dirs, ["streamingTrue_tokenizerorg-tok", "streamingFalse_tokenizerorg-tok"]);
    // No sweep: one run, straight in the batch directory.
    let p = plan(&format!("{HEAD}  concurrency: 1\n"));
    assert_eq!(p.combinations.len(), 1);
    assert_eq!(p.combinations[0].dir, "");
    assert!(p.combinations[0].params.is_empty());
}

#[test]
fn alias_in_sweep_overrides_base_spelling() {
    let p = plan(&format!("{HEAD}  prompt_input_tokens_mean: 100\nsweeps:\n  isl: [128, 256]\n"));
    for (c, want) in p.combinations.iter().zip(["128", "256"]) {
        let a = argv_of(&p, c.index);
        assert!(!a.iter().any(|s| s == "--prompt-input-tokens-mean"), "{a:?}");
        let i = a.iter().position(|s| s == "--isl").expect("--isl");
        assert_eq!(a[i + 1], want);
        assert_eq!(a.iter().filter(|s| *s == "--isl").count(), 1);
        assert!(!c.merged.contains_key("prompt_input_tokens_mean"));
    }
}

#[test]
fn argv_booleans_goodput_secret_and_extra_args() {
    let p = plan(&format!(
        "{HEAD}  streaming: true\n  no_gpu_telemetry: true\n  goodput:\n    time_to_first_token: 25\n    request_latency: 100\n  api_key_env_var: SWEEPER_TEST_KEY\n  extra_args: [\"--foo\", \"bar baz\"]\n  concurrency: 2\n"
    ));
    let c = &p.combinations[0];
    let a = argv_of(&p, 0);
    assert_eq!(a[0], "aiperf");
    assert_eq!(a[1], "profile");
    // Booleans are bare flags.
    let i = a.iter().position(|s| s == "--streaming").unwrap();
    assert!(a[i + 1].starts_with("--"), "{a:?}");
    assert!(a.iter().any(|s| s == "--no-gpu-telemetry"));
    assert!(!a.iter().any(|s| s == "true"), "{a:?}");
    // goodput: ONE argument.
    let g = a.iter().position(|s| s == "--goodput").unwrap();
    assert_eq!(a[g + 1], "time_to_first_token:25 request_latency:100");
    assert_eq!(a.iter().filter(|s| s.contains("time_to_first_token")).count(), 1);
    // The key: never in the argv. aiperf reads it from the environment through a config file
    // that holds only `${SWEEPER_TEST_KEY}`; the flags that keep aiperf's own defaults follow.
    assert!(!a.iter().any(|s| s == "--api-key"), "{a:?}");
    let k = c.args.iter().position(|x| *x == Arg::Lit("--config".into())).unwrap();
    let Arg::KeyConfig(kc) = &c.args[k + 1] else { panic!("{:?}", c.args[k + 1]) };
    assert_eq!(kc.env_var, "SWEEPER_TEST_KEY");
    assert!(kc.yaml().contains("apiKey: \"${SWEEPER_TEST_KEY}${SWEEPER_NO_SUCH_VAR:}\""));
    assert!(a[k + 2].ends_with("sweeper_api_key.yaml"), "{a:?}"); // +1: the program
    for (flag, value) in
        [("--request-count", "10"), ("--num-dataset-entries", "10"), ("--isl", "550")]
    {
        let i = a.iter().position(|s| s == flag).unwrap_or_else(|| panic!("{flag} in {a:?}"));
        assert_eq!(a[i + 1], value);
    }
    // extra_args verbatim, at the very end.
    assert_eq!(&a[a.len() - 2..], ["--foo", "bar baz"]);
    assert!(!a.iter().any(|s| s == "--extra-args" || s == "--api-key-env-var"));
}

#[test]
fn goodput_as_a_string_is_one_argument() {
    let p = plan(&format!("{HEAD}  goodput: 'time_to_first_token:25   request_latency:100'\n"));
    let a = argv_of(&p, 0);
    let g = a.iter().position(|s| s == "--goodput").unwrap();
    assert_eq!(a[g + 1], "time_to_first_token:25 request_latency:100");
}

#[test]
fn server_sweeps_make_distinct_servers_and_run_order_groups_them() {
    let p = plan(
        "server:\n  kind: mock\nbase_config:\n  model: m\nsweeps:\n  server.max_num_seqs: [4, 8]\n  concurrency: [1, 2]\n",
    );
    let ids: Vec<&str> = p.combinations.iter().map(|c| c.server_id.as_str()).collect();
    assert_eq!(ids, ["server-0", "server-0", "server-1", "server-1"]);
    // Server values go to the server, not to aiperf.
    let a = argv_of(&p, 0);
    assert!(!a.iter().any(|s| s.contains("max-num-seqs")), "{a:?}");
    assert!(a.contains(&"http://127.0.0.1:<port>".to_owned()), "{a:?}");

    // Server key varying fastest: run order still groups by server, indices unchanged.
    let p = plan(
        "server:\n  kind: mock\nbase_config:\n  model: m\nsweeps:\n  concurrency: [1, 2]\n  server.max_num_seqs: [4, 8]\n",
    );
    let ids: Vec<&str> = p.combinations.iter().map(|c| c.server_id.as_str()).collect();
    assert_eq!(ids, ["server-0", "server-1", "server-0", "server-1"]);
    assert_eq!(p.run_order(), [0, 2, 1, 3]);
    assert_eq!(p.combinations.iter().map(|c| c.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
}

#[test]
fn targets_attach_to_matching_combinations() {
    let p = plan(&format!(
        "{HEAD}scenarios:\n  - {{isl: 128, osl: 128}}\n  - {{isl: 2048, osl: 128}}\nsweeps:\n  concurrency: [1, 32]\ntargets:\n  tolerance: 0.1\n  points:\n    - match: {{isl: 128, osl: 128, concurrency: 1}}\n      ttft_ms: 38\n      tput_user: 28\n    - match: {{prompt_input_tokens_mean: 2048}}\n      ttft_ms: 800\n      tolerance: 0.2\n"
    ));
    let t: Vec<Vec<(String, f64, f64)>> = p
        .combinations
        .iter()
        .map(|c| c.targets.iter().map(|t| (t.metric.clone(), t.target, t.tolerance)).collect())
        .collect();
    assert_eq!(t[0], [("ttft_ms".into(), 38.0, 0.1), ("tput_user".into(), 28.0, 0.1)]);
    assert!(t[1].is_empty());
    // Matched through an alias (`prompt_input_tokens_mean` vs `isl`), both concurrencies.
    assert_eq!(t[2], [("ttft_ms".into(), 800.0, 0.2)]);
    assert_eq!(t[3], [("ttft_ms".into(), 800.0, 0.2)]);
}

#[test]
fn contradiction_in_one_combination_is_reported_with_its_sweep_entry() {
    let cfg =
        load(&format!("{HEAD}  streaming: true\nsweeps:\n  endpoint_type: [chat, embeddings]\n"));
    let e = expand(&cfg).unwrap_err();
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert!(e.diagnostics[0].message.contains("embeddings"));
}

// ---- the binary: --dry-run ------------------------------------------------------------------

#[test]
fn dry_run_writes_nothing_masks_the_key_and_shows_merged_config_with_verbose() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("results");
    let cfg = common::config::write(
        tmp.path(),
        "c.yaml",
        &format!(
            "batch_name: dry\noutput_base_dir: {}\n{HEAD}  api_key_env_var: SWEEPER_DRY_KEY\n  concurrency: 0\nsweeps:\n  concurrency: [1, 2]\n",
            out_dir.display()
        ),
    );
    let secret = "sk-very-secret-value-42";
    for verbose in [false, true] {
        let mut cmd = sweeper();
        cmd.arg("--config-file").arg(&cfg).arg("--dry-run").env("SWEEPER_DRY_KEY", secret);
        if verbose {
            cmd.arg("--verbose");
        }
        let out = cmd.current_dir(tmp.path()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "secret leaked");
        assert!(!stdout.contains("--api-key"), "{stdout}");
        assert!(
            stdout.contains("--config ") && stdout.contains("sweeper_api_key.yaml"),
            "{stdout}"
        );
        assert!(stdout.contains("2 combinations"), "{stdout}");
        assert!(stdout.contains("concurrency1"), "{stdout}");
        assert_eq!(stdout.contains("merged config:"), verbose, "{stdout}");
        if verbose {
            assert!(stdout.contains("\"concurrency\": 2"), "{stdout}");
        }
        assert!(!out_dir.exists(), "--dry-run created {}", out_dir.display());
        // Nothing else written next to the config either.
        let entries: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
    }
}

#[test]
fn dry_run_of_an_invalid_config_exits_2() {
    let out = sweeper()
        .args(["--config-file", "tests/fixtures/invalid/missing_url.yaml", "--dry-run"])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn target_point_matching_nothing_is_a_warning() {
    // Regression: a typo in `match` (`foo`, or a value no combination has) silently checked
    // nothing.
    let p = plan(&format!(
        "{HEAD}sweeps:\n  concurrency: [1, 2]\ntargets:\n  points:\n    - match: {{concurrency: 1}}\n      ttft_ms: 3\n    - match: {{foo: 1}}\n      ttft_ms: 3\n    - match: {{concurrency: 64}}\n      ttft_ms: 3\n"
    ));
    let w: Vec<String> = p.warnings.iter().map(|d| d.key_path()).collect();
    assert_eq!(w, ["targets.points[1].match", "targets.points[2].match"]);
    assert!(
        p.warnings.iter().all(|d| d.message.contains("matches no combination") && d.pos.is_some())
    );
    assert_eq!(p.combinations[0].targets.len(), 1);
}

#[test]
fn integral_floats_of_integer_options_print_as_integers() {
    // Regression: `concurrency: 4.0` passed the schema (JSON Schema integers include 4.0) and
    // became `--concurrency 4.0`, which aiperf's integer option rejects.
    let p = plan(&format!("{HEAD}  concurrency: 4.0\n  benchmark_duration: 60.0\n"));
    let a = argv_of(&p, 0);
    let i = a.iter().position(|s| s == "--concurrency").unwrap();
    assert_eq!(a[i + 1], "4");
    // A float option keeps its float.
    let d = a.iter().position(|s| s == "--benchmark-duration").unwrap();
    assert_eq!(a[d + 1], "60.0");
}

/// The NeMo runner's defaults that change what aiperf measures are applied where the config
/// leaves them out, and shown: a request rate without a mode is `constant` (aiperf alone would
/// use poisson); without a request rate nothing is added; an explicit mode is kept.
#[test]
fn nemo_runner_defaults_are_applied_and_shown() {
    let with_rate = plan(&format!("{HEAD}  request_rate: 20\n  request_count: 10\n"));
    let a = argv_of(&with_rate, 0);
    let i = a.iter().position(|s| s == "--request-rate-mode").expect("mode added");
    assert_eq!(a[i + 1], "constant");
    assert_eq!(with_rate.combinations[0].applied_defaults[0].0, "request_rate_mode");
    let explicit = plan(&format!("{HEAD}  request_rate: 20\n  arrival_pattern: poisson\n"));
    let a = argv_of(&explicit, 0);
    assert!(!a.iter().any(|s| s == "--request-rate-mode"), "{a:?}");
    assert!(a.windows(2).any(|w| w[0] == "--arrival-pattern" && w[1] == "poisson"), "{a:?}");
    let no_rate = plan(&format!("{HEAD}  concurrency: 4\n"));
    assert!(no_rate.combinations[0].applied_defaults.is_empty());
    assert!(!argv_of(&no_rate, 0).iter().any(|s| s == "--request-rate-mode"));
    // --dry-run says what was added and why.
    let cfg = load(&format!("{HEAD}  request_rate: 20\nsweeps:\n  concurrency: [1, 2]\n"));
    let p = expand(&cfg).unwrap();
    let dry = sweeper::app::dry_run_text(&cfg, &p, false);
    assert!(
        dry.contains("applied defaults (the config leaves them out):\n  request_rate_mode: constant (2 of 2 combinations): the NeMo runner's default; aiperf's own arrival pattern is poisson"),
        "{dry}"
    );
}

/// The ten real NeMo Guardrails configs (`benchmark/aiperf/configs/`, copied verbatim into
/// `tests/fixtures/nemo-configs/`, sources in its SOURCES.md) validate and plan as the NeMo
/// runner does: the same combinations (56 in all), order and directory names; their relative
/// datasets resolve where sweeper is started (a missing one is a config error); their health
/// check is Guardrails' `/v1/rails/configs`, explicitly or through the probe list.
#[test]
fn the_real_nemo_guardrails_configs_plan_as_the_runner_does() {
    let dir = root().join("tests/fixtures/nemo-configs");
    let tmp = tempfile::tempdir().unwrap();
    nemo_datasets(tmp.path());
    let files = yaml_files(&dir);
    assert_eq!(files.len(), 10);
    let mut total = 0;
    for f in &files {
        let out =
            sweeper().arg("-c").arg(f).arg("--dry-run").current_dir(tmp.path()).output().unwrap();
        let t = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {t}{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let yaml = std::fs::read_to_string(f).unwrap();
        let sweep: Vec<u64> = yaml
            .lines()
            .find_map(|l| l.trim().strip_prefix("concurrency: ["))
            .map(|l| {
                l.trim_end_matches(']').split(',').map(|v| v.trim().parse().unwrap()).collect()
            })
            .unwrap_or_default();
        let n = sweep.len().max(1);
        total += n;
        assert!(t.contains(&format!("is valid: {n} combination")), "{}: {t}", f.display());
        // The runner's directory names, in its order: "_".join(f"{k}{v}" for sorted params).
        for (i, c) in sweep.iter().enumerate() {
            assert!(t.contains(&format!("[{i}] ")), "{t}");
            assert!(
                t.lines().any(|l| l.trim_start().starts_with(&format!("{i}  {c}"))
                    && l.trim_end().ends_with(&format!("concurrency{c}"))),
                "{}: row {i} concurrency{c}:\n{t}",
                f.display()
            );
        }
        if yaml.contains("input_file") {
            assert!(t.contains(&format!("--input-file {}/datasets/", tmp.path().display())), "{t}");
            assert!(t.contains("health: GET /v1/rails/configs until 2xx"), "{t}");
        } else {
            assert!(t.contains("/v1/rails/configs (no health path configured"), "{t}");
        }
    }
    assert_eq!(total, 56);
    // Without its dataset a scenario config is a config error naming the resolved path.
    let empty = tempfile::tempdir().unwrap();
    let out = sweeper()
        .arg("validate")
        .arg(dir.join("scenario_rag_sweep.yaml"))
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("base_config.input_file") && e.contains("datasets/rag.jsonl` does not exist"),
        "{e}"
    );
}

/// (value of `by`, concurrency, repeat) of each combination in run order.
fn ab_order(p: &Plan, by: &str) -> Vec<(String, i64, u32)> {
    p.run_order()
        .into_iter()
        .map(|i| {
            let c = &p.combinations[i];
            let v = &c.params[by];
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (v, c.params["concurrency"].as_i64().unwrap(), c.repeat.unwrap())
        })
        .collect()
}

fn o(v: &str, c: i64, r: u32) -> (String, i64, u32) {
    (v.to_owned(), c, r)
}

#[test]
fn ab_together_alternates_the_values_point_by_point_and_reverses_them_every_other_repeat() {
    let p = plan(
        "server: {kind: mock}\nbase_config: {model: m}\nrepeats: 2\nab: {by: server.decode_base_ms}\nsweeps:\n  server.decode_base_ms: [4, 6]\n  concurrency: [1, 2]\n",
    );
    let ab = p.ab.as_ref().unwrap();
    assert_eq!(ab.servers, sweeper::records::AbServers::Together, "mock servers fit together");
    assert_eq!(
        ab_order(&p, "server.decode_base_ms"),
        [
            o("4", 1, 1),
            o("6", 1, 1),
            o("4", 2, 1),
            o("6", 2, 1),
            o("6", 1, 2),
            o("4", 1, 2),
            o("6", 2, 2),
            o("4", 2, 2),
        ]
    );
    // Both servers stay up: each is started once.
    assert_eq!(sweeper::plan::server_starts(&p), (2, 2));
    // Indices do not change.
    assert_eq!(
        p.combinations.iter().map(|c| c.index).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
}

#[test]
fn ab_restart_runs_a_value_s_points_together_and_counts_the_restarts() {
    let (cfg, p) = common::config::plan_of(
        "server: {kind: docker, image: 'x:1', url: 'http://127.0.0.1:8000'}\nbase_config: {model: m}\nrepeats: 3\nab: {by: server.image}\nsweeps:\n  server.image: ['x:1', 'x:2']\n  concurrency: [1, 2]\n",
    );
    assert_eq!(
        p.ab.as_ref().unwrap().servers,
        sweeper::records::AbServers::Restart,
        "docker: one GPU"
    );
    assert_eq!(
        ab_order(&p, "server.image"),
        [
            o("x:1", 1, 1),
            o("x:1", 2, 1),
            o("x:2", 1, 1),
            o("x:2", 2, 1),
            o("x:2", 1, 2),
            o("x:2", 2, 2),
            o("x:1", 1, 2),
            o("x:1", 2, 2),
            o("x:1", 1, 3),
            o("x:1", 2, 3),
            o("x:2", 1, 3),
            o("x:2", 2, 3),
        ]
    );
    // A B | B A | A B: 4 starts where 2 would do without interleaving.
    assert_eq!(sweeper::plan::server_starts(&p), (4, 2));
    let dry = sweeper::app::dry_run_text(&cfg, &p, false);
    assert!(
        dry.contains(
            "4 server starts where 2 would do without interleaving: 2 restarts to interleave"
        ),
        "{dry}"
    );
}

#[test]
fn ab_shards_keep_every_value_of_a_point_on_one_shard() {
    let p = plan(
        "server: {kind: mock}\nbase_config: {model: m}\nrepeats: 2\nab: {by: server.decode_base_ms}\nsweeps:\n  server.decode_base_ms: [4, 6]\n  concurrency: [1, 2]\n",
    );
    let parts = sweeper::scaleout::shard::assign(&p, 2);
    for s in &parts {
        let points: std::collections::BTreeSet<i64> = s
            .combinations
            .iter()
            .map(|i| p.combinations[*i].params["concurrency"].as_i64().unwrap())
            .collect();
        assert_eq!(points.len(), 1, "{parts:?}");
        assert_eq!(s.combinations.len(), 4, "both values, both repeats of one point: {parts:?}");
        assert_eq!(s.servers, ["server-0", "server-1"], "{parts:?}");
    }
}

#[test]
fn llama_cpp_servers_are_built_from_their_fields_and_sweep_like_any_other() {
    let (cfg, p) = common::config::plan_of(
        "server: {kind: llama-cpp, model: /m/tiny-llama.gguf, threads: 1, url: 'http://127.0.0.1:9123', extra_args: [--n-gpu-layers, '99']}\nbase_config: {model: tiny-llama}\nsweeps:\n  server.parallel: [2, 4]\n",
    );
    let ids: Vec<&str> = p.combinations.iter().map(|c| c.server_id.as_str()).collect();
    assert_eq!(ids, ["server-0", "server-1"]);
    let argv = sweeper::plan::server::llama_cpp_argv(p.combinations[0].server.as_ref().unwrap())
        .unwrap()
        .join(" ");
    assert_eq!(
        argv,
        "llama-server -m /m/tiny-llama.gguf --alias tiny-llama --host 127.0.0.1 --port 9123 --parallel 2 -c 4096 --threads 1 --threads-batch 1 --metrics --no-webui --n-gpu-layers 99"
    );
    // aiperf is pointed at the server's URL; the dry run shows the command and its health check.
    assert!(argv_of(&p, 1).contains(&"http://127.0.0.1:9123".to_owned()));
    let dry = sweeper::app::dry_run_text(&cfg, &p, false);
    assert!(dry.contains("--parallel 4 -c 8192"), "{dry}");
    assert!(dry.contains("health: GET /health until 2xx at http://127.0.0.1:9123"), "{dry}");
}

/// A `kubernetes` server: `server.vars.<name>` sweeps make one deployment per value (their
/// manifests rendered when the plan is made), and `metrics_urls` reach aiperf as the values of one
/// `--server-metrics` flag, as aiperf documents (`--server-metrics node1:8081 node2:9090/metrics`).
#[test]
fn kubernetes_vars_are_swept_and_metrics_urls_reach_aiperf() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeployment\nmetadata:\n  name: q-{{ vars.kv | lower }}\n",
    )
    .unwrap();
    let p = plan(&format!(
        "base_config:\n  model: m\nserver:\n  kind: kubernetes\n  manifest: {}\n  vars: {{kv: UCX}}\n  metrics_urls: [http://w1:9090/metrics, http://w2:9090/metrics]\nsweeps:\n  server.vars.kv: [UCX, LIBFABRIC]\n",
        manifest.display()
    ));
    let ids: Vec<&str> = p.combinations.iter().map(|c| c.server_id.as_str()).collect();
    assert_eq!(ids, ["server-0", "server-1"]);
    let Some(sweeper::config::ServerConfig::Kubernetes(k)) = p.combinations[1].server.as_deref()
    else {
        panic!("not a kubernetes server");
    };
    assert_eq!(k.vars["kv"], json!("LIBFABRIC"));
    let d = sweeper::plan::kube::deployment(k, "b", "server-1").unwrap();
    assert_eq!(d.objects[0].name, "q-libfabric");
    let a = argv_of(&p, 0);
    let at = a.iter().position(|x| x == "--server-metrics").expect("--server-metrics");
    assert_eq!(a[at + 1..at + 3], ["http://w1:9090/metrics", "http://w2:9090/metrics"]);
    assert_eq!(a.iter().filter(|x| *x == "--server-metrics").count(), 1);
    // The DGD's frontend, forwarded to 8000, is aiperf's URL.
    let u = a.iter().position(|x| x == "--url").unwrap();
    assert_eq!(a[u + 1], "http://127.0.0.1:8000");
}
