//! tt-inference-server's rules for reading aiperf result files, written down as facts from its
//! code (independently of `src/tt/`), and a reader that applies them the way its report
//! workflow does (`workflows/run_reports.py`, the last version that reads
//! `aiperf_benchmark_*.json`, mid-2026).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The summary path's file-name regex (`extract_params_from_filename`), verbatim. Python's
/// `(?P<name>...)` groups read the same in the regex crate.
pub const SUMMARY_RE: &str = r"^aiperf_benchmark_(?P<model>.+?)(?:_(?P<device>N150|N300|P100|P150|T3K|p150x4|p150x8|p300x2|P300x2|p300|P300|n150x4|TG|GALAXY|n150|n300|p100|p150|t3k|tg|galaxy))?_(?P<timestamp>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})_isl-(?P<isl>\d+)_osl-(?P<osl>\d+)_maxcon-(?P<maxcon>\d+)_n-(?P<n>\d+)\.json$";

/// `deduplicate_by_config` and the detailed table's regex, verbatim (`re.search`, unanchored).
pub const KEY_RE: &str = r"isl-(\d+)_osl-(\d+)_maxcon-(\d+)_n-(\d+)";

/// `DeviceTypes` of `workflows/workflow_types.py`, by `.name.lower()`.
pub const DEVICES: [&str; 19] = [
    "cpu",
    "gpu",
    "e150",
    "n150",
    "n300",
    "t3k",
    "p100",
    "p150",
    "p150x4",
    "p150x8",
    "n150x4",
    "p300",
    "p300x2",
    "galaxy",
    "galaxy_t3k",
    "blackhole_galaxy",
    "dual_galaxy",
    "quad_galaxy",
    "super_cluster",
];

/// Keys tt's aiperf readers take with `data.get(...)` and compute with: numbers (an absent
/// key becomes 0 in its tables; a string or null breaks `1000.0 / mean_tpot_ms` and the
/// formatting).
pub const NUMERIC_FIELDS: [&str; 19] = [
    "mean_ttft_ms",
    "median_ttft_ms",
    "p99_ttft_ms",
    "std_ttft_ms",
    "mean_tpot_ms",
    "median_tpot_ms",
    "p99_tpot_ms",
    "std_tpot_ms",
    "mean_e2el_ms",
    "median_e2el_ms",
    "p99_e2el_ms",
    "std_e2el_ms",
    "output_token_throughput",
    "total_token_throughput",
    "request_throughput",
    "completed",
    "total_input_tokens",
    "total_output_tokens",
    "num_prompts",
];

/// tt's writer's 28 keys, in its order (`save_individual_result`, before p95 was added).
pub const WRITER_KEYS: [&str; 28] = [
    "date",
    "backend",
    "model_id",
    "tokenizer_id",
    "num_prompts",
    "max_concurrency",
    "mean_ttft_ms",
    "median_ttft_ms",
    "p99_ttft_ms",
    "std_ttft_ms",
    "mean_tpot_ms",
    "median_tpot_ms",
    "p99_tpot_ms",
    "std_tpot_ms",
    "mean_itl_ms",
    "median_itl_ms",
    "p99_itl_ms",
    "std_itl_ms",
    "mean_e2el_ms",
    "median_e2el_ms",
    "p99_e2el_ms",
    "std_e2el_ms",
    "output_token_throughput",
    "total_token_throughput",
    "request_throughput",
    "completed",
    "total_input_tokens",
    "total_output_tokens",
];

/// One row of tt's AIPerf table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub file: String,
    pub isl: u64,
    pub osl: u64,
    pub max_con: u64,
    pub n: u64,
    pub device: Option<String>,
    pub mean_ttft_ms: f64,
    pub mean_tpot_ms: f64,
}

/// The collision key of `deduplicate_by_config`: (isl, osl, maxcon, n) from the file name.
pub fn collision_key(name: &str) -> Option<(u64, u64, u64, u64)> {
    let c = regex::Regex::new(KEY_RE).unwrap().captures(name)?;
    let n = |i: usize| c[i].parse::<u64>().unwrap();
    Some((n(1), n(2), n(3), n(4)))
}

