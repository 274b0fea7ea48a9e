//! `sweeper export tt`: every run's tt-inference-server file in one flat folder, the way tt's
//! report workflow reads them (`workflow_logs/benchmarks_output/`), with the points tt would
//! collapse found before anything is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::results::{BatchResults, RunResult};
use crate::tt::names::Key;
use crate::tt::standard;

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TtExport {
    /// Files written (new or changed).
    pub written: Vec<PathBuf>,
    /// Files that already held the same bytes.
    pub unchanged: Vec<PathBuf>,
    /// The folders files went to (one, or one per `--split-by` value).
    pub folders: Vec<PathBuf>,
    /// Points with results that tt cannot represent: (index, point, why).
    pub skipped: Vec<(usize, String, String)>,
}

/// Why an export wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "{count} points would collide in tt-inference-server's report, which keeps one file per (isl, osl, max concurrency, n) and silently drops the others:\n{list}"
    )]
    Collisions { count: usize, list: String, differing: Vec<String>, split: Vec<String> },
    #[error("`--split-by {key}`: no combination of this batch has the parameter `{key}`")]
    UnknownSplitKey { key: String, keys: Vec<String> },
    #[error("`{}` exists and was not written by sweeper; not overwriting it", path.display())]
    Foreign { path: PathBuf },
    #[error("failed to write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

impl ExportError {
    /// What to try.
    pub fn hint(&self) -> Option<String> {
        match self {
            ExportError::Collisions { differing, split, .. } => Some(if differing.is_empty() {
                "these runs have the same parameters (a repeated point?): export them from separate batches".into()
            } else {
                let mut keys = split.clone();
                keys.extend(differing.iter().cloned());
                let flags: Vec<String> = keys.iter().map(|k| format!("--split-by {k}")).collect();
                format!(
                    "they differ in {}: add {} to write one folder per value (`<DIR>/{}=<value>/`) and point tt's report at one folder at a time",
                    differing.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
                    flags.join(" "),
                    differing[0]
                )
            }),
            ExportError::UnknownSplitKey { keys, .. } => Some(if keys.is_empty() {
                "this batch sweeps nothing: export without --split-by".into()
            } else {
                format!("split by one of the swept parameters: {}", keys.join(", "))
            }),
            ExportError::Foreign { .. } => {
                Some("export into another folder, or move that file away first".into())
            }
            ExportError::Write { .. } => {
                Some("check the folder's permissions and free space".into())
            }
        }
    }
}

/// A file to write: the run, its file name, its bytes.
type Planned<'a> = (&'a RunResult, String, Vec<u8>);

fn display(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn point_of(run: &RunResult) -> String {
    if run.params.is_empty() {
        return "-".into();
    }
    run.params.iter().map(|(k, v)| format!("{k}={}", display(v))).collect::<Vec<_>>().join(" ")
}

/// A folder name segment for `key=value`: characters that are not safe in a file name become `_`.
fn segment(key: &str, v: Option<&serde_json::Value>) -> String {
    let value = v.map_or_else(|| "none".to_owned(), display);
    format!("{key}={value}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.=+".contains(c) { c } else { '_' })
        .collect()
}

/// Writes every run's tt file of `results` into `to` (or `to/<key>=<value>/...` per
/// `split_by` key), named with `model_id`. Checks first, writes nothing on a problem: points
/// that would collide in tt (the same isl, osl, max concurrency and n in one folder), unknown
/// split keys, files in the way that sweeper did not write.
pub fn export(
    results: &BatchResults,
    to: &Path,
    model_id: &str,
    split_by: &[String],
) -> Result<TtExport, ExportError> {
    let mut out = TtExport::default();
    let swept: Vec<String> = {
        let mut k: Vec<String> =
            results.runs.iter().flat_map(|r| r.params.keys().cloned()).collect();
        k.sort();
        k.dedup();
        k
    };
    for key in split_by {
        if !swept.contains(key) {
            return Err(ExportError::UnknownSplitKey { key: key.clone(), keys: swept });
        }
    }
    // (folder, tt key) -> the runs that land there.
    let mut files: BTreeMap<(PathBuf, Key), Vec<Planned>> = BTreeMap::new();
    for run in results.runs.iter().filter(|r| r.metrics.is_some()) {
        if !run.status.is_success() {
            let why = format!("the run did not succeed ({:?})", run.status).to_lowercase();
            out.skipped.push((run.index, point_of(run), why.to_string()));
            continue;
        }
        let point = match standard::tt_point(run) {
            Ok(p) => p,
            Err(why) => {
                out.skipped.push((run.index, point_of(run), why.to_string()));
                continue;
            }
        };
        let Ok((name, rec)) = standard::tt_file(run, Some(model_id)) else { continue };
        let folder =
            split_by.iter().fold(to.to_path_buf(), |d, k| d.join(segment(k, run.params.get(k))));
        files.entry((folder, point.key)).or_default().push((run, name, standard::to_bytes(&rec)));
    }
    if let Some(e) = collisions(&files, to, &swept, split_by) {
        return Err(e);
    }
    let targets: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .flat_map(|((folder, _), runs)| {
            runs.into_iter().map(move |(_, name, bytes)| (folder.join(name), bytes))
        })
        .collect();
    write_files(targets, &mut out)?;
    Ok(out)
}

/// The points that would land on one tt file (the same folder and tt key), as an error that
/// lists them and the swept keys that tell them apart.
fn collisions(
    files: &BTreeMap<(PathBuf, Key), Vec<Planned>>,
    to: &Path,
    swept: &[String],
    split_by: &[String],
) -> Option<ExportError> {
    let collisions: Vec<_> = files.iter().filter(|(_, v)| v.len() > 1).collect();
    if collisions.is_empty() {
        return None;
    }
    let mut differing: Vec<String> = Vec::new();
    let mut list = String::new();
    for ((folder, key), runs) in &collisions {
        let shown = folder.strip_prefix(to).unwrap_or(folder);
        let at = if shown.as_os_str().is_empty() {
            String::new()
        } else {
            format!(" in {}/", shown.display())
        };
        list.push_str(&format!(
            "  {key}{at}: {}\n",
            runs.iter()
                .map(|(r, _, _)| format!("#{} {}", r.index, point_of(r)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for k in swept {
            let first = runs[0].0.params.get(k);
            if runs.iter().any(|(r, _, _)| r.params.get(k) != first) && !differing.contains(k) {
                differing.push(k.clone());
            }
        }
    }
    Some(ExportError::Collisions {
        count: collisions.iter().map(|(_, v)| v.len()).sum(),
        list: list.trim_end().to_owned(),
        differing,
        split: split_by.to_vec(),
    })
}

/// Writes the files (none if one in the way was not written by sweeper), keeping those whose
/// bytes are already there.
fn write_files(targets: Vec<(PathBuf, Vec<u8>)>, out: &mut TtExport) -> Result<(), ExportError> {
    for (path, _) in &targets {
        if path.exists() && !standard::written_by_sweeper(path) {
            return Err(ExportError::Foreign { path: path.clone() });
        }
    }
    for (path, bytes) in targets {
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if !out.folders.contains(&folder) {
            fs_err::create_dir_all(&folder)
                .map_err(|source| ExportError::Write { path: folder.clone(), source })?;
            out.folders.push(folder);
        }
        if std::fs::read(&path).is_ok_and(|old| old == bytes) {
            out.unchanged.push(path);
            continue;
        }
        crate::records::write_derived(&path, &bytes)
            .map_err(|source| ExportError::Write { path: path.clone(), source })?;
        out.written.push(path);
    }
    Ok(())
}
