//! `sweeper merge`: the shards of one batch (`<batch id>/shards/<K>/`, each a batch directory of
//! its own) into one batch directory: a plan and a manifest over every combination, and one set
//! of reports. Checks first, writes nothing on a problem: every shard ran the same plan (its
//! hash), no combination has results in two shards. Missing or unfinished shards are listed as
//! not run (a partial merge says so). Merging again rewrites the same files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::records::{
    self, BatchManifest, ManifestEntry, PlanRecord, PlannedCombination, Provenance,
};

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeOutcome {
    /// The batch directory written.
    pub batch_dir: PathBuf,
    pub shards: usize,
    /// Shards found (K), shards missing, shards not finished.
    pub found: Vec<usize>,
    pub missing: Vec<usize>,
    pub unfinished: Vec<usize>,
    /// Combinations in the merged batch, and those without a run (missing or unfinished
    /// shards, or not reached).
    pub combinations: usize,
    pub not_run: usize,
}

/// Why nothing was merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("`{}` holds no shards (no `{}/<K>/` with a plan.json)", dir.display(), records::SHARDS_DIR)]
    NoShards { dir: PathBuf },
    #[error("`{}` is not a shard of a batch: its plan.json has no `shard`", dir.display())]
    NotAShard { dir: PathBuf },
    #[error("failed to read `{}`: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("the shards do not belong to one batch directory: `{}` and `{}`", a.display(), b.display())]
    ManyBatches { a: PathBuf, b: PathBuf },
    #[error("`{}` and `{}` ran different plans ({what})", a.display(), b.display())]
    DifferentPlans { a: PathBuf, b: PathBuf, what: String },
    #[error("combination #{index} `{dir}` has results in two shards: `{}` and `{}`", a.display(), b.display())]
    Conflict { index: usize, dir: String, a: PathBuf, b: PathBuf },
    #[error("failed to write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("not every shard of `{}` is done ({what}): nothing was merged", dir.display())]
    Incomplete { dir: PathBuf, what: String },
    #[error("`{}` holds shard {k}, but its folder is named `{name}`", dir.display())]
    Renamed { dir: PathBuf, k: usize, name: String },
    #[error("refusing to merge `{}`: {source}", dir.display())]
    Tampered { dir: PathBuf, source: records::check::TamperError },
}

impl MergeError {
    pub fn hint(&self) -> String {
        match self {
            MergeError::NoShards { .. } | MergeError::NotAShard { .. } => {
                "pass the batch directory the shards share (`<output_base_dir>/<batch_name>/<batch id>`), or the shard directories".into()
            }
            MergeError::Read { .. } => "the shard's records are damaged: rerun that shard (`--resume` it)".into(),
            MergeError::ManyBatches { .. } => "merge the shards of one batch id at a time".into(),
            MergeError::DifferentPlans { .. } => {
                "every shard must run the same config with the same N: rerun the odd one with the batch's config (a copy is each shard's config.yaml)".into()
            }
            MergeError::Conflict { .. } => {
                "a shard was run twice (or copied): keep one of the two directories".into()
            }
            MergeError::Write { .. } => "check that the batch directory is writable".into(),
            MergeError::Renamed { k, .. } => format!(
                "a shard's folder is `shards/<K>/` as it was written: name it `{k}` again (the records inside point there)"
            ),
            MergeError::Tampered { source, .. } => source.hint(),
            MergeError::Incomplete { .. } => {
                "wait for them, or merge what is there with `sweeper merge --partial` (their combinations are listed as not run)".into()
            }
        }
    }
}

/// One shard as read from disk.
struct ShardDir {
    dir: PathBuf,
    plan: PlanRecord,
    shard: records::ShardRecord,
    manifest: Option<BatchManifest>,
}

fn read_shard(dir: &Path) -> Result<ShardDir, MergeError> {
    let path = dir.join(records::PLAN_FILE);
    let plan: PlanRecord = records::read_json(&path)
        .map_err(|e| MergeError::Read { path: path.clone(), message: e.to_string() })?;
    let Some(shard) = plan.shard.clone() else {
        return Err(MergeError::NotAShard { dir: dir.to_path_buf() });
    };
    let tampered = |source| MergeError::Tampered { dir: dir.to_path_buf(), source };
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(tampered(records::check::TamperError::Symlink { path: dir.to_path_buf() }));
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name != shard.k.to_string() {
        return Err(MergeError::Renamed { dir: dir.to_path_buf(), k: shard.k, name });
    }
    let mpath = dir.join(records::MANIFEST_FILE);
    let manifest = if mpath.exists() {
        Some(
            records::read_json(&mpath)
                .map_err(|e| MergeError::Read { path: mpath.clone(), message: e.to_string() })?,
        )
    } else {
        None
    };
    if let Some(m) = &manifest {
        records::check::check_batch(dir, &plan, m).map_err(tampered)?;
    }
    Ok(ShardDir { dir: dir.to_path_buf(), plan, shard, manifest })
}

