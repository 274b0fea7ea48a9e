//! `profile_export.jsonl`: aiperf's per-request records, read as a stream (one line at a time,
//! one reused buffer), warmup records excluded, error records counted, unparsable lines skipped
//! and counted (a truncated last line, a corrupt record), so one bad line does not discard the
//! thousands of good ones.
//!
//! Memory: the reader holds one line. The summary holds running sums (constant memory) and,
//! only when [`JsonlOptions::keep_samples`] is set, the latency values for exact percentiles
//! (one `f64` per request per metric, one per chunk for ITL): up to [`DEFAULT_SAMPLE_CAP`]
//! values per metric. A metric with more is selected exactly from further passes over the file
//! ([`crate::stats::select`]: 2-5 passes, bounded counters), so memory stays bounded whatever
//! the file's size; the percentiles are the same as from sorting every value.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::stats::samples::{PERCENTILES, Samples, Summary, interpolate, percentile_ranks};
use crate::stats::select::{Pass, Selection};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    metadata: Meta<'a>,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    error: Option<ErrorInfo>,
}

#[derive(Deserialize, Default)]
struct Meta<'a> {
    #[serde(borrow, default)]
    benchmark_phase: Option<Cow<'a, str>>,
    #[serde(default)]
    was_cancelled: Option<bool>,
}

/// A metric's `value`: a number, a list of numbers, or anything else (ignored rather than
/// rejected, so that a shape aiperf may change does not make the whole file unreadable).
#[derive(Default)]
enum Val {
    #[default]
    Nothing,
    One(f64),
    Many(Vec<f64>),
}

impl Val {
    fn one(&self) -> Option<f64> {
        match self {
            Val::One(x) => Some(*x),
            _ => None,
        }
    }

