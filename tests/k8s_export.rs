//! The Kubernetes export keeps results on the claim and always ends: an `output_base_dir` the
//! claim would not hold is refused (exit 2); the merge Job merges when every shard finished
//! (manifests are pretty JSON), and at its deadline merges what is there with `--partial`.
//! The merge pod's own script runs here with `sh`, a stand-in `sweeper` on PATH.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::stub::write_executable;
use common::*;
use serde_json::Value;

const CONFIG: &str = "batch_name: b\noutput_base_dir: OUT\nserver: {kind: mock}\nbase_config: {model: m, tokenizer: '@offline', request_count: 4}\nsweeps: {concurrency: [1, 2]}\n";

/// `sweeper export k8s` of CONFIG with `output_base_dir: out`, and extra flags.
fn export(dir: &Path, out_dir: &str, extra: &[&str]) -> std::process::Output {
    common::config::write(dir, "sweep.yaml", &CONFIG.replace("OUT", out_dir));
    sweeper()
        .current_dir(dir)
        .args(["export", "k8s", "sweep.yaml", "--shards", "2", "--image", "sweeper:test"])
        .args(["--batch-id", "ID"])
        .args(extra)
        .output()
        .unwrap()
}

/// The YAML documents of an export.
fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---\n").skip(1).map(|d| serde_saphyr::from_str::<Value>(d).unwrap()).collect()
}

/// The merge Job of an export.
fn merge_job(yaml: &str) -> Value {
    documents(yaml)
        .into_iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"].as_str().unwrap().ends_with("-merge"))
        .expect("a merge Job")
}

#[test]
fn an_output_base_dir_off_the_claim_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["/data/out", "../out", "out/../../x"] {
        let out = export(tmp.path(), bad, &[]);
        let err = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(err.contains("outside the results claim") && err.contains("hint:"), "{err}");
        assert!(out.stdout.is_empty(), "nothing written for {bad}");
    }
    let out = export(tmp.path(), "out", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(yaml.contains("results: /results/out/b/ID on the claim"), "{yaml}");
}

/// Runs the merge pod's script in `dir` (as /results) with a stand-in sweeper; returns what
/// it was called with and what the script said.
fn run_merge_script(dir: &Path, script: &str) -> (Vec<String>, String) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("argv.log");
    write_executable(
        &bin.join("sweeper"),
        &format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n", log.display()),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let start = Instant::now();
    let out = Command::new("sh")
        .current_dir(dir)
        .args(["-c", script])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(20), "the merge script took too long");
    let argv = std::fs::read_to_string(&log).unwrap_or_default();
    (argv.lines().map(str::to_owned).collect(), text(&out))
}

/// A shard's manifest as sweeper writes it (pretty JSON).
fn shard_manifest(dir: &Path, k: usize, finished: bool) {
    let d = dir.join(format!("out/b/ID/shards/{k}"));
    std::fs::create_dir_all(&d).unwrap();
    let m = serde_json::json!({"format_version": 1, "finished": finished, "runs": []});
    std::fs::write(d.join("batch_manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

#[test]
fn the_merge_job_merges_finished_shards_and_at_its_deadline_what_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let out = export(tmp.path(), "out", &["--merge-deadline-s", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let job = merge_job(&String::from_utf8(out.stdout).unwrap());
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0, "a partial merge fails the Job once, no retries");
    assert_eq!(spec["activeDeadlineSeconds"], 3602, "{spec}");
    let script = spec["template"]["spec"]["containers"][0]["command"][2].as_str().unwrap();

    // Every shard finished: merged at once.
    let all = tmp.path().join("all");
    shard_manifest(&all, 0, true);
    shard_manifest(&all, 1, true);
    let (argv, _) = run_merge_script(&all, script);
    assert_eq!(argv, ["merge", "out/b/ID"]);

    // Shard 1 failed for good (no manifest) and shard 0 never finished: at the deadline,
    // a partial merge, saying how many are missing.
    let some = tmp.path().join("some");
    shard_manifest(&some, 0, false);
    let (argv, said) = run_merge_script(&some, script);
    assert_eq!(argv, ["merge", "--partial", "out/b/ID"]);
    assert!(said.contains("2 of 2 shard(s) not finished after 2s"), "{said}");
}
