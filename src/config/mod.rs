//! Load and validate a batch config: YAML -> schema check -> semantic checks -> `Config`.
//!
//! Every problem is collected and reported at once ([`ConfigError`]), each with its file, line,
//! column, key path and a hint. Nothing here touches the network or writes a file.

mod ab;
pub mod durations;
pub mod error;
mod kubernetes;
pub mod locate;
pub mod paths;
pub mod raw;
mod raw_schema;
mod schema_check;
mod schema_cut;
mod semantic;
mod validate;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use error::{ConfigError, Diagnostic};

pub use locate::{LocationIndex, Pos};
pub use raw::{AiperfSettings, ServerConfig, TargetsConfig};

/// Configs are small; anything bigger than this is a mistake (or an attack), not a config.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// Default cap on the number of combinations (`max_combinations` / `--max-combinations`).
pub const DEFAULT_MAX_COMBINATIONS: u64 = 1000;

/// A validated config, ready to be planned.
#[derive(Debug)]
pub struct Config {
    pub file: PathBuf,
    /// The file's text (copied into the batch dir; it holds no secrets).
    pub source: String,
    pub batch_name: String,
    pub output_base_dir: PathBuf,
    /// base_config as written (placeholders included; each combination overrides them).
    pub base: Map<String, Value>,
    /// Sweeps in file order: key as written -> values.
    pub sweeps: Vec<(String, Vec<Value>)>,
    pub scenarios: Vec<Map<String, Value>>,
    pub exclude: Vec<Map<String, Value>>,
    /// The server section, `None` when absent (an external server at base_config.url).
    pub server: Option<ServerConfig>,
    /// The server section as a JSON object, for merging swept `server.*` values.
    pub server_value: Option<Map<String, Value>>,
    pub aiperf: AiperfSettings,
    pub targets: Option<TargetsConfig>,
    /// The tt-inference-server reference file named by `targets.reference_file`.
    pub reference: Option<crate::tt::reference::Reference>,
    pub max_combinations: u64,
    /// tt-inference-server's model id (`id_{impl}_{model}_{device}`) from the `tt` section:
    /// the per-run result files are named with it.
    pub tt_model_id: Option<String>,
    /// The `cost` section (checked); a combination's `cost.*` sweep values apply on top.
    pub cost: Option<crate::cost::spec::CostConfig>,
    /// Repeats of every point (`None`: once). From `repeats`, or from aiperf's own
    /// `num_profile_runs` (>= 2) in base_config.
    pub repeats: Option<crate::records::Repeats>,
    /// `stop_when` or `search` (its groups are filled by the plan).
    pub load_search: Option<crate::records::LoadSearch>,
    /// `ab`: the values of one swept key compared inside the batch (checked).
    pub ab: Option<raw::AbConfig>,
    /// The directory sweeper was started from: relative paths in aiperf options resolve here.
    pub base_dir: PathBuf,
    /// Every path value of an aiperf option (as written) -> the absolute path aiperf gets.
    pub resolved_paths: std::collections::BTreeMap<String, PathBuf>,
    /// Key path -> line/column, for diagnostics found while planning.
    pub index: LocationIndex,
    /// Problems that do not stop a run (printed by `validate` and `--dry-run`).
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// A config error for problems found after loading (e.g. while planning).
    pub fn error(&self, mut diagnostics: Vec<Diagnostic>) -> ConfigError {
        for d in &mut diagnostics {
            if d.pos.is_none() {
                d.pos = self.index.value(&d.pointer);
            }
        }
        ConfigError { file: self.file.clone(), diagnostics, source: self.source.clone() }
    }
}

/// Loose equality for config values: `1` equals `1.0` (aiperf parses both as 1).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A key equal for two values exactly when [`values_equal`] says they are equal, for sets.
pub fn value_key(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            // -0.0 and 0.0 are the same point.
            Some(f) => format!("n{}", if f == 0.0 { 0.0 } else { f }),
            None => format!("n{n}"),
        },
        other => other.to_string(),
    }
}

/// Options of [`load`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--max-combinations`: overrides the config's cap.
    pub max_combinations: Option<u64>,
}

/// Reads, parses and validates the config at `path`.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Config, ConfigError> {
    let text = read_text(path)?;
    load_str(path, text, opts)
}

/// Validates config text that claims to come from `path` (for tests and fuzzing).
pub fn load_str(path: &Path, text: String, opts: &LoadOptions) -> Result<Config, ConfigError> {
    validate::validate(path, text, opts)
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    let fail = |message: String, hint: &str| {
        ConfigError::single(path.to_path_buf(), Diagnostic::new("", message).hint(hint))
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            fail(
                format!("failed to read the config file: it is a symbolic link to a file that cannot be read ({e})"),
                "fix or remove the dangling symbolic link, or pass the target file's path",
            )
        } else {
            fail(format!("failed to read the config file: {e}"), "check the config file's path")
        }
    })?;
    if meta.is_dir() {
        return Err(fail(
            "this is a directory, not a config file".into(),
            "pass a YAML file, e.g. aiperf_configs/quickstart.yaml",
        ));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(fail(
            format!("the file is {} bytes; a config may be at most {MAX_CONFIG_BYTES}", meta.len()),
            "is this the right file? list large value sets in `sweeps`, not as data",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        fail(format!("failed to read the config file: {e}"), "check the file's permissions")
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..off];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = off - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
        let mut err = fail(
            format!("the file is not valid UTF-8 (invalid byte at offset {off})"),
            "save the file as UTF-8",
        );
        err.diagnostics[0].pos = Some(Pos { line, col });
        err
    })
}
