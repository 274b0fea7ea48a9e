//! Batch directories built the way the run stage writes them, out of real aiperf 0.13.0
//! artifacts (`tests/fixtures/aiperf/`), for the results and report tests.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sweeper::records::{
    self, BatchManifest, FORMAT_VERSION, ManifestEntry, Params, PlanRecord, PlannedCombination,
    ProcessResult, RepeatOrder, Repeats, RunMetadata, RunStatus, TargetCheck,
};

use super::copy_dir;

/// The real aiperf 0.13.0 artifacts, one directory per run.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aiperf");

/// The file `file` of fixture run `run`.
pub fn fixture(run: &str, file: &str) -> PathBuf {
    Path::new(FIXTURES).join(run).join(file)
}

/// One combination of a test batch.
pub struct Run {
    /// Fixture whose artifacts the run dir gets; `None` for a run that never started.
    pub fixture: Option<&'static str>,
    pub params: Vec<(&'static str, Value)>,
    pub status: RunStatus,
    pub reason: Option<&'static str>,
    pub targets: Vec<TargetCheck>,
    /// An interleaved repeat of its point (`<point dir>/repeat_<k>`).
    pub repeat: Option<u32>,
}

impl Run {
    /// A run that succeeded with `fixture`'s artifacts.
    pub fn ok(fixture: &'static str, params: Vec<(&'static str, Value)>) -> Run {
        Run {
            fixture: Some(fixture),
            params,
            status: RunStatus::Succeeded,
            reason: None,
            targets: vec![],
            repeat: None,
        }
    }

    /// A run that never started.
    pub fn pending(params: Vec<(&'static str, Value)>) -> Run {
        Run { fixture: None, status: RunStatus::Pending, ..Run::ok("", params) }
    }

    /// This run recorded with `status` and `reason`.
    pub fn with_status(mut self, status: RunStatus, reason: Option<&'static str>) -> Run {
        self.status = status;
        self.reason = reason;
        self
    }

    /// This run as repeat `k` of its point.
    pub fn repeat(mut self, k: u32) -> Run {
        self.repeat = Some(k);
        self
    }
}

/// The base config of a test batch's runs (each run's params override it).
pub const BASE: [(&str, &str); 6] = [
    ("model", "\"mock-model\""),
    ("tokenizer", "\"tokenizer/bpe4k\""),
    ("isl", "64"),
    ("osl", "16"),
    ("request_count", "20"),
    ("concurrency", "2"),
];

/// [`BASE`] as values.
pub fn base() -> Vec<(&'static str, Value)> {
    base_without(&[])
}

/// [`BASE`] as values, without the keys `without`.
pub fn base_without(without: &[&str]) -> Vec<(&'static str, Value)> {
    BASE.iter()
        .filter(|(k, _)| !without.contains(k))
        .map(|(k, v)| (*k, serde_json::from_str(v).unwrap()))
        .collect()
}

/// The batch `name` of `runs` with [`BASE`], written under `root` (see [`Batch::write`]).
pub fn make_batch(root: &Path, name: &str, runs: &[Run]) -> PathBuf {
    Batch::new(name).write(root, runs)
}

/// A test batch: its name, base config, tt model id and repeats in plan.json.
pub struct Batch {
    name: String,
    base: Vec<(&'static str, Value)>,
    tt_model_id: Option<String>,
    repeats: Option<Repeats>,
    cost: Option<serde_json::Map<String, Value>>,
}

impl Batch {
    /// A batch `name` with [`BASE`], no tt model id and no repeats.
    pub fn new(name: &str) -> Batch {
        Batch { name: name.into(), base: base(), tt_model_id: None, repeats: None, cost: None }
    }

