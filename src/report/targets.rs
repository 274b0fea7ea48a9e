//! Targets: the checks planned in `plan.json` and a tt-inference-server
//! `model_performance_reference.json`-style file, evaluated PASS/FAIL per metric.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::records::TargetCheck;
use crate::results::RunResult;

/// One entry of a reference file: a load point and, per tier, its target metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceEntry {
    /// Path of keys above the entry (`Llama-3.3-70B/t3k`).
    pub label: String,
    pub isl: Option<f64>,
    pub osl: Option<f64>,
    pub max_concurrency: Option<f64>,
    pub num_prompts: Option<f64>,
    /// tier -> (metric -> target), with the tier's tolerance.
    pub tiers: Vec<(String, BTreeMap<String, f64>, f64)>,
}

/// Metrics sweeper can check, and whether lower is better.
pub fn lower_is_better(metric: &str) -> Option<bool> {
    match metric {
        "ttft_ms" | "tpot_ms" | "itl_ms" | "e2el_ms" => Some(true),
        "tput_user" | "tput" | "req_tput" | "tput_decode" | "tput_prefill" => Some(false),
        _ => None,
    }
}

/// The measured value of `metric` for a run.
pub fn measured(metric: &str, run: &RunResult) -> Option<f64> {
    let m = run.metrics.as_ref()?;
    match metric {
        "ttft_ms" => m.ttft_ms.avg,
        "tpot_ms" => m.tpot_ms.avg,
        "itl_ms" => m.itl_ms.avg,
        "e2el_ms" => m.e2el_ms.avg,
        "tput_user" => m.tput_user,
        "tput" => m.output_tok_s,
        "req_tput" => m.req_s,
        // tt-inference-server: decode = tput_user x concurrency; prefill = ISL x conc / TTFT(s).
        "tput_decode" => Some(m.tput_user? * run.load.concurrency?),
        "tput_prefill" => {
            let ttft = m.ttft_ms.avg.filter(|t| *t > 0.0)?;
            Some(run.load.isl? * run.load.concurrency? / (ttft / 1000.0))
        }
        _ => None,
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetResult {
    pub metric: String,
    pub source: String,
    pub target: f64,
    pub tolerance: f64,
    pub measured: Option<f64>,
    /// measured / target.
    pub ratio: Option<f64>,
    pub higher_is_better: bool,
    /// `PASS`, `FAIL` or `N/A` (not measured, or a metric sweeper does not know).
    pub verdict: &'static str,
}

impl TargetResult {
    pub fn is_fail(&self) -> bool {
        self.verdict == "FAIL"
    }
}

/// PASS when measured <= target x (1 + tolerance) (lower is better) or measured >=
/// target x (1 - tolerance) (higher is better).
pub fn evaluate(check: &TargetCheck, run: &RunResult) -> TargetResult {
    let lower = lower_is_better(&check.metric);
    let value = measured(&check.metric, run);
    let ratio = value.filter(|_| check.target != 0.0).map(|v| v / check.target);
    let verdict = match (lower, value) {
        (Some(true), Some(v)) if v <= check.target * (1.0 + check.tolerance) => "PASS",
        (Some(false), Some(v)) if v >= check.target * (1.0 - check.tolerance) => "PASS",
        (Some(_), Some(_)) => "FAIL",
        _ => "N/A",
    };
    TargetResult {
        metric: check.metric.clone(),
        source: check.source.clone(),
        target: check.target,
        tolerance: check.tolerance,
        measured: value,
        ratio,
        higher_is_better: lower == Some(false),
        verdict,
    }
}

/// Reads a reference file: `{model: {device: [entry...]}}`, or any nesting of objects whose
/// leaves are arrays of entries with `targets`.
pub fn load_reference(path: &Path) -> Result<Vec<ReferenceEntry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read targets file `{}`: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "failed to parse targets file `{}:{}` (column {}): {e}\nhint: it must be JSON shaped \
             like tt-inference-server's `model_performance_reference.json`",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let mut out = Vec::new();
    walk(&v, &mut Vec::new(), &mut out);
    if out.is_empty() {
        return Err(format!(
            "failed to read targets file `{}`: no entry with `targets` found\nhint: expected \
             `{{\"<model>\": {{\"<device>\": [{{\"isl\", \"osl\", \"max_concurrency\", \"targets\": \
             {{\"theoretical\": {{\"ttft_ms\", \"tput_user\"}}}}}}]}}}}`",
            path.display()
        ));
    }
    Ok(out)
}

fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<ReferenceEntry>) {
    match v {
        Value::Object(m) if m.contains_key("targets") => {
            let f = |k: &str| m.get(k).and_then(Value::as_f64);
            if m.get("task_type").and_then(Value::as_str).is_some_and(|t| t != "text") {
                return;
            }
            let mut tiers = Vec::new();
            if let Some(Value::Object(t)) = m.get("targets") {
                for (tier, metrics) in t {
                    let Value::Object(metrics) = metrics else { continue };
                    let tol = metrics.get("tolerance").and_then(Value::as_f64).unwrap_or(0.0);
                    let vals = metrics
                        .iter()
                        .filter(|(k, _)| *k != "tolerance")
                        .filter_map(|(k, x)| Some((k.clone(), x.as_f64()?)))
                        .collect();
                    tiers.push((tier.clone(), vals, tol));
                }
            }
            out.push(ReferenceEntry {
                label: path.join("/"),
                isl: f("isl"),
                osl: f("osl"),
                max_concurrency: f("max_concurrency"),
                num_prompts: f("num_prompts"),
                tiers,
            });
        }
        Value::Object(m) => {
            for (k, x) in m {
                path.push(k.clone());
                walk(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, path, out);
            }
        }
        _ => {}
    }
}

fn same(a: Option<f64>, b: Option<f64>) -> bool {
    matches!((a, b), (Some(x), Some(y)) if (x - y).abs() < 1e-9)
}

/// The checks a reference file sets for `run`: entries whose isl, osl and max_concurrency (and
/// num_prompts, when both sides have it) match. When some entry's model key is part of the run's
/// model id, only those entries count.
pub fn checks_from_reference(entries: &[ReferenceEntry], run: &RunResult) -> Vec<TargetCheck> {
    let l = &run.load;
    let matching: Vec<&ReferenceEntry> = entries
        .iter()
        .filter(|e| {
            same(e.isl, l.isl) && same(e.osl, l.osl) && same(e.max_concurrency, l.concurrency)
        })
        .filter(|e| {
            e.num_prompts.is_none() || l.num_prompts.is_none() || same(e.num_prompts, l.num_prompts)
        })
        .collect();
    let model = run.model_id.as_deref().unwrap_or_default().to_lowercase();
    let by_model: Vec<&ReferenceEntry> = matching
        .iter()
        .copied()
        .filter(|e| {
            let key = e.label.split('/').next().unwrap_or_default().to_lowercase();
            !key.is_empty() && model.contains(&key)
        })
        .collect();
    let chosen = if by_model.is_empty() { matching } else { by_model };
    let labels: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.label.as_str()).collect();
    let mut out = Vec::new();
    for e in chosen {
        for (tier, metrics, tol) in &e.tiers {
            let source =
                if labels.len() > 1 { format!("{}/{tier}", e.label) } else { tier.clone() };
            for (metric, target) in metrics {
                if lower_is_better(metric).is_some() {
                    out.push(TargetCheck {
                        metric: metric.clone(),
                        target: *target,
                        tolerance: *tol,
                        source: source.clone(),
                    });
                }
            }
        }
    }
    out
}
