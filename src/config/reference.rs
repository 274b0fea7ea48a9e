//! tt-inference-server's `model_performance_reference.json`: targets per model, device and point.

use std::path::Path;

use serde_json::Value;

/// One point of a reference file, for one tier (e.g. `theoretical`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferencePoint {
    pub isl: Option<u64>,
    pub osl: Option<u64>,
    pub max_concurrency: Option<u64>,
    pub num_prompts: Option<u64>,
    pub tier: String,
    /// (metric, value): `ttft_ms`, `tput_user`, `tput`, `e2el_ms`, ...
    pub metrics: Vec<(String, f64)>,
    pub tolerance: Option<f64>,
}

/// The metrics sweeper can check; other keys of a tier (`rtr`, ...) are ignored.
pub const KNOWN_METRICS: &[&str] =
    &["ttft_ms", "tpot_ms", "itl_ms", "e2el_ms", "tput_user", "tput", "req_tput"];

/// Reads the points of `model`/`device` from a reference file. Without `model`, a file with a
/// single model is used; without `device`, a model with a single device.
pub fn load(
    path: &Path,
    model: Option<&str>,
    device: Option<&str>,
) -> Result<Vec<ReferencePoint>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read targets reference file `{}`: {e}", path.display()))?;
    let root: Value = serde_json::from_str(&text).map_err(|e| {
        format!(
            "failed to parse targets reference file `{}` at line {}, column {}: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let models = root.as_object().ok_or_else(|| {
        format!("`{}`: expected an object of models at the top level", path.display())
    })?;
    let pick = |map: &serde_json::Map<String, Value>,
                want: Option<&str>,
                what: &str|
     -> Result<Value, String> {
        match want {
            Some(w) => map.get(w).cloned().ok_or_else(|| {
                let have: Vec<&String> = map.keys().take(20).collect();
                format!("`{}` has no {what} `{w}` (it has: {have:?})", path.display())
            }),
            None if map.len() == 1 => Ok(map.values().next().cloned().unwrap_or(Value::Null)),
            None => Err(format!(
                "`{}` holds {} {what}s: set `targets.{what}` to pick one",
                path.display(),
                map.len()
            )),
        }
    };
    let model_v = pick(models, model, "model")?;
    let devices = model_v
        .as_object()
        .ok_or_else(|| format!("`{}`: model entry is not an object", path.display()))?;
    let entries = pick(devices, device, "device")?;
    let entries = entries
        .as_array()
        .ok_or_else(|| format!("`{}`: device entry is not a list", path.display()))?;
    let mut out = Vec::new();
    for e in entries {
        let u = |k: &str| e.get(k).and_then(Value::as_u64);
        let Some(tiers) = e.get("targets").and_then(Value::as_object) else { continue };
        for (tier, t) in tiers {
            let Some(t) = t.as_object() else { continue };
            let metrics: Vec<(String, f64)> = t
                .iter()
                .filter(|(k, _)| KNOWN_METRICS.contains(&k.as_str()))
                .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
                .collect();
            out.push(ReferencePoint {
                isl: u("isl"),
                osl: u("osl"),
                max_concurrency: u("max_concurrency"),
                num_prompts: u("num_prompts"),
                tier: tier.clone(),
                metrics,
                tolerance: t.get("tolerance").and_then(Value::as_f64),
            });
        }
    }
    Ok(out)
}
