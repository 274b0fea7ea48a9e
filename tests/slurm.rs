//! A sharded sweep on a real Slurm cluster: Debian's `slurm-wlm` and `munge` on this machine
//! (`scripts/slurm-local.sh` installs them when missing and starts `munged`, `slurmctld` and
//! `slurmd` with a generated one-node `slurm.conf` in a temp dir), the job `sweeper export slurm`
//! writes, submitted as a user would (`bash job.sh`: the array, then the dependent merge), with
//! the real aiperf against the mock server. The merged batch has every combination of the plan
//! exactly once, and lists what a single-machine run of the same config lists. The daemons are
//! stopped at the end, also when the test fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Stops the cluster when dropped.
struct Cluster {
    state: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/slurm-local.sh"))
            .arg("stop")
            .arg(&self.state)
            .output();
    }
}

/// `summary.csv` rows as (parameters, load, status): what a batch lists, without measurements.
fn listing(batch: &Path) -> Vec<String> {
    let mut rd = csv::Reader::from_path(batch.join("summary.csv")).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap_or_else(|| panic!("{n}"));
    let mut rows: Vec<String> = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            ["index", "status", "concurrency", "server.max_num_seqs", "isl", "osl", "num_prompts"]
                .iter()
                .map(|c| r[col(c)].to_owned())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_sharded_sweep_runs_on_slurm_and_merges_into_one_batch() {
    let _ = managed_aiperf();
    let tmp = tempfile::tempdir().unwrap();
    // munged runs as user munge, with its state in ours: it must be able to reach it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state = tmp.path().join("slurm");
    let out = Command::new("bash")
        .arg(root().join("scripts/slurm-local.sh"))
        .arg("start")
        .arg(&state)
        .output()
        .unwrap();
    let cluster = Cluster { state: state.clone() };
    assert!(out.status.success(), "the Slurm cluster did not start:\n{}", text(&out));
    let conf = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("export SLURM_CONF=").map(str::to_owned))
        .expect("slurm-local.sh prints SLURM_CONF");
    // The cluster's munged keeps its log, pid file and socket in the cluster's state, not in
    // the machine's /var/log/munge and /run/munge, and runs as its usual user.
    let munge = state.join("munge");
    assert!(munge.join("munged.log").is_file() && munge.join("munge.socket").exists());
    let pid = std::fs::read_to_string(munge.join("munged.pid")).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let uid =
        status.lines().find_map(|l| l.strip_prefix("Uid:")).unwrap().split_whitespace().next();
    let munge_uid = Command::new("id").args(["-u", "munge"]).output().unwrap();
    assert_eq!(
        uid,
        Some(String::from_utf8_lossy(&munge_uid.stdout).trim()),
        "munged runs as munge"
    );

    let cfg = common::config::MockSweep::new("slurm_sweep")
        .output(Path::new("out"))
        .base(&["request_count: 6", "isl: 16", "osl: 4"])
        .rest("sweeps:\n  server.max_num_seqs: [4, 8]\n  concurrency: [1, 2]\n")
        .write(tmp.path(), "sweep.yaml");
    let job = tmp.path().join("job.sh");
    let out = sweeper()
        .args(["export", "slurm", "sweep.yaml", "--shards", "4", "--time", "00:20:00", "--sweeper"])
        .arg(env!("CARGO_BIN_EXE_sweeper"))
        .arg("-o")
        .arg(&job)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Submitted as a user would: `bash job.sh` (the array, then the merge after it).
    let out = Command::new("bash")
        .arg(&job)
        .current_dir(tmp.path())
        .env("SLURM_CONF", &conf)
        .env("PATH", format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default()))
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "submission failed:\n{t}");
    let array: String = t
        .split("shards in job ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no job id in: {t}"))
        .to_owned();
    // Wait for the array and the merge to leave the queue.
    let start = Instant::now();
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-o", "%i %T"])
            .env("SLURM_CONF", &conf)
            .output()
            .unwrap();
        let queue = String::from_utf8_lossy(&q.stdout).trim().to_owned();
        if q.status.success() && queue.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "jobs still queued after 15 min:\n{queue}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let logs: String = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".out"))
        .map(|e| {
            format!(
                "== {}\n{}",
                e.path().display(),
                std::fs::read_to_string(e.path()).unwrap_or_default()
            )
        })
        .collect();
    let batch = tmp.path().join("out/slurm_sweep").join(&array);
    for k in 0..4 {
        assert!(
            batch.join(format!("shards/{k}/batch_manifest.json")).is_file(),
            "shard {k} missing\n{logs}"
        );
    }
    assert!(logs.contains("merged 4 of 4 shard(s)"), "the merge job did not merge:\n{logs}");

    // Every combination of the plan exactly once, each run by its shard, all succeeded.
    let plan = read_json(&batch.join("plan.json"));
    let manifest = read_json(&batch.join("batch_manifest.json"));
    let runs = manifest["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "{manifest}");
    let mut indices: Vec<u64> = runs.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    indices.sort_unstable();
    assert_eq!(indices, [0, 1, 2, 3]);
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{manifest}\n{logs}");
    assert_eq!(manifest["finished"], true);
    assert_eq!(plan["combinations"].as_array().unwrap().len(), 4);
    assert!(plan.get("shard").is_none());
    let md = std::fs::read_to_string(batch.join("report.md")).unwrap();
    assert!(md.contains("4 combinations: 4 succeeded"), "{md}");

    // The same config on one machine lists the same combinations.
    let out = sweeper().arg("-c").arg(&cfg).current_dir(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let single = std::fs::read_dir(tmp.path().join("out/slurm_sweep"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().len() == 15)
        .expect("the single-machine batch");
    assert_eq!(listing(&batch), listing(&single));
    drop(cluster);
}
