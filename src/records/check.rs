//! The checks every reader of a batch directory applies before trusting it (the same as
//! `--resume`): each run directory the records name is a plain relative path inside the batch,
//! reached without a symlink, and the manifest lists the plan's runs in order, with the plan's
//! directories. A tampered folder is refused (exit 2), never followed out of the batch.

use std::path::{Component, Path, PathBuf};

use super::{BatchManifest, PlanRecord};

/// Why a batch directory's records cannot be trusted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TamperError {
    #[error("run #{index} names the directory `{dir}`, which is not a plain path inside the batch")]
    Escapes { index: usize, dir: String },
    #[error("`{}` is a symlink: sweeper neither reads nor writes a batch through a symlink", path.display())]
    Symlink { path: PathBuf },
    #[error("its manifest does not match its plan.json: {what}")]
    Mismatch { what: String },
}

impl TamperError {
    pub fn hint(&self) -> String {
        match self {
            TamperError::Symlink { .. } => {
                "copy the folder into the batch instead of linking it".into()
            }
            _ => "the batch's records were edited or damaged: restore them (or rerun the batch)"
                .into(),
        }
    }
}

/// `dir` (a run directory as the records name it) is relative with plain parts only: no `..`,
/// no root, no `.`-tricks; the empty string is the batch directory itself.
pub fn plain(dir: &str) -> bool {
    Path::new(dir).components().all(|c| matches!(c, Component::Normal(_)))
}

/// `batch/dir`, when `dir` is plain and no part of the way from `batch` to it (that exists) is
/// a symlink: a path that cannot lead out of the batch.
pub fn confined(batch: &Path, index: usize, dir: &str) -> Result<PathBuf, TamperError> {
    if !plain(dir) {
        return Err(TamperError::Escapes { index, dir: dir.into() });
    }
    let mut at = batch.to_path_buf();
    for part in Path::new(dir).components() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(TamperError::Symlink { path: at });
        }
    }
    Ok(at)
}

/// The checks `--resume` applies, for a reader: every run directory confined to the batch, and
/// each run the manifest lists is the plan's run of that index, in the plan's directory. (A run
/// the plan has and the manifest lacks is allowed: a probe added just before a crash.)
pub fn check_batch(
    batch: &Path,
    plan: &PlanRecord,
    manifest: &BatchManifest,
) -> Result<(), TamperError> {
    let planned: std::collections::HashMap<usize, &str> =
        plan.combinations.iter().map(|c| (c.index, c.dir.as_str())).collect();
    for c in &plan.combinations {
        confined(batch, c.index, &c.dir)?;
    }
    for e in &manifest.runs {
        confined(batch, e.index, &e.dir)?;
        match planned.get(&e.index) {
            Some(dir) if *dir == e.dir => {}
            Some(dir) => {
                return Err(TamperError::Mismatch {
                    what: format!(
                        "run #{} has directory `{}`, the plan says `{dir}`",
                        e.index, e.dir
                    ),
                });
            }
            None => {
                return Err(TamperError::Mismatch {
                    what: format!("run #{} `{}` is not in the plan", e.index, e.dir),
                });
            }
        }
    }
    Ok(())
}
