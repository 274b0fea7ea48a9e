//! tt-inference-server's `model_performance_reference.json`: one reader and one matching rule,
//! whether the file is named in a config (`targets.reference_file`) or given to
//! `sweeper report --targets-file`, so the same file gives the same verdicts both ways.
//!
//! The rule:
//! - the file is `{model: {device: [entry, ...]}}`; `model` (`targets.model`, `--model`) picks a
//!   model and must be given when the file holds more than one; `device` (`targets.device`,
//!   `--device`) likewise among the model's devices;
//! - entries whose `task_type` is set and is not `text` (VLM, audio...) are skipped;
//! - an entry applies to a combination when each of `isl`, `osl` and `max_concurrency` it sets
//!   equals the combination's, and `num_prompts` too when both have it;
//! - every tier of an applying entry counts (`theoretical`, `functional`...); its keys that name
//!   a target metric of [`crate::model::metrics`] are checks, other keys are ignored;
//! - tolerance: the tier's own `tolerance`, else the default (`targets.tolerance` or
//!   `--tolerance`, 0.05 unless set).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::metrics;
use crate::records::TargetCheck;

/// The default relative tolerance of a target without its own.
pub const DEFAULT_TOLERANCE: f64 = 0.05;

/// Why a reference file cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReferenceError {
    #[error("failed to read targets reference file `{path}`: {message}")]
    Read { path: PathBuf, message: String },
    #[error(
        "failed to parse targets reference file `{path}` at line {line}, column {column}: {message}"
    )]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
    #[error("targets reference file `{path}`: {message}")]
    Shape { path: PathBuf, message: String },
    #[error("targets reference file `{path}` has no {what} `{want}` (it has: {have})")]
    NoSuch { path: PathBuf, what: &'static str, want: String, have: String },
    #[error("targets reference file `{path}` holds {count} {what}s ({have}): pick one")]
    Ambiguous { path: PathBuf, what: &'static str, count: usize, have: String },
}

impl ReferenceError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            ReferenceError::Read { .. } => "check the path (relative to the config file)".into(),
            ReferenceError::Parse { .. } | ReferenceError::Shape { .. } => {
                "it must be shaped like tt-inference-server's model_performance_reference.json: \
                 {\"<model>\": {\"<device>\": [{\"isl\", \"osl\", \"max_concurrency\", \"targets\": \
                 {\"theoretical\": {\"ttft_ms\", \"tput_user\"}}}]}}"
                    .into()
            }
            ReferenceError::NoSuch { what, .. } | ReferenceError::Ambiguous { what, .. } => {
                format!("set `targets.{what}` in the config, or `--{what}` of `sweeper report`")
            }
        }
    }
}

/// One tier of an entry (`theoretical`, ...): its targets and tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub name: String,
    /// (target key, value), e.g. (`ttft_ms`, 38.0).
    pub targets: Vec<(String, f64)>,
    pub tolerance: Option<f64>,
}

/// One entry: a load point and its tiers.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub isl: Option<f64>,
    pub osl: Option<f64>,
    pub max_concurrency: Option<f64>,
    pub num_prompts: Option<f64>,
    pub tiers: Vec<Tier>,
}

/// The entries of one model and device of a reference file.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub path: PathBuf,
    pub model: String,
    pub device: String,
    pub entries: Vec<Entry>,
    /// Keys of tiers that are not target metrics sweeper measures (`rtr`, ...): ignored.
    pub ignored_keys: BTreeSet<String>,
}

/// The load point a combination is matched on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Point {
    pub isl: Option<f64>,
    pub osl: Option<f64>,
    pub concurrency: Option<f64>,
    pub num_prompts: Option<f64>,
}

