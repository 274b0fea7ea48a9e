//! A batch sweeper wrote: [`collect`] reads `plan.json` and `batch_manifest.json` (either may be
//! missing, not both) and every combination into [`BatchResults`]; `reload` re-reads one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::discover::discover;
use super::points::{Judge, merge_point, points_of, repeat_of_dir};
use super::run::{Entry, load_run};
use super::{ResultsError, RunResult};
use crate::records::{self, BatchManifest, PlanRecord};

/// A whole batch.
#[derive(Debug, Clone, Serialize)]
pub struct BatchResults {
    pub batch_dir: PathBuf,
    pub batch_name: String,
    /// Keys that vary across combinations, in sweep order.
    pub swept_keys: Vec<String>,
    /// True once sweeper finished the batch (from the manifest).
    pub finished: bool,
    pub interrupted: bool,
    pub runs: Vec<RunResult>,
    pub warnings: Vec<String>,
    /// tt-inference-server's model id the per-run result files are named with (plan.json).
    pub tt_model_id: Option<String>,
    /// Repeats of every point, as planned (plan.json).
    pub repeats: Option<records::Repeats>,
    /// `stop_when` or `search` (plan.json).
    pub load_search: Option<records::LoadSearch>,
    /// `ab`: the swept key whose values the batch compares (plan.json).
    pub ab: Option<records::Ab>,
    /// The config's `cost` section (plan.json); each run's `cost.*` params apply on top.
    pub cost: Option<serde_json::Map<String, serde_json::Value>>,
    /// How repeats are judged (from `repeats`, else defaults).
    #[serde(skip)]
    pub(super) judge: Judge,
    /// Where each combination's records are, for [`BatchResults::reload`].
    #[serde(skip)]
    pub(super) entries: Vec<Entry>,
}

impl BatchResults {
    /// The point (its result) that combination `index` measures: itself, or for an
    /// interleaved repeat, its point.
    pub fn run_of(&self, index: usize) -> Option<&RunResult> {
        let point = self
            .entries
            .iter()
            .find(|e| e.index == index)
            .map_or(index, |e| if e.repeat.is_some() { e.point } else { e.index });
        self.runs.iter().find(|r| r.index == point)
    }

    /// The combinations the results were read from (every repeat of a point, each probe).
    pub fn combination_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.iter().map(|e| e.index)
    }

    /// Reads combination `index` again from disk (after it ran), leaving the others as they are:
    /// what keeps re-rendering reports during a sweep from re-reading every run each time.
    pub fn reload(&mut self, index: usize) {
        let Some(pos) = self.entries.iter().position(|e| e.index == index) else { return };
        let e = &self.entries[pos];
        if e.repeat.is_some() {
            // An interleaved repeat: its point again, from all of its repeats.
            let point = e.point;
            let units: Vec<(u32, RunResult)> = self
                .entries
                .iter()
                .filter(|x| x.point == point && x.repeat.is_some())
                .map(|x| (x.repeat.unwrap_or(1), load_run(&self.batch_dir, x, None, &self.judge)))
                .collect();
            let fresh = merge_point(point, units, &self.judge);
            if let Some(r) = self.runs.iter_mut().find(|r| r.index == point) {
                *r = fresh;
            }
            return;
        }
        let fresh = load_run(&self.batch_dir, e, None, &self.judge);
        if let Some(r) = self.runs.iter_mut().find(|r| r.index == index) {
            *r = fresh;
        }
    }
}

