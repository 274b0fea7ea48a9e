//! The per-run standardized JSON, compatible with tt-inference-server's
//! `aiperf_benchmark_{model_id}_{ts}_isl-{isl}_osl-{osl}_maxcon-{c}_n-{n}.json`.
//!
//! Same keys as tt-inference-server, with TPOT and ITL from the right aiperf metrics (see
//! [`crate::results`]), plus a few extra keys (`failed`, `duration`, `tpot_source`...) that tt's
//! readers ignore.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::RunResult;

#[derive(Debug, Clone, Serialize)]
pub struct StandardResult {
    /// `%Y%m%d-%H%M%S`.
    pub date: String,
    pub backend: &'static str,
    pub model_id: String,
    pub tokenizer_id: String,
    pub num_prompts: Option<u64>,
    pub max_concurrency: Option<u64>,
    pub mean_ttft_ms: Option<f64>,
    pub median_ttft_ms: Option<f64>,
    pub p99_ttft_ms: Option<f64>,
    pub std_ttft_ms: Option<f64>,
    pub mean_tpot_ms: Option<f64>,
    pub median_tpot_ms: Option<f64>,
    pub p99_tpot_ms: Option<f64>,
    pub std_tpot_ms: Option<f64>,
    pub mean_itl_ms: Option<f64>,
    pub median_itl_ms: Option<f64>,
    pub p99_itl_ms: Option<f64>,
    pub std_itl_ms: Option<f64>,
    pub mean_e2el_ms: Option<f64>,
    pub median_e2el_ms: Option<f64>,
    pub p99_e2el_ms: Option<f64>,
    pub std_e2el_ms: Option<f64>,
    pub output_token_throughput: Option<f64>,
    pub total_token_throughput: Option<f64>,
    pub request_throughput: Option<f64>,
    pub completed: Option<u64>,
    pub total_input_tokens: Option<u64>,
    pub total_output_tokens: Option<u64>,
    // Extras (not in tt-inference-server's files).
    pub failed: Option<u64>,
    pub duration: Option<f64>,
    pub request_rate: Option<f64>,
    pub isl: Option<u64>,
    pub osl: Option<u64>,
    pub tpot_source: &'static str,
    pub itl_source: &'static str,
}

fn int(v: Option<f64>) -> Option<u64> {
    v.filter(|x| x.is_finite() && *x >= 0.0).map(|x| x.round() as u64)
}

fn timestamp(run: &RunResult) -> chrono::NaiveDateTime {
    let ts = run.timestamp.as_deref().unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|d| d.naive_local())
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%.f"))
        .unwrap_or_default()
}

/// The standardized record of a run with metrics, `None` otherwise.
pub fn standard_result(run: &RunResult) -> Option<StandardResult> {
    let m = run.metrics.as_ref()?;
    let model = run.model_id.clone().unwrap_or_else(|| "unknown".into());
    Some(StandardResult {
        date: timestamp(run).format("%Y%m%d-%H%M%S").to_string(),
        backend: "aiperf",
        tokenizer_id: run.tokenizer_id.clone().unwrap_or_else(|| model.clone()),
        model_id: model,
        num_prompts: int(run.load.num_prompts),
        max_concurrency: int(run.load.concurrency),
        mean_ttft_ms: m.ttft_ms.avg,
        median_ttft_ms: m.ttft_ms.p50,
        p99_ttft_ms: m.ttft_ms.p99,
        std_ttft_ms: m.ttft_ms.std,
        mean_tpot_ms: m.tpot_ms.avg,
        median_tpot_ms: m.tpot_ms.p50,
        p99_tpot_ms: m.tpot_ms.p99,
        std_tpot_ms: m.tpot_ms.std,
        mean_itl_ms: m.itl_ms.avg,
        median_itl_ms: m.itl_ms.p50,
        p99_itl_ms: m.itl_ms.p99,
        std_itl_ms: m.itl_ms.std,
        mean_e2el_ms: m.e2el_ms.avg,
        median_e2el_ms: m.e2el_ms.p50,
        p99_e2el_ms: m.e2el_ms.p99,
        std_e2el_ms: m.e2el_ms.std,
        output_token_throughput: m.output_tok_s,
        total_token_throughput: m.total_tok_s,
        request_throughput: m.req_s,
        completed: int(m.completed),
        total_input_tokens: int(m.total_input_tokens),
        total_output_tokens: int(m.total_output_tokens),
        failed: int(m.errors),
        duration: m.duration_s,
        request_rate: run.load.request_rate,
        isl: int(run.load.isl),
        osl: int(run.load.osl),
        tpot_source: "inter_token_latency",
        itl_source: "inter_chunk_latency",
    })
}

/// tt-inference-server's file name. Unknown values are written `na`; the model id has `/`
/// replaced by `_`.
pub fn file_name(run: &RunResult) -> String {
    let model: String = run
        .model_id
        .as_deref()
        .unwrap_or("unknown")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    let n = |v: Option<f64>| int(v).map_or_else(|| "na".to_owned(), |x| x.to_string());
    let l = &run.load;
    format!(
        "aiperf_benchmark_{model}_{}_isl-{}_osl-{}_maxcon-{}_n-{}.json",
        timestamp(run).format("%Y-%m-%d_%H-%M-%S"),
        n(l.isl),
        n(l.osl),
        n(l.concurrency),
        n(l.num_prompts)
    )
}

/// Writes the standardized JSON into the run dir (atomically); returns its path, or `None` when
/// nothing was written: the run has no metrics, or the file already holds the same bytes (so
/// re-rendering after every run rewrites only the new run's file).
pub fn write(run: &RunResult, batch_dir: &Path) -> Result<Option<PathBuf>, String> {
    let Some(rec) = standard_result(run) else { return Ok(None) };
    let path = run.run_dir(batch_dir).join(file_name(run));
    let mut bytes = serde_json::to_vec_pretty(&rec)
        .map_err(|e| format!("failed to serialize `{}`: {e}", path.display()))?;
    bytes.push(b'\n');
    if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(None);
    }
    crate::records::write_derived(&path, &bytes)
        .map_err(|e| format!("failed to write `{}`: {e}", path.display()))?;
    Ok(Some(path))
}