/// The shard directories of `inputs` (a batch directory with `shards/`, or shard directories)
/// and the batch directory they share.
fn locate(inputs: &[PathBuf]) -> Result<(PathBuf, Vec<PathBuf>), MergeError> {
    if let [one] = inputs
        && one.join(records::SHARDS_DIR).is_dir()
    {
        let mut dirs: Vec<(usize, PathBuf)> = std::fs::read_dir(one.join(records::SHARDS_DIR))
            .map_err(|e| MergeError::Read { path: one.clone(), message: e.to_string() })?
            .flatten()
            .filter_map(|e| {
                let k: usize = e.file_name().to_str()?.parse().ok()?;
                e.path().join(records::PLAN_FILE).is_file().then(|| (k, e.path()))
            })
            .collect();
        dirs.sort();
        if dirs.is_empty() {
            return Err(MergeError::NoShards { dir: one.clone() });
        }
        return Ok((one.clone(), dirs.into_iter().map(|(_, d)| d).collect()));
    }
    let mut batch: Option<PathBuf> = None;
    for d in inputs {
        let parent = std::path::absolute(d)
            .ok()
            .and_then(|a| a.parent().and_then(Path::parent).map(Path::to_path_buf))
            .filter(|_| d.join(records::PLAN_FILE).is_file())
            .ok_or_else(|| MergeError::NoShards { dir: d.clone() })?;
        match &batch {
            Some(b) if *b != parent => {
                return Err(MergeError::ManyBatches { a: b.clone(), b: parent });
            }
            _ => batch = Some(parent),
        }
    }
    let batch = batch.ok_or_else(|| MergeError::NoShards { dir: PathBuf::from(".") })?;
    Ok((batch, inputs.to_vec()))
}

/// `shards/<K>/<dir>` (or `shards/<K>` for a single run).
fn in_shard(k: usize, dir: &str) -> String {
    if dir.is_empty() {
        format!("{}/{k}", records::SHARDS_DIR)
    } else {
        format!("{}/{k}/{dir}", records::SHARDS_DIR)
    }
}

/// Merges the shards of `inputs` into their batch directory. Missing or unfinished shards are
/// refused unless `partial` (then their combinations are listed as not run).
pub fn merge(inputs: &[PathBuf], partial: bool) -> Result<MergeOutcome, MergeError> {
    let (batch_dir, dirs) = locate(inputs)?;
    let shards: Vec<ShardDir> = dirs.iter().map(|d| read_shard(d)).collect::<Result<_, _>>()?;
    let by_k = index_shards(&shards)?;
    let first = &shards[0];
    let n = first.shard.n;
    let missing: Vec<usize> = (0..n).filter(|k| !by_k.contains_key(k)).collect();
    let unfinished: Vec<usize> = by_k
        .iter()
        .filter(|(_, s)| !s.manifest.as_ref().is_some_and(|m| m.finished && !m.interrupted))
        .map(|(k, _)| *k)
        .collect();
    if !partial && (!missing.is_empty() || !unfinished.is_empty()) {
        let mut what = Vec::new();
        if !missing.is_empty() {
            what.push(format!("shard(s) {} missing", list(&missing)));
        }
        if !unfinished.is_empty() {
            what.push(format!("shard(s) {} not finished", list(&unfinished)));
        }
        return Err(MergeError::Incomplete { dir: batch_dir, what: what.join(", ") });
    }
    check_conflicts(&by_k, first, &batch_dir)?;
    let (combos, entries) = merged_runs(&by_k, first);
    let not_run = entries.iter().filter(|e| !e.status.is_success()).count();
    let plan = PlanRecord { combinations: combos, shard: None, ..first.plan.clone() };
    let manifest =
        merged_manifest(&by_k, first, entries, missing.is_empty() && unfinished.is_empty());
    let prov = merged_provenance(&by_k);
    write_merged(&batch_dir, first, &plan, &manifest, &prov)?;
    Ok(MergeOutcome {
        batch_dir,
        shards: n,
        found: by_k.keys().copied().collect(),
        missing,
        unfinished,
        combinations: manifest.runs.len(),
        not_run,
    })
}

