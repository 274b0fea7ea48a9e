//! Expansion: the Cartesian product of scenarios and sweeps, each point merged into base_config
//! (with its server, defaults and absolute paths) and checked, exclude entries applied, and the
//! warnings about entries that match nothing.

use std::sync::Arc;

use itertools::Itertools;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::targets::targets_for;
use super::{Arg, Combination, Plan, argv, checks, id, load_search, repeats, server_url};
use crate::config::locate::escape_segment;
use crate::config::{Config, ConfigError, Diagnostic, ServerConfig, values_equal};
use crate::model::options::canonical;
use crate::records::{Params, RepeatOrder};

/// One value of one dimension: the (key, value) pairs it sets, and where it is written.
type Point = (Vec<(String, Value)>, String);

/// One swept (key, value) of a combination, and where it is written.
pub(super) type Pair<'a> = (&'a String, &'a Value, &'a String);

/// Expands `config`. Fails (with every problem) when a merged combination is contradictory.
pub fn expand(config: &Config) -> Result<Plan, ConfigError> {
    let (points, swept_keys) = product(config);
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut exclude_hits = vec![0usize; config.exclude.len()];
    let mut combinations = Vec::with_capacity(points.len());
    let mut server_ids: Vec<(Value, Option<Arc<ServerConfig>>)> = Vec::new();
    for point in points {
        let pairs: Vec<Pair<'_>> =
            point.iter().flat_map(|(kv, src)| kv.iter().map(move |(k, v)| (k, v, src))).collect();
        if let Some(i) = config.exclude.iter().position(|ex| excluded(ex, &pairs)) {
            exclude_hits[i] += 1;
            continue;
        }
        let index = combinations.len();
        if let Some(c) = combination(config, &pairs, index, &mut server_ids, &mut diags) {
            combinations.push(c);
        }
    }
    diags.extend(offline_needs_the_venv(config, &combinations));
    if !diags.is_empty() {
        return Err(config.error(dedup(diags)));
    }
    id::assign_dirs(&mut combinations);
    if let Some(r) = config.repeats.filter(|r| r.order == RepeatOrder::Interleaved) {
        combinations = repeats::interleave(combinations, r.count);
    }
    let warnings = unmatched_entries(config, &exclude_hits, &combinations);
    if combinations.is_empty() {
        return Err(config.error(vec![
            Diagnostic::new("/exclude", "every combination is excluded: nothing to run")
                .hint("remove or narrow the `exclude` entries"),
        ]));
    }
    let warnings = config.error(warnings).diagnostics;
    let (load_search, templates) = load_search::with_groups(config, &mut combinations)?;
    let ab = super::ab::resolve(config, &combinations)?;
    Ok(Plan {
        combinations,
        swept_keys,
        warnings,
        tt_model_id: config.tt_model_id.clone(),
        repeats: config.repeats,
        load_search,
        templates,
        ab,
        cost: config.cost.as_ref().and_then(crate::cost::spec::CostConfig::to_record),
    })
}

/// The points of the product (scenarios outermost, then the sweeps in file order, the last
/// varying fastest), and the keys that vary (scenario keys, then sweep keys).
fn product(config: &Config) -> (Vec<Vec<Point>>, Vec<String>) {
    let mut dims: Vec<Vec<Point>> = Vec::new();
    let mut swept_keys: Vec<String> = Vec::new();
    if !config.scenarios.is_empty() {
        let dim = config
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (s.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), format!("/scenarios/{i}"))
            })
            .collect();
        for s in &config.scenarios {
            for k in s.keys() {
                if !swept_keys.contains(k) {
                    swept_keys.push(k.clone());
                }
            }
        }
        dims.push(dim);
    }
    for (k, values) in &config.sweeps {
        swept_keys.push(k.clone());
        let p = format!("/sweeps/{}", escape_segment(k));
        dims.push(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (vec![(k.clone(), v.clone())], format!("{p}/{i}")))
                .collect(),
        );
    }
    let points = if dims.is_empty() {
        vec![Vec::new()]
    } else {
        dims.into_iter().multi_cartesian_product().collect()
    };
    (points, swept_keys)
}

