//! The conditions two batches were measured in, compared: what differs beyond a stated rule
//! goes under "Not like for like" in `compare` (the rule is in [`conditions_diff`]).

use crate::records::Conditions;
use crate::results::BatchResults;

use super::compare::ProvenanceDiff;

/// Other processes' CPU share (mean over runs) differs by more than this: not like for like.
pub const OTHER_CPU_DIFF: f64 = 0.15;
/// Mean CPU clock differs by more than this share: not like for like.
pub const CPU_MHZ_DIFF: f64 = 0.10;
/// Mean GPU SM clock differs by more than this share: not like for like.
pub const GPU_CLOCK_DIFF: f64 = 0.05;

fn all(r: &BatchResults) -> Vec<&Conditions> {
    r.runs.iter().flat_map(|x| x.conditions.iter()).collect()
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// How A's and B's conditions differ. The rule: the share of runs measured on a busy machine
/// differs; other processes' mean CPU share differs by more than 15 points; the mean CPU clock
/// by more than 10%; the mean GPU SM clock by more than 5%; or GPUs throttled on one side only.
pub fn conditions_diff(a: &BatchResults, b: &BatchResults) -> Vec<ProvenanceDiff> {
    let (ca, cb) = (all(a), all(b));
    if ca.is_empty() || cb.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut push = |what: &str, x: String, y: String| {
        out.push(ProvenanceDiff { what: what.into(), a: x, b: y })
    };
    let busy = |c: &[&Conditions]| c.iter().filter(|x| x.busy().is_some()).count();
    let (ba, bb) = (busy(&ca), busy(&cb));
    if (ba == 0) != (bb == 0) {
        push(
            "runs measured on a busy machine",
            format!("{ba} of {}", ca.len()),
            format!("{bb} of {}", cb.len()),
        );
    }
    let other = |c: &[&Conditions]| mean(c.iter().filter_map(|x| x.other_cpu));
    if let (Some(x), Some(y)) = (other(&ca), other(&cb))
        && (x - y).abs() > OTHER_CPU_DIFF
    {
        let pct = |v: f64| format!("{:.0}% of the CPUs (mean)", v * 100.0);
        push("CPU taken by other processes", pct(x), pct(y));
    }
    let mhz = |c: &[&Conditions]| mean(c.iter().filter_map(|x| x.cpu_mhz.map(|m| m.mean)));
    if let (Some(x), Some(y)) = (mhz(&ca), mhz(&cb))
        && (x - y).abs() > CPU_MHZ_DIFF * x.max(y)
    {
        push("CPU clock (mean)", format!("{x:.0} MHz"), format!("{y:.0} MHz"));
    }
    let gpu = |c: &[&Conditions]| {
        mean(c.iter().flat_map(|x| x.gpus.iter().filter_map(|g| g.sm_clock_mhz.map(|m| m.mean))))
    };
    if let (Some(x), Some(y)) = (gpu(&ca), gpu(&cb))
        && (x - y).abs() > GPU_CLOCK_DIFF * x.max(y)
    {
        push("GPU SM clock (mean)", format!("{x:.0} MHz"), format!("{y:.0} MHz"));
    }
    let throttled =
        |c: &[&Conditions]| c.iter().any(|x| x.gpus.iter().any(|g| !g.throttle_reasons.is_empty()));
    if throttled(&ca) != throttled(&cb) {
        let say = |t: bool| if t { "throttled" } else { "not throttled" }.to_owned();
        push("GPU throttling", say(throttled(&ca)), say(throttled(&cb)));
    }
    out
}
