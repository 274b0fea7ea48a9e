//! The `stop_when` and `search` sections of a config: their types (part of the JSON Schema)
//! and the rules that check them against the sweeps, giving the plan's `LoadSearch`.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::diagnostic::{Diagnostic, did_you_mean, escape_segment};
use crate::model::options::canonical;
use crate::records::{LoadSearch, SearchMode};

/// Upper bounds, SLO key -> limit: any statistic of the metric table (`ttft_p99_ms`,
/// `itl_p99_ms`, `e2el_avg_ms`, `tpot_p90_ms`...) or `error_rate` (failed / all requests).
fn slo_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": { "type": "number", "minimum": 0 },
        "description": "Upper bounds, SLO key -> limit: any statistic of the metric table (`ttft_p99_ms`, `itl_p99_ms`, `e2el_avg_ms`, ...) or `error_rate` (failed / all requests)."
    })
}

/// `stop_when`: an early stop on a ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopWhenConfig {
    /// A swept numeric key (`concurrency`, `request_rate`...); within each group of points that
    /// differ only in it, its values run in increasing order.
    #[schemars(length(min = 1))]
    pub dimension: String,
    /// Stop a group at the first point that breaks one of these bounds.
    #[serde(default)]
    #[schemars(schema_with = "slo_schema")]
    pub slo: BTreeMap<String, f64>,
    /// Stop a group once output tokens/s grows less than this from one point to the next.
    #[serde(default)]
    pub saturation: Option<Saturation>,
    /// With repeats: judge the SLO on the mean (default) or on the upper end of its confidence
    /// interval (`ci_upper`).
    #[serde(default)]
    pub slo_on: crate::model::slo::SloOn,
}

/// When a ladder is saturated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Saturation {
    /// Relative growth of output tokens/s below which the larger values are not run (0.05 = 5%).
    #[schemars(range(min = 0.0, max = 10.0))]
    pub throughput_gain_below: f64,
}

/// The key a `search` varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchVariable {
    Concurrency,
    RequestRate,
}

impl SearchVariable {
    pub fn key(self) -> &'static str {
        match self {
            SearchVariable::Concurrency => "concurrency",
            SearchVariable::RequestRate => "request_rate",
        }
    }
}

/// `search`: the largest load that meets the SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// `concurrency` or `request_rate`.
    pub variable: SearchVariable,
    /// Smallest value tried (the first probe).
    #[schemars(range(min = 0.0, max = 1_000_000.0))]
    pub min: f64,
    /// Largest value tried (at most 1,000,000 requests in flight or per second).
    #[schemars(range(min = 0.0, max = 1_000_000.0))]
    pub max: f64,
    #[schemars(schema_with = "slo_schema")]
    pub slo: BTreeMap<String, f64>,
    /// Stop bisecting when (first fail - last pass) / last pass <= this (default 0.1);
    /// integers stop at 1 apart.
    #[serde(default = "default_resolution")]
    #[schemars(range(min = 0.001, max = 1.0))]
    pub resolution: f64,
    /// With repeats: judge the SLO on the mean (default) or on the upper end of its confidence
    /// interval (`ci_upper`).
    #[serde(default)]
    pub slo_on: crate::model::slo::SloOn,
}

fn default_resolution() -> f64 {
    0.1
}

/// The SLO keys of `slo` (at `pointer`), each checked against the metric table.
fn check_slo(
    slo: &std::collections::BTreeMap<String, f64>,
    pointer: &str,
    report: &mut impl FnMut(Diagnostic, bool),
) {
    for k in slo.keys() {
        if crate::model::slo::Measure::parse(k).is_none() {
            let candidates = crate::model::slo::Measure::keys();
            let d = Diagnostic::new(
                format!("{pointer}/{}", escape_segment(k)),
                format!("unknown SLO key `{k}`"),
            );
            let d = match did_you_mean(k, &candidates) {
                Some(s) => d.hint(format!("did you mean `{s}`? SLO keys are `<metric>_<statistic>_<unit>` (`ttft_p99_ms`, `itl_avg_ms`), a throughput (`output_tok_s`) or `error_rate`")),
                None => d.hint("SLO keys are `<metric>_<statistic>_<unit>` (`ttft_p99_ms`, `itl_p90_ms`, `e2el_avg_ms`), a throughput (`output_tok_s`) or `error_rate`"),
            };
            report(d, true);
        }
    }
}

