//! The records a runner keeps of one run, as sweeper or the NeMo runner writes them:
//! `run_metadata.json` ([`Meta`]) and `process_result.json` ([`Process`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::records::ProcessResult;

/// Why a run's record could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum RecordError {
    /// The file could not be read (the message names it).
    #[error("{0}")]
    Read(std::io::Error),
    #[error("failed to parse `{path}` at line {line}, column {column}: {source}")]
    Parse { path: PathBuf, line: usize, column: usize, source: serde_json::Error },
    #[error("`{path}` is not a JSON object")]
    NotAnObject { path: PathBuf },
    /// sweeper's `process_result.json` with fields that do not fit.
    #[error("failed to read `{path}`: {source}")]
    Process { path: PathBuf, source: serde_json::Error },
    #[error("`{path}` has neither `status` nor `returncode`")]
    NoStatus { path: PathBuf },
}

/// `run_metadata.json` as sweeper or the NeMo runner writes it (the runner's has no
/// `format_version` and fewer fields): what reports need of it.
pub(super) struct Meta {
    pub(super) timestamp: Option<String>,
    pub(super) base_config: serde_json::Map<String, Value>,
    pub(super) sweep_params: Option<serde_json::Map<String, Value>>,
    /// `num_profile_runs` of sweeper's record's merged config, when set (None for a record
    /// that is not sweeper's: the NeMo runner's has no merged config).
    pub(super) profile_runs: Option<u64>,
}

/// `process_result.json`: sweeper's, or the NeMo runner's (`subprocess.CompletedProcess`'s
/// fields, written only when aiperf exited 0).
pub(super) enum Process {
    Sweeper(Box<ProcessResult>),
    Nemo { returncode: Option<i64> },
}

fn read_json_value(path: &Path) -> Result<Value, RecordError> {
    let text = fs_err::read_to_string(path).map_err(RecordError::Read)?;
    serde_json::from_str(&text).map_err(|e| RecordError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        source: e,
    })
}

pub(super) fn read_meta(path: &Path) -> Result<Meta, RecordError> {
    let v = read_json_value(path)?;
    // Only sweeper's whole record is asked: the same answer as reading it as `RunMetadata`,
    // checked only when the merged config sets the count (rare) rather than for every run.
    let profile_runs = v
        .get("base_config")
        .and_then(Value::as_object)
        .and_then(crate::model::options::num_profile_runs)
        .filter(|_| <crate::records::RunMetadata as serde::Deserialize>::deserialize(&v).is_ok());
    let Value::Object(o) = v else {
        return Err(RecordError::NotAnObject { path: path.to_path_buf() });
    };
    Ok(Meta {
        profile_runs,
        timestamp: o.get("timestamp").and_then(Value::as_str).map(str::to_owned),
        base_config: o.get("base_config").and_then(Value::as_object).cloned().unwrap_or_default(),
        sweep_params: o.get("sweep_params").and_then(Value::as_object).cloned(),
    })
}

pub(super) fn read_process(path: &Path) -> Result<Process, RecordError> {
    let v = read_json_value(path)?;
    if v.get("status").is_some() {
        return serde_json::from_value(v)
            .map(|p| Process::Sweeper(Box::new(p)))
            .map_err(|source| RecordError::Process { path: path.to_path_buf(), source });
    }
    match v.get("returncode") {
        Some(r) => Ok(Process::Nemo { returncode: r.as_i64() }),
        None => Err(RecordError::NoStatus { path: path.to_path_buf() }),
    }
}
