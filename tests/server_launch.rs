//! The exact commands that start each kind of server (this machine has no Docker engine and no
//! Tenstorrent device, so these kinds are checked by their argv), and how --dry-run shows them.

mod common;

use common::config::{load, plan_of};
use sweeper::plan::{self, server::launch};

#[test]
fn docker_argv() {
    let (cfg, p) = plan_of(
        r#"
batch_name: ucx
base_config: {model: Qwen/Qwen3-0.6B}
server:
  kind: docker
  image: vllm/vllm-openai:v0.14.1
  args: [--model, Qwen/Qwen3-0.6B, --port, "8000"]
  ports: ["8000:8000"]
  mounts: ["/data/hf:/root/.cache/huggingface:ro"]
  env: {VLLM_LOGGING_LEVEL: INFO}
  env_passthrough: [HF_TOKEN]
  docker_args: [--gpus, all, --ipc, host]
  url: http://127.0.0.1:8000
"#,
    );
    let c = &p.combinations[0];
    let l = launch(c.server.as_ref().unwrap(), &cfg.batch_name, &c.server_id, "sweeper").unwrap();
    assert_eq!(
        l.argv,
        [
            "docker",
            "run",
            "--rm",
            "--name",
            "sweeper-ucx-server-0",
            "-p",
            "8000:8000",
            "-v",
            "/data/hf:/root/.cache/huggingface:ro",
            "-e",
            "VLLM_LOGGING_LEVEL=INFO",
            "-e",
            "HF_TOKEN",
            "--gpus",
            "all",
            "--ipc",
            "host",
            "vllm/vllm-openai:v0.14.1",
            "--model",
            "Qwen/Qwen3-0.6B",
            "--port",
            "8000"
        ]
    );
    assert_eq!(l.container.as_deref(), Some("sweeper-ucx-server-0"));
    // No health path configured: the probe list decides (see plan::server::health).
    assert_eq!(l.health_path, None);
    assert_eq!(plan::server::health(c.server.as_deref(), None), plan::server::Health::Probe);
    // aiperf is pointed at the server's URL.
    let argv = plan::argv::render(&c.args, &Default::default());
    let i = argv.iter().position(|a| a == "--url").unwrap();
    assert_eq!(argv[i + 1], "http://127.0.0.1:8000");
}

#[test]
fn tt_inference_server_argv_is_the_seed_command() {
    let (cfg, p) = plan_of(
        r#"
base_config: {model: google/gemma-3-4b-it}
server: {kind: tt-inference-server, repo_dir: /opt/tt-inference-server, model: gemma-3-4b-it, device: n300}
"#,
    );
    let c = &p.combinations[0];
    let l = launch(c.server.as_ref().unwrap(), &cfg.batch_name, &c.server_id, "sweeper").unwrap();
    assert_eq!(
        l.argv,
        [
            "python3",
            "run.py",
            "--model",
            "gemma-3-4b-it",
            "--device",
            "n300",
            "--workflow",
            "server",
            "--docker-server"
        ]
    );
    assert_eq!(l.cwd.as_deref(), Some(std::path::Path::new("/opt/tt-inference-server")));
    assert_eq!(l.startup_timeout_s, 3600.0);
}

#[test]
fn sweeping_a_server_setting_means_one_server_per_value_grouped_in_run_order() {
    let (cfg, p) = plan_of(
        r#"
base_config: {model: m}
server: {kind: docker, image: "img:ucx", url: "http://127.0.0.1:8000"}
sweeps:
  server.image: ["img:ucx", "img:libfabric"]
  concurrency: [1, 8]
"#,
    );
    let ids: Vec<&str> = p.combinations.iter().map(|c| c.server_id.as_str()).collect();
    assert_eq!(ids, ["server-0", "server-0", "server-1", "server-1"]);
    assert_eq!(p.combinations[2].dir, "concurrency1_server.imageimg-libfabric");
    let l =
        launch(p.combinations[2].server.as_ref().unwrap(), &cfg.batch_name, "server-1", "sweeper")
            .unwrap();
    assert!(l.argv.contains(&"img:libfabric".to_owned()));
    // Grouping when the server key varies fastest: run order groups, indices stay.
    let (_, p) = plan_of(
        r#"
base_config: {model: m}
server: {kind: mock}
sweeps:
  concurrency: [1, 8]
  server.max_num_seqs: [4, 64]
"#,
    );
    assert_eq!(p.run_order(), [0, 2, 1, 3]);
    let dry = sweeper::app::dry_run_text(
        &load(
            "base_config: {model: m}\nserver: {kind: mock}\nsweeps:\n  concurrency: [1, 8]\n  server.max_num_seqs: [4, 64]\n",
        ),
        &p,
        false,
    );
    assert!(dry.contains("server-1: mock server, started with:"), "{dry}");
    assert!(dry.contains("--max-num-seqs 4 ") || dry.contains("--max-num-seqs 4\n"), "{dry}");
    assert!(dry.contains("--url 'http://127.0.0.1:<port>'"), "{dry}");
}

#[test]
fn docker_dry_run_prints_the_exact_command() {
    let tmp = tempfile::tempdir().unwrap();
    let f = common::config::write(
        tmp.path(),
        "d.yaml",
        "batch_name: b\nbase_config: {model: m}\nserver: {kind: docker, image: 'vllm/vllm-openai:v0.14.1', ports: ['8000:8000'], url: 'http://127.0.0.1:8000'}\n",
    );
    let out = common::sweeper().arg("-c").arg(&f).arg("--dry-run").output().unwrap();
    let t = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains(
            "docker run --rm --name sweeper-b-server-0 -p 8000:8000 vllm/vllm-openai:v0.14.1"
        ),
        "{t}"
    );
    assert!(
        t.contains("health: the first 2xx of GET /v1/models, /health, /v1/rails/configs (no health path configured; answered without 2xx: go on with a warning) at http://127.0.0.1:8000 within 600s"),
        "{t}"
    );
}