/// Reads the entries of `model`/`device` of the reference file at `path`.
///
/// # Errors
/// When the file cannot be read or parsed, is not shaped like a reference file, or the model or
/// device is missing or ambiguous.
pub fn load(
    path: &Path,
    model: Option<&str>,
    device: Option<&str>,
) -> Result<Reference, ReferenceError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ReferenceError::Read { path: path.into(), message: e.to_string() })?;
    let root: Value = serde_json::from_str(&text).map_err(|e| ReferenceError::Parse {
        path: path.into(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let shape =
        |message: &str| ReferenceError::Shape { path: path.into(), message: message.into() };
    let models =
        root.as_object().ok_or_else(|| shape("the top level is not an object of models"))?;
    let (model, devices) = pick(path, models, model, "model")?;
    let devices =
        devices.as_object().ok_or_else(|| shape("a model's value is not an object of devices"))?;
    let (device, list) = pick(path, devices, device, "device")?;
    let list = list.as_array().ok_or_else(|| shape("a device's value is not a list of entries"))?;
    let mut reference = Reference {
        path: path.into(),
        model,
        device,
        entries: Vec::new(),
        ignored_keys: BTreeSet::new(),
    };
    let known = metrics::target_keys();
    for e in list {
        let task = e.get("task_type").and_then(Value::as_str);
        if task.is_some_and(|t| t != "text") {
            continue;
        }
        let Some(tiers) = e.get("targets").and_then(Value::as_object) else { continue };
        let num = |k: &str| e.get(k).and_then(Value::as_f64);
        let mut entry = Entry {
            isl: num("isl"),
            osl: num("osl"),
            max_concurrency: num("max_concurrency"),
            num_prompts: num("num_prompts"),
            tiers: Vec::new(),
        };
        for (name, t) in tiers {
            let Some(t) = t.as_object() else { continue };
            let mut tier = Tier { name: name.clone(), targets: Vec::new(), tolerance: None };
            for (k, v) in t {
                match (k.as_str(), v.as_f64()) {
                    ("tolerance", Some(x)) => tier.tolerance = Some(x),
                    (k, Some(x)) if known.contains(&k) => tier.targets.push((k.to_owned(), x)),
                    _ => {
                        reference.ignored_keys.insert(k.clone());
                    }
                }
            }
            entry.tiers.push(tier);
        }
        reference.entries.push(entry);
    }
    Ok(reference)
}

/// The value named `want` in `map`, or its only value when `want` is not given.
fn pick(
    path: &Path,
    map: &serde_json::Map<String, Value>,
    want: Option<&str>,
    what: &'static str,
) -> Result<(String, Value), ReferenceError> {
    let have = || {
        let mut names: Vec<&str> = map.keys().map(String::as_str).take(12).collect();
        if map.len() > names.len() {
            names.push("...");
        }
        names.join(", ")
    };
    match want {
        Some(w) => map.get(w).map(|v| (w.to_owned(), v.clone())).ok_or_else(|| {
            ReferenceError::NoSuch { path: path.into(), what, want: w.into(), have: have() }
        }),
        None if map.len() == 1 => {
            let (k, v) = map.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap_or_default();
            Ok((k, v))
        }
        None => Err(ReferenceError::Ambiguous {
            path: path.into(),
            what,
            count: map.len(),
            have: have(),
        }),
    }
}

fn same(entry: Option<f64>, point: Option<f64>) -> bool {
    match (entry, point) {
        (None, _) => true,
        (Some(a), Some(b)) => (a - b).abs() < 1e-9,
        (Some(_), None) => false,
    }
}

impl Entry {
    /// Whether this entry applies to a combination at `p` (see the module's rule).
    pub fn applies(&self, p: &Point) -> bool {
        same(self.isl, p.isl)
            && same(self.osl, p.osl)
            && same(self.max_concurrency, p.concurrency)
            && (self.num_prompts.is_none()
                || p.num_prompts.is_none()
                || same(self.num_prompts, p.num_prompts))
    }
}

impl Reference {
    /// The checks for a combination at `p`: every target of every tier of every applying entry.
    pub fn checks_for(&self, p: &Point, default_tolerance: f64) -> Vec<TargetCheck> {
        let mut out = Vec::new();
        for e in self.entries.iter().filter(|e| e.applies(p)) {
            for t in &e.tiers {
                for (metric, target) in &t.targets {
                    out.push(TargetCheck {
                        metric: metric.clone(),
                        target: *target,
                        tolerance: t.tolerance.unwrap_or(default_tolerance),
                        source: t.name.clone(),
                    });
                }
            }
        }
        out
    }
}