fn list(v: &[usize]) -> String {
    v.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")
}

/// The shards by K, once each checked to have run the same plan (its hash), with the same N and
/// batch id as the first, and each K found once.
fn index_shards(shards: &[ShardDir]) -> Result<BTreeMap<usize, &ShardDir>, MergeError> {
    let first = &shards[0];
    let mut by_k: BTreeMap<usize, &ShardDir> = BTreeMap::new();
    for s in shards {
        let what = if s.plan.plan_hash != first.plan.plan_hash {
            Some(format!(
                "plan hash {} vs {}",
                s.plan.plan_hash.as_deref().unwrap_or("none"),
                first.plan.plan_hash.as_deref().unwrap_or("none")
            ))
        } else if s.shard.n != first.shard.n {
            Some(format!("{} shards vs {}", s.shard.n, first.shard.n))
        } else if s.shard.batch_id != first.shard.batch_id {
            Some(format!("batch id `{}` vs `{}`", s.shard.batch_id, first.shard.batch_id))
        } else {
            None
        };
        if let Some(what) = what {
            return Err(MergeError::DifferentPlans {
                a: first.dir.clone(),
                b: s.dir.clone(),
                what,
            });
        }
        if let Some(other) = by_k.insert(s.shard.k, s) {
            return Err(MergeError::Conflict {
                index: s.shard.k,
                dir: format!("shard {}", s.shard.k),
                a: other.dir.clone(),
                b: s.dir.clone(),
            });
        }
    }
    Ok(by_k)
}

/// A combination with results in two shards, or in a shard that was not to run it: the same
/// combination run twice.
fn check_conflicts(
    by_k: &BTreeMap<usize, &ShardDir>,
    first: &ShardDir,
    batch_dir: &Path,
) -> Result<(), MergeError> {
    let mut seen: BTreeMap<usize, PathBuf> = BTreeMap::new();
    for (k, s) in by_k {
        let probes: HashMap<usize, records::Probe> =
            s.plan.combinations.iter().filter_map(|c| Some((c.index, c.probe?))).collect();
        for e in s.manifest.iter().flat_map(|m| &m.runs) {
            if !e.status.is_success() {
                continue;
            }
            let owner = match probes.get(&e.index) {
                Some(p) => first.shard.shard_of_group(p.group),
                None => first.shard.shard_of(e.index),
            }
            .unwrap_or(*k);
            let dir = s.dir.join(&e.dir);
            let other = match seen.insert(e.index, dir.clone()) {
                Some(other) => other,
                None if owner != *k => batch_dir.join(in_shard(owner, &e.dir)),
                None => continue,
            };
            return Err(MergeError::Conflict {
                index: e.index,
                dir: e.dir.clone(),
                a: other,
                b: dir,
            });
        }
    }
    Ok(())
}

/// Every combination of the plan (in the shard that ran it, or was to run it), then every
/// probe of every shard's searches, each with its manifest entry (pending with why, if none).
fn merged_runs(
    by_k: &BTreeMap<usize, &ShardDir>,
    first: &ShardDir,
) -> (Vec<PlannedCombination>, Vec<ManifestEntry>) {
    // Each shard's manifest entries by index (read once).
    let runs_of: BTreeMap<usize, HashMap<usize, &ManifestEntry>> = by_k
        .iter()
        .map(|(k, s)| (*k, s.manifest.iter().flat_map(|m| &m.runs).map(|e| (e.index, e)).collect()))
        .collect();
    let entry_in = |k: usize, index: usize| runs_of.get(&k).and_then(|m| m.get(&index)).copied();
    let mut combos: Vec<PlannedCombination> = Vec::new();
    let mut entries: Vec<ManifestEntry> = Vec::new();
    for c in first.plan.combinations.iter().filter(|c| c.probe.is_none()) {
        let k = first.shard.shard_of(c.index).unwrap_or(0);
        let mut mc = c.clone();
        mc.dir = in_shard(k, &c.dir);
        let why = if by_k.contains_key(&k) {
            format!("not run: shard {k} did not get to it")
        } else {
            format!("not run: shard {k} is missing")
        };
        entries.push(match entry_in(k, c.index) {
            Some(e) => ManifestEntry { dir: mc.dir.clone(), ..e.clone() },
            None => ManifestEntry::pending(c.index, &mc.dir, &c.params, Some(why)),
        });
        combos.push(mc);
    }
    for (k, s) in by_k {
        for c in s.plan.combinations.iter().filter(|c| c.probe.is_some()) {
            let mut mc = c.clone();
            mc.dir = in_shard(*k, &c.dir);
            entries.push(match entry_in(*k, c.index) {
                Some(e) => ManifestEntry { dir: mc.dir.clone(), ..e.clone() },
                None => ManifestEntry::pending(c.index, &mc.dir, &c.params, None),
            });
            combos.push(mc);
        }
    }
    (combos, entries)
}

