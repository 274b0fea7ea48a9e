//! `profile_export.jsonl`: aiperf's per-request records, read as a stream (one line at a time,
//! one reused buffer), warmup records excluded, error records counted.
//!
//! Memory: the reader holds one line. The summary holds running sums (constant memory) and,
//! only when [`JsonlOptions::keep_samples`] is set, one `f64` per request per latency metric
//! (plus one per chunk for ITL) so that exact percentiles can be computed: 8 bytes per value,
//! against ~2.5 KB per JSONL line.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::stats::{Samples, Summary};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    metadata: Meta<'a>,
    #[serde(default)]
    metrics: Metrics,
    #[serde(borrow, default)]
    error: Option<ErrorInfo<'a>>,
}

#[derive(Deserialize, Default)]
struct Meta<'a> {
    #[serde(borrow, default)]
    benchmark_phase: Option<Cow<'a, str>>,
    #[serde(default)]
    was_cancelled: Option<bool>,
}

#[derive(Deserialize)]
struct ErrorInfo<'a> {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Scalar {
    value: f64,
}

#[derive(Deserialize)]
struct List {
    value: Vec<f64>,
}

#[derive(Deserialize, Default)]
struct Metrics {
    time_to_first_token: Option<Scalar>,
    inter_token_latency: Option<Scalar>,
    request_latency: Option<Scalar>,
    input_sequence_length: Option<Scalar>,
    output_sequence_length: Option<Scalar>,
    inter_chunk_latency: Option<List>,
}

/// What to keep while streaming.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonlOptions {
    /// Keep every latency value to compute exact percentiles (8 bytes per value).
    pub keep_samples: bool,
}

/// Everything the stream yields. Latencies in ms, as aiperf writes them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JsonlSummary {
    /// Lines read (including warmup and blank lines).
    pub lines: u64,
    pub bytes: u64,
    /// Profiling records that succeeded.
    pub succeeded: u64,
    /// Profiling records with an `error`.
    pub errors: u64,
    /// Error type (`Internal Server Error (500)`, `ClientConnectorError`) -> count.
    pub error_kinds: BTreeMap<String, u64>,
    /// Warmup records (excluded from everything else).
    pub warmup: u64,
    pub cancelled: u64,
    /// Sum of `input_sequence_length` over successful profiling records.
    pub total_input_tokens: f64,
    /// Sum of `output_sequence_length` over successful profiling records.
    pub total_output_tokens: f64,
    pub ttft: Summary,
    /// Per request: `inter_token_latency` = (request_latency - ttft) / (osl - 1).
    pub tpot: Summary,
    /// Per chunk: every value of `inter_chunk_latency`.
    pub itl: Summary,
    pub e2el: Summary,
}

/// Streams `path` and summarizes it. A line that is not valid JSON (a truncated file, say) is an
/// error naming `file:line`.
pub fn summarize(path: &Path, opts: JsonlOptions) -> Result<JsonlSummary, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("failed to open `{}`: {e}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut s = JsonlSummary::default();
    // ttft, tpot, itl, e2el
    let mut samples: Vec<Samples> = (0..4).map(|_| Samples::new(opts.keep_samples)).collect();
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("failed to read `{}:{}`: {e}", path.display(), s.lines + 1))?;
        if n == 0 {
            break;
        }
        s.lines += 1;
        s.bytes += n as u64;
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let rec: Line<'_> = serde_json::from_slice(line).map_err(|e| {
            format!(
                "failed to parse `{}:{}` (column {}): {e}\nhint: the file is truncated or corrupt; \
                 the aggregate `profile_export_aiperf.json` may still be usable",
                path.display(),
                s.lines,
                e.column()
            )
        })?;
        if rec.metadata.benchmark_phase.as_deref() == Some("warmup") {
            s.warmup += 1;
            continue;
        }
        if rec.metadata.was_cancelled == Some(true) {
            s.cancelled += 1;
        }
        if let Some(err) = rec.error {
            s.errors += 1;
            let kind = err.kind.as_deref().unwrap_or("error");
            let key = match err.code {
                Some(c) if !c.is_null() => format!("{kind} ({c})"),
                _ => kind.to_owned(),
            };
            *s.error_kinds.entry(key).or_default() += 1;
            continue;
        }
        s.succeeded += 1;
        let m = rec.metrics;
        if let Some(x) = m.input_sequence_length {
            s.total_input_tokens += x.value;
        }
        if let Some(x) = m.output_sequence_length {
            s.total_output_tokens += x.value;
        }
        if let Some(x) = m.time_to_first_token {
            samples[0].push(x.value);
        }
        if let Some(x) = m.inter_token_latency {
            samples[1].push(x.value);
        }
        if let Some(x) = m.inter_chunk_latency {
            for v in x.value {
                samples[2].push(v);
            }
        }
        if let Some(x) = m.request_latency {
            samples[3].push(x.value);
        }
    }
    let mut it = samples.into_iter().map(Samples::finish);
    s.ttft = it.next().unwrap_or_default();
    s.tpot = it.next().unwrap_or_default();
    s.itl = it.next().unwrap_or_default();
    s.e2el = it.next().unwrap_or_default();
    Ok(s)
}
