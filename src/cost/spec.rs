//! The `cost` section of a config: what an hour of the server costs, as `usd_per_hour`, or
//! `usd_per_gpu_hour` x `gpus`; every field sweepable (`cost.usd_per_hour: [2.5, 4.1]`), so two
//! instance types compare in one batch.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::records::Params;

/// The fields of the section, as `cost.<field>` sweep keys name them.
pub const FIELDS: [&str; 3] = ["usd_per_hour", "usd_per_gpu_hour", "gpus"];

/// What running the server costs. Give `usd_per_hour` (the whole server), or
/// `usd_per_gpu_hour` and `gpus` (default 1). Assumed: the hardware is busy 100% of the time at
/// the measured throughput.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// US dollars per hour for the whole server (all its GPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub usd_per_hour: Option<f64>,
    /// US dollars per GPU-hour; the hour costs this x `gpus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub usd_per_gpu_hour: Option<f64>,
    /// GPUs the server uses (tensor/pipeline parallel x replicas); tokens/s per GPU divides by
    /// it. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub gpus: Option<f64>,
}

/// A combination's resolved cost: its dollars per hour and GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Basis {
    pub usd_per_hour: f64,
    /// GPUs, when the section gave them (or priced per GPU).
    pub gpus: Option<f64>,
}

impl CostConfig {
    /// The section with a combination's `cost.<field>` values applied.
    pub fn with_params(&self, params: &Params) -> CostConfig {
        let mut c = self.clone();
        for (k, v) in params {
            let Some(field) = k.strip_prefix("cost.") else { continue };
            let x = v.as_f64();
            match field {
                "usd_per_hour" => c.usd_per_hour = x,
                "usd_per_gpu_hour" => c.usd_per_gpu_hour = x,
                "gpus" => c.gpus = x,
                _ => {}
            }
        }
        c
    }

    /// Problems, as (field, message): nothing priced, or priced twice, or a value that is not
    /// a positive finite number.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (f, v) in [
            ("usd_per_hour", self.usd_per_hour),
            ("usd_per_gpu_hour", self.usd_per_gpu_hour),
            ("gpus", self.gpus),
        ] {
            if let Some(x) = v
                && !(x.is_finite() && x > 0.0 && x <= 1e9)
            {
                out.push((f, format!("must be a positive number of at most 1e9, not {x}")));
            }
        }
        match (self.usd_per_hour, self.usd_per_gpu_hour) {
            (None, None) => out.push((
                "usd_per_hour",
                "the cost section prices nothing: give `usd_per_hour`, or `usd_per_gpu_hour` (and `gpus`)".into(),
            )),
            (Some(_), Some(_)) => out.push((
                "usd_per_gpu_hour",
                "both `usd_per_hour` and `usd_per_gpu_hour` are given: keep one".into(),
            )),
            _ => {}
        }
        out
    }

    /// Its dollars per hour and GPUs (`None` when it has problems).
    pub fn basis(&self) -> Option<Basis> {
        if !self.problems().is_empty() {
            return None;
        }
        match (self.usd_per_hour, self.usd_per_gpu_hour) {
            (Some(h), None) => Some(Basis { usd_per_hour: h, gpus: self.gpus }),
            (None, Some(g)) => {
                let gpus = self.gpus.unwrap_or(1.0);
                Some(Basis { usd_per_hour: g * gpus, gpus: Some(gpus) })
            }
            _ => None,
        }
    }

    /// The section as plan.json keeps it (`None` for an empty one).
    pub fn to_record(&self) -> Option<Map<String, Value>> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }

    /// The section plan.json kept (`None` when absent or unreadable).
    pub fn from_record(m: &Map<String, Value>) -> Option<CostConfig> {
        serde_json::from_value(Value::Object(m.clone())).ok()
    }
}

/// A combination's basis: the batch's section (as plan.json keeps it) with the combination's
/// `cost.*` values applied. `None` without a section or with an incomplete one.
pub fn basis_of(section: Option<&Map<String, Value>>, params: &Params) -> Option<Basis> {
    let base = match section {
        Some(m) => CostConfig::from_record(m)?,
        None if params.keys().any(|k| k.starts_with("cost.")) => CostConfig::default(),
        None => return None,
    };
    base.with_params(params).basis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn per_gpu_prices_multiply_and_sweeps_override() {
        let c =
            CostConfig { usd_per_gpu_hour: Some(2.5), gpus: Some(8.0), ..CostConfig::default() };
        assert_eq!(c.basis(), Some(Basis { usd_per_hour: 20.0, gpus: Some(8.0) }));
        let p: Params = [("cost.gpus".to_string(), json!(4))].into_iter().collect();
        assert_eq!(c.with_params(&p).basis().unwrap().usd_per_hour, 10.0);
        let both = CostConfig { usd_per_hour: Some(1.0), ..c.clone() };
        assert_eq!(both.basis(), None);
        assert_eq!(both.problems()[0].0, "usd_per_gpu_hour");
        assert!(!CostConfig::default().problems().is_empty());
        let bad = CostConfig { usd_per_hour: Some(f64::NAN), ..CostConfig::default() };
        assert_eq!(bad.basis(), None);
        let rec = c.to_record().unwrap();
        assert_eq!(basis_of(Some(&rec), &p).unwrap().usd_per_hour, 10.0);
    }
}