/// The batch's manifest over the shards' manifests: the earliest start, the latest update.
fn merged_manifest(
    by_k: &BTreeMap<usize, &ShardDir>,
    first: &ShardDir,
    runs: Vec<ManifestEntry>,
    finished: bool,
) -> BatchManifest {
    let manifests: Vec<&BatchManifest> =
        by_k.values().filter_map(|s| s.manifest.as_ref()).collect();
    BatchManifest {
        format_version: records::FORMAT_VERSION,
        batch_name: first.plan.batch_name.clone(),
        config_file: first.plan.config_file.clone(),
        started_at: manifests.iter().map(|m| m.started_at.clone()).min().unwrap_or_default(),
        updated_at: manifests.iter().map(|m| m.updated_at.clone()).max().unwrap_or_default(),
        finished,
        interrupted: manifests.iter().any(|m| m.interrupted),
        sweeper_version: manifests.first().map(|m| m.sweeper_version.clone()).unwrap_or_default(),
        aiperf_version: manifests.first().map(|m| m.aiperf_version.clone()).unwrap_or_default(),
        runs,
    }
}

/// Provenance: the hosts of every shard; each shard's servers under `<id> (shard K)`.
fn merged_provenance(by_k: &BTreeMap<usize, &ShardDir>) -> Provenance {
    let mut prov = Provenance { format_version: records::FORMAT_VERSION, ..Provenance::default() };
    for (k, s) in by_k {
        let Ok(p) = records::read_json::<Provenance>(&s.dir.join(records::PROVENANCE_FILE)) else {
            continue;
        };
        if prov.aiperf_version.is_empty() {
            prov.aiperf_version = p.aiperf_version.clone();
            prov.sweeper_version = p.sweeper_version.clone();
        } else if prov.aiperf_version != p.aiperf_version {
            prov.notes.push(format!(
                "shard {k} ran aiperf {} (shard {} ran {})",
                p.aiperf_version,
                by_k.keys().next().unwrap_or(&0),
                prov.aiperf_version
            ));
        }
        for h in p.hosts {
            if !prov.hosts.contains(&h) {
                prov.hosts.push(h);
            }
        }
        for (id, sid) in p.servers {
            prov.servers.insert(format!("{id} (shard {k})"), sid);
        }
        prov.notes.extend(p.notes.into_iter().map(|n| format!("shard {k}: {n}")));
    }
    prov
}

/// Writes the merged records (last, once everything checked out), and the config's copy.
fn write_merged(
    batch_dir: &Path,
    first: &ShardDir,
    plan: &PlanRecord,
    manifest: &BatchManifest,
    prov: &Provenance,
) -> Result<(), MergeError> {
    let write = |name: &str, r: std::io::Result<()>| {
        r.map_err(|source| MergeError::Write { path: batch_dir.join(name), source })
    };
    let at = |name: &str| batch_dir.join(name);
    write(records::PLAN_FILE, records::write_json_atomic(&at(records::PLAN_FILE), plan))?;
    write(
        records::MANIFEST_FILE,
        records::write_json_atomic(&at(records::MANIFEST_FILE), manifest),
    )?;
    write(
        records::PROVENANCE_FILE,
        records::write_json_atomic(&at(records::PROVENANCE_FILE), prov),
    )?;
    if let Ok(cfg) = std::fs::read(first.dir.join(records::CONFIG_COPY_FILE)) {
        write(
            records::CONFIG_COPY_FILE,
            records::write_atomic(&at(records::CONFIG_COPY_FILE), &cfg),
        )?;
    }
    Ok(())
}