/// The files tt's report globs: `{folder}/aiperf_benchmark_{model_id}_*.json`, not recursive.
pub fn glob(folder: &Path, model_id: &str) -> Vec<PathBuf> {
    let prefix = format!("aiperf_benchmark_{model_id}_");
    let mut v: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    n.starts_with(&prefix) && n.ends_with(".json")
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Reads `folder` as tt's report workflow does for `model_id` on `device` (the `--device` it was
/// run with): glob, dedupe (latest timestamp wins per key), parse each name with the summary
/// regex, check the device the first row names, read the fields. `Err` is what would make tt
/// skip files or abort; every file sweeper writes must read cleanly.
pub fn read(folder: &Path, model_id: &str, device: &str) -> Result<Vec<Row>, String> {
    let files = glob(folder, model_id);
    if files.is_empty() {
        return Err(format!("tt finds 0 files for {model_id} in {}", folder.display()));
    }
    // deduplicate_by_config: sorted(files, reverse=True); first per key wins.
    let mut by_key: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut dropped = Vec::new();
    for f in files.iter().rev() {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let key = collision_key(&name).map_or(name.clone(), |k| format!("{k:?}"));
        match by_key.entry(key) {
            std::collections::btree_map::Entry::Occupied(_) => dropped.push(name),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(f.clone());
            }
        }
    }
    if !dropped.is_empty() {
        return Err(format!("tt's dedupe drops {dropped:?}"));
    }
    let re = regex::Regex::new(SUMMARY_RE).unwrap();
    let mut rows = Vec::new();
    for f in by_key.values() {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let c = re
            .captures(&name)
            .ok_or_else(|| format!("Could not extract parameters from filename: {name}"))?;
        let data: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap())
            .map_err(|e| format!("{name}: not JSON: {e}"))?;
        for k in NUMERIC_FIELDS {
            if !data[k].is_number() {
                return Err(format!("{name}: `{k}` is {} (tt computes with it)", data[k]));
            }
        }
        for k in ["completed", "total_input_tokens", "total_output_tokens", "num_prompts"] {
            if !data[k].is_u64() {
                return Err(format!("{name}: `{k}` is {}, tt writes an int", data[k]));
            }
        }
        let num = |g: &str| c[g].parse::<u64>().unwrap();
        let row = Row {
            file: name.clone(),
            isl: num("isl"),
            osl: num("osl"),
            max_con: num("maxcon"),
            n: num("n"),
            device: c.name("device").map(|d| d.as_str().to_owned()),
            mean_ttft_ms: data["mean_ttft_ms"].as_f64().unwrap(),
            mean_tpot_ms: data["mean_tpot_ms"].as_f64().unwrap(),
        };
        if data["max_concurrency"].as_u64() != Some(row.max_con) {
            return Err(format!(
                "{name}: max_concurrency {} vs maxcon in the name",
                data["max_concurrency"]
            ));
        }
        if data["num_prompts"].as_u64() != Some(row.n) {
            return Err(format!("{name}: num_prompts {} vs n in the name", data["num_prompts"]));
        }
        let read_back = match &row.device {
            Some(d) => format!("{}_{d}", &c["model"]),
            None => c["model"].to_owned(),
        };
        if read_back != model_id {
            return Err(format!("{name}: tt reads model id `{read_back}`, not `{model_id}`"));
        }
        rows.push(row);
    }
    // get_sort_key, then `assert metadata["device"] == results[0].get("device")`.
    rows.sort_by_key(|r| (r.isl, r.osl, r.max_con));
    if rows[0].device.as_deref() != Some(device) {
        return Err(format!(
            "AssertionError: Device mismatch in metadata ({device} vs {:?})",
            rows[0].device
        ));
    }
    Ok(rows)
}
