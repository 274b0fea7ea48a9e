//! The plan's side of `stop_when` and `search`: SLOs every run can measure, the ladders of
//! `stop_when`, the groups and templates of a search, and the probes made from them.

use serde_json::Value;

use super::targets::targets_for;
use super::{Combination, argv, describe_params, id, server_url};
use crate::config::locate::escape_segment;
use crate::config::{Config, ConfigError, Diagnostic, ServerConfig};
use crate::model::options::canonical;
use crate::records::{LoadSearch, Params, Probe, SearchGroup, SearchMode};

/// The load search of `config` with its groups: for `stop_when` the ladders of `combinations`;
/// for `search` one group per combination, which become the templates (returned; the
/// combinations are then empty). Fails on an SLO that a run cannot measure.
pub(super) fn with_groups(
    config: &Config,
    combinations: &mut Vec<Combination>,
) -> Result<(Option<LoadSearch>, Vec<Combination>), ConfigError> {
    let mut load_search = config.load_search.clone();
    let mut templates = Vec::new();
    if let Some(ls) = load_search.as_mut() {
        check_slo_streaming(config, ls, combinations)?;
        match ls.mode {
            SearchMode::StopWhen { .. } => ls.groups = ladder_groups(combinations, &ls.variable),
            SearchMode::Search { .. } => {
                ls.groups = combinations
                    .iter()
                    .map(|c| SearchGroup {
                        id: c.index,
                        params: c.params.clone(),
                        server_id: c.server_id.clone(),
                        members: Vec::new(),
                    })
                    .collect();
                templates = std::mem::take(combinations);
            }
        }
    }
    Ok((load_search, templates))
}

/// An SLO on a metric the runs will not produce is an error now, not a skipped ladder.
fn check_slo_streaming(
    config: &Config,
    ls: &LoadSearch,
    combinations: &[Combination],
) -> Result<(), ConfigError> {
    let section = match ls.mode {
        SearchMode::StopWhen { .. } => "stop_when",
        SearchMode::Search { .. } => "search",
    };
    let mut diags = Vec::new();
    for c in combinations {
        let streaming = c.get("streaming").and_then(Value::as_bool) == Some(true);
        for k in ls.slo.keys() {
            if !streaming
                && crate::model::slo::Measure::parse(k).is_some_and(|m| m.needs_streaming())
            {
                let pointer = format!("/{section}/slo/{}", escape_segment(k));
                let pos = config.index.key(&pointer);
                diags.push(unstreamed_slo(pointer, k, c).at(pos));
            }
        }
    }
    if diags.is_empty() { Ok(()) } else { Err(config.error(super::expand::dedup(diags))) }
}

/// The SLO `k` (at `pointer`) is measured only on streamed responses, which `c` does not get.
fn unstreamed_slo(pointer: String, k: &str, c: &Combination) -> Diagnostic {
    Diagnostic::new(
        pointer,
        if c.params.is_empty() {
            format!("`{k}` is measured only on streamed responses, and the runs do not stream")
        } else {
            format!("`{k}` is measured only on streamed responses, and combination `{}` does not stream", describe_params(&c.params))
        },
    )
    .hint("set `streaming: true` in base_config, or bound a metric every run has (`e2el_p99_ms`, `error_rate`)")
}

/// The ladders of `stop_when`: the points that differ only in `dimension` (same server), each
/// group's members in increasing order of it; groups in order of first appearance.
fn ladder_groups(combinations: &[Combination], dimension: &str) -> Vec<SearchGroup> {
    let dim = canonical(dimension);
    let mut groups: Vec<(String, SearchGroup)> = Vec::new();
    for c in combinations {
        let others: Params = c
            .params
            .iter()
            .filter(|(k, _)| canonical(k) != dim)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = format!("{}|{}", c.server_id, serde_json::to_string(&others).unwrap_or_default());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.members.push(c.index),
            None => {
                let id = groups.len();
                groups.push((
                    key,
                    SearchGroup {
                        id,
                        params: others,
                        server_id: c.server_id.clone(),
                        members: vec![c.index],
                    },
                ));
            }
        }
    }
    let value =
        |i: usize| combinations[i].get(dimension).and_then(Value::as_f64).unwrap_or(f64::INFINITY);
    groups
        .into_iter()
        .map(|(_, mut g)| {
            g.members.sort_by(|a, b| value(*a).total_cmp(&value(*b)).then(a.cmp(b)));
            g
        })
        .collect()
}

/// A probe of a `search`: `template` with `variable` set to `value`, numbered `index`, in its
/// own directory (`concurrency37_<the other parameters>`).
pub fn probe(
    config: &Config,
    template: &Combination,
    variable: &str,
    value: f64,
    index: usize,
) -> Combination {
    let v = if value.fract() == 0.0 && value.abs() < 1e15 {
        Value::from(value as i64)
    } else {
        serde_json::json!(value)
    };
    let mut c = template.clone();
    let var = canonical(variable);
    c.params.insert(variable.to_owned(), v.clone());
    c.merged.retain(|k, _| canonical(k) != var);
    c.merged.insert(variable.to_owned(), v);
    let mock = matches!(c.server.as_deref(), Some(ServerConfig::Mock(_)));
    c.args = argv::build(&c.merged, server_url(c.server.as_deref()).as_deref(), mock);
    c.index = index;
    c.point = index;
    c.dir = id::dir_name(&c.params);
    c.probe = Some(Probe { group: template.index, value, rerun: 0 });
    c.targets = targets_for(config, &c);
    c
}
