//! Where a run sits: its parameters (by canonical key, from the plan or the merged config), its
//! load point (falling back on the config aiperf recorded), the model and tokenizer it names,
//! and whether it measured the sequence lengths it asked for.

use serde_json::Value;

use super::aggregate_json::AggregateExport;
use super::{LENGTH_TOLERANCE, LengthMismatch, LoadPoint};
use crate::model::options::canonical;
use crate::records;

/// A number, or a string holding one.
fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The keys of the merged config a run's results look up (see [`load_point`], [`model_ids`]).
const LOOKED_UP: [&str; 7] =
    ["isl", "osl", "concurrency", "request_rate", "request_count", "model", "tokenizer"];

/// What a batch keeps of a combination's merged config: the keys its results look up, not the
/// whole config (every aiperf option: ~2 KB a run).
pub(super) fn looked_up(merged: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    let wanted = LOOKED_UP.map(canonical);
    merged
        .iter()
        .filter(|(k, _)| wanted.contains(&canonical(k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Finds a parameter by canonical key in `params`, then `merged`.
fn param(
    params: &records::Params,
    merged: &serde_json::Map<String, Value>,
    key: &str,
) -> Option<Value> {
    let want = canonical(key);
    params.iter().chain(merged.iter()).find(|(k, _)| canonical(k) == want).map(|(_, v)| v.clone())
}

/// The load point from the parameters, else from the config aiperf recorded.
pub(super) fn load_point(
    params: &records::Params,
    merged: &serde_json::Map<String, Value>,
    agg: Option<&AggregateExport>,
) -> LoadPoint {
    let p = |k: &str| param(params, merged, k).as_ref().and_then(num);
    let mut lp = LoadPoint {
        isl: p("isl"),
        osl: p("osl"),
        concurrency: p("concurrency"),
        request_rate: p("request_rate"),
        num_prompts: p("request_count"),
    };
    // Fall back on the config aiperf itself recorded.
    if let Some(cfg) = agg.and_then(|a| a.input_config.as_ref()) {
        let ds = &cfg["datasets"][0]["prompts"];
        lp.isl = lp.isl.or_else(|| ds["isl"]["mean"].as_f64());
        lp.osl = lp.osl.or_else(|| ds["osl"]["mean"].as_f64());
        if let Some(phases) = cfg["phases"].as_array()
            && let Some(ph) = phases.iter().find(|p| p["exclude_from_results"] != Value::Bool(true))
        {
            lp.concurrency = lp.concurrency.or_else(|| ph["concurrency"].as_f64());
            lp.request_rate = lp.request_rate.or_else(|| ph["rate"].as_f64());
            lp.num_prompts = lp.num_prompts.or_else(|| ph["requests"].as_f64());
        }
    }
    lp
}

/// The model id (the `model` parameter, else the first model aiperf recorded) and the tokenizer
/// id (the `tokenizer` parameter, else the model id).
pub(super) fn model_ids(
    params: &records::Params,
    merged: &serde_json::Map<String, Value>,
    agg: Option<&AggregateExport>,
) -> (Option<String>, Option<String>) {
    let model_id = param(params, merged, "model")
        .and_then(|v| match v {
            Value::String(s) => Some(s),
            Value::Array(a) => a.first().and_then(|x| x.as_str()).map(str::to_owned),
            _ => None,
        })
        .or_else(|| {
            agg.and_then(|a| {
                a.input_config.as_ref()?["models"]["items"][0]["name"].as_str().map(str::to_owned)
            })
        });
    let tokenizer_id = param(params, merged, "tokenizer")
        .and_then(|v| v.as_str().map(str::to_owned))
        .or_else(|| model_id.clone());
    (model_id, tokenizer_id)
}

/// Compares the requested ISL/OSL with aiperf's measured means (`input_sequence_length`,
/// `output_sequence_length`).
pub(super) fn length_mismatches(
    load: &LoadPoint,
    agg: Option<&AggregateExport>,
) -> Vec<LengthMismatch> {
    let Some(agg) = agg else { return Vec::new() };
    let mut out = Vec::new();
    for (which, requested, tag, hint) in [
        (
            "output",
            load.osl,
            "output_sequence_length",
            "the server did not stop at the requested length: set `extra_inputs: {ignore_eos: true}` (and `min_tokens` where the server takes it), or `use_server_token_count: true` if its token counts differ from aiperf's tokenizer",
        ),
        (
            "input",
            load.isl,
            "input_sequence_length",
            "aiperf's tokenizer counts the prompts differently from the requested length: set `tokenizer` to the model's own",
        ),
    ] {
        let (Some(req), Some(meas)) = (requested.filter(|r| *r > 0.0), agg.avg(tag)) else {
            continue;
        };
        let off_by = (meas - req) / req;
        if off_by.abs() > LENGTH_TOLERANCE {
            out.push(LengthMismatch { which, requested: req, measured: meas, off_by, hint });
        }
    }
    out
}
