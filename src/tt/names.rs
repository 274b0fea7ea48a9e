//! tt-inference-server's naming rules for aiperf result files: its model id, its devices, the
//! file name its report code parses back, and the key it keeps one file per.
//!
//! Read from tt-inference-server's code (`workflows/model_spec.py::get_model_id`,
//! `workflows/workflow_types.py::DeviceTypes`, `run_aiperf_benchmarks.py::save_individual_result`,
//! and the readers in `workflows/run_reports.py`); `tests/tt_compat.rs` checks sweeper's files
//! against the same rules, written down there independently.

/// Every `DeviceTypes` name, lowercase, as tt-inference-server spells devices in model ids.
pub const DEVICES: [&str; 19] = [
    "cpu",
    "gpu",
    "e150",
    "n150",
    "n150x4",
    "n300",
    "t3k",
    "p100",
    "p150",
    "p150x4",
    "p150x8",
    "p300",
    "p300x2",
    "blackhole_galaxy",
    "galaxy",
    "galaxy_t3k",
    "dual_galaxy",
    "quad_galaxy",
    "super_cluster",
];

/// The devices tt's aiperf report reads back from a file name (the optional `device` group of
/// its file-name regex). For any other device the group is empty or wrong (`galaxy_t3k` parses
/// as model `..._galaxy`, device `t3k`) and the report aborts with
/// `AssertionError: Device mismatch in metadata`.
pub const NAME_DEVICES: [&str; 11] = [
    "n150", "n150x4", "n300", "t3k", "p100", "p150", "p150x4", "p150x8", "p300", "p300x2", "galaxy",
];

/// tt-inference-server's model id: `id_{impl}_{model}_{device}`.
pub fn model_id(impl_name: &str, model: &str, device: &str) -> String {
    format!("id_{impl_name}_{model}_{device}")
}

/// Why `device` cannot end a tt model id that tt's report reads back, if it cannot.
pub fn device_problem(device: &str) -> Option<String> {
    if NAME_DEVICES.contains(&device) {
        return None;
    }
    if DEVICES.contains(&device) {
        return Some(format!(
            "tt-inference-server's aiperf report cannot read the device `{device}` back from a file name (its regex knows {}), so its report would abort with `Device mismatch in metadata`",
            NAME_DEVICES.join(", ")
        ));
    }
    if DEVICES.contains(&device.to_ascii_lowercase().as_str()) {
        return Some(format!(
            "tt-inference-server writes devices in lowercase: `{}`, not `{device}`",
            device.to_ascii_lowercase()
        ));
    }
    Some(format!("`{device}` is not one of tt-inference-server's devices ({})", DEVICES.join(", ")))
}

/// Why `name` cannot be the `{impl}` or `{model}` part of a tt model id, if it cannot: the parts
/// are joined by `_` and read back by a glob and a regex, so they are plain names.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._".contains(*c))) {
        return Some(format!(
            "`{name}` has the character {c:?}; tt's names use letters, digits, `-`, `.` and `_`"
        ));
    }
    None
}

/// The load point tt keys a result file by: the numbers in its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub isl: u64,
    pub osl: u64,
    pub max_concurrency: u64,
    pub num_prompts: u64,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "isl-{}_osl-{}_maxcon-{}_n-{}",
            self.isl, self.osl, self.max_concurrency, self.num_prompts
        )
    }
}

/// tt's file name: `aiperf_benchmark_{model_id}_{%Y-%m-%d_%H-%M-%S}_isl-..._n-N.json`.
pub fn file_name(model_id: &str, started: chrono::NaiveDateTime, key: &Key) -> String {
    format!("aiperf_benchmark_{model_id}_{}_{key}.json", started.format("%Y-%m-%d_%H-%M-%S"))
}