    fn all(&self) -> &[f64] {
        match self {
            Val::One(x) => std::slice::from_ref(x),
            Val::Many(v) => v,
            Val::Nothing => &[],
        }
    }
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a list of numbers")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Val, E> {
                Ok(Val::One(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Val, E> {
                Ok(Val::One(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Val, E> {
                Ok(Val::One(v as f64))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Val, E> {
                Ok(Val::Nothing)
            }
            fn visit_str<E>(self, _: &str) -> Result<Val, E> {
                Ok(Val::Nothing)
            }
            fn visit_unit<E>(self) -> Result<Val, E> {
                Ok(Val::Nothing)
            }
            fn visit_none<E>(self) -> Result<Val, E> {
                Ok(Val::Nothing)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(16));
                while let Some(x) = seq.next_element::<Val>()? {
                    v.extend_from_slice(x.all());
                }
                Ok(Val::Many(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Val::Nothing)
            }
        }
        d.deserialize_any(V)
    }
}

/// `error`: an object with `type` and maybe `code` (HTTP status), or anything else.
struct ErrorInfo {
    kind: Option<String>,
    code: Option<String>,
}

impl<'de> Deserialize<'de> for ErrorInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrorInfo;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorInfo, A::Error> {
                let mut e = ErrorInfo { kind: None, code: None };
                while let Some(k) = map.next_key::<Cow<'de, str>>()? {
                    match k.as_ref() {
                        "type" => {
                            e.kind =
                                map.next_value::<serde_json::Value>()?.as_str().map(str::to_owned)
                        }
                        "code" => {
                            let v = map.next_value::<serde_json::Value>()?;
                            e.code = (!v.is_null()).then(|| v.to_string());
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(e)
            }
            fn visit_str<E>(self, v: &str) -> Result<ErrorInfo, E> {
                Ok(ErrorInfo { kind: Some(v.to_owned()), code: None })
            }
            fn visit_bool<E>(self, _: bool) -> Result<ErrorInfo, E> {
                Ok(ErrorInfo { kind: None, code: None })
            }
            fn visit_f64<E>(self, _: f64) -> Result<ErrorInfo, E> {
                Ok(ErrorInfo { kind: None, code: None })
            }
            fn visit_i64<E>(self, _: i64) -> Result<ErrorInfo, E> {
                Ok(ErrorInfo { kind: None, code: None })
            }
            fn visit_u64<E>(self, _: u64) -> Result<ErrorInfo, E> {
                Ok(ErrorInfo { kind: None, code: None })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorInfo, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ErrorInfo { kind: None, code: None })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
struct Metric {
    #[serde(default)]
    value: Val,
}

#[derive(Deserialize, Default)]
struct Metrics {
    #[serde(default)]
    time_to_first_token: Metric,
    #[serde(default)]
    inter_token_latency: Metric,
    #[serde(default)]
    request_latency: Metric,
    #[serde(default)]
    input_sequence_length: Metric,
    #[serde(default)]
    output_sequence_length: Metric,
    #[serde(default)]
    inter_chunk_latency: Metric,
}

/// What to keep while streaming.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonlOptions {
    /// Compute exact percentiles (from the values kept, or by selection passes past the cap).
    pub keep_samples: bool,
    /// Most values kept per metric (8 bytes each); `None`: [`DEFAULT_SAMPLE_CAP`].
    pub sample_cap: Option<usize>,
}

/// Values kept per latency metric before percentiles are selected by passes over the file
/// instead: 2 MiB per metric. A run of 1,000 requests of 200 tokens has 200,000 ITL values.
pub const DEFAULT_SAMPLE_CAP: usize = 1 << 18;

/// The latency metrics, in the order [`Latencies`] holds them.
const TTFT: usize = 0;
const TPOT: usize = 1;
const ITL: usize = 2;
const E2EL: usize = 3;

/// Everything the stream yields. Latencies in ms, as aiperf writes them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JsonlSummary {
    /// Lines read (including warmup, blank and unparsable lines).
    pub lines: u64,
    pub bytes: u64,
    /// Lines that are not a JSON record (skipped: nothing else counts them).
    pub bad_lines: u64,
    /// The first such line's number (1-based) and why it did not parse.
    pub first_bad_line: Option<u64>,
    pub first_bad_error: Option<String>,
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

/// Why a `profile_export.jsonl` could not be summarized.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    #[error("failed to open `{path}`: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("failed to read `{path}:{line}`: {source}")]
    Read { path: PathBuf, line: u64, source: std::io::Error },
    /// Not one line is a record: `line` is the first bad one, `why` what is wrong with it.
    #[error(
        "failed to parse `{path}:{line}` ({why}); none of its {bad_lines} non-empty lines is a JSON record\n\
         hint: the file is truncated or corrupt; the aggregate `profile_export_aiperf.json` \
         may still be usable"
    )]
    NoRecords { path: PathBuf, line: u64, why: String, bad_lines: u64 },
}

/// The latency samples of the stream (TTFT, TPOT, ITL, E2EL), until they are summarized.
type Latencies = [Samples; 4];

/// Streams `path` and summarizes it. A line that is not a JSON record (the cut last line of a
/// killed writer, say) is skipped and counted in [`JsonlSummary::bad_lines`]; the caller decides
/// how to report it.
///
/// # Errors
/// The file cannot be opened or read, or it has lines and none of them is a record (an error
/// naming the first bad `file:line`).
pub fn summarize(path: &Path, opts: JsonlOptions) -> Result<JsonlSummary, JsonlError> {
    let file = std::fs::File::open(path)
        .map_err(|source| JsonlError::Open { path: path.to_path_buf(), source })?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut s = JsonlSummary::default();
    let keep = opts.keep_samples;
    let cap = opts.sample_cap.unwrap_or(DEFAULT_SAMPLE_CAP);
    let mut lat: Latencies = std::array::from_fn(|_| Samples::with_cap(keep, cap));
    let mut buf = Vec::with_capacity(64 * 1024);
    // Lines that parsed.
    let mut records = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|source| JsonlError::Read {
            path: path.to_path_buf(),
            line: s.lines + 1,
            source,
        })?;
        if n == 0 {
            break;
        }
        s.lines += 1;
        s.bytes += n as u64;
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Line<'_>>(line) {
            Ok(rec) => {
                records += 1;
                add_record(&mut s, &mut lat, rec);
            }
            Err(e) => note_bad_line(&mut s, &e),
        }
    }
    if records == 0
        && let (Some(line), Some(why)) = (s.first_bad_line, &s.first_bad_error)
    {
        return Err(JsonlError::NoRecords {
            path: path.to_path_buf(),
            line,
            why: why.clone(),
            bad_lines: s.bad_lines,
        });
    }
    // Metrics with more values than the cap: their percentiles from selection passes.
    let mut selections: [Option<Selection>; 4] = std::array::from_fn(|w| {
        let l = &lat[w];
        l.overflowed().then(|| {
            let ranks: Vec<u64> = PERCENTILES
                .iter()
                .filter_map(|&p| percentile_ranks(l.count(), p))
                .flat_map(|(lo, hi, _)| [lo, hi])
                .collect();
            Selection::new(l.count(), &ranks, cap)
        })
    });
    select_passes(path, &mut selections)?;
    let [ttft, tpot, itl, e2el] = lat;
    let summaries = [ttft.finish(), tpot.finish(), itl.finish(), e2el.finish()];
    let [ttft, tpot, itl, e2el] = std::array::from_fn(|w| {
        let mut sum = summaries[w];
        if let Some(sel) = &selections[w] {
            let [p50, p90, p95, p99] = std::array::from_fn(|i| {
                let (_, _, frac) = percentile_ranks(sum.count, PERCENTILES[i])?;
                let (a, b) = (sel.value(2 * i)?, sel.value(2 * i + 1)?);
                Some(interpolate(a, b, frac))
            });
            (sum.p50, sum.p90, sum.p95, sum.p99) = (p50, p90, p95, p99);
        }
        sum
    });
    (s.ttft, s.tpot, s.itl, s.e2el) = (ttft, tpot, itl, e2el);
    Ok(s)
}

