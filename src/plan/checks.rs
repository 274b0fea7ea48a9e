//! Contradictions that only show once a combination's values are merged: an API key that cannot
//! be passed, values below aiperf's minimums, goodput thresholds, durations, streaming on an
//! endpoint that does not stream, and lengths or counts that contradict each other.

use serde_json::{Map, Value};

use super::argv;
use super::expand::Pair;
use crate::config::Diagnostic;
use crate::config::locate::escape_segment;
use crate::model::options::{self, OptKind, canonical};

/// A merged combination, and where its swept values were written.
struct Merged<'a> {
    merged: &'a Map<String, Value>,
    pairs: &'a [Pair<'a>],
}

impl Merged<'_> {
    /// A value by any alias of its key: (the key as written, the value).
    fn get(&self, k: &str) -> Option<(&String, &Value)> {
        let c = canonical(k);
        self.merged.iter().find(|(mk, _)| canonical(mk) == c)
    }

    /// Where a key got its value: the sweep/scenario entry, else base_config.
    fn source(&self, k: &str) -> String {
        let c = canonical(k);
        self.pairs
            .iter()
            .find(|(pk, _, _)| canonical(pk) == c)
            .map(|(_, _, src)| (*src).clone())
            .or_else(|| self.get(k).map(|(mk, _)| format!("/base_config/{}", escape_segment(mk))))
            .unwrap_or_default()
    }
}