    /// This base config instead of [`BASE`].
    pub fn base(mut self, base: Vec<(&'static str, Value)>) -> Batch {
        self.base = base;
        self
    }

    /// The config's `cost` section in plan.json.
    pub fn cost(mut self, cost: Value) -> Batch {
        self.cost = cost.as_object().cloned();
        self
    }

    /// tt's model id in plan.json.
    pub fn tt_model_id(mut self, id: &str) -> Batch {
        self.tt_model_id = Some(id.into());
        self
    }

    /// `count` repeats per point in `order` (95% confidence, noise above a CV of 5%).
    pub fn repeats(mut self, count: u32, order: RepeatOrder) -> Batch {
        self.repeats = Some(Repeats { count, order, confidence: 0.95, noise_cv_max: 0.05 });
        self
    }

    /// Writes plan.json, batch_manifest.json and, per started run, run_metadata.json,
    /// process_result.json and the fixture's artifacts, as the run stage does, into
    /// `<root>/<name>/20261122_140000/`.
    pub fn write(&self, root: &Path, runs: &[Run]) -> PathBuf {
        let (name, base) = (self.name.as_str(), &self.base);
        let (tt_model_id, repeats) = (self.tt_model_id.as_deref(), self.repeats);
        let mut points: Vec<String> = Vec::new();
        let batch = root.join(name).join("20261122_140000");
        std::fs::create_dir_all(&batch).unwrap();
        let mut combos = Vec::new();
        let mut entries = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            let params: Params = r.params.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            let dir = params
                .iter()
                .map(|(k, v)| {
                    format!("{k}{}", v.as_str().map(str::to_owned).unwrap_or(v.to_string()))
                })
                .collect::<Vec<_>>()
                .join("_");
            let point = match points.iter().position(|p| *p == dir) {
                Some(p) => p,
                None => {
                    points.push(dir.clone());
                    points.len() - 1
                }
            };
            let dir = match r.repeat {
                Some(k) if dir.is_empty() => format!("repeat_{k}"),
                Some(k) => format!("{dir}/repeat_{k}"),
                None => dir,
            };
            let mut merged = serde_json::Map::new();
            for (k, v) in base {
                merged.insert((*k).into(), v.clone());
            }
            for (k, v) in &params {
                merged.insert(k.clone(), v.clone());
            }
            combos.push(PlannedCombination {
                index: i,
                dir: dir.clone(),
                params: params.clone(),
                merged: merged.clone(),
                server_id: "s0".into(),
                argv: vec!["aiperf".into(), "profile".into()],
                targets: r.targets.clone(),
                repeat: r.repeat,
                point: r.repeat.map(|_| point),
                probe: None,
            });
            entries.push(ManifestEntry {
                index: i,
                dir: dir.clone(),
                params: params.clone(),
                status: r.status,
                reason: r.reason.map(str::to_owned),
                duration_s: Some(7.0),
            });
            let Some(fx) = r.fixture else { continue };
            let run_dir = batch.join(&dir);
            std::fs::create_dir_all(&run_dir).unwrap();
            copy_dir(&Path::new(FIXTURES).join(fx), &run_dir);
            records::write_json_atomic(
                &run_dir.join(records::RUN_METADATA_FILE),
                &RunMetadata {
                    format_version: FORMAT_VERSION,
                    run_index: i,
                    timestamp: "2026-11-22T14:00:47.123456".into(),
                    config_file: "sweep.yaml".into(),
                    sweep_params: Some(params.clone()),
                    base_config: merged,
                    command: "aiperf profile".into(),
                    batch_name: name.into(),
                    combination_dir: dir.clone(),
                    server_id: "s0".into(),
                    sweeper_version: "0.1.0".into(),
                    aiperf_version: "0.13.0".into(),
                },
            )
            .unwrap();
            if !matches!(r.status, RunStatus::Running) {
                records::write_json_atomic(
                    &run_dir.join(records::PROCESS_RESULT_FILE),
                    &ProcessResult {
                        format_version: FORMAT_VERSION,
                        args: vec!["aiperf".into()],
                        returncode: Some(if r.status.is_success() { 0 } else { 1 }),
                        stdout: None,
                        stderr: None,
                        status: r.status,
                        signal: None,
                        reason: r.reason.map(str::to_owned),
                        error_count: None,
                        started_at: "2026-11-22T14:00:47".into(),
                        ended_at: "2026-11-22T14:00:54".into(),
                        duration_s: 7.0,
                        server_id: "s0".into(),
                        sweeper_version: "0.1.0".into(),
                        aiperf_version: "0.13.0".into(),
                        log_tail: None,
                        conditions: None,
                    },
                )
                .unwrap();
            }
        }
        records::write_json_atomic(
            &batch.join(records::PLAN_FILE),
            &PlanRecord {
                format_version: FORMAT_VERSION,
                batch_name: name.into(),
                config_file: "sweep.yaml".into(),
                swept_keys: vec!["concurrency".into()],
                combinations: combos,
                tt_model_id: tt_model_id.map(str::to_owned),
                repeats,
                load_search: None,
                ab: None,
                cost: self.cost.clone(),
                plan_hash: None,
                shard: None,
            },
        )
        .unwrap();
        records::write_json_atomic(
            &batch.join(records::MANIFEST_FILE),
            &BatchManifest {
                format_version: FORMAT_VERSION,
                batch_name: name.into(),
                config_file: "sweep.yaml".into(),
                started_at: "2026-11-22T14:00:00".into(),
                updated_at: "2026-11-22T14:01:00".into(),
                finished: runs.iter().all(|r| r.fixture.is_some()),
                interrupted: false,
                sweeper_version: "0.1.0".into(),
                aiperf_version: "0.13.0".into(),
                runs: entries,
            },
        )
        .unwrap();
        batch
    }
}

/// A one-combination batch `<root>/batch` holding only plan.json (no run records) and the
/// fixture's files in its run dir `run0`, with the given params and merged config.
pub fn plan_only(root: &Path, fixture: &str, params: Value, merged: Value) -> PathBuf {
    let batch = root.join("batch");
    let dir = "run0";
    copy_dir(&Path::new(FIXTURES).join(fixture), &batch.join(dir));
    let plan = PlanRecord {
        format_version: FORMAT_VERSION,
        batch_name: "b".into(),
        config_file: "c.yaml".into(),
        swept_keys: vec![],
        combinations: vec![PlannedCombination {
            index: 0,
            dir: dir.into(),
            params: serde_json::from_value(params).unwrap(),
            merged: serde_json::from_value(merged).unwrap(),
            server_id: "s".into(),
            argv: vec![],
            targets: vec![],
            repeat: None,
            point: None,
            probe: None,
        }],
        tt_model_id: None,
        repeats: None,
        load_search: None,
        ab: None,
        cost: None,
        plan_hash: None,
        shard: None,
    };
    records::write_json_atomic(&batch.join(records::PLAN_FILE), &plan).unwrap();
    batch
}

/// A shard directory `<root>/b/<id>/shards/<k>/` of a two-combination plan (`concurrency` 1
/// and 2) with plan hash `hash`, written as the run stage writes one: its run failed, the
/// shard finished.
pub fn shard_dir(root: &Path, id: &str, k: usize, hash: &str) -> PathBuf {
    let dir = root.join(format!("b/{id}/shards/{k}"));
    std::fs::create_dir_all(&dir).unwrap();
    let plan = serde_json::json!({
        "format_version": 1, "batch_name": "b", "config_file": "c.yaml", "swept_keys": ["concurrency"],
        "combinations": [
            {"index": 0, "dir": "concurrency1", "params": {"concurrency": 1}, "merged": {}, "server_id": "server-0", "argv": []},
            {"index": 1, "dir": "concurrency2", "params": {"concurrency": 2}, "merged": {}, "server_id": "server-0", "argv": []}
        ],
        "plan_hash": hash,
        "shard": {"k": k, "n": 2, "batch_id": id, "combinations": [k], "groups": [], "assignment": [0, 1], "group_assignment": []}
    });
    std::fs::write(dir.join("plan.json"), plan.to_string()).unwrap();
    let manifest = serde_json::json!({
        "format_version": 1, "batch_name": "b", "config_file": "c.yaml", "started_at": "", "updated_at": "",
        "finished": true, "interrupted": false, "sweeper_version": "0", "aiperf_version": "0.13.0",
        "runs": [{"index": k, "dir": format!("concurrency{}", k + 1), "params": {"concurrency": k + 1}, "status": "failed", "reason": "x"}]
    });
    std::fs::write(dir.join("batch_manifest.json"), manifest.to_string()).unwrap();
    dir
}