/// Passes over the file until every selection is done: the same records and values as the
/// first pass (profiling records without an error).
fn select_passes(path: &Path, sel: &mut [Option<Selection>; 4]) -> Result<(), JsonlError> {
    while sel.iter().flatten().any(|s| !s.done()) {
        let mut passes: [Option<Pass>; 4] =
            std::array::from_fn(|w| sel[w].as_ref().filter(|s| !s.done()).map(Selection::pass));
        let file = std::fs::File::open(path)
            .map_err(|source| JsonlError::Open { path: path.to_path_buf(), source })?;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut line_no = 0u64;
        loop {
            buf.clear();
            line_no += 1;
            let n = reader.read_until(b'\n', &mut buf).map_err(|source| JsonlError::Read {
                path: path.to_path_buf(),
                line: line_no,
                source,
            })?;
            if n == 0 {
                break;
            }
            let Ok(rec) = serde_json::from_slice::<Line<'_>>(buf.trim_ascii()) else { continue };
            if rec.metadata.benchmark_phase.as_deref() == Some("warmup") || rec.error.is_some() {
                continue;
            }
            each_latency(&rec.metrics, |w, x| {
                if let Some(p) = &mut passes[w] {
                    p.push(x);
                }
            });
        }
        for (s, p) in sel.iter_mut().zip(passes) {
            if let (Some(s), Some(p)) = (s, p) {
                s.finish_pass(p);
            }
        }
    }
    Ok(())
}

/// The latency values of a successful profiling record: (metric, value).
fn each_latency(m: &Metrics, mut f: impl FnMut(usize, f64)) {
    if let Some(x) = m.time_to_first_token.value.one() {
        f(TTFT, x);
    }
    if let Some(x) = m.inter_token_latency.value.one() {
        f(TPOT, x);
    }
    for &x in m.inter_chunk_latency.value.all() {
        f(ITL, x);
    }
    if let Some(x) = m.request_latency.value.one() {
        f(E2EL, x);
    }
}

/// Counts a line that is not a JSON record, and remembers the first one and why.
fn note_bad_line(s: &mut JsonlSummary, e: &serde_json::Error) {
    s.bad_lines += 1;
    if s.first_bad_line.is_none() {
        // serde_json ends its message with "at line 1 column N": the line is ours.
        let text = e.to_string();
        let why = text.rsplit_once(" at line ").map_or(text.as_str(), |(w, _)| w);
        s.first_bad_line = Some(s.lines);
        s.first_bad_error = Some(format!("column {}: {why}", e.column()));
    }
}

/// Adds one record: warmup and errors are counted, a successful profiling record's tokens and
/// latencies are summed and sampled.
fn add_record(s: &mut JsonlSummary, lat: &mut Latencies, rec: Line<'_>) {
    if rec.metadata.benchmark_phase.as_deref() == Some("warmup") {
        s.warmup += 1;
        return;
    }
    if rec.metadata.was_cancelled == Some(true) {
        s.cancelled += 1;
    }
    if let Some(err) = rec.error {
        s.errors += 1;
        let kind = err.kind.as_deref().unwrap_or("error");
        let key = match err.code {
            Some(c) => format!("{kind} ({c})"),
            None => kind.to_owned(),
        };
        *s.error_kinds.entry(key).or_default() += 1;
        return;
    }
    s.succeeded += 1;
    let m = rec.metrics;
    if let Some(x) = m.input_sequence_length.value.one() {
        s.total_input_tokens += x;
    }
    if let Some(x) = m.output_sequence_length.value.one() {
        s.total_output_tokens += x;
    }
    each_latency(&m, |w, x| lat[w].push(x));
}