/// The combination of one point, numbered `index`; `None` (with a diagnostic) when its server
/// settings are invalid. `server_ids` holds the distinct server sections seen so far.
fn combination(
    config: &Config,
    pairs: &[Pair<'_>],
    index: usize,
    server_ids: &mut Vec<(Value, Option<Arc<ServerConfig>>)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Combination> {
    let (params, mut merged, server_value) = merge(config, pairs);
    let key = server_value.map(Value::Object).unwrap_or(Value::Null);
    let (group, server) = match server_ids.iter().position(|(s, _)| *s == key) {
        Some(i) => (i, server_ids[i].1.clone()),
        None => {
            let server: Option<Arc<ServerConfig>> = match &key {
                Value::Null => None,
                v => match ServerConfig::deserialize(v) {
                    Ok(s) => Some(Arc::new(s)),
                    Err(e) => {
                        diags.push(Diagnostic::new(
                            "/server",
                            format!("invalid server settings: {e}"),
                        ));
                        return None;
                    }
                },
            };
            server_ids.push((key, server.clone()));
            let id = format!("server-{}", server_ids.len() - 1);
            if !manifest_renders(config, server.as_deref(), &id, diags) {
                return None;
            }
            (server_ids.len() - 1, server)
        }
    };
    let mut applied_defaults = apply_nemo_defaults(&mut merged);
    applied_defaults.extend(apply_back_to_back(config, &mut merged));
    applied_defaults.extend(apply_metrics_urls(server.as_deref(), &mut merged));
    absolute_paths(config, &mut merged);
    checks::check_combination(&merged, pairs, diags);
    let mock = matches!(server.as_deref(), Some(ServerConfig::Mock(_)));
    let args = argv::build(&merged, server_url(server.as_deref()).as_deref(), mock);
    let mut c = Combination {
        index,
        dir: String::new(),
        params,
        merged,
        server,
        server_id: format!("server-{group}"),
        args,
        applied_defaults,
        targets: Vec::new(),
        repeat: None,
        point: index,
        probe: None,
    };
    c.targets = targets_for(config, &c);
    Some(c)
}

/// A point's values applied: its params, base_config with them (a swept alias replaces the
/// base key), and the server section with its `server.*` values.
fn merge(
    config: &Config,
    pairs: &[Pair<'_>],
) -> (Params, Map<String, Value>, Option<Map<String, Value>>) {
    let mut params = Params::new();
    let mut merged = config.base.clone();
    let mut server_value = config.server_value.clone();
    for (k, v, _) in pairs {
        params.insert((*k).clone(), (*v).clone());
        if let Some(field) = k.strip_prefix("server.") {
            if let Some(s) = server_value.as_mut() {
                crate::config::raw::set_server_field(s, field, (*v).clone());
            }
            continue;
        }
        // A price is no aiperf option: it stays in the params, read by the reports.
        if k.starts_with("cost.") {
            continue;
        }
        let c = canonical(k);
        if !merged.contains_key(k.as_str()) {
            merged.retain(|bk, _| canonical(bk) != c);
        }
        merged.insert((*k).clone(), (*v).clone());
    }
    (params, merged, server_value)
}

/// A new kubernetes server setting: its manifest must render with its vars (a config error
/// at `server.manifest` otherwise). True for every other kind.
fn manifest_renders(
    config: &Config,
    server: Option<&ServerConfig>,
    id: &str,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let Some(ServerConfig::Kubernetes(k)) = server else { return true };
    match super::kube::deployment(k, &config.batch_name, id) {
        Ok(_) => true,
        Err(e) => {
            diags.push(
                Diagnostic::new("/server/manifest", e.0)
                    .hint("fix the manifest or `server.vars`; `--dry-run` shows what it declares"),
            );
            false
        }
    }
}

/// A `kubernetes` server's `metrics_urls` become aiperf's `--server-metrics` endpoints (beside
/// the frontend's own `/metrics`, which aiperf scrapes anyway), unless base_config names some.
fn apply_metrics_urls(
    server: Option<&ServerConfig>,
    merged: &mut Map<String, Value>,
) -> Vec<(String, Value, &'static str)> {
    let Some(ServerConfig::Kubernetes(k)) = server else { return Vec::new() };
    if k.metrics_urls.is_empty() || merged.keys().any(|key| canonical(key) == "server_metrics") {
        return Vec::new();
    }
    let v = Value::from(k.metrics_urls.clone());
    merged.insert("server_metrics".into(), v.clone());
    vec![(
        "server_metrics".into(),
        v,
        "server.metrics_urls (the deployment's Prometheus endpoints)",
    )]
}

/// `repeats: back_to_back`: aiperf repeats the point itself (`num_profile_runs` and
/// `confidence_level`), unless the config already sets it.
fn apply_back_to_back(
    config: &Config,
    merged: &mut Map<String, Value>,
) -> Vec<(String, Value, &'static str)> {
    let mut out = Vec::new();
    if let Some(r) = config.repeats.filter(|r| r.order == RepeatOrder::BackToBack)
        && !merged.keys().any(|k| canonical(k) == "num_profile_runs")
    {
        for (k, v) in [
            ("num_profile_runs", Value::from(r.count)),
            ("confidence_level", serde_json::json!(r.confidence)),
        ] {
            merged.insert(k.into(), v.clone());
            out.push((k.into(), v, "repeats: back_to_back (aiperf repeats the point)"));
        }
    }
    out
}

/// Local paths as aiperf gets them: absolute (it runs inside the combination's dir).
fn absolute_paths(config: &Config, merged: &mut Map<String, Value>) {
    for (k, v) in merged.iter_mut() {
        if crate::config::paths::path_kind(&canonical(k)).is_some()
            && let Value::String(s) = v
            && let Some(abs) = config.resolved_paths.get(s.as_str())
        {
            *v = Value::String(abs.display().to_string());
        }
    }
}

/// Warnings: an exclude entry that matched nothing; a target point whose `match` fits no
/// combination (a typo in a key or a value would silently check nothing).
fn unmatched_entries(
    config: &Config,
    exclude_hits: &[usize],
    combinations: &[Combination],
) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for (i, hits) in exclude_hits.iter().enumerate() {
        if *hits == 0 {
            warnings.push(
                Diagnostic::new(
                    format!("/exclude/{i}"),
                    "this exclude entry matches no combination",
                )
                .hint("check its keys and values against `sweeps` and `scenarios`"),
            );
        }
    }
    if let Some(t) = &config.targets {
        for (i, p) in t.points.iter().enumerate() {
            let hit = combinations.iter().any(|c| {
                p.match_.iter().all(|(k, v)| c.get(k).is_some_and(|mv| values_equal(mv, v)))
            });
            if !hit && !combinations.is_empty() {
                warnings.push(
                    Diagnostic::new(
                        format!("/targets/points/{i}/match"),
                        "this target point matches no combination: its targets are never checked",
                    )
                    .hint(
                        "check its keys and values against `base_config`, `sweeps` and `scenarios`",
                    ),
                );
            }
        }
    }
    warnings
}

/// Diagnostics without repeats (the same problem at the same place), in order.
pub(super) fn dedup(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| seen.insert((d.pointer.clone(), d.message.clone())));
    diags
}

/// Whether a combination with `pairs` has every key/value of the exclude entry `ex`.
fn excluded(ex: &Map<String, Value>, pairs: &[Pair<'_>]) -> bool {
    ex.iter().all(|(k, v)| {
        let c = canonical(k);
        pairs.iter().any(|(pk, pv, _)| canonical(pk) == c && values_equal(pv, v))
    })
}

/// The NeMo runner's defaults that change what aiperf measures, applied where the config leaves
/// them out (a config written for the NeMo runner must measure the same under sweeper):
/// - `request_rate_mode: constant` when a request rate is given: the runner always passes it,
///   aiperf's own default arrival pattern is `poisson` (checked with aiperf 0.13: the gaps
///   between requests have a CV of 0.02 with `constant`, 0.97 with the default). Without a
///   request rate it changes nothing, so it is not added.
///
/// The runner's other defaults (`endpoint_type: chat`, `endpoint: /v1/chat/completions`) are
/// aiperf's own, so nothing is added for them.
fn apply_nemo_defaults(merged: &mut Map<String, Value>) -> Vec<(String, Value, &'static str)> {
    let has = |m: &Map<String, Value>, k: &str| {
        let c = canonical(k);
        m.iter().any(|(mk, v)| canonical(mk) == c && !v.is_null())
    };
    let mut out = Vec::new();
    if has(merged, "request_rate") && !has(merged, "request_rate_mode") {
        let v = Value::String("constant".into());
        merged.insert("request_rate_mode".into(), v.clone());
        out.push((
            "request_rate_mode".to_owned(),
            v,
            "the NeMo runner's default; aiperf's own arrival pattern is poisson",
        ));
    }
    out
}

/// `tokenizer: "@offline"` is built inside the managed venv: with `aiperf.executable` there is
/// none (found here, so `validate` and `--dry-run` say what the run would).
fn offline_needs_the_venv(config: &Config, combinations: &[Combination]) -> Option<Diagnostic> {
    config.aiperf.executable.as_ref()?;
    combinations.iter().any(|c| c.args.contains(&Arg::OfflineTokenizer)).then(|| {
        Diagnostic::new(
            "/aiperf/executable",
            "`tokenizer: \"@offline\"` needs the managed venv, but `aiperf.executable` is set",
        )
        .hint("remove `aiperf.executable`, or give `tokenizer` a local tokenizer directory")
    })
}