/// A combination's directory as a record may name it: empty (the batch directory itself), one
/// plain name inside the batch directory, or an interleaved repeat's `<name>/repeat_<k>`; in a
/// merged batch, any of those under `shards/<K>/`.
/// Anything else (`../x`, `a/b`, `/abs`) would make sweeper read or write outside the batch
/// because a record says so.
pub fn is_safe_run_dir(dir: &str) -> bool {
    let plain = |d: &str| {
        !d.is_empty()
            && d != "."
            && d != ".."
            && !d.contains('/')
            && !d.contains('\\')
            && !d.contains('\0')
    };
    let repeat = |d: &str| {
        d.strip_prefix("repeat_")
            .is_some_and(|k| !k.is_empty() && k.len() < 6 && k.bytes().all(|b| b.is_ascii_digit()))
    };
    let numeric = |d: &str| !d.is_empty() && d.len() < 8 && d.bytes().all(|b| b.is_ascii_digit());
    let within = |dir: &str| match dir.split_once('/') {
        None => dir.is_empty() || plain(dir),
        Some((point, rep)) => plain(point) && repeat(rep),
    };
    // A merged batch names its runs inside the shards: `shards/<K>/<run dir>`.
    match dir.strip_prefix("shards/").and_then(|r| r.split_once('/').or(Some((r, "")))) {
        Some((k, rest)) if numeric(k) => within(rest),
        _ => within(dir),
    }
}

/// Loads `plan.json` and `batch_manifest.json` (either may be missing, not both) and every run.
pub fn collect(batch_dir: &Path) -> Result<BatchResults, ResultsError> {
    let mut warnings = Vec::new();
    let mut plan: Option<PlanRecord> =
        read_record(&batch_dir.join(records::PLAN_FILE), &mut warnings);
    let mut manifest: Option<BatchManifest> =
        read_record(&batch_dir.join(records::MANIFEST_FILE), &mut warnings);
    if plan.is_none() && manifest.is_none() {
        if warnings.is_empty() {
            return discover(batch_dir);
        }
        return Err(ResultsError::Unreadable {
            dir: batch_dir.to_path_buf(),
            reasons: warnings.join("; "),
        });
    }
    warnings.extend(newer_format_warnings(batch_dir, plan.as_ref(), manifest.as_ref()));
    let entries = own_part(plan.as_ref(), entries_of(plan.as_ref(), manifest.as_ref()));
    check_run_dirs(batch_dir, &entries)?;
    check_records(batch_dir, plan.as_ref(), manifest.as_ref(), &entries)?;
    // The records are checked and their combinations known: what is kept of them from here on
    // is the batch's settings and each run's manifest line, not every combination's merged
    // config and argv (a large plan.json would otherwise stay in memory beside its results).
    if let Some(p) = plan.as_mut() {
        p.combinations = Vec::new();
    }
    let manifest_runs = manifest.as_mut().map(|m| std::mem::take(&mut m.runs)).unwrap_or_default();
    let manifest_by_index: BTreeMap<usize, &records::ManifestEntry> =
        manifest_runs.iter().map(|r| (r.index, r)).collect();
    let repeats = plan.as_ref().and_then(|p| p.repeats);
    let judge = Judge::of(repeats.as_ref());
    let units: Vec<RunResult> = entries
        .iter()
        .map(|e| load_run(batch_dir, e, manifest_by_index.get(&e.index).copied(), &judge))
        .collect();
    let runs = points_of(&entries, units, &judge);
    Ok(BatchResults {
        batch_dir: batch_dir.to_path_buf(),
        batch_name: plan
            .as_ref()
            .map(|p| p.batch_name.clone())
            .or_else(|| manifest.as_ref().map(|m| m.batch_name.clone()))
            .unwrap_or_default(),
        swept_keys: plan.as_ref().map(|p| p.swept_keys.clone()).unwrap_or_default(),
        finished: manifest.as_ref().is_some_and(|m| m.finished),
        interrupted: manifest.as_ref().is_some_and(|m| m.interrupted),
        runs,
        warnings,
        tt_model_id: plan.as_ref().and_then(|p| p.tt_model_id.clone()),
        repeats,
        load_search: plan.as_ref().and_then(|p| p.load_search.clone()),
        ab: plan.as_ref().and_then(|p| p.ab.clone()),
        cost: plan.as_ref().and_then(|p| p.cost.clone()),
        judge,
        entries,
    })
}

/// A batch record when it exists; when it does not parse, `None` and why in `warnings`.
fn read_record<T: serde::de::DeserializeOwned>(
    path: &Path,
    warnings: &mut Vec<String>,
) -> Option<T> {
    if !path.exists() {
        return None;
    }
    records::read_json(path).map_err(|e| warnings.push(e.to_string())).ok()
}

