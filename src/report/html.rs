//! `report.html`: one self-contained page (no external URL, no JavaScript) with the tables of
//! `report.md` and inline SVG charts: throughput, TTFT and ITL vs load, and tokens/s per user vs
//! total tokens/s with its Pareto front.

use std::collections::BTreeMap;

use super::svg::{Chart, Series, Style, pareto_front};
use super::{RenderError, Report, Row, template};
use crate::model::metrics::{Metric, Stat};
use crate::model::options::canonical;

/// The x axis of the load charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoadAxis {
    Concurrency,
    RequestRate,
    Index,
}

impl LoadAxis {
    fn label(self) -> &'static str {
        match self {
            LoadAxis::Concurrency => "concurrency",
            LoadAxis::RequestRate => "request rate (req/s)",
            LoadAxis::Index => "combination",
        }
    }
    fn key(self) -> Option<String> {
        match self {
            LoadAxis::Concurrency => Some(canonical("concurrency")),
            LoadAxis::RequestRate => Some(canonical("request_rate")),
            LoadAxis::Index => None,
        }
    }
    fn x(self, r: &Row) -> Option<f64> {
        match self {
            LoadAxis::Concurrency => r.load.concurrency,
            LoadAxis::RequestRate => r.load.request_rate,
            LoadAxis::Index => Some(r.index as f64),
        }
    }
}

fn distinct(v: impl Iterator<Item = Option<f64>>) -> usize {
    let mut xs: Vec<f64> = v.flatten().collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    xs.len()
}

fn load_axis(report: &Report) -> LoadAxis {
    let c = distinct(report.rows.iter().map(|r| r.load.concurrency));
    let q = distinct(report.rows.iter().map(|r| r.load.request_rate));
    if c > 1 || (c == 1 && q <= 1) {
        LoadAxis::Concurrency
    } else if q >= 1 {
        LoadAxis::RequestRate
    } else {
        LoadAxis::Index
    }
}

/// Series name of a row: its parameters other than the load axis (`isl=128, osl=128`).
fn group(r: &Row, axis: LoadAxis) -> String {
    let skip = axis.key();
    let parts: Vec<String> = r
        .params
        .iter()
        .filter(|(k, _)| Some(canonical(k)) != skip)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if parts.is_empty() { "all".into() } else { parts.join(", ") }
}

/// The confidence interval of a figure of a row measured in repeats.
fn ci(r: &Row, metric: Metric, stat: Stat) -> Option<(f64, f64)> {
    r.spread.as_ref()?.get(metric, stat).map(|s| (s.ci_low, s.ci_high))
}

/// A figure's confidence interval (low, high), with repeats.
type Interval = Option<(f64, f64)>;

/// A chart as the template shows it: its `id`, and `svg`, the SVG text made when the template
/// writes it and dropped once written (a large batch's charts, ~0.8 MB of SVG at 1,000 runs,
/// were all in memory at once, the largest part of a live render's peak).
#[derive(Debug, Clone)]
pub struct ChartView(pub Chart);

impl minijinja::value::Object for ChartView {
    fn get_value(self: &std::sync::Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        match key.as_str()? {
            "id" => Some(self.0.id.as_str().into()),
            "svg" => Some(minijinja::Value::from_safe_string(self.0.render())),
            _ => None,
        }
    }
}

/// The rows with results grouped into series (see [`group`]), over the load axis.
struct LoadCharts<'a> {
    axis: LoadAxis,
    groups: BTreeMap<String, Vec<&'a Row>>,
    /// Load search: which points met the SLO (failing ones are drawn hollow and red).
    judged: BTreeMap<usize, bool>,
    /// A log2 x axis: the load spans 8x or more.
    log_x: bool,
}