/// What the rules read of a config.
pub struct Sections<'a> {
    pub sweeps: &'a Map<String, Value>,
    pub scenarios: &'a [Map<String, Value>],
    pub stop_when: Option<&'a StopWhenConfig>,
    pub search: Option<&'a SearchConfig>,
}

/// The `stop_when` or `search` section, checked against the sweeps; `report` gets each problem
/// (and whether it is about a key rather than a value).
pub fn load_search(
    raw: &Sections<'_>,
    mut report: impl FnMut(Diagnostic, bool),
) -> Option<crate::records::LoadSearch> {
    if raw.stop_when.is_some() && raw.search.is_some() {
        report(
            Diagnostic::new("/search", "`search` and `stop_when` cannot be used together")
                .hint("`search` finds the limit by itself; keep one of the two"),
            true,
        );
        return None;
    }
    let swept: Vec<(String, String)> = raw
        .sweeps
        .keys()
        .map(|k| (canonical(k), format!("/sweeps/{}", escape_segment(k))))
        .chain(raw.scenarios.iter().enumerate().flat_map(|(i, s)| {
            s.keys().map(move |k| (canonical(k), format!("/scenarios/{i}/{}", escape_segment(k))))
        }))
        .collect();
    if let Some(sw) = raw.stop_when {
        return stop_when(raw, sw, report);
    }
    search(&swept, raw.search?, report)
}