/// A warning per record written by a newer sweeper (read anyway).
fn newer_format_warnings(
    batch_dir: &Path,
    plan: Option<&PlanRecord>,
    manifest: Option<&BatchManifest>,
) -> Vec<String> {
    plan.map(|p| p.format_version)
        .into_iter()
        .chain(manifest.map(|m| m.format_version))
        .filter(|v| *v > records::FORMAT_VERSION)
        .map(|v| {
            format!(
                "`{}` was written with format_version {v}, newer than this sweeper's {}; \
                 reading it anyway",
                batch_dir.display(),
                records::FORMAT_VERSION
            )
        })
        .collect()
}

/// Every combination: the plan's, else the manifest's.
fn entries_of(plan: Option<&PlanRecord>, manifest: Option<&BatchManifest>) -> Vec<Entry> {
    match (plan, manifest) {
        (Some(p), _) => p
            .combinations
            .iter()
            .map(|c| Entry {
                index: c.index,
                dir: c.dir.clone(),
                params: c.params.clone(),
                merged: super::point::looked_up(&c.merged),
                targets: c.targets.clone(),
                repeat: c.repeat,
                point: c.point.unwrap_or(c.index),
                probe: c.probe,
            })
            .collect(),
        (None, Some(m)) => manifest_entries(m),
        (None, None) => Vec::new(),
    }
}

/// The combinations of a manifest without its plan: interleaved repeats are known by their
/// directories (`<point>/repeat_<k>`), points numbered in order of first appearance.
fn manifest_entries(m: &BatchManifest) -> Vec<Entry> {
    let mut points: Vec<String> = Vec::new();
    m.runs
        .iter()
        .map(|r| {
            let (repeat, point_dir) = repeat_of_dir(&r.dir);
            let point = match points.iter().position(|d| *d == point_dir) {
                Some(p) => p,
                None => {
                    points.push(point_dir);
                    points.len() - 1
                }
            };
            Entry {
                repeat,
                point: if repeat.is_some() { point } else { r.index },
                ..Entry::single(r.index, r.dir.clone(), r.params.clone(), serde_json::Map::new())
            }
        })
        .collect()
}

/// A shard's plan.json holds the whole plan: its report is of its own part.
fn own_part(plan: Option<&PlanRecord>, entries: Vec<Entry>) -> Vec<Entry> {
    match plan.and_then(|p| p.shard.as_ref()) {
        Some(s) => entries
            .into_iter()
            .filter(|e| match e.probe {
                // A ladder's re-run is in the plan.json of the shard that ran it only.
                Some(p) => p.rerun > 0 || s.searches(p.group),
                None => s.runs(e.index),
            })
            .collect(),
        None => entries,
    }
}

/// Refuses a record naming a directory outside the batch (see [`is_safe_run_dir`]).
fn check_run_dirs(batch_dir: &Path, entries: &[Entry]) -> Result<(), ResultsError> {
    match entries.iter().find(|e| !is_safe_run_dir(&e.dir)) {
        Some(e) => Err(ResultsError::Tampered {
            dir: batch_dir.to_path_buf(),
            what: format!(
                "combination #{} has the directory `{}`, which is not one name inside the batch directory",
                e.index, e.dir
            ),
        }),
        None => Ok(()),
    }
}

/// The checks `--resume` applies: the manifest matches the plan, and nothing is read through a
/// symlink or out of the batch.
fn check_records(
    batch_dir: &Path,
    plan: Option<&PlanRecord>,
    manifest: Option<&BatchManifest>,
    entries: &[Entry],
) -> Result<(), ResultsError> {
    let tampered = |e: records::check::TamperError| ResultsError::Tampered {
        dir: batch_dir.to_path_buf(),
        what: e.to_string(),
    };
    if let (Some(p), Some(m)) = (plan, manifest) {
        records::check::check_batch(batch_dir, p, m).map_err(tampered)?;
    }
    for e in entries {
        records::check::confined(batch_dir, e.index, &e.dir).map_err(tampered)?;
    }
    Ok(())
}
