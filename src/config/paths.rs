//! aiperf options whose value is a local file or directory. As the NeMo runner does (it starts
//! aiperf where it was started), a relative path is resolved against the directory sweeper was
//! started from, is passed to aiperf as an absolute path (aiperf runs inside each combination's
//! directory), and a missing file is a config error before anything starts.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The `tokenizer` value that asks sweeper for its offline tokenizer (built once in the managed
/// venv from text that aiperf ships), for machines without a model hub.
pub const OFFLINE_TOKENIZER: &str = "@offline";

/// How an option's value is a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Always a path, which must exist.
    File,
    /// A path, or an identifier (`--tokenizer meta-llama/Llama-3.1-8B` is a model hub id): a
    /// path when it is written as one (`./x`, `../x`, `/x`, `~/x`) or names something that
    /// exists; only the written-as-a-path form must exist.
    FileOrName,
    /// A directory, or one of aiperf's keywords (`--image-source assets|noise`).
    DirOrKeyword(&'static [&'static str]),
    /// A path only when it ends like a file (`--gpu-telemetry custom.csv`); other values are
    /// aiperf's own words (`dcgm`, URLs).
    FileWithSuffix(&'static str),
    /// A directory aiperf creates when needed: made absolute, not checked.
    Dir,
}

/// Every aiperf 0.13 `profile` option that names a local path (from its help), by canonical key.
pub static PATH_OPTIONS: &[(&str, PathKind)] = &[
    ("input_file", PathKind::File),
    ("config", PathKind::File),
    ("tokenizer", PathKind::FileOrName),
    ("request_rate_series", PathKind::File),
    ("system_prompt_file", PathKind::File),
    ("image_source", PathKind::DirOrKeyword(&["assets", "noise"])),
    ("gpu_telemetry", PathKind::FileWithSuffix(".csv")),
    ("zmq_ipc_path", PathKind::Dir),
];

/// The path kind of a canonical aiperf key, if its value is a path.
pub fn path_kind(canonical_key: &str) -> Option<PathKind> {
    PATH_OPTIONS.iter().find(|(k, _)| *k == canonical_key).map(|(_, kind)| *kind)
}

fn written_as_path(s: &str) -> bool {
    s.starts_with("./") || s.starts_with("../") || s.starts_with('/') || s.starts_with("~/")
}

fn expand(base: &Path, s: &str) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    base.join(s)
}

/// The value to pass aiperf for `value` of an option of kind `kind`: absolute when it is a
/// path (resolved against `base`), unchanged otherwise. `exists` tells whether a path exists
/// (I/O is the caller's: config validation passes the filesystem, planning a cached answer).
pub fn resolve(
    kind: PathKind,
    base: &Path,
    value: &str,
    exists: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    if value.is_empty() || value == OFFLINE_TOKENIZER {
        return None;
    }
    let path = expand(base, value);
    match kind {
        PathKind::File | PathKind::Dir => Some(path),
        PathKind::FileOrName if written_as_path(value) || exists(&path) => Some(path),
        PathKind::FileOrName => None,
        PathKind::DirOrKeyword(words) if words.contains(&value.replace('_', "-").as_str()) => None,
        PathKind::DirOrKeyword(_) => Some(path),
        PathKind::FileWithSuffix(sfx) if value.ends_with(sfx) => Some(path),
        PathKind::FileWithSuffix(_) => None,
    }
}

/// Whether the value must exist (and so its absence is a config error).
pub fn must_exist(kind: PathKind, value: &str) -> bool {
    match kind {
        PathKind::Dir => false,
        PathKind::FileOrName => written_as_path(value),
        _ => true,
    }
}

/// A path option's value that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PathError {
    /// The file `value` names must exist, and `resolved` does not.
    #[error(
        "`{value}` does not exist (resolved against the directory sweeper was started from: `{}`)",
        resolved.display()
    )]
    Missing { value: String, resolved: PathBuf },
}

/// Checks one value of a path option.
pub fn check(kind: PathKind, base: &Path, value: &Value) -> Result<(), PathError> {
    let Value::String(s) = value else { return Ok(()) };
    let Some(path) = resolve(kind, base, s, |p| p.exists()) else { return Ok(()) };
    if must_exist(kind, s) && !path.exists() {
        return Err(PathError::Missing { value: s.clone(), resolved: path });
    }
    Ok(())
}

/// Every path value of a config (base_config, scenarios, sweeps): checked, and resolved to the
/// absolute path aiperf gets. `diag(pointer, message)` receives each missing one.
pub fn resolve_all(
    top: &serde_json::Map<String, Value>,
    base: &Path,
    mut diag: impl FnMut(String, String),
) -> std::collections::BTreeMap<String, PathBuf> {
    use super::locate::escape_segment;
    use crate::model::options::canonical;
    let mut out = std::collections::BTreeMap::new();
    let mut visit = |pointer: String, key: &str, v: &Value| {
        let Some(kind) = path_kind(&canonical(key)) else { return };
        if let Err(e) = check(kind, base, v) {
            diag(pointer, e.to_string());
        }
        if let Value::String(s) = v
            && let Some(p) = resolve(kind, base, s, |p| p.exists())
        {
            out.insert(s.clone(), p);
        }
    };
    if let Some(m) = top.get("base_config").and_then(Value::as_object) {
        for (k, v) in m {
            visit(format!("/base_config/{}", escape_segment(k)), k, v);
        }
    }
    for (i, sc) in top.get("scenarios").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        for (k, v) in sc.as_object().into_iter().flatten() {
            visit(format!("/scenarios/{i}/{}", escape_segment(k)), k, v);
        }
    }
    for (k, list) in top.get("sweeps").and_then(Value::as_object).into_iter().flatten() {
        for (i, v) in list.as_array().into_iter().flatten().enumerate() {
            visit(format!("/sweeps/{}/{i}", escape_segment(k)), k, v);
        }
    }
    out
}
