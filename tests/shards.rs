//! Shards: the assignment (a pure function of the plan and N), the shard batch directories, the
//! merge and its refusals, and the jobs written for Slurm and Kubernetes (validated with
//! `kubernetes-validate --strict`). A real Slurm cluster runs a sharded sweep in `slurm.rs`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::batch::shard_dir;
use common::config::plan;
use common::*;
use sweeper::scaleout::shard;

const HEAD: &str =
    "base_config:\n  model: m\n  request_count: 10\n  streaming: true\nserver: {kind: mock}\n";

/// Every combination in exactly one shard; whole server groups while N <= groups; the same
/// answer every time; balanced by cost; a ladder, a search group and a point's interleaved
/// repeats never split.
#[test]
fn assignment_properties() {
    let p = plan(&format!(
        "{HEAD}sweeps:\n  server.max_num_seqs: [4, 8, 16]\n  concurrency: [1, 2, 4, 8]\n"
    ));
    for n in 1..=20 {
        let a = shard::assign(&p, n);
        assert_eq!(a, shard::assign(&p, n), "deterministic");
        assert_eq!(a.len(), n);
        let all: Vec<usize> = a.iter().flat_map(|s| s.combinations.clone()).collect();
        let set: BTreeSet<usize> = all.iter().copied().collect();
        assert_eq!(all.len(), 12, "n={n}: every combination once");
        assert_eq!(set.len(), 12);
        if n <= 3 {
            for s in &a {
                for srv in &s.servers {
                    let in_others = a.iter().filter(|o| o.servers.contains(srv)).count();
                    assert_eq!(in_others, 1, "n={n}: {srv} split");
                }
            }
        }
        // Balanced: no shard has more than its fair share plus one unit (cost 10 each).
        let fair = 120.0 / n as f64;
        for s in &a {
            assert!(s.cost <= fair.max(10.0) + 10.0 + 1e-9 || n <= 3, "n={n}: {s:?}");
        }
    }
    // 3 server groups of 40 over 2 shards: 80 / 40 (groups stay whole).
    let two = shard::assign(&p, 2);
    assert_eq!(two.iter().map(|s| s.cost).collect::<Vec<_>>(), [80.0, 40.0]);
    // 6 shards: the groups are split into contiguous ranges of 2 points.
    let six = shard::assign(&p, 6);
    assert!(six.iter().all(|s| s.combinations.len() == 2 && s.servers.len() == 1), "{six:?}");

    // A stop_when ladder and interleaved repeats stay whole.
    let ladder = plan(&format!(
        "{HEAD}sweeps:\n  isl: [16, 32]\n  concurrency: [1, 2, 4]\nstop_when:\n  dimension: concurrency\n  slo: {{ttft_p99_ms: 10}}\n"
    ));
    let a = shard::assign(&ladder, 6);
    let ls = ladder.load_search.as_ref().unwrap();
    for g in &ls.groups {
        let holders =
            a.iter().filter(|s| g.members.iter().any(|m| s.combinations.contains(m))).count();
        assert_eq!(holders, 1, "ladder {g:?} split: {a:?}");
    }
    let reps = plan(&format!("{HEAD}repeats: 3\nsweeps:\n  concurrency: [1, 2]\n"));
    let a = shard::assign(&reps, 6);
    for point in 0..2 {
        let holders = a
            .iter()
            .filter(|s| s.combinations.iter().any(|i| reps.combinations[*i].point == point))
            .count();
        assert_eq!(holders, 1);
    }
    // Search groups are units.
    let search = plan(&format!(
        "{HEAD}sweeps:\n  server.max_num_seqs: [4, 8]\n  isl: [16, 32]\nsearch:\n  variable: concurrency\n  min: 1\n  max: 8\n  slo: {{ttft_p99_ms: 100}}\n"
    ));
    let a = shard::assign(&search, 3);
    let groups: Vec<usize> = a.iter().flat_map(|s| s.templates.clone()).collect();
    assert_eq!(groups.iter().copied().collect::<BTreeSet<_>>(), (0..4).collect());
    assert_eq!(groups.len(), 4);
    // The plan hash follows the plan.
    assert_eq!(
        shard::plan_hash(&p),
        shard::plan_hash(&plan(&format!(
            "{HEAD}sweeps:\n  server.max_num_seqs: [4, 8, 16]\n  concurrency: [1, 2, 4, 8]\n"
        )))
    );
    assert_ne!(shard::plan_hash(&p), shard::plan_hash(&reps));
}