impl<'a> LoadCharts<'a> {
    fn of(report: &'a Report) -> Self {
        let axis = load_axis(report);
        let mut groups: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
        for r in report.rows.iter().filter(|r| r.metrics.is_some()) {
            groups.entry(group(r, axis)).or_default().push(r);
        }
        let xs: Vec<f64> =
            report.rows.iter().filter(|r| r.metrics.is_some()).filter_map(|r| axis.x(r)).collect();
        let (lo, hi) = xs.iter().fold((f64::INFINITY, 0f64), |(a, b), x| (a.min(*x), b.max(*x)));
        let log_x = axis != LoadAxis::Index && lo > 0.0 && hi / lo >= 8.0;
        let judged = report.max_load.iter().flat_map(|m| m.judged.iter().copied()).collect();
        LoadCharts { axis, groups, judged, log_x }
    }

    /// One series per group of a figure over load, with its confidence intervals (repeats).
    fn series(&self, name_suffix: &str, style: Style, metric: Metric, stat: Stat) -> Vec<Series> {
        self.series_of(name_suffix, style, &|r: &Row| {
            Some((r.metrics.as_ref()?.get(metric, stat)?, ci(r, metric, stat)))
        })
    }

    /// One series per group of what `get` reads of a row (a value and its interval).
    fn series_of(
        &self,
        name_suffix: &str,
        style: Style,
        get: &dyn Fn(&Row) -> Option<(f64, Interval)>,
    ) -> Vec<Series> {
        self.groups
            .iter()
            .enumerate()
            .map(|(i, (g, rows))| {
                let name =
                    if name_suffix.is_empty() { g.clone() } else { format!("{g} {name_suffix}") };
                let mut se = Series::new(name, Vec::new(), style, i);
                for r in rows {
                    let (Some(x), Some((y, y_ci))) = (self.axis.x(r), get(r)) else {
                        continue;
                    };
                    se.points.push((x, y));
                    se.y_ci.push(y_ci);
                    se.slo_pass.push(self.judged.get(&r.index).copied());
                }
                se
            })
            .collect()
    }

    /// A server figure's series (`waiting_avg`), with its interval with repeats.
    fn server_series(&self, suffix: &str, style: Style, key: &'static str) -> Vec<Series> {
        self.series_of(suffix, style, &|r: &Row| {
            let f = r.server.as_ref()?.figures.get(key)?;
            Some((f.mean, f.ci_low.zip(f.ci_high)))
        })
        .into_iter()
        .filter(|se| !se.points.is_empty())
        .collect()
    }

    /// A figure's p50 (solid) and p99 (dashed) series.
    fn p50_p99(&self, metric: Metric) -> Vec<Series> {
        let mut v = self.series("p50", Style::Line, metric, Stat::P50);
        v.extend(self.series("p99", Style::Dashed, metric, Stat::P99));
        v
    }

    /// A chart over the load axis.
    fn chart(&self, id: &str, title: String, y_label: &str, series: Vec<Series>) -> ChartView {
        ChartView(Chart {
            id: id.into(),
            title,
            x_label: self.axis.label().into(),
            y_label: y_label.into(),
            log_x: self.log_x,
            series,
        })
    }

    /// Tokens/s per user vs total output tokens/s: every point, and the Pareto front.
    fn pareto(&self) -> ChartView {
        let mut all = Vec::new();
        let mut scatter: Vec<Series> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, (g, rows))| {
                let mut se = Series::new(g.clone(), Vec::new(), Style::Points, i);
                for r in rows {
                    let Some(mm) = r.metrics.as_ref() else { continue };
                    let (Some(x), Some(y)) =
                        (mm.value(Metric::OutputTokS), mm.value(Metric::TputUser))
                    else {
                        continue;
                    };
                    se.points.push((x, y));
                    se.x_ci.push(ci(r, Metric::OutputTokS, Stat::Avg));
                    se.y_ci.push(ci(r, Metric::TputUser, Stat::Avg));
                }
                all.extend(se.points.iter().copied());
                se
            })
            .collect();
        scatter.push(Series::new("Pareto front", pareto_front(&all), Style::Front, 0));
        ChartView(Chart {
            id: "chart-pareto".into(),
            title: "Tokens/s per user vs total output tokens/s (Pareto front in red)".into(),
            x_label: "total output tokens/s".into(),
            y_label: "tokens/s per user (1000 / TPOT)".into(),
            log_x: false,
            series: scatter,
        })
    }
}

