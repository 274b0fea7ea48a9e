//! What `--resume` checks and repairs of a batch before reopening it: the plan and manifest
//! against the config's plan and the shard, the statuses taken from each run's records, and
//! the temp files a killed session left.

use std::path::{Path, PathBuf};

use super::batch::BatchError;
use crate::plan::Plan;
use crate::records::{self, BatchManifest, PlanRecord, ProcessResult, RunStatus};

/// Removes the temp files of atomic writes (`.<name>.tmp.<pid>`) that a killed session left in
/// the batch directory and its run directories, and its empty spare run directory.
pub(super) fn remove_stale_temp_files(dir: &Path) {
    let is_temp = |name: &str| {
        name.starts_with('.')
            && name
                .rsplit_once(".tmp.")
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
    };
    // The batch dir, run dirs, and interleaved repeats' `<point>/repeat_<k>`.
    let subdirs = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect()
    };
    let mut dirs = vec![dir.to_path_buf()];
    for d in subdirs(dir) {
        dirs.extend(subdirs(&d).into_iter().filter(|r| {
            r.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("repeat_"))
        }));
        dirs.push(d);
    }
    for d in dirs {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if !e.file_name().to_str().is_some_and(is_temp) {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_file() => drop(std::fs::remove_file(e.path())),
                // The spare run directory (`records::reserve`): removed only when empty.
                Ok(t) if t.is_dir() => drop(std::fs::remove_dir(e.path())),
                _ => {}
            }
        }
    }
}

/// What differs between the plan a batch was started with and the one given now, if anything.
pub(super) fn plan_difference(old: &PlanRecord, plan: &Plan) -> Option<String> {
    if let Some(what) = search_difference(old.load_search.as_ref(), plan.load_search.as_ref()) {
        return Some(what);
    }
    let planned = old.combinations.iter().filter(|c| c.probe.is_none()).count();
    let (then, now) = (planned, plan.combinations.len());
    if let (Some(a), Some(b)) = (&old.load_search, &plan.load_search)
        && a.groups
            .iter()
            .map(|g| (&g.params, &g.server_id))
            .ne(b.groups.iter().map(|g| (&g.params, &g.server_id)))
    {
        return Some("the groups of the load search changed".into());
    }
    if then != now {
        return Some(format!("{now} combinations now, {then} then"));
    }
    for (a, b) in old.combinations.iter().filter(|c| c.probe.is_none()).zip(&plan.combinations) {
        if a.index != b.index || a.dir != b.dir {
            return Some(format!(
                "combination #{} is `{}` now, it was #{} `{}`",
                b.index, b.dir, a.index, a.dir
            ));
        }
        if a.merged != b.merged {
            return Some(format!("the settings of combination #{} `{}` changed", b.index, b.dir));
        }
    }
    None
}

/// How the load search (`stop_when`, `search`) differs: its SLO decides which runs happen,
/// so a changed SLO is a changed plan (old and new probes would mix).
fn search_difference(
    old: Option<&records::LoadSearch>,
    new: Option<&records::LoadSearch>,
) -> Option<String> {
    let slo = |l: &records::LoadSearch| {
        let b: Vec<String> = l.slo.iter().map(|(k, v)| format!("{k} <= {v}")).collect();
        format!("{} on the {:?}", b.join(", "), l.slo_on).to_lowercase()
    };
    match (old, new) {
        (None, None) => None,
        (Some(_), None) => Some("the config has no load search now (`search`/`stop_when`)".into()),
        (None, Some(_)) => Some("the config has a load search now (`search`/`stop_when`)".into()),
        (Some(a), Some(b)) if a.slo != b.slo || a.slo_on != b.slo_on => {
            Some(format!("the load search's SLO changed: {} then, {} now", slo(a), slo(b)))
        }
        (Some(a), Some(b)) if a.variable != b.variable || a.mode != b.mode => Some(format!(
            "the load search changed: {} {:?} then, {} {:?} now",
            a.variable, a.mode, b.variable, b.mode
        )),
        _ => None,
    }
}

/// Each entry's status as the run's `process_result.json` says (the manifest may lag a
/// `kill -9`); a success counts only with usable results (the reports judge the same way).
pub(super) fn statuses_from_disk(
    dir: &Path,
    manifest: &mut BatchManifest,
    artifacts: super::decide::ArtifactCheck,
) {
    for entry in &mut manifest.runs {
        let run_dir = dir.join(&entry.dir);
        let pr: Option<ProcessResult> =
            records::read_json(&run_dir.join(records::PROCESS_RESULT_FILE)).ok();
        entry.status = match pr {
            // A success counts only with usable results (the reports judge the same way).
            Some(p) if p.status.is_success() => match artifacts(&run_dir, profile_runs(&run_dir)) {
                super::decide::Artifacts::Complete { .. } => p.status,
                super::decide::Artifacts::Incomplete(why) => {
                    entry.reason = Some(format!("results unusable: {why}"));
                    RunStatus::Pending
                }
            },
            Some(p) => {
                entry.reason = p.reason;
                p.status
            }
            None => RunStatus::Pending,
        };
    }
}

/// The `num_profile_runs` a finished run was started with (its `run_metadata.json`; a search's
/// probes are not in the plan).
fn profile_runs(run_dir: &Path) -> Option<u64> {
    let meta: records::RunMetadata =
        records::read_json(&run_dir.join(records::RUN_METADATA_FILE)).ok()?;
    crate::model::options::num_profile_runs(&meta.base_config)
}

/// A shard resumes as the shard it was (`--shard` may be left out, not changed).
pub(super) fn check_same_shard(
    dir: &Path,
    shard: Option<&crate::scaleout::shard::Shard>,
    old: Option<&records::ShardRecord>,
) -> Result<(), BatchError> {
    match (shard, old) {
        (Some(s), Some(o)) if (s.k, s.n) != (o.k, o.n) => {
            return Err(BatchError::ShardMismatch {
                dir: dir.to_path_buf(),
                shard: s.to_string(),
                what: format!("it is shard {}/{}", o.k, o.n),
            });
        }
        (Some(s), None) => {
            return Err(BatchError::ShardMismatch {
                dir: dir.to_path_buf(),
                shard: s.to_string(),
                what: "it is a whole batch, not a shard".into(),
            });
        }
        _ => {}
    }
    Ok(())
}

/// What differs between a manifest and the plan it should follow (same length, an entry per
/// index in order, the same directories), if anything.
pub(super) fn manifest_difference(
    m: &BatchManifest,
    plan: &Plan,
    record: &PlanRecord,
) -> Option<String> {
    // The plan's combinations (a shard's part of them), then a search's probes in the order
    // they were added.
    let expected: Vec<(usize, &str)> = plan
        .combinations
        .iter()
        .filter(|c| record.shard.as_ref().is_none_or(|s| s.runs(c.index)))
        .map(|c| (c.index, c.dir.as_str()))
        .chain(
            record
                .combinations
                .iter()
                .filter(|c| c.probe.is_some())
                .map(|c| (c.index, c.dir.as_str())),
        )
        .collect();
    let (have, want) = (m.runs.len(), expected.len());
    if have != want {
        return Some(format!("it lists {have} runs, the plan has {want} combinations"));
    }
    for (pos, (e, (index, dir))) in m.runs.iter().zip(expected).enumerate() {
        if e.index != index {
            return Some(format!(
                "entry {pos} is run #{}, the plan's combination {pos} is #{index}",
                e.index
            ));
        }
        if e.dir != dir {
            return Some(format!(
                "run #{} has directory `{}`, the plan says `{dir}`",
                e.index, e.dir
            ));
        }
    }
    None
}