/// Contradictions that only show once a combination's values are merged.
pub(super) fn check_combination(
    merged: &Map<String, Value>,
    pairs: &[Pair<'_>],
    diags: &mut Vec<Diagnostic>,
) {
    let m = Merged { merged, pairs };
    if let Some(problem) = argv::key_config_problem(merged) {
        diags.push(
            Diagnostic::new(m.source("api_key_env_var"), problem)
                .hint("drop one of the two, or pass the key another way (`extra_args` shows it in the command line)"),
        );
    }
    below_minimums(&m, diags);
    unbounded_rate(&m, diags);
    argument_sizes(&m, diags);
    goodput_thresholds(&m, diags);
    durations(&m, diags);
    streaming_without_stream(&m, diags);
    lengths_and_counts(&m, diags);
}

/// Lower bounds of aiperf's options, judged on the value this combination passes (the schema
/// leaves them out of base_config, where placeholders live).
fn below_minimums(m: &Merged<'_>, diags: &mut Vec<Diagnostic>) {
    for (k, v) in m.merged {
        let Some(o) = options::lookup(k) else { continue };
        let Some(x) = v.as_f64() else { continue };
        let (min, strict) = match o.kind {
            OptKind::Int { min } if min != i64::MIN => (min as f64, false),
            OptKind::Number { min, exclusive } if min != f64::MIN => (min, exclusive),
            _ => continue,
        };
        if x < min || (strict && x <= min) {
            let bound = if strict { "less than or equal to" } else { "less than the minimum of" };
            let shown = if v.is_i64() || v.is_u64() { v.to_string() } else { format!("{x}") };
            diags.push(Diagnostic::new(m.source(k), format!("{shown} is {bound} {min}")).hint(
                format!(
                    "`{k}` (aiperf --{}) takes a value >= {min}{}",
                    o.flags[0],
                    if strict { " (not equal)" } else { "" }
                ),
            ));
        }
    }
}

/// A request rate so low that a run never ends in practice (`request_rate: 1e-300`).
fn unbounded_rate(m: &Merged<'_>, diags: &mut Vec<Diagnostic>) {
    let Some((k, v)) = m.get("request_rate") else { return };
    if let Some(r) = v.as_f64().filter(|r| *r > 0.0 && *r < options::MIN_REQUEST_RATE) {
        diags.push(
            Diagnostic::new(
                m.source(k),
                format!(
                    "request_rate {} is below {} requests/s (one request per {} s): the run would not end in practice",
                    crate::util::number::exact(r),
                    options::MIN_REQUEST_RATE,
                    1.0 / options::MIN_REQUEST_RATE
                ),
            )
            .hint(format!("give a rate of at least {} requests/s", options::MIN_REQUEST_RATE)),
        );
    }
}

/// One argument, or all of them, larger than the kernel passes to a program ("Argument list
/// too long" at every run): found here, not at run time.
fn argument_sizes(m: &Merged<'_>, diags: &mut Vec<Diagnostic>) {
    let mut total = 0usize;
    let len = |v: &Value| match v {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    };
    for (k, v) in m.merged {
        // A list is one argument per item (`extra_args`, repeated flags).
        let items: Vec<usize> = match v {
            Value::Array(a) => a.iter().map(len).collect(),
            other => vec![len(other)],
        };
        total += items.iter().map(|n| n + k.len() + 4).sum::<usize>();
        let size = items.iter().copied().max().unwrap_or(0);
        if size > options::MAX_ARG_BYTES {
            diags.push(
                Diagnostic::new(m.source(k), format!("`{k}` holds an argument of {size} bytes: one command-line argument holds at most {}", options::MAX_ARG_BYTES))
                    .hint("put long text in a file (e.g. `input_file`) instead of the config"),
            );
        }
    }
    if total > options::MAX_ARGV_BYTES {
        diags.push(
            Diagnostic::new("/base_config", format!("this combination's aiperf command line is about {total} bytes, over the {} a program can be given", options::MAX_ARGV_BYTES))
                .hint("put long values in files (e.g. `input_file`) instead of the config"),
        );
    }
}

/// goodput thresholds (`{time_to_first_token: 25}`) are positive.
fn goodput_thresholds(m: &Merged<'_>, diags: &mut Vec<Diagnostic>) {
    for (k, v) in m.merged {
        if options::lookup(k).is_some_and(|o| o.kind == OptKind::Goodput)
            && let Value::Object(thresholds) = v
        {
            for (tag, t) in thresholds {
                if t.as_f64().is_some_and(|x| x <= 0.0) {
                    diags.push(
                        Diagnostic::new(
                            format!("{}/{}", m.source(k), escape_segment(tag)),
                            format!("{t} is less than or equal to 0"),
                        )
                        .hint("a goodput threshold is a positive number in the metric's unit (ms)"),
                    );
                }
            }
        }
    }
}

/// Every duration-like aiperf option, as this combination will pass it.
fn durations(m: &Merged<'_>, diags: &mut Vec<Diagnostic>) {
    for (k, v) in m.merged {
        if let Some(d) = crate::config::durations::aiperf_duration(&canonical(k))
            && let Err(e) = crate::config::durations::check(d, v)
        {
            diags.push(
                Diagnostic::new(m.source(k), format!("`{k}`: {e}"))
                    .hint("give a number of seconds (milliseconds where the option says so), at most one year"),
            );
        }
    }
}

/// Endpoint types whose responses are not streamed.
const NO_STREAMING: &[&str] = &[
    "embeddings",
    "nim-embeddings",
    "chat-embeddings",
    "cohere-rankings",
    "hf-tei-rankings",
    "nim-rankings",
    "image-retrieval",
];

/// `streaming: true` with an endpoint type that does not stream.
fn streaming_without_stream(m: &Merged<'_>, diags: &mut Vec<Diagnostic>) {
    if let (Some((_, Value::Bool(true))), Some((_, Value::String(t)))) =
        (m.get("streaming"), m.get("endpoint_type"))
        && NO_STREAMING.contains(&t.replace('_', "-").as_str())
    {
        diags.push(
            Diagnostic::new(
                m.source("streaming"),
                format!(
                    "`streaming: true` contradicts `endpoint_type: {t}`, which does not stream"
                ),
            )
            .hint("set `streaming: false`, or use a generating endpoint type (chat, completions)"),
        );
    }
}

/// An output-length stddev without a mean; far more warmup requests than measured ones.
fn lengths_and_counts(m: &Merged<'_>, diags: &mut Vec<Diagnostic>) {
    if m.get("prompt_output_tokens_stddev").is_some_and(|(_, v)| v.as_f64().unwrap_or(0.0) > 0.0)
        && m.get("prompt_output_tokens_mean").is_none()
    {
        diags.push(
            Diagnostic::new(
                m.source("prompt_output_tokens_stddev"),
                "an output-length stddev without an output-length mean",
            )
            .hint("set `prompt_output_tokens_mean` (or `osl`) too"),
        );
    }
    if let (Some((_, w)), Some((_, r))) = (m.get("warmup_request_count"), m.get("request_count"))
        && let (Some(w), Some(r)) = (w.as_u64(), r.as_u64())
        && w > 0
        && r > 0
        && w > r * 100
    {
        diags.push(
            Diagnostic::new(
                m.source("warmup_request_count"),
                format!("{w} warmup requests for {r} measured ones"),
            )
            .hint("warmup is not measured; lower `warmup_request_count`"),
        );
    }
}