/// `stop_when`: its dimension must be swept, with numbers; it needs an SLO or a saturation.
fn stop_when(
    raw: &Sections<'_>,
    sw: &StopWhenConfig,
    mut report: impl FnMut(Diagnostic, bool),
) -> Option<LoadSearch> {
    let dim = canonical(&sw.dimension);
    let mut failed = false;
    let mut bad = |d: Diagnostic, key: bool| {
        failed = true;
        report(d, key);
    };
    if dim.starts_with("server.") {
        bad(
            Diagnostic::new(
                "/stop_when/dimension",
                format!(
                    "`{}` is a server setting: each of its values is its own server, so its ladders would have one point each and never stop anything",
                    sw.dimension
                ),
            )
            .hint("stop on a load key swept against one server, e.g. `dimension: concurrency` or `request_rate`"),
            false,
        );
        return None;
    }
    match raw.sweeps.iter().find(|(k, _)| canonical(k) == dim) {
        None => bad(
            Diagnostic::new("/stop_when/dimension", format!("`{}` is not swept", sw.dimension))
                .hint(format!(
                    "name a key of `sweeps` whose values are numbers ({})",
                    if raw.sweeps.is_empty() {
                        "this config sweeps nothing".to_owned()
                    } else {
                        raw.sweeps.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                )),
            false,
        ),
        Some((k, v)) => {
            if let Some(i) = v.as_array().and_then(|a| a.iter().position(|x| !x.is_number())) {
                bad(
                    Diagnostic::new(
                        format!("/sweeps/{}/{i}", escape_segment(k)),
                        format!("`stop_when.dimension` is `{k}`, so its values must be numbers"),
                    )
                    .hint("an early stop runs the values in increasing order: give numbers"),
                    false,
                );
            }
        }
    }
    if sw.slo.is_empty() && sw.saturation.is_none() {
        bad(
            Diagnostic::new("/stop_when", "`stop_when` needs an `slo` or a `saturation`").hint(
                "e.g. `slo: {ttft_p99_ms: 2000}` or `saturation: {throughput_gain_below: 0.05}`",
            ),
            true,
        );
    }
    check_slo(&sw.slo, "/stop_when/slo", &mut bad);
    if failed {
        return None;
    }
    Some(LoadSearch {
        variable: raw.sweeps.keys().find(|k| canonical(k) == dim).cloned().unwrap_or(dim),
        slo: sw.slo.clone(),
        slo_on: sw.slo_on,
        mode: SearchMode::StopWhen {
            saturation: sw.saturation.as_ref().map(|s| s.throughput_gain_below),
        },
        groups: Vec::new(),
    })
}

/// `search`: its variable must not be swept too; `min` < `max`, whole numbers for concurrency;
/// at least one SLO.
fn search(
    swept: &[(String, String)],
    se: &SearchConfig,
    mut report: impl FnMut(Diagnostic, bool),
) -> Option<LoadSearch> {
    let var = se.variable.key();
    let mut ok = true;
    for (_, pointer) in swept.iter().filter(|(c, _)| c == var) {
        ok = false;
        report(
            Diagnostic::new(pointer.clone(), format!("`{var}` is both swept and searched"))
                .hint(format!("`search` chooses the values of `{var}` itself: remove it here (or drop `search` and use `stop_when` on the sweep)")),
            true,
        );
    }
    let integer = se.variable == SearchVariable::Concurrency;
    ok &= bounds(se, integer, &mut report);
    if se.slo.is_empty() {
        ok = false;
        report(
            Diagnostic::new("/search/slo", "a search needs at least one SLO")
                .hint("e.g. `slo: {ttft_p99_ms: 2000, error_rate: 0.01}`"),
            false,
        );
    }
    let mut bad = |d: Diagnostic, key: bool| {
        ok = false;
        report(d, key);
    };
    check_slo(&se.slo, "/search/slo", &mut bad);
    ok.then(|| LoadSearch {
        variable: var.to_owned(),
        slo: se.slo.clone(),
        slo_on: se.slo_on,
        mode: SearchMode::Search { min: se.min, max: se.max, resolution: se.resolution, integer },
        groups: Vec::new(),
    })
}

/// `min` and `max` of a search: `0 < min < max`, whole numbers for concurrency, and a rate a
/// probe can finish at.
fn bounds(se: &SearchConfig, integer: bool, report: &mut impl FnMut(Diagnostic, bool)) -> bool {
    let var = se.variable.key();
    let mut ok = true;
    if se.min.is_nan() || se.min <= 0.0 {
        ok = false;
        report(
            Diagnostic::new("/search/min", format!("{} is not above 0", se.min))
                .hint(format!("the search starts at `min` and doubles it: give a positive {var}")),
            false,
        );
    } else if se.min >= se.max {
        ok = false;
        report(
            Diagnostic::new(
                "/search/max",
                format!("`max` ({}) is not above `min` ({})", se.max, se.min),
            )
            .hint("the search runs between `min` and `max`: make `max` larger"),
            false,
        );
    }
    if !integer && se.min > 0.0 && se.min < crate::model::options::MIN_REQUEST_RATE {
        ok = false;
        report(
            Diagnostic::new(
                "/search/min",
                format!(
                    "request_rate {} is below {} requests/s: a probe there would not end in practice",
                    crate::util::number::exact(se.min),
                    crate::model::options::MIN_REQUEST_RATE
                ),
            )
            .hint(format!(
                "start the search at a rate of at least {}",
                crate::model::options::MIN_REQUEST_RATE
            )),
            false,
        );
    }
    if integer {
        for (field, v) in [("min", se.min), ("max", se.max)] {
            if v.fract() != 0.0 {
                ok = false;
                report(
                    Diagnostic::new(
                        format!("/search/{field}"),
                        format!("concurrency {v} is not a whole number"),
                    )
                    .hint("concurrency counts requests in flight: give an integer"),
                    false,
                );
            }
        }
    }
    ok
}