impl LoadCharts<'_> {
    /// $ per 1M output tokens vs tokens/s per user: every point with a cost, and the cheapest
    /// price for each speed (the front: no point is both faster per user and cheaper).
    fn cost_pareto(&self) -> ChartView {
        let mut all = Vec::new();
        let mut scatter: Vec<Series> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, (g, rows))| {
                let mut se = Series::new(g.clone(), Vec::new(), Style::Points, i);
                for r in rows {
                    let x = r.metrics.as_ref().and_then(|m| m.value(Metric::TputUser));
                    let y = r.cost.as_ref().and_then(|c| c.usd_per_1m_output);
                    let (Some(x), Some(y)) = (x, y) else { continue };
                    se.points.push((x, y.value));
                    se.x_ci.push(ci(r, Metric::TputUser, Stat::Avg));
                    se.y_ci.push(y.ci_low.zip(y.ci_high));
                }
                // The front is computed on (speed, -cost): higher is better on both.
                all.extend(se.points.iter().map(|(x, y)| (*x, -*y)));
                se
            })
            .collect();
        let front: Vec<(f64, f64)> = pareto_front(&all).into_iter().map(|(x, y)| (x, -y)).collect();
        scatter.push(Series::new("cheapest for its speed", front, Style::Front, 0));
        ChartView(Chart {
            id: "chart-cost".into(),
            title: "$ per 1M output tokens vs tokens/s per user (cheapest for its speed in red)"
                .into(),
            x_label: "tokens/s per user (1000 / TPOT)".into(),
            y_label: "$ per 1M output tokens".into(),
            log_x: false,
            series: scatter,
        })
    }
}

/// Every chart of the report.
pub fn charts(report: &Report) -> Vec<ChartView> {
    let c = LoadCharts::of(report);
    let load = c.axis.label();
    let mut out = vec![
        c.chart(
            "chart-throughput",
            format!("Output throughput vs {load}"),
            "output tokens/s",
            c.series("", Style::Line, Metric::OutputTokS, Stat::Avg),
        ),
        c.chart(
            "chart-ttft",
            format!("TTFT p50 / p99 vs {load}"),
            "TTFT (ms)",
            c.p50_p99(Metric::Ttft),
        ),
        c.chart(
            "chart-itl",
            format!("Inter-token latency p50 / p99 vs {load}"),
            "ITL (ms)",
            c.p50_p99(Metric::Itl),
        ),
        c.pareto(),
    ];
    if report.cost.is_some() {
        out.push(c.cost_pareto());
    }
    if report.server.is_some() {
        let mut queue = c.server_series("queue avg", Style::Line, "waiting_avg");
        queue.extend(c.server_series("running avg", Style::Dashed, "running_avg"));
        if !queue.is_empty() {
            out.push(c.chart(
                "chart-server-queue",
                format!("Server: requests queued and running vs {load}"),
                "requests (mean over scrapes)",
                queue,
            ));
        }
        let mut kv = c.server_series("max", Style::Line, "kv_cache_max_pct");
        kv.extend(c.server_series("avg", Style::Dashed, "kv_cache_avg_pct"));
        if !kv.is_empty() {
            out.push(c.chart(
                "chart-server-kv",
                format!("Server: KV-cache use vs {load}"),
                "KV cache in use (%)",
                kv,
            ));
        }
    }
    out
}

/// Renders `templates/report.html.j2`.
pub fn render(report: &Report) -> Result<String, RenderError> {
    let mut out = Vec::new();
    render_to(report, &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// As [`render`], into `w` as it renders.
pub fn render_to(report: &Report, w: &mut dyn std::io::Write) -> Result<(), RenderError> {
    let (columns, perf) = super::performance_table(report);
    Ok(template::render_to(
        "report.html.j2",
        minijinja::context! {
            r => report,
            charts => charts(report).into_iter().map(minijinja::Value::from_object).collect::<Vec<_>>(),
            columns => columns,
            perf => perf,
            any_targets => super::any_targets(report),
        },
        w,
    )?)
}