#[test]
fn plan_command_and_bad_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let f = common::config::write(
        tmp.path(),
        "c.yaml",
        &format!("{HEAD}sweeps:\n  server.max_num_seqs: [4, 8]\n  concurrency: [1, 2]\n"),
    );
    let out = sweeper().args(["plan"]).arg(&f).args(["--shards", "2"]).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("shard 0/2: 2 combination(s), cost 20 (50%), servers: server-0"), "{t}");
    assert!(t.contains("shard 1/2: 2 combination(s), cost 20 (50%), servers: server-1"), "{t}");
    let out = sweeper().args(["plan"]).arg(&f).args(["--shards", "6"]).output().unwrap();
    assert!(text(&out).contains("shard(s) 4, 5 would run nothing"), "{}", text(&out));
    for (args, says) in [
        (vec!["--shard", "4/4", "--batch-id", "x"], "shards are numbered 0 to 3"),
        (vec!["--shard", "1/0", "--batch-id", "x"], "N is the number of shards, at least 1"),
        (vec!["--shard", "a/4", "--batch-id", "x"], "K must be a whole number"),
        (vec!["--shard", "1/4"], "needs --batch-id"),
        (vec!["--shard", "1/4", "--batch-id", "../up"], "--batch-id `../up`: a batch id names"),
    ] {
        let out = sweeper().arg("-c").arg(&f).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    let out = sweeper().args(["plan"]).arg(&f).args(["--shards", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --dry-run --shard shows that shard's commands, in its directory.
    let out = sweeper()
        .arg("-c")
        .arg(&f)
        .args(["--dry-run", "--shard", "1/2", "--batch-id", "B7"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("shard 1/2:") && t.contains("/B7/shards/1/concurrency1_server.max_num_seqs8"),
        "{t}"
    );
    assert!(!t.contains("shards/1/concurrency1_server.max_num_seqs4"), "{t}");
}

/// The jobs for Slurm and Kubernetes: no API key in them (grep), the expected structure, and
/// the Kubernetes objects valid for a current Kubernetes (`kubernetes-validate --strict`).
#[test]
fn exported_jobs_hold_no_secret_and_kubernetes_validates_them() {
    let tmp = tempfile::tempdir().unwrap();
    let f = common::config::write(
        tmp.path(),
        "c.yaml",
        "batch_name: gpu_sweep\nbase_config:\n  model: m\n  url: http://inference.example:8000\n  api_key_env_var: SWEEPER_TEST_KEY\n  request_count: 10\nsweeps:\n  concurrency: [1, 2, 4, 8]\n",
    );
    let key = "sk-live-0123456789abcdefSECRET";
    let slurm = tmp.path().join("job.sbatch");
    let out = sweeper()
        .args(["export", "slurm"])
        .arg(&f)
        .args([
            "--shards",
            "4",
            "--partition",
            "gpu",
            "--gpus-per-task",
            "1",
            "--time",
            "02:00:00",
            "-o",
        ])
        .arg(&slurm)
        .env("SWEEPER_TEST_KEY", key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = std::fs::read_to_string(&slurm).unwrap();
    for want in [
        "#SBATCH --array=0-3",
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --time=02:00:00",
        "#SBATCH --export=ALL",
        "--shard \"$SLURM_ARRAY_TASK_ID/4\" --batch-id \"$SLURM_ARRAY_JOB_ID\"",
        "--dependency=afterany:",
        "export SWEEPER_TEST_KEY before submitting",
    ] {
        assert!(s.contains(want), "missing `{want}`:\n{s}");
    }
    assert!(!s.contains(key) && !s.contains("0123456789abcdef"), "the key leaked:\n{s}");
    let bad = sweeper()
        .args(["export", "slurm"])
        .arg(&f)
        .args(["--shards", "2", "--partition", "gpu;rm -rf /"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let yaml = tmp.path().join("job.yaml");
    let out = sweeper()
        .args(["export", "k8s"])
        .arg(&f)
        .args([
            "--shards",
            "4",
            "--image",
            "registry.example/sweeper:0.1",
            "--gpus",
            "2",
            "--pvc",
            "bench-results",
            "--pvc-size",
            "20Gi",
            "--namespace",
            "perf",
            "--batch-id",
            "20261202_0800",
            "-o",
        ])
        .arg(&yaml)
        .env("SWEEPER_TEST_KEY", key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let y = std::fs::read_to_string(&yaml).unwrap();
    assert!(!y.contains(key) && !y.contains("0123456789abcdef"), "the key leaked:\n{y}");
    for want in [
        "kind: ConfigMap",
        "kind: Job",
        "kind: PersistentVolumeClaim",
        "completionMode: Indexed",
        "completions: 4",
        "parallelism: 4",
        "restartPolicy: Never",
        "JOB_COMPLETION_INDEX",
        "nvidia.com/gpu: \"2\"",
        "claimName: bench-results",
        "secretKeyRef:",
        "name: sweeper-api-keys",
        "key: SWEEPER_TEST_KEY",
        "namespace: perf",
        "--batch-id 20261202_0800",
    ] {
        assert!(y.contains(want), "missing `{want}`:\n{y}");
    }
    // kubernetes-validate (PyPI), in its own folder under target/, run by the managed venv's
    // Python: every object is valid, strictly (no unknown field), for its default Kubernetes.
    let (python, site) =
        python_with("kubernetes_validate", "kubernetes-validate", "py-kubernetes-validate");
    let out = std::process::Command::new(&python)
        .args(["-m", "kubernetes_validate", "--strict"])
        .arg(&yaml)
        .env("PYTHONPATH", &site)
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(t.matches("INFO").count(), 4, "4 objects valid: {t}");
    // A broken object is caught by the same check (the validator is really checking).
    let broken = tmp.path().join("broken.yaml");
    std::fs::write(
        &broken,
        y.replacen("completionMode: Indexed", "completionMode: Indexed\n    completionz: 4", 1),
    )
    .unwrap();
    let out = std::process::Command::new(&python)
        .args(["-m", "kubernetes_validate", "--strict"])
        .arg(&broken)
        .env("PYTHONPATH", &site)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
}

/// Shards and merge without a scheduler (shard batch dirs made by hand from the real records of
/// `slurm.rs` would need a cluster): a sharded batch's records, a merge's refusals.
#[test]
fn merge_refuses_what_cannot_be_one_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let make = |id: &str, k: usize, hash: &str| shard_dir(tmp.path(), id, k, hash);
    let s0 = make("A", 0, "aaaa");
    // One shard of two: refused, nothing written...
    let out = sweeper().args(["merge"]).arg(tmp.path().join("b/A")).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("not every shard of") && t.contains("(shard(s) 1 missing): nothing was merged"),
        "{t}"
    );
    assert!(t.contains("sweeper merge --partial"), "{t}");
    assert!(!tmp.path().join("b/A/plan.json").exists());
    // ... unless --partial: exit 1, the missing shard's combination not run.
    let out = sweeper().args(["merge", "--partial"]).arg(tmp.path().join("b/A")).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("merged 1 of 2 shard(s)") && t.contains("shard(s) 1 missing"), "{t}");
    let m = read_json(&tmp.path().join("b/A/batch_manifest.json"));
    assert_eq!(m["runs"][1]["reason"], "not run: shard 1 is missing");
    assert_eq!(m["runs"][1]["dir"], "shards/1/concurrency2");
    assert_eq!(m["finished"], false);
    let md = std::fs::read_to_string(tmp.path().join("b/A/report.md")).unwrap();
    assert!(md.contains("not run: shard 1 is missing") || md.contains("1 not run"), "{md}");
    // Merging again: the same files.
    let before = std::fs::read(tmp.path().join("b/A/plan.json")).unwrap();
    sweeper().args(["merge", "--partial"]).arg(tmp.path().join("b/A")).output().unwrap();
    assert_eq!(std::fs::read(tmp.path().join("b/A/plan.json")).unwrap(), before, "idempotent");
    // A merged batch is not resumed as a batch (its plan has no shard): the shard is.
    let cfg = common::config::write(
        tmp.path(),
        "c.yaml",
        "base_config: {model: m, url: 'http://127.0.0.1:9'}\nsweeps: {concurrency: [1, 2]}\n",
    );
    let out =
        sweeper().arg("-c").arg(&cfg).arg("--resume").arg(tmp.path().join("b/A")).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("it is a merge of shards") && t.contains("shards/<K> --shard K/N"), "{t}");
    assert_eq!(std::fs::read(tmp.path().join("b/A/plan.json")).unwrap(), before, "untouched");

    // Another config's shard: refused, nothing written.
    let s1 = make("A", 1, "bbbb");
    let out = sweeper().args(["merge", "--partial"]).arg(tmp.path().join("b/A")).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("ran different plans (plan hash bbbb vs aaaa)"), "{t}");
    assert_eq!(
        std::fs::read(tmp.path().join("b/A/plan.json")).unwrap(),
        before,
        "nothing overwritten"
    );
    std::fs::remove_dir_all(&s1).unwrap();

    // The same shard twice (a copy passed next to it, under another name): refused, its folder
    // does not hold the shard its name says.
    let copy = tmp.path().join("b/A/shards/9");
    copy_dir(&s0, &copy);
    let out = sweeper().args(["merge", "--partial"]).arg(&s0).arg(&copy).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("shards/9` holds shard 0, but its folder is named `9`"), "{t}");
    std::fs::remove_dir_all(&copy).unwrap();
    // Shards of two batch ids.
    let other = make("B", 1, "aaaa");
    let out = sweeper().args(["merge", "--partial"]).arg(&s0).arg(&other).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("do not belong to one batch directory"), "{}", text(&out));
    // Not a batch of shards at all.
    let out = sweeper().args(["merge"]).arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = Path::new("");
}
